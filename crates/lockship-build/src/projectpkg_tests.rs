//! The project tree is input too: `.dockerignore` with Docker's semantics,
//! secrets left out, and no file from outside the project packed through a
//! link (issue 12, findings 7 and 8).

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use lockship_project::Project;

use super::*;

/// A project in a fresh directory: `pyproject.toml` (a package when
/// `backend`), plus `files` (path → content).
fn project(backend: bool, extra_toml: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut toml = "[project]\nname = \"app\"\nversion = \"1.0\"\n".to_string();
    if backend {
        toml.push_str(
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n",
        );
    }
    toml.push_str(extra_toml);
    write(dir.path(), "pyproject.toml", &toml);
    for (path, content) in files {
        write(dir.path(), path, content);
    }
    dir
}

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A directory outside every project, holding a key: must never be read
/// into a staged tree, nor change.
fn canary() -> (tempfile::TempDir, BTreeMap<PathBuf, Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "id_rsa", "CANARY-PRIVATE-KEY");
    write(dir.path(), "notes/plain.txt", "CANARY-NOTES");
    let snapshot = tree(dir.path());
    (dir, snapshot)
}

/// Every file and link under `root`: path → bytes (or link target).
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
            let bytes = if e.file_type().is_symlink() {
                std::fs::read_link(e.path())
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                std::fs::read(e.path()).unwrap()
            };
            (rel, bytes)
        })
        .collect()
}

fn no_canary_bytes(staged: &BTreeMap<PathBuf, Vec<u8>>) {
    for (path, bytes) in staged {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("CANARY"),
            "`{}` holds canary bytes",
            path.display()
        );
    }
}

/// The files of a packed wheel: name → bytes.
fn wheel_entries(project: &Project) -> Result<BTreeMap<String, Vec<u8>>, BuildError> {
    let out = tempfile::tempdir().unwrap();
    let wheel = pack_wheel(project, out.path())?;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let mut entries = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut bytes).unwrap();
        entries.insert(f.name().unwrap().to_string(), bytes);
    }
    Ok(entries)
}

fn staged_app(project: &Project) -> Result<BTreeMap<PathBuf, Vec<u8>>, BuildError> {
    let root = tempfile::tempdir().unwrap();
    copy_to_app(project, root.path())?;
    Ok(tree(&root.path().join("app")))
}

