//! Checking every byte of an output: documents, blobs, digests, sizes, media types and
//! diff ids. The reading is [`crate::source`]'s; it calls these checks as it reads.

use crate::blob::{decompressing_reader, hash_reader, sha256_digest, sniff_reader, Magic};
use crate::source::{self, blob_name, parse, Found, Resolved, Store};
use crate::spec::{
    Descriptor, DockerManifestEntry, ImageConfiguration, ImageIndex, ImageLayout, ImageManifest,
    MEDIA_TYPE_CONFIG, MEDIA_TYPE_DOCKER_CONFIG as DOCKER_CONFIG, MEDIA_TYPE_DOCKER_LAYER,
    MEDIA_TYPE_DOCKER_LAYER_GZIP, MEDIA_TYPE_DOCKER_MANIFEST as DOCKER_MANIFEST, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST,
};
use crate::{OciError, Output, Platform};

/// One layer of a validated image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedLayer {
    /// `sha256:<hex>` of the blob as stored.
    pub digest: String,
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
    /// Size of the blob as stored.
    pub size: u64,
    /// The descriptor's media type.
    pub media_type: String,
}

/// What [`validate`] found in a valid output, one per image (platform).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedImage {
    /// `sha256:<hex>` of the image manifest.
    pub manifest_digest: String,
    /// `sha256:<hex>` of the image config.
    pub config_digest: String,
    /// The image config, parsed.
    pub config: ImageConfiguration,
    /// The layers, bottom first.
    pub layers: Vec<ValidatedLayer>,
    /// The platform from the config.
    pub platform: Platform,
    /// Tags: `org.opencontainers.image.ref.name` annotations, and docker-archive `RepoTags`.
    pub tags: Vec<String>,
}

/// Read an output back and check everything; return what it holds.
///
/// Checks: `oci-layout`; `index.json` → (image index →) manifest → config; every blob's sha256
/// and size equal its descriptor; media types are known and consistent (and match the blob's
/// compression); `rootfs.diff_ids[i]` is the sha256 of decompressed layer `i`; the non-empty
/// history entries (if there is a history) are as many as the layers; a descriptor's platform
/// matches its config. For docker-archive also `manifest.json`: its `Config` and `Layers` exist
/// and match the config and its diff ids. Any mismatch is an [`OciError::Invalid`] naming the
/// file or blob.
pub fn validate(output: &Output) -> Result<Vec<ValidatedImage>, OciError> {
    let store = Store::at(output)?;
    let images = source::resolve(&store, true)?;
    let mut out = Vec::new();
    for image in images {
        out.push(image.validated);
    }
    if matches!(output, Output::DockerArchive(_)) {
        check_docker_manifest(&store, &mut out)?;
    }
    Ok(out)
}

/// The schema a document is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Schema {
    /// The layout's `index.json`.
    LayoutIndex,
    /// An image index blob.
    Index,
    /// An image manifest blob.
    Manifest,
    /// An image config blob.
    Config,
}

/// Check a document against the OCI schema (`oci-spec`) before it is parsed.
pub(crate) fn check_schema(
    store: &Store,
    schema: Schema,
    name: &str,
    bytes: &[u8],
) -> Result<(), OciError> {
    use oci_spec::image as oci;
    let (what, result) = match schema {
        Schema::LayoutIndex => ("", oci::ImageIndex::from_reader(bytes).map(drop)),
        Schema::Index => (
            "image index ",
            oci::ImageIndex::from_reader(bytes).map(drop),
        ),
        Schema::Manifest => (
            "manifest ",
            oci::ImageManifest::from_reader(bytes).map(drop),
        ),
        Schema::Config => (
            "config ",
            oci::ImageConfiguration::from_reader(bytes).map(drop),
        ),
    };
    result.map_err(|e| {
        store.invalid(format!(
            "{what}`{name}` does not follow the OCI schema: {e}"
        ))
    })
}

/// Check the `oci-layout` file.
pub(crate) fn check_layout(store: &Store, layout: &ImageLayout) -> Result<(), OciError> {
    if layout.image_layout_version != "1.0.0" {
        return Err(store.invalid("`oci-layout` does not say `imageLayoutVersion` `1.0.0`"));
    }
    Ok(())
}

