//! Flattening image layers into one tree, the way overlayfs stacks them.
//!
//! [`unpack_layer`] applies one layer blob (gzip, zstd or plain tar) over a
//! directory: `.wh.NAME` removes `NAME` that a lower layer put there,
//! `.wh..wh..opq` empties its directory of what the lower layers put there,
//! and any other entry replaces what was at its path (a directory merges with
//! a directory). Device nodes and FIFOs are skipped: nothing here runs them.
//!
//! A layer is untrusted input. Every path it names is resolved inside the
//! root as the image's own processes would see it, as if the root were `/`:
//! symlinks are followed one component at a time, an absolute target starts
//! again at the root, and `..` stops at the root. Only then is anything
//! removed or created, and never through a symlink: the last component of an
//! entry is never followed, and a directory is created only inside a
//! directory already known to be inside the root. Hard links must name a file
//! inside the root. Entry names that are absolute or climb with `..`, and
//! whiteouts that hide no plain name (`.wh.`, `.wh..`, `.wh...`), are refused
//! with [`LayerError::UnsafeEntry`].
//!
//! The decompressed stream is hashed on the way through; a layer whose
//! sha256 is not the diff_id its image's config claims is refused with
//! [`LayerError::DiffIdMismatch`] once the stream ends. The tree it was
//! unpacked into must then be thrown away, so unpack into a temporary
//! directory and move it into place only when every layer checked out.
//!
//! Files keep their permission bits without setuid, setgid and sticky, and
//! always stay readable and writable by the user who unpacks (directories
//! also searchable), so the tree can be read, replaced and removed. Owners are
//! not kept. Regular files keep their mtime.

use std::collections::{HashSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::LayerError;

/// Marks a directory as opaque: the lower layers' contents are hidden.
const OPAQUE: &[u8] = b".wh..wh..opq";
/// Prefix of a whiteout file.
const WHITEOUT: &[u8] = b".wh.";
/// Prefix of AUFS metadata (`.wh..wh.plnk`, `.wh..wh.aufs`), which is skipped.
const AUFS_META: &[u8] = b".wh..wh.";
/// How many symlinks one path may go through (Linux's `MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// What [`unpack_layer`] found while unpacking a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackedLayer {
    /// `sha256:<hex>` of the decompressed stream (equal to the claimed diff_id).
    pub diff_id: String,
    /// Size in bytes of the decompressed stream.
    pub uncompressed_size: u64,
}

/// Unpacks the layer blob `blob` over `root`, applying its whiteouts, and
/// checks that it decompresses to `claimed_diff_id`.
///
/// `layer` names the layer in errors (its digest, typically). `root` is
/// created if missing. See the [module docs](self) for what is refused.
///
/// # Errors
///
/// [`LayerError::UnsafeEntry`] for an entry that would reach outside `root`
/// or is malformed, [`LayerError::DiffIdMismatch`] when the stream's sha256 is
/// not `claimed_diff_id` (after unpacking: throw the tree away),
/// [`LayerError::ReadLayer`] when the blob cannot be read or decompressed, and
/// [`LayerError::Unpack`] when writing an entry fails.
pub fn unpack_layer(
    blob: impl Read,
    layer: &str,
    root: &Path,
    claimed_diff_id: &str,
) -> Result<UnpackedLayer, LayerError> {
    fs_err::create_dir_all(root).map_err(LayerError::io(root))?;
    let read_err = |source| LayerError::ReadLayer {
        layer: layer.to_string(),
        source,
    };
    let mut hashing = Hashing::new(crate::read::decompress(blob).map_err(read_err)?);
    {
        let mut archive = tar::Archive::new(&mut hashing);
        let mut unpacker = Unpacker {
            root,
            layer,
            this_layer: HashSet::new(),
        };
        for entry in archive.entries().map_err(read_err)? {
            unpacker.apply(entry.map_err(read_err)?)?;
        }
    }
    // The end-of-archive blocks and any padding belong to the diff_id too.
    io::copy(&mut hashing, &mut io::sink()).map_err(read_err)?;
    hashing.check(layer, claimed_diff_id)
}

