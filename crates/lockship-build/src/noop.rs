//! No work when nothing changed: a build whose inputs did not change is
//! answered from a record of the last one, without the network.
//!
//! The key ([`NoopInputs`] → [`key`]) is a SHA-256 over what decides the
//! image and can be read from this machine alone:
//!
//! - the lockship binary (version, size and modification time);
//! - every build option ([`BuildOptions`], whole), the platforms, and the
//!   `--base-image` reference as written (a local layout or archive by its
//!   `index.json`, or its size and modification time);
//! - the project as loaded ([`lockship_project::Project`] and the [`Lock`],
//!   includes followed), the lock file's bytes, and the project's file set:
//!   each path and its content hash, with the exclusions the project layer
//!   uses (lockship's own and `.dockerignore`), plus `pyproject.toml`,
//!   `.python-version` and `.dockerignore` of the project and its
//!   workspace root even where excluded; path dependencies by their files;
//! - the keyring's bytes and the package index settings (`UV_INDEX_URL`,
//!   `PIP_INDEX_URL`, pip's configuration files);
//! - for the `source` and `revision` labels, the git checkout holding the
//!   project: clean or not, its `HEAD` and its `origin`.
//!
//! What the key cannot see without the network is what the registry and the
//! Debian mirror say now: a base image's tag can move and the suite's
//! indexes do. So a record is reused for [`RECORD_TTL`] after the build
//! that wrote it (apt-like: the indexes are read again once a day), and
//! `--refresh` ignores it.
//!
//! The record names the layer blobs by path, digest and size. Blobs were
//! hash-checked when they were made; a hit trusts them by name and checks
//! only that each is there with its recorded size (writing the output
//! checks the sizes again), and that the image rebuilt from the record has
//! the recorded digest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lockship_layer::Layer;
use lockship_oci::{History, Image, ImageConfig, Platform};
use lockship_project::{Lock, PackageSource};
use lockship_runtime::Context;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::options::BuildOptions;
use crate::plan::load;
use crate::projectpkg::Filter;

/// How long a record is reused: the Debian indexes and a base image's tag
/// are looked at again after this long.
pub const RECORD_TTL: Duration = Duration::from_secs(24 * 3600);

/// The cache namespace of the records (`keyed/noop/<key>.json`).
const NAMESPACE: &str = "noop";
/// The record format; a record of another format is a miss.
const FORMAT: u32 = 1;

/// What a build is asked to do, as the key sees it.
#[derive(Debug, Clone, Copy)]
pub struct NoopInputs<'a> {
    /// The options (with no base image pulled yet).
    pub options: &'a BuildOptions,
    /// Every platform built, in order.
    pub platforms: &'a [Platform],
    /// `--base-image` as the user wrote it.
    pub base_image: Option<&'a str>,
}

/// A build answered from its record: one image per platform, and what the
/// caller stored beside them.
#[derive(Debug, Clone)]
pub struct Reused<T> {
    /// The images, in platform order.
    pub images: Vec<Image>,
    /// The caller's own record of the build (its summary).
    pub extra: T,
}

