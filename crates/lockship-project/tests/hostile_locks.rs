//! Regression tests for issue 12, findings 4 and 10 (lock parts): a lock is
//! outside input, and no value in it may become a path, install a package
//! `pyproject.toml` does not declare, or exhaust memory.
//!
//! Each test writes its hostile lock at test time, next to a canary
//! directory, and checks that the lock is refused at parse time with the
//! file, the package and the field named, and that the canary is untouched.

use std::path::{Path, PathBuf};

use lockship_project::{LockKind, LockSelection, Project, ProjectError, MAX_LOCK_BYTES};

const SHA: &str = "a8c49dbb6e7b27f9b7f599c30e62118630d02e33fdf2274c42619f43d4d1321f";

/// A project directory and a canary directory beside it (outside the project).
struct Scene {
    _tmp: tempfile::TempDir,
    project: PathBuf,
    canary: PathBuf,
}

impl Scene {
    fn new(pyproject: &str) -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        let project = tmp.path().join("project");
        let canary = tmp.path().join("canary");
        fs_err::create_dir_all(&project).unwrap();
        fs_err::create_dir_all(&canary).unwrap();
        fs_err::write(canary.join("keep"), b"canary").unwrap();
        fs_err::write(project.join("pyproject.toml"), pyproject).unwrap();
        Scene {
            _tmp: tmp,
            project,
            canary,
        }
    }

    fn load(&self, file: &str, text: &str) -> Result<lockship_project::Lock, ProjectError> {
        fs_err::write(self.project.join(file), text).unwrap();
        let project = Project::load(&self.project).unwrap();
        project.load_lock(&LockSelection::Path(PathBuf::from(file)))
    }

    /// The canary holds exactly what it held, and nothing named after the
    /// hostile entry appeared anywhere beside the project.
    fn assert_untouched(&self) {
        let entries: Vec<_> = fs_err::read_dir(&self.canary)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["keep"]);
        assert_eq!(fs_err::read(self.canary.join("keep")).unwrap(), b"canary");
        let beside: Vec<_> = fs_err::read_dir(self.project.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut beside = beside;
        beside.sort();
        assert_eq!(beside, ["canary", "project"]);
    }
}

const PYPROJECT: &str =
    "[project]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"anyio\"]\n";

fn uv_lock(name: &str, filename_field: &str) -> String {
    format!(
        r#"version = 1
requires-python = ">=3.9"

[[package]]
name = "app"
version = "0.1.0"
source = {{ editable = "." }}
dependencies = [{{ name = "anyio" }}]

[package.metadata]
requires-dist = [{{ name = "anyio" }}]

[[package]]
name = "{name}"
version = "4.4.0"
source = {{ registry = "http://127.0.0.1:9/simple/" }}
sdist = {{ url = "http://127.0.0.1:9/files/anyio-4.4.0.tar.gz", {filename_field} hash = "sha256:{SHA}", size = 18000 }}
"#
    )
}

/// The error's text and hint, with the scene's directory replaced.
fn shown(err: &ProjectError, scene: &Scene) -> String {
    let text = format!("{err}\nhint: {}", err.hint().unwrap_or_default());
    text.replace(&scene.project.display().to_string(), "[project]")
}

fn assert_refused(err: ProjectError, scene: &Scene, file: &str, package: &str, field: &str) {
    let text = shown(&err, scene);
    let ProjectError::UnsafeLockEntry {
        path,
        package: p,
        field: f,
        ..
    } = &err
    else {
        panic!("expected UnsafeLockEntry, got {err:?}")
    };
    assert_eq!(path, &scene.project.join(file), "{text}");
    assert_eq!(p, package, "{text}");
    assert_eq!(f, field, "{text}");
    assert!(
        text.contains("\nhint: lockship never uses a lock value as a path"),
        "{text}"
    );
    scene.assert_untouched();
}

