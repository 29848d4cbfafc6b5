//! `--base-image`: building on an image someone else made (`python:3.12-slim`,
//! a company base) instead of lockship's own runtime.
//!
//! The base is read from a registry (by the distribution spec, the platform's
//! image chosen from an index) or from an OCI layout or archive; its blobs
//! land in the content-addressed cache under their own digests and go into
//! the image unchanged, so a registry that has them never receives them
//! again. Its layers are unpacked once (whiteouts applied) into a tree, which
//! is probed for what the venv must match: the CPython (`python3.X` on the
//! image's `PATH`, its prefix and full version), the C library (glibc's
//! version, or musl), the architecture, and the Debian suite when there is
//! one (for the system-libraries layer).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use lockship_layer::{Compression, Layer};
use lockship_oci::spec::ImageConfiguration;
use lockship_oci::{History, Image, ImageConfig, Output, Platform};
use lockship_runtime::{Context, DebPin};
use lockship_wheel::{Arch, Libc, WheelTarget};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::io_err;
use crate::BuildError;

/// Where a base image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseImageSource {
    /// `oci:DIR`, `oci-archive:FILE` or `docker-archive:FILE`.
    Local(Output),
    /// `HOST[:PORT]/REPO[:TAG][@DIGEST]`.
    Registry(lockship_registry::Reference),
}

impl BaseImageSource {
    /// Parses `--base-image REF`: a transport-prefixed path, else a registry reference.
    pub fn parse(input: &str) -> Result<BaseImageSource, BuildError> {
        for transport in ["oci:", "oci-archive:", "docker-archive:"] {
            if input.starts_with(transport) {
                return Ok(BaseImageSource::Local(input.parse()?));
            }
        }
        Ok(BaseImageSource::Registry(
            lockship_registry::Reference::parse(input)?,
        ))
    }
}

impl std::fmt::Display for BaseImageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BaseImageSource::Local(o) => write!(f, "{o}"),
            BaseImageSource::Registry(r) => write!(f, "{r}"),
        }
    }
}

/// A base image for one platform, its blobs in the cache.
#[derive(Debug, Clone)]
pub struct PulledBase {
    /// What the user named.
    pub source: String,
    /// The image manifest's digest where it came from.
    pub manifest_digest: String,
    /// The image config, typed.
    pub config: ImageConfiguration,
    /// The layers, bottom first, as stored (same digests as in the source).
    pub layers: Vec<Layer>,
}

/// What the build learned about a base image by looking inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseFacts {
    /// Where the image came from, and its manifest digest.
    pub source: String,
    /// `sha256:…` of its manifest.
    pub manifest_digest: String,
    /// The interpreter the venv runs on, e.g. `/usr/local/bin/python3.12`.
    pub python: String,
    /// Its installation prefix (`/usr/local`).
    pub prefix: String,
    /// `3.12`.
    pub python_version: String,
    /// `3.12.7`.
    pub python_full_version: String,
    /// `glibc 2.36` or `musl 1.2`.
    pub libc: String,
    /// `/etc/os-release` `ID` and `VERSION_CODENAME` (`debian bookworm`).
    pub os: String,
    /// The Debian suite, when the base is Debian (system libraries come from it).
    pub suite: Option<String>,
    /// Whether the interpreter is Debian's own (`python3.X-minimal` installed at `/usr/bin`):
    /// only then can sdists be built in a Debian build environment that matches it.
    pub debian_python: bool,
    /// The base's `PATH`.
    pub path_var: String,
    /// Whether it has a CA bundle at lockship's `SSL_CERT_FILE` path.
    pub has_ca_bundle: bool,
    /// The base config's `Env`.
    #[serde(skip)]
    pub env: Vec<String>,
    /// The Debian packages the base's dpkg database lists.
    #[serde(skip)]
    pub packages: Vec<DebPin>,
    /// The C library, for wheel tags.
    #[serde(skip)]
    pub libc_kind: Option<Libc>,
}

impl BaseFacts {
    /// `(3, 12)`.
    pub fn version(&self) -> (u8, u8) {
        let (a, b) = self.python_version.split_once('.').unwrap_or(("3", "0"));
        (a.parse().unwrap_or(3), b.parse().unwrap_or(0))
    }

    /// The wheel tags this base accepts.
    pub fn wheel_target(&self, debian_arch: &str) -> WheelTarget {
        let python = self.version();
        WheelTarget {
            python,
            abi: format!("cp{}{}", python.0, python.1),
            arch: match debian_arch {
                "arm64" => Arch::Aarch64,
                "armhf" => Arch::Armv7l,
                _ => Arch::X86_64,
            },
            libc: self.libc_kind.unwrap_or(Libc::Glibc {
                major: 2,
                minor: 17,
            }),
        }
    }

    /// Whether the base's C library is musl.
    pub fn is_musl(&self) -> bool {
        matches!(self.libc_kind, Some(Libc::Musl { .. }))
    }
}

