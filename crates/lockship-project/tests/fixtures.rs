//! One test per example project under `tests/fixtures/`, each with a snapshot
//! of what linux/x86_64 CPython 3.11 installs, and one per bad input.
//!
//! The `content-hash` of each fixture `poetry.lock` was computed by Poetry
//! 2.5.1's own `Locker._get_content_hash` from the fixture's
//! `pyproject.toml`, so these tests prove the hash is reproduced exactly
//! (Poetry 1 form in `poetry-app` and `poetry-v1`, `[project]` plus
//! `[dependency-groups]` in `poetry2-app`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lockship_project::{
    select, Lock, LockKind, LockSelection, LockedPackage, MarkerEnv, PackageSource, Project,
    ProjectError, Selection,
};
use serde::Serialize;

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(case)
}

fn env() -> MarkerEnv {
    MarkerEnv::linux("3.11.9", "x86_64")
}

fn with(groups: &[&str], extras: &[&str]) -> Selection {
    Selection {
        groups: groups.iter().map(|g| g.to_string()).collect(),
        all_groups: false,
        extras: extras.iter().map(|e| e.to_string()).collect(),
    }
}

fn names(packages: &[&LockedPackage]) -> Vec<String> {
    packages
        .iter()
        .map(|p| format!("{}=={}", p.name, p.version.as_deref().unwrap_or("?")))
        .collect()
}

#[derive(Serialize)]
struct Snapshot<'a> {
    kind: LockKind,
    requires_python: Option<&'a str>,
    index_urls: Vec<String>,
    main: Vec<&'a LockedPackage>,
    with_dev: Vec<String>,
}

/// Load a fixture, select with and without `--with dev`, and snapshot both.
fn check(case: &str, kind: LockKind) -> (Project, Lock) {
    let project = Project::load(&fixture(case)).unwrap();
    let lock = project.load_lock(&LockSelection::Auto).unwrap();
    assert_eq!(lock.kind, kind);
    let main = select(&lock, &project, &Selection::default(), &env()).unwrap();
    let dev = select(&lock, &project, &with(&["dev"], &[]), &env()).unwrap();
    let snapshot = Snapshot {
        kind: lock.kind,
        requires_python: lock.requires_python.as_deref(),
        index_urls: lock.index_urls.iter().map(ToString::to_string).collect(),
        main,
        with_dev: names(&dev),
    };
    insta::assert_json_snapshot!(case, snapshot);
    (project, lock)
}

#[test]
fn uv_app() {
    let (project, lock) = check("uv-app", LockKind::Uv);
    let main = names(&select(&lock, &project, &Selection::default(), &env()).unwrap());
    for excluded in [
        "colorama",
        "tomli",
        "exceptiongroup",
        "typing-extensions",
        "pytest",
    ] {
        assert!(
            !main.iter().any(|n| n.starts_with(&format!("{excluded}=="))),
            "{excluded} in {main:?}"
        );
    }
    // The extra pulls in `httpx[socks]`, whose own extra adds `socksio`.
    let socks = names(&select(&lock, &project, &with(&[], &["socks"]), &env()).unwrap());
    assert_eq!(socks.len(), main.len() + 2, "{socks:?}");
    assert!(socks.contains(&"socksio==1.0.0".to_string()));
    assert!(socks.contains(&"pysocks==1.7.1".to_string()));
    // On Python 3.9 the backports come in.
    let old = names(
        &select(
            &lock,
            &project,
            &Selection::default(),
            &MarkerEnv::linux("3.9.19", "aarch64"),
        )
        .unwrap(),
    );
    for backport in [
        "exceptiongroup==1.2.2",
        "tomli==2.0.1",
        "typing-extensions==4.12.2",
    ] {
        assert!(
            old.contains(&backport.to_string()),
            "{backport} not in {old:?}"
        );
    }
    // `test` is included by `dev`; all groups is the same as `dev` here.
    let all = Selection {
        all_groups: true,
        ..Selection::default()
    };
    assert_eq!(
        names(&select(&lock, &project, &all, &env()).unwrap()),
        names(&select(&lock, &project, &with(&["dev"], &[]), &env()).unwrap())
    );
}

