//! Unit tests: determinism, normalisation, links, long names, digests, cache.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::*;
use crate::write::{Encoder, HashWriter};

const ALL: [Compression; 3] = [Compression::Gzip, Compression::Zstd, Compression::None];

fn opts(compression: Compression) -> LayerOptions {
    LayerOptions::new(compression, 1_700_000_000)
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn write(root: &Path, rel: &str, contents: &[u8], mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, contents).unwrap();
    chmod(&path, mode);
}

fn set_mtime(path: &Path, secs: u64) {
    let file = fs::File::open(path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn decompressed(path: &Path) -> Vec<u8> {
    let mut tar = Vec::new();
    open_layer_tar(path).unwrap().read_to_end(&mut tar).unwrap();
    tar
}

/// One line per entry: type, mode, owner, name (and link target).
fn listing(blob: &Path) -> String {
    let mut archive = tar::Archive::new(open_layer_tar(blob).unwrap());
    let mut out = String::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        let kind = match h.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Regular => 'f',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Link => 'h',
            other => panic!("unexpected entry type {other:?}"),
        };
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let link = entry
            .link_name_bytes()
            .map(|l| format!(" -> {}", String::from_utf8_lossy(&l)));
        out += &format!(
            "{kind} {:o} {}:{} {name}{}\n",
            h.mode().unwrap(),
            h.uid().unwrap(),
            h.gid().unwrap(),
            link.unwrap_or_default()
        );
    }
    out
}

/// The same content, made in two different orders with different modes
/// (as other umasks would give) and mtimes.
fn make_tree(root: &Path, variant: bool) {
    let files: &[(&str, &[u8], bool)] = &[
        ("usr/bin/python3.11", b"\x7fELF fake interpreter", true),
        ("usr/lib/python3.11/os.py", b"import sys\n", false),
        ("usr/lib/python3.11/json/__init__.py", b"", false),
        (
            "etc/passwd",
            b"root:x:0:0:root:/root:/sbin/nologin\n",
            false,
        ),
        ("app/main.py", &[b'x'; 5000], false),
    ];
    let order: Vec<_> = if variant {
        files.iter().rev().collect()
    } else {
        files.iter().collect()
    };
    for (i, (rel, contents, exec)) in order.into_iter().enumerate() {
        let mode = match (variant, exec) {
            (false, true) => 0o755,
            (false, false) => 0o644,
            (true, true) => 0o700,
            (true, false) => 0o600,
        };
        write(root, rel, contents, mode);
        set_mtime(
            &root.join(rel),
            if variant { 1_000 + i as u64 } else { 2_000_000 },
        );
    }
    fs::create_dir_all(root.join("tmp")).unwrap();
    symlink("python3.11", root.join("usr/bin/python3")).unwrap();
    for dir in [
        "usr",
        "usr/bin",
        "usr/lib",
        "usr/lib/python3.11",
        "etc",
        "app",
        "tmp",
    ] {
        chmod(&root.join(dir), if variant { 0o700 } else { 0o775 });
        set_mtime(&root.join(dir), if variant { 5 } else { 99_999 });
    }
}

#[test]
fn same_content_gives_identical_blobs() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    make_tree(a.path(), false);
    make_tree(b.path(), true);
    for compression in ALL {
        let (out_a, out_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let la = write_layer(a.path(), &opts(compression), out_a.path()).unwrap();
        let lb = write_layer(b.path(), &opts(compression), out_b.path()).unwrap();
        assert_eq!(la.digest, lb.digest, "{compression}");
        assert_eq!(la.diff_id, lb.diff_id, "{compression}");
        assert_eq!(
            fs::read(&la.path).unwrap(),
            fs::read(&lb.path).unwrap(),
            "{compression}"
        );
    }
    // A change of content must change the digest.
    write(b.path(), "app/main.py", b"changed", 0o644);
    let out = tempfile::tempdir().unwrap();
    let la = write_layer(a.path(), &opts(Compression::None), out.path()).unwrap();
    let lb = write_layer(b.path(), &opts(Compression::None), out.path()).unwrap();
    assert_ne!(la.digest, lb.digest);
}

