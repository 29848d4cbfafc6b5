//! `Pipfile.lock` (pipfile-spec 6), and pipenv's hash of the `Pipfile`.
//!
//! The lock is JSON: `_meta` holds the hash of the `Pipfile`, its sources
//! (`name`, `url`, `verify_ssl`) and `requires`; `default` and `develop`
//! (and any custom category) map each package name to its pin: `version`
//! (`==x`), `hashes` (`sha256:...`), `markers`, `index` (a source name),
//! `extras`, or a `git`/`ref`, `path` or `file` source. Packages of
//! `default` are in group `default`, of `develop` in group `dev`, of a
//! custom category in the group of its name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::model::{sha256_of, Lock, LockKind, LockWarning, LockedPackage, PackageSource};
use crate::validate::Entry;
use crate::{normalize_name, ProjectError};

#[derive(Deserialize)]
struct RawMeta {
    #[serde(default)]
    hash: BTreeMap<String, String>,
    #[serde(rename = "pipfile-spec")]
    pipfile_spec: Option<serde_json::Value>,
    #[serde(default)]
    sources: Vec<RawSource>,
    #[serde(default)]
    requires: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct RawSource {
    name: String,
    url: String,
}

#[derive(Deserialize, Default)]
struct RawPackage {
    version: Option<String>,
    #[serde(default)]
    hashes: Vec<String>,
    markers: Option<String>,
    index: Option<String>,
    git: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    subdirectory: Option<String>,
    path: Option<String>,
    file: Option<String>,
    #[serde(default)]
    editable: bool,
}

/// The group a Pipfile.lock category installs as.
fn group_of(category: &str) -> String {
    match category {
        "develop" => "dev".to_string(),
        other => normalize_name(other),
    }
}

/// Read a `Pipfile.lock` document.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Lock, ProjectError> {
    let doc: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| ProjectError::Toml {
            path: path.to_path_buf(),
            line: Some(e.line()),
            message: format!("invalid JSON: {e}"),
        })?;
    let bad = |key: &str, m: String| ProjectError::invalid(path, key, m);
    let meta_value = doc
        .get("_meta")
        .cloned()
        .ok_or_else(|| bad("_meta", "it is missing".into()))?;
    let meta: RawMeta =
        serde_json::from_value(meta_value.clone()).map_err(|e| bad("_meta", e.to_string()))?;
    match meta.pipfile_spec.as_ref().and_then(|v| v.as_u64()) {
        Some(6) | None => {}
        Some(other) => {
            return Err(ProjectError::UnsupportedLockVersion {
                path: path.to_path_buf(),
                version: other.to_string(),
                supported: "Pipfile.lock pipfile-spec 6",
            })
        }
    }
    let content_hash = match meta.hash.get("sha256") {
        Some(h) if !lockship_fetch::is_sha256_hex(h) => {
            return Err(bad(
                "_meta.hash.sha256",
                format!("`{h}` is not 64 hex digits"),
            ))
        }
        other => other.map(|h| h.to_ascii_lowercase()),
    };
    let mut indexes = BTreeMap::new();
    let mut index_urls = Vec::new();
    for s in &meta.sources {
        let url = Url::parse(&s.url)
            .map_err(|e| bad("_meta.sources", format!("bad URL `{}`: {e}", s.url)))?;
        indexes.insert(s.name.clone(), url.clone());
        index_urls.push(url);
    }
    let categories: Vec<&String> = doc.keys().filter(|k| *k != "_meta").collect();
    let mut lock = Lock {
        requires_python: meta
            .requires
            .get("python_full_version")
            .or_else(|| meta.requires.get("python_version"))
            .and_then(|v| v.as_str())
            .map(|v| match v.matches('.').count() {
                0 | 1 => format!("=={v}.*"),
                _ => format!("=={v}"),
            }),
        content_hash,
        index_urls,
        declared: (
            categories
                .iter()
                .filter(|c| **c != "default")
                .map(|c| group_of(c))
                .collect(),
            Vec::new(),
        ),
        pipfile_sources: meta_value.get("sources").cloned(),
        ..Lock::new(LockKind::Pipenv, path)
    };
    let mut by_key: BTreeMap<(String, Option<String>), usize> = BTreeMap::new();
    for category in categories {
        let group = group_of(category);
        let Some(packages) = doc[category].as_object() else {
            return Err(bad(category, "expected a table of packages".into()));
        };
        for (raw_name, value) in packages {
            let name = Entry::name(path, raw_name)?;
            let raw: RawPackage = serde_json::from_value(value.clone())
                .map_err(|e| bad(&format!("{category}.{raw_name}"), e.to_string()))?;
            let Some(mut package) = package(path, &name, raw, &indexes)? else {
                continue;
            };
            let key = (package.name.clone(), package.version.clone());
            if let Some(&i) = by_key.get(&key) {
                lock.packages[i].groups.insert(group.clone());
                continue;
            }
            package.groups.insert(group.clone());
            by_key.insert(key, lock.packages.len());
            lock.packages.push(package);
        }
    }
    let unhashed = lock
        .packages
        .iter()
        .filter(|p| {
            p.hashes.is_empty()
                && p.version.is_some()
                && matches!(p.source, PackageSource::Registry { .. })
        })
        .count();
    if unhashed > 0 {
        lock.warnings.push(LockWarning::UnhashedPins {
            path: path.to_path_buf(),
            unhashed,
            total: lock.packages.len(),
        });
    }
    Ok(lock)
}

