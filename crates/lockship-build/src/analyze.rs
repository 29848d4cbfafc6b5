//! What a build would find, without building: the plan, and the Debian
//! run-time packages its venv's native code needs ([`analyze`]), for
//! `lockship dockerfile`.
//!
//! The first steps are [`crate::build`]'s own (load, the Python, the
//! [`Base`] with its tree, the plan, the wheels downloaded and hash-checked).
//! Then, instead of a venv layer: each wheel is unpacked by lockship-wheel's
//! installer (the same path checks) into a scratch tree at the venv's
//! in-image path, and that tree gets the build's libdeps scan
//! ([`syslibs::scan_trees`]: `DT_NEEDED` against the base tree, and the
//! libraries Python code loads at run time) and the same Contents mapping
//! ([`syslibs::resolve`]). No sdist is built, no bytecode compiled, no layer
//! written.
//!
//! An sdist is scanned through the wheel an earlier build made of it (the
//! sdist build cache); when there is none, its run-time packages are read
//! from its build packages instead (the plan's, and those lockship's table
//! of well-known packages gives it): the shared-library packages a `-dev`
//! build package depends on in the suite's Packages index (`libpq-dev` →
//! `libpq5`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use lockship_debian::PackageIndex;
use lockship_runtime::Context;
use lockship_wheel::{InstallOptions, VenvLayout};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::base::Base;
use crate::download;
use crate::error::io_err;
use crate::git::{self, GitPin};
use crate::layers::syslibs::{self, LayerScan};
use crate::layers::NamedWheel;
use crate::options::BuildOptions;
use crate::plan::{choose_python, load, make_plan};
use crate::{sdists, BuildError, ImagePlan, Libdeps};

/// What [`analyze`] found: the plan, and each run-time package with why.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The plan, as [`crate::build`] makes it.
    pub plan: ImagePlan,
    /// What the libdeps scan of the unpacked wheels found, mapped to packages.
    pub libdeps: Libdeps,
    /// How each package built from an sdist was looked at.
    pub sdists: Vec<SdistAnalysis>,
    /// Every Debian run-time package the image needs beyond the base, with
    /// the reasons it is there.
    pub runtime_packages: BTreeMap<String, Vec<Reason>>,
    /// The Debian packages the sdists' builds need: the plan's and the
    /// options', with those each sdist's cached build used or lockship's
    /// table gives it; sorted.
    pub build_packages: Vec<String>,
}

impl Analysis {
    /// The run-time packages' names, sorted.
    pub fn package_names(&self) -> Vec<String> {
        self.runtime_packages.keys().cloned().collect()
    }

    /// One line per run-time package: the package and why it is there.
    pub fn notes(&self) -> Vec<String> {
        self.runtime_packages
            .iter()
            .map(|(package, reasons)| {
                let why: Vec<String> = reasons.iter().map(ToString::to_string).collect();
                format!("run-time package `{package}`: {}", why.join("; "))
            })
            .collect()
    }

    /// libdeps' warnings, and one for each sdist whose run-time libraries
    /// nothing tells.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = self.libdeps.warnings();
        let derived = |name: &str| {
            self.runtime_packages.values().flatten().any(
                |r| matches!(r, Reason::BuildPackage { sdists, .. } if sdists.iter().any(|s| s == name)),
            )
        };
        for sdist in &self.sdists {
            if sdist.scanned == SdistScan::NotBuilt && !derived(&sdist.package) {
                out.push(format!(
                    "`{}` {} builds from its sdist, which `lockship dockerfile` does not build, and no `-dev` build package depends on a shared library: if its native code needs one, `lockship build` names it (add it to `[tool.lockship] system-packages`)",
                    sdist.package, sdist.version
                ));
            }
        }
        out
    }
}

