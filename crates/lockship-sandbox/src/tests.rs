//! Unit tests for the bubblewrap argument builder and helpers.

use super::*;

fn args_of(run: &Run) -> Vec<String> {
    bwrap_args(run, None)
        .unwrap()
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn lays_out_the_tree_and_the_way_to_each_bind() {
    let tree = tempfile::tempdir().unwrap();
    for d in ["usr/lib", "usr/local/lib", "etc", "tmp", "proc"] {
        std::fs::create_dir_all(tree.path().join(d)).unwrap();
    }
    std::os::unix::fs::symlink("usr/lib", tree.path().join("lib")).unwrap();
    std::fs::write(tree.path().join("etc/hosts"), "").unwrap();
    let run = Run {
        root: tree.path(),
        binds: vec![
            Bind::read_write("/h/venv", "/usr/local/venv"),
            Bind::read_only("/h/wheels", "/wheels"),
        ],
        env: vec![("A".into(), "b".into())],
        argv: vec!["/bin/true".into()],
        chdir: "/".into(),
        network: Network::None,
        limits: Limits::default(),
        log: Path::new("/dev/null"),
    };
    let args = args_of(&run);
    let root = std::fs::canonicalize(tree.path()).unwrap();
    let r = |p: &str| root.join(p).display().to_string();
    let joined = args.join(" ");
    // Entries of the tree, read-only; the ones the sandbox provides left out.
    assert!(joined.contains(&format!("--ro-bind {} /etc", r("etc"))));
    assert!(joined.contains("--symlink usr/lib /lib"));
    assert!(!joined.contains(&r("proc")));
    assert!(!joined.contains(&r("tmp")));
    // /usr is laid out so that /usr/local/venv can be mounted.
    assert!(joined.contains("--dir /usr "));
    assert!(joined.contains(&format!("--ro-bind {} /usr/lib", r("usr/lib"))));
    assert!(joined.contains("--dir /usr/local "));
    assert!(joined.contains(&format!("--ro-bind {} /usr/local/lib", r("usr/local/lib"))));
    assert!(joined.contains("--bind /h/venv /usr/local/venv"));
    assert!(joined.contains("--ro-bind /h/wheels /wheels"));
    // Then read-only, no network, no caller environment.
    assert!(joined.contains("--remount-ro / --unshare-all --unshare-user --disable-userns"));
    assert!(!joined.contains("--share-net"));
    assert!(joined.contains("--clearenv --setenv A b -- /bin/true"));
}

#[test]
fn refuses_paths_that_are_not_plain() {
    for bad in ["relative", "/a/../b", "/proc/x", "/dev", "/"] {
        assert!(
            matches!(inside_parts(bad), Err(SandboxError::BadInsidePath { .. })),
            "{bad}"
        );
    }
}

#[test]
fn real_path_under_refuses_symlinks() {
    let tree = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tree.path().join("a/b")).unwrap();
    std::os::unix::fs::symlink("/", tree.path().join("a/esc")).unwrap();
    assert_eq!(
        real_path_under(tree.path(), "/a/b").unwrap(),
        tree.path().join("a/b")
    );
    let err = real_path_under(tree.path(), "/a/esc/etc").unwrap_err();
    assert!(
        matches!(&err, SandboxError::SymlinkInPath { link, .. } if link == &tree.path().join("a/esc")),
        "{err}"
    );
}

#[test]
fn missing_bwrap_says_so_with_a_hint() {
    let err = Sandbox::find_in(Some(OsStr::new("/nonexistent/bin"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "No sandbox: `bwrap` (bubblewrap) is not on PATH (searched `/nonexistent/bin`)"
    );
    let hint = err.hint().unwrap();
    assert!(hint.contains("install bubblewrap") && hint.contains("--no-compile"));
}
