//! End-to-end tests of `lockship base`: real Debian downloads, a real Docker engine.

mod common;

use std::io::Read;
use std::path::Path;

use common::*;

const IMPORTS: &str = "import ssl, sqlite3, ctypes, zlib, lzma, bz2, json, asyncio, hashlib, uuid, decimal, zoneinfo; print('ok')";

/// The checks every runtime image must pass when run read-only as nonroot.
const CHECKS: &str = r#"
import ssl, sqlite3, ctypes, ctypes.util, zlib, lzma, bz2, json, asyncio, hashlib, uuid, decimal, zoneinfo, os, socket, sys
ctx = ssl.create_default_context()
assert ctx.cert_store_stats()["x509_ca"] > 100, ctx.cert_store_stats()
assert ctypes.util.find_library("ssl"), "find_library"
assert zoneinfo.ZoneInfo("Europe/Paris").utcoffset(__import__("datetime").datetime(2024, 7, 1)).seconds == 7200
assert socket.getservbyname("https") == 443
assert os.getuid() == 65532
assert sqlite3.connect(":memory:").execute("select 1").fetchone() == (1,)
assert uuid.uuid4().version == 4
import importlib.util
assert importlib.util.cache_from_source(json.__file__)
assert os.path.exists(importlib.util.cache_from_source(json.__file__)), "stdlib bytecode"
print("checks ok", sys.version.split()[0])
"#;

fn build_and_run(python: &str) {
    if !require("the Debian mirror", mirror_available())
        || !require("a Docker engine", docker_available())
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tag = format!("lockship-test/python:{python}");
    let archive = dir.path().join("image.tar");
    let layout = dir.path().join("layout");
    run_ok(lockship().args([
        "base",
        "--python",
        python,
        "--output",
        &format!("docker-archive:{}", archive.display()),
        "--output",
        &format!("oci:{}", layout.display()),
        "--load",
        "-t",
        &tag,
    ]));
    for output in [
        format!("docker-archive:{}", archive.display()),
        format!("oci:{}", layout.display()),
    ] {
        run_ok(lockship().args(["validate", &output]));
    }
    let out = run_ok(docker().args(["run", "--rm", "--read-only", &tag, "-c", IMPORTS]));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    let out = run_ok(docker().args(["run", "--rm", "--read-only", &tag, "-c", CHECKS]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("checks ok"));
    // No shell, no package manager, no compiler.
    for absent in [
        "/bin/sh",
        "/usr/bin/apt-get",
        "/usr/bin/dpkg",
        "/usr/bin/gcc",
        "/usr/bin/pip",
    ] {
        let code = format!("import os, sys; sys.exit(1 if os.path.lexists({absent:?}) else 0)");
        run_ok(docker().args(["run", "--rm", &tag, "-c", &code]));
    }
    docker_rmi(&tag);
}

#[test]
fn python_311_runs_read_only_as_nonroot() {
    build_and_run("3.11");
}

#[test]
fn python_313_runs_read_only_as_nonroot() {
    build_and_run("3.13");
}

#[test]
fn arm64_image_is_built_without_emulation() {
    if !require("the Debian mirror", mirror_available()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("arm64");
    let out = run_ok(lockship().args([
        "base",
        "--python",
        "3.11",
        "--platform",
        "linux/arm64",
        "--json",
        "--output",
        &format!("oci:{}", layout.display()),
    ]));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["platform"], "linux/arm64");
    let images = lockship_oci::validate(&lockship_oci::Output::OciDir(layout.clone())).unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].config.architecture, "arm64");
    assert_eq!(images[0].platform.architecture, "arm64");
    let layers = lockship_oci::open_image_layers(&lockship_oci::Output::OciDir(layout)).unwrap();
    let mut found = false;
    for layer in layers {
        let mut archive = tar::Archive::new(layer);
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap() == Path::new("usr/bin/python3.11") {
                let mut header = [0u8; 20];
                entry.read_exact(&mut header).unwrap();
                assert_eq!(&header[..4], b"\x7fELF");
                // e_machine 183 = EM_AARCH64
                assert_eq!(u16::from_le_bytes([header[18], header[19]]), 183);
                found = true;
            }
        }
    }
    assert!(found, "the arm64 image has usr/bin/python3.11");
}

#[test]
fn two_cache_dirs_give_the_same_digest() {
    if !require("the Debian mirror", mirror_available()) {
        return;
    }
    let mut digests = Vec::new();
    for _ in 0..2 {
        let cache = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let result = run_ok(lockship().env("LOCKSHIP_CACHE_DIR", cache.path()).args([
            "base",
            "--python",
            "3.11",
            "--json",
            "--output",
            &format!("oci-archive:{}", out.path().join("a.tar").display()),
        ]));
        let summary: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
        assert_eq!(
            summary["layer_cached"], false,
            "an empty cache builds the layer"
        );
        digests.push(summary["digest"].as_str().unwrap().to_string());
        run_ok(lockship().args([
            "validate",
            &format!("oci-archive:{}", out.path().join("a.tar").display()),
        ]));
    }
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn debug_image_has_a_busybox_shell() {
    if !require("the Debian mirror", mirror_available())
        || !require("a Docker engine", docker_available())
    {
        return;
    }
    let tag = "lockship-test/python:3.11-debug";
    run_ok(lockship().args([
        "base", "--python", "3.11", "--debug", "--quiet", "--load", "-t", tag,
    ]));
    let out = run_ok(docker().args([
        "run",
        "--rm",
        "--read-only",
        "--entrypoint",
        "/bin/sh",
        tag,
        "-c",
        "id -u && ls /usr/bin/python3.11 && python3 -c 'print(1+1)'",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.split_whitespace().collect::<Vec<_>>(),
        ["65532", "/usr/bin/python3.11", "2"],
        "{text}"
    );
    docker_rmi(tag);
}