/// How a package built from an sdist was looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SdistAnalysis {
    /// The package.
    pub package: String,
    /// Its locked version.
    pub version: String,
    /// Scanned through a cached wheel, or not built.
    pub scanned: SdistScan,
    /// The build packages of its own: those its cached build used, or
    /// those lockship's table of well-known packages gives it.
    pub build_packages: Vec<String>,
}

/// Whether an sdist's wheel was there to scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SdistScan {
    /// An earlier build's wheel of it was in the sdist build cache, and was
    /// scanned with the other wheels.
    CachedWheel {
        /// The wheel's file name.
        wheel: String,
    },
    /// Not built: its run-time packages come from the build packages (the
    /// plan's, and those lockship's table gives it).
    NotBuilt,
}

/// Why a run-time package is in the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Reason {
    /// A shared object needs a library (`DT_NEEDED`) the package ships.
    Needed {
        /// The library (`libpq.so.5`).
        soname: String,
        /// The in-image file that needs it.
        needed_by: String,
        /// The wheel that file came from.
        wheel: Option<String>,
    },
    /// Python code loads a library the package ships at run time (`dlopen`).
    Loaded {
        /// The name as the code writes it.
        name: String,
        /// The in-image file and line that ask.
        asked_by: String,
        /// The wheel that file came from.
        wheel: Option<String>,
    },
    /// A `-dev` build package depends on it, for sdists not built.
    BuildPackage {
        /// The build package (`libpq-dev`).
        build_package: String,
        /// The packages built from sdists that lockship did not build.
        sdists: Vec<String>,
    },
    /// `[tool.lockship] system-packages` asks for it.
    SystemPackages,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = |wheel: &Option<String>| match wheel {
            Some(w) => format!(", found in wheel `{w}`"),
            None => String::new(),
        };
        match self {
            Reason::Needed {
                soname,
                needed_by,
                wheel,
            } => write!(f, "`{soname}` needed by `{needed_by}`{}", from(wheel)),
            Reason::Loaded {
                name,
                asked_by,
                wheel,
            } => write!(
                f,
                "`{name}` loaded at run time by `{asked_by}`{}",
                from(wheel)
            ),
            Reason::BuildPackage {
                build_package,
                sdists,
            } => write!(
                f,
                "from build package `{build_package}` (for {}, built from its sdist only by `lockship build`)",
                sdists
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Reason::SystemPackages => write!(f, "`[tool.lockship] system-packages`"),
        }
    }
}

/// The plan and the run-time packages `build` would find, without building:
/// see the module's documentation.
pub fn analyze(ctx: &Context, options: &BuildOptions) -> Result<Analysis, BuildError> {
    let (project, lock) = load(options)?;
    let (python, options) = &choose_python(ctx, options, &project, &lock)?;
    let base = Base::for_build(ctx, options)?;
    let plan = make_plan(ctx, options, &project, &lock, &base, python.clone())?;

    let file_roots: Vec<PathBuf> = std::iter::once(options.project_dir.clone())
        .chain(project.workspace.as_ref().map(|w| w.root.clone()))
        .chain(options.allowed_file_roots.iter().cloned())
        .collect();
    let downloaded = download::download_all(ctx, &plan.wheels, &file_roots)?;
    let sdist_options = sdists::sdist_options(options, &base, &plan);
    let (sdists, cached) = look_at_sdists(ctx, &base, &plan, &downloaded, &sdist_options)?;

    let links = ctx.cache.temp_dir()?;
    let named = download::link_wheels(&plan, &downloaded, &cached, links.path())?;
    let wheels: Vec<&NamedWheel> = named
        .iter()
        .filter(|w| !w.pin.from_sdist || cached.iter().any(|b| b.package == w.pin.name))
        .collect();
    let target = syslibs::target_of(&base)?;
    let scan = scan_wheels(ctx, &base, &plan, &wheels, target)?;
    let owners = scan.owners;
    let libdeps = syslibs::resolve(ctx, &base, &plan, scan.scan, target)?.libdeps;

    let mut runtime_packages = found_by_libdeps(&libdeps, &owners);
    let plan_level = &sdist_options.env.packages;
    let not_built = sdists.iter().any(|s| s.scanned == SdistScan::NotBuilt);
    if let Some(index) = suite_index(ctx, &base, not_built)? {
        let in_base: BTreeSet<String> = base
            .debian
            .packages
            .iter()
            .map(|p| p.name.clone())
            .collect();
        // (run-time package, build package) → the sdists it is for.
        let mut from_build: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for sdist in sdists.iter().filter(|s| s.scanned == SdistScan::NotBuilt) {
            let mut packages = plan_level.clone();
            packages.extend(sdist.build_packages.iter().cloned());
            for (runtime, named_by) in runtime_of_build_packages(index, &packages, &in_base) {
                for build_package in named_by {
                    from_build
                        .entry((runtime.clone(), build_package))
                        .or_default()
                        .push(sdist.package.clone());
                }
            }
        }
        for ((runtime, build_package), sdists) in from_build {
            runtime_packages
                .entry(runtime)
                .or_default()
                .push(Reason::BuildPackage {
                    build_package,
                    sdists,
                });
        }
    }
    for package in &plan.system_packages {
        runtime_packages
            .entry(package.clone())
            .or_default()
            .push(Reason::SystemPackages);
    }
    let mut build_packages = plan_level.clone();
    build_packages.extend(sdists.iter().flat_map(|s| s.build_packages.iter().cloned()));
    build_packages.sort();
    build_packages.dedup();
    Ok(Analysis {
        plan,
        libdeps,
        sdists,
        runtime_packages,
        build_packages,
    })
}

