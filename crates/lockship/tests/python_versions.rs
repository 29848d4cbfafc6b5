//! The image's Python follows what the project declares (issue 13):
//! `requires-python`, `.python-version`, `--python`, judged against what
//! Debian's suites have. Plans read only index metadata; one image is built
//! on 3.13 and run in the real engine.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// The flask example in `dir`, with `requires-python` set to `range` and,
/// when given, a `.python-version` of `version_file`.
fn project(dir: &Path, range: &str, version_file: Option<&str>) -> PathBuf {
    let app = copy_example("flask-app", dir);
    let pyproject = app.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    assert!(text.contains("requires-python = \">=3.11\""), "{text}");
    let text = text.replace(
        "requires-python = \">=3.11\"",
        &format!("requires-python = \"{range}\""),
    );
    std::fs::write(&pyproject, text).unwrap();
    if let Some(v) = version_file {
        std::fs::write(app.join(".python-version"), format!("{v}\n")).unwrap();
    }
    app
}

fn plan_json(app: &Path, extra: &[&str]) -> serde_json::Value {
    let out = run_ok(lockship().arg("plan").arg(app).args(extra));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn requires_python_at_least_3_13_plans_on_trixie() {
    if !online() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = project(dir.path(), ">=3.13", None);
    let plan = plan_json(&app, &[]);
    let python = &plan["python"];
    assert_eq!(python["provider"]["kind"], "debian", "{python}");
    assert_eq!(python["provider"]["suite"], "trixie", "{python}");
    let version = python["version"].as_str().unwrap();
    assert!(version.starts_with("3.13."), "{python}");
    assert_eq!(plan["python_full_version"], version);
    assert_eq!(
        python["reason"],
        format!("Python {version} (requires-python >=3.13 in pyproject.toml)")
    );
    assert!(plan["target"].as_str().unwrap().contains("cp313"), "{plan}");
}

#[test]
fn python_version_file_3_11_plans_on_bookworm() {
    if !online() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = project(dir.path(), ">=3.11", Some("3.11"));
    let plan = plan_json(&app, &[]);
    let python = &plan["python"];
    assert_eq!(python["provider"]["suite"], "bookworm", "{python}");
    assert_eq!(python["origin"], "version-file", "{python}");
    let version = python["version"].as_str().unwrap();
    assert!(version.starts_with("3.11."), "{python}");
    assert_eq!(
        python["reason"],
        format!("Python {version} (3.11 in .python-version)")
    );
}

#[test]
fn nothing_declared_keeps_the_default_3_11() {
    if !online() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = copy_example("flask-app", dir.path());
    let pyproject = app.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(
        &pyproject,
        text.replace("requires-python = \">=3.11\"\n", ""),
    )
    .unwrap();
    let plan = plan_json(&app, &[]);
    assert_eq!(plan["python"]["provider"]["suite"], "bookworm", "{plan}");
    assert_eq!(plan["python"]["origin"], "default", "{plan}");
}

#[test]
fn python_version_file_contradicting_requires_python_is_an_error() {
    if !online() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = project(dir.path(), ">=3.13", Some("3.11"));
    let err = run_err(lockship().arg("plan").arg(&app));
    assert!(err.contains("3.11 in .python-version"), "{err}");
    assert!(err.contains(">=3.13"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn a_patch_release_no_provider_has_is_an_error_naming_what_exists() {
    if !online() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = project(dir.path(), ">=3.11", None);
    let err = run_err(lockship().arg("plan").arg(&app).args([
        "--python",
        "3.11.9",
        "--python-source",
        "debian",
    ]));
    assert!(err.contains("3.11.9"), "{err}");
    // What bookworm has is listed, never silently substituted.
    assert!(err.contains("3.11.2"), "{err}");
    assert!(err.contains("bookworm"), "{err}");
}

/// One image on 3.13 from trixie: loaded into the engine, run read-only as
/// 65532, its interpreter is 3.13 and the app imports.
#[test]
fn requires_python_3_13_builds_and_runs_on_3_13() {
    if !online() || !require("a Docker engine", docker_available()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = project(dir.path(), ">=3.13", None);
    let tag = "lockship-test/python-3-13:e2e";
    let archive = dir.path().join("app.tar");
    let out = run_ok(lockship().args([
        "build",
        app.to_str().unwrap(),
        "--json",
        "--tag",
        tag,
        "--output",
        &format!("docker-archive:{}", archive.display()),
        "--load",
        "-t",
        tag,
    ]));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let python = summary["python"].as_str().unwrap();
    assert!(python.starts_with("3.13."), "{summary}");
    assert_eq!(
        summary["python_choice"],
        format!("Python {python} (requires-python >=3.13 in pyproject.toml)")
    );
    let run = docker()
        .args([
            "run",
            "--rm",
            "--read-only",
            "--user",
            "65532",
            "--entrypoint",
            "python3",
            tag,
            "-c",
            "import sys, ssl, sqlite3, ctypes, zoneinfo, flask; print('%d.%d' % sys.version_info[:2])",
        ])
        .output()
        .unwrap();
    docker_rmi(tag);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "3.13");
}
