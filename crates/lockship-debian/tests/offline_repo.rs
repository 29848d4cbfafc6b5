//! A tiny signed repository served from a `file://` URL: open, resolve,
//! fetch and unpack end to end, plus the failure modes.

mod common;

use std::collections::BTreeSet;

use common::*;
use lockship_debian::{
    resolve, unpack_deb, DebianError, Keyring, RepoOptions, Repository, ResolveRequest,
    UnpackOptions,
};
use lockship_fetch::{Cache, FetchError, FetchOptions, Fetcher, NoReporter, Reporter};

fn packages() -> Vec<FakePackage> {
    vec![
        FakePackage {
            name: "python3",
            version: "3.11.2-1",
            fields: "Depends: python3.11 (>= 3.11.2), libc6 | libc6-alt\nRecommends: docs\n",
            data: vec![
                Entry::Dir("./", 0o755),
                Entry::Dir("./usr/", 0o755),
                Entry::Dir("./usr/bin/", 0o755),
                Entry::Symlink("./usr/bin/python3", "python3.11"),
            ],
        },
        FakePackage {
            name: "python3.11",
            version: "3.11.2-6",
            fields: "Pre-Depends: libc6 (>= 2.36)\nDepends: mime-support\n",
            data: vec![
                Entry::Dir("./usr/bin/", 0o755),
                Entry::File("./usr/bin/python3.11", b"\x7fELF python", 0o755),
                Entry::File("./usr/share/doc/python3.11/copyright", b"PSF", 0o644),
            ],
        },
        FakePackage {
            name: "libc6",
            version: "2.36-9",
            fields: "Provides: libc6-alt\n",
            data: vec![Entry::File(
                "./lib/x86_64-linux-gnu/libc.so.6",
                b"libc",
                0o755,
            )],
        },
        FakePackage {
            name: "media-types",
            version: "10.0.0",
            fields: "Provides: mime-support\n",
            data: vec![Entry::File("./etc/mime.types", b"text/plain txt", 0o644)],
        },
        FakePackage {
            name: "docs",
            version: "1",
            fields: "",
            data: vec![],
        },
    ]
}

fn options(repo: &FakeRepo, suite: &str, arch: &str) -> RepoOptions {
    RepoOptions {
        mirror: repo.mirror.clone(),
        suite: suite.to_string(),
        arch: arch.to_string(),
        components: vec!["main".to_string()],
    }
}

fn fetcher() -> Fetcher {
    Fetcher::new(FetchOptions {
        attempts: 1,
        ..FetchOptions::default()
    })
    .unwrap()
}

#[derive(Default)]
struct Counting(std::sync::Mutex<Vec<(String, bool)>>);
impl Reporter for Counting {
    fn download_done(&self, name: &str, cached: bool) {
        self.0.lock().unwrap().push((name.to_string(), cached));
    }
}

