//! Bytecode, compiled by the image's own interpreter.
//!
//! Debian writes the stdlib's `.pyc` files in maintainer scripts, so an
//! unpacked package has none, and a read-only image would compile on every
//! start. lockship compiles them as unchecked-hash `.pyc` (valid whatever the
//! file mtimes, and reproducible), running the image's interpreter from the
//! staged tree through its own dynamic loader, or, for a foreign
//! architecture, a host Python of the same minor version.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::io_err;
use crate::{PythonRuntime, RuntimeError};

/// How to run a Python that matches the image.
#[derive(Debug, Clone)]
pub enum Interpreter {
    /// The image's own interpreter, through its own loader and libraries.
    InTree {
        /// The staged root.
        root: PathBuf,
        /// The dynamic loader inside the tree.
        loader: PathBuf,
        /// The tree's library directories.
        library_path: String,
        /// The interpreter inside the tree.
        python: PathBuf,
        /// Its `PYTHONHOME`: the tree's copy of the install prefix (`ROOT/usr`).
        home: PathBuf,
    },
    /// A host interpreter of the same minor version (cross-architecture builds).
    Host(PathBuf),
}

impl Interpreter {
    /// Describes the interpreter for messages.
    pub fn describe(&self) -> String {
        match self {
            Interpreter::InTree { python, .. } => format!("{} (from the image)", python.display()),
            Interpreter::Host(p) => format!("{} (host)", p.display()),
        }
    }

    /// A command that runs this interpreter with `args`.
    pub fn command(&self) -> Command {
        match self {
            Interpreter::InTree {
                root: _,
                loader,
                library_path,
                python,
                home,
            } => {
                let mut cmd = Command::new(loader);
                cmd.arg("--library-path").arg(library_path).arg(python);
                cmd.env_clear();
                cmd.env("PYTHONHOME", home);
                cmd.env("LANG", "C.UTF-8");
                cmd
            }
            Interpreter::Host(python) => {
                let mut cmd = Command::new(python);
                cmd.env_remove("PYTHONPATH").env_remove("PYTHONHOME");
                cmd
            }
        }
    }
}

/// The loader's file name for each Debian architecture.
pub fn loader_name(debian_arch: &str) -> Option<&'static str> {
    match debian_arch {
        "amd64" => Some("ld-linux-x86-64.so.2"),
        "arm64" => Some("ld-linux-aarch64.so.1"),
        "armhf" => Some("ld-linux-armhf.so.3"),
        _ => None,
    }
}

/// The host's Debian architecture name.
pub fn host_debian_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "armhf",
        other => other,
    }
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
        let libdir = root.join("usr/lib").join(triplet);
        let loader = libdir.join(loader_name(debian_arch)?);
        let py = root.join("usr/bin").join(python.binary());
        if loader.exists() && py.exists() {
            return Some(Interpreter::InTree {
                root: root.to_path_buf(),
                loader,
                library_path: format!("{}:{}", libdir.display(), root.join("usr/lib").display()),
                python: py,
                home: root.join("usr"),
            });
        }
    }
    let name = python.binary();
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(&name))
            .find(|candidate| candidate.is_file())
            .map(Interpreter::Host)
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
        let musl = match debian_arch {
            "amd64" => "ld-musl-x86_64.so.1",
            "arm64" => "ld-musl-aarch64.so.1",
            _ => "ld-musl-armhf.so.1",
        };
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
        loaders.push(format!("/lib/{musl}"));
        loaders.push(format!("/usr/lib/{musl}"));
        let loader = loaders.iter().find_map(|l| resolve_in_tree(root, l));
        let py = resolve_in_tree(root, python);
        if let (Some(loader), Some(py)) = (loader, py) {
            let prefix = prefix.trim_start_matches('/');
            let dirs = [
                format!("{prefix}/lib"),
                format!("usr/lib/{triplet}"),
                format!("lib/{triplet}"),
                "usr/lib".to_string(),
                "lib".to_string(),
            ];
            let library_path = dirs
                .iter()
                .map(|d| root.join(d).display().to_string())
                .collect::<Vec<_>>()
                .join(":");
            return Some(Interpreter::InTree {
                root: root.to_path_buf(),
                loader,
                library_path,
                python: py,
                home: root.join(prefix),
            });
        }
    }
    let name = Path::new(python).file_name()?.to_owned();
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(&name))
            .find(|candidate| candidate.is_file())
            .map(Interpreter::Host)
    })
}

const COMPILE: &str = r#"
import compileall, py_compile, sys
ok = True
for src, ddir in zip(sys.argv[1::2], sys.argv[2::2]):
    ok &= bool(compileall.compile_dir(src, ddir=ddir, quiet=1, workers=1, force=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH))
sys.exit(0 if ok else 1)
"#;

/// Compiles every `.py` under each in-image directory of `dirs` to
/// unchecked-hash bytecode, with tracebacks naming the in-image paths.
/// Returns how many `.pyc` files the tree holds afterwards.
pub fn compile_dirs(
    root: &Path,
    interpreter: &Interpreter,
    dirs: &[String],
) -> Result<usize, RuntimeError> {
    let mut cmd = interpreter.command();
    // No bytecode from the compiler's own imports: those would be
    // timestamp-based, and compileall would then keep them.
    cmd.env("PYTHONHASHSEED", "0")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg("-c")
        .arg(COMPILE);
    for dir in dirs {
        cmd.arg(root.join(dir.trim_start_matches('/'))).arg(dir);
    }
    let out = cmd
        .output()
        .map_err(io_err("run", interpreter.describe()))?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        return Err(RuntimeError::Compile {
            interpreter: interpreter.describe(),
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    Ok(dirs
        .iter()
        .flat_map(|d| walkdir::WalkDir::new(root.join(d.trim_start_matches('/'))))
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "pyc"))
        .count())
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