/// Checks that the layer blob `blob` decompresses to `claimed_diff_id`,
/// without unpacking it; returns the decompressed size.
///
/// # Errors
///
/// [`LayerError::DiffIdMismatch`] when it does not, [`LayerError::ReadLayer`]
/// when the blob cannot be read or decompressed.
pub fn check_diff_id(
    blob: impl Read,
    layer: &str,
    claimed_diff_id: &str,
) -> Result<u64, LayerError> {
    let read_err = |source| LayerError::ReadLayer {
        layer: layer.to_string(),
        source,
    };
    let mut hashing = Hashing::new(crate::read::decompress(blob).map_err(read_err)?);
    io::copy(&mut hashing, &mut io::sink()).map_err(read_err)?;
    Ok(hashing.check(layer, claimed_diff_id)?.uncompressed_size)
}

/// Hashes and counts the bytes a reader yields.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    fn check(self, layer: &str, claimed: &str) -> Result<UnpackedLayer, LayerError> {
        let actual = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        if actual != claimed {
            return Err(LayerError::DiffIdMismatch {
                layer: layer.to_string(),
                claimed: claimed.to_string(),
                actual,
            });
        }
        Ok(UnpackedLayer {
            diff_id: actual,
            uncompressed_size: self.count,
        })
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// What an entry puts at its path.
enum Kind {
    Dir,
    File,
    Symlink(PathBuf),
    /// A hard link to this file, already resolved inside the root.
    HardLink(PathBuf),
}

struct Unpacker<'a> {
    root: &'a Path,
    layer: &'a str,
    /// The paths this layer's entries wrote, and their directories: an
    /// opaque whiteout hides only what the lower layers put there.
    this_layer: HashSet<PathBuf>,
}