#[test]
fn open_resolve_fetch_and_unpack_end_to_end() {
    let key = generate_key("archive");
    let other = generate_key("other");
    let dir = tempfile::tempdir().unwrap();
    // Signed by a key missing from the keyring and by the trusted one.
    let repo = fake_repo(
        &dir.path().join("mirror"),
        "testing",
        &[&other, &key],
        &packages(),
    );
    let keyring = Keyring::from_bytes(&binary_keyring(&[&key])).unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    let fetcher = fetcher();
    let reporter = Counting::default();

    let opened = Repository::open(
        &fetcher,
        &cache,
        &keyring,
        options(&repo, "testing", "amd64"),
        &reporter,
    )
    .unwrap();
    assert_eq!(opened.release.codename, "testing");
    assert_eq!(opened.index.len(), 5);
    // The index went through the cache under its Release hash.
    let xz = fs_err::read(&repo.packages_xz).unwrap();
    assert!(cache.get(&sha256(&xz)).unwrap().is_some());
    assert_eq!(
        reporter.0.lock().unwrap().as_slice(),
        &[("Packages.xz".to_string(), false)]
    );

    let resolution = resolve(
        &opened.index,
        &ResolveRequest {
            roots: vec!["python3".into()],
            exclude: BTreeSet::new(),
        },
    )
    .unwrap();
    let names: Vec<_> = resolution
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, vec!["libc6", "media-types", "python3", "python3.11"]);

    let url = opened.deb_url(&resolution.packages[0]);
    assert!(url.as_str().starts_with(repo.mirror.as_str()));
    assert!(url
        .as_str()
        .ends_with("pool/main/l/libc6/libc6_2.36-9_amd64.deb"));

    let debs = opened
        .fetch_debs(&fetcher, &cache, &resolution.packages, &NoReporter)
        .unwrap();
    assert_eq!(debs.len(), 4);
    for (deb, pkg) in debs.iter().zip(&resolution.packages) {
        assert_eq!(deb, &cache.path_for(&pkg.sha256));
    }

    let rootfs = dir.path().join("rootfs");
    fs_err::create_dir(&rootfs).unwrap();
    let mut all_files = Vec::new();
    for deb in &debs {
        let unpacked = unpack_deb(deb, &rootfs, &UnpackOptions::default(), &|p: &str| {
            !p.starts_with("/usr/share/doc/")
        })
        .unwrap();
        all_files.extend(unpacked.files);
    }
    assert_eq!(
        fs_err::read(rootfs.join("usr/bin/python3.11")).unwrap(),
        b"\x7fELF python"
    );
    assert_eq!(
        fs_err::read_link(rootfs.join("usr/bin/python3")).unwrap(),
        std::path::Path::new("python3.11")
    );
    assert!(rootfs.join("usr/lib/x86_64-linux-gnu/libc.so.6").is_file());
    assert!(rootfs.join("etc/mime.types").is_file());
    assert!(!rootfs.join("usr/share/doc").exists());
    assert!(all_files.contains(&"/usr/lib/x86_64-linux-gnu/libc.so.6".to_string()));

    // A warm cache needs no download: with the pool gone, fetching still works,
    // and opening again reads the index from the cache.
    fs_err::remove_dir_all(repo.root.join("pool")).unwrap();
    let again = opened
        .fetch_debs(&fetcher, &cache, &resolution.packages, &NoReporter)
        .unwrap();
    assert_eq!(again, debs);
    fs_err::remove_file(&repo.packages_xz).unwrap();
    let reporter = Counting::default();
    Repository::open(
        &fetcher,
        &cache,
        &keyring,
        options(&repo, "testing", "amd64"),
        &reporter,
    )
    .unwrap();
    assert_eq!(
        reporter.0.lock().unwrap().as_slice(),
        &[("Packages.xz".to_string(), true)]
    );
}

