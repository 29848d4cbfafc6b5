use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::FetchError;

/// A content-addressed store: `ROOT/sha256/<hex>`.
///
/// Entries are immutable. They are verified when read (a corrupt entry is
/// removed and reported as absent, so it is fetched again) and written through
/// a temporary file plus an atomic rename.
///
/// Each use of an entry sets its modification time to now ([`Cache::get`],
/// [`Cache::keyed_dir`], [`Cache::touch`]): `lockship cache prune
/// --older-than` removes by that time, so what a recent build used stays.
/// An open cache holds a shared lock on `ROOT/.lock` for as long as it (or a
/// clone) lives; pruning takes it exclusively ([`crate::prune`]), so it
/// never runs beside a build.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    /// `ROOT/.lock`, locked shared while any clone lives (`None` where the
    /// file system has no locks, or the cache is read-only: there, pruning
    /// cannot lock either and refuses).
    _lock: std::sync::Arc<Option<std::fs::File>>,
}

impl Cache {
    /// Opens (and creates) a cache rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Cache, FetchError> {
        let root = root.into();
        for sub in ["sha256", "tmp", "keyed"] {
            let dir = root.join(sub);
            std::fs::create_dir_all(&dir).map_err(|source| FetchError::CacheDir {
                path: dir.clone(),
                source,
            })?;
        }
        let lock = shared_lock(&root);
        Ok(Cache {
            root,
            _lock: std::sync::Arc::new(lock),
        })
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where an entry with this hex SHA-256 lives (whether or not it exists).
    /// Callers pass a digest they computed or checked with
    /// [`crate::is_sha256_hex`]; [`Cache::get`] and the inserts check it.
    pub fn path_for(&self, sha256: &str) -> PathBuf {
        self.root.join("sha256").join(sha256.to_ascii_lowercase())
    }

    /// Returns the entry's path if it is present and its content still matches
    /// its name. A corrupt entry is deleted and `None` is returned.
    pub fn get(&self, sha256: &str) -> Result<Option<PathBuf>, FetchError> {
        check_sha256(sha256)?;
        let path = self.path_for(sha256);
        let file = match fs_err::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut reader = HashingReader::new(file);
        io::copy(&mut reader, &mut io::sink())?;
        if reader.hex_digest() == sha256.to_ascii_lowercase() {
            touch(&path);
            Ok(Some(path))
        } else {
            // Corrupt (truncated by hand, disk error): drop it so it is fetched again.
            let _ = std::fs::remove_file(&path);
            Ok(None)
        }
    }

    /// Streams `reader` into the cache, checking the SHA-256 on the way.
    ///
    /// With `expected`, a mismatch is an error and nothing is stored. Returns
    /// the entry's path and hex digest.
    pub fn insert(
        &self,
        reader: impl Read,
        expected: Option<&str>,
        origin: &str,
    ) -> Result<(PathBuf, String), FetchError> {
        self.insert_checked(
            reader,
            &Expected {
                sha256: expected,
                ..Expected::default()
            },
            origin,
        )
    }

    /// Streams `reader` into the cache, checking what `expected` says on the
    /// way: more bytes than the declared size (or than `max_size`) stop the
    /// copy at once, and a short file, a wrong size or a wrong hash is an
    /// error. On any error nothing is stored and the temporary file is
    /// removed. Returns the entry's path and hex digest.
    pub fn insert_checked(
        &self,
        mut reader: impl Read,
        expected: &Expected<'_>,
        origin: &str,
    ) -> Result<(PathBuf, String), FetchError> {
        if let Some(sha) = expected.sha256 {
            check_sha256(sha)?;
        }
        let (limit, declared) = match (expected.size, expected.max_size) {
            (Some(size), _) => (Some(size), true),
            (None, max) => (max, false),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(self.root.join("tmp"))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total: u64 = 0;
        loop {
            // Never ask for more than one byte past the bound: a stream that
            // goes on is stopped as soon as it passes it.
            let want = match limit {
                Some(limit) => {
                    (limit.saturating_sub(total).saturating_add(1)).min(buf.len() as u64) as usize
                }
                None => buf.len(),
            };
            let n = match reader.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            total += n as u64;
            if let Some(limit) = limit.filter(|l| total > *l) {
                return Err(FetchError::TooLarge {
                    url: origin.to_string(),
                    limit,
                    declared,
                });
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])?;
        }
        if let Some(size) = expected.size.filter(|s| *s != total) {
            return Err(FetchError::SizeMismatch {
                url: origin.to_string(),
                expected: size,
                actual: total,
            });
        }
        let actual = hex::encode(hasher.finalize());
        if let Some(expected) = expected.sha256 {
            if !expected.eq_ignore_ascii_case(&actual) {
                return Err(FetchError::HashMismatch {
                    url: origin.to_string(),
                    expected: expected.to_ascii_lowercase(),
                    actual,
                });
            }
        }
        tmp.as_file().sync_all()?;
        let dest = self.path_for(&actual);
        tmp.persist(&dest).map_err(|e| e.error)?;
        Ok((dest, actual))
    }

