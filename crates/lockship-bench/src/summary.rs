//! The summary `lockship build --json` prints: one typed value, serialised by
//! the binary and read back by the harness (never picked apart by string keys).
//!
//! The binary prints it through a [`serde_json::Value`], so every object's keys
//! come out sorted, whatever the field order here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `lockship build --json`: the first platform's image, and one line per platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildSummary {
    /// The first image's manifest digest.
    pub digest: String,
    /// Every platform built, in `--platform` order.
    pub platforms: Vec<PlatformSummary>,
    /// The image's name in archives, layouts and the engine.
    pub tag: String,
    /// The project's name.
    pub project: String,
    /// The first image's platform, e.g. `linux/amd64`.
    pub platform: String,
    /// The image's full Python version, e.g. `3.11.2`.
    pub python: String,
    /// Which Python lockship's runtime has and why, one line:
    /// `Python 3.13.5 (requires-python >=3.13 in pyproject.toml)` (absent on
    /// a `--base-image`, which brings its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_choice: Option<String>,
    /// What the build learned about `--base-image`, when one was given.
    pub base_image: Option<BaseImageSummary>,
    /// The plan's warnings.
    pub warnings: Vec<String>,
    /// The lockfile's kind: `uv.lock`, `poetry.lock`, `pylock.toml` or `requirements.txt`.
    pub lockfile: String,
    /// The layers' compressed sizes, summed.
    pub compressed_bytes: u64,
    /// The layers' uncompressed sizes, summed.
    pub uncompressed_bytes: u64,
    /// The layers, bottom up.
    pub layers: Vec<LayerSummary>,
    /// Per layer kind: whether it came from the cache.
    pub cached: Vec<CachedLayer>,
    /// The wheels installed in the venv.
    pub wheels: Vec<WheelSummary>,
    /// What libdeps found in the venv's native code.
    pub libdeps: LibdepsSummary,
    /// The system-libraries layer's Debian packages, as `name=version`.
    pub system_packages: Vec<String>,
    /// The wheels built from sdists.
    pub built_wheels: Vec<BuiltWheelSummary>,
    /// What stripping the wheels' own shared objects saved.
    #[serde(default)]
    pub stripped: StrippedSummary,
    /// The build's wall time.
    pub seconds: f64,
    /// Where the image went.
    pub outputs: Vec<Written>,
}

impl BuildSummary {
    /// The image's `X.Y` Python version (`3.11` of `3.11.2`).
    pub fn python_minor(&self) -> String {
        self.python.split('.').take(2).collect::<Vec<_>>().join(".")
    }
}

/// One platform's image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformSummary {
    /// `linux/amd64`.
    pub platform: String,
    /// Its manifest digest.
    pub digest: String,
    /// Its layers' compressed sizes, summed.
    pub compressed_bytes: u64,
    /// The wheel file names chosen for it.
    pub wheels: Vec<String>,
}

/// A base image the project was built on (`--base-image`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseImageSummary {
    /// Where the image came from.
    pub source: String,
    /// `sha256:…` of its manifest.
    pub manifest_digest: String,
    /// The interpreter the venv runs on.
    pub python: String,
    /// Its installation prefix.
    pub prefix: String,
    /// `3.12`.
    pub python_version: String,
    /// `3.12.7`.
    pub python_full_version: String,
    /// `glibc 2.36` or `musl 1.2`.
    pub libc: String,
    /// `debian bookworm`.
    pub os: String,
    /// The Debian suite, when the base is Debian.
    pub suite: Option<String>,
    /// Whether the interpreter is Debian's own.
    pub debian_python: bool,
    /// The base's `PATH`.
    pub path_var: String,
    /// Whether it has a CA bundle at lockship's `SSL_CERT_FILE` path.
    pub has_ca_bundle: bool,
}

/// One layer of the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerSummary {
    /// `sha256:…` of the compressed blob.
    pub digest: String,
    /// Compressed bytes.
    pub size: u64,
    /// Uncompressed bytes.
    pub uncompressed_size: u64,
}

/// Whether one layer kind came from the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedLayer {
    /// `base`, `dependencies`, `project`, ….
    pub layer: String,
    /// Whether it came from the cache.
    pub cached: bool,
}

/// One wheel of the venv.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WheelSummary {
    /// Normalised package name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The wheel's file name.
    pub filename: String,
}

/// What libdeps found: packages to add, and sonames nothing ships.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibdepsSummary {
    /// Debian package → the missing sonames it ships.
    pub packages: BTreeMap<String, Vec<MissingLibSummary>>,
    /// Sonames no package of the suite ships.
    pub unresolved: Vec<MissingLibSummary>,
    /// How many ELF files were checked.
    pub scanned: usize,
    /// Debian package → the libraries loaded at run time (`dlopen`) it ships.
    #[serde(default)]
    pub runtime_packages: BTreeMap<String, Vec<RuntimeNeedSummary>>,
    /// Libraries loaded at run time that no package ships, or optional ones left out.
    #[serde(default)]
    pub runtime_unresolved: Vec<RuntimeNeedSummary>,
}

