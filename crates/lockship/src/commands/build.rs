//! `lockship build` and `lockship plan`: a project and its lockfile become an image (or its plan).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Result};
use lockship_build::{build, plan, BuildOptions};
use lockship_fetch::{Cache, FetchOptions, Fetcher};
use lockship_layer::Compression;
use lockship_oci::Platform;
use lockship_project::{LockSelection, Selection};
use lockship_runtime::{BaseOptions, Context, PythonRuntime};
use serde_json::json;

use super::output::{check_destinations, describe_written, human, write_all};
use crate::cli::{BuildArgs, CompressionArg, GlobalArgs, RuntimeArgs};
use crate::reporter::BarReporter;
use crate::settings;

/// Base options from the shared runtime flags.
/// The platforms of `--platform` (a comma-separated list), else the host's.
pub fn platforms(runtime: &RuntimeArgs) -> Result<Vec<Platform>> {
    match &runtime.platform {
        Some(list) => {
            let mut out: Vec<Platform> = Vec::new();
            for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let p: Platform = p.parse()?;
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            if out.is_empty() {
                bail!("`--platform` names no platform\nhint: pass e.g. `--platform linux/amd64,linux/arm64`");
            }
            Ok(out)
        }
        None => Ok(vec![Platform::host()]),
    }
}

pub fn base_options(python: PythonRuntime, runtime: &RuntimeArgs) -> Result<BaseOptions> {
    let platform = platforms(runtime)?.remove(0);
    let mut options = BaseOptions::new(
        python,
        platform,
        settings::debian_mirror(runtime.debian_mirror.clone())?,
    );
    options.keyring = settings::keyring(runtime.keyring.clone());
    options.compression = match runtime.compression {
        CompressionArg::Gzip => Compression::Gzip,
        CompressionArg::Zstd => Compression::Zstd,
    };
    options.epoch = settings::epoch()?;
    options.compile = !runtime.no_compile;
    Ok(options)
}

