//! The typed reading of a Python project and its lockfile.
//!
//! [`Project::load`] reads `pyproject.toml` — PEP 621 `[project]`, PEP 735
//! `[dependency-groups]`, `[build-system]`, Poetry's `[tool.poetry]`,
//! `[tool.uv]` index settings and lockship's own `[tool.lockship]` — into a
//! [`Project`]; a directory with no project table, or no `pyproject.toml`
//! at all, is a [`ProjectKind::Application`], and a uv workspace member knows
//! its [`Workspace`]. [`Project::load_lock`] finds and reads its lockfile
//! (`uv.lock`, `poetry.lock`, `pdm.lock`, `Pipfile.lock`, `pylock.toml` or a
//! pinned requirements file, in that order of preference; a workspace
//! member's is the root's `uv.lock`, narrowed to the member) into one
//! [`Lock`] model, and refuses a lock that no longer matches the project. [`select`] then walks the
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
mod pdm_lock;
mod pipfile_lock;
mod poetry_lock;
mod pylock;
mod pyproject;
mod requirements;
mod select;
mod settings;
mod stale;
mod stale_uv;
mod uv_lock;
mod validate;
mod workspace;

pub use dockerignore::{Dockerignore, SECRET_PATTERNS};
pub use error::ProjectError;
pub use marker::MarkerEnv;
pub use model::{Artifact, Dep, Lock, LockKind, LockWarning, LockedPackage, PackageSource};
pub use pyproject::{
    BuildSystem, PoetryConfig, PoetryInclude, PoetrySource, Project, ProjectFormat, ProjectKind,
    Requirement, Workspace,
};
pub use requirements::REQUIREMENTS_FILES;
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
    /// For a uv workspace member (or root), the workspace root's `uv.lock`;
    /// else the first of [`LOCKFILES`], then of [`REQUIREMENTS_FILES`], in
    /// the project directory. A requirements file that names no package but
    /// the project itself (`.`, `-e .`) is not a lock and is passed over.
    #[default]
    Auto,
    /// This file (`--lockfile`), relative to the project directory unless
    /// absolute; its kind is told by its name (`uv.lock`, `poetry.lock`,
    /// `pdm.lock`, `Pipfile.lock`, `pylock*.toml`, anything else is a
    /// requirements file).
    Path(PathBuf),
}

/// The lockfile names looked for, in order of preference.
pub const LOCKFILES: [(&str, LockKind); 6] = [
    ("uv.lock", LockKind::Uv),
    ("poetry.lock", LockKind::Poetry),
    ("pdm.lock", LockKind::Pdm),
    ("Pipfile.lock", LockKind::Pipenv),
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
            LockSelection::Auto => {
                // A uv workspace has one lock, at its root: `uv sync
                // --package` reads it whatever the member's directory holds.
                let workspace = self.workspace.as_ref().and_then(|ws| {
                    let lock = ws.root.join("uv.lock");
                    lock.is_file().then_some((lock, LockKind::Uv))
                });
                let own = || {
                    LOCKFILES
                        .iter()
                        .map(|(name, kind)| (self.dir.join(name), *kind))
                        .chain(
                            REQUIREMENTS_FILES
                                .iter()
                                .map(|name| (self.dir.join(name), LockKind::Requirements)),
                        )
                        .find(|(path, kind)| {
                            path.is_file()
                                && (*kind != LockKind::Requirements
                                    || requirements::pins_anything(path))
                        })
                };
                workspace.or_else(own).ok_or_else(|| ProjectError::NoLock {
                    dir: self.dir.clone(),
                    poetry: self.poetry.is_some() && self.format == ProjectFormat::Poetry,
                })
            }
        }
    }

    /// Find and read the lockfile, and refuse it when it is out of date with
    /// `pyproject.toml` (see [`Lock::check_fresh`]).
    pub fn load_lock(&self, selection: &LockSelection) -> Result<Lock, ProjectError> {
        let (path, kind) = self.find_lock(selection)?;
        let mut lock = Lock::read_in(&path, kind, &self.dir)?;
        match kind {
            LockKind::Uv => self.narrow_to_member(&mut lock)?,
            LockKind::Pdm => lock.index_urls.extend(self.pdm_sources()),
            _ => {}
        }
        lock.check_fresh(self)?;
        Ok(lock)
    }
}

impl Project {
    /// `[[tool.pdm.source]]` URLs, which a `pdm.lock` does not repeat
    /// (URLs with `${VAR}` credentials left out).
    fn pdm_sources(&self) -> Vec<url::Url> {
        self.raw
            .get("tool")
            .and_then(|t| t.get("pdm"))
            .and_then(|t| t.get("source"))
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("url")?.as_str())
            .filter(|u| !u.contains("${"))
            .filter_map(|u| url::Url::parse(u).ok())
            .collect()
    }
}

impl Lock {
    /// Read a lockfile of the given kind, without comparing it to a project.
    /// A requirements file's `-r`/`-c` includes must stay inside the
    /// file's own directory; see [`Lock::read_in`].
    pub fn read(path: &Path, kind: LockKind) -> Result<Lock, ProjectError> {
        Self::read_in(path, kind, dir_of(path))
    }

    /// Read a lockfile of the given kind for the project in `project_dir`:
    /// a requirements file's `-r`/`-c` includes are followed only inside
    /// that directory.
    pub fn read_in(path: &Path, kind: LockKind, project_dir: &Path) -> Result<Lock, ProjectError> {
        let text = error::read_capped(path, MAX_LOCK_BYTES)?;
        match kind {
            LockKind::Uv => uv_lock::parse(path, &text),
            LockKind::Poetry => poetry_lock::parse(path, &text),
            LockKind::Pylock => pylock::parse(path, &text),
            LockKind::Requirements => requirements::parse_in(path, &text, project_dir),
            LockKind::Pdm => pdm_lock::parse(path, &text),
            LockKind::Pipenv => pipfile_lock::parse(path, &text),
        }
    }
}

/// The directory a file is in (`.` for a bare file name).
pub(crate) fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
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
        "pdm.lock" => LockKind::Pdm,
        "Pipfile.lock" => LockKind::Pipenv,
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
        assert_eq!(kind_of(Path::new("pdm.lock")), LockKind::Pdm);
        assert_eq!(kind_of(Path::new("Pipfile.lock")), LockKind::Pipenv);
    }
}
