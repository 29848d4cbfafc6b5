//! `lockship dockerfile`, proven with a real engine: every strategy is built
//! once, and every example (each lock format, each native build) at least
//! once, each rendered from the same plan `lockship build` uses, built with
//! Debian's docker client against local stand-ins of `python:3.11-slim` and
//! `python:3.11` (made by `lockship base --flavor`, with this machine's proxy CA
//! added to the stand-ins only), run, and checked over HTTP or its CLI.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{OnceLock, RwLock};

use common::*;

const STRATEGIES: &[&str] = &[
    "basic-full",
    "basic-slim",
    "layered-slim",
    "multi-layered-slim",
    "layered-slim-pip-wheels",
    "layered-slim-buildkit",
    "recommended",
];

fn ready() -> bool {
    require("the Debian mirror", mirror_available())
        && require("a Docker engine", docker_available())
        && require("bubblewrap (`bwrap`)", which("bwrap"))
        && standins()
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// The host's extra CA certificates (a TLS-intercepting proxy's), for the
/// stand-ins only.
fn host_cas() -> Vec<PathBuf> {
    walkdir::WalkDir::new("/usr/local/share/ca-certificates")
        .into_iter()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "crt"))
        .map(|e| e.path().to_path_buf())
        .collect()
}

/// Loads `python:3.11-slim` and `python:3.11` stand-ins once per run.
fn standins() -> bool {
    static DONE: OnceLock<bool> = OnceLock::new();
    *DONE.get_or_init(|| {
        for (flavor, tag) in [("slim", "python:3.11-slim"), ("full", "python:3.11")] {
            let mut cmd = lockship();
            cmd.args([
                "base", "--python", "3.11", "--flavor", flavor, "--quiet", "--load", "-t", tag,
            ]);
            for ca in host_cas() {
                cmd.arg("--ca-cert").arg(ca);
            }
            run_ok(&mut cmd);
        }
        true
    })
}

/// Renders and writes the Dockerfile of `strategy` into the project.
fn render(project: &Path, strategy: &str, extra: &[&str]) -> String {
    let out = run_ok(
        lockship()
            .arg("dockerfile")
            .arg(project)
            .args(["--strategy", strategy, "--write", "--force"])
            .args(extra),
    );
    let warnings = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(project.join("Dockerfile").exists());
    assert!(project.join(".dockerignore").exists());
    warnings
}

/// Builds hold this shared; a prune holds it alone. The legacy builder's
/// newest intermediate image is untagged and childless while its build runs,
/// so an `image prune` (or a `docker rmi` of an image whose chain it shares)
/// beside a running build deletes it and fails that build
/// with `No such image` (regression: CI of 2026-11-24).
static ENGINE: RwLock<()> = RwLock::new(());

/// `docker rmi`, with no build running: removing a tag removes its untagged
/// parents, which another build's cache may be standing on.
fn remove_image(tag: &str) {
    let _alone = ENGINE.write().unwrap_or_else(|e| e.into_inner());
    docker_rmi(tag);
}

/// Removes dangling images and the build cache, with no build running.
fn prune() {
    let _alone = ENGINE.write().unwrap_or_else(|e| e.into_inner());
    let _ = docker().args(["image", "prune", "-f"]).output();
    let _ = docker().args(["builder", "prune", "-f"]).output();
}

