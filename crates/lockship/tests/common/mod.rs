//! Shared helpers for the command-line and end-to-end tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Whether this run is CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Skips the test (returns false) with a visible message, or fails it under CI.
pub fn require(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if in_ci() {
        panic!("{what} is required under CI=true, but it is not available");
    }
    eprintln!("skipping: {what} is not available");
    false
}

/// A Docker engine answers on its socket.
pub fn docker_available() -> bool {
    lockship_oci::docker_available()
}

/// The Debian client to drive the engine: Debian's own, which matches it.
pub fn docker() -> Command {
    let debian = Path::new("/usr/bin/docker");
    Command::new(if debian.exists() {
        debian.as_os_str()
    } else {
        "docker".as_ref()
    })
}

/// The Debian mirror from the host's apt sources answers.
pub fn mirror_available() -> bool {
    let Ok(Some(url)) = lockship_debian::mirror_from_apt_sources(Path::new("/")) else {
        return false;
    };
    let fetcher = lockship_fetch::Fetcher::new(lockship_fetch::FetchOptions {
        attempts: 1,
        ..Default::default()
    })
    .unwrap();
    let probe = url::Url::parse(&format!(
        "{}/dists/bookworm/Release",
        url.as_str().trim_end_matches('/')
    ))
    .unwrap();
    fetcher.get_bytes(&probe).is_ok()
}

/// The `lockship` binary under test, with a cache shared by the whole test run.
pub fn lockship() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockship"));
    cmd.env("LOCKSHIP_CACHE_DIR", shared_cache());
    cmd.env_remove("SOURCE_DATE_EPOCH");
    cmd
}

/// The cache shared by the tests (so each package is downloaded once a run).
pub fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("lockship-test-cache")
}

/// Runs a command and returns its output, printing both streams on failure.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the command starts");
    if !out.status.success() {
        panic!(
            "{:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Runs a command that must fail; returns its stderr.
pub fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command starts");
    assert!(
        !out.status.success(),
        "{cmd:?} should fail but succeeded:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Removes an image from the engine, ignoring errors.
pub fn docker_rmi(tag: &str) {
    let _ = docker().args(["rmi", "-f", tag]).output();
}

/// Starts the image detached with `--read-only`, returns (container, host port).
pub fn run_detached(tag: &str) -> (String, u16) {
    let out = run_ok(docker().args(["run", "-d", "--read-only", "-p", "127.0.0.1::8000", tag]));
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let port = run_ok(docker().args(["port", &id, "8000/tcp"]));
    let text = String::from_utf8_lossy(&port.stdout);
    let port: u16 = text
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port mapping: {text}"));
    (id, port)
}

/// A plain HTTP GET on loopback, retried while the server starts.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            if stream.write_all(request.as_bytes()).is_ok() {
                let mut response = String::new();
                if stream.read_to_string(&mut response).is_ok() && response.starts_with("HTTP/") {
                    let status = response[9..12].parse().unwrap_or(0);
                    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
                    return (status, body);
                }
            }
        }
        assert!(Instant::now() < deadline, "nothing answered on port {port}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth, user `app`),
/// stopped when dropped.
pub struct Postgres {
    pub port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl Postgres {
    /// The server's binaries (Debian's layout), if installed.
    pub fn bin_dir() -> Option<PathBuf> {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .collect();
        versions.sort();
        versions.pop()
    }

    /// Starts a cluster; as root, it runs as the `postgres` user.
    pub fn start() -> Postgres {
        let bin = Self::bin_dir().expect("PostgreSQL is installed");
        let dir = tempfile::tempdir().unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let as_postgres = |program: &Path| {
            let mut cmd = if is_root() {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(program);
                c
            } else {
                Command::new(program)
            };
            cmd.current_dir("/");
            cmd
        };
        if is_root() {
            run_ok(
                Command::new("chown")
                    .args(["-R", "postgres"])
                    .arg(dir.path()),
            );
        }
        run_ok(
            as_postgres(&bin.join("initdb"))
                .args(["-A", "trust", "-U", "app", "-D"])
                .arg(dir.path().join("data")),
        );
        run_ok(
            as_postgres(&bin.join("pg_ctl"))
                .arg("-D")
                .arg(dir.path().join("data"))
                .arg("-o")
                .arg(format!(
                    "-p {port} -k {} -c listen_addresses=127.0.0.1",
                    dir.path().display()
                ))
                .arg("-l")
                .arg(dir.path().join("log"))
                .args(["-w", "start"]),
        );
        Postgres { port, dir, bin }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"));
            c
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        let _ = cmd
            .current_dir("/")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "fast", "stop"])
            .output();
    }
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Paths in an image output's layers (all layers, bottom first).
pub fn image_paths(output: &str) -> Vec<String> {
    let output: lockship_oci::Output = output.parse().unwrap();
    let mut out = Vec::new();
    for layer in lockship_oci::open_image_layers(&output).unwrap() {
        let mut archive = tar::Archive::new(layer);
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            out.push(entry.path().unwrap().to_string_lossy().into_owned());
        }
    }
    out
}

/// The repository's `examples/` directory.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// A copy of an example in `to`.
pub fn copy_example(name: &str, to: &Path) -> PathBuf {
    let dest = to.join(name);
    for entry in walkdir::WalkDir::new(examples().join(name)) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(examples().join(name)).unwrap();
        let target = dest.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    dest
}

/// A Python tool installed with pip into a private venv of the test run
/// (`uv`, `poetry`): locks that record the index's URLs are made at test time.
pub fn pip_tool(program: &str, spec: &str) -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{program}-venv"));
    let bin = venv.join("bin").join(program);
    if bin.exists() {
        return Some(bin);
    }
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", spec])
            .status()
            .is_ok_and(|s| s.success());
    ok.then_some(bin)
}

/// uv, for uv.lock files made at test time.
pub fn uv() -> Option<PathBuf> {
    pip_tool("uv", "uv")
}

/// The Debian mirror answers (skips, or fails under CI=true, when not).
pub fn online() -> bool {
    require("the Debian mirror", mirror_available())
}

/// `lockship build PROJECT --json --output oci:OUT EXTRA…`, parsed.
pub fn build_json(project: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let out = run_ok(
        lockship()
            .arg("build")
            .arg(project)
            .arg("--json")
            .arg("--output")
            .arg(format!("oci:{}", out.display()))
            .args(extra),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
