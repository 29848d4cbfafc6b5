//! `lockship libdeps IMAGE` reads images through the reader and the layer
//! flattener `--base-image` uses: what `docker save` writes (the legacy
//! format without an OCI layout, crafted here, and the engine's own), and
//! hostile layers that try to reach outside the unpacked tree (issue 12,
//! finding 2).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use sha2::{Digest, Sha256};

/// One entry of a crafted layer.
enum E<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
}

/// A plain tar of `entries`, names written raw into the header.
fn layer(entries: &[E]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        let (name, kind, data, link): (&str, _, &[u8], &str) = match entry {
            E::File(n, d) => (n, tar::EntryType::Regular, d, ""),
            E::Symlink(n, t) => (n, tar::EntryType::Symlink, b"", t),
        };
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A 64-byte ELF header (x86-64 shared object, no program headers): an ELF
/// file that needs nothing.
fn tiny_elf() -> Vec<u8> {
    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // 64-bit
    elf[5] = 1; // little-endian
    elf[6] = 1; // version
    elf[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
    elf[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    elf[20..24].copy_from_slice(&1u32.to_le_bytes());
    elf[52..54].copy_from_slice(&64u16.to_le_bytes());
    elf[54..56].copy_from_slice(&56u16.to_le_bytes());
    elf
}

/// What `docker save` wrote before Docker 25: `manifest.json`, a config,
/// and each layer as `<id>/layer.tar`; no `oci-layout`, no `index.json`.
fn legacy_docker_archive(path: &Path, layers: &[Vec<u8>]) {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256(l)))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let config_name = format!("{}.json", sha256(&config));
    let layer_names: Vec<String> = layers
        .iter()
        .map(|l| format!("{}/layer.tar", sha256(l)))
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["lockship-test/legacy:1"],
        "Layers": layer_names,
    }]))
    .unwrap();
    let mut files: Vec<(String, &[u8])> = vec![(config_name.clone(), &config)];
    for (name, bytes) in layer_names.iter().zip(layers) {
        files.push((name.clone(), bytes));
    }
    files.push(("manifest.json".into(), &manifest));
    let mut archive = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        archive.append_data(&mut header, &name, bytes).unwrap();
    }
    archive.finish().unwrap();
}

/// Every path under `dir` with its content (files) or target (links).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let what = if e.path_is_symlink() {
                format!("-> {}", std::fs::read_link(e.path()).unwrap().display())
            } else if e.file_type().is_dir() {
                "dir".into()
            } else {
                format!("{:?}", std::fs::read(e.path()).unwrap())
            };
            (e.path().to_path_buf(), what)
        })
        .collect()
}

fn libdeps_json(cache: &Path, target: &str) -> serde_json::Value {
    let out = run_ok(lockship().env("LOCKSHIP_CACHE_DIR", cache).args([
        "libdeps",
        "--json",
        "--platform",
        "linux/amd64",
        target,
    ]));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn libdeps_reads_what_docker_save_writes_without_an_oci_layout() {
    let dir = tempfile::tempdir().unwrap();
    let elf = tiny_elf();
    let lower = layer(&[
        E::File("usr/lib/libdemo.so", &elf),
        E::File("usr/lib/libgone.so", &elf),
    ]);
    let upper = layer(&[E::File("usr/lib/.wh.libgone.so", b"")]);
    let saved = dir.path().join("saved.tar");
    legacy_docker_archive(&saved, &[lower, upper]);
    let cache = dir.path().join("cache");
    let target = format!("docker-archive:{}", saved.display());
    let report = libdeps_json(&cache, &target);
    // One ELF file: the whited-out one is gone.
    assert_eq!(report["scanned"], 1, "{report}");
    assert_eq!(
        report["unresolved"].as_array().map_or(0, Vec::len),
        0,
        "{report}"
    );
    // The second run takes the checked tree from the cache.
    assert_eq!(libdeps_json(&cache, &target)["scanned"], 1);
    assert_eq!(std::fs::read_dir(cache.join("tmp")).unwrap().count(), 0);
}

#[test]
fn hostile_libdeps_image_layers_stay_in_the_unpacked_tree() {
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("canary");
    std::fs::create_dir_all(canary.join("dir")).unwrap();
    std::fs::write(canary.join("file"), b"canary").unwrap();
    std::fs::write(canary.join("dir/inner"), b"inner").unwrap();
    let before = snapshot(&canary);
    let canary_str = canary.to_str().unwrap();
    let lower = layer(&[
        E::Symlink("esc", canary_str),
        E::Symlink("up", "../../../.."),
    ]);
    let upper = layer(&[
        E::File("esc/.wh.file", b""),
        E::File("esc/dir/.wh..wh..opq", b""),
        E::File("esc/planted", b"evil"),
        E::File("up/.wh.canary", b""),
    ]);
    let saved = dir.path().join("saved.tar");
    legacy_docker_archive(&saved, &[lower, upper]);
    let cache = dir.path().join("cache");
    let report = libdeps_json(&cache, &format!("docker-archive:{}", saved.display()));
    assert_eq!(report["scanned"], 0, "{report}");
    assert_eq!(snapshot(&canary), before, "the canary changed");

    // A top-level `.wh...` hides `..`: it once emptied the cache's tmp.
    let other_build = cache.join("tmp/other-build");
    std::fs::write(&other_build, b"other").unwrap();
    let dotdot = layer(&[E::File(".wh...", b"")]);
    let digest = sha256(&dotdot);
    let saved = dir.path().join("dotdot.tar");
    legacy_docker_archive(&saved, &[dotdot]);
    let err = run_err(
        lockship()
            .env("LOCKSHIP_CACHE_DIR", &cache)
            .args(["libdeps", "--platform", "linux/amd64"])
            .arg(format!("docker-archive:{}", saved.display())),
    );
    assert!(
        err.contains(&format!(
            "error: Layer `sha256:{digest}` has entry `.wh...`, which is a whiteout of `..`, not of a plain name"
        )),
        "{err}"
    );
    assert!(
        err.contains("hint: the image is malformed or hostile"),
        "{err}"
    );
    assert_eq!(std::fs::read(&other_build).unwrap(), b"other");
    assert_eq!(snapshot(&canary), before, "the canary changed");
}

#[test]
fn libdeps_reads_a_docker_save_archive_from_the_engine() {
    if !require("a Docker engine", docker_available()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // `docker import` makes an image from a tar with no build and no
    // network; `docker save` then writes it as the engine does.
    let rootfs = dir.path().join("rootfs.tar");
    std::fs::write(
        &rootfs,
        layer(&[E::File("usr/lib/libdemo.so", &tiny_elf())]),
    )
    .unwrap();
    let tag = "lockship-test/libdeps-saved:1";
    run_ok(docker().arg("import").arg(&rootfs).arg(tag));
    let saved = dir.path().join("saved.tar");
    let save = docker().args(["save", "-o"]).arg(&saved).arg(tag).output();
    docker_rmi(tag);
    assert!(save.unwrap().status.success(), "docker save failed");
    let out = run_ok(
        lockship()
            .env("LOCKSHIP_CACHE_DIR", dir.path().join("cache"))
            .args(["libdeps", "--json"])
            .arg(format!("docker-archive:{}", saved.display())),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["scanned"], 1, "{report}");
}
