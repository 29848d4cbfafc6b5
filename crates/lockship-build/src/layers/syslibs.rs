//! libdeps in the build: which shared libraries the venv's native code needs
//! and the base lacks, which Debian packages ship them (the suite's Contents
//! index), and the system-libraries layer that adds those packages, with
//! their closure and `[tool.lockship] system-packages`, between the base and the
//! venv.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lockship_debian::{ContentsIndex, Repository};
use lockship_layer::Layer;
use lockship_runtime::{Context, DebPin};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Stage;
use crate::error::io_err;
use crate::BuildError;

/// A soname the image lacks, and the files that need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingLib {
    /// `libpq.so.5`.
    pub soname: String,
    /// In-image paths of the ELF files that need it.
    pub needed_by: Vec<String>,
}

/// What libdeps found: packages to add, and sonames nothing ships.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Libdeps {
    /// Debian package → the missing sonames it ships (with their needers).
    pub packages: BTreeMap<String, Vec<MissingLib>>,
    /// Sonames no package of the suite ships.
    pub unresolved: Vec<MissingLib>,
    /// How many ELF files were checked.
    pub scanned: usize,
}

/// Turns an ELF report into missing libraries.
pub fn missing_libs(report: &lockship_elf::Report) -> Vec<MissingLib> {
    report
        .missing
        .iter()
        .map(|(soname, needers)| MissingLib {
            soname: soname.clone(),
            needed_by: needers
                .iter()
                .map(|n| n.path.to_string_lossy().into_owned())
                .collect(),
        })
        .collect()
}

/// Maps missing sonames to the packages that ship them in default library
/// directories, never a `-dev` package.
pub fn map_to_packages(
    contents: &ContentsIndex,
    missing: Vec<MissingLib>,
    scanned: usize,
) -> Libdeps {
    let mut out = Libdeps {
        scanned,
        ..Libdeps::default()
    };
    for lib in missing {
        let package = contents
            .packages_for_soname(&lib.soname)
            .into_iter()
            .flat_map(|hit| hit.packages)
            .find(|p| !p.ends_with("-dev") && !p.ends_with("-dbg"));
        match package {
            Some(p) => out.packages.entry(p).or_default().push(lib),
            None => out.unresolved.push(lib),
        }
    }
    out
}

