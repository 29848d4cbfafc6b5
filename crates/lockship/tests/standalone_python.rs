//! A standalone CPython (issue 13): the image's Python from a
//! python-build-standalone `install_only_stripped` archive on lockship's
//! minimal Debian-stable userland.
//!
//! The default download location is not reachable from the machines these
//! tests were written on, so each test builds, at test time, a release in
//! the exact layout and names of the real assets
//! (`cpython-{version}+{tag}-{triple}-install_only_stripped.tar.gz` holding
//! `python/bin/python3.X`, `python/lib/python3.X/…`, and the release's
//! `SHA256SUMS`) from a real interpreter: Debian bookworm's CPython, fetched
//! and unpacked by lockship's own Debian code, labelled with its true
//! version. Its shared libraries go in `python/lib/`, where the real builds
//! keep theirs. The release is served from 127.0.0.1, and lockship learns
//! its hashes from the refreshed table in the cache, as a user would give it
//! a newer release's `SHA256SUMS`.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::*;
use sha2::{Digest, Sha256};

/// The release tag of the fixture (a build date, as real tags are).
const TAG: &str = "20261201";
const TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// A release built from Debian's interpreter: its true version, the
/// archive's name and bytes.
struct Fixture {
    version: String,
    asset: String,
    bytes: Vec<u8>,
}

impl Fixture {
    /// Debian bookworm's CPython 3.11.
    fn bookworm() -> Fixture {
        Fixture::debian(lockship_runtime::PythonRuntime::lookup("3.11").unwrap())
    }

    /// Debian's CPython of `runtime`, unpacked by lockship's Debian code
    /// (the runtime's tree, without bytecode), repacked in the standalone
    /// layout.
    fn debian(runtime: lockship_runtime::PythonRuntime) -> Fixture {
        let fetcher = lockship_fetch::Fetcher::new(Default::default()).unwrap();
        let cache = lockship_fetch::Cache::open(shared_cache()).unwrap();
        let ctx = lockship_runtime::Context {
            fetcher: &fetcher,
            cache: &cache,
            reporter: &lockship_fetch::NoReporter,
        };
        let mirror = lockship_debian::mirror_from_apt_sources(Path::new("/"))
            .unwrap()
            .unwrap();
        let minor = runtime.version;
        let mut options =
            lockship_runtime::BaseOptions::new(runtime, "linux/amd64".parse().unwrap(), mirror);
        options.compile = false;
        let base = lockship_runtime::build_base(&ctx, &options).unwrap();
        let minimal = base
            .plan
            .packages
            .iter()
            .find(|p| p.name == format!("python{minor}-minimal"))
            .unwrap();
        // `3.11.2-6+deb12u6` → `3.11.2`: the interpreter's true version.
        let version = minimal
            .version
            .split(['-', '+'])
            .next()
            .unwrap()
            .to_string();
        let tree = tempfile::tempdir().unwrap();
        let reader = lockship_layer::open_layer_tar(&base.image.layers[0].path).unwrap();
        tar::Archive::new(reader).unpack(tree.path()).unwrap();
        let asset = format!("cpython-{version}+{TAG}-{TRIPLE}-install_only_stripped.tar.gz");
        let bytes = repack(tree.path(), minor);
        Fixture {
            version,
            asset,
            bytes,
        }
    }

    /// Writes the release under `root/TAG/` with its `SHA256SUMS` (the
    /// archive's hash, or `claimed`), and returns the `SHA256SUMS` text.
    fn publish(&self, root: &Path, claimed: Option<&str>) -> String {
        let dir = root.join(TAG);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(&self.asset), &self.bytes).unwrap();
        let hash = claimed.map_or_else(|| hex::encode(Sha256::digest(&self.bytes)), String::from);
        let sums = format!("{hash}  {}\n", self.asset);
        std::fs::write(dir.join("SHA256SUMS"), &sums).unwrap();
        sums
    }
}

/// Libraries of the C runtime, which the userland brings.
fn is_system_library(name: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "ld-linux",
        "libc.",
        "libc_",
        "libm.",
        "libmvec",
        "libpthread",
        "libdl.",
        "librt.",
        "libutil",
        "libresolv",
        "libnss",
        "libanl",
        "libBrokenLocale",
        "libthread_db",
        "libmemusage",
        "libpcprofile",
        "libgcc_s",
        "libstdc++",
    ];
    SYSTEM.iter().any(|s| name.starts_with(s))
}

