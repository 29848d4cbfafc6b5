//! Pulling: manifests (with platform choice from an index) , configs and blobs.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use lockship_fetch::{Cache, FetchError, Reporter};
use lockship_oci::spec::{
    Descriptor, ImageConfiguration, ImageIndex, Versioned, MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST,
};
use lockship_oci::Platform;
use reqwest::blocking::Response;
use reqwest::{Method, StatusCode};

use crate::client::{header, status_error, Req};
use crate::push::{Blob, BlobSource};
use crate::{sha256_digest, Client, Reference, RegistryError};

/// The largest manifest or index accepted: 4 MiB, as containerd and Docker.
pub const MAX_MANIFEST_SIZE: u64 = 4 * 1024 * 1024;

/// The largest image config accepted: 8 MiB. Configs are JSON of a few KiB (a long history
/// makes some tens of KiB); 8 MiB leaves room while keeping a hostile registry from filling
/// memory.
pub const MAX_CONFIG_SIZE: u64 = 8 * 1024 * 1024;

/// The manifest media types asked for when fetching a manifest.
pub const ACCEPTED_MANIFEST_TYPES: &[&str] = &[
    lockship_oci::MEDIA_TYPE_MANIFEST,
    lockship_oci::MEDIA_TYPE_INDEX,
    MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST,
];

/// A manifest as the registry sent it, its digest verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    /// The exact bytes (their SHA-256 is `digest`).
    pub bytes: Vec<u8>,
    /// The media type (from the document, else the `Content-Type`).
    pub media_type: String,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
}

impl FetchedManifest {
    /// Whether this is an image index or a Docker manifest list.
    pub fn is_index(&self) -> bool {
        self.media_type == lockship_oci::MEDIA_TYPE_INDEX
            || self.media_type == MEDIA_TYPE_DOCKER_MANIFEST_LIST
    }
}

/// A single-platform image manifest resolved from a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    /// The repository, at the manifest's digest.
    pub reference: Reference,
    /// The manifest as fetched.
    pub manifest: FetchedManifest,
    /// The config descriptor.
    pub config: Descriptor,
    /// The layer descriptors, bottom first.
    pub layers: Vec<Descriptor>,
}

impl ImageManifest {
    /// The blobs of this image (layers, then config) as cache entries, for
    /// [`Client::push_manifest`]: media types stay as they were. Fetch them first with
    /// [`Client::fetch_blob_to_cache`].
    pub fn blobs_in(&self, cache: &Cache) -> Vec<Blob> {
        self.layers
            .iter()
            .chain(std::iter::once(&self.config))
            .map(|d| Blob {
                digest: d.digest.clone(),
                size: d.size,
                media_type: d.media_type.clone(),
                source: BlobSource::File(
                    cache.path_for(d.digest.strip_prefix("sha256:").unwrap_or(&d.digest)),
                ),
            })
            .collect()
    }
}

impl Client {
    fn pull_scope(reference: &Reference) -> String {
        format!("repository:{}:pull", reference.repository)
    }