/// `docker build`, with BuildKit when the Dockerfile needs it; returns the log.
fn docker_build(project: &Path, tag: &str, target: &str) -> String {
    let _shared = ENGINE.read().unwrap_or_else(|e| e.into_inner());
    let dockerfile = std::fs::read_to_string(project.join("Dockerfile")).unwrap();
    let buildkit = dockerfile.contains("RUN --mount");
    let mut cmd = docker();
    cmd.env("DOCKER_BUILDKIT", if buildkit { "1" } else { "0" })
        .args(["build", "--target", target, "-t", tag])
        .arg(project);
    if buildkit {
        cmd.args(["--progress", "plain"]);
    }
    let out = cmd.output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "docker build of {} failed:\n{dockerfile}\n---\n{}",
        project.display(),
        tail(&log, 60)
    );
    log
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The distributions installed in an image's venv, as `name==version`.
fn venv_dists(tag: &str) -> Vec<String> {
    let out = run_ok(docker().args([
        "run",
        "--rm",
        "--entrypoint",
        "/opt/venv/bin/python",
        tag,
        "-c",
        "import importlib.metadata as m; print('\\n'.join(sorted(f\"{d.metadata['Name'].lower().replace('_','-')}=={d.version}\" for d in m.distributions())))",
    ]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn check_http(tag: &str, expect: &str) {
    let (container, port) = run_detached(tag);
    let (status, body) = http_get(port, "/");
    let logs = docker().args(["logs", &container]).output().unwrap();
    let _ = docker().args(["rm", "-f", &container]).output();
    assert_eq!(
        status,
        200,
        "{tag}: {body}\n{}",
        String::from_utf8_lossy(&logs.stderr)
    );
    assert!(body.contains(expect), "{tag}: {body}");
}

/// The strategies each example is built with: every strategy appears once
/// over the examples, `recommended` (the one we advise) with the native ones
/// too, so each capability has one end-to-end case and CI stays short.
fn strategies_of(example: &str) -> &'static [&'static str] {
    match example {
        "fastapi-app" => &["basic-full", "basic-slim", "multi-layered-slim"],
        "flask-app" => &["layered-slim", "layered-slim-buildkit"],
        "cli-app" => &["recommended"],
        "psycopg2-app" => &["recommended", "layered-slim-pip-wheels"],
        "uwsgi-app" => &["recommended"],
        _ => STRATEGIES,
    }
}

#[test]
fn every_strategy_is_built_by_some_example() {
    for strategy in STRATEGIES {
        assert!(
            [
                "fastapi-app",
                "flask-app",
                "cli-app",
                "psycopg2-app",
                "uwsgi-app"
            ]
            .iter()
            .any(|e| strategies_of(e).contains(strategy)),
            "`{strategy}` is built by no example"
        );
    }
}

/// The example's strategies (see [`strategies_of`]): rendered, built, run,
/// checked; the image runs as non-root and holds no private key.
fn all_strategies(example: &str, project: &Path, check: &dyn Fn(&str)) {
    for strategy in strategies_of(example) {
        render(project, strategy, &[]);
        let tag = format!("lockship-test/df-{example}:{strategy}");
        docker_build(project, &tag, "production");
        let user = run_ok(docker().args(["inspect", "--format", "{{.Config.User}}", &tag]));
        let user = String::from_utf8_lossy(&user.stdout).trim().to_string();
        assert!(
            !user.is_empty() && user != "root" && user != "0",
            "{tag} runs as `{user}`"
        );
        check(&tag);
        remove_image(&tag);
    }
    // Builds leave gigabytes of intermediate images: keep the disk.
    prune();
}

#[test]
fn flask_app_layered_strategies() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("flask-app", dir.path());
    all_strategies("flask-app", &project, &|tag| check_http(tag, "ok"));
}

#[test]
fn uwsgi_app_recommended_strategy() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("uwsgi-app", dir.path());
    all_strategies("uwsgi-app", &project, &|tag| {
        check_http(tag, "hello from uwsgi")
    });
}

#[test]
fn psycopg2_app_native_strategies() {
    if !ready() || !require("PostgreSQL", Postgres::bin_dir().is_some()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("psycopg2-app", dir.path());
    let rendered = std::process::Command::new(env!("CARGO_BIN_EXE_lockship"))
        .env("LOCKSHIP_CACHE_DIR", shared_cache())
        .args(["dockerfile", "--strategy", "layered-slim"])
        .arg(&project)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        text.contains("libpq5"),
        "runtime packages from libdeps:\n{text}"
    );
    let pg = Postgres::start();
    let url = format!(
        "DATABASE_URL=postgresql://app@127.0.0.1:{}/postgres",
        pg.port
    );
    all_strategies("psycopg2-app", &project, &|tag| {
        let out = run_ok(docker().args(["run", "--rm", "--network", "host", "-e", &url, tag]));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("SELECT 1 -> 1"), "{tag}: {text}");
    });
}

#[test]
fn cli_app_recommended_strategy_with_a_uv_lock() {
    if !ready() {
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
    all_strategies("cli-app", &project, &|tag| {
        let out = run_ok(docker().args(["run", "--rm", tag, "hello", "lockship"]));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "hello, lockship",
            "{tag}"
        );
    });
}

