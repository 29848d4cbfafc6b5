//! The one sandbox lockship runs foreign programs in: bytecode compilation
//! with an image's own interpreter, and PEP 517 builds of sdists.
//!
//! A run is [bubblewrap](https://github.com/containers/bubblewrap) with:
//!
//! - the tree read-only as `/` (each of its entries bound read-only onto an
//!   empty root, so that the writable binds can be mounted at their in-image
//!   paths even where the tree has no directory for them; `/` itself is then
//!   remounted read-only);
//! - the [`Bind`]s the caller names, read-only or writable, and nothing else
//!   of the host: a fresh `/dev`, `/proc` and an empty `/tmp`;
//! - new user, PID, IPC, UTS, cgroup and network namespaces (no network,
//!   not even the host's loopback, unless the caller asks for
//!   [`Network::Shared`]), no further user namespaces inside, all
//!   capabilities dropped, a new session, and death with lockship;
//! - an empty environment plus the variables the caller names;
//! - user and group [`SANDBOX_UID`] inside, never root on the host: run by
//!   root, lockship starts `bwrap` as host user [`SANDBOX_UID`] (see
//!   [`Sandbox::run`]), so the kernel's limits and file permissions apply;
//! - [`Limits`] on processes, memory, file size, CPU time and wall time.
//!
//! There is no fallback: without `bwrap`, [`Sandbox::find`] fails with an
//! error whose [`SandboxError::hint`] says what to do.
//!
//! ```no_run
//! use lockship_sandbox::{Bind, Limits, Network, Run, Sandbox};
//! # fn main() -> Result<(), lockship_sandbox::SandboxError> {
//! let sandbox = Sandbox::find()?;
//! let outcome = sandbox.run(&Run {
//!     root: "/tmp/tree".as_ref(),
//!     binds: vec![Bind::read_write("/tmp/out", "/out")],
//!     env: vec![("LANG".into(), "C.UTF-8".into())],
//!     argv: vec!["/bin/sh".into(), "-c".into(), "echo hi > /out/hi".into()],
//!     chdir: "/".into(),
//!     network: Network::None,
//!     limits: Limits::default(),
//!     log: "/tmp/run.log".as_ref(),
//! })?;
//! assert!(outcome.success());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use error::io_err;
pub use error::SandboxError;

/// The uid and gid programs run as inside the sandbox.
pub const SANDBOX_UID: u32 = 65532;

/// Entries of the tree's root that the sandbox provides itself.
const PROVIDED: [&str; 3] = ["dev", "proc", "tmp"];

/// A `bwrap` to run sandboxes with.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
}

/// Whether the sandbox can reach any network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Network {
    /// A network namespace of its own: only a loopback device that nothing
    /// on the host listens on.
    #[default]
    None,
    /// The host's network (for a caller that explicitly needs it).
    Shared,
}

/// Resource limits of one run. Each applies to every process inside
/// (set with `setrlimit` before `bwrap` starts, so they are inherited),
/// except the wall time, which applies to the whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `RLIMIT_NPROC`: processes (and threads). The kernel counts them per
    /// user, up the chain of user namespaces, so the invoking user's own
    /// processes on the host count against it too. Default 4096.
    pub processes: u64,
    /// `RLIMIT_AS`: address space of each process, in bytes. Default 8 GiB.
    pub memory_bytes: u64,
    /// `RLIMIT_FSIZE`: size of any file a process writes, in bytes.
    /// Default 4 GiB.
    pub file_size_bytes: u64,
    /// `RLIMIT_CPU`: CPU time of each process, in seconds. Default 3600.
    pub cpu_seconds: u64,
    /// Wall time of the whole run; past it every process inside is killed.
    /// Default one hour.
    pub wall_time: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            processes: 4096,
            memory_bytes: 8 << 30,
            file_size_bytes: 4 << 30,
            cpu_seconds: 3600,
            wall_time: Duration::from_secs(3600),
        }
    }
}

/// A host path mounted in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// The host path (a directory or file).
    pub host: PathBuf,
    /// Where it appears inside (absolute).
    pub inside: String,
    /// Whether the sandbox may write to it.
    pub writable: bool,
}

impl Bind {
    /// A read-only bind.
    pub fn read_only(host: impl Into<PathBuf>, inside: impl Into<String>) -> Bind {
        Bind {
            host: host.into(),
            inside: inside.into(),
            writable: false,
        }
    }