/// The standalone layout of a Debian tree: `usr/bin/python3.X` →
/// `python/bin/`, `usr/lib/python3.X/` → `python/lib/python3.X/`, the
/// non-C-runtime libraries of `usr/lib/x86_64-linux-gnu/` → `python/lib/`.
fn repack(tree: &Path, minor: &str) -> Vec<u8> {
    let mut entries: BTreeMap<String, (PathBuf, bool)> = BTreeMap::new();
    let stdlib = tree.join(format!("usr/lib/python{minor}"));
    for e in walkdir::WalkDir::new(&stdlib)
        .into_iter()
        .map(Result::unwrap)
    {
        let rel = e
            .path()
            .strip_prefix(&stdlib)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let name = format!("python/lib/python{minor}/{rel}");
        entries.insert(
            name.trim_end_matches('/').to_string(),
            (e.into_path(), false),
        );
    }
    let libdir = tree.join("usr/lib/x86_64-linux-gnu");
    for e in std::fs::read_dir(&libdir).unwrap().map(Result::unwrap) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("lib") && name.contains(".so") && !is_system_library(&name) {
            entries.insert(format!("python/lib/{name}"), (e.path(), false));
        }
    }
    let python = tree.join(format!("usr/bin/python{minor}"));
    entries.insert(format!("python/bin/python{minor}"), (python, true));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    builder.follow_symlinks(false);
    for dir in ["python", "python/bin", "python/lib"] {
        append_dir(&mut builder, dir);
    }
    for (name, link) in [("python3", "python"), ("python", "python")] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        h.set_mtime(1_700_000_000);
        builder
            .append_link(
                &mut h,
                format!("python/bin/{name}"),
                format!("{link}{minor}"),
            )
            .unwrap();
    }
    for (name, (path, _)) in &entries {
        let meta = std::fs::symlink_metadata(path).unwrap();
        if meta.is_dir() {
            append_dir(&mut builder, name);
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(path).unwrap();
            // An absolute link (Debian's `sitecustomize.py` → /etc) would
            // leave the prefix, as no real release's does: left out.
            if target.is_absolute() {
                continue;
            }
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            h.set_mtime(1_700_000_000);
            builder.append_link(&mut h, name, &target).unwrap();
        } else {
            let bytes = std::fs::read(path).unwrap();
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o755);
            h.set_size(bytes.len() as u64);
            h.set_mtime(1_700_000_000);
            builder.append_data(&mut h, name, bytes.as_slice()).unwrap();
        }
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn append_dir(builder: &mut tar::Builder<impl Write>, name: &str) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_mtime(1_700_000_000);
    h.set_size(0);
    builder
        .append_data(&mut h, format!("{name}/"), std::io::empty())
        .unwrap();
}

/// Serves `root` over HTTP on 127.0.0.1 (percent-decoded paths, no `..`).
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut first = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let _ = reader.read_line(&mut first);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/");
            let path = path.replace("%2B", "+");
            let file = root.join(path.trim_start_matches('/'));
            let _ = match std::fs::read(&file).ok().filter(|_| !path.contains("..")) {
                Some(body) => stream
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|_| stream.write_all(&body)),
                None => stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    base
}

/// A fresh cache holding `sums` as the refreshed table of known builds.
fn cache_with_table(parent: &Path, name: &str, sums: &str) -> PathBuf {
    let cache = parent.join(name);
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("python-standalone.sha256sums"), sums).unwrap();
    cache
}

