//! `poetry.lock`, lock-version 1.x (hashes in `[metadata.files]`) and 2.x
//! (per-package `files`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::model::{sha256_of, Artifact, Dep, Lock, LockKind, LockedPackage, PackageSource};
use crate::validate::Entry;
use crate::{marker, normalize_name, ProjectError};

#[derive(Deserialize)]
struct RawLock {
    #[serde(default)]
    package: Vec<RawPackage>,
    metadata: RawMetadata,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawMetadata {
    lock_version: Option<String>,
    python_versions: Option<String>,
    content_hash: Option<String>,
    #[serde(default)]
    files: BTreeMap<String, Vec<RawFile>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawPackage {
    name: String,
    version: Option<String>,
    category: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    markers: Option<toml::Value>,
    #[serde(default)]
    files: Vec<RawFile>,
    #[serde(default)]
    dependencies: toml::Table,
    #[serde(default)]
    extras: BTreeMap<String, Vec<String>>,
    source: Option<RawSource>,
}

#[derive(Deserialize)]
struct RawFile {
    file: String,
    hash: Option<String>,
}

/// `[package.source]`; Poetry spells these keys with underscores.
#[derive(Deserialize)]
struct RawSource {
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
    resolved_reference: Option<String>,
    subdirectory: Option<String>,
    #[serde(default)]
    develop: bool,
}

/// Read a `poetry.lock` document.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Lock, ProjectError> {
    let mut raw: RawLock = crate::error::parse_toml(path, text)?;
    let version = raw
        .metadata
        .lock_version
        .clone()
        .unwrap_or_else(|| "1.0".into());
    let major = version.split('.').next().unwrap_or_default();
    if major != "1" && major != "2" {
        return Err(ProjectError::UnsupportedLockVersion {
            path: path.to_path_buf(),
            version,
            supported: "poetry.lock lock-version 1.x and 2.x",
        });
    }
    let mut lock = Lock {
        requires_python: raw.metadata.python_versions.clone(),
        content_hash: raw.metadata.content_hash.clone(),
        ..Lock::new(LockKind::Poetry, path)
    };
    let mut legacy_files = std::mem::take(&mut raw.metadata.files);
    for p in raw.package {
        let name = Entry::name(path, &p.name)?;
        let entry = Entry {
            path,
            package: &name,
        };
        let version = entry.version(p.version)?;
        let bad = |m: String| ProjectError::invalid(path, &format!("package `{name}`"), m);
        let mut files = p.files;
        if files.is_empty() {
            files = legacy_files
                .remove(&p.name)
                .or_else(|| legacy_files.remove(&name))
                .unwrap_or_default();
        }
        let index = match &p.source {
            Some(s) if s.kind == "legacy" => s.url.as_deref().and_then(|u| Url::parse(u).ok()),
            _ => None,
        };
        let source = match p.source {
            None => PackageSource::Registry { index: None },
            Some(s) => match (s.kind.as_str(), s.url) {
                ("legacy", _) => PackageSource::Registry {
                    index: index.clone(),
                },
                ("git", Some(url)) => PackageSource::Git {
                    url,
                    commit: s.resolved_reference,
                    subdirectory: s.subdirectory,
                },
                ("directory" | "file", Some(url)) => PackageSource::Path {
                    path: PathBuf::from(url),
                    editable: s.develop,
                },
                ("url", Some(url)) => PackageSource::DirectUrl {
                    url: Url::parse(&url).map_err(|e| bad(format!("bad URL `{url}`: {e}")))?,
                },
                (kind, _) => return Err(bad(format!("unsupported source type `{kind}`"))),
            },
        };
        entry.source(&source)?;
        let mut wheels = Vec::new();
        let mut sdist = None;
        for f in files {
            // Poetry lists every file of a release; installers of other
            // kinds (`.egg`, `.exe`, `.msi`) are never used, but their names
            // must still be plain.
            if is_legacy_installer(&f.file) {
                entry.plain_filename("files.file", &f.file)?;
                continue;
            }
            entry.filename("files.file", &f.file)?;
            let artifact = Artifact {
                url: None,
                sha256: entry.sha256("files.hash", f.hash.as_deref().and_then(sha256_of))?,
                filename: f.file,
                size: None,
            };
            if artifact.filename.ends_with(".whl") {
                wheels.push(artifact);
            } else {
                sdist = Some(artifact);
            }
        }
        let mut dependencies = Vec::new();
        let mut optional = BTreeMap::<String, Vec<Dep>>::new();
        for (dep_name, value) in &p.dependencies {
            entry.dep_name("dependencies", dep_name)?;
            let entries: Vec<&toml::Value> = match value {
                toml::Value::Array(a) => a.iter().collect(),
                v => vec![v],
            };
            for value in entries {
                let (dep, is_optional) = dep_of(dep_name, value);
                if is_optional {
                    optional.entry(dep.name.clone()).or_default().push(dep);
                } else {
                    dependencies.push(dep);
                }
            }
        }
        let optional_dependencies = p
            .extras
            .iter()
            .map(|(extra, reqs)| {
                let deps = reqs
                    .iter()
                    .flat_map(|r| {
                        let n = normalize_name(extra_requirement_name(r));
                        optional.get(&n).cloned().unwrap_or_else(|| {
                            // Poetry leaves out of `[package.dependencies]`
                            // what no supported Python needs; the entry's own
                            // marker (`tomli ; python_full_version <= "3.11.0a6"`)
                            // still says when it applies.
                            let mut dep = Dep::new(&n);
                            dep.marker = extra_requirement_marker(r);
                            vec![dep]
                        })
                    })
                    .collect();
                (normalize_name(extra), deps)
            })
            .collect();
        let mut groups: BTreeSet<String> = p.groups.iter().map(|g| normalize_name(g)).collect();
        groups.extend(p.category.as_deref().map(normalize_name));
        lock.packages.push(LockedPackage {
            name: name.clone(),
            version,
            source,
            wheels,
            sdist,
            hashes: Vec::new(),
            dependencies,
            optional_dependencies,
            marker: package_marker(p.markers.as_ref()),
            groups,
        });
    }
    Ok(lock)
}

/// Whether a file of a release is an installer of a kind no tool installs
/// any more (Poetry still lists them).
fn is_legacy_installer(name: &str) -> bool {
    [".egg", ".exe", ".msi", ".rpm", ".dmg"]
        .iter()
        .any(|s| name.ends_with(s))
}

/// `markers = "..."`, or `markers = { main = "...", dev = "..." }` (any of them).
fn package_marker(value: Option<&toml::Value>) -> Option<String> {
    match value? {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Table(t) => {
            let all: Vec<String> = t
                .values()
                .filter_map(|v| v.as_str())
                .map(|m| format!("({m})"))
                .collect();
            (!all.is_empty()).then(|| all.join(" or "))
        }
        _ => None,
    }
}

/// One `[package.dependencies]` entry -> (edge, whether it is optional).
fn dep_of(name: &str, value: &toml::Value) -> (Dep, bool) {
    let mut dep = Dep::new(name);
    let toml::Value::Table(t) = value else {
        return (dep, false);
    };
    let mut markers = Vec::new();
    if let Some(m) = t
        .get("python")
        .and_then(|v| v.as_str())
        .and_then(marker::poetry_python_marker)
    {
        markers.push(m);
    }
    if let Some(m) = t.get("markers").and_then(|v| v.as_str()) {
        markers.push(m.to_string());
    }
    dep.marker = match markers.len() {
        0 => None,
        1 => markers.pop(),
        _ => Some(
            markers
                .iter()
                .map(|m| format!("({m})"))
                .collect::<Vec<_>>()
                .join(" and "),
        ),
    };
    if let Some(extras) = t.get("extras").and_then(|v| v.as_array()) {
        dep.extras = extras
            .iter()
            .filter_map(|e| e.as_str())
            .map(normalize_name)
            .collect();
    }
    let optional = t.get("optional").and_then(|v| v.as_bool()).unwrap_or(false);
    (dep, optional)
}

/// The name in an extras entry: `PySocks (>=1.5.6,!=1.5.7)` or `pysocks>=1.5.6`.
fn extra_requirement_name(req: &str) -> &str {
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(req.len());
    &req[..end]
}

/// The marker of an extras entry, after its `;`, when it has one.
fn extra_requirement_marker(req: &str) -> Option<String> {
    let (_, marker) = req.split_once(';')?;
    let marker = marker.trim();
    (!marker.is_empty()).then(|| marker.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extras_entry_keeps_its_marker() {
        assert_eq!(
            extra_requirement_marker("tomli ; python_full_version <= \"3.11.0a6\"").as_deref(),
            Some("python_full_version <= \"3.11.0a6\"")
        );
        assert_eq!(extra_requirement_marker("idna"), None);
    }

    #[test]
    fn extras_entries_name_their_package() {
        assert_eq!(
            extra_requirement_name("PySocks (>=1.5.6,!=1.5.7)"),
            "PySocks"
        );
        assert_eq!(extra_requirement_name("chardet>=3"), "chardet");
        assert_eq!(extra_requirement_name("idna"), "idna");
    }

    #[test]
    fn per_group_markers_are_joined() {
        let table: toml::Value =
            toml::from_str("m = { main = \"a == '1'\", dev = \"b == '2'\" }").unwrap();
        assert_eq!(
            package_marker(table.get("m")).as_deref(),
            Some("(b == '2') or (a == '1')")
        );
        let (dep, optional) = dep_of(
            "Typing_Extensions",
            &toml::from_str::<toml::Value>("t = { version = '>=4', python = '<3.10', markers = \"os_name == 'nt'\", optional = true }")
                .unwrap()["t"],
        );
        assert_eq!(dep.name, "typing-extensions");
        assert_eq!(
            dep.marker.as_deref(),
            Some("(python_full_version < '3.10') and (os_name == 'nt')")
        );
        assert!(optional);
    }

    #[test]
    fn lock_version_three_is_refused() {
        let err = parse(
            Path::new("poetry.lock"),
            "[metadata]\nlock-version = \"3.0\"\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unsupported lockfile version `3.0` in `poetry.lock`"
        );
    }
}
