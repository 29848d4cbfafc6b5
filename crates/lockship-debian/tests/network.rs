//! Against the real Debian mirror configured in the host's apt sources, with
//! the host's archive keyring. Skipped (with a message) when there is no
//! mirror, keyring or network, unless `CI=true`, where that is a failure.

use std::collections::BTreeSet;
use std::path::Path;

use lockship_debian::{
    mirror_from_apt_sources, resolve, unpack_deb, verify_inrelease, DebianError, Keyring,
    RepoOptions, Repository, ResolveRequest, UnpackOptions,
};
use lockship_fetch::{Cache, FetchOptions, Fetcher, NoReporter};

const SUITE: &str = "bookworm";

fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("network test cannot run under CI=true: {why}");
    }
    println!("skipping: no network/mirror ({why})");
}

#[test]
fn real_mirror_inrelease_packages_and_deb() {
    let mirror = match mirror_from_apt_sources(Path::new("/")) {
        Ok(Some(m)) => m,
        Ok(None) => return skip("no Debian mirror in the apt sources"),
        Err(e) => return skip(&format!("cannot read the apt sources: {e}")),
    };
    let keyring = match Keyring::load(Path::new(Keyring::DEFAULT_PATH)) {
        Ok(k) => k,
        Err(e) => return skip(&format!("no archive keyring: {e}")),
    };
    assert!(keyring.len() >= 2, "the archive keyring holds several keys");
    let fetcher = Fetcher::new(FetchOptions {
        attempts: 2,
        ..FetchOptions::default()
    })
    .unwrap();
    let mut base = mirror.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    let inrelease_url = url::Url::parse(&format!("{base}dists/{SUITE}/InRelease")).unwrap();
    let bytes = match fetcher.get_bytes(&inrelease_url) {
        Ok(b) => b,
        Err(e) => return skip(&format!("cannot fetch `{inrelease_url}`: {e}")),
    };

    // The real InRelease verifies against the real keyring.
    let release = verify_inrelease(&bytes, &keyring, inrelease_url.as_str()).unwrap();
    assert_eq!(release.codename, SUITE);
    assert!(release.architectures.iter().any(|a| a == "amd64"));
    assert!(release.sha256.contains_key("main/binary-amd64/Packages.xz"));

    // One flipped byte in the signed text is refused.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let at = text.find("Codename: ").unwrap() + "Codename: ".len();
    let mut tampered = bytes.clone();
    tampered[at] = if tampered[at] == b'x' { b'y' } else { b'x' };
    let err = verify_inrelease(&tampered, &keyring, "tampered").unwrap_err();
    match err {
        DebianError::BadSignature { key_ids, .. } => assert!(!key_ids.is_empty()),
        other => panic!("unexpected {other:?}"),
    }

    // Open the suite, resolve python3, fetch and unpack one small package.
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    let repo = Repository::open(
        &fetcher,
        &cache,
        &keyring,
        RepoOptions {
            mirror,
            suite: SUITE.into(),
            arch: "amd64".into(),
            components: vec!["main".into()],
        },
        &NoReporter,
    )
    .unwrap();
    assert!(repo.index.len() > 30_000, "{} packages", repo.index.len());
    let resolution = resolve(
        &repo.index,
        &ResolveRequest {
            roots: vec!["python3".into()],
            exclude: BTreeSet::from(["perl-base".to_string()]),
        },
    )
    .unwrap();
    let names: Vec<_> = resolution
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    for expected in [
        "python3",
        "python3.11",
        "python3.11-minimal",
        "libc6",
        "libpython3.11-stdlib",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(!names.contains(&"perl-base"));

    let media = repo
        .index
        .get("media-types")
        .expect("media-types is in main")
        .clone();
    let debs = repo
        .fetch_debs(&fetcher, &cache, &[media], &NoReporter)
        .unwrap();
    let rootfs = dir.path().join("rootfs");
    fs_err::create_dir(&rootfs).unwrap();
    let unpacked = unpack_deb(&debs[0], &rootfs, &UnpackOptions::default(), &|_: &str| {
        true
    })
    .unwrap();
    assert_eq!(unpacked.package, "media-types");
    assert!(unpacked.files.contains(&"/etc/mime.types".to_string()));
    assert!(rootfs.join("etc/mime.types").is_file());
    assert!(unpacked.md5sums.is_some());
}
