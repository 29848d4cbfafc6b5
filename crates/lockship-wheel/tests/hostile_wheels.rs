//! Hostile wheels (issue 12, findings 3, 10 and 11), each crafted here with
//! the zip crate. Every test installs into `stage/` next to a `canary/`
//! directory and checks that the canary is untouched and that the error
//! names the wheel, the entry and what is wrong.

mod common;

use std::path::{Path, PathBuf};

use common::{record_line, tree, WheelBuilder};
use lockship_wheel::{install_wheel, write_venv_skeleton, VenvLayout, WheelError};

const SITE: &str = "stage/opt/venv/lib/python3.11/site-packages";

/// A temporary directory with a staged virtualenv in `stage/` and a
/// canary directory beside it.
struct Scene {
    dir: tempfile::TempDir,
    venv: VenvLayout,
    canary_before: Vec<(String, u32, Vec<u8>)>,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let canary = dir.path().join("canary");
        std::fs::create_dir_all(canary.join("__pycache__")).unwrap();
        std::fs::write(canary.join("keep.txt"), b"host file\n").unwrap();
        let venv = VenvLayout {
            root: dir.path().join("stage"),
            prefix: "/opt/venv".into(),
            python: "/usr/bin/python3.11".into(),
            python_version: (3, 11),
            python_full_version: Some("3.11.2".into()),
        };
        write_venv_skeleton(&venv).unwrap();
        let canary_before = tree(&canary);
        Scene {
            dir,
            venv,
            canary_before,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn wheel(&self, builder: &WheelBuilder) -> PathBuf {
        let wheels = self.path("wheels");
        std::fs::create_dir_all(&wheels).unwrap();
        builder.write(&wheels)
    }

    fn install(&self, wheel: &Path) -> Result<lockship_wheel::InstalledDist, WheelError> {
        install_wheel(wheel, &self.venv)
    }

    /// Installs and returns the error, checking that it names the wheel
    /// and has a hint.
    fn refuse(&self, wheel: &Path) -> WheelError {
        let err = self.install(wheel).unwrap_err();
        let shown = err.to_string();
        eprintln!("error: {shown}");
        let file_name = wheel.file_name().unwrap().to_str().unwrap();
        assert!(shown.contains(file_name), "{shown}");
        assert!(err.hint().is_some(), "{shown}");
        err
    }

    fn assert_canary_untouched(&self) {
        assert_eq!(tree(&self.path("canary")), self.canary_before);
        // Nothing appeared beside the staging tree either.
        let mut top: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        top.sort();
        top.retain(|n| n != "wheels");
        assert_eq!(top, ["canary", "stage"]);
    }

    /// Every symlink under the staging tree: only the skeleton's may exist.
    fn symlinks(&self) -> Vec<String> {
        let root = self.path("stage");
        walkdir::WalkDir::new(&root)
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.path_is_symlink())
            .map(|e| e.path().strip_prefix(&root).unwrap().display().to_string())
            .collect()
    }
}

const SKELETON_LINKS: [&str; 4] = [
    "opt/venv/bin/python",
    "opt/venv/bin/python3",
    "opt/venv/bin/python3.11",
    "opt/venv/lib64",
];

/// Links that each stay inside site-packages when read as paths, but
/// really climb: `up` is site-packages, `up2` its parent, `up3` is `opt`,
/// `up4` the directory holding the staging tree, and `__pycache__` the
/// canary's `__pycache__` on the host.
fn climbing_links() -> WheelBuilder {
    WheelBuilder::new("evil", "1.0")
        .file("evil/__init__.py", b"X = 1\n")
        .symlink("evil/up", "..")
        .symlink("evil/up2", "up/..")
        .symlink("evil/up3", "up2/../..")
        .symlink("evil/up4", "up3/../..")
        .symlink("evil/__pycache__", "up4/canary/__pycache__")
}

