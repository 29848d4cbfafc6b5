//! The one Debian-tree pipeline over a tiny signed repository served from a
//! `file://` URL: resolve, fetch, unpack, prune and lay down as a layer (and
//! from the layer cache the second time), as a cached directory, and as the
//! system-libraries layer over a runtime base.

// Its own `#![allow(dead_code)]` covers what these tests leave unused.
#[path = "../../lockship-debian/tests/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use common::*;
use lockship_debian::{Keyring, RepoOptions, Repository};
use lockship_fetch::{Cache, FetchOptions, Fetcher, NoReporter};
use lockship_layer::{Compression, LayerOptions};
use lockship_runtime::debtree::{DebTree, LayerStep};
use lockship_runtime::{BasePlan, Context, PythonRuntime};

fn packages() -> Vec<FakePackage> {
    vec![
        FakePackage {
            name: "app",
            version: "1.0-1",
            fields: "Depends: libfoo1 (>= 1.0)\n",
            data: vec![
                Entry::Dir("./", 0o755),
                Entry::Dir("./usr/", 0o755),
                Entry::Dir("./usr/bin/", 0o755),
                Entry::File("./usr/bin/app", b"#!/bin/sh\n", 0o755),
                Entry::File("./usr/share/doc/app/copyright", b"MIT", 0o644),
                Entry::File("./usr/share/doc/app/changelog.gz", b"log", 0o644),
            ],
        },
        FakePackage {
            name: "libfoo1",
            version: "1.2-3",
            fields: "",
            data: vec![
                Entry::Dir("./lib/", 0o755),
                Entry::Dir("./lib/x86_64-linux-gnu/", 0o755),
                Entry::File("./lib/x86_64-linux-gnu/libfoo.so.1", b"not elf", 0o644),
            ],
        },
        FakePackage {
            name: "unrelated",
            version: "9",
            fields: "",
            data: vec![Entry::File("./etc/unrelated", b"x", 0o644)],
        },
    ]
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    cache: Cache,
    fetcher: Fetcher,
    repo: Repository,
}

fn fixture() -> Fixture {
    let key = generate_key("archive");
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_repo(&dir.path().join("mirror"), "testing", &[&key], &packages());
    let keyring = Keyring::from_bytes(&binary_keyring(&[&key])).unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    let fetcher = Fetcher::new(FetchOptions {
        attempts: 1,
        ..FetchOptions::default()
    })
    .unwrap();
    let repo = Repository::open(
        &fetcher,
        &cache,
        &keyring,
        RepoOptions {
            mirror: fake.mirror.clone(),
            suite: "testing".into(),
            arch: "amd64".into(),
            components: vec!["main".into()],
        },
        &NoReporter,
    )
    .unwrap();
    Fixture {
        root: dir.path().to_path_buf(),
        _dir: dir,
        cache,
        fetcher,
        repo,
    }
}

fn layer_options() -> LayerOptions {
    LayerOptions {
        compression: Compression::Gzip,
        level: None,
        mtime: lockship_runtime::DEFAULT_EPOCH,
        overrides: BTreeMap::new(),
    }
}

/// The paths of a gzip layer, sorted.
fn layer_paths(path: &Path) -> Vec<String> {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(fs_err::File::open(path).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut paths: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    paths.sort();
    paths
}

#[test]
fn one_pipeline_resolves_fetches_unpacks_prunes_and_lays_down_a_layer() {
    let f = fixture();
    let ctx = Context {
        fetcher: &f.fetcher,
        cache: &f.cache,
        reporter: &NoReporter,
    };
    let tree = DebTree::resolve(&f.repo, vec!["app".into()], BTreeSet::new()).unwrap();
    let names: Vec<&str> = tree.packages().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["app", "libfoo1"]);
    assert_eq!(tree.pins()[1].version, "1.2-3");

    let options = layer_options();
    let step = LayerStep {
        key: "debtree-test-v1",
        options: &options,
        phase: "unpacking".into(),
    };
    let lay = |tree: &DebTree| {
        tree.layer(&ctx, &step, |root, fetched| {
            assert_eq!(fetched.debs().len(), 2);
            let mut seen = Vec::new();
            fetched.unpack(
                root,
                &|_, path| !path.ends_with("changelog.gz"),
                &mut |package, unpacked| {
                    assert_eq!(unpacked.package, package.name);
                    seen.push(package.name.clone());
                    Ok(())
                },
            )?;
            Ok(seen)
        })
        .unwrap()
    };
    let (layer, cached, seen) = lay(&tree);
    assert!(!cached);
    assert_eq!(seen.unwrap(), ["app", "libfoo1"]);
    let paths = layer_paths(&layer.path);
    assert!(paths.iter().any(|p| p == "usr/bin/app"), "{paths:?}");
    assert!(paths.iter().any(|p| p == "usr/share/doc/app/copyright"));
    // Merged /usr: /lib lands in /usr/lib.
    assert!(
        paths
            .iter()
            .any(|p| p == "usr/lib/x86_64-linux-gnu/libfoo.so.1"),
        "{paths:?}"
    );
    assert!(!paths.iter().any(|p| p.ends_with("changelog.gz")), "pruned");
    assert!(!paths.iter().any(|p| p.contains("unrelated")));

    // The same key again: from the layer cache, nothing assembled.
    let (again, cached, seen) = lay(&tree);
    assert!(cached);
    assert!(seen.is_none());
    assert_eq!(again.digest, layer.digest);
}

