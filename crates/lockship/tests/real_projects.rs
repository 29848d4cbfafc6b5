//! Real projects as they are (issue 14): a uv workspace member, an app with
//! no `[project]` and a hashed `requirements/main.txt`, a dependency that
//! ships a file with a deliberate syntax error, and a project with nothing
//! to run. Each is built with real downloads and, where it runs, run in the
//! real engine read-only as uid 65532.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// The summary's warnings, one string each.
fn warnings(summary: &serde_json::Value) -> Vec<String> {
    summary["warnings"]
        .as_array()
        .map(|w| w.iter().map(|w| w.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn uv_lock(uv: &Path, dir: &Path) {
    run_ok(Command::new(uv).arg("lock").current_dir(dir));
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn inspect(tag: &str, format: &str) -> String {
    let out = run_ok(docker().args(["inspect", "--format", format, tag]));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `docker run --rm --read-only TAG ARGS…` as the image's user; its stdout.
fn run_read_only(tag: &str, args: &[&str]) -> String {
    let out = run_ok(
        docker()
            .args(["run", "--rm", "--read-only", tag])
            .args(args),
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_uv_workspace_member_builds_alike_from_its_directory_and_with_package_from_the_root() {
    if !online() || !require("a Docker engine", docker_available()) {
        return;
    }
    let Some(uv) = uv() else {
        require("uv (installed with pip into a test venv)", false);
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = copy_example("uv-workspace", dir.path());
    uv_lock(&uv, &root);
    let member = build_json(&root.join("packages/api"), &dir.path().join("member"), &[]);
    let tag = "lockship-test/uv-workspace-api:e2e";
    let from_root = build_json(
        &root,
        &dir.path().join("root"),
        &["--package", "api", "--load", "-t", tag],
    );
    assert_eq!(member["digest"], from_root["digest"]);
    let user = inspect(tag, "{{.Config.User}}");
    let entrypoint = inspect(tag, "{{json .Config.Entrypoint}}");
    let greeting = run_read_only(tag, &["hello", "lockship"]);
    docker_rmi(tag);
    assert_eq!(user, "65532");
    // Inferred from the member's one console script.
    assert!(entrypoint.ends_with("/bin/api\"]"), "{entrypoint}");
    // `greeting`, the other member, is installed as a package.
    assert_eq!(greeting, "hello, lockship");
}

#[test]
fn an_app_without_a_project_table_builds_from_a_hashed_requirements_file() {
    if !online() || !require("a Docker engine", docker_available()) {
        return;
    }
    let tag = "lockship-test/requirements-app:e2e";
    let dir = tempfile::tempdir().unwrap();
    let summary = build_json(
        &examples().join("requirements-app"),
        &dir.path().join("oci"),
        &["--lockfile", "requirements/main.txt", "--load", "-t", tag],
    );
    assert_eq!(summary["project"], "requirements-app", "{summary}");
    let workdir = inspect(tag, "{{.Config.WorkingDir}}");
    let out = run_read_only(tag, &[]);
    docker_rmi(tag);
    assert_eq!(workdir, "/app");
    assert!(
        out.contains("bücher.example -> xn--bcher-kva.example"),
        "{out}"
    );
    assert!(out.contains("six 1.17.0"), "{out}");
}

/// A package whose path dependency ships two files that do not compile,
/// as packages do with test data.
fn project_with_a_broken_dependency(root: &Path) {
    write(
        &root.join("pyproject.toml"),
        "[project]\nname = \"compile-app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\n\
         dependencies = [\"brokendep\"]\n\
         [project.scripts]\ncompile-app = \"compile_app:main\"\n\
         [tool.uv.sources]\nbrokendep = { path = \"vendor/brokendep\" }\n\
         [build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\
         [tool.hatch.build.targets.wheel]\npackages = [\"src/compile_app\"]\n",
    );
    write(
        &root.join("src/compile_app/__init__.py"),
        "import brokendep\n\ndef main():\n    print(brokendep.OK)\n",
    );
    let dep = root.join("vendor/brokendep");
    write(
        &dep.join("pyproject.toml"),
        "[project]\nname = \"brokendep\"\nversion = \"1.0\"\n\
         [build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\
         [tool.hatch.build.targets.wheel]\npackages = [\"src/brokendep\"]\n",
    );
    write(&dep.join("src/brokendep/__init__.py"), "OK = 'ok'\n");
    write(
        &dep.join("src/brokendep/tests/bad_import.py"),
        "import .syntaxerror\n",
    );
    write(&dep.join("src/brokendep/tests/bad_def.py"), "def (:\n");
}

#[test]
fn syntax_errors_in_dependencies_are_warnings_and_in_the_project_an_error() {
    if !online() {
        return;
    }
    let Some(uv) = uv() else {
        require("uv (installed with pip into a test venv)", false);
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("compile-app");
    project_with_a_broken_dependency(&project);
    uv_lock(&uv, &project);
    let summary = build_json(&project, &dir.path().join("oci"), &[]);
    let warnings = warnings(&summary);
    let skipped = warnings
        .iter()
        .find(|w| w.starts_with("skipped 2 dependency files"))
        .unwrap_or_else(|| panic!("no warning of the skipped files: {warnings:?}"));
    assert!(skipped.contains("brokendep/tests/bad_def.py"), "{skipped}");
    assert!(
        skipped.contains("brokendep/tests/bad_import.py"),
        "{skipped}"
    );

    // The project's own code: the user's bug, named.
    write(&project.join("src/compile_app/broken.py"), "import .oops\n");
    let err = run_err(
        lockship()
            .arg("build")
            .arg(&project)
            .arg("--output")
            .arg(format!("oci:{}", dir.path().join("oci2").display())),
    );
    assert!(err.contains("does not compile"), "{err}");
    assert!(err.contains("compile_app/broken.py"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn nothing_to_run_is_a_warning_naming_command_and_no_entrypoint() {
    if !online() || !require("a Docker engine", docker_available()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("requirements-app", dir.path());
    // No command, no console script, no `__main__` module.
    write(&project.join("pyproject.toml"), "[tool.lockship]\n");
    let tag = "lockship-test/no-command:e2e";
    let summary = build_json(
        &project,
        &dir.path().join("oci"),
        &["--lockfile", "requirements/main.txt", "--load", "-t", tag],
    );
    let entrypoint = inspect(tag, "{{json .Config.Entrypoint}}");
    let cmd = inspect(tag, "{{json .Config.Cmd}}");
    docker_rmi(tag);
    let warnings = warnings(&summary);
    let warning = warnings
        .iter()
        .find(|w| w.contains("no command to run"))
        .unwrap_or_else(|| panic!("no warning of the missing command: {warnings:?}"));
    assert!(
        warning.contains("hint:") && warning.contains("`command = "),
        "{warning}"
    );
    assert!(warning.contains("[tool.lockship]"), "{warning}");
    assert!(
        ["null", "[]"].contains(&entrypoint.as_str()),
        "{entrypoint}"
    );
    assert!(["null", "[]"].contains(&cmd.as_str()), "{cmd}");
}