#[test]
fn hostile_symlink_chain_to_host_pycache_writes_nothing_outside() {
    let scene = Scene::new();
    let wheel = scene.wheel(&climbing_links());
    let installed = scene.install(&wheel).unwrap();
    assert!(installed.files.contains(&"evil/__pycache__".to_string()));

    // Symlink entries are installed as plain files holding the link text,
    // as pip does: the wheel planted no link at all.
    assert_eq!(scene.symlinks(), SKELETON_LINKS);
    let site = scene.path(SITE);
    let pycache = std::fs::symlink_metadata(site.join("evil/__pycache__")).unwrap();
    assert!(pycache.is_file());
    assert_eq!(
        std::fs::read(site.join("evil/__pycache__")).unwrap(),
        b"up4/canary/__pycache__"
    );
    assert_eq!(
        std::fs::metadata(site.join("evil/up4")).unwrap().len(),
        "up3/../..".len() as u64
    );

    // Bytecode compilation (here the host's own compileall, standing in
    // for the build's compile step) has nothing to write through.
    match python3() {
        Some(python) => {
            let _ = std::process::Command::new(python)
                .args(["-m", "compileall", "-q"])
                .arg(&site)
                .output()
                .unwrap();
        }
        None => eprintln!("skipping the compileall step: no python3 on PATH"),
    }
    scene.assert_canary_untouched();
}

#[test]
fn hostile_second_wheel_dir_under_link_creates_no_host_dir() {
    let scene = Scene::new();
    scene.install(&scene.wheel(&climbing_links())).unwrap();
    let second = WheelBuilder::new("evil2", "1.0")
        .dir("evil/up4/canary/planted/")
        .file("evil/up4/canary/planted/x.py", b"x = 1\n");
    let err = scene.refuse(&scene.wheel(&second));
    assert!(
        matches!(&err, WheelError::UnsafePath { entry, reason, .. }
            if entry == "evil/up4/canary/planted/"
                && reason.contains("evil/up4` is a file, not a directory")),
        "{err}"
    );
    assert!(!scene.path("canary/planted").exists());
    scene.assert_canary_untouched();
}

#[test]
fn hostile_dir_entry_under_a_planted_link_is_refused_before_creating_anything() {
    // A link already in the staging tree (not from a wheel), pointing out.
    let scene = Scene::new();
    let site = scene.path(SITE);
    std::os::unix::fs::symlink(scene.path("canary"), site.join("pkg")).unwrap();
    // One that stays inside is refused all the same: nothing is written
    // through any link.
    std::os::unix::fs::symlink("..", site.join("inside")).unwrap();
    for (name, link) in [("pkg", "pkg"), ("inside", "inside")] {
        let wheel = WheelBuilder::new("victim", "1.0")
            .dir(&format!("{name}/made/"))
            .file(&format!("{name}/made/m.py"), b"m = 1\n");
        let err = scene.refuse(&scene.wheel(&wheel));
        let expected = format!(
            "`/opt/venv/lib/python3.11/site-packages/{link}` is a symlink in the staging tree, and lockship never writes through links"
        );
        assert!(
            matches!(&err, WheelError::UnsafePath { entry, reason, .. }
                if entry == &format!("{name}/made/") && reason == &expected),
            "{err}"
        );
    }
    assert!(!scene.path("canary/made").exists());
    assert!(!scene.path("stage/opt/venv/lib/python3.11/made").exists());
    scene.assert_canary_untouched();
}

#[test]
fn hostile_entry_under_a_symlink_entry_is_refused() {
    let scene = Scene::new();
    let wheel = WheelBuilder::new("chain", "1.0")
        .symlink("chain/up", "../..")
        .file("chain/up/escaped.py", b"x = 1\n");
    let err = scene.refuse(&scene.wheel(&wheel));
    assert!(
        matches!(&err, WheelError::UnsafePath { entry, reason, .. }
            if entry == "chain/up/escaped.py" && reason.contains("under `chain/up`, a symlink entry")),
        "{err}"
    );
    assert!(!scene
        .path("stage/opt/venv/lib/python3.11/site-packages/chain")
        .exists());
    scene.assert_canary_untouched();
}

/// Patches every local and central header of the entry `name`: renames it
/// to `new_name` (same length) and/or sets its declared uncompressed size.
fn patch_entry(bytes: &mut [u8], name: &str, new_name: Option<&str>, size: Option<u32>) {
    let mut patched = 0;
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let sig = &bytes[at..at + 4];
        let (name_len_at, name_at, size_at) = if sig == [0x50, 0x4b, 0x03, 0x04] {
            (at + 26, at + 30, at + 22)
        } else if sig == [0x50, 0x4b, 0x01, 0x02] {
            (at + 28, at + 46, at + 24)
        } else {
            at += 1;
            continue;
        };
        let len = u16::from_le_bytes([bytes[name_len_at], bytes[name_len_at + 1]]) as usize;
        if bytes.get(name_at..name_at + len) == Some(name.as_bytes()) {
            if let Some(new_name) = new_name {
                assert_eq!(new_name.len(), name.len());
                bytes[name_at..name_at + len].copy_from_slice(new_name.as_bytes());
            }
            if let Some(size) = size {
                bytes[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
            }
            patched += 1;
        }
        at += 4;
    }
    assert_eq!(patched, 2, "a local and a central header for `{name}`");
}

