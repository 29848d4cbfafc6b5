//! A base's layers flattened (once per chain of layers) into one tree in the
//! cache, with the one hardened flattener, and the base image lockship
//! builds on made from them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lockship_layer::Layer;
use lockship_oci::spec::ImageConfiguration;
use lockship_oci::{History, Image, ImageConfig, Platform};
use lockship_runtime::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::probe::{probe, BaseFacts};
use super::pull::PulledBase;
use crate::error::io_err;
use crate::BuildError;

/// A base image unpacked and probed.
#[derive(Debug, Clone)]
pub struct PreparedBase {
    /// The image: the base's layers (uncompressed sizes filled in), config and history.
    pub image: Image,
    /// The unpacked tree (all layers, whiteouts applied).
    pub tree: PathBuf,
    /// A key naming the tree's content (its layers' chain).
    pub tree_key: String,
    /// Whether the tree was unpacked by an earlier build.
    pub tree_cached: bool,
    /// What is inside.
    pub facts: BaseFacts,
}

/// The layers' chain, as the unpacked tree records it.
#[derive(Serialize, Deserialize)]
struct TreeRecord {
    uncompressed_sizes: Vec<u64>,
    /// The blobs (compressed digests) whose diff_ids were checked when the
    /// tree was made.
    layer_digests: Vec<String>,
}

/// A base image's layers flattened into one tree in the cache.
#[derive(Debug, Clone)]
pub struct BaseTree {
    /// The tree (all layers, whiteouts applied).
    pub path: PathBuf,
    /// What names its content: a hash of the chain of its layers' diff_ids,
    /// each checked against its blob.
    pub key: String,
    /// Whether an earlier run unpacked it.
    pub cached: bool,
    /// Each layer's uncompressed size, bottom first.
    pub uncompressed_sizes: Vec<u64>,
}

