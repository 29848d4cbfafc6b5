//! Local stand-ins for the official `python:X-slim` (`slim`) and
//! `python:X` (`full`) images, made from the same Debian packages as the
//! distroless runtime of [`crate::build_base`], through the same
//! [`crate::debtree`] pipeline; [`Flavor`] names the three kinds of base.
//!
//! A stand-in is a complete, unpruned Debian tree, like the build
//! environment of [`crate::buildenv`], plus what a Dockerfile written for the
//! official images expects: a shell and the usual tools, `python`, `pip` and
//! `python3 -m venv`, and a working package manager. Packages are unpacked
//! without running maintainer scripts, so the files those scripts would make
//! are made here: the dpkg database (`/var/lib/dpkg/status` and the file
//! lists), users and groups (with apt's `_apt`), alternatives, `/etc/shells`,
//! the CA bundle, the linker cache and the standard library's bytecode. apt's
//! sources name the mirror the image was built from, so `apt-get install`
//! works in a container.
//!
//! The stand-ins differ from the official images on purpose in a few
//! places: Python is Debian's (`/usr/bin/python3.X`, with `/usr/local/bin/python`
//! and `/usr/local/bin/pip` pointing at it), `pip install` outside a venv is
//! allowed (no `EXTERNALLY-MANAGED` marker, as in the official images), and
//! `/etc/ssl/certs` has the bundle and a link per certificate but not
//! OpenSSL's hashed links (OpenSSL, Python and pip read the bundle).
//!
//! [`crate::CaCert`]s (`--ca-cert`) work for every flavor.

mod maintainer;

use std::collections::{BTreeMap, BTreeSet};

use lockship_layer::LayerOptions;
use lockship_oci::{History, Image, ImageConfig};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cacert::{ca_cert_annotation, ca_cert_args};
use crate::debtree::{DebTree, LayerStep};
use crate::{build_base, BaseImage, BaseOptions, BasePlan, Context, PythonRuntime, RuntimeError};

/// Which kind of base image to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// The pruned, shell-less runtime that `lockship build` uses.
    #[default]
    Distroless,
    /// A stand-in for the official `python:X-slim`.
    Slim,
    /// A stand-in for the official `python:X` (compilers and headers).
    Full,
}

impl Flavor {
    /// Every flavor, in order.
    pub const ALL: [Flavor; 3] = [Flavor::Distroless, Flavor::Slim, Flavor::Full];

    /// `distroless`, `slim` or `full`.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Distroless => "distroless",
            Flavor::Slim => "slim",
            Flavor::Full => "full",
        }
    }

    /// The official image this flavor stands in for (`python:3.11-slim`).
    pub fn official_tag(self, python: &PythonRuntime) -> Option<String> {
        match self {
            Flavor::Distroless => None,
            Flavor::Slim => Some(format!("python:{}-slim", python.version)),
            Flavor::Full => Some(format!("python:{}", python.version)),
        }
    }
}

impl std::fmt::Display for Flavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Flavor {
    type Err = String;

    fn from_str(s: &str) -> Result<Flavor, String> {
        Flavor::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown flavor `{s}`; use distroless, slim or full"))
    }
}