    /// A writable bind.
    pub fn read_write(host: impl Into<PathBuf>, inside: impl Into<String>) -> Bind {
        Bind {
            host: host.into(),
            inside: inside.into(),
            writable: true,
        }
    }
}

/// One program to run.
#[derive(Debug, Clone)]
pub struct Run<'a> {
    /// The tree mounted read-only as `/`.
    pub root: &'a Path,
    /// Host paths mounted inside.
    pub binds: Vec<Bind>,
    /// The whole environment (nothing of the caller's is passed).
    pub env: Vec<(String, String)>,
    /// The program (an absolute path inside) and its arguments.
    pub argv: Vec<String>,
    /// The working directory inside.
    pub chdir: String,
    /// Whether it can reach the network.
    pub network: Network,
    /// Its resource limits.
    pub limits: Limits,
    /// Where its output (stdout and stderr) goes, on the host.
    pub log: &'a Path,
}

/// How a run ended (it ran; see [`SandboxError`] for runs that did not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code (128 + the signal for a program killed by one).
    pub code: Option<i32>,
}

impl Outcome {
    /// Whether the program exited with 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The limit the program ran into, when its exit says so.
    pub fn limit_hit(&self) -> Option<&'static str> {
        match self.code? - 128 {
            libc::SIGXFSZ => Some("file size limit"),
            libc::SIGXCPU => Some("CPU time limit"),
            libc::SIGKILL => Some("memory or CPU limit (killed)"),
            _ => None,
        }
    }
}

impl Sandbox {
    /// Finds `bwrap` on PATH.
    pub fn find() -> Result<Sandbox, SandboxError> {
        Sandbox::find_in(std::env::var_os("PATH").as_deref())
    }

    /// Finds `bwrap` in the directories of a PATH-style list.
    pub fn find_in(path: Option<&OsStr>) -> Result<Sandbox, SandboxError> {
        let searched = path.map(|p| p.to_string_lossy().into_owned());
        path.and_then(|path| {
            std::env::split_paths(path)
                .map(|dir| dir.join("bwrap"))
                .find(|p| p.is_file())
        })
        .map(|bwrap| Sandbox { bwrap })
        .ok_or(SandboxError::NotFound {
            searched: searched.unwrap_or_default(),
        })
    }

    /// A sandbox that runs this `bwrap`.
    pub fn with_bwrap(bwrap: impl Into<PathBuf>) -> Sandbox {
        Sandbox {
            bwrap: bwrap.into(),
        }
    }

    /// The `bwrap` it runs.
    pub fn bwrap(&self) -> &Path {
        &self.bwrap
    }

    /// Runs a program, waits for it (killing it at the wall-time limit), and
    /// says how it ended.
    ///
    /// Run as root, lockship hands the sandbox to an unprivileged host user
    /// ([`SANDBOX_UID`], which the kernel holds to `RLIMIT_NPROC`, unlike
    /// root): `bwrap` starts as that user, in a mount namespace of its own
    /// where the tree and the binds are mounted on a directory it can
    /// reach, and the writable binds belong to it for the run (their owners
    /// are restored afterwards).
    pub fn run(&self, run: &Run) -> Result<Outcome, SandboxError> {
        // SAFETY: a plain system call.
        let as_root = unsafe { libc::geteuid() } == 0;
        let staging = if as_root {
            Some(Staging::new(run)?)
        } else {
            None
        };
        let args = bwrap_args(run, staging.as_ref())?;
        let owners = if as_root {
            Some(Owners::hand_over(&run.binds)?)
        } else {
            None
        };
        let result = self.spawn_and_wait(run, args, staging.as_ref());
        if let Some(owners) = owners {
            owners.restore()?;
        }
        result
    }

