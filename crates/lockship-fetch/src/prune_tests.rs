use std::os::unix::fs::symlink;

use super::*;
use crate::Cache;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Sets `path`'s modification time `days` days back.
fn age(path: &Path, days: u64) {
    let when = SystemTime::now() - DAY * days as u32;
    File::open(path)
        .unwrap()
        .set_times(fs::FileTimes::new().set_modified(when))
        .unwrap();
}

fn prune_at(root: &Path, older_than: Option<Duration>) -> PruneReport {
    lock_exclusive(root, false)
        .unwrap()
        .expect("no build holds the cache")
        .prune(PruneOptions {
            older_than,
            dry_run: false,
        })
        .unwrap()
}

#[test]
fn prune_removes_only_entries_unused_for_longer_than_the_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let (old, fresh) = {
        let cache = Cache::open(dir.path()).unwrap();
        let (old, _) = cache.insert(&b"old"[..], None, "test").unwrap();
        let (fresh, _) = cache.insert(&b"fresh"[..], None, "test").unwrap();
        let tree = cache.keyed_dir("build-env", "k");
        fs::create_dir_all(tree.join("usr")).unwrap();
        fs::write(tree.join("usr/lib"), b"12345").unwrap();
        age(&old, 40);
        age(&tree, 40);
        (old, fresh)
    };
    let before = usage(dir.path()).unwrap();
    let names: Vec<&str> = before.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["keyed/build-env", "sha256"]);
    assert_eq!((before[0].entries, before[0].bytes), (1, 5));
    assert_eq!((before[1].entries, before[1].bytes), (2, 8));

    let report = prune_at(dir.path(), Some(30 * DAY));
    assert_eq!((report.entries(), report.bytes(), report.kept), (2, 8, 1));
    assert!(!old.exists());
    assert!(fresh.exists());
    assert!(!dir.path().join("keyed/build-env/k").exists());
}

#[test]
fn a_use_marks_the_entry_so_prune_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    let (blob, hex) = cache.insert(&b"wheel"[..], None, "test").unwrap();
    let tree = cache.keyed_dir("sdist-wheels", "k");
    fs::create_dir_all(&tree).unwrap();
    age(&blob, 40);
    age(&tree, 40);
    assert!(cache.get(&hex).unwrap().is_some());
    let _ = cache.keyed_dir("sdist-wheels", "k");
    drop(cache);
    let report = prune_at(dir.path(), Some(30 * DAY));
    assert_eq!((report.entries(), report.kept), (0, 2));
    assert!(blob.exists() && tree.exists());
}

#[test]
fn a_layer_record_lives_as_long_as_its_blob() {
    let dir = tempfile::tempdir().unwrap();
    drop(Cache::open(dir.path()).unwrap());
    let layers = dir.path().join("layers");
    fs::create_dir_all(layers.join("blobs")).unwrap();
    for (key, days) in [("used", 1), ("stale", 40)] {
        let blob = layers.join("blobs").join(key);
        fs::write(&blob, key).unwrap();
        let record = layers.join(format!("{key}.json"));
        fs::write(&record, serde_json::json!({ "path": blob }).to_string()).unwrap();
        age(&blob, days);
        age(&record, 40);
    }
    let report = prune_at(dir.path(), Some(30 * DAY));
    assert_eq!((report.entries(), report.kept), (2, 2));
    assert!(layers.join("used.json").exists() && layers.join("blobs/used").exists());
    assert!(!layers.join("stale.json").exists() && !layers.join("blobs/stale").exists());
}

#[test]
fn hostile_symlink_in_cache_is_not_followed_by_prune() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    fs::create_dir_all(victim.join("sub")).unwrap();
    fs::write(victim.join("file"), b"keep").unwrap();
    fs::write(victim.join("sub/file"), b"keep").unwrap();
    let root = dir.path();
    drop(Cache::open(root).unwrap());
    // A link in each place prune lists, and whole parts of the cache
    // replaced by links to the victim.
    symlink(victim.join("file"), root.join("sha256/evil")).unwrap();
    fs::create_dir_all(root.join("keyed/ns")).unwrap();
    symlink(&victim, root.join("keyed/ns/evil")).unwrap();
    symlink(&victim, root.join("keyed/linked-namespace")).unwrap();
    fs::remove_dir(root.join("tmp")).unwrap();
    symlink(&victim, root.join("tmp")).unwrap();
    symlink(&victim, root.join("layers")).unwrap();
    symlink(&victim, root.join("elsewhere")).unwrap();

    let info = usage(root).unwrap();
    assert!(info.iter().all(|u| u.bytes == 0), "{info:?}");
    let report = prune_at(root, None);
    assert_eq!(report.entries(), 6, "{report:?}");
    assert_eq!(fs::read(victim.join("file")).unwrap(), b"keep");
    assert_eq!(fs::read(victim.join("sub/file")).unwrap(), b"keep");
    for link in [
        "sha256/evil",
        "keyed/ns/evil",
        "keyed/linked-namespace",
        "tmp",
        "layers",
        "elsewhere",
    ] {
        assert!(
            fs::symlink_metadata(root.join(link)).is_err(),
            "{link} stays"
        );
    }
}

#[test]
fn an_entry_whose_parent_resolves_outside_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("file"), b"keep").unwrap();
    let root = dir.path();
    drop(Cache::open(root).unwrap());
    symlink(outside.path(), root.join("sha256/dir")).unwrap();
    let croot = fs::canonicalize(root).unwrap();
    let err = remove(&croot, root, &root.join("sha256/dir/file")).unwrap_err();
    assert!(matches!(err, FetchError::CacheEscape { .. }), "{err}");
    assert!(outside.path().join("file").exists());
}

#[test]
fn prune_waits_while_a_build_holds_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    let clone = cache.clone();
    drop(cache);
    assert!(lock_exclusive(dir.path(), false).unwrap().is_none());
    drop(clone);
    let held = lock_exclusive(dir.path(), false).unwrap();
    assert!(held.is_some());
    // And a build waits for no one but a prune: two builds share it.
    drop(held);
    let a = Cache::open(dir.path()).unwrap();
    let b = Cache::open(dir.path()).unwrap();
    drop((a, b));
}

#[test]
fn a_dry_run_removes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let blob = {
        let cache = Cache::open(dir.path()).unwrap();
        cache.insert(&b"x"[..], None, "test").unwrap().0
    };
    let report = lock_exclusive(dir.path(), true)
        .unwrap()
        .unwrap()
        .prune(PruneOptions {
            older_than: None,
            dry_run: true,
        })
        .unwrap();
    assert_eq!(report.entries(), 1);
    assert!(blob.exists());
}
