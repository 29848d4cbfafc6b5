//! Runs in the real sandbox, in a tree made here from the host's own `bash`
//! and `dd` and their libraries. Skipped (with a message) without
//! bubblewrap, unless `CI=true`, where that fails.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lockship_sandbox::{Bind, Limits, Network, Outcome, Run, Sandbox, SandboxError};

fn sandbox() -> Option<Sandbox> {
    match Sandbox::find() {
        Ok(s) => Some(s),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("sandbox test cannot run under CI=true: {e}");
            }
            println!("skipping: {e}");
            None
        }
    }
}

/// A tree with the host's `bash` `dd` and `sleep` (and what they link) at their
/// own paths, and the host's top-level links (`/bin -> usr/bin`).
fn tree() -> tempfile::TempDir {
    let tree = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = Vec::new();
    for program in ["/bin/bash", "/usr/bin/dd", "/usr/bin/sleep"] {
        let real = std::fs::canonicalize(program).unwrap();
        let out = std::process::Command::new("ldd")
            .arg(&real)
            .output()
            .unwrap();
        for word in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if word.starts_with('/') {
                files.push(PathBuf::from(word));
            }
        }
        files.push(real);
    }
    for top in ["bin", "lib", "lib64", "sbin"] {
        let host = Path::new("/").join(top);
        if let Ok(target) = std::fs::read_link(&host) {
            std::os::unix::fs::symlink(target, tree.path().join(top)).unwrap();
        }
    }
    for file in files {
        // Copy to the real path, through the tree's own top-level links.
        let real = std::fs::canonicalize(&file).unwrap();
        let dest = tree.path().join(real.strip_prefix("/").unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&real, &dest).unwrap();
        if file != real {
            // The name the program asks for (`/lib64/ld-linux-x86-64.so.2`),
            // in its host directory's real place, as a link to the copy.
            let dir = std::fs::canonicalize(file.parent().unwrap()).unwrap();
            let alias_dir = tree.path().join(dir.strip_prefix("/").unwrap());
            std::fs::create_dir_all(&alias_dir).unwrap();
            let alias = alias_dir.join(file.file_name().unwrap());
            if std::fs::symlink_metadata(&alias).is_err() {
                std::os::unix::fs::symlink(&real, &alias).unwrap();
            }
        }
    }
    std::fs::create_dir_all(tree.path().join("etc")).unwrap();
    tree
}

fn run(
    sandbox: &Sandbox,
    root: &Path,
    script: &str,
    network: Network,
    limits: Limits,
    env: Vec<(String, String)>,
    binds: Vec<Bind>,
) -> (Result<Outcome, SandboxError>, String) {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("run.log");
    let result = sandbox.run(&Run {
        root,
        binds,
        env,
        argv: vec!["/bin/bash".into(), "-c".into(), script.into()],
        chdir: "/".into(),
        network,
        limits,
        log: &log,
    });
    (result, std::fs::read_to_string(&log).unwrap_or_default())
}

/// Counts connections to a loopback listener for a short while.
fn connections(listener: &TcpListener) -> usize {
    listener.set_nonblocking(true).unwrap();
    let mut seen = 0;
    for _ in 0..20 {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = Vec::new();
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = s.read_to_end(&mut buf);
            seen += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    seen
}

#[test]
fn sandbox_has_no_network_and_no_host_environment() {
    let Some(sandbox) = sandbox() else { return };
    let tree = tree();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        "echo hello > /dev/tcp/127.0.0.1/{port} && echo CONNECTED; echo ENV: $(compgen -e); echo \"HOME:${{HOME-unset}}\""
    );
    // The host's environment carries a credential; none of it goes in.
    let (result, log) = run(
        &sandbox,
        tree.path(),
        &script,
        Network::None,
        Limits::default(),
        vec![("LANG".into(), "C.UTF-8".into())],
        Vec::new(),
    );
    assert!(result.unwrap().success(), "{log}");
    assert!(!log.contains("CONNECTED"), "{log}");
    // Only what the caller passed (and what bash sets itself).
    let env_line = log.lines().find(|l| l.starts_with("ENV:")).unwrap();
    let names: Vec<&str> = env_line.split_whitespace().skip(1).collect();
    assert!(names.contains(&"LANG"), "{log}");
    for name in names {
        assert!(
            ["LANG", "PWD", "SHLVL", "_", "OLDPWD"].contains(&name),
            "{log}"
        );
    }
    assert!(log.contains("HOME:unset"), "{log}");
    assert_eq!(connections(&listener), 0, "the listener saw a connection");

    // The control: with the network shared, the same command connects.
    let (result, log) = run(
        &sandbox,
        tree.path(),
        &script,
        Network::Shared,
        Limits::default(),
        Vec::new(),
        Vec::new(),
    );
    assert!(result.unwrap().success(), "{log}");
    assert!(log.contains("CONNECTED"), "{log}");
    assert_eq!(connections(&listener), 1);
}

