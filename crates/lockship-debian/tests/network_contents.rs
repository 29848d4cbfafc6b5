//! The Contents index of the real Debian mirror configured in the host's apt
//! sources. Skipped (with a message) when there is no mirror, keyring or
//! network, unless `CI=true`, where that is a failure.

use std::path::Path;
use std::time::Instant;

use lockship_debian::{
    mirror_from_apt_sources, ContentsIndex, FileQuery, Keyring, RepoOptions, Repository,
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
fn real_mirror_contents_index() {
    let mirror = match mirror_from_apt_sources(Path::new("/")) {
        Ok(Some(m)) => m,
        Ok(None) => return skip("no Debian mirror in the apt sources"),
        Err(e) => return skip(&format!("cannot read the apt sources: {e}")),
    };
    let keyring = match Keyring::load(Path::new(Keyring::DEFAULT_PATH)) {
        Ok(k) => k,
        Err(e) => return skip(&format!("no archive keyring: {e}")),
    };
    let fetcher = Fetcher::new(FetchOptions {
        attempts: 2,
        ..FetchOptions::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    let repo = match Repository::open(
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
    ) {
        Ok(repo) => repo,
        Err(lockship_debian::DebianError::Fetch { url, source }) => {
            return skip(&format!("cannot fetch `{url}`: {source}"))
        }
        Err(e) => panic!("{e}"),
    };

    let start = Instant::now();
    let cold = ContentsIndex::open(&repo, &fetcher, &cache, "main", &NoReporter).unwrap();
    let cold_time = start.elapsed();
    assert!(!cold.libraries_were_cached());
    let start = Instant::now();
    let index = ContentsIndex::open(&repo, &fetcher, &cache, "main", &NoReporter).unwrap();
    let warm_time = start.elapsed();
    assert!(index.libraries_were_cached());
    assert_eq!(index.library_count(), cold.library_count());
    let derived = cache
        .keyed_dir("debian-contents", &format!("v1-{}", index.sha256()))
        .join("libs.tsv");
    let derived_size = fs_err::metadata(&derived).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "Contents index: cold open {cold_time:?} (download + derive), warm open {warm_time:?}, \
         {} library paths, derived index {derived_size} bytes",
        index.library_count()
    );

    let hits = index.packages_for_soname("libpq.so.5");
    assert!(!hits.is_empty());
    assert_eq!(hits[0].packages[0], "libpq5", "{hits:?}");
    assert_eq!(hits[0].path, "usr/lib/x86_64-linux-gnu/libpq.so.5");
    assert!(index
        .packages_for_soname("liblockship-made-up-name.so.7")
        .is_empty());

    let start = Instant::now();
    let results = index
        .search(&[
            FileQuery::Header("libpq-fe.h".into()),
            FileQuery::Header("postgresql/libpq-fe.h".into()),
            FileQuery::Executable("pg_config".into()),
            FileQuery::LinkerLib("pq".into()),
            FileQuery::Path("lockship/made/up/path".into()),
        ])
        .unwrap();
    eprintln!(
        "Contents search (5 queries, one pass): {:?}",
        start.elapsed()
    );
    let has = |i: usize, pkg: &str| {
        results[i]
            .1
            .iter()
            .any(|h| h.packages.iter().any(|p| p == pkg))
    };
    assert!(has(0, "libpq-dev"), "{:?}", results[0]);
    assert_eq!(results[0].1[0].packages[0], "libpq-dev", "{:?}", results[0]);
    assert!(has(1, "libpq-dev"), "{:?}", results[1]);
    assert!(has(2, "libpq-dev"), "{:?}", results[2]);
    assert_eq!(results[3].1[0].packages[0], "libpq-dev", "{:?}", results[3]);
    assert!(results[4].1.is_empty());
}
