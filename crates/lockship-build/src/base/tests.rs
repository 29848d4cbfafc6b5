//! The `--base-image` kind of base: pulled, flattened, probed.

use std::path::Path;

use lockship_layer::{Compression, Layer};
use lockship_oci::{Output, Platform};
use sha2::{Digest, Sha256};

use super::probe::probe;
use super::tree::unpack_with_whiteouts;
use super::*;

fn pulled(env: &[&str]) -> PulledBase {
    PulledBase {
        source: "oci:test".into(),
        manifest_digest: "sha256:00".into(),
        config: serde_json::from_value(serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": env},
            "rootfs": {"type": "layers", "diff_ids": []},
        }))
        .unwrap(),
        layers: Vec::new(),
    }
}

fn file(root: &Path, path: &str, bytes: &[u8]) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn link(root: &Path, path: &str, target: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, p).unwrap();
}

/// The layout of the official `python:3.12-slim`: CPython in /usr/local,
/// Debian's glibc, Debian's python absent.
fn official_slim(root: &Path) {
    file(
        root,
        "etc/os-release",
        b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_CODENAME=bookworm\n",
    );
    file(
        root,
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        b"\x7fELF...GNU C Library (Debian GLIBC 2.36-9+deb12u7) stable release version 2.36.\n",
    );
    link(root, "lib", "usr/lib");
    file(root, "usr/local/bin/python3.12", b"\x7fELF");
    link(root, "usr/local/bin/python3", "python3.12");
    file(root, "usr/local/lib/python3.12/os.py", b"");
    file(
            root,
            "var/lib/dpkg/status",
            b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u7\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
        );
}

#[test]
fn official_python_slim_is_probed_from_its_files() {
    let dir = tempfile::tempdir().unwrap();
    official_slim(dir.path());
    let facts = probe(
        dir.path(),
        &pulled(&[
            "PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/bin",
            "PYTHON_VERSION=3.12.7",
        ]),
        &Platform::linux_amd64(),
        None,
    )
    .unwrap();
    assert_eq!(facts.python, "/usr/local/bin/python3.12");
    assert_eq!(facts.prefix, "/usr/local");
    assert_eq!(facts.python_full_version, "3.12.7");
    assert_eq!(facts.libc, "glibc 2.36");
    assert_eq!(facts.suite.as_deref(), Some("bookworm"));
    assert!(!facts.debian_python);
    assert_eq!(facts.packages.len(), 1, "{:?}", facts.packages);
    let tags = facts.wheel_target("amd64");
    assert_eq!(tags.abi, "cp312");
}

#[test]
fn another_python_than_asked_is_an_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    official_slim(dir.path());
    let err = probe(
        dir.path(),
        &pulled(&["PATH=/usr/local/bin:/usr/bin"]),
        &Platform::linux_amd64(),
        Some("3.11"),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Python 3.11"), "{text}");
    assert!(
        text.contains("3.12 (`/usr/local/bin/python3.12`)"),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("--python"), "{:?}", err.hint());
}

#[test]
fn a_musl_base_selects_musllinux_tags() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    file(root, "etc/os-release", b"ID=alpine\nVERSION_ID=3.20.3\n");
    file(root, "lib/ld-musl-x86_64.so.1", b"\x7fELF");
    file(
        root,
        "lib/apk/db/installed",
        b"C:Q1\nP:musl\nV:1.2.5-r0\nA:x86_64\n\n",
    );
    file(root, "usr/local/bin/python3.12", b"\x7fELF");
    file(root, "usr/local/lib/python3.12/os.py", b"");
    let facts = probe(
        root,
        &pulled(&["PATH=/usr/local/bin:/usr/bin"]),
        &Platform::linux_amd64(),
        None,
    )
    .unwrap();
    assert!(facts.is_musl());
    assert_eq!(facts.libc, "musl 1.2");
    assert_eq!(facts.suite, None);
    let tags = facts.wheel_target("amd64").platform_tags();
    assert!(
        tags.iter().any(|t| t.starts_with("musllinux_1_2")),
        "{tags:?}"
    );
    assert!(!tags.iter().any(|t| t.starts_with("manylinux")), "{tags:?}");
}

#[test]
fn a_base_without_python_says_so() {
    let dir = tempfile::tempdir().unwrap();
    file(
        dir.path(),
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        b"release version 2.36.",
    );
    let err = probe(
        dir.path(),
        &pulled(&["PATH=/usr/bin:/bin"]),
        &Platform::linux_amd64(),
        None,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("no `python3.X` on its PATH"),
        "{err}"
    );
}

