//! The distroless Python runtime: Debian packages in, one OCI image out.
//!
//! [`plan_base`] turns options into a [`BasePlan`] (which packages, at which
//! versions and hashes), and [`build_base`] runs the rest of the pipeline:
//! fetch the `.deb` files into the cache, unpack them into a staged tree
//! (dropping what [`prune`] lists), add the files a runtime needs
//! ([`fsbase`]), compile the stdlib's bytecode with the image's own
//! interpreter, write one deterministic layer and describe the [`Image`].
//!
//! [`standalone::build_standalone_base`] builds the other runtime: a
//! minimal Debian-stable userland and a standalone CPython at one prefix.
//!
//! Every Debian tree goes through the one pipeline of [`debtree`] (resolve,
//! fetch, unpack, prune, lay down): the runtime, the stand-ins of the
//! official images ([`standin`]), the sdist build environment ([`buildenv`])
//! and the system-libraries layer ([`DebTree::stage_over_base`]). The
//! architecture's names come from the one target table, `lockship-target`.
//!
//! ```no_run
//! use lockship_runtime::{build_base, BaseOptions, Context, PythonRuntime};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fetcher = lockship_fetch::Fetcher::new(Default::default())?;
//! let cache = lockship_fetch::Cache::open("/tmp/lockship-cache")?;
//! let ctx = Context { fetcher: &fetcher, cache: &cache, reporter: &lockship_fetch::NoReporter };
//! let options = BaseOptions::new(
//!     PythonRuntime::lookup("3.11")?,
//!     "linux/amd64".parse()?,
//!     url::Url::parse("http://127.0.0.1:8080/debian")?,
//! );
//! let base = build_base(&ctx, &options)?;
//! println!("{}", base.image.digest());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod buildenv;
mod cacert;
pub mod compile;
pub mod debtree;
mod error;
pub mod fsbase;
pub mod ldcache;
pub mod prune;
mod python;
pub mod standalone;
pub mod standin;
pub mod status;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lockship_debian::{Keyring, Package, RepoOptions, Repository};
use lockship_fetch::{Cache, Fetcher, Reporter};
use lockship_layer::{Compression, Layer, LayerOptions};

use crate::debtree::{FetchedTree, LayerStep};
use lockship_oci::{History, Image, ImageConfig, Platform};
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

pub use cacert::{add_ca_certs, CaCert, LOCAL_CA_DIR};
pub use debtree::DebTree;
pub use error::RuntimeError;
pub use python::{PythonRuntime, SUPPORTED};
pub use standin::{build_flavor, Flavor};

/// The default `SOURCE_DATE_EPOCH`: 2024-01-01T00:00:00Z.
pub const DEFAULT_EPOCH: u64 = 1_704_067_200;

/// Dependencies that Debian declares but a container runtime never uses.
/// A dependency on one of these counts as satisfied; each drop is proven by
/// the tests that run the interpreter.
pub const EXCLUDED_PACKAGES: &[(&str, &str)] = &[
    (
        "debconf",
        "configuration prompts run by maintainer scripts, which never run",
    ),
    ("debconf-2.0", "virtual package for debconf"),
    ("perl-base", "only needed by debconf"),
    ("openssl", "the command-line tool; libssl3 stays"),
    ("dpkg", "no package manager in the image"),
    ("install-info", "info pages are dropped"),
    ("readline-common", "interactive line editing; pulls in dpkg"),
    (
        "libreadline8",
        "interactive line editing (the readline module)",
    ),
    ("libncursesw6", "terminal UI (the curses module)"),
    (
        "libtinfo6",
        "terminal capabilities, for readline and curses",
    ),
    ("libdb5.3", "Berkeley DB (the dbm.ndbm module)"),
    ("libgdbm6", "GNU dbm (the dbm.gnu module)"),
    ("libgdbm-compat4", "GNU dbm compatibility"),
    (
        "libnsl2",
        "NIS (the deprecated nis module); pulls in Kerberos",
    ),
    ("libtirpc3", "Sun RPC, for NIS only"),
];

