//! Wheel pins: for each locked package, the one file that fits the target,
//! chosen from the lock's own URLs or the index, pinned by hash.

use lockship_project::{LockedPackage, PackageSource};
use lockship_wheel::{IndexClient, IndexFile, WheelFilename, WheelTarget};
use serde::Serialize;
use url::Url;

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
        PackageSource::Path { path, .. } if crate::git::is_local_archive(path) => {
            let url = Url::from_file_path(path).map_err(|_| BuildError::DirectUrlFile {
                package: package.name.clone(),
                url: path.display().to_string(),
                reason: "it is not an absolute local path".into(),
            })?;
            return pin_direct_url(package, &url, target);
        }
        PackageSource::Path { .. } => unreachable!("path dependencies are pinned by `git::pin`"),
        PackageSource::DirectUrl { url } => return pin_direct_url(package, url, target),
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
        // The index the lock records for this package (poetry's
        // supplemental and explicit sources) is the only one asked for it.
        let recorded = match &package.source {
            PackageSource::Registry { index: Some(url) } => {
                Some(lockship_wheel::IndexUrl::parse(url.as_str())?)
            }
            _ => None,
        };
        let listed = match &recorded {
            Some(index) => client.files_at(index, &package.name),
            None => client.files(&package.name),
        };
        let mut files = listed.map_err(|e| match e {
            // Name the package that needs the index, as `reach` does.
            lockship_wheel::WheelError::IndexUnreachable { url, source } => {
                BuildError::SourceUnreachable {
                    kind: crate::reach::INDEX,
                    source_url: url,
                    packages: vec![package.name.clone()],
                    cause: crate::reach::cause_chain(&source),
                }
            }
            e => e.into(),
        })?;
        let of_version = |f: &IndexFile| {
            file_version(&f.filename).is_some_and(|v| lockship_wheel::same_version(&v, &version))
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
                                    && lockship_wheel::same_version(&v, &version)
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

/// The pin of a package the lock takes from a direct URL (`name @
/// https://…/x.whl`, uv's `source = { url = … }`, a pylock `archive`): the
/// URL's own file, a wheel that must fit the target or an sdist to build,
/// checked against the SHA-256 the lock gives for it (required). A `file:`
/// URL is read only inside the project (the download checks the roots).
fn pin_direct_url(
    package: &LockedPackage,
    url: &Url,
    target: &WheelTarget,
) -> Result<WheelPin, BuildError> {
    let mut url = url.clone();
    let fragment_hash = url.fragment().and_then(|f| {
        f.split('&')
            .find_map(|kv| kv.strip_prefix("sha256="))
            .map(str::to_ascii_lowercase)
    });
    url.set_fragment(None);
    let shown = url.to_string();
    let bad = |reason: String| BuildError::DirectUrlFile {
        package: package.name.clone(),
        url: shown.clone(),
        reason,
    };
    let segment = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default()
        .replace("%2B", "+")
        .replace("%2b", "+");
    let (filename, from_sdist) = match lockship_fetch::check_dist_filename(&segment) {
        Ok(kind) => (segment.clone(), kind != lockship_fetch::DistKind::Wheel),
        // An archive named after a tag (`…/archive/v1.2.tar.gz`) is an sdist
        // of the locked name and version.
        Err(e) => match (
            [".tar.gz", ".zip"].iter().find(|s| segment.ends_with(*s)),
            &package.version,
        ) {
            (Some(suffix), Some(version)) => {
                let name = format!("{}-{version}{suffix}", package.name.replace('-', "_"));
                lockship_fetch::check_dist_filename(&name).map_err(|e| bad(e.to_string()))?;
                (name, true)
            }
            _ => return Err(bad(e.to_string())),
        },
    };
    // The lock's hash for this file: an artifact of the same URL or name
    // (uv.lock's `sdist = { hash }` has neither), the package's hashes
    // (requirements `--hash`), or the URL's `#sha256=` fragment.
    let artifacts: Vec<_> = package.wheels.iter().chain(package.sdist.iter()).collect();
    let by_artifact = artifacts
        .iter()
        .filter(|a| {
            a.url.as_ref().is_some_and(|u| {
                let mut u = u.clone();
                u.set_fragment(None);
                u == url
            }) || a.filename == segment
                || a.filename == filename
                || (a.url.is_none() && artifacts.len() == 1)
        })
        .find_map(|a| a.sha256.clone());
    let sha256 = by_artifact
        .or_else(|| package.hashes.first().cloned())
        .or(fragment_hash)
        .map(|h| h.trim_start_matches("sha256:").to_ascii_lowercase())
        .filter(|h| lockship_fetch::is_sha256_hex(h))
        .ok_or_else(|| BuildError::DirectUrlNoHash {
            package: package.name.clone(),
            url: shown.clone(),
        })?;
    let size = artifacts
        .iter()
        .find(|a| a.sha256.as_deref() == Some(sha256.as_str()))
        .and_then(|a| a.size);
    let version = if from_sdist {
        package
            .version
            .clone()
            .or_else(|| sdist_version(&filename).map(|(_, v)| v))
    } else {
        let wheel = WheelFilename::parse(&filename).map_err(|e| bad(e.to_string()))?;
        let version = package.version.clone().unwrap_or(wheel.version.to_string());
        // The wheel must be of this package and fit the target.
        let file = IndexFile {
            filename: filename.clone(),
            url: url.clone(),
            sha256: Some(sha256.clone()),
            requires_python: None,
            yanked: false,
            yanked_reason: None,
            size,
        };
        lockship_wheel::select_wheel(std::slice::from_ref(&file), &package.name, &version, target)?;
        Some(version)
    }
    .ok_or_else(|| BuildError::NoVersion {
        package: package.name.clone(),
    })?;
    Ok(WheelPin {
        name: package.name.clone(),
        version,
        filename,
        url: shown,
        sha256,
        size,
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

#[cfg(test)]
#[path = "pins_tests.rs"]
mod tests;
