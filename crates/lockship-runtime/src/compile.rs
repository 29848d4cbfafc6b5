//! Bytecode, compiled by the image's own interpreter, in the sandbox.
//!
//! Debian writes the stdlib's `.pyc` files in maintainer scripts, so an
//! unpacked package has none, and a read-only image would compile on every
//! start. lockship compiles them as unchecked-hash `.pyc` (valid whatever the
//! file mtimes, and reproducible), running the image's interpreter through
//! its own dynamic loader inside [`lockship_sandbox`]: the image's tree
//! read-only as `/`, only the directories being compiled writable (at their
//! in-image paths), no network, no host paths, an empty environment and
//! resource limits. Nothing from the image ever runs on the host: without
//! bubblewrap, compiling fails (`--no-compile` builds without bytecode).
//!
//! For a foreign architecture, a host Python of the same minor version
//! compiles instead. The host's Python is trusted and runs outside the
//! sandbox, but only on directories that go through no symlink and hold no
//! `__pycache__` symlink, so it never writes through a link the tree planted.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lockship_sandbox::{real_path_under, Bind, Limits, Network, Run, Sandbox};

use crate::error::io_err;
use crate::{PythonRuntime, RuntimeError};

/// How to run a Python that matches the image.
#[derive(Debug, Clone)]
pub enum Interpreter {
    /// The image's own interpreter, through its own loader and libraries,
    /// run in the sandbox. Paths but `root` are in-image paths.
    InTree {
        /// The tree, on the host; it becomes the sandbox's `/`.
        root: PathBuf,
        /// The dynamic loader (`/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`).
        loader: String,
        /// The library directories, `:`-separated.
        library_path: String,
        /// The interpreter (`/usr/bin/python3.11`).
        python: String,
        /// Its `PYTHONHOME`: the install prefix (`/usr`).
        home: String,
    },
    /// A host interpreter of the same minor version (cross-architecture builds).
    Host(PathBuf),
}

impl Interpreter {
    /// Describes the interpreter for messages.
    pub fn describe(&self) -> String {
        match self {
            Interpreter::InTree { python, loader, .. } => {
                format!("{python} (from the image, run by its loader {loader} in the sandbox)")
            }
            Interpreter::Host(p) => format!("{} (host)", p.display()),
        }
    }
}

/// How to compile.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Where to look for `bwrap` (a PATH-style list); `None` is `$PATH`.
    pub sandbox_path: Option<OsString>,
    /// The sandbox's limits. Defaults: 4096 processes, 4 GiB of address
    /// space per process, 1 GiB per file, 15 minutes of CPU time per process
    /// and of wall time in all.
    pub limits: Limits,
}

impl Default for CompileOptions {
    fn default() -> CompileOptions {
        CompileOptions {
            sandbox_path: None,
            limits: Limits {
                memory_bytes: 4 << 30,
                file_size_bytes: 1 << 30,
                cpu_seconds: 900,
                wall_time: Duration::from_secs(900),
                ..Limits::default()
            },
        }
    }
}

/// The loader's file name for each Debian architecture.
pub fn loader_name(debian_arch: &str) -> Option<&'static str> {
    lockship_target::by_debian_arch(debian_arch)
        .and_then(|t| t.glibc_loader)
        .map(|loader| loader.name)
}

/// The host's Debian architecture name (Rust's name for it when the target
/// table does not know it).
pub fn host_debian_arch() -> &'static str {
    lockship_target::host()
        .map(|t| t.debian_arch)
        .unwrap_or(std::env::consts::ARCH)
}

/// Finds an interpreter that can compile for this tree: the tree's own when
/// the host runs its architecture, else `python3.X` on the host's PATH.
pub fn find_interpreter(
    root: &Path,
    python: &PythonRuntime,
    debian_arch: &str,
    triplet: &str,
) -> Option<Interpreter> {
    if debian_arch == host_debian_arch() {
        let loader = format!("/usr/lib/{triplet}/{}", loader_name(debian_arch)?);
        let py = format!("/usr/bin/{}", python.binary());
        if let (Some(loader), Some(py)) = (in_image(root, &loader), in_image(root, &py)) {
            return Some(Interpreter::InTree {
                root: root.to_path_buf(),
                loader,
                library_path: format!("/usr/lib/{triplet}:/usr/lib"),
                python: py,
                home: "/usr".to_string(),
            });
        }
    }
    host_interpreter(&python.binary())
}

/// `python3.X` on the host's `PATH` that actually runs and reports that
/// minor version. A name on `PATH` is not enough: a pyenv shim, say, exists
/// for every version and prints `pyenv: python3.13: command not found`
/// when that version is not installed, so each candidate is probed first.
pub fn host_interpreter(name: &str) -> Option<Interpreter> {
    let minor = name.strip_prefix("python")?;
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .filter(|candidate| candidate.is_file())
        .find(|candidate| reports_minor(candidate, minor))
        .map(Interpreter::Host)
}

