//! Reading an output back and checking every byte of it.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::blob::{
    decompressing_reader, hash_reader, sha256_digest, sha256_hex, sniff_reader, Magic,
};
use crate::image::{ANNOTATION_REF_NAME, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST};
use crate::{OciError, Output, Platform};

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// JSON documents larger than this are refused (they would not be written by anyone sane).
const MAX_JSON: u64 = 16 * 1024 * 1024;

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
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedImage {
    /// `sha256:<hex>` of the image manifest.
    pub manifest_digest: String,
    /// The image config, parsed.
    pub config: serde_json::Value,
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
    let images = resolve(&store, true)?;
    let mut out = Vec::new();
    for image in images {
        out.push(image.validated);
    }
    if matches!(output, Output::DockerArchive(_)) {
        check_docker_manifest(&store, &mut out)?;
    }
    Ok(out)
}

/// The layers of a single-image output, as readers of their uncompressed tars, bottom first.
///
/// Blobs are not hashed (use [`validate`] for that). A multi-platform output is refused with
/// [`OciError::MultiPlatform`]; use [`open_platform_layers`] for those.
pub fn open_image_layers(output: &Output) -> Result<Vec<Box<dyn Read>>, OciError> {
    let store = Store::at(output)?;
    let mut images = resolve(&store, false)?;
    if images.len() != 1 {
        return Err(OciError::MultiPlatform {
            path: store.path.clone(),
            count: images.len(),
        });
    }
    open_layers(&store, images.remove(0))
}

/// Like [`open_image_layers`], for the image of one platform of a (possibly multi-platform) output.
pub fn open_platform_layers(
    output: &Output,
    platform: &Platform,
) -> Result<Vec<Box<dyn Read>>, OciError> {
    let store = Store::at(output)?;
    let image = resolve(&store, false)?
        .into_iter()
        .find(|i| &i.validated.platform == platform)
        .ok_or_else(|| OciError::PlatformNotFound {
            path: store.path.clone(),
            platform: platform.to_string(),
        })?;
    open_layers(&store, image)
}

/// The image of `platform` in an output, with readers of its layer blobs as
/// stored (compressed), bottom first: what a build needs to stand on an image
/// someone else made. Everything is checked as [`validate`] checks it first,
/// so the readers yield exactly the bytes their descriptors name.
pub fn read_platform_image(
    output: &Output,
    platform: &Platform,
) -> Result<(ValidatedImage, Vec<Box<dyn Read>>), OciError> {
    let store = Store::at(output)?;
    // `docker save` before Docker 25 writes no OCI layout: only `manifest.json`.
    if matches!(output, Output::DockerArchive(_))
        && !store.exists("oci-layout")
        && store.exists("manifest.json")
    {
        return read_legacy_docker(&store, platform);
    }
    let images = resolve(&store, true)?;
    let available: Vec<String> = images
        .iter()
        .map(|i| i.validated.platform.to_string())
        .collect();
    let image = images
        .into_iter()
        .find(|i| &i.validated.platform == platform)
        .ok_or_else(|| OciError::PlatformNotFound {
            path: store.path.clone(),
            platform: format!("{platform} (it has {})", available.join(", ")),
        })?;
    let mut readers = Vec::new();
    for name in &image.layer_blobs {
        readers.push(store.open(name)?);
    }
    Ok((image.validated, readers))
}