#[test]
fn uv_app_project_settings() {
    let project = Project::load(&fixture("uv-app")).unwrap();
    insta::assert_json_snapshot!("uv-app-project", project, {
        ".dir" => "[fixture]",
        ".pyproject" => "[fixture]/pyproject.toml",
    });
}

#[test]
fn poetry_app() {
    let (project, lock) = check("poetry-app", LockKind::Poetry);
    let attrs = names(&select(&lock, &project, &with(&[], &["attrs"]), &env()).unwrap());
    assert!(attrs.contains(&"attrs==23.2.0".to_string()), "{attrs:?}");
    let old = names(
        &select(
            &lock,
            &project,
            &Selection::default(),
            &MarkerEnv::linux("3.9.19", "x86_64"),
        )
        .unwrap(),
    );
    assert!(old.contains(&"tomli==2.0.1".to_string()), "{old:?}");
    assert!(
        old.contains(&"typing-extensions==4.12.2".to_string()),
        "{old:?}"
    );
    let certifi = lock.find("certifi").next().unwrap();
    assert!(
        matches!(&certifi.source, PackageSource::Registry { index: Some(url) } if url.port() == Some(8082))
    );
}

#[test]
fn poetry_v1_lock() {
    let (_, lock) = check("poetry-v1", LockKind::Poetry);
    let dev: BTreeSet<String> = lock.find("iniconfig").next().unwrap().groups.clone();
    assert_eq!(dev, BTreeSet::from(["dev".to_string()]));
}

#[test]
fn poetry2_app() {
    check("poetry2-app", LockKind::Poetry);
}

#[test]
fn pylock_app() {
    let (project, lock) = check("pylock-app", LockKind::Pylock);
    // Groups the lock declares count even when `pyproject.toml` has none.
    let mut bare = project;
    bare.dependency_groups.clear();
    let dev = names(&select(&lock, &bare, &with(&["dev"], &[]), &env()).unwrap());
    assert!(dev.contains(&"iniconfig==2.0.0".to_string()), "{dev:?}");
    assert!(select(&lock, &bare, &with(&["docs"], &[]), &env()).is_err());
}

#[test]
fn requirements_app() {
    let (project, lock) = check("requirements-app", LockKind::Requirements);
    let old = names(
        &select(
            &lock,
            &project,
            &Selection::default(),
            &MarkerEnv::linux("3.9.19", "x86_64"),
        )
        .unwrap(),
    );
    assert!(old.contains(&"tomli==2.0.1".to_string()), "{old:?}");
}

#[test]
fn lockfile_override_reads_the_named_file() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["pyproject.toml", "uv.lock"] {
        fs_err::copy(fixture("uv-app").join(f), dir.path().join(f)).unwrap();
    }
    fs_err::write(dir.path().join("prod.txt"), "idna==3.7\n").unwrap();
    let project = Project::load(dir.path()).unwrap();
    assert_eq!(
        project.load_lock(&LockSelection::Auto).unwrap().kind,
        LockKind::Uv
    );
    // `httpx` and `mylib` are declared without a marker but not pinned.
    let err = project
        .load_lock(&LockSelection::Path("prod.txt".into()))
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("`httpx` is declared in `pyproject.toml` but not locked"),
        "{err}"
    );
    fs_err::write(
        dir.path().join("prod.txt"),
        "httpx==0.27.0\nidna==3.7\nmylib @ git+https://git.invalid/org/mylib@0123456789abcdef0123456789abcdef01234567\n",
    )
    .unwrap();
    let lock = project
        .load_lock(&LockSelection::Path("prod.txt".into()))
        .unwrap();
    assert_eq!(lock.kind, LockKind::Requirements);
    assert_eq!(
        names(&select(&lock, &project, &Selection::default(), &env()).unwrap()),
        ["httpx==0.27.0", "idna==3.7", "mylib==?"]
    );
}

fn load_err(case: &str) -> ProjectError {
    let project = Project::load(&fixture(case)).unwrap();
    project.load_lock(&LockSelection::Auto).unwrap_err()
}

/// The error text with the fixture directory replaced, plus its hint.
fn shown(err: &ProjectError) -> String {
    let root = fixture("");
    let text = format!("{err}\nhint: {}", err.hint().unwrap_or_default());
    text.replace(&root.display().to_string(), "[fixtures]/")
}

