//! End-to-end tests of `lockship base --flavor slim|full`: local stand-ins for
//! the official `python:X-slim` and `python:X` images, run in a real Docker
//! engine. Skipped (with a message) without Docker or the Debian mirror,
//! except under CI=true.

mod common;

use std::path::PathBuf;

use common::*;

/// The host's extra certificate authorities (a TLS-intercepting proxy's),
/// which containers that download need.
fn host_ca_certs() -> Vec<PathBuf> {
    let mut certs: Vec<PathBuf> = std::fs::read_dir("/usr/local/share/ca-certificates")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "crt"))
                .collect()
        })
        .unwrap_or_default();
    certs.sort();
    certs
}

/// A tag no other test run uses.
fn unique_tag(flavor: &str) -> String {
    format!(
        "lockship-test/python-{flavor}:3.11-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000
    )
}

/// Builds a stand-in with `lockship --json base`, loads it under `tag` when
/// given, and returns the summary.
fn build(flavor: &str, ca_certs: &[PathBuf], tag: Option<&str>) -> serde_json::Value {
    let mut cmd = lockship();
    cmd.args(["--json", "base", "--python", "3.11", "--flavor", flavor]);
    for cert in ca_certs {
        cmd.arg("--ca-cert").arg(cert);
    }
    let dir = tempfile::tempdir().unwrap();
    match tag {
        Some(tag) => cmd.args(["--load", "-t", tag]),
        None => cmd.arg("--output").arg(format!(
            "oci-archive:{}",
            dir.path().join("image.tar").display()
        )),
    };
    let out = run_ok(&mut cmd);
    serde_json::from_slice(&out.stdout).expect("a JSON summary")
}

/// Runs `script` with `sh -c` in a fresh container of `tag`; returns stdout.
fn sh(tag: &str, script: &str) -> String {
    let out = run_ok(docker().args(["run", "--rm", tag, "sh", "-c", script]));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn available() -> bool {
    require("the Debian mirror", mirror_available())
        && require("a Docker engine", docker_available())
}

#[test]
fn slim_has_venv_pip_and_a_working_apt() {
    if !available() {
        return;
    }
    let certs = host_ca_certs();
    let tag = unique_tag("slim");
    let summary = build("slim", &certs, Some(&tag));
    assert_eq!(summary["flavor"], "slim");
    let text = sh(
        &tag,
        "python -m venv /tmp/v && /tmp/v/bin/pip --version && id -u && apt-get --version \
         && dpkg -s libc6 | grep Status && pip --version && python3 -c 'import ssl, sqlite3' \
         && test -x /bin/bash && useradd -m app && id app && echo done",
    );
    assert!(text.contains("pip "), "{text}");
    assert!(text.lines().any(|l| l == "0"), "runs as root: {text}");
    assert!(text.contains("Status: install ok installed"), "{text}");
    assert!(text.contains("apt "), "{text}");
    assert!(text.trim_end().ends_with("done"), "{text}");

    // The image's own config, as the official image's.
    let out = run_ok(docker().args([
        "image",
        "inspect",
        "--format",
        "{{json .Config.Cmd}} {{json .Config.Env}} {{.Config.User}}",
        &tag,
    ]));
    let config = String::from_utf8_lossy(&out.stdout);
    assert!(config.starts_with("[\"python3\"]"), "{config}");
    assert!(config.contains("PYTHON_VERSION=3.11."), "{config}");

    // apt installs from the mirror lockship used, as in the official image.
    let text = sh(
        &tag,
        "apt-get update -q >/dev/null && \
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libpq5 >/dev/null \
         && ls /usr/lib/x86_64-linux-gnu/libpq.so.5 && dpkg -s libpq5 | grep Status",
    );
    assert!(
        text.contains("/usr/lib/x86_64-linux-gnu/libpq.so.5"),
        "{text}"
    );
    assert!(text.contains("install ok installed"), "{text}");

    // pip trusts the image's CA bundle, so `--ca-cert` gets it through a
    // TLS-intercepting proxy.
    if require(
        "a proxy CA in /usr/local/share/ca-certificates",
        !certs.is_empty(),
    ) {
        let text = sh(
            &tag,
            "pip download -q --no-deps six -d /tmp/x && ls /tmp/x && \
             python -m venv /tmp/v && /tmp/v/bin/pip download -q --no-deps six -d /tmp/y && ls /tmp/y",
        );
        assert_eq!(text.matches("six-").count(), 2, "{text}");
    }
    docker_rmi(&tag);
}

#[test]
fn full_has_compilers_and_headers() {
    if !available() {
        return;
    }
    let tag = unique_tag("full");
    let summary = build("full", &[], Some(&tag));
    assert_eq!(summary["flavor"], "full");
    let text = sh(
        &tag,
        "gcc --version && python3.11-config --includes && pg_config --version && git --version \
         && pkg-config --modversion libffi \
         && printf '#include <Python.h>\\n#include <libpq-fe.h>\\nint main(void) { return puts(\"compiled\") < 0; }\\n' >/tmp/h.c \
         && cc $(python3.11-config --includes) -I$(pg_config --includedir) -o /tmp/h /tmp/h.c && /tmp/h",
    );
    for want in [
        "gcc (Debian",
        "-I/usr/include/python3.11",
        "PostgreSQL",
        "git version",
        "compiled",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    docker_rmi(&tag);
}

#[test]
fn stand_ins_are_reproducible_and_labelled() {
    if !require("the Debian mirror", mirror_available()) {
        return;
    }
    let certs = host_ca_certs();
    let first = build("slim", &certs, None);
    let second = build("slim", &certs, None);
    assert_eq!(first["digest"], second["digest"]);
    assert_eq!(second["layer_cached"], true);
    // The flavor and the certificates change the image; distroless stays as it was.
    let plain = build("slim", &[], None);
    if !certs.is_empty() {
        assert_ne!(plain["digest"], first["digest"]);
    }
    let distroless = build("distroless", &[], None);
    assert_ne!(distroless["digest"], plain["digest"]);

    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let mut cmd = lockship();
    cmd.args(["base", "--quiet", "--python", "3.11", "--flavor", "slim"]);
    for cert in &certs {
        cmd.arg("--ca-cert").arg(cert);
    }
    run_ok(cmd.arg("--output").arg(format!("oci:{}", layout.display())));
    let images = lockship_oci::validate(&lockship_oci::Output::OciDir(layout)).unwrap();
    let config = &images[0].config;
    let history = config.history[0].created_by.as_deref().unwrap();
    assert!(
        history.starts_with("lockship base --python 3.11 --platform linux/amd64 --flavor slim"),
        "{history}"
    );
    assert_eq!(config.config.labels["dev.lockship.flavor"], "slim");
    for cert in &certs {
        let name = cert.file_name().unwrap().to_string_lossy().into_owned();
        assert!(history.contains(&format!("--ca-cert {name}")), "{history}");
    }
}

#[test]
fn a_file_without_a_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.crt");
    std::fs::write(&bogus, "not a certificate\n").unwrap();
    let err = run_err(lockship().args([
        "base",
        "--flavor",
        "slim",
        "--ca-cert",
        bogus.to_str().unwrap(),
        "--output",
        &format!("oci:{}", dir.path().join("out").display()),
    ]));
    assert!(err.contains("holds no PEM certificate"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}
