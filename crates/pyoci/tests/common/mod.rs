//! Shared helpers for the command-line and end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Whether this run is CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Skips the test (returns false) with a visible message, or fails it under CI.
pub fn require(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if in_ci() {
        panic!("{what} is required under CI=true, but it is not available");
    }
    eprintln!("skipping: {what} is not available");
    false
}

/// A Docker engine answers on its socket.
pub fn docker_available() -> bool {
    pyoci_oci::docker_available()
}

/// The Debian client to drive the engine: Debian's own, which matches it.
pub fn docker() -> Command {
    let debian = Path::new("/usr/bin/docker");
    Command::new(if debian.exists() {
        debian.as_os_str()
    } else {
        "docker".as_ref()
    })
}

/// The Debian mirror from the host's apt sources answers.
pub fn mirror_available() -> bool {
    let Ok(Some(url)) = pyoci_debian::mirror_from_apt_sources(Path::new("/")) else {
        return false;
    };
    let fetcher = pyoci_fetch::Fetcher::new(pyoci_fetch::FetchOptions {
        attempts: 1,
        ..Default::default()
    })
    .unwrap();
    let probe = url::Url::parse(&format!(
        "{}/dists/bookworm/Release",
        url.as_str().trim_end_matches('/')
    ))
    .unwrap();
    fetcher.get_bytes(&probe).is_ok()
}

/// The `pyoci` binary under test, with a cache shared by the whole test run.
pub fn pyoci() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pyoci"));
    cmd.env("PYOCI_CACHE_DIR", shared_cache());
    cmd.env_remove("SOURCE_DATE_EPOCH");
    cmd
}

/// The cache shared by the tests (so each package is downloaded once a run).
pub fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("pyoci-test-cache")
}

/// Runs a command and returns its output, printing both streams on failure.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the command starts");
    if !out.status.success() {
        panic!(
            "{:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Runs a command that must fail; returns its stderr.
pub fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command starts");
    assert!(
        !out.status.success(),
        "{cmd:?} should fail but succeeded:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Removes an image from the engine, ignoring errors.
pub fn docker_rmi(tag: &str) {
    let _ = docker().args(["rmi", "-f", tag]).output();
}
