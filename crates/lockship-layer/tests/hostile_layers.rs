//! The layer flattener against hostile layers (issue 12, finding 2) and
//! lying diff_ids (finding 5), and its whiteout semantics. Every layer is
//! crafted here with the tar crate, names written into the header raw, so
//! that what no honest tool writes can be tried.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use lockship_layer::{check_diff_id, unpack_layer, LayerError};
use sha2::{Digest, Sha256};

/// One entry of a crafted layer.
enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

/// A plain tar of `entries`, names and link names written raw.
fn layer(entries: &[E]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        let (name, kind, data, link): (&str, tar::EntryType, &[u8], &str) = match entry {
            E::Dir(n) => (n, tar::EntryType::Directory, b"", ""),
            E::File(n, d) => (n, tar::EntryType::Regular, d, ""),
            E::Symlink(n, t) => (n, tar::EntryType::Symlink, b"", t),
            E::HardLink(n, t) => (n, tar::EntryType::Link, b"", t),
        };
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        header.set_size(data.len() as u64);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn diff_id(tar: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(tar)))
}

/// Unpacks `tar` over `root`, claiming its true diff_id.
fn apply(tar: &[u8], name: &str, root: &Path) -> Result<u64, LayerError> {
    unpack_layer(tar, name, root, &diff_id(tar)).map(|u| u.uncompressed_size)
}

/// A work tree with the unpack root deep inside it, and a canary directory
/// next to it holding a file and a subdirectory: what a naive unpacker
/// reaches through `esc -> CANARY` or `../../..`.
struct Sandbox {
    outer: tempfile::TempDir,
    root: PathBuf,
    canary: PathBuf,
    before: BTreeMap<PathBuf, String>,
}

impl Sandbox {
    fn new() -> Sandbox {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("cache/tmp/build/root");
        std::fs::create_dir_all(&root).unwrap();
        let canary = outer.path().join("canary");
        std::fs::create_dir_all(canary.join("dir")).unwrap();
        std::fs::write(canary.join("file"), b"canary").unwrap();
        std::fs::write(canary.join("dir/inner"), b"inner").unwrap();
        // Another build's file next to the root, in the cache's tmp.
        std::fs::write(outer.path().join("cache/tmp/other-build"), b"other").unwrap();
        let mut sandbox = Sandbox {
            outer,
            root,
            canary,
            before: BTreeMap::new(),
        };
        sandbox.before = sandbox.outside();
        sandbox
    }

    /// Everything under the work tree except the unpack root: kind, mode,
    /// link count and content of each path.
    fn outside(&self) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        for entry in walkdir::WalkDir::new(self.outer.path()).follow_links(false) {
            let entry = entry.unwrap();
            let path = entry.path();
            if path.starts_with(&self.root) {
                continue;
            }
            let meta = std::fs::symlink_metadata(path).unwrap();
            let what = if meta.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(path).unwrap().display())
            } else if meta.is_dir() {
                "dir".to_string()
            } else {
                format!("file {:?}", std::fs::read(path).unwrap())
            };
            let key = path.strip_prefix(self.outer.path()).unwrap().to_path_buf();
            out.insert(
                key,
                format!("{what} mode {:o} links {}", meta.mode(), meta.nlink()),
            );
        }
        out
    }

    /// The canary and everything else outside the root are as they were.
    fn assert_outside_untouched(&self) {
        assert_eq!(
            self.outside(),
            self.before,
            "something outside the root changed"
        );
        assert_eq!(std::fs::read(self.canary.join("file")).unwrap(), b"canary");
        assert_eq!(
            std::fs::read(self.canary.join("dir/inner")).unwrap(),
            b"inner"
        );
    }

    fn canary_str(&self) -> String {
        self.canary.to_str().unwrap().to_string()
    }

    /// Where `esc -> CANARY` leads when the root is `/`.
    fn rerooted_canary(&self) -> PathBuf {
        self.root.join(self.canary.strip_prefix("/").unwrap())
    }
}