fn write_bytes(scene: &Scene, builder: &WheelBuilder, bytes: &[u8]) -> PathBuf {
    let path = scene.path("wheels").join(builder.filename());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn hostile_duplicate_zip_entries_are_refused() {
    let scene = Scene::new();
    let builder = WheelBuilder::new("dup", "1.0")
        .file("dup/first.py", b"print('good')\n")
        .file("dup/other.py", b"print('evil')\n");
    let mut bytes = builder.bytes();
    patch_entry(&mut bytes, "dup/other.py", Some("dup/first.py"), None);
    let err = scene.refuse(&write_bytes(&scene, &builder, &bytes));
    assert!(
        matches!(&err, WheelError::Inconsistent { entry, reason, .. }
            if entry == "dup/first.py" && reason.contains("more than once")),
        "{err}"
    );
    assert!(!scene.path(SITE).join("dup").exists());

    // The same path spelled two ways is the same entry twice.
    let builder = WheelBuilder::new("dup", "1.0")
        .file("dup/a.py", b"a = 1\n")
        .file("./dup/a.py", b"a = 2\n");
    let err = scene.refuse(&scene.wheel(&builder));
    assert!(
        matches!(&err, WheelError::Inconsistent { entry, reason, .. }
            if entry == "./dup/a.py" && reason.contains("same path as the entry `dup/a.py`")),
        "{err}"
    );
    assert!(!scene.path(SITE).join("dup").exists());
    scene.assert_canary_untouched();
}

#[test]
fn hostile_dist_info_version_differs_from_filename() {
    let scene = Scene::new();
    let builder = WheelBuilder::new("ver", "1.0")
        .dist_info_version("6.6.6")
        .file("ver/__init__.py", b"x = 1\n");
    let err = scene.refuse(&scene.wheel(&builder));
    assert!(
        matches!(&err, WheelError::Inconsistent { entry, reason, .. }
            if entry == "ver-6.6.6.dist-info" && reason.contains("version `6.6.6`, the file name `1.0`")),
        "{err}"
    );
    assert!(!scene.path(SITE).join("ver").exists());

    // The same version written another way is the same version.
    let builder = WheelBuilder::new("ver", "1.0")
        .dist_info_version("1.0.0")
        .file("ver/__init__.py", b"x = 1\n");
    scene.install(&scene.wheel(&builder)).unwrap();
    scene.assert_canary_untouched();
}

#[test]
fn hostile_metadata_names_another_project() {
    let scene = Scene::new();
    let builder = WheelBuilder::new("innocent", "1.0")
        .file("innocent/__init__.py", b"x = 1\n")
        .file(
            "innocent-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: requests\nVersion: 1.0\n",
        );
    let err = scene.refuse(&scene.wheel(&builder));
    assert!(
        matches!(&err, WheelError::Inconsistent { entry, reason, .. }
            if entry == "innocent-1.0.dist-info/METADATA"
                && reason == "it names the project `requests`, the file name `innocent`"),
        "{err}"
    );
    let builder = WheelBuilder::new("innocent", "1.0").file(
        "innocent-1.0.dist-info/METADATA",
        b"Metadata-Version: 2.1\nName: Innocent\nVersion: 2.0\n",
    );
    let err = scene.refuse(&scene.wheel(&builder));
    assert!(matches!(&err, WheelError::Inconsistent { .. }), "{err}");
    assert!(!scene.path(SITE).join("innocent").exists());
    scene.assert_canary_untouched();
}

#[test]
fn hostile_data_bin_python_replaces_interpreter() {
    let scene = Scene::new();
    let bin = scene.path("stage/opt/venv/bin");
    for (entry, path) in [
        ("py-1.0.data/data/bin/python", "/opt/venv/bin/python"),
        ("py-1.0.data/scripts/python3.11", "/opt/venv/bin/python3.11"),
        ("py-1.0.data/scripts/activate", "/opt/venv/bin/activate"),
    ] {
        let builder = WheelBuilder::new("py", "1.0").exec_file(entry, b"#!/bin/sh\necho owned\n");
        let err = scene.refuse(&scene.wheel(&builder));
        assert!(
            matches!(&err, WheelError::ReplacesVenvFile { entry: e, path: p, .. }
                if e == entry && p == path),
            "{err}"
        );
    }
    // An entry point named like the interpreter.
    let builder = WheelBuilder::new("py", "1.0").file(
        "py-1.0.dist-info/entry_points.txt",
        b"[console_scripts]\npython3 = py:main\n",
    );
    let err = scene.refuse(&scene.wheel(&builder));
    assert!(
        matches!(&err, WheelError::ReplacesVenvFile { path, .. } if path == "/opt/venv/bin/python3"),
        "{err}"
    );
    for name in ["python", "python3", "python3.11"] {
        assert_eq!(
            std::fs::read_link(bin.join(name)).unwrap(),
            Path::new("/usr/bin/python3.11")
        );
    }
    assert!(!bin.join("activate").exists());
    scene.assert_canary_untouched();
}

#[test]
fn hostile_data_pyvenv_cfg_replaces_venv_config() {
    let scene = Scene::new();
    let cfg = scene.path("stage/opt/venv/pyvenv.cfg");
    let before = std::fs::read(&cfg).unwrap();
    let builder = WheelBuilder::new("cfg", "1.0")
        .file("cfg/__init__.py", b"x = 1\n")
        .file(
            "cfg-1.0.data/data/pyvenv.cfg",
            b"home = /tmp/evil\ninclude-system-site-packages = true\n",
        );
    let err = scene.refuse(&scene.wheel(&builder));
    assert!(
        matches!(&err, WheelError::ReplacesVenvFile { entry, path, .. }
            if entry == "cfg-1.0.data/data/pyvenv.cfg" && path == "/opt/venv/pyvenv.cfg"),
        "{err}"
    );
    assert_eq!(std::fs::read(&cfg).unwrap(), before);
    assert!(
        !scene.path(SITE).join("cfg").exists(),
        "nothing written first"
    );
    scene.assert_canary_untouched();
}

#[test]
fn hostile_entries_that_collide_or_write_other_metadata_are_refused() {
    let scene = Scene::new();
    let builder = WheelBuilder::new("twice", "1.0")
        .file("twice/m.py", b"good = 1\n")
        .file("twice-1.0.data/purelib/twice/m.py", b"evil = 1\n");
    let err = scene.refuse(&scene.wheel(&builder));
    assert!(
        matches!(&err, WheelError::Inconsistent { reason, .. }
            if reason.contains("/site-packages/twice/m.py`, as the entry")),
        "{err}"
    );
    let builder = WheelBuilder::new("sneaky", "1.0")
        .file("sneaky-1.0.data/purelib/requests-2.0.dist-info/RECORD", b"");
    let err = scene.refuse(&scene.wheel(&builder));
    assert!(
        matches!(&err, WheelError::Inconsistent { reason, .. }
            if reason.contains("`requests-2.0.dist-info`, another distribution's metadata")),
        "{err}"
    );
    scene.assert_canary_untouched();
}

#[test]
fn hostile_record_without_size_cannot_inflate_past_declared_size() {
    let scene = Scene::new();
    // 8 MiB of zeros deflate to a few KiB; the zip headers are
    // patched to declare 1 KiB, and RECORD gives no size (and a wrong
    // hash, so only the size bound can stop it early).
    let content = vec![0u8; 8 << 20];
    let builder = WheelBuilder::new("bomb", "1.0")
        .file("bomb/zeros.bin", &content)
        .record(&format!(
            "bomb/zeros.bin,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,\n{}{}bomb-1.0.dist-info/RECORD,,\n",
            record_line(
                "bomb-1.0.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: bomb\nVersion: 1.0\n"
            ),
            record_line(
                "bomb-1.0.dist-info/WHEEL",
                b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            ),
        ));
    let mut bytes = builder.bytes();
    assert!(bytes.len() < 1 << 20);
    patch_entry(&mut bytes, "bomb/zeros.bin", None, Some(1024));
    let err = scene.refuse(&write_bytes(&scene, &builder, &bytes));
    assert!(
        matches!(&err, WheelError::TooLarge { entry, reason, .. }
            if entry == "bomb/zeros.bin"
                && reason == "it decompresses to more than the 1024 bytes its zip header declares"),
        "{err}"
    );
    assert!(!scene.path(SITE).join("bomb/zeros.bin").exists());
    scene.assert_canary_untouched();
}

#[test]
fn hostile_record_size_differs_from_zip_header() {
    let scene = Scene::new();
    let content = b"print('hello')\n";
    let hash = record_line("x", content);
    let hash = hash.split(',').nth(1).unwrap();
    let builder = WheelBuilder::new("liar", "1.0")
        .file("liar/a.py", content)
        .record(&format!(
            "liar/a.py,{hash},999999\n{}{}liar-1.0.dist-info/RECORD,,\n",
            record_line(
                "liar-1.0.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: liar\nVersion: 1.0\n"
            ),
            record_line(
                "liar-1.0.dist-info/WHEEL",
                b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            ),
        ));
    let err = scene.refuse(&scene.wheel(&builder));
    assert!(
        matches!(&err, WheelError::RecordMismatch { entry, reason, .. }
            if entry == "liar/a.py"
                && reason == "its zip header declares 15 bytes, `RECORD` says 999999"),
        "{err}"
    );
    assert!(
        !scene.path(SITE).join("liar").exists(),
        "refused before writing"
    );
    scene.assert_canary_untouched();
}

#[test]
fn hostile_wheel_declaring_more_than_the_cap_is_refused_before_writing() {
    let scene = Scene::new();
    let builder = WheelBuilder::new("huge", "1.0")
        .file("huge/a.bin", b"a")
        .file("huge/b.bin", b"b")
        .file("huge/c.bin", b"c");
    let mut bytes = builder.bytes();
    for name in ["huge/a.bin", "huge/b.bin", "huge/c.bin"] {
        patch_entry(&mut bytes, name, None, Some(0xF000_0000));
    }
    let err = scene.refuse(&write_bytes(&scene, &builder, &bytes));
    assert!(
        matches!(&err, WheelError::TooLarge { reason, .. }
            if reason.contains("bytes in all, more than the 8589934592 bytes lockship unpacks")),
        "{err}"
    );
    assert!(!scene.path(SITE).join("huge").exists());
    scene.assert_canary_untouched();
}

#[test]
fn hostile_unrecorded_or_mis_hashed_entries_are_refused() {
    let scene = Scene::new();
    let builder = WheelBuilder::new("extra", "1.0")
        .file("extra/__init__.py", b"x = 1\n")
        .unrecorded("extra/hidden.py", b"import os\n");
    let err = scene.refuse(&scene.wheel(&builder));
    assert!(
        matches!(&err, WheelError::RecordIncomplete { entry, .. } if entry == "extra/hidden.py"),
        "{err}"
    );
    assert!(
        !scene.path(SITE).join("extra").exists(),
        "refused before writing"
    );

    let builder = WheelBuilder::new("hashy", "1.0").file("hashy/m.py", b"evil = 1\n");
    let record = builder.generated_record().replace(
        &record_line("hashy/m.py", b"evil = 1\n"),
        &record_line("hashy/m.py", b"good = 1\n"),
    );
    let builder = builder.record(&format!(
        "{record}{}{}",
        record_line(
            "hashy-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: hashy\nVersion: 1.0\n"
        ),
        record_line(
            "hashy-1.0.dist-info/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    ));
    let err = scene.refuse(&scene.wheel(&builder));
    assert!(
        matches!(&err, WheelError::RecordMismatch { entry, reason, .. }
            if entry == "hashy/m.py" && reason.starts_with("sha256 is")),
        "{err}"
    );
    assert!(!scene.path(SITE).join("hashy/m.py").exists());

    // A line without a hash proves nothing: refused before writing.
    let builder = WheelBuilder::new("nohash", "1.0").file("nohash/m.py", b"x = 1\n");
    let record = builder
        .generated_record()
        .replace(&record_line("nohash/m.py", b"x = 1\n"), "nohash/m.py,,\n");
    let builder = builder.record(&format!(
        "{record}{}{}",
        record_line(
            "nohash-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: nohash\nVersion: 1.0\n"
        ),
        record_line(
            "nohash-1.0.dist-info/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    ));
    let err = scene.refuse(&scene.wheel(&builder));
    assert!(
        matches!(&err, WheelError::RecordMismatch { entry, reason, .. }
            if entry == "nohash/m.py" && reason == "`RECORD` gives no hash"),
        "{err}"
    );
    assert!(!scene.path(SITE).join("nohash").exists());
    scene.assert_canary_untouched();
}

fn python3() -> Option<&'static str> {
    let ok = std::process::Command::new("python3")
        .args(["-c", "pass"])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some("python3")
    } else if std::env::var_os("CI").is_some_and(|v| v == "true") {
        panic!("python3 is required under CI=true");
    } else {
        None
    }
}
