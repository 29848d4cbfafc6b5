//! `lockship build --base-image`: building on an image someone else made. The
//! base is a local stand-in of `python:3.11-slim` (Debian's python3.11 with
//! a shell, apt and pip, made by `lockship base --flavor slim`), read from an
//! OCI layout and from a real registry on loopback; the image is loaded into
//! a real engine and serves over HTTP.

mod common;
#[path = "../../lockship-registry/tests/common/mod.rs"]
mod registry_support;

use std::path::Path;

use common::*;
use registry_support::Registry;

/// Writes the slim stand-in into an OCI layout under `dir`.
fn slim_base(dir: &Path) -> String {
    let layout = dir.join("python-3.11-slim");
    run_ok(lockship().args([
        "base",
        "--python",
        "3.11",
        "--flavor",
        "slim",
        "--quiet",
        "--output",
        &format!("oci:{}", layout.display()),
    ]));
    format!("oci:{}", layout.display())
}

/// The layer digests of the one image of an OCI layout.
fn layout_layers(layout: &Path) -> Vec<String> {
    let read = |digest: &str| -> serde_json::Value {
        let hex = digest.trim_start_matches("sha256:");
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap())
            .unwrap()
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest = read(index["manifests"][0]["digest"].as_str().unwrap());
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

fn json_layers(summary: &serde_json::Value) -> Vec<String> {
    summary["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn flask_app_on_a_local_base_image_keeps_its_layers_and_serves() {
    if !require("the Debian mirror", mirror_available())
        || !require("a Docker engine", docker_available())
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = slim_base(dir.path());
    let project = copy_example("flask-app", dir.path());
    let out = dir.path().join("out");
    let tag = "lockship-test/on-base:flask";
    let built = run_ok(
        lockship()
            .args(["--json", "build"])
            .arg(&project)
            .args(["--base-image", &base, "--load", "-t", tag])
            .arg("--output")
            .arg(format!("oci:{}", out.display())),
    );
    let summary: serde_json::Value = serde_json::from_slice(&built.stdout).unwrap();
    let facts = &summary["base_image"];
    assert_eq!(facts["python"], "/usr/bin/python3.11", "{facts}");
    assert_eq!(facts["os"], "debian bookworm", "{facts}");
    assert_eq!(facts["libc"], "glibc 2.36", "{facts}");
    assert_eq!(facts["debian_python"], true, "{facts}");
    // The base's layers go in untouched, bottom first: a registry that has
    // them never receives them again.
    let base_layers = layout_layers(Path::new(base.trim_start_matches("oci:")));
    let layers = json_layers(&summary);
    assert!(layers.len() > base_layers.len(), "{layers:?}");
    assert_eq!(layers[..base_layers.len()], base_layers[..]);
    run_ok(
        lockship()
            .arg("validate")
            .arg(format!("oci:{}", out.display())),
    );

    let (container, port) = run_detached(tag);
    let (status, body) = http_get(port, "/");
    // The base's shell is still there, and the venv's python is the base's.
    let shell = docker()
        .args([
            "run",
            "--rm",
            "--entrypoint",
            "/bin/sh",
            tag,
            "-c",
            "readlink -f /opt/venv/bin/python; id -u",
        ])
        .output()
        .unwrap();
    let _ = docker().args(["rm", "-f", &container]).output();
    docker_rmi(tag);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ok"), "{body}");
    let text = String::from_utf8_lossy(&shell.stdout);
    assert!(text.contains("/usr/bin/python3.11"), "{text}");
    assert!(text.contains("65532"), "{text}");

    // A second build takes everything from the cache and gives the same digest.
    let again = run_ok(
        lockship()
            .args(["--json", "build"])
            .arg(&project)
            .args(["--base-image", &base])
            .arg("--output")
            .arg(format!("oci:{}", dir.path().join("out2").display())),
    );
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["digest"], summary["digest"]);
    assert!(
        again["cached"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["cached"] == true),
        "{}",
        again["cached"]
    );
}

#[test]
fn a_base_with_another_python_is_refused_with_both_named() {
    if !require("the Debian mirror", mirror_available()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = slim_base(dir.path());
    let project = copy_example("flask-app", dir.path());
    let err = run_err(
        lockship()
            .arg("build")
            .arg(&project)
            .args(["--base-image", &base, "--python", "3.13"])
            .arg("--output")
            .arg(format!("oci:{}", dir.path().join("out").display())),
    );
    assert!(err.contains("asks for Python 3.13"), "{err}");
    assert!(err.contains("3.11 (`/usr/bin/python3.11`)"), "{err}");
    assert!(err.contains("hint:"), "{err}");

    let missing = run_err(
        lockship()
            .arg("build")
            .arg(&project)
            .args(["--base-image", "oci:/nonexistent/layout", "--output"])
            .arg(format!("oci:{}", dir.path().join("out").display())),
    );
    assert!(missing.contains("/nonexistent/layout"), "{missing}");
}

#[test]
fn a_base_from_a_registry_is_pulled_and_its_layers_are_not_uploaded_again() {
    if !require("the Debian mirror", mirror_available())
        || !require("a Docker engine", docker_available())
    {
        return;
    }
    let Some((registry, _)) = Registry::start(false, &[]) else {
        require("docker-registry", false);
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let base_ref = format!("{}/base/python:3.11-slim", registry.host());
    run_ok(lockship().args([
        "base", "--python", "3.11", "--flavor", "slim", "--quiet", "--push", "-t", &base_ref,
    ]));
    let project = copy_example("flask-app", dir.path());
    let app_ref = format!("{}/team/flask-on-base:1", registry.host());
    // A machine with an empty cache: the base comes from the registry.
    let cache = dir.path().join("empty-cache");
    let out = run_ok(
        lockship()
            .env("LOCKSHIP_CACHE_DIR", &cache)
            .args(["--json", "build"])
            .arg(&project)
            .args(["--base-image", &base_ref, "--push", "-t", &app_ref]),
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["base_image"]["source"], base_ref.as_str());
    let push = summary["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["destination"].as_str().unwrap().starts_with("registry:"))
        .map(|o| o["push"].clone())
        .expect("a push");
    eprintln!("push on a registry base: {push}");
    // The base's layer is in the registry already (mounted or found), never uploaded.
    let not_uploaded =
        push["skipped_blobs"].as_u64().unwrap_or(0) + push["mounted_blobs"].as_u64().unwrap_or(0);
    assert!(not_uploaded >= 1, "{push}");
    run_ok(docker().args(["pull", &app_ref]));
    let (container, port) = run_detached(&app_ref);
    let (status, body) = http_get(port, "/");
    let _ = docker().args(["rm", "-f", &container]).output();
    docker_rmi(&app_ref);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_docker_save_archive_is_a_base_too() {
    if !require("the Debian mirror", mirror_available())
        || !require("a Docker engine", docker_available())
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base_tag = "lockship-test/saved-base:3.11-slim";
    run_ok(lockship().args([
        "base", "--python", "3.11", "--flavor", "slim", "--quiet", "--load", "-t", base_tag,
    ]));
    // The engine's own writer: Docker 20.10 saves the legacy format (no OCI layout).
    let saved = dir.path().join("saved.tar");
    run_ok(docker().args(["save", "-o"]).arg(&saved).arg(base_tag));
    docker_rmi(base_tag);
    let project = copy_example("cli-app", dir.path());
    let Some(uv) = uv() else {
        require("uv (installed with pip into a test venv)", false);
        return;
    };
    run_ok(
        std::process::Command::new(&uv)
            .arg("lock")
            .current_dir(&project),
    );
    let tag = "lockship-test/on-saved-base:cli";
    run_ok(
        lockship()
            .arg("build")
            .arg(&project)
            .args(["--quiet", "--load", "-t", tag])
            .arg("--base-image")
            .arg(format!("docker-archive:{}", saved.display())),
    );
    let out = run_ok(docker().args(["run", "--rm", "--read-only", tag, "hello", "base"]));
    docker_rmi(tag);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello, base");
}
