//! Complete locks: wheels and sdists made at test time, served from
//! 127.0.0.1, downloaded as a build does, then checked.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use lockship_project::{LockKind, MarkerEnv, Project, Selection};

use super::wheel_fixtures::{Route, Server, WheelBuilder};
use super::*;
use crate::git::{GitPin, PinSource};

/// A distribution to serve: its file name and bytes, and whether it is an sdist.
struct Served {
    name: String,
    version: String,
    filename: String,
    bytes: Vec<u8>,
    sdist: bool,
}

/// A wheel whose METADATA has these `Requires-Dist` lines.
fn wheel(name: &str, version: &str, requires: &[&str]) -> Served {
    let mut metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    for r in requires {
        metadata.push_str(&format!("Requires-Dist: {r}\n"));
    }
    metadata.push_str("\nA description: with a colon.\nRequires-Dist: ignored-body\n");
    let dist = name.replace('-', "_");
    let builder = WheelBuilder::new(&dist, version)
        .file(&format!("{dist}/__init__.py"), b"")
        .file(
            &format!("{dist}-{version}.dist-info/METADATA"),
            metadata.as_bytes(),
        );
    Served {
        name: lockship_project::normalize_name(name),
        version: version.into(),
        filename: builder.filename(),
        bytes: builder.bytes(),
        sdist: false,
    }
}

/// An sdist whose PKG-INFO is `pkg_info`.
fn sdist(name: &str, version: &str, pkg_info: &str) -> Served {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, content) in [
        (format!("{name}-{version}/setup.py"), "".to_string()),
        (format!("{name}-{version}/PKG-INFO"), pkg_info.to_string()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, content.as_bytes())
            .unwrap();
    }
    Served {
        name: name.into(),
        version: version.into(),
        filename: format!("{name}-{version}.tar.gz"),
        bytes: tar.into_inner().unwrap().finish().unwrap(),
        sdist: true,
    }
}

/// A project directory with this `pyproject.toml`.
fn project(pyproject: &str) -> (tempfile::TempDir, Project) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pyproject.toml"), pyproject).unwrap();
    let project = Project::load(dir.path()).unwrap();
    (dir, project)
}

/// Serves `dists` from 127.0.0.1, downloads them as a build does, and
/// checks the set for `project` with `extras` selected.
fn check_served(
    dists: Vec<Served>,
    git: &[GitPin],
    project: &Project,
    extras: &[&str],
) -> Result<Option<String>, BuildError> {
    let routes: HashMap<String, Route> = dists
        .iter()
        .map(|d| {
            let route = Route {
                bytes: Some(d.bytes.clone()),
                ..Route::default()
            };
            (format!("/files/{}", d.filename), route)
        })
        .collect();
    let server = Server::start(routes, None);
    let pins: Vec<WheelPin> = dists
        .iter()
        .map(|d| WheelPin {
            name: d.name.clone(),
            version: d.version.clone(),
            filename: d.filename.clone(),
            url: format!("{}/files/{}", server.base, d.filename),
            sha256: lockship_fetch::sha256_hex(&d.bytes),
            size: Some(d.bytes.len() as u64),
            from_sdist: d.sdist,
        })
        .collect();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = lockship_fetch::Cache::open(cache_dir.path()).unwrap();
    let fetcher = lockship_fetch::Fetcher::new(Default::default()).unwrap();
    let ctx = lockship_runtime::Context {
        fetcher: &fetcher,
        cache: &cache,
        reporter: &lockship_fetch::NoReporter,
    };
    let downloaded = crate::download::download_all(&ctx, &pins, &[]).unwrap();
    let selection = Selection {
        extras: extras
            .iter()
            .map(|e| e.to_string())
            .collect::<BTreeSet<_>>(),
        ..Selection::default()
    };
    check(&Inputs {
        wheels: &pins,
        git,
        lock: (Path::new("requirements.txt"), LockKind::Requirements),
        project,
        selection: &selection,
        env: &MarkerEnv::linux("3.11.9", "x86_64"),
        downloaded: &downloaded,
        cache: &cache,
    })
}

const APP: &str = "[project]\nname = \"app\"\nversion = \"1.0\"\n";

/// A hand-written requirements file pins flask but not
/// werkzeug, and the image failed at run time.
#[test]
fn a_missing_dependency_names_package_dependent_and_requirement() {
    let (_d, app) = project(&format!("{APP}dependencies = [\"flask\"]\n"));
    let err = check_served(
        vec![
            wheel(
                "flask",
                "3.0.3",
                &["Werkzeug>=3.0.0", "itsdangerous>=2.1.2"],
            ),
            wheel("itsdangerous", "2.2.0", &[]),
        ],
        &[],
        &app,
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The lock `requirements.txt` is incomplete for this target: `werkzeug` is missing (`flask` requires `Werkzeug>=3.0.0`)"
    );
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("uv pip compile") && hint.contains("pip-compile"),
        "{hint}"
    );
}

