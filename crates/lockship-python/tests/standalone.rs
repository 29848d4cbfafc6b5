//! The standalone CPython provider end to end, against releases built at
//! test time in python-build-standalone's exact layout and names and served
//! from 127.0.0.1 (issue 13, section 2, "Tests").

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{asset_name, closed_port, serve, standard_entries, tar_gz, Entry, Release};
use lockship_fetch::{Cache, FetchOptions, Fetcher, NoReporter};
use lockship_python::*;

const TAG: &str = "20241016";
const X86: &str = "x86_64-unknown-linux-gnu";

fn fetcher() -> Fetcher {
    Fetcher::new(FetchOptions {
        attempts: 2,
        backoff: Duration::from_millis(10),
        ..FetchOptions::default()
    })
    .unwrap()
}

/// A served mirror, a cache, and a canary directory beside them.
struct Scene {
    tmp: tempfile::TempDir,
    mirror: Mirror,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    cache: Cache,
}

impl Scene {
    fn new(release: &Release) -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        let served = tmp.path().join("mirror");
        release.publish(&served, TAG);
        let (base, log) = serve(served);
        let mirror = Mirror::resolve(Some(&base), None, None).unwrap();
        std::fs::create_dir_all(tmp.path().join("canary")).unwrap();
        std::fs::write(tmp.path().join("canary/keep"), b"canary").unwrap();
        let cache = Cache::open(tmp.path().join("cache")).unwrap();
        Scene {
            tmp,
            mirror,
            log,
            cache,
        }
    }

    fn catalogue(&self) -> Catalogue {
        fetch_release_catalogue(&fetcher(), &self.mirror, TAG).unwrap()
    }

    fn install(
        &self,
        build: &StandaloneBuild,
        prune: bool,
    ) -> Result<StandaloneRuntime, PythonError> {
        install_standalone(
            &fetcher(),
            &self.cache,
            &self.mirror,
            build,
            &InstallOptions {
                prefix: DEFAULT_PREFIX,
                prune,
                reporter: &NoReporter,
            },
        )
    }

    /// Nothing was cached or left behind, and the canary is untouched.
    fn assert_nothing_kept(&self) {
        for sub in ["sha256", "tmp"] {
            let left: Vec<_> = std::fs::read_dir(self.cache.root().join(sub))
                .unwrap()
                .collect();
            assert!(left.is_empty(), "cache/{sub} holds {left:?}");
        }
        assert!(!self.cache.root().join("keyed/python-standalone").exists());
        let canary: Vec<_> = std::fs::read_dir(self.tmp.path().join("canary"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(canary, ["keep"]);
        let mut beside: Vec<String> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        beside.sort();
        assert_eq!(beside, ["cache", "canary", "mirror"]);
    }

    fn archive_requests(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.ends_with(".tar.gz"))
            .count()
    }
}

fn v(s: &str) -> PyVersion {
    s.parse().unwrap()
}

fn exists(tree: &Path, rel: &str) -> bool {
    std::fs::symlink_metadata(tree.join(rel)).is_ok()
}

