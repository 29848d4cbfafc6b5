//! Bad input gets a clear error naming the thing and the fix, and leaves nothing half-written.

mod common;

use common::*;

#[test]
fn unknown_python_lists_the_available_versions() {
    let err = run_err(lockship().args(["base", "--python", "3.7", "--output", "oci:/tmp/never"]));
    assert!(
        err.contains("Python `3.7` is not available; lockship can assemble 3.11, 3.13"),
        "{err}"
    );
    assert!(
        err.contains("hint: pass one of these to `--python`"),
        "{err}"
    );
}

#[test]
fn unknown_platform_lists_the_supported_ones() {
    let err = run_err(lockship().args([
        "base",
        "--platform",
        "linux/s390x",
        "--debian-mirror",
        "http://127.0.0.1:9/debian",
        "--output",
        "oci:/tmp/never",
    ]));
    assert!(err.contains("linux/s390x"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn unknown_output_transport_is_explained() {
    let err = run_err(lockship().args(["base", "--output", "tarball:x.tar"]));
    assert!(err.contains("tarball:x.tar"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn unreachable_mirror_is_retried_then_named() {
    // Port 9 (discard) on loopback: nothing listens, so connections are refused.
    let cache = tempfile::tempdir().unwrap();
    let err = run_err(lockship().env("LOCKSHIP_CACHE_DIR", cache.path()).args([
        "base",
        "--debian-mirror",
        "http://127.0.0.1:9/debian",
        "--output",
        "oci:/tmp/never",
    ]));
    assert!(
        err.contains("http://127.0.0.1:9/debian/dists/bookworm/InRelease"),
        "{err}"
    );
    assert!(err.contains("attempts"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn a_keyring_that_did_not_sign_the_suite_is_refused() {
    if !require("the Debian mirror", mirror_available()) {
        return;
    }
    let removed = "/usr/share/keyrings/debian-archive-removed-keys.gpg";
    if !std::path::Path::new(removed).exists() {
        eprintln!("skipping: {removed} is not on this host");
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let err = run_err(lockship().env("LOCKSHIP_CACHE_DIR", cache.path()).args([
        "base",
        "--keyring",
        removed,
        "--output",
        "oci:/tmp/never",
    ]));
    assert!(err.to_lowercase().contains("signature"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    // Nothing but the (verified-or-not) index fetch happened: no package was cached.
    let entries = std::fs::read_dir(cache.path().join("sha256"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(entries, 0, "nothing is cached after a bad signature");
}

#[test]
fn an_unwritable_output_is_a_clear_error() {
    if !require("the Debian mirror", mirror_available()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let target = blocker.join("out.tar");
    let err = run_err(lockship().args([
        "base",
        "--output",
        &format!("docker-archive:{}", target.display()),
    ]));
    assert!(
        err.contains(&target.display().to_string()) || err.contains(&blocker.display().to_string()),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(
        leftovers.len(),
        1,
        "nothing half-written next to the target"
    );
}

#[test]
fn a_full_disk_is_a_clear_error() {
    if !require("the Debian mirror", mirror_available()) {
        return;
    }
    if !require("root (to mount a tiny tmpfs as a full disk)", is_root()) {
        return;
    }
    {
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path().join("tiny");
        std::fs::create_dir(&mount).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&mount)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !require("a tmpfs mount (for a full disk)", ok) {
            return;
        }
        let target = mount.join("out.tar");
        let err = run_err(lockship().args([
            "base",
            "--output",
            &format!("docker-archive:{}", target.display()),
        ]));
        let _ = std::process::Command::new("umount").arg(&mount).status();
        assert!(err.to_lowercase().contains("no space left"), "{err}");
        assert!(err.contains("hint:"), "{err}");
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn a_killed_run_leaves_the_cache_usable() {
    if !require("the Debian mirror", mirror_available()) {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = format!("oci:{}", out.path().join("img").display());
    let mut child = lockship()
        .env("LOCKSHIP_CACHE_DIR", cache.path())
        .args(["base", "--quiet", "--output", &target])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(4));
    let _ = child.kill();
    let _ = child.wait();
    run_ok(
        lockship()
            .env("LOCKSHIP_CACHE_DIR", cache.path())
            .args(["base", "--quiet", "--output", &target]),
    );
    run_ok(lockship().args(["validate", &target]));
}