#[test]
fn a_version_the_requirement_excludes_is_named() {
    let (_d, app) = project(&format!("{APP}dependencies = [\"flask\"]\n"));
    let err = check_served(
        vec![
            wheel("flask", "3.0.3", &["werkzeug (>=3.0.0)"]),
            wheel("werkzeug", "2.3.8", &[]),
        ],
        &[],
        &app,
        &[],
    )
    .unwrap_err();
    assert!(
        err.to_string().ends_with(
            "`werkzeug` 2.3.8 does not satisfy `werkzeug (>=3.0.0)` (required by `flask`)"
        ),
        "{err}"
    );
}

/// No false positives: names compared after PEP 503 normalisation, markers
/// for other platforms and Pythons, extras not selected, a package asking
/// for its own extras, a dependency on the project itself, and a
/// requirement that is not PEP 508 at all.
#[test]
fn a_complete_set_passes_whatever_the_spelling_and_markers() {
    let (_d, app) = project(&format!(
        "{APP}dependencies = [\"Zope_Interface>=5\", \"celery[redis]\"]\n"
    ));
    let note = check_served(
        vec![
            wheel(
                "zope.interface",
                "6.4",
                &["setuptools ; python_version < '3.0'"],
            ),
            wheel(
                "celery",
                "5.4.0",
                &[
                    "kombu<6,>=5.3.4",
                    "celery[pytest] ; extra == 'all'",
                    "redis!=4.5.5,>=4.5.2 ; extra == 'redis'",
                    "pywin32 ; sys_platform == 'win32'",
                    "backports.zoneinfo>=0.2.1 ; python_version < '3.9'",
                    "pytest-celery ; extra == 'pytest'",
                    "app>=0.1 ; extra == 'redis'",
                    "not a requirement (",
                ],
            ),
            wheel(
                "Kombu",
                "5.3.7",
                &["amqp<6.0.0,>=5.1.1", "kombu[redis] ; extra == 'redis'"],
            ),
            wheel("amqp", "5.2.0", &[]),
            wheel("redis", "5.0.8", &[]),
        ],
        &[],
        &app,
        &[],
    )
    .unwrap();
    assert_eq!(note, None);
}

/// Extras travel along requirements: the project asks for
/// `uvicorn[standard]`, whose `extra == "standard"` requirements must be
/// there; the project's own selected extras count too.
#[test]
fn extras_asked_for_bring_their_requirements() {
    let uvicorn = || {
        wheel(
            "uvicorn",
            "0.30.1",
            &[
                "h11>=0.8",
                "uvloop>=0.14.0 ; extra == 'standard' and sys_platform != 'win32'",
            ],
        )
    };
    let (_d, app) = project(&format!("{APP}dependencies = [\"uvicorn[standard]\"]\n"));
    let err =
        check_served(vec![uvicorn(), wheel("h11", "0.14.0", &[])], &[], &app, &[]).unwrap_err();
    assert!(err.to_string().contains("`uvloop` is missing (`uvicorn` requires `uvloop>=0.14.0 ; extra == 'standard' and sys_platform != 'win32'`)"), "{err}");
    let complete = vec![
        uvicorn(),
        wheel("h11", "0.14.0", &[]),
        wheel("uvloop", "0.19.0", &[]),
    ];
    assert_eq!(check_served(complete, &[], &app, &[]).unwrap(), None);

    let (_d, app) = project(&format!(
        "{APP}dependencies = [\"uvicorn\"]\n[project.optional-dependencies]\nserver = [\"uvicorn[standard]\"]\n"
    ));
    let base = || vec![uvicorn(), wheel("h11", "0.14.0", &[])];
    assert_eq!(check_served(base(), &[], &app, &[]).unwrap(), None);
    let err = check_served(base(), &[], &app, &["server"]).unwrap_err();
    assert!(err.to_string().contains("`uvloop` is missing"), "{err}");
}

/// An sdist's PKG-INFO is read when it is Metadata 2.2+ with a static
/// `Requires-Dist`; older or dynamic metadata is skipped with a note.
#[test]
fn sdists_are_checked_only_with_static_metadata() {
    let (_d, app) = project(&format!("{APP}dependencies = [\"legacy\"]\n"));
    let err = check_served(
        vec![sdist(
            "legacy",
            "1.0",
            "Metadata-Version: 2.2\nName: legacy\nVersion: 1.0\nRequires-Dist: six>=1.16\n",
        )],
        &[],
        &app,
        &[],
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("`six` is missing (`legacy` requires `six>=1.16`)"),
        "{err}"
    );
    for pkg_info in [
        "Metadata-Version: 2.1\nName: legacy\nVersion: 1.0\nRequires-Dist: six>=1.16\n",
        "Metadata-Version: 2.4\nName: legacy\nVersion: 1.0\nDynamic: Requires-Dist\nRequires-Dist: six>=1.16\n",
    ] {
        let note = check_served(vec![sdist("legacy", "1.0", pkg_info)], &[], &app, &[])
            .unwrap()
            .unwrap();
        assert!(note.contains("of one package"), "{note}");
        assert!(note.contains("`legacy`"), "{note}");
    }
}

