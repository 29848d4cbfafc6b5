//! `lockship build` and `lockship plan`: a project and its lockfile become an image (or its plan).
//!
//! The merged [`BuildSettings`] become [`BuildOptions`]; the pipeline runs
//! once per platform; the images go to every destination; the
//! [`summary`](super::summary) is printed.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Result};
use lockship_build::base::{self as foreign, BaseImageSource, PulledBase};
use lockship_build::{build_platforms, plan, BuildOptions, BuiltImage, ImageMetadata};
use lockship_oci::Platform;
use lockship_runtime::Context;

use super::output::{registry_client, write_all, Destinations};
use super::{reuse, summary, Tools};
use crate::cli::{BuildArgs, BuildCommandArgs, MetadataArgs, RegistryArgs};
use crate::reporter::BarReporter;
use crate::settings::{BuildSettings, Environment, GlobalSettings};

/// `lockship build`: the image, to every destination.
pub fn run(args: BuildCommandArgs, global: &GlobalSettings, env: &Environment) -> Result<ExitCode> {
    let started = Instant::now();
    let inputs = &args.inputs;
    let named = (args.out.load.is_some() || !args.out.push.is_empty())
        .then(|| inputs.project.to_str())
        .flatten()
        .filter(|p| p.contains(':') && !inputs.project.exists());
    if let Some(name) = named {
        bail!("`{name}` is not a project directory: `--load` and `--push` take no value after a space\nhint: name the image with `-t {name} --load` (or `--push`), as with `docker buildx build`");
    }
    let settings = BuildSettings::resolve(inputs, env)?;
    let mut dest = Destinations::check(&args.out, settings.repo.as_deref())?;
    let mut options = build_options(&settings)?;
    options.metadata = metadata(&args.metadata)?;
    let quiet = global.quiet || global.json;
    let tools = Tools::open(global, quiet)?;
    let ctx = tools.ctx();
    let base = BaseImage::new(&settings, &inputs.registry, &dest.push_registries(), quiet)?;
    // No work when nothing changed: the last build of the same inputs.
    let key = reuse::key(&settings, &options);
    if let Some(hit) = reuse::lookup(&ctx, key.as_deref(), args.refresh) {
        base.mount_from(&mut dest);
        let default = &hit.extra.default_name;
        let delivered = write_all(&hit.images, &dest, &inputs.registry, default)?;
        let tag = dest.names(default).remove(0);
        let seconds = started.elapsed().as_secs_f64();
        let summary = reuse::summary(hit.extra, &tag, seconds, delivered.written);
        if !quiet {
            eprintln!("nothing changed since the last build of these inputs: reused it (`--refresh` builds again)");
        }
        return print_summary(global, &summary, &delivered.line);
    }
    // One image per platform: Debian packages and wheels chosen for each,
    // no emulation. The first is the one summarised.
    let all = build_platforms(&ctx, &options, &settings.runtime.platforms, |platform| {
        base.pull(&ctx, platform)
    })?;
    let images: Vec<lockship_oci::Image> = all.iter().map(|b| b.image.clone()).collect();
    let default = default_name(&all[0]);
    base.mount_from(&mut dest);
    let delivered = write_all(&images, &dest, &inputs.registry, &default)?;
    let tag = dest.names(&default).remove(0);
    let summary = summary::of(
        &all,
        &tag,
        started.elapsed().as_secs_f64(),
        delivered.written,
    );
    reuse::record(&ctx, key.as_deref(), &images, &default, &summary, quiet);
    print_summary(global, &summary, &delivered.line)
}

/// The summary as JSON, one line (`--quiet`), or lines for a person.
fn print_summary(
    global: &GlobalSettings,
    summary: &lockship_bench::BuildSummary,
    line: &str,
) -> Result<ExitCode> {
    if global.json {
        summary::print_json(summary)?;
    } else if global.quiet {
        println!("{line}");
    } else {
        summary::print_human(summary);
    }
    Ok(ExitCode::SUCCESS)
}

/// `lockship plan`: the ImagePlan as JSON, nothing downloaded but a base image's blobs.
pub fn plan_only(args: BuildArgs, global: &GlobalSettings, env: &Environment) -> Result<ExitCode> {
    let settings = BuildSettings::resolve(&args, env)?;
    let mut options = build_options(&settings)?;
    let tools = Tools::open(global, true)?;
    let ctx = tools.ctx();
    let base = BaseImage::new(&settings, &args.registry, &[], true)?;
    options.base_image = base.pull(&ctx, &options.base.platform)?;
    let plan = plan(&ctx, &options)?;
    println!("{}", serde_json::to_string_pretty(&plan)?);
    Ok(ExitCode::SUCCESS)
}

/// `--label`, `--annotation`, `--source`, `--revision`.
fn metadata(args: &MetadataArgs) -> Result<ImageMetadata> {
    Ok(ImageMetadata {
        source: args.source.clone(),
        revision: args.revision.clone(),
        labels: key_values("--label", &args.labels)?,
        annotations: key_values("--annotation", &args.annotations)?,
        ..ImageMetadata::default()
    })
}

/// `KEY=VALUE` pairs (the value may be empty; the key may not).
fn key_values(flag: &str, pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                out.insert(key.trim().to_string(), value.to_string());
            }
            _ => bail!("`{flag} {pair}` is not KEY=VALUE\nhint: write e.g. `{flag} org.opencontainers.image.vendor=Example`"),
        }
    }
    Ok(out)
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

/// The image's name when no tag names it: `PROJECT:VERSION` (`latest` without one).
fn default_name(built: &BuiltImage) -> String {
    format!(
        "{}:{}",
        built.plan.project,
        built.plan.version.as_deref().unwrap_or("latest")
    )
}

/// `--base-image`, and the registry client that pulls it from a registry.
struct BaseImage<'a> {
    source: Option<&'a BaseImageSource>,
    registry: Option<lockship_registry::Client>,
}

impl<'a> BaseImage<'a> {
    fn new(
        settings: &'a BuildSettings,
        registry: &RegistryArgs,
        pushed: &[String],
        quiet: bool,
    ) -> Result<BaseImage<'a>> {
        let source = settings.base_image.as_ref();
        let registry = match source {
            Some(BaseImageSource::Registry(_)) => Some(
                registry_client(registry, pushed)?
                    .with_reporter(std::sync::Arc::new(BarReporter::new(quiet))),
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

    /// The base's repository to mount layers from. Like ko and crane: layers
    /// of a base in the target registry are mounted from the base's
    /// repository, never uploaded again.
    fn mount_from(&self, dest: &mut Destinations) {
        if let Some(BaseImageSource::Registry(base)) = self.source {
            let same_registry = dest.push_registries().contains(&base.registry);
            if same_registry && !dest.mount_from.contains(&base.repository) {
                dest.mount_from.push(base.repository.clone());
            }
        }
    }
}
