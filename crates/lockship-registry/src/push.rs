//! Pushing: blobs (HEAD, cross-repository mount, monolithic or chunked upload) and manifests.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lockship_fetch::Reporter;
use lockship_oci::{index_json, Image, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST};
use reqwest::blocking::{Body, Response};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::client::{header, status_error, Req};
use crate::{sha256_digest, Client, Reference, RegistryError};

/// Default chunk size for blobs above [`crate::ClientOptions::monolithic_limit`].
pub const DEFAULT_CHUNK_SIZE: u64 = 16 * 1024 * 1024;

/// Settings for one push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Repositories on the same registry to try mounting missing blobs from (e.g. the base
    /// image's repository). A refused mount falls back to an upload.
    pub mount_from: Vec<String>,
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PushReport {
    /// The digest of the pushed manifest (or index).
    pub digest: String,
    /// Blob bytes sent to the registry.
    pub uploaded_bytes: u64,
    /// Blobs the registry already had.
    pub skipped_blobs: usize,
    /// Blobs mounted from another repository.
    pub mounted_blobs: usize,
    /// Blobs uploaded.
    pub uploaded_blobs: usize,
    /// Wall-clock time of the push.
    pub seconds: f64,
}

impl PushReport {
    fn add(&mut self, other: &PushReport) {
        self.uploaded_bytes += other.uploaded_bytes;
        self.skipped_blobs += other.skipped_blobs;
        self.mounted_blobs += other.mounted_blobs;
        self.uploaded_blobs += other.uploaded_blobs;
    }
}

/// Where a blob's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobSource {
    /// A file on disk (a layer blob, a cache entry).
    File(PathBuf),
    /// Bytes in memory (a config).
    Bytes(Arc<Vec<u8>>),
}

/// A blob to push: digest, size, media type and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Media type as written in the manifest (kept as is, Docker or OCI).
    pub media_type: String,
    /// The bytes.
    pub source: BlobSource,
}

impl Blob {
    /// A blob held in memory; the digest is computed.
    pub fn from_bytes(bytes: Vec<u8>, media_type: &str) -> Blob {
        Blob {
            digest: sha256_digest(&bytes),
            size: bytes.len() as u64,
            media_type: media_type.into(),
            source: BlobSource::Bytes(Arc::new(bytes)),
        }
    }

    /// A reader over bytes `offset..offset+len` of the blob.
    fn open_range(&self, offset: u64, len: u64) -> Result<Box<dyn Read + Send>, RegistryError> {
        match &self.source {
            BlobSource::Bytes(bytes) => {
                let bytes = Arc::clone(bytes);
                let mut cursor = std::io::Cursor::new(ArcBytes(bytes));
                cursor.set_position(offset);
                Ok(Box::new(cursor.take(len)))
            }
            BlobSource::File(path) => {
                let io = |source| RegistryError::Io {
                    path: path.clone(),
                    source,
                };
                let mut file = std::fs::File::open(path).map_err(io)?;
                file.seek(SeekFrom::Start(offset)).map_err(io)?;
                Ok(Box::new(file.take(len)))
            }
        }
    }
}

struct ArcBytes(Arc<Vec<u8>>);
impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Reports upload progress through the client's reporter.
struct ProgressRead {
    inner: Box<dyn Read + Send>,
    reporter: Arc<dyn Reporter>,
    name: String,
}
impl Read for ProgressRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.reporter.download_progress(&self.name, n as u64);
        Ok(n)
    }
}

/// The blobs of an image: its layers (from disk), then its config.
pub fn image_blobs(image: &Image) -> Result<Vec<Blob>, RegistryError> {
    let mut blobs = Vec::new();
    for layer in &image.layers {
        let ok = std::fs::metadata(&layer.path).is_ok_and(|m| m.len() == layer.size);
        if !ok {
            return Err(RegistryError::LayerChanged {
                path: layer.path.clone(),
                digest: layer.digest.clone(),
                expected: layer.size,
            });
        }
        blobs.push(Blob {
            digest: layer.digest.clone(),
            size: layer.size,
            media_type: layer.media_type().into(),
            source: BlobSource::File(layer.path.clone()),
        });
    }
    blobs.push(Blob::from_bytes(image.config_json(), MEDIA_TYPE_CONFIG));
    Ok(blobs)
}

