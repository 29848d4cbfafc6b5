//! Bytecode compilation runs the image's programs only in the sandbox.
//! The trees are made here from the host's own programs. Skipped (with a
//! message) without bubblewrap, unless `CI=true`, where that fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use lockship_runtime::compile::{
    compile_dirs, compile_dirs_with, find_interpreter_at, host_debian_arch, CompileOptions,
    Interpreter,
};
use lockship_runtime::RuntimeError;

fn have_bwrap() -> bool {
    match lockship_sandbox::Sandbox::find() {
        Ok(_) => true,
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("sandboxed compile test cannot run under CI=true: {e}");
            }
            println!("skipping: {e}");
            false
        }
    }
}

fn triplet() -> &'static str {
    match host_debian_arch() {
        "amd64" => "x86_64-linux-gnu",
        "arm64" => "aarch64-linux-gnu",
        _ => "arm-linux-gnueabihf",
    }
}

/// Copies a host file into `tree` at its real path, with the libraries it
/// links (from `ldd`), and returns the host loader's real path.
fn copy_with_libs(tree: &Path, program: &Path) -> Option<PathBuf> {
    let out = Command::new("ldd").arg(program).output().ok()?;
    let mut loader = None;
    let mut files = vec![program.to_path_buf()];
    for word in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if word.starts_with('/') {
            if word.contains("/ld-") {
                loader = Some(std::fs::canonicalize(word).ok()?);
            }
            files.push(PathBuf::from(word));
        }
    }
    for file in files {
        // Under the name it is asked for, in its directory's real place.
        let real = std::fs::canonicalize(&file).ok()?;
        let dir = std::fs::canonicalize(file.parent()?).ok()?;
        let dest = tree
            .join(dir.strip_prefix("/").ok()?)
            .join(file.file_name()?);
        std::fs::create_dir_all(dest.parent()?).ok()?;
        std::fs::copy(&real, &dest).ok()?;
    }
    loader
}

fn sources(dir: &Path) {
    std::fs::create_dir_all(dir.join("app/pkg")).unwrap();
    std::fs::write(dir.join("app/main.py"), "import pkg\nprint(pkg.X)\n").unwrap();
    std::fs::write(dir.join("app/pkg/__init__.py"), "X = {'a': 1, 'b': 2}\n").unwrap();
}

fn canary() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep"), "untouched").unwrap();
    dir
}

fn assert_canary_untouched(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["keep".to_string()],
        "the canary directory changed"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("keep")).unwrap(),
        "untouched"
    );
}

