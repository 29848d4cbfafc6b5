//! `lockship build` and `lockship plan`: a project and its lockfile become an image (or its plan).
//!
//! The merged [`BuildSettings`] become [`BuildOptions`]; the pipeline runs
//! once per platform; the images go to every destination; the
//! [`summary`](super::summary) is printed.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use lockship_build::base::{self as foreign, BaseImageSource, PulledBase};
use lockship_build::{build_platforms, plan, BuildOptions, BuiltImage};
use lockship_oci::Platform;
use lockship_runtime::Context;

use super::output::{check_destinations, registry_client, write_all};
use super::{summary, Tools};
use crate::cli::{BuildArgs, OutputArgs};
use crate::reporter::BarReporter;
use crate::settings::{BuildSettings, Environment, GlobalSettings};

pub fn run(
    args: BuildArgs,
    global: &GlobalSettings,
    env: &Environment,
    plan_only: bool,
) -> Result<ExitCode> {
    let started = Instant::now();
    let outputs = if plan_only {
        Vec::new()
    } else {
        check_destinations(&args.out)?
    };
    let settings = BuildSettings::resolve(&args, env)?;
    let options = build_options(&settings)?;
    let quiet = global.quiet || global.json || plan_only;
    let tools = Tools::open(global, quiet)?;
    let ctx = tools.ctx();
    let base = BaseImage::new(&settings, &args.out, quiet)?;
    if plan_only {
        let mut options = options;
        options.base_image = base.pull(&ctx, &options.base.platform)?;
        let plan = plan(&ctx, &options)?;
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(ExitCode::SUCCESS);
    }
    // One image per platform: Debian packages and wheels chosen for each,
    // no emulation. The first is the one summarised.
    let all = build_platforms(&ctx, &options, &settings.runtime.platforms, |platform| {
        base.pull(&ctx, platform)
    })?;
    let images: Vec<lockship_oci::Image> = all.iter().map(|b| b.image.clone()).collect();
    let tag = image_tag(&args.out, &all[0]);
    let written = write_all(&images, &outputs, &base.mount_from(&args.out), &tag)?;
    let summary = summary::of(&all, &tag, started.elapsed().as_secs_f64(), written);
    if global.json {
        summary::print_json(&summary)?;
    } else if !global.quiet {
        summary::print_human(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

/// The pipeline's options, from the merged settings (the base image is
/// pulled per platform).
fn build_options(settings: &BuildSettings) -> Result<BuildOptions> {
    let base = settings.runtime.base_options(settings.python.clone())?;
    let mut options = BuildOptions::new(settings.project_dir.clone(), base);
    options.python_request = settings.python_request.clone();
    options.allowed_file_roots = settings.allowed_file_roots.clone();
    options.compile = settings.runtime.compile;
    options.index_url = settings.index_url.clone();
    options.user = settings.user.clone();
    options.large_wheel_bytes = settings.large_wheel_bytes;
    options.max_wheel_layers = settings.max_wheel_layers;
    options.build_packages = settings.build_packages.clone();
    options.auto_build_packages = settings.auto_build_packages;
    options.lock = settings.lock.clone();
    options.package = settings.package.clone();
    options.selection = settings.selection.clone();
    options.strip = settings.strip;
    Ok(options)
}

/// `--tag`, else the `--load` name, else `PROJECT:VERSION` (`latest` without one).
fn image_tag(out: &OutputArgs, built: &BuiltImage) -> String {
    out.tag
        .clone()
        .or_else(|| out.load.clone())
        .unwrap_or_else(|| {
            format!(
                "{}:{}",
                built.plan.project,
                built
                    .plan
                    .version
                    .clone()
                    .unwrap_or_else(|| "latest".into())
            )
        })
}

/// `--base-image`, and the registry client that pulls it from a registry.
struct BaseImage<'a> {
    source: Option<&'a BaseImageSource>,
    registry: Option<lockship_registry::Client>,
}

impl<'a> BaseImage<'a> {
    fn new(settings: &'a BuildSettings, out: &OutputArgs, quiet: bool) -> Result<BaseImage<'a>> {
        let source = settings.base_image.as_ref();
        let registry = match source {
            Some(BaseImageSource::Registry(_)) => Some(
                registry_client(out)?.with_reporter(std::sync::Arc::new(BarReporter::new(quiet))),
            ),
            _ => None,
        };
        Ok(BaseImage { source, registry })
    }

    /// The base image for `platform`, its blobs in the cache.
    fn pull(&self, ctx: &Context, platform: &Platform) -> Result<Option<PulledBase>> {
        match self.source {
            None => Ok(None),
            Some(source) => Ok(Some(foreign::pull(
                ctx,
                source,
                platform,
                self.registry.as_ref(),
            )?)),
        }
    }

    /// The output flags, with the base's repository to mount layers from.
    /// Like ko and crane: layers of a base in the target registry are
    /// mounted from the base's repository, never uploaded again.
    fn mount_from(&self, out: &OutputArgs) -> OutputArgs {
        let mut out = out.clone();
        if let Some(BaseImageSource::Registry(base)) = self.source {
            let same_registry = out.push.iter().any(|p| {
                lockship_registry::Reference::parse(p).is_ok_and(|r| r.registry == base.registry)
            });
            if same_registry && !out.mount_from.contains(&base.repository) {
                out.mount_from.push(base.repository.clone());
            }
        }
        out
    }
}
