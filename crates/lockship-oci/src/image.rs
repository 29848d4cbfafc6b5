//! The image value and its OCI JSON documents (config and manifest).

use std::collections::{BTreeMap, BTreeSet};

use crate::blob::sha256_digest;
use crate::spec::{self, to_json, Descriptor, MEDIA_TYPE_CONFIG, MEDIA_TYPE_MANIFEST};
use crate::{OciError, Platform};
use lockship_layer::Layer;

/// The runtime configuration of an image (the `config` object of the OCI image config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// User (name or `uid[:gid]`) the process runs as.
    pub user: Option<String>,
    /// Environment, as `KEY=value`.
    pub env: Vec<String>,
    /// Entrypoint argv.
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    pub cmd: Option<Vec<String>>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// Image labels.
    pub labels: BTreeMap<String, String>,
    /// Exposed ports, as `8000/tcp`.
    pub exposed_ports: BTreeSet<String>,
    /// Signal that stops the container, e.g. `SIGINT`.
    pub stop_signal: Option<String>,
}

/// One entry of the image history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// What made this step, e.g. `lockship: python 3.11.9 runtime`.
    pub created_by: String,
    /// Free-form comment.
    pub comment: Option<String>,
    /// True if the step made no layer.
    pub empty_layer: bool,
}

impl History {
    /// A history entry for a step that made a layer.
    pub fn layer(created_by: impl Into<String>) -> History {
        History {
            created_by: created_by.into(),
            comment: None,
            empty_layer: false,
        }
    }

    /// A history entry for a configuration-only step (no layer).
    pub fn empty(created_by: impl Into<String>) -> History {
        History {
            created_by: created_by.into(),
            comment: None,
            empty_layer: true,
        }
    }
}

/// A single-platform image: configuration plus layers already on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The platform the image runs on.
    pub platform: Platform,
    /// Runtime configuration.
    pub config: ImageConfig,
    /// Layers, bottom first.
    pub layers: Vec<Layer>,
    /// History; if not empty, its non-empty entries must match `layers` one to one.
    pub history: Vec<History>,
    /// Creation time in Unix seconds (take it from `SOURCE_DATE_EPOCH` for reproducible builds).
    pub created: u64,
    /// Annotations of the image manifest.
    pub annotations: BTreeMap<String, String>,
}

impl Image {
    /// The OCI image config (`application/vnd.oci.image.config.v1+json`), deterministic bytes.
    pub fn config_json(&self) -> Vec<u8> {
        to_json(&self.config_document())
    }

    /// The OCI image config as a document (what [`Image::config_json`] writes).
    pub fn config_document(&self) -> spec::ImageConfiguration {
        let created = rfc3339(self.created);
        let c = &self.config;
        spec::ImageConfiguration {
            created: Some(created.clone()),
            architecture: self.platform.architecture.clone(),
            os: self.platform.os.clone(),
            variant: self.platform.variant.clone(),
            config: spec::ContainerConfig {
                user: c.user.clone(),
                exposed_ports: c
                    .exposed_ports
                    .iter()
                    .map(|p| (p.clone(), spec::EmptyObject {}))
                    .collect(),
                env: c.env.clone(),
                entrypoint: c.entrypoint.clone(),
                cmd: c.cmd.clone(),
                working_dir: c.working_dir.clone(),
                labels: c.labels.clone(),
                stop_signal: c.stop_signal.clone(),
            },
            rootfs: spec::RootFs {
                kind: "layers".to_string(),
                diff_ids: self.layers.iter().map(|l| l.diff_id.clone()).collect(),
            },
            history: self
                .history
                .iter()
                .map(|h| spec::History {
                    created: Some(created.clone()),
                    created_by: Some(h.created_by.clone()),
                    comment: h.comment.clone(),
                    empty_layer: h.empty_layer,
                })
                .collect(),
        }
    }

    /// `sha256:<hex>` of [`Image::config_json`].
    pub fn config_digest(&self) -> String {
        sha256_digest(&self.config_json())
    }