    /// Fetch a manifest (OCI or Docker v2, image or index) and verify its digest against the
    /// reference's digest (if any) and the registry's `Docker-Content-Digest`.
    pub fn fetch_manifest(&self, reference: &Reference) -> Result<FetchedManifest, RegistryError> {
        let url = self.base_url(&reference.registry)?.join(&format!(
            "{}/manifests/{}",
            reference.repository,
            reference.manifest_reference()
        ))?;
        let mut req = Req::new(Method::GET, url.clone(), Self::pull_scope(reference));
        req.headers
            .push(("Accept", ACCEPTED_MANIFEST_TYPES.join(", ")));
        let resp = self.send(&reference.registry, &req)?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::NotFound {
                registry: reference.registry.clone(),
                reference: reference.to_string(),
            });
        }
        if !resp.status().is_success() {
            return Err(status_error(&reference.registry, "GET", &url, resp));
        }
        let content_type = header(&resp, "Content-Type").unwrap_or_default();
        let answered = header(&resp, "Docker-Content-Digest");
        let bytes = read_capped(
            resp,
            &Capped {
                registry: &reference.registry,
                what: &format!("The manifest of `{reference}`"),
                limit: MAX_MANIFEST_SIZE,
                why: "the limit for manifests and indexes (4 MiB)",
                io_name: url.as_str(),
            },
        )?;
        let digest = sha256_digest(&bytes);
        for expected in reference.digest.iter().chain(answered.iter()) {
            if *expected != digest {
                return Err(RegistryError::DigestMismatch {
                    what: format!("the manifest of {reference}"),
                    expected: expected.clone(),
                    actual: digest,
                });
            }
        }
        let doc: Versioned =
            serde_json::from_slice(&bytes).map_err(|e| RegistryError::BadResponse {
                registry: reference.registry.clone(),
                what: format!("GET {url}"),
                message: format!("the manifest is not JSON: {e}"),
            })?;
        let media_type = doc
            .media_type
            .unwrap_or_else(|| content_type.split(';').next().unwrap_or("").trim().into());
        if !ACCEPTED_MANIFEST_TYPES.contains(&media_type.as_str()) {
            return Err(RegistryError::UnsupportedMediaType {
                reference: reference.to_string(),
                media_type,
            });
        }
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// Resolve a reference to the image manifest for `platform`, choosing from an index or
    /// manifest list when the reference names one.
    pub fn resolve_image(
        &self,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<ImageManifest, RegistryError> {
        let mut fetched = self.fetch_manifest(reference)?;
        let mut current = reference.clone();
        if fetched.is_index() {
            let doc: ImageIndex = parse_doc(reference, &fetched)?;
            let chosen = doc
                .manifests
                .iter()
                .find(|m| m.platform.as_ref().is_some_and(|p| p.matches(platform)))
                .ok_or_else(|| RegistryError::PlatformNotFound {
                    reference: reference.to_string(),
                    platform: platform.to_string(),
                    available: doc
                        .manifests
                        .iter()
                        .filter_map(|m| m.platform.as_ref().map(|p| p.to_string()))
                        .collect(),
                })?;
            current = reference.with_digest(&chosen.digest);
            fetched = self.fetch_manifest(&current)?;
            if fetched.is_index() {
                return Err(RegistryError::UnsupportedMediaType {
                    reference: current.to_string(),
                    media_type: format!("{} (an index inside an index)", fetched.media_type),
                });
            }
        }
        let doc: lockship_oci::spec::ImageManifest = parse_doc(&current, &fetched)?;
        Ok(ImageManifest {
            reference: reference.with_digest(&fetched.digest),
            manifest: fetched,
            config: doc.config,
            layers: doc.layers,
        })
    }

    /// Fetch a blob into memory, verifying its digest. At most `limit` bytes are read:
    /// a blob that is larger is refused with [`RegistryError::TooLarge`].
    pub fn fetch_blob_bytes(
        &self,
        reference: &Reference,
        digest: &str,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let what = format!("Blob `{digest}` of `{}`", reference.repository);
        let why = format!("the most accepted for it ({limit} bytes)");
        self.fetch_blob_capped(reference, digest, &what, limit, &why)
    }

    fn fetch_blob_capped(
        &self,
        reference: &Reference,
        digest: &str,
        what: &str,
        limit: u64,
        why: &str,
    ) -> Result<Vec<u8>, RegistryError> {
        let resp = self.open_blob(reference, digest)?;
        let bytes = read_capped(
            resp,
            &Capped {
                registry: &reference.registry,
                what,
                limit,
                why,
                io_name: digest,
            },
        )?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("blob {digest} of {}", reference.repository),
                expected: digest.into(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Fetch and parse an image's config (at most [`MAX_CONFIG_SIZE`] bytes, and no more
    /// than its descriptor says).
    pub fn fetch_config(&self, image: &ImageManifest) -> Result<ImageConfiguration, RegistryError> {
        let what = format!("Config `{}` of `{}`", image.config.digest, image.reference);
        if image.config.size > MAX_CONFIG_SIZE {
            // Its manifest says so: not worth a request.
            return Err(RegistryError::TooLarge {
                registry: image.reference.registry.clone(),
                what,
                limit: MAX_CONFIG_SIZE,
                why: format!(
                    "the limit for image configs (8 MiB); its manifest gives {} bytes",
                    image.config.size
                ),
            });
        }
        let (limit, why) = (image.config.size, "the size its manifest gives");
        let bytes =
            self.fetch_blob_capped(&image.reference, &image.config.digest, &what, limit, why)?;
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::BadResponse {
            registry: image.reference.registry.clone(),
            what: format!("config {}", image.config.digest),
            message: format!("not an image config: {e}"),
        })
    }

    /// Stream the blob of `descriptor` (a layer) into `cache`, or return the cached entry
    /// without a request. Its digest is checked on the way, and no more than the
    /// descriptor's size is read; nothing is stored when either fails.
    pub fn fetch_blob_to_cache(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
        cache: &Cache,
    ) -> Result<PathBuf, RegistryError> {
        let digest = descriptor.digest.as_str();
        let hex =
            digest
                .strip_prefix("sha256:")
                .ok_or_else(|| RegistryError::InvalidReference {
                    input: digest.into(),
                    reason: "only sha256 digests are supported".into(),
                })?;
        let name = format!("blob {}", &hex[..hex.len().min(12)]);
        if let Some(path) = cache.get(hex)? {
            self.reporter.download_done(&name, true);
            return Ok(path);
        }
        let mut attempt = 1;
        let too_large = || RegistryError::TooLarge {
            registry: reference.registry.clone(),
            what: format!("Blob `{digest}` of `{}`", reference.repository),
            limit: descriptor.size,
            why: "the size its manifest gives".into(),
        };
        loop {
            let resp = self.open_blob(reference, digest)?;
            if resp.content_length().is_some_and(|n| n > descriptor.size) {
                return Err(too_large());
            }
            let progress = Progress {
                inner: Box::new(resp),
                reporter: Arc::clone(&self.reporter),
                name: name.clone(),
            };
            let bounded = Bounded {
                inner: progress,
                left: descriptor.size,
            };
            match cache.insert(bounded, Some(hex), &format!("{reference}@{digest}")) {
                Ok((path, _)) => {
                    self.reporter.download_done(&name, false);
                    return Ok(path);
                }
                Err(FetchError::HashMismatch {
                    expected, actual, ..
                }) => {
                    return Err(RegistryError::DigestMismatch {
                        what: format!("blob {digest} of {}", reference.repository),
                        expected: format!("sha256:{expected}"),
                        actual: format!("sha256:{actual}"),
                    })
                }
                Err(FetchError::Io(e)) if Bounded::<Progress>::is_overflow(&e) => {
                    return Err(too_large())
                }
                // A connection that broke mid-body: fetch again.
                Err(FetchError::Io(_)) if attempt <= self.options.retries => {
                    std::thread::sleep(self.options.backoff * attempt);
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn open_blob(&self, reference: &Reference, digest: &str) -> Result<Response, RegistryError> {
        let url = self
            .base_url(&reference.registry)?
            .join(&format!("{}/blobs/{digest}", reference.repository))?;
        let mut req = Req::new(Method::GET, url.clone(), Self::pull_scope(reference));
        req.timeout = Some(self.options.timeout * 60);
        let resp = self.send(&reference.registry, &req)?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::NotFound {
                registry: reference.registry.clone(),
                reference: format!("{}@{digest}", reference.repository),
            });
        }
        if !resp.status().is_success() {
            return Err(status_error(&reference.registry, "GET", &url, resp));
        }
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        let name = format!("blob {}", &hex[..hex.len().min(12)]);
        self.reporter.download_start(&name, resp.content_length());
        Ok(resp)
    }
}

struct Progress {
    inner: Box<dyn Read + Send>,
    reporter: Arc<dyn Reporter>,
    name: String,
}
impl Read for Progress {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.reporter.download_progress(&self.name, n as u64);
        Ok(n)
    }
}

/// A reader that fails once it has given `left` bytes and more arrive.
struct Bounded<R> {
    inner: R,
    left: u64,
}

/// The error [`Bounded`] fails with.
#[derive(Debug)]
struct Overflow;
impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("more bytes than the descriptor's size")
    }
}
impl std::error::Error for Overflow {}

