//! The typed reading of a Python project and its lockfile.
//!
//! [`Project::load`] reads `pyproject.toml` — PEP 621 `[project]`, PEP 735
//! `[dependency-groups]`, `[build-system]`, Poetry's `[tool.poetry]`,
//! `[tool.uv]` index settings and lockship's own `[tool.lockship]` — into a
//! [`Project`]. [`Project::load_lock`] finds and reads its lockfile
//! (`uv.lock`, `poetry.lock`, `pylock.toml` or a pinned `requirements.txt`,
//! in that order of preference) into one [`Lock`] model, and refuses a lock
//! that no longer matches `pyproject.toml`. [`select`] then walks the
//! dependency graph from the project's main dependencies (plus the groups and
//! extras asked for), evaluating PEP 508 markers for the target
//! [`MarkerEnv`], and returns the packages an image needs.
//!
//! The project itself is never in the selection: it is installed from its
//! directory, not from the lock.
//!
//! # Example
//!
//! ```
//! use lockship_project::{select, LockSelection, MarkerEnv, Project, Selection};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::write(
//!     dir.path().join("pyproject.toml"),
//!     "[project]\nname = \"app\"\nversion = \"1.0\"\ndependencies = [\"idna\"]\n\
//!      [dependency-groups]\ndev = [\"pytest\"]\n",
//! )?;
//! std::fs::write(
//!     dir.path().join("requirements.txt"),
//!     "idna==3.7 \\\n    --hash=sha256:82fee1fc78add43492d3a1898bfa6d8a904cc97d8427f683ed8e798d07761aa0\n\
//!      colorama==0.4.6 ; sys_platform == \"win32\"\n",
//! )?;
//!
//! let project = Project::load(dir.path())?;
//! let lock = project.load_lock(&LockSelection::Auto)?;
//! let env = MarkerEnv::linux("3.11.9", "x86_64");
//! let packages = select(&lock, &project, &Selection::default(), &env)?;
//! let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
//! assert_eq!(names, ["idna"]);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

pub mod dockerignore;
mod error;
mod marker;
mod model;
mod poetry_lock;
mod pylock;
mod pyproject;
mod requirements;
mod select;
mod settings;
mod stale;
mod uv_lock;
mod validate;

pub use dockerignore::{Dockerignore, SECRET_PATTERNS};
pub use error::ProjectError;
pub use marker::MarkerEnv;
pub use model::{Artifact, Dep, Lock, LockKind, LockedPackage, PackageSource};
pub use pyproject::{
    BuildSystem, PoetryConfig, PoetryInclude, PoetrySource, Project, ProjectFormat, Requirement,
};
pub use select::{select, Selection};
pub use settings::{LockshipSettings, Port, SandboxLimits, UvConfig, UvIndex};
pub use validate::{package_name as check_package_name, version as check_version};

/// The largest lockfile read: 64 MiB. Real lockfiles of large monorepos stay
/// under a few MiB; parsing costs many times a file's size in memory, so a
/// larger file is refused before it is read.
pub const MAX_LOCK_BYTES: u64 = 64 << 20;

/// Which lockfile to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LockSelection {
    /// The first of `uv.lock`, `poetry.lock`, `pylock.toml`, `requirements.txt`
    /// in the project directory.
    #[default]
    Auto,
    /// This file (`--lockfile`), relative to the project directory unless
    /// absolute; its kind is told by its name (`uv.lock`, `poetry.lock`,
    /// `pylock*.toml`, anything else is a requirements file).
    Path(PathBuf),
}

/// The lockfile names looked for, in order of preference.
pub const LOCKFILES: [(&str, LockKind); 4] = [
    ("uv.lock", LockKind::Uv),
    ("poetry.lock", LockKind::Poetry),
    ("pylock.toml", LockKind::Pylock),
    ("requirements.txt", LockKind::Requirements),
];

/// A package name normalised as PEP 503 says: lowercase, with runs of `-`,
/// `_` and `.` replaced by one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

impl Project {
    /// Where the lockfile is and what kind it is.
    pub fn find_lock(
        &self,
        selection: &LockSelection,
    ) -> Result<(PathBuf, LockKind), ProjectError> {
        match selection {
            LockSelection::Path(path) => {
                let path = self.dir.join(path);
                let kind = kind_of(&path);
                Ok((path, kind))
            }
            LockSelection::Auto => LOCKFILES
                .iter()
                .map(|(name, kind)| (self.dir.join(name), *kind))
                .find(|(path, _)| path.is_file())
                .ok_or_else(|| ProjectError::NoLock {
                    dir: self.dir.clone(),
                    poetry: self.poetry.is_some() && self.format == ProjectFormat::Poetry,
                }),
        }
    }

    /// Find and read the lockfile, and refuse it when it is out of date with
    /// `pyproject.toml` (see [`Lock::check_fresh`]).
    pub fn load_lock(&self, selection: &LockSelection) -> Result<Lock, ProjectError> {
        let (path, kind) = self.find_lock(selection)?;
        let lock = Lock::read(&path, kind)?;
        lock.check_fresh(self)?;
        Ok(lock)
    }
}

impl Lock {
    /// Read a lockfile of the given kind, without comparing it to a project.
    pub fn read(path: &Path, kind: LockKind) -> Result<Lock, ProjectError> {
        let text = error::read_capped(path, MAX_LOCK_BYTES)?;
        match kind {
            LockKind::Uv => uv_lock::parse(path, &text),
            LockKind::Poetry => poetry_lock::parse(path, &text),
            LockKind::Pylock => pylock::parse(path, &text),
            LockKind::Requirements => requirements::parse(path, &text),
        }
    }
}

/// The kind of lockfile a file name says.
fn kind_of(path: &Path) -> LockKind {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.as_str() {
        "uv.lock" => LockKind::Uv,
        "poetry.lock" => LockKind::Poetry,
        n if n.starts_with("pylock.") && n.ends_with(".toml") => LockKind::Pylock,
        _ => LockKind::Requirements,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise() {
        assert_eq!(normalize_name("Foo_Bar..baz"), "foo-bar-baz");
        assert_eq!(normalize_name("ruamel.yaml"), "ruamel-yaml");
        assert_eq!(normalize_name("A"), "a");
    }

    #[test]
    fn lockfile_kind_follows_the_name() {
        assert_eq!(kind_of(Path::new("x/uv.lock")), LockKind::Uv);
        assert_eq!(kind_of(Path::new("poetry.lock")), LockKind::Poetry);
        assert_eq!(kind_of(Path::new("pylock.prod.toml")), LockKind::Pylock);
        assert_eq!(kind_of(Path::new("reqs/prod.txt")), LockKind::Requirements);
    }
}
