//! `lockship bench`, run once on a small example: every figure it writes is
//! present and positive, and BENCH.md and the charts exist. A benchmark, not
//! a test of speed: no time is asserted.

mod common;

use std::path::PathBuf;

use common::*;

/// The host's extra CA certificates (a TLS-intercepting proxy's), for the
/// base stand-ins the bench makes when the engine lacks them.
fn host_cas() -> Vec<PathBuf> {
    walkdir::WalkDir::new("/usr/local/share/ca-certificates")
        .into_iter()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "crt"))
        .map(|e| e.path().to_path_buf())
        .collect()
}

#[test]
fn bench_flask_app_once() {
    if !(require("the Debian mirror", mirror_available())
        && require("a Docker engine", docker_available()))
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = copy_example("flask-app", dir.path());
    let before = std::fs::read(project.join("requirements.txt")).unwrap();
    let out = dir.path().join("bench");
    let mut cmd = lockship();
    cmd.arg("bench")
        .arg(&project)
        .args(["--runs", "1", "--strategies", "recommended", "--out"])
        .arg(&out);
    for ca in host_cas() {
        cmd.arg("--ca-cert").arg(ca);
    }
    run_ok(&mut cmd);

    // The user's tree is never modified.
    assert_eq!(
        std::fs::read(project.join("requirements.txt")).unwrap(),
        before
    );
    assert!(!project.join("Dockerfile").exists());

    let records: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("bench.json")).unwrap()).unwrap();
    let has = |contender: &str, metric: &str| {
        records
            .iter()
            .any(|r| r["contender"] == contender && r["metric"] == metric)
    };
    let mut expected = vec![
        ("recommended", "size_bytes"),
        ("recommended", "compressed_bytes"),
        ("recommended", "layers"),
        ("recommended", "uncached_s"),
        ("recommended", "code_change_s"),
        ("recommended", "new_dependency_s"),
        ("recommended", "noop_s"),
        ("recommended", "ready_s"),
        ("lockship-cold", "uncached_s"),
        ("lockship-cold", "size_bytes"),
        ("lockship-cold", "compressed_bytes"),
        ("lockship-cold", "layers"),
        ("lockship-warm", "size_bytes"),
        ("lockship-warm", "compressed_bytes"),
        ("lockship-warm", "layers"),
        ("lockship-warm", "code_change_s"),
        ("lockship-warm", "new_dependency_s"),
        ("lockship-warm", "noop_s"),
        ("lockship-warm", "ready_s"),
        ("lockship-warm", "install_s"),
        ("relock", "relock_s"),
    ];
    let md = std::fs::read_to_string(out.join("BENCH.md")).unwrap();
    if md.contains("uv was not found") {
        eprintln!("note: no uv here, so no uv install rows");
    } else {
        expected.extend([("uv-cold", "install_s"), ("uv-warm", "install_s")]);
    }
    for (contender, metric) in &expected {
        assert!(
            has(contender, metric),
            "no {contender} {metric} in bench.json:\n{md}"
        );
    }
    for r in &records {
        for field in ["median", "min", "max"] {
            let v = r[field].as_f64().unwrap_or(-1.0);
            assert!(v > 0.0, "{field} of {r} is not positive");
        }
        assert!(r["runs"].as_u64().unwrap_or(0) >= 1, "{r}");
        assert_eq!(r["project"], "flask-app", "{r}");
        assert!(
            ["bytes", "count", "seconds"].contains(&r["unit"].as_str().unwrap()),
            "{r}"
        );
    }
    assert!(md.contains("| CPUs |"), "{md}");
    assert!(md.contains("`lockship-warm`"), "{md}");
    for metric in [
        "size_bytes",
        "uncached_s",
        "code_change_s",
        "new_dependency_s",
        "noop_s",
        "ready_s",
        "install_s",
    ] {
        let svg = std::fs::read_to_string(out.join(format!("{metric}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{metric}.svg");
    }
}
