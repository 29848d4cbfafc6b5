//! What goes into an output (a [`Plan`] of files and blobs) and how it is written: as an
//! OCI layout directory or as a deterministic tar of that layout.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use lockship_layer::{Compression, Layer};

use crate::blob::{sha256_digest, sha256_hex};
use crate::spec::{
    to_json, Descriptor, DockerManifestEntry, ImageIndex, ANNOTATION_REF_NAME, MEDIA_TYPE_INDEX,
};
use crate::{Image, OciError};

/// The contents of `oci-layout`.
pub(crate) const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Where a blob's bytes come from.
pub(crate) enum Source {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// Everything an output holds: top-level files and content-addressed blobs.
pub(crate) struct Plan {
    /// `oci-layout`, `index.json`, and for docker-archive `manifest.json`.
    pub(crate) files: BTreeMap<&'static str, Vec<u8>>,
    /// Blobs by sha256 hex, with their size.
    pub(crate) blobs: BTreeMap<String, (Source, u64)>,
    /// The digest to report: the image manifest, or the image index for several platforms.
    pub(crate) digest: String,
}

impl Plan {
    fn new() -> Plan {
        let mut files = BTreeMap::new();
        files.insert("oci-layout", OCI_LAYOUT.to_vec());
        Plan {
            files,
            blobs: BTreeMap::new(),
            digest: String::new(),
        }
    }

    fn add_bytes(&mut self, bytes: Vec<u8>) -> String {
        let digest = sha256_digest(&bytes);
        let hex = digest["sha256:".len()..].to_string();
        let size = bytes.len() as u64;
        self.blobs.insert(hex, (Source::Bytes(bytes), size));
        digest
    }

    fn add_layer(&mut self, layer: &Layer) {
        // `Image::check` has made sure the digest is well-formed.
        let hex = sha256_hex(&layer.digest).unwrap_or_default().to_string();
        self.blobs
            .insert(hex, (Source::File(layer.path.clone()), layer.size));
    }

    /// Add an image's config, manifest and layers; return the manifest's descriptor.
    fn add_image(&mut self, image: &Image) -> Descriptor {
        self.add_bytes(image.config_json());
        for layer in &image.layers {
            self.add_layer(layer);
        }
        self.add_bytes(image.manifest_json());
        image.manifest_descriptor()
    }
}

fn index_json(manifests: Vec<Descriptor>) -> Vec<u8> {
    to_json(&ImageIndex::new(manifests))
}

/// Normalise an image name for use as a reference: check it and add `:latest` when no tag is
/// given (`app` is `app:latest`).
pub fn normalize_tag(tag: &str) -> Result<String, OciError> {
    let bad = |reason| OciError::InvalidTag {
        tag: tag.to_string(),
        reason,
    };
    if tag.is_empty() {
        return Err(bad("it is empty"));
    }
    if tag.contains('@') {
        return Err(bad("a digest reference cannot name a loaded image"));
    }
    if tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains whitespace"));
    }
    let last = tag.rsplit('/').next().unwrap_or(tag);
    let (repo, name_tag) = match last.rfind(':') {
        Some(i) => (&tag[..tag.len() - last.len() + i], Some(&last[i + 1..])),
        None => (tag, None),
    };
    let path = repo.split_once('/').map_or(repo, |(first, rest)| {
        if first.contains(['.', ':']) || first == "localhost" {
            rest
        } else {
            repo
        }
    });
    if path.is_empty() || path.starts_with('/') || path.ends_with('/') || path.contains("//") {
        return Err(bad("the repository name is empty"));
    }
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(bad("repository names must be lowercase"));
    }
    match name_tag {
        Some("") => Err(bad("the tag after `:` is empty")),
        Some(t) if t.len() > 128 => Err(bad("the tag is longer than 128 characters")),
        Some(_) => Ok(tag.to_string()),
        None => Ok(format!("{tag}:latest")),
    }
}

