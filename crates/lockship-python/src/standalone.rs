//! The standalone CPython provider: a checked download, a hardened unpack,
//! a pruned tree at one fixed prefix.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use lockship_fetch::{Cache, Download, FetchError, FetchOptions, Fetcher, Reporter};
use serde::Serialize;
use url::Url;

use crate::catalogue::{Catalogue, StandaloneBuild};
use crate::mirror::Mirror;
use crate::unpack::{check_links, prune_tree, scan, TOP};
use crate::version::PyVersion;
use crate::PythonError;

/// Where the CPython tree sits in the image.
pub const DEFAULT_PREFIX: &str = "/opt/python";

/// The most bytes a release's `SHA256SUMS` may have (a release with every
/// flavour and platform lists a few hundred kB).
const MAX_SUMS_BYTES: u64 = 8 << 20;

/// Bumped whenever the pruning rules change, so cached trees are redone.
const TREE_FORMAT: &str = "v1";

/// How [`install_standalone`] installs.
pub struct InstallOptions<'a> {
    /// The in-image prefix, absolute (normally [`DEFAULT_PREFIX`]).
    pub prefix: &'a str,
    /// Whether to prune what a runtime never needs ([`crate::PRUNE_RULES`]);
    /// `false` keeps headers and the `config-3.X` directory, for an sdist
    /// build environment.
    pub prune: bool,
    /// Progress.
    pub reporter: &'a dyn Reporter,
}

/// A standalone CPython, unpacked and checked, ready to become a layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StandaloneRuntime {
    /// The CPython version.
    pub version: PyVersion,
    /// The python-build-standalone release tag.
    pub release_tag: String,
    /// The platform triple.
    pub triple: String,
    /// The archive's file name.
    pub archive: String,
    /// The archive's SHA-256 (hex), as published and as checked.
    pub archive_sha256: String,
    /// Where the hash comes from.
    pub hash_source: String,
    /// The URL the archive was (or would have been) downloaded from.
    pub url: String,
    /// The in-image prefix, e.g. `/opt/python`.
    pub prefix: PathBuf,
    /// The in-image interpreter, e.g. `/opt/python/bin/python3.12`.
    pub interpreter: PathBuf,
    /// The in-image stdlib directory, e.g. `/opt/python/lib/python3.12`.
    pub stdlib: PathBuf,
    /// The local directory holding the prefix's content (`bin/`, `lib/`,
    /// ...), in the cache: read it, never change it.
    pub tree: PathBuf,
}

