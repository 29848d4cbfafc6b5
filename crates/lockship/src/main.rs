//! The `lockship` command line.

mod cli;
mod commands;
mod env_vars;
mod reporter;
mod settings;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            print_error(&err);
            ExitCode::from(2)
        }
    }
}

/// Prints the error, its causes, and `hint:` lines for the user.
fn print_error(err: &anyhow::Error) {
    let mut message = format!("error: {err}");
    for cause in err.chain().skip(1) {
        message.push_str(&format!("\n  caused by: {cause}"));
    }
    for hint in hints(err) {
        if !message.contains(&format!("hint: {hint}")) {
            message.push_str(&format!("\nhint: {hint}"));
        }
    }
    eprintln!("{message}");
}

/// Hints from every typed error in the chain.
fn hints(err: &anyhow::Error) -> Vec<String> {
    let mut out = Vec::new();
    for cause in err.chain() {
        let hint = if let Some(e) = cause.downcast_ref::<lockship_runtime::RuntimeError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<lockship_debian::DebianError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<lockship_oci::OciError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<lockship_build::BuildError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<lockship_project::ProjectError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<lockship_wheel::WheelError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<lockship_sdist::SdistError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<lockship_elf::ElfError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<lockship_registry::RegistryError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<lockship_dockerfile::DockerfileError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<lockship_bench::BenchError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<lockship_fetch::FetchError>() {
            fetch_hint(e)
        } else if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            io_hint(e)
        } else {
            None
        };
        if let Some(h) = hint {
            if !out.contains(&h) {
                out.push(h);
            }
        }
    }
    out
}

fn io_hint(e: &std::io::Error) -> Option<String> {
    match e.kind() {
        std::io::ErrorKind::StorageFull => Some(
            "the disk is full: free some space, or write the output (or `--cache-dir`) elsewhere"
                .into(),
        ),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            Some("choose a path you can write to".into())
        }
        _ => None,
    }
}

fn fetch_hint(e: &lockship_fetch::FetchError) -> Option<String> {
    use lockship_fetch::FetchError::*;
    match e {
        Unreachable { .. } => Some(
            "check the network and the mirror URL (`--debian-mirror` or `LOCKSHIP_DEBIAN_MIRROR`); behind a TLS proxy, set `SSL_CERT_FILE` to its CA bundle".into(),
        ),
        HashMismatch { .. } => Some(
            "the server sent other bytes than its signed index lists; nothing was cached, so retry, or use another mirror".into(),
        ),
        CacheDir { .. } => Some("pass a writable `--cache-dir` or set `LOCKSHIP_CACHE_DIR`".into()),
        Status { status: 404, .. } => Some("check the mirror URL and the suite name".into()),
        _ => None,
    }
}
