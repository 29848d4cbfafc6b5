//! `pylock.toml` (PEP 751), lock-version 1.x.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::model::{filename_of, Artifact, Lock, LockKind, LockedPackage, PackageSource};
use crate::validate::Entry;
use crate::ProjectError;

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawLock {
    lock_version: String,
    requires_python: Option<String>,
    #[serde(default)]
    default_groups: Vec<String>,
    #[serde(default)]
    dependency_groups: Vec<String>,
    #[serde(default)]
    extras: Vec<String>,
    #[serde(default)]
    packages: Vec<RawPackage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawPackage {
    name: String,
    version: Option<String>,
    marker: Option<String>,
    index: Option<String>,
    vcs: Option<RawVcs>,
    directory: Option<RawDirectory>,
    archive: Option<RawArchive>,
    sdist: Option<RawFile>,
    #[serde(default)]
    wheels: Vec<RawFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawVcs {
    url: Option<String>,
    path: Option<String>,
    commit_id: Option<String>,
    subdirectory: Option<String>,
}

#[derive(Deserialize)]
struct RawDirectory {
    path: String,
    #[serde(default)]
    editable: bool,
}

#[derive(Deserialize)]
struct RawArchive {
    url: Option<String>,
    path: Option<String>,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawFile {
    name: Option<String>,
    url: Option<String>,
    path: Option<String>,
    size: Option<u64>,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
}

/// Read a `pylock.toml` document.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Lock, ProjectError> {
    let raw: RawLock = crate::error::parse_toml(path, text)?;
    if raw.lock_version.split('.').next() != Some("1") {
        return Err(ProjectError::UnsupportedLockVersion {
            path: path.to_path_buf(),
            version: raw.lock_version,
            supported: "pylock.toml lock-version 1.x",
        });
    }
    let mut lock = Lock {
        requires_python: raw.requires_python,
        default_groups: raw.default_groups,
        declared: (raw.dependency_groups, raw.extras),
        ..Lock::new(LockKind::Pylock, path)
    };
    for p in raw.packages {
        let name = Entry::name(path, &p.name)?;
        let entry = Entry {
            path,
            package: &name,
        };
        let version = entry.version(p.version)?;
        let bad = |m: String| ProjectError::invalid(path, &format!("package `{name}`"), m);
        let url = |u: &str| Url::parse(u).map_err(|e| bad(format!("bad URL `{u}`: {e}")));
        // An archive's hash checks the archive's own file.
        let archive_sha256 = entry.sha256(
            "archive.hashes.sha256",
            p.archive
                .as_ref()
                .and_then(|a| a.hashes.get("sha256"))
                .map(|h| h.to_ascii_lowercase()),
        )?;
        let source = if let Some(vcs) = p.vcs {
            PackageSource::Git {
                url: vcs
                    .url
                    .or(vcs.path)
                    .ok_or_else(|| bad("`vcs` has neither `url` nor `path`".into()))?,
                commit: vcs.commit_id,
                subdirectory: vcs.subdirectory,
            }
        } else if let Some(dir) = p.directory {
            PackageSource::Path {
                path: PathBuf::from(dir.path),
                editable: dir.editable,
            }
        } else if let Some(archive) = p.archive {
            match (archive.url, archive.path) {
                (Some(u), _) => PackageSource::DirectUrl { url: url(&u)? },
                (None, Some(p)) => PackageSource::Path {
                    path: PathBuf::from(p),
                    editable: false,
                },
                (None, None) => return Err(bad("`archive` has neither `url` nor `path`".into())),
            }
        } else {
            PackageSource::Registry {
                index: p.index.as_deref().map(url).transpose()?,
            }
        };
        let artifact = |f: RawFile| -> Result<Artifact, ProjectError> {
            let u = f.url.as_deref().map(url).transpose()?;
            let filename = f
                .name
                .or_else(|| u.as_ref().map(filename_of))
                .or_else(|| {
                    f.path
                        .as_deref()
                        .and_then(|p| Path::new(p).file_name())
                        .map(|n| n.to_string_lossy().into_owned())
                })
                .ok_or_else(|| bad("a file has no `name`, `url` or `path`".into()))?;
            Ok(Artifact {
                url: u,
                filename,
                sha256: f.hashes.get("sha256").map(|h| h.to_ascii_lowercase()),
                size: f.size,
            })
        };
        let wheels = p
            .wheels
            .into_iter()
            .map(&artifact)
            .collect::<Result<Vec<_>, _>>()?;
        let sdist = p.sdist.map(&artifact).transpose()?;
        entry.source(&source)?;
        entry.artifacts(&wheels, sdist.as_ref())?;
        lock.packages.push(LockedPackage {
            name: name.clone(),
            version,
            source,
            wheels,
            sdist,
            hashes: archive_sha256.into_iter().collect(),
            dependencies: Vec::new(),
            optional_dependencies: BTreeMap::new(),
            marker: p.marker,
            groups: Default::default(),
        });
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_version_two_is_refused_and_files_need_a_name() {
        let err = parse(Path::new("pylock.toml"), "lock-version = '2.0'\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unsupported lockfile version `2.0` in `pylock.toml`"
        );
        let err = parse(
            Path::new("pylock.toml"),
            "lock-version = '1.0'\n[[packages]]\nname = 'a'\nwheels = [{ size = 1 }]\n",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("has no `name`, `url` or `path`"),
            "{err}"
        );
    }
}