/// Poetry reads the index's per-version JSON API, which this machine's index
/// lacks: the test declares the index as a simple (legacy) source and
/// re-locks, as a team behind a mirror would.
fn poetry_project(dir: &Path) -> Option<PathBuf> {
    let poetry = pip_tool("poetry", "poetry==2.5.1")?;
    let project = copy_example("fastapi-app", dir);
    let index = index_url()?;
    let pyproject = project.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(
        &pyproject,
        format!(
            "{text}\n[[tool.poetry.source]]\nname = \"lockship-test-index\"\nurl = \"{index}\"\npriority = \"primary\"\n"
        ),
    )
    .unwrap();
    run_ok(
        std::process::Command::new(&poetry)
            .arg("lock")
            .current_dir(&project),
    );
    Some(project)
}

/// The index pip uses on this machine (from its configuration, else its default).
fn index_url() -> Option<String> {
    let out = run_ok(lockship().args(["plan"]).arg(examples().join("flask-app")));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let url = plan["wheels"][0]["url"].as_str()?;
    // The simple index that served the wheel: the URL up to `/simple/` when it
    // has one, else pip's own default as pip reports it.
    if let Some(i) = url.find("/simple/") {
        return Some(url[..i + "/simple/".len()].to_string());
    }
    let pip = std::process::Command::new("python3")
        .args([
            "-c",
            "from pip._internal.models.index import PyPI; print(PyPI.simple_url)",
        ])
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&pip.stdout).trim().to_string()).filter(|s| !s.is_empty())
}

#[test]
fn fastapi_app_basic_strategies_with_a_poetry_lock() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(project) = poetry_project(dir.path()) else {
        require(
            "poetry (installed with pip into a test venv) and the index URL",
            false,
        );
        return;
    };
    all_strategies("fastapi-app", &project, &|tag| {
        check_http(tag, "\"status\":\"ok\"")
    });
}

#[test]
fn recommended_puts_the_same_packages_as_lockship_build() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("flask-app", dir.path());
    let lockship_tag = "lockship-test/df-same:lockship";
    let docker_tag = "lockship-test/df-same:docker";
    run_ok(
        lockship()
            .arg("build")
            .arg(&project)
            .args(["--quiet", "--load", "-t", lockship_tag]),
    );
    render(&project, "recommended", &[]);
    docker_build(&project, docker_tag, "production");
    let ours = venv_dists(lockship_tag);
    let theirs = venv_dists(docker_tag);
    remove_image(lockship_tag);
    remove_image(docker_tag);
    let strip = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|d| !d.starts_with("pip==") && !d.starts_with("setuptools=="))
            .cloned()
            .collect()
    };
    assert!(ours.iter().any(|d| d.starts_with("flask==")), "{ours:?}");
    assert_eq!(strip(&ours), strip(&theirs));
}

#[test]
fn dev_target_and_compose_and_no_key_in_the_image() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("flask-app", dir.path());
    // A private key lying in the project must never reach an image.
    std::fs::create_dir_all(project.join(".ssh")).unwrap();
    std::fs::write(
        project.join(".ssh/id_ed25519"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nlockship-test-secret\n",
    )
    .unwrap();
    std::fs::write(
        project.join("id_rsa"),
        "-----BEGIN RSA PRIVATE KEY-----\nlockship-test-secret\n",
    )
    .unwrap();
    run_ok(lockship().arg("dockerfile").arg(&project).args([
        "--strategy",
        "multi-layered-slim",
        "--compose",
        "--force",
    ]));
    let compose = std::fs::read_to_string(project.join("compose.yaml")).unwrap();
    assert!(compose.contains("target: development"), "{compose}");
    let tag = "lockship-test/df-dev:dev";
    docker_build(&project, tag, "development");
    let saved = dir.path().join("dev.tar");
    run_ok(docker().args(["save", "-o"]).arg(&saved).arg(tag));
    remove_image(tag);
    let needle = b"lockship-test-secret";
    let bytes = std::fs::read(&saved).unwrap();
    // docker save holds the layers as plain tars: a key would show in clear.
    assert!(
        !bytes.windows(needle.len()).any(|w| w == needle),
        "a private key reached the image"
    );
}