impl<R> Bounded<R> {
    fn is_overflow(e: &std::io::Error) -> bool {
        e.get_ref().is_some_and(|i| i.is::<Overflow>())
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Ask for one byte past the limit, to tell "ends here" from "goes on".
        let room = usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX);
        let want = buf.len().min(room);
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(Overflow));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// What [`read_capped`] reads, for its error.
struct Capped<'a> {
    registry: &'a str,
    what: &'a str,
    limit: u64,
    why: &'a str,
    io_name: &'a str,
}

/// Read a whole answer, refusing it (without reading on) once it passes `cap.limit` bytes.
/// `Content-Length` is only a hint: a larger one fails at once, a smaller one is not trusted.
fn read_capped(resp: Response, cap: &Capped) -> Result<Vec<u8>, RegistryError> {
    let too_large = || RegistryError::TooLarge {
        registry: cap.registry.into(),
        what: cap.what.into(),
        limit: cap.limit,
        why: cap.why.into(),
    };
    if resp.content_length().is_some_and(|n| n > cap.limit) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    resp.take(cap.limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| RegistryError::Io {
            path: PathBuf::from(cap.io_name),
            source: e,
        })?;
    if bytes.len() as u64 > cap.limit {
        return Err(too_large());
    }
    Ok(bytes)
}

fn parse_doc<T: serde::de::DeserializeOwned>(
    reference: &Reference,
    m: &FetchedManifest,
) -> Result<T, RegistryError> {
    serde_json::from_slice(&m.bytes).map_err(|e| RegistryError::BadResponse {
        registry: reference.registry.clone(),
        what: format!("the manifest of {reference}"),
        message: e.to_string(),
    })
}