/// Whether an error means the upload session is gone and must start over.
fn restartable(e: &RegistryError) -> bool {
    e.is_transient()
        || matches!(e, RegistryError::Status { status, .. } if *status == 404 || *status == 400 || *status == 416)
}

impl Client {
    fn push_scope(reference: &Reference) -> String {
        format!("repository:{}:pull,push", reference.repository)
    }

    /// Push one image: its blobs (skipping those already there, mounting from
    /// [`PushOptions::mount_from`] when possible), then its manifest under the reference's tag
    /// (or digest). The registry's digest equals [`Image::digest`].
    pub fn push_image(
        &self,
        image: &Image,
        reference: &Reference,
        options: &PushOptions,
    ) -> Result<PushReport, RegistryError> {
        let blobs = image_blobs(image)?;
        self.push_manifest(
            reference,
            &blobs,
            &image.manifest_json(),
            MEDIA_TYPE_MANIFEST,
            options,
        )
    }

    /// Push several images (one per platform) and an OCI image index over them: each image's
    /// manifest by digest, then the index under the reference's tag. The report's digest is
    /// the index's, the same as `lockship_oci::write_index_output` gives.
    pub fn push_index(
        &self,
        images: &[Image],
        reference: &Reference,
        options: &PushOptions,
    ) -> Result<PushReport, RegistryError> {
        let start = Instant::now();
        let mut report = PushReport::default();
        for image in images {
            let by_digest = reference.with_digest(&image.digest());
            let one = self.push_image(image, &by_digest, options)?;
            report.add(&one);
        }
        let index = index_json(images);
        report.digest = self.put_manifest(reference, &index, MEDIA_TYPE_INDEX)?;
        report.seconds = start.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Push `blobs`, then `manifest` (whose media type is `media_type`) under the reference's
    /// tag or digest. Use this to re-push pulled images unchanged (Docker media types kept).
    pub fn push_manifest(
        &self,
        reference: &Reference,
        blobs: &[Blob],
        manifest: &[u8],
        media_type: &str,
        options: &PushOptions,
    ) -> Result<PushReport, RegistryError> {
        let start = Instant::now();
        let mut report = PushReport::default();
        for blob in blobs {
            self.push_blob(reference, blob, options, &mut report)?;
        }
        self.reporter
            .phase(&format!("pushing manifest {reference}"));
        report.digest = self.put_manifest(reference, manifest, media_type)?;
        self.reporter.phase("");
        report.seconds = start.elapsed().as_secs_f64();
        Ok(report)
    }

    /// PUT a manifest; returns its digest (checked against the registry's answer).
    pub fn put_manifest(
        &self,
        reference: &Reference,
        manifest: &[u8],
        media_type: &str,
    ) -> Result<String, RegistryError> {
        let digest = sha256_digest(manifest);
        let url = self.base_url(&reference.registry)?.join(&format!(
            "{}/manifests/{}",
            reference.repository,
            reference.manifest_reference()
        ))?;
        let bytes = manifest.to_vec();
        let body = move || Ok(Body::from(bytes.clone()));
        let mut req = Req::new(Method::PUT, url.clone(), Self::push_scope(reference));
        req.headers.push(("Content-Type", media_type.to_string()));
        req.body = Some(&body);
        let resp = self.send(&reference.registry, &req)?;
        if !resp.status().is_success() {
            return Err(status_error(&reference.registry, "PUT", &url, resp));
        }
        if let Some(answered) = header(&resp, "Docker-Content-Digest") {
            if answered != digest {
                return Err(RegistryError::DigestMismatch {
                    what: format!("the manifest pushed to {reference}"),
                    expected: digest,
                    actual: answered,
                });
            }
        }
        Ok(digest)
    }

    /// Whether the repository has the blob (HEAD).
    pub fn blob_exists(&self, reference: &Reference, digest: &str) -> Result<bool, RegistryError> {
        let url = self
            .base_url(&reference.registry)?
            .join(&format!("{}/blobs/{digest}", reference.repository))?;
        let req = Req::new(Method::HEAD, url.clone(), Self::push_scope(reference));
        let resp = self.send(&reference.registry, &req)?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(status_error(&reference.registry, "HEAD", &url, resp)),
        }
    }

