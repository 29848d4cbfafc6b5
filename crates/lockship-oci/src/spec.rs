//! The OCI image documents, typed once: what lockship writes and what it reads back.
//!
//! [`Descriptor`], [`Platform`], [`ImageIndex`], [`ImageManifest`] and the image config
//! ([`ImageConfiguration`] with its [`ContainerConfig`], [`RootFs`] and [`History`]), plus the
//! `manifest.json` of a docker-archive ([`DockerManifestEntry`]). The writer
//! ([`crate::Image::config_json`], the outputs), the validator, the image reader and the
//! registry client (`lockship-registry`) all use these types.
//!
//! Writing: the bytes are part of the digests, so they are fixed by these structs. Fields are
//! written in declaration order; an absent option, an empty map or list and a false
//! `empty_layer` are left out where lockship always left them out. Maps are `BTreeMap`s, so
//! their order never depends on a hasher or on serde_json features another crate switches on.
//!
//! Reading: fields lockship does not use are ignored, and `null` where Go writes a nil list
//! or map reads as empty, so the configs Docker and registries write parse too.
//!
//! These are our own serde structs, not `oci-spec`'s: `oci_spec::image::Descriptor` keeps
//! annotations in a `HashMap` (their order changes from run to run) and writes them before the
//! platform, and its `Config` writes its fields in another order, so its bytes are not the
//! ones lockship has always written and every image digest would change. `oci-spec` stays
//! what the validator checks documents against.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// `application/vnd.oci.image.manifest.v1+json`
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.index.v1+json`
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.config.v1+json`
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// `application/vnd.docker.distribution.manifest.v2+json`
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// `application/vnd.docker.distribution.manifest.list.v2+json`
pub const MEDIA_TYPE_DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// `application/vnd.docker.container.image.v1+json`
pub const MEDIA_TYPE_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// `application/vnd.docker.image.rootfs.diff.tar.gzip`
pub const MEDIA_TYPE_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// `application/vnd.docker.image.rootfs.diff.tar` (the uncompressed layers of `docker save`).
pub const MEDIA_TYPE_DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// The annotation that names a manifest in an OCI layout's `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation containerd (and Docker 25+) use for the full image name.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";

/// Reads `null` as the type's default (Go writes a nil list or map as `null`).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A platform as written in a descriptor (an index entry).
///
/// The wire form; [`crate::Platform`] is the normalised value lockship builds for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `amd64`, `arm64`, `arm`...
    pub architecture: String,
    /// `linux`...
    pub os: String,
    /// `v7`, `v8`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// Whether this entry is for `want`, taking a missing variant as the default one
    /// (`v8` for `arm64`, `v7` for `arm`), as containerd does.
    pub fn matches(&self, want: &crate::Platform) -> bool {
        let variant = |v: Option<&str>, arch: &str| match (arch, v) {
            ("arm64", None) => Some("v8".to_string()),
            ("arm", None) => Some("v7".to_string()),
            (_, v) => v.map(str::to_string),
        };
        self.os == want.os
            && self.architecture == want.architecture
            && variant(self.variant.as_deref(), &self.architecture)
                == variant(want.variant.as_deref(), &want.architecture)
    }
}

impl From<&crate::Platform> for Platform {
    fn from(p: &crate::Platform) -> Platform {
        Platform {
            architecture: p.architecture.clone(),
            os: p.os.clone(),
            variant: p.variant.clone(),
        }
    }
}

impl From<Platform> for crate::Platform {
    /// The fields as written, not normalised.
    fn from(p: Platform) -> crate::Platform {
        crate::Platform {
            os: p.os,
            architecture: p.architecture,
            variant: p.variant,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The `oci-layout` file of an OCI image layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageLayout {
    /// `1.0.0`.
    pub image_layout_version: String,
}

/// A content descriptor: a config, a layer, or an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type, kept as written (Docker or OCI).
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// The platform (index entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// A descriptor with no platform and no annotations.
    pub fn new(media_type: &str, digest: String, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            platform: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// The two fields every manifest and index starts with: enough to tell which one a document is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Versioned {
    /// `2`.
    #[serde(default)]
    pub schema_version: u32,
    /// The media type, when the document names it.
    #[serde(default)]
    pub media_type: Option<String>,
}

/// An image index (`index.json` of a layout, a multi-platform image, a Docker manifest list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// `2`.
    #[serde(default)]
    pub schema_version: u32,
    /// [`MEDIA_TYPE_INDEX`] (or [`MEDIA_TYPE_DOCKER_MANIFEST_LIST`]); older documents omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests (or nested indexes) it lists.
    #[serde(default, deserialize_with = "null_as_default")]
    pub manifests: Vec<Descriptor>,
}

impl ImageIndex {
    /// An OCI image index over `manifests`.
    pub fn new(manifests: Vec<Descriptor>) -> ImageIndex {
        ImageIndex {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_INDEX.to_string()),
            manifests,
        }
    }
}

/// An image manifest (OCI, or Docker's v2 schema 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// `2`.
    #[serde(default)]
    pub schema_version: u32,
    /// [`MEDIA_TYPE_MANIFEST`] (or [`MEDIA_TYPE_DOCKER_MANIFEST`]); older documents omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layer blobs, bottom first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub annotations: BTreeMap<String, String>,
}

/// The image config (`application/vnd.oci.image.config.v1+json`, or Docker's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfiguration {
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// `amd64`, `arm64`, `arm`...
    pub architecture: String,
    /// `linux`...
    pub os: String,
    /// `v7`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The run-time settings.
    #[serde(default, deserialize_with = "null_as_default")]
    pub config: ContainerConfig,
    /// The layers' diff ids.
    pub rootfs: RootFs,
    /// How each layer was made.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub history: Vec<History>,
}

