//! OCI images for lockship: the [`Image`] value, its outputs, and a validator.
//!
//! An [`Image`] is a platform, a runtime [`ImageConfig`], layers already on disk
//! ([`lockship_layer::Layer`]) and a history. From it come deterministic OCI documents
//! ([`Image::config_json`], [`Image::manifest_json`], [`Image::digest`]) and these outputs:
//!
//! - `oci:DIR`: an OCI image layout directory ([`Output::OciDir`]);
//! - `oci-archive:FILE`: a deterministic tar of that layout ([`Output::OciArchive`]);
//! - `docker-archive:FILE`: a tar for `docker load` that is also an OCI layout, like the one
//!   Docker 25's `docker save` writes ([`Output::DockerArchive`]);
//! - the local Docker engine, through its API socket ([`load_into_docker`]).
//!
//! [`write_output`] never leaves a half-written output: it writes under a temporary name next
//! to the target and renames at the end. [`write_index_output`] writes a multi-platform image
//! index.
//!
//! Reading goes the other way: [`read_platform_image`] reads the image of one platform from
//! an OCI layout, an oci-archive or a docker-archive (also the `manifest.json`-only one of
//! `docker save` before Docker 25), checked as it is read; [`open_image_layers`] hands out the
//! uncompressed layer tars for inspection. [`validate`] reads any output back and checks every
//! digest, size, media type and diff id.
//!
//! The documents themselves (descriptor, index, manifest, config, `manifest.json`) are typed
//! once, in [`spec`], for writing and reading alike.
//!
//! The library never prints; errors are [`OciError`], with [`OciError::hint`] for the user.
//!
//! # Example
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use lockship_oci::{validate, write_output, History, Image, ImageConfig, Output, Platform};
//!
//! # fn layer() -> lockship_layer::Layer { unimplemented!() }
//! let image = Image {
//!     platform: "linux/amd64".parse::<Platform>()?,
//!     config: ImageConfig {
//!         entrypoint: Some(vec!["/usr/local/bin/python3".into()]),
//!         env: vec!["PATH=/usr/local/bin:/usr/bin:/bin".into()],
//!         ..Default::default()
//!     },
//!     layers: vec![layer()], // built by lockship-layer
//!     history: vec![History::layer("lockship: python runtime")],
//!     created: 0, // SOURCE_DATE_EPOCH
//!     annotations: BTreeMap::new(),
//! };
//! let output: Output = "oci-archive:python.tar".parse()?;
//! let summary = write_output(&image, &output, Some("lockship/python:3.11"))?;
//! assert_eq!(summary.digest, image.digest());
//! let images = validate(&output)?;
//! assert_eq!(images[0].tags, ["lockship/python:3.11"]);
//! # Ok::<(), lockship_oci::OciError>(())
//! ```
#![deny(missing_docs)]

// Lets the shared test helpers name this crate as `lockship_oci` from unit tests too.
#[cfg(test)]
extern crate self as lockship_oci;

mod archive;
mod blob;
mod docker;
mod error;
mod image;
mod output;
mod platform;
mod source;
pub mod spec;
#[cfg(test)]
mod testutil;
mod validate;

pub use archive::normalize_tag;
pub use docker::{
    docker_available, docker_socket, load_into_docker, tag_in_docker, DEFAULT_SOCKET,
};
pub use error::OciError;
pub use image::{index_json, rfc3339, History, Image, ImageConfig};
pub use output::{write_index_output, write_output, Output, WriteSummary};
pub use platform::{Platform, SUPPORTED as SUPPORTED_PLATFORMS};
pub use source::{open_image_layers, open_platform_layers, read_platform_image};
pub use spec::{
    ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST,
};
pub use validate::{validate, ValidatedImage, ValidatedLayer};
