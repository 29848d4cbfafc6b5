//! Libraries Python code loads at run time (`dlopen` through ctypes and
//! cffi), end to end: `examples/dlopen-app` (WeasyPrint and python-magic)
//! names no system package, lockship's scan finds pango, harfbuzz,
//! fontconfig and libmagic (with its `magic.mgc`), and the image renders a
//! PDF and names its type, read-only, as uid 65532.

mod common;

use std::path::Path;

use common::*;

/// `lockship --json build PROJECT --output docker-archive:ARCHIVE EXTRA…`, parsed.
fn build_archive(project: &Path, archive: &Path, extra: &[&str]) -> serde_json::Value {
    let out = run_ok(
        lockship()
            .arg("--json")
            .arg("build")
            .arg(project)
            .arg("--output")
            .arg(format!("docker-archive:{}", archive.display()))
            .args(extra),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The Debian packages of the system-libraries layer, without versions.
fn system_packages(summary: &serde_json::Value) -> Vec<String> {
    summary["system_packages"]
        .as_array()
        .expect("system_packages")
        .iter()
        .map(|p| {
            let p = p.as_str().unwrap();
            p.split_once('=').map_or(p, |(n, _)| n).to_string()
        })
        .collect()
}

#[test]
fn weasyprint_and_python_magic_find_their_libraries_with_no_system_packages() {
    if !require("the Debian mirror", mirror_available())
        || !require("a Docker engine", docker_available())
    {
        return;
    }
    let project = examples().join("dlopen-app");
    let pyproject = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    assert!(
        !pyproject.contains("system-packages ="),
        "the example must name no system package"
    );
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("dlopen.tar");
    let tag = "lockship-test/dlopen-app:e2e";
    let summary = build_archive(&project, &archive, &["--tag", tag]);

    // The run-time loads were found, each with the file that asks, and
    // mapped to the packages that ship them.
    let runtime = &summary["libdeps"]["runtime_packages"];
    let packages = system_packages(&summary);
    for wanted in [
        "libmagic1",
        "libpango-1.0-0",
        "libharfbuzz0b",
        "libfontconfig1",
    ] {
        assert!(
            packages.iter().any(|p| p == wanted),
            "`{wanted}` not in the system-libraries layer: {packages:?}\n{runtime}"
        );
    }
    assert!(
        packages.iter().any(|p| p == "libmagic-mgc"),
        "magic.mgc's package is missing: {packages:?}"
    );
    let asked: Vec<&str> = runtime
        .as_object()
        .expect("runtime_packages")
        .values()
        .flat_map(|needs| needs.as_array().unwrap())
        .map(|n| n["asked_by"].as_str().unwrap())
        .collect();
    assert!(
        asked.iter().any(|a| a.contains("/site-packages/magic/")),
        "python-magic's loader is named: {asked:?}"
    );
    assert!(
        asked
            .iter()
            .any(|a| a.contains("/site-packages/weasyprint")),
        "WeasyPrint's loader is named: {asked:?}"
    );

    // No compiler, no header, no -dev package.
    let paths = image_paths(&format!("docker-archive:{}", archive.display()));
    let bad: Vec<&String> = paths
        .iter()
        .filter(|p| {
            let p = p.trim_start_matches("./");
            p.starts_with("usr/include/")
                || p.ends_with("/cc1")
                || p.starts_with("usr/bin/gcc")
                || p.starts_with("usr/bin/cc")
                || p.starts_with("usr/bin/x86_64-linux-gnu-gcc")
        })
        .collect();
    assert!(bad.is_empty(), "build tools in the image: {bad:?}");
    assert!(
        packages.iter().all(|p| !p.ends_with("-dev")),
        "a -dev package in the image: {packages:?}"
    );

    // The image renders a PDF and names its type, read-only, as 65532.
    run_ok(docker().arg("load").arg("-i").arg(&archive));
    let out = docker()
        .args(["run", "--rm", "--read-only", "--user", "65532", tag])
        .output()
        .unwrap();
    docker_rmi(tag);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("rendered "), "{stdout}\n{stderr}");
    assert!(stdout.contains("application/pdf"), "{stdout}\n{stderr}");

    // `lockship libdeps` on the finished image: the run-time loads are
    // satisfied now, and reported apart from ELF needs.
    let out = run_ok(
        lockship()
            .args(["libdeps", "--json"])
            .arg(format!("docker-archive:{}", archive.display())),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["packages"], serde_json::json!({}), "{report}");
    assert_eq!(
        report["runtime_packages"],
        serde_json::json!({}),
        "{report}"
    );
}

#[test]
fn libdeps_reports_run_time_loads_apart_with_file_and_line() {
    // A venv-like tree whose code loads libmagic with ctypes: no network
    // needed when the base is `none`, and nothing in it ships libmagic.
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("lib/python3.11/site-packages/probe");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(
        pkg.join("__init__.py"),
        "import ctypes\nimport ctypes.util\n\nlib = ctypes.CDLL(ctypes.util.find_library(\"lockshipnothere\"))\n",
    )
    .unwrap();
    let out = lockship()
        .args(["libdeps", "--base", "none", "--mount-at", "/opt/venv"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("mirror") {
        // Mapping a missing load needs the suite's Contents index.
        if !require("the Debian mirror", mirror_available()) {
            return;
        }
    }
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("loaded at run time (dlopen)"), "{stdout}");
    assert!(stdout.contains("lockshipnothere"), "{stdout}");
    assert!(
        stdout.contains("asked by /opt/venv/lib/python3.11/site-packages/probe/__init__.py:4"),
        "{stdout}"
    );
    // No package ships it: a warning naming it and the file, not an error.
    assert!(stderr.contains("warning: `lockshipnothere`"), "{stderr}");
}
