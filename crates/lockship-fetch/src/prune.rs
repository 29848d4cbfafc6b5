//! What the cache holds, and pruning it by last use (`lockship cache info`,
//! `lockship cache prune`).
//!
//! The cache is made of *entries*, each removed whole or not at all:
//! `sha256/<hex>` (downloads), `keyed/<namespace>/<key>` (derived trees and
//! records), `layers/blobs/<blob>` and `layers/<key>.json` (the layer cache),
//! `tmp/<work>` (what a build was doing when it stopped), and any other file
//! at the top. An entry's age is its modification time, which a use sets to
//! now ([`crate::Cache::get`], [`crate::Cache::keyed_dir`],
//! [`crate::Cache::touch`]); a layer record lives as long as its blob.
//!
//! Pruning holds `ROOT/.lock` exclusively, and every open [`crate::Cache`]
//! holds it shared, so a prune never runs beside a build: nothing in use or
//! half-written is removed. Symlinks are never followed: a link is an entry
//! of its own (the link is removed, never what it points at), a directory is
//! listed only when it resolves to the very path inside the cache it is named
//! by, and an entry is removed only when its parent resolves inside the
//! cache root.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::FetchError;

/// The lock file at the cache root: shared by builds, exclusive for pruning.
pub const LOCK_FILE: &str = ".lock";

/// Opens (creates) the lock file of the cache at `root`.
pub(crate) fn open_lock(root: &Path) -> Result<File, FetchError> {
    let path = root.join(LOCK_FILE);
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| FetchError::CacheDir { path, source })
}

/// One part of the cache: a directory of entries, or one entry at the top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Its path relative to the cache root (`sha256`, `keyed/build-env`, `layers`).
    pub name: String,
    /// How many entries it holds.
    pub entries: u64,
    /// Their bytes on disk (regular files; links and directories count 0).
    pub bytes: u64,
    /// The most recent use of any of its entries.
    pub newest: Option<SystemTime>,
    /// The least recent use of any of its entries.
    pub oldest: Option<SystemTime>,
}

/// What [`prune`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneOptions {
    /// Remove entries last used longer ago than this; `None`: every entry.
    pub older_than: Option<Duration>,
    /// Only report what would be removed.
    pub dry_run: bool,
}

/// What [`prune`] removed (or, with `dry_run`, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Per part of the cache: entries and bytes removed.
    pub removed: Vec<Usage>,
    /// Entries kept.
    pub kept: u64,
}

impl PruneReport {
    /// Bytes removed in all.
    pub fn bytes(&self) -> u64 {
        self.removed.iter().map(|u| u.bytes).sum()
    }

    /// Entries removed in all.
    pub fn entries(&self) -> u64 {
        self.removed.iter().map(|u| u.entries).sum()
    }
}

/// The cache at a root, locked exclusively: no build runs while it lives.
#[derive(Debug)]
pub struct ExclusiveCache {
    root: PathBuf,
    _lock: File,
}

/// Locks the cache at `root` exclusively. `Ok(None)` when `wait` is false
/// and a build holds it; with `wait`, blocks until the builds finish.
pub fn lock_exclusive(root: &Path, wait: bool) -> Result<Option<ExclusiveCache>, FetchError> {
    let lock = open_lock(root)?;
    let path = root.join(LOCK_FILE);
    if wait {
        lock.lock()
            .map_err(|source| FetchError::CacheDir { path, source })?;
    } else {
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Ok(None),
            Err(fs::TryLockError::Error(source)) => {
                return Err(FetchError::CacheDir { path, source })
            }
        }
    }
    Ok(Some(ExclusiveCache {
        root: root.to_path_buf(),
        _lock: lock,
    }))
}

/// One entry: what part it belongs to, where it is, its last use and size.
struct Entry {
    part: String,
    path: PathBuf,
    used: SystemTime,
    bytes: u64,
}

/// The size of each part of the cache at `root`, in name order. Reads
/// without a lock: the figures are a snapshot.
pub fn usage(root: &Path) -> Result<Vec<Usage>, FetchError> {
    let entries = entries(root)?;
    let mut parts: Vec<Usage> = Vec::new();
    for e in &entries {
        add(&mut parts, e);
    }
    parts.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(parts)
}

impl ExclusiveCache {
    /// Removes the entries `options` selects; see the module's notes.
    pub fn prune(&self, options: PruneOptions) -> Result<PruneReport, FetchError> {
        let root = canonical(&self.root)?;
        let cutoff = options.older_than.map(|age| {
            SystemTime::now()
                .checked_sub(age)
                .unwrap_or(SystemTime::UNIX_EPOCH)
        });
        let mut report = PruneReport::default();
        for entry in entries(&self.root)? {
            if cutoff.is_some_and(|c| entry.used >= c) {
                report.kept += 1;
                continue;
            }
            if !options.dry_run {
                remove(&root, &self.root, &entry.path)?;
            }
            add(&mut report.removed, &entry);
        }
        report.removed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(report)
    }
}

fn add(parts: &mut Vec<Usage>, e: &Entry) {
    let part = match parts.iter_mut().find(|p| p.name == e.part) {
        Some(p) => p,
        None => {
            parts.push(Usage {
                name: e.part.clone(),
                entries: 0,
                bytes: 0,
                newest: None,
                oldest: None,
            });
            parts.last_mut().expect("just pushed")
        }
    };
    part.entries += 1;
    part.bytes += e.bytes;
    part.newest = Some(part.newest.map_or(e.used, |n| n.max(e.used)));
    part.oldest = Some(part.oldest.map_or(e.used, |o| o.min(e.used)));
}

