//! Deterministic OCI layers from staged directory trees.
//!
//! [`write_layer`] turns a directory into one layer blob: a tar stream whose
//! bytes depend only on the tree's content (names, file bytes, symlink targets,
//! hard-link structure and whether a file is executable), compressed with gzip,
//! zstd or not at all. Both the `diff_id` (digest of the tar) and the `digest`
//! (digest of the blob) are computed while the blob is written, and the blob is
//! stored as `<out_dir>/<digest hex>`.
//!
//! What is normalised, so that the same tree gives byte-identical blobs on any
//! machine:
//!
//! - entries are sorted by path, compared component by component as bytes, so a
//!   directory comes right before its contents; paths are relative, without a
//!   leading `./`, and directories end with `/`;
//! - every mtime is [`LayerOptions::mtime`]; uid and gid are 0 and user and
//!   group names are empty;
//! - directories are `0755`, symlinks `0777`, regular files `0755` if any
//!   execute bit is set on disk and `0644` otherwise;
//! - [`LayerOptions::overrides`] then sets owner and mode of given paths;
//! - gzip headers carry no name, mtime 0 and the "unknown" OS byte, and the
//!   deflate backend is pinned (zlib-rs); zstd frames are single-threaded and
//!   carry no checksum.
//!
//! [`unpack_layer`] goes the other way for images someone else made: it
//! flattens a layer over a tree, applying OCI whiteouts, without ever writing
//! outside that tree, and checks the layer's diff_id on the way.
//!
//! Only directories, regular files and symlinks can be stored: sockets, FIFOs
//! and device nodes are refused. This crate reads Unix file metadata (modes,
//! inode numbers), so it builds on Unix only.
//!
//! # Example
//!
//! ```
//! use std::collections::BTreeMap;
//! use lockship_layer::{open_layer_tar, write_layer, Compression, LayerOptions, Ownership};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let staging = tempfile::tempdir()?;
//! std::fs::create_dir_all(staging.path().join("usr/bin"))?;
//! std::fs::write(staging.path().join("usr/bin/hello"), b"#!/bin/sh\necho hi\n")?;
//! std::fs::create_dir(staging.path().join("tmp"))?;
//!
//! let mut options = LayerOptions::new(Compression::Gzip, 0);
//! options.overrides.insert("tmp".into(), Ownership { uid: 0, gid: 0, mode: Some(0o1777) });
//!
//! let blobs = tempfile::tempdir()?;
//! let layer = write_layer(staging.path(), &options, blobs.path())?;
//! assert!(layer.digest.starts_with("sha256:"));
//! assert_eq!(layer.path, blobs.path().join(layer.digest_hex()));
//!
//! let mut archive = tar::Archive::new(open_layer_tar(&layer.path)?);
//! let names: Vec<String> = archive
//!     .entries()?
//!     .map(|e| Ok(e?.path()?.to_string_lossy().into_owned()))
//!     .collect::<Result<_, std::io::Error>>()?;
//! assert_eq!(names, ["tmp/", "usr/", "usr/bin/", "usr/bin/hello"]);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::path::PathBuf;

mod cache;
mod error;
mod read;
mod unpack;
mod write;

pub use cache::LayerCache;
pub use error::LayerError;
pub use read::{file_digest, open_layer_tar, sniff_compression};
pub use unpack::{check_diff_id, unpack_layer, UnpackedLayer};
pub use write::write_layer;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// `application/vnd.oci.image.layer.v1.tar+gzip`
    Gzip,
    /// `application/vnd.oci.image.layer.v1.tar+zstd`
    Zstd,
    /// `application/vnd.oci.image.layer.v1.tar`
    None,
}

impl Compression {
    /// The lowercase name: `gzip`, `zstd` or `none`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        }
    }

    /// The level used when [`LayerOptions::level`] is `None`: 6 for gzip, 3
    /// for zstd, 0 (unused) for no compression.
    pub fn default_level(self) -> i32 {
        match self {
            Compression::Gzip => 6,
            Compression::Zstd => 3,
            Compression::None => 0,
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A finished layer blob on disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Layer {
    /// The compressed blob.
    pub path: PathBuf,
    /// `sha256:<hex>` of the blob as stored (compressed).
    pub digest: String,
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
    /// Size in bytes of the blob as stored.
    pub size: u64,
    /// Size in bytes of the uncompressed tar.
    pub uncompressed_size: u64,
    /// The compression of the blob.
    pub compression: Compression,
}

impl Layer {
    /// The OCI media type of the blob.
    pub fn media_type(&self) -> &'static str {
        match self.compression {
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
        }
    }

    /// The hex part of [`Layer::digest`] (what follows `sha256:`).
    pub fn digest_hex(&self) -> &str {
        self.digest.strip_prefix("sha256:").unwrap_or(&self.digest)
    }
}

/// Owner and mode forced onto one path of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Ownership {
    /// The numeric user id.
    pub uid: u32,
    /// The numeric group id.
    pub gid: u32,
    /// Full permission bits including setuid, setgid and sticky (e.g.
    /// `0o1777`); `None` keeps the normalised mode.
    pub mode: Option<u32>,
}

/// How [`write_layer`] writes a layer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayerOptions {
    /// The compression of the blob.
    pub compression: Compression,
    /// The compression level; `None` means [`Compression::default_level`].
    /// gzip takes 0 to 9; zstd takes the range `zstd` supports (1 to 22, and
    /// negative "fast" levels).
    pub level: Option<i32>,
    /// The mtime of every entry, in seconds since the epoch (typically
    /// `SOURCE_DATE_EPOCH`).
    pub mtime: u64,
    /// Owner and mode of given paths. Keys are in-layer paths without a leading
    /// or trailing slash, e.g. `tmp` or `home/nonroot` (a leading `/` or `./`
    /// and a trailing `/` are tolerated). Keys naming no entry of the tree are
    /// ignored, so one map can serve several layers.
    pub overrides: BTreeMap<String, Ownership>,
}

impl LayerOptions {
    /// Options with the given compression and mtime, the default level and no
    /// overrides.
    pub fn new(compression: Compression, mtime: u64) -> Self {
        LayerOptions {
            compression,
            level: None,
            mtime,
            overrides: BTreeMap::new(),
        }
    }
}

impl Default for Compression {
    /// gzip, the media type every registry and runtime accepts.
    fn default() -> Self {
        Compression::Gzip
    }
}

#[cfg(test)]
mod tests;