#[test]
fn a_tampered_index_is_refused_and_not_cached() {
    let key = generate_key("archive");
    let dir = tempfile::tempdir().unwrap();
    let repo = fake_repo(&dir.path().join("mirror"), "testing", &[&key], &packages());
    let keyring = Keyring::from_bytes(&binary_keyring(&[&key])).unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    // Replace the index after signing.
    let evil = compress(
        b"Package: evil\nVersion: 1\nArchitecture: amd64\nFilename: x\nSize: 1\nSHA256: 00\n",
        Compression::Xz,
    );
    fs_err::write(&repo.packages_xz, &evil).unwrap();
    let err = Repository::open(
        &fetcher(),
        &cache,
        &keyring,
        options(&repo, "testing", "amd64"),
        &NoReporter,
    )
    .unwrap_err();
    match &err {
        DebianError::Fetch {
            url,
            source: FetchError::HashMismatch { .. },
        } => {
            assert!(url.ends_with("main/binary-amd64/Packages.xz"), "{url}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.hint().is_some());
    assert_eq!(
        fs_err::read_dir(cache.root().join("sha256"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_tampered_deb_is_refused_and_not_cached() {
    let key = generate_key("archive");
    let dir = tempfile::tempdir().unwrap();
    let repo = fake_repo(&dir.path().join("mirror"), "testing", &[&key], &packages());
    let keyring = Keyring::from_bytes(&binary_keyring(&[&key])).unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    let opened = Repository::open(
        &fetcher(),
        &cache,
        &keyring,
        options(&repo, "testing", "amd64"),
        &NoReporter,
    )
    .unwrap();
    let libc = opened.index.get("libc6").unwrap().clone();
    let deb_path = repo.root.join(&libc.filename);
    let mut bytes = fs_err::read(&deb_path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs_err::write(&deb_path, &bytes).unwrap();
    let docs = opened.index.get("docs").unwrap().clone();
    let err = opened
        .fetch_debs(&fetcher(), &cache, &[docs, libc.clone()], &NoReporter)
        .unwrap_err();
    assert!(
        matches!(&err, DebianError::Fetch { url, source: FetchError::HashMismatch { .. } } if url.contains("libc6_2.36-9")),
        "{err:?}"
    );
    assert!(cache.get(&libc.sha256).unwrap().is_none());
}

#[test]
fn a_repository_signed_by_an_unknown_key_is_refused() {
    let key = generate_key("archive");
    let stranger = generate_key("stranger");
    let dir = tempfile::tempdir().unwrap();
    let repo = fake_repo(
        &dir.path().join("mirror"),
        "testing",
        &[&stranger],
        &packages(),
    );
    let keyring = Keyring::from_bytes(&binary_keyring(&[&key])).unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    let err = Repository::open(
        &fetcher(),
        &cache,
        &keyring,
        options(&repo, "testing", "amd64"),
        &NoReporter,
    )
    .unwrap_err();
    match &err {
        DebianError::BadSignature {
            origin, key_ids, ..
        } => {
            assert!(origin.ends_with("dists/testing/InRelease"), "{origin}");
            assert_eq!(key_ids.len(), 1);
        }
        other => panic!("unexpected {other:?}"),
    }
    // Nothing was fetched into the cache.
    assert_eq!(
        fs_err::read_dir(cache.root().join("sha256"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn missing_architecture_component_and_suite_are_explained() {
    let key = generate_key("archive");
    let dir = tempfile::tempdir().unwrap();
    let repo = fake_repo(&dir.path().join("mirror"), "testing", &[&key], &packages());
    let keyring = Keyring::from_bytes(&binary_keyring(&[&key])).unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    let err = Repository::open(
        &fetcher(),
        &cache,
        &keyring,
        options(&repo, "testing", "riscv64"),
        &NoReporter,
    )
    .unwrap_err();
    assert!(
        matches!(&err, DebianError::MissingArchitecture { arch, available, .. }
        if arch == "riscv64" && available == &vec!["amd64".to_string(), "arm64".to_string()]),
        "{err:?}"
    );
    assert!(err.to_string().contains("amd64, arm64"), "{err}");

    // arm64 is listed but has no index.
    let err = Repository::open(
        &fetcher(),
        &cache,
        &keyring,
        options(&repo, "testing", "arm64"),
        &NoReporter,
    )
    .unwrap_err();
    assert!(
        matches!(&err, DebianError::MissingIndex { path, .. } if path == "main/binary-arm64/Packages"),
        "{err:?}"
    );

    let mut opts = options(&repo, "testing", "amd64");
    opts.components = vec!["non-free".into()];
    let err = Repository::open(&fetcher(), &cache, &keyring, opts, &NoReporter).unwrap_err();
    assert!(
        matches!(&err, DebianError::MissingComponent { component, .. } if component == "non-free"),
        "{err:?}"
    );

    let err = Repository::open(
        &fetcher(),
        &cache,
        &keyring,
        options(&repo, "nosuch", "amd64"),
        &NoReporter,
    )
    .unwrap_err();
    assert!(
        matches!(&err, DebianError::Fetch { url, .. } if url.ends_with("dists/nosuch/InRelease")),
        "{err:?}"
    );

    // A validly signed Release of another suite served under this suite's path.
    fs_err::create_dir_all(repo.root.join("dists/stable")).unwrap();
    fs_err::copy(
        repo.root.join("dists/testing/InRelease"),
        repo.root.join("dists/stable/InRelease"),
    )
    .unwrap();
    let err = Repository::open(
        &fetcher(),
        &cache,
        &keyring,
        options(&repo, "stable", "amd64"),
        &NoReporter,
    )
    .unwrap_err();
    assert!(err.to_string().contains("not `stable`"), "{err}");
}