/// Each sdist of the plan: its wheel from the sdist build cache when an
/// earlier build made one (with the build packages that build used), else
/// not built, with the build packages lockship's table of well-known
/// packages gives it (when the options let lockship add build packages).
fn look_at_sdists(
    ctx: &Context,
    base: &Base,
    plan: &ImagePlan,
    downloaded: &[PathBuf],
    sdist_options: &lockship_sdist::SdistOptions,
) -> Result<(Vec<SdistAnalysis>, Vec<lockship_sdist::BuiltWheel>), BuildError> {
    let mut cached = Vec::new();
    let mut sdists = Vec::new();
    for (pin, path) in plan.wheels.iter().zip(downloaded) {
        if !pin.from_sdist {
            continue;
        }
        let request = lockship_sdist::SdistRequest {
            name: pin.name.clone(),
            version: pin.version.clone(),
            sdist: path.clone(),
            filename: pin.filename.clone(),
            sha256: pin.sha256.clone(),
        };
        let (scanned, build_packages) =
            match lockship_sdist::cached_wheel(ctx, sdist_options, &request) {
                Some(built) => {
                    let found = (
                        SdistScan::CachedWheel {
                            wheel: built.filename.clone(),
                        },
                        built.build_packages.clone(),
                    );
                    cached.push(built);
                    found
                }
                None => match suite_index(ctx, base, sdist_options.auto_packages)? {
                    Some(index) => (SdistScan::NotBuilt, table_guesses(index, &pin.name)),
                    None => (SdistScan::NotBuilt, Vec::new()),
                },
            };
        sdists.push(SdistAnalysis {
            package: pin.name.clone(),
            version: pin.version.clone(),
            scanned,
            build_packages,
        });
    }
    Ok((sdists, cached))
}

/// The Packages index of the base's suite, when `wanted` and the base has
/// a suite (a `--base-image` may have none).
fn suite_index<'b>(
    ctx: &Context,
    base: &'b Base,
    wanted: bool,
) -> Result<Option<&'b PackageIndex>, BuildError> {
    let no_suite = matches!(&base.kind, crate::BaseKind::Image(f) if f.suite.is_none());
    if !wanted || no_suite {
        return Ok(None);
    }
    Ok(Some(&base.repository(ctx, &[])?.index))
}