    /// Stores `bytes` under their own hash.
    pub fn insert_bytes(&self, bytes: &[u8], origin: &str) -> Result<PathBuf, FetchError> {
        Ok(self.insert(bytes, None, origin)?.0)
    }

    /// A directory for derived artifacts keyed by an arbitrary string key
    /// (for example, an unpacked tree keyed by the hashes of its inputs).
    /// Asking for it counts as a use: if it exists, its modification time
    /// becomes now, so pruning by age keeps it.
    pub fn keyed_dir(&self, namespace: &str, key: &str) -> PathBuf {
        let path = self.root.join("keyed").join(namespace).join(key);
        touch(&path);
        path
    }

    /// Marks `path` (an entry of this cache) as used now, for pruning by
    /// age. A missing path, or one outside the cache, is left alone.
    pub fn touch(&self, path: &Path) {
        if path.starts_with(&self.root) {
            touch(path);
        }
    }

    /// A fresh temporary directory inside the cache, on the same file system
    /// as the entries, so finished work can be renamed into place.
    pub fn temp_dir(&self) -> Result<tempfile::TempDir, FetchError> {
        Ok(tempfile::TempDir::new_in(self.root.join("tmp"))?)
    }
}

/// `ROOT/.lock`, locked shared (waiting while a prune holds it).
fn shared_lock(root: &Path) -> Option<std::fs::File> {
    let file = crate::prune::open_lock(root)
        .ok()
        .or_else(|| std::fs::File::open(root.join(crate::prune::LOCK_FILE)).ok())?;
    file.lock_shared().ok()?;
    Some(file)
}

/// Sets `path`'s modification time to now (its last use), without following
/// a link. Best effort: a read-only cache still works, it only prunes by
/// creation time.
fn touch(path: &Path) {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            return;
        }
        let now = std::fs::FileTimes::new().set_modified(std::time::SystemTime::now());
        // Read-only is enough: the owner may set the times of any file.
        if let Ok(file) = std::fs::File::open(path) {
            let _ = file.set_times(now);
        }
    }
}

/// What a stream written into the cache must match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The hex SHA-256 the bytes must have.
    pub sha256: Option<&'a str>,
    /// The exact size the bytes must have (from the lock or the index).
    pub size: Option<u64>,
    /// With no `size`, the most bytes accepted.
    pub max_size: Option<u64>,
}

/// Refuses a digest that is not 64 hex digits (it would name a path).
fn check_sha256(sha256: &str) -> Result<(), FetchError> {
    if crate::is_sha256_hex(sha256) {
        Ok(())
    } else {
        Err(FetchError::BadSha256 {
            value: crate::names::shown(sha256),
        })
    }
}

/// Hex SHA-256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A reader that hashes what passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The hex SHA-256 of everything read so far.
    pub fn hex_digest(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// How many bytes were read so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_then_get_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let (path, hex) = cache.insert(&b"hello"[..], None, "test").unwrap();
        assert_eq!(
            hex,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(cache.get(&hex).unwrap(), Some(path));
    }

    #[test]
    fn hash_mismatch_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let wrong = "00".repeat(32);
        let err = cache.insert(&b"hello"[..], Some(&wrong), "x").unwrap_err();
        assert!(matches!(err, FetchError::HashMismatch { .. }));
        assert_eq!(
            std::fs::read_dir(dir.path().join("sha256"))
                .unwrap()
                .count(),
            0
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn corrupt_entry_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let (path, hex) = cache.insert(&b"hello"[..], None, "test").unwrap();
        std::fs::write(&path, b"hell").unwrap();
        assert_eq!(cache.get(&hex).unwrap(), None);
        assert!(!path.exists());
    }
}