/// The legacy `docker save` format: `manifest.json` names a config and
/// uncompressed layer tars, whose digests are their diff_ids.
fn read_legacy_docker(
    store: &Store,
    platform: &Platform,
) -> Result<(ValidatedImage, Vec<Box<dyn Read>>), OciError> {
    let bytes = store.read_small("manifest.json")?;
    let entries: Vec<DockerEntry> = parse(store, "manifest.json", &bytes)?;
    let mut available = Vec::new();
    for entry in entries {
        let config_bytes = store.read_small(&entry.config)?;
        let config: ConfigDe = parse(store, &entry.config, &config_bytes)?;
        let config_value: serde_json::Value = parse(store, &entry.config, &config_bytes)?;
        let found = Platform {
            os: config.os.clone(),
            architecture: config.architecture.clone(),
            variant: config.variant.clone(),
        };
        if &found != platform {
            available.push(found.to_string());
            continue;
        }
        if config.rootfs.diff_ids.len() != entry.layers.len() {
            return Err(store.invalid(format!(
                "`manifest.json` lists {} layers, the config has {} diff_ids",
                entry.layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        let mut layers = Vec::new();
        let mut readers = Vec::new();
        for (path, diff_id) in entry.layers.iter().zip(&config.rootfs.diff_ids) {
            let name = path.trim_start_matches("./");
            let (digest, size) = hash_reader(store.open(name)?)
                .map_err(|e| store.invalid(format!("cannot read `{name}`: {e}")))?;
            check_layer_blob(store, name, &digest, size, None, diff_id)?;
            layers.push(ValidatedLayer {
                digest,
                diff_id: diff_id.clone(),
                size,
                media_type: "application/vnd.docker.image.rootfs.diff.tar".to_string(),
            });
            readers.push(store.open(name)?);
        }
        let image = ValidatedImage {
            // There is no manifest: name the image by its config, as `docker images` does.
            manifest_digest: sha256_digest(&config_bytes),
            config: config_value,
            layers,
            platform: found,
            tags: entry.repo_tags.unwrap_or_default(),
        };
        return Ok((image, readers));
    }
    Err(OciError::PlatformNotFound {
        path: store.path.clone(),
        platform: format!("{platform} (it has {})", available.join(", ")),
    })
}

fn open_layers(store: &Store, image: Resolved) -> Result<Vec<Box<dyn Read>>, OciError> {
    let mut readers = Vec::new();
    for name in image.layer_blobs {
        let raw = store.open(&name)?;
        let (_, reader) = decompressing_reader(raw)
            .map_err(|e| store.invalid(format!("cannot read `{name}`: {e}")))?;
        readers.push(reader);
    }
    Ok(readers)
}

// ---------------------------------------------------------------------------------------------
// Where the files are: a directory or a tar (read in place, by offset).

enum Backing {
    Dir,
    Tar(HashMap<String, (u64, u64)>),
}

struct Store {
    path: PathBuf,
    backing: Backing,
}

impl Store {
    fn at(output: &Output) -> Result<Store, OciError> {
        let path = output.path().to_path_buf();
        let backing = match output {
            Output::OciDir(_) => {
                if !path.is_dir() {
                    return Err(OciError::invalid(&path, "it is not a directory"));
                }
                Backing::Dir
            }
            Output::OciArchive(_) | Output::DockerArchive(_) => Backing::Tar(index_tar(&path)?),
        };
        Ok(Store { path, backing })
    }

    fn invalid(&self, what: impl Into<String>) -> OciError {
        OciError::invalid(&self.path, what)
    }

    fn exists(&self, name: &str) -> bool {
        match &self.backing {
            Backing::Dir => self.path.join(name).is_file(),
            Backing::Tar(entries) => entries.contains_key(name),
        }
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read>, OciError> {
        match &self.backing {
            Backing::Dir => {
                let file = self.path.join(name);
                if !file.is_file() {
                    return Err(self.invalid(format!("`{name}` is missing")));
                }
                let f = fs_err::File::open(&file).map_err(OciError::io(&file))?;
                Ok(Box::new(std::io::BufReader::new(f)))
            }
            Backing::Tar(entries) => {
                let &(offset, size) = entries
                    .get(name)
                    .ok_or_else(|| self.invalid(format!("`{name}` is missing")))?;
                let mut f = fs_err::File::open(&self.path).map_err(OciError::io(&self.path))?;
                f.seek(SeekFrom::Start(offset))
                    .map_err(OciError::io(&self.path))?;
                Ok(Box::new(std::io::BufReader::new(f.take(size))))
            }
        }
    }

    fn read_small(&self, name: &str) -> Result<Vec<u8>, OciError> {
        let mut bytes = Vec::new();
        self.open(name)?
            .take(MAX_JSON + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.invalid(format!("cannot read `{name}`: {e}")))?;
        if bytes.len() as u64 > MAX_JSON {
            return Err(self.invalid(format!("`{name}` is larger than {MAX_JSON} bytes")));
        }
        Ok(bytes)
    }
}

fn index_tar(path: &Path) -> Result<HashMap<String, (u64, u64)>, OciError> {
    let file = fs_err::File::open(path).map_err(OciError::io(path))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let bad = |e: std::io::Error| OciError::invalid(path, format!("not a readable tar: {e}"));
    let mut entries = HashMap::new();
    for entry in archive.entries().map_err(bad)? {
        let entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let name = name.trim_start_matches("./").to_string();
        entries.insert(name, (entry.raw_file_position(), entry.size()));
    }
    Ok(entries)
}

// ---------------------------------------------------------------------------------------------
// The documents.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Desc {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<PlatformDe>,
}

#[derive(Deserialize)]
struct PlatformDe {
    architecture: String,
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexDe {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    manifests: Vec<Desc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestDe {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    config: Desc,
    layers: Vec<Desc>,
}

#[derive(Deserialize)]
struct ConfigDe {
    architecture: String,
    os: String,
    #[serde(default)]
    variant: Option<String>,
    rootfs: RootFsDe,
    #[serde(default)]
    history: Vec<HistoryDe>,
}

#[derive(Deserialize)]
struct RootFsDe {
    #[serde(rename = "type")]
    kind: String,
    diff_ids: Vec<String>,
}

#[derive(Deserialize)]
struct HistoryDe {
    #[serde(default)]
    empty_layer: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn parse<T: for<'de> Deserialize<'de>>(
    store: &Store,
    name: &str,
    bytes: &[u8],
) -> Result<T, OciError> {
    serde_json::from_slice(bytes)
        .map_err(|e| store.invalid(format!("`{name}` is not a valid document: {e}")))
}

/// The blob file for a descriptor digest.
fn blob_name(store: &Store, digest: &str) -> Result<String, OciError> {
    sha256_hex(digest)
        .map(|hex| format!("blobs/sha256/{hex}"))
        .ok_or_else(|| store.invalid(format!("unsupported or malformed digest `{digest}`")))
}

/// Read a small blob and check it against its descriptor.
fn read_blob(store: &Store, desc: &Desc) -> Result<(String, Vec<u8>), OciError> {
    let name = blob_name(store, &desc.digest)?;
    let bytes = store.read_small(&name)?;
    let actual = sha256_digest(&bytes);
    if actual != desc.digest {
        return Err(store.invalid(format!(
            "blob `{name}` has digest `{actual}`, expected `{}`",
            desc.digest
        )));
    }
    if bytes.len() as u64 != desc.size {
        return Err(store.invalid(format!(
            "blob `{name}` has {} bytes, its descriptor says {}",
            bytes.len(),
            desc.size
        )));
    }
    Ok((name, bytes))
}

struct Resolved {
    validated: ValidatedImage,
    layer_blobs: Vec<String>,
}

fn resolve(store: &Store, deep: bool) -> Result<Vec<Resolved>, OciError> {
    let layout = store.read_small("oci-layout")?;
    let layout: serde_json::Value = parse(store, "oci-layout", &layout)?;
    if layout["imageLayoutVersion"] != "1.0.0" {
        return Err(store.invalid("`oci-layout` does not say `imageLayoutVersion` `1.0.0`"));
    }
    let bytes = store.read_small("index.json")?;
    oci_spec::image::ImageIndex::from_reader(&bytes[..])
        .map_err(|e| store.invalid(format!("`index.json` does not follow the OCI schema: {e}")))?;
    let index: IndexDe = parse(store, "index.json", &bytes)?;
    let mut out = Vec::new();
    walk_index(store, "index.json", index, &[], deep, 0, &mut out)?;
    if out.is_empty() {
        return Err(store.invalid("`index.json` lists no image"));
    }
    Ok(out)
}

fn walk_index(
    store: &Store,
    name: &str,
    index: IndexDe,
    tags: &[String],
    deep: bool,
    depth: usize,
    out: &mut Vec<Resolved>,
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
    for desc in index.manifests {
        let mut tags = tags.to_vec();
        tags.extend(desc.annotations.get(ANNOTATION_REF_NAME).cloned());
        match desc.media_type.as_str() {
            MEDIA_TYPE_MANIFEST | DOCKER_MANIFEST => {
                out.push(check_manifest(store, &desc, tags, deep)?);
            }
            MEDIA_TYPE_INDEX | DOCKER_MANIFEST_LIST => {
                let (blob, bytes) = read_blob(store, &desc)?;
                oci_spec::image::ImageIndex::from_reader(&bytes[..]).map_err(|e| {
                    store.invalid(format!(
                        "image index `{blob}` does not follow the OCI schema: {e}"
                    ))
                })?;
                let nested: IndexDe = parse(store, &blob, &bytes)?;
                walk_index(store, &blob, nested, &tags, deep, depth + 1, out)?;
            }
            other => {
                return Err(store.invalid(format!(
                    "`{name}` lists `{}` with unknown mediaType `{other}`",
                    desc.digest
                )))
            }
        }
    }
    Ok(())
}

/// The compression a layer media type promises, for the manifest media type it appears in.
fn layer_magic(manifest_type: &str, layer_type: &str) -> Option<Magic> {
    match (manifest_type, layer_type) {
        (MEDIA_TYPE_MANIFEST, "application/vnd.oci.image.layer.v1.tar") => Some(Magic::Plain),
        (MEDIA_TYPE_MANIFEST, "application/vnd.oci.image.layer.v1.tar+gzip") => Some(Magic::Gzip),
        (MEDIA_TYPE_MANIFEST, "application/vnd.oci.image.layer.v1.tar+zstd") => Some(Magic::Zstd),
        (DOCKER_MANIFEST, "application/vnd.docker.image.rootfs.diff.tar.gzip") => Some(Magic::Gzip),
        (DOCKER_MANIFEST, "application/vnd.docker.image.rootfs.diff.tar") => Some(Magic::Plain),
        _ => None,
    }
}

fn check_manifest(
    store: &Store,
    desc: &Desc,
    tags: Vec<String>,
    deep: bool,
) -> Result<Resolved, OciError> {
    let (mblob, bytes) = read_blob(store, desc)?;
    oci_spec::image::ImageManifest::from_reader(&bytes[..]).map_err(|e| {
        store.invalid(format!(
            "manifest `{mblob}` does not follow the OCI schema: {e}"
        ))
    })?;
    let manifest: ManifestDe = parse(store, &mblob, &bytes)?;
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
            manifest.media_type.unwrap_or_default()
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
    let (cblob, config_bytes) = read_blob(store, &manifest.config)?;
    oci_spec::image::ImageConfiguration::from_reader(&config_bytes[..]).map_err(|e| {
        store.invalid(format!(
            "config `{cblob}` does not follow the OCI schema: {e}"
        ))
    })?;
    let config: ConfigDe = parse(store, &cblob, &config_bytes)?;
    let config_value: serde_json::Value = parse(store, &cblob, &config_bytes)?;
    let platform = Platform {
        os: config.os.clone(),
        architecture: config.architecture.clone(),
        variant: config.variant.clone(),
    };
    if let Some(p) = &desc.platform {
        let described = Platform {
            os: p.os.clone(),
            architecture: p.architecture.clone(),
            variant: p.variant.clone(),
        };
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
            config: config_value,
            layers,
            platform,
            tags,
        },
        layer_blobs,
    })
}

/// Hash a layer file as stored and decompressed; check both against what was recorded.
fn check_layer_blob(
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
    let entries: Vec<DockerEntry> = parse(store, "manifest.json", &bytes)?;
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
        let config_value: serde_json::Value = parse(store, &entry.config, &config)?;
        if config_value != image.config {
            return Err(store.invalid(format!(
                "`manifest.json` Config `{}` (`{config_digest}`) is not the config of manifest `{}`",
                entry.config, image.manifest_digest
            )));
        }
        if entry.layers.len() != image.layers.len() {
            return Err(store.invalid(format!(
                "`manifest.json` lists {} layers, the config has {} diff_ids",
                entry.layers.len(),
                image.layers.len()
            )));
        }
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
        for tag in entry.repo_tags.unwrap_or_default() {
            if !image.tags.contains(&tag) {
                image.tags.push(tag);
            }
        }
    }
    Ok(())
}