/// Flattens the base's layers into a tree in the cache, once per chain of
/// layers, with the one hardened flattener ([`lockship_layer::unpack_layer`]).
///
/// The tree is keyed by diff_ids, and only diff_ids that were checked: each
/// layer's decompressed stream is hashed while it is unpacked into a
/// temporary directory, which is renamed into place only when every layer
/// decompressed to the diff_id the config claims. A tree found in the cache
/// is used only when the blobs it was made from are these blobs, or these
/// blobs decompress to its diff_ids.
pub fn unpack_tree(ctx: &Context, pulled: &PulledBase) -> Result<BaseTree, BuildError> {
    let mut chain = Sha256::new();
    // v2: trees of v1 were keyed by diff_ids nobody had checked.
    chain.update(b"lockship-base-tree-v2\0");
    for layer in &pulled.layers {
        chain.update(format!("{}\0", layer.diff_id));
    }
    let key = hex::encode(chain.finalize());
    let tree = ctx.cache.keyed_dir("base-image-tree", &key);
    let record_path = tree.with_extension("json");
    let digests: Vec<String> = pulled.layers.iter().map(|l| l.digest.clone()).collect();
    let record = std::fs::read(&record_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<TreeRecord>(&b).ok())
        .filter(|r| r.uncompressed_sizes.len() == pulled.layers.len() && tree.is_dir());
    if let Some(record) = record {
        if record.layer_digests != digests {
            // Other blobs that claim the same diff_ids: they must decompress to them.
            for layer in &pulled.layers {
                let blob = fs_err::File::open(&layer.path).map_err(io_err("read", &layer.path))?;
                lockship_layer::check_diff_id(blob, &layer.digest, &layer.diff_id)?;
            }
        }
        return Ok(BaseTree {
            path: tree,
            key,
            cached: true,
            uncompressed_sizes: record.uncompressed_sizes,
        });
    }
    ctx.reporter.phase(&format!(
        "unpacking the {} layers of the base image",
        pulled.layers.len()
    ));
    // Dropped (and removed) on any error: nothing unchecked reaches the cache.
    let tmp = ctx.cache.temp_dir()?;
    let root = tmp.path().join("rootfs");
    let mut sizes = Vec::new();
    for layer in &pulled.layers {
        sizes.push(unpack_with_whiteouts(layer, &root)?);
    }
    if let Some(parent) = tree.parent() {
        fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    if let Err(e) = std::fs::rename(&root, &tree) {
        // Another build put the same checked tree there first: keep theirs.
        if !tree.is_dir() {
            return Err(io_err("rename", &tree)(e));
        }
    }
    let bytes = serde_json::to_vec(&TreeRecord {
        uncompressed_sizes: sizes.clone(),
        layer_digests: digests,
    })
    .unwrap_or_default();
    let tmp_record = tmp.path().join("record.json");
    fs_err::write(&tmp_record, bytes).map_err(io_err("write", &tmp_record))?;
    fs_err::rename(&tmp_record, &record_path).map_err(io_err("rename", &record_path))?;
    ctx.reporter.phase("");
    Ok(BaseTree {
        path: tree,
        key,
        cached: false,
        uncompressed_sizes: sizes,
    })
}

/// Unpacks the base (once per chain of layers) and probes it. `want_python`
/// is the Python the user asked for, if any: a base with another one is an error.
pub fn prepare(
    ctx: &Context,
    pulled: &PulledBase,
    platform: &Platform,
    want_python: Option<&str>,
    epoch: u64,
) -> Result<PreparedBase, BuildError> {
    let BaseTree {
        path: tree,
        key: tree_key,
        cached: tree_cached,
        uncompressed_sizes: sizes,
    } = unpack_tree(ctx, pulled)?;
    let mut layers = pulled.layers.clone();
    for (layer, size) in layers.iter_mut().zip(sizes) {
        layer.uncompressed_size = size;
    }
    let facts = probe(&tree, pulled, platform, want_python)?;
    let image = Image {
        platform: platform.clone(),
        config: image_config(&pulled.config),
        layers,
        history: history(&pulled.config, pulled.layers.len(), &pulled.source),
        created: epoch,
        annotations: BTreeMap::from([
            (
                "org.opencontainers.image.base.name".to_string(),
                pulled.source.clone(),
            ),
            (
                "org.opencontainers.image.base.digest".to_string(),
                pulled.manifest_digest.clone(),
            ),
        ]),
    };
    Ok(PreparedBase {
        image,
        tree,
        tree_key,
        tree_cached,
        facts,
    })
}

/// The base config's run-time settings, which the build's own settings then override.
fn image_config(config: &ImageConfiguration) -> ImageConfig {
    let c = &config.config;
    let set = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    ImageConfig {
        user: set(&c.user),
        env: c.env.clone(),
        entrypoint: c.entrypoint.clone(),
        cmd: c.cmd.clone(),
        working_dir: set(&c.working_dir),
        labels: c.labels.clone(),
        exposed_ports: c.exposed_ports.keys().cloned().collect(),
        stop_signal: c.stop_signal.clone(),
    }
}

/// The base's history, or, when it has none that matches its layers, one
/// entry per layer (the layers lockship adds get entries, and the spec wants
/// the non-empty entries to match the layers one to one).
fn history(config: &ImageConfiguration, layers: usize, source: &str) -> Vec<History> {
    let entries: Vec<History> = config
        .history
        .iter()
        .map(|h| History {
            created_by: h.created_by.clone().unwrap_or_default(),
            comment: h.comment.clone(),
            empty_layer: h.empty_layer,
        })
        .collect();
    if entries.iter().filter(|h| !h.empty_layer).count() == layers {
        return entries;
    }
    (0..layers)
        .map(|i| History::layer(format!("layer {} of the base image {source}", i + 1)))
        .collect()
}

/// Unpacks one layer over `root` with the one hardened flattener
/// ([`lockship_layer::unpack_layer`]): whiteouts applied, every path resolved
/// inside `root`, the decompressed stream checked against the layer's
/// diff_id. Returns the uncompressed size.
pub(crate) fn unpack_with_whiteouts(layer: &Layer, root: &Path) -> Result<u64, BuildError> {
    let blob = fs_err::File::open(&layer.path).map_err(io_err("read", &layer.path))?;
    let unpacked = lockship_layer::unpack_layer(
        std::io::BufReader::new(blob),
        &layer.digest,
        root,
        &layer.diff_id,
    )?;
    Ok(unpacked.uncompressed_size)
}
/// The one layer of lockship's Debian runtime unpacked once into the cache
/// ([`base_layers_tree`]).
pub fn base_tree(ctx: &Context, layer: &lockship_layer::Layer) -> Result<PathBuf, BuildError> {
    base_layers_tree(ctx, std::slice::from_ref(layer)).map(|(tree, _)| tree)
}

/// The base's layers unpacked once into the cache (its interpreter compiles
/// bytecode; libdeps looks up libraries in it), so its interpreter can
/// compile bytecode for the layers above it. Returns the tree and the key
/// naming its content (the one layer's diff_id, or a hash of the chain).
/// lockship's own bases hold no whiteouts.
pub fn base_layers_tree(
    ctx: &Context,
    layers: &[lockship_layer::Layer],
) -> Result<(PathBuf, String), BuildError> {
    let key = match layers {
        [one] => one.diff_id.clone(),
        _ => {
            let mut chain = Sha256::new();
            chain.update(b"lockship-base-layers-v1\0");
            for layer in layers {
                chain.update(format!("{}\0", layer.diff_id));
            }
            format!("sha256:{}", hex::encode(chain.finalize()))
        }
    };
    let dir = ctx
        .cache
        .keyed_dir("base-tree", key.trim_start_matches("sha256:"));
    if dir.is_dir() {
        return Ok((dir, key));
    }
    let tmp = ctx.cache.temp_dir()?;
    for layer in layers {
        let reader = lockship_layer::open_layer_tar(&layer.path)?;
        let mut archive = tar::Archive::new(reader);
        archive.set_preserve_permissions(true);
        archive.set_overwrite(true);
        archive
            .unpack(tmp.path())
            .map_err(io_err("unpack", &layer.path))?;
    }
    if let Some(parent) = dir.parent() {
        fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    let kept = tmp.keep();
    if let Err(e) = std::fs::rename(&kept, &dir) {
        let _ = std::fs::remove_dir_all(&kept);
        if !dir.is_dir() {
            return Err(io_err("rename", &dir)(e));
        }
    }
    Ok((dir, key))
}