/// The build packages lockship's table of well-known packages gives the
/// package `name`: of each item, the first alternative the suite has.
fn table_guesses(index: &PackageIndex, name: &str) -> Vec<String> {
    lockship_sdist::known::known_package(name)
        .map(|known| {
            known
                .build
                .iter()
                .filter_map(|item| item.0.iter().find(|p| index.get(p).is_some()).cloned())
                .collect()
        })
        .unwrap_or_default()
}

/// What libdeps found, as reasons: each soname with the file that needs
/// it, each run-time load with the file that asks, and the wheel of each.
fn found_by_libdeps(
    libdeps: &Libdeps,
    owners: &BTreeMap<String, String>,
) -> BTreeMap<String, Vec<Reason>> {
    let mut out: BTreeMap<String, Vec<Reason>> = BTreeMap::new();
    for (package, libs) in &libdeps.packages {
        for lib in libs {
            let needed_by = lib.needed_by.first().cloned().unwrap_or_default();
            out.entry(package.clone())
                .or_default()
                .push(Reason::Needed {
                    soname: lib.soname.clone(),
                    wheel: owners.get(&needed_by).cloned(),
                    needed_by,
                });
        }
    }
    for (package, needs) in &libdeps.runtime_packages {
        for need in needs {
            let file = need
                .asked_by
                .rsplit_once(':')
                .map_or(need.asked_by.as_str(), |(f, _)| f);
            out.entry(package.clone())
                .or_default()
                .push(Reason::Loaded {
                    name: need.name.clone(),
                    asked_by: need.asked_by.clone(),
                    wheel: owners.get(file).cloned(),
                });
        }
    }
    out
}

/// A libdeps scan of unpacked wheels, and which wheel each file it names
/// came from (in-image path → wheel file name).
#[derive(Debug, Default, Serialize, Deserialize)]
struct WheelsScan {
    scan: LayerScan,
    owners: BTreeMap<String, String>,
}

/// Unpacks `wheels` and the plan's git and path dependencies into a scratch
/// venv at the plan's in-image path, and scans it over the base tree.
/// Cached under the base tree and every wheel's hash, so a second run
/// unpacks nothing.
fn scan_wheels(
    ctx: &Context,
    base: &Base,
    plan: &ImagePlan,
    wheels: &[&NamedWheel],
    target: &lockship_target::Target,
) -> Result<WheelsScan, BuildError> {
    let built = base.built();
    let mut key = Sha256::new();
    key.update(format!(
        "lockship-analyze-v1\0{}\0{}\0{}\0{}\0{}\0",
        built.tree_key, target.debian_arch, plan.venv, plan.python_path, plan.python_full_version
    ));
    for wheel in wheels {
        let name = wheel.path.file_name().unwrap_or_default();
        key.update(format!("{}\0{}\0", name.to_string_lossy(), wheel.sha256));
    }
    for pin in &plan.git {
        key.update(format!("git\0{}\0{}\0", pin.name, git::content_key(pin)?));
    }
    syslibs::keyed_record(ctx, "libdeps", key, || {
        ctx.reporter.phase(&format!(
            "unpacking {} wheels",
            wheels.len() + plan.git.len()
        ));
        let scratch = ctx.cache.temp_dir()?;
        let venv = VenvLayout {
            root: scratch.path().join("root"),
            prefix: plan.venv.clone(),
            python: plan.python_path.clone(),
            python_version: plan.python_version,
            python_full_version: Some(plan.python_full_version.clone()),
        };
        // The root exists even with nothing to unpack (only sdists).
        let packed = scratch.path().join("packed");
        for dir in [&venv.root, &packed] {
            fs_err::create_dir_all(dir).map_err(io_err("create", dir))?;
        }
        let mut files: Vec<(PathBuf, String)> = wheels
            .iter()
            .map(|w| {
                let name = w.path.file_name().unwrap_or_default();
                (w.path.clone(), name.to_string_lossy().into_owned())
            })
            .collect();
        for pin in &plan.git {
            files.push((git::pack(ctx.cache, pin, &packed)?, git_label(pin)));
        }
        // Unpacked as the installer does (every path checked), unstripped:
        // stripping changes no `DT_NEEDED`.
        let options = InstallOptions { strip: false };
        let site_packages = venv.site_packages();
        let mut owners = BTreeMap::new();
        for (path, label) in &files {
            let dist = lockship_wheel::install_wheel_with(path, &venv, &options)?;
            for file in dist.files {
                owners.insert(in_image(&site_packages, &file), label.clone());
            }
        }
        let scan = syslibs::scan_trees(
            ctx,
            &built.tree,
            std::slice::from_ref(&venv.root),
            std::slice::from_ref(&plan.venv),
            target,
        )?;
        // Only the files the scan names are worth keeping.
        let named: BTreeSet<String> = scan
            .missing
            .iter()
            .flat_map(|m| m.needed_by.iter().cloned())
            .chain(
                scan.runtime
                    .iter()
                    .map(|r| r.asked_by.file.to_string_lossy().into_owned()),
            )
            .collect();
        owners.retain(|path, _| named.contains(path));
        ctx.reporter.phase("");
        Ok(WheelsScan { scan, owners })
    })
}

