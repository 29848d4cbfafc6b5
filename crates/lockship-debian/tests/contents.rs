//! The Contents index of the tiny signed repository: open (cold and warm),
//! query, and the failure modes.

mod common;

use common::*;
use lockship_debian::{ContentsIndex, DebianError, FileQuery, Keyring, RepoOptions, Repository};
use lockship_fetch::{Cache, FetchError, FetchOptions, Fetcher, NoReporter};

fn packages() -> Vec<FakePackage> {
    vec![
        FakePackage {
            name: "libc6",
            version: "2.36-9",
            fields: "",
            data: vec![
                Entry::File("./lib/x86_64-linux-gnu/libc.so.6", b"libc", 0o755),
                Entry::File("./usr/lib/x86_64-linux-gnu/gconv/UTF-7.so", b"gconv", 0o644),
            ],
        },
        FakePackage {
            name: "libc6-dev",
            version: "2.36-9",
            fields: "",
            data: vec![
                Entry::File("./usr/include/stdio.h", b"/* stdio */", 0o644),
                Entry::Symlink("./usr/lib/x86_64-linux-gnu/libc.so", "libc.so.6"),
            ],
        },
        FakePackage {
            name: "python3",
            version: "3.11.2-1",
            fields: "",
            data: vec![Entry::Symlink("./usr/bin/python3", "python3.11")],
        },
    ]
}

struct Setup {
    _dir: tempfile::TempDir,
    fake: FakeRepo,
    repo: Repository,
    cache: Cache,
    fetcher: Fetcher,
}

fn setup() -> Setup {
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
    Setup {
        _dir: dir,
        fake,
        repo,
        cache,
        fetcher,
    }
}

#[test]
fn open_query_and_reopen_from_the_cache() {
    let s = setup();
    let index = ContentsIndex::open(&s.repo, &s.fetcher, &s.cache, "main", &NoReporter).unwrap();
    assert!(!index.libraries_were_cached());
    assert!(index
        .origin()
        .ends_with("dists/testing/main/Contents-amd64.gz"));
    let gz = fs_err::read(&s.fake.contents_gz).unwrap();
    assert_eq!(index.sha256(), sha256(&gz));
    // The download went through the content-addressed cache.
    assert!(s.cache.get(&sha256(&gz)).unwrap().is_some());
    assert_eq!(index.library_count(), 3);

    let hits = index.packages_for_soname("libc.so.6");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].path, "lib/x86_64-linux-gnu/libc.so.6");
    assert_eq!(hits[0].packages, vec!["libc6"]);
    assert!(index.packages_for_soname("libnothere.so.1").is_empty());

    let results = index
        .search(&[
            FileQuery::Header("stdio.h".into()),
            FileQuery::LinkerLib("c".into()),
            FileQuery::Executable("python3".into()),
            FileQuery::Executable("gcc".into()),
        ])
        .unwrap();
    let firsts: Vec<Option<&str>> = results
        .iter()
        .map(|(_, hits)| hits.first().map(|h| h.packages[0].as_str()))
        .collect();
    assert_eq!(
        firsts,
        vec![Some("libc6-dev"), Some("libc6-dev"), Some("python3"), None]
    );

    // Warm: the derived index comes from the cache.
    let again = s
        .repo
        .contents(&s.fetcher, &s.cache, "main", &NoReporter)
        .unwrap();
    assert!(again.libraries_were_cached());
    assert_eq!(
        again.packages_for_soname("libc.so.6"),
        index.packages_for_soname("libc.so.6")
    );
    // Even with the file gone from the mirror.
    fs_err::remove_file(&s.fake.contents_gz).unwrap();
    let third = ContentsIndex::open(&s.repo, &s.fetcher, &s.cache, "main", &NoReporter).unwrap();
    assert!(third.libraries_were_cached());
    assert_eq!(third.library_count(), 3);
}

#[test]
fn a_damaged_derived_index_is_rebuilt() {
    let s = setup();
    let index = ContentsIndex::open(&s.repo, &s.fetcher, &s.cache, "main", &NoReporter).unwrap();
    let keyed = s.cache.root().join("keyed");
    let mut files = Vec::new();
    let mut stack = vec![keyed];
    while let Some(dir) = stack.pop() {
        for entry in fs_err::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert_eq!(files.len(), 1, "{files:?}");
    let derived = &files[0];
    let path = derived.to_string_lossy().to_string();
    assert!(path.contains(index.sha256()), "{path}");
    fs_err::write(derived, "garbage").unwrap();
    let again = ContentsIndex::open(&s.repo, &s.fetcher, &s.cache, "main", &NoReporter).unwrap();
    assert!(!again.libraries_were_cached());
    assert_eq!(again.library_count(), 3);
    assert!(fs_err::read_to_string(derived)
        .unwrap()
        .starts_with("lockship-contents-libs\t"));
}

#[test]
fn a_tampered_contents_file_is_refused_and_not_cached() {
    let s = setup();
    let evil = compress(
        b"usr/lib/x86_64-linux-gnu/libc.so.6 libs/evil\n",
        Compression::Gz,
    );
    fs_err::write(&s.fake.contents_gz, &evil).unwrap();
    let err = ContentsIndex::open(&s.repo, &s.fetcher, &s.cache, "main", &NoReporter).unwrap_err();
    match &err {
        DebianError::Fetch {
            url,
            source: FetchError::HashMismatch { .. },
        } => assert!(url.ends_with("main/Contents-amd64.gz"), "{url}"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.hint().is_some());
    assert!(s.cache.get(&sha256(&evil)).unwrap().is_none());
    assert_eq!(
        fs_err::read_dir(s.cache.root().join("keyed"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn missing_contents_and_components_are_explained() {
    let mut s = setup();
    // `contrib` is a component of the suite, but it has no Contents file.
    let err =
        ContentsIndex::open(&s.repo, &s.fetcher, &s.cache, "contrib", &NoReporter).unwrap_err();
    assert!(
        matches!(&err, DebianError::MissingContents { component, arch, .. } if component == "contrib" && arch == "amd64"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("`contrib/Contents-amd64.gz`"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("full Debian mirror"));

    let err =
        ContentsIndex::open(&s.repo, &s.fetcher, &s.cache, "non-free", &NoReporter).unwrap_err();
    assert!(
        matches!(err, DebianError::MissingComponent { .. }),
        "{err:?}"
    );

    s.repo.options.arch = "arm64".into();
    let err = ContentsIndex::open(&s.repo, &s.fetcher, &s.cache, "main", &NoReporter).unwrap_err();
    assert!(
        matches!(&err, DebianError::MissingContents { arch, .. } if arch == "arm64"),
        "{err:?}"
    );
    assert!(err.to_string().contains("InRelease"), "{err}");
}