/// Whether `python -c` runs and prints `minor` (`3.13`) as its version.
fn reports_minor(python: &Path, minor: &str) -> bool {
    Command::new(python)
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .args([
            "-I",
            "-c",
            "import sys; print('%d.%d' % sys.version_info[:2])",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok_and(|out| {
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == minor
        })
}

/// A path inside `root` with its symlinks followed inside `root` (an absolute
/// link means the tree's root, never the host's), at most 40 hops.
pub fn resolve_in_tree(root: &Path, in_image: &str) -> Option<PathBuf> {
    let mut current = PathBuf::from("/");
    let mut pending: Vec<String> = in_image
        .split('/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(str::to_string)
        .collect();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                current.pop();
                continue;
            }
            _ => {}
        }
        let next = current.join(&part);
        let on_disk = root.join(next.strip_prefix("/").ok()?);
        match std::fs::read_link(&on_disk) {
            Ok(target) => {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    current = PathBuf::from("/");
                }
                pending.extend(
                    target
                        .split('/')
                        .filter(|c| !c.is_empty())
                        .rev()
                        .map(str::to_string),
                );
            }
            Err(_) => current = next,
        }
    }
    let on_disk = root.join(current.strip_prefix("/").ok()?);
    on_disk.exists().then_some(on_disk)
}

/// The in-image path `in_image` resolves to inside `root` (symlinks
/// followed inside the tree), if it exists there.
fn in_image(root: &Path, in_image: &str) -> Option<String> {
    let on_disk = resolve_in_tree(root, in_image)?;
    let rel = on_disk.strip_prefix(root).ok()?;
    Some(format!("/{}", rel.to_string_lossy()))
}

/// Like [`find_interpreter`], for an interpreter anywhere in a tree someone
/// else made (`/usr/local/bin/python3.12` of the official images): its
/// prefix becomes `PYTHONHOME`, and glibc's or musl's loader of the tree runs it.
pub fn find_interpreter_at(
    root: &Path,
    python: &str,
    prefix: &str,
    debian_arch: &str,
    triplet: &str,
) -> Option<Interpreter> {
    if debian_arch == host_debian_arch() {
        let musl = lockship_target::by_debian_arch(debian_arch).and_then(|t| t.musl_loader);
        let mut loaders = Vec::new();
        if let Some(glibc) = loader_name(debian_arch) {
            for dir in [
                format!("/lib/{triplet}"),
                format!("/usr/lib/{triplet}"),
                "/lib64".into(),
                "/usr/lib64".into(),
                "/lib".into(),
            ] {
                loaders.push(format!("{dir}/{glibc}"));
            }
        }
        if let Some(musl) = musl {
            loaders.push(format!("/lib/{musl}"));
            loaders.push(format!("/usr/lib/{musl}"));
        }
        let loader = loaders.iter().find_map(|l| in_image(root, l));
        let py = in_image(root, python);
        if let (Some(loader), Some(py)) = (loader, py) {
            let prefix = prefix.trim_end_matches('/');
            let dirs = [
                format!("{prefix}/lib"),
                format!("/usr/lib/{triplet}"),
                format!("/lib/{triplet}"),
                "/usr/lib".to_string(),
                "/lib".to_string(),
            ];
            return Some(Interpreter::InTree {
                root: root.to_path_buf(),
                loader,
                library_path: dirs.join(":"),
                python: py,
                home: if prefix.is_empty() {
                    "/".to_string()
                } else {
                    prefix.to_string()
                },
            });
        }
    }
    let name = Path::new(python).file_name()?.to_str()?;
    // `python3` names no minor version: only `python3.X` is probed.
    host_interpreter(name)
}

/// The marker of a line naming a file that did not compile: the marker,
/// then a JSON `[in-image path, message]`.
const FAILED: &str = "lockship-compile-failed ";

// compileall calls `py_compile.compile` for each file; the wrapper only
// records the files that raise (the bytecode written is compileall's own),
// and compileall's own messages are silenced (`quiet=2`).
const COMPILE: &str = r#"
import compileall, json, py_compile, sys
failed = []
_compile = py_compile.compile
def _recording(file, cfile=None, dfile=None, *args, **kwargs):
    try:
        return _compile(file, cfile, dfile, *args, **kwargs)
    except Exception as e:
        msg = str(getattr(e, "msg", e)).strip().splitlines()
        failed.append([dfile or file, msg[-1] if msg else type(e).__name__])
        raise