/// Check that a docker-archive's `manifest.json` entry lists as many layers as its config has
/// diff ids.
pub(crate) fn check_layer_count(
    store: &Store,
    layers: usize,
    diff_ids: usize,
) -> Result<(), OciError> {
    if layers != diff_ids {
        return Err(store.invalid(format!(
            "`manifest.json` lists {layers} layers, the config has {diff_ids} diff_ids"
        )));
    }
    Ok(())
}

/// Check an image index (`index.json` or a nested one) at nesting `depth`.
pub(crate) fn check_index(
    store: &Store,
    name: &str,
    index: &ImageIndex,
    depth: usize,
) -> Result<(), OciError> {
    if index.schema_version != 2 {
        return Err(store.invalid(format!(
            "`{name}` has schemaVersion {}",
            index.schema_version
        )));
    }
    if let Some(mt) = &index.media_type {
        if mt != MEDIA_TYPE_INDEX {
            return Err(store.invalid(format!(
                "`{name}` has mediaType `{mt}`, expected `{MEDIA_TYPE_INDEX}`"
            )));
        }
    }
    if depth > 4 {
        return Err(store.invalid(format!("`{name}` nests image indexes too deep")));
    }
    Ok(())
}

/// Check a manifest against its descriptor: schema version, media type, config media type.
pub(crate) fn check_manifest(
    store: &Store,
    desc: &Descriptor,
    mblob: &str,
    manifest: &ImageManifest,
) -> Result<(), OciError> {
    if manifest.schema_version != 2 {
        return Err(store.invalid(format!(
            "manifest `{mblob}` has schemaVersion {}",
            manifest.schema_version
        )));
    }
    let mtype = desc.media_type.as_str();
    if manifest.media_type.as_deref().is_some_and(|m| m != mtype) {
        return Err(store.invalid(format!(
            "manifest `{mblob}` has mediaType `{}`, but its descriptor says `{mtype}`",
            manifest.media_type.as_deref().unwrap_or_default()
        )));
    }
    let config_type = if mtype == MEDIA_TYPE_MANIFEST {
        MEDIA_TYPE_CONFIG
    } else {
        DOCKER_CONFIG
    };
    if manifest.config.media_type != config_type {
        return Err(store.invalid(format!(
            "manifest `{mblob}` has config mediaType `{}`, expected `{config_type}`",
            manifest.config.media_type
        )));
    }
    Ok(())
}

/// Check an image's config against its manifest and descriptor, and its layers (every blob
/// hashed, sniffed and decompressed when `deep`).
pub(crate) fn check_image(store: &Store, found: Found, deep: bool) -> Result<Resolved, OciError> {
    let Found {
        desc,
        manifest_blob: mblob,
        manifest,
        config_blob: cblob,
        config,
        tags,
    } = found;
    let mtype = desc.media_type.as_str();
    let platform = config.platform();
    if let Some(p) = &desc.platform {
        let described = Platform::from(p.clone());
        if described != platform {
            return Err(store.invalid(format!(
                "manifest `{mblob}` is listed for platform `{described}`, but its config `{cblob}` is `{platform}`"
            )));
        }
    }
    if config.rootfs.kind != "layers" {
        return Err(store.invalid(format!(
            "config `{cblob}` has rootfs type `{}`, expected `layers`",
            config.rootfs.kind
        )));
    }
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(store.invalid(format!(
            "manifest `{mblob}` has {} layers, but config `{cblob}` has {} diff_ids",
            manifest.layers.len(),
            diff_ids.len()
        )));
    }
    let non_empty = config.history.iter().filter(|h| !h.empty_layer).count();
    if !config.history.is_empty() && non_empty != diff_ids.len() {
        return Err(store.invalid(format!(
            "config `{cblob}` has {non_empty} non-empty history entries for {} layers",
            diff_ids.len()
        )));
    }
    let mut layers = Vec::new();
    let mut layer_blobs = Vec::new();
    for (i, (layer, diff_id)) in manifest.layers.iter().zip(diff_ids).enumerate() {
        let name = blob_name(store, &layer.digest)?;
        let magic = layer_magic(mtype, &layer.media_type).ok_or_else(|| {
            store.invalid(format!(
                "layer {i} `{name}` has unknown mediaType `{}` for `{mtype}`",
                layer.media_type
            ))
        })?;
        if !store.exists(&name) {
            return Err(store.invalid(format!("layer {i} `{name}` is missing")));
        }
        if deep {
            check_layer_blob(
                store,
                &name,
                &layer.digest,
                layer.size,
                Some(magic),
                diff_id,
            )?;
        }
        layers.push(ValidatedLayer {
            digest: layer.digest.clone(),
            diff_id: diff_id.clone(),
            size: layer.size,
            media_type: layer.media_type.clone(),
        });
        layer_blobs.push(name);
    }
    Ok(Resolved {
        validated: ValidatedImage {
            manifest_digest: desc.digest.clone(),
            config_digest: manifest.config.digest.clone(),
            config,
            layers,
            platform,
            tags,
        },
        layer_blobs,
    })
}