/// One entry as a locked package; `None` for the project itself (`path = "."`).
fn package(
    path: &Path,
    name: &str,
    raw: RawPackage,
    indexes: &BTreeMap<String, Url>,
) -> Result<Option<LockedPackage>, ProjectError> {
    let entry = Entry {
        path,
        package: name,
    };
    let bad = |m: String| ProjectError::invalid(path, &format!("package `{name}`"), m);
    let (version, source) = if let Some(git) = raw.git {
        let url = git.strip_prefix("git+").unwrap_or(&git).to_string();
        let source = PackageSource::Git {
            url,
            commit: raw.reference,
            subdirectory: raw.subdirectory,
        };
        (None, source)
    } else if let Some(local) = raw.path {
        if matches!(local.as_str(), "." | "./") {
            return Ok(None);
        }
        let source = PackageSource::Path {
            path: PathBuf::from(local),
            editable: raw.editable,
        };
        (None, source)
    } else if let Some(file) = raw.file {
        let url = Url::parse(&file).map_err(|e| bad(format!("bad URL `{file}`: {e}")))?;
        let source = if url.scheme() == "file" {
            PackageSource::Path {
                path: url
                    .to_file_path()
                    .unwrap_or_else(|_| PathBuf::from(url.path())),
                editable: false,
            }
        } else {
            PackageSource::DirectUrl { url }
        };
        (None, source)
    } else {
        let pinned = raw
            .version
            .as_deref()
            .and_then(|v| v.strip_prefix("=="))
            .filter(|v| !v.starts_with('='));
        // pipenv writes `"version": "*"` for a package whose marker was
        // false where it locked: kept unpinned, refused by `select` should
        // the target need it.
        let version = match (pinned, &raw.markers) {
            (Some(v), _) => Some(v.to_string()),
            (None, Some(_)) if raw.version.as_deref() == Some("*") => None,
            (None, _) => {
                return Err(bad(format!(
                    "`version` `{}` is not pinned with `==`",
                    raw.version.as_deref().unwrap_or_default()
                )))
            }
        };
        let index = match raw.index.as_deref() {
            None => None,
            Some(n) => Some(
                indexes
                    .get(n)
                    .cloned()
                    .ok_or_else(|| bad(format!("`index` `{n}` names no source in `_meta`")))?,
            ),
        };
        (version, PackageSource::Registry { index })
    };
    let version = entry.version(version)?;
    entry.source(&source)?;
    let mut hashes = Vec::new();
    for h in raw.hashes {
        let hex = sha256_of(&h);
        if hex.is_none() && !h.contains(':') {
            return Err(bad(format!("hash `{h}` names no algorithm")));
        }
        hashes.extend(entry.sha256("hashes", hex)?);
    }
    Ok(Some(LockedPackage {
        name: name.to_string(),
        version,
        source,
        wheels: Vec::new(),
        sdist: None,
        hashes,
        dependencies: Vec::new(),
        optional_dependencies: BTreeMap::new(),
        marker: raw.markers,
        groups: BTreeSet::new(),
    }))
}

