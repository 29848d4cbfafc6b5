//! The build environment: a complete Debian tree of the runtime's own suite
//! and architecture, with compilers, the Python headers and the project's
//! `build-packages`, in which sdists are built. It is never part of an image;
//! it is cached as a directory keyed by its exact package set, and a sandbox
//! mounts it read-only.
//!
//! Packages are unpacked without running maintainer scripts, so the few
//! files those scripts would make (the `/bin/sh` and `cc` alternatives,
//! users, the linker cache) are made here.

use std::path::{Path, PathBuf};

use lockship_debian::Package;

use crate::debtree::{DebTree, FetchedTree};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::io_err;
use crate::{fsbase, ldcache, BaseOptions, Context, DebPin, PythonRuntime, RuntimeError};

/// What to build an environment for.
#[derive(Debug, Clone)]
pub struct BuildEnvOptions {
    /// The runtime's options: Python, platform, mirror and keyring decide
    /// the suite and architecture.
    pub base: BaseOptions,
    /// More packages: `[tool.lockship] build-packages` (`libpq-dev`…).
    pub packages: Vec<String>,
}

/// An assembled build environment.
#[derive(Debug, Clone, Serialize)]
pub struct BuildEnv {
    /// The tree, in the cache; never modify it.
    pub root: PathBuf,
    /// Its cache key (the package set's digest).
    pub key: String,
    /// The Python it builds for.
    pub python: PythonRuntime,
    /// `amd64`…
    pub debian_arch: String,
    /// `x86_64-linux-gnu`…
    pub triplet: String,
    /// The packages asked for beyond the standard set.
    pub extra_packages: Vec<String>,
    /// The resolved closure.
    pub packages: Vec<DebPin>,
    /// Whether the tree came from the cache.
    pub cached: bool,
}

/// The packages every build environment has: a shell and the usual tools,
/// compilers, the Python headers, venv and pip (the PEP 517 front end).
pub fn standard_packages(python: &PythonRuntime) -> Vec<String> {
    let v = python.version;
    [
        "dash",
        "bash",
        "coreutils",
        "diffutils",
        "findutils",
        "grep",
        "sed",
        "gawk",
        "tar",
        "gzip",
        "bzip2",
        "xz-utils",
        "libc-bin",
        "build-essential",
        "pkgconf",
        "ca-certificates",
        "python3-pip",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("python{v}-dev"),
        format!("python{v}-venv"),
        format!("python{v}"),
    ])
    .collect()
}

/// Resolves the environment's packages (no download).
pub fn plan_build_env(
    ctx: &Context,
    options: &BuildEnvOptions,
) -> Result<(lockship_debian::Repository, Vec<Package>), RuntimeError> {
    let repo = crate::open_repository(ctx, &options.base)?;
    let mut roots = standard_packages(&options.base.python);
    roots.extend(options.packages.iter().cloned());
    let packages = DebTree::resolve(&repo, roots, Default::default())?
        .packages()
        .to_vec();
    Ok((repo, packages))
}

/// The cache key of an environment: its platform and exact packages.
fn env_key(options: &BuildEnvOptions, packages: &[Package]) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "lockship-buildenv-v2\0{}\0{}\0",
        options.base.platform, options.base.python.version
    ));
    for p in packages {
        h.update(format!("{}\0{}\0", p.name, p.sha256));
    }
    hex::encode(h.finalize())
}

/// Assembles the environment, or returns the cached one.
pub fn build_env(ctx: &Context, options: &BuildEnvOptions) -> Result<BuildEnv, RuntimeError> {
    let (arch, triplet) = crate::debian_arch(&options.base.platform)?;
    let (repo, packages) = plan_build_env(ctx, options)?;
    let key = env_key(options, &packages);
    let dir = ctx.cache.keyed_dir("build-env", &key);
    let tree = DebTree::from_packages(&repo, packages);
    let phase = format!(
        "unpacking the build environment ({} packages)",
        tree.packages().len()
    );
    let cached = tree.directory(ctx, &dir, READY_MARK, &phase, |root, fetched| {
        assemble(root, &options.base.python, arch, triplet, fetched)
    })?;
    Ok(BuildEnv {
        root: dir.clone(),
        key,
        python: options.base.python.clone(),
        debian_arch: arch.to_string(),
        triplet: triplet.to_string(),
        extra_packages: options.packages.clone(),
        packages: tree.pins(),
        cached,
    })
}

/// Written last, so a tree without it is known to be unfinished.
const READY_MARK: &str = "etc/lockship-build-env";

/// Unpacks every package and makes what maintainer scripts would (the
/// ready mark is [`DebTree::directory`]'s).
fn assemble(
    root: &Path,
    python: &PythonRuntime,
    arch: &str,
    triplet: &str,
    fetched: &FetchedTree,
) -> Result<(), RuntimeError> {
    fsbase::merged_usr(root, arch)?;
    let keep = |_: &Package, path: &str| {
        !(path.starts_with("/usr/share/doc/")
            || path.starts_with("/usr/share/man/")
            || path.starts_with("/usr/share/info/")
            || path.starts_with("/usr/share/locale/"))
    };
    fetched.unpack(root, &keep, &mut |_, _| Ok(()))?;
    // The alternatives and diversions of maintainer scripts.
    let binary = python.binary();
    let links = [
        ("/usr/bin/sh", "dash"),
        ("/usr/bin/cc", "gcc"),
        ("/usr/bin/c++", "g++"),
        ("/usr/bin/awk", "gawk"),
        ("/usr/bin/pkg-config", "pkgconf"),
        ("/usr/bin/python3", binary.as_str()),
    ];
    for (path, target) in links {
        let dest = root.join(path.trim_start_matches('/'));
        let target_exists = dest
            .parent()
            .map(|p| p.join(target).exists())
            .unwrap_or(false);
        if dest.symlink_metadata().is_err() && target_exists {
            fsbase::symlink(root, path, target)?;
        }
    }
    fsbase::users_and_dirs(root)?;
    // The CA bundle `update-ca-certificates` would make: pip's vendored
    // requests loads it when imported (trixie's pip does so even offline), so
    // an empty file stops every build. A networked sandbox binds the host's
    // bundle over it.
    fsbase::ca_bundle(root)?;
    // Mount points the sandbox binds over (the read-only tree cannot get new
    // files at run time).
    for file in ["/etc/resolv.conf", "/etc/hosts", fsbase::CA_BUNDLE] {
        let dest = root.join(file.trim_start_matches('/'));
        if dest.symlink_metadata().is_err() {
            fsbase::write_file(root, file, b"")?;
        }
    }
    for dir in ["build", "proc", "dev", "tmp"] {
        let dest = root.join(dir);
        fs_err::create_dir_all(&dest).map_err(io_err("create", &dest))?;
    }
    ldcache::write_ld_so_cache(root, arch, triplet)?;
    Ok(())
}