#[test]
fn sandbox_tree_is_read_only_and_host_paths_are_absent() {
    let Some(sandbox) = sandbox() else { return };
    let tree = tree();
    let canary = tempfile::tempdir().unwrap();
    std::fs::write(canary.path().join("canary"), "untouched").unwrap();
    let out = tempfile::tempdir().unwrap();
    let secret = canary.path().join("secret");
    std::fs::write(&secret, "root only").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let script = format!(
        "echo x > {canary}/canary; echo x > /etc/planted; echo x > /planted; echo ok > /out/ok; id -u 2>/dev/null; echo \"UID:$UID\"; read -r x < /secret && echo SECRET:read || echo SECRET:denied",
        canary = canary.path().display()
    );
    let (result, log) = run(
        &sandbox,
        tree.path(),
        &script,
        Network::None,
        Limits::default(),
        Vec::new(),
        vec![
            Bind::read_write(out.path(), "/out/x/y"),
            Bind::read_only(&secret, "/secret"),
        ],
    );
    // The bind's mount point did not exist in the tree; /out was made for it.
    let _ = result.unwrap();
    assert_eq!(
        std::fs::read_to_string(canary.path().join("canary")).unwrap(),
        "untouched"
    );
    assert!(!tree.path().join("etc/planted").exists(), "{log}");
    assert!(!tree.path().join("planted").exists(), "{log}");
    assert!(log.contains("Read-only file system"), "{log}");
    assert!(log.contains("UID:65532"), "{log}");
    // The sandbox user is not the invoking user on the host when that is
    // root: a file only root may read stays closed.
    if unsafe { libc::geteuid() } == 0 {
        assert!(log.contains("SECRET:denied"), "{log}");
    } else {
        assert!(log.contains("SECRET:read"), "{log}");
    }
    let (result, log) = run(
        &sandbox,
        tree.path(),
        "echo ok > /out/x/y/ok",
        Network::None,
        Limits::default(),
        Vec::new(),
        vec![Bind::read_write(out.path(), "/out/x/y")],
    );
    assert!(result.unwrap().success(), "{log}");
    assert_eq!(
        std::fs::read_to_string(out.path().join("ok")).unwrap(),
        "ok\n"
    );
    // What the run wrote belongs to the invoking user afterwards.
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(out.path().join("ok")).unwrap();
    assert_eq!(meta.uid(), unsafe { libc::geteuid() });
}

#[test]
fn sandbox_limits_stop_a_busy_loop_a_memory_hog_and_a_fork_loop() {
    let Some(sandbox) = sandbox() else { return };
    let tree = tree();
    // Wall time: an endless loop is killed, with an error naming it.
    let limits = Limits {
        wall_time: Duration::from_secs(2),
        ..Limits::default()
    };
    let started = std::time::Instant::now();
    let (result, _) = run(
        &sandbox,
        tree.path(),
        "while :; do :; done",
        Network::None,
        limits,
        Vec::new(),
        Vec::new(),
    );
    let err = result.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        err.to_string(),
        "`/bin/bash` ran longer than 2 s in the sandbox and was killed"
    );
    assert!(err.hint().unwrap().contains("wall-time limit"));

    // Memory: a 512 MiB buffer does not fit in 256 MiB of address space.
    let limits = Limits {
        memory_bytes: 256 << 20,
        ..Limits::default()
    };
    let (result, log) = run(
        &sandbox,
        tree.path(),
        "dd if=/dev/zero of=/dev/null bs=512M count=1",
        Network::None,
        limits,
        Vec::new(),
        Vec::new(),
    );
    assert!(!result.unwrap().success(), "{log}");
    assert!(log.contains("memory exhausted"), "{log}");

    // Processes: the sandbox runs under the limit, and a bounded fork loop
    // (64 sleepers) under a limit of 16 processes fails to fork. (The kernel
    // exempts host root from RLIMIT_NPROC: this holds because the sandbox
    // user is never root on the host.)
    let limits = Limits {
        processes: 16,
        wall_time: Duration::from_secs(20),
        ..Limits::default()
    };
    let (result, log) = run(
        &sandbox,
        tree.path(),
        "echo \"NPROC:$(ulimit -u)\"; for i in {1..64}; do sleep 2 & done; wait",
        Network::None,
        limits,
        Vec::new(),
        Vec::new(),
    );
    match result {
        Ok(_) | Err(SandboxError::TimedOut { .. }) => {}
        Err(e) => panic!("{e}"),
    }
    assert!(log.contains("NPROC:16"), "{log}");
    assert!(log.contains("Resource temporarily unavailable"), "{log}");

    // File size: a write past the limit is stopped by SIGXFSZ.
    let out = tempfile::tempdir().unwrap();
    let limits = Limits {
        file_size_bytes: 1 << 20,
        ..Limits::default()
    };
    let (result, log) = run(
        &sandbox,
        tree.path(),
        "dd if=/dev/zero of=/out/big bs=1M count=8",
        Network::None,
        limits,
        Vec::new(),
        vec![Bind::read_write(out.path(), "/out")],
    );
    let outcome = result.unwrap();
    assert!(!outcome.success(), "{log}");
    assert_eq!(outcome.limit_hit(), Some("file size limit"), "{log}");
    assert!(std::fs::metadata(out.path().join("big")).unwrap().len() <= 1 << 20);
}
