//! Which Python the image gets: what the user and the project declare
//! (`--python`, `[tool.lockship] python`, `.python-version`, the
//! `requires-python` ranges of `pyproject.toml` and of the lock), judged by
//! [`lockship_python::select_python`] against what Debian's suites offer and
//! the standalone CPython builds the catalogue knows (the shipped table,
//! refreshed by the cache's `python-standalone.sha256sums`); a standalone
//! choice goes into `BaseOptions::standalone`.
//!
//! A Debian suite's exact version comes from its signed `Packages` index
//! (index metadata only, as a plan may read); only the suites whose minor
//! version the request or the ranges allow are read. A base image's Python
//! is checked against the same declarations instead.

use lockship_project::{Lock, MarkerEnv, PackageSource, Project};
use lockship_python::{
    check_base_python, read_python_version_file, select_python, standalone_triple,
    ConstraintSource, Offer, Provider, PyVersion, PythonChoice, PythonConstraint, PythonInputs,
    PythonRequest, PythonSource, StandaloneBuild,
};
use lockship_runtime::{Context, PythonRuntime};
use lockship_wheel::{Libc, TagPriorities, WheelFilename, WheelTarget};
use std::str::FromStr;

use super::{upstream_version, wheel_arch, BaseFacts};
use crate::options::BuildOptions;
use crate::BuildError;

/// The Python of an image when nothing at all declares a version: lockship's
/// default before it read the project's declarations, so such images keep
/// their digests.
pub const DEFAULT_PYTHON: &str = "3.11";

/// The declarations of `project` and `lock`, and the user's request.
///
/// `options.python_request` is `--python`, else `[tool.lockship] python`:
/// it counts as the latter when it is what the project's table says.
pub fn python_inputs(
    options: &BuildOptions,
    project: &Project,
    lock: &Lock,
) -> Result<PythonInputs, BuildError> {
    let tool_text = project.lockship.python.as_deref();
    let parse_tool = |text: &str| PythonRequest::parse(text, "[tool.lockship] python");
    let (flag, tool) = match options.python_request.as_deref() {
        Some(text) if Some(text) != tool_text => (
            Some(PythonRequest::parse(text, "--python")?),
            tool_text.map(parse_tool).transpose()?,
        ),
        _ => (None, tool_text.map(parse_tool).transpose()?),
    };
    let mut constraints = Vec::new();
    if let Some(text) = project.requires_python.as_deref() {
        let source = if project.format == lockship_project::ProjectFormat::Poetry {
            ConstraintSource::Poetry
        } else {
            ConstraintSource::Pyproject
        };
        constraints.push(PythonConstraint::parse(source, text)?);
    }
    if let Some(text) = lock.requires_python.as_deref() {
        let file = lock
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| lock.kind.file_name().to_string());
        constraints.push(PythonConstraint::parse(
            ConstraintSource::Lock { file },
            text,
        )?);
    }
    Ok(PythonInputs {
        flag,
        tool,
        version_file: read_python_version_file(&project.dir)?,
        constraints,
        implied: Vec::new(),
        source: None,
        default: Some(PythonRequest::parse(DEFAULT_PYTHON, "the default")?),
    })
}

/// How many index pages are read at once for [`implied_constraints`].
const INDEX_READERS: usize = 8;

