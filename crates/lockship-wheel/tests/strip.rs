//! Stripping debug sections from real shared objects, compiled here with
//! `cc -g`, and from wheels while they are installed.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::WheelBuilder;
use lockship_wheel::{
    install_wheel, install_wheel_with, strip_debug, write_venv_skeleton, InstallOptions, VenvLayout,
};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};
use sha2::{Digest, Sha256};

const SOURCE: &str = r#"
#include <string.h>
struct point { int x; int y; };
static const char *names[] = { "alpha", "beta", "gamma" };
int lockship_add(int a, int b) { struct point p = { a, b }; return p.x + p.y; }
int lockship_name_len(int i) { return (int)strlen(names[i % 3]); }
"#;

fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| v == "true")
}

/// Compiles `SOURCE` into a shared object with `flags`; `None` (with a
/// message) when there is no C compiler, except under `CI=true`.
fn compile(dir: &Path, name: &str, flags: &[&str]) -> Option<PathBuf> {
    let c = dir.join("ext.c");
    std::fs::write(&c, SOURCE).unwrap();
    let out = dir.join(name);
    let status = Command::new("cc")
        .args(flags)
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(&c)
        .status();
    match status {
        Ok(s) if s.success() => Some(out),
        Ok(s) => panic!("cc failed: {s}"),
        Err(e) if under_ci() => panic!("cc is required under CI=true: {e}"),
        Err(e) => {
            eprintln!("skipping: no C compiler (`cc`: {e})");
            None
        }
    }
}

fn section_names(bytes: &[u8]) -> Vec<String> {
    let file = object::File::parse(bytes).unwrap();
    file.sections()
        .map(|s| s.name().unwrap().to_string())
        .collect()
}

fn has_debug(bytes: &[u8]) -> bool {
    section_names(bytes)
        .iter()
        .any(|n| n.starts_with(".debug") || n.starts_with(".zdebug"))
}

/// Every segment's file bytes, which stripping must not change, but for
/// the three fields of the ELF header that locate the section headers
/// (`e_shoff`, `e_shnum`, `e_shstrndx`; the loader reads none of them).
fn segments(bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let file = object::File::parse(bytes).unwrap();
    file.segments()
        .map(|s| {
            let mut data = s.data().unwrap().to_vec();
            if s.file_range().0 == 0 {
                let (shoff, shnum) = if data[4] == 2 {
                    (0x28..0x30, 0x3c..0x40)
                } else {
                    (0x20..0x24, 0x30..0x34)
                };
                data[shoff].fill(0);
                data[shnum].fill(0);
            }
            (s.address(), data)
        })
        .collect()
}

/// Loads the library with `ctypes` and calls into it; `None` when there is
/// no python3, except under `CI=true`.
fn call_with_ctypes(lib: &Path) -> Option<String> {
    let script = "import ctypes, sys\nlib = ctypes.CDLL(sys.argv[1])\nprint(lib.lockship_add(2, 40), lib.lockship_name_len(2))\n";
    match Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(lib)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "ctypes could not load {}: {}",
                lib.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8(out.stdout).unwrap())
        }
        Err(e) if under_ci() => panic!("python3 is required under CI=true: {e}"),
        Err(e) => {
            eprintln!("skipping the ctypes check: no python3 ({e})");
            None
        }
    }
}

/// `readelf` accepts the file without a warning, when it is installed.
fn readelf_accepts(lib: &Path) {
    let Ok(out) = Command::new("readelf").arg("-aW").arg(lib).output() else {
        eprintln!("skipping the readelf check: no readelf");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "readelf failed: {stderr}");
    assert!(stderr.trim().is_empty(), "readelf warns: {stderr}");
}

#[test]
fn stripped_c_extension_loads_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let Some(lib) = compile(dir.path(), "libdebug.so", &["-g"]) else {
        return;
    };
    let original = std::fs::read(&lib).unwrap();
    assert!(has_debug(&original), "cc -g left no .debug sections");
    let stripped = strip_debug(&original).unwrap().expect("something to strip");
    assert!(!has_debug(&stripped));
    assert!(
        stripped.len() < original.len(),
        "{} bytes, was {}",
        stripped.len(),
        original.len()
    );
    assert!(
        segments(&stripped) == segments(&original),
        "a segment changed"
    );
    let kept: Vec<String> = section_names(&original)
        .into_iter()
        .filter(|n| !n.starts_with(".debug"))
        .collect();
    assert_eq!(section_names(&stripped), kept);
    // The symbol table stays (`--strip-debug`, not `--strip-all`).
    let symbols = object::File::parse(&*stripped).unwrap();
    assert!(symbols.symbols().any(|s| s.name() == Ok("lockship_add")));

    let out = dir.path().join("libstripped.so");
    std::fs::write(&out, &stripped).unwrap();
    readelf_accepts(&out);
    if let Some(printed) = call_with_ctypes(&out) {
        assert_eq!(printed, "42 5\n");
    }

    // What GNU strip keeps, lockship keeps, and it saves as much.
    if Command::new("strip").arg("--version").output().is_ok() {
        let gnu = dir.path().join("libgnu.so");
        let status = Command::new("strip")
            .arg("--strip-debug")
            .arg("-o")
            .arg(&gnu)
            .arg(&lib)
            .status()
            .unwrap();
        assert!(status.success());
        let gnu = std::fs::read(gnu).unwrap();
        assert_eq!(section_names(&stripped), section_names(&gnu));
        assert!(
            stripped.len() <= gnu.len() + 512,
            "{} vs {}",
            stripped.len(),
            gnu.len()
        );
    }
}

