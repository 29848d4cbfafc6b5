//! Which Python the image gets: what the user and the project declare
//! (`--python`, `[tool.lockship] python`, `.python-version`, the
//! `requires-python` ranges of `pyproject.toml` and of the lock), judged by
//! [`lockship_python::select_python`] against what Debian's suites offer.
//!
//! A Debian suite's exact version comes from its signed `Packages` index
//! (index metadata only, as a plan may read); only the suites whose minor
//! version the request or the ranges allow are read. A base image's Python
//! is checked against the same declarations instead.

use lockship_project::{Lock, MarkerEnv, PackageSource, Project};
use lockship_python::{
    check_base_python, read_python_version_file, select_python, ConstraintSource, Offer, Provider,
    PyVersion, PythonChoice, PythonConstraint, PythonInputs, PythonRequest,
};
use lockship_runtime::{Context, PythonRuntime};
use lockship_wheel::{Libc, TagPriorities, WheelFilename, WheelTarget};

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
        source: None,
        default: Some(PythonRequest::parse(DEFAULT_PYTHON, "the default")?),
    })
}

/// Chooses the Python of lockship's runtime and returns the build's options
/// with that runtime.
pub fn choose(
    ctx: &Context,
    options: &BuildOptions,
    project: &Project,
    lock: &Lock,
) -> Result<(PythonChoice, BuildOptions), BuildError> {
    let inputs = python_inputs(options, project, lock)?;
    let mut offers = Vec::new();
    let mut glibc = Vec::new();
    for runtime in lockship_runtime::SUPPORTED {
        if !considered(&inputs, runtime) {
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
    Ok((choice, chosen))
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
        None => inputs
            .constraints
            .iter()
            .all(|c| c.allows_minor(major, minor)),
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

    #[test]
    fn only_the_suites_a_declaration_allows_are_read() {
        assert_eq!(suites(&inputs(None, &[])), ["bookworm"]);
        assert_eq!(suites(&inputs(None, &[">=3.11"])), ["bookworm", "trixie"]);
        assert_eq!(suites(&inputs(None, &[">=3.13"])), ["trixie"]);
        assert_eq!(suites(&inputs(Some("3.11.9"), &[])), ["bookworm"]);
        assert!(suites(&inputs(Some("3.12"), &[])).is_empty());
    }
}