/// The compression a layer media type promises, for the manifest media type it appears in.
fn layer_magic(manifest_type: &str, layer_type: &str) -> Option<Magic> {
    match (manifest_type, layer_type) {
        (MEDIA_TYPE_MANIFEST, "application/vnd.oci.image.layer.v1.tar") => Some(Magic::Plain),
        (MEDIA_TYPE_MANIFEST, "application/vnd.oci.image.layer.v1.tar+gzip") => Some(Magic::Gzip),
        (MEDIA_TYPE_MANIFEST, "application/vnd.oci.image.layer.v1.tar+zstd") => Some(Magic::Zstd),
        (DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_LAYER_GZIP) => Some(Magic::Gzip),
        (DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_LAYER) => Some(Magic::Plain),
        _ => None,
    }
}

/// Hash a layer file as stored and decompressed; check both against what was recorded.
pub(crate) fn check_layer_blob(
    store: &Store,
    name: &str,
    digest: &str,
    size: u64,
    magic: Option<Magic>,
    diff_id: &str,
) -> Result<(), OciError> {
    let read_err = |e: std::io::Error| store.invalid(format!("cannot read `{name}`: {e}"));
    let (actual, actual_size) = hash_reader(store.open(name)?).map_err(read_err)?;
    if actual != digest {
        return Err(store.invalid(format!(
            "blob `{name}` has digest `{actual}`, expected `{digest}`"
        )));
    }
    if actual_size != size {
        return Err(store.invalid(format!(
            "blob `{name}` has {actual_size} bytes, its descriptor says {size}"
        )));
    }
    let found = sniff_reader(store.open(name)?).map_err(read_err)?;
    if let Some(expected) = magic {
        if found != expected {
            return Err(store.invalid(format!(
                "blob `{name}` is {found:?}-compressed, but its mediaType says {expected:?}"
            )));
        }
    }
    let (_, reader) = decompressing_reader(store.open(name)?).map_err(read_err)?;
    let (uncompressed, _) = hash_reader(reader)
        .map_err(|e| store.invalid(format!("blob `{name}` does not decompress: {e}")))?;
    if uncompressed != diff_id {
        return Err(store.invalid(format!(
            "blob `{name}` decompresses to `{uncompressed}`, but the config's diff_id is `{diff_id}`"
        )));
    }
    Ok(())
}

fn check_docker_manifest(store: &Store, images: &mut [ValidatedImage]) -> Result<(), OciError> {
    let bytes = store.read_small("manifest.json")?;
    let entries: Vec<DockerManifestEntry> = parse(store, "manifest.json", &bytes)?;
    if entries.len() != images.len() {
        return Err(store.invalid(format!(
            "`manifest.json` lists {} images, `index.json` {}",
            entries.len(),
            images.len()
        )));
    }
    for (entry, image) in entries.into_iter().zip(images.iter_mut()) {
        let config = store.read_small(&entry.config)?;
        let config_digest = sha256_digest(&config);
        if config_digest != image.config_digest {
            return Err(store.invalid(format!(
                "`manifest.json` Config `{}` (`{config_digest}`) is not the config of manifest `{}`",
                entry.config, image.manifest_digest
            )));
        }
        check_layer_count(store, entry.layers.len(), image.layers.len())?;
        for (path, layer) in entry.layers.iter().zip(&image.layers) {
            let name = path.trim_start_matches("./");
            if !store.exists(name) {
                return Err(store.invalid(format!("`manifest.json` layer `{name}` is missing")));
            }
            // A layer that is the OCI blob was checked already; anything else is checked here.
            if blob_name(store, &layer.digest)? != name {
                let (digest, size) = hash_reader(store.open(name)?)
                    .map_err(|e| store.invalid(format!("cannot read `{name}`: {e}")))?;
                check_layer_blob(store, name, &digest, size, None, &layer.diff_id)?;
            }
        }
        for tag in entry.repo_tags {
            if !image.tags.contains(&tag) {
                image.tags.push(tag);
            }
        }
    }
    Ok(())
}