/// Plan an OCI layout (or, with `docker`, a docker-archive) holding one image.
///
/// For docker-archive, zstd layers are decompressed into `scratch` first.
pub(crate) fn plan_single(
    image: &Image,
    tag: Option<&str>,
    docker: bool,
    scratch: Option<&Path>,
) -> Result<Plan, OciError> {
    image.check()?;
    let tag = tag.map(normalize_tag).transpose()?;
    let converted;
    let image = match (docker, scratch) {
        (true, Some(scratch)) => {
            converted = docker_compatible(image, scratch)?;
            &converted
        }
        _ => image,
    };
    let mut plan = Plan::new();
    let mut desc = plan.add_image(image);
    plan.digest = desc.digest.clone();
    if let Some(tag) = &tag {
        desc.annotations
            .insert(ANNOTATION_REF_NAME.to_string(), tag.clone());
    }
    plan.files.insert("index.json", index_json(vec![desc]));
    if docker {
        plan.files
            .insert("manifest.json", docker_manifest(image, tag.as_deref()));
    }
    Ok(plan)
}

/// Plan an OCI layout whose `index.json` points at one image index of several images.
pub(crate) fn plan_index(
    images: &[Image],
    tag: Option<&str>,
    path: &Path,
) -> Result<Plan, OciError> {
    let tag = tag.map(normalize_tag).transpose()?;
    let mut plan = Plan::new();
    let mut manifests = Vec::new();
    for (i, image) in images.iter().enumerate() {
        image.check()?;
        if images[..i]
            .iter()
            .any(|other| other.platform == image.platform)
        {
            return Err(OciError::DuplicatePlatform {
                path: path.to_path_buf(),
                platform: image.platform.to_string(),
            });
        }
        manifests.push(plan.add_image(image));
    }
    let index = index_json(manifests);
    let size = index.len() as u64;
    let digest = plan.add_bytes(index);
    plan.digest = digest.clone();
    let mut desc = Descriptor::new(MEDIA_TYPE_INDEX, digest, size);
    if let Some(tag) = tag {
        desc.annotations
            .insert(ANNOTATION_REF_NAME.to_string(), tag);
    }
    plan.files.insert("index.json", index_json(vec![desc]));
    Ok(plan)
}

fn docker_manifest(image: &Image, tag: Option<&str>) -> Vec<u8> {
    let blob = |digest: &str| format!("blobs/sha256/{}", sha256_hex(digest).unwrap_or_default());
    to_json(&[DockerManifestEntry {
        config: blob(&image.config_digest()),
        repo_tags: tag.into_iter().map(str::to_string).collect(),
        layers: image.layers.iter().map(|l| blob(&l.digest)).collect(),
    }])
}

/// A copy of `image` whose zstd layers are replaced by their uncompressed tars (written to
/// `scratch` and checked against their diff ids): old Docker engines cannot read zstd.
fn docker_compatible(image: &Image, scratch: &Path) -> Result<Image, OciError> {
    let mut out = image.clone();
    for layer in &mut out.layers {
        if layer.compression != Compression::Zstd {
            continue;
        }
        let hex = sha256_hex(&layer.diff_id).unwrap_or_default();
        let target = scratch.join(hex);
        let src = fs_err::File::open(&layer.path).map_err(OciError::io(&layer.path))?;
        let mut decoder =
            zstd::stream::read::Decoder::new(src).map_err(OciError::io(&layer.path))?;
        let file = fs_err::File::create(&target).map_err(OciError::io(&target))?;
        let mut writer = HashingWriter::new(io::BufWriter::new(file));
        io::copy(&mut decoder, &mut writer).map_err(OciError::io(&layer.path))?;
        let (digest, size, inner) = writer.finish();
        inner
            .into_inner()
            .map_err(|e| OciError::io(&target)(e.into_error()))?;
        if digest != layer.diff_id {
            return Err(OciError::DiffIdMismatch {
                path: layer.path.clone(),
                expected: layer.diff_id.clone(),
                actual: digest,
            });
        }
        *layer = Layer {
            path: target,
            digest: layer.diff_id.clone(),
            diff_id: layer.diff_id.clone(),
            size,
            uncompressed_size: size,
            compression: Compression::None,
        };
    }
    Ok(out)
}