fn refused(err: &LayerError, layer: &str, entry: &str, what: &str) {
    let text = err.to_string();
    assert!(matches!(err, LayerError::UnsafeEntry { .. }), "{err:?}");
    assert!(text.contains(&format!("`{layer}`")), "{text}");
    assert!(text.contains(&format!("`{entry}`")), "{text}");
    assert!(text.contains(what), "{text}");
    assert!(
        err.hint().is_some_and(|h| h.contains("hostile")),
        "{:?}",
        err.hint()
    );
}

#[test]
fn hostile_whiteout_through_absolute_symlink_stays_in_root() {
    let s = Sandbox::new();
    let canary = s.canary_str();
    apply(&layer(&[E::Symlink("esc", &canary)]), "base", &s.root).unwrap();
    apply(
        &layer(&[
            E::File("esc/.wh.file", b""),
            E::File("esc/dir/.wh.inner", b""),
        ]),
        "upper",
        &s.root,
    )
    .unwrap();
    s.assert_outside_untouched();
    assert_eq!(std::fs::read_link(s.root.join("esc")).unwrap(), s.canary);
}

#[test]
fn hostile_opaque_whiteout_through_symlink_stays_in_root() {
    let s = Sandbox::new();
    let canary = s.canary_str();
    apply(
        &layer(&[E::Symlink("esc", &canary), E::Symlink("esc2", &canary)]),
        "base",
        &s.root,
    )
    .unwrap();
    apply(
        &layer(&[
            E::File("esc/.wh..wh..opq", b""),
            E::File("esc2/dir/.wh..wh..opq", b""),
        ]),
        "upper",
        &s.root,
    )
    .unwrap();
    s.assert_outside_untouched();
    // The opaque directories were made where the link leads inside the root.
    assert!(s.rerooted_canary().join("dir").is_dir());
}

#[test]
fn hostile_regular_entry_under_symlinked_dir_stays_in_root() {
    let s = Sandbox::new();
    let canary = s.canary_str();
    apply(&layer(&[E::Symlink("esc", &canary)]), "base", &s.root).unwrap();
    apply(
        &layer(&[
            E::File("esc/file", b"evil"),
            E::File("esc/planted", b"evil"),
            E::File("esc/new/deeper/planted", b"evil"),
            E::Dir("esc/dir/"),
            E::Symlink("esc/dir/inner", "/"),
        ]),
        "upper",
        &s.root,
    )
    .unwrap();
    s.assert_outside_untouched();
    let inside = s.rerooted_canary();
    assert_eq!(std::fs::read(inside.join("planted")).unwrap(), b"evil");
    assert_eq!(
        std::fs::read(inside.join("new/deeper/planted")).unwrap(),
        b"evil"
    );
}

#[test]
fn hostile_relative_dotdot_chain_stays_in_root() {
    let s = Sandbox::new();
    // The root is `outer/cache/tmp/build/root`: four `..` reach `outer`,
    // where the canary is; so does a chain of links each climbing one step.
    apply(
        &layer(&[
            E::Symlink("esc", "../../../../canary"),
            E::Dir("a/"),
            E::Symlink("a/up", ".."),
            E::Symlink("up2", "a/up/a/up/.."),
            E::Symlink("chain", "up2/../../../../../canary"),
        ]),
        "base",
        &s.root,
    )
    .unwrap();
    apply(
        &layer(&[
            E::File("esc/.wh.file", b""),
            E::File("chain/dir/.wh..wh..opq", b""),
            E::File("up2/.wh.other-build", b""),
            E::File("chain/planted", b"evil"),
            E::File("esc/planted", b"evil"),
        ]),
        "upper",
        &s.root,
    )
    .unwrap();
    s.assert_outside_untouched();
    // `..` stops at the root: both chains lead to `/canary` inside it.
    assert_eq!(
        std::fs::read(s.root.join("canary/planted")).unwrap(),
        b"evil"
    );
}