#[test]
fn unknown_lock_version() {
    let err = load_err("bad-lock-version");
    assert!(matches!(err, ProjectError::UnsupportedLockVersion { .. }));
    insta::assert_snapshot!(shown(&err), @r"
    Unsupported lockfile version `2` in `[fixtures]/bad-lock-version/uv.lock`
    hint: this lockship reads uv.lock version 1; regenerate the lockfile with a matching tool version
    ");
}

#[test]
fn malformed_toml_names_file_and_line() {
    let err = load_err("bad-toml");
    let ProjectError::Toml { line, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*line, Some(6));
    assert!(
        shown(&err).starts_with("Invalid TOML in `[fixtures]/bad-toml/uv.lock` at line 6: "),
        "{}",
        shown(&err)
    );
}

#[test]
fn stale_uv_lock() {
    let err = load_err("stale-uv");
    insta::assert_snapshot!(shown(&err), @r"
    The lockfile `[fixtures]/stale-uv/uv.lock` is out of date with `pyproject.toml`: `[project]` declares `httpx >=0.28`, which the lock does not record
    hint: run `uv lock`
    ");
}

#[test]
fn stale_poetry_lock() {
    let err = load_err("stale-poetry");
    assert!(matches!(err, ProjectError::StaleLock { .. }), "{err:?}");
    assert!(
        shown(&err).ends_with("\nhint: run `poetry lock`"),
        "{}",
        shown(&err)
    );
}

#[test]
fn no_lock() {
    let err = load_err("no-lock");
    insta::assert_snapshot!(shown(&err), @r"
    No lockfile in `[fixtures]/no-lock` (looked for `uv.lock`, `poetry.lock`, `pdm.lock`, `Pipfile.lock`, `pylock.toml` and requirements files)
    hint: run `uv lock` (or `poetry lock`, `pdm lock`, `pipenv lock`), or pass `--lockfile` to name a lockfile
    ");
    let err = load_err("no-lock-poetry");
    assert_eq!(err.hint().as_deref(), Some("run `poetry lock`"));
}

#[test]
fn no_pyproject() {
    let dir = tempfile::tempdir().unwrap();
    let err = Project::load(dir.path()).unwrap_err();
    assert!(matches!(err, ProjectError::NoPyproject { .. }), "{err:?}");
}

#[test]
fn unknown_group_and_extra() {
    let project = Project::load(&fixture("uv-app")).unwrap();
    let lock = project.load_lock(&LockSelection::Auto).unwrap();
    let err = select(&lock, &project, &with(&["docs"], &[]), &env()).unwrap_err();
    assert_eq!(
        err.to_string().split(" in ").next(),
        Some("Unknown dependency group `docs`")
    );
    assert_eq!(
        err.hint().as_deref(),
        Some("the project defines these groups: `dev`, `test`")
    );
    let err = select(&lock, &project, &with(&[], &["gpu"]), &env()).unwrap_err();
    assert_eq!(
        err.hint().as_deref(),
        Some("the project defines these extras: `socks`")
    );
}

#[test]
fn missing_package_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("pyproject.toml"),
        "[tool.poetry]\nname = 'a'\n[tool.poetry.dependencies]\npython = '^3.11'\nidna = '*'\n",
    )
    .unwrap();
    fs_err::write(
        dir.path().join("poetry.lock"),
        "[metadata]\nlock-version = '2.0'\n",
    )
    .unwrap();
    let project = Project::load(dir.path()).unwrap();
    // No content-hash: the names are compared, and `idna` is missing.
    let err = project.load_lock(&LockSelection::Auto).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("`idna` is declared in `pyproject.toml` but not locked"),
        "{err}"
    );
    let lock = Lock::read(&dir.path().join("poetry.lock"), LockKind::Poetry).unwrap();
    let err = select(&lock, &project, &Selection::default(), &env()).unwrap_err();
    assert!(
        matches!(&err, ProjectError::MissingFromLock { package, .. } if package == "idna"),
        "{err:?}"
    );
    assert_eq!(err.hint().as_deref(), Some("run `poetry lock`"));
}
