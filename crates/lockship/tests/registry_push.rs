//! `--push` end to end against Debian's reference registry on loopback:
//! push, `docker pull` back and run; a code change uploads only the project
//! layer; a second machine's empty cache uploads nothing the registry has;
//! a two-platform index; skopeo reads what lockship pushed.

mod common;
#[path = "../../lockship-registry/tests/common/mod.rs"]
mod registry_support;

use std::process::Command;

use common::*;
use registry_support::Registry;

fn ready() -> bool {
    require("the Debian mirror", mirror_available())
}

fn push_json(
    project: &std::path::Path,
    reference: &str,
    cache: Option<&std::path::Path>,
    extra: &[&str],
) -> serde_json::Value {
    let mut cmd = lockship();
    if let Some(cache) = cache {
        cmd.env("LOCKSHIP_CACHE_DIR", cache);
    }
    let out = run_ok(
        cmd.arg("--json")
            .arg("build")
            .arg(project)
            .args(["--push", "-t", reference])
            .args(extra),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn pushed(summary: &serde_json::Value) -> &serde_json::Value {
    summary["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["destination"].as_str().unwrap().starts_with("registry:"))
        .map(|o| &o["push"])
        .expect("a push in the outputs")
}

#[test]
fn push_pull_run_and_upload_only_what_the_registry_lacks() {
    if !ready() || !require("a Docker engine", docker_available()) {
        return;
    }
    let Some((registry, _)) = Registry::start(false, &[]) else {
        require("docker-registry", false);
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("flask-app", dir.path());
    let reference = format!("{}/team/flask-app:1.0", registry.host());

    let first = push_json(&project, &reference, None, &[]);
    let first_push = pushed(&first);
    assert_eq!(first_push["digest"], first["digest"]);
    let first_bytes = first_push["uploaded_bytes"].as_u64().unwrap();
    assert!(first_bytes > 1_000_000, "{first_push}");
    eprintln!("first push: {first_push}");

    // The engine pulls it back (loopback registries are plain HTTP for it too) and runs it.
    run_ok(docker().args(["pull", &reference]));
    let (container, port) = run_detached(&reference);
    let (status, body) = http_get(port, "/");
    let _ = docker().args(["rm", "-f", &container]).output();
    docker_rmi(&reference);
    assert_eq!(status, 200, "{body}");

    // A code change: only the project layer and the config go up.
    let init = project.join("src/flask_app/__init__.py");
    let code = std::fs::read_to_string(&init).unwrap();
    std::fs::write(
        &init,
        format!("{code}\n# changed {:?}\n", std::time::SystemTime::now()),
    )
    .unwrap();
    let second = push_json(&project, &reference, None, &[]);
    let second_push = pushed(&second);
    eprintln!("push after a code change: {second_push}");
    assert_eq!(second_push["uploaded_blobs"], 2, "{second_push}");
    assert!(
        second_push["skipped_blobs"].as_u64().unwrap() >= 2,
        "{second_push}"
    );
    assert!(second_push["uploaded_bytes"].as_u64().unwrap() < first_bytes / 10);

    // A second machine: an empty cache builds the same bytes and uploads none.
    let other_cache = dir.path().join("second-machine-cache");
    let third = push_json(&project, &reference, Some(&other_cache), &[]);
    let third_push = pushed(&third);
    eprintln!("push from a second cache: {third_push}");
    assert_eq!(
        third["digest"], second["digest"],
        "reproducible across caches"
    );
    assert_eq!(third_push["uploaded_bytes"], 0, "{third_push}");

    // skopeo, a third-party reader, copies it out.
    if require(
        "skopeo",
        Command::new("skopeo").arg("--version").output().is_ok(),
    ) {
        let target = dir.path().join("skopeo-dir");
        run_ok(Command::new("skopeo").args([
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{reference}"),
            &format!("dir:{}", target.display()),
        ]));
        assert!(target.join("manifest.json").exists());
    }
}

#[test]
fn two_platforms_make_one_index_without_emulation() {
    if !ready() {
        return;
    }
    let Some((registry, _)) = Registry::start(false, &[]) else {
        require("docker-registry", false);
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("flask-app", dir.path());
    let reference = format!("{}/team/flask-multi:1.0", registry.host());
    let layout = dir.path().join("layout");
    let summary = push_json(
        &project,
        &reference,
        None,
        &[
            // Bytecode for the second platform is compiled by a host
            // interpreter of the same version (no emulation): 3.11 is the
            // one every test machine has.
            "--python",
            "3.11",
            "--platform",
            "linux/amd64,linux/arm64",
            "--output",
            &format!("oci:{}", layout.display()),
        ],
    );
    let platforms = summary["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 2);
    // markupsafe ships native wheels: each platform got its own.
    let wheels = |i: usize| {
        platforms[i]["wheels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(
        wheels(0)
            .iter()
            .any(|w| w.starts_with("markupsafe") && w.contains("x86_64")),
        "{:?}",
        wheels(0)
    );
    assert!(
        wheels(1)
            .iter()
            .any(|w| w.starts_with("markupsafe") && w.contains("aarch64")),
        "{:?}",
        wheels(1)
    );

    if require(
        "skopeo",
        Command::new("skopeo").arg("--version").output().is_ok(),
    ) {
        let out = run_ok(Command::new("skopeo").args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ]));
        let index: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let archs: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["platform"]["architecture"].as_str().unwrap())
            .collect();
        assert_eq!(archs, ["amd64", "arm64"], "{index}");
    }
    // The arm64 image's python is an aarch64 ELF (EM_AARCH64 = 183).
    let output: lockship_oci::Output = format!("oci:{}", layout.display()).parse().unwrap();
    let arm64: lockship_oci::Platform = "linux/arm64".parse().unwrap();
    let mut machine = None;
    for layer in lockship_oci::open_platform_layers(&output, &arm64).unwrap() {
        let mut archive = tar::Archive::new(layer);
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches("./")
                == "usr/bin/python3.11"
            {
                let mut head = [0u8; 20];
                std::io::Read::read_exact(&mut entry, &mut head).unwrap();
                machine = Some(u16::from_le_bytes([head[18], head[19]]));
            }
        }
    }
    assert_eq!(machine, Some(183));
}