/// What the pinned packages of a lock that records no files (a
/// `requirements.txt`, `Pipfile.lock`) imply about the Python: the
/// `Requires-Python` of each pin's files on the index, as pip and uv would
/// check it when installing. Locks that list their files (uv.lock,
/// pylock.toml) were resolved for their own `requires-python`, and their
/// wheels' tags are judged by [`fits_lock`] instead. Packages installed only
/// under a marker that names the Python version, or not on Linux at the
/// default version, are left out: they are no floor.
pub fn implied_constraints(
    ctx: &Context,
    options: &BuildOptions,
    project: &Project,
    lock: &Lock,
) -> Result<Vec<PythonConstraint>, BuildError> {
    let markers = MarkerEnv::linux(DEFAULT_PYTHON, "x86_64");
    // A lock that cannot be walked at the default version (a poetry lock
    // made for newer Pythons leaves out what only older ones need) implies
    // nothing here; the walk at the chosen version reports real problems.
    let Ok(selected) = lockship_project::select(lock, project, &options.selection, &markers) else {
        return Ok(Vec::new());
    };
    let pins: Vec<(&str, &str)> = selected
        .iter()
        .filter(|p| matches!(p.source, PackageSource::Registry { .. }))
        .filter(|p| p.wheels.is_empty() && p.sdist.is_none())
        .filter(|p| {
            !p.marker
                .as_deref()
                .is_some_and(|m| m.contains("python_version") || m.contains("python_full_version"))
        })
        .filter_map(|p| Some((p.name.as_str(), p.version.as_deref()?)))
        .collect();
    if pins.is_empty() {
        return Ok(Vec::new());
    }
    let indexes = crate::plan::indexes(options, project, lock)?;
    let client = lockship_wheel::IndexClient::new(ctx.fetcher.clone(), indexes)?;
    let chunk = pins.len().div_ceil(INDEX_READERS);
    let found: Vec<Vec<PythonConstraint>> = std::thread::scope(|scope| {
        let workers: Vec<_> = pins
            .chunks(chunk)
            .map(|part| {
                let client = &client;
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for (name, version) in part {
                        // A package the index does not list fails later,
                        // where its wheel is pinned, with its own error.
                        let Ok(files) = client.files(name) else {
                            continue;
                        };
                        out.extend(requires_python_of(name, version, &files));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("index reader panicked"))
            .collect()
    });
    Ok(found.into_iter().flatten().collect())
}

/// The constraint the files of `name==version` on the index set, if any
/// of them declares a `Requires-Python`.
fn requires_python_of(
    name: &str,
    version: &str,
    files: &[lockship_wheel::IndexFile],
) -> Option<PythonConstraint> {
    let wanted = uv_pep440::Version::from_str(version).ok();
    let same = |v: &str| match (&wanted, uv_pep440::Version::from_str(v)) {
        (Some(w), Ok(v)) => *w == v,
        _ => v.eq_ignore_ascii_case(version),
    };
    let of_version: Vec<&lockship_wheel::IndexFile> = files
        .iter()
        .filter(|f| !f.yanked)
        .filter(|f| match WheelFilename::parse(&f.filename) {
            Ok(w) => same(&w.version.to_string()),
            Err(_) => crate::pins::sdist_version(&f.filename).is_some_and(|(_, v)| same(&v)),
        })
        .collect();
    // Every file must declare one: a file without it installs anywhere.
    let texts: Option<Vec<&str>> = of_version
        .iter()
        .map(|f| f.requires_python.as_deref())
        .collect();
    let texts = texts.filter(|t| !t.is_empty())?;
    let source = ConstraintSource::Package {
        name: name.to_string(),
        version: version.to_string(),
    };
    // A malformed `Requires-Python` is ignored, as pip ignores it.
    PythonConstraint::any_of(source, &texts).ok()
}

/// Chooses the Python of lockship's runtime and returns the build's options
/// with that runtime.
pub fn choose(
    ctx: &Context,
    options: &BuildOptions,
    project: &Project,
    lock: &Lock,
) -> Result<(PythonChoice, BuildOptions), BuildError> {
    let mut inputs = python_inputs(options, project, lock)?;
    // An explicit request is not second-guessed here: a pin that cannot be
    // installed on it fails where its wheel is chosen.
    if inputs.flag.is_none() && inputs.tool.is_none() && inputs.version_file.is_none() {
        inputs.implied = implied_constraints(ctx, options, project, lock)?;
    }
    inputs.source = options.base.python_source;
    let mut offers = Vec::new();
    let mut glibc = Vec::new();
    for runtime in lockship_runtime::SUPPORTED {
        if !considered(&inputs, runtime) || inputs.source == Some(PythonSource::Standalone) {
            continue;
        }
        let mut base = options.base.clone();
        base.python = runtime.clone();
        let (_, plan) = lockship_runtime::plan_base(ctx, &base)?;
        let version = package_version(&plan, &format!("python{}-minimal", runtime.version))
            .and_then(|v| v.parse::<PyVersion>().ok());
        let Some(version) = version else { continue };
        glibc.push((version.clone(), package_version(&plan, "libc6")));
        offers.push(Offer {
            version,
            provider: Provider::Debian {
                suite: runtime.suite.to_string(),
            },
        });
    }
    let standalone = standalone_builds(ctx, options, &inputs)?;
    offers.extend(standalone.iter().map(|b| Offer {
        version: b.version.clone(),
        provider: Provider::Standalone {
            release_tag: b.release_tag.clone(),
        },
    }));
    // A version every package has a wheel for, else one where the rest
    // builds from sdists.
    let fits = |version: &PyVersion, sdists: bool| {
        let libc = glibc
            .iter()
            .find(|(v, _)| v == version)
            .and_then(|(_, l)| l.clone());
        fits_lock(options, project, lock, version, libc.as_deref(), sdists)
    };
    let choice = match select_python(&inputs, &offers, &|v| fits(v, false)) {
        Err(lockship_python::PythonError::NoCompatibleVersion { .. }) => {
            select_python(&inputs, &offers, &|v| fits(v, true))?
        }
        other => other?,
    };
    let mut chosen = options.clone();
    if let Provider::Debian { suite } = &choice.provider {
        if let Some(runtime) = lockship_runtime::SUPPORTED
            .iter()
            .find(|r| r.suite == suite)
        {
            chosen.base.python = runtime.clone();
        }
    }
    if let Provider::Standalone { release_tag } = &choice.provider {
        chosen.base.standalone = standalone
            .into_iter()
            .find(|b| b.version == choice.version && &b.release_tag == release_tag);
    }
    Ok((choice, chosen))
}

/// The standalone CPython builds for the build's platform (the shipped
/// table, refreshed by the cache's), unless `python-source` is `debian`.
fn standalone_builds(
    ctx: &Context,
    options: &BuildOptions,
    inputs: &PythonInputs,
) -> Result<Vec<StandaloneBuild>, BuildError> {
    let platform = &options.base.platform;
    let triple = standalone_triple(&platform.architecture, platform.variant.as_deref());
    let (Some(triple), false) = (triple, inputs.source == Some(PythonSource::Debian)) else {
        return Ok(Vec::new());
    };
    let catalogue = lockship_runtime::standalone::catalogue(ctx)?;
    Ok(catalogue.builds(triple).cloned().collect())
}

/// Checks a base image's Python against the declarations.
pub fn check_base(
    options: &BuildOptions,
    project: &Project,
    lock: &Lock,
    facts: &BaseFacts,
) -> Result<(), BuildError> {
    let inputs = python_inputs(options, project, lock)?;
    if let Ok(version) = facts.python_full_version.parse::<PyVersion>() {
        check_base_python(&inputs, &version, &facts.source)?;
    }
    Ok(())
}

/// Whether a suite's minor version can be chosen at all: the request's
/// minor, else one the ranges allow (else the default's).
fn considered(inputs: &PythonInputs, runtime: &PythonRuntime) -> bool {
    let Some((major, minor)) = runtime
        .version
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
    else {
        return false;
    };
    match inputs.request() {
        Some((request, _)) => request.minor_pair() == (major, minor),
        None => inputs.allows_minor(major, minor),
    }
}

/// The upstream version of an installed package of a runtime plan.
fn package_version(plan: &lockship_runtime::BasePlan, name: &str) -> Option<String> {
    plan.packages
        .iter()
        .find(|p| p.name == name)
        .map(|p| upstream_version(&p.version))
}

/// Whether every locked package of the selection has a wheel for CPython
/// `version` on the build's architecture (or, with `sdists`, an sdist to
/// build). A package
/// whose lock lists no files (a `requirements.txt`) cannot be judged here,
/// and counts as fitting.
fn fits_lock(
    options: &BuildOptions,
    project: &Project,
    lock: &Lock,
    version: &PyVersion,
    libc6: Option<&str>,
    sdists: bool,
) -> bool {
    let arch = wheel_arch(
        lockship_runtime::debian_arch(&options.base.platform)
            .map(|(a, _)| a)
            .unwrap_or("amd64"),
    );
    let machine = match arch {
        lockship_wheel::Arch::Aarch64 => "aarch64",
        lockship_wheel::Arch::Armv7l => "armv7l",
        _ => "x86_64",
    };
    let (major, minor) = libc6
        .and_then(|v| v.split_once('.'))
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .unwrap_or((2, 36));
    let python = (version.major as u8, version.minor as u8);
    let target = WheelTarget {
        python,
        abi: format!("cp{}{}", python.0, python.1),
        arch,
        libc: Libc::Glibc { major, minor },
    };
    let priorities = TagPriorities::new(&target);
    let markers = MarkerEnv::linux(&version.to_string(), machine);
    let Ok(selected) = lockship_project::select(lock, project, &options.selection, &markers) else {
        return false;
    };
    selected.into_iter().all(|package| {
        if !matches!(package.source, PackageSource::Registry { .. })
            || package.wheels.is_empty()
            || sdists && package.sdist.is_some()
        {
            return true;
        }
        package.wheels.iter().any(|w| {
            WheelFilename::parse(&w.filename)
                .map(|f| priorities.priority(&f).is_some())
                .unwrap_or(false)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(request: Option<&str>, ranges: &[&str]) -> PythonInputs {
        PythonInputs {
            flag: request.map(|r| PythonRequest::parse(r, "--python").unwrap()),
            constraints: ranges
                .iter()
                .map(|r| PythonConstraint::parse(ConstraintSource::Pyproject, r).unwrap())
                .collect(),
            default: Some(PythonRequest::parse(DEFAULT_PYTHON, "the default").unwrap()),
            ..PythonInputs::default()
        }
    }

    fn suites(inputs: &PythonInputs) -> Vec<&'static str> {
        lockship_runtime::SUPPORTED
            .iter()
            .filter(|r| considered(inputs, r))
            .map(|r| r.suite)
            .collect()
    }

    fn file(
        filename: &str,
        requires_python: Option<&str>,
        yanked: bool,
    ) -> lockship_wheel::IndexFile {
        lockship_wheel::IndexFile {
            filename: filename.into(),
            url: url::Url::parse(&format!("http://127.0.0.1:9/files/{filename}")).unwrap(),
            sha256: None,
            requires_python: requires_python.map(str::to_string),
            yanked,
            yanked_reason: None,
            size: None,
        }
    }

    #[test]
    fn a_pins_files_requires_python_is_its_floor() {
        let files = [
            file("django-5.2.9-py3-none-any.whl", Some(">=3.10"), false),
            file("django-6.0.1-py3-none-any.whl", Some(">=3.12"), false),
            file("django-6.0.1.tar.gz", Some(">=3.12"), false),
            file("Django-6.0.1-py3-none-any.whl", Some(">=3.8"), true),
        ];
        let c = requires_python_of("django", "6.0.1", &files).unwrap();
        assert_eq!(c.describe(), "django 6.0.1 requires Python >=3.12");
        assert!(!c.contains(&"3.11.2".parse().unwrap()));
        assert!(c.contains(&"3.13.5".parse().unwrap()));
        // Only the pinned release's files count, under PEP 440 equality.
        let c = requires_python_of("django", "5.2.09", &files).unwrap();
        assert!(c.contains(&"3.11.2".parse().unwrap()));
        // A file that declares nothing installs anywhere: no floor.
        let files = [
            file("six-1.16.0-py2.py3-none-any.whl", None, false),
            file("six-1.16.0.tar.gz", Some(">=2.7"), false),
        ];
        assert!(requires_python_of("six", "1.16.0", &files).is_none());
        assert!(requires_python_of("six", "9.9", &files).is_none());
    }

    #[test]
    fn only_the_suites_a_declaration_allows_are_read() {
        assert_eq!(suites(&inputs(None, &[])), ["bookworm"]);
        assert_eq!(suites(&inputs(None, &[">=3.11"])), ["bookworm", "trixie"]);
        assert_eq!(suites(&inputs(None, &[">=3.13"])), ["trixie"]);
        assert_eq!(suites(&inputs(Some("3.11.9"), &[])), ["bookworm"]);
        assert!(suites(&inputs(Some("3.12"), &[])).is_empty());
    }
}
