//! One module per verb. Each turns its merged settings into a library's
//! options, runs it, and prints what it did.

use std::process::ExitCode;

use anyhow::Result;
use lockship_fetch::{Cache, FetchOptions, Fetcher};
use lockship_runtime::Context;

use crate::cli::{Cli, Command};
use crate::reporter::BarReporter;
use crate::settings::{Environment, GlobalSettings};

mod base;
mod bench;
mod build;
mod cache;
mod completions;
mod dockerfile;
mod libdeps;
mod output;
mod reuse;
mod summary;
mod validate;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let env = Environment::read();
    let global = GlobalSettings::resolve(&cli.global, &env);
    match cli.command {
        Command::Base(args) => base::run(args, &global, &env),
        Command::Build(args) => build::run(*args, &global, &env),
        Command::Plan(args) => build::plan_only(args, &global, &env),
        Command::Validate(args) => validate::run(args, &global),
        Command::Dockerfile(args) => dockerfile::run(args, &global, &env),
        Command::Libdeps(args) => libdeps::run(args, &global, &env),
        Command::Bench(args) => bench::run(args, &global),
        Command::Completions(args) => completions::run(args),
        Command::Cache(command) => cache::run(command, &global),
    }
}

/// The cache, the HTTP client and the progress bars a verb runs with.
struct Tools {
    cache: Cache,
    fetcher: Fetcher,
    reporter: BarReporter,
}

impl Tools {
    /// Opens the cache; progress bars unless `quiet`.
    fn open(global: &GlobalSettings, quiet: bool) -> Result<Tools> {
        Ok(Tools {
            cache: Cache::open(global.cache_dir()?)?,
            fetcher: Fetcher::new(FetchOptions::default())?,
            reporter: BarReporter::new(quiet),
        })
    }

    /// The libraries' context.
    fn ctx(&self) -> Context<'_> {
        Context {
            fetcher: &self.fetcher,
            cache: &self.cache,
            reporter: &self.reporter,
        }
    }
}
