//! `pdm.lock`, lock_version 4.x, and PDM's content hash of `pyproject.toml`.
//!
//! Each `[[package]]` names its version, its files (`file` and `hash`, or
//! `url` and `hash` under the `static_urls` strategy), its dependencies as
//! PEP 508 strings, and, under the `inherit_metadata` strategy (PDM's
//! default since 2.11), the groups it belongs to and the marker under which
//! it is installed. An entry with `extras` adds only the dependencies of
//! those extras to the package of the same name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::model::{
    filename_of, sha256_of, Artifact, Dep, Lock, LockKind, LockedPackage, PackageSource,
};
use crate::validate::Entry;
use crate::{normalize_name, ProjectError};

#[derive(Deserialize)]
struct RawLock {
    metadata: RawMetadata,
    #[serde(default)]
    package: Vec<RawPackage>,
}

#[derive(Deserialize)]
struct RawMetadata {
    lock_version: Option<String>,
    content_hash: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    targets: Vec<RawTarget>,
}

#[derive(Deserialize)]
struct RawTarget {
    requires_python: Option<String>,
}

#[derive(Deserialize)]
struct RawPackage {
    name: String,
    version: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    marker: Option<String>,
    #[serde(default)]
    extras: Vec<String>,
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(default)]
    files: Vec<RawFile>,
    git: Option<String>,
    revision: Option<String>,
    subdirectory: Option<String>,
    path: Option<String>,
    url: Option<String>,
    #[serde(default)]
    editable: bool,
}

#[derive(Deserialize)]
struct RawFile {
    file: Option<String>,
    url: Option<String>,
    hash: Option<String>,
}

/// Read a `pdm.lock` document.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Lock, ProjectError> {
    let raw: RawLock = crate::error::parse_toml(path, text)?;
    let version = raw.metadata.lock_version.clone().unwrap_or_default();
    if version.split('.').next() != Some("4") {
        return Err(ProjectError::UnsupportedLockVersion {
            path: path.to_path_buf(),
            version,
            supported: "pdm.lock lock_version 4.x",
        });
    }
    let content_hash = match raw.metadata.content_hash.as_deref() {
        None => None,
        Some(h) => Some(
            sha256_of(h)
                .filter(|h| lockship_fetch::is_sha256_hex(h))
                .ok_or_else(|| {
                    ProjectError::invalid(
                        path,
                        "metadata.content_hash",
                        format!("`{h}` is not `sha256:` and 64 hex digits"),
                    )
                })?,
        ),
    };
    let groups: BTreeSet<String> = raw
        .metadata
        .groups
        .iter()
        .map(|g| normalize_name(g))
        .collect();
    let mut lock = Lock {
        requires_python: raw
            .metadata
            .targets
            .iter()
            .find_map(|t| t.requires_python.clone()),
        content_hash,
        declared: (
            groups.iter().filter(|g| *g != "default").cloned().collect(),
            Vec::new(),
        ),
        ..Lock::new(LockKind::Pdm, path)
    };
    let mut extras: Vec<(String, Vec<String>, Vec<Dep>)> = Vec::new();
    for p in raw.package {
        let name = Entry::name(path, &p.name)?;
        let entry = Entry {
            path,
            package: &name,
        };
        let dependencies = p
            .dependencies
            .iter()
            .map(|d| dependency(path, &entry, d))
            .collect::<Result<Vec<_>, _>>()?;
        if !p.extras.is_empty() {
            let names = p.extras.iter().map(|e| normalize_name(e)).collect();
            extras.push((name, names, dependencies));
            continue;
        }
        let version = entry.version(p.version.clone())?;
        let source = source(path, &name, &p)?;
        entry.source(&source)?;
        let (wheels, sdist) = files(path, &entry, p.files)?;
        lock.packages.push(LockedPackage {
            name: name.clone(),
            version,
            source,
            wheels,
            sdist,
            hashes: Vec::new(),
            dependencies,
            optional_dependencies: BTreeMap::new(),
            marker: p.marker,
            groups: p.groups.iter().map(|g| normalize_name(g)).collect(),
        });
    }
    for (name, names, deps) in extras {
        for package in lock.packages.iter_mut().filter(|p| p.name == name) {
            for extra in &names {
                // The extra entry lists the package itself first; only the
                // other edges are the extra's.
                let edges = deps.iter().filter(|d| d.name != name).cloned();
                package
                    .optional_dependencies
                    .entry(extra.clone())
                    .or_default()
                    .extend(edges);
            }
        }
    }
    Ok(lock)
}