/// The packages of a stand-in flavor (empty for distroless, whose packages
/// are [`crate::root_packages`]).
pub fn flavor_packages(python: &PythonRuntime, flavor: Flavor) -> Vec<String> {
    let v = python.version;
    let slim: Vec<String> = [
        // The essential set and what `RUN` lines expect.
        "base-files",
        "base-passwd",
        // Satisfies init-system-helpers' `usrmerge | usr-is-merged` without
        // usrmerge's perl: the tree is merged already.
        "usr-is-merged",
        "bash",
        "dash",
        "coreutils",
        "debianutils",
        "diffutils",
        "findutils",
        "grep",
        "sed",
        "mawk",
        "tar",
        "gzip",
        "hostname",
        "login",
        "passwd",
        "mount",
        "util-linux",
        "bsdutils",
        "procps",
        "ncurses-base",
        "ncurses-bin",
        "sensible-utils",
        "libc-bin",
        "tzdata",
        "netbase",
        // The package manager.
        "dpkg",
        "apt",
        "gpgv",
        "debian-archive-keyring",
        "ca-certificates",
        "openssl",
        // Python, venv and pip.
        "python3",
        "python3-venv",
        "python3-pip",
    ]
    .iter()
    .map(|s| s.to_string())
    // The official slim images keep Python's headers (`Python.h`,
    // `python3.X-config`), so `pip install` of an sdist with a C extension
    // works there once a compiler is added.
    .chain([
        format!("python{v}"),
        format!("python{v}-venv"),
        format!("python{v}-dev"),
    ])
    .collect();
    match flavor {
        Flavor::Distroless => Vec::new(),
        Flavor::Slim => slim,
        Flavor::Full => slim
            .into_iter()
            .chain(
                [
                    "build-essential",
                    "pkgconf",
                    "git",
                    "curl",
                    "wget",
                    "gnupg",
                    "openssh-client",
                    "make",
                    "file",
                    "unzip",
                    "xz-utils",
                    "bzip2",
                    "python3-dev",
                    "libpq-dev",
                    "libssl-dev",
                    "libffi-dev",
                    "zlib1g-dev",
                    "libxml2-dev",
                    "libxslt1-dev",
                    "libjpeg-dev",
                    "libpng-dev",
                    "libsqlite3-dev",
                    "libbz2-dev",
                    "liblzma-dev",
                    "libncurses-dev",
                    "libreadline-dev",
                    "libyaml-dev",
                    "libcurl4-openssl-dev",
                    "libgdbm-dev",
                    "libdb-dev",
                    "uuid-dev",
                    "libkrb5-dev",
                    "libmagic-dev",
                    "default-libmysqlclient-dev",
                ]
                .iter()
                .map(|s| s.to_string()),
            )
            .chain([format!("python{v}-dev")])
            .collect(),
    }
}

/// Fetches the suite's index and resolves a stand-in's packages: every
/// declared dependency, as apt would (nothing is left out).
pub fn plan_flavor(
    ctx: &Context,
    options: &BaseOptions,
    flavor: Flavor,
) -> Result<(lockship_debian::Repository, BasePlan), RuntimeError> {
    let (arch, triplet) = crate::debian_arch(&options.platform)?;
    let repo = crate::open_repository(ctx, options)?;
    let mut roots = flavor_packages(&options.python, flavor);
    roots.extend(options.extra_packages.iter().cloned());
    let tree = DebTree::resolve(&repo, roots.clone(), BTreeSet::new())?;
    let plan = BasePlan {
        python: options.python.clone(),
        platform: options.platform.to_string(),
        debian_arch: arch.to_string(),
        triplet: triplet.to_string(),
        roots,
        skipped: Vec::new(),
        packages: tree.pins(),
    };
    Ok((repo, plan))
}

/// The cache key of a stand-in's layer: everything that decides its bytes.
/// Bump the `lockship-flavor-vN` tag whenever assembly changes what it writes.
fn layer_key(plan: &BasePlan, options: &BaseOptions, flavor: Flavor) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "lockship-flavor-v1\0{}\0{}\0{}\0{:?}\0{}\0{}\0{}\0",
        env!("CARGO_PKG_VERSION"),
        flavor.name(),
        plan.platform,
        options.compression,
        options.epoch,
        options.compile,
        options.mirror,
    ));
    for cert in &options.ca_certs {
        h.update(format!("ca\0{}\0{}\0", cert.name, cert.sha256()));
    }
    for p in &plan.packages {
        h.update(format!("{}\0{}\0", p.name, p.sha256));
    }
    hex::encode(h.finalize())
}

/// Builds the base image of a flavor: [`build_base`] for
/// [`Flavor::Distroless`], else a stand-in for the official image.
pub fn build_flavor(
    ctx: &Context,
    options: &BaseOptions,
    flavor: Flavor,
) -> Result<BaseImage, RuntimeError> {
    if flavor == Flavor::Distroless {
        return build_base(ctx, options);
    }
    let (repo, plan) = plan_flavor(ctx, options, flavor)?;
    let tree = DebTree::planned(&repo, &plan.packages);
    let key = layer_key(&plan, options, flavor);
    let report_path = ctx
        .cache
        .keyed_dir("flavor-report", &key)
        .with_extension("json");
    let layer_options = LayerOptions {
        compression: options.compression,
        level: None,
        mtime: options.epoch,
        overrides: maintainer::overrides(),
    };
    let step = LayerStep {
        key: &key,
        options: &layer_options,
        phase: format!("unpacking {} packages ({flavor})", tree.packages().len()),
    };
    let (layer, hit, assembled) = tree.layer(ctx, &step, |root, fetched| {
        maintainer::assemble(root, &plan, fetched, options)
    })?;
    let report = crate::cached_report(&report_path, assembled);
    let image = describe(&plan, options, flavor, layer);
    Ok(BaseImage {
        image,
        plan,
        report,
        layer_cached: hit,
        repository: repo,
    })
}