fn canonical(root: &Path) -> Result<PathBuf, FetchError> {
    fs::canonicalize(root).map_err(|source| FetchError::CacheDir {
        path: root.to_path_buf(),
        source,
    })
}

/// Every entry of the cache at `root`.
fn entries(root: &Path) -> Result<Vec<Entry>, FetchError> {
    let croot = canonical(root)?;
    let mut out = Vec::new();
    for (name, path) in children(&croot, root, root)? {
        if name == LOCK_FILE {
            continue;
        }
        // A part of the cache that is not a real directory in place (a
        // link, a file): one entry, never listed through.
        if !is_real_dir(&croot, root, &path) {
            out.push(entry(&name, path)?);
            continue;
        }
        match name.as_str() {
            "sha256" | "tmp" => {
                for (_, p) in children(&croot, root, &path)? {
                    out.push(entry(&name, p)?);
                }
            }
            "keyed" => {
                for (ns, dir) in children(&croot, root, &path)? {
                    let part = format!("keyed/{ns}");
                    if !is_real_dir(&croot, root, &dir) {
                        out.push(entry(&part, dir)?);
                        continue;
                    }
                    for (_, p) in children(&croot, root, &dir)? {
                        out.push(entry(&part, p)?);
                    }
                }
            }
            "layers" => layers(&croot, root, &path, &mut out)?,
            _ => out.push(entry(&name, path)?),
        }
    }
    Ok(out)
}

/// The layer cache: each blob, and each record, which lives as long as
/// the blob it names.
fn layers(croot: &Path, root: &Path, dir: &Path, out: &mut Vec<Entry>) -> Result<(), FetchError> {
    let blobs_dir = dir.join("blobs");
    for (name, path) in children(croot, root, dir)? {
        if name == "blobs" && is_real_dir(croot, root, &path) {
            for (_, blob) in children(croot, root, &path)? {
                out.push(entry("layers", blob)?);
            }
            continue;
        }
        let mut e = entry("layers", path)?;
        if let Some(blob) = record_blob(&e.path, &blobs_dir) {
            if let Ok(meta) = fs::symlink_metadata(&blob) {
                e.used = e
                    .used
                    .max(meta.modified().unwrap_or(SystemTime::UNIX_EPOCH));
            }
        }
        out.push(e);
    }
    Ok(())
}

/// The blob a layer record (`{"path": …}`) names, when it is a plain file
/// name inside `blobs_dir`.
fn record_blob(record: &Path, blobs_dir: &Path) -> Option<PathBuf> {
    if record.extension()? != "json" {
        return None;
    }
    let text = fs::read(record).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let path = PathBuf::from(value.get("path")?.as_str()?);
    let name = path.file_name()?;
    (path.parent()? == blobs_dir).then(|| blobs_dir.join(name))
}

/// The entries of `dir` (a directory inside the cache), by name, when `dir`
/// is a real directory at the place its name says: a link, or a path that
/// resolves elsewhere, has no entries.
fn children(croot: &Path, root: &Path, dir: &Path) -> Result<Vec<(String, PathBuf)>, FetchError> {
    if !is_real_dir(croot, root, dir) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for item in fs::read_dir(dir)? {
        let item = item?;
        out.push((item.file_name().to_string_lossy().into_owned(), item.path()));
    }
    out.sort();
    Ok(out)
}

/// Whether `path` is a directory (not a link) that resolves to the place
/// inside the canonical root `croot` that its name relative to `root` says.
fn is_real_dir(croot: &Path, root: &Path, path: &Path) -> bool {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    meta.is_dir() && fs::canonicalize(path).is_ok_and(|c| c == croot.join(rel))
}

fn entry(part: &str, path: PathBuf) -> Result<Entry, FetchError> {
    let meta = fs::symlink_metadata(&path)?;
    let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let bytes = if meta.is_dir() {
        tree_bytes(&path)
    } else if meta.is_file() {
        meta.len()
    } else {
        0
    };
    Ok(Entry {
        part: part.to_string(),
        path,
        used,
        bytes,
    })
}

/// Bytes of the regular files under `dir`, links not followed.
fn tree_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(items) = fs::read_dir(&d) else {
            continue;
        };
        for item in items.flatten() {
            let Ok(meta) = item.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(item.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    total
}

/// Removes one entry: a link or file is unlinked, a directory removed with
/// everything below it (links inside are unlinked, never followed). Its
/// parent must resolve inside the cache root.
fn remove(croot: &Path, root: &Path, path: &Path) -> Result<(), FetchError> {
    let parent = path.parent().ok_or_else(|| outside(path))?;
    let rel = parent.strip_prefix(root).map_err(|_| outside(path))?;
    let resolved = fs::canonicalize(parent)?;
    if resolved != croot.join(rel) || !resolved.starts_with(croot) {
        return Err(outside(path));
    }
    let target = resolved.join(path.file_name().ok_or_else(|| outside(path))?);
    let meta = match fs::symlink_metadata(&target) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let done = if meta.is_dir() {
        fs::remove_dir_all(&target)
    } else {
        fs::remove_file(&target)
    };
    match done {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

fn outside(path: &Path) -> FetchError {
    FetchError::CacheEscape {
        path: path.to_path_buf(),
    }
}

#[cfg(test)]
#[path = "prune_tests.rs"]
mod tests;
