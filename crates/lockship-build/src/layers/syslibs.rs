//! libdeps in the build: which shared libraries the venv's native code needs
//! and the base lacks, which Debian packages ship them (the suite's Contents
//! index), and the system-libraries layer that adds those packages, with
//! their closure and `[tool.lockship] system-packages`, between the base and the
//! venv.
//!
//! Besides `DT_NEEDED`, the venv's Python code is scanned for the libraries
//! it loads at run time (`ctypes`, `cffi`, and the table of names built at
//! run time: [`lockship_elf::scan_runtime_loads`]); the missing ones the code
//! cannot do without are mapped through the same Contents index. A name no
//! package ships is a warning, never an error: the code may cope without it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lockship_debian::{ContentsIndex, FileQuery, Repository};
use lockship_elf::{MissingRuntimeLib, Wanted};
use lockship_layer::Layer;
use lockship_runtime::debtree::DebTree;
use lockship_runtime::{Context, DebPin};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Stage;
use crate::base::Base;
use crate::error::io_err;
use crate::{BuildError, ImagePlan};

/// A soname the image lacks, and the files that need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingLib {
    /// `libpq.so.5`.
    pub soname: String,
    /// In-image paths of the ELF files that need it.
    pub needed_by: Vec<String>,
}

/// A library Python code loads at run time that the image lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeNeed {
    /// The name as the code writes it (`pango-1.0`, `libmagic.so.1`).
    pub name: String,
    /// The in-image file and line that ask (`/opt/venv/…/ffi.py:412`; line
    /// 0 for an entry of the table of names built at run time).
    pub asked_by: String,
    /// The code goes on without it: no package is added for it.
    pub optional: bool,
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
    /// Debian package → the libraries loaded at run time (`dlopen`) it
    /// ships, with the file and line that ask.
    #[serde(default)]
    pub runtime_packages: BTreeMap<String, Vec<RuntimeNeed>>,
    /// Libraries loaded at run time that no package ships, or that are
    /// optional and left out: warnings, never errors.
    #[serde(default)]
    pub runtime_unresolved: Vec<RuntimeNeed>,
}

impl Libdeps {
    /// One warning line per required run-time library no package ships.
    pub fn warnings(&self) -> Vec<String> {
        self.runtime_unresolved
            .iter()
            .filter(|n| !n.optional)
            .map(|n| {
                format!(
                    "`{}` is loaded at run time by `{}`, and no package of the suite ships it: the code fails where it loads it unless it copes without it",
                    n.name, n.asked_by
                )
            })
            .collect()
    }
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

/// The packages that ship what a run-time load wants: sonames and
/// `find_library` names from the derived library index, files through
/// `files` (one pass over the full Contents file, made by the caller).
/// Never a `-dev` or `-dbg` package.
fn packages_for_wanted(
    contents: &ContentsIndex,
    want: &Wanted,
    triplet: &str,
    files: &BTreeMap<String, Vec<String>>,
) -> Option<String> {
    let usable = |p: &&String| !p.ends_with("-dev") && !p.ends_with("-dbg");
    let hits = match want {
        Wanted::Soname(name) => contents.packages_for_soname(name),
        Wanted::FindLibrary(name) => contents.packages_for_prefix(&format!("lib{name}.so")),
        Wanted::File(path) => {
            return files
                .get(&path.to_string_lossy().into_owned())?
                .iter()
                .find(usable)
                .cloned()
        }
    };
    hits.into_iter()
        .filter(|hit| want.matches_contents_path(&hit.path, triplet))
        .find_map(|hit| hit.packages.iter().find(usable).cloned())
}

/// Run-time loads mapped to packages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeMapping {
    /// Debian package → the loads it satisfies (required ones only).
    pub packages: BTreeMap<String, Vec<RuntimeNeed>>,
    /// Loads no package ships, and optional ones (never added).
    pub unresolved: Vec<RuntimeNeed>,
}

