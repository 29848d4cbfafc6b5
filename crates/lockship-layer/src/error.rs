//! The one error type of this crate.

use std::path::PathBuf;

use crate::Compression;

/// Everything that can go wrong while writing, reading or caching a layer.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// Reading or writing a file failed.
    #[error("I/O error on `{path}`")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Walking the staged tree failed.
    #[error("Failed to walk the tree at `{path}`")]
    Walk {
        /// The path that could not be read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: walkdir::Error,
    },

    /// The root given to [`crate::write_layer`] is not a directory.
    #[error("Layer root `{path}` is not a directory")]
    NotADirectory {
        /// The root.
        path: PathBuf,
    },

    /// The tree holds a socket, FIFO or device node, which a layer cannot hold.
    #[error("Unsupported file type at `{path}`: only directories, regular files and symlinks can go into a layer")]
    UnsupportedFileType {
        /// The offending file.
        path: PathBuf,
    },

    /// A file's size changed while it was being archived.
    #[error(
        "File `{path}` changed size while it was being archived (expected `{expected}` bytes)"
    )]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// The size it had when its header was written.
        expected: u64,
    },

    /// The compression level is out of range.
    #[error("Compression level `{level}` is out of range for `{compression}` (layer of `{path}`)")]
    InvalidLevel {
        /// The root of the layer being written.
        path: PathBuf,
        /// The requested level.
        level: i32,
        /// The compression it was meant for.
        compression: Compression,
    },

    /// A cache key cannot name a file.
    #[error("Layer cache key `{key}` must be 1 to 200 ASCII letters, digits, `-`, `_` or `.`, not starting with `.` (cache `{path}`)")]
    InvalidCacheKey {
        /// The cache directory.
        path: PathBuf,
        /// The key.
        key: String,
    },

    /// A cache record could not be written as JSON.
    #[error("Failed to encode the layer cache record `{path}`")]
    Json {
        /// The record.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },

    /// The build closure given to [`crate::LayerCache::get_or_build`] failed
    /// for a reason of its own; the text says why.
    #[error("{0}")]
    Build(String),
}

impl LayerError {
    /// A closure turning an [`std::io::Error`] into [`LayerError::Io`] on `path`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> LayerError {
        let path = path.to_path_buf();
        move |source| LayerError::Io { path, source }
    }
}