    fn push_blob(
        &self,
        reference: &Reference,
        blob: &Blob,
        options: &PushOptions,
        report: &mut PushReport,
    ) -> Result<(), RegistryError> {
        let name = short(&blob.digest);
        if self.blob_exists(reference, &blob.digest)? {
            report.skipped_blobs += 1;
            self.reporter.download_done(&name, true);
            return Ok(());
        }
        let mut session = None;
        for from in options
            .mount_from
            .iter()
            .filter(|f| **f != reference.repository)
        {
            match self.try_mount(reference, &blob.digest, from) {
                Ok(Mount::Mounted) => {
                    if let Some(unused) = session.take() {
                        self.cancel_upload(reference, unused);
                    }
                    report.mounted_blobs += 1;
                    self.reporter.download_done(&name, true);
                    return Ok(());
                }
                // Not mounted, but an upload session was opened: keep the first one for the
                // upload and go on trying the other repositories.
                Ok(Mount::Session(location)) => match session {
                    None => session = Some(location),
                    Some(_) => self.cancel_upload(reference, location),
                },
                // A refused mount is never fatal: upload instead.
                Ok(Mount::Refused) | Err(_) => {}
            }
        }
        self.reporter.download_start(&name, Some(blob.size));
        let mut attempt = 1;
        loop {
            match self.upload(reference, blob, session.take(), report) {
                Ok(()) => break,
                Err(e) if restartable(&e) && attempt <= self.options.retries => {
                    std::thread::sleep(self.options.backoff * attempt);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
        report.uploaded_blobs += 1;
        self.reporter.download_done(&name, false);
        Ok(())
    }

    fn try_mount(
        &self,
        reference: &Reference,
        digest: &str,
        from: &str,
    ) -> Result<Mount, RegistryError> {
        let mut url = self
            .base_url(&reference.registry)?
            .join(&format!("{}/blobs/uploads/", reference.repository))?;
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from);
        let scope = format!("{} repository:{from}:pull", Self::push_scope(reference));
        let mut req = Req::new(Method::POST, url.clone(), scope);
        req.headers.push(("Content-Length", "0".into()));
        let resp = match self.send(&reference.registry, &req) {
            Ok(resp) => resp,
            // No pull access to `from`: not an error for the push.
            Err(RegistryError::Unauthorized { .. }) => return Ok(Mount::Refused),
            Err(e) => return Err(e),
        };
        match resp.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => Ok(self
                .location(&reference.registry, &url, &resp)
                .map_or(Mount::Refused, Mount::Session)),
            _ => Ok(Mount::Refused),
        }
    }

    /// Best-effort DELETE of an upload session that will not be used.
    fn cancel_upload(&self, reference: &Reference, location: Url) {
        let mut req = Req::new(Method::DELETE, location, Self::push_scope(reference));
        req.retry = false;
        let _ = self.send(&reference.registry, &req);
    }

    /// Start an upload session: POST, returns the upload URL.
    fn start_upload(&self, reference: &Reference) -> Result<Url, RegistryError> {
        let url = self
            .base_url(&reference.registry)?
            .join(&format!("{}/blobs/uploads/", reference.repository))?;
        let mut req = Req::new(Method::POST, url.clone(), Self::push_scope(reference));
        req.headers.push(("Content-Length", "0".into()));
        let resp = self.send(&reference.registry, &req)?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(status_error(&reference.registry, "POST", &url, resp));
        }
        self.location(&reference.registry, &url, &resp)
            .ok_or_else(|| RegistryError::BadResponse {
                registry: reference.registry.clone(),
                what: format!("POST {url}"),
                message: "no `Location` header".into(),
            })
    }

    /// The `Location` of a response, resolved against the request URL.
    fn location(&self, _registry: &str, base: &Url, resp: &Response) -> Option<Url> {
        header(resp, "Location").and_then(|l| base.join(&l).ok())
    }

    /// Time allowed for a request that sends `bytes`: the base timeout plus 4 s a MiB.
    fn transfer_timeout(&self, bytes: u64) -> Duration {
        self.options.timeout + Duration::from_secs(bytes.div_ceil(1024 * 1024) * 4)
    }

    fn body_for(&self, blob: &Blob, offset: u64, len: u64) -> Result<Body, RegistryError> {
        let reader = ProgressRead {
            inner: blob.open_range(offset, len)?,
            reporter: Arc::clone(&self.reporter),
            name: short(&blob.digest),
        };
        Ok(Body::sized(reader, len))
    }