/// Maps missing run-time loads to packages through the Contents index:
/// each group's ways in order (sonames, then `find_library` names, then
/// files), the first that a package ships wins. `triplet` is the
/// multiarch directory (`x86_64-linux-gnu`).
pub fn map_runtime_to_packages(
    contents: &ContentsIndex,
    missing: &[MissingRuntimeLib],
    triplet: &str,
) -> Result<RuntimeMapping, BuildError> {
    let queries: Vec<FileQuery> = missing
        .iter()
        .flat_map(|m| &m.wanted_as)
        .filter_map(|w| match w {
            Wanted::File(p) => Some(FileQuery::Path(p.to_string_lossy().into_owned())),
            _ => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut files = BTreeMap::new();
    if !queries.is_empty() {
        for (query, hits) in contents.search(&queries)? {
            if let FileQuery::Path(p) = query {
                let path = format!("/{}", p.trim_start_matches('/'));
                let packages = hits.into_iter().flat_map(|h| h.packages).collect();
                files.insert(path, packages);
            }
        }
    }
    let mut found: BTreeMap<String, Vec<RuntimeNeed>> = BTreeMap::new();
    let mut unresolved = Vec::new();
    for lib in missing {
        let need = RuntimeNeed {
            name: lib.name.clone(),
            asked_by: lib.asked_by.to_string(),
            optional: lib.optional,
        };
        let package = lib
            .wanted_as
            .iter()
            .find_map(|w| packages_for_wanted(contents, w, triplet, &files));
        match package {
            Some(p) if !lib.optional => found.entry(p).or_default().push(need),
            _ => unresolved.push(need),
        }
    }
    Ok(RuntimeMapping {
        packages: found,
        unresolved,
    })
}

/// [`map_runtime_to_packages`], kept in the cache under the Contents file's
/// hash and the loads: a file want streams the whole Contents file, which a
/// warm build must not do again.
fn map_runtime_cached(
    ctx: &Context,
    contents: &ContentsIndex,
    missing: &[MissingRuntimeLib],
    triplet: &str,
) -> Result<RuntimeMapping, BuildError> {
    if missing.is_empty() {
        return Ok(RuntimeMapping::default());
    }
    let mut key = Sha256::new();
    key.update(format!(
        "lockship-runtime-map-v1\0{}\0{triplet}\0",
        contents.sha256()
    ));
    key.update(serde_json::to_vec(missing).unwrap_or_default());
    keyed_record(ctx, "libdeps-runtime", key, || {
        map_runtime_to_packages(contents, missing, triplet)
    })
}

/// The JSON record of the cache's `namespace` under `key`, or `make`'s
/// result, recorded there (temporary file, then a rename). An unreadable
/// record is made again.
pub(crate) fn keyed_record<T: Serialize + serde::de::DeserializeOwned>(
    ctx: &Context,
    namespace: &str,
    key: Sha256,
    make: impl FnOnce() -> Result<T, BuildError>,
) -> Result<T, BuildError> {
    let record = ctx
        .cache
        .keyed_dir(namespace, &hex::encode(key.finalize()))
        .with_extension("json");
    if let Ok(bytes) = std::fs::read(&record) {
        if let Ok(saved) = serde_json::from_slice::<T>(&bytes) {
            return Ok(saved);
        }
    }
    let made = make()?;
    if let Some(parent) = record.parent() {
        fs_err::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    let tmp = record.with_extension("tmp");
    fs_err::write(&tmp, serde_json::to_vec(&made).unwrap_or_default())
        .map_err(io_err("write", &tmp))?;
    fs_err::rename(&tmp, &record).map_err(io_err("rename", &record))?;
    Ok(made)
}

/// What a scan of the venv's layers found: ELF needs the base lacks, and
/// run-time loads the base and the venv do not satisfy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct LayerScan {
    /// Missing `DT_NEEDED` sonames.
    pub missing: Vec<MissingLib>,
    /// How many ELF files were checked.
    pub scanned: usize,
    /// Missing run-time loads (`dlopen`), with in-image `asked_by` paths.
    pub runtime: Vec<MissingRuntimeLib>,
}

/// Checks the ELF files under `scope` in the image made of `layers` (upper
/// first) over the base tree, and the Python code under `scope` for the
/// libraries it loads at run time. The result is cached under the layers'
/// digests, so a warm build does not unpack anything.
pub(crate) fn scan_layers(
    ctx: &Context,
    base_tree: &Path,
    base_key: &str,
    layers: &[&Layer],
    scope: &[String],
    target: &lockship_target::Target,
) -> Result<LayerScan, BuildError> {
    let mut key = Sha256::new();
    key.update(format!(
        "lockship-libdeps-v2\0{base_key}\0{}\0",
        target.debian_arch
    ));
    for layer in layers {
        key.update(format!("{}\0", layer.diff_id));
    }
    for s in scope {
        key.update(format!("{s}\0"));
    }
    keyed_record(ctx, "libdeps", key, || {
        let scratch = ctx.cache.temp_dir()?;
        let mut trees = Vec::new();
        for (i, layer) in layers.iter().enumerate() {
            let dir = scratch.path().join(i.to_string());
            unpack_layer(layer, &dir)?;
            trees.push(dir);
        }
        scan_trees(ctx, base_tree, &trees, scope, target)
    })
}

/// The scan itself: the ELF files under `scope` in the image made of
/// `trees` (image roots, upper first: the first root that has a path wins,
/// as in overlayfs) over `base_tree`, and the Python code under `scope` in
/// `trees` for the libraries it loads at run time. Reads the trees only.
pub(crate) fn scan_trees(
    ctx: &Context,
    base_tree: &Path,
    trees: &[PathBuf],
    scope: &[String],
    target: &lockship_target::Target,
) -> Result<LayerScan, BuildError> {
    ctx.reporter.phase("scanning native code (libdeps)");
    let mut fs = lockship_elf::Filesystem::new();
    let mut loads = Vec::new();
    for dir in trees {
        for s in scope {
            let tree = dir.join(s.trim_start_matches('/'));
            if !tree.is_dir() {
                continue;
            }
            let scan = lockship_elf::scan_runtime_loads(&tree)?;
            loads.extend(scan.loads.into_iter().map(|mut load| {
                load.file = Path::new(s).join(&load.file);
                load
            }));
        }
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
    let runtime = lockship_elf::resolve_runtime_loads(&fs, &loads, target).missing;
    ctx.reporter.phase("");
    Ok(LayerScan {
        missing: missing_libs(&report),
        scanned: report.scanned,
        runtime,
    })
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

/// libdeps over the venv's layers against the base (ELF needs and
/// libraries loaded at run time), then the system-libraries layer that adds
/// what is missing and the plan's `system-packages` (`None` when nothing is
/// to be added).
pub(crate) fn layer_for(
    stage: &Stage,
    venv_layers: &[&Layer],
) -> Result<(Libdeps, Option<SyslibsLayer>), BuildError> {
    let built = stage.base.built();
    let target = target_of(stage.base)?;
    let scan = scan_layers(
        stage.ctx,
        &built.tree,
        &built.tree_key,
        venv_layers,
        std::slice::from_ref(&stage.plan.venv),
        target,
    )?;
    let resolved = resolve(stage.ctx, stage.base, stage.plan, scan, target)?;
    let layer = match resolved.repository {
        Some(repo) => build_layer(stage, repo, &resolved.packages)?,
        None => None,
    };
    Ok((resolved.libdeps, layer))
}

/// The target of the base's Debian architecture.
pub(crate) fn target_of(base: &Base) -> Result<&'static lockship_target::Target, BuildError> {
    let debian_arch = &base.debian.debian_arch;
    lockship_target::by_debian_arch(debian_arch).ok_or_else(|| {
        BuildError::Runtime(lockship_runtime::RuntimeError::UnsupportedPlatform {
            platform: base.debian.platform.clone(),
            supported: lockship_target::TARGETS
                .iter()
                .map(|t| t.debian_arch.to_string())
                .collect(),
        })
    })
}

/// What a scan comes to: the packages that ship what it found missing.
pub(crate) struct Resolved<'b> {
    /// What libdeps found, mapped to packages.
    pub libdeps: Libdeps,
    /// The packages to add: libdeps' (ELF needs and run-time loads) and the
    /// plan's `system-packages`, sorted.
    pub packages: Vec<String>,
    /// The suite's indexes they come from; `None` when nothing is to be
    /// added, or the base has no suite to add from.
    pub repository: Option<&'b Repository>,
}

/// Maps a scan to the packages of the base's suite (its Contents index):
/// ELF needs to run-time packages (an error for a soname no package
/// ships), run-time loads likewise (a warning for those none ships), with
/// the plan's `system-packages`.
pub(crate) fn resolve<'b>(
    ctx: &Context,
    base: &'b Base,
    plan: &ImagePlan,
    scan: LayerScan,
    target: &lockship_target::Target,
) -> Result<Resolved<'b>, BuildError> {
    let mut libdeps = Libdeps {
        scanned: scan.scanned,
        ..Libdeps::default()
    };
    let mut packages: Vec<String> = plan.system_packages.clone();
    if scan.missing.is_empty() && scan.runtime.is_empty() && packages.is_empty() {
        return Ok(Resolved {
            libdeps,
            packages,
            repository: None,
        });
    }
    let missing = scan.missing;
    let no_suite = matches!(&base.kind, crate::BaseKind::Image(f) if f.suite.is_none());
    if no_suite && missing.is_empty() && packages.is_empty() {
        // A base lockship cannot add Debian packages to (Alpine, distroless
        // without a suite): what the code loads at run time is a warning.
        libdeps.runtime_unresolved = scan
            .runtime
            .iter()
            .map(|m| RuntimeNeed {
                name: m.name.clone(),
                asked_by: m.asked_by.to_string(),
                optional: m.optional,
            })
            .collect();
        return Ok(Resolved {
            libdeps,
            packages,
            repository: None,
        });
    }
    let repo = base.repository(ctx, &missing)?;
    if !missing.is_empty() || !scan.runtime.is_empty() {
        ctx.reporter
            .phase("looking up libraries in the Contents index");
        let contents = repo.contents(ctx.fetcher, ctx.cache, "main", ctx.reporter)?;
        libdeps = map_to_packages(&contents, missing, scan.scanned);
        if !libdeps.unresolved.is_empty() {
            return Err(BuildError::UnresolvedLibraries {
                missing: libdeps.unresolved.clone(),
                suite: plan.base.python.suite.to_string(),
            });
        }
        packages.extend(libdeps.packages.keys().cloned());
        let runtime = map_runtime_cached(ctx, &contents, &scan.runtime, target.triplet)?;
        packages.extend(runtime.packages.keys().cloned());
        libdeps.runtime_packages = runtime.packages;
        libdeps.runtime_unresolved = runtime.unresolved;
        ctx.reporter.phase("");
    }
    packages.sort();
    packages.dedup();
    Ok(Resolved {
        libdeps,
        packages,
        repository: Some(repo),
    })
}

