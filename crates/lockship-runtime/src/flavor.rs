//! Flavors of the base image: the distroless runtime of [`crate::build_base`],
//! and local stand-ins for the official `python:X-slim` (`slim`) and
//! `python:X` (`full`) images, made from the same Debian packages.
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
//! [`CaCert`]s (`--ca-cert`) work for every flavor: they are appended to the
//! CA bundle and placed in `/usr/local/share/ca-certificates/`, for builds
//! behind a TLS-intercepting proxy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The image's root home directory (as in its `/etc/passwd`).
const ROOT_HOME: &str = "/root";

use lockship_debian::{Package, ResolveRequest};
use lockship_layer::{LayerCache, LayerOptions, Ownership};
use lockship_oci::{History, Image, ImageConfig};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::io_err;
use crate::fsbase::{self, symlink, write_file};
use crate::{
    build_base, compile, ldcache, AssemblyReport, BaseImage, BaseOptions, BasePlan, Context,
    PythonRuntime, RuntimeError,
};

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

/// An extra certificate authority to trust (`--ca-cert`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaCert {
    /// The file name it gets under `/usr/local/share/ca-certificates/`
    /// (ends in `.crt`).
    pub name: String,
    /// The PEM text: only its `CERTIFICATE` blocks, each ending in a newline.
    pub pem: String,
}

impl CaCert {
    /// A certificate named after `file_name` (its stem, made safe, plus
    /// `.crt`) from the PEM text `text`. Returns `None` when `text` has no
    /// `-----BEGIN CERTIFICATE-----` block.
    pub fn from_pem(file_name: &str, text: &str) -> Option<CaCert> {
        let mut pem = String::new();
        let mut inside = false;
        for line in text.lines() {
            let line = line.trim_end();
            if line == "-----BEGIN CERTIFICATE-----" {
                inside = true;
            }
            if inside {
                pem.push_str(line);
                pem.push('\n');
            }
            if line == "-----END CERTIFICATE-----" {
                inside = false;
            }
        }
        if pem.is_empty() || inside {
            return None;
        }
        let stem = file_name
            .rsplit('/')
            .next()
            .unwrap_or(file_name)
            .trim_end_matches(".crt")
            .trim_end_matches(".pem");
        let mut name: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if name.is_empty() || name.starts_with('.') {
            name.insert_str(0, "ca");
        }
        name.push_str(".crt");
        Some(CaCert { name, pem })
    }

    /// SHA-256 of the PEM text, hex.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.pem.as_bytes()))
    }
}

/// Where `--ca-cert` certificates go, as `update-ca-certificates` expects.
pub const LOCAL_CA_DIR: &str = "/usr/local/share/ca-certificates";

/// Appends `certs` to the CA bundle and writes each to [`LOCAL_CA_DIR`].
/// Returns how many were added. Duplicate names keep the first.
pub fn add_ca_certs(root: &Path, certs: &[CaCert]) -> Result<usize, RuntimeError> {
    if certs.is_empty() {
        return Ok(0);
    }
    let bundle_path = root.join(fsbase::CA_BUNDLE.trim_start_matches('/'));
    let mut bundle = std::fs::read(&bundle_path).unwrap_or_default();
    if !bundle.is_empty() && !bundle.ends_with(b"\n") {
        bundle.push(b'\n');
    }
    let mut seen = BTreeSet::new();
    for cert in certs {
        if !seen.insert(cert.name.as_str()) {
            continue;
        }
        write_file(
            root,
            &format!("{LOCAL_CA_DIR}/{}", cert.name),
            cert.pem.as_bytes(),
        )?;
        bundle.extend_from_slice(cert.pem.as_bytes());
    }
    write_file(root, fsbase::CA_BUNDLE, &bundle)?;
    Ok(seen.len())
}