    /// One upload session, from POST (or a mount's session) to the final PUT.
    fn upload(
        &self,
        reference: &Reference,
        blob: &Blob,
        session: Option<Url>,
        report: &mut PushReport,
    ) -> Result<(), RegistryError> {
        let registry = &reference.registry;
        let mut location = match session {
            Some(url) => url,
            None => self.start_upload(reference)?,
        };
        let chunk = match self.options.chunk_size {
            Some(c) => Some(c.max(1)),
            None if blob.size > self.options.monolithic_limit => Some(DEFAULT_CHUNK_SIZE),
            None => None,
        };
        let scope = Self::push_scope(reference);
        let mut put_len = 0;
        if let Some(chunk) = chunk {
            let mut offset = 0;
            let mut failures = 0;
            while offset < blob.size {
                let len = chunk.min(blob.size - offset);
                let body = || self.body_for(blob, offset, len);
                let mut req = Req::new(Method::PATCH, location.clone(), scope.clone());
                req.retry = false;
                req.timeout = Some(self.transfer_timeout(len));
                req.headers
                    .push(("Content-Type", "application/octet-stream".into()));
                req.headers.push(("Content-Length", len.to_string()));
                req.headers
                    .push(("Content-Range", format!("{offset}-{}", offset + len - 1)));
                req.body = Some(&body);
                let outcome = self.send(registry, &req).and_then(|resp| {
                    if resp.status() == StatusCode::ACCEPTED {
                        Ok(resp)
                    } else {
                        Err(status_error(registry, "PATCH", &location, resp))
                    }
                });
                match outcome {
                    Ok(resp) => {
                        report.uploaded_bytes += len;
                        if let Some(next) = self.location(registry, &location, &resp) {
                            location = next;
                        }
                        offset += len;
                    }
                    Err(e)
                        if failures < self.options.retries
                            && (e.is_transient()
                                || matches!(e, RegistryError::Status { status: 416, .. })) =>
                    {
                        // Ask where the session stands and go on from there.
                        failures += 1;
                        std::thread::sleep(self.options.backoff * failures);
                        let (next, received) = self.upload_status(reference, &location)?;
                        location = next;
                        offset = received.min(blob.size);
                    }
                    Err(e) => return Err(e),
                }
            }
        } else {
            put_len = blob.size;
        }
        let mut url = location.clone();
        url.query_pairs_mut().append_pair("digest", &blob.digest);
        let body = || self.body_for(blob, 0, put_len);
        let mut req = Req::new(Method::PUT, url.clone(), scope);
        req.retry = false;
        req.timeout = Some(self.transfer_timeout(put_len));
        req.headers
            .push(("Content-Type", "application/octet-stream".into()));
        req.headers.push(("Content-Length", put_len.to_string()));
        req.body = Some(&body);
        let resp = self.send(registry, &req)?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error(registry, "PUT", &url, resp));
        }
        report.uploaded_bytes += put_len;
        Ok(())
    }

    /// GET an upload session's status: its URL and how many bytes it holds.
    fn upload_status(
        &self,
        reference: &Reference,
        location: &Url,
    ) -> Result<(Url, u64), RegistryError> {
        let req = Req::new(Method::GET, location.clone(), Self::push_scope(reference));
        let resp = self.send(&reference.registry, &req)?;
        if resp.status() != StatusCode::NO_CONTENT && !resp.status().is_success() {
            return Err(status_error(&reference.registry, "GET", location, resp));
        }
        // `Range: 0-<last byte>`; `0-0` is ambiguous in the spec and means nothing received
        // for an empty session in practice.
        let received = header(&resp, "Range")
            .and_then(|r| {
                let r = r.trim().trim_start_matches("bytes=");
                let (_, end) = r.split_once('-')?;
                end.trim().parse::<u64>().ok()
            })
            .map(|end| if end == 0 { 0 } else { end + 1 })
            .unwrap_or(0);
        let next = self
            .location(&reference.registry, location, &resp)
            .unwrap_or_else(|| location.clone());
        Ok((next, received))
    }
}

enum Mount {
    Mounted,
    Session(Url),
    Refused,
}

fn short(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    format!("blob {}", &hex[..hex.len().min(12)])
}

impl From<url::ParseError> for RegistryError {
    fn from(e: url::ParseError) -> RegistryError {
        RegistryError::InvalidReference {
            input: String::new(),
            reason: format!("cannot form a registry URL: {e}"),
        }
    }
}
