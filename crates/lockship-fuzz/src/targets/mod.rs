//! The fuzz targets, one function per parser of outside input, and the
//! helpers they share (scratch directories, small archive builders).

pub mod debian;
pub mod layer;
pub mod oci;
pub mod project;
pub mod python;
pub mod registry;
pub mod wheel;

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The input as text, invalid UTF-8 replaced (parsers take `&str`; callers
/// decode bytes the same lossy or strict way, and strict decoding only
/// refuses more).
pub(crate) fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// A fresh directory for one run, removed when dropped. All of them live in
/// one per-thread temporary directory, removed when the thread ends.
pub(crate) struct Scratch {
    dir: PathBuf,
}

thread_local! {
    static THREAD_DIR: tempfile::TempDir = tempfile::Builder::new()
        .prefix("lockship-fuzz-")
        .tempdir()
        .expect("a temporary directory for fuzzing");
}

impl Scratch {
    pub(crate) fn new() -> Scratch {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = THREAD_DIR.with(|t| t.path().join(format!("run-{n}")));
        std::fs::create_dir(&dir).expect("a scratch directory");
        Scratch { dir }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes `bytes` to `name` under the scratch directory.
    pub(crate) fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("a scratch directory");
        }
        std::fs::write(&path, bytes).expect("a scratch file");
        path
    }

    /// Creates the directory `name` under the scratch directory.
    pub(crate) fn dir(&self, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::create_dir_all(&path).expect("a scratch directory");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        make_writable(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Unpacked trees may hold read-only directories; open them up so they can
/// be removed.
fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let path = entry.path();
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
            make_writable(&path);
        }
    }
}

/// One member of a tar built by [`tar_of`].
pub(crate) enum TarItem<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

/// A ustar archive of `items`, mtime 0, owner 0.
pub(crate) fn tar_of(items: &[TarItem<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for item in items {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        let (path, data): (&str, &[u8]) = match item {
            TarItem::Dir(p) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                (p, &[])
            }
            TarItem::File(p, bytes, mode) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                (p, bytes)
            }
            TarItem::Symlink(p, target) | TarItem::Hardlink(p, target) => {
                header.set_entry_type(if matches!(item, TarItem::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                header.set_mode(0o777);
                set_raw(&mut header.as_old_mut().linkname, target);
                (p, &[])
            }
        };
        header.set_size(data.len() as u64);
        set_raw(&mut header.as_old_mut().name, path);
        header.set_cksum();
        builder.append(&header, data).expect("writing to memory");
    }
    builder.into_inner().expect("writing to memory")
}

/// Writes a name into a header field verbatim (`..` and absolute paths
/// included, which the `tar` crate's setters refuse).
fn set_raw(field: &mut [u8; 100], value: &str) {
    assert!(value.len() <= field.len(), "a name of at most 100 bytes");
    field.fill(0);
    field[..value.len()].copy_from_slice(value.as_bytes());
}

/// gzip of `bytes`, with a fixed header.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// `sha256:<hex>` of `bytes`.
pub(crate) fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
