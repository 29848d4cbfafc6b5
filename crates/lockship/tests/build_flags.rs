//! `build` as buildx and ko users drive it, end to end: `-q` prints the one
//! line a shell substitutes (the digest of a layout, the loaded name, the
//! pushed reference with its digest); `-t` names the image in the layout,
//! the engine and the registry; `LOCKSHIP_REPO` places bare names; and the
//! OCI labels (from `[project]`, the clean checkout, `SOURCE_DATE_EPOCH`,
//! `--label`) are in the config, where `docker load` keeps them.

mod common;
#[path = "../../lockship-registry/tests/common/mod.rs"]
mod registry_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use registry_support::Registry;

const EPOCH: &str = "1700000000";
const CREATED: &str = "2023-11-14T22:13:20Z";
const OCI: &str = "org.opencontainers.image.";

fn ready() -> bool {
    require("the Debian mirror", mirror_available())
}

/// flask-app with a license, in a git checkout with a clean tree whose
/// `origin` carries credentials (which must not reach the image).
fn checkout(dir: &Path) -> (PathBuf, String) {
    let project = copy_example("flask-app", dir);
    let pyproject = project.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(
        &pyproject,
        text.replacen("readme = ", "license = \"MIT\"\nreadme = ", 1),
    )
    .unwrap();
    let git = |args: &[&str]| {
        run_ok(
            Command::new("git")
                .arg("-C")
                .arg(&project)
                .args(args)
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", dir),
        )
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "app"]);
    git(&[
        "remote",
        "add",
        "origin",
        "https://user:token@git.invalid/org/flask-app.git",
    ]);
    let head = git(&["rev-parse", "HEAD"]);
    (
        project,
        String::from_utf8(head.stdout).unwrap().trim().to_string(),
    )
}

/// The one line `-q` printed; nothing else on stdout.
fn one_line(out: &std::process::Output) -> String {
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {stdout:?}");
    assert!(stdout.ends_with('\n'));
    lines[0].to_string()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn blob(layout: &Path, digest: &str) -> serde_json::Value {
    json(
        &layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
}

fn strings(v: &serde_json::Value) -> BTreeMap<String, String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

fn build_layout(project: &Path, layout: &Path) -> std::process::Output {
    run_ok(
        lockship()
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .args(["build", "-q", "-t", "lockship-test/flags:1"])
            .arg(project)
            .arg("-o")
            .arg(format!("oci:{}", layout.display()))
            .args([
                "--label",
                "com.example.team=web",
                "--annotation",
                "com.example.note=hi",
            ]),
    )
}

#[test]
fn quiet_layout_prints_its_digest_and_the_config_carries_the_oci_labels() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (project, head) = checkout(dir.path());
    let layout = dir.path().join("layout");
    let line = one_line(&build_layout(&project, &layout));

    let index = json(&layout.join("index.json"));
    let entry = &index["manifests"][0];
    assert_eq!(
        line,
        entry["digest"].as_str().unwrap(),
        "-q prints the digest"
    );
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "lockship-test/flags:1"
    );
    let manifest = blob(&layout, &line);
    let config = blob(&layout, manifest["config"]["digest"].as_str().unwrap());
    let labels = strings(&config["config"]["Labels"]);
    let annotations = strings(&manifest["annotations"]);
    let want = [
        ("title", "flask-app"),
        ("version", "0.1.0"),
        (
            "description",
            "Example Flask app served by gunicorn, locked in a hashed requirements.txt",
        ),
        ("licenses", "MIT"),
        ("created", CREATED),
        ("source", "https://git.invalid/org/flask-app.git"),
        ("revision", head.as_str()),
    ];
    for (key, value) in want {
        let key = format!("{OCI}{key}");
        assert_eq!(
            labels.get(&key).map(String::as_str),
            Some(value),
            "label {key}: {labels:?}"
        );
        assert_eq!(
            annotations.get(&key).map(String::as_str),
            Some(value),
            "annotation {key}: {annotations:?}"
        );
    }
    assert_eq!(labels["com.example.team"], "web");
    assert!(!annotations.contains_key("com.example.team"));
    assert_eq!(annotations["com.example.note"], "hi");
    assert!(!labels.contains_key("com.example.note"));
    assert!(!format!("{labels:?}{annotations:?}").contains("token"));

    // A changed tree: its commit does not say what was built, so no revision or source.
    std::fs::write(project.join("notes.txt"), "draft\n").unwrap();
    let dirty = dir.path().join("dirty");
    let line = one_line(&build_layout(&project, &dirty));
    let manifest = blob(&dirty, &line);
    let config = blob(&dirty, manifest["config"]["digest"].as_str().unwrap());
    let labels = strings(&config["config"]["Labels"]);
    assert!(
        !labels.contains_key(&format!("{OCI}revision")),
        "{labels:?}"
    );
    assert!(!labels.contains_key(&format!("{OCI}source")), "{labels:?}");
    assert_eq!(labels[&format!("{OCI}title")], "flask-app");
}

