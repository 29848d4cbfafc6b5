//! Reading an image from an output: the OCI layout (a directory), the oci-archive and the
//! docker-archive (lockship's own, which is also an OCI layout, and the `manifest.json`-only
//! format `docker save` wrote before Docker 25). Files are read in place: from the directory,
//! or from the tar by offset.
//!
//! The reader finds the documents and the blobs; [`crate::validate`] checks each one as it is
//! read, so what [`read_platform_image`] hands out is exactly what its descriptors name.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::blob::{decompressing_reader, hash_reader, sha256_digest, sha256_hex};
use crate::spec::{
    Descriptor, DockerManifestEntry, ImageConfiguration, ImageIndex, ImageLayout, ImageManifest,
    ANNOTATION_REF_NAME, MEDIA_TYPE_DOCKER_LAYER, MEDIA_TYPE_DOCKER_MANIFEST as DOCKER_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST as DOCKER_MANIFEST_LIST, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST,
};
use crate::validate::{self, Schema, ValidatedImage, ValidatedLayer};
use crate::{OciError, Output, Platform};

/// JSON documents larger than this are refused (they would not be written by anyone sane).
const MAX_JSON: u64 = 16 * 1024 * 1024;

/// The layers of a single-image output, as readers of their uncompressed tars, bottom first.
///
/// Blobs are not hashed (use [`validate`](crate::validate) for that). A multi-platform
/// output is refused with [`OciError::MultiPlatform`]; use [`open_platform_layers`] for those.
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
/// someone else made. Everything is checked as [`validate`](crate::validate) checks it
/// first, so the readers yield exactly the bytes their descriptors name.
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
    let entries: Vec<DockerManifestEntry> = parse(store, "manifest.json", &bytes)?;
    let mut available = Vec::new();
    for entry in entries {
        let config_bytes = store.read_small(&entry.config)?;
        let config: ImageConfiguration = parse(store, &entry.config, &config_bytes)?;
        let found = config.platform();
        if &found != platform {
            available.push(found.to_string());
            continue;
        }
        validate::check_layer_count(store, entry.layers.len(), config.rootfs.diff_ids.len())?;
        let mut layers = Vec::new();
        let mut readers = Vec::new();
        for (path, diff_id) in entry.layers.iter().zip(&config.rootfs.diff_ids) {
            let name = path.trim_start_matches("./");
            let (digest, size) = hash_reader(store.open(name)?)
                .map_err(|e| store.invalid(format!("cannot read `{name}`: {e}")))?;
            validate::check_layer_blob(store, name, &digest, size, None, diff_id)?;
            layers.push(ValidatedLayer {
                digest,
                diff_id: diff_id.clone(),
                size,
                media_type: MEDIA_TYPE_DOCKER_LAYER.to_string(),
            });
            readers.push(store.open(name)?);
        }
        let image = ValidatedImage {
            // There is no manifest: name the image by its config, as `docker images` does.
            manifest_digest: sha256_digest(&config_bytes),
            config_digest: sha256_digest(&config_bytes),
            config,
            layers,
            platform: found,
            tags: entry.repo_tags,
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

pub(crate) struct Store {
    pub(crate) path: PathBuf,
    backing: Backing,
}

impl Store {
    pub(crate) fn at(output: &Output) -> Result<Store, OciError> {
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

    pub(crate) fn invalid(&self, what: impl Into<String>) -> OciError {
        OciError::invalid(&self.path, what)
    }

    pub(crate) fn exists(&self, name: &str) -> bool {
        match &self.backing {
            Backing::Dir => self.path.join(name).is_file(),
            Backing::Tar(entries) => entries.contains_key(name),
        }
    }

    pub(crate) fn open(&self, name: &str) -> Result<Box<dyn Read>, OciError> {
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

    pub(crate) fn read_small(&self, name: &str) -> Result<Vec<u8>, OciError> {
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

pub(crate) fn parse<T: for<'de> Deserialize<'de>>(
    store: &Store,
    name: &str,
    bytes: &[u8],
) -> Result<T, OciError> {
    serde_json::from_slice(bytes)
        .map_err(|e| store.invalid(format!("`{name}` is not a valid document: {e}")))
}

/// The blob file for a descriptor digest.
pub(crate) fn blob_name(store: &Store, digest: &str) -> Result<String, OciError> {
    sha256_hex(digest)
        .map(|hex| format!("blobs/sha256/{hex}"))
        .ok_or_else(|| store.invalid(format!("unsupported or malformed digest `{digest}`")))
}

/// Read a small blob and check it against its descriptor.
pub(crate) fn read_blob(store: &Store, desc: &Descriptor) -> Result<(String, Vec<u8>), OciError> {
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

/// An image found in an output: what the validator made of it, and its layer blob files.
pub(crate) struct Resolved {
    pub(crate) validated: ValidatedImage,
    pub(crate) layer_blobs: Vec<String>,
}

/// What was read for one image, for the validator to check.
pub(crate) struct Found<'a> {
    /// The manifest's descriptor (in `index.json` or an image index).
    pub(crate) desc: &'a Descriptor,
    /// The manifest's blob file, and the manifest.
    pub(crate) manifest_blob: String,
    pub(crate) manifest: ImageManifest,
    /// The config's blob file, and the config.
    pub(crate) config_blob: String,
    pub(crate) config: ImageConfiguration,
    /// `org.opencontainers.image.ref.name` annotations on the way to it.
    pub(crate) tags: Vec<String>,
}

/// Every image of an OCI layout (a directory or a tar), each checked by the validator as it is
/// read; with `deep`, every layer blob is hashed, decompressed and checked too.
pub(crate) fn resolve(store: &Store, deep: bool) -> Result<Vec<Resolved>, OciError> {
    let layout = store.read_small("oci-layout")?;
    let layout: ImageLayout = parse(store, "oci-layout", &layout)?;
    validate::check_layout(store, &layout)?;
    let bytes = store.read_small("index.json")?;
    validate::check_schema(store, Schema::LayoutIndex, "index.json", &bytes)?;
    let index: ImageIndex = parse(store, "index.json", &bytes)?;
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
    index: ImageIndex,
    tags: &[String],
    deep: bool,
    depth: usize,
    out: &mut Vec<Resolved>,
) -> Result<(), OciError> {
    validate::check_index(store, name, &index, depth)?;
    for desc in index.manifests {
        let mut tags = tags.to_vec();
        tags.extend(desc.annotations.get(ANNOTATION_REF_NAME).cloned());
        match desc.media_type.as_str() {
            MEDIA_TYPE_MANIFEST | DOCKER_MANIFEST => {
                out.push(read_image(store, &desc, tags, deep)?);
            }
            MEDIA_TYPE_INDEX | DOCKER_MANIFEST_LIST => {
                let (blob, bytes) = read_blob(store, &desc)?;
                validate::check_schema(store, Schema::Index, &blob, &bytes)?;
                let nested: ImageIndex = parse(store, &blob, &bytes)?;
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

/// Read one image: its manifest and config blobs, each checked against its descriptor, parsed
/// and checked by the validator.
fn read_image(
    store: &Store,
    desc: &Descriptor,
    tags: Vec<String>,
    deep: bool,
) -> Result<Resolved, OciError> {
    let (manifest_blob, bytes) = read_blob(store, desc)?;
    validate::check_schema(store, Schema::Manifest, &manifest_blob, &bytes)?;
    let manifest: ImageManifest = parse(store, &manifest_blob, &bytes)?;
    validate::check_manifest(store, desc, &manifest_blob, &manifest)?;
    let (config_blob, config_bytes) = read_blob(store, &manifest.config)?;
    validate::check_schema(store, Schema::Config, &config_blob, &config_bytes)?;
    let config: ImageConfiguration = parse(store, &config_blob, &config_bytes)?;
    let found = Found {
        desc,
        manifest_blob,
        manifest,
        config_blob,
        config,
        tags,
    };
    validate::check_image(store, found, deep)
}