/// Issue 12, finding 1: a base whose dynamic loader is a shell script. The
/// script runs only inside the sandbox: its write to the host's canary
/// fails, and it can write nothing but the directory being compiled.
#[test]
fn hostile_base_loader_never_runs_on_host() {
    if !have_bwrap() {
        return;
    }
    let canary = canary();
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path();
    // A shell the script can run with inside (the host's bash, started by
    // the host's real loader at a path lockship does not look at).
    let bash = std::fs::canonicalize("/bin/bash").unwrap();
    let real_loader = copy_with_libs(root, &bash).expect("ldd /bin/bash");
    // Without an ld.so.cache, the loader searches only /lib and /usr/lib.
    let libdir = real_loader.parent().unwrap();
    for entry in std::fs::read_dir(root.join(libdir.strip_prefix("/").unwrap())).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), root.join("usr/lib").join(entry.file_name())).unwrap();
    }
    let hidden = root.join("opt/real-ld.so");
    std::fs::create_dir_all(hidden.parent().unwrap()).unwrap();
    std::fs::copy(&real_loader, &hidden).unwrap();
    // The hostile loader, where lockship looks first.
    let loader_name = lockship_runtime::compile::loader_name(host_debian_arch()).unwrap();
    let hostile = root.join("lib").join(triplet()).join(loader_name);
    let _ = std::fs::remove_file(&hostile);
    std::fs::create_dir_all(hostile.parent().unwrap()).unwrap();
    std::fs::write(
        &hostile,
        format!(
            "#!/opt/real-ld.so {bash}\necho pwned > {canary}/pwned\necho pwned > /etc/pwned\necho ran-inside > /app/proof\nexit 3\n",
            bash = bash.display(),
            canary = canary.path().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hostile, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(root.join("usr/local/bin")).unwrap();
    std::fs::write(root.join("usr/local/bin/python3.12"), "not a python").unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    sources(root);

    let interp = find_interpreter_at(
        root,
        "/usr/local/bin/python3.12",
        "/usr/local",
        host_debian_arch(),
        triplet(),
    )
    .unwrap();
    assert!(matches!(interp, Interpreter::InTree { .. }));
    let err = compile_dirs(root, &interp, &["/app".to_string()]).unwrap_err();
    assert_canary_untouched(canary.path());
    assert!(!root.join("etc/pwned").exists());
    // It ran, inside, and could write only the directory being compiled.
    assert_eq!(
        std::fs::read_to_string(root.join("app/proof")).unwrap(),
        "ran-inside\n"
    );
    let text = err.to_string();
    println!("{text}");
    assert!(matches!(err, RuntimeError::Compile { .. }), "{text}");
    assert!(
        text.starts_with(&format!(
            "Compiling bytecode with `/usr/local/bin/python3.12 (from the image, run by its loader /lib/{}/{loader_name} in the sandbox)` failed:",
            triplet()
        )),
        "{text}"
    );
    assert!(text.contains("No such file or directory"), "{text}");
    assert!(err.hint().unwrap().contains("--no-compile"));
}

/// Finding 1: without bubblewrap, compiling is refused; nothing runs bare.
#[test]
fn compile_without_sandbox_is_refused_with_a_hint() {
    let canary = canary();
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path();
    let loader_name = lockship_runtime::compile::loader_name(host_debian_arch()).unwrap();
    let hostile = root.join("lib64").join(loader_name);
    std::fs::create_dir_all(hostile.parent().unwrap()).unwrap();
    std::fs::write(
        &hostile,
        format!(
            "#!/bin/sh\necho pwned > {}/pwned\n",
            canary.path().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hostile, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(root.join("usr/local/bin")).unwrap();
    std::fs::write(root.join("usr/local/bin/python3.12"), "").unwrap();
    sources(root);
    let interp = find_interpreter_at(
        root,
        "/usr/local/bin/python3.12",
        "/usr/local",
        host_debian_arch(),
        triplet(),
    )
    .unwrap();
    let options = CompileOptions {
        sandbox_path: Some("/nonexistent/bin".into()),
        ..CompileOptions::default()
    };
    let err = compile_dirs_with(root, &interp, &["/app".to_string()], &options).unwrap_err();
    assert_canary_untouched(canary.path());
    assert!(!root.join("app/__pycache__").exists());
    let text = err.to_string();
    println!("{text}\nhint: {}", err.hint().unwrap());
    assert_eq!(
        text,
        format!(
            "Cannot compile bytecode with `/usr/local/bin/python3.12 (from the image, run by its loader /lib64/{loader_name} in the sandbox)`: No sandbox: `bwrap` (bubblewrap) is not on PATH (searched `/nonexistent/bin`)"
        )
    );
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("install bubblewrap") && hint.contains("--no-compile"),
        "{hint}"
    );
}

/// A compile directory that goes through a symlink is refused before
/// anything runs (the sandbox would bind, and the host Python would write,
/// through it).
#[test]
fn compile_dir_through_a_symlink_is_refused() {
    let canary = canary();
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path();
    std::os::unix::fs::symlink(canary.path(), root.join("app")).unwrap();
    let interp = Interpreter::Host(PathBuf::from("/nonexistent/python3"));
    let err = compile_dirs(root, &interp, &["/app".to_string()]).unwrap_err();
    assert_canary_untouched(canary.path());
    assert!(
        err.to_string()
            .contains(&format!("`{}` is a symlink", root.join("app").display())),
        "{err}"
    );
}

/// The host's Python as an image's: the sandboxed compile gives the same
/// bytes as running that interpreter directly, so digests do not change.
#[test]
fn sandboxed_bytecode_is_identical_to_a_direct_compile() {
    if !have_bwrap() {
        return;
    }
    let Ok(out) = Command::new("python3")
        .args([
            "-c",
            "import sys, sysconfig; print(sys.executable); print(sys.prefix); print(sysconfig.get_paths()['stdlib']); print(sysconfig.get_paths()['platstdlib'])",
        ])
        .output()
    else {
        println!("skipping: no python3 on the host");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let (python, prefix, stdlib) = (std::fs::canonicalize(lines[0]).unwrap(), lines[1], lines[2]);
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path();
    copy_with_libs(root, &python).expect("ldd python3");
    let stdlib_dest = root.join(stdlib.trim_start_matches('/'));
    std::fs::create_dir_all(stdlib_dest.parent().unwrap()).unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg(stdlib)
        .arg(&stdlib_dest)
        .status()
        .unwrap();
    assert!(copied.success());
    let in_image_python = python.display().to_string();
    let interp = find_interpreter_at(
        root,
        &in_image_python,
        prefix,
        host_debian_arch(),
        triplet(),
    )
    .unwrap();
    assert!(matches!(interp, Interpreter::InTree { .. }), "{interp:?}");

    let sandboxed = tempfile::tempdir().unwrap();
    let direct = tempfile::tempdir().unwrap();
    sources(sandboxed.path());
    sources(direct.path());
    let n = compile_dirs(sandboxed.path(), &interp, &["/app".to_string()]).unwrap();
    assert_eq!(n, 2);
    let m = compile_dirs(
        direct.path(),
        &Interpreter::Host(python.clone()),
        &["/app".to_string()],
    )
    .unwrap();
    assert_eq!(m, 2);
    for entry in walkdir::WalkDir::new(direct.path()).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|x| x == "pyc") {
            let rel = entry.path().strip_prefix(direct.path()).unwrap();
            let a = std::fs::read(entry.path()).unwrap();
            let b = std::fs::read(sandboxed.path().join(rel)).unwrap();
            assert_eq!(a, b, "{} differs", rel.display());
            // Unchecked-hash bytecode (flags 0b01), naming the in-image path.
            assert_eq!(&a[4..8], &[1, 0, 0, 0]);
            let needle = b"/app/";
            assert!(a.windows(needle.len()).any(|w| w == needle));
        }
    }
}