    /// The OCI image manifest (`application/vnd.oci.image.manifest.v1+json`), deterministic bytes.
    pub fn manifest_json(&self) -> Vec<u8> {
        let config = self.config_json();
        let manifest = spec::ImageManifest {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_MANIFEST.to_string()),
            config: Descriptor::new(
                MEDIA_TYPE_CONFIG,
                sha256_digest(&config),
                config.len() as u64,
            ),
            layers: self
                .layers
                .iter()
                .map(|l| Descriptor::new(l.media_type(), l.digest.clone(), l.size))
                .collect(),
            annotations: self.annotations.clone(),
        };
        to_json(&manifest)
    }

    /// The descriptor of [`Image::manifest_json`], with the image's platform: its entry in an
    /// image index.
    pub fn manifest_descriptor(&self) -> Descriptor {
        let manifest = self.manifest_json();
        let mut desc = Descriptor::new(
            MEDIA_TYPE_MANIFEST,
            sha256_digest(&manifest),
            manifest.len() as u64,
        );
        desc.platform = Some(spec::Platform::from(&self.platform));
        desc
    }

    /// `sha256:<hex>` of [`Image::manifest_json`]: the image's digest.
    pub fn digest(&self) -> String {
        sha256_digest(&self.manifest_json())
    }

    /// Check what must hold before the image is written: history matches layers, digests are
    /// well-formed, layer blobs are on disk with their recorded size.
    pub(crate) fn check(&self) -> Result<(), OciError> {
        let non_empty = self.history.iter().filter(|h| !h.empty_layer).count();
        if !self.history.is_empty() && non_empty != self.layers.len() {
            return Err(OciError::HistoryMismatch {
                platform: self.platform.to_string(),
                layers: self.layers.len(),
                history: non_empty,
            });
        }
        for layer in &self.layers {
            let meta = fs_err::metadata(&layer.path).map_err(OciError::io(&layer.path))?;
            let bad_digest = crate::blob::sha256_hex(&layer.digest).is_none()
                || crate::blob::sha256_hex(&layer.diff_id).is_none();
            if meta.len() != layer.size || bad_digest {
                return Err(OciError::LayerChanged {
                    path: layer.path.clone(),
                    digest: layer.digest.clone(),
                    expected: layer.size,
                    actual: meta.len(),
                });
            }
        }
        Ok(())
    }
}

/// The OCI image index over `images` (one platform each), deterministic bytes: the blob
/// [`crate::write_index_output`] stores and a registry push sends, so both give one digest.
pub fn index_json(images: &[Image]) -> Vec<u8> {
    to_json(&spec::ImageIndex::new(
        images.iter().map(Image::manifest_descriptor).collect(),
    ))
}

/// Format Unix seconds as RFC 3339 in UTC (`1970-01-01T00:00:00Z`).
pub fn rfc3339(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let secs = unix_secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockship_layer::Compression;

    #[test]
    fn rfc3339_formats_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    fn fake_layer(n: u8, compression: Compression) -> Layer {
        Layer {
            path: format!("layer{n}").into(),
            digest: format!("sha256:{}", format!("{n:x}").repeat(64)),
            diff_id: format!("sha256:{}", format!("{:x}", n + 1).repeat(64)),
            size: 100 + u64::from(n),
            uncompressed_size: 1000,
            compression,
        }
    }

    /// A fixed image whose documents are snapshotted.
    fn fixed_image() -> Image {
        Image {
            platform: "linux/arm/v7".parse().unwrap(),
            config: ImageConfig {
                user: Some("65532:65532".into()),
                env: vec!["PATH=/usr/local/bin:/usr/bin".into(), "LANG=C.UTF-8".into()],
                entrypoint: Some(vec!["/usr/local/bin/python3".into()]),
                cmd: Some(vec!["-m".into(), "app".into()]),
                working_dir: Some("/app".into()),
                labels: BTreeMap::from([
                    ("org.opencontainers.image.title".into(), "demo".into()),
                    ("a.b".into(), "c".into()),
                ]),
                exposed_ports: BTreeSet::from(["8000/tcp".into(), "53/udp".into()]),
                stop_signal: Some("SIGINT".into()),
            },
            layers: vec![
                fake_layer(1, Compression::Gzip),
                fake_layer(2, Compression::Zstd),
            ],
            history: vec![
                History::layer("lockship: python runtime"),
                History::empty("lockship: config"),
                History {
                    created_by: "lockship: app".into(),
                    comment: Some("wheels".into()),
                    empty_layer: false,
                },
            ],
            created: 1_700_000_000,
            annotations: BTreeMap::from([(
                "org.opencontainers.image.source".into(),
                "https://example.invalid/app".into(),
            )]),
        }
    }

    #[test]
    fn config_json_snapshot() {
        let json: serde_json::Value = serde_json::from_slice(&fixed_image().config_json()).unwrap();
        insta::assert_json_snapshot!(json);
        // Raw bytes too: field order is part of the digest.
        insta::assert_snapshot!(String::from_utf8(fixed_image().config_json()).unwrap());
    }

    #[test]
    fn manifest_json_snapshot() {
        let image = fixed_image();
        let raw = String::from_utf8(image.manifest_json()).unwrap();
        insta::assert_snapshot!(raw);
        assert_eq!(image.digest(), sha256_digest(raw.as_bytes()));
    }

    #[test]
    fn documents_are_deterministic_and_reflect_changes() {
        let a = fixed_image();
        assert_eq!(a.manifest_json(), fixed_image().manifest_json());
        let mut b = fixed_image();
        b.created += 1;
        assert_ne!(a.config_digest(), b.config_digest());
        assert_ne!(a.digest(), b.digest());
        let mut c = fixed_image();
        c.config.env.clear();
        c.config.labels.clear();
        let json: serde_json::Value = serde_json::from_slice(&c.config_json()).unwrap();
        assert!(json["config"].get("Env").is_none());
        assert!(json["config"].get("Labels").is_none());
        assert_eq!(json["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn check_rejects_history_that_does_not_match_layers() {
        let mut image = fixed_image();
        image.history.pop();
        let err = image.check().unwrap_err();
        assert!(
            matches!(
                err,
                OciError::HistoryMismatch {
                    layers: 2,
                    history: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("`linux/arm/v7`"));
    }
}
