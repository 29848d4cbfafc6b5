//! Installing wheels built in the test into a staged virtualenv.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{record_line, tree, WheelBuilder};
use lockship_wheel::{install_wheel, write_venv_skeleton, VenvLayout, WheelError};

fn venv(root: &Path) -> VenvLayout {
    VenvLayout {
        root: root.to_path_buf(),
        prefix: "/opt/venv".into(),
        python: "/usr/bin/python3.11".into(),
        python_version: (3, 11),
        python_full_version: Some("3.11.2".into()),
    }
}

fn demo() -> WheelBuilder {
    WheelBuilder::new("demo_pkg", "1.0")
        .file("demo_pkg/__init__.py", b"def main():\n    return 0\n")
        .exec_file("demo_pkg/tool.sh", b"#!/bin/sh\necho hi\n")
        .file("demo_pkg/sub/data.txt", b"payload")
        .symlink("demo_pkg/alias.txt", "sub/data.txt")
        .file(
            "demo_pkg-1.0.dist-info/entry_points.txt",
            b"[console_scripts]\ndemo = demo_pkg:main\n\n[gui_scripts]\ndemo-gui = demo_pkg.gui:App.run\n\n[other]\nignored = x:y\n",
        )
        .file("demo_pkg-1.0.data/scripts/legacy", b"#!python\nimport demo_pkg\n")
        .file("demo_pkg-1.0.data/scripts/plain.sh", b"#!/bin/sh\nexit 0\n")
        .file("demo_pkg-1.0.data/data/share/demo/readme", b"shared")
        .file("demo_pkg-1.0.data/headers/demo.h", b"int x;")
        .file("demo_pkg-1.0.data/platlib/demo_ext.so", b"\x7fELF")
}