#[test]
fn hostile_top_level_whiteout_of_dot_or_dotdot_is_refused() {
    for (entry, hides) in [
        (".wh...", ".."),
        (".wh..", "."),
        (".wh.", ""),
        ("a/.wh...", ".."),
    ] {
        let s = Sandbox::new();
        std::fs::write(s.root.join("lower"), b"lower").unwrap();
        let err = apply(&layer(&[E::File(entry, b"")]), "sha256:feed", &s.root).unwrap_err();
        refused(
            &err,
            "sha256:feed",
            entry,
            &format!("is a whiteout of `{hides}`, not of a plain name"),
        );
        s.assert_outside_untouched();
        assert!(s.root.join("lower").is_file());
    }
}

#[test]
fn hostile_hard_link_outside_root_is_refused() {
    let s = Sandbox::new();
    let canary = s.canary_str();
    let absolute = format!("{canary}/file");
    apply(&layer(&[E::Symlink("esc", &canary)]), "base", &s.root).unwrap();
    for (target, why) in [
        (
            "../../../../canary/file",
            "climbs out of the tree with `..`",
        ),
        (absolute.as_str(), "is an absolute path"),
        ("esc/file", "which no lower entry put inside the tree"),
        ("esc/dir", "which no lower entry put inside the tree"),
    ] {
        let err = apply(&layer(&[E::HardLink("grab", target)]), "links", &s.root).unwrap_err();
        refused(&err, "links", "grab", why);
        assert!(
            err.to_string()
                .contains(&format!("hard link to `{target}`")),
            "{err}"
        );
    }
    s.assert_outside_untouched();
    assert!(!s.root.join("grab").exists());
}

#[test]
fn hostile_absolute_and_dotdot_entry_names_are_refused() {
    let s = Sandbox::new();
    let outside = format!("{}/planted", s.canary_str());
    for (entry, why) in [
        (outside.as_str(), "is an absolute path"),
        (
            "../../../../canary/planted",
            "climbs out of the tree with `..`",
        ),
        ("a/../../x", "climbs out of the tree with `..`"),
        ("../.wh.other-build", "climbs out of the tree with `..`"),
    ] {
        let err = apply(&layer(&[E::File(entry, b"evil")]), "names", &s.root).unwrap_err();
        refused(&err, "names", entry, why);
    }
    s.assert_outside_untouched();
}

#[test]
fn hostile_symlink_loop_is_refused() {
    let s = Sandbox::new();
    apply(
        &layer(&[E::Symlink("a", "b"), E::Symlink("b", "/a")]),
        "base",
        &s.root,
    )
    .unwrap();
    let err = apply(&layer(&[E::File("a/x", b"")]), "loop", &s.root).unwrap_err();
    refused(&err, "loop", "a/x", "goes through more than 40 symlinks");
    s.assert_outside_untouched();
}

