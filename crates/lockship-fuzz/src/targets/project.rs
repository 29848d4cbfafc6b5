//! Project inputs: lockfiles (uv.lock, poetry.lock, pylock.toml, pdm.lock,
//! Pipfile.lock, requirements files and their includes) and
//! pyproject.toml.

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

/// One target per lockfile format, each reading its input through [`lock`].
macro_rules! lock_targets {
    ($($(#[doc = $doc:literal])* $name:ident: $kind:ident, $file:literal;)*) => {
        $($(#[doc = $doc])* pub fn $name(data: &[u8]) {
            lock(data, LockKind::$kind, $file);
        })*
    };
}

lock_targets! {
    /// A `uv.lock`.
    uv_lock: Uv, "uv.lock";
    /// A `poetry.lock` (format 1.x and 2.x).
    poetry_lock: Poetry, "poetry.lock";
    /// A `pylock.toml` (PEP 751).
    pylock: Pylock, "pylock.toml";
    /// A pinned requirements file.
    requirements: Requirements, "requirements.txt";
    /// A `pdm.lock` (lock_version 4.x).
    pdm_lock: Pdm, "pdm.lock";
    /// A `Pipfile.lock` (pipfile-spec 6).
    pipfile_lock: Pipenv, "Pipfile.lock";
}

/// The files a `requirements_includes` input is split into at NUL bytes:
/// the requirements file first, then files it may include.
const INCLUDED: &[&str] = &[
    "requirements.txt",
    "base.txt",
    "constraints.txt",
    "nested/more.txt",
];

/// The one package named only by a file outside the project.
const OUTSIDE_PACKAGE: &str = "outside-secret";

/// A requirements file with `-r`/`-c` includes, in a project directory next
/// to a file outside it (also reachable through a symlink in the project):
/// whatever the includes say, nothing outside the project is read.
pub fn requirements_includes(data: &[u8]) {
    if let Some(lock) = read_with_includes(data) {
        assert!(
            lock.packages.iter().all(|p| p.name != OUTSIDE_PACKAGE),
            "an include outside the project was read"
        );
    }
}

/// The lock a `requirements_includes` input reads as, if it does.
fn read_with_includes(data: &[u8]) -> Option<Lock> {
    let scratch = Scratch::new();
    scratch.file("secret.txt", format!("{OUTSIDE_PACKAGE}==1.0\n").as_bytes());
    let app = scratch.dir("app");
    std::os::unix::fs::symlink("../secret.txt", app.join("link.txt")).expect("a scratch symlink");
    let mut parts = data.split(|b| *b == 0);
    for name in INCLUDED {
        scratch.file(&format!("app/{name}"), parts.next().unwrap_or_default());
    }
    Lock::read_in(&app.join(INCLUDED[0]), LockKind::Requirements, &app).ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_inside_the_project_are_read() {
        let hash = |c: char| c.to_string().repeat(64);
        let data = format!(
            "-r base.txt\nflask==3.0.3 --hash=sha256:{}\n\0-r nested/more.txt\n\0\0six==1.16.0 --hash=sha256:{}\n",
            hash('1'),
            hash('3')
        );
        let lock = read_with_includes(data.as_bytes()).expect("the seed reads");
        let mut names: Vec<&str> = lock.packages.iter().map(|p| p.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["flask", "six"]);
    }

    #[test]
    fn the_pdm_and_pipenv_seeds_read() {
        let seeds: [(&[u8], LockKind, &str); 2] = [
            (
                include_bytes!("../../corpus/pdm_lock/pdm.lock"),
                LockKind::Pdm,
                "pdm.lock",
            ),
            (
                include_bytes!("../../corpus/pipfile_lock/Pipfile.lock"),
                LockKind::Pipenv,
                "Pipfile.lock",
            ),
        ];
        for (data, kind, name) in seeds {
            let scratch = Scratch::new();
            let lock = Lock::read(&scratch.file(name, data), kind).expect(name);
            assert!(
                lock.packages.len() >= 4,
                "{name}: {:?}",
                lock.packages.len()
            );
        }
    }

    #[test]
    fn hostile_include_through_a_symlink_reads_nothing_outside() {
        for line in ["-r link.txt\n", "-r ../secret.txt\n", "-c link.txt\n"] {
            let lock = read_with_includes(line.as_bytes());
            assert!(lock.is_none(), "`{line}` was followed");
        }
    }
}