/// A dependency string as an edge, its name checked.
fn dependency(path: &Path, entry: &Entry<'_>, text: &str) -> Result<Dep, ProjectError> {
    let req = crate::pyproject::pep508(path, text)?;
    Ok(Dep {
        name: entry.dep_name("dependencies", &req.name)?,
        marker: req.marker,
        extras: req.extras.iter().map(|e| normalize_name(e)).collect(),
        version: None,
    })
}

fn source(path: &Path, name: &str, p: &RawPackage) -> Result<PackageSource, ProjectError> {
    let bad = |m: String| ProjectError::invalid(path, &format!("package `{name}`"), m);
    Ok(if let Some(git) = &p.git {
        PackageSource::Git {
            url: git.strip_prefix("git+").unwrap_or(git).to_string(),
            commit: p.revision.clone(),
            subdirectory: p.subdirectory.clone(),
        }
    } else if let Some(local) = &p.path {
        PackageSource::Path {
            path: PathBuf::from(local),
            editable: p.editable,
        }
    } else if let Some(url) = &p.url {
        let parsed = Url::parse(url).map_err(|e| bad(format!("bad URL `{url}`: {e}")))?;
        if parsed.scheme() == "file" {
            PackageSource::Path {
                path: parsed
                    .to_file_path()
                    .unwrap_or_else(|_| PathBuf::from(parsed.path())),
                editable: p.editable,
            }
        } else {
            PackageSource::DirectUrl { url: parsed }
        }
    } else {
        PackageSource::Registry { index: None }
    })
}

/// The package's files, wheels apart from the sdist, every name and hash checked.
fn files(
    path: &Path,
    entry: &Entry<'_>,
    raw: Vec<RawFile>,
) -> Result<(Vec<Artifact>, Option<Artifact>), ProjectError> {
    let mut wheels = Vec::new();
    let mut sdist = None;
    for f in raw {
        let url = match f.url.as_deref() {
            Some(u) => Some(Url::parse(u).map_err(|e| {
                ProjectError::invalid(
                    path,
                    &format!("package `{}`", entry.package),
                    format!("bad URL `{u}`: {e}"),
                )
            })?),
            None => None,
        };
        let filename = f
            .file
            .clone()
            .or_else(|| url.as_ref().map(filename_of))
            .unwrap_or_default();
        entry.filename("files.file", &filename)?;
        let sha256 = match f.hash.as_deref() {
            Some(h) => Some(sha256_of(h).ok_or_else(|| {
                ProjectError::invalid(
                    path,
                    &format!("package `{}`", entry.package),
                    format!("hash `{h}` of `{filename}` is not a `sha256:` hash"),
                )
            })?),
            None => None,
        };
        let sha256 = entry.sha256("files.hash", sha256)?;
        let artifact = Artifact {
            url,
            filename,
            sha256,
            size: None,
        };
        if artifact.filename.ends_with(".whl") {
            wheels.push(artifact);
        } else if sdist.is_none() {
            sdist = Some(artifact);
        }
    }
    Ok((wheels, sdist))
}