/// The key of a build, or `None` when it cannot be made (the project does
/// not load, say: the build itself will report that).
pub fn key(inputs: &NoopInputs) -> Option<String> {
    let options = inputs.options;
    let (project, lock) = load(options).ok()?;
    let mut h = Sha256::new();
    let mut part = |name: &str, bytes: &[u8]| {
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    part("format", &FORMAT.to_le_bytes());
    part("lockship", binary_identity().as_bytes());
    part("options", format!("{options:?}").as_bytes());
    part("platforms", format!("{:?}", inputs.platforms).as_bytes());
    part("base-image", base_identity(inputs.base_image).as_bytes());
    part("keyring", &file_hash(&options.base.keyring));
    part("indexes", index_settings().as_bytes());
    part("checkout", checkout(options).as_bytes());
    part("project", &serde_json::to_vec(&project).ok()?);
    part("lock", &serde_json::to_vec(&lock).ok()?);
    part("lock-file", &file_hash(&lock.path));
    let mut dirs = vec![project.dir.clone()];
    dirs.extend(project.workspace.as_ref().map(|w| w.root.clone()));
    for dir in &dirs {
        for name in ["pyproject.toml", ".python-version", ".dockerignore"] {
            part(name, &file_hash(&dir.join(name)));
        }
    }
    let filter = Filter::load(&project).ok()?;
    part(
        "files",
        &tree_hash(&project.dir, &|rel| filter.ignored(rel))?,
    );
    for dir in path_dependencies(&lock) {
        part("path-dependency", dir.to_string_lossy().as_bytes());
        part("files", &tree_hash(&dir, &|rel| rel == ".git")?);
    }
    Some(hex::encode(h.finalize()))
}

/// The record under `key`, when there is one younger than [`RECORD_TTL`]
/// whose blobs are all still there with their sizes. A hit marks the record
/// and its blobs as used.
pub fn lookup<T: DeserializeOwned>(ctx: &Context, key: &str) -> Option<Reused<T>> {
    let path = record_path(ctx, key);
    let record: Record<T> = serde_json::from_slice(&fs_err::read(&path).ok()?).ok()?;
    let age = SystemTime::now()
        .duration_since(UNIX_EPOCH + Duration::from_secs(record.created))
        .ok()?;
    if record.format != FORMAT || age > RECORD_TTL {
        return None;
    }
    let mut images = Vec::new();
    for r in record.images {
        let intact = r
            .layers
            .iter()
            .all(|l| std::fs::metadata(&l.path).is_ok_and(|m| m.is_file() && m.len() == l.size));
        let digest = r.digest.clone();
        let image = r.into_image()?;
        if !intact || image.digest() != digest {
            return None;
        }
        images.push(image);
    }
    for layer in images.iter().flat_map(|i| &i.layers) {
        ctx.cache.touch(&layer.path);
    }
    Some(Reused {
        images,
        extra: record.extra,
    })
}

/// Records a finished build under `key`: its images (each layer blob marked
/// as used) and the caller's `extra`. Written to a temporary file and
/// renamed into place.
pub fn record<T: Serialize>(
    ctx: &Context,
    key: &str,
    images: &[Image],
    extra: &T,
) -> Result<(), crate::BuildError> {
    let record = Record {
        format: FORMAT,
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        images: images.iter().map(ImageRecord::of).collect(),
        extra,
    };
    for layer in images.iter().flat_map(|i| &i.layers) {
        ctx.cache.touch(&layer.path);
    }
    let path = record_path(ctx, key);
    let dir = path.parent().unwrap_or(ctx.cache.root());
    fs_err::create_dir_all(dir).map_err(crate::error::io_err("create", dir))?;
    let json = serde_json::to_vec(&record)
        .map_err(|e| crate::error::io_err("write", &path)(std::io::Error::other(e.to_string())))?;
    let tmp = ctx.cache.temp_dir()?;
    let staged = tmp.path().join("record.json");
    fs_err::write(&staged, json).map_err(crate::error::io_err("write", &staged))?;
    fs_err::rename(&staged, &path).map_err(crate::error::io_err("write", &path))?;
    Ok(())
}

fn record_path(ctx: &Context, key: &str) -> PathBuf {
    ctx.cache.keyed_dir(NAMESPACE, &format!("{key}.json"))
}

/// The record of one build.
#[derive(Debug, Serialize, Deserialize)]
struct Record<T> {
    format: u32,
    /// When the build ran (Unix seconds): the record expires from then.
    created: u64,
    images: Vec<ImageRecord>,
    extra: T,
}

/// An [`Image`] as the record keeps it.
#[derive(Debug, Serialize, Deserialize)]
struct ImageRecord {
    digest: String,
    platform: String,
    user: Option<String>,
    env: Vec<String>,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    working_dir: Option<String>,
    labels: BTreeMap<String, String>,
    exposed_ports: Vec<String>,
    stop_signal: Option<String>,
    layers: Vec<Layer>,
    /// `(created_by, comment, empty_layer)`.
    history: Vec<(String, Option<String>, bool)>,
    created: u64,
    annotations: BTreeMap<String, String>,
}

impl ImageRecord {
    fn of(image: &Image) -> ImageRecord {
        let Image {
            platform,
            config,
            layers,
            history,
            created,
            annotations,
        } = image;
        let ImageConfig {
            user,
            env,
            entrypoint,
            cmd,
            working_dir,
            labels,
            exposed_ports,
            stop_signal,
        } = config.clone();
        ImageRecord {
            digest: image.digest(),
            platform: platform.to_string(),
            user,
            env,
            entrypoint,
            cmd,
            working_dir,
            labels,
            exposed_ports: exposed_ports.into_iter().collect(),
            stop_signal,
            layers: layers.clone(),
            history: history
                .iter()
                .map(|h| (h.created_by.clone(), h.comment.clone(), h.empty_layer))
                .collect(),
            created: *created,
            annotations: annotations.clone(),
        }
    }

    fn into_image(self) -> Option<Image> {
        Some(Image {
            platform: self.platform.parse().ok()?,
            config: ImageConfig {
                user: self.user,
                env: self.env,
                entrypoint: self.entrypoint,
                cmd: self.cmd,
                working_dir: self.working_dir,
                labels: self.labels,
                exposed_ports: self.exposed_ports.into_iter().collect(),
                stop_signal: self.stop_signal,
            },
            layers: self.layers,
            history: self
                .history
                .into_iter()
                .map(|(created_by, comment, empty_layer)| History {
                    created_by,
                    comment,
                    empty_layer,
                })
                .collect(),
            created: self.created,
            annotations: self.annotations,
        })
    }
}

/// The running lockship: its version, and its size and modification time,
/// so a rebuilt binary never reuses another's records.
fn binary_identity() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::metadata(p).ok());
    let stamp = exe
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!(
        "{} {} {stamp}",
        env!("CARGO_PKG_VERSION"),
        exe.map_or(0, |m| m.len())
    )
}