/// Fetches the base image of `platform` into the cache: from a registry with
/// `client`, or from a local layout or archive.
pub fn pull(
    ctx: &Context,
    source: &BaseImageSource,
    platform: &Platform,
    client: Option<&lockship_registry::Client>,
) -> Result<PulledBase, BuildError> {
    match source {
        BaseImageSource::Local(output) => pull_local(ctx, output, platform),
        BaseImageSource::Registry(reference) => {
            let client = client.ok_or_else(|| BuildError::BaseImage {
                source_ref: reference.to_string(),
                reason: "no registry client was configured".into(),
            })?;
            pull_registry(ctx, client, reference, platform)
        }
    }
}

fn compression_of(media_type: &str) -> Option<Compression> {
    if media_type.ends_with("+gzip") || media_type.ends_with(".tar.gzip") {
        Some(Compression::Gzip)
    } else if media_type.ends_with("+zstd") || media_type.ends_with(".tar.zstd") {
        Some(Compression::Zstd)
    } else if media_type.ends_with(".tar") || media_type.ends_with("diff.tar") {
        Some(Compression::None)
    } else {
        None
    }
}

fn layer_of(
    source: &str,
    path: PathBuf,
    media_type: &str,
    digest: &str,
    size: u64,
    diff_id: &str,
) -> Result<Layer, BuildError> {
    let compression = compression_of(media_type).ok_or_else(|| BuildError::BaseImage {
        source_ref: source.to_string(),
        reason: format!("layer `{digest}` has media type `{media_type}`, which is not a tar layer"),
    })?;
    Ok(Layer {
        path,
        digest: digest.to_string(),
        diff_id: diff_id.to_string(),
        size,
        // Counted when the tree is unpacked (see `prepare`).
        uncompressed_size: 0,
        compression,
    })
}

fn pull_local(
    ctx: &Context,
    output: &Output,
    platform: &Platform,
) -> Result<PulledBase, BuildError> {
    ctx.reporter
        .phase(&format!("reading the base image {output}"));
    let (image, readers) = lockship_oci::read_platform_image(output, platform)?;
    let mut layers = Vec::new();
    for (layer, reader) in image.layers.iter().zip(readers) {
        // The blob is hashed on its way into the cache (or when found there)
        // and must have the digest its manifest names; its diff_id is checked
        // when it is unpacked.
        let hex = sha256_hex(&layer.digest).ok_or_else(|| BuildError::BaseImage {
            source_ref: output.to_string(),
            reason: format!("layer `{}` is not named by a sha256 digest", layer.digest),
        })?;
        let path = match ctx.cache.get(hex)? {
            Some(p) => p,
            None => {
                ctx.cache
                    .insert(reader, Some(hex), &format!("{output} {}", layer.digest))?
                    .0
            }
        };
        layers.push(layer_of(
            &output.to_string(),
            path,
            &layer.media_type,
            &layer.digest,
            layer.size,
            &layer.diff_id,
        )?);
    }
    Ok(PulledBase {
        source: output.to_string(),
        manifest_digest: image.manifest_digest,
        config: image.config,
        layers,
    })
}