/// Where the work happens and how it is reported.
pub struct Context<'a> {
    /// The HTTP client.
    pub fetcher: &'a Fetcher,
    /// The content-addressed cache.
    pub cache: &'a Cache,
    /// Progress events.
    pub reporter: &'a dyn Reporter,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BaseOptions {
    /// Which Python.
    pub python: PythonRuntime,
    /// Which platform.
    pub platform: Platform,
    /// The Debian mirror (the URL apt uses, ending in `/debian`).
    pub mirror: Url,
    /// The archive keyring that signs the suite.
    pub keyring: PathBuf,
    /// Layer compression.
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH` for every file and the image's creation time.
    pub epoch: u64,
    /// Add busybox for a shell.
    pub debug: bool,
    /// Compile the stdlib's bytecode.
    pub compile: bool,
    /// More Debian packages to install (with their closure).
    pub extra_packages: Vec<String>,
    /// Certificate authorities added to the CA bundle (`--ca-cert`).
    pub ca_certs: Vec<CaCert>,
    /// `--python-source`, else `[tool.lockship] python-source`: the one
    /// provider the Python may come from.
    pub python_source: Option<lockship_python::PythonSource>,
    /// Where standalone CPython builds are downloaded from.
    pub python_mirror: lockship_python::Mirror,
    /// The standalone CPython the Python selection chose, when it chose
    /// one: the base is then [`standalone::build_standalone_base`]'s.
    pub standalone: Option<lockship_python::StandaloneBuild>,
}

impl BaseOptions {
    /// Options with the defaults: gzip, the default epoch, bytecode on.
    pub fn new(python: PythonRuntime, platform: Platform, mirror: Url) -> BaseOptions {
        BaseOptions {
            python,
            platform,
            mirror,
            keyring: PathBuf::from(Keyring::DEFAULT_PATH),
            compression: Compression::Gzip,
            epoch: DEFAULT_EPOCH,
            debug: false,
            compile: true,
            extra_packages: Vec::new(),
            ca_certs: Vec::new(),
            python_source: None,
            python_mirror: lockship_python::Mirror::public(),
            standalone: None,
        }
    }
}

/// One pinned Debian package of the plan.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DebPin {
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// Debian architecture (`amd64`, `all`).
    pub architecture: String,
    /// Path under the mirror.
    pub filename: String,
    /// SHA-256 of the `.deb`.
    pub sha256: String,
    /// Size of the `.deb`.
    pub size: u64,
}

/// Everything that goes into the base, decided before any `.deb` is fetched.
#[derive(Debug, Clone, Serialize)]
pub struct BasePlan {
    /// Python version and suite.
    pub python: PythonRuntime,
    /// `linux/amd64`…
    pub platform: String,
    /// `amd64`…
    pub debian_arch: String,
    /// The GNU triplet of the library directory.
    pub triplet: String,
    /// The packages asked for.
    pub roots: Vec<String>,
    /// Declared dependencies left out, and who declared them.
    pub skipped: Vec<(String, String)>,
    /// The resolved closure, sorted by name.
    pub packages: Vec<DebPin>,
}

/// What assembling the tree did, for the summary.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct AssemblyReport {
    /// Bytes the closure's packages declare as installed (Installed-Size).
    pub closure_installed_bytes: u64,
    /// Bytes of regular files in the finished tree.
    pub tree_bytes: u64,
    /// Stdlib extension modules removed because their library is absent.
    pub dropped_extensions: Vec<String>,
    /// Certificates in the CA bundle.
    pub certificates: usize,
    /// Libraries in /etc/ld.so.cache.
    pub ld_cache_entries: usize,
    /// `.pyc` files compiled; `None` when compilation was off or impossible.
    pub pyc_files: Option<usize>,
    /// Why bytecode was not compiled, when it was not.
    pub compile_skipped: Option<String>,
}

/// The result of [`build_base`].
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// The image.
    pub image: Image,
    /// The plan it came from.
    pub plan: BasePlan,
    /// What assembly did.
    pub report: AssemblyReport,
    /// Whether the layer came from the cache (nothing fetched or unpacked).
    pub layer_cached: bool,
    /// The suite's opened, verified index, for layers that add packages on
    /// top (so a build opens it once).
    pub repository: Repository,
}

/// The row of the target table for a platform the runtime is built for.
pub fn target(platform: &Platform) -> Result<&'static lockship_target::Target, RuntimeError> {
    platform
        .target()
        .filter(|t| t.buildable)
        .ok_or_else(|| RuntimeError::UnsupportedPlatform {
            platform: platform.to_string(),
            supported: lockship_target::buildable()
                .map(lockship_target::Target::oci_platform)
                .collect(),
        })
}

fn arch_of(platform: &Platform) -> Result<(&'static str, &'static str), RuntimeError> {
    target(platform).map(|t| (t.debian_arch, t.triplet))
}

/// The packages a runtime asks for.
pub fn root_packages(options: &BaseOptions) -> Vec<String> {
    let v = options.python.version;
    let mut roots = vec![
        format!("python{v}-minimal"),
        format!("libpython{v}-stdlib"),
        "ca-certificates".to_string(),
        "tzdata".to_string(),
        "netbase".to_string(),
        // manylinux wheels assume these (greenlet, numpy…).
        "libstdc++6".to_string(),
        "libgcc-s1".to_string(),
        // ldconfig (for ctypes.util.find_library) and the C.UTF-8 locale.
        "libc-bin".to_string(),
    ];
    if options.debug {
        roots.push("busybox-static".to_string());
    }
    roots.extend(options.extra_packages.iter().cloned());
    roots
}

/// The Debian architecture and GNU triplet of a platform.
pub fn debian_arch(platform: &Platform) -> Result<(&'static str, &'static str), RuntimeError> {
    arch_of(platform)
}

/// Opens the signed index of the runtime's suite (`main`, the platform's
/// architecture).
pub fn open_repository(ctx: &Context, options: &BaseOptions) -> Result<Repository, RuntimeError> {
    let (arch, _) = arch_of(&options.platform)?;
    let keyring = Keyring::load(&options.keyring)?;
    Ok(Repository::open(
        ctx.fetcher,
        ctx.cache,
        &keyring,
        RepoOptions {
            mirror: options.mirror.clone(),
            suite: options.python.suite.to_string(),
            arch: arch.to_string(),
            components: vec!["main".to_string()],
        },
        ctx.reporter,
    )?)
}

/// Fetches the suite's signed index and resolves the package closure.
pub fn plan_base(
    ctx: &Context,
    options: &BaseOptions,
) -> Result<(Repository, BasePlan), RuntimeError> {
    let (arch, triplet) = arch_of(&options.platform)?;
    let repo = open_repository(ctx, options)?;
    let roots = root_packages(options);
    let tree = DebTree::resolve(
        &repo,
        roots.clone(),
        EXCLUDED_PACKAGES
            .iter()
            .map(|(n, _)| n.to_string())
            .collect(),
    )?;
    let plan = BasePlan {
        python: options.python.clone(),
        platform: options.platform.to_string(),
        debian_arch: arch.to_string(),
        triplet: triplet.to_string(),
        roots,
        skipped: tree.skipped().to_vec(),
        packages: tree.pins(),
    };
    Ok((repo, plan))
}

/// The plan's pin of an index entry.
pub fn pin(p: &Package) -> DebPin {
    DebPin {
        name: p.name.clone(),
        version: p.version.clone(),
        architecture: p.architecture.clone(),
        filename: p.filename.clone(),
        sha256: p.sha256.clone(),
        size: p.size,
    }
}

/// The cache key of the base layer: everything that decides its bytes.
/// Bump the `lockship-base-vN` tag whenever assembly changes what it writes.
fn layer_key(plan: &BasePlan, options: &BaseOptions) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "lockship-base-v3\0{}\0{}\0{:?}\0{}\0{}\0{}\0",
        env!("CARGO_PKG_VERSION"),
        plan.platform,
        options.compression,
        options.epoch,
        options.debug,
        options.compile
    ));
    for p in &plan.packages {
        h.update(format!("{}\0{}\0", p.name, p.sha256));
    }
    // Only when given, so that keys without them stay as they were.
    for cert in &options.ca_certs {
        h.update(format!("ca\0{}\0{}\0", cert.name, cert.sha256()));
    }
    hex::encode(h.finalize())
}

/// Runs the whole pipeline and returns the image.
pub fn build_base(ctx: &Context, options: &BaseOptions) -> Result<BaseImage, RuntimeError> {
    let (repo, plan) = plan_base(ctx, options)?;
    let tree = DebTree::planned(&repo, &plan.packages);
    let key = layer_key(&plan, options);
    let report_path = ctx
        .cache
        .keyed_dir("base-report", &key)
        .with_extension("json");
    let layer_options = LayerOptions {
        compression: options.compression,
        level: None,
        mtime: options.epoch,
        overrides: fsbase::users_and_dirs_overrides(),
    };
    let step = LayerStep {
        key: &key,
        options: &layer_options,
        phase: format!("unpacking {} packages", tree.packages().len()),
    };
    let (layer, hit, assembled) = tree.layer(ctx, &step, |root, fetched| {
        assemble(root, &plan, fetched, options)
    })?;
    let report = cached_report(&report_path, assembled);
    let image = describe(&plan, options, layer);
    Ok(BaseImage {
        image,
        plan,
        report,
        layer_cached: hit,
        repository: repo,
    })
}

/// The assembly report of a layer: saved beside the layer cache when the
/// layer was just assembled, else read back from there.
fn cached_report(path: &Path, assembled: Option<AssemblyReport>) -> AssemblyReport {
    match assembled {
        Some(report) => {
            let _ = save_report(path, &report);
            report
        }
        None => std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default(),
    }
}

fn save_report(path: &Path, report: &AssemblyReport) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(report).unwrap_or_default())?;
    std::fs::rename(tmp, path)
}

fn to_layer_err(e: impl Into<RuntimeError>) -> lockship_layer::LayerError {
    lockship_layer::LayerError::Producer(Box::new(e.into()))
}

/// Unpacks, prunes and completes the tree. Returns what it did.
pub fn assemble(
    root: &Path,
    plan: &BasePlan,
    fetched: &FetchedTree,
    options: &BaseOptions,
) -> Result<AssemblyReport, RuntimeError> {
    let python = &plan.python;
    let stdlib = format!("{}/", python.stdlib_dir());
    let mut report = AssemblyReport {
        closure_installed_bytes: fetched.installed_bytes(),
        ..AssemblyReport::default()
    };
    fsbase::merged_usr(root, &plan.debian_arch)?;
    let keep = |package: &Package, path: &str| -> bool {
        if let Some(allowed) = package_allowlist(&package.name) {
            if !path.ends_with('/') && !allowed.iter().any(|a| path.starts_with(a)) {
                return false;
            }
        }
        prune::keep(path, &stdlib)
    };
    fetched.unpack(root, &keep, &mut |package, unpacked| {
        status::write_status(
            root,
            &package.name,
            &unpacked.control,
            unpacked.md5sums.as_deref(),
        )
    })?;
    fsbase::python_links(root, python)?;
    fsbase::users_and_dirs(root)?;
    fsbase::os_release(root, python)?;
    report.certificates = fsbase::ca_bundle(root)?;
    report.certificates += cacert::add_ca_certs(root, &options.ca_certs)?;
    if options.debug {
        fsbase::busybox_links(root)?;
    }
    report.dropped_extensions = compile::drop_orphan_extensions(root, python, &plan.triplet)?;
    report.ld_cache_entries = ldcache::write_ld_so_cache(root, &plan.debian_arch, &plan.triplet)?;
    if options.compile {
        match compile::find_interpreter(root, python, &plan.debian_arch, &plan.triplet) {
            Some(interp) => {
                report.pyc_files = Some(compile::compile_dirs(
                    root,
                    &interp,
                    &[python.stdlib_dir()],
                )?);
            }
            None => {
                report.compile_skipped = Some(format!(
                    "no interpreter can run for {}: install {} on the host to get bytecode",
                    plan.platform,
                    python.binary()
                ));
            }
        }
    } else {
        report.compile_skipped = Some("--no-compile".to_string());
    }
    report.tree_bytes = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    Ok(report)
}

/// Packages of which only a few files belong in a runtime.
fn package_allowlist(name: &str) -> Option<&'static [&'static str]> {
    match name {
        // ldconfig for ctypes.util.find_library, and the C.UTF-8 locale.
        "libc-bin" => Some(&[
            "/usr/sbin/ldconfig",
            "/usr/lib/locale/C.utf8/",
            "/etc/ld.so.conf",
        ]),
        "busybox-static" => Some(&["/usr/bin/busybox"]),
        _ => None,
    }
}

/// The image config and annotations of a base.
fn describe(plan: &BasePlan, options: &BaseOptions, layer: Layer) -> Image {
    let python_version = plan
        .packages
        .iter()
        .find(|p| p.name == format!("python{}-minimal", plan.python.version))
        .map(|p| p.version.clone())
        .unwrap_or_default();
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "org.opencontainers.image.created".into(),
        lockship_oci::rfc3339(options.epoch),
    );
    annotations.insert(
        "org.opencontainers.image.title".into(),
        format!(
            "lockship Python {} ({})",
            plan.python.version, plan.python.suite
        ),
    );
    annotations.insert(
        "org.opencontainers.image.version".into(),
        python_version.clone(),
    );
    annotations.insert(
        "dev.lockship.debian.suite".into(),
        plan.python.suite.to_string(),
    );
    annotations.insert(
        "dev.lockship.debian.packages".into(),
        plan.packages
            .iter()
            .map(|p| format!("{}={}", p.name, p.version))
            .collect::<Vec<_>>()
            .join(" "),
    );
    if !options.ca_certs.is_empty() {
        annotations.insert(
            "dev.lockship.ca-certs".into(),
            cacert::ca_cert_annotation(options),
        );
    }
    let mut labels = BTreeMap::new();
    labels.insert(
        "dev.lockship.python.version".into(),
        plan.python.version.to_string(),
    );
    labels.insert(
        "dev.lockship.debian.suite".into(),
        plan.python.suite.to_string(),
    );
    Image {
        platform: options.platform.clone(),
        config: crate::runtime_config(labels),
        layers: vec![layer],
        history: vec![History {
            created_by: format!(
                "lockship base --python {} --platform {}{}{}",
                plan.python.version,
                plan.platform,
                if options.debug { " --debug" } else { "" },
                cacert::ca_cert_args(&options.ca_certs)
            ),
            comment: Some(format!(
                "{} Debian packages from {}",
                plan.packages.len(),
                plan.python.suite
            )),
            empty_layer: false,
        }],
        created: options.epoch,
        annotations,
    }
}

/// The run config of a lockship Python base (Debian's or a standalone
/// CPython): non-root, `python3`, the CA bundle, `/` as working directory.
pub(crate) fn runtime_config(labels: BTreeMap<String, String>) -> ImageConfig {
    ImageConfig {
        user: Some(fsbase::NONROOT_UID.to_string()),
        env: vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            "LANG=C.UTF-8".into(),
            format!("SSL_CERT_FILE={}", fsbase::CA_BUNDLE),
        ],
        entrypoint: Some(vec!["python3".into()]),
        cmd: None,
        working_dir: Some("/".into()),
        labels,
        exposed_ports: BTreeSet::new(),
        stop_signal: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_epoch_is_2024() {
        assert_eq!(lockship_oci::rfc3339(DEFAULT_EPOCH), "2024-01-01T00:00:00Z");
    }

    #[test]
    fn unsupported_platform_lists_supported_ones() {
        let s390x = Platform {
            os: "linux".into(),
            architecture: "s390x".into(),
            variant: None,
        };
        let err = arch_of(&s390x).unwrap_err();
        assert!(
            err.to_string()
                .contains("linux/amd64, linux/arm64, linux/arm/v7"),
            "{err}"
        );
    }
}
