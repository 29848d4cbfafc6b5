//! Issue 12, findings 4 and 10 through `lockship build`: a hostile lock,
//! written at test time next to a canary directory, is refused with the lock
//! entry named, and nothing outside the cache, work and output paths changes.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const SHA: &str = "a8c49dbb6e7b27f9b7f599c30e62118630d02e33fdf2274c42619f43d4d1321f";

struct Scene {
    tmp: tempfile::TempDir,
    project: PathBuf,
    canary: PathBuf,
}

impl Scene {
    fn new(lock: impl Fn(&Path) -> String) -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        let project = tmp.path().join("project");
        let canary = tmp.path().join("canary");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::create_dir_all(&canary).unwrap();
        std::fs::write(canary.join("keep"), b"canary").unwrap();
        std::fs::write(
            project.join("pyproject.toml"),
            "[project]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"anyio\"]\n",
        )
        .unwrap();
        std::fs::write(project.join("uv.lock"), lock(&canary)).unwrap();
        Scene {
            tmp,
            project,
            canary,
        }
    }

    fn build(&self, extra: &[&str]) -> String {
        let out = format!("oci:{}", self.tmp.path().join("out").display());
        let mut cmd = lockship();
        cmd.arg("build")
            .arg(&self.project)
            .args(["--output", &out])
            .args(extra);
        run_err(&mut cmd)
            .replace(&self.canary.display().to_string(), "[canary]")
            .replace(&self.project.display().to_string(), "[project]")
    }

    /// The canary is as it was, no output was written, and nothing new
    /// appeared beside the project.
    fn assert_untouched(&self) {
        let canary: Vec<_> = std::fs::read_dir(&self.canary)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(canary, ["keep"]);
        assert_eq!(std::fs::read(self.canary.join("keep")).unwrap(), b"canary");
        let mut beside: Vec<_> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        beside.sort();
        assert_eq!(beside, ["canary", "project"]);
    }
}

fn uv_lock(root_deps: &str, package: &str) -> String {
    format!(
        "version = 1\nrequires-python = \">=3.9\"\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = {{ editable = \".\" }}\ndependencies = [{root_deps}]\n\n[package.metadata]\nrequires-dist = [{{ name = \"anyio\" }}]\n\n[[package]]\n{package}"
    )
}

#[test]
fn hostile_lock_absolute_name_and_filename_are_refused_by_build() {
    // The finding: name and sdist file name are a host path.
    let scene = Scene::new(|canary| {
        let evil = canary.join("evil").display().to_string();
        uv_lock(
            "{ name = \"anyio\" }",
            &format!("name = \"{evil}\"\nversion = \"4.4.0\"\nsource = {{ registry = \"http://127.0.0.1:9/simple/\" }}\nsdist = {{ url = \"http://127.0.0.1:9/files/anyio-4.4.0.tar.gz\", filename = \"{evil}\", hash = \"sha256:{SHA}\", size = 18000 }}\n"),
        )
    });
    let err = scene.build(&[]);
    assert!(
        err.contains("error: Refusing package `[canary]/evil` in `[project]/uv.lock`: its `name` `[canary]/evil` is not a package name"),
        "{err}"
    );
    assert!(
        err.contains("\nhint: lockship never uses a lock value as a path"),
        "{err}"
    );
    scene.assert_untouched();

    // A plain name with a path as the sdist's file name.
    let scene = Scene::new(|canary| {
        let evil = canary.join("evil").display().to_string();
        uv_lock(
            "{ name = \"anyio\" }",
            &format!("name = \"anyio\"\nversion = \"4.4.0\"\nsource = {{ registry = \"http://127.0.0.1:9/simple/\" }}\nsdist = {{ url = \"http://127.0.0.1:9/files/anyio-4.4.0.tar.gz\", filename = \"{evil}\", hash = \"sha256:{SHA}\", size = 18000 }}\n"),
        )
    });
    let err = scene.build(&[]);
    assert!(
        err.contains("error: Refusing package `anyio` in `[project]/uv.lock`: its `sdist.filename` `[canary]/evil` is a path, not a plain file name"),
        "{err}"
    );
    scene.assert_untouched();
}

#[test]
fn hostile_lock_root_dependency_not_in_pyproject_is_refused_by_build() {
    let scene = Scene::new(|_| {
        uv_lock(
            "{ name = \"anyio\" }, { name = \"evil-pkg\" }",
            &format!("name = \"anyio\"\nversion = \"4.4.0\"\nsource = {{ registry = \"http://127.0.0.1:9/simple/\" }}\nsdist = {{ url = \"http://127.0.0.1:9/files/anyio-4.4.0.tar.gz\", hash = \"sha256:{SHA}\", size = 18000 }}\n"),
        )
    });
    let err = scene.build(&[]);
    assert!(
        err.contains("error: The lockfile `[project]/uv.lock` is out of date with `pyproject.toml`: the lock's entry for the project depends on `evil-pkg` in `dependencies`, which `pyproject.toml` does not declare\nhint: run `uv lock`"),
        "{err}"
    );
    scene.assert_untouched();
}

#[test]
fn hostile_lock_file_url_dev_zero_is_refused_by_build() {
    // The runtime base comes from the Debian mirror before any wheel.
    if !require("the Debian mirror", mirror_available()) {
        return;
    }
    let scene = Scene::new(|_| {
        uv_lock(
            "{ name = \"anyio\" }",
            &format!("name = \"anyio\"\nversion = \"4.4.0\"\nsource = {{ registry = \"http://127.0.0.1:9/simple/\" }}\nwheels = [{{ url = \"file:///dev/zero\", filename = \"anyio-4.4.0-py3-none-any.whl\", hash = \"sha256:{SHA}\", size = 2800 }}]\n"),
        )
    });
    let err = scene.build(&[]);
    let project = std::fs::canonicalize(&scene.project).unwrap();
    let err = err.replace(&project.display().to_string(), "[project]");
    assert!(
        err.contains("error: `file:///dev/zero` points to `/dev/zero`, outside the directories `file://` URLs may read (`[project]`)\nhint: a lock may only read local files inside the project"),
        "{err}"
    );
    scene.assert_untouched();
    // Allowed by the user or not, a device is never read.
    let err = scene.build(&["--allow-file-urls", "/dev"]);
    assert!(
        err.contains(
            "error: `file:///dev/zero` points to `/dev/zero`, which is not a regular file"
        ),
        "{err}"
    );
    scene.assert_untouched();
    // A regular file in the project, larger than the lock says, is cut at
    // the declared size.
    std::fs::write(scene.project.join("big.whl"), vec![b'x'; 5000]).unwrap();
    let url = url::Url::from_file_path(scene.project.join("big.whl")).unwrap();
    let lock = std::fs::read_to_string(scene.project.join("uv.lock"))
        .unwrap()
        .replace("file:///dev/zero", url.as_str());
    std::fs::write(scene.project.join("uv.lock"), lock).unwrap();
    let err = scene.build(&[]);
    assert!(
        err.contains(
            "sent more than the 2800 bytes its lock or index declares; the download was stopped"
        ),
        "{err}"
    );
    scene.assert_untouched();
}
