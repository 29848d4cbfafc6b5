//! `lockship base`: a distroless Python runtime from Debian packages, or a
//! stand-in for the official `python:X-slim` and `python:X` images.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use lockship_runtime::{build_flavor, CaCert, Flavor, PythonRuntime};
use serde_json::json;

use super::output::{describe_written, human, write_all, Destinations};
use super::Tools;
use crate::cli::BaseArgs;
use crate::settings::{Environment, GlobalSettings, RuntimeSettings};

pub fn run(args: BaseArgs, global: &GlobalSettings, env: &Environment) -> Result<ExitCode> {
    let started = Instant::now();
    let python = PythonRuntime::lookup(&args.python)?;
    let dest = Destinations::check(&args.out, env.repo.as_deref())?;
    let default = format!("lockship/python:{}", python.version);
    let tag = dest.names(&default).remove(0);
    let flavor: Flavor = args.flavor.parse().map_err(anyhow::Error::msg)?;
    if args.debug && flavor != Flavor::Distroless {
        bail!("`--debug` adds busybox to the distroless runtime; the {flavor} flavor already has a shell\nhint: drop `--debug`, or use `--flavor distroless`");
    }
    let mut options = RuntimeSettings::resolve(&args.runtime, env)?.base_options(python)?;
    options.debug = args.debug;
    options.extra_packages = args.packages;
    options.ca_certs = read_ca_certs(&args.ca_certs)?;

    let tools = Tools::open(global, global.quiet || global.json)?;
    let base = build_flavor(&tools.ctx(), &options, flavor)?;
    let delivered = write_all(
        std::slice::from_ref(&base.image),
        &dest,
        &args.registry,
        &default,
    )?;
    let written = delivered.written;

    let compressed: u64 = base.image.layers.iter().map(|l| l.size).sum();
    let uncompressed: u64 = base.image.layers.iter().map(|l| l.uncompressed_size).sum();
    let elapsed = started.elapsed().as_secs_f64();
    if global.json {
        let summary = json!({
            "digest": base.image.digest(),
            "tag": tag,
            "platform": base.plan.platform,
            "flavor": flavor.name(),
            "python": base.plan.python.version,
            "suite": base.plan.python.suite,
            "compressed_bytes": compressed,
            "uncompressed_bytes": uncompressed,
            "layers": base.image.layers.len(),
            "layer_cached": base.layer_cached,
            "seconds": elapsed,
            "packages": base.plan.packages.iter().map(|p| json!({"name": p.name, "version": p.version})).collect::<Vec<_>>(),
            "skipped_dependencies": base.plan.skipped,
            "report": base.report,
            "outputs": written,
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if global.quiet {
        println!("{}", delivered.line);
    } else {
        eprintln!(
            "Built {}Python {} ({}, {}): {} packages, {} compressed, {} uncompressed, in {:.1}s{}",
            match flavor.official_tag(&base.plan.python) {
                Some(official) => format!("a stand-in for {official}: "),
                None => String::new(),
            },
            base.plan.python.version,
            base.plan.python.suite,
            base.plan.platform,
            base.plan.packages.len(),
            human(compressed),
            human(uncompressed),
            elapsed,
            if base.layer_cached {
                " (layer from cache)"
            } else {
                ""
            }
        );
        if let Some(why) = &base.report.compile_skipped {
            eprintln!("warning: no bytecode compiled: {why}");
        }
        eprintln!("  digest {}", base.image.digest());
        for w in &written {
            eprintln!("  {}", describe_written(w));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--ca-cert` files: each holds PEM certificates.
fn read_ca_certs(paths: &[PathBuf]) -> Result<Vec<CaCert>> {
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("Cannot read the CA certificate `{}`", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match CaCert::from_pem(&name, &text) {
            Some(cert) => out.push(cert),
            None => bail!(
                "`{}` holds no PEM certificate\nhint: `--ca-cert` takes a file with `-----BEGIN CERTIFICATE-----` blocks, like those in /usr/local/share/ca-certificates",
                path.display()
            ),
        }
    }
    Ok(out)
}