/// A path dependency's `pyproject.toml` is read; a git dependency not
/// fetched yet is present but unchecked; the project's own requirements are
/// checked too.
#[test]
fn path_and_git_dependencies_are_read_when_at_hand() {
    let (_d, app) = project(&format!(
        "{APP}dependencies = [\"lib\", \"remote\", \"attrs\"]\n"
    ));
    let lib = tempfile::tempdir().unwrap();
    std::fs::write(
        lib.path().join("pyproject.toml"),
        "[project]\nname = \"lib\"\nversion = \"0.1\"\ndependencies = [\"attrs>=23\", \"app\"]\n",
    )
    .unwrap();
    let git = vec![
        GitPin {
            name: "lib".into(),
            source: PinSource::Path {
                dir: lib.path().to_path_buf(),
            },
        },
        GitPin {
            name: "remote".into(),
            source: PinSource::Git {
                url: "https://git.invalid/org/remote".into(),
                commit: "0123456789abcdef0123456789abcdef01234567".into(),
                subdirectory: None,
            },
        },
    ];
    let err = check_served(vec![wheel("attrs", "22.2.0", &[])], &git, &app, &[]).unwrap_err();
    assert!(
        err.to_string()
            .contains("`attrs` 22.2.0 does not satisfy `attrs>=23` (required by `lib`)"),
        "{err}"
    );
    let note = check_served(vec![wheel("attrs", "24.2.0", &[])], &git, &app, &[])
        .unwrap()
        .unwrap();
    assert!(note.contains("remote"), "{note}");
    let (_d, app) = project(&format!(
        "{APP}dependencies = [\"attrs\", \"missing-one\"]\n"
    ));
    let err = check_served(vec![wheel("attrs", "24.2.0", &[])], &[], &app, &[]).unwrap_err();
    assert!(
        err.to_string()
            .contains("`missing-one` is missing (`app` requires `missing-one`)"),
        "{err}"
    );
}

#[test]
fn metadata_headers_fold_and_stop_at_the_body() {
    let meta = parse_metadata(
        "Metadata-Version: 2.3\nName: x\nVersion: 1.0\nRequires-Dist: a>=1;\n  python_version >= '3.8'\nDynamic: Requires-Dist\n\nRequires-Dist: body\n",
    );
    assert_eq!(meta.metadata_version.as_deref(), Some("2.3"));
    assert_eq!(meta.version.as_deref(), Some("1.0"));
    assert_eq!(meta.requires_dist, ["a>=1; python_version >= '3.8'"]);
    assert_eq!(meta.dynamic, ["requires-dist"]);
}

/// `[tool.uv] override-dependencies` replaces a dependent's own specifier,
/// as uv resolves it: the overridden version passes, a missing one does not.
#[test]
fn overridden_versions_count_by_name_only() {
    let pyproject = format!(
        "{APP}dependencies = [\"flask\"]\n[tool.uv]\noverride-dependencies = [\"werkzeug==2.3.8\"]\n"
    );
    let (_d, app) = project(&pyproject);
    let set = || {
        vec![
            wheel("flask", "3.0.3", &["werkzeug>=3.0.0"]),
            wheel("werkzeug", "2.3.8", &[]),
        ]
    };
    assert_eq!(check_served(set(), &[], &app, &[]).unwrap(), None);
    let err = check_served(
        vec![wheel("flask", "3.0.3", &["werkzeug>=3.0.0"])],
        &[],
        &app,
        &[],
    )
    .unwrap_err();
    assert!(err.to_string().contains("`werkzeug` is missing"), "{err}");
    let (_d, plain) = project(&format!("{APP}dependencies = [\"flask\"]\n"));
    assert!(check_served(set(), &[], &plain, &[]).is_err());
}

/// `pip-compile` (without `--allow-unsafe`) leaves
/// setuptools out on purpose; that is a note naming it, not a broken lock,
/// while any other missing package still is.
#[test]
fn setuptools_left_out_of_a_compiled_requirements_file_is_a_note() {
    let (_d, app) = project(&format!("{APP}dependencies = [\"django-pipeline\"]\n"));
    let note = check_served(
        vec![wheel("django-pipeline", "4.0.0", &["setuptools"])],
        &[],
        &app,
        &[],
    )
    .unwrap()
    .unwrap();
    assert!(
        note.contains("`setuptools` is missing") && note.contains("--allow-unsafe"),
        "{note}"
    );
    let err = check_served(
        vec![wheel(
            "django-pipeline",
            "4.0.0",
            &["setuptools", "css-html-js-minify"],
        )],
        &[],
        &app,
        &[],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("css-html-js-minify") && !text.contains("setuptools"),
        "{text}"
    );
}
