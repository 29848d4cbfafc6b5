//! `uv.lock`, version 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::model::{
    filename_of, sha256_of, Artifact, Dep, Lock, LockKind, LockedPackage, PackageSource, RootEntry,
};
use crate::validate::Entry;
use crate::{normalize_name, ProjectError};

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawLock {
    version: toml::Value,
    #[serde(default)]
    revision: i64,
    requires_python: Option<String>,
    #[serde(default)]
    manifest: RawManifest,
    #[serde(default)]
    package: Vec<RawPackage>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct RawManifest {
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    constraints: Vec<toml::Value>,
    #[serde(default)]
    overrides: Vec<toml::Value>,
    #[serde(default, alias = "dependency-groups")]
    requires_dev: BTreeMap<String, Vec<toml::Value>>,
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
    #[serde(default, alias = "dependency-groups")]
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
    #[serde(alias = "dependency-groups")]
    requires_dev: Option<BTreeMap<String, Vec<toml::Value>>>,
    provides_extras: Option<Vec<String>>,
}

#[derive(Deserialize, Clone)]
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

/// One `[[package]]` table and its sub-tables, and nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChunk {
    package: Vec<RawPackage>,
}

/// Parse the document one `[[package]]` table at a time.
///
/// A TOML parser holds the whole document as a tree, at many times the
/// size of the text (a 50 MB lock took 1.1 GB); parsed a table at a time,
/// only the text and the small parsed packages are held. A chunk starts at
/// each line that is exactly `[[package]]`. Should such a line sit inside a
/// multi-line string, the chunk before it ends inside that string and fails
/// to parse, so the result is either the whole-document reading or an
/// error; a chunk may hold nothing but its package's tables.
fn parse_chunked(path: &Path, text: &str) -> Result<RawLock, ProjectError> {
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end_matches(['\n', '\r']) == "[[package]]" {
            starts.push(offset);
        }
        offset += line.len();
    }
    let header_end = starts.first().copied().unwrap_or(text.len());
    let mut raw: RawLock = crate::error::parse_toml(path, &text[..header_end])?;
    if !raw.package.is_empty() && !starts.is_empty() {
        return Err(ProjectError::invalid(
            path,
            "package",
            "it is given both as an array and as `[[package]]` tables",
        ));
    }
    let ends = starts.iter().skip(1).copied().chain([text.len()]);
    for (start, end) in starts.iter().copied().zip(ends) {
        let chunk = &text[start..end];
        let parsed: RawChunk = toml::from_str(chunk).map_err(|e| {
            let mut err = ProjectError::toml(path, chunk, &e);
            if let ProjectError::Toml { line: Some(l), .. } = &mut err {
                *l += text[..start].matches('\n').count();
            }
            err
        })?;
        raw.package.extend(parsed.package);
    }
    Ok(raw)
}

/// Read a `uv.lock` document.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Lock, ProjectError> {
    let raw = parse_chunked(path, text)?;
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
    lock.manifest = crate::model::UvManifest {
        revision: raw.revision,
        members: raw.manifest.members,
        constraints: raw.manifest.constraints,
        overrides: raw.manifest.overrides,
        dependency_groups: raw.manifest.requires_dev,
    };
    for p in raw.package {
        let name = Entry::name(path, &p.name)?;
        let entry = Entry {
            path,
            package: &name,
        };
        let member_dir = ["editable", "virtual"]
            .iter()
            .find_map(|k| p.source.get(*k))
            .cloned();
        if let Some(dir) = member_dir {
            let member = RootEntry {
                dependencies: deps(&entry, "dependencies", p.dependencies.clone())?,
                optional_dependencies: dep_map(
                    &entry,
                    "optional-dependencies",
                    p.optional_dependencies.clone(),
                )?,
                groups: dep_map(&entry, "dev-dependencies", p.dev_dependencies.clone())?,
                requires_dist: p.metadata.as_ref().and_then(|m| m.requires_dist.clone()),
                requires_dev: p.metadata.as_ref().and_then(|m| m.requires_dev.clone()),
                provides_extras: p.metadata.as_ref().and_then(|m| m.provides_extras.clone()),
            };
            let at_root = dir == ".";
            lock.members
                .insert(name.clone(), (PathBuf::from(&dir), member.clone()));
            if at_root {
                lock.root = Some(member);
                continue;
            }
        }
        let version = entry.version(p.version)?;
        let source = source(path, &name, &p.source)?;
        entry.source(&source)?;
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
                // A direct URL's `sdist = { hash = … }` names neither: its
                // file is the source URL's.
                .or_else(|| match &source {
                    PackageSource::DirectUrl { url } => Some(filename_of(url)),
                    _ => None,
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
            .collect::<Result<Vec<_>, _>>()?;
        let sdist = p.sdist.map(&artifact).transpose()?;
        entry.artifacts(&wheels, sdist.as_ref())?;
        lock.packages.push(LockedPackage {
            version,
            source,
            wheels,
            sdist,
            hashes: Vec::new(),
            dependencies: deps(&entry, "dependencies", p.dependencies)?,
            optional_dependencies: dep_map(
                &entry,
                "optional-dependencies",
                p.optional_dependencies,
            )?,
            marker: None,
            groups: Default::default(),
            name,
        });
    }
    Ok(lock)
}

/// Dependency edges, each name checked (`field` names the list in errors).
fn deps(entry: &Entry<'_>, field: &str, raw: Vec<RawDep>) -> Result<Vec<Dep>, ProjectError> {
    raw.into_iter()
        .map(|d| {
            Ok(Dep {
                name: entry.dep_name(field, &d.name)?,
                marker: d.marker,
                extras: d.extra.iter().map(|e| normalize_name(e)).collect(),
                version: entry.version(d.version)?,
            })
        })
        .collect()
}

fn dep_map(
    entry: &Entry<'_>,
    field: &str,
    raw: BTreeMap<String, Vec<RawDep>>,
) -> Result<BTreeMap<String, Vec<Dep>>, ProjectError> {
    raw.into_iter()
        .map(|(k, v)| Ok((normalize_name(&k), deps(entry, &format!("{field}.{k}"), v)?)))
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
    fn chunked_parsing_reads_what_a_whole_parse_reads_or_fails() {
        let text = "version = 1\n\n[[package]]\nname = \"a\"\nversion = \"1\"\nsource = { registry = \"http://127.0.0.1:9/\" }\n\n[package.metadata]\nrequires-dist = []\n\n[[package]]\nname = \"b\"\nversion = \"2\"\nsource = { registry = \"http://127.0.0.1:9/\" }\n";
        let raw = parse_chunked(Path::new("uv.lock"), text).unwrap();
        let names: Vec<&str> = raw.package.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(raw.package[0].metadata.is_some());
        // A `[[package]]` line inside a multi-line string splits the string:
        // an error, never a second reading.
        let hidden = "version = 1\n[[package]]\nname = \"a\"\nversion = \"\"\"\n[[package]]\nname = \"b\"\n\"\"\"\nsource = { registry = \"x\" }\n";
        let Err(err) = parse_chunked(Path::new("uv.lock"), hidden) else {
            panic!("a split string must not parse")
        };
        assert!(
            matches!(err, ProjectError::Toml { line: Some(_), .. }),
            "{err:?}"
        );
        // Another table inside a package's chunk is refused.
        let other = "version = 1\n[[package]]\nname = \"a\"\n[manifest]\nmembers = []\n";
        assert!(parse_chunked(Path::new("uv.lock"), other).is_err());
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
