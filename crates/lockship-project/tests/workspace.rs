//! uv workspaces: the root and its `uv.lock` found from a member, one
//! member's closure selected (as `uv sync --package NAME`), and `--package`.
//!
//! `LOCK` was written by `uv lock` (uv 0.13) for `FILES` (index URLs then
//! rewritten to 127.0.0.1); `uv export --package api` lists api, core,
//! idna and six, and `uv lock --check` accepts it.

use std::path::Path;

use lockship_project::{
    select, LockSelection, MarkerEnv, PackageSource, Project, ProjectError, ProjectKind, Selection,
};

const FILES: [(&str, &str); 5] = [
    (
        "pyproject.toml",
        r#"[project]
name = "root"
version = "0.1"
requires-python = ">=3.10"
dependencies = []
[tool.uv]
package = false
[tool.uv.workspace]
members = ["apps/*", "libs/*"]
exclude = ["apps/skip"]
"#,
    ),
    (
        "apps/api/pyproject.toml",
        r#"[project]
name = "api"
version = "1.0"
requires-python = ">=3.10"
dependencies = ["core", "idna>=3"]
[tool.uv.sources]
core = { workspace = true }
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"#,
    ),
    (
        "libs/core/pyproject.toml",
        r#"[project]
name = "core"
version = "0.3"
requires-python = ">=3.10"
dependencies = ["six==1.16.0"]
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"#,
    ),
    (
        "apps/other/pyproject.toml",
        r#"[project]
name = "other"
version = "2.0"
requires-python = ">=3.10"
dependencies = ["packaging"]
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"#,
    ),
    (
        "apps/skip/pyproject.toml",
        r#"[project]
name = "skip"
version = "2.0"
dependencies = []
"#,
    ),
];

const LOCK: &str = r#"version = 1
revision = 5
requires-python = ">=3.10"

[manifest]
members = [
    "api",
    "core",
    "other",
    "root",
]

[[package]]
name = "api"
version = "1.0"
source = { editable = "apps/api" }
dependencies = [
    { name = "core" },
    { name = "idna" },
]

[package.metadata]
requires-dist = [
    { name = "core", editable = "libs/core" },
    { name = "idna", specifier = ">=3" },
]

[[package]]
name = "core"
version = "0.3"
source = { editable = "libs/core" }
dependencies = [
    { name = "six" },
]

[package.metadata]
requires-dist = [{ name = "six", specifier = "==1.16.0" }]

[[package]]
name = "idna"
version = "3.20"
source = { registry = "http://127.0.0.1:9/simple" }
sdist = { url = "http://127.0.0.1:9/files/idna-3.20.tar.gz", hash = "sha256:a7db850025b95ded1eae8a46181a1a6c56c92c96f0e2b005d9ff8dc0210cab44", size = 216463 }
wheels = [
    { url = "http://127.0.0.1:9/files/idna-3.20-py3-none-any.whl", hash = "sha256:ab7ae7122974553370f0bdb919e1a960b2cd1bc1ef0276416d896db81c14582c", size = 69583 },
]

[[package]]
name = "other"
version = "2.0"
source = { editable = "apps/other" }
dependencies = [
    { name = "packaging" },
]

[package.metadata]
requires-dist = [{ name = "packaging" }]

[[package]]
name = "packaging"
version = "26.4"
source = { registry = "http://127.0.0.1:9/simple" }
sdist = { url = "http://127.0.0.1:9/files/packaging-26.4.tar.gz", hash = "sha256:c4b671c41ddb9bf26e543c37723610d28fb6bf7affc4da17cf048d419d2c062a", size = 355877 }
wheels = [
    { url = "http://127.0.0.1:9/files/packaging-26.4-py3-none-any.whl", hash = "sha256:81383611a09c1bc0b08b76e0fd5829d7c6824c65b27a6aee339da133f4233ea2", size = 140049 },
]

[[package]]
name = "root"
version = "0.1"
source = { virtual = "." }

[[package]]
name = "six"
version = "1.16.0"
source = { registry = "http://127.0.0.1:9/simple" }
sdist = { url = "http://127.0.0.1:9/files/six-1.16.0.tar.gz", hash = "sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926", size = 34041 }
wheels = [
    { url = "http://127.0.0.1:9/files/six-1.16.0-py2.py3-none-any.whl", hash = "sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254", size = 11053 },
]
"#;

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in FILES {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(dir.path().join("uv.lock"), LOCK).unwrap();
    dir
}