/// The image config and annotations of a stand-in.
fn describe(
    plan: &BasePlan,
    options: &BaseOptions,
    flavor: Flavor,
    layer: lockship_layer::Layer,
) -> Image {
    let full_version = plan
        .packages
        .iter()
        .find(|p| p.name == format!("python{}-minimal", plan.python.version))
        .map(|p| p.version.clone())
        .unwrap_or_default();
    // 3.11.2-6+deb12u6 -> 3.11.2
    let upstream = full_version
        .split(':')
        .next_back()
        .unwrap_or("")
        .split(['-', '~', '+'])
        .next()
        .unwrap_or("")
        .to_string();
    let official = flavor.official_tag(&plan.python).unwrap_or_default();
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "org.opencontainers.image.created".into(),
        lockship_oci::rfc3339(options.epoch),
    );
    annotations.insert(
        "org.opencontainers.image.title".into(),
        format!(
            "lockship stand-in for {official} (Debian {})",
            plan.python.suite
        ),
    );
    annotations.insert(
        "org.opencontainers.image.version".into(),
        full_version.clone(),
    );
    annotations.insert(
        "dev.lockship.debian.suite".into(),
        plan.python.suite.to_string(),
    );
    annotations.insert("dev.lockship.flavor".into(), flavor.name().to_string());
    annotations.insert(
        "dev.lockship.debian.packages".into(),
        plan.packages
            .iter()
            .map(|p| format!("{}={}", p.name, p.version))
            .collect::<Vec<_>>()
            .join(" "),
    );
    if !options.ca_certs.is_empty() {
        annotations.insert("dev.lockship.ca-certs".into(), ca_cert_annotation(options));
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
    labels.insert("dev.lockship.flavor".into(), flavor.name().to_string());
    Image {
        platform: options.platform.clone(),
        config: ImageConfig {
            user: None,
            env: {
                let mut env: Vec<String> = vec![
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
                    "LANG=C.UTF-8".into(),
                    format!("PYTHON_VERSION={upstream}"),
                ];
                // Tools that bundle their own roots (uv, certifi in requests and
                // Poetry) must read the bundle that holds the added CAs.
                if !options.ca_certs.is_empty() {
                    for var in ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT"] {
                        env.push(format!("{var}={}", crate::fsbase::CA_BUNDLE));
                    }
                }
                env
            },
            entrypoint: None,
            cmd: Some(vec!["python3".into()]),
            working_dir: None,
            labels,
            exposed_ports: BTreeSet::new(),
            stop_signal: None,
        },
        layers: vec![layer],
        history: vec![History {
            created_by: format!(
                "lockship base --python {} --platform {} --flavor {}{}{}",
                plan.python.version,
                plan.platform,
                flavor.name(),
                options
                    .extra_packages
                    .iter()
                    .map(|p| format!(" --package {p}"))
                    .collect::<String>(),
                ca_cert_args(&options.ca_certs),
            ),
            comment: Some(format!(
                "{} Debian packages from {}, a stand-in for {official}",
                plan.packages.len(),
                plan.python.suite
            )),
            empty_layer: false,
        }],
        created: options.epoch,
        annotations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavor_names_round_trip() {
        for f in Flavor::ALL {
            assert_eq!(f.name().parse::<Flavor>().unwrap(), f);
        }
        assert!("fat".parse::<Flavor>().is_err());
        assert_eq!(Flavor::default(), Flavor::Distroless);
    }

    #[test]
    fn full_has_compilers_and_headers() {
        let python = PythonRuntime::lookup("3.11").unwrap();
        let full = flavor_packages(&python, Flavor::Full);
        for p in [
            "build-essential",
            "python3.11-dev",
            "libpq-dev",
            "git",
            "apt",
        ] {
            assert!(full.iter().any(|x| x == p), "{p}");
        }
        assert!(flavor_packages(&python, Flavor::Distroless).is_empty());
    }
}