/// The hashes pipenv writes for a `Pipfile`: SHA-256 of
/// `json.dumps(data, sort_keys=True, separators=(",", ":"))` where `data`
/// is `{"_meta": {"sources": [[source]], "requires": [requires]},
/// "default": [packages], "develop": [dev-packages], <category>: ...}`
/// (plette's `Pipfile.get_hash`), and the same with every package name in
/// its PEP 503 form (pipenv's `calculate_hash` since names were
/// canonicalised). A Pipfile without `[[source]]` gets pipenv's default
/// source, which the lock records in `_meta.sources`.
pub(crate) fn content_hashes(
    pipfile: &toml::Table,
    lock_sources: Option<&serde_json::Value>,
) -> Vec<String> {
    use crate::stale::{python_json_sha256, to_json};
    use serde_json::{Map, Value};
    const SECTIONS: [&str; 9] = [
        "source",
        "packages",
        "dev-packages",
        "requires",
        "scripts",
        "pipfile",
        "pipenv",
        "default",
        "develop",
    ];
    let section = |key: &str| pipfile.get(key).map(to_json);
    let sources = section("source")
        .or_else(|| lock_sources.cloned())
        .unwrap_or(Value::Array(Vec::new()));
    let data = |canonical: bool| {
        let names = |v: Option<Value>| -> Value {
            match v {
                Some(Value::Object(o)) if canonical => Value::Object(
                    o.into_iter()
                        .map(|(k, v)| (normalize_name(&k), v))
                        .collect(),
                ),
                Some(v) => v,
                None => Value::Object(Map::new()),
            }
        };
        let mut meta = Map::new();
        meta.insert("sources".into(), sources.clone());
        meta.insert(
            "requires".into(),
            section("requires").unwrap_or(Value::Object(Map::new())),
        );
        let mut data = Map::new();
        data.insert("_meta".into(), Value::Object(meta));
        data.insert("default".into(), names(section("packages")));
        data.insert("develop".into(), names(section("dev-packages")));
        for (category, values) in pipfile {
            if !SECTIONS.contains(&category.as_str()) {
                data.insert(category.clone(), names(Some(to_json(values))));
            }
        }
        python_json_sha256(&Value::Object(data), true)
    };
    let mut hashes = vec![data(true), data(false)];
    hashes.dedup();
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipfile_hash_is_reproduced() {
        // Expected digests computed with Python from the same data:
        // sha256(json.dumps(data, sort_keys=True, separators=(",", ":")))
        let pipfile: toml::Table = toml::from_str(
            r#"
[[source]]
url = "http://127.0.0.1:9/simple"
verify_ssl = false
name = "local"

[packages]
Requests = "*"
flask = {version = ">=3", extras = ["async"]}

[dev-packages]
pytest = "*"

[requires]
python_version = "3.11"
"#,
        )
        .unwrap();
        let hashes = content_hashes(&pipfile, None);
        assert_eq!(
            hashes,
            [
                "bf6c4e6e50f08f4416902f834da60c5beae1c83f5af2c6339663b9b421274df7",
                "baaa54b51017257c1bfe63f5dca40016c8d758522a672a51724c8d74d37831a9",
            ]
        );
        // No `[[source]]`: the lock's sources stand in; custom categories count.
        let pipfile: toml::Table = toml::from_str(
            "[packages]\nidna = \"==3.7\"\n[docs]\nsphinx = \"*\"\n[scripts]\nx = \"y\"\n",
        )
        .unwrap();
        let sources = serde_json::json!([{"url": "http://127.0.0.1:9/simple", "verify_ssl": false, "name": "local"}]);
        assert_eq!(
            content_hashes(&pipfile, Some(&sources))[0],
            "713a85fda825065e103223f9b4716a298d720394747009cee5bb8e4f8fb91c8f"
        );
    }

    #[test]
    fn spec_seven_is_refused() {
        let err = parse(
            Path::new("Pipfile.lock"),
            r#"{"_meta": {"pipfile-spec": 7}, "default": {}}"#,
        )
        .unwrap_err();
        assert!(
            matches!(err, ProjectError::UnsupportedLockVersion { .. }),
            "{err}"
        );
    }
}