#[test]
fn hostile_lock_absolute_path_name_and_filename_are_refused() {
    let scene = Scene::new(PYPROJECT);
    let evil = scene.canary.join("evil").display().to_string();
    // The finding: the package name and the sdist's `filename` are both a
    // host path.
    let err = scene
        .load(
            "uv.lock",
            &uv_lock(&evil, &format!("filename = \"{evil}\",")),
        )
        .unwrap_err();
    let text = shown(&err, &scene).replace(&scene.canary.display().to_string(), "[canary]");
    assert_eq!(
        text,
        "Refusing package `[canary]/evil` in `[project]/uv.lock`: its `name` `[canary]/evil` is not a package name (PEP 508 allows ASCII letters, digits, `.`, `_` and `-`)\n\
         hint: lockship never uses a lock value as a path; regenerate the lockfile with the tool that wrote it and check who changed this entry"
    );
    assert_refused(err, &scene, "uv.lock", &evil, "name");

    // A good name with a hostile file name is refused for the file name.
    for (bad, why) in [
        (evil.as_str(), "is a path"),
        ("../../evil-1.0.tar.gz", "is a path"),
        ("..", "directory reference"),
        ("evil", "is neither a wheel"),
        ("", "is empty"),
    ] {
        let err = scene
            .load(
                "uv.lock",
                &uv_lock("anyio", &format!("filename = \"{bad}\",")),
            )
            .unwrap_err();
        assert!(shown(&err, &scene).contains(why), "{}", shown(&err, &scene));
        assert_refused(err, &scene, "uv.lock", "anyio", "sdist.filename");
    }
}

#[test]
fn hostile_lock_name_version_and_hash_are_checked_in_every_lock_format() {
    let scene = Scene::new(PYPROJECT);
    let evil = scene.canary.join("evil").display().to_string();
    // uv.lock: a version that climbs out, a hash that is a path.
    let lock = uv_lock("anyio", "").replace("version = \"4.4.0\"", "version = \"../../x\"");
    let err = scene.load("uv.lock", &lock).unwrap_err();
    assert_refused(err, &scene, "uv.lock", "anyio", "version");
    let lock = uv_lock("anyio", "").replace(&format!("sha256:{SHA}"), "sha256:../../../x");
    let err = scene.load("uv.lock", &lock).unwrap_err();
    assert_refused(err, &scene, "uv.lock", "anyio", "sdist.hash");
    // A dependency edge naming a path.
    let lock = uv_lock("anyio", "").replace(
        "dependencies = [{ name = \"anyio\" }]",
        &format!("dependencies = [{{ name = \"{evil}\" }}]"),
    );
    let err = scene.load("uv.lock", &lock).unwrap_err();
    assert_refused(err, &scene, "uv.lock", "app", "dependencies");

    // poetry.lock
    let poetry = |name: &str, file: &str| {
        format!(
            "[[package]]\nname = \"{name}\"\nversion = \"4.4.0\"\nfiles = [{{file = \"{file}\", hash = \"sha256:{SHA}\"}}]\n\n[metadata]\nlock-version = \"2.1\"\npython-versions = \">=3.9\"\n"
        )
    };
    let err = scene
        .load("poetry.lock", &poetry(&evil, "anyio-4.4.0.tar.gz"))
        .unwrap_err();
    assert_refused(err, &scene, "poetry.lock", &evil, "name");
    let err = scene
        .load("poetry.lock", &poetry("anyio", &evil))
        .unwrap_err();
    assert_refused(err, &scene, "poetry.lock", "anyio", "files.file");
    // Old installers Poetry still lists are skipped, but only plain ones.
    let lock = scene
        .load("poetry.lock", &poetry("anyio", "anyio-4.4.0.win32.exe"))
        .unwrap();
    assert_eq!(lock.kind, LockKind::Poetry);
    assert!(lock.packages[0].sdist.is_none() && lock.packages[0].wheels.is_empty());

    // pylock.toml
    let pylock = |name: &str, file: &str| {
        format!(
            "lock-version = \"1.0\"\n[[packages]]\nname = \"{name}\"\nversion = \"4.4.0\"\nsdist = {{ name = \"{file}\", url = \"http://127.0.0.1:9/files/anyio-4.4.0.tar.gz\", size = 1, hashes = {{ sha256 = \"{SHA}\" }} }}\n"
        )
    };
    let err = scene
        .load("pylock.toml", &pylock(&evil, "anyio-4.4.0.tar.gz"))
        .unwrap_err();
    assert_refused(err, &scene, "pylock.toml", &evil, "name");
    let err = scene
        .load("pylock.toml", &pylock("anyio", &evil))
        .unwrap_err();
    assert_refused(err, &scene, "pylock.toml", "anyio", "sdist.filename");
    let lock = "lock-version = \"1.0\"\n[[packages]]\nname = \"anyio\"\nversion = \"4.4.0\"\nvcs = { url = \"https://git.invalid/r\", commit-id = \"0123\", subdirectory = \"../../..\" }\n";
    let err = scene.load("pylock.toml", lock).unwrap_err();
    assert_refused(err, &scene, "pylock.toml", "anyio", "source.subdirectory");

    // requirements.txt: names and versions come from the PEP 508 parser; a
    // hash that is not hex is refused.
    let err = scene
        .load("requirements.txt", "anyio==4.4.0 --hash=sha256:../../x\n")
        .unwrap_err();
    assert_refused(err, &scene, "requirements.txt", "anyio", "--hash");
    let err = scene
        .load("requirements.txt", &format!("{evil}==1.0\n"))
        .unwrap_err();
    assert!(matches!(err, ProjectError::Requirement { .. }), "{err:?}");
    scene.assert_untouched();
}