#[test]
fn quiet_load_prints_a_name_docker_runs_and_docker_inspect_shows_the_labels() {
    if !ready() || !require("a Docker engine", docker_available()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (project, head) = checkout(dir.path());
    let tags = ["lockship-test/flags:load", "lockship-test/flags:also"];
    let out = run_ok(
        lockship()
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .args(["build", "-q", "-t", tags[0], "-t", tags[1], "--load"])
            .arg(&project),
    );
    let name = one_line(&out);
    assert_eq!(name, tags[0]);
    // `docker run --rm $(lockship build -q --load …)`.
    let run = docker()
        .args([
            "run",
            "--rm",
            "--entrypoint",
            "/opt/venv/bin/python",
            &name,
            "-c",
            "print('ran')",
        ])
        .output()
        .unwrap();
    let labels = docker()
        .args([
            "image",
            "inspect",
            tags[1],
            "--format",
            "{{json .Config.Labels}}",
        ])
        .output()
        .unwrap();
    for tag in tags {
        docker_rmi(tag);
    }
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "ran",
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let labels: BTreeMap<String, String> = serde_json::from_slice(&labels.stdout).unwrap();
    assert_eq!(labels[&format!("{OCI}title")], "flask-app");
    assert_eq!(labels[&format!("{OCI}version")], "0.1.0");
    assert_eq!(labels[&format!("{OCI}licenses")], "MIT");
    assert_eq!(labels[&format!("{OCI}created")], CREATED);
    assert_eq!(labels[&format!("{OCI}revision")], head);
}

#[test]
fn push_sends_bare_tags_to_the_default_repository_and_quiet_prints_the_digest() {
    if !ready() {
        return;
    }
    let Some((registry, _)) = Registry::start(false, &[]) else {
        require("docker-registry", false);
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (project, _) = checkout(dir.path());
    let repo = format!("{}/team", registry.host());
    let out = run_ok(
        lockship()
            .env("LOCKSHIP_REPO", &repo)
            .args([
                "build",
                "-q",
                "-t",
                "flask:1",
                "-t",
                "flask:latest",
                "--push",
            ])
            .arg(&project),
    );
    let line = one_line(&out);
    let (name, digest) = line.split_once('@').expect("REF@DIGEST");
    assert_eq!(name, format!("{repo}/flask"));
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{line}"
    );

    let client = lockship_registry::Client::new(Default::default()).unwrap();
    for tag in ["1", "latest"] {
        let reference =
            lockship_registry::Reference::parse(&format!("{repo}/flask:{tag}")).unwrap();
        let fetched = client.fetch_manifest(&reference).unwrap();
        assert_eq!(fetched.digest, digest, "{reference}");
    }
    // Without a tag, `--push` sends PROJECT:VERSION there; `[tool.lockship] repo` wins over the variable.
    let pyproject = project.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(
        &pyproject,
        text.replace(
            "[tool.lockship]\n",
            &format!("[tool.lockship]\nrepo = \"{}/apps\"\n", registry.host()),
        ),
    )
    .unwrap();
    let out = run_ok(
        lockship()
            .env("LOCKSHIP_REPO", &repo)
            .args(["build", "-q", "--push"])
            .arg(&project),
    );
    let line = one_line(&out);
    assert!(
        line.starts_with(&format!("{}/apps/flask-app@sha256:", registry.host())),
        "{line}"
    );
    let reference =
        lockship_registry::Reference::parse(&format!("{}/apps/flask-app:0.1.0", registry.host()))
            .unwrap();
    assert_eq!(
        client.fetch_manifest(&reference).unwrap().digest,
        line.split_once('@').unwrap().1
    );
}

#[test]
fn labels_name_the_base_image_and_drop_its_own() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base_layout = dir.path().join("base");
    let base = format!("oci:{}", base_layout.display());
    let line = one_line(&run_ok(lockship().args([
        "base", "--python", "3.11", "--flavor", "slim", "-q", "-o", &base,
    ])));
    let base_index = json(&base_layout.join("index.json"));
    assert_eq!(line, base_index["manifests"][0]["digest"].as_str().unwrap());
    let project = copy_example("flask-app", dir.path());
    let layout = dir.path().join("layout");
    let line = one_line(&run_ok(
        lockship()
            .args(["build", "-q", "--base-image", &base])
            .arg(&project)
            .arg("-o")
            .arg(format!("oci:{}", layout.display())),
    ));
    let manifest = blob(&layout, &line);
    let config = blob(&layout, manifest["config"]["digest"].as_str().unwrap());
    let labels = strings(&config["config"]["Labels"]);
    let annotations = strings(&manifest["annotations"]);
    for map in [&labels, &annotations] {
        assert_eq!(map[&format!("{OCI}base.name")], base, "{map:?}");
        assert_eq!(
            map[&format!("{OCI}base.digest")],
            line_of(&base_index),
            "{map:?}"
        );
        assert_eq!(map[&format!("{OCI}title")], "flask-app", "{map:?}");
        assert_eq!(map[&format!("{OCI}version")], "0.1.0", "{map:?}");
    }
    // Not a git checkout: nothing claims a source or a revision.
    assert!(
        !labels.contains_key(&format!("{OCI}revision")),
        "{labels:?}"
    );
    // The stand-in's own labels stay unless they are `org.opencontainers.image.*`.
    assert_eq!(labels["dev.lockship.flavor"], "slim", "{labels:?}");
}

fn line_of(index: &serde_json::Value) -> String {
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}