/// The content hashes PDM writes for this `pyproject.toml`, newest first:
/// SHA-256 of `json.dumps(data, sort_keys=True)` over `[tool.pdm] source`,
/// `[project]` `dependencies`, `optional-dependencies` and `requires-python`,
/// the development groups, and `[tool.pdm.resolution]`. PDM 2.20 merges
/// `[dependency-groups]` with `[tool.pdm.dev-dependencies]`; 2.16 to 2.19
/// hash `[tool.pdm.dev-dependencies]` alone; before 2.16 the last key is
/// `overrides` (`[tool.pdm.resolution.overrides]`). (`PyProject.content_hash`
/// in `pdm/project/project_file.py`.)
pub(crate) fn content_hashes(raw: &toml::Table) -> Vec<String> {
    use crate::stale::{python_json_sha256, to_json};
    use serde_json::{json, Map, Value};
    let project = raw.get("project").and_then(|p| p.as_table());
    let pdm = raw
        .get("tool")
        .and_then(|t| t.get("pdm"))
        .and_then(|t| t.as_table());
    let get = |table: Option<&toml::Table>, key: &str, default: Value| {
        table
            .and_then(|t| t.get(key))
            .map(to_json)
            .unwrap_or(default)
    };
    let legacy_dev = get(pdm, "dev-dependencies", json!({}));
    let mut merged = Map::new();
    if let Some(groups) = raw.get("dependency-groups").and_then(|g| g.as_table()) {
        for (group, deps) in groups {
            merged.insert(pdm_name(group), to_json(deps));
        }
    }
    if let Value::Object(legacy) = &legacy_dev {
        for (group, deps) in legacy {
            let entry = merged
                .entry(pdm_name(group))
                .or_insert_with(|| Value::Array(Vec::new()));
            if let (Value::Array(list), Value::Array(more)) = (entry, deps) {
                list.extend(more.iter().cloned());
            }
        }
    }
    let resolution = get(pdm, "resolution", json!({}));
    let overrides = resolution
        .get("overrides")
        .cloned()
        .or_else(|| pdm.and_then(|t| t.get("overrides")).map(to_json))
        .unwrap_or_else(|| json!({}));
    let base = |dev: Value, last: (&str, Value)| {
        let mut data = Map::new();
        data.insert("sources".into(), get(pdm, "source", json!([])));
        data.insert(
            "dependencies".into(),
            get(project, "dependencies", json!([])),
        );
        data.insert("dev-dependencies".into(), dev);
        data.insert(
            "optional-dependencies".into(),
            get(project, "optional-dependencies", json!({})),
        );
        data.insert(
            "requires-python".into(),
            get(project, "requires-python", json!("")),
        );
        data.insert(last.0.into(), last.1);
        python_json_sha256(&Value::Object(data), false)
    };
    let mut hashes = vec![
        base(Value::Object(merged), ("resolution", resolution.clone())),
        base(legacy_dev.clone(), ("resolution", resolution)),
        base(legacy_dev, ("overrides", overrides)),
    ];
    hashes.dedup();
    hashes
}

/// PDM's `normalize_name`: runs of anything but ASCII letters and digits
/// become one `-`, lowercased.
fn pdm_name(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if dash {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
    }
    if dash {
        out.push('-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdm_hashes_are_reproduced() {
        // Both pairs are PDM's own test fixtures (`tests/fixtures/projects/demo`
        // and `demo-package-has-dep-with-extras`): the pyproject.toml content
        // that counts, and the content_hash PDM wrote into their pdm.lock.
        let demo: toml::Table = toml::from_str(
            r#"
[project]
name = "demo"
version = "0.0.1"
requires-python = ">=3.3"
dependencies = ["idna", "chardet; os_name=='nt'"]
[project.optional-dependencies]
tests = ["pytest"]
security = ["requests; python_version>=\"3.6\""]
"#,
        )
        .unwrap();
        assert_eq!(
            content_hashes(&demo)[0],
            "2584886ac58a0ae70aa36bc0318b62c3e2c89acc9c21ebb9aee74147c0a9dc06"
        );
        let extras: toml::Table = toml::from_str(
            "[project]\nname = ''\ndependencies = ['requests[security]~=2.26']\nrequires-python = '>=3.6'\n[tool.pdm]\n",
        )
        .unwrap();
        assert!(content_hashes(&extras).contains(
            &"436a711ecb4a672c165c06d03952762d4f43b85f49633c53654a53aca6584643".to_string()
        ));
    }

    #[test]
    fn pdm_group_names_normalise_like_pdm() {
        assert_eq!(pdm_name("Dev_Tools.x"), "dev-tools-x");
        assert_eq!(pdm_name("lint"), "lint");
    }

    #[test]
    fn lock_version_five_is_refused() {
        let err = parse(
            Path::new("pdm.lock"),
            "[metadata]\nlock_version = \"5.0\"\n",
        )
        .unwrap_err();
        assert!(
            matches!(err, ProjectError::UnsupportedLockVersion { .. }),
            "{err}"
        );
    }
}