fn closure(project: &Project) -> Vec<String> {
    let lock = project.load_lock(&LockSelection::Auto).unwrap();
    let env = MarkerEnv::linux("3.11.9", "x86_64");
    select(&lock, project, &Selection::default(), &env)
        .unwrap()
        .iter()
        .map(|p| match &p.source {
            PackageSource::Path { path, editable } => {
                format!("{} path {} editable={editable}", p.name, path.display())
            }
            _ => format!("{}=={}", p.name, p.version.as_deref().unwrap_or("?")),
        })
        .collect()
}

const API_CLOSURE: [&str; 3] = [
    "core path libs/core editable=true",
    "idna==3.20",
    "six==1.16.0",
];

#[test]
fn member_finds_the_root_lock_and_installs_its_own_closure() {
    let ws = workspace();
    let api = Project::load(&ws.path().join("apps/api")).unwrap();
    let found = api.workspace.as_ref().expect("a workspace member");
    assert_eq!(found.root, std::fs::canonicalize(ws.path()).unwrap());
    let members: Vec<&str> = found.members.keys().map(String::as_str).collect();
    assert_eq!(members, ["api", "core", "other", "root"]);
    let (lock, _) = api.find_lock(&LockSelection::Auto).unwrap();
    assert_eq!(lock, found.root.join("uv.lock"));
    assert_eq!(closure(&api), API_CLOSURE);
}

#[test]
fn package_chooses_a_member_from_the_root() {
    let ws = workspace();
    let api = Project::load_package(ws.path(), Some("API")).unwrap();
    assert_eq!(api.name.as_deref(), Some("api"));
    assert_eq!(closure(&api), API_CLOSURE);
    let other = Project::load_package(ws.path(), Some("other")).unwrap();
    assert_eq!(closure(&other), ["packaging==26.4"]);
    let err = Project::load_package(ws.path(), Some("nope")).unwrap_err();
    assert!(matches!(err, ProjectError::UnknownMember { .. }), "{err}");
    assert!(err.hint().unwrap().contains("`api`"), "{:?}", err.hint());
    // The root itself is a virtual application with no dependencies.
    let root = Project::load_package(ws.path(), None).unwrap();
    assert_eq!(root.kind, ProjectKind::Application);
    assert!(closure(&root).is_empty());
}

#[test]
fn excluded_directory_is_not_a_member() {
    let ws = workspace();
    let skip = Project::load(&ws.path().join("apps/skip")).unwrap();
    assert!(skip.workspace.is_none());
    let err = skip.load_lock(&LockSelection::Auto).unwrap_err();
    assert!(matches!(err, ProjectError::NoLock { .. }), "{err}");
}

#[test]
fn member_missing_from_the_lock_is_stale() {
    let ws = workspace();
    let dir = ws.path().join("apps/new");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        "[project]\nname = \"new\"\nversion = \"1\"\ndependencies = []\n",
    )
    .unwrap();
    let new = Project::load(Path::new(&dir)).unwrap();
    let err = new.load_lock(&LockSelection::Auto).unwrap_err();
    assert!(matches!(err, ProjectError::StaleLock { .. }), "{err}");
}

#[test]
fn member_decoy_requirements_file_does_not_hide_the_root_lock() {
    // A member's own `requirements.txt` of `.` (and even one with pins) is
    // not what `uv sync --package` reads: the workspace's `uv.lock` is.
    let ws = workspace();
    let api_dir = ws.path().join("apps/api");
    let root_lock = std::fs::canonicalize(ws.path()).unwrap().join("uv.lock");
    for decoy in [
        ".\n",
        "-e .\n",
        "# the package\n.[server]\n",
        "idna==3.20\n",
    ] {
        std::fs::write(api_dir.join("requirements.txt"), decoy).unwrap();
        std::fs::write(api_dir.join("setup.py"), "import setuptools\n").unwrap();
        let api = Project::load(&api_dir).unwrap();
        let (lock, kind) = api.find_lock(&LockSelection::Auto).unwrap();
        assert_eq!(
            (lock, kind),
            (root_lock.clone(), lockship_project::LockKind::Uv),
            "{decoy:?}"
        );
        assert_eq!(closure(&api), API_CLOSURE, "{decoy:?}");
    }
}