/// The hex of a `sha256:<64 lowercase hex>` digest.
fn sha256_hex(digest: &str) -> Option<&str> {
    digest.strip_prefix("sha256:").filter(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn pull_registry(
    ctx: &Context,
    client: &lockship_registry::Client,
    reference: &lockship_registry::Reference,
    platform: &Platform,
) -> Result<PulledBase, BuildError> {
    ctx.reporter
        .phase(&format!("resolving the base image {reference}"));
    let manifest = client.resolve_image(reference, platform)?;
    let config = client.fetch_config(&manifest)?;
    if config.architecture != platform.architecture || config.os != platform.os {
        return Err(BuildError::BaseImage {
            source_ref: reference.to_string(),
            reason: format!(
                "its config is for {}/{}, not {platform}",
                config.os, config.architecture
            ),
        });
    }
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(BuildError::BaseImage {
            source_ref: reference.to_string(),
            reason: format!(
                "its manifest has {} layers but its config {} diff_ids",
                manifest.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        });
    }
    let mut layers = Vec::new();
    for (desc, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        let path = client.fetch_blob_to_cache(&manifest.reference, desc, ctx.cache)?;
        layers.push(layer_of(
            &reference.to_string(),
            path,
            &desc.media_type,
            &desc.digest,
            desc.size,
            diff_id,
        )?);
    }
    Ok(PulledBase {
        source: reference.to_string(),
        manifest_digest: manifest.manifest.digest.clone(),
        config,
        layers,
    })
}

/// A base image unpacked and probed.
#[derive(Debug, Clone)]
pub struct PreparedBase {
    /// The image: the base's layers (uncompressed sizes filled in), config and history.
    pub image: Image,
    /// The unpacked tree (all layers, whiteouts applied).
    pub tree: PathBuf,
    /// A key naming the tree's content (its layers' chain).
    pub tree_key: String,
    /// Whether the tree was unpacked by an earlier build.
    pub tree_cached: bool,
    /// What is inside.
    pub facts: BaseFacts,
}

/// The layers' chain, as the unpacked tree records it.
#[derive(Serialize, Deserialize)]
struct TreeRecord {
    uncompressed_sizes: Vec<u64>,
    /// The blobs (compressed digests) whose diff_ids were checked when the
    /// tree was made.
    layer_digests: Vec<String>,
}

/// A base image's layers flattened into one tree in the cache.
#[derive(Debug, Clone)]
pub struct BaseTree {
    /// The tree (all layers, whiteouts applied).
    pub path: PathBuf,
    /// What names its content: a hash of the chain of its layers' diff_ids,
    /// each checked against its blob.
    pub key: String,
    /// Whether an earlier run unpacked it.
    pub cached: bool,
    /// Each layer's uncompressed size, bottom first.
    pub uncompressed_sizes: Vec<u64>,
}

/// Flattens the base's layers into a tree in the cache, once per chain of
/// layers, with the one hardened flattener ([`lockship_layer::unpack_layer`]).
///
/// The tree is keyed by diff_ids, and only diff_ids that were checked: each
/// layer's decompressed stream is hashed while it is unpacked into a
/// temporary directory, which is renamed into place only when every layer
/// decompressed to the diff_id the config claims. A tree found in the cache
/// is used only when the blobs it was made from are these blobs, or these
/// blobs decompress to its diff_ids.
pub fn unpack_tree(ctx: &Context, pulled: &PulledBase) -> Result<BaseTree, BuildError> {
    let mut chain = Sha256::new();
    // v2: trees of v1 were keyed by diff_ids nobody had checked.
    chain.update(b"lockship-base-tree-v2\0");
    for layer in &pulled.layers {
        chain.update(format!("{}\0", layer.diff_id));
    }
    let key = hex::encode(chain.finalize());
    let tree = ctx.cache.keyed_dir("base-image-tree", &key);
    let record_path = tree.with_extension("json");
    let digests: Vec<String> = pulled.layers.iter().map(|l| l.digest.clone()).collect();
    let record = std::fs::read(&record_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<TreeRecord>(&b).ok())
        .filter(|r| r.uncompressed_sizes.len() == pulled.layers.len() && tree.is_dir());
    if let Some(record) = record {
        if record.layer_digests != digests {
            // Other blobs that claim the same diff_ids: they must decompress to them.
            for layer in &pulled.layers {
                let blob = fs_err::File::open(&layer.path).map_err(io_err("read", &layer.path))?;
                lockship_layer::check_diff_id(blob, &layer.digest, &layer.diff_id)?;
            }
        }
        return Ok(BaseTree {
            path: tree,
            key,
            cached: true,
            uncompressed_sizes: record.uncompressed_sizes,
        });
    }
    ctx.reporter.phase(&format!(
        "unpacking the {} layers of the base image",
        pulled.layers.len()
    ));
    // Dropped (and removed) on any error: nothing unchecked reaches the cache.
    let tmp = ctx.cache.temp_dir()?;
    let root = tmp.path().join("rootfs");
    let mut sizes = Vec::new();
    for layer in &pulled.layers {
        sizes.push(unpack_with_whiteouts(layer, &root)?);
    }
    if let Some(parent) = tree.parent() {
        fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    if let Err(e) = std::fs::rename(&root, &tree) {
        // Another build put the same checked tree there first: keep theirs.
        if !tree.is_dir() {
            return Err(io_err("rename", &tree)(e));
        }
    }
    let bytes = serde_json::to_vec(&TreeRecord {
        uncompressed_sizes: sizes.clone(),
        layer_digests: digests,
    })
    .unwrap_or_default();
    let tmp_record = tmp.path().join("record.json");
    fs_err::write(&tmp_record, bytes).map_err(io_err("write", &tmp_record))?;
    fs_err::rename(&tmp_record, &record_path).map_err(io_err("rename", &record_path))?;
    ctx.reporter.phase("");
    Ok(BaseTree {
        path: tree,
        key,
        cached: false,
        uncompressed_sizes: sizes,
    })
}

/// Unpacks the base (once per chain of layers) and probes it. `want_python`
/// is the Python the user asked for, if any: a base with another one is an error.
pub fn prepare(
    ctx: &Context,
    pulled: &PulledBase,
    platform: &Platform,
    want_python: Option<&str>,
    epoch: u64,
) -> Result<PreparedBase, BuildError> {
    let BaseTree {
        path: tree,
        key: tree_key,
        cached: tree_cached,
        uncompressed_sizes: sizes,
    } = unpack_tree(ctx, pulled)?;
    let mut layers = pulled.layers.clone();
    for (layer, size) in layers.iter_mut().zip(sizes) {
        layer.uncompressed_size = size;
    }
    let facts = probe(&tree, pulled, platform, want_python)?;
    let image = Image {
        platform: platform.clone(),
        config: image_config(&pulled.config),
        layers,
        history: history(&pulled.config, pulled.layers.len(), &pulled.source),
        created: epoch,
        annotations: BTreeMap::from([
            (
                "org.opencontainers.image.base.name".to_string(),
                pulled.source.clone(),
            ),
            (
                "org.opencontainers.image.base.digest".to_string(),
                pulled.manifest_digest.clone(),
            ),
        ]),
    };
    Ok(PreparedBase {
        image,
        tree,
        tree_key,
        tree_cached,
        facts,
    })
}

/// The base config's run-time settings, which the build's own settings then override.
fn image_config(config: &ImageConfiguration) -> ImageConfig {
    let c = &config.config;
    let set = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    ImageConfig {
        user: set(&c.user),
        env: c.env.clone(),
        entrypoint: c.entrypoint.clone(),
        cmd: c.cmd.clone(),
        working_dir: set(&c.working_dir),
        labels: c.labels.clone(),
        exposed_ports: c.exposed_ports.keys().cloned().collect(),
        stop_signal: c.stop_signal.clone(),
    }
}

/// The base's history, or, when it has none that matches its layers, one
/// entry per layer (the layers lockship adds get entries, and the spec wants
/// the non-empty entries to match the layers one to one).
fn history(config: &ImageConfiguration, layers: usize, source: &str) -> Vec<History> {
    let entries: Vec<History> = config
        .history
        .iter()
        .map(|h| History {
            created_by: h.created_by.clone().unwrap_or_default(),
            comment: h.comment.clone(),
            empty_layer: h.empty_layer,
        })
        .collect();
    if entries.iter().filter(|h| !h.empty_layer).count() == layers {
        return entries;
    }
    (0..layers)
        .map(|i| History::layer(format!("layer {} of the base image {source}", i + 1)))
        .collect()
}

/// A path inside the tree, refusing `..` and absolute escapes.
fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Unpacks one layer over `root` with the one hardened flattener
/// ([`lockship_layer::unpack_layer`]): whiteouts applied, every path resolved
/// inside `root`, the decompressed stream checked against the layer's
/// diff_id. Returns the uncompressed size.
pub(crate) fn unpack_with_whiteouts(layer: &Layer, root: &Path) -> Result<u64, BuildError> {
    let blob = fs_err::File::open(&layer.path).map_err(io_err("read", &layer.path))?;
    let unpacked = lockship_layer::unpack_layer(
        std::io::BufReader::new(blob),
        &layer.digest,
        root,
        &layer.diff_id,
    )?;
    Ok(unpacked.uncompressed_size)
}

/// The in-image path `in_image` leads to through its symlinks (absolute
/// links taken inside the tree), when it exists.
fn resolve_in(root: &Path, in_image: &str) -> Option<String> {
    let on_disk = lockship_runtime::compile::resolve_in_tree(root, in_image)?;
    let rel = on_disk.strip_prefix(root).ok()?;
    Some(format!("/{}", rel.to_string_lossy()))
}

/// `python3.12` → `(3, 12)`.
fn python_minor(file_name: &str) -> Option<(u8, u8)> {
    let rest = file_name.strip_prefix("python")?;
    let (a, b) = rest.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Looks inside the tree for the interpreter, the C library and the OS.
pub(crate) fn probe(
    tree: &Path,
    pulled: &PulledBase,
    platform: &Platform,
    want_python: Option<&str>,
) -> Result<BaseFacts, BuildError> {
    let fail = |reason: String| BuildError::BaseImage {
        source_ref: pulled.source.clone(),
        reason,
    };
    let config_arch = pulled.config.architecture.as_str();
    if config_arch != platform.architecture {
        return Err(fail(format!(
            "it is a `{config_arch}` image, and the build is for {platform}"
        )));
    }
    let (os_id, codename) = os_release(tree);
    let libc = probe_libc(tree, platform);
    // The interpreter: `python3` on the image's PATH, else any python3.X there.
    let path_var = pulled
        .config
        .env_var("PATH")
        .unwrap_or("/usr/local/bin:/usr/bin:/bin")
        .to_string();
    let mut found: Vec<(String, (u8, u8))> = Vec::new();
    for dir in path_var.split(':').filter(|d| d.starts_with('/')) {
        if let Some(real) = resolve_in(tree, &format!("{dir}/python3")) {
            let name = real.rsplit('/').next().unwrap_or("");
            if let Some(v) = python_minor(name) {
                found.push((real.clone(), v));
            }
        }
        if let Some(on_disk) = inside(tree, Path::new(dir)) {
            if let Ok(read) = std::fs::read_dir(on_disk) {
                let mut names: Vec<String> = read
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                for name in names {
                    if let Some(v) = python_minor(&name) {
                        if let Some(real) = resolve_in(tree, &format!("{dir}/{name}")) {
                            if !found.iter().any(|(p, _)| *p == real) {
                                found.push((real, v));
                            }
                        }
                    }
                }
            }
        }
    }
    let wanted = want_python.map(|w| {
        let w = w.trim().trim_start_matches("python");
        w.split('.').take(2).collect::<Vec<_>>().join(".")
    });
    let chosen = match &wanted {
        Some(w) => found
            .iter()
            .find(|(_, v)| format!("{}.{}", v.0, v.1) == *w)
            .cloned()
            .ok_or_else(|| {
                fail(format!(
                    "the build asks for Python {w}, and the image has {}",
                    if found.is_empty() {
                        "no python3.X on its PATH".to_string()
                    } else {
                        found
                            .iter()
                            .map(|(p, v)| format!("{}.{} (`{p}`)", v.0, v.1))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ))
            })?,
        None => found
            .first()
            .cloned()
            .ok_or_else(|| fail(format!("no `python3.X` on its PATH (`{path_var}`)")))?,
    };
    let (python, (major, minor)) = chosen;
    let bin_dir = Path::new(&python)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/usr/bin".into());
    let prefix = Path::new(&bin_dir)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/usr".into());
    let stdlib = format!("{prefix}/lib/python{major}.{minor}");
    if !inside(tree, Path::new(&stdlib)).is_some_and(|p| p.join("os.py").is_file()) {
        return Err(fail(format!(
            "`{python}` has no standard library at `{stdlib}` (is it CPython?)"
        )));
    }
    let packages = dpkg_packages(tree);
    let debian_python = prefix == "/usr"
        && packages
            .iter()
            .any(|p| p.name == format!("python{major}.{minor}-minimal"));
    let full = pulled
        .config
        .env_var("PYTHON_VERSION")
        .filter(|v| v.starts_with(&format!("{major}.{minor}.")))
        .map(str::to_string)
        .or_else(|| {
            packages
                .iter()
                .find(|p| p.name == format!("python{major}.{minor}-minimal"))
                .map(|p| crate::plan::upstream_version(&p.version))
        })
        .or_else(|| sysconfig_version(tree, &stdlib, major, minor))
        .unwrap_or_else(|| format!("{major}.{minor}.0"));
    let libc_text = match &libc {
        Some(Libc::Glibc { major, minor }) => format!("glibc {major}.{minor}"),
        Some(Libc::Musl { major, minor }) => format!("musl {major}.{minor}"),
        None => return Err(fail(
            "it has no C library lockship knows (neither glibc's `libc.so.6` nor musl's loader)"
                .into(),
        )),
    };
    let suite = (os_id == "debian")
        .then(|| codename.clone())
        .filter(|c| lockship_runtime::SUPPORTED.iter().any(|p| p.suite == c));
    Ok(BaseFacts {
        source: pulled.source.clone(),
        manifest_digest: pulled.manifest_digest.clone(),
        python,
        prefix,
        python_version: format!("{major}.{minor}"),
        python_full_version: full,
        libc: libc_text,
        os: format!("{os_id} {codename}").trim().to_string(),
        suite,
        debian_python,
        has_ca_bundle: resolve_in(tree, lockship_runtime::fsbase::CA_BUNDLE).is_some(),
        env: pulled.config.config.env.clone(),
        path_var,
        packages,
        libc_kind: libc,
    })
}

/// The full version from the stdlib's `_sysconfigdata` or `LICENSE.txt`-free
/// sources: the `Makefile`'s `VERSION`/`PY_VERSION` is not shipped, so look for
/// `'py_version': '3.12.7'` in the build-time sysconfig data.
fn sysconfig_version(tree: &Path, stdlib: &str, major: u8, minor: u8) -> Option<String> {
    let dir = inside(tree, Path::new(stdlib))?;
    let entry = std::fs::read_dir(&dir).ok()?.flatten().find(|e| {
        let n = e.file_name().to_string_lossy().into_owned();
        n.starts_with("_sysconfigdata") && n.ends_with(".py")
    })?;
    let text = std::fs::read_to_string(entry.path()).ok()?;
    let needle = format!("'{major}.{minor}.");
    let at = text.find(&needle)?;
    let rest = &text[at + 1..];
    let end = rest.find('\'')?;
    Some(rest[..end].to_string())
}

fn os_release(tree: &Path) -> (String, String) {
    let text = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| {
            resolve_in(tree, &format!("/{p}"))
                .and_then(|real| std::fs::read_to_string(inside(tree, Path::new(&real))?).ok())
        })
        .unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(|v| v.trim().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    (field("ID"), field("VERSION_CODENAME"))
}

/// glibc's version from the `libc.so.6` banner, or musl from its loader.
fn probe_libc(tree: &Path, platform: &Platform) -> Option<Libc> {
    let (_, triplet) = lockship_runtime::debian_arch(platform).ok()?;
    let musl_arch = match platform.architecture.as_str() {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "arm" => "armhf",
        other => other,
    };
    for dir in ["/lib", "/usr/lib"] {
        if resolve_in(tree, &format!("{dir}/ld-musl-{musl_arch}.so.1")).is_some() {
            let (major, minor) = musl_version(tree).unwrap_or((1, 2));
            return Some(Libc::Musl { major, minor });
        }
    }
    for dir in [
        format!("/usr/lib/{triplet}"),
        format!("/lib/{triplet}"),
        "/usr/lib64".to_string(),
        "/lib64".to_string(),
        "/usr/lib".to_string(),
        "/lib".to_string(),
    ] {
        let Some(real) = resolve_in(tree, &format!("{dir}/libc.so.6")) else {
            continue;
        };
        let bytes = std::fs::read(inside(tree, Path::new(&real))?).ok()?;
        return Some(glibc_version(&bytes).unwrap_or(Libc::Glibc {
            major: 2,
            minor: 17,
        }));
    }
    None
}

/// `… release version 2.36.` in glibc's banner string.
fn glibc_version(bytes: &[u8]) -> Option<Libc> {
    let needle = b"release version ";
    let at = bytes.windows(needle.len()).position(|w| w == needle)? + needle.len();
    let tail: String = bytes[at..]
        .iter()
        .take(12)
        .map(|&b| b as char)
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = tail.trim_end_matches('.').split('.');
    Some(Libc::Glibc {
        major: parts.next()?.parse().ok()?,
        minor: parts.next()?.parse().ok()?,
    })
}

/// musl's version from apk's database (Alpine), when it is there.
fn musl_version(tree: &Path) -> Option<(u16, u16)> {
    let text = std::fs::read_to_string(tree.join("lib/apk/db/installed")).ok()?;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line == "P:musl" {
            let version = lines.find_map(|l| l.strip_prefix("V:"))?;
            let mut parts = version.split(['.', '-']);
            return Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?));
        }
    }
    None
}

/// The packages dpkg says are installed (`/var/lib/dpkg/status`, and
/// distroless-style `status.d/`).
fn dpkg_packages(tree: &Path) -> Vec<DebPin> {
    let mut texts = Vec::new();
    if let Ok(t) = std::fs::read_to_string(tree.join("var/lib/dpkg/status")) {
        texts.push(t);
    }
    if let Ok(read) = std::fs::read_dir(tree.join("var/lib/dpkg/status.d")) {
        for e in read.flatten() {
            if !e.file_name().to_string_lossy().ends_with(".md5sums") {
                if let Ok(t) = std::fs::read_to_string(e.path()) {
                    texts.push(t);
                }
            }
        }
    }
    let mut out = Vec::new();
    for text in texts {
        for stanza in text.split("\n\n") {
            let field = |name: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                    .map(str::to_string)
            };
            let (Some(name), Some(version)) = (field("Package"), field("Version")) else {
                continue;
            };
            if field("Status").is_some_and(|s| !s.ends_with(" installed")) {
                continue;
            }
            out.push(DebPin {
                name,
                version,
                architecture: field("Architecture").unwrap_or_default(),
                filename: String::new(),
                sha256: String::new(),
                size: 0,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulled(env: &[&str]) -> PulledBase {
        PulledBase {
            source: "oci:test".into(),
            manifest_digest: "sha256:00".into(),
            config: serde_json::from_value(serde_json::json!({
                "architecture": "amd64",
                "os": "linux",
                "config": {"Env": env},
                "rootfs": {"type": "layers", "diff_ids": []},
            }))
            .unwrap(),
            layers: Vec::new(),
        }
    }

    fn file(root: &Path, path: &str, bytes: &[u8]) {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    fn link(root: &Path, path: &str, target: &str) {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
    }

    /// The layout of the official `python:3.12-slim`: CPython in /usr/local,
    /// Debian's glibc, Debian's python absent.
    fn official_slim(root: &Path) {
        file(root, "etc/os-release", b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_CODENAME=bookworm\n");
        file(
            root,
            "usr/lib/x86_64-linux-gnu/libc.so.6",
            b"\x7fELF...GNU C Library (Debian GLIBC 2.36-9+deb12u7) stable release version 2.36.\n",
        );
        link(root, "lib", "usr/lib");
        file(root, "usr/local/bin/python3.12", b"\x7fELF");
        link(root, "usr/local/bin/python3", "python3.12");
        file(root, "usr/local/lib/python3.12/os.py", b"");
        file(
            root,
            "var/lib/dpkg/status",
            b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u7\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
        );
    }

    #[test]
    fn official_python_slim_is_probed_from_its_files() {
        let dir = tempfile::tempdir().unwrap();
        official_slim(dir.path());
        let facts = probe(
            dir.path(),
            &pulled(&[
                "PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/bin",
                "PYTHON_VERSION=3.12.7",
            ]),
            &Platform::linux_amd64(),
            None,
        )
        .unwrap();
        assert_eq!(facts.python, "/usr/local/bin/python3.12");
        assert_eq!(facts.prefix, "/usr/local");
        assert_eq!(facts.python_full_version, "3.12.7");
        assert_eq!(facts.libc, "glibc 2.36");
        assert_eq!(facts.suite.as_deref(), Some("bookworm"));
        assert!(!facts.debian_python);
        assert_eq!(facts.packages.len(), 1, "{:?}", facts.packages);
        let tags = facts.wheel_target("amd64");
        assert_eq!(tags.abi, "cp312");
    }

    #[test]
    fn another_python_than_asked_is_an_error_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        official_slim(dir.path());
        let err = probe(
            dir.path(),
            &pulled(&["PATH=/usr/local/bin:/usr/bin"]),
            &Platform::linux_amd64(),
            Some("3.11"),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("Python 3.11"), "{text}");
        assert!(
            text.contains("3.12 (`/usr/local/bin/python3.12`)"),
            "{text}"
        );
        assert!(err.hint().unwrap().contains("--python"), "{:?}", err.hint());
    }

    #[test]
    fn a_musl_base_selects_musllinux_tags() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        file(root, "etc/os-release", b"ID=alpine\nVERSION_ID=3.20.3\n");
        file(root, "lib/ld-musl-x86_64.so.1", b"\x7fELF");
        file(
            root,
            "lib/apk/db/installed",
            b"C:Q1\nP:musl\nV:1.2.5-r0\nA:x86_64\n\n",
        );
        file(root, "usr/local/bin/python3.12", b"\x7fELF");
        file(root, "usr/local/lib/python3.12/os.py", b"");
        let facts = probe(
            root,
            &pulled(&["PATH=/usr/local/bin:/usr/bin"]),
            &Platform::linux_amd64(),
            None,
        )
        .unwrap();
        assert!(facts.is_musl());
        assert_eq!(facts.libc, "musl 1.2");
        assert_eq!(facts.suite, None);
        let tags = facts.wheel_target("amd64").platform_tags();
        assert!(
            tags.iter().any(|t| t.starts_with("musllinux_1_2")),
            "{tags:?}"
        );
        assert!(!tags.iter().any(|t| t.starts_with("manylinux")), "{tags:?}");
    }

    #[test]
    fn a_base_without_python_says_so() {
        let dir = tempfile::tempdir().unwrap();
        file(
            dir.path(),
            "usr/lib/x86_64-linux-gnu/libc.so.6",
            b"release version 2.36.",
        );
        let err = probe(
            dir.path(),
            &pulled(&["PATH=/usr/bin:/bin"]),
            &Platform::linux_amd64(),
            None,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("no `python3.X` on its PATH"),
            "{err}"
        );
    }

    #[test]
    fn whiteouts_remove_what_lower_layers_had() {
        use lockship_layer::{write_layer, LayerOptions};
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        file(&lower, "etc/keep", b"k");
        file(&lower, "etc/gone", b"g");
        file(&lower, "var/cache/a", b"a");
        file(&lower, "var/cache/b", b"b");
        let upper = dir.path().join("upper");
        file(&upper, "etc/.wh.gone", b"");
        file(&upper, "var/cache/.wh..wh..opq", b"");
        file(&upper, "var/cache/c", b"c");
        let options = LayerOptions::new(Compression::Gzip, 0);
        let mut layers = Vec::new();
        for (name, tree) in [("l", &lower), ("u", &upper)] {
            let out = dir.path().join(name);
            std::fs::create_dir_all(&out).unwrap();
            layers.push(write_layer(tree, &options, &out).unwrap());
        }
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        for layer in &layers {
            let size = unpack_with_whiteouts(layer, &root).unwrap();
            assert_eq!(size, layer.uncompressed_size);
        }
        assert!(root.join("etc/keep").is_file());
        assert!(!root.join("etc/gone").exists());
        assert!(!root.join("etc/.wh.gone").exists());
        assert!(!root.join("var/cache/a").exists());
        assert!(root.join("var/cache/c").is_file());
    }

    /// Finding 5: an image whose config claims another image's diff_ids
    /// (here, the honest one's) is refused while it is unpacked, and nothing
    /// lands in the cache under the claimed key; the honest image then
    /// unpacks cleanly, and the lying one is refused again even though a
    /// tree under its claimed diff_ids is now cached.
    #[test]
    fn lying_diff_id_is_refused_and_nothing_is_cached() {
        use lockship_layer::{write_layer, LayerOptions};
        let dir = tempfile::tempdir().unwrap();
        let honest_tree = dir.path().join("honest");
        official_slim(&honest_tree);
        let evil_tree = dir.path().join("evil");
        official_slim(&evil_tree);
        file(
            &evil_tree,
            "usr/local/bin/python3.12",
            b"#!/bin/sh\necho owned\n",
        );
        let blobs = dir.path().join("blobs");
        std::fs::create_dir_all(&blobs).unwrap();
        let options = LayerOptions::new(Compression::Gzip, 0);
        let honest = write_layer(&honest_tree, &options, &blobs).unwrap();
        let evil = write_layer(&evil_tree, &options, &blobs).unwrap();
        let mut lying = evil.clone();
        lying.diff_id = honest.diff_id.clone();

        let cache = lockship_fetch::Cache::open(dir.path().join("cache")).unwrap();
        let fetcher =
            lockship_fetch::Fetcher::new(lockship_fetch::FetchOptions::default()).unwrap();
        let ctx = Context {
            fetcher: &fetcher,
            cache: &cache,
            reporter: &lockship_fetch::NoReporter,
        };
        let image = |layer: &Layer| PulledBase {
            layers: vec![layer.clone()],
            ..pulled(&["PATH=/usr/local/bin:/usr/bin:/bin", "PYTHON_VERSION=3.12.7"])
        };
        let platform = Platform::linux_amd64();
        let entries = |p: &Path| std::fs::read_dir(p).map(|r| r.count()).unwrap_or(0);

        let err = prepare(&ctx, &image(&lying), &platform, None, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Layer `{}` decompresses to diff_id `{}`, but the image config claims `{}`",
                evil.digest, evil.diff_id, honest.diff_id
            )
        );
        assert!(err.hint().unwrap().contains("tampered"), "{:?}", err.hint());
        let trees = cache.root().join("keyed/base-image-tree");
        assert_eq!(entries(&trees), 0, "a tree was cached");
        assert_eq!(
            entries(&cache.root().join("tmp")),
            0,
            "the scratch tree was left"
        );

        let prepared = prepare(&ctx, &image(&honest), &platform, None, 0).unwrap();
        assert!(!prepared.tree_cached);
        assert_eq!(
            std::fs::read(prepared.tree.join("usr/local/bin/python3.12")).unwrap(),
            b"\x7fELF"
        );
        assert_eq!(
            prepared.image.layers[0].uncompressed_size,
            honest.uncompressed_size
        );

        // A tree under the claimed diff_ids is cached now: the lying blobs
        // must still decompress to them before it is used.
        let err = prepare(&ctx, &image(&lying), &platform, None, 0).unwrap_err();
        assert!(
            matches!(
                &err,
                BuildError::Layer(lockship_layer::LayerError::DiffIdMismatch { .. })
            ),
            "{err:?}"
        );
        let again = prepare(&ctx, &image(&honest), &platform, None, 0).unwrap();
        assert!(again.tree_cached);
        assert_eq!(again.tree_key, prepared.tree_key);
    }

    /// A plain tar layer of files named raw (no directory entries, so
    /// nothing replaces a symlink a lower layer planted), in `dir`.
    fn raw_layer(dir: &Path, name: &str, files: &[(&str, &[u8])]) -> Layer {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut header = tar::Header::new_gnu();
            header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_mode(0o644);
            header.set_size(data.len() as u64);
            header.set_cksum();
            tar.append(&header, *data).unwrap();
        }
        let bytes = tar.into_inner().unwrap();
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        Layer {
            path,
            digest: digest.clone(),
            diff_id: digest,
            size: bytes.len() as u64,
            uncompressed_size: bytes.len() as u64,
            compression: Compression::None,
        }
    }

    /// Finding 2, through `--base-image`: a base layer plants `esc -> CANARY`,
    /// the next one whites out, empties and writes through it; the canary
    /// outside the cache is untouched, and a top-level `.wh...` is refused.
    #[test]
    fn hostile_base_layers_stay_in_the_unpacked_tree() {
        use lockship_layer::{write_layer, LayerOptions};
        let dir = tempfile::tempdir().unwrap();
        let canary = dir.path().join("canary");
        file(&canary, "file", b"canary");
        file(&canary, "dir/inner", b"inner");
        let lower = dir.path().join("lower");
        official_slim(&lower);
        link(&lower, "esc", canary.to_str().unwrap());
        let blobs = dir.path().join("blobs");
        std::fs::create_dir_all(&blobs).unwrap();
        let options = LayerOptions::new(Compression::Gzip, 0);
        let layers = vec![
            write_layer(&lower, &options, &blobs).unwrap(),
            raw_layer(
                &blobs,
                "upper",
                &[
                    ("esc/.wh.file", b""),
                    ("esc/dir/.wh..wh..opq", b""),
                    ("esc/planted", b"evil"),
                ],
            ),
        ];
        let cache = lockship_fetch::Cache::open(dir.path().join("cache")).unwrap();
        let fetcher =
            lockship_fetch::Fetcher::new(lockship_fetch::FetchOptions::default()).unwrap();
        let ctx = Context {
            fetcher: &fetcher,
            cache: &cache,
            reporter: &lockship_fetch::NoReporter,
        };
        let base = PulledBase {
            layers,
            ..pulled(&["PATH=/usr/local/bin:/usr/bin:/bin"])
        };
        let prepared = prepare(&ctx, &base, &Platform::linux_amd64(), None, 0).unwrap();
        assert_eq!(std::fs::read(canary.join("file")).unwrap(), b"canary");
        assert_eq!(std::fs::read(canary.join("dir/inner")).unwrap(), b"inner");
        assert!(!canary.join("planted").exists());
        assert!(std::fs::symlink_metadata(prepared.tree.join("esc"))
            .unwrap()
            .file_type()
            .is_symlink());
        let rerooted = prepared.tree.join(canary.strip_prefix("/").unwrap());
        assert_eq!(std::fs::read(rerooted.join("planted")).unwrap(), b"evil");

        // `.wh...` at the top hides `..`: the cache's own tmp, once.
        let other_build = cache.root().join("tmp/other-build");
        std::fs::write(&other_build, b"other").unwrap();
        let hostile = raw_layer(&blobs, "dotdot", &[(".wh...", b"")]);
        let base = PulledBase {
            layers: vec![hostile.clone()],
            ..pulled(&[])
        };
        let err = prepare(&ctx, &base, &Platform::linux_amd64(), None, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Layer `{}` has entry `.wh...`, which is a whiteout of `..`, not of a plain name",
                hostile.digest
            )
        );
        assert!(err.hint().unwrap().contains("hostile"), "{:?}", err.hint());
        assert_eq!(std::fs::read(&other_build).unwrap(), b"other");
        assert!(prepared.tree.join("usr/local/bin/python3.12").is_file());
    }

    #[test]
    fn sources_parse_by_transport() {
        assert!(matches!(
            BaseImageSource::parse("oci:./layout").unwrap(),
            BaseImageSource::Local(Output::OciDir(_))
        ));
        assert!(matches!(
            BaseImageSource::parse("127.0.0.1:5000/python:3.12-slim").unwrap(),
            BaseImageSource::Registry(_)
        ));
        assert!(BaseImageSource::parse("python:3.12-slim").is_err());
    }
}