    fn spawn_and_wait(
        &self,
        run: &Run,
        args: Vec<OsString>,
        staging: Option<&Staging>,
    ) -> Result<Outcome, SandboxError> {
        let program = run.argv.first().cloned().unwrap_or_default();
        let log = std::fs::File::create(run.log).map_err(io_err("create", run.log))?;
        let log_err = log.try_clone().map_err(io_err("open", run.log))?;
        // bwrap writes its child's pid here once the sandbox is set up: an
        // empty pipe means bwrap itself failed.
        let (mut info_read, info_write) =
            std::io::pipe().map_err(io_err("create a pipe for", &self.bwrap))?;
        let info_fd = info_write.as_raw_fd();
        let mut cmd = Command::new(&self.bwrap);
        cmd.arg("--info-fd")
            .arg(info_fd.to_string())
            .args(args)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .env_clear();
        let limits = run.limits.clone();
        let mounts = staging.map(|s| s.mounts.clone());
        // SAFETY: only async-signal-safe calls (fcntl, unshare, mount,
        // setgroups, setresgid, setresuid, setrlimit) between fork and exec,
        // on memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if libc::fcntl(info_fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(mounts) = &mounts {
                    drop_to_sandbox_user(mounts)?;
                }
                set_limit(libc::RLIMIT_NPROC, limits.processes)?;
                set_limit(libc::RLIMIT_AS, limits.memory_bytes)?;
                set_limit(libc::RLIMIT_FSIZE, limits.file_size_bytes)?;
                set_limit(libc::RLIMIT_CPU, limits.cpu_seconds)?;
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(io_err("run", &self.bwrap))?;
        drop(info_write);
        drop(cmd);
        let deadline = Instant::now() + run.limits.wall_time;
        let mut pause = Duration::from_millis(2);
        let status = loop {
            if let Some(status) = child.try_wait().map_err(io_err("wait for", &self.bwrap))? {
                break Some(status);
            }
            if Instant::now() >= deadline {
                // SIGKILL to bwrap: the sandbox's PID 1 dies with it
                // (`--die-with-parent`), and every process inside with that.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        };
        let mut info = Vec::new();
        let _ = info_read.read_to_end(&mut info);
        let Some(status) = status else {
            return Err(SandboxError::TimedOut {
                program,
                seconds: run.limits.wall_time.as_secs(),
            });
        };
        if info.is_empty() && !status.success() {
            let text = std::fs::read_to_string(run.log).unwrap_or_default();
            let message = text
                .lines()
                .find_map(|l| l.strip_prefix("bwrap: "))
                .unwrap_or(text.trim())
                .to_string();
            return Err(SandboxError::Start {
                bwrap: self.bwrap.clone(),
                program,
                message,
            });
        }
        use std::os::unix::process::ExitStatusExt;
        Ok(Outcome {
            code: status.code().or(status.signal().map(|s| 128 + s)),
        })
    }
}

/// In the child, as root: a private mount namespace with the staged
/// mounts, then the sandbox user.
fn drop_to_sandbox_user(mounts: &[(CString, CString)]) -> std::io::Result<()> {
    let fail = || Err(std::io::Error::last_os_error());
    // SAFETY: system calls with NUL-terminated strings made before the fork.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return fail();
        }
        let none = std::ptr::null();
        if libc::mount(
            none,
            c"/".as_ptr(),
            none,
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return fail();
        }
        for (source, target) in mounts {
            if libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                none,
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            ) != 0
            {
                return fail();
            }
        }
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID) != 0
            || libc::setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID) != 0
        {
            return fail();
        }
    }
    Ok(())
}

/// Mount points the sandbox user can reach (the tree and the binds may lie
/// under directories only root can enter, such as root's own cache).
struct Staging {
    dir: tempfile::TempDir,
    mounts: Vec<(CString, CString)>,
}

impl Staging {
    fn new(run: &Run) -> Result<Staging, SandboxError> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("lockship-sandbox-")
            .tempdir()
            .map_err(io_err("create", std::env::temp_dir()))?;
        let at = |p: &Path| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
                .map_err(io_err("open up", p))
        };
        at(dir.path())?;
        let c = |p: &Path| {
            CString::new(p.as_os_str().as_bytes()).map_err(|_| SandboxError::BadInsidePath {
                path: p.display().to_string(),
            })
        };
        let root = std::fs::canonicalize(run.root).map_err(io_err("open", run.root))?;
        let mut mounts = Vec::new();
        // The tree's own directory may be closed to others: each of its
        // entries is mounted on a directory of ours.
        let root_point = dir.path().join("root");
        std::fs::create_dir(&root_point).map_err(io_err("create", &root_point))?;
        at(&root_point)?;
        for entry in std::fs::read_dir(&root).map_err(io_err("read", &root))? {
            let entry = entry.map_err(io_err("read", &root))?;
            let kind = entry.file_type().map_err(io_err("read", entry.path()))?;
            let point = root_point.join(entry.file_name());
            if kind.is_dir() {
                std::fs::create_dir(&point).map_err(io_err("create", &point))?;
            } else if kind.is_file() {
                std::fs::File::create(&point).map_err(io_err("create", &point))?;
            } else {
                continue;
            }
            mounts.push((c(&entry.path())?, c(&point)?));
        }
        for (i, bind) in run.binds.iter().enumerate() {
            let point = dir.path().join(format!("b{i}"));
            let meta = std::fs::metadata(&bind.host).map_err(io_err("read", &bind.host))?;
            if meta.is_dir() {
                std::fs::create_dir(&point).map_err(io_err("create", &point))?;
            } else {
                std::fs::File::create(&point).map_err(io_err("create", &point))?;
            }
            mounts.push((c(&bind.host)?, c(&point)?));
        }
        Ok(Staging { dir, mounts })
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn bind(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("b{i}"))
    }
}