/// How a git or path dependency is named where a wheel's name would be.
fn git_label(pin: &GitPin) -> String {
    format!("{} (from `{}`)", pin.name, pin.url())
}

/// The in-image path of a `RECORD` path (relative to site-packages, `..`
/// allowed for scripts and data).
fn in_image(site_packages: &str, relative: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in site_packages.split('/').chain(relative.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The run-time packages the `-dev` packages among `build_packages` depend
/// on directly: for each `Depends` group, the first alternative that is a
/// shared-library package (section `libs`, never a build-only package), and
/// not in `in_base`. Run-time package → the build packages that named it.
pub fn runtime_of_build_packages(
    index: &PackageIndex,
    build_packages: &[String],
    in_base: &BTreeSet<String>,
) -> BTreeMap<String, Vec<String>> {
    let is_library = |name: &str| {
        index.get(name).is_some_and(|p| {
            p.section
                .as_deref()
                .and_then(|s| s.rsplit('/').next())
                .is_some_and(|s| s == "libs")
                && !syslibs::is_build_only(&p.name)
                && !p.name.ends_with("-dbg")
        })
    };
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for build_package in build_packages {
        if !build_package.ends_with("-dev") {
            continue;
        }
        let Some(dev) = index.get(build_package) else {
            continue;
        };
        for group in dev.depends.iter().chain(&dev.pre_depends) {
            let Some(library) = group.iter().find(|r| is_library(&r.name)) else {
                continue;
            };
            if in_base.contains(&library.name) {
                continue;
            }
            let named_by = out.entry(library.name.clone()).or_default();
            if !named_by.contains(build_package) {
                named_by.push(build_package.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKAGES: &str = "\
Package: libpq-dev
Version: 15.10-0+deb12u1
Architecture: amd64
Section: libdevel
Depends: libpq5 (= 15.10-0+deb12u1), libssl-dev
Filename: pool/main/p/postgresql-15/libpq-dev_15.10-0+deb12u1_amd64.deb
Size: 1
SHA256: 00

Package: libpq5
Version: 15.10-0+deb12u1
Architecture: amd64
Section: libs
Depends: libc6 (>= 2.34), libssl3 (>= 3.0.0)
Filename: pool/main/p/postgresql-15/libpq5_15.10-0+deb12u1_amd64.deb
Size: 1
SHA256: 00

Package: libssl-dev
Version: 3.0.15-1
Architecture: amd64
Section: libdevel
Depends: libssl3 (= 3.0.15-1)
Filename: pool/main/o/openssl/libssl-dev_3.0.15-1_amd64.deb
Size: 1
SHA256: 00

Package: libssl3
Version: 3.0.15-1
Architecture: amd64
Section: libs
Filename: pool/main/o/openssl/libssl3_3.0.15-1_amd64.deb
Size: 1
SHA256: 00

Package: libxml2-dev
Version: 2.9.14
Architecture: amd64
Section: libdevel
Depends: libxml2 (= 2.9.14), libicu-dev, zlib1g-dev | libz-dev, libc6-dev | libc-dev
Filename: pool/main/libx/libxml2/libxml2-dev_2.9.14_amd64.deb
Size: 1
SHA256: 00

Package: libxml2
Version: 2.9.14
Architecture: amd64
Section: libs
Filename: pool/main/libx/libxml2/libxml2_2.9.14_amd64.deb
Size: 1
SHA256: 00

Package: pkg-config
Version: 1.8.1
Architecture: amd64
Section: devel
Depends: libglib2.0-0
Filename: pool/main/p/pkgconf/pkg-config_1.8.1_amd64.deb
Size: 1
SHA256: 00

Package: libglib2.0-0
Version: 2.74
Architecture: amd64
Section: libs
Filename: pool/main/g/glib2.0/libglib2.0-0_2.74_amd64.deb
Size: 1
SHA256: 00
";

    fn index() -> PackageIndex {
        PackageIndex::new(lockship_debian::parse_packages(PACKAGES).unwrap())
    }

    fn names(map: &BTreeMap<String, Vec<String>>) -> Vec<&str> {
        map.keys().map(String::as_str).collect()
    }

    #[test]
    fn a_dev_build_package_gives_the_shared_library_it_depends_on() {
        let derived = runtime_of_build_packages(
            &index(),
            &["libpq-dev".to_string(), "libxml2-dev".to_string()],
            &BTreeSet::new(),
        );
        // libssl-dev is a -dev package itself: libpq5's own Depends bring
        // libssl3 with the closure, so it is not named here.
        assert_eq!(names(&derived), ["libpq5", "libxml2"]);
        assert_eq!(derived["libpq5"], ["libpq-dev"]);
        assert_eq!(derived["libxml2"], ["libxml2-dev"]);
    }

    #[test]
    fn only_dev_build_packages_count_and_the_base_s_packages_are_left_out() {
        let index = index();
        let tools =
            runtime_of_build_packages(&index, &["pkg-config".to_string()], &BTreeSet::new());
        assert!(tools.is_empty(), "{tools:?}");
        let in_base = BTreeSet::from(["libpq5".to_string()]);
        let derived = runtime_of_build_packages(&index, &["libpq-dev".to_string()], &in_base);
        assert!(derived.is_empty(), "{derived:?}");
    }

    #[test]
    fn record_paths_become_in_image_paths() {
        let sp = "/opt/venv/lib/python3.11/site-packages";
        assert_eq!(
            in_image(sp, "psycopg2/_psycopg.cpython-311-x86_64-linux-gnu.so"),
            "/opt/venv/lib/python3.11/site-packages/psycopg2/_psycopg.cpython-311-x86_64-linux-gnu.so"
        );
        assert_eq!(in_image(sp, "../../../bin/tool"), "/opt/venv/bin/tool");
    }

    #[test]
    fn each_reason_names_where_it_came_from() {
        let wheel = Reason::Needed {
            soname: "libpq.so.5".into(),
            needed_by: "/opt/venv/x.so".into(),
            wheel: Some("psycopg2-2.9.10-cp311-cp311-linux_x86_64.whl".into()),
        };
        assert_eq!(
            wheel.to_string(),
            "`libpq.so.5` needed by `/opt/venv/x.so`, found in wheel `psycopg2-2.9.10-cp311-cp311-linux_x86_64.whl`"
        );
        let dev = Reason::BuildPackage {
            build_package: "libpq-dev".into(),
            sdists: vec!["psycopg2".into()],
        };
        assert!(
            dev.to_string()
                .starts_with("from build package `libpq-dev`"),
            "{dev}"
        );
    }
}
