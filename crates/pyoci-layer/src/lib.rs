//! Deterministic OCI layers. (Being written: see the module docs once done.)
#![deny(missing_docs)]

use std::path::PathBuf;

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
}
