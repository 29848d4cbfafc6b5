//! An OCI distribution client for lockship: push images to a registry, pull manifests, configs
//! and blobs.
//!
//! - [`Reference`]: `HOST[:PORT]/REPO[:TAG][@sha256:DIGEST]`. There is no default registry:
//!   a reference without a host is an error whose hint says to name one.
//! - [`Client`]: plain HTTP only for loopback registries and those listed in
//!   [`ClientOptions::insecure_registries`], HTTPS with the system trust store,
//!   `SSL_CERT_FILE` and [`ClientOptions::extra_ca_pem`] otherwise. It answers `401`
//!   challenges (`Basic`, and `Bearer` with a token per scope; see [`parse_challenges`])
//!   with credentials looked up in order: explicit ones for that registry
//!   ([`RegistryCredential`]), Docker's `config.json` `auths`, its `credHelpers`, its
//!   `credsStore` (`docker-credential-NAME get`). Transient failures (5xx, 429, timeouts,
//!   resets) are retried with back-off.
//! - Registries are not trusted. `Authorization` goes only to the registry's own origin
//!   (scheme, host, port): an upload `Location` or a redirect elsewhere gets none (reqwest
//!   drops it on redirects to another host or port). Credentials go to a token realm only
//!   over HTTPS, or over plain HTTP when the realm has the registry's own host name and the
//!   registry may itself use plain HTTP; otherwise the token is asked for anonymously.
//!   Manifests and indexes are capped at 4 MiB ([`MAX_MANIFEST_SIZE`], as containerd),
//!   configs at 8 MiB ([`MAX_CONFIG_SIZE`]), blobs at their descriptor's size; the caps are
//!   enforced while reading, whatever `Content-Length` says.
//! - Push ([`Client::push_image`], [`Client::push_index`], [`Client::push_manifest`]): each
//!   blob is skipped if the registry has it (HEAD), else mounted from
//!   [`PushOptions::mount_from`], else uploaded (one PUT for small blobs, `PATCH` chunks with
//!   `Content-Range` for large ones, resuming from the session's `Range` after a failure; a
//!   broken session is restarted). Then the manifest is PUT with its own media type, so the
//!   registry's digest equals [`lockship_oci::Image::digest`].
//! - Pull ([`Client::fetch_manifest`], [`Client::resolve_image`],
//!   [`Client::fetch_config`], [`Client::fetch_blob_to_cache`]): digests are verified while
//!   streaming (a manifest against the digest it was asked by and `Docker-Content-Digest`);
//!   Docker v2 and OCI media types are both read and kept as they are.
//!
//! The library never prints: progress goes to a [`lockship_fetch::Reporter`]
//! ([`Client::with_reporter`]); errors are [`RegistryError`], with [`RegistryError::hint`].
//!
//! # Example
//!
//! ```no_run
//! use lockship_registry::{Client, ClientOptions, PushOptions, Reference};
//! # fn image() -> lockship_oci::Image { unimplemented!() }
//! let image: lockship_oci::Image = image(); // built with lockship-oci and lockship-layer
//! let client = Client::new(ClientOptions::default())?;
//! let target = Reference::parse("127.0.0.1:5000/team/app:1.2")?;
//! let report = client.push_image(&image, &target, &PushOptions::default())?;
//! assert_eq!(report.digest, image.digest());
//!
//! let pulled = client.resolve_image(&target, &image.platform)?;
//! assert_eq!(pulled.manifest.digest, image.digest());
//! let config = client.fetch_config(&pulled)?;
//! println!("PATH={:?}", config.env_var("PATH"));
//! # Ok::<(), lockship_registry::RegistryError>(())
//! ```
#![deny(missing_docs)]

mod auth;
mod client;
mod error;
mod pull;
mod push;
mod reference;

pub use auth::{
    default_docker_config, parse_challenge, parse_challenges, Challenge, RegistryCredential,
};
pub use client::{Client, ClientOptions};
pub use error::RegistryError;
/// The OCI image index of several images, as `lockship_oci::write_index_output` stores it.
pub use lockship_oci::index_json;
/// The OCI documents are `lockship-oci`'s, typed once for every reader and writer.
pub use lockship_oci::spec::{
    Descriptor, MEDIA_TYPE_DOCKER_CONFIG, MEDIA_TYPE_DOCKER_LAYER_GZIP, MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST,
};
pub use pull::{
    FetchedManifest, ImageManifest, ACCEPTED_MANIFEST_TYPES, MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE,
};
pub use push::{image_blobs, Blob, BlobSource, PushOptions, PushReport, DEFAULT_CHUNK_SIZE};
pub use reference::Reference;

/// `sha256:<hex>` of some bytes.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
