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

    /// An entry of an image layer would reach outside the tree it is
    /// unpacked into, or is malformed (see [`crate::unpack_layer`]).
    #[error("Layer `{layer}` has entry `{entry}`, which {reason}")]
    UnsafeEntry {
        /// The layer (its digest, or where it came from).
        layer: String,
        /// The entry's name as the layer spells it.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A layer does not decompress to the diff_id its image's config claims.
    #[error("Layer `{layer}` decompresses to diff_id `{actual}`, but the image config claims `{claimed}`")]
    DiffIdMismatch {
        /// The layer (its digest).
        layer: String,
        /// The diff_id the image's config gives.
        claimed: String,
        /// The sha256 of the decompressed stream.
        actual: String,
    },

    /// Reading a layer's stream (or decompressing it) failed.
    #[error("Cannot read layer `{layer}`")]
    ReadLayer {
        /// The layer (its digest, or where it came from).
        layer: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Writing one entry of a layer into the tree failed.
    #[error("Cannot unpack entry `{entry}` of layer `{layer}` at `{path}`")]
    Unpack {
        /// The layer (its digest, or where it came from).
        layer: String,
        /// The entry's name as the layer spells it.
        entry: String,
        /// The path on disk.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The build closure given to [`crate::LayerCache::get_or_build`] failed
    /// with an error of another crate, kept whole: its source chain (and so
    /// its hint) reaches the caller, which may also take it back with
    /// [`LayerError::into_producer`].
    #[error("Producing the layer failed")]
    Producer(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl LayerError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            LayerError::UnsafeEntry { .. } => Some(
                "the image is malformed or hostile, and lockship never writes outside the tree it unpacks into: use another image, or rebuild this one with a standard tool".into(),
            ),
            LayerError::DiffIdMismatch { .. } => Some(
                "the image's layers are not what its config says (a corrupt or tampered image): fetch it again from a source you trust, or rebuild it".into(),
            ),
            LayerError::ReadLayer { .. } => Some(
                "the layer blob is truncated or not gzip, zstd or tar: fetch the image again".into(),
            ),
            LayerError::Io { .. } | LayerError::Unpack { .. } => {
                Some("check that the disk has room and the path is writable".into())
            }
            _ => None,
        }
    }

    /// The error of the closure that produced the layer, when it was one of
    /// type `E` ([`LayerError::Producer`]); else the layer error itself.
    pub fn into_producer<E: std::error::Error + 'static>(self) -> Result<E, LayerError> {
        match self {
            LayerError::Producer(e) => match e.downcast::<E>() {
                Ok(e) => Ok(*e),
                Err(e) => Err(LayerError::Producer(e)),
            },
            other => Err(other),
        }
    }

    /// A closure turning an [`std::io::Error`] into [`LayerError::Io`] on `path`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> LayerError {
        let path = path.to_path_buf();
        move |source| LayerError::Io { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("No network to fetch `{0}`")]
    struct Offline(String);

    #[test]
    fn a_producer_error_keeps_its_type_and_chain() {
        let err = LayerError::Producer(Box::new(Offline("numpy".into())));
        let source = std::error::Error::source(&err).expect("the producer's error is the source");
        assert_eq!(source.to_string(), "No network to fetch `numpy`");
        assert!(source.downcast_ref::<Offline>().is_some());
        let back: Offline = err.into_producer().expect("taken back whole");
        assert_eq!(back.0, "numpy");
    }

    #[test]
    fn another_error_is_not_taken_for_a_producer_error() {
        let err = LayerError::Producer(Box::new(std::io::Error::other("disk")));
        let err = err.into_producer::<Offline>().unwrap_err();
        assert!(matches!(err, LayerError::Producer(_)));
        let err = LayerError::NotADirectory { path: "x".into() };
        assert!(err.into_producer::<Offline>().is_err());
    }
}