#[test]
fn lying_diff_id_is_refused_naming_the_layer_and_both_diff_ids() {
    let dir = tempfile::tempdir().unwrap();
    let tar = layer(&[E::File("etc/passwd", b"root::0:0::/:/bin/sh\n")]);
    let honest = diff_id(&tar);
    let claimed = diff_id(b"what the config says");
    let err = unpack_layer(&tar[..], "sha256:b10b", dir.path(), &claimed).unwrap_err();
    assert!(matches!(err, LayerError::DiffIdMismatch { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("Layer `sha256:b10b` decompresses to diff_id `{honest}`, but the image config claims `{claimed}`")
    );
    assert!(err.hint().unwrap().contains("tampered"), "{:?}", err.hint());
    let err = check_diff_id(&tar[..], "sha256:b10b", &claimed).unwrap_err();
    assert!(matches!(err, LayerError::DiffIdMismatch { .. }), "{err:?}");
    assert_eq!(
        check_diff_id(&tar[..], "sha256:b10b", &honest).unwrap(),
        tar.len() as u64
    );
}

#[test]
fn whiteouts_and_opaque_dirs_hide_only_lower_layers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    apply(
        &layer(&[
            E::Dir("etc/"),
            E::File("etc/keep", b"k"),
            E::File("etc/gone", b"g"),
            E::Dir("var/cache/old/"),
            E::File("var/cache/a", b"a"),
            E::File("var/cache/old/b", b"b"),
            E::Symlink("lib", "usr/lib"),
            E::Dir("usr/lib/"),
        ]),
        "lower",
        root,
    )
    .unwrap();
    // The opaque marker comes after this layer's own entries of the same
    // directory: it hides only what the lower layer put there.
    let upper = layer(&[
        E::File("var/cache/new/c", b"c"),
        E::File("var/cache/.wh..wh..opq", b""),
        E::File("etc/.wh.gone", b""),
        E::File("etc/.wh.never-there", b""),
        E::File("lib/libz.so.1", b"z"),
        E::HardLink("usr/lib/libz.so", "lib/libz.so.1"),
        E::File(".wh..wh.plnk", b""),
    ]);
    let size = apply(&upper, "upper", root).unwrap();
    assert_eq!(size, upper.len() as u64);
    assert!(root.join("etc/keep").is_file());
    assert!(!root.join("etc/gone").exists());
    assert!(!root.join("etc/.wh.gone").exists());
    assert!(!root.join("var/cache/a").exists());
    assert!(!root.join("var/cache/old").exists());
    assert_eq!(std::fs::read(root.join("var/cache/new/c")).unwrap(), b"c");
    // An entry under a symlinked directory lands where the link leads.
    assert!(std::fs::symlink_metadata(root.join("lib"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(root.join("usr/lib/libz.so.1")).unwrap(), b"z");
    let a = std::fs::metadata(root.join("usr/lib/libz.so")).unwrap();
    let b = std::fs::metadata(root.join("usr/lib/libz.so.1")).unwrap();
    assert_eq!(a.ino(), b.ino());
    assert!(!root.join(".wh..wh.plnk").exists());
}

#[test]
fn entries_replace_what_lower_layers_had() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    apply(
        &layer(&[
            E::Dir("d/"),
            E::File("d/x", b"x"),
            E::File("f", b"f"),
            E::Dir("real/"),
            E::Symlink("s", "real"),
            E::Symlink("l", "f"),
        ]),
        "lower",
        root,
    )
    .unwrap();
    apply(
        &layer(&[
            E::File("d", b"now a file"),
            E::Dir("f/"),
            E::Dir("s/"),
            E::File("l", b"replaces the link, not its target"),
        ]),
        "upper",
        root,
    )
    .unwrap();
    assert_eq!(std::fs::read(root.join("d")).unwrap(), b"now a file");
    assert!(root.join("f").is_dir());
    assert!(!std::fs::symlink_metadata(root.join("s"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::symlink_metadata(root.join("l")).unwrap().is_file());
}

#[test]
fn setuid_bits_are_dropped_and_the_tree_stays_writable() {
    let dir = tempfile::tempdir().unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, mode) in [
        ("ro/", tar::EntryType::Directory, 0o555),
        ("ro/su", tar::EntryType::Regular, 0o4755),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_path(name).unwrap();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(0);
        header.set_cksum();
        builder.append(&header, &b""[..]).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    apply(&tar, "modes", dir.path()).unwrap();
    let mode = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("ro/su"), 0o755);
    assert_eq!(mode("ro"), 0o755);
}

#[test]
fn gzip_layers_are_hashed_after_decompression() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let tar = layer(&[E::File("hello", b"hi")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let blob = gz.finish().unwrap();
    let unpacked = unpack_layer(&blob[..], "gz", dir.path(), &diff_id(&tar)).unwrap();
    assert_eq!(unpacked.uncompressed_size, tar.len() as u64);
    assert_eq!(std::fs::read(dir.path().join("hello")).unwrap(), b"hi");
}