#[test]
fn patch_version_is_downloaded_verified_unpacked_and_pruned() {
    let mut release = Release::default();
    release.standard("3.12.7", TAG, X86);
    let scene = Scene::new(&release);
    let catalogue = scene.catalogue();
    assert!(catalogue
        .find(&v("3.12.7"), X86)
        .unwrap()
        .hash_source
        .ends_with("/20241016/SHA256SUMS"));
    let build = catalogue.find(&v("3.12.7"), X86).unwrap();
    let runtime = scene.install(build, true).unwrap();

    assert_eq!(runtime.version, v("3.12.7"));
    assert_eq!(runtime.release_tag, TAG);
    assert_eq!(runtime.archive, asset_name("3.12.7", TAG, X86));
    assert_eq!(
        runtime.archive_sha256,
        common::sha256(&release.assets[&runtime.archive])
    );
    assert_eq!(
        runtime.interpreter,
        PathBuf::from("/opt/python/bin/python3.12")
    );
    assert_eq!(runtime.stdlib, PathBuf::from("/opt/python/lib/python3.12"));
    assert!(runtime.url.ends_with(
        "/20241016/cpython-3.12.7%2B20241016-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
    ));
    let annotations = runtime.annotations();
    assert_eq!(annotations["dev.lockship.python.standalone.release"], TAG);
    assert_eq!(
        annotations["dev.lockship.python.standalone.sha256"],
        runtime.archive_sha256
    );
    assert_eq!(annotations["dev.lockship.python.version"], "3.12.7");

    let tree = &runtime.tree;
    let Entry::File(_, interpreter, _) = &standard_entries("3.12.7", X86)[2] else {
        unreachable!()
    };
    assert_eq!(
        &std::fs::read(tree.join("bin/python3.12")).unwrap(),
        interpreter
    );
    assert_eq!(
        std::fs::read_link(tree.join("bin/python3")).unwrap(),
        PathBuf::from("python3.12")
    );
    for kept in [
        "lib/libpython3.12.so.1.0",
        "lib/libpython3.12.so",
        "lib/python3.12/os.py",
        "lib/python3.12/json/__init__.py",
        "lib/python3.12/lib-dynload/_ssl.cpython-312-x86_64-linux-gnu.so",
        "lib/python3.12/site-packages/README.txt",
        "lib/python3.12/_sysconfigdata__linux_x86_64-linux-gnu.py",
    ] {
        assert!(exists(tree, kept), "{kept} was pruned");
    }
    for gone in [
        "lib/python3.12/test",
        "lib/python3.12/idlelib",
        "lib/python3.12/tkinter",
        "lib/python3.12/ensurepip",
        "lib/python3.12/config-3.12-x86_64-linux-gnu",
        "lib/python3.12/json/__pycache__",
        "lib/python3.12/site-packages/pip",
        "lib/python3.12/lib-dynload/_tkinter.cpython-312-x86_64-linux-gnu.so",
        "lib/libpython3.12.a",
        "lib/tcl8.6",
        "bin/pip3",
        "bin/idle3",
        "bin/idle3.12",
        "include",
        "share",
    ] {
        assert!(!exists(tree, gone), "{gone} was kept");
    }

    // Again: the tree comes from the cache, the archive is not fetched again.
    let before = scene.archive_requests();
    assert_eq!(before, 1);
    assert_eq!(scene.install(build, true).unwrap(), runtime);
    assert_eq!(scene.archive_requests(), before);

    // The full tree (for an sdist build environment) keeps headers and config.
    let full = scene.install(build, false).unwrap();
    assert_ne!(full.tree, runtime.tree);
    assert!(exists(&full.tree, "include/python3.12/Python.h"));
    assert!(exists(
        &full.tree,
        "lib/python3.12/config-3.12-x86_64-linux-gnu/Makefile"
    ));
    assert_eq!(
        scene.archive_requests(),
        before,
        "the checked archive is reused"
    );
}

#[test]
fn python_314_for_arm64_installs_without_emulation() {
    let aarch64 = standalone_triple("arm64", Some("v8")).unwrap();
    let mut release = Release::default();
    release
        .standard("3.14.0", TAG, aarch64)
        .standard("3.14.0", TAG, X86);
    let scene = Scene::new(&release);
    let catalogue = scene.catalogue();
    let choice = select_python(
        &PythonInputs {
            constraints: vec![
                PythonConstraint::pep440(ConstraintSource::Pyproject, ">=3.14").unwrap(),
            ],
            ..PythonInputs::default()
        },
        &catalogue.offers(aarch64),
        &|_| true,
    )
    .unwrap();
    assert_eq!(choice.version, v("3.14.0"));
    let build = catalogue.find(&choice.version, aarch64).unwrap();
    let runtime = scene.install(build, true).unwrap();
    assert_eq!(runtime.triple, "aarch64-unknown-linux-gnu");
    assert!(runtime.archive.contains("-aarch64-unknown-linux-gnu-"));
    assert!(exists(&runtime.tree, "bin/python3.14"));
    assert!(exists(
        &runtime.tree,
        "lib/python3.14/lib-dynload/_ssl.cpython-314-aarch64-linux-gnu.so"
    ));
    assert_eq!(
        scene.archive_requests(),
        1,
        "only the arm64 archive was fetched"
    );
}