fn keys(tree: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<String> {
    tree.keys()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn dockerignore_and_builtins() {
    let dir = project(
        false,
        "",
        &[(".dockerignore", "tests\n**/*.log\n!**/keep.log\n# c\n")],
    );
    let filter = Filter::load(&Project::load(dir.path()).unwrap()).unwrap();
    assert!(filter.ignored("tests/test_app.py"));
    assert!(!filter.ignored("src/tests/test_app.py"));
    assert!(filter.ignored("src/app/debug.log"));
    assert!(!filter.ignored("src/app/keep.log"));
    assert!(filter.ignored("src/app/__pycache__/x.cpython-311.pyc"));
    assert!(filter.ignored("src/app/x.pyc"));
    assert!(filter.ignored(".venv/lib/x.py"));
    assert!(!filter.ignored("src/app/main.py"));
}

#[test]
fn a_builtin_exclusion_can_be_put_back() {
    let dir = project(
        false,
        "",
        &[
            (".dockerignore", "!build/schema.sql\n"),
            ("build/schema.sql", "create table t;"),
            ("build/tmp.o", "junk"),
            ("main.py", "print()"),
        ],
    );
    let app = staged_app(&Project::load(dir.path()).unwrap()).unwrap();
    assert_eq!(
        keys(&app),
        [
            ".dockerignore",
            "build/schema.sql",
            "main.py",
            "pyproject.toml"
        ]
    );
}

#[test]
fn an_invalid_dockerignore_names_its_line() {
    let dir = project(false, "", &[(".dockerignore", "ok\n[z-a]\n")]);
    let err = staged_app(&Project::load(dir.path()).unwrap()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("`[z-a]` at line 2 of `"), "{message}");
    assert!(
        message.contains(".dockerignore`: the range `z-a` is reversed"),
        "{message}"
    );
    assert!(err.hint().unwrap().contains("Docker's patterns"));
}

/// Finding 8: `.env*` and `config/*.json` were not honoured, so these
/// went into `/app`.
#[test]
fn hostile_dockerignore_patterns_env_and_config_json_are_honoured() {
    let files = [
        (".dockerignore", ".env*\nconfig/*.json\n"),
        (".env", "SECRET=1"),
        (".env.production", "SECRET=2"),
        ("config/prod.secret.json", "{\"secret\": 3}"),
        ("config/settings.py", "DEBUG = False"),
        ("main.py", "print('hi')"),
        ("src/app/__init__.py", ""),
    ];
    let dir = project(false, "", &files);
    let app = staged_app(&Project::load(dir.path()).unwrap()).unwrap();
    assert_eq!(
        keys(&app),
        [
            ".dockerignore",
            "config/settings.py",
            "main.py",
            "pyproject.toml",
            "src/app/__init__.py"
        ]
    );
    // The same rules hold for a package's files.
    let dir = project(
        true,
        "",
        &[
            (".dockerignore", "**/.env*\nsrc/app/config/*.json\n"),
            ("src/app/__init__.py", ""),
            ("src/app/.env", "SECRET=1"),
            ("src/app/config/prod.secret.json", "{}"),
            ("src/app/config/defaults.toml", ""),
        ],
    );
    let names: Vec<String> = project_files(&Project::load(dir.path()).unwrap())
        .unwrap()
        .into_iter()
        .map(|(_, rel)| rel)
        .collect();
    assert_eq!(names, ["app/__init__.py", "app/config/defaults.toml"]);
}

/// Finding 8: the usual secret files never go in unless the project opts
/// in, and each one left out is named in a warning.
#[test]
fn hostile_secret_files_are_skipped_with_a_warning() {
    let files = [
        (".env", "SECRET=1"),
        ("deploy/.env.local", "SECRET=2"),
        (".ssh/id_ed25519", "KEY"),
        (".aws/credentials", "KEY"),
        (".npmrc", "//registry:_authToken=x"),
        (".pypirc", "[pypi]\npassword=x"),
        (".netrc", "machine x password y"),
        ("certs/server.pem", "PEM"),
        ("certs/server.key", "KEY"),
        ("id_rsa", "KEY"),
        ("main.py", "print('hi')"),
    ];
    let dir = project(false, "", &files);
    let p = Project::load(dir.path()).unwrap();
    let app = staged_app(&p).unwrap();
    assert_eq!(keys(&app), ["main.py", "pyproject.toml"]);
    let warnings = secret_warnings(&p, false).unwrap();
    let named: Vec<&str> = warnings
        .iter()
        .map(|w| w.split('`').nth(1).unwrap())
        .collect();
    assert_eq!(
        named,
        [
            ".aws/credentials",
            ".env",
            ".netrc",
            ".npmrc",
            ".pypirc",
            ".ssh/id_ed25519",
            "certs/server.key",
            "certs/server.pem",
            "deploy/.env.local",
            "id_rsa",
        ]
    );
    assert!(warnings[0].contains("looks like a secret and is left out of the image"));
    assert!(warnings[0].contains("`include-secrets = true`"));
    assert!(warnings[0].contains("`!.aws/credentials`"));

    // A `!` exception naming a file (or its secret directory) lets it in.
    write(
        dir.path(),
        ".dockerignore",
        "!certs/server.pem\n!.ssh\n!*\n",
    );
    let p = Project::load(dir.path()).unwrap();
    let app = staged_app(&p).unwrap();
    assert_eq!(
        keys(&app),
        [
            ".dockerignore",
            ".ssh/id_ed25519",
            "certs/server.pem",
            "main.py",
            "pyproject.toml"
        ]
    );
    assert_eq!(secret_warnings(&p, false).unwrap().len(), 8);

    // `include-secrets = true` lets them all in, with no warning.
    let dir = project(false, "[tool.lockship]\ninclude-secrets = true\n", &files);
    let p = Project::load(dir.path()).unwrap();
    assert_eq!(staged_app(&p).unwrap().len(), files.len() + 1);
    assert!(secret_warnings(&p, false).unwrap().is_empty());
}

#[test]
fn secrets_in_a_package_are_skipped_even_through_a_link() {
    let dir = project(
        true,
        "",
        &[
            ("src/app/__init__.py", ""),
            ("src/app/tls.pem", "PEM"),
            (".env", "SECRET=1"),
        ],
    );
    symlink("../../.env", dir.path().join("src/app/settings.env")).unwrap();
    let p = Project::load(dir.path()).unwrap();
    let entries = wheel_entries(&p).unwrap();
    assert!(entries
        .keys()
        .all(|k| !k.contains("tls.pem") && !k.contains("settings.env")));
    let warnings = secret_warnings(&p, true).unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("`src/app/settings.env` (a link to `.env`) in `"));
    assert!(warnings[1].starts_with("`src/app/tls.pem` in `"));
}

/// Finding 7: `src/app -> /host/dir` packed the host directory (and its
/// `id_rsa`) into site-packages.
#[test]
fn hostile_project_symlink_to_host_dir_is_refused() {
    let (outside, before) = canary();
    let dir = project(true, "", &[]);
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    let link = dir.path().join("src/app");
    symlink(outside.path(), &link).unwrap();
    let p = Project::load(dir.path()).unwrap();

    let err = wheel_entries(&p).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("Refusing `{}` from the project `", link.display())),
        "{message}"
    );
    assert!(message.contains("outside the project"), "{message}");
    assert!(err.hint().unwrap().contains("inside the project directory"));
    assert!(project_files(&p).is_err());
    assert!(secret_warnings(&p, true).is_err(), "plan refuses it too");
    assert_eq!(tree(outside.path()), before);
}

