//! The sandbox an sdist builds in: bubblewrap, with the build environment
//! mounted read-only as `/`, a writable `/build` (the sdist and the wheel's
//! output) and a private `/tmp`, new user, PID, IPC and mount namespaces,
//! the network shared (build requirements come from the package index), an
//! empty environment, and an unprivileged user. Nothing of the host is
//! visible but the CA bundle and the resolver's configuration.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{io_err, SdistError};

/// The uid and gid the build runs as inside the sandbox.
pub const BUILD_UID: u32 = 65532;

/// A sandbox that can run commands in a build environment.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
}

/// One command to run.
#[derive(Debug, Clone)]
pub struct SandboxRun<'a> {
    /// The build environment's tree, mounted read-only as `/`.
    pub root: &'a Path,
    /// Mounted read-write at `/build`.
    pub work: &'a Path,
    /// The environment (nothing of the caller's is passed).
    pub env: Vec<(String, String)>,
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// Where its output (stdout and stderr) goes.
    pub log: &'a Path,
}

impl Sandbox {
    /// Finds `bwrap` on PATH.
    pub fn find() -> Option<Sandbox> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join("bwrap"))
            .find(|p| p.is_file())
            .map(|bwrap| Sandbox { bwrap })
    }

    /// The host's CA bundle, as `SSL_CERT_FILE` or the system store names it.
    fn host_ca_bundle() -> Option<PathBuf> {
        std::env::var_os("SSL_CERT_FILE")
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .or_else(|| {
                let system = PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
                system.is_file().then_some(system)
            })
    }

    /// Runs a command; returns whether it succeeded.
    pub fn run(&self, run: &SandboxRun) -> Result<bool, SdistError> {
        let log = std::fs::File::create(run.log).map_err(io_err("create", run.log))?;
        let log_err = log.try_clone().map_err(io_err("open", run.log))?;
        let mut cmd = Command::new(&self.bwrap);
        cmd.arg("--ro-bind")
            .arg(run.root)
            .arg("/")
            .args(["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"])
            .arg("--bind")
            .arg(run.work)
            .arg("/build");
        if let Some(ca) = Self::host_ca_bundle() {
            cmd.arg("--ro-bind")
                .arg(ca)
                .arg("/etc/ssl/certs/ca-certificates.crt");
        }
        for file in ["/etc/resolv.conf", "/etc/hosts"] {
            if Path::new(file).exists() {
                cmd.args(["--ro-bind", file, file]);
            }
        }
        cmd.args([
            "--unshare-all",
            "--share-net",
            "--die-with-parent",
            "--new-session",
        ])
        .args([
            "--uid",
            &BUILD_UID.to_string(),
            "--gid",
            &BUILD_UID.to_string(),
        ])
        .args(["--chdir", "/build", "--clearenv"]);
        for (k, v) in &run.env {
            cmd.args(["--setenv", k, v]);
        }
        cmd.arg("--").args(&run.argv);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        let status = cmd.status().map_err(io_err("run", &self.bwrap))?;
        if !status.success() {
            // bwrap's own failures come before the command runs.
            let text = std::fs::read_to_string(run.log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.starts_with("bwrap: ")) {
                return Err(SdistError::SandboxFailed {
                    message: line.trim_start_matches("bwrap: ").to_string(),
                });
            }
        }
        Ok(status.success())
    }
}