impl StandaloneRuntime {
    /// The image annotations and labels that say which build it is.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        [
            ("dev.lockship.python.version", self.version.to_string()),
            ("dev.lockship.python.source", "standalone".to_string()),
            (
                "dev.lockship.python.standalone.release",
                self.release_tag.clone(),
            ),
            (
                "dev.lockship.python.standalone.archive",
                self.archive.clone(),
            ),
            (
                "dev.lockship.python.standalone.sha256",
                self.archive_sha256.clone(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// Downloads a release's `SHA256SUMS` from the mirror and parses it.
///
/// # Errors
///
/// [`PythonError::MirrorUnreachable`] (after the fetcher's retries) naming
/// the URL, [`PythonError::BadSums`] for a malformed file.
pub fn fetch_release_catalogue(
    fetcher: &Fetcher,
    mirror: &Mirror,
    release_tag: &str,
) -> Result<Catalogue, PythonError> {
    if release_tag.len() != 8 || !release_tag.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PythonError::BadRequest {
            value: release_tag.chars().take(40).collect(),
            source_name: "a python-build-standalone release tag (`YYYYMMDD`)".into(),
        });
    }
    let url = mirror.sums_url(release_tag)?;
    let small = Fetcher::new(FetchOptions {
        max_download_bytes: MAX_SUMS_BYTES,
        ..fetcher.options().clone()
    })?;
    let bytes = small
        .get_bytes(&url)
        .map_err(|e| unreachable(e, &url, mirror, "X.Y"))?;
    let text = String::from_utf8_lossy(&bytes);
    Catalogue::parse(&text, url.as_str())
}

/// Brings `build` into the cache and unpacks it, checked, into a tree for
/// the prefix: the archive is downloaded from `mirror` and its SHA-256
/// checked while it streams (a mismatch stores nothing), scanned and
/// unpacked with the flattener's rules, its links resolved inside the tree,
/// pruned (with [`InstallOptions::prune`]), and moved into the cache by one
/// rename. A tree already in the cache is reused.
///
/// # Errors
///
/// [`PythonError::ArchiveMismatch`] for a wrong hash or size,
/// [`PythonError::MirrorUnreachable`] naming the URL after retries,
/// [`PythonError::UnsafeEntry`] for an entry that would leave the prefix,
/// [`PythonError::NoInterpreter`] for an archive without `bin/python3.X`.
pub fn install_standalone(
    fetcher: &Fetcher,
    cache: &Cache,
    mirror: &Mirror,
    build: &StandaloneBuild,
    options: &InstallOptions<'_>,
) -> Result<StandaloneRuntime, PythonError> {
    let prefix = Path::new(options.prefix);
    let plain = prefix
        .components()
        .skip(1)
        .all(|c| matches!(c, Component::Normal(_)));
    if !prefix.has_root() || !plain || prefix.parent().is_none() {
        return Err(PythonError::BadPrefix {
            prefix: options.prefix.to_string(),
        });
    }
    let archive = build.asset_name();
    let url = mirror.asset_url(&build.release_tag, &archive)?;
    let minor = build.version.minor_string();
    let runtime = |tree: PathBuf| {
        let prefix = PathBuf::from(options.prefix);
        StandaloneRuntime {
            version: build.version.clone(),
            release_tag: build.release_tag.clone(),
            triple: build.triple.clone(),
            archive: archive.clone(),
            archive_sha256: build.sha256.clone(),
            hash_source: build.hash_source.clone(),
            url: url.to_string(),
            interpreter: prefix.join(format!("bin/python{minor}")),
            stdlib: prefix.join(format!("lib/python{minor}")),
            prefix,
            tree,
        }
    };
    let flavour = if options.prune { "runtime" } else { "full" };
    let key = format!("{}-{flavour}-{TREE_FORMAT}", build.sha256);
    let done = cache.keyed_dir("python-standalone", &key);
    let tree = done.join(TOP);
    if tree.is_dir() {
        return Ok(runtime(tree));
    }
    let request = Download::new(&url, &build.sha256);
    let path = fetcher
        .download(&request, cache, options.reporter)
        .map_err(|e| match e {
            FetchError::HashMismatch { .. } | FetchError::SizeMismatch { .. } => {
                PythonError::ArchiveMismatch {
                    url: url.to_string(),
                    expected: build.sha256.clone(),
                    hash_source: build.hash_source.clone(),
                    source: Box::new(e),
                }
            }
            e => unreachable(e, &url, mirror, &minor),
        })?;
    options.reporter.phase(&format!("unpacking {archive}"));
    let work = cache.temp_dir()?;
    let root = work.path().join("root");
    unpack_checked(&path, &archive, &root)?;
    let staged = root.join(TOP);
    if options.prune {
        prune_tree(&staged, &minor)?;
    }
    let interpreter = staged.join(format!("bin/python{minor}"));
    if !fs_err::symlink_metadata(&interpreter).is_ok_and(|m| m.is_file()) {
        return Err(PythonError::NoInterpreter {
            archive,
            path: format!("{TOP}/bin/python{minor}"),
        });
    }
    let parent = done.parent().unwrap_or(cache.root());
    fs_err::create_dir_all(parent).map_err(PythonError::io(parent))?;
    if let Err(e) = std::fs::rename(&root, &done) {
        // Another build finished the same tree first: use it.
        if !tree.is_dir() {
            return Err(PythonError::Io {
                path: done,
                source: e,
            });
        }
    }
    options.reporter.phase("");
    Ok(runtime(tree))
}

/// Scans, unpacks and checks the links of the archive at `path` into `root`.
fn unpack_checked(path: &Path, archive: &str, root: &Path) -> Result<(), PythonError> {
    let diff_id = scan(path, archive)?;
    let file = fs_err::File::open(path).map_err(PythonError::io(path))?;
    lockship_layer::unpack_layer(file, archive, root, &diff_id)?;
    let tree = root.join(TOP);
    if !tree.is_dir() {
        return Err(PythonError::NoInterpreter {
            archive: archive.to_string(),
            path: format!("{TOP}/"),
        });
    }
    check_links(&tree, archive)
}

/// A download failure as the user should see it: the URL, the mirror, and
/// both ways out.
fn unreachable(e: FetchError, url: &Url, mirror: &Mirror, minor: &str) -> PythonError {
    match e {
        FetchError::Unreachable { .. }
        | FetchError::Status { .. }
        | FetchError::LocalFile { .. } => PythonError::MirrorUnreachable {
            url: url.to_string(),
            origin: mirror.origin.to_string(),
            minor: minor.to_string(),
            source: Box::new(e),
        },
        e => PythonError::from(e),
    }
}
