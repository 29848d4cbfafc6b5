//! Native code end to end: sdists built in the sandboxed build environment,
//! libdeps adding the run-time libraries, the images run against real
//! services (PostgreSQL on loopback, HTTP), and the failures that explain
//! themselves.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn ready() -> bool {
    require("the Debian mirror", mirror_available())
        && require("bubblewrap (`bwrap`)", which("bwrap"))
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

fn build_archive(project: &Path, archive: &Path, extra: &[&str]) -> serde_json::Value {
    let out = run_ok(
        lockship()
            .arg("--json")
            .arg("build")
            .arg(project)
            .arg("--output")
            .arg(format!("docker-archive:{}", archive.display()))
            .args(extra),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// No compiler, no headers, no -dev package in the image.
fn assert_no_build_tools(archive: &Path, summary: &serde_json::Value) {
    let paths = image_paths(&format!("docker-archive:{}", archive.display()));
    let bad: Vec<&String> = paths
        .iter()
        .filter(|p| {
            let p = p.trim_start_matches("./");
            p.starts_with("usr/include/")
                || p.ends_with("/cc1")
                || p.starts_with("usr/bin/gcc")
                || p.starts_with("usr/bin/cc")
                || p.starts_with("usr/bin/x86_64-linux-gnu-gcc")
        })
        .collect();
    assert!(bad.is_empty(), "build tools in the image: {bad:?}");
    for p in summary["system_packages"].as_array().unwrap() {
        let name = p.as_str().unwrap();
        assert!(
            !name.contains("-dev="),
            "a -dev package in the image: {name}"
        );
    }
}

fn built_wheel(summary: &serde_json::Value) -> &serde_json::Value {
    &summary["built_wheels"].as_array().expect("built_wheels")[0]
}

#[test]
fn psycopg2_from_its_sdist_talks_to_postgres() {
    if !ready()
        || !require("a Docker engine", docker_available())
        || !require("PostgreSQL", Postgres::bin_dir().is_some())
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("pg.tar");
    let project = examples().join("psycopg2-app");
    let first = build_archive(&project, &archive, &[]);
    let wheel = built_wheel(&first);
    assert_eq!(wheel["package"], "psycopg2");
    assert!(wheel["wheel"]
        .as_str()
        .unwrap()
        .contains("cp311-cp311-linux_x86_64"));
    assert_eq!(wheel["sha256"].as_str().unwrap().len(), 64);
    // No `build-packages` line: lockship added libpq-dev and says why.
    assert_eq!(
        wheel["build_packages"],
        serde_json::json!(["libpq-dev"]),
        "{wheel}"
    );
    let added = &wheel["added_build_packages"][0];
    assert_eq!(added["package"], "libpq-dev", "{wheel}");
    assert!(!added["line"].as_str().unwrap().is_empty(), "{wheel}");
    assert!(
        first["libdeps"]["packages"]["libpq5"][0]["soname"] == "libpq.so.5",
        "libdeps found libpq5: {}",
        first["libdeps"]
    );
    assert_no_build_tools(&archive, &first);

    // The second build reuses the cached wheel: nothing is compiled.
    let second = build_archive(
        &project,
        &archive,
        &["--tag", "lockship-test/psycopg2-app:e2e"],
    );
    assert_eq!(
        built_wheel(&second)["cached"],
        true,
        "{}",
        second["built_wheels"]
    );
    assert_eq!(built_wheel(&second)["sha256"], wheel["sha256"]);
    assert_eq!(second["digest"], first["digest"]);

    run_ok(docker().arg("load").arg("-i").arg(&archive));
    let pg = Postgres::start();
    let out = run_ok(docker().args([
        "run",
        "--rm",
        "--read-only",
        "--network",
        "host",
        "-e",
        &format!(
            "DATABASE_URL=postgresql://app@127.0.0.1:{}/postgres",
            pg.port
        ),
        "lockship-test/psycopg2-app:e2e",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SELECT 1 -> 1"), "{text}");
    assert!(text.contains("server: PostgreSQL"), "{text}");
    docker_rmi("lockship-test/psycopg2-app:e2e");

    // `lockship libdeps` on the finished image: nothing is missing any more.
    let out = run_ok(
        lockship()
            .args(["libdeps", "--json"])
            .arg(format!("docker-archive:{}", archive.display())),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["scanned"].as_u64().unwrap() > 50, "{report}");
    assert_eq!(report["packages"], serde_json::json!({}), "{report}");
    assert_eq!(report["unresolved"], serde_json::json!([]), "{report}");

    // …and on the wheel's own files over lockship's base: libpq5 is what it needs.
    let unpacked = dir.path().join("wheel");
    let zip = std::fs::File::open(wheel_path(&second)).unwrap();
    unzip(zip, &unpacked);
    let out = run_ok(lockship().arg("libdeps").arg(&unpacked));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("libpq5\n  libpq.so.5\n    needed by /app/psycopg2/_psycopg"),
        "{text}"
    );
}

/// The cached wheel's path, from the shared cache's record.
fn wheel_path(summary: &serde_json::Value) -> PathBuf {
    let sha = summary["built_wheels"][0]["sha256"].as_str().unwrap();
    let root = shared_cache().join("keyed/sdist-wheels");
    for entry in walkdir::WalkDir::new(&root).into_iter().flatten() {
        if entry.file_name() == "record.json" {
            let record: serde_json::Value =
                serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
            if record["sha256"] == sha {
                return entry
                    .path()
                    .parent()
                    .unwrap()
                    .join(record["filename"].as_str().unwrap());
            }
        }
    }
    panic!("no cached wheel with sha256 {sha} under {}", root.display());
}

fn unzip(file: std::fs::File, dest: &Path) {
    let mut archive = zip::ZipArchive::new(file).unwrap();
    archive.extract(dest).unwrap();
}

#[test]
fn uwsgi_from_its_sdist_serves_http() {
    if !ready() || !require("a Docker engine", docker_available()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("uwsgi.tar");
    let project = examples().join("uwsgi-app");
    let tag = "lockship-test/uwsgi-app:e2e";
    let first = build_archive(&project, &archive, &["--tag", tag]);
    assert_eq!(built_wheel(&first)["package"], "uwsgi");
    let libdeps = &first["libdeps"]["packages"];
    assert!(libdeps.get("libpython3.11").is_some(), "{libdeps}");
    assert!(libdeps.get("libpcre2-8-0").is_some(), "{libdeps}");
    assert_no_build_tools(&archive, &first);
    let second = build_archive(&project, &archive, &["--tag", tag]);
    assert_eq!(built_wheel(&second)["cached"], true);
    assert_eq!(second["digest"], first["digest"]);

    run_ok(docker().arg("load").arg("-i").arg(&archive));
    let (container, port) = run_detached(tag);
    let (status, body) = http_get(port, "/hello");
    let logs = docker().args(["logs", &container]).output().unwrap();
    let _ = docker().args(["rm", "-f", &container]).output();
    docker_rmi(tag);
    assert_eq!(
        status,
        200,
        "{body}\n{}",
        String::from_utf8_lossy(&logs.stderr)
    );
    assert!(body.contains("hello from uwsgi"), "{body}");
    assert!(body.contains("\"uid\": 65532"), "{body}");
}

/// A copy of an example with its pyproject edited.
fn edited_copy(example: &str, dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let src = examples().join(example);
    let dest = dir.join(example);
    for entry in walkdir::WalkDir::new(&src).into_iter().flatten() {
        let rel = entry.path().strip_prefix(&src).unwrap();
        let target = dest.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    let pyproject = dest.join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(&pyproject, edit(text)).unwrap();
    dest
}

#[test]
fn a_failed_sdist_build_names_the_dev_package_and_auto_fixes_it() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = edited_copy("psycopg2-app", dir.path(), |t| t);
    assert!(!std::fs::read_to_string(project.join("pyproject.toml"))
        .unwrap()
        .contains("build-packages ="));
    let archive = dir.path().join("out.tar");
    // `--build-packages none`: nothing is added, and the error explains.
    let err = run_err(
        lockship()
            .arg("build")
            .arg(&project)
            .args(["--build-packages", "none", "--output"])
            .arg(format!("docker-archive:{}", archive.display())),
    );
    assert!(
        err.contains("Building `psycopg2` 2.9.13 from `psycopg2-2.9.13.tar.gz` failed"),
        "{err}"
    );
    assert!(
        err.contains("program `pg_config` (shipped by `libpq-dev`)"),
        "{err}"
    );
    assert!(err.contains("pg_config executable not found"), "{err}");
    assert!(
        err.contains(
            "hint: add it to [tool.lockship] in pyproject.toml: `build-packages = [\"libpq-dev\"]`"
        ),
        "{err}"
    );
    assert!(!archive.exists(), "no half-written output");

    // By default, libpq-dev is added (and named, with the line that asked
    // for it, in the output and in --json).
    let out = run_ok(
        lockship()
            .args(["--json", "build"])
            .arg(&project)
            .arg("--output")
            .arg(format!("docker-archive:{}", archive.display())),
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let wheel = built_wheel(&summary);
    assert_eq!(
        wheel["build_packages"],
        serde_json::json!(["libpq-dev"]),
        "{summary}"
    );
    let added = &wheel["added_build_packages"];
    assert_eq!(added[0]["package"], "libpq-dev", "{summary}");
    assert_eq!(added[0]["by"], "table", "{summary}");
    assert!(summary["libdeps"]["packages"].get("libpq5").is_some());
    let human = run_ok(
        lockship()
            .arg("build")
            .arg(&project)
            .arg("--output")
            .arg(format!("docker-archive:{}", archive.display())),
    );
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert!(
        stderr.contains("build package libpq-dev added for `psycopg2`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pin them: build-packages = [\"libpq-dev\"]"),
        "{stderr}"
    );
}

#[test]
fn an_sdist_whose_hash_does_not_match_the_lock_is_refused() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = edited_copy("psycopg2-app", dir.path(), |t| t);
    let req = project.join("requirements.txt");
    let text = std::fs::read_to_string(&req).unwrap();
    std::fs::write(
        &req,
        text.replace(
            "d36784fc2dae69523ba4b79c7d1d1b4d6e83e87836874f111262f4db940b16a6",
            "0000000000000000000000000000000000000000000000000000000000000000",
        ),
    )
    .unwrap();
    let err = run_err(
        lockship()
            .arg("build")
            .arg(&project)
            .arg("--output")
            .arg(format!("oci:{}", dir.path().join("out").display())),
    );
    assert!(err.contains("Hash mismatch for `psycopg2` 2.9.13"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn a_soname_no_package_ships_is_reported_and_fails() {
    if !require("the Debian mirror", mirror_available()) || !require("a C compiler", which("cc")) {
        return;
    }
    // An extension module that needs libghost.so.7, which nobody ships.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("ghost.c"), "int ghost(void) { return 7; }\n").unwrap();
    std::fs::write(
        src.join("ext.c"),
        "int ghost(void);\nint ext(void) { return ghost(); }\n",
    )
    .unwrap();
    run_ok(std::process::Command::new("cc").current_dir(&src).args([
        "-shared",
        "-fPIC",
        "-Wl,-soname,libghost.so.7",
        "-o",
        "libghost.so.7",
        "ghost.c",
    ]));
    let tree = dir.path().join("tree");
    let pkg = tree.join("ghostpkg");
    std::fs::create_dir_all(&pkg).unwrap();
    run_ok(
        std::process::Command::new("cc")
            .current_dir(&src)
            .args(["-shared", "-fPIC", "-o"])
            .arg(pkg.join("_ext.cpython-311-x86_64-linux-gnu.so"))
            .args(["ext.c", "-L.", "-l:libghost.so.7"]),
    );
    let out = lockship().arg("libdeps").arg(&tree).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("unresolved (no package ships them)\n  libghost.so.7\n    needed by /app/ghostpkg/_ext.cpython-311-x86_64-linux-gnu.so"), "{stdout}");
    assert!(stderr.contains("hint:"), "{stderr}");
    let out = lockship()
        .args(["libdeps", "--json"])
        .arg(&tree)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["unresolved"][0]["soname"], "libghost.so.7");
}
