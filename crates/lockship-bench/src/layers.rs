//! The compressed size of an image the engine holds, from `docker save`.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::BenchError;

/// What a `docker save` stream says about its image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedSizes {
    /// Every distinct layer gzipped (default level, as a push does), summed.
    pub compressed_bytes: u64,
    /// The uncompressed layer tars, summed.
    pub layer_tar_bytes: u64,
    /// The layers the manifest lists.
    pub layers: usize,
}

/// Counts bytes written.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads a `docker save` tar (the legacy `<id>/layer.tar` layout, or the
/// OCI `blobs/sha256/…` layout of newer engines) once, gzipping each layer
/// as it streams by. Layers stored twice (symlinks) count once.
pub fn docker_save_sizes(stream: impl Read) -> Result<SavedSizes, BenchError> {
    let err = |e: io::Error| BenchError::SaveStream {
        detail: e.to_string(),
    };
    let mut archive = tar::Archive::new(stream);
    let mut sizes: Vec<(String, u64, u64)> = Vec::new();
    let mut manifest: Option<serde_json::Value> = None;
    for entry in archive.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(err)?.to_string_lossy().into_owned();
        if path == "manifest.json" {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(err)?;
            manifest = serde_json::from_str(&text).ok();
            continue;
        }
        let candidate = path.ends_with("/layer.tar") || path.starts_with("blobs/");
        if !candidate {
            continue;
        }
        let mut gz = GzEncoder::new(Counter(0), Compression::default());
        let raw = io::copy(&mut entry, &mut gz).map_err(err)?;
        let compressed = gz.finish().map_err(err)?.0;
        sizes.push((path, raw, compressed));
    }
    let manifest = manifest.ok_or_else(|| BenchError::SaveStream {
        detail: "no manifest.json".into(),
    })?;
    let listed: Vec<String> = manifest[0]["Layers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let distinct: BTreeSet<&String> = listed.iter().collect();
    let (mut compressed_bytes, mut layer_tar_bytes) = (0, 0);
    for (path, raw, compressed) in &sizes {
        if distinct.contains(path) {
            compressed_bytes += compressed;
            layer_tar_bytes += raw;
        }
    }
    Ok(SavedSizes {
        compressed_bytes,
        layer_tar_bytes,
        layers: listed.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append_data(&mut h, path, data).unwrap();
    }

    #[test]
    fn gzips_the_listed_layers_only() {
        let mut b = tar::Builder::new(Vec::new());
        let layer = vec![b'a'; 100_000];
        add(&mut b, "aaa/layer.tar", &layer);
        add(&mut b, "bbb/layer.tar", b"tiny");
        add(&mut b, "ccc/layer.tar", b"not listed");
        add(&mut b, "config.json", b"{}");
        add(
            &mut b,
            "manifest.json",
            br#"[{"Config":"config.json","Layers":["aaa/layer.tar","bbb/layer.tar","aaa/layer.tar"]}]"#,
        );
        let bytes = b.into_inner().unwrap();
        let s = docker_save_sizes(&bytes[..]).unwrap();
        assert_eq!(s.layers, 3);
        assert_eq!(s.layer_tar_bytes, 100_004);
        // 100 kB of one byte gzips to well under 1 kB; "tiny" gets a header.
        assert!(
            s.compressed_bytes > 20 && s.compressed_bytes < 1_000,
            "{s:?}"
        );
    }

    #[test]
    fn a_stream_without_manifest_is_an_error() {
        let mut b = tar::Builder::new(Vec::new());
        add(&mut b, "aaa/layer.tar", b"x");
        let bytes = b.into_inner().unwrap();
        assert!(docker_save_sizes(&bytes[..]).is_err());
    }
}