pub fn run(args: BuildArgs, global: &GlobalArgs, plan_only: bool) -> Result<ExitCode> {
    let started = Instant::now();
    let outputs = if plan_only {
        Vec::new()
    } else {
        check_destinations(&args.out)?
    };
    let platforms = platforms(&args.runtime)?;
    // The project may name its Python in `[tool.lockship] python`.
    let project = lockship_project::Project::load(&args.project)?;
    let asked = args
        .python
        .clone()
        .or_else(|| project.lockship.python.clone());
    let base_image = args
        .base_image
        .clone()
        .or_else(|| project.lockship.base_image.clone())
        .map(|r| lockship_build::foreign::BaseImageSource::parse(&r).map_err(anyhow::Error::from))
        .transpose()?;
    let python = match (&base_image, &asked) {
        // A base image brings its own Python: any `--python` must match it,
        // and the Debian steps use its suite's.
        (Some(_), _) => asked
            .as_deref()
            .and_then(|v| PythonRuntime::lookup(v).ok())
            .unwrap_or_else(|| lockship_runtime::SUPPORTED[0].clone()),
        (None, asked) => PythonRuntime::lookup(asked.as_deref().unwrap_or("3.11"))?,
    };
    let mut options = BuildOptions::new(args.project.clone(), base_options(python, &args.runtime)?);
    options.python_request = asked;
    options.allowed_file_roots = args.allow_file_urls.clone();
    options.compile = !args.runtime.no_compile;
    options.index_url = args.index_url.clone();
    options.user = args.user.clone();
    options.large_wheel_bytes = args.large_wheel_bytes;
    options.max_wheel_layers = args.max_wheel_layers;
    for p in &args.build_packages {
        match p.trim() {
            "auto" => options.auto_build_packages = true,
            "" => {}
            name => options.build_packages.push(name.to_string()),
        }
    }
    options.lock = match &args.lockfile {
        Some(path) => LockSelection::Path(path.clone()),
        None => LockSelection::Auto,
    };
    options.selection = Selection {
        groups: args.with.iter().cloned().collect(),
        all_groups: args.all_groups,
        extras: args.extras.iter().cloned().collect(),
    };

    let cache = Cache::open(settings::cache_dir(global.cache_dir.clone())?)?;
    let fetcher = Fetcher::new(FetchOptions::default())?;
    let reporter = BarReporter::new(global.quiet || global.json || plan_only);
    let ctx = Context {
        fetcher: &fetcher,
        cache: &cache,
        reporter: &reporter,
    };

    let registry = match &base_image {
        Some(lockship_build::foreign::BaseImageSource::Registry(_)) => Some(
            super::output::registry_client(&args.out)?.with_reporter(std::sync::Arc::new(
                BarReporter::new(global.quiet || global.json || plan_only),
            )),
        ),
        _ => None,
    };
    let pull = |platform: &Platform| -> Result<Option<lockship_build::foreign::PulledBase>> {
        match &base_image {
            None => Ok(None),
            Some(source) => Ok(Some(lockship_build::foreign::pull(
                &ctx,
                source,
                platform,
                registry.as_ref(),
            )?)),
        }
    };
    if plan_only {
        options.base_image = pull(&options.base.platform)?;
        let plan = plan(&ctx, &options)?;
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(ExitCode::SUCCESS);
    }
    // One image per platform: Debian packages and wheels chosen for each,
    // no emulation. The first is the one summarised below.
    let mut all = Vec::new();
    for platform in &platforms {
        let mut options = options.clone();
        options.base.platform = platform.clone();
        options.base_image = pull(platform)?;
        all.push(build(&ctx, &options)?);
    }
    check_aligned(&all)?;
    let images: Vec<lockship_oci::Image> = all.iter().map(|b| b.image.clone()).collect();
    let built = &all[0];
    let tag = args
        .out
        .tag
        .clone()
        .or_else(|| args.out.load.clone())
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
        });
    // Like ko and crane: layers of a base in the target registry are mounted
    // from the base's repository, never uploaded again.
    let mut out_args = args.out.clone();
    if let Some(lockship_build::foreign::BaseImageSource::Registry(base)) = &base_image {
        let same_registry = args.out.push.iter().any(|p| {
            lockship_registry::Reference::parse(p).is_ok_and(|r| r.registry == base.registry)
        });
        if same_registry && !out_args.mount_from.contains(&base.repository) {
            out_args.mount_from.push(base.repository.clone());
        }
    }
    let written = write_all(&images, &outputs, &out_args, &tag)?;
    let compressed: u64 = built.image.layers.iter().map(|l| l.size).sum();
    let uncompressed: u64 = built.image.layers.iter().map(|l| l.uncompressed_size).sum();
    let elapsed = started.elapsed().as_secs_f64();
    if global.json {
        let summary = json!({
            "digest": built.image.digest(),
            "platforms": all.iter().map(|b| json!({"platform": b.plan.base.platform, "digest": b.image.digest(), "compressed_bytes": b.image.layers.iter().map(|l| l.size).sum::<u64>(), "wheels": b.plan.wheels.iter().map(|w| w.filename.clone()).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "tag": tag,
            "project": built.plan.project,
            "platform": built.plan.base.platform,
            "python": built.plan.python_full_version,
            "base_image": built.plan.base_image,
            "warnings": built.plan.warnings,
            "lockfile": built.plan.lock_kind,
            "compressed_bytes": compressed,
            "uncompressed_bytes": uncompressed,
            "layers": built.image.layers.iter().map(|l| json!({"digest": l.digest, "size": l.size, "uncompressed_size": l.uncompressed_size})).collect::<Vec<_>>(),
            "cached": built.cached.iter().map(|(n, c)| json!({"layer": n, "cached": c})).collect::<Vec<_>>(),
            "wheels": built.plan.wheels.iter().map(|w| json!({"name": w.name, "version": w.version, "filename": w.filename})).collect::<Vec<_>>(),
            "libdeps": built.libdeps,
            "system_packages": built.system_packages.iter().map(|p| format!("{}={}", p.name, p.version)).collect::<Vec<_>>(),
            "built_wheels": built.built_wheels.iter().map(|b| json!({"package": b.package, "version": b.version, "sdist": b.sdist, "wheel": b.filename, "sha256": b.sha256, "cached": b.cached, "build_packages": b.build_packages, "build_seconds": b.build_seconds})).collect::<Vec<_>>(),
            "seconds": elapsed,
            "outputs": written,
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if !global.quiet {
        let rebuilt: Vec<&str> = built
            .cached
            .iter()
            .filter(|(_, c)| !c)
            .map(|(n, _)| n.as_str())
            .collect();
        eprintln!(
            "Built {} ({} wheels from {}, Python {}, {}): {} compressed, {} uncompressed, in {:.1}s; rebuilt layers: {}",
            built.plan.project,
            built.plan.wheels.len(),
            built.plan.lock_kind,
            built.plan.python_full_version,
            built.plan.base.platform,
            human(compressed),
            human(uncompressed),
            elapsed,
            if rebuilt.is_empty() { "none".to_string() } else { rebuilt.join(", ") }
        );
        if let Some(f) = &built.plan.base_image {
            eprintln!(
                "  on {} ({}, Python {} at {}, {})",
                f.source, f.os, f.python_full_version, f.python, f.libc
            );
        }
        for w in &built.plan.warnings {
            eprintln!("warning: {w}");
        }
        for b in &built.built_wheels {
            eprintln!(
                "  built {} from {} ({}, sha256 {})",
                b.filename,
                b.sdist,
                if b.cached {
                    "cached".to_string()
                } else {
                    format!("{:.1}s", b.build_seconds)
                },
                &b.sha256[..16]
            );
        }
        for (package, libs) in &built.libdeps.packages {
            let sonames: Vec<&str> = libs.iter().map(|l| l.soname.as_str()).collect();
            eprintln!("  libdeps: {package} ({})", sonames.join(", "));
        }
        if !built.system_packages.is_empty() {
            eprintln!(
                "  system libraries layer: {} packages ({})",
                built.system_packages.len(),
                built
                    .system_packages
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        eprintln!("  digest {}", built.image.digest());
        for b in all.iter().skip(1) {
            eprintln!(
                "  also {}: {} compressed, digest {}",
                b.plan.base.platform,
                human(b.image.layers.iter().map(|l| l.size).sum()),
                b.image.digest()
            );
        }
        for w in &written {
            eprintln!("  {}", describe_written(w));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Images of one index must hold the same Debian package versions and the
/// same Python package versions on every platform.
fn check_aligned(all: &[lockship_build::BuiltImage]) -> Result<()> {
    let Some(first) = all.first() else {
        return Ok(());
    };
    let debs = |b: &lockship_build::BuiltImage| -> Vec<(String, String)> {
        b.plan
            .base
            .packages
            .iter()
            .filter(|p| p.architecture != "all")
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect()
    };
    let wheels = |b: &lockship_build::BuiltImage| -> Vec<(String, String)> {
        b.plan
            .wheels
            .iter()
            .map(|w| (w.name.clone(), w.version.clone()))
            .collect()
    };
    for other in &all[1..] {
        for (name, version) in debs(other) {
            if let Some((_, v)) = debs(first).into_iter().find(|(n, _)| *n == name) {
                if v != version {
                    bail!(
                        "Debian package `{name}` is {v} for {} but {version} for {}\nhint: the mirror is being updated; retry, or pin a snapshot mirror with `--debian-mirror`",
                        first.plan.base.platform,
                        other.plan.base.platform
                    );
                }
            }
        }
        if wheels(first) != wheels(other) {
            bail!(
                "The Python packages differ between {} and {}\nhint: this is a bug in lock selection; report it with `lockship plan` of both platforms",
                first.plan.base.platform,
                other.plan.base.platform
            );
        }
    }
    Ok(())
}
