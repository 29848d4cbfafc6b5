//! `uv.lock` freshness as `uv lock --check` decides it.
//!
//! `LOCK` was written by `uv lock` (uv 0.13) for `PYPROJECT` (with the index
//! and Git URLs then rewritten to 127.0.0.1), and every case below was run
//! through `uv lock --check` on the same edit: the expected answer is uv's.

use lockship_project::{LockSelection, Project, ProjectError};

const PYPROJECT: &str = r#"[project]
name = "app"
version = "1.0"
requires-python = ">=3.10"
dependencies = ["idna>=3", "libgit>=0.1"]
[project.optional-dependencies]
postgres = ["six==1.16.0 ; python_version >= '3.8'", "iniconfig>=2 ; sys_platform == 'linux'"]
[dependency-groups]
dev = ["packaging>=23"]
[tool.uv]
constraint-dependencies = ["idna<4"]
override-dependencies = ["six==1.16.0"]
[tool.uv.sources]
libgit = { git = "http://127.0.0.1:9/libgit.git" }
"#;

const LOCK: &str = r#"version = 1
revision = 5
requires-python = ">=3.10"

[manifest]
constraints = [{ name = "idna", specifier = "<4" }]
overrides = [{ name = "six", specifier = "==1.16.0" }]

[[package]]
name = "app"
version = "1.0"
source = { virtual = "." }
dependencies = [
    { name = "idna" },
    { name = "libgit" },
]

[package.optional-dependencies]
postgres = [
    { name = "iniconfig", marker = "sys_platform == 'linux'" },
    { name = "six" },
]

[package.dev-dependencies]
dev = [
    { name = "packaging" },
]

[package.metadata]
requires-dist = [
    { name = "idna", specifier = ">=3" },
    { name = "iniconfig", marker = "sys_platform == 'linux' and extra == 'postgres'", specifier = ">=2" },
    { name = "libgit", git = "http://127.0.0.1:9/libgit.git" },
    { name = "six", marker = "python_full_version >= '3.8' and extra == 'postgres'", specifier = "==1.16.0" },
]
provides-extras = ["postgres"]

[package.metadata.requires-dev]
dev = [{ name = "packaging", specifier = ">=23" }]

[[package]]
name = "idna"
version = "3.20"
source = { registry = "http://127.0.0.1:9/simple" }
sdist = { url = "http://127.0.0.1:9/files/idna-3.20.tar.gz", hash = "sha256:a7db850025b95ded1eae8a46181a1a6c56c92c96f0e2b005d9ff8dc0210cab44", size = 216463 }
wheels = [
    { url = "http://127.0.0.1:9/files/idna-3.20-py3-none-any.whl", hash = "sha256:ab7ae7122974553370f0bdb919e1a960b2cd1bc1ef0276416d896db81c14582c", size = 69583 },
]

[[package]]
name = "iniconfig"
version = "2.3.1"
source = { registry = "http://127.0.0.1:9/simple" }
sdist = { url = "http://127.0.0.1:9/files/iniconfig-2.3.1.tar.gz", hash = "sha256:67f4b9c50da0dedf52af349e7749a80a9057a5031199791b906c3bb3ae878960", size = 21209 }
wheels = [
    { url = "http://127.0.0.1:9/files/iniconfig-2.3.1-py3-none-any.whl", hash = "sha256:9121e2c1fdb355232495be3194c8dfe87ccc2d5dee45947b78e68f499790d7a7", size = 7552 },
]

[[package]]
name = "libgit"
version = "0.2.0"
source = { git = "http://127.0.0.1:9/libgit.git#b5612c6f88aa0ead1616e10be08478fcc99f3e36" }

[[package]]
name = "packaging"
version = "26.4"
source = { registry = "http://127.0.0.1:9/simple" }
sdist = { url = "http://127.0.0.1:9/files/packaging-26.4.tar.gz", hash = "sha256:c4b671c41ddb9bf26e543c37723610d28fb6bf7affc4da17cf048d419d2c062a", size = 355877 }
wheels = [
    { url = "http://127.0.0.1:9/files/packaging-26.4-py3-none-any.whl", hash = "sha256:81383611a09c1bc0b08b76e0fd5829d7c6824c65b27a6aee339da133f4233ea2", size = 140049 },
]

[[package]]
name = "six"
version = "1.16.0"
source = { registry = "http://127.0.0.1:9/simple" }
sdist = { url = "http://127.0.0.1:9/files/six-1.16.0.tar.gz", hash = "sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926", size = 34041 }
wheels = [
    { url = "http://127.0.0.1:9/files/six-1.16.0-py2.py3-none-any.whl", hash = "sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254", size = 11053 },
]
"#;

/// Whether the lock is fresh for `PYPROJECT` with `from` replaced by `to`.
fn fresh(from: &str, to: &str) -> Result<(), ProjectError> {
    assert!(PYPROJECT.contains(from), "{from}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        PYPROJECT.replacen(from, to, 1),
    )
    .unwrap();
    std::fs::write(dir.path().join("uv.lock"), LOCK).unwrap();
    let project = Project::load(dir.path()).unwrap();
    project.load_lock(&LockSelection::Auto).map(|_| ())
}

