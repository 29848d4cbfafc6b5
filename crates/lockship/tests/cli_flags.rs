//! The command line as buildx and ko users type it, checked without a
//! network or an engine: each verb shows only its own flags, `--push` needs
//! somewhere to push, `[tool.lockship]` names a misspelt key and the key it
//! meant, and `completions` writes a script for each shell.

mod common;

use std::path::Path;

use common::*;

fn help(verb: &str) -> String {
    String::from_utf8(run_ok(lockship().args([verb, "--help"])).stdout).unwrap()
}

#[test]
fn plan_shows_and_takes_no_output_flags() {
    let plan = help("plan");
    let build = help("build");
    for flag in [
        "--push",
        "--load",
        "--tag",
        "--output",
        "--label",
        "--annotation",
        "--mount-from",
    ] {
        assert!(!plan.contains(flag), "`plan --help` lists {flag}:\n{plan}");
        assert!(
            build.contains(flag),
            "`build --help` lacks {flag}:\n{build}"
        );
    }
    // Pulling a base image from a registry is the plan's business too.
    assert!(plan.contains("--insecure-registry"), "{plan}");
    for args in [
        &["plan", "--push", "127.0.0.1:5000/app:1", "."][..],
        &["plan", "--load", "."],
        &["plan", "-t", "app:1", "."],
    ] {
        let out = lockship().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?} must be a usage error");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("unexpected argument"), "{stderr}");
    }
}

fn project(tool: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_example("flask-app", dir.path());
    let pyproject = dir.path().join("flask-app/pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(
        &pyproject,
        text.replace("[tool.lockship]\n", &format!("[tool.lockship]\n{tool}")),
    )
    .unwrap();
    dir
}

fn build_err(dir: &Path, args: &[&str]) -> String {
    run_err(
        lockship()
            .env_remove("LOCKSHIP_REPO")
            .arg("build")
            .arg(dir.join("flask-app"))
            .args(args),
    )
}

#[test]
fn unknown_tool_lockship_key_names_the_key_it_meant() {
    let dir = project("entrypoint = [\"gunicorn\"]\n");
    let err = build_err(dir.path(), &["-o", "oci:out"]);
    assert!(
        err.to_lowercase()
            .contains("unknown key `entrypoint` in `[tool.lockship]`; did you mean `command`?"),
        "{err}"
    );
    assert!(!err.contains("Invalid TOML"), "{err}");
    assert!(!err.contains("regenerate"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn push_without_a_registry_or_a_default_repository_fails_before_any_work() {
    let dir = project("");
    let err = build_err(dir.path(), &["-t", "app:1", "--push"]);
    assert!(
        err.contains("`app:1`") && err.contains("LOCKSHIP_REPO"),
        "{err}"
    );
    let err = build_err(dir.path(), &["--push"]);
    assert!(err.contains("nowhere to push"), "{err}");
    let err = build_err(dir.path(), &[]);
    assert!(
        err.contains("Nowhere to put the image") && err.contains("--load"),
        "{err}"
    );
    // `--load NAME` with a space (scripts written for earlier lockship) names the
    // image: the error is about the project in `.`, not about the arguments.
    let err = run_err(lockship().args(["build", "--load", "app:1"]));
    assert!(
        !err.contains("unexpected argument") && err.contains("pyproject.toml"),
        "{err}"
    );
    // A default repository must name a registry.
    let bad = project("repo = \"team\"\n");
    let err = build_err(bad.path(), &["-t", "app:1", "--push"]);
    assert!(err.contains("`team` is not HOST[:PORT]/NAMESPACE"), "{err}");
    let err = build_err(dir.path(), &["-o", "oci:out", "--label", "novalue"]);
    assert!(err.contains("`--label novalue` is not KEY=VALUE"), "{err}");
}

#[test]
fn completions_name_every_verb_in_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = run_ok(lockship().args(["completions", shell]));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.len() > 1000, "{shell}: {script}");
        for verb in ["build", "plan", "dockerfile", "validate", "completions"] {
            assert!(script.contains(verb), "{shell} script lacks `{verb}`");
        }
        assert!(script.contains("push"), "{shell} script lacks `push`");
    }
    let out = lockship().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