#[test]
fn listing_is_sorted_and_normalised() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    write(r, "B", b"x", 0o666);
    write(r, "a/c/d", b"#!/bin/sh\n", 0o700);
    write(r, "a/b", b"b", 0o600);
    write(r, "a-b", b"", 0o644);
    write(r, "a.txt", b"t", 0o4751);
    fs::create_dir(r.join("z")).unwrap();
    chmod(&r.join("z"), 0o2700);
    let out = tempfile::tempdir().unwrap();
    let layer = write_layer(r, &opts(Compression::Zstd), out.path()).unwrap();
    insta::assert_snapshot!(listing(&layer.path), @r"
    f 644 0:0 B
    d 755 0:0 a/
    f 644 0:0 a/b
    d 755 0:0 a/c/
    f 755 0:0 a/c/d
    f 644 0:0 a-b
    f 755 0:0 a.txt
    d 755 0:0 z/
    ");
    let mut archive = tar::Archive::new(open_layer_tar(&layer.path).unwrap());
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        assert_eq!(h.mtime().unwrap(), 1_700_000_000);
        assert_eq!(h.username_bytes(), Some(&b""[..]));
        assert_eq!(h.groupname_bytes(), Some(&b""[..]));
        assert_eq!(h.device_major().unwrap(), Some(0));
    }
}

#[test]
fn overrides_set_owner_and_mode() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    fs::create_dir_all(r.join("tmp")).unwrap();
    fs::create_dir_all(r.join("home/nonroot")).unwrap();
    write(r, "etc/shadow", b"root:*:1::::::\n", 0o644);
    let mut options = opts(Compression::Gzip);
    let o = |uid, gid, mode| Ownership { uid, gid, mode };
    options.overrides = BTreeMap::from([
        ("tmp".to_string(), o(0, 0, Some(0o1777))),
        ("home/nonroot".to_string(), o(65532, 65532, None)),
        ("/etc/shadow".to_string(), o(0, 42, Some(0o640))),
        ("./home/".to_string(), o(1, 2, Some(0o750))),
        ("not/in/this/layer".to_string(), o(7, 7, None)),
    ]);
    let out = tempfile::tempdir().unwrap();
    let layer = write_layer(r, &options, out.path()).unwrap();
    insta::assert_snapshot!(listing(&layer.path), @r"
    d 755 0:0 etc/
    f 640 0:42 etc/shadow
    d 750 1:2 home/
    d 755 65532:65532 home/nonroot/
    d 1777 0:0 tmp/
    ");
}

#[test]
fn symlinks_are_stored_not_followed() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    write(r, "usr/lib/libx.so.1", b"lib", 0o644);
    symlink("usr/lib", r.join("lib")).unwrap();
    symlink("libx.so.1", r.join("usr/lib/libx.so")).unwrap();
    symlink("/etc/../nowhere//x", r.join("dangling")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let layer = write_layer(r, &opts(Compression::None), out.path()).unwrap();
    insta::assert_snapshot!(listing(&layer.path), @r"
    l 777 0:0 dangling -> /etc/../nowhere//x
    l 777 0:0 lib -> usr/lib
    d 755 0:0 usr/
    d 755 0:0 usr/lib/
    l 777 0:0 usr/lib/libx.so -> libx.so.1
    f 644 0:0 usr/lib/libx.so.1
    ");
}

#[test]
fn hard_links_become_link_entries() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    write(r, "bin/b", b"same inode", 0o755);
    fs::hard_link(r.join("bin/b"), r.join("bin/a")).unwrap();
    fs::hard_link(r.join("bin/b"), r.join("c")).unwrap();
    write(r, "bin/d", b"same inode", 0o755);
    let out = tempfile::tempdir().unwrap();
    let layer = write_layer(r, &opts(Compression::Gzip), out.path()).unwrap();
    insta::assert_snapshot!(listing(&layer.path), @r"
    d 755 0:0 bin/
    f 755 0:0 bin/a
    h 755 0:0 bin/b -> bin/a
    f 755 0:0 bin/d
    h 755 0:0 c -> bin/a
    ");
    let unpacked = tempfile::tempdir().unwrap();
    tar::Archive::new(open_layer_tar(&layer.path).unwrap())
        .unpack(unpacked.path())
        .unwrap();
    assert_eq!(fs::read(unpacked.path().join("c")).unwrap(), b"same inode");
}

#[test]
fn long_names_and_targets_round_trip() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let deep = format!("{}/{}", "d".repeat(60), "e".repeat(60));
    let long_file = format!("{deep}/{}.py", "f".repeat(150));
    let exactly_100 = "g".repeat(100);
    let long_target = format!("../{}", "t".repeat(200));
    write(r, &long_file, b"long", 0o644);
    write(r, &exactly_100, b"hundred", 0o644);
    symlink(&long_target, r.join(&deep).join("link")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let layer = write_layer(r, &opts(Compression::Zstd), out.path()).unwrap();

    let mut seen = Vec::new();
    let mut archive = tar::Archive::new(open_layer_tar(&layer.path).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8(l.into_owned()).unwrap());
        let mut body = String::new();
        entry.read_to_string(&mut body).unwrap();
        seen.push((name, link, body));
    }
    let s = |v: &str| v.to_string();
    assert_eq!(
        seen,
        vec![
            (
                s("dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd/"),
                None,
                s("")
            ),
            (format!("{deep}/"), None, s("")),
            (long_file.clone(), None, s("long")),
            (format!("{deep}/link"), Some(long_target.clone()), s("")),
            (exactly_100.clone(), None, s("hundred")),
        ]
    );
    let unpacked = tempfile::tempdir().unwrap();
    tar::Archive::new(open_layer_tar(&layer.path).unwrap())
        .unpack(unpacked.path())
        .unwrap();
    assert_eq!(fs::read(unpacked.path().join(&long_file)).unwrap(), b"long");
    let link = fs::read_link(unpacked.path().join(&deep).join("link")).unwrap();
    assert_eq!(link, PathBuf::from(long_target));
}

