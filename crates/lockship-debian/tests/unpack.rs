//! Unpacking generated `.deb` files.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::*;
use lockship_debian::{unpack_deb, DebianError, UnpackOptions};

const CONTROL: &str = "Package: demo\nVersion: 1.0-1\nArchitecture: amd64\nDescription: demo\n";

fn write_deb(dir: &Path, name: &str, data: &[Entry], compression: Compression) -> PathBuf {
    let path = dir.join(name);
    fs_err::write(
        &path,
        build_deb(CONTROL, Some("abc  usr/bin/tool\n"), data, compression),
    )
    .unwrap();
    path
}

fn all(_: &str) -> bool {
    true
}

#[test]
fn extracts_files_dirs_links_and_control_data_for_every_compression() {
    for compression in [
        Compression::None,
        Compression::Gz,
        Compression::Xz,
        Compression::Zst,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("root");
        fs_err::create_dir(&dest).unwrap();
        let deb = write_deb(
            dir.path(),
            "demo.deb",
            &[
                Entry::Dir("./", 0o755),
                Entry::Dir("./usr/", 0o755),
                Entry::Dir("./usr/bin/", 0o755),
                Entry::File("./usr/bin/tool", b"#!/bin/sh\necho hi\n", 0o4755),
                Entry::File("./usr/share/demo/data.txt", b"data", 0o644),
                Entry::Symlink("./usr/bin/tool-link", "tool"),
                Entry::Symlink("./usr/bin/abs-link", "/usr/bin/tool"),
                Entry::Hardlink("./usr/bin/tool2", "./usr/bin/tool"),
                Entry::Fifo("./usr/share/demo/fifo"),
            ],
            compression,
        );
        let unpacked = unpack_deb(&deb, &dest, &UnpackOptions::default(), &all).unwrap();
        assert_eq!(unpacked.package, "demo");
        assert_eq!(unpacked.control, CONTROL);
        assert_eq!(unpacked.md5sums.as_deref(), Some("abc  usr/bin/tool\n"));
        assert_eq!(unpacked.conffiles, vec!["/etc/test.conf"]);
        assert_eq!(
            unpacked.files,
            vec![
                "/.",
                "/usr",
                "/usr/bin",
                "/usr/bin/abs-link",
                "/usr/bin/tool",
                "/usr/bin/tool-link",
                "/usr/bin/tool2",
                // Implicit parents are created and listed.
                "/usr/share",
                "/usr/share/demo",
                "/usr/share/demo/data.txt",
            ],
            "{compression:?}"
        );
        let tool = dest.join("usr/bin/tool");
        assert_eq!(fs_err::read(&tool).unwrap(), b"#!/bin/sh\necho hi\n");
        assert_eq!(
            fs_err::metadata(&tool).unwrap().permissions().mode() & 0o7777,
            0o4755
        );
        assert_eq!(
            fs_err::read_link(dest.join("usr/bin/abs-link")).unwrap(),
            Path::new("/usr/bin/tool")
        );
        assert_eq!(
            fs_err::metadata(dest.join("usr/bin/tool2")).unwrap().ino(),
            fs_err::metadata(&tool).unwrap().ino()
        );
        assert!(!dest.join("usr/share/demo/fifo").exists());
    }
}

#[test]
fn merged_usr_maps_top_level_dirs_and_skips_the_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("root");
    fs_err::create_dir(&dest).unwrap();
    let data = [
        Entry::Dir("./bin/", 0o755),
        Entry::File("./bin/sh-real", b"x", 0o755),
        Entry::File("./lib64/ld.so", b"ld", 0o755),
        Entry::Symlink("./sbin", "usr/sbin"),
        Entry::Hardlink("./bin/sh-hard", "./bin/sh-real"),
    ];
    let deb = write_deb(dir.path(), "m.deb", &data, Compression::Xz);
    let unpacked = unpack_deb(&deb, &dest, &UnpackOptions { merged_usr: true }, &all).unwrap();
    assert_eq!(
        unpacked.files,
        vec![
            "/usr",
            "/usr/bin",
            "/usr/bin/sh-hard",
            "/usr/bin/sh-real",
            "/usr/lib64",
            "/usr/lib64/ld.so"
        ]
    );
    assert!(dest.join("usr/lib64/ld.so").is_file());
    assert!(!dest.join("bin").exists());
    assert!(!dest.join("sbin").exists());

    let plain = dir.path().join("plain");
    fs_err::create_dir(&plain).unwrap();
    let unpacked = unpack_deb(&deb, &plain, &UnpackOptions { merged_usr: false }, &all).unwrap();
    assert!(unpacked.files.contains(&"/bin/sh-real".to_string()));
    assert_eq!(
        fs_err::read_link(plain.join("sbin")).unwrap(),
        Path::new("usr/sbin")
    );
}