/// Finding 7, one level down: a link inside the package, and a link in a
/// project copied to `/app`.
#[test]
fn hostile_symlink_inside_the_tree_to_host_dir_is_refused() {
    let (outside, before) = canary();
    let dir = project(true, "", &[("src/app/__init__.py", "")]);
    let link = canon(dir.path()).join("src/app/vendored");
    symlink(outside.path(), &link).unwrap();
    let file_link = canon(dir.path()).join("src/app/key");
    let p = Project::load(dir.path()).unwrap();
    let err = project_files(&p).unwrap_err().to_string();
    assert!(err.contains(&format!("`{}`", link.display())), "{err}");
    assert!(
        err.contains(&format!(
            "it is a symlink to `{}`, outside the project",
            outside.path().display()
        )),
        "{err}"
    );

    std::fs::remove_file(&link).unwrap();
    symlink(outside.path().join("id_rsa"), &file_link).unwrap();
    let err = wheel_entries(&p).unwrap_err().to_string();
    assert!(err.contains(&format!("`{}`", file_link.display())), "{err}");

    // A relative chain out of the project is no different.
    std::fs::remove_file(&file_link).unwrap();
    let rel = pathdiff(outside.path(), &dir.path().join("src/app"));
    symlink(&rel, &link).unwrap();
    assert!(project_files(&p)
        .unwrap_err()
        .to_string()
        .contains("outside the project"));

    let app_dir = project(false, "", &[("main.py", "")]);
    let app_link = canon(app_dir.path()).join("data");
    symlink(outside.path(), &app_link).unwrap();
    let root = tempfile::tempdir().unwrap();
    let err = copy_to_app(&Project::load(app_dir.path()).unwrap(), root.path()).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("`{}`", app_link.display())),
        "{err}"
    );
    no_canary_bytes(&tree(root.path()));
    assert_eq!(tree(outside.path()), before);
}

fn canon(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap()
}

/// `../` steps from `from` to `to` (both absolute).
fn pathdiff(to: &Path, from: &Path) -> PathBuf {
    let up = from.components().count() - 1;
    let mut out = PathBuf::new();
    for _ in 0..up {
        out.push("..");
    }
    out.join(to.strip_prefix("/").unwrap())
}

/// Finding 7 for path dependencies: they are packed by the same walk.
#[test]
fn hostile_path_dependency_symlink_is_refused() {
    let (outside, before) = canary();
    let dep = project(true, "", &[("src/app/__init__.py", "")]);
    symlink(
        outside.path().join("id_rsa"),
        dep.path().join("src/app/id.txt"),
    )
    .unwrap();
    let pin = crate::GitPin {
        name: "app".into(),
        source: crate::PinSource::Path {
            dir: dep.path().to_path_buf(),
        },
    };
    let err = crate::git::content_key(&pin).unwrap_err().to_string();
    assert!(err.contains("outside the project"), "{err}");
    assert_eq!(tree(outside.path()), before);
}