#[test]
fn digests_sizes_and_names_match_the_bytes() {
    let root = tempfile::tempdir().unwrap();
    make_tree(root.path(), false);
    let out = tempfile::tempdir().unwrap();
    let mut diff_ids = Vec::new();
    for compression in ALL {
        let layer = write_layer(root.path(), &opts(compression), out.path()).unwrap();
        let blob = fs::read(&layer.path).unwrap();
        let tar = decompressed(&layer.path);
        assert_eq!(layer.digest, format!("sha256:{}", sha256_hex(&blob)));
        assert_eq!(layer.digest, file_digest(&layer.path).unwrap());
        assert_eq!(layer.diff_id, format!("sha256:{}", sha256_hex(&tar)));
        assert_eq!(layer.size, blob.len() as u64);
        assert_eq!(layer.uncompressed_size, tar.len() as u64);
        assert_eq!(layer.compression, compression);
        assert_eq!(sniff_compression(&blob), compression);
        assert_eq!(layer.path, out.path().join(layer.digest_hex()));
        assert_eq!(layer.path.file_name().unwrap().to_str().unwrap().len(), 64);
        assert_eq!(tar.len() % 512, 0);
        assert!(tar.ends_with(&[0; 1024]));
        if compression == Compression::None {
            assert_eq!(layer.digest, layer.diff_id);
        } else {
            assert!(layer.size < layer.uncompressed_size);
        }
        diff_ids.push(layer.diff_id);
    }
    assert!(diff_ids.iter().all(|d| *d == diff_ids[0]), "{diff_ids:?}");
    // No temporary file is left behind: three blobs and nothing else.
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 3);
}