/// The owners of the writable binds' entries, handed to the sandbox user
/// for a run.
struct Owners {
    dirs: Vec<PathBuf>,
    owners: std::collections::HashMap<PathBuf, (u32, u32)>,
}

impl Owners {
    fn hand_over(binds: &[Bind]) -> Result<Owners, SandboxError> {
        use std::os::unix::fs::MetadataExt;
        let mut owners = std::collections::HashMap::new();
        let dirs: Vec<PathBuf> = binds
            .iter()
            .filter(|b| b.writable)
            .map(|b| b.host.clone())
            .collect();
        for dir in &dirs {
            for path in walk(dir) {
                let handed = std::fs::symlink_metadata(&path)
                    .map_err(io_err("read", &path))
                    .and_then(|meta| {
                        std::os::unix::fs::lchown(&path, Some(SANDBOX_UID), Some(SANDBOX_UID))
                            .map_err(io_err("hand over", &path))
                            .map(|()| (meta.uid(), meta.gid()))
                    });
                match handed {
                    Ok(owner) => {
                        owners.insert(path, owner);
                    }
                    Err(e) => {
                        // Give back what was handed over so far.
                        for (path, (u, g)) in &owners {
                            let _ = std::os::unix::fs::lchown(path, Some(*u), Some(*g));
                        }
                        return Err(e);
                    }
                }
            }
        }
        Ok(Owners { dirs, owners })
    }

    /// Gives every entry its owner back; entries the run made go to the
    /// invoking user. Symlinks are never followed.
    fn restore(self) -> Result<(), SandboxError> {
        // SAFETY: plain system calls.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        for dir in &self.dirs {
            for path in walk(dir) {
                let (u, g) = self.owners.get(&path).copied().unwrap_or((uid, gid));
                std::os::unix::fs::lchown(&path, Some(u), Some(g))
                    .map_err(io_err("give back", &path))?;
            }
        }
        Ok(())
    }
}

/// Every entry under `dir` (itself included), never following a symlink.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let is_dir = std::fs::symlink_metadata(&out[i]).is_ok_and(|m| m.file_type().is_dir());
        if is_dir {
            if let Ok(entries) = std::fs::read_dir(&out[i]) {
                let children: Vec<PathBuf> =
                    entries.filter_map(Result::ok).map(|e| e.path()).collect();
                out.extend(children);
            }
        }
        i += 1;
    }
    out
}

#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

