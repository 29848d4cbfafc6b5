//! The `lockship` command line.

mod cli;
mod commands;
mod env_vars;
mod hints;
mod reporter;
mod settings;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse_from(cli::spaced_values(std::env::args_os()));
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{}", hints::render(&err));
            ExitCode::from(2)
        }
    }
}