#[test]
fn stripping_is_deterministic_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let Some(lib) = compile(dir.path(), "libdebug.so", &["-g3"]) else {
        return;
    };
    let original = std::fs::read(&lib).unwrap();
    let once = strip_debug(&original).unwrap().unwrap();
    assert_eq!(strip_debug(&original).unwrap().unwrap(), once);
    assert_eq!(strip_debug(&once).unwrap(), None, "nothing left to strip");
}

#[test]
fn a_shared_object_without_debug_info_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let Some(lib) = compile(dir.path(), "libplain.so", &["-g0"]) else {
        return;
    };
    let original = std::fs::read(&lib).unwrap();
    assert!(!has_debug(&original));
    assert_eq!(strip_debug(&original).unwrap(), None);
}

#[test]
fn compressed_debug_sections_are_stripped() {
    let dir = tempfile::tempdir().unwrap();
    let Some(lib) = compile(dir.path(), "libz.so", &["-g", "-gz"]) else {
        return;
    };
    let original = std::fs::read(&lib).unwrap();
    let stripped = strip_debug(&original).unwrap().unwrap();
    assert!(!has_debug(&stripped));
    let out = dir.path().join("libz-stripped.so");
    std::fs::write(&out, &stripped).unwrap();
    readelf_accepts(&out);
}

/// A 32-bit shared object (linked without the C library, so that only a
/// compiler able to emit i386 code is needed; skipped where it cannot).
#[test]
fn elf32_shared_objects_are_stripped_too() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("f.c");
    std::fs::write(&c, "int lockship_inc(int a) { return a + 1; }\n").unwrap();
    let lib = dir.path().join("lib32.so");
    let built = Command::new("cc")
        .args(["-m32", "-g", "-shared", "-fPIC", "-nostdlib", "-o"])
        .arg(&lib)
        .arg(&c)
        .output();
    if !built.is_ok_and(|out| out.status.success()) {
        eprintln!("skipping: `cc -m32` cannot build an i386 shared object here");
        return;
    }
    let original = std::fs::read(&lib).unwrap();
    assert_eq!(original[4], 1, "ELFCLASS32");
    let stripped = strip_debug(&original).unwrap().expect("something to strip");
    assert!(!has_debug(&stripped));
    assert!(stripped.len() < original.len());
    assert!(
        segments(&stripped) == segments(&original),
        "a segment changed"
    );
    let out = dir.path().join("lib32-stripped.so");
    std::fs::write(&out, &stripped).unwrap();
    readelf_accepts(&out);
    let gnu = dir.path().join("lib32-gnu.so");
    let gnu_ok = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&gnu)
        .arg(&lib)
        .status()
        .is_ok_and(|s| s.success());
    if gnu_ok {
        let gnu = std::fs::read(gnu).unwrap();
        assert_eq!(section_names(&stripped), section_names(&gnu));
    }
}

/// Cut, flipped and garbled shared objects: never a panic, never an
/// invalid rewrite; either left alone or stripped into a file that parses.
#[test]
fn hostile_corrupted_shared_objects_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let Some(lib) = compile(dir.path(), "libdebug.so", &["-g"]) else {
        return;
    };
    let original = std::fs::read(&lib).unwrap();
    for cut in [
        0,
        4,
        16,
        63,
        64,
        200,
        original.len() / 2,
        original.len() - 1,
    ] {
        assert!(strip_debug(&original[..cut]).is_ok(), "cut at {cut}");
    }
    let shoff = u64::from_le_bytes(original[0x28..0x30].try_into().unwrap()) as usize;
    assert!(
        shoff > 0 && shoff < original.len(),
        "a little-endian ELF64 file"
    );
    let mut rewritten = 0;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let mut bytes = original.clone();
        for _ in 0..1 + next() % 4 {
            // Mostly the ELF header and the section headers, where the
            // structure lives.
            let at = match next() % 3 {
                0 => (next() % 64) as usize,
                1 => shoff + (next() % (bytes.len() - shoff) as u64) as usize,
                _ => (next() % bytes.len() as u64) as usize,
            };
            bytes[at] = next() as u8;
        }
        match strip_debug(&bytes) {
            Ok(Some(out)) => {
                assert!(out.len() < bytes.len());
                rewritten += 1;
            }
            Ok(None) => {}
            Err(e) => panic!("a rewrite failed its own check: {e}"),
        }
    }
    assert!(rewritten > 0, "no mutated file was stripped at all");
}

