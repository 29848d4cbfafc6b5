//! Pulling a `--base-image`: from a registry (by the distribution spec, the
//! platform's image chosen from an index) or from an OCI layout or archive;
//! its blobs land in the content-addressed cache under their own digests and
//! go into the image unchanged, so a registry that has them never receives
//! them again.

use std::path::PathBuf;

use lockship_layer::{Compression, Layer};
use lockship_oci::spec::ImageConfiguration;
use lockship_oci::{Output, Platform};
use lockship_runtime::Context;

use crate::BuildError;

/// Where a base image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseImageSource {
    /// `oci:DIR`, `oci-archive:FILE` or `docker-archive:FILE`.
    Local(Output),
    /// `HOST[:PORT]/REPO[:TAG][@DIGEST]`.
    Registry(lockship_registry::Reference),
}

impl BaseImageSource {
    /// Parses `--base-image REF`: a transport-prefixed path, else a registry reference.
    pub fn parse(input: &str) -> Result<BaseImageSource, BuildError> {
        for transport in ["oci:", "oci-archive:", "docker-archive:"] {
            if input.starts_with(transport) {
                return Ok(BaseImageSource::Local(input.parse()?));
            }
        }
        Ok(BaseImageSource::Registry(
            lockship_registry::Reference::parse(input)?,
        ))
    }
}

impl std::fmt::Display for BaseImageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BaseImageSource::Local(o) => write!(f, "{o}"),
            BaseImageSource::Registry(r) => write!(f, "{r}"),
        }
    }
}

/// A base image for one platform, its blobs in the cache.
#[derive(Debug, Clone)]
pub struct PulledBase {
    /// What the user named.
    pub source: String,
    /// The image manifest's digest where it came from.
    pub manifest_digest: String,
    /// The image config, typed.
    pub config: ImageConfiguration,
    /// The layers, bottom first, as stored (same digests as in the source).
    pub layers: Vec<Layer>,
}

/// Fetches the base image of `platform` into the cache: from a registry with
/// `client`, or from a local layout or archive.
pub fn pull(
    ctx: &Context,
    source: &BaseImageSource,
    platform: &Platform,
    client: Option<&lockship_registry::Client>,
) -> Result<PulledBase, BuildError> {
    match source {
        BaseImageSource::Local(output) => pull_local(ctx, output, platform),
        BaseImageSource::Registry(reference) => {
            let client = client.ok_or_else(|| BuildError::BaseImage {
                source_ref: reference.to_string(),
                reason: "no registry client was configured".into(),
            })?;
            pull_registry(ctx, client, reference, platform)
        }
    }
}

fn compression_of(media_type: &str) -> Option<Compression> {
    if media_type.ends_with("+gzip") || media_type.ends_with(".tar.gzip") {
        Some(Compression::Gzip)
    } else if media_type.ends_with("+zstd") || media_type.ends_with(".tar.zstd") {
        Some(Compression::Zstd)
    } else if media_type.ends_with(".tar") || media_type.ends_with("diff.tar") {
        Some(Compression::None)
    } else {
        None
    }
}

fn layer_of(
    source: &str,
    path: PathBuf,
    media_type: &str,
    digest: &str,
    size: u64,
    diff_id: &str,
) -> Result<Layer, BuildError> {
    let compression = compression_of(media_type).ok_or_else(|| BuildError::BaseImage {
        source_ref: source.to_string(),
        reason: format!("layer `{digest}` has media type `{media_type}`, which is not a tar layer"),
    })?;
    Ok(Layer {
        path,
        digest: digest.to_string(),
        diff_id: diff_id.to_string(),
        size,
        // Counted when the tree is unpacked (see `prepare`).
        uncompressed_size: 0,
        compression,
    })
}

fn pull_local(
    ctx: &Context,
    output: &Output,
    platform: &Platform,
) -> Result<PulledBase, BuildError> {
    ctx.reporter
        .phase(&format!("reading the base image {output}"));
    let (image, readers) = lockship_oci::read_platform_image(output, platform)?;
    let mut layers = Vec::new();
    for (layer, reader) in image.layers.iter().zip(readers) {
        // The blob is hashed on its way into the cache (or when found there)
        // and must have the digest its manifest names; its diff_id is checked
        // when it is unpacked.
        let hex = sha256_hex(&layer.digest).ok_or_else(|| BuildError::BaseImage {
            source_ref: output.to_string(),
            reason: format!("layer `{}` is not named by a sha256 digest", layer.digest),
        })?;
        let path = match ctx.cache.get(hex)? {
            Some(p) => p,
            None => {
                ctx.cache
                    .insert(reader, Some(hex), &format!("{output} {}", layer.digest))?
                    .0
            }
        };
        layers.push(layer_of(
            &output.to_string(),
            path,
            &layer.media_type,
            &layer.digest,
            layer.size,
            &layer.diff_id,
        )?);
    }
    Ok(PulledBase {
        source: output.to_string(),
        manifest_digest: image.manifest_digest,
        config: image.config,
        layers,
    })
}

/// The hex of a `sha256:<64 lowercase hex>` digest.
fn sha256_hex(digest: &str) -> Option<&str> {
    digest.strip_prefix("sha256:").filter(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn pull_registry(
    ctx: &Context,
    client: &lockship_registry::Client,
    reference: &lockship_registry::Reference,
    platform: &Platform,
) -> Result<PulledBase, BuildError> {
    ctx.reporter
        .phase(&format!("resolving the base image {reference}"));
    let manifest = client.resolve_image(reference, platform)?;
    let config = client.fetch_config(&manifest)?;
    if config.architecture != platform.architecture || config.os != platform.os {
        return Err(BuildError::BaseImage {
            source_ref: reference.to_string(),
            reason: format!(
                "its config is for {}/{}, not {platform}",
                config.os, config.architecture
            ),
        });
    }
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(BuildError::BaseImage {
            source_ref: reference.to_string(),
            reason: format!(
                "its manifest has {} layers but its config {} diff_ids",
                manifest.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        });
    }
    let mut layers = Vec::new();
    for (desc, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        let path = client.fetch_blob_to_cache(&manifest.reference, desc, ctx.cache)?;
        layers.push(layer_of(
            &reference.to_string(),
            path,
            &desc.media_type,
            &desc.digest,
            desc.size,
            diff_id,
        )?);
    }
    Ok(PulledBase {
        source: reference.to_string(),
        manifest_digest: manifest.manifest.digest.clone(),
        config,
        layers,
    })
}