/// `lockship build APP --json --output oci:OUT` with `cache`, on the
/// standalone CPython `version` from `mirror`.
fn build(
    app: &Path,
    out: &Path,
    cache: &Path,
    mirror: &str,
    version: &str,
    extra: &[&str],
) -> serde_json::Value {
    let output = run_ok(
        lockship()
            .env("LOCKSHIP_CACHE_DIR", cache)
            .arg("build")
            .arg(app)
            .args([
                "--json",
                "--python",
                version,
                "--python-source",
                "standalone",
            ])
            .args(["--python-mirror", mirror, "--output"])
            .arg(format!("oci:{}", out.display()))
            .args(extra),
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Debian's 3.11 as a standalone build: built twice with separate caches
/// (same digest), labelled with its build, and, with an engine, run
/// read-only as 65532: the stdlib check and the app over HTTP.
#[test]
fn standalone_python_builds_reproducibly_and_runs() {
    if !online() {
        return;
    }
    let fixture = Fixture::bookworm();
    let dir = tempfile::tempdir().unwrap();
    let sums = fixture.publish(&dir.path().join("releases"), None);
    let mirror = serve(dir.path().join("releases"));
    let app = copy_example("flask-app", dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let cache_a = cache_with_table(dir.path(), "cache-a", &sums);
    let first = build(&app, &a, &cache_a, &mirror, &fixture.version, &[]);
    assert_eq!(first["python"], fixture.version.as_str(), "{first}");
    let layers = first["layers"].as_array().unwrap();
    eprintln!(
        "standalone base {}: userland {} / {} bytes, CPython {} / {} bytes (compressed / uncompressed)",
        fixture.version,
        layers[0]["size"],
        layers[0]["uncompressed_size"],
        layers[1]["size"],
        layers[1]["uncompressed_size"]
    );
    let cache_b = cache_with_table(dir.path(), "cache-b", &sums);
    let second = build(&app, &b, &cache_b, &mirror, &fixture.version, &[]);
    assert_eq!(first["digest"], second["digest"], "two caches, two digests");
    let images = lockship_oci::validate(&lockship_oci::Output::OciDir(a.clone())).unwrap();
    let config = serde_json::to_value(&images[0].config).unwrap();
    let labels = &config["config"]["Labels"];
    let sha = hex::encode(Sha256::digest(&fixture.bytes));
    assert_eq!(
        labels["dev.lockship.python.version"],
        fixture.version.as_str()
    );
    assert_eq!(labels["dev.lockship.python.standalone.release"], TAG);
    assert_eq!(
        labels["dev.lockship.python.standalone.sha256"],
        sha.as_str()
    );
    check_python_layer(&a, &images[0].layers[1].digest, "3.11");
    if require("a Docker engine", docker_available()) {
        let tag = "lockship-test/standalone-python:e2e";
        let out = dir.path().join("c");
        build(
            &app,
            &out,
            &cache_a,
            &mirror,
            &fixture.version,
            &["--load", "-t", tag],
        );
        run_in_engine(tag, &fixture.version);
    }
    for cache in [cache_a, cache_b] {
        let _ = std::fs::remove_dir_all(cache);
    }
}

/// The CPython layer of the layout `layout`: the tree at /opt/python,
/// pruned, its stdlib compiled to unchecked-hash bytecode, `python3` linked.
fn check_python_layer(layout: &Path, digest: &str, minor: &str) {
    let blob = layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(blob).unwrap());
    let mut archive = tar::Archive::new(gz);
    let stdlib = format!("opt/python/lib/python{minor}/");
    let (mut unchecked, mut other) = (0, 0);
    let mut python3 = None;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        for pruned in ["test/", "idlelib/", "tkinter/", "ensurepip/"] {
            assert!(!path.starts_with(&format!("{stdlib}{pruned}")), "{path}");
        }
        assert!(!path.ends_with(".a"), "{path}");
        if path == "usr/bin/python3" {
            python3 = entry
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned());
        }
        if path.starts_with(&stdlib) && path.ends_with(".pyc") {
            let mut head = [0u8; 8];
            std::io::Read::read_exact(&mut entry, &mut head).unwrap();
            // PEP 552: flags 0b01 = hash-based, not checked against the source.
            if head[4..8] == [1, 0, 0, 0] {
                unchecked += 1;
            } else {
                other += 1;
            }
        }
    }
    assert_eq!(
        python3.as_deref(),
        Some(format!("/opt/python/bin/python{minor}").as_str())
    );
    assert!(unchecked > 100, "{unchecked} unchecked-hash .pyc files");
    assert_eq!(other, 0, "every stdlib .pyc is unchecked-hash");
}

/// Runs the loaded image read-only as 65532: the stdlib check (ssl with
/// the CA bundle, sqlite3, ctypes, zoneinfo), then the app over HTTP.
fn run_in_engine(tag: &str, version: &str) {
    let check = "import sys, ssl, sqlite3, ctypes, zoneinfo, flask, urllib.request; \
        ctx = ssl.create_default_context(); assert ctx.cert_store_stats()['x509_ca'] > 100; \
        zoneinfo.ZoneInfo('Europe/Paris'); sqlite3.connect(':memory:').execute('select 1'); \
        print(sys.prefix, '%d.%d.%d' % sys.version_info[:3])";
    let run = docker()
        .args(["run", "--rm", "--read-only", "--user", "65532"])
        .args(["--entrypoint", "python3", tag, "-c", check])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    if !run.status.success() {
        docker_rmi(tag);
        panic!("{}", String::from_utf8_lossy(&run.stderr));
    }
    assert!(stdout.contains(version), "{stdout}");
    let (id, port) = run_detached(tag);
    let (status, _) = http_get(port, "/");
    let _ = docker().args(["rm", "-f", &id]).output();
    docker_rmi(tag);
    assert_eq!(status, 200);
}