fn venv(root: &Path) -> VenvLayout {
    VenvLayout {
        root: root.to_path_buf(),
        prefix: "/opt/venv".into(),
        python: "/usr/bin/python3.11".into(),
        python_version: (3, 11),
        python_full_version: Some("3.11.2".into()),
    }
}

/// `RECORD` as path → (sha256 base64, size).
fn read_record(path: &Path) -> BTreeMap<String, (String, u64)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(',');
            let (path, hash, size) = (fields.next()?, fields.next()?, fields.next()?);
            let hash = hash.strip_prefix("sha256=")?;
            Some((path.to_string(), (hash.to_string(), size.parse().ok()?)))
        })
        .collect()
}

fn b64_sha256(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

const EXT: &str = "pkg/_speedups.cpython-311-x86_64-linux-gnu.so";
const GRAFTED: &str = "pkg.libs/libfoo-1a2b3c4d.so.1.0";
const GRAFTED_DATA: &str = "pkg-1.0.data/platlib/other.libs/libbar.so";

fn debug_wheel(dir: &Path, lib: &[u8]) -> PathBuf {
    WheelBuilder::new("pkg", "1.0")
        .file("pkg/__init__.py", b"")
        .file(EXT, lib)
        .file(GRAFTED, lib)
        .file(GRAFTED_DATA, lib)
        .file("pkg/not-elf.so", b"\x7fELF but not really")
        .write(dir)
}

#[test]
fn hostile_auditwheel_grafted_library_is_never_stripped() {
    let dir = tempfile::tempdir().unwrap();
    let Some(lib) = compile(dir.path(), "libdebug.so", &["-g"]) else {
        return;
    };
    let lib = std::fs::read(lib).unwrap();
    let wheel = debug_wheel(dir.path(), &lib);
    let root = dir.path().join("stage");
    let venv = venv(&root);
    write_venv_skeleton(&venv).unwrap();
    let installed = install_wheel(&wheel, &venv).unwrap();

    let sp = root.join("opt/venv/lib/python3.11/site-packages");
    let ext = std::fs::read(sp.join(EXT)).unwrap();
    assert!(!has_debug(&ext), "the wheel's own extension is stripped");
    // auditwheel's grafted libraries stay byte for byte, wherever they sit.
    assert_eq!(std::fs::read(sp.join(GRAFTED)).unwrap(), lib);
    assert_eq!(std::fs::read(sp.join("other.libs/libbar.so")).unwrap(), lib);
    assert_eq!(
        std::fs::read(sp.join("pkg/not-elf.so")).unwrap(),
        b"\x7fELF but not really"
    );
    assert_eq!(installed.stripped.files, 1);
    assert_eq!(installed.stripped.bytes_before, lib.len() as u64);
    assert_eq!(installed.stripped.bytes_after, ext.len() as u64);
    assert_eq!(installed.stripped.saved(), (lib.len() - ext.len()) as u64);

    // The new RECORD agrees with every file on disk.
    let record = read_record(&sp.join("pkg-1.0.dist-info/RECORD"));
    assert_eq!(record[EXT], (b64_sha256(&ext), ext.len() as u64));
    assert_eq!(record[GRAFTED], (b64_sha256(&lib), lib.len() as u64));
    for (path, (hash, size)) in &record {
        let content = std::fs::read(sp.join(path)).unwrap();
        assert_eq!(
            (&b64_sha256(&content), content.len() as u64),
            (hash, *size),
            "{path}"
        );
    }
    assert!(installed.files.contains(&EXT.to_string()));
    let mode = std::fs::metadata(sp.join(EXT)).unwrap().permissions();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.mode() & 0o777, 0o644);
    let leftovers: Vec<_> = std::fs::read_dir(sp.join("pkg"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("lockship-strip"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    if let Some(printed) = call_with_ctypes(&sp.join(EXT)) {
        assert_eq!(printed, "42 5\n");
    }
}

#[test]
fn no_strip_installs_shared_objects_as_shipped() {
    let dir = tempfile::tempdir().unwrap();
    let Some(lib) = compile(dir.path(), "libdebug.so", &["-g"]) else {
        return;
    };
    let lib = std::fs::read(lib).unwrap();
    let wheel = debug_wheel(dir.path(), &lib);
    let root = dir.path().join("stage");
    let venv = venv(&root);
    let options = InstallOptions { strip: false };
    let installed = install_wheel_with(&wheel, &venv, &options).unwrap();
    let sp = root.join("opt/venv/lib/python3.11/site-packages");
    assert_eq!(std::fs::read(sp.join(EXT)).unwrap(), lib);
    assert_eq!(installed.stripped, Default::default());
}

/// Two installs of one wheel give the same tree, stripped files included.
#[test]
fn stripped_installs_are_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let Some(lib) = compile(dir.path(), "libdebug.so", &["-g"]) else {
        return;
    };
    let wheel = debug_wheel(dir.path(), &std::fs::read(lib).unwrap());
    let trees: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            let root = dir.path().join(name);
            install_wheel(&wheel, &venv(&root)).unwrap();
            common::tree(&root)
        })
        .collect();
    assert_eq!(trees[0], trees[1]);
}