#[test]
fn a_directory_tree_is_laid_down_once_and_marked_ready() {
    let f = fixture();
    let ctx = Context {
        fetcher: &f.fetcher,
        cache: &f.cache,
        reporter: &NoReporter,
    };
    let tree = DebTree::resolve(&f.repo, vec!["app".into()], BTreeSet::new()).unwrap();
    let dir = f.root.join("trees/env");
    let cached = tree
        .directory(&ctx, &dir, "etc/ready", "unpacking", |root, fetched| {
            fetched.unpack(root, &|_, _| true, &mut |_, _| Ok(()))
        })
        .unwrap();
    assert!(!cached);
    assert!(dir.join("usr/bin/app").is_file());
    assert_eq!(
        fs_err::read_to_string(dir.join("etc/ready")).unwrap(),
        "app=1.0-1\nlibfoo1=1.2-3\n"
    );
    let cached = tree
        .directory(&ctx, &dir, "etc/ready", "unpacking", |_, _| {
            panic!("a ready tree is not assembled again")
        })
        .unwrap();
    assert!(cached);

    // A tree without its mark is unfinished: it is replaced.
    fs_err::remove_file(dir.join("etc/ready")).unwrap();
    fs_err::write(dir.join("leftover"), b"half").unwrap();
    let cached = tree
        .directory(&ctx, &dir, "etc/ready", "unpacking", |root, fetched| {
            fetched.unpack(root, &|_, _| true, &mut |_, _| Ok(()))
        })
        .unwrap();
    assert!(!cached);
    assert!(!dir.join("leftover").exists());
    assert!(dir.join("etc/ready").is_file());
}

#[test]
fn system_libraries_layer_over_a_base_is_pruned_and_keeps_the_base_links() {
    let f = fixture();
    let ctx = Context {
        fetcher: &f.fetcher,
        cache: &f.cache,
        reporter: &NoReporter,
    };
    let base = BasePlan {
        python: PythonRuntime::lookup("3.11").unwrap(),
        platform: "linux/amd64".into(),
        debian_arch: "amd64".into(),
        triplet: "x86_64-linux-gnu".into(),
        roots: Vec::new(),
        skipped: Vec::new(),
        packages: Vec::new(),
    };
    let base_tree = tempfile::tempdir().unwrap();
    let tree = DebTree::resolve(&f.repo, vec!["libfoo1".into()], BTreeSet::new()).unwrap();
    let options = layer_options();
    let step = LayerStep {
        key: "debtree-syslibs-test-v1",
        options: &options,
        phase: "unpacking".into(),
    };
    // As the build's own layer cache calls it: a closure over a staging directory.
    let staging = tempfile::tempdir().unwrap();
    tree.stage_over_base(&ctx, staging.path(), &base, base_tree.path())
        .unwrap();
    assert!(staging
        .path()
        .join("usr/lib/x86_64-linux-gnu/libfoo.so.1")
        .is_file());
    // Through the runtime's layer cache.
    let (layer, cached, _) = tree
        .layer(&ctx, &step, |root, fetched| {
            fetched.unpack_over_base(root, &base, base_tree.path())
        })
        .unwrap();
    assert!(!cached);
    let paths = layer_paths(&layer.path);
    assert!(paths.iter().any(|p| p == "var/lib/dpkg/status.d/libfoo1"));
    assert!(paths.iter().any(|p| p == "etc/ld.so.cache"), "{paths:?}");
    assert!(
        !paths
            .iter()
            .any(|p| p == "lib" || p == "lib/" || p.starts_with("lib/")),
        "a /lib directory would hide the base's merged-/usr link: {paths:?}"
    );
}