fn set_limit(resource: Resource, value: u64) -> std::io::Result<()> {
    let value = if value == u64::MAX {
        libc::RLIM_INFINITY
    } else {
        value as libc::rlim_t
    };
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: a plain system call with a valid pointer.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `rel` under `root`, checked to go through no symlink on the host (every
/// component below `root` is a real directory, or, for the last, a real file
/// or directory). Use it for every host path under a tree that an image or a
/// wheel filled, before binding it into a sandbox or writing below it.
pub fn real_path_under(root: &Path, rel: &str) -> Result<PathBuf, SandboxError> {
    let mut path = root.to_path_buf();
    for component in Path::new(rel.trim_start_matches('/')).components() {
        match component {
            Component::Normal(name) => path.push(name),
            Component::CurDir => continue,
            _ => {
                return Err(SandboxError::BadInsidePath {
                    path: rel.to_string(),
                })
            }
        }
        let meta = std::fs::symlink_metadata(&path).map_err(io_err("read", &path))?;
        if meta.file_type().is_symlink() {
            return Err(SandboxError::SymlinkInPath {
                path: root.join(rel.trim_start_matches('/')),
                link: path,
            });
        }
    }
    Ok(path)
}

/// The parts of a plain absolute path inside the sandbox.
fn inside_parts(inside: &str) -> Result<Vec<String>, SandboxError> {
    let bad = || SandboxError::BadInsidePath {
        path: inside.to_string(),
    };
    if !inside.starts_with('/') {
        return Err(bad());
    }
    let parts: Vec<String> = inside
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if parts.is_empty()
        || parts.iter().any(|p| p == "." || p == "..")
        || PROVIDED[..2].contains(&parts[0].as_str())
    {
        return Err(bad());
    }
    Ok(parts)
}

#[derive(Default)]
struct Node {
    bind: bool,
    children: BTreeMap<String, Node>,
}

/// The whole `bwrap` command line but `--info-fd`. With `staged`, the tree
/// and the binds are named by their mount points there (see [`Staging`]).
fn bwrap_args(run: &Run, staged: Option<&Staging>) -> Result<Vec<OsString>, SandboxError> {
    let root = std::fs::canonicalize(run.root).map_err(io_err("open", run.root))?;
    let source_root = staged.map_or(root.clone(), |s| s.root());
    let mut tree = Node::default();
    let mut binds = Vec::new();
    for bind in &run.binds {
        let parts = inside_parts(&bind.inside)?;
        // Under /tmp the sandbox's own tmpfs takes the bind.
        if parts[0] != "tmp" {
            let mut node = &mut tree;
            for part in &parts {
                node = node.children.entry(part.clone()).or_default();
            }
            node.bind = true;
        }
        let host = staged.map_or(bind.host.clone(), |s| s.bind(binds.len()));
        binds.push((parts.len(), bind, host));
    }
    let mut args: Vec<OsString> = Vec::new();
    lay_out(&mut args, &root, &source_root, &mut Vec::new(), &tree)?;
    for a in ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"] {
        args.push(a.into());
    }
    binds.sort_by_key(|(depth, _, _)| *depth);
    for (_, bind, host) in binds {
        args.push(if bind.writable { "--bind" } else { "--ro-bind" }.into());
        args.push(host.into());
        args.push(bind.inside.clone().into());
    }
    for a in ["--remount-ro", "/", "--unshare-all", "--unshare-user"] {
        args.push(a.into());
    }
    if run.network == Network::Shared {
        args.push("--share-net".into());
    }
    let id = SANDBOX_UID.to_string();
    for a in [
        "--disable-userns",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--uid",
        &id,
        "--gid",
        &id,
        "--chdir",
        &run.chdir,
        "--clearenv",
    ] {
        args.push(a.into());
    }
    for (k, v) in &run.env {
        args.extend(["--setenv".into(), k.into(), v.into()]);
    }
    args.push("--".into());
    args.extend(run.argv.iter().map(OsString::from));
    Ok(args)
}

/// Mounts the tree's directory `parts` (a directory on the way to a bind):
/// an empty directory with each of the tree's entries there bound read-only
/// or linked, except those on the way to a bind, which are laid out the
/// same way.
fn lay_out(
    args: &mut Vec<OsString>,
    root: &Path,
    source_root: &Path,
    parts: &mut Vec<String>,
    node: &Node,
) -> Result<(), SandboxError> {
    let inside = format!("/{}", parts.join("/"));
    if !parts.is_empty() {
        args.extend(["--dir".into(), inside.clone().into()]);
    }
    let host = parts.iter().fold(root.to_path_buf(), |p, c| p.join(c));
    let is_dir = std::fs::symlink_metadata(&host).is_ok_and(|m| m.file_type().is_dir());
    if is_dir {
        let mut entries: Vec<(String, std::fs::FileType)> = std::fs::read_dir(&host)
            .map_err(io_err("read", &host))?
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.file_type().ok()?)))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, kind) in entries {
            if node.children.contains_key(&name)
                || (parts.is_empty() && PROVIDED.contains(&name.as_str()))
            {
                continue;
            }
            let at = if parts.is_empty() {
                format!("/{name}")
            } else {
                format!("{inside}/{name}")
            };
            let path = host.join(&name);
            if kind.is_symlink() {
                let target = std::fs::read_link(&path).map_err(io_err("read", &path))?;
                args.extend(["--symlink".into(), target.into(), at.into()]);
            } else if kind.is_dir() || kind.is_file() {
                let source = parts
                    .iter()
                    .fold(source_root.to_path_buf(), |p, c| p.join(c))
                    .join(&name);
                args.extend(["--ro-bind".into(), source.into(), at.into()]);
            }
        }
    }
    for (name, child) in &node.children {
        // A bind's mount point is made by bwrap itself, on the empty
        // directory laid out above it.
        if !child.bind {
            parts.push(name.clone());
            lay_out(args, root, source_root, parts, child)?;
            parts.pop();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
