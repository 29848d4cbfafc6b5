//! File trees: the work copies of a project, hard-linked caches, and the
//! one-line code change.

use std::path::{Path, PathBuf};

use crate::error::io_err;
use crate::BenchError;

/// Names never copied into the work copies.
pub const SKIP: &[&str] = &[
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    "target",
    "node_modules",
    ".mypy_cache",
    ".pytest_cache",
];

/// Replaces `to` with a copy of `from`, skipping VCS, virtualenvs, caches
/// and `skip_dir` (the output directory, when it lies inside the project).
pub fn copy_tree(from: &Path, to: &Path, skip_dir: Option<&Path>) -> Result<(), BenchError> {
    if to.exists() {
        std::fs::remove_dir_all(to).map_err(io_err("remove", to))?;
    }
    std::fs::create_dir_all(to).map_err(io_err("create", to))?;
    for entry in std::fs::read_dir(from).map_err(io_err("read", from))? {
        let entry = entry.map_err(io_err("read", from))?;
        let name = entry.file_name();
        let path = entry.path();
        if SKIP.contains(&name.to_string_lossy().as_ref()) || Some(path.as_path()) == skip_dir {
            continue;
        }
        let kind = entry.file_type().map_err(io_err("read", &path))?;
        if kind.is_dir() {
            copy_tree(&path, &to.join(&name), skip_dir)?;
        } else if kind.is_file() {
            std::fs::copy(&path, to.join(&name)).map_err(io_err("copy", &path))?;
        }
    }
    Ok(())
}

/// Hard-links every file of `from` into `to` (copies where linking fails);
/// files already in `to` stay.
pub fn link_tree(from: &Path, to: &Path) -> Result<(), BenchError> {
    std::fs::create_dir_all(to).map_err(io_err("create", to))?;
    for entry in std::fs::read_dir(from).map_err(io_err("read", from))? {
        let entry = entry.map_err(io_err("read", from))?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        if entry.file_type().map_err(io_err("read", &path))?.is_dir() {
            link_tree(&path, &target)?;
        } else if !target.exists() && std::fs::hard_link(&path, &target).is_err() {
            std::fs::copy(&path, &target).map_err(io_err("copy", &path))?;
        }
    }
    Ok(())
}

/// Appends one comment line (with `nonce`, so no builder cache has seen it)
/// to the first `.py` file under `src/` (else under the project, tests
/// aside); returns that file.
pub fn change_code(dir: &Path, nonce: u128) -> Result<PathBuf, BenchError> {
    let mut files: Vec<PathBuf> = Vec::new();
    let src = dir.join("src");
    let mut stack = vec![if src.is_dir() { src } else { dir.to_path_buf() }];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(io_err("read", &d))? {
            let p = e.map_err(io_err("read", &d))?.path();
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if p.is_dir() && !SKIP.contains(&name.as_str()) && name != "tests" {
                stack.push(p);
            } else if name.ends_with(".py") {
                files.push(p);
            }
        }
    }
    files.sort();
    let file = files
        .into_iter()
        .next()
        .ok_or_else(|| BenchError::NoSource {
            dir: dir.to_path_buf(),
        })?;
    let mut text = std::fs::read_to_string(&file).map_err(io_err("read", &file))?;
    text.push_str(&format!("\n# lockship bench: code change {nonce}\n"));
    std::fs::write(&file, text).map_err(io_err("write", &file))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_skip_caches_and_the_output_dir() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("app");
        std::fs::create_dir_all(from.join("src/app/__pycache__")).unwrap();
        std::fs::create_dir_all(from.join(".git")).unwrap();
        std::fs::create_dir_all(from.join("bench")).unwrap();
        std::fs::write(from.join("src/app/__init__.py"), "x = 1\n").unwrap();
        std::fs::write(from.join("src/app/__pycache__/a.pyc"), "").unwrap();
        std::fs::write(from.join("pyproject.toml"), "").unwrap();
        let to = dir.path().join("copy");
        std::fs::create_dir_all(&to).unwrap();
        std::fs::write(to.join("stale"), "").unwrap();
        copy_tree(&from, &to, Some(&from.join("bench"))).unwrap();
        assert!(to.join("src/app/__init__.py").exists());
        assert!(to.join("pyproject.toml").exists());
        assert!(!to.join("src/app/__pycache__").exists());
        assert!(!to.join(".git").exists());
        assert!(!to.join("bench").exists());
        assert!(!to.join("stale").exists());

        let changed = change_code(&to, 42).unwrap();
        assert_eq!(changed, to.join("src/app/__init__.py"));
        let text = std::fs::read_to_string(&changed).unwrap();
        assert_eq!(text, "x = 1\n\n# lockship bench: code change 42\n");
        // The original is untouched.
        assert_eq!(
            std::fs::read_to_string(from.join("src/app/__init__.py")).unwrap(),
            "x = 1\n"
        );
    }

    #[test]
    fn links_share_the_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/sha256")).unwrap();
        std::fs::write(dir.path().join("a/sha256/x"), "blob").unwrap();
        link_tree(&dir.path().join("a"), &dir.path().join("b")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("b/sha256/x")).unwrap(),
            "blob"
        );
    }

    #[test]
    fn a_project_without_python_files_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            change_code(dir.path(), 1),
            Err(BenchError::NoSource { .. })
        ));
    }
}
