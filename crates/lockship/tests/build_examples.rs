//! End-to-end tests of `lockship build`: each example is built from its lock
//! with real downloads, loaded into a real Docker engine, run read-only as
//! uid 65532, and checked over HTTP or its CLI.

mod common;

use std::io::Read;
use std::path::Path;

use common::*;

/// Per layer of a `--json` summary: whether it came from the cache.
fn cached_flags(summary: &serde_json::Value) -> Vec<bool> {
    summary["cached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cached"].as_bool().unwrap())
        .collect()
}

fn cleanup(container: &str, tag: &str) {
    let _ = docker().args(["rm", "-f", container]).output();
    docker_rmi(tag);
}

fn inspect(tag: &str, format: &str) -> String {
    let out = run_ok(docker().args(["inspect", "--format", format, tag]));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn serves_http(example: &str, expect: &str) {
    if !online() || !require("a Docker engine", docker_available()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tag = format!("lockship-test/{example}:e2e");
    let archive = dir.path().join("app.tar");
    run_ok(lockship().args([
        "build",
        examples().join(example).to_str().unwrap(),
        "--quiet",
        "--tag",
        &tag,
        "--output",
        &format!("docker-archive:{}", archive.display()),
        "--load",
        "-t",
        &tag,
    ]));
    run_ok(lockship().args(["validate", &format!("docker-archive:{}", archive.display())]));
    assert_eq!(inspect(&tag, "{{.Config.User}}"), "65532");
    assert_eq!(inspect(&tag, "{{len .RootFS.Layers}}"), "3");
    let (container, port) = run_detached(&tag);
    let (status, body) = http_get(port, "/");
    let logs = docker().args(["logs", &container]).output().unwrap();
    cleanup(&container, &tag);
    assert_eq!(
        status,
        200,
        "{body}\n{}",
        String::from_utf8_lossy(&logs.stderr)
    );
    assert!(body.contains(expect), "{body}");
}

#[test]
fn fastapi_app_serves_http_read_only_as_nonroot() {
    serves_http("fastapi-app", "\"status\":\"ok\"");
}

#[test]
fn flask_app_serves_http_read_only_as_nonroot() {
    serves_http("flask-app", "ok");
}

#[test]
fn cli_app_with_a_uv_lock_runs_its_console_script() {
    if !online() || !require("a Docker engine", docker_available()) {
        return;
    }
    let Some(uv) = uv() else {
        require("uv (installed with pip into a test venv)", false);
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("cli-app", dir.path());
    run_ok(
        std::process::Command::new(&uv)
            .arg("lock")
            .current_dir(&project),
    );
    let tag = "lockship-test/cli-app:e2e";
    run_ok(lockship().args([
        "build",
        project.to_str().unwrap(),
        "--quiet",
        "--load",
        "-t",
        tag,
    ]));
    let out = run_ok(docker().args(["run", "--rm", "--read-only", tag, "hello", "lockship"]));
    docker_rmi(tag);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello, lockship"
    );
}

#[test]
fn a_code_change_rebuilds_only_the_project_layer() {
    if !online() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("flask-app", dir.path());
    let build = |name: &str| build_json(&project, &dir.path().join(name), &[]);
    let first = build("one");
    let init = project.join("src/flask_app/__init__.py");
    let mut code = std::fs::read_to_string(&init).unwrap();
    // Unique per run: the test cache outlives a run, and must not already hold it.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    code.push_str(&format!("\n# a change made at {nanos}\n"));
    std::fs::write(&init, code).unwrap();
    let second = build("two");
    let cached = cached_flags(&second);
    assert_eq!(cached, [true, true, false], "{second}");
    let digests = |v: &serde_json::Value| -> Vec<String> {
        v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect()
    };
    let (a, b) = (digests(&first), digests(&second));
    assert_eq!(a[..2], b[..2]);
    assert_ne!(a[2], b[2]);
    // And the same inputs again give the same image.
    let third = build("three");
    assert_eq!(third["digest"], second["digest"]);
}

#[test]
fn dev_dependencies_only_with_dev() {
    if !online() {
        return;
    }
    let app = examples().join("fastapi-app");
    let names = |extra: &[&str]| -> Vec<String> {
        let mut cmd = lockship();
        cmd.args(["plan", app.to_str().unwrap()]).args(extra);
        let plan: serde_json::Value = serde_json::from_slice(&run_ok(&mut cmd).stdout).unwrap();
        plan["wheels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap().to_string())
            .collect()
    };
    let prod = names(&[]);
    let dev = names(&["--with", "dev"]);
    assert!(
        prod.contains(&"fastapi".to_string()) && !prod.contains(&"pytest".to_string()),
        "{prod:?}"
    );
    assert!(
        dev.contains(&"pytest".to_string()) && dev.contains(&"fastapi".to_string()),
        "{dev:?}"
    );
}

#[test]
fn no_wheel_for_the_target_names_package_version_and_platform() {
    if !online() {
        return;
    }
    // Some of fastapi-app's packages ship no armv7l wheel: the plan falls
    // back to their sdists, which cannot be built for a foreign
    // architecture here (no emulation): the error names the package.
    let app = examples().join("fastapi-app");
    let out =
        run_ok(lockship().args(["plan", app.to_str().unwrap(), "--platform", "linux/arm/v7"]));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let from_sdist: Vec<&str> = plan["wheels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["from_sdist"] == true)
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert!(from_sdist.contains(&"psycopg2-binary"), "{from_sdist:?}");
    let dir = tempfile::tempdir().unwrap();
    // On 3.11, whose host interpreter compiles the foreign base's bytecode
    // here (the project allows up to 3.13, which the range rule would take).
    let err = run_err(lockship().args([
        "build",
        app.to_str().unwrap(),
        "--python",
        "3.11",
        "--platform",
        "linux/arm/v7",
        "--output",
        &format!("oci:{}", dir.path().join("out").display()),
    ]));
    assert!(
        from_sdist.iter().any(|p| err.contains(&format!("`{p}`"))),
        "{err}"
    );
    assert!(err.contains("has no wheel for linux/arm/v7"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn a_missing_lock_shows_the_command_that_makes_one() {
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("cli-app", dir.path());
    let err = run_err(lockship().args(["plan", project.to_str().unwrap()]));
    assert!(err.contains("uv lock"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn a_stale_lock_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("fastapi-app", dir.path());
    let pyproject = project.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    let text = text.replacen(
        "[tool.poetry.dependencies]\n",
        "[tool.poetry.dependencies]\nrequests = \"^2\"\n",
        1,
    );
    std::fs::write(&pyproject, text).unwrap();
    let err = run_err(lockship().args([
        "plan",
        project.to_str().unwrap(),
        "--debian-mirror",
        "http://127.0.0.1:9/debian",
    ]));
    assert!(
        err.to_lowercase().contains("stale") || err.contains("out of date"),
        "{err}"
    );
    assert!(err.contains("poetry lock"), "{err}");
}

#[test]
fn malformed_pyproject_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"x\"\nversion = \n",
    )
    .unwrap();
    let err = run_err(lockship().args(["plan", dir.path().to_str().unwrap()]));
    assert!(err.contains("pyproject.toml"), "{err}");
    assert!(err.contains("line 3") || err.contains(":3"), "{err}");
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn git(dir: &Path, args: &[&str]) {
    run_ok(
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=lockship",
                "-c",
                "user.email=lockship@localhost",
            ])
            .args(args),
    );
}

#[test]
fn a_git_dependency_is_fetched_at_the_locked_commit_and_leaves_no_trace() {
    if !online() || !require("a Docker engine", docker_available()) {
        return;
    }
    let Some(uv) = uv() else {
        require("uv (installed with pip into a test venv)", false);
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A private library in a local git repository.
    let repo = dir.path().join("greetlib");
    write(
        &repo.join("pyproject.toml"),
        "[project]\nname = \"greetlib\"\nversion = \"1.0.0\"\n\n[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n",
    );
    write(
        &repo.join("src/greetlib/__init__.py"),
        "def greet(name):\n    return f\"hi {name} from git\"\n",
    );
    git(&repo, &["init", "--quiet"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "--quiet", "-m", "v1"]);
    // A later commit the lock does not pin.
    write(
        &repo.join("src/greetlib/__init__.py"),
        "def greet(name):\n    return 'wrong commit'\n",
    );
    let url = format!("git+file://{}", repo.display());
    let app = dir.path().join("git-app");
    write(
        &app.join("pyproject.toml"),
        &format!(
            "[project]\nname = \"git-app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = [\"greetlib @ {url}\"]\n\n[project.scripts]\ngit-app = \"git_app:main\"\n\n[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n"
        ),
    );
    write(
        &app.join("src/git_app/__init__.py"),
        "import sys\nfrom greetlib import greet\n\ndef main():\n    print(greet(sys.argv[1]))\n",
    );
    run_ok(
        std::process::Command::new(&uv)
            .arg("lock")
            .current_dir(&app),
    );
    git(&repo, &["commit", "--quiet", "-am", "v2"]);

    let tag = "lockship-test/git-app:e2e";
    let layout = dir.path().join("layout");
    run_ok(lockship().args([
        "build",
        app.to_str().unwrap(),
        "--quiet",
        "--output",
        &format!("oci:{}", layout.display()),
        "--load",
        "-t",
        tag,
    ]));
    let out = run_ok(docker().args(["run", "--rm", "--read-only", tag, "lockship"]));
    docker_rmi(tag);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hi lockship from git"
    );
    // No layer holds git metadata or the repository's location.
    let needle = repo.display().to_string();
    for layer in lockship_oci::open_image_layers(&lockship_oci::Output::OciDir(layout)).unwrap() {
        let mut archive = tar::Archive::new(layer);
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            assert!(
                !path.split('/').any(|c| c == ".git"),
                "git metadata in a layer: {path}"
            );
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&needle),
                "{path} names the repository"
            );
        }
    }
}

#[test]
fn a_pylock_toml_made_at_test_time_builds_and_runs() {
    if !online() || !require("a Docker engine", docker_available()) {
        return;
    }
    let Some(uv) = uv() else {
        require("uv (installed with pip into a test venv)", false);
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("cli-app", dir.path());
    run_ok(
        std::process::Command::new(&uv)
            .arg("lock")
            .current_dir(&project),
    );
    run_ok(
        std::process::Command::new(&uv)
            .args([
                "export",
                "--quiet",
                "--format",
                "pylock.toml",
                "--no-emit-project",
                "-o",
                "pylock.toml",
            ])
            .current_dir(&project),
    );
    std::fs::remove_file(project.join("uv.lock")).unwrap();
    let tag = "lockship-test/pylock-app:e2e";
    let out = run_ok(lockship().args([
        "build",
        project.to_str().unwrap(),
        "--json",
        "--load",
        "-t",
        tag,
    ]));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["lockfile"], "pylock.toml");
    let out = run_ok(docker().args(["run", "--rm", "--read-only", tag, "hello", "pylock"]));
    docker_rmi(tag);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello, pylock");
}

#[test]
fn a_path_dependency_is_installed_and_its_changes_rebuild_the_venv() {
    if !online() {
        return;
    }
    let Some(uv) = uv() else {
        require("uv (installed with pip into a test venv)", false);
        return;
    };
    // A monorepo: the app and its path dependency side by side in one git
    // work tree (a lock may read outside its directory only within that).
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(dir.path()),
    );
    let lib = dir.path().join("greetlib");
    write(
        &lib.join("pyproject.toml"),
        "[project]\nname = \"greetlib\"\nversion = \"1.0.0\"\n\n[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n",
    );
    write(&lib.join("src/greetlib/__init__.py"), "GREETING = 'one'\n");
    let app = dir.path().join("path-app");
    write(
        &app.join("pyproject.toml"),
        "[project]\nname = \"path-app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = [\"greetlib\"]\n\n[tool.uv.sources]\ngreetlib = { path = \"../greetlib\" }\n\n[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n",
    );
    write(&app.join("src/path_app/__init__.py"), "import greetlib\n");
    run_ok(
        std::process::Command::new(&uv)
            .arg("lock")
            .current_dir(&app),
    );
    let build = |name: &str| build_json(&app, &dir.path().join(name), &[]);
    let first = build("one");
    write(&lib.join("src/greetlib/__init__.py"), "GREETING = 'two'\n");
    let second = build("two");
    let cached = cached_flags(&second);
    assert_eq!(
        cached,
        [true, false, true],
        "a changed path dependency rebuilds the venv layer only: {second}"
    );
    assert_ne!(first["digest"], second["digest"]);
}

#[test]
fn large_wheels_get_layers_of_their_own() {
    if !online() || !require("a Docker engine", docker_available()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tag = "lockship-test/fastapi-split:e2e";
    let app = examples().join("fastapi-app");
    let split = [
        "--large-wheel-bytes",
        "2500000",
        "--max-wheel-layers",
        "2",
        "--load",
        "-t",
        tag,
    ];
    let build = |name: &str| build_json(&app, &dir.path().join(name), &split);
    let first = build("one");
    let names: Vec<String> = first["cached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["layer"].as_str().unwrap().to_string())
        .collect();
    // The two largest wheels over 2.5 MB, in name order, between the base and the venv.
    assert_eq!(names.len(), 5, "{names:?}");
    assert_eq!(names[0], "base");
    assert!(
        names[1].starts_with("wheel:") && names[2].starts_with("wheel:"),
        "{names:?}"
    );
    assert_eq!(names[3..], ["dependencies", "project"]);
    let second = build("two");
    assert!(cached_flags(&second).iter().all(|&c| c), "{second}");
    assert_eq!(first["digest"], second["digest"]);
    let (container, port) = run_detached(tag);
    let (status, body) = http_get(port, "/");
    cleanup(&container, tag);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_lock_hash_the_index_does_not_serve_is_a_hash_mismatch() {
    if !online() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("flask-app", dir.path());
    let requirements = project.join("requirements.txt");
    let text = std::fs::read_to_string(&requirements).unwrap();
    // Replace every hash of blinker with a wrong one.
    let mut in_blinker = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if !line.starts_with(' ') && !line.starts_with('#') {
                in_blinker = line.starts_with("blinker==");
            }
            match (in_blinker, line.find("--hash=sha256:")) {
                (true, Some(at)) => format!(
                    "{}--hash=sha256:{}{}",
                    &line[..at],
                    "0".repeat(64),
                    if line.ends_with('\\') { " \\" } else { "" }
                ),
                _ => line.to_string(),
            }
        })
        .collect();
    std::fs::write(&requirements, lines.join("\n") + "\n").unwrap();
    let err = run_err(lockship().args(["plan", project.to_str().unwrap()]));
    assert!(err.contains("Hash mismatch for `blinker`"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}