#[test]
fn installs_scripts_data_and_rewrites_record() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = demo().write(dir.path());
    let root = dir.path().join("stage");
    let venv = venv(&root);
    write_venv_skeleton(&venv).unwrap();
    let installed = install_wheel(&wheel, &venv).unwrap();
    assert_eq!(
        (installed.name.as_str(), installed.version.as_str()),
        ("demo_pkg", "1.0")
    );

    let sp = root.join("opt/venv/lib/python3.11/site-packages");
    let record = std::fs::read_to_string(sp.join("demo_pkg-1.0.dist-info/RECORD")).unwrap();
    insta::assert_snapshot!(record, @r#"
../../../bin/demo,sha256=0MLu2Rt6fJHDPz-dQO2EAmCgIOiqMBiQ_-Xyw-ogbck,211
../../../bin/demo-gui,sha256=XZ2rGgbI_T-9eowPeQAb4tGuQvH-2Bw0teTVeo_etd8,217
../../../bin/legacy,sha256=4wPZVVqiOvp6PfMSmKmZzs9f0-KuaooyM5iXPdIDkWo,39
../../../bin/plain.sh,sha256=MGxsp0B1YDQHl4ZuB34FNietQJJ30bnaWBBvzkz3F8s,17
../../../include/site/python3.11/demo_pkg/demo.h,sha256=4T4zK9COE8viruCU4TDtI4eLO1VL5bmmZag-Y8qph64,6
../../../share/demo/readme,sha256=pNJoaAF8DM_-Lv5QlE70IRg0ZgzKg0xun4bexqiCRvo,6
demo_ext.so,sha256=O9u0_oOXzSuEJDCznM_wGoZjx1GUXvXpoJ4mf7ix01k,4
demo_pkg-1.0.dist-info/INSTALLER,sha256=NxmRE60jrnfNRfnBzFKzbfNV9qWXKvPlCj-zhQj3fwk,9
demo_pkg-1.0.dist-info/METADATA,sha256=Qu95sMQ-TexyiWYaTMeFFItWXowwLDl2dAyjmamboAw,50
demo_pkg-1.0.dist-info/RECORD,,
demo_pkg-1.0.dist-info/WHEEL,sha256=GOJWfGKy_s7ZRMtmrMyJFvIHxzo0gLZVhGWWyTqB6uo,75
demo_pkg-1.0.dist-info/entry_points.txt,sha256=sNpg4udx80hIbGahprQ_7WyMT8GU_NO9i-jsXMOgEkE,109
demo_pkg/__init__.py,sha256=EEPvUuiyFFOCNorP4yRHIPMZ9TmlTxVCqcPIV-09IRE,25
demo_pkg/alias.txt,sha256=Q_9C8PUIoFp5t-2Hm_9prWTzO1nhGDK3wpZCAITxRyM,12
demo_pkg/sub/data.txt,sha256=I59Z7VXnN8dxR89VrQwbAwttfudIp0JpUvm4UtWpNeU,7
demo_pkg/tool.sh,sha256=KZABho-4wC_UMcM2xtBY9VWMXf9bWvXm_gS4cKapy7o,18
"#);
    let mut from_record: Vec<String> = record
        .lines()
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    from_record.sort();
    assert_eq!(installed.files, from_record);

    let bin = root.join("opt/venv/bin");
    insta::assert_snapshot!(std::fs::read_to_string(bin.join("demo")).unwrap(), @r#"
#!/opt/venv/bin/python
# -*- coding: utf-8 -*-
import re
import sys
from demo_pkg import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\.pyw|\.exe)?$", "", sys.argv[0])
    sys.exit(main())
"#);
    let gui = std::fs::read_to_string(bin.join("demo-gui")).unwrap();
    assert!(gui.contains("from demo_pkg.gui import App\n") && gui.contains("sys.exit(App.run())"));
    assert_eq!(
        std::fs::read_to_string(bin.join("legacy")).unwrap(),
        "#!/opt/venv/bin/python\nimport demo_pkg\n"
    );
    assert_eq!(
        std::fs::read_to_string(bin.join("plain.sh")).unwrap(),
        "#!/bin/sh\nexit 0\n"
    );
    for (path, mode) in [
        (bin.join("demo"), 0o755),
        (bin.join("legacy"), 0o755),
        (bin.join("plain.sh"), 0o755),
        (sp.join("demo_pkg/tool.sh"), 0o755),
        (sp.join("demo_pkg/__init__.py"), 0o644),
    ] {
        let actual = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(actual, mode, "{}", path.display());
    }
    assert_eq!(
        std::fs::read(root.join("opt/venv/share/demo/readme")).unwrap(),
        b"shared"
    );
    assert_eq!(
        std::fs::read(root.join("opt/venv/include/site/python3.11/demo_pkg/demo.h")).unwrap(),
        b"int x;"
    );
    assert_eq!(std::fs::read(sp.join("demo_ext.so")).unwrap(), b"\x7fELF");
    // A symlink entry is installed as a file holding the link text, as pip
    // does: wheels never plant links.
    assert!(std::fs::symlink_metadata(sp.join("demo_pkg/alias.txt"))
        .unwrap()
        .is_file());
    assert_eq!(
        std::fs::read(sp.join("demo_pkg/alias.txt")).unwrap(),
        b"sub/data.txt"
    );
    assert_eq!(
        std::fs::read(sp.join("demo_pkg-1.0.dist-info/INSTALLER")).unwrap(),
        b"lockship\n"
    );
    assert!(!sp.join("demo_pkg-1.0.data").exists());
    assert!(!root
        .join("opt/venv/lib/python3.11/site-packages/demo_pkg-1.0.dist-info/REQUESTED")
        .exists());
}

#[test]
fn same_wheel_gives_a_byte_identical_tree() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = demo().write(dir.path());
    let mut trees = Vec::new();
    for name in ["a", "b"] {
        let venv = venv(&dir.path().join(name));
        write_venv_skeleton(&venv).unwrap();
        install_wheel(&wheel, &venv).unwrap();
        trees.push(tree(&dir.path().join(name)));
    }
    assert!(trees[0].len() > 20);
    assert_eq!(trees[0], trees[1]);
}

/// Installs `builder`'s wheel into a fresh staging tree and returns the error.
fn refuse(builder: WheelBuilder) -> (WheelError, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let wheel = builder.write(dir.path());
    let venv = venv(&dir.path().join("stage"));
    let err = install_wheel(&wheel, &venv).unwrap_err();
    assert!(err.hint().is_some() || matches!(err, WheelError::InvalidMetadata { .. }));
    (err, dir)
}

#[test]
fn refuses_parent_dir_traversal() {
    let (err, dir) = refuse(WheelBuilder::new("evil", "1.0").file("../../escaped.py", b"x"));
    assert!(
        matches!(&err, WheelError::UnsafePath { entry, .. } if entry == "../../escaped.py"),
        "{err}"
    );
    assert!(!dir.path().join("escaped.py").exists());
    assert!(
        !dir.path().join("stage").exists(),
        "nothing is written before the check"
    );
    let (err, _) = refuse(WheelBuilder::new("evil", "1.0").file("evil/../../x.py", b"x"));
    assert!(matches!(err, WheelError::UnsafePath { .. }), "{err}");
}