#[test]
fn hostile_lock_root_dependency_not_in_pyproject_is_stale() {
    let scene = Scene::new(PYPROJECT);
    // The lock's entry for the project adds `evil-pkg`, which
    // pyproject.toml never declared; requires-dist still matches.
    let lock = uv_lock("anyio", "")
        .replace(
            "dependencies = [{ name = \"anyio\" }]",
            "dependencies = [{ name = \"anyio\" }, { name = \"evil-pkg\" }]",
        )
        .replace(
            "name = \"anyio\"\nversion = \"4.4.0\"",
            "name = \"evil-pkg\"\nversion = \"1.0\"\nsource = { registry = \"http://127.0.0.1:9/simple/\" }\n\n[[package]]\nname = \"anyio\"\nversion = \"4.4.0\"",
        );
    let err = scene.load("uv.lock", &lock).unwrap_err();
    assert!(matches!(err, ProjectError::StaleLock { .. }), "{err:?}");
    assert_eq!(
        shown(&err, &scene),
        "The lockfile `[project]/uv.lock` is out of date with `pyproject.toml`: the lock's entry for the project depends on `evil-pkg` in `dependencies`, which `pyproject.toml` does not declare\n\
         hint: run `uv lock`"
    );
    // The same in a group and in an extra.
    let with_group = uv_lock("anyio", "").replace(
        "[package.metadata]",
        "[package.dev-dependencies]\ndev = [{ name = \"anyio\" }]\n\n[package.metadata]",
    );
    let err = scene.load("uv.lock", &with_group).unwrap_err();
    assert!(
        err.to_string()
            .contains("depends on `anyio` in group `dev`, which `pyproject.toml` does not declare"),
        "{err}"
    );
    let with_extra = uv_lock("anyio", "").replace(
        "[package.metadata]",
        "[package.optional-dependencies]\nfast = [{ name = \"anyio\" }]\n\n[package.metadata]",
    );
    let err = scene.load("uv.lock", &with_extra).unwrap_err();
    assert!(err.to_string().contains("in extra `fast`"), "{err}");
    // `[tool.uv] dev-dependencies` is locked as group `dev`: that is declared.
    let scene = Scene::new(&format!(
        "{PYPROJECT}[tool.uv]\ndev-dependencies = [\"anyio>=4\"]\n"
    ));
    scene.load("uv.lock", &with_group).unwrap();
    scene.assert_untouched();
}

#[test]
fn hostile_lock_larger_than_the_cap_is_refused_before_reading() {
    let scene = Scene::new(PYPROJECT);
    // A sparse file one byte over the cap: refused from its size alone.
    let path = scene.project.join("uv.lock");
    let file = fs_err::File::create(&path).unwrap();
    file.set_len(MAX_LOCK_BYTES + 1).unwrap();
    drop(file);
    let project = Project::load(&scene.project).unwrap();
    let err = project.load_lock(&LockSelection::Auto).unwrap_err();
    assert!(matches!(err, ProjectError::LockTooLarge { .. }), "{err:?}");
    assert_eq!(
        shown(&err, &scene),
        "The lockfile `[project]/uv.lock` is larger than 64 MiB\n\
         hint: no real lockfile is this large; check that `--lockfile` names a lockfile, and regenerate it"
    );
    // A stream with no size (a device) is cut at the cap.
    let zero = Path::new("/dev/zero");
    if zero.exists() {
        let err = project
            .load_lock(&LockSelection::Path(zero.to_path_buf()))
            .unwrap_err();
        assert!(matches!(err, ProjectError::LockTooLarge { .. }), "{err:?}");
    }
    scene.assert_untouched();
}
