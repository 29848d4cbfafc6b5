//! Sdists → wheels: each sdist of the plan built in the sandboxed build
//! environment of the base's suite (cached by sdist hash). Build packages
//! are found without help unless `--build-packages none`: the table of
//! well-known packages, the sdist's metadata, then the suite's Contents
//! index naming the Debian package each failed build missed.

use std::path::PathBuf;

use lockship_runtime::Context;
use lockship_sdist::BuiltWheel;

use crate::base::Base;
use crate::options::{sandbox_limits, BuildOptions};
use crate::{BuildError, ImagePlan};

/// How the plan's sdists are built (and so the key of their cached wheels):
/// the build packages of the plan and the options, the sandbox's limits,
/// the indexes and the build environment.
pub(crate) fn sdist_options(
    options: &BuildOptions,
    base: &Base,
    plan: &ImagePlan,
) -> lockship_sdist::SdistOptions {
    let mut packages = plan.build_packages.clone();
    packages.extend(options.build_packages.iter().cloned());
    packages.sort();
    packages.dedup();
    let mut sdist_options =
        lockship_sdist::SdistOptions::new(lockship_runtime::buildenv::BuildEnvOptions {
            base: base.options.clone(),
            packages,
        });
    sdist_options.auto_packages = options.auto_build_packages;
    sdist_options.limits = sandbox_limits(&plan.sandbox_limits, sdist_options.limits);
    sdist_options.index_urls = plan.index_urls.clone();
    sdist_options.env_vars = plan
        .build_env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    sdist_options
}

/// Builds every sdist of the plan into a wheel (or takes it from the cache),
/// in a build environment of the base's suite.
pub(crate) fn build_sdists(
    ctx: &Context,
    options: &BuildOptions,
    base: &Base,
    plan: &ImagePlan,
    downloaded: &[PathBuf],
) -> Result<Vec<BuiltWheel>, BuildError> {
    let mut out = Vec::new();
    if let Some(pin) = plan.wheels.iter().find(|p| p.from_sdist) {
        base.check_sdist(pin)?;
    }
    let sdist_options = sdist_options(options, base, plan);
    let lookup = lockship_sdist::ContentsLookup::new(ctx, &base.options);
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
        out.push(lockship_sdist::build_wheel(
            ctx,
            &sdist_options,
            &request,
            &lookup,
        )?);
    }
    Ok(out)
}