#[test]
fn gzip_header_is_fixed() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "f", b"data", 0o644);
    let out = tempfile::tempdir().unwrap();
    let layer = write_layer(root.path(), &opts(Compression::Gzip), out.path()).unwrap();
    let blob = fs::read(&layer.path).unwrap();
    // magic, deflate, no flags, mtime 0, XFL 0 (level 6), OS 255.
    assert_eq!(blob[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    let mut options = opts(Compression::Gzip);
    options.level = Some(9);
    let best = write_layer(root.path(), &options, out.path()).unwrap();
    assert_eq!(fs::read(&best.path).unwrap()[8], 2);
    assert_eq!(best.diff_id, layer.diff_id);
}

/// Pins the exact bytes of a small layer: if a dependency update (tar
/// writing, deflate backend, zstd version) changes them, this fails.
#[test]
fn golden_digests() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    write(r, "usr/bin/tool", b"#!/bin/sh\necho hello\n", 0o755);
    write(r, "etc/motd", &b"hello world ".repeat(100), 0o644);
    symlink("tool", r.join("usr/bin/alias")).unwrap();
    let mut got = Vec::new();
    for compression in ALL {
        let out = tempfile::tempdir().unwrap();
        let layer = write_layer(r, &LayerOptions::new(compression, 0), out.path()).unwrap();
        got.push(format!(
            "{compression} {} {}",
            layer.digest_hex(),
            layer.size
        ));
    }
    insta::assert_snapshot!(got.join("\n"), @r"
    gzip 5672056a388091c14f8dbce33a6ecc4aabed273f0bd1f4d558c99e80647f43b9 223
    zstd 4adb6a92b46c1f2b3e4817399bf972900981c381a682355aa7038aff00412c83 218
    none a20b84ac21c1001b7439ea1062ae56f1b48a94132cf4f29e064d335273122de7 6144
    ");
}

#[test]
fn empty_tree_is_just_the_end_blocks() {
    let root = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let layer = write_layer(
        root.path(),
        &opts(Compression::None),
        out.path().join("new/dir").as_path(),
    )
    .unwrap();
    assert_eq!(fs::read(&layer.path).unwrap(), vec![0; 1024]);
    assert_eq!(layer.uncompressed_size, 1024);
}

#[test]
fn unsupported_and_invalid_inputs_are_errors() {
    let root = tempfile::tempdir().unwrap();
    let socket = root.path().join("run/app.sock");
    fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let out = tempfile::tempdir().unwrap();
    match write_layer(root.path(), &opts(Compression::Gzip), out.path()) {
        Err(LayerError::UnsupportedFileType { path }) => assert_eq!(path, socket),
        other => panic!("expected UnsupportedFileType, got {other:?}"),
    }
    // The failed attempt leaves no partial blob behind.
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);

    let file = root.path().join("plain");
    fs::write(&file, b"").unwrap();
    let err = write_layer(&file, &opts(Compression::Gzip), out.path()).unwrap_err();
    assert!(
        matches!(&err, LayerError::NotADirectory { path } if *path == file),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("Layer root `{}` is not a directory", file.display())
    );

    let empty = tempfile::tempdir().unwrap();
    for (compression, level) in [
        (Compression::Gzip, 10),
        (Compression::Gzip, -1),
        (Compression::Zstd, 99),
    ] {
        let options = LayerOptions {
            level: Some(level),
            ..opts(compression)
        };
        let err = write_layer(empty.path(), &options, out.path()).unwrap_err();
        assert!(
            matches!(err, LayerError::InvalidLevel { level: l, .. } if l == level),
            "{err:?}"
        );
    }
    let options = LayerOptions {
        level: Some(19),
        ..opts(Compression::Zstd)
    };
    write_layer(empty.path(), &options, out.path()).unwrap();
}

/// A reader that hands out at most a few bytes per call, like a slow pipe.
struct Trickle<'a>(&'a [u8], usize);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.1 += 1;
        let n = (self.1 % 7 + 1).min(buf.len()).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// The deflate backend's output depends on how its input is chunked, so file
/// contents must reach it in chunks that do not depend on how reads return.
#[test]
fn short_reads_still_fill_whole_chunks() {
    let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let mut src = Trickle(&data, 0);
    let mut buf = [0u8; 300];
    assert_eq!(crate::write::fill(&mut src, &mut buf).unwrap(), 300);
    assert_eq!(buf[..], data[..300]);
    let mut rest = vec![0u8; 1000];
    assert_eq!(crate::write::fill(&mut src, &mut rest).unwrap(), 700);
    assert_eq!(rest[..700], data[300..]);

    // Same writes, same bytes; the zstd stream does not even depend on them.
    let encode = |compression, chunk: usize| {
        let mut enc = Encoder::new(
            compression,
            Compression::default_level(compression),
            Vec::new(),
        )
        .unwrap();
        for part in data.repeat(300).chunks(chunk) {
            enc.write_all(part).unwrap();
        }
        enc.finish().unwrap()
    };
    assert_eq!(
        encode(Compression::Gzip, 4096),
        encode(Compression::Gzip, 4096)
    );
    assert_eq!(
        encode(Compression::Zstd, 997),
        encode(Compression::Zstd, 300_000)
    );
}