/// The system-libraries layer: `packages` and their closure, minus what the
/// base has, unpacked and pruned like the base, with a new linker cache
/// (through [`DebTree::stage_over_base`]). `None` when there is nothing to add.
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
    let tree = DebTree::resolve(repo, roots, exclude)?;
    if let Some(p) = tree.packages().iter().find(|p| is_build_only(&p.name)) {
        return Err(BuildError::BuildOnlyPackage {
            package: p.name.clone(),
        });
    }
    let pins = tree.pins();
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
    let (layer, cached) = stage.layer(&key, |staging| {
        tree.stage_over_base(ctx, staging, base_plan, &base_built.tree)?;
        Ok(())
    })?;
    ctx.reporter.phase("");
    Ok(Some(SyslibsLayer {
        layer,
        cached,
        packages: pins,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockship_elf::{AskedBy, LoadCall};

    const CONTENTS: &str = "\
usr/include/magic.h                                     libdevel/libmagic-dev
usr/lib/x86_64-linux-gnu/libmagic.so                    libdevel/libmagic-dev
usr/lib/x86_64-linux-gnu/libmagic.so.1                  libs/libmagic1
usr/lib/x86_64-linux-gnu/libmagic.so.1.0.0              libs/libmagic1
usr/lib/debug/usr/lib/x86_64-linux-gnu/libmagic.so.1    debug/libmagic1-dbg
usr/lib/file/magic.mgc                                  misc/libmagic-mgc
usr/lib/x86_64-linux-gnu/libpango-1.0.so.0              libs/libpango-1.0-0
";

    fn missing(name: &str, wanted_as: Vec<Wanted>, optional: bool) -> MissingRuntimeLib {
        MissingRuntimeLib {
            name: name.to_string(),
            wanted_as,
            asked_by: AskedBy {
                file: "/opt/venv/lib/python3.11/site-packages/magic/loader.py".into(),
                line: 12,
            },
            call: LoadCall::FindLibrary,
            optional,
        }
    }

    #[test]
    fn run_time_loads_map_to_run_time_packages_never_dev_ones() {
        let contents = ContentsIndex::from_text(CONTENTS, "amd64");
        let loads = vec![
            missing("magic", vec![Wanted::FindLibrary("magic".into())], false),
            missing(
                "/usr/lib/file/magic.mgc",
                vec![Wanted::File("/usr/lib/file/magic.mgc".into())],
                false,
            ),
            missing(
                "libpango-1.0.so.0",
                vec![
                    Wanted::Soname("libpango-1.0.so.0".into()),
                    Wanted::FindLibrary("pango-1.0".into()),
                ],
                false,
            ),
        ];
        let mapped = map_runtime_to_packages(&contents, &loads, "x86_64-linux-gnu").unwrap();
        let names: Vec<&str> = mapped.packages.keys().map(String::as_str).collect();
        assert_eq!(names, ["libmagic-mgc", "libmagic1", "libpango-1.0-0"]);
        assert_eq!(
            mapped.packages["libmagic1"][0].asked_by,
            "/opt/venv/lib/python3.11/site-packages/magic/loader.py:12"
        );
        assert!(mapped.unresolved.is_empty(), "{:?}", mapped.unresolved);
    }

    #[test]
    fn a_find_library_name_no_package_ships_is_a_warning_naming_it_and_the_file() {
        let contents = ContentsIndex::from_text(CONTENTS, "amd64");
        let loads = vec![
            missing(
                "lockshipnothere",
                vec![Wanted::FindLibrary("lockshipnothere".into())],
                false,
            ),
            // Optional: mapped or not, never added.
            missing("magic", vec![Wanted::FindLibrary("magic".into())], true),
        ];
        let mapped = map_runtime_to_packages(&contents, &loads, "x86_64-linux-gnu").unwrap();
        assert!(mapped.packages.is_empty());
        assert_eq!(mapped.unresolved.len(), 2);
        let libdeps = Libdeps {
            runtime_unresolved: mapped.unresolved,
            ..Libdeps::default()
        };
        let warnings = libdeps.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("`lockshipnothere`"), "{}", warnings[0]);
        assert!(
            warnings[0].contains("site-packages/magic/loader.py:12"),
            "{}",
            warnings[0]
        );
    }

    #[test]
    fn a_dev_package_alone_never_satisfies_a_find_library_name() {
        // Only the unversioned link, shipped by the -dev package.
        let contents = ContentsIndex::from_text(
            "usr/lib/x86_64-linux-gnu/libfoo.so  libdevel/libfoo-dev\n",
            "amd64",
        );
        let loads = vec![missing(
            "foo",
            vec![Wanted::FindLibrary("foo".into())],
            false,
        )];
        let mapped = map_runtime_to_packages(&contents, &loads, "x86_64-linux-gnu").unwrap();
        assert!(mapped.packages.is_empty(), "{:?}", mapped.packages);
        assert_eq!(mapped.unresolved[0].name, "foo");
    }
}
