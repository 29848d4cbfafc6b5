//! The lock model shared by every lockfile reader.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;
use url::Url;

/// Which kind of lockfile a [`Lock`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LockKind {
    /// `uv.lock` (version 1).
    Uv,
    /// `poetry.lock` (lock-version 1.x or 2.x).
    Poetry,
    /// `pylock.toml` (PEP 751, lock-version 1.0).
    Pylock,
    /// A pinned `requirements.txt` (pip-compile or `uv pip compile` output).
    Requirements,
    /// `pdm.lock` (lock_version 4.x).
    Pdm,
    /// `Pipfile.lock` (pipfile-spec 6).
    Pipenv,
}

impl LockKind {
    /// The command that (re)creates this kind of lockfile.
    pub fn lock_command(self) -> &'static str {
        match self {
            Self::Uv => "uv lock",
            Self::Poetry => "poetry lock",
            Self::Pylock => "uv export --format pylock.toml -o pylock.toml",
            Self::Requirements => {
                "uv pip compile --generate-hashes pyproject.toml -o requirements.txt"
            }
            Self::Pdm => "pdm lock",
            Self::Pipenv => "pipenv lock",
        }
    }

    /// The usual file name of this kind of lockfile (`requirements.txt` for
    /// every requirements file).
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Uv => "uv.lock",
            Self::Poetry => "poetry.lock",
            Self::Pylock => "pylock.toml",
            Self::Requirements => "requirements.txt",
            Self::Pdm => "pdm.lock",
            Self::Pipenv => "Pipfile.lock",
        }
    }
}

/// A lockfile, read into one model whatever tool wrote it.
#[derive(Debug, Clone, Serialize)]
pub struct Lock {
    /// Which kind of lockfile this is.
    pub kind: LockKind,
    /// Where it was read from.
    pub path: PathBuf,
    /// The Python versions the lock was resolved for, as written.
    pub requires_python: Option<String>,
    /// Every locked package, in file order. uv.lock's entry for the project
    /// itself is kept apart (its edges start the walk in [`crate::select`]);
    /// the flat formats may list the project, which `select` skips.
    pub packages: Vec<LockedPackage>,
    /// The project's own entry in the lock (uv.lock lists the project as a
    /// package; the others do not), with its edges: main dependencies in
    /// `dependencies`, per-extra edges in `optional_dependencies`, per-group
    /// edges in `groups`.
    #[serde(skip)]
    pub(crate) root: Option<RootEntry>,
    /// Index URLs named by the lock itself (requirements `--index-url`
    /// first, then `--extra-index-url`).
    pub index_urls: Vec<Url>,
    /// The groups a `pylock.toml` installs when none are asked for.
    pub default_groups: Vec<String>,
    /// Groups and extras the lock itself declares (`pylock.toml`
    /// `dependency-groups` and `extras`), also accepted by `select`.
    #[serde(skip)]
    pub(crate) declared: (Vec<String>, Vec<String>),
    /// poetry.lock `metadata.content-hash`, pdm.lock `metadata.content_hash`
    /// (without `sha256:`), Pipfile.lock `_meta.hash.sha256`.
    #[serde(skip)]
    pub(crate) content_hash: Option<String>,
    /// Things worth telling the user that do not stop the build (pins
    /// without hashes, say), in the order found.
    pub warnings: Vec<LockWarning>,
    /// uv.lock: every workspace member's own entry (the root project's too),
    /// by name, with the directory the lock records for it.
    #[serde(skip)]
    pub(crate) members: BTreeMap<String, (PathBuf, RootEntry)>,
    /// uv.lock `[manifest]`: members, constraints and overrides.
    #[serde(skip)]
    pub(crate) manifest: UvManifest,
    /// Pipfile.lock `_meta.sources` as written, for the Pipfile hash.
    #[serde(skip)]
    pub(crate) pipfile_sources: Option<serde_json::Value>,
}

/// A warning about a lock, returned as data for the caller to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LockWarning {
    /// Some pins of a requirements file (or Pipfile.lock) carry no
    /// `--hash`: their files are downloaded without a check against the lock.
    UnhashedPins {
        /// The lockfile.
        path: PathBuf,
        /// How many packages are pinned without a hash.
        unhashed: usize,
        /// How many packages the lock lists.
        total: usize,
    },
}

impl std::fmt::Display for LockWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnhashedPins {
                path,
                unhashed,
                total,
            } => write!(
                f,
                "{unhashed} of {total} packages in `{}` are not pinned by hash; their downloads are checked against nothing (hint: generate the file with `--generate-hashes`)",
                path.display()
            ),
        }
    }
}

/// uv.lock `[manifest]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct UvManifest {
    /// The lock's `revision` (0 when absent).
    pub revision: i64,
    pub members: Vec<String>,
    pub constraints: Vec<toml::Value>,
    pub overrides: Vec<toml::Value>,
    pub dependency_groups: BTreeMap<String, Vec<toml::Value>>,
}