py_compile.compile = _recording
ok = True
for src, ddir in zip(sys.argv[1::2], sys.argv[2::2]):
    ok &= bool(compileall.compile_dir(src, ddir=ddir, quiet=2, workers=1, force=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH))
for f in failed:
    print("lockship-compile-failed " + json.dumps(f), flush=True)
sys.exit(0 if ok or failed else 1)
"#;

/// A source file that did not compile (a syntax error, an undecodable file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileFailure {
    /// Its in-image path (`/opt/venv/lib/python3.11/site-packages/pkg/bad.py`).
    pub path: String,
    /// The compiler's message, one line.
    pub message: String,
}

/// What [`compile_dirs_report`] did.
#[derive(Debug, Clone, Default)]
pub struct CompileReport {
    /// How many `.pyc` files the directories hold afterwards.
    pub pyc_files: usize,
    /// The files that did not compile (and have no bytecode), by path.
    pub failed: Vec<CompileFailure>,
}

/// The failures the compile script named in `text`.
fn failures(text: &str) -> Vec<CompileFailure> {
    let mut out: Vec<CompileFailure> = text
        .lines()
        .filter_map(|line| line.strip_prefix(FAILED))
        .filter_map(|json| serde_json::from_str::<(String, String)>(json).ok())
        .map(|(path, message)| CompileFailure { path, message })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup();
    out
}

/// Compiles every `.py` under each in-image directory of `dirs` (found under
/// `root`) to unchecked-hash bytecode, with tracebacks naming the in-image
/// paths. Returns how many `.pyc` files the directories hold afterwards.
pub fn compile_dirs(
    root: &Path,
    interpreter: &Interpreter,
    dirs: &[String],
) -> Result<usize, RuntimeError> {
    compile_dirs_with(root, interpreter, dirs, &CompileOptions::default())
}

