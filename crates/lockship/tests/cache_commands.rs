//! `lockship cache info` and `lockship cache prune` through the binary, on
//! a cache made in the test.

mod common;

use std::fs::{self, File, FileTimes};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::*;

fn cache_cmd(cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockship"));
    cmd.env("LOCKSHIP_CACHE_DIR", cache).arg("cache");
    cmd
}

fn age(path: &Path, days: u64) {
    let when = SystemTime::now() - Duration::from_secs(days * 86_400);
    File::open(path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(when))
        .unwrap();
}

fn info(cache: &Path) -> serde_json::Value {
    let out = run_ok(cache_cmd(cache).args(["info", "--json"]));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn info_sizes_each_part_and_prune_removes_what_was_not_used_lately() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let store = lockship_fetch::Cache::open(&cache).unwrap();
    let (old, _) = store.insert(&b"an old wheel"[..], None, "test").unwrap();
    let (new, _) = store.insert(&b"a wheel"[..], None, "test").unwrap();
    let env = store.keyed_dir("build-env", "k");
    fs::create_dir_all(&env).unwrap();
    fs::write(env.join("file"), b"tree").unwrap();
    age(&old, 45);
    age(&env, 45);
    drop(store);

    let before = info(&cache);
    assert_eq!(before["bytes"], 12 + 7 + 4);
    let parts = before["parts"].as_array().unwrap();
    let sha = parts.iter().find(|p| p["name"] == "sha256").unwrap();
    assert_eq!(
        (sha["entries"].as_u64(), sha["bytes"].as_u64()),
        (Some(2), Some(19))
    );
    assert!(sha["holds"].as_str().unwrap().contains("wheels"));

    // A dry run removes nothing; then what was not used in 30 days goes.
    let out = run_ok(cache_cmd(&cache).args(["prune", "--older-than", "30d", "--dry-run"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("would remove 2 entries"));
    assert!(old.exists());
    run_ok(cache_cmd(&cache).args(["prune", "--older-than", "30d"]));
    assert!(!old.exists() && !env.exists() && new.exists());

    // `--all` empties it; the cache still opens afterwards.
    run_ok(cache_cmd(&cache).args(["prune", "--all"]));
    assert_eq!(info(&cache)["bytes"], 0);
    lockship_fetch::Cache::open(&cache).unwrap();
}

#[test]
fn prune_asks_for_an_age_or_all() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_err(cache_cmd(dir.path()).arg("prune"));
    assert!(err.contains("--older-than"), "{err}");
    let err = run_err(cache_cmd(dir.path()).args(["prune", "--older-than", "a month"]));
    assert!(err.contains("hint:") && err.contains("30d"), "{err}");
    let err = run_err(cache_cmd(dir.path()).args(["prune", "--all", "--older-than", "1d"]));
    assert!(err.contains("cannot be used with"), "{err}");
}