#[test]
fn whiteouts_remove_what_lower_layers_had() {
    use lockship_layer::{write_layer, LayerOptions};
    let dir = tempfile::tempdir().unwrap();
    let lower = dir.path().join("lower");
    file(&lower, "etc/keep", b"k");
    file(&lower, "etc/gone", b"g");
    file(&lower, "var/cache/a", b"a");
    file(&lower, "var/cache/b", b"b");
    let upper = dir.path().join("upper");
    file(&upper, "etc/.wh.gone", b"");
    file(&upper, "var/cache/.wh..wh..opq", b"");
    file(&upper, "var/cache/c", b"c");
    let options = LayerOptions::new(Compression::Gzip, 0);
    let mut layers = Vec::new();
    for (name, tree) in [("l", &lower), ("u", &upper)] {
        let out = dir.path().join(name);
        std::fs::create_dir_all(&out).unwrap();
        layers.push(write_layer(tree, &options, &out).unwrap());
    }
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    for layer in &layers {
        let size = unpack_with_whiteouts(layer, &root).unwrap();
        assert_eq!(size, layer.uncompressed_size);
    }
    assert!(root.join("etc/keep").is_file());
    assert!(!root.join("etc/gone").exists());
    assert!(!root.join("etc/.wh.gone").exists());
    assert!(!root.join("var/cache/a").exists());
    assert!(root.join("var/cache/c").is_file());
}

/// Finding 5: an image whose config claims another image's diff_ids
/// (here, the honest one's) is refused while it is unpacked, and nothing
/// lands in the cache under the claimed key; the honest image then
/// unpacks cleanly, and the lying one is refused again even though a
/// tree under its claimed diff_ids is now cached.
#[test]
fn lying_diff_id_is_refused_and_nothing_is_cached() {
    use lockship_layer::{write_layer, LayerOptions};
    let dir = tempfile::tempdir().unwrap();
    let honest_tree = dir.path().join("honest");
    official_slim(&honest_tree);
    let evil_tree = dir.path().join("evil");
    official_slim(&evil_tree);
    file(
        &evil_tree,
        "usr/local/bin/python3.12",
        b"#!/bin/sh\necho owned\n",
    );
    let blobs = dir.path().join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let options = LayerOptions::new(Compression::Gzip, 0);
    let honest = write_layer(&honest_tree, &options, &blobs).unwrap();
    let evil = write_layer(&evil_tree, &options, &blobs).unwrap();
    let mut lying = evil.clone();
    lying.diff_id = honest.diff_id.clone();

    let cache = lockship_fetch::Cache::open(dir.path().join("cache")).unwrap();
    let fetcher = lockship_fetch::Fetcher::new(lockship_fetch::FetchOptions::default()).unwrap();
    let ctx = Context {
        fetcher: &fetcher,
        cache: &cache,
        reporter: &lockship_fetch::NoReporter,
    };
    let image = |layer: &Layer| PulledBase {
        layers: vec![layer.clone()],
        ..pulled(&["PATH=/usr/local/bin:/usr/bin:/bin", "PYTHON_VERSION=3.12.7"])
    };
    let platform = Platform::linux_amd64();
    let entries = |p: &Path| std::fs::read_dir(p).map(|r| r.count()).unwrap_or(0);

    let err = prepare(&ctx, &image(&lying), &platform, None, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Layer `{}` decompresses to diff_id `{}`, but the image config claims `{}`",
            evil.digest, evil.diff_id, honest.diff_id
        )
    );
    assert!(err.hint().unwrap().contains("tampered"), "{:?}", err.hint());
    let trees = cache.root().join("keyed/base-image-tree");
    assert_eq!(entries(&trees), 0, "a tree was cached");
    assert_eq!(
        entries(&cache.root().join("tmp")),
        0,
        "the scratch tree was left"
    );

    let prepared = prepare(&ctx, &image(&honest), &platform, None, 0).unwrap();
    assert!(!prepared.tree_cached);
    assert_eq!(
        std::fs::read(prepared.tree.join("usr/local/bin/python3.12")).unwrap(),
        b"\x7fELF"
    );
    assert_eq!(
        prepared.image.layers[0].uncompressed_size,
        honest.uncompressed_size
    );

    // A tree under the claimed diff_ids is cached now: the lying blobs
    // must still decompress to them before it is used.
    let err = prepare(&ctx, &image(&lying), &platform, None, 0).unwrap_err();
    assert!(
        matches!(
            &err,
            BuildError::Layer(lockship_layer::LayerError::DiffIdMismatch { .. })
        ),
        "{err:?}"
    );
    let again = prepare(&ctx, &image(&honest), &platform, None, 0).unwrap();
    assert!(again.tree_cached);
    assert_eq!(again.tree_key, prepared.tree_key);
}

