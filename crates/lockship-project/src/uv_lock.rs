//! `uv.lock`, version 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::model::{
    filename_of, sha256_of, Artifact, Dep, Lock, LockKind, LockedPackage, PackageSource, RootEntry,
};
use crate::{normalize_name, ProjectError};

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawLock {
    version: toml::Value,
    requires_python: Option<String>,
    #[serde(default)]
    package: Vec<RawPackage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawPackage {
    name: String,
    version: Option<String>,
    #[serde(default)]
    source: BTreeMap<String, String>,
    #[serde(default)]
    dependencies: Vec<RawDep>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, Vec<RawDep>>,
    #[serde(default)]
    dev_dependencies: BTreeMap<String, Vec<RawDep>>,
    sdist: Option<RawFile>,
    #[serde(default)]
    wheels: Vec<RawFile>,
    metadata: Option<RawMetadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawMetadata {
    requires_dist: Option<Vec<toml::Value>>,
    requires_dev: Option<BTreeMap<String, Vec<toml::Value>>>,
}

#[derive(Deserialize)]
struct RawDep {
    name: String,
    marker: Option<String>,
    #[serde(default)]
    extra: Vec<String>,
    version: Option<String>,
}

#[derive(Deserialize)]
struct RawFile {
    url: Option<String>,
    path: Option<String>,
    filename: Option<String>,
    hash: Option<String>,
    size: Option<u64>,
}

/// Read a `uv.lock` document.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Lock, ProjectError> {
    let raw: RawLock = crate::error::parse_toml(path, text)?;
    if raw.version.as_integer() != Some(1) {
        return Err(ProjectError::UnsupportedLockVersion {
            path: path.to_path_buf(),
            version: raw.version.to_string().trim_matches('"').to_string(),
            supported: "uv.lock version 1",
        });
    }
    let mut lock = Lock {
        requires_python: raw.requires_python,
        ..Lock::new(LockKind::Uv, path)
    };
    for p in raw.package {
        let is_root = ["editable", "virtual"]
            .iter()
            .any(|k| p.source.get(*k).map(String::as_str) == Some("."));
        if is_root {
            lock.root = Some(RootEntry {
                dependencies: deps(p.dependencies),
                optional_dependencies: dep_map(p.optional_dependencies),
                groups: dep_map(p.dev_dependencies),
                requires_dist: p.metadata.as_ref().and_then(|m| m.requires_dist.clone()),
                requires_dev: p.metadata.and_then(|m| m.requires_dev),
            });
            continue;
        }
        let name = normalize_name(&p.name);
        let source = source(path, &name, &p.source)?;
        let artifact = |f: RawFile| -> Result<Artifact, ProjectError> {
            let url = match f.url.as_deref() {
                Some(u) => Some(Url::parse(u).map_err(|e| {
                    ProjectError::invalid(
                        path,
                        &format!("package `{name}`"),
                        format!("bad URL `{u}`: {e}"),
                    )
                })?),
                None => None,
            };
            let filename = f
                .filename
                .or_else(|| url.as_ref().map(filename_of))
                .or_else(|| {
                    f.path
                        .as_deref()
                        .and_then(|p| Path::new(p).file_name())
                        .map(|n| n.to_string_lossy().into_owned())
                })
                .unwrap_or_default();
            Ok(Artifact {
                url,
                filename,
                sha256: f.hash.as_deref().and_then(sha256_of),
                size: f.size,
            })
        };
        let wheels = p
            .wheels
            .into_iter()
            .map(&artifact)
            .collect::<Result<_, _>>()?;
        let sdist = p.sdist.map(&artifact).transpose()?;
        lock.packages.push(LockedPackage {
            name,
            version: p.version,
            source,
            wheels,
            sdist,
            hashes: Vec::new(),
            dependencies: deps(p.dependencies),
            optional_dependencies: dep_map(p.optional_dependencies),
            marker: None,
            groups: Default::default(),
        });
    }
    Ok(lock)
}

fn deps(raw: Vec<RawDep>) -> Vec<Dep> {
    raw.into_iter()
        .map(|d| Dep {
            name: normalize_name(&d.name),
            marker: d.marker,
            extras: d.extra.iter().map(|e| normalize_name(e)).collect(),
            version: d.version,
        })
        .collect()
}

fn dep_map(raw: BTreeMap<String, Vec<RawDep>>) -> BTreeMap<String, Vec<Dep>> {
    raw.into_iter()
        .map(|(k, v)| (normalize_name(&k), deps(v)))
        .collect()
}

fn source(
    path: &Path,
    name: &str,
    raw: &BTreeMap<String, String>,
) -> Result<PackageSource, ProjectError> {
    let bad = |m: String| ProjectError::invalid(path, &format!("package `{name}`"), m);
    let (kind, value) = raw
        .iter()
        .next()
        .ok_or_else(|| bad("it has no `source`".into()))?;
    Ok(match kind.as_str() {
        "registry" => PackageSource::Registry {
            index: Url::parse(value).ok(),
        },
        "git" => git_source(value),
        "url" => PackageSource::DirectUrl {
            url: Url::parse(value).map_err(|e| bad(format!("bad URL `{value}`: {e}")))?,
        },
        "path" | "directory" => PackageSource::Path {
            path: PathBuf::from(value),
            editable: false,
        },
        "editable" | "virtual" => PackageSource::Path {
            path: PathBuf::from(value),
            editable: kind == "editable",
        },
        other => return Err(bad(format!("unknown source kind `{other}`"))),
    })
}

/// `https://host/repo?subdirectory=pkg&rev=main#<commit>` -> [`PackageSource::Git`].
pub(crate) fn git_source(value: &str) -> PackageSource {
    let value = value.strip_prefix("git+").unwrap_or(value);
    let (rest, commit) = match value.split_once('#') {
        Some((rest, commit)) => (rest, Some(commit.to_string())),
        None => (value, None),
    };
    let (url, query) = rest.split_once('?').unwrap_or((rest, ""));
    let subdirectory = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("subdirectory="))
        .map(str::to_string);
    PackageSource::Git {
        url: url.to_string(),
        commit,
        subdirectory,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_sources_split_commit_and_subdirectory() {
        assert_eq!(
            git_source("https://git.invalid/org/repo?subdirectory=pkg&rev=main#0123abcd"),
            PackageSource::Git {
                url: "https://git.invalid/org/repo".into(),
                commit: Some("0123abcd".into()),
                subdirectory: Some("pkg".into()),
            }
        );
    }

    #[test]
    fn version_two_is_refused() {
        let err = parse(Path::new("uv.lock"), "version = 2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unsupported lockfile version `2` in `uv.lock`"
        );
        assert!(err.hint().unwrap().contains("uv.lock version 1"));
    }
}