#[test]
fn hostile_standalone_archive_with_wrong_checksum_is_refused() {
    let name = asset_name("3.12.7", TAG, X86);
    let mut release = Release::default();
    release.standard("3.12.7", TAG, X86);
    // The release publishes the hash of the real archive; the mirror serves
    // another one.
    let published = common::sha256(&release.assets[&name]);
    release.lie.insert(name.clone(), published.clone());
    let mut entries = standard_entries("3.12.7", X86);
    entries.push(Entry::File(
        "python/bin/backdoor".into(),
        b"#!/bin/sh\n".to_vec(),
        0o755,
    ));
    release.assets.insert(name.clone(), tar_gz(&entries));
    let scene = Scene::new(&release);
    let catalogue = scene.catalogue();
    let build = catalogue.find(&v("3.12.7"), X86).unwrap();
    assert_eq!(build.sha256, published);
    let err = scene.install(build, true).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PythonError::ArchiveMismatch { .. }), "{text}");
    assert!(text.contains(&published), "{text}");
    assert!(text.contains("%2B20241016"), "names the URL: {text}");
    assert!(text.contains("nothing was cached or unpacked"), "{text}");
    scene.assert_nothing_kept();
}

#[test]
fn corrupt_archive_with_a_matching_checksum_is_refused() {
    let name = asset_name("3.12.7", TAG, X86);
    let mut release = Release::default();
    release
        .assets
        .insert(name.clone(), b"\x1f\x8bnot really gzip".to_vec());
    let scene = Scene::new(&release);
    let build = scene.catalogue().find(&v("3.12.7"), X86).unwrap().clone();
    let err = scene.install(&build, true).unwrap_err();
    assert!(
        matches!(err, PythonError::BadArchive { .. } | PythonError::Layer(_)),
        "{err}"
    );
    assert!(!scene.cache.root().join("keyed/python-standalone").exists());
}

#[test]
fn missing_patch_version_lists_what_exists() {
    let mut release = Release::default();
    release
        .standard("3.12.7", TAG, X86)
        .standard("3.14.0", TAG, X86);
    let scene = Scene::new(&release);
    let catalogue = scene.catalogue();
    let err = catalogue.find(&v("3.12.99"), X86).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PythonError::UnknownBuild { .. }), "{text}");
    assert!(text.contains("`3.14.0`, `3.12.7`"), "{text}");

    let inputs = PythonInputs {
        flag: Some(PythonRequest::parse("3.12.99", "`--python`").unwrap()),
        ..PythonInputs::default()
    };
    let err = select_python(&inputs, &catalogue.offers(X86), &|_| true).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, PythonError::PatchUnavailable { .. }),
        "{text}"
    );
    assert!(
        text.contains("`3.12.7 (python-build-standalone 20241016)`"),
        "{text}"
    );
    assert!(!text.contains("3.14.0"), "{text}");
}

