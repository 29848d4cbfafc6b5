//! The dependencies layer: the venv with every third-party wheel that has no
//! layer of its own, and the git and path dependencies, bytecode compiled.

use std::path::Path;

use lockship_wheel::{InstallOptions, StripSummary};
use serde::Serialize;

use super::{NamedWheel, Stage, VenvKey};
use crate::git::{self, GitPin};
use crate::BuildError;

/// A wheel as a key names it.
#[derive(Debug, Serialize)]
pub(crate) struct WheelKey<'a> {
    pub filename: &'a str,
    pub sha256: &'a str,
}

/// A git or path dependency as a key names it: what was packed.
#[derive(Debug, Serialize)]
struct GitKey<'a> {
    /// The pin as the plan shows it (url, commit, subdirectory).
    pin: &'a GitPin,
    /// Its commit, or the hash of a path dependency's files.
    content: String,
}

/// The key of the dependencies layer.
#[derive(Debug, Serialize)]
struct DependenciesKey<'a> {
    kind: &'static str,
    venv: VenvKey<'a>,
    wheels: Vec<WheelKey<'a>>,
    git: Vec<GitKey<'a>>,
}

/// Installs `wheels` and the packed `pins` into the venv of the staging tree
/// `root` (its skeleton first, when `skeleton`), then compiles its bytecode.
/// Git and path dependencies are packed into `scratch`. Returns what
/// stripping the wheels' own shared objects saved.
pub(crate) fn install(
    stage: &Stage,
    root: &Path,
    wheels: &[&Path],
    pins: &[GitPin],
    skeleton: bool,
    scratch: &Path,
) -> Result<StripSummary, BuildError> {
    let venv = stage.venv_layout(root);
    let options = InstallOptions { strip: stage.strip };
    let mut stripped = StripSummary::default();
    let mut add = |s: StripSummary| {
        stripped.files += s.files;
        stripped.bytes_before += s.bytes_before;
        stripped.bytes_after += s.bytes_after;
    };
    if skeleton {
        lockship_wheel::write_venv_skeleton(&venv)?;
    }
    for wheel in wheels {
        add(lockship_wheel::install_wheel_with(wheel, &venv, &options)?.stripped);
    }
    for pin in pins {
        let wheel = git::pack(stage.ctx.cache, pin, scratch)?;
        add(lockship_wheel::install_wheel_with(&wheel, &venv, &options)?.stripped);
    }
    if stripped.files > 0 {
        stage.ctx.reporter.phase(&format!(
            "stripped {} shared objects, {:.1} MB saved",
            stripped.files,
            stripped.saved() as f64 / 1e6
        ));
    }
    if stage.compile {
        stage.ctx.reporter.phase("compiling bytecode");
        stage.compile(root, &venv.site_packages())?;
    }
    Ok(stripped)
}

/// The dependencies layer: `rest` (the wheels without a layer of their own)
/// and the plan's git and path dependencies. Returns it and whether it was cached.
pub(crate) fn build_layer(
    stage: &Stage,
    rest: &[&NamedWheel],
    scratch: &Path,
) -> Result<(lockship_layer::Layer, bool), BuildError> {
    let plan = stage.plan;
    let mut git_keys = Vec::new();
    for pin in &plan.git {
        git_keys.push(GitKey {
            pin,
            content: git::content_key(pin)?,
        });
    }
    let key = DependenciesKey {
        kind: "lockship-venv-v4",
        venv: stage.venv_key(),
        wheels: rest
            .iter()
            .map(|w| WheelKey {
                filename: &w.pin.filename,
                sha256: &w.sha256,
            })
            .collect(),
        git: git_keys,
    };
    stage.venv_layer(&key, |root| {
        stage.ctx.reporter.phase(&format!(
            "installing {} wheels",
            rest.len() + plan.git.len()
        ));
        let wheels: Vec<&Path> = rest.iter().map(|w| w.path.as_path()).collect();
        let stripped = install(stage, root, &wheels, &plan.git, true, scratch)?;
        stage.ctx.reporter.phase("writing the dependencies layer");
        Ok(stripped)
    })
}