/// A `--base-image` as written; a local layout by its `index.json`, a
/// local archive by its size and modification time.
fn base_identity(reference: Option<&str>) -> String {
    let Some(reference) = reference else {
        return String::new();
    };
    let local = ["oci:", "oci-archive:", "docker-archive:"]
        .iter()
        .find_map(|t| reference.strip_prefix(t));
    let Some(path) = local.map(Path::new) else {
        return reference.to_string();
    };
    let index = hex::encode(file_hash(&path.join("index.json")));
    let meta = std::fs::metadata(path).ok();
    let stamp = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let len = if meta.as_ref().is_some_and(|m| m.is_file()) {
        meta.map_or(0, |m| m.len())
    } else {
        0
    };
    format!("{reference} {index} {len} {stamp}")
}

/// What the image's `source` and `revision` labels are taken from when
/// `--source` and `--revision` do not say them: whether the git checkout
/// holding the project is clean, its `HEAD` and its `origin`. Git runs only
/// when the project is inside a checkout.
fn checkout(options: &BuildOptions) -> String {
    let meta = &options.metadata;
    if meta.source.is_some() && meta.revision.is_some() {
        return String::new();
    }
    let Ok(dir) = std::fs::canonicalize(&options.project_dir) else {
        return String::new();
    };
    if !dir.ancestors().any(|d| d.join(".git").exists()) {
        return String::new();
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("--no-optional-locks")
            .arg("-C")
            .arg(&dir)
            .args(args)
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let status = git(&["status", "--porcelain=v2", "--branch"]);
    let head = status
        .lines()
        .find_map(|l| l.strip_prefix("# branch.oid "))
        .unwrap_or("")
        .to_string();
    let clean = !status.lines().any(|l| !l.starts_with('#'));
    format!(
        "{head} {clean} {}",
        git(&["remote", "get-url", "origin"]).trim()
    )
}

/// What decides the default package index besides the flags and the project.
fn index_settings() -> String {
    let sources = lockship_wheel::IndexSources::from_env();
    let mut out = format!("{:?} {:?}", sources.uv_index_url, sources.pip_index_url);
    for file in &sources.pip_config_files {
        out.push_str(&format!(
            " {} {}",
            file.display(),
            hex::encode(file_hash(file))
        ));
    }
    out
}

/// SHA-256 of a file's bytes; empty for a file that cannot be read.
fn file_hash(path: &Path) -> Vec<u8> {
    match std::fs::read(path) {
        Ok(bytes) => Sha256::digest(&bytes).to_vec(),
        Err(_) => Vec::new(),
    }
}

/// The directories (and archives) of the lock's path dependencies.
fn path_dependencies(lock: &Lock) -> Vec<PathBuf> {
    let lock_dir = lock.path.parent().unwrap_or(Path::new("."));
    let mut dirs: Vec<PathBuf> = lock
        .packages
        .iter()
        .filter_map(|p| match &p.source {
            PackageSource::Path { path, .. } => std::fs::canonicalize(lock_dir.join(path)).ok(),
            _ => None,
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// SHA-256 over a tree's paths and contents (a file: its bytes), in name
/// order, leaving out what `ignored` says (paths relative to `dir`,
/// `/`-separated). A link counts by its target, and a link to a directory
/// inside `dir` is walked as the project layer's walk follows it.
fn tree_hash(dir: &Path, ignored: &dyn Fn(&str) -> bool) -> Option<Vec<u8>> {
    let canonical = std::fs::canonicalize(dir).ok()?;
    let mut h = Sha256::new();
    if canonical.is_file() {
        h.update(std::fs::read(&canonical).ok()?);
        return Some(h.finalize().to_vec());
    }
    let mut stack = vec![canonical.clone()];
    walk(&canonical, &canonical, "", ignored, &mut h, &mut stack).ok()?;
    Some(h.finalize().to_vec())
}

fn walk(
    root: &Path,
    dir: &Path,
    rel: &str,
    ignored: &dyn Fn(&str) -> bool,
    h: &mut Sha256,
    stack: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let mut items: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    items.sort_by_key(|e| e.file_name());
    for item in items {
        let name = item.file_name().to_string_lossy().into_owned();
        let path_rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if ignored(&path_rel) {
            continue;
        }
        let kind = item.file_type()?;
        let path = item.path();
        h.update(path_rel.as_bytes());
        h.update([0]);
        if kind.is_symlink() {
            h.update(b"->");
            h.update(std::fs::read_link(&path)?.as_os_str().as_encoded_bytes());
            h.update([0]);
            let Ok(target) = std::fs::canonicalize(&path) else {
                continue;
            };
            if !target.starts_with(root) {
                continue;
            }
            if target.is_dir() && !stack.contains(&target) {
                stack.push(target.clone());
                walk(root, &target, &path_rel, ignored, h, stack)?;
                stack.pop();
            } else if target.is_file() {
                h.update(Sha256::digest(std::fs::read(&target)?));
            }
        } else if kind.is_dir() {
            walk(root, &path, &path_rel, ignored, h, stack)?;
        } else if kind.is_file() {
            h.update(Sha256::digest(std::fs::read(&path)?));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "noop_tests.rs"]
mod tests;