/// The `--ca-cert NAME` part of a history line.
pub(crate) fn ca_cert_args(certs: &[CaCert]) -> String {
    certs
        .iter()
        .map(|c| format!(" --ca-cert {}", c.name))
        .collect()
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
    let resolution = lockship_debian::resolve(
        &repo.index,
        &ResolveRequest {
            roots: roots.clone(),
            exclude: BTreeSet::new(),
        },
    )?;
    let plan = BasePlan {
        python: options.python.clone(),
        platform: options.platform.to_string(),
        debian_arch: arch.to_string(),
        triplet: triplet.to_string(),
        roots,
        skipped: Vec::new(),
        packages: resolution.packages.iter().map(crate::pin).collect(),
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
    let packages: Vec<Package> = plan
        .packages
        .iter()
        .map(|p| {
            repo.index
                .get(&p.name)
                .cloned()
                .expect("planned from this index")
        })
        .collect();
    let key = layer_key(&plan, options, flavor);
    let layers = LayerCache::new(ctx.cache.root().join("layers"));
    let report_path = ctx
        .cache
        .keyed_dir("flavor-report", &key)
        .with_extension("json");
    let mut report = AssemblyReport::default();
    let (layer, hit) = layers.get_or_build(&key, |out_dir| {
        let debs = repo
            .fetch_debs(ctx.fetcher, ctx.cache, &packages, ctx.reporter)
            .map_err(crate::to_layer_err)?;
        let staging = ctx.cache.temp_dir().map_err(crate::to_layer_err)?;
        ctx.reporter.phase(&format!(
            "unpacking {} packages ({})",
            packages.len(),
            flavor
        ));
        report = assemble(staging.path(), &plan, &packages, &debs, options)
            .map_err(crate::to_layer_err)?;
        ctx.reporter.phase("writing the layer");
        let layer = lockship_layer::write_layer(
            staging.path(),
            &LayerOptions {
                compression: options.compression,
                level: None,
                mtime: options.epoch,
                overrides: overrides(),
            },
            out_dir,
        )?;
        Ok(layer)
    })?;
    ctx.reporter.phase("");
    if hit {
        if let Ok(text) = std::fs::read_to_string(&report_path) {
            report = serde_json::from_str(&text).unwrap_or_default();
        }
    } else {
        let _ = crate::save_report(&report_path, &report);
    }
    let image = describe(&plan, options, flavor, layer);
    Ok(BaseImage {
        image,
        plan,
        report,
        layer_cached: hit,
        repository: repo,
    })
}

/// Paths no stand-in unpacks (as the official images' dpkg configuration
/// excludes them too).
const EXCLUDED_PREFIXES: &[&str] = &[
    "/usr/share/doc/",
    "/usr/share/man/",
    "/usr/share/info/",
    "/usr/share/locale/",
    "/usr/share/lintian/",
    "/usr/share/linda/",
    "/usr/share/doc-base/",
];

/// The same exclusions for packages installed later with apt.
const DPKG_EXCLUDES: &str = "\
# Written by lockship: no documentation in the image, as in the official images.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/doc-base/*
";

/// The group that reads /etc/shadow.
const SHADOW_GID: u32 = 42;
/// apt's unprivileged download user.
const APT_UID: u32 = 42;
const NOGROUP: u32 = 65534;

/// Owners and modes a stand-in's layer forces.
fn overrides() -> BTreeMap<String, Ownership> {
    let mut owners = BTreeMap::new();
    let mut set = |path: &str, uid, gid, mode| {
        owners.insert(
            path.to_string(),
            Ownership {
                uid,
                gid,
                mode: Some(mode),
            },
        );
    };
    set("tmp", 0, 0, 0o1777);
    set("var/tmp", 0, 0, 0o1777);
    set("root", 0, 0, 0o700);
    set("etc/shadow", 0, SHADOW_GID, 0o640);
    set("etc/gshadow", 0, SHADOW_GID, 0o640);
    set("var/cache/apt/archives/partial", APT_UID, 0, 0o700);
    set("var/lib/apt/lists/partial", APT_UID, 0, 0o700);
    owners
}

/// Unpacks every package and makes what maintainer scripts would.
fn assemble(
    root: &Path,
    plan: &BasePlan,
    packages: &[Package],
    debs: &[PathBuf],
    options: &BaseOptions,
) -> Result<AssemblyReport, RuntimeError> {
    let python = &plan.python;
    let mut report = AssemblyReport {
        closure_installed_bytes: packages
            .iter()
            .map(|p| p.installed_size.unwrap_or(0) * 1024)
            .sum(),
        ..AssemblyReport::default()
    };
    fsbase::merged_usr(root, &plan.debian_arch)?;
    // The official images let pip install outside a venv.
    let marker = format!("{}/EXTERNALLY-MANAGED", python.stdlib_dir());
    let filter = |path: &str| -> bool {
        if path == marker {
            return false;
        }
        // dpkg's `path-include /usr/share/doc/*/copyright`: it also keeps
        // packages that ship nothing else on dpkg's books.
        if let Some(rest) = path.strip_prefix("/usr/share/doc/") {
            if rest.split('/').count() == 2 && rest.ends_with("/copyright") {
                return true;
            }
        }
        !EXCLUDED_PREFIXES.iter().any(|p| path.starts_with(p))
    };
    let mut status = Vec::new();
    for (package, deb) in packages.iter().zip(debs) {
        let unpacked = lockship_debian::unpack_deb(
            deb,
            root,
            &lockship_debian::UnpackOptions { merged_usr: true },
            &filter,
        )?;
        let multi_arch_same = unpacked
            .control
            .lines()
            .any(|l| l.trim() == "Multi-Arch: same");
        let info_name = if multi_arch_same {
            format!("{}:{}", package.name, package.architecture)
        } else {
            package.name.clone()
        };
        status.push((package.name.clone(), status_stanza(&unpacked.control)));
        let mut list: Vec<&str> = unpacked.files.iter().map(String::as_str).collect();
        if !list.contains(&"/.") {
            list.insert(0, "/.");
        }
        let mut text = list.join("\n");
        text.push('\n');
        write_file(
            root,
            &format!("/var/lib/dpkg/info/{info_name}.list"),
            text.as_bytes(),
        )?;
        if let Some(sums) = &unpacked.md5sums {
            write_file(
                root,
                &format!("/var/lib/dpkg/info/{info_name}.md5sums"),
                sums.as_bytes(),
            )?;
        }
    }
    dpkg_database(root, &mut status)?;
    users(root, options.epoch)?;
    alternatives(root, python)?;
    system_files(root, plan, options)?;
    report.certificates = ca_certificates(root)?;
    report.certificates += add_ca_certs(root, &options.ca_certs)?;
    for cert in &options.ca_certs {
        symlink(
            root,
            &format!("/etc/ssl/certs/{}", cert.name.replace(".crt", ".pem")),
            &format!("{LOCAL_CA_DIR}/{}", cert.name),
        )?;
    }
    report.ld_cache_entries = ldcache::write_ld_so_cache(root, &plan.debian_arch, &plan.triplet)?;
    if options.compile {
        match compile::find_interpreter(root, python, &plan.debian_arch, &plan.triplet) {
            Some(interp) => {
                report.pyc_files = Some(compile::compile_dirs(
                    root,
                    &interp,
                    &[
                        python.stdlib_dir(),
                        "/usr/lib/python3/dist-packages".to_string(),
                    ],
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

/// A package's control stanza, marked installed, as dpkg's status has it.
fn status_stanza(control: &str) -> String {
    let mut stanza = String::new();
    for line in control.trim_end().lines() {
        if line.trim().is_empty() {
            continue;
        }
        stanza.push_str(line);
        stanza.push('\n');
        if line.starts_with("Package:") {
            stanza.push_str("Status: install ok installed\n");
        }
    }
    stanza
}

/// `/var/lib/dpkg`: one `status` file with every package, the empty files
/// dpkg expects, and the `ldconfig` trigger libc-bin declares.
fn dpkg_database(root: &Path, status: &mut [(String, String)]) -> Result<(), RuntimeError> {
    status.sort();
    let text: Vec<&str> = status.iter().map(|(_, s)| s.as_str()).collect();
    let mut text = text.join("\n");
    text.push('\n');
    write_file(root, "/var/lib/dpkg/status", text.as_bytes())?;
    for empty in [
        "/var/lib/dpkg/available",
        "/var/lib/dpkg/diversions",
        "/var/lib/dpkg/statoverride",
        "/var/lib/dpkg/triggers/Unincorp",
        "/var/lib/dpkg/triggers/File",
    ] {
        write_file(root, empty, b"")?;
    }
    write_file(root, "/var/lib/dpkg/info/format", b"1\n")?;
    if status.iter().any(|(name, _)| name == "libc-bin") {
        write_file(
            root,
            "/var/lib/dpkg/triggers/ldconfig",
            b"libc-bin/noawait\n",
        )?;
    }
    for dir in ["/var/lib/dpkg/updates", "/var/lib/dpkg/alternatives"] {
        mkdir(root, dir)?;
    }
    write_file(
        root,
        "/etc/dpkg/dpkg.cfg.d/lockship-excludes",
        DPKG_EXCLUDES.as_bytes(),
    )
}

fn mkdir(root: &Path, path: &str) -> Result<(), RuntimeError> {
    let dest = root.join(path.trim_start_matches('/'));
    fs_err::create_dir_all(&dest).map_err(io_err("create", &dest))
}

/// Users and groups as base-passwd's and apt's maintainer scripts make them,
/// with their shadow files (password changes dated at the epoch).
fn users(root: &Path, epoch: u64) -> Result<(), RuntimeError> {
    let master = |name: &str, fallback: &str| -> String {
        std::fs::read_to_string(root.join("usr/share/base-passwd").join(name))
            .unwrap_or_else(|_| fallback.to_string())
    };
    let mut passwd = master(
        "passwd.master",
        "root:x:0:0:root:/root:/bin/bash\n\
         daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    );
    let mut group = master(
        "group.master",
        "root:x:0:\ndaemon:x:1:\nshadow:x:42:\nstaff:x:50:\nusers:x:100:\nnogroup:x:65534:\n",
    );
    // base-passwd's masters leave root's shell as /bin/sh; Debian's
    // installer and the official images give root bash.
    passwd = passwd.replacen(
        "root:x:0:0:root:/root:/bin/sh\n",
        "root:x:0:0:root:/root:/bin/bash\n",
        1,
    );
    if !passwd.ends_with('\n') {
        passwd.push('\n');
    }
    if !passwd.lines().any(|l| l.starts_with("_apt:")) {
        passwd.push_str(&format!(
            "_apt:x:{APT_UID}:{NOGROUP}::/nonexistent:/usr/sbin/nologin\n"
        ));
    }
    if !group.ends_with('\n') {
        group.push('\n');
    }
    let days = epoch / 86_400;
    let shadow: String = passwd
        .lines()
        .filter_map(|l| l.split(':').next())
        .map(|name| format!("{name}:*:{days}:0:99999:7:::\n"))
        .collect();
    let gshadow: String = group
        .lines()
        .filter_map(|l| l.split(':').next())
        .map(|name| format!("{name}:*::\n"))
        .collect();
    write_file(root, "/etc/passwd", passwd.as_bytes())?;
    write_file(root, "/etc/group", group.as_bytes())?;
    write_file(root, "/etc/shadow", shadow.as_bytes())?;
    write_file(root, "/etc/gshadow", gshadow.as_bytes())?;
    // Root's dot files in the image's root home, as base-files' postinst copies them.
    for (from, name) in [("dot.bashrc", ".bashrc"), ("dot.profile", ".profile")] {
        if let Ok(text) = std::fs::read(root.join("usr/share/base-files").join(from)) {
            write_file(root, &format!("{ROOT_HOME}/{name}"), &text)?;
        }
    }
    Ok(())
}

/// Alternatives the packages' maintainer scripts register: `(name, link,
/// candidates by preference)`. Only those with an installed candidate are
/// made.
const ALTERNATIVES: &[(&str, &str, &[&str])] = &[
    ("awk", "/usr/bin/awk", &["/usr/bin/mawk", "/usr/bin/gawk"]),
    ("nawk", "/usr/bin/nawk", &["/usr/bin/mawk", "/usr/bin/gawk"]),
    ("which", "/usr/bin/which", &["/usr/bin/which.debianutils"]),
    ("cc", "/usr/bin/cc", &["/usr/bin/gcc"]),
    ("c++", "/usr/bin/c++", &["/usr/bin/g++"]),
    ("c89", "/usr/bin/c89", &["/usr/bin/c89-gcc"]),
    ("c99", "/usr/bin/c99", &["/usr/bin/c99-gcc"]),
    (
        "cpp",
        "/usr/bin/cpp",
        &["/usr/bin/cpp-12", "/usr/bin/cpp-14"],
    ),
    ("lzma", "/usr/bin/lzma", &["/usr/bin/xz"]),
    ("unlzma", "/usr/bin/unlzma", &["/usr/bin/unxz"]),
    ("lzcat", "/usr/bin/lzcat", &["/usr/bin/xzcat"]),
    (
        "pinentry",
        "/usr/bin/pinentry",
        &["/usr/bin/pinentry-curses"],
    ),
    ("rmt", "/usr/sbin/rmt", &["/usr/sbin/rmt-tar"]),
];

/// The alternatives, the `/bin/sh` link, and the `python`/`pip` links of the
/// official images.
fn alternatives(root: &Path, python: &PythonRuntime) -> Result<(), RuntimeError> {
    let exists = |p: &str| {
        root.join(p.trim_start_matches('/'))
            .symlink_metadata()
            .is_ok()
    };
    for (name, link, candidates) in ALTERNATIVES {
        if exists(link) {
            continue;
        }
        let Some(target) = candidates.iter().find(|c| exists(c)) else {
            continue;
        };
        symlink(root, link, &format!("/etc/alternatives/{name}"))?;
        symlink(root, &format!("/etc/alternatives/{name}"), target)?;
        write_file(
            root,
            &format!("/var/lib/dpkg/alternatives/{name}"),
            format!("auto\n{link}\n\n{target}\n10\n\n").as_bytes(),
        )?;
    }
    if !exists("/usr/bin/sh") {
        symlink(root, "/usr/bin/sh", "dash")?;
    }
    if !exists("/usr/bin/pkg-config") && exists("/usr/bin/pkgconf") {
        symlink(root, "/usr/bin/pkg-config", "pkgconf")?;
    }
    let binary = python.binary();
    if !exists(&format!("/usr/bin/{binary}")) {
        return Err(RuntimeError::Incomplete {
            path: format!("/usr/bin/{binary}"),
        });
    }
    if !exists("/usr/bin/python3") {
        symlink(root, "/usr/bin/python3", &binary)?;
    }
    symlink(root, "/usr/local/bin/python", &format!("/usr/bin/{binary}"))?;
    if exists("/usr/bin/pip3") {
        symlink(root, "/usr/local/bin/pip", "/usr/bin/pip3")?;
    }
    if exists("/usr/bin/python3-config") {
        symlink(
            root,
            "/usr/local/bin/python-config",
            "/usr/bin/python3-config",
        )?;
    }
    Ok(())
}

/// /etc/shells, apt's sources and directories, /tmp and friends.
fn system_files(root: &Path, plan: &BasePlan, options: &BaseOptions) -> Result<(), RuntimeError> {
    let mut shells = String::from("# /etc/shells: valid login shells\n");
    for shell in ["sh", "bash", "rbash", "dash"] {
        if root.join("usr/bin").join(shell).symlink_metadata().is_ok() {
            shells.push_str(&format!("/bin/{shell}\n/usr/bin/{shell}\n"));
        }
    }
    write_file(root, "/etc/shells", shells.as_bytes())?;
    let mirror = options.mirror.as_str().trim_end_matches('/');
    write_file(
        root,
        "/etc/apt/sources.list.d/debian.sources",
        format!(
            "Types: deb\nURIs: {mirror}\nSuites: {}\nComponents: main\n\
             Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
            plan.python.suite
        )
        .as_bytes(),
    )?;
    for dir in [
        "/tmp",
        "/var/tmp",
        "/root",
        "/home",
        "/var/log/apt",
        "/var/cache/apt/archives/partial",
        "/var/lib/apt/lists/partial",
        "/var/cache/debconf",
        "/usr/local/bin",
        "/usr/local/lib",
        "/usr/local/include",
        "/usr/local/share",
        "/usr/local/src",
        "/srv",
        "/opt",
        "/mnt",
        "/media",
        "/proc",
        "/sys",
        "/dev",
        "/run",
    ] {
        mkdir(root, dir)?;
    }
    let site = format!("/usr/local/lib/python{}/dist-packages", plan.python.version);
    mkdir(root, &site)?;
    symlink(root, "/etc/mtab", "../proc/self/mounts")?;
    write_file(root, "/etc/hostname", b"localhost\n")?;
    if root.join("usr/share/zoneinfo/Etc/UTC").exists() {
        symlink(root, "/etc/localtime", "/usr/share/zoneinfo/Etc/UTC")?;
        write_file(root, "/etc/timezone", b"Etc/UTC\n")?;
    }
    Ok(())
}

/// What `update-ca-certificates` makes: `/etc/ca-certificates.conf`, a
/// `.pem` link per certificate and the bundle. Returns how many went in.
fn ca_certificates(root: &Path) -> Result<usize, RuntimeError> {
    let count = fsbase::ca_bundle(root)?;
    let dir = root.join("usr/share/ca-certificates");
    let mut names: Vec<String> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "crt"))
        .filter_map(|e| {
            e.path()
                .strip_prefix(&dir)
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    let mut conf = String::from(
        "# Written by lockship, as ca-certificates' configuration would be: every\n\
         # certificate of /usr/share/ca-certificates is trusted.\n",
    );
    for name in &names {
        conf.push_str(name);
        conf.push('\n');
        let base = name.rsplit('/').next().unwrap_or(name);
        symlink(
            root,
            &format!("/etc/ssl/certs/{}", base.replace(".crt", ".pem")),
            &format!("/usr/share/ca-certificates/{name}"),
        )?;
    }
    write_file(root, "/etc/ca-certificates.conf", conf.as_bytes())?;
    Ok(count)
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

/// `NAME=sha256:HEX` of each `--ca-cert`, space-separated.
pub(crate) fn ca_cert_annotation(options: &BaseOptions) -> String {
    options
        .ca_certs
        .iter()
        .map(|c| format!("{}=sha256:{}", c.name, c.sha256()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "junk\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\nmore\n";

    #[test]
    fn flavor_names_round_trip() {
        for f in Flavor::ALL {
            assert_eq!(f.name().parse::<Flavor>().unwrap(), f);
        }
        assert!("fat".parse::<Flavor>().is_err());
        assert_eq!(Flavor::default(), Flavor::Distroless);
    }

    #[test]
    fn ca_cert_keeps_only_certificate_blocks() {
        let cert = CaCert::from_pem("dir/My Proxy.pem", PEM).unwrap();
        assert_eq!(cert.name, "My_Proxy.crt");
        assert_eq!(
            cert.pem,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        );
        assert!(CaCert::from_pem("x.crt", "not a cert").is_none());
        assert!(CaCert::from_pem("x.crt", "-----BEGIN CERTIFICATE-----\nAA\n").is_none());
    }

    #[test]
    fn ca_certs_are_appended_to_the_bundle() {
        let dir = tempfile::tempdir().unwrap();
        write_file(dir.path(), fsbase::CA_BUNDLE, b"A").unwrap();
        let cert = CaCert::from_pem("proxy.crt", PEM).unwrap();
        assert_eq!(add_ca_certs(dir.path(), &[cert.clone(), cert]).unwrap(), 1);
        let bundle =
            std::fs::read_to_string(dir.path().join("etc/ssl/certs/ca-certificates.crt")).unwrap();
        assert_eq!(
            bundle,
            "A\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        );
        assert!(dir
            .path()
            .join("usr/local/share/ca-certificates/proxy.crt")
            .is_file());
    }

    #[test]
    fn status_has_one_paragraph_per_package() {
        let dir = tempfile::tempdir().unwrap();
        let mut status = vec![
            ("b".to_string(), status_stanza("Package: b\nVersion: 1\n\n")),
            ("a".to_string(), status_stanza("Package: a\nVersion: 2\n")),
        ];
        dpkg_database(dir.path(), &mut status).unwrap();
        let text = std::fs::read_to_string(dir.path().join("var/lib/dpkg/status")).unwrap();
        assert_eq!(
            text,
            "Package: a\nStatus: install ok installed\nVersion: 2\n\n\
             Package: b\nStatus: install ok installed\nVersion: 1\n\n",
            "dpkg ends every paragraph with an empty line"
        );
    }

    #[test]
    fn users_include_apt_and_shadow() {
        let dir = tempfile::tempdir().unwrap();
        users(dir.path(), crate::DEFAULT_EPOCH).unwrap();
        let passwd = std::fs::read_to_string(dir.path().join("etc/passwd")).unwrap();
        assert!(passwd.contains("_apt:x:42:65534:"), "{passwd}");
        assert!(passwd.starts_with("root:x:0:0:root:/root:/bin/bash\n"));
        let shadow = std::fs::read_to_string(dir.path().join("etc/shadow")).unwrap();
        assert!(shadow.contains("_apt:*:19723:0:99999:7:::"), "{shadow}");
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
