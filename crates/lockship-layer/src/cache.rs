//! A cache of finished layers keyed by a caller-provided string.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{file_digest, Layer, LayerError};

/// Longest accepted key, so `<key>.json` stays a valid file name.
const MAX_KEY_LEN: usize = 200;

/// A cache of finished layers keyed by a caller-provided string (typically a
/// hash of everything that decides the layer's bytes).
///
/// Layout: `<dir>/<key>.json` records a [`Layer`]; blobs built through
/// [`LayerCache::get_or_build`] go to `<dir>/blobs/`. A record counts only
/// while its blob still exists with the recorded size and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerCache {
    dir: PathBuf,
}

impl LayerCache {
    /// A cache in `dir` (created when first written to).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LayerCache { dir: dir.into() }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where [`LayerCache::get_or_build`] asks for blobs to be written.
    pub fn blob_dir(&self) -> PathBuf {
        self.dir.join("blobs")
    }

    /// The layer recorded under `key`, if there is one and its blob is intact
    /// (same size, same digest). A missing, unreadable or stale record is a
    /// miss, not an error.
    ///
    /// # Errors
    ///
    /// [`LayerError::InvalidCacheKey`] if `key` cannot name a file.
    pub fn lookup(&self, key: &str) -> Result<Option<Layer>, LayerError> {
        let record = self.record_path(key)?;
        let Ok(text) = fs_err::read(&record) else {
            return Ok(None);
        };
        let Ok(layer) = serde_json::from_slice::<Layer>(&text) else {
            return Ok(None);
        };
        let intact = fs_err::metadata(&layer.path)
            .is_ok_and(|m| m.is_file() && m.len() == layer.size)
            && file_digest(&layer.path).is_ok_and(|d| d == layer.digest);
        Ok(intact.then_some(layer))
    }

    /// The layer recorded under `key` if it is still intact (`true`: a hit);
    /// otherwise `build(blob_dir)` makes it, and it is recorded (`false`).
    ///
    /// The record is written to a temporary file and renamed into place, so a
    /// crash never leaves a half-written record.
    ///
    /// # Errors
    ///
    /// [`LayerError::InvalidCacheKey`] for a key that cannot name a file, any
    /// error of `build`, and [`LayerError::Io`] if the record cannot be
    /// written.
    pub fn get_or_build(
        &self,
        key: &str,
        build: impl FnOnce(&Path) -> Result<Layer, LayerError>,
    ) -> Result<(Layer, bool), LayerError> {
        if let Some(layer) = self.lookup(key)? {
            return Ok((layer, true));
        }
        let blob_dir = self.blob_dir();
        fs_err::create_dir_all(&blob_dir).map_err(LayerError::io(&blob_dir))?;
        let layer = build(&blob_dir)?;
        self.record(key, &layer)?;
        Ok((layer, false))
    }

    /// Records `layer` under `key` (temporary file, then rename).
    ///
    /// # Errors
    ///
    /// [`LayerError::InvalidCacheKey`] for a bad key, [`LayerError::Json`] or
    /// [`LayerError::Io`] if the record cannot be written.
    pub fn record(&self, key: &str, layer: &Layer) -> Result<(), LayerError> {
        let record = self.record_path(key)?;
        fs_err::create_dir_all(&self.dir).map_err(LayerError::io(&self.dir))?;
        let json = serde_json::to_vec_pretty(layer).map_err(|source| LayerError::Json {
            path: record.clone(),
            source,
        })?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".record-")
            .suffix(".partial")
            .tempfile_in(&self.dir)
            .map_err(LayerError::io(&self.dir))?;
        tmp.write_all(&json).map_err(LayerError::io(tmp.path()))?;
        tmp.persist(&record)
            .map_err(|e| LayerError::io(&record)(e.error))?;
        Ok(())
    }

    /// `<dir>/<key>.json`, after checking the key.
    fn record_path(&self, key: &str) -> Result<PathBuf, LayerError> {
        let ok = !key.is_empty()
            && key.len() <= MAX_KEY_LEN
            && !key.starts_with('.')
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            return Err(LayerError::InvalidCacheKey {
                path: self.dir.clone(),
                key: key.to_string(),
            });
        }
        Ok(self.dir.join(format!("{key}.json")))
    }
}