/// [`compile_dirs`], with the sandbox's lookup and limits given. A file that
/// does not compile is an error ([`RuntimeError::Compile`] names each one).
pub fn compile_dirs_with(
    root: &Path,
    interpreter: &Interpreter,
    dirs: &[String],
    options: &CompileOptions,
) -> Result<usize, RuntimeError> {
    let report = compile_dirs_report(root, interpreter, dirs, options)?;
    if report.failed.is_empty() {
        return Ok(report.pyc_files);
    }
    Err(RuntimeError::Compile {
        interpreter: interpreter.describe(),
        output: report
            .failed
            .iter()
            .map(|f| format!("`{}`: {}", f.path, f.message))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// Compiles like [`compile_dirs_with`], but a source file that does not
/// compile (a package's deliberately broken test data, say) is reported in
/// [`CompileReport::failed`], not an error; the other files' bytecode is
/// the same either way. Only a failure to run the compiler is an error.
pub fn compile_dirs_report(
    root: &Path,
    interpreter: &Interpreter,
    dirs: &[String],
    options: &CompileOptions,
) -> Result<CompileReport, RuntimeError> {
    let refused = |cause| RuntimeError::CompileSandbox {
        interpreter: interpreter.describe(),
        cause,
    };
    // Every directory is a real one under `root`: nothing is ever bound or
    // written through a symlink the tree planted.
    let mut host_dirs = Vec::new();
    for dir in dirs {
        host_dirs.push(real_path_under(root, dir).map_err(refused)?);
    }
    let (ok, text) = match interpreter {
        Interpreter::InTree {
            root: tree,
            loader,
            library_path,
            python,
            home,
        } => {
            let sandbox = Sandbox::find_in(
                options
                    .sandbox_path
                    .clone()
                    .or_else(|| std::env::var_os("PATH"))
                    .as_deref(),
            )
            .map_err(refused)?;
            let logs = tempfile::tempdir().map_err(io_err("create", std::env::temp_dir()))?;
            let log = logs.path().join("compile.log");
            let mut argv = vec![
                loader.clone(),
                "--library-path".to_string(),
                library_path.clone(),
                python.clone(),
                "-c".to_string(),
                COMPILE.to_string(),
            ];
            let mut binds = Vec::new();
            for (dir, host) in dirs.iter().zip(&host_dirs) {
                // Mounted at its in-image path: the source is the directory
                // itself, and `ddir` names it the same.
                argv.push(dir.clone());
                argv.push(dir.clone());
                binds.push(Bind::read_write(host, dir.clone()));
            }
            let outcome = sandbox
                .run(&Run {
                    root: tree,
                    binds,
                    // No bytecode from the compiler's own imports: those
                    // would be timestamp-based, and compileall would then
                    // keep them.
                    env: vec![
                        ("PYTHONHOME".into(), home.clone()),
                        ("LANG".into(), "C.UTF-8".into()),
                        ("PYTHONHASHSEED".into(), "0".into()),
                        ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
                    ],
                    argv,
                    chdir: "/".into(),
                    network: Network::None,
                    limits: options.limits.clone(),
                    log: &log,
                })
                .map_err(refused)?;
            let mut text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(limit) = outcome.limit_hit() {
                text.push_str(&format!("\n(stopped by the sandbox's {limit})"));
            }
            (outcome.success(), text)
        }
        Interpreter::Host(python) => {
            // The host's own Python is trusted; it must not write through
            // a `__pycache__` link of the tree.
            for host in &host_dirs {
                refuse_pycache_links(host).map_err(refused)?;
            }
            let mut cmd = Command::new(python);
            cmd.env_remove("PYTHONPATH")
                .env_remove("PYTHONHOME")
                .env("PYTHONHASHSEED", "0")
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .arg("-c")
                .arg(COMPILE);
            for (dir, host) in dirs.iter().zip(&host_dirs) {
                cmd.arg(host).arg(dir);
            }
            let out = cmd
                .output()
                .map_err(io_err("run", interpreter.describe()))?;
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            (out.status.success(), text)
        }
    };
    let failed = failures(&text);
    if !ok {
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        return Err(RuntimeError::Compile {
            interpreter: interpreter.describe(),
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    let pyc_files = host_dirs
        .iter()
        .flat_map(walkdir::WalkDir::new)
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "pyc"))
        .count();
    Ok(CompileReport { pyc_files, failed })
}

/// Refuses a directory that holds a `__pycache__` symlink (compileall would
/// write through it).
fn refuse_pycache_links(dir: &Path) -> Result<(), lockship_sandbox::SandboxError> {
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_symlink() && entry.file_name() == "__pycache__" {
            return Err(lockship_sandbox::SandboxError::SymlinkInPath {
                path: entry.path().to_path_buf(),
                link: entry.path().to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Removes extension modules of the stdlib whose shared libraries are not in
/// the tree (for example `_curses` when ncurses was left out), so that an
/// import fails with a clean `ImportError` rather than a loader error.
/// Returns the removed module file names.
pub fn drop_orphan_extensions(
    root: &Path,
    python: &PythonRuntime,
    triplet: &str,
) -> Result<Vec<String>, RuntimeError> {
    let dynload = root
        .join(python.stdlib_dir().trim_start_matches('/'))
        .join("lib-dynload");
    let libdirs = [root.join("usr/lib").join(triplet), root.join("usr/lib")];
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dynload) else {
        return Ok(removed);
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(elf) = goblin::elf::Elf::parse(&bytes) else {
            continue;
        };
        let missing = elf.libraries.iter().any(|lib| {
            !libdirs
                .iter()
                .any(|d| d.join(lib).symlink_metadata().is_ok())
        });
        if missing {
            fs_err::remove_file(&path).map_err(io_err("remove", &path))?;
            removed.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `python3.13` on `PATH` that prints pyenv's error (as a pyenv shim
    /// does for a version it lacks) is not an interpreter.
    #[test]
    fn broken_host_interpreter_shim_is_skipped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let shim = dir.path().join("python3.13");
        std::fs::write(
            &shim,
            "#!/bin/sh\necho \"pyenv: python3.13: command not found\" >&2\nexit 127\n",
        )
        .unwrap();
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let liar = dir.path().join("python3.12");
        std::fs::write(&liar, "#!/bin/sh\necho 3.11\n").unwrap();
        std::fs::set_permissions(&liar, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(!reports_minor(&shim, "3.13"));
        assert!(!reports_minor(&liar, "3.12"));
        let works = dir.path().join("python3.99");
        std::fs::write(&works, "#!/bin/sh\necho 3.99\n").unwrap();
        std::fs::set_permissions(&works, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(reports_minor(&works, "3.99"));
    }

    #[test]
    fn failures_are_read_from_the_marked_lines_only() {
        let text = "some noise\n\
            lockship-compile-failed [\"/opt/venv/lib/python3.11/site-packages/pkg/tests/bad.py\", \"invalid syntax\"]\n\
            Traceback: lockship-compile-failed [\"/not/a/marker\", \"x\"]\n\
            lockship-compile-failed not json\n\
            lockship-compile-failed [\"/app/a.py\", \"unexpected indent\"]\n";
        let failed = failures(text);
        assert_eq!(
            failed,
            [
                CompileFailure {
                    path: "/app/a.py".into(),
                    message: "unexpected indent".into()
                },
                CompileFailure {
                    path: "/opt/venv/lib/python3.11/site-packages/pkg/tests/bad.py".into(),
                    message: "invalid syntax".into()
                },
            ]
        );
    }
}