struct HashingWriter<W> {
    inner: W,
    hasher: sha2::Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: sha2::Digest::new(),
            count: 0,
        }
    }

    fn finish(self) -> (String, u64, W) {
        let hex = hex::encode(sha2::Digest::finalize(self.hasher));
        (format!("sha256:{hex}"), self.count, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Write the plan as an OCI layout into the (new, empty) directory `dir`. Returns bytes written.
pub(crate) fn write_dir(plan: &Plan, dir: &Path) -> Result<u64, OciError> {
    let blobs = dir.join("blobs").join("sha256");
    fs_err::create_dir_all(&blobs).map_err(OciError::io(&blobs))?;
    let mut total = 0;
    for (hex, (source, size)) in &plan.blobs {
        let target = blobs.join(hex);
        match source {
            Source::Bytes(bytes) => {
                fs_err::write(&target, bytes).map_err(OciError::io(&target))?;
            }
            Source::File(src) => {
                // Same file system: a hard link costs nothing. Otherwise copy.
                if fs_err::hard_link(src, &target).is_err() {
                    fs_err::copy(src, &target).map_err(OciError::io(src))?;
                }
            }
        }
        total += size;
    }
    for (name, bytes) in &plan.files {
        let target = dir.join(name);
        fs_err::write(&target, bytes).map_err(OciError::io(&target))?;
        total += bytes.len() as u64;
    }
    Ok(total)
}

enum TarEntry<'a> {
    Dir,
    Bytes(&'a [u8]),
    File(&'a Path, u64),
}

/// Write the plan as a deterministic tar of the layout: sorted entries, `mtime`, uid/gid 0.
pub(crate) fn write_tar(
    plan: &Plan,
    out: impl Write,
    mtime: u64,
    path: &Path,
) -> Result<(), OciError> {
    let mut entries: BTreeMap<String, TarEntry<'_>> = BTreeMap::new();
    entries.insert("blobs/".to_string(), TarEntry::Dir);
    entries.insert("blobs/sha256/".to_string(), TarEntry::Dir);
    for (hex, (source, size)) in &plan.blobs {
        let entry = match source {
            Source::Bytes(bytes) => TarEntry::Bytes(bytes),
            Source::File(src) => TarEntry::File(src, *size),
        };
        entries.insert(format!("blobs/sha256/{hex}"), entry);
    }
    for (name, bytes) in &plan.files {
        entries.insert(name.to_string(), TarEntry::Bytes(bytes));
    }
    let mut builder = tar::Builder::new(out);
    let mut source_path: Option<&Path> = None;
    let result = (|| -> io::Result<()> {
        for (name, entry) in &entries {
            let mut header = tar::Header::new_ustar();
            header.set_mtime(mtime);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            match entry {
                TarEntry::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    builder.append_data(&mut header, name, io::empty())?;
                }
                TarEntry::Bytes(bytes) => {
                    header.set_size(bytes.len() as u64);
                    builder.append_data(&mut header, name, *bytes)?;
                }
                TarEntry::File(src, size) => {
                    source_path = Some(src);
                    header.set_size(*size);
                    let file = fs_err::File::open(src)?;
                    builder.append_data(&mut header, name, ExactReader::new(file, *size))?;
                    source_path = None;
                }
            }
        }
        builder.into_inner()?.flush()
    })();
    result.map_err(|e| OciError::io(source_path.unwrap_or(path))(e))
}

/// Reads exactly `size` bytes or fails: a blob that changed size must not corrupt the tar.
struct ExactReader<R> {
    inner: io::Take<R>,
    left: u64,
}

impl<R: Read> ExactReader<R> {
    fn new(inner: R, size: u64) -> Self {
        ExactReader {
            inner: inner.take(size),
            left: size,
        }
    }
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("blob is {} bytes shorter than its descriptor", self.left),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised_or_refused() {
        assert_eq!(
            normalize_tag("lockship/python:3.11").unwrap(),
            "lockship/python:3.11"
        );
        assert_eq!(normalize_tag("python").unwrap(), "python:latest");
        assert_eq!(
            normalize_tag("localhost:5000/app").unwrap(),
            "localhost:5000/app:latest"
        );
        assert_eq!(
            normalize_tag("localhost:5000/app:v1").unwrap(),
            "localhost:5000/app:v1"
        );
        for bad in ["", "Python:3", "a b", "x@sha256:00", "app:", "/app"] {
            let err = normalize_tag(bad).unwrap_err();
            assert!(matches!(err, OciError::InvalidTag { .. }), "{bad}: {err}");
            assert!(err.hint().is_some());
        }
    }

    #[test]
    fn exact_reader_fails_on_short_input() {
        let mut out = Vec::new();
        let err = io::copy(&mut ExactReader::new(&b"abc"[..], 5), &mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let mut out = Vec::new();
        io::copy(&mut ExactReader::new(&b"abcdef"[..], 5), &mut out).unwrap();
        assert_eq!(out, b"abcde");
    }
}