/// Each hostile archive carries a correct `SHA256SUMS` entry: the hash only
/// proves who made it, not that it is safe.
#[test]
fn hostile_standalone_archive_escaping_the_prefix_is_refused() {
    let cases: Vec<(&str, Vec<Entry>)> = vec![
        (
            "climbing name",
            vec![Entry::File(
                "python/../escaped".into(),
                b"x".to_vec(),
                0o644,
            )],
        ),
        (
            "absolute name",
            vec![Entry::File("/tmp/escaped".into(), b"x".to_vec(), 0o644)],
        ),
        (
            "outside python/",
            vec![Entry::File("escaped".into(), b"x".to_vec(), 0o644)],
        ),
        (
            "symlink out, then a file through it",
            vec![
                Entry::Symlink("python/lib/out".into(), "../../canary".into()),
                Entry::File("python/lib/out/owned".into(), b"x".to_vec(), 0o644),
            ],
        ),
        (
            "absolute symlink",
            vec![Entry::Symlink("python/bin/sh".into(), "/bin/sh".into())],
        ),
        (
            "symlink that escapes through another symlink",
            vec![
                Entry::Symlink("python/lib/up".into(), "..".into()),
                Entry::Symlink("python/escape".into(), "lib/up/../..".into()),
            ],
        ),
        (
            "hard link outside python/",
            vec![Entry::HardLink(
                "python/bin/passwd".into(),
                "etc/passwd".into(),
            )],
        ),
        (
            "whiteout",
            vec![Entry::File(
                "python/lib/.wh.python3.12".into(),
                Vec::new(),
                0o644,
            )],
        ),
        ("fifo", vec![Entry::Fifo("python/bin/pipe".into())]),
    ];
    for (what, extra) in cases {
        let mut entries = standard_entries("3.12.7", X86);
        entries.extend(extra);
        let mut release = Release::default();
        release
            .assets
            .insert(asset_name("3.12.7", TAG, X86), tar_gz(&entries));
        let scene = Scene::new(&release);
        let build = scene.catalogue().find(&v("3.12.7"), X86).unwrap().clone();
        let err = scene.install(&build, true).unwrap_err();
        assert!(
            matches!(err, PythonError::UnsafeEntry { .. }),
            "{what}: {err}"
        );
        assert!(
            err.hint().unwrap().contains("install_only_stripped"),
            "{what}"
        );
        assert!(
            !scene.cache.root().join("keyed/python-standalone").exists(),
            "{what}"
        );
        assert_eq!(
            std::fs::read_dir(scene.cache.root().join("tmp"))
                .unwrap()
                .count(),
            0,
            "{what}: the staging directory was removed"
        );
        assert!(!scene.tmp.path().join("canary/owned").exists(), "{what}");
        assert!(!scene.tmp.path().join("escaped").exists(), "{what}");
    }
}

#[test]
fn unreachable_mirror_error_names_the_url_and_both_ways_out() {
    let base = format!("http://127.0.0.1:{}/pbs", closed_port());
    let mirror = Mirror::resolve(Some(&base), None, None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::open(tmp.path()).unwrap();
    let build = Catalogue::shipped()
        .find(&v("3.12.7"), X86)
        .unwrap()
        .clone();
    let err = install_standalone(
        &fetcher(),
        &cache,
        &mirror,
        &build,
        &InstallOptions {
            prefix: DEFAULT_PREFIX,
            prune: true,
            reporter: &NoReporter,
        },
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, PythonError::MirrorUnreachable { .. }),
        "{text}"
    );
    assert!(
        text.contains(&format!("{base}/20241016/cpython-3.12.7%2B20241016-")),
        "{text}"
    );
    assert!(text.contains("`--python-mirror`"), "{text}");
    let chain = std::error::Error::source(&err).unwrap().to_string();
    assert!(chain.contains("after 2 attempts"), "retried: {chain}");
    let hint = err.hint().unwrap();
    assert!(hint.contains("--python-mirror"), "{hint}");
    assert!(hint.contains("--base-image python:3.12-slim"), "{hint}");

    let err = fetch_release_catalogue(&fetcher(), &mirror, TAG).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("{base}/20241016/SHA256SUMS")),
        "{err}"
    );
}

#[test]
fn prefix_must_be_a_plain_absolute_directory() {
    let scene = Scene::new(&Release::default());
    let build = Catalogue::shipped()
        .find(&v("3.12.7"), X86)
        .unwrap()
        .clone();
    for prefix in ["opt/python", "/", "/opt/../etc", ""] {
        let err = install_standalone(
            &fetcher(),
            &scene.cache,
            &scene.mirror,
            &build,
            &InstallOptions {
                prefix,
                prune: true,
                reporter: &NoReporter,
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, PythonError::BadPrefix { .. }),
            "{prefix}: {err}"
        );
    }
    assert_eq!(scene.archive_requests(), 0);
}

#[test]
fn mirror_without_the_release_is_an_error_naming_the_url() {
    let scene = Scene::new(&Release::default());
    let err = fetch_release_catalogue(&fetcher(), &scene.mirror, "20991231").unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, PythonError::MirrorUnreachable { .. }),
        "{text}"
    );
    assert!(text.contains("/20991231/SHA256SUMS"), "{text}");
    let chain = std::error::Error::source(&err).unwrap().to_string();
    assert!(chain.contains("404"), "{chain}");
}