/// Checks the ELF files under `scope` in the image made of `trees` (upper
/// first) over the base tree. The result is cached under the trees' layer
/// digests, so a warm build does not unpack anything.
pub(crate) fn scan_layers(
    ctx: &Context,
    base_tree: &Path,
    base_key: &str,
    layers: &[&Layer],
    scope: &[String],
) -> Result<(Vec<MissingLib>, usize), BuildError> {
    let mut key = Sha256::new();
    key.update(format!("lockship-libdeps-v1\0{base_key}\0"));
    for layer in layers {
        key.update(format!("{}\0", layer.diff_id));
    }
    for s in scope {
        key.update(format!("{s}\0"));
    }
    let record = ctx
        .cache
        .keyed_dir("libdeps", &hex::encode(key.finalize()))
        .with_extension("json");
    #[derive(Serialize, Deserialize)]
    struct Saved {
        missing: Vec<MissingLib>,
        scanned: usize,
    }
    if let Ok(bytes) = std::fs::read(&record) {
        if let Ok(saved) = serde_json::from_slice::<Saved>(&bytes) {
            return Ok((saved.missing, saved.scanned));
        }
    }
    ctx.reporter.phase("scanning native code (libdeps)");
    let scratch = ctx.cache.temp_dir()?;
    // Upper layers first: the first root wins, as in overlayfs.
    let mut fs = lockship_elf::Filesystem::new();
    for (i, layer) in layers.iter().enumerate() {
        let dir = scratch.path().join(i.to_string());
        unpack_layer(layer, &dir)?;
        fs = fs.with_root(dir);
    }
    let fs = fs.with_root(base_tree);
    let report = lockship_elf::check(
        &fs,
        &lockship_elf::CheckOptions {
            scope: lockship_elf::Scope::Under(scope.iter().map(PathBuf::from).collect()),
            follow_found: false,
        },
    )?;
    ctx.reporter.phase("");
    let missing = missing_libs(&report);
    let saved = Saved {
        missing: missing.clone(),
        scanned: report.scanned,
    };
    if let Some(parent) = record.parent() {
        fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    let tmp = record.with_extension("tmp");
    fs_err::write(&tmp, serde_json::to_vec(&saved).unwrap_or_default())
        .map_err(io_err("write", &tmp))?;
    fs_err::rename(&tmp, &record).map_err(io_err("rename", &record))?;
    Ok((missing, report.scanned))
}

/// Unpacks one layer tarball into `dir`.
pub(crate) fn unpack_layer(layer: &Layer, dir: &Path) -> Result<(), BuildError> {
    fs_err::create_dir_all(dir).map_err(io_err("create", dir))?;
    let reader = lockship_layer::open_layer_tar(&layer.path)?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.unpack(dir).map_err(io_err("unpack", &layer.path))
}

/// Dependencies of run-time libraries that the runtime never uses, beyond
/// the base's [`lockship_runtime::EXCLUDED_PACKAGES`].
pub const EXCLUDED_LIBRARY_PACKAGES: &[(&str, &str)] = &[(
    "libsasl2-modules-db",
    "SASL's sasldb plugin: it needs Berkeley DB (excluded), and libpq and LDAP clients never load it",
)];

/// Packages a runtime image must never get.
pub(crate) fn is_build_only(name: &str) -> bool {
    name.ends_with("-dev")
        || name.starts_with("gcc")
        || name.starts_with("g++")
        || name.starts_with("cpp")
        || name.starts_with("binutils")
        || name == "build-essential"
        || name == "make"
        || name.starts_with("libc6-dev")
}

/// The key of the system-libraries layer.
#[derive(Debug, Serialize)]
struct SyslibsKey<'a> {
    kind: &'static str,
    platform: &'a str,
    compression: lockship_layer::Compression,
    epoch: u64,
    /// Names the base tree's content.
    base_tree: &'a str,
    /// The base's packages (name, version, sha256).
    base_packages: Vec<(&'a str, &'a str, &'a str)>,
    /// The layer's packages (name, sha256).
    packages: Vec<(&'a str, &'a str)>,
}

/// The system-libraries layer, cached.
pub(crate) struct SyslibsLayer {
    /// The layer.
    pub layer: Layer,
    /// Whether it came from the cache.
    pub cached: bool,
    /// The Debian packages in it (closure included).
    pub packages: Vec<DebPin>,
}

/// libdeps over the venv's layers against the base, then the
/// system-libraries layer that adds what is missing and the plan's
/// `system-packages` (`None` when nothing is to be added).
pub(crate) fn layer_for(
    stage: &Stage,
    venv_layers: &[&Layer],
) -> Result<(Libdeps, Option<SyslibsLayer>), BuildError> {
    let ctx = stage.ctx;
    let built = stage.base.built();
    let (missing, scanned) = scan_layers(
        ctx,
        &built.tree,
        &built.tree_key,
        venv_layers,
        std::slice::from_ref(&stage.plan.venv),
    )?;
    let mut libdeps = Libdeps {
        scanned,
        ..Libdeps::default()
    };
    let mut packages: Vec<String> = stage.plan.system_packages.clone();
    if missing.is_empty() && packages.is_empty() {
        return Ok((libdeps, None));
    }
    let repo = stage.base.repository(ctx, &missing)?;
    if !missing.is_empty() {
        ctx.reporter
            .phase("looking up libraries in the Contents index");
        let contents = repo.contents(ctx.fetcher, ctx.cache, "main", ctx.reporter)?;
        libdeps = map_to_packages(&contents, missing, scanned);
        if !libdeps.unresolved.is_empty() {
            return Err(BuildError::UnresolvedLibraries {
                missing: libdeps.unresolved.clone(),
                suite: stage.plan.base.python.suite.to_string(),
            });
        }
        packages.extend(libdeps.packages.keys().cloned());
    }
    packages.sort();
    packages.dedup();
    Ok((libdeps, build_layer(stage, repo, &packages)?))
}

/// The system-libraries layer: `packages` and their closure, minus what the
/// base has, unpacked and pruned like the base, with a new linker cache.
/// `None` when there is nothing to add.
fn build_layer(
    stage: &Stage,
    repo: &Repository,
    packages: &[String],
) -> Result<Option<SyslibsLayer>, BuildError> {
    let ctx = stage.ctx;
    let base_plan = &stage.base.debian;
    if packages.is_empty() {
        return Ok(None);
    }
    if let Some(dev) = packages.iter().find(|p| is_build_only(p)) {
        return Err(BuildError::BuildOnlyPackage {
            package: dev.clone(),
        });
    }
    let in_base: BTreeSet<String> = base_plan.packages.iter().map(|p| p.name.clone()).collect();
    let mut exclude: BTreeSet<String> = in_base.clone();
    exclude.extend(
        lockship_runtime::EXCLUDED_PACKAGES
            .iter()
            .chain(EXCLUDED_LIBRARY_PACKAGES)
            .map(|(n, _)| n.to_string()),
    );
    let roots: Vec<String> = packages
        .iter()
        .filter(|p| !in_base.contains(*p))
        .cloned()
        .collect();
    if roots.is_empty() {
        return Ok(None);
    }
    let resolution = lockship_debian::resolve(
        &repo.index,
        &lockship_debian::ResolveRequest { roots, exclude },
    )?;
    if let Some(p) = resolution.packages.iter().find(|p| is_build_only(&p.name)) {
        return Err(BuildError::BuildOnlyPackage {
            package: p.name.clone(),
        });
    }
    let pins: Vec<DebPin> = resolution
        .packages
        .iter()
        .map(lockship_runtime::pin)
        .collect();
    let base_built = stage.base.built();
    let key = SyslibsKey {
        kind: "lockship-syslibs-v3",
        platform: &base_plan.platform,
        compression: stage.layer_options.compression,
        epoch: stage.layer_options.mtime,
        base_tree: &base_built.tree_key,
        base_packages: base_plan
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.sha256.as_str()))
            .collect(),
        packages: pins
            .iter()
            .map(|p| (p.name.as_str(), p.sha256.as_str()))
            .collect(),
    };
    let stdlib = format!("{}/", stage.base.options.python.stdlib_dir());
    let (layer, cached) = stage.layer(&key, |staging| {
        let debs = repo.fetch_debs(ctx.fetcher, ctx.cache, &resolution.packages, ctx.reporter)?;
        ctx.reporter.phase(&format!(
            "unpacking {} system library packages",
            resolution.packages.len()
        ));
        for (package, deb) in resolution.packages.iter().zip(&debs) {
            let unpacked = lockship_debian::unpack_deb(
                deb,
                staging,
                &lockship_debian::UnpackOptions { merged_usr: true },
                &|path: &str| lockship_runtime::prune::keep(path, &stdlib),
            )?;
            lockship_runtime::status::write_status(
                staging,
                &package.name,
                &unpacked.control,
                unpacked.md5sums.as_deref(),
            )?;
        }
        lockship_runtime::ldcache::write_ld_so_cache_layered(
            &[staging, base_built.tree.as_path()],
            staging,
            &base_plan.debian_arch,
            &base_plan.triplet,
        )?;
        // Unpacking makes /lib, /bin… as directories; the base has them as
        // merged-/usr links, which a directory in an upper layer would hide.
        for dir in ["bin", "sbin", "lib", "lib64"] {
            let p = staging.join(dir);
            if p.is_dir() && !p.is_symlink() {
                let _ = std::fs::remove_dir(&p);
            }
        }
        Ok(())
    })?;
    ctx.reporter.phase("");
    Ok(Some(SyslibsLayer {
        layer,
        cached,
        packages: pins,
    }))
}
