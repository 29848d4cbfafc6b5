//! `lockship base`: a distroless Python runtime from Debian packages, or a
//! stand-in for the official `python:X-slim` and `python:X` images.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use lockship_fetch::{Cache, FetchOptions, Fetcher};
use lockship_runtime::flavor::build_flavor;
use lockship_runtime::{CaCert, Context, Flavor, PythonRuntime};
use serde_json::json;

use super::build::base_options;
use super::output::{check_destinations, describe_written, human, write_all};
use crate::cli::{BaseArgs, GlobalArgs};
use crate::reporter::BarReporter;
use crate::settings;

pub fn run(args: BaseArgs, global: &GlobalArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let python = PythonRuntime::lookup(&args.python)?;
    let outputs = check_destinations(&args.out)?;
    let tag = args
        .out
        .tag
        .clone()
        .or_else(|| args.out.load.clone())
        .unwrap_or_else(|| format!("lockship/python:{}", python.version));
    let flavor: Flavor = args.flavor.parse().map_err(anyhow::Error::msg)?;
    if args.debug && flavor != Flavor::Distroless {
        bail!("`--debug` adds busybox to the distroless runtime; the {flavor} flavor already has a shell\nhint: drop `--debug`, or use `--flavor distroless`");
    }
    let mut options = base_options(python, &args.runtime)?;
    options.debug = args.debug;
    options.extra_packages = args.packages;
    for path in &args.ca_certs {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("Cannot read the CA certificate `{}`", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match CaCert::from_pem(&name, &text) {
            Some(cert) => options.ca_certs.push(cert),
            None => bail!(
                "`{}` holds no PEM certificate\nhint: `--ca-cert` takes a file with `-----BEGIN CERTIFICATE-----` blocks, like those in /usr/local/share/ca-certificates",
                path.display()
            ),
        }
    }

    let cache = Cache::open(settings::cache_dir(global.cache_dir.clone())?)?;
    let fetcher = Fetcher::new(FetchOptions::default())?;
    let reporter = BarReporter::new(global.quiet || global.json);
    let ctx = Context {
        fetcher: &fetcher,
        cache: &cache,
        reporter: &reporter,
    };
    let base = build_flavor(&ctx, &options, flavor)?;
    let written = write_all(std::slice::from_ref(&base.image), &outputs, &args.out, &tag)?;

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
    } else if !global.quiet {
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