#[test]
fn links_inside_the_project_are_kept_or_followed() {
    let dir = project(
        false,
        "",
        &[("data/v1.txt", "one"), ("main.py", ""), ("sub/x.py", "")],
    );
    symlink("data/v1.txt", dir.path().join("latest.txt")).unwrap();
    symlink(dir.path().join("data"), dir.path().join("sub/data")).unwrap();
    let app = staged_app(&Project::load(dir.path()).unwrap()).unwrap();
    assert_eq!(app[Path::new("latest.txt")], b"data/v1.txt");
    // An absolute link into the project becomes a relative one.
    assert_eq!(app[Path::new("sub/data")], b"../data");

    // A wheel holds no links: what an in-project link points at is packed.
    let dir = project(
        true,
        "",
        &[
            ("src/app/__init__.py", ""),
            ("shared/util.py", "X = 1"),
            ("README.md", "readme"),
        ],
    );
    symlink("../../shared", dir.path().join("src/app/shared")).unwrap();
    symlink("../../README.md", dir.path().join("src/app/README.md")).unwrap();
    let entries = wheel_entries(&Project::load(dir.path()).unwrap()).unwrap();
    assert_eq!(entries["app/shared/util.py"], b"X = 1");
    assert_eq!(entries["app/README.md"], b"readme");
}

#[test]
fn link_loops_and_dangling_links_are_refused() {
    let dir = project(true, "", &[("src/app/__init__.py", "")]);
    symlink("..", dir.path().join("src/app/up")).unwrap();
    let err = project_files(&Project::load(dir.path()).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("src/app/up`") && err.contains("(a loop)"),
        "{err}"
    );

    let dir = project(false, "", &[("main.py", "")]);
    symlink("missing.txt", dir.path().join("gone")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let err = copy_to_app(&Project::load(dir.path()).unwrap(), root.path()).unwrap_err();
    assert!(
        err.to_string()
            .contains("it is a symlink to `missing.txt`, which does not exist"),
        "{err}"
    );
    // A left-out link is never looked at.
    write(dir.path(), ".dockerignore", "gone\n");
    assert!(copy_to_app(&Project::load(dir.path()).unwrap(), root.path()).is_ok());
}

#[test]
fn a_venv_full_of_host_links_is_left_out_unread() {
    let dir = project(false, "", &[("main.py", "")]);
    std::fs::create_dir_all(dir.path().join(".venv/bin")).unwrap();
    symlink("/usr/bin/python3", dir.path().join(".venv/bin/python")).unwrap();
    let app = staged_app(&Project::load(dir.path()).unwrap()).unwrap();
    assert_eq!(keys(&app), ["main.py", "pyproject.toml"]);
}

#[test]
fn relative_link_targets() {
    assert_eq!(relative("", "data/v1.txt"), "data/v1.txt");
    assert_eq!(relative("sub", "data"), "../data");
    assert_eq!(relative("a/b", "a/c/d"), "../c/d");
    assert_eq!(relative("a", "a"), ".");
}

#[test]
fn the_main_module_of_a_package_is_found_in_its_importable_root() {
    let dir = project(
        true,
        "",
        &[
            ("src/app/__init__.py", ""),
            ("src/app/__main__.py", "print('hi')\n"),
        ],
    );
    let p = Project::load(dir.path()).unwrap();
    assert_eq!(main_module(&p, true).as_deref(), Some("app"));
    let none = project(true, "", &[("src/app/__init__.py", "")]);
    assert_eq!(
        main_module(&Project::load(none.path()).unwrap(), true),
        None
    );
}

#[test]
fn an_app_has_a_main_module_only_when_one_top_level_directory_has_one() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[tool.lockship]\n");
    write(dir.path(), "service/__main__.py", "");
    write(dir.path(), ".hidden/__main__.py", "");
    write(dir.path(), "not-a-module/__main__.py", "");
    let p = Project::load(dir.path()).unwrap();
    assert_eq!(main_module(&p, false).as_deref(), Some("service"));
    // Two candidates: no guess.
    write(dir.path(), "worker/__main__.py", "");
    assert_eq!(
        main_module(&Project::load(dir.path()).unwrap(), false),
        None
    );
    // Left out by .dockerignore: not in the image, not a candidate.
    write(dir.path(), ".dockerignore", "worker/\n");
    assert_eq!(
        main_module(&Project::load(dir.path()).unwrap(), false).as_deref(),
        Some("service")
    );
}