/// The mirror serves another file than the release published: refused,
/// and neither the archive nor a tree is kept in the cache.
#[test]
fn hostile_standalone_archive_with_a_wrong_checksum_is_refused_and_not_cached() {
    if !online() {
        return;
    }
    let fixture = Fixture::bookworm();
    let dir = tempfile::tempdir().unwrap();
    let sums = fixture.publish(&dir.path().join("releases"), Some(&"0".repeat(64)));
    let mirror = serve(dir.path().join("releases"));
    let app = copy_example("flask-app", dir.path());
    let cache = cache_with_table(dir.path(), "cache", &sums);
    let err = run_err(
        lockship()
            .env("LOCKSHIP_CACHE_DIR", &cache)
            .arg("build")
            .arg(&app)
            .args([
                "--python",
                &fixture.version,
                "--python-source",
                "standalone",
            ])
            .args(["--python-mirror", &mirror, "--output"])
            .arg(format!("oci:{}", dir.path().join("out").display())),
    );
    assert!(err.contains("does not match its published sha256"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    let sha = hex::encode(Sha256::digest(&fixture.bytes));
    let kept: Vec<_> = walkdir::WalkDir::new(&cache)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            name.contains(&sha) || name.contains(&"0".repeat(64)) || name == "python-standalone"
        })
        .collect();
    assert!(kept.is_empty(), "kept: {kept:?}");
}

/// A patch release no build has lists what exists; `--python 3.12` with
/// no reachable mirror names both ways out.
#[test]
fn missing_standalone_version_lists_what_exists_and_unreachable_mirror_names_both_ways_out() {
    if !online() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = copy_example("flask-app", dir.path());
    let err = run_err(lockship().arg("plan").arg(&app).args([
        "--python",
        "3.12.99",
        "--python-source",
        "standalone",
    ]));
    assert!(err.contains("3.12.99"), "{err}");
    assert!(err.contains("python-build-standalone"), "{err}");
    assert!(err.contains("3.12."), "{err}");
    // A patch release only a standalone build has is that build, exactly.
    let plan = run_ok(
        lockship()
            .arg("plan")
            .arg(&app)
            .args(["--python", "3.11.9"]),
    );
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(plan["python"]["version"], "3.11.9", "{plan}");
    assert_eq!(plan["python"]["provider"]["kind"], "standalone", "{plan}");
    let plan = run_ok(lockship().arg("plan").arg(&app).args(["--python", "3.12"]));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(plan["python"]["provider"]["kind"], "standalone", "{plan}");
    assert!(plan["target"].as_str().unwrap().contains("cp312"), "{plan}");
    // arm64 gets the aarch64 build and arm64's userland, with no emulation.
    let argv = ["--python", "3.12", "--platform", "linux/arm64"];
    let plan = run_ok(lockship().arg("plan").arg(&app).args(argv));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(plan["python"]["provider"]["kind"], "standalone", "{plan}");
    assert_eq!(plan["base"]["debian_arch"], "arm64", "{plan}");
    assert!(
        plan["target"].as_str().unwrap().contains("aarch64"),
        "{plan}"
    );
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = run_err(
        lockship()
            .arg("build")
            .arg(&app)
            .args(["--python", "3.12"])
            .args(["--python-mirror", &format!("http://{closed}")])
            .arg("--output")
            .arg(format!("oci:{}", dir.path().join("out").display())),
    );
    assert!(err.contains(&closed.to_string()), "{err}");
    assert!(err.contains("--python-mirror"), "{err}");
    assert!(err.contains("--base-image python:3.12-slim"), "{err}");
}

/// CPython 3.14, which no Debian suite lockship builds on ships, from
/// Debian sid's packages as a standalone build: it builds, and runs in the
/// engine read-only as 65532.
#[test]
fn python_314_from_a_standalone_build_runs() {
    if !online() {
        return;
    }
    let fixture = Fixture::debian(lockship_runtime::PythonRuntime {
        version: "3.14",
        suite: "sid",
        debian_version: "unstable",
    });
    assert!(fixture.version.starts_with("3.14."), "{}", fixture.version);
    let dir = tempfile::tempdir().unwrap();
    let sums = fixture.publish(&dir.path().join("releases"), None);
    let mirror = serve(dir.path().join("releases"));
    let app = copy_example("flask-app", dir.path());
    let cache = cache_with_table(dir.path(), "cache", &sums);
    let mut extra = vec![];
    let tag = "lockship-test/standalone-python-314:e2e";
    let engine = require("a Docker engine", docker_available());
    if engine {
        extra = vec!["--load", "-t", tag];
    }
    let out = dir.path().join("out");
    let summary = build(&app, &out, &cache, &mirror, &fixture.version, &extra);
    assert_eq!(summary["python"], fixture.version.as_str(), "{summary}");
    assert!(summary["python_choice"]
        .as_str()
        .unwrap()
        .contains("--python"));
    let layers = summary["layers"].as_array().unwrap();
    eprintln!(
        "standalone base {}: userland {} / {} bytes, CPython {} / {} bytes (compressed / uncompressed)",
        fixture.version,
        layers[0]["size"],
        layers[0]["uncompressed_size"],
        layers[1]["size"],
        layers[1]["uncompressed_size"]
    );
    if engine {
        run_in_engine(tag, &fixture.version);
    }
    let _ = std::fs::remove_dir_all(cache);
}
