//! `lockship dockerfile` without an engine: it renders the plan without
//! running the build (no sdist built, no venv, no layer but the base's),
//! and `--write` never overwrites a file without `--force`.

mod common;

use std::path::Path;

use common::*;

/// The cache entries only a build makes: the sdist build environment, wheels
/// built from sdists and their logs, bytecode and strip records of venv layers.
const BUILD_ONLY_CACHE_DIRS: &[&str] = &[
    "build-env",
    "sdist-wheels",
    "sdist-logs",
    "compile-skipped",
    "strip-summary",
];

/// The layer records in the cache's layer directory.
fn layer_records(cache: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(cache.join("layers")) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    out.sort();
    out
}

#[test]
fn dockerfile_of_an_sdist_example_builds_nothing_and_still_names_libpq5() {
    if !require("the Debian mirror", mirror_available()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("psycopg2-app", dir.path());
    let cache = dir.path().join("cache");
    let out = run_ok(
        lockship()
            .env("LOCKSHIP_CACHE_DIR", &cache)
            .arg("dockerfile")
            .arg(&project)
            .args(["--strategy", "layered-slim"]),
    );
    let dockerfile = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(dockerfile.contains("libpq5"), "{dockerfile}\n{stderr}");
    assert!(!dockerfile.contains("libpq5-dev"), "{dockerfile}");
    // psycopg2 was not built, so libpq5 comes from the build package.
    assert!(
        stderr.contains("run-time package `libpq5`: from build package `libpq-dev`"),
        "{stderr}"
    );
    // Keyed entries live in `keyed/NAMESPACE/KEY`.
    assert!(
        cache.join("keyed/base-tree").is_dir(),
        "the cache layout changed"
    );
    for name in BUILD_ONLY_CACHE_DIRS {
        assert!(
            !cache.join("keyed").join(name).exists(),
            "`lockship dockerfile` left `{name}` in the cache: something was built"
        );
    }
    // The runtime base is one layer; a venv or project layer would add more.
    let layers = layer_records(&cache);
    assert_eq!(
        layers.len(),
        1,
        "layers besides the base's were written: {layers:?}"
    );
}

#[test]
fn dockerfile_write_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    // The example has a .dockerignore of its own.
    let project = copy_example("fastapi-app", dir.path());
    let ignore = project.join(".dockerignore");
    let before = std::fs::read(&ignore).unwrap();
    let err = run_err(lockship().arg("dockerfile").arg(&project).arg("--write"));
    assert!(err.contains(".dockerignore` already exists"), "{err}");
    assert!(err.contains("hint: pass `--force`"), "{err}");
    assert!(
        !project.join("Dockerfile").exists(),
        "a Dockerfile was written"
    );
    assert_eq!(std::fs::read(&ignore).unwrap(), before);

    // `--compose` writes too, and names every file in the way.
    std::fs::write(project.join("compose.yaml"), "services: {}\n").unwrap();
    std::fs::write(project.join("Dockerfile"), "FROM scratch\n").unwrap();
    let err = run_err(lockship().arg("dockerfile").arg(&project).arg("--compose"));
    for name in ["Dockerfile", ".dockerignore", "compose.yaml"] {
        assert!(err.contains(&format!("{name}`")), "{name}: {err}");
    }
    assert!(err.contains("already exist;"), "{err}");
    assert_eq!(
        std::fs::read_to_string(project.join("Dockerfile")).unwrap(),
        "FROM scratch\n"
    );
}

#[test]
fn dockerfile_write_with_force_overwrites() {
    if !require("the Debian mirror", mirror_available()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("fastapi-app", dir.path());
    std::fs::write(project.join("Dockerfile"), "FROM scratch\n").unwrap();
    run_ok(lockship().arg("dockerfile").arg(&project).args([
        "--strategy",
        "basic-slim",
        "--write",
        "--force",
    ]));
    let dockerfile = std::fs::read_to_string(project.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("FROM python:"), "{dockerfile}");
    let ignore = std::fs::read_to_string(project.join(".dockerignore")).unwrap();
    assert!(!ignore.is_empty());
}