impl ImageConfiguration {
    /// The platform the config says the image is for (as written, not normalised).
    pub fn platform(&self) -> crate::Platform {
        crate::Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
        }
    }

    /// The value of an environment variable in `config.Env` (e.g. `PYTHON_VERSION`).
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.config.env.iter().find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v)
        })
    }
}

/// `{}`: the value of each `ExposedPorts` entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyObject {}

/// The `config` object of an image config: what a container runs with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// User (name or `uid[:gid]`) the process runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Exposed ports, as `8000/tcp`.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub exposed_ports: BTreeMap<String, EmptyObject>,
    /// Environment, as `KEY=value`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub env: Vec<String>,
    /// Entrypoint argv.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub labels: BTreeMap<String, String>,
    /// Signal that stops the container, e.g. `SIGINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// The `rootfs` object of an image config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `sha256:<hex>` of each uncompressed layer, bottom first.
    pub diff_ids: Vec<String>,
}

/// One entry of an image config's `history`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// RFC 3339 time of the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// What made the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Free-form comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True if the step made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// One image in a docker-archive's `manifest.json` (what `docker save` writes and
/// `docker load` reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DockerManifestEntry {
    /// The config file, a path inside the archive.
    pub config: String,
    /// The image's names (`null` or `[]` when it has none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub repo_tags: Vec<String>,
    /// The layer files, bottom first.
    pub layers: Vec<String>,
}

/// The JSON bytes of a document. Serialising these plain structs cannot fail.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON serialisation of OCI documents")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_left_out_and_the_order_is_fixed() {
        let mut desc = Descriptor::new(MEDIA_TYPE_MANIFEST, "sha256:ab".into(), 3);
        desc.annotations
            .insert(ANNOTATION_REF_NAME.into(), "app:1".into());
        desc.platform = Some(Platform::from(&crate::Platform::linux_arm_v7()));
        assert_eq!(
            String::from_utf8(to_json(&ImageIndex::new(vec![desc]))).unwrap(),
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:ab","size":3,"platform":{"architecture":"arm","os":"linux","variant":"v7"},"annotations":{"org.opencontainers.image.ref.name":"app:1"}}]}"#
        );
        let entry = DockerManifestEntry {
            config: "blobs/sha256/ab".into(),
            repo_tags: Vec::new(),
            layers: vec!["blobs/sha256/cd".into()],
        };
        assert_eq!(
            String::from_utf8(to_json(&[entry])).unwrap(),
            r#"[{"Config":"blobs/sha256/ab","RepoTags":[],"Layers":["blobs/sha256/cd"]}]"#
        );
    }

    /// A config as `docker save` and registries write it: nulls where Go has nil slices and
    /// maps, and fields lockship does not use.
    #[test]
    fn docker_configs_with_nulls_and_extra_fields_read() {
        let json = br#"{"architecture":"amd64","os":"linux","author":"x","container":"c",
            "config":{"Hostname":"","User":"","Env":["PATH=/usr/bin","PYTHON_VERSION=3.12.7"],
              "Cmd":null,"Entrypoint":null,"Labels":null,"ExposedPorts":{"80/tcp":{}},
              "Volumes":null,"OnBuild":null},
            "rootfs":{"type":"layers","diff_ids":["sha256:aa"]},
            "history":[{"created":"2024-01-01T00:00:00Z","created_by":"/bin/sh"},
              {"created_by":"ENV X=1","empty_layer":true},{"author":"y"}]}"#;
        let config: ImageConfiguration = serde_json::from_slice(json).unwrap();
        assert_eq!(config.env_var("PYTHON_VERSION"), Some("3.12.7"));
        assert_eq!(config.env_var("PYTHON"), None);
        assert_eq!(config.config.user.as_deref(), Some(""));
        assert_eq!(config.config.cmd, None);
        assert!(config.config.labels.is_empty());
        assert_eq!(config.config.exposed_ports.len(), 1);
        assert_eq!(config.rootfs.diff_ids, ["sha256:aa"]);
        assert_eq!(config.history.len(), 3);
        assert!(config.history[1].empty_layer);
        assert_eq!(config.history[2].created_by, None);
        assert_eq!(config.platform(), crate::Platform::linux_amd64());

        let bare: ImageConfiguration = serde_json::from_slice(
            br#"{"architecture":"arm64","os":"linux","config":null,"history":null,"rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .unwrap();
        assert_eq!(bare.config, ContainerConfig::default());
        let err = serde_json::from_slice::<ImageConfiguration>(br#"{"os":"linux"}"#).unwrap_err();
        assert!(err.to_string().contains("architecture"), "{err}");
    }

    #[test]
    fn index_entries_match_platforms_with_default_variants() {
        let entry = |arch: &str, variant: Option<&str>| Platform {
            architecture: arch.into(),
            os: "linux".into(),
            variant: variant.map(str::to_string),
        };
        let arm64 = crate::Platform::linux_arm64();
        assert!(entry("arm64", None).matches(&arm64));
        assert!(entry("arm64", Some("v8")).matches(&arm64));
        assert!(!entry("arm64", Some("v9")).matches(&arm64));
        assert!(entry("arm", None).matches(&crate::Platform::linux_arm_v7()));
        assert!(!entry("arm", Some("v6")).matches(&crate::Platform::linux_arm_v7()));
        assert!(!entry("amd64", None).matches(&arm64));
        assert_eq!(entry("arm", Some("v7")).to_string(), "linux/arm/v7");
    }
}