/// The project's own entry in a lock that records one.
#[derive(Debug, Clone, Default)]
pub(crate) struct RootEntry {
    pub dependencies: Vec<Dep>,
    pub optional_dependencies: BTreeMap<String, Vec<Dep>>,
    pub groups: BTreeMap<String, Vec<Dep>>,
    /// `[package.metadata] requires-dist`, for the staleness check.
    pub requires_dist: Option<Vec<toml::Value>>,
    /// `[package.metadata.requires-dev]`, for the staleness check.
    pub requires_dev: Option<BTreeMap<String, Vec<toml::Value>>>,
    /// `provides-extras`, when the lock records it.
    pub provides_extras: Option<Vec<String>>,
}

impl Lock {
    pub(crate) fn new(kind: LockKind, path: &std::path::Path) -> Self {
        Self {
            kind,
            path: path.to_path_buf(),
            requires_python: None,
            packages: Vec::new(),
            root: None,
            index_urls: Vec::new(),
            default_groups: Vec::new(),
            declared: (Vec::new(), Vec::new()),
            content_hash: None,
            warnings: Vec::new(),
            members: BTreeMap::new(),
            manifest: UvManifest::default(),
            pipfile_sources: None,
        }
    }

    /// The packages named `name` (normalised); more than one when the lock
    /// forks on markers.
    pub fn find(&self, name: &str) -> impl Iterator<Item = &LockedPackage> {
        let name = crate::normalize_name(name);
        self.packages.iter().filter(move |p| p.name == name)
    }
}

/// One locked distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockedPackage {
    /// The name, normalised as PEP 503 says (`Foo_Bar` -> `foo-bar`).
    pub name: String,
    /// The locked version, as written (absent for some direct sources).
    pub version: Option<String>,
    /// Where the package comes from.
    pub source: PackageSource,
    /// Its wheels.
    pub wheels: Vec<Artifact>,
    /// Its source distribution.
    pub sdist: Option<Artifact>,
    /// Hashes the lock allows for any file of this package when it does not
    /// say which file each belongs to (`requirements.txt`).
    pub hashes: Vec<String>,
    /// Its dependency edges (empty for flat locks).
    pub dependencies: Vec<Dep>,
    /// Extra name -> the edges that extra adds.
    pub optional_dependencies: BTreeMap<String, Vec<Dep>>,
    /// The environment marker under which this package is installed, when
    /// the lock is flat (`requirements.txt`, `pylock.toml`, `poetry.lock`).
    pub marker: Option<String>,
    /// The dependency groups the lock puts it in (`main`, `dev`, ...), when it says.
    pub groups: BTreeSet<String>,
}

/// Where a locked package comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PackageSource {
    /// A package index; `None` when the lock does not say which (the default index).
    Registry {
        /// The index URL.
        index: Option<Url>,
    },
    /// A Git repository at a fixed commit.
    Git {
        /// The repository URL, without `git+`, revision or fragment.
        url: String,
        /// The full commit the lock pins, when it records one.
        commit: Option<String>,
        /// The subdirectory holding the package.
        subdirectory: Option<String>,
    },
    /// A local directory or archive, relative to the project.
    Path {
        /// The path as written in the lock.
        path: PathBuf,
        /// Whether the lock installs it editable.
        editable: bool,
    },
    /// An archive at a URL.
    DirectUrl {
        /// The URL.
        url: Url,
    },
}

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    /// Where to download it; `None` when the lock gives only the file name
    /// (poetry.lock) and the index must be asked.
    pub url: Option<Url>,
    /// The file name.
    pub filename: String,
    /// Its SHA-256, lowercase hex, without the `sha256:` prefix.
    pub sha256: Option<String>,
    /// Its size in bytes.
    pub size: Option<u64>,
}

/// A dependency edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dep {
    /// The name of the required package, normalised.
    pub name: String,
    /// The marker under which the edge applies.
    pub marker: Option<String>,
    /// The extras of the required package that the edge activates.
    pub extras: BTreeSet<String>,
    /// The version the edge points at, when the lock has several of the name.
    pub version: Option<String>,
}

impl Dep {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: crate::normalize_name(name),
            marker: None,
            extras: BTreeSet::new(),
            version: None,
        }
    }
}

/// Split `sha256:<hex>` into the lowercase hex; `None` for other algorithms.
pub(crate) fn sha256_of(hash: &str) -> Option<String> {
    hash.strip_prefix("sha256:")
        .or_else(|| hash.strip_prefix("sha256="))
        .map(|h| h.to_ascii_lowercase())
}

/// The last path segment of a URL, percent-decoded enough for file names.
pub(crate) fn filename_of(url: &Url) -> String {
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default();
    last.replace("%2B", "+").replace("%2b", "+")
}
