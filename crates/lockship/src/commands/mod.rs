//! One module per verb.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};

mod base;
mod bench;
mod build;
mod dockerfile;
mod libdeps;
mod output;
mod validate;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Base(args) => base::run(args, &cli.global),
        Command::Build(args) => build::run(args, &cli.global, false),
        Command::Plan(args) => build::run(args, &cli.global, true),
        Command::Validate(args) => validate::run(args, &cli.global),
        Command::Dockerfile(args) => dockerfile::run(args, &cli.global),
        Command::Libdeps(args) => libdeps::run(args, &cli.global),
        Command::Bench(args) => bench::run(args, &cli.global),
    }
}