#[test]
fn filter_skips_entries_and_links_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("root");
    fs_err::create_dir(&dest).unwrap();
    let deb = write_deb(
        dir.path(),
        "f.deb",
        &[
            Entry::File("./usr/share/doc/demo/copyright", b"c", 0o644),
            Entry::Hardlink(
                "./usr/share/doc/demo/copy2",
                "./usr/share/doc/demo/copyright",
            ),
            Entry::File("./usr/bin/tool", b"t", 0o755),
        ],
        Compression::Gz,
    );
    let unpacked = unpack_deb(&deb, &dest, &UnpackOptions::default(), &|p: &str| {
        p != "/usr/share/doc/demo/copyright"
    })
    .unwrap();
    assert_eq!(
        unpacked.files,
        vec![
            "/usr",
            "/usr/bin",
            "/usr/bin/tool",
            "/usr/share",
            "/usr/share/doc",
            "/usr/share/doc/demo"
        ]
    );
    assert!(!dest.join("usr/share/doc/demo/copyright").exists());
    assert!(!dest.join("usr/share/doc/demo/copy2").exists());
}

#[test]
fn existing_files_are_replaced_and_directories_merge() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("root");
    fs_err::create_dir_all(dest.join("usr/bin")).unwrap();
    fs_err::write(dest.join("usr/bin/keep"), b"other package").unwrap();
    fs_err::write(dest.join("usr/bin/tool"), b"old").unwrap();
    std::os::unix::fs::symlink("elsewhere", dest.join("usr/bin/link")).unwrap();
    let deb = write_deb(
        dir.path(),
        "r.deb",
        &[
            Entry::Dir("./usr/bin/", 0o755),
            Entry::File("./usr/bin/tool", b"new", 0o755),
            Entry::File("./usr/bin/link", b"now a file", 0o644),
        ],
        Compression::Xz,
    );
    unpack_deb(&deb, &dest, &UnpackOptions::default(), &all).unwrap();
    assert_eq!(fs_err::read(dest.join("usr/bin/tool")).unwrap(), b"new");
    assert_eq!(
        fs_err::read(dest.join("usr/bin/keep")).unwrap(),
        b"other package"
    );
    assert!(!fs_err::symlink_metadata(dest.join("usr/bin/link"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[track_caller]
fn assert_refused(data: &[Entry], prepare: impl FnOnce(&Path)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("root");
    fs_err::create_dir(&dest).unwrap();
    prepare(&dest);
    let deb = write_deb(dir.path(), "evil.deb", data, Compression::Xz);
    let err = unpack_deb(&deb, &dest, &UnpackOptions::default(), &all).unwrap_err();
    match &err {
        DebianError::UnsafePath { deb: d, entry, .. } => {
            assert_eq!(d, &deb);
            assert!(!entry.is_empty());
        }
        other => panic!("expected UnsafePath, got {other:?}"),
    }
    assert!(!dir.path().join("pwned").exists());
    err.to_string()
}

#[test]
fn unsafe_entries_are_refused() {
    let msg = assert_refused(&[Entry::File("/etc/passwd", b"x", 0o644)], |_| {});
    assert!(msg.contains("absolute"), "{msg}");
    let msg = assert_refused(&[Entry::File("./../pwned", b"x", 0o644)], |_| {});
    assert!(msg.contains(".."), "{msg}");
    // A symlink shipped earlier in the same package, then a file through it.
    let outside = tempfile::tempdir().unwrap();
    let outside_path: &'static str = Box::leak(
        outside
            .path()
            .to_str()
            .unwrap()
            .to_string()
            .into_boxed_str(),
    );
    let msg = assert_refused(
        &[
            Entry::Symlink("./usr/escape", outside_path),
            Entry::File("./usr/escape/pwned", b"x", 0o644),
        ],
        |_| {},
    );
    assert!(msg.contains("symbolic link"), "{msg}");
    assert!(!outside.path().join("pwned").exists());
    // A symlink already in the destination (from another package).
    assert_refused(&[Entry::File("./etc/x/pwned", b"x", 0o644)], |dest| {
        fs_err::create_dir(dest.join("etc")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dest.join("etc/x")).unwrap();
    });
    assert!(!outside.path().join("pwned").exists());
    // Hard links that escape or go through symlinks.
    assert_refused(&[Entry::Hardlink("./usr/h", "../../etc/passwd")], |_| {});
    assert_refused(&[Entry::Hardlink("./usr/h", "/etc/passwd")], |_| {});
    assert_refused(
        &[
            Entry::Symlink("./usr/out", "/etc"),
            Entry::Hardlink("./usr/h", "./usr/out/passwd"),
        ],
        |_| {},
    );
}

#[test]
fn malformed_debs_are_reported_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let deb = dir.path().join("broken.deb");
    fs_err::write(&deb, b"!<arch>\nnot really").unwrap();
    let err = unpack_deb(&deb, dir.path(), &UnpackOptions::default(), &all).unwrap_err();
    assert!(matches!(err, DebianError::BadDeb { .. }), "{err:?}");
    assert!(err.to_string().contains("broken.deb"));
    let err = unpack_deb(
        &dir.path().join("nope.deb"),
        dir.path(),
        &UnpackOptions::default(),
        &all,
    )
    .unwrap_err();
    assert!(matches!(err, DebianError::Io { .. }), "{err:?}");
}
