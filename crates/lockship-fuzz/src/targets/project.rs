//! Project inputs: lockfiles (uv.lock, poetry.lock, pylock.toml,
//! requirements files) and pyproject.toml.

use std::sync::OnceLock;

use lockship_project::{select, Lock, LockKind, MarkerEnv, Project, Requirement, Selection};

use super::{text, Scratch};

/// A project named `fuzz-app` with no dependencies of its own.
fn base_project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let scratch = Scratch::new();
        scratch.file(
            "pyproject.toml",
            b"[project]\nname = \"fuzz-app\"\nversion = \"1.0\"\nrequires-python = \">=3.9\"\n",
        );
        Project::load(scratch.path()).expect("the fuzz project loads")
    })
}

/// Reads a lockfile of `kind` from `data`, then compares it with a project
/// and selects packages for Linux, which parses every marker it reaches.
fn lock(data: &[u8], kind: LockKind, file_name: &str) {
    let scratch = Scratch::new();
    let path = scratch.file(file_name, data);
    let Ok(lock) = Lock::read(&path, kind) else {
        return;
    };
    let mut project = base_project().clone();
    project.dir = scratch.path().to_path_buf();
    let _ = lock.check_fresh(&project);
    project.dependencies = lock
        .packages
        .iter()
        .map(|p| Requirement {
            name: p.name.clone(),
            extras: Default::default(),
            specifier: None,
            url: None,
            marker: None,
        })
        .collect();
    let env = MarkerEnv::linux("3.11.9", "x86_64");
    let selection = Selection {
        all_groups: true,
        ..Selection::default()
    };
    let _ = select(&lock, &project, &selection, &env);
}

/// A `uv.lock`.
pub fn uv_lock(data: &[u8]) {
    lock(data, LockKind::Uv, "uv.lock");
}

/// A `poetry.lock` (format 1.x and 2.x).
pub fn poetry_lock(data: &[u8]) {
    lock(data, LockKind::Poetry, "poetry.lock");
}

/// A `pylock.toml` (PEP 751).
pub fn pylock(data: &[u8]) {
    lock(data, LockKind::Pylock, "pylock.toml");
}

/// A pinned requirements file.
pub fn requirements(data: &[u8]) {
    lock(data, LockKind::Requirements, "requirements.txt");
}

/// A `pyproject.toml`: PEP 621, `[tool.poetry]`, `[tool.uv]`,
/// `[tool.lockship]`, dependency groups.
pub fn pyproject(data: &[u8]) {
    let scratch = Scratch::new();
    scratch.file("pyproject.toml", data);
    if let Ok(project) = Project::load(scratch.path()) {
        let _ = project.group_names();
    }
}

/// Paths every `.dockerignore` is matched against, besides its own patterns.
const PATHS: &[&str] = &[
    ".env",
    ".env.production",
    "config/prod.secret.json",
    "src/pkg/__init__.py",
    "src/pkg/.ssh/id_rsa",
    "./a/../b//c/",
    "node_modules/x/y/z/w.js",
    "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.txt",
    "",
    "/",
];

/// A `.dockerignore`: its patterns, then matching (files, parent
/// directories, exceptions, and whether a directory may be skipped) against
/// fixed paths and against each pattern's own text.
pub fn dockerignore(data: &[u8]) {
    use lockship_project::dockerignore::{clean, parse};
    let Ok(rules) = parse(std::path::Path::new(".dockerignore"), &text(data)) else {
        return;
    };
    // Real paths are short (`PATH_MAX` is 4096 bytes); matching costs the
    // pattern's length times the path's.
    let own: Vec<String> = rules
        .rules()
        .iter()
        .filter(|r| r.pattern.len() <= 512)
        .take(64)
        .map(|r| r.pattern.clone())
        .collect();
    for path in PATHS.iter().copied().chain(own.iter().map(String::as_str)) {
        let _ = rules.is_excluded(path);
        let _ = rules.names(path);
        let _ = rules.may_reinclude_below(path);
        let _ = clean(path);
    }
}