/// A library Python code loads at run time (`dlopen`) that the base lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeNeedSummary {
    /// The name as the code writes it.
    pub name: String,
    /// `file:line` in the image.
    pub asked_by: String,
    /// The code goes on without it.
    pub optional: bool,
}

/// What stripping debug sections from wheels' shared objects saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrippedSummary {
    /// Shared objects rewritten.
    pub files: u64,
    /// Their bytes before.
    pub bytes_before: u64,
    /// Their bytes after.
    pub bytes_after: u64,
}

/// A soname the image lacks, and the files that need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingLibSummary {
    /// `libpq.so.5`.
    pub soname: String,
    /// In-image paths of the ELF files that need it.
    pub needed_by: Vec<String>,
}

/// A wheel built from an sdist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuiltWheelSummary {
    /// The package.
    pub package: String,
    /// Its version.
    pub version: String,
    /// The sdist's file name.
    pub sdist: String,
    /// The wheel's file name.
    pub wheel: String,
    /// The wheel's SHA-256.
    pub sha256: String,
    /// Whether it came from the cache.
    pub cached: bool,
    /// The build packages beyond the standard set.
    pub build_packages: Vec<String>,
    /// The build packages lockship found by itself, each with the line that
    /// asked for it (pin them in `[tool.lockship] build-packages`).
    #[serde(default)]
    pub added_build_packages: Vec<AddedBuildPackage>,
    /// How long the build took.
    pub build_seconds: f64,
}

/// A build package lockship added to an sdist's build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddedBuildPackage {
    /// The Debian package.
    pub package: String,
    /// `table`, `metadata` or `build-log`.
    pub by: String,
    /// What it was added for (`program \`pg_config\``).
    pub wanted: String,
    /// The line that asked for it.
    pub line: String,
}

/// Where an image went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Written {
    /// `oci:DIR`, `docker-archive:FILE`, `docker:NAME:TAG` for the engine, or
    /// `registry:REF` for a push.
    pub destination: String,
    /// Bytes written (for a push: bytes uploaded; 0 for the engine).
    pub bytes: u64,
    /// For a push: what it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushSummary>,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushSummary {
    /// The digest of the pushed manifest or index.
    pub digest: String,
    /// Blob bytes uploaded.
    pub uploaded_bytes: u64,
    /// Blobs uploaded.
    pub uploaded_blobs: usize,
    /// Blobs the registry already had.
    pub skipped_blobs: usize,
    /// Blobs mounted from another repository.
    pub mounted_blobs: usize,
    /// Seconds the push took.
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BuildSummary {
        BuildSummary {
            digest: "sha256:aa".into(),
            platforms: vec![PlatformSummary {
                platform: "linux/amd64".into(),
                digest: "sha256:aa".into(),
                compressed_bytes: 30,
                wheels: vec!["six-1.17.0-py2.py3-none-any.whl".into()],
            }],
            tag: "app:1.0".into(),
            project: "app".into(),
            platform: "linux/amd64".into(),
            python: "3.11.2".into(),
            python_choice: Some(
                "Python 3.11.2 (3.11, the default; nothing declares a version)".into(),
            ),
            base_image: None,
            warnings: Vec::new(),
            lockfile: "uv.lock".into(),
            compressed_bytes: 30,
            uncompressed_bytes: 70,
            layers: vec![LayerSummary {
                digest: "sha256:bb".into(),
                size: 30,
                uncompressed_size: 70,
            }],
            cached: vec![CachedLayer {
                layer: "base".into(),
                cached: true,
            }],
            wheels: vec![WheelSummary {
                name: "six".into(),
                version: "1.17.0".into(),
                filename: "six-1.17.0-py2.py3-none-any.whl".into(),
            }],
            libdeps: LibdepsSummary::default(),
            system_packages: Vec::new(),
            built_wheels: Vec::new(),
            stripped: StrippedSummary::default(),
            seconds: 1.5,
            outputs: vec![Written {
                destination: "oci:out".into(),
                bytes: 100,
                push: None,
            }],
        }
    }

    #[test]
    fn the_summary_reads_back_what_it_printed() {
        let summary = sample();
        let text = serde_json::to_string_pretty(&serde_json::to_value(&summary).unwrap()).unwrap();
        let back: BuildSummary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, summary);
        assert_eq!(back.python_minor(), "3.11");
        // A write without a push prints no `push` key.
        assert!(!text.contains("\"push\""), "{text}");
    }

    #[test]
    fn the_printed_keys_are_sorted() {
        let value = serde_json::to_value(sample()).unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(keys.len(), 21);
    }
}