impl Unpacker<'_> {
    fn apply<R: Read>(&mut self, mut entry: tar::Entry<R>) -> Result<(), LayerError> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let parts = plain_parts(&raw).map_err(|reason| self.refuse(&shown, reason))?;
        let Some((name, parents)) = parts.split_last() else {
            // The root itself (`./`): it is already there.
            return Ok(());
        };
        if parents.iter().any(|p| p.as_bytes().starts_with(AUFS_META)) {
            return Ok(());
        }
        if name.as_bytes() == OPAQUE {
            let dir = self.make_dir(parents, &shown)?;
            return self.clear_opaque(&dir, &shown);
        }
        if name.as_bytes().starts_with(AUFS_META) {
            return Ok(());
        }
        if let Some(hidden) = name.as_bytes().strip_prefix(WHITEOUT) {
            if hidden.is_empty() || hidden == b"." || hidden == b".." {
                return Err(self.refuse(
                    &shown,
                    format!(
                        "is a whiteout of `{}`, not of a plain name",
                        String::from_utf8_lossy(hidden)
                    ),
                ));
            }
            if let Some(dir) = self.lookup_dir(parents, &shown)? {
                self.remove_any(&dir.join(OsStr::from_bytes(hidden)), &shown)?;
            }
            return Ok(());
        }
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().ok();
        let mtime = header.mtime().ok();
        let kind = if kind.is_dir() {
            Kind::Dir
        } else if kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse() {
            Kind::File
        } else if kind.is_symlink() {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| self.refuse(&shown, "is a symlink without a target".into()))?;
            Kind::Symlink(PathBuf::from(OsString::from_vec(target.into_owned())))
        } else if kind.is_hard_link() {
            Kind::HardLink(self.hard_link_target(&entry, &shown)?)
        } else {
            // Device nodes and FIFOs (nothing here runs them), and header
            // kinds that carry no file.
            return Ok(());
        };
        let dir = self.make_dir(parents, &shown)?;
        let path = dir.join(name);
        if matches!(&kind, Kind::HardLink(target) if *target == path) {
            self.mark(&path);
            return Ok(());
        }
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() && matches!(kind, Kind::Dir) => {}
            Ok(_) => self.remove_any(&path, &shown)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io(&shown, &path, e)),
        }
        let io_err = |e| self.io(&shown, &path, e);
        match kind {
            Kind::Dir => {
                if !path.is_dir() {
                    fs::create_dir(&path).map_err(io_err)?;
                }
                set_mode(&path, mode.unwrap_or(0o755) & 0o777 | 0o700).map_err(io_err)?;
            }
            Kind::File => {
                // `create_new` refuses to open through a symlink.
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(io_err)?;
                io::copy(&mut entry, &mut file).map_err(|e| self.io(&shown, &path, e))?;
                file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(
                    mode.unwrap_or(0o644) & 0o777 | 0o600,
                ))
                .map_err(|e| self.io(&shown, &path, e))?;
                if let Some(secs) = mtime {
                    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
                    file.set_modified(when)
                        .map_err(|e| self.io(&shown, &path, e))?;
                }
            }
            Kind::Symlink(target) => {
                std::os::unix::fs::symlink(&target, &path).map_err(io_err)?;
            }
            Kind::HardLink(target) => {
                // `link(2)` does not follow a symlink it is given.
                fs::hard_link(&target, &path).map_err(io_err)?;
            }
        }
        self.mark(&path);
        Ok(())
    }

    /// The file a hard-link entry names, resolved inside the root.
    fn hard_link_target<R: Read>(
        &self,
        entry: &tar::Entry<R>,
        shown: &str,
    ) -> Result<PathBuf, LayerError> {
        let raw = entry
            .link_name_bytes()
            .ok_or_else(|| self.refuse(shown, "is a hard link without a target".into()))?;
        let target = String::from_utf8_lossy(&raw).into_owned();
        let refuse = |why: &str| self.refuse(shown, format!("is a hard link to `{target}`, {why}"));
        let parts = plain_parts(&raw).map_err(|reason| refuse(&format!("which {reason}")))?;
        let Some((name, parents)) = parts.split_last() else {
            return Err(refuse("the root directory"));
        };
        let missing = || refuse("which no lower entry put inside the tree");
        let dir = self.lookup_dir(parents, shown)?.ok_or_else(missing)?;
        let path = dir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => Err(refuse("which is a directory")),
            Ok(_) => Ok(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(missing()),
            Err(e) => Err(self.io(shown, &path, e)),
        }
    }

    /// The directory `parents` names, when it exists (symlinks followed
    /// inside the root).
    fn lookup_dir(&self, parents: &[OsString], shown: &str) -> Result<Option<PathBuf>, LayerError> {
        self.walk(parents, false, shown)
    }

    /// The directory `parents` names, created inside the root if missing.
    fn make_dir(&mut self, parents: &[OsString], shown: &str) -> Result<PathBuf, LayerError> {
        let dir = self
            .walk(parents, true, shown)?
            .unwrap_or_else(|| self.root.to_path_buf());
        self.mark(&dir);
        Ok(dir)
    }

    /// Resolves `parents` from the root, one component at a time, following
    /// symlinks with the root as `/`. Every step lands on a real directory
    /// inside the root; a missing one is created (when `create`) inside the
    /// directory reached so far, or ends the walk with `None`.
    fn walk(
        &self,
        parents: &[OsString],
        create: bool,
        shown: &str,
    ) -> Result<Option<PathBuf>, LayerError> {
        let mut queue: VecDeque<OsString> = parents.iter().cloned().collect();
        let mut at = self.root.to_path_buf();
        let mut depth = 0usize;
        let mut links = 0usize;
        while let Some(name) = queue.pop_front() {
            if name == ".." {
                if depth > 0 {
                    at.pop();
                    depth -= 1;
                }
                continue;
            }
            if name.is_empty() || name == "." {
                continue;
            }
            let next = at.join(&name);
            match fs::symlink_metadata(&next) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(self.refuse(
                            shown,
                            format!("goes through more than {MAX_SYMLINKS} symlinks"),
                        ));
                    }
                    let target = fs::read_link(&next).map_err(|e| self.io(shown, &next, e))?;
                    if target.has_root() {
                        at = self.root.to_path_buf();
                        depth = 0;
                    }
                    let steps: Vec<OsString> = target
                        .components()
                        .filter_map(|c| match c {
                            Component::Normal(n) => Some(n.to_os_string()),
                            Component::ParentDir => Some("..".into()),
                            _ => None,
                        })
                        .collect();
                    for step in steps.into_iter().rev() {
                        queue.push_front(step);
                    }
                }
                Ok(meta) if meta.is_dir() => {
                    at = next;
                    depth += 1;
                }
                Ok(_) if create => {
                    return Err(self.refuse(
                        shown,
                        format!(
                            "needs `{}` to be a directory, and it is a file",
                            self.in_image(&next)
                        ),
                    ));
                }
                Ok(_) => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    fs::create_dir(&next).map_err(|e| self.io(shown, &next, e))?;
                    at = next;
                    depth += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(self.io(shown, &next, e)),
            }
        }
        Ok(Some(at))
    }

    /// Removes what the lower layers put in `dir` (a real directory inside the root).
    fn clear_opaque(&self, dir: &Path, shown: &str) -> Result<(), LayerError> {
        let children = fs::read_dir(dir).map_err(|e| self.io(shown, dir, e))?;
        for child in children {
            let child = child.map_err(|e| self.io(shown, dir, e))?.path();
            if !self.this_layer.contains(&child) {
                self.remove_any(&child, shown)?;
            } else if fs::symlink_metadata(&child).is_ok_and(|m| m.is_dir()) {
                self.clear_opaque(&child, shown)?;
            }
        }
        Ok(())
    }

    /// Removes `path` itself (a symlink, not what it points at); a directory
    /// with its contents. Nothing there is fine.
    fn remove_any(&self, path: &Path, shown: &str) -> Result<(), LayerError> {
        let result = match fs::symlink_metadata(path) {
            // `remove_dir_all` does not follow symlinks inside.
            Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
            Ok(_) => fs::remove_file(path),
            Err(e) => Err(e),
        };
        match result {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(self.io(shown, path, e)),
            _ => Ok(()),
        }
    }

    /// Records that this layer wrote `path` (and so its directories).
    fn mark(&mut self, path: &Path) {
        for p in path.ancestors() {
            if p == self.root || !self.this_layer.insert(p.to_path_buf()) {
                break;
            }
        }
    }

    /// `path` as the image sees it, e.g. `/usr/lib`.
    fn in_image(&self, path: &Path) -> String {
        let rel = path.strip_prefix(self.root).unwrap_or(path);
        format!("/{}", rel.display())
    }

    fn refuse(&self, entry: &str, reason: String) -> LayerError {
        LayerError::UnsafeEntry {
            layer: self.layer.to_string(),
            entry: entry.to_string(),
            reason,
        }
    }

    fn io(&self, entry: &str, path: &Path, source: io::Error) -> LayerError {
        LayerError::Unpack {
            layer: self.layer.to_string(),
            entry: entry.to_string(),
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The plain names of an entry path (`./` and empty steps dropped), or why
/// it is refused: absolute, or climbing with `..`.
fn plain_parts(raw: &[u8]) -> Result<Vec<OsString>, String> {
    let mut out = Vec::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err("is an absolute path (layer entries are relative to the root)".into())
            }
            Component::ParentDir => return Err("climbs out of the tree with `..`".into()),
        }
    }
    Ok(out)
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
}