#[test]
fn requirements_file_naming_only_the_project_is_not_a_lock() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("setup.py"), "import setuptools\n").unwrap();
    std::fs::write(
        dir.path().join("requirements.txt"),
        "# install me\n.\n-e .\n",
    )
    .unwrap();
    let app = Project::load(dir.path()).unwrap();
    let err = app.find_lock(&LockSelection::Auto).unwrap_err();
    assert!(matches!(err, ProjectError::NoLock { .. }), "{err}");
    // A pinned file further down the list is the lock, and a `.` line in a
    // real lock means the project itself, which is not a locked package.
    std::fs::create_dir_all(dir.path().join("requirements")).unwrap();
    std::fs::write(dir.path().join("requirements/prod.txt"), ".\nidna==3.7\n").unwrap();
    let (path, _) = app.find_lock(&LockSelection::Auto).unwrap();
    assert_eq!(path, dir.path().join("requirements/prod.txt"));
    let lock = app.load_lock(&LockSelection::Auto).unwrap();
    let names: Vec<&str> = lock.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["idna"]);
}

/// A workspace whose root holds `[tool.uv]` constraints, overrides and a
/// source its member inherits; `SETTINGS_LOCK` was written by `uv lock`
/// (uv 0.13.9) for it, and each case below was run through `uv lock
/// --check` in the member's directory: the expected answer is uv's.
const SETTINGS_ROOT: &str = r#"[project]
name = "root"
version = "0.1"
requires-python = ">=3.10"
dependencies = []
[tool.uv]
override-dependencies = ["six==1.16.0"]
constraint-dependencies = ["b<9"]
[tool.uv.workspace]
members = ["libs/*"]
[tool.uv.sources]
b = { workspace = true }
"#;

const SETTINGS_MEMBER: &str = r#"[project]
name = "a"
version = "1.0"
requires-python = ">=3.10"
dependencies = ["b>=0.1"]
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"#;

const SETTINGS_LOCK: &str = r#"version = 1
revision = 5
requires-python = ">=3.10"

[manifest]
members = [
    "a",
    "b",
    "root",
]
constraints = [{ name = "b", editable = "libs/b" }]
overrides = [{ name = "six", specifier = "==1.16.0" }]

[[package]]
name = "a"
version = "1.0"
source = { editable = "libs/a" }
dependencies = [
    { name = "b" },
]

[package.metadata]
requires-dist = [{ name = "b", editable = "libs/b" }]

[[package]]
name = "b"
version = "0.2"
source = { editable = "libs/b" }

[[package]]
name = "root"
version = "0.1"
source = { virtual = "." }
"#;

fn settings_workspace(root: &str, member: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let b = "[project]\nname = \"b\"\nversion = \"0.2\"\nrequires-python = \">=3.10\"\ndependencies = []\n";
    for (name, text) in [
        ("pyproject.toml", root),
        ("libs/a/pyproject.toml", member),
        ("libs/b/pyproject.toml", b),
        ("uv.lock", SETTINGS_LOCK),
    ] {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn member_lock(root: &str, member: &str) -> Result<(), ProjectError> {
    let ws = settings_workspace(root, member);
    let a = Project::load(&ws.path().join("libs/a"))?;
    a.load_lock(&LockSelection::Auto).map(drop)
}

#[test]
fn member_is_checked_against_the_root_constraints_overrides_and_sources() {
    // uv lock --check: fresh. The overrides and constraints are the root's,
    // and the member's `b` takes the root's workspace source.
    member_lock(SETTINGS_ROOT, SETTINGS_MEMBER).unwrap();
    // A member's own overrides are not uv's business: still fresh.
    let own = format!("{SETTINGS_MEMBER}[tool.uv]\noverride-dependencies = [\"six==1.15.0\"]\n");
    member_lock(SETTINGS_ROOT, &own).unwrap();
    // The root's override changed: stale for every member.
    let changed = SETTINGS_ROOT.replace("six==1.16.0", "six==1.17.0");
    let err = member_lock(&changed, SETTINGS_MEMBER).unwrap_err();
    assert!(
        matches!(&err, ProjectError::StaleLock { reason, .. } if reason.contains("override-dependencies")),
        "{err}"
    );
}