#[test]
fn refuses_absolute_paths() {
    let (err, _) = refuse(WheelBuilder::new("evil", "1.0").file("/tmp/pwned", b"x"));
    assert!(
        matches!(&err, WheelError::UnsafePath { entry, .. } if entry == "/tmp/pwned"),
        "{err}"
    );
    assert!(err.to_string().contains("absolute"), "{err}");
}

#[test]
fn symlink_entries_become_plain_files() {
    for target in ["../../../../../etc/passwd", "/etc/passwd"] {
        let dir = tempfile::tempdir().unwrap();
        let wheel = WheelBuilder::new("evil", "1.0")
            .symlink("evil/link", target)
            .write(dir.path());
        let venv = venv(&dir.path().join("stage"));
        install_wheel(&wheel, &venv).unwrap();
        let link = dir
            .path()
            .join("stage/opt/venv/lib/python3.11/site-packages/evil/link");
        let meta = std::fs::symlink_metadata(&link).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o644);
        assert_eq!(std::fs::read(&link).unwrap(), target.as_bytes());
    }
}

#[test]
fn refuses_corrupt_zips() {
    let dir = tempfile::tempdir().unwrap();
    let venv = venv(&dir.path().join("stage"));
    let garbage = dir.path().join("junk-1.0-py3-none-any.whl");
    std::fs::write(&garbage, b"this is not a zip file at all").unwrap();
    let err = install_wheel(&garbage, &venv).unwrap_err();
    assert!(matches!(err, WheelError::CorruptZip { .. }), "{err}");

    let mut bytes = WheelBuilder::new("cut", "1.0")
        .file("cut/a.py", &[b'a'; 4000])
        .bytes();
    // Damage the compressed data of the first entry: the CRC check fails.
    for b in &mut bytes[60..90] {
        *b ^= 0x55;
    }
    let damaged = dir.path().join("cut-1.0-py3-none-any.whl");
    std::fs::write(&damaged, &bytes).unwrap();
    let err = install_wheel(&damaged, &venv).unwrap_err();
    assert!(
        matches!(err, WheelError::CorruptZip { .. } | WheelError::Io { .. }),
        "{err}"
    );
}

#[test]
fn refuses_a_record_that_lies() {
    let good = b"print('good')\n";
    let evil = b"print('evil')\n";
    let lying = format!(
        "{}liar-1.0.dist-info/RECORD,,\n",
        record_line("liar/a.py", good)
    );
    let with_meta = |b: WheelBuilder| {
        let meta = b"Metadata-Version: 2.1\nName: liar\nVersion: 1.0\n";
        let wheel = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n";
        let record = format!(
            "{}{}{}",
            record_line("liar-1.0.dist-info/METADATA", meta),
            record_line("liar-1.0.dist-info/WHEEL", wheel),
            lying
        );
        b.file("liar-1.0.dist-info/METADATA", meta)
            .file("liar-1.0.dist-info/WHEEL", wheel)
            .record(&record)
    };
    let (err, dir) = refuse(with_meta(
        WheelBuilder::new("liar", "1.0").file("liar/a.py", evil),
    ));
    assert!(
        matches!(&err, WheelError::RecordMismatch { entry, .. } if entry == "liar/a.py"),
        "{err}"
    );
    assert!(!dir
        .path()
        .join("stage/opt/venv/lib/python3.11/site-packages/liar/a.py")
        .exists());

    // A file the RECORD does not mention.
    let (err, _) = refuse(WheelBuilder::new("extra", "1.0").unrecorded("extra/hidden.py", evil));
    assert!(
        matches!(&err, WheelError::RecordIncomplete { entry, .. } if entry == "extra/hidden.py"),
        "{err}"
    );

    // A RECORD line for a file the archive lacks.
    let (err, _) = refuse(with_meta(WheelBuilder::new("liar", "1.0")));
    assert!(
        matches!(&err, WheelError::RecordIncomplete { entry, .. } if entry == "liar/a.py"),
        "{err}"
    );
}

const S_META: &[u8] = b"Metadata-Version: 2.1\nName: s\nVersion: 1.0\n";

#[test]
fn refuses_a_size_lie_alone() {
    let content = b"abc";
    let wheel_meta = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n";
    let hash = record_line("x", content);
    let hash = hash.split(',').nth(1).unwrap();
    let record = format!(
        "s/a.py,{hash},4\n{}s-1.0.dist-info/RECORD,,\n",
        record_line("s-1.0.dist-info/WHEEL", wheel_meta)
    );
    let (err, _) = refuse(
        WheelBuilder::new("s", "1.0")
            .file("s/a.py", content)
            .file("s-1.0.dist-info/WHEEL", wheel_meta)
            .file("s-1.0.dist-info/METADATA", S_META)
            .record(&record.replace(
                "s-1.0.dist-info/RECORD,,",
                &format!(
                    "{}s-1.0.dist-info/RECORD,,",
                    record_line("s-1.0.dist-info/METADATA", S_META)
                ),
            )),
    );
    assert!(
        matches!(&err, WheelError::RecordMismatch { reason, .. }
            if reason == "its zip header declares 3 bytes, `RECORD` says 4"),
        "{err}"
    );
}