/// A plain tar layer of files named raw (no directory entries, so
/// nothing replaces a symlink a lower layer planted), in `dir`.
fn raw_layer(dir: &Path, name: &str, files: &[(&str, &[u8])]) -> Layer {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_cksum();
        tar.append(&header, *data).unwrap();
    }
    let bytes = tar.into_inner().unwrap();
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    Layer {
        path,
        digest: digest.clone(),
        diff_id: digest,
        size: bytes.len() as u64,
        uncompressed_size: bytes.len() as u64,
        compression: Compression::None,
    }
}

/// Finding 2, through `--base-image`: a base layer plants `esc -> CANARY`,
/// the next one whites out, empties and writes through it; the canary
/// outside the cache is untouched, and a top-level `.wh...` is refused.
#[test]
fn hostile_base_layers_stay_in_the_unpacked_tree() {
    use lockship_layer::{write_layer, LayerOptions};
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("canary");
    file(&canary, "file", b"canary");
    file(&canary, "dir/inner", b"inner");
    let lower = dir.path().join("lower");
    official_slim(&lower);
    link(&lower, "esc", canary.to_str().unwrap());
    let blobs = dir.path().join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let options = LayerOptions::new(Compression::Gzip, 0);
    let layers = vec![
        write_layer(&lower, &options, &blobs).unwrap(),
        raw_layer(
            &blobs,
            "upper",
            &[
                ("esc/.wh.file", b""),
                ("esc/dir/.wh..wh..opq", b""),
                ("esc/planted", b"evil"),
            ],
        ),
    ];
    let cache = lockship_fetch::Cache::open(dir.path().join("cache")).unwrap();
    let fetcher = lockship_fetch::Fetcher::new(lockship_fetch::FetchOptions::default()).unwrap();
    let ctx = Context {
        fetcher: &fetcher,
        cache: &cache,
        reporter: &lockship_fetch::NoReporter,
    };
    let base = PulledBase {
        layers,
        ..pulled(&["PATH=/usr/local/bin:/usr/bin:/bin"])
    };
    let prepared = prepare(&ctx, &base, &Platform::linux_amd64(), None, 0).unwrap();
    assert_eq!(std::fs::read(canary.join("file")).unwrap(), b"canary");
    assert_eq!(std::fs::read(canary.join("dir/inner")).unwrap(), b"inner");
    assert!(!canary.join("planted").exists());
    assert!(std::fs::symlink_metadata(prepared.tree.join("esc"))
        .unwrap()
        .file_type()
        .is_symlink());
    let rerooted = prepared.tree.join(canary.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(rerooted.join("planted")).unwrap(), b"evil");

    // `.wh...` at the top hides `..`: the cache's own tmp, once.
    let other_build = cache.root().join("tmp/other-build");
    std::fs::write(&other_build, b"other").unwrap();
    let hostile = raw_layer(&blobs, "dotdot", &[(".wh...", b"")]);
    let base = PulledBase {
        layers: vec![hostile.clone()],
        ..pulled(&[])
    };
    let err = prepare(&ctx, &base, &Platform::linux_amd64(), None, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Layer `{}` has entry `.wh...`, which is a whiteout of `..`, not of a plain name",
            hostile.digest
        )
    );
    assert!(err.hint().unwrap().contains("hostile"), "{:?}", err.hint());
    assert_eq!(std::fs::read(&other_build).unwrap(), b"other");
    assert!(prepared.tree.join("usr/local/bin/python3.12").is_file());
}

#[test]
fn sources_parse_by_transport() {
    assert!(matches!(
        BaseImageSource::parse("oci:./layout").unwrap(),
        BaseImageSource::Local(Output::OciDir(_))
    ));
    assert!(matches!(
        BaseImageSource::parse("127.0.0.1:5000/python:3.12-slim").unwrap(),
        BaseImageSource::Registry(_)
    ));
    assert!(BaseImageSource::parse("python:3.12-slim").is_err());
}