fn stale(from: &str, to: &str) -> String {
    match fresh(from, to) {
        Err(ProjectError::StaleLock { reason, .. }) => reason,
        other => panic!("`{from}` -> `{to}`: expected a stale lock, got {other:?}"),
    }
}

#[test]
fn the_lock_uv_wrote_is_fresh() {
    fresh("", "").unwrap();
}

#[test]
fn optional_dependency_with_a_marker_recorded_under_its_extra_is_fresh() {
    // `six ==1.16.0 ; python_version >= '3.8' and extra == 'postgres'`: the
    // python bound is implied by requires-python, so either spelling is fresh.
    fresh("python_version >= '3.8'", "python_version >= '3.9'").unwrap();
    let reason = stale("python_version >= '3.8'", "python_version >= '3.11'");
    assert!(reason.contains("six"), "{reason}");
    // A new extra, even an empty one, changes `provides-extras`.
    let reason = stale("postgres = [", "other = []\npostgres = [");
    assert!(reason.contains("extra `other`"), "{reason}");
}

#[test]
fn git_source_dependency_is_compared_by_its_source_not_its_specifier() {
    // uv drops the specifier of a requirement with a Git source.
    fresh("libgit>=0.1", "libgit>=0.2").unwrap();
    let reason = stale(
        "libgit = { git = \"http://127.0.0.1:9/libgit.git\" }",
        "libgit = { git = \"http://127.0.0.1:9/libgit.git\", tag = \"v1\" }",
    );
    assert!(reason.contains("tag=v1"), "{reason}");
}

#[test]
fn dependency_groups_are_compared() {
    let reason = stale("packaging>=23", "packaging>=24");
    assert!(reason.contains("group `dev`"), "{reason}");
    // Revision 1 locks and later record empty groups too.
    let reason = stale("[dependency-groups]", "[dependency-groups]\nempty = []");
    assert!(reason.contains("`empty`"), "{reason}");
}

#[test]
fn constraints_and_overrides_are_compared_with_the_manifest() {
    let reason = stale("idna<4", "idna<5");
    assert!(reason.contains("constraint-dependencies"), "{reason}");
    let reason = stale(
        "override-dependencies = [\"six==1.16.0\"]",
        "override-dependencies = []",
    );
    assert!(reason.contains("override-dependencies"), "{reason}");
}

/// Written by `uv lock` for a `pyproject.toml` with no `[project]`: its
/// groups are in the lock's `[manifest]`.
const BARE_LOCK: &str = r#"version = 1
revision = 5
requires-python = ">=3.11"

[manifest]
constraints = [{ name = "idna", specifier = "<4" }]

[manifest.dependency-groups]
app = [{ name = "idna", specifier = ">=3" }]
dev = [{ name = "six" }]

[[package]]
name = "idna"
version = "3.20"
source = { registry = "http://127.0.0.1:9/simple" }
sdist = { url = "http://127.0.0.1:9/files/idna-3.20.tar.gz", hash = "sha256:a7db850025b95ded1eae8a46181a1a6c56c92c96f0e2b005d9ff8dc0210cab44", size = 216463 }
wheels = [
    { url = "http://127.0.0.1:9/files/idna-3.20-py3-none-any.whl", hash = "sha256:ab7ae7122974553370f0bdb919e1a960b2cd1bc1ef0276416d896db81c14582c", size = 69583 },
]

[[package]]
name = "six"
version = "1.17.0"
source = { registry = "http://127.0.0.1:9/simple" }
sdist = { url = "http://127.0.0.1:9/files/six-1.17.0.tar.gz", hash = "sha256:ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81", size = 34031 }
wheels = [
    { url = "http://127.0.0.1:9/files/six-1.17.0-py2.py3-none-any.whl", hash = "sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274", size = 11050 },
]
"#;

#[test]
fn project_without_a_project_table_compares_the_manifest_groups() {
    let pyproject = "[dependency-groups]\napp = [\"idna>=3\"]\ndev = [\"six\"]\n[tool.uv]\nconstraint-dependencies = [\"idna<4\"]\n";
    let load = |pyproject: &str| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyproject.toml"), pyproject).unwrap();
        std::fs::write(dir.path().join("uv.lock"), BARE_LOCK).unwrap();
        let project = Project::load(dir.path()).unwrap();
        assert_eq!(project.kind, lockship_project::ProjectKind::Application);
        project.load_lock(&LockSelection::Auto).map(|_| ())
    };
    load(pyproject).unwrap();
    // `uv lock --check` refuses this edit too.
    let err = load(&pyproject.replace("\"six\"", "\"six>=1\"")).unwrap_err();
    assert!(err.to_string().contains("group `dev`"), "{err}");
}