#[test]
fn refuses_a_foreign_dist_info() {
    let (err, _) = refuse(
        WheelBuilder::new("demo_pkg", "1.0")
            .file("other-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n"),
    );
    assert!(matches!(err, WheelError::InvalidMetadata { .. }), "{err}");
}

#[test]
fn refuses_entries_through_a_symlink() {
    // `pkg/up -> ..` stays inside lexically, but `pkg/up/up2 -> ..` would
    // land above site-packages.
    let (err, _) = refuse(
        WheelBuilder::new("chain", "1.0")
            .symlink("chain/up", "..")
            .symlink("chain/up/up2", ".."),
    );
    assert!(
        matches!(&err, WheelError::UnsafePath { entry, reason, .. } if entry == "chain/up/up2" && reason.contains("symlink")),
        "{err}"
    );
}

#[test]
fn refuses_writing_through_a_symlink_left_in_the_staging_tree() {
    let dir = tempfile::tempdir().unwrap();
    let venv = venv(&dir.path().join("stage"));
    write_venv_skeleton(&venv).unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let sp = dir
        .path()
        .join("stage/opt/venv/lib/python3.11/site-packages");
    std::os::unix::fs::symlink(&outside, sp.join("victim")).unwrap();
    let wheel = WheelBuilder::new("victim", "1.0")
        .file("victim/__init__.py", b"x")
        .write(dir.path());
    let err = install_wheel(&wheel, &venv).unwrap_err();
    assert!(matches!(err, WheelError::UnsafePath { .. }), "{err}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn sha512_records_are_accepted() {
    use base64::Engine;
    use sha2::Digest;
    const D_META: &[u8] = b"Metadata-Version: 2.1\nName: d\nVersion: 1.0\n";
    let content = b"x = 1\n";
    let digest =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha512::digest(content));
    let wheel_meta = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n";
    let record = format!(
        "d/m.py,sha512={digest},6\n{}{}d-1.0.dist-info/RECORD,,\n",
        record_line("d-1.0.dist-info/WHEEL", wheel_meta),
        record_line("d-1.0.dist-info/METADATA", D_META)
    );
    let dir = tempfile::tempdir().unwrap();
    let wheel = WheelBuilder::new("d", "1.0")
        .file("d/m.py", content)
        .file("d-1.0.dist-info/WHEEL", wheel_meta)
        .file("d-1.0.dist-info/METADATA", D_META)
        .record(&record)
        .write(dir.path());
    let installed = install_wheel(&wheel, &venv(&dir.path().join("stage"))).unwrap();
    assert!(installed.files.contains(&"d/m.py".to_string()));
}

/// The launcher and the rewritten script really run under a Python
/// interpreter (when the machine has one; the shebang's in-image path is
/// bypassed by invoking the interpreter directly).
#[test]
fn launchers_run_under_python() {
    let Ok(python) = which_python() else {
        eprintln!("skipping: no python3 on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let wheel = WheelBuilder::new("runme", "1.0")
        .file(
            "runme/__init__.py",
            b"import sys\ndef main():\n    print('ran', sys.argv[1:])\n    return 3\n",
        )
        .file(
            "runme-1.0.dist-info/entry_points.txt",
            b"[console_scripts]\nrunme = runme:main\n",
        )
        .write(dir.path());
    let venv = venv(&dir.path().join("stage"));
    install_wheel(&wheel, &venv).unwrap();
    let out = std::process::Command::new(python)
        .arg(dir.path().join("stage/opt/venv/bin/runme"))
        .arg("x")
        .env(
            "PYTHONPATH",
            dir.path()
                .join("stage/opt/venv/lib/python3.11/site-packages"),
        )
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran ['x']\n");
    assert_eq!(out.status.code(), Some(3));
}

fn which_python() -> Result<String, ()> {
    let ok = std::process::Command::new("python3")
        .arg("-c")
        .arg("pass")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        Ok("python3".to_string())
    } else if std::env::var_os("CI").is_some_and(|v| v == "true") {
        panic!("python3 is required under CI=true");
    } else {
        Err(())
    }
}
