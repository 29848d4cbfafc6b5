//! `lockship bench`: the flags become [`BenchOptions`]; the harness in
//! `lockship-bench` measures every Dockerfile strategy beside this binary's
//! `lockship build` and writes BENCH.md, bench.json and the charts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use lockship_bench::harness::{self, BenchOptions, BenchReporter};
use lockship_dockerfile::Strategy;

use crate::cli::BenchArgs;
use crate::settings::GlobalSettings;

/// The harness's progress on stderr, unless `--quiet` or `--json`.
struct Say {
    quiet: bool,
}

impl BenchReporter for Say {
    fn say(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }
}

pub fn run(args: BenchArgs, global: &GlobalSettings) -> Result<ExitCode> {
    let strategies: Vec<String> = if args.strategies.is_empty() {
        Strategy::ALL.iter().map(|s| s.name().to_string()).collect()
    } else {
        for s in &args.strategies {
            s.parse::<Strategy>()?;
        }
        args.strategies.clone()
    };
    let options = BenchOptions {
        lockship: std::env::current_exe()?,
        docker: lockship_oci::docker_available().then(docker_client),
        projects: args.projects,
        strategies,
        runs: args.runs,
        out: absolute(&args.out)?,
        index: args.index_url.or_else(|| {
            lockship_wheel::discover_index(None, &[])
                .ok()
                .map(|i| i.url().to_string())
        }),
        ca_certs: args.ca_certs,
        keep_images: args.keep_images,
    };
    let outcome = harness::run(
        &options,
        &Say {
            quiet: global.quiet || global.json,
        },
    )?;
    if global.json {
        println!("{}", serde_json::to_string_pretty(&outcome.report.records)?);
    } else if !global.quiet {
        for w in outcome.written {
            eprintln!("wrote {}", w.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Debian's client when installed (a newer client earlier on PATH may refuse
/// BuildKit without its plugin), else `docker` from PATH.
fn docker_client() -> PathBuf {
    let debian = Path::new("/usr/bin/docker");
    if debian.exists() {
        debian.to_path_buf()
    } else {
        PathBuf::from("docker")
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    })
}
