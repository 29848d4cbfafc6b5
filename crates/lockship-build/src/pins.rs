//! Wheel pins: for each locked package, the one file that fits the target,
//! chosen from the lock's own URLs or the index, pinned by hash.

use lockship_project::{LockedPackage, PackageSource};
use lockship_wheel::{IndexClient, IndexFile, WheelFilename, WheelTarget};
use serde::Serialize;

use crate::BuildError;

/// One wheel of the plan, pinned by hash.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WheelPin {
    /// Normalised package name.
    pub name: String,
    /// Locked version.
    pub version: String,
    /// The chosen wheel's file name.
    pub filename: String,
    /// Where it is downloaded from.
    pub url: String,
    /// Its SHA-256, checked while downloading.
    pub sha256: String,
    /// Its size, when the lock or the index declares it: the download is
    /// stopped as soon as more bytes arrive.
    #[serde(skip)]
    pub size: Option<u64>,
    /// The file is an sdist (no wheel fits the target): it is built into a
    /// wheel in the sandboxed build environment.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub from_sdist: bool,
}

fn normalize_version(v: &str) -> String {
    v.trim().trim_start_matches(['v', 'V']).to_ascii_lowercase()
}

/// Chooses the wheel of one locked package: from the lock's own URLs (uv.lock,
/// pylock.toml) or else from the index, keeping only files whose hash the lock
/// lists when it lists any.
pub(crate) fn pin_wheel(
    package: &LockedPackage,
    target: &WheelTarget,
    client: &IndexClient,
) -> Result<WheelPin, BuildError> {
    match &package.source {
        PackageSource::Registry { .. } => {}
        PackageSource::Git { .. } => unreachable!("git dependencies are pinned by `git::pin`"),
        PackageSource::Path { .. } => unreachable!("path dependencies are pinned by `git::pin`"),
        PackageSource::DirectUrl { .. } => {
            return Err(BuildError::UnsupportedSource {
                package: package.name.clone(),
                source_kind: "a direct URL",
            })
        }
    }
    let version = package
        .version
        .clone()
        .ok_or_else(|| BuildError::NoVersion {
            package: package.name.clone(),
        })?;
    let mut locked_hashes: Vec<String> = package
        .wheels
        .iter()
        .chain(package.sdist.iter())
        .filter_map(|a| a.sha256.clone())
        .chain(package.hashes.iter().cloned())
        .map(|h| h.trim_start_matches("sha256:").to_ascii_lowercase())
        .collect();
    locked_hashes.sort();
    locked_hashes.dedup();

    // The lock names its wheels with URLs: choose among them, no index needed.
    let with_urls: Vec<IndexFile> = package
        .wheels
        .iter()
        .chain(package.sdist.iter())
        .filter_map(|a| {
            Some(IndexFile {
                filename: a.filename.clone(),
                url: a.url.clone()?,
                sha256: a.sha256.clone(),
                requires_python: None,
                yanked: false,
                yanked_reason: None,
                size: a.size,
            })
        })
        .collect();
    let files = if !with_urls.is_empty() {
        with_urls
    } else {
        let mut files = client.files(&package.name)?;
        let of_version = |f: &IndexFile| {
            file_version(&f.filename)
                .is_some_and(|v| normalize_version(&v) == normalize_version(&version))
        };
        let matches_lock = |f: &IndexFile| {
            f.sha256
                .as_deref()
                .is_some_and(|h| locked_hashes.binary_search(&h.to_ascii_lowercase()).is_ok())
        };
        if !locked_hashes.is_empty()
            && files.iter().any(of_version)
            && !files.iter().any(|f| of_version(f) && matches_lock(f))
        {
            return Err(BuildError::HashMismatch {
                package: package.name.clone(),
                version: version.clone(),
                lockfile_hashes: locked_hashes.len(),
            });
        }
        if !locked_hashes.is_empty() {
            files.retain(|f| {
                f.sha256
                    .as_deref()
                    .is_some_and(|h| locked_hashes.binary_search(&h.to_ascii_lowercase()).is_ok())
                    || !of_version(f)
            });
        }
        files
    };
    let (file, from_sdist) =
        match lockship_wheel::select_wheel(&files, &package.name, &version, target) {
            Ok((file, _)) => (file, false),
            // No wheel fits: build the locked sdist, if there is one.
            Err(e @ lockship_wheel::WheelError::NoCompatibleWheel { .. }) => {
                let sdist = files
                    .iter()
                    .filter(|f| {
                        !f.yanked
                            && sdist_version(&f.filename).is_some_and(|(n, v)| {
                                normalize_name(&n) == normalize_name(&package.name)
                                    && normalize_version(&v) == normalize_version(&version)
                            })
                    })
                    .min_by_key(|f| !f.filename.ends_with(".tar.gz"));
                match sdist {
                    Some(f) => (f, true),
                    None => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
    let sha256 = file
        .sha256
        .clone()
        .or_else(|| {
            package
                .wheels
                .iter()
                .find(|a| a.filename == file.filename)
                .and_then(|a| a.sha256.clone())
        })
        .ok_or_else(|| BuildError::NoHash {
            filename: file.filename.clone(),
        })?;
    Ok(WheelPin {
        name: package.name.clone(),
        version,
        filename: file.filename.clone(),
        url: file.url.to_string(),
        sha256: sha256.trim_start_matches("sha256:").to_ascii_lowercase(),
        size: file.size,
        from_sdist,
    })
}

/// `{name}-{version}.tar.gz` (or `.zip`) → name and version.
pub(crate) fn sdist_version(filename: &str) -> Option<(String, String)> {
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))?;
    let (name, version) = stem.rsplit_once('-')?;
    Some((name.to_string(), version.to_string()))
}

/// The version in a wheel's or an sdist's file name.
fn file_version(filename: &str) -> Option<String> {
    match WheelFilename::parse(filename) {
        Ok(w) => Some(w.version.to_string()),
        Err(_) => sdist_version(filename).map(|(_, v)| v),
    }
}

fn normalize_name(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}