#[test]
fn hash_writer_counts_and_hashes() {
    let mut w = HashWriter::new(Vec::new());
    w.write_all(b"hello ").unwrap();
    w.write_all(b"world").unwrap();
    let (inner, digest, count) = w.finish();
    assert_eq!(inner, b"hello world");
    assert_eq!(count, 11);
    assert_eq!(hex::encode(digest), sha256_hex(b"hello world"));
}

#[test]
fn open_layer_tar_sniffs_plain_and_short_files() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = dir.path().join("tiny");
    fs::write(&tiny, b"ab").unwrap();
    assert_eq!(decompressed(&tiny), b"ab");
    assert_eq!(sniff_compression(&[0x1f, 0x8b, 8]), Compression::Gzip);
    assert_eq!(
        sniff_compression(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
        Compression::Zstd
    );
    assert_eq!(sniff_compression(&[0x28, 0xb5]), Compression::None);
    let missing = dir.path().join("missing");
    assert!(
        matches!(open_layer_tar(&missing), Err(LayerError::Io { path, .. }) if path == missing)
    );
}

#[test]
fn cache_hits_and_rebuilds_corrupted_blobs() {
    let root = tempfile::tempdir().unwrap();
    make_tree(root.path(), false);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = LayerCache::new(cache_dir.path().join("layers"));
    let mut builds = 0;
    let mut build = |out: &Path| {
        builds += 1;
        write_layer(root.path(), &opts(Compression::Zstd), out)
    };
    let (first, hit) = cache.get_or_build("key-1", &mut build).unwrap();
    assert!(!hit);
    assert!(first.path.starts_with(cache.blob_dir()));
    let (second, hit) = cache.get_or_build("key-1", &mut build).unwrap();
    assert!(hit);
    assert_eq!(first, second);
    assert!(cache.dir().join("key-1.json").is_file());

    // Same size, different bytes: the digest check must catch it.
    let mut blob = fs::read(&first.path).unwrap();
    let last = blob.len() - 1;
    blob[last] ^= 0xff;
    fs::write(&first.path, &blob).unwrap();
    assert_eq!(cache.lookup("key-1").unwrap(), None);
    let (third, hit) = cache.get_or_build("key-1", &mut build).unwrap();
    assert!(!hit);
    assert_eq!(third, first);
    assert_eq!(file_digest(&third.path).unwrap(), third.digest);

    // A missing blob or an unreadable record is a miss too.
    fs::remove_file(&third.path).unwrap();
    assert!(!cache.get_or_build("key-1", &mut build).unwrap().1);
    fs::write(cache.dir().join("key-1.json"), b"{not json").unwrap();
    assert!(!cache.get_or_build("key-1", &mut build).unwrap().1);
    assert!(cache.get_or_build("key-1", &mut build).unwrap().1);
    assert_eq!(builds, 4);

    // Build errors pass through and record nothing.
    let offline = || std::io::Error::new(std::io::ErrorKind::NotConnected, "no network");
    let failed = cache.get_or_build("key-2", |_| Err(LayerError::Producer(Box::new(offline()))));
    let back: std::io::Error = failed.unwrap_err().into_producer().unwrap();
    assert_eq!(back.kind(), std::io::ErrorKind::NotConnected);
    assert!(!cache.dir().join("key-2.json").exists());

    for bad in ["", "../escape", "a/b", ".hidden"] {
        let err = cache.get_or_build(bad, |_| unreachable!()).unwrap_err();
        assert!(
            matches!(&err, LayerError::InvalidCacheKey { key, .. } if key == bad),
            "{err:?}"
        );
    }
}

#[test]
#[ignore = "manual: writes a sample layer to LOCKSHIP_LAYER_SAMPLE for inspection with other tools"]
fn write_sample_for_inspection() {
    let dest = PathBuf::from(std::env::var("LOCKSHIP_LAYER_SAMPLE").unwrap());
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    make_tree(r, false);
    let deep = format!("{}/{}", "d".repeat(60), "e".repeat(60));
    write(r, &format!("{deep}/{}.py", "f".repeat(150)), b"long", 0o644);
    symlink("t".repeat(200), r.join("longlink")).unwrap();
    fs::hard_link(r.join("etc/passwd"), r.join("etc/passwd-")).unwrap();
    for compression in ALL {
        write_layer(r, &opts(compression), &dest).unwrap();
    }
}
