//! Pulling: manifests (with platform choice from an index) , configs and blobs.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use lockship_fetch::{Cache, FetchError, Reporter};
use lockship_oci::Platform;
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::client::{header, status_error, Req};
use crate::push::{Blob, BlobSource};
use crate::{sha256_digest, Client, Reference, RegistryError};

/// `application/vnd.docker.distribution.manifest.v2+json`
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// `application/vnd.docker.distribution.manifest.list.v2+json`
pub const MEDIA_TYPE_DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// `application/vnd.docker.container.image.v1+json`
pub const MEDIA_TYPE_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// `application/vnd.docker.image.rootfs.diff.tar.gzip`
pub const MEDIA_TYPE_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

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

/// A platform as written in an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PlatformDescriptor {
    /// `amd64`, `arm64`, `arm`...
    pub architecture: String,
    /// `linux`...
    pub os: String,
    /// `v7`, `v8`...
    #[serde(default)]
    pub variant: Option<String>,
}

impl std::fmt::Display for PlatformDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A content descriptor (config, layer or index entry).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type, kept as the registry wrote it (Docker or OCI).
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// The platform (index entries only).
    #[serde(default)]
    pub platform: Option<PlatformDescriptor>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestDoc {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
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

/// The parts of an image config lockship reads (the whole document is in `raw`).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageConfigInfo {
    /// The config's `architecture`.
    pub architecture: String,
    /// The config's `os`.
    pub os: String,
    /// `config.Env`, as `KEY=value`.
    pub env: Vec<String>,
    /// `rootfs.diff_ids`.
    pub diff_ids: Vec<String>,
    /// The whole document.
    pub raw: serde_json::Value,
}

impl ImageConfigInfo {
    /// The value of an environment variable in `config.Env` (e.g. `PYTHON_VERSION`).
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v)
        })
    }
}

fn platform_matches(p: &PlatformDescriptor, want: &Platform) -> bool {
    let variant = |v: Option<&str>, arch: &str| match (arch, v) {
        ("arm64", None) => Some("v8".to_string()),
        ("arm", None) => Some("v7".to_string()),
        (_, v) => v.map(str::to_string),
    };
    p.os == want.os
        && p.architecture == want.architecture
        && variant(p.variant.as_deref(), &p.architecture)
            == variant(want.variant.as_deref(), &want.architecture)
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
        let bytes = resp.bytes().map_err(|source| RegistryError::Unreachable {
            registry: reference.registry.clone(),
            method: "GET".into(),
            url: url.to_string(),
            attempts: 1,
            source,
        })?;
        let bytes = bytes.to_vec();
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
        let doc: ManifestDoc =
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
            let doc = parse_doc(reference, &fetched)?;
            let chosen = doc
                .manifests
                .iter()
                .find(|m| {
                    m.platform
                        .as_ref()
                        .is_some_and(|p| platform_matches(p, platform))
                })
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
        let doc = parse_doc(&current, &fetched)?;
        let config = doc.config.ok_or_else(|| RegistryError::BadResponse {
            registry: reference.registry.clone(),
            what: format!("the manifest of {current}"),
            message: "it has no `config`".into(),
        })?;
        Ok(ImageManifest {
            reference: reference.with_digest(&fetched.digest),
            manifest: fetched,
            config,
            layers: doc.layers,
        })
    }

    /// Fetch a blob into memory, verifying its digest.
    pub fn fetch_blob_bytes(
        &self,
        reference: &Reference,
        digest: &str,
    ) -> Result<Vec<u8>, RegistryError> {
        let mut reader = self.open_blob(reference, digest)?;
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| RegistryError::Io {
                path: PathBuf::from(digest),
                source: e,
            })?;
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

    /// Fetch and parse an image's config.
    pub fn fetch_config(&self, image: &ImageManifest) -> Result<ImageConfigInfo, RegistryError> {
        let bytes = self.fetch_blob_bytes(&image.reference, &image.config.digest)?;
        let raw: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| RegistryError::BadResponse {
                registry: image.reference.registry.clone(),
                what: format!("config {}", image.config.digest),
                message: format!("not JSON: {e}"),
            })?;
        let strings = |v: Option<&serde_json::Value>| -> Vec<String> {
            v.and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(ImageConfigInfo {
            architecture: raw["architecture"].as_str().unwrap_or("").into(),
            os: raw["os"].as_str().unwrap_or("").into(),
            env: strings(raw.get("config").and_then(|c| c.get("Env"))),
            diff_ids: strings(raw.get("rootfs").and_then(|r| r.get("diff_ids"))),
            raw,
        })
    }

    /// Stream a blob into `cache` (hash checked on the way; nothing stored on mismatch),
    /// or return the cached entry without a request.
    pub fn fetch_blob_to_cache(
        &self,
        reference: &Reference,
        digest: &str,
        cache: &Cache,
    ) -> Result<PathBuf, RegistryError> {
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
        loop {
            let reader = self.open_blob(reference, digest)?;
            let progress = Progress {
                inner: reader,
                reporter: Arc::clone(&self.reporter),
                name: name.clone(),
            };
            match cache.insert(progress, Some(hex), &format!("{reference}@{digest}")) {
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
                // A connection that broke mid-body: fetch again.
                Err(FetchError::Io(_)) if attempt <= self.options.retries => {
                    std::thread::sleep(self.options.backoff * attempt);
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn open_blob(
        &self,
        reference: &Reference,
        digest: &str,
    ) -> Result<Box<dyn Read + Send>, RegistryError> {
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
        Ok(Box::new(resp))
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

fn parse_doc(reference: &Reference, m: &FetchedManifest) -> Result<ManifestDoc, RegistryError> {
    serde_json::from_slice(&m.bytes).map_err(|e| RegistryError::BadResponse {
        registry: reference.registry.clone(),
        what: format!("the manifest of {reference}"),
        message: e.to_string(),
    })
}
