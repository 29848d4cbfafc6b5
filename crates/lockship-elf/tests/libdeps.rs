//! End-to-end checks on trees of real ELF files built with the host's `cc`.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use std::path::{Path, PathBuf};

use common::{base_rootfs, symlink, Cc, TRIPLET_DIR};
use lockship_elf::{
    check, scan_tree, CheckOptions, ElfFile, ElfKind, Filesystem, Resolver, Scope, Via,
};

const EM_X86_64: u16 = 62;

fn everything(root: &Path) -> lockship_elf::Report {
    check(&Filesystem::new().with_root(root), &CheckOptions::default()).unwrap()
}

fn needers(report: &lockship_elf::Report, soname: &str) -> Vec<String> {
    report
        .missing
        .get(soname)
        .map(|n| n.iter().map(|n| n.path.display().to_string()).collect())
        .unwrap_or_default()
}

fn resolved(report: &lockship_elf::Report, soname: &str) -> Vec<String> {
    report
        .resolved
        .get(soname)
        .map(|p| p.iter().map(|p| p.display().to_string()).collect())
        .unwrap_or_default()
}

fn file<'a>(files: &'a [ElfFile], path: &str) -> &'a ElfFile {
    files
        .iter()
        .find(|f| f.path == Path::new(path))
        .unwrap_or_else(|| panic!("{path} not scanned; have {files:#?}"))
}

/// `/app/bin/prog` needs `libfoo.so.1` from `/app/lib` through `$ORIGIN/../lib`.
fn origin_tree(cc: &Cc, root: &Path, dtags: &str) {
    base_rootfs(root);
    let lib = root.join("app/lib/libfoo.so.1");
    cc.shared(&lib, "libfoo.so.1", &[], &[]);
    cc.exe(
        &root.join("app/bin/prog"),
        &[&lib],
        &["-Wl,-rpath,$ORIGIN/../lib", dtags],
    );
}

#[test]
fn scan_reads_the_dynamic_facts() {
    let cc = Cc::new();
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    origin_tree(&cc, root, "-Wl,--disable-new-dtags");
    cc.static_exe(&root.join("app/bin/static"));
    std::fs::write(root.join("app/bin/script"), "#!/bin/sh\n").unwrap();
    std::fs::write(
        root.join("app/lib/libtrunc.so"),
        b"\x7fELF\x02\x01\x01\0\0\0\0\0",
    )
    .unwrap();

    let scan = scan_tree(root).unwrap();
    let paths: Vec<String> = scan
        .files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "/app/bin/prog",
            "/app/bin/static",
            "/app/lib/libfoo.so.1",
            "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
        ]
    );
    let prog = file(&scan.files, "/app/bin/prog");
    assert_eq!(prog.kind, ElfKind::Executable);
    assert_eq!(prog.machine, EM_X86_64);
    assert!(prog.class64);
    assert_eq!(prog.needed, ["libfoo.so.1", "libc.so.6"]);
    assert_eq!(prog.rpath, ["$ORIGIN/../lib"]);
    assert!(prog.runpath.is_empty());
    assert_eq!(
        prog.interpreter.as_deref(),
        Some("/lib64/ld-linux-x86-64.so.2")
    );
    let lib = file(&scan.files, "/app/lib/libfoo.so.1");
    assert_eq!(lib.kind, ElfKind::SharedObject);
    assert_eq!(lib.soname.as_deref(), Some("libfoo.so.1"));
    assert_eq!(lib.interpreter, None);
    let stat = file(&scan.files, "/app/bin/static");
    assert!(stat.needed.is_empty());
    assert_eq!(stat.interpreter, None);

    assert_eq!(scan.warnings.len(), 1, "{:?}", scan.warnings);
    assert_eq!(scan.warnings[0].path, Path::new("/app/lib/libtrunc.so"));
}

#[test]
fn rpath_origin_resolves_and_a_removed_lib_is_missing() {
    let cc = Cc::new();
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    origin_tree(&cc, root, "-Wl,--disable-new-dtags");
    let report = everything(root);
    assert!(report.is_complete(), "{report:#?}");
    assert_eq!(resolved(&report, "libfoo.so.1"), ["/app/lib/libfoo.so.1"]);
    assert_eq!(
        resolved(&report, "libc.so.6"),
        ["/lib/x86_64-linux-gnu/libc.so.6"]
    );
    assert_eq!(report.scanned, 4);

    std::fs::remove_file(root.join("app/lib/libfoo.so.1")).unwrap();
    let report = everything(root);
    assert_eq!(needers(&report, "libfoo.so.1"), ["/app/bin/prog"]);
    assert_eq!(report.missing.len(), 1);
}

#[test]
fn runpath_origin_resolves() {
    let cc = Cc::new();
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    origin_tree(&cc, root, "-Wl,--enable-new-dtags");
    let scan = scan_tree(root).unwrap();
    let prog = file(&scan.files, "/app/bin/prog");
    assert_eq!(prog.runpath, ["$ORIGIN/../lib"]);
    assert!(prog.rpath.is_empty());
    let report = everything(root);
    assert!(report.is_complete(), "{report:#?}");
    assert_eq!(resolved(&report, "libfoo.so.1"), ["/app/lib/libfoo.so.1"]);

    // Moved out of the RUNPATH: nothing else finds it.
    std::fs::rename(root.join("app/lib"), root.join("app/elsewhere")).unwrap();
    assert_eq!(needers(&everything(root), "libfoo.so.1"), ["/app/bin/prog"]);
}

#[test]
fn rpath_is_ignored_when_runpath_is_present() {
    let fs = Filesystem::new();
    let resolver = Resolver::new(&fs);
    let mut elf = ElfFile {
        path: PathBuf::from("/opt/x/bin/prog"),
        machine: EM_X86_64,
        class64: true,
        kind: ElfKind::Executable,
        soname: None,
        needed: vec![],
        rpath: vec!["/rpath".into()],
        runpath: vec!["$ORIGIN/../$LIB".into()],
        interpreter: None,
    };
    let dirs: Vec<(String, Via)> = resolver
        .search_path(&elf)
        .into_iter()
        .map(|d| (d.dir.display().to_string(), d.via))
        .collect();
    assert_eq!(
        dirs[0],
        ("/opt/x/lib/x86_64-linux-gnu".into(), Via::Runpath)
    );
    assert_eq!(dirs[1], ("/opt/x/lib64".into(), Via::Runpath));
    assert_eq!(dirs[2], ("/lib/x86_64-linux-gnu".into(), Via::DefaultDir));
    assert!(!dirs.iter().any(|(d, _)| d == "/rpath"));
    elf.runpath.clear();
    assert_eq!(resolver.search_path(&elf)[0].dir, Path::new("/rpath"));
}

const SITE: &str = "opt/venv/lib/python3.11/site-packages";

#[test]
fn auditwheel_libs_dir_provides_by_soname() {
    let cc = Cc::new();
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    base_rootfs(root);
    let stub = cc.stub("libfoo.so.1");
    let site = root.join(SITE);
    cc.shared(
        &site.join("pkg/_ext.cpython-311-x86_64-linux-gnu.so"),
        "_ext",
        &[&stub],
        &[],
    );
    cc.shared(
        &site.join("pkg.libs/libfoo-3a4b5c6d.so.1"),
        "libfoo.so.1",
        &[],
        &[],
    );
    // The same soname in another site-packages does not count.
    let other = root.join("opt/other/site-packages");
    cc.shared(&other.join("mod/_x.so"), "_x", &[&stub], &[]);

    let report = everything(root);
    assert_eq!(
        resolved(&report, "libfoo.so.1"),
        [format!("/{SITE}/pkg.libs/libfoo-3a4b5c6d.so.1")]
    );
    assert_eq!(
        needers(&report, "libfoo.so.1"),
        ["/opt/other/site-packages/mod/_x.so"]
    );
}

#[test]
fn auditwheel_rpath_finds_the_hashed_name() {
    let cc = Cc::new();
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    base_rootfs(root);
    let hashed = "libfoo-3a4b5c6d.so.1";
    let stub = cc.stub(hashed);
    let site = root.join(SITE);
    cc.shared(
        &site.join("pkg/_ext.so"),
        "_ext",
        &[&stub],
        &["-Wl,-rpath,$ORIGIN/../pkg.libs"],
    );
    cc.shared(&site.join("pkg.libs").join(hashed), hashed, &[], &[]);
    let report = everything(root);
    assert!(report.is_complete(), "{report:#?}");
    assert_eq!(
        resolved(&report, hashed),
        [format!("/{SITE}/pkg.libs/{hashed}")]
    );

    std::fs::remove_file(site.join("pkg.libs").join(hashed)).unwrap();
    assert_eq!(
        needers(&everything(root), hashed),
        [format!("/{SITE}/pkg/_ext.so")]
    );
}

/// `/app/prog` needs `libhaunted.so.1`, which needs `libghost.so.7`, whose
/// stub is gone.
fn ghost_tree(cc: &Cc, root: &Path) {
    base_rootfs(root);
    let ghost = cc.stub("libghost.so.7");
    let haunted = root.join(TRIPLET_DIR).join("libhaunted.so.1");
    cc.shared(&haunted, "libhaunted.so.1", &[&ghost], &[]);
    cc.exe(&root.join("app/prog"), &[&haunted], &[]);
    std::fs::remove_file(ghost).unwrap();
}

#[test]
fn ghost_soname_is_reported_with_its_needer() {
    let cc = Cc::new();
    let t = tempfile::tempdir().unwrap();
    ghost_tree(&cc, t.path());
    std::fs::write(t.path().join("app/broken.so"), b"\x7fELF\x02\x01").unwrap();
    let report = everything(t.path());
    insta::assert_json_snapshot!("ghost", report);
}

#[test]
fn absolute_symlinks_are_mapped_into_the_tree() {
    let cc = Cc::new();
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    base_rootfs(root);
    let real = root.join(TRIPLET_DIR).join("libbar.so.1.2.3");
    cc.shared(&real, "libbar.so.1", &[], &[]);
    symlink(
        "/usr/lib/x86_64-linux-gnu/libbar.so.1.2.3",
        &root.join(TRIPLET_DIR).join("libbar.so.1"),
    );
    cc.exe(&root.join("app/prog"), &[&real], &[]);
    let report = everything(root);
    assert!(report.is_complete(), "{report:#?}");
    assert_eq!(
        resolved(&report, "libbar.so.1"),
        ["/lib/x86_64-linux-gnu/libbar.so.1"]
    );
    // The real file is scanned once, the link not at all.
    assert_eq!(report.scanned, 4);

    std::fs::remove_file(real).unwrap();
    assert_eq!(needers(&everything(root), "libbar.so.1"), ["/app/prog"]);
}

#[test]
fn nothing_outside_the_tree_is_read() {
    let cc = Cc::new();
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    // No base: libc exists only on the host. A link to the host's libc and a
    // link to the host's library directory must not provide it.
    let host_libc = [
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/x86_64-linux-gnu/libc.so.6",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("amd64 glibc on the host");
    symlink(host_libc, &root.join("opt/lib/libc.so.6"));
    symlink(
        "/usr/lib/x86_64-linux-gnu",
        &root.join("usr/lib/x86_64-linux-gnu"),
    );
    cc.exe(&root.join("opt/bin/prog"), &[], &["-Wl,-rpath,/opt/lib"]);
    let report = everything(root);
    assert_eq!(report.scanned, 1, "{report:#?}");
    assert_eq!(needers(&report, "libc.so.6"), ["/opt/bin/prog"]);
}

#[test]
fn ld_so_conf_d_directories_are_searched() {
    let cc = Cc::new();
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    base_rootfs(root);
    let lib = root.join("opt/custom/lib/libcustom.so.2");
    cc.shared(&lib, "libcustom.so.2", &[], &[]);
    cc.exe(&root.join("app/prog"), &[&lib], &[]);
    assert_eq!(needers(&everything(root), "libcustom.so.2"), ["/app/prog"]);

    std::fs::create_dir_all(root.join("etc/ld.so.conf.d")).unwrap();
    std::fs::write(
        root.join("etc/ld.so.conf"),
        "# comment\ninclude /etc/ld.so.conf.d/*.conf\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/ld.so.conf.d/custom.conf"),
        "/opt/custom/lib  # ours\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/ld.so.conf.d/ignored.conf.bak"), "/nowhere\n").unwrap();
    let fs = Filesystem::new().with_root(root);
    assert_eq!(
        Resolver::new(&fs).ld_so_conf_dirs(),
        [PathBuf::from("/opt/custom/lib")]
    );
    let report = everything(root);
    assert!(report.is_complete(), "{report:#?}");
    assert_eq!(
        resolved(&report, "libcustom.so.2"),
        ["/opt/custom/lib/libcustom.so.2"]
    );
}

#[test]
fn a_lib_of_another_machine_or_class_does_not_count() {
    let cc = Cc::new();
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    base_rootfs(root);
    let good = root.join("usr/local/lib/libfoo.so.1");
    cc.shared(&good, "libfoo.so.1", &[], &[]);
    cc.exe(&root.join("app/prog"), &[&good], &[]);
    // An earlier default directory holds an aarch64 copy and /lib64 a 32-bit one.
    let mut bytes = std::fs::read(&good).unwrap();
    bytes[18..20].copy_from_slice(&183u16.to_le_bytes());
    std::fs::write(root.join(TRIPLET_DIR).join("libfoo.so.1"), &bytes).unwrap();
    let mut elf32 = vec![0u8; 52];
    elf32[..7].copy_from_slice(b"\x7fELF\x01\x01\x01");
    elf32[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
    elf32[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
    std::fs::write(root.join("usr/lib64/libfoo.so.1"), &elf32).unwrap();

    let fs = Filesystem::new().with_root(root);
    let report = check(
        &fs,
        &CheckOptions {
            scope: Scope::Under(vec!["/app".into()]),
            follow_found: false,
        },
    )
    .unwrap();
    assert_eq!(
        resolved(&report, "libfoo.so.1"),
        ["/usr/local/lib/libfoo.so.1"]
    );

    std::fs::remove_file(good).unwrap();
    let report = check(
        &fs,
        &CheckOptions {
            scope: Scope::Under(vec!["/app".into()]),
            follow_found: false,
        },
    )
    .unwrap();
    assert_eq!(needers(&report, "libfoo.so.1"), ["/app/prog"]);
}

#[test]
fn a_venv_mounted_over_a_base() {
    let cc = Cc::new();
    let base = tempfile::tempdir().unwrap();
    let venv = tempfile::tempdir().unwrap();
    ghost_tree(&cc, base.path());
    // The venv's extension needs the base's libhaunted (which needs the ghost)
    // and its own libvenv through RUNPATH.
    let haunted = base.path().join(TRIPLET_DIR).join("libhaunted.so.1");
    let libvenv = venv.path().join("lib/libvenv.so.3");
    cc.shared(&libvenv, "libvenv.so.3", &[], &[]);
    cc.shared(
        &venv.path().join("lib/python3.11/site-packages/m/_m.so"),
        "_m",
        &[&haunted, &libvenv],
        &["-Wl,-rpath,$ORIGIN/../../..", "-Wl,--enable-new-dtags"],
    );
    let fs = Filesystem::new()
        .with_root(base.path())
        .with_mount("/opt/venv", venv.path());
    let venv_only = CheckOptions {
        scope: Scope::Under(vec!["/opt/venv".into()]),
        follow_found: false,
    };

    let report = check(&fs, &venv_only).unwrap();
    assert!(report.is_complete(), "{report:#?}");
    assert_eq!(report.scanned, 2);
    assert_eq!(
        resolved(&report, "libvenv.so.3"),
        ["/opt/venv/lib/libvenv.so.3"]
    );
    assert_eq!(
        resolved(&report, "libhaunted.so.1"),
        ["/lib/x86_64-linux-gnu/libhaunted.so.1"]
    );

    // Descending into what the base provides finds the ghost.
    let report = check(
        &fs,
        &CheckOptions {
            follow_found: true,
            ..venv_only
        },
    )
    .unwrap();
    assert_eq!(
        needers(&report, "libghost.so.7"),
        ["/lib/x86_64-linux-gnu/libhaunted.so.1"]
    );
    assert!(report.scanned >= 4, "{report:#?}");

    // Scanning everything finds it too, from the base's own files.
    let report = check(&fs, &CheckOptions::default()).unwrap();
    assert_eq!(
        needers(&report, "libghost.so.7"),
        ["/usr/lib/x86_64-linux-gnu/libhaunted.so.1"]
    );
    assert_eq!(report.scanned, 6);
}

#[test]
fn an_upper_root_hides_the_lower_one() {
    let cc = Cc::new();
    let lower = tempfile::tempdir().unwrap();
    let upper = tempfile::tempdir().unwrap();
    base_rootfs(lower.path());
    let lib = lower.path().join(TRIPLET_DIR).join("libfoo.so.1");
    cc.shared(&lib, "libfoo.so.1", &[], &[]);
    cc.exe(&upper.path().join("app/prog"), &[&lib], &[]);
    let fs = || {
        Filesystem::new()
            .with_root(upper.path())
            .with_root(lower.path())
    };
    let report = check(&fs(), &CheckOptions::default()).unwrap();
    assert!(report.is_complete(), "{report:#?}");

    // The upper layer replaces the library with something that is not ELF.
    std::fs::create_dir_all(upper.path().join(TRIPLET_DIR)).unwrap();
    std::fs::write(
        upper.path().join(TRIPLET_DIR).join("libfoo.so.1"),
        "not elf",
    )
    .unwrap();
    let report = check(&fs(), &CheckOptions::default()).unwrap();
    // glibc then skips the file, and the lower copy is hidden.
    assert_eq!(needers(&report, "libfoo.so.1"), ["/app/prog"]);
    // The hidden copy is not scanned either: prog, libc and the loader.
    assert_eq!(report.scanned, 3, "{report:#?}");
}

#[test]
fn the_loader_counts_when_its_interpreter_path_exists() {
    let cc = Cc::new();
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    base_rootfs(root);
    let ld = root.join(TRIPLET_DIR).join("ld-linux-x86-64.so.2");
    // A program whose interpreter lies outside every search directory and
    // which names the loader in DT_NEEDED.
    cc.exe(
        &root.join("app/prog"),
        &[&ld],
        &["-Wl,--dynamic-linker=/opt/rtld/ld-linux-x86-64.so.2"],
    );
    let scan = scan_tree(root).unwrap();
    let prog = file(&scan.files, "/app/prog");
    assert!(
        prog.needed.iter().any(|n| n == "ld-linux-x86-64.so.2"),
        "{prog:?}"
    );
    assert_eq!(
        prog.interpreter.as_deref(),
        Some("/opt/rtld/ld-linux-x86-64.so.2")
    );
    let report = everything(root);
    assert!(report.is_complete(), "{report:#?}");

    std::fs::create_dir_all(root.join("opt/rtld")).unwrap();
    std::fs::rename(&ld, root.join("opt/rtld/ld-linux-x86-64.so.2")).unwrap();
    let report = everything(root);
    // The program finds it through its interpreter; libc (no interpreter of
    // its own) only through the canonical path, now a dangling link.
    assert_eq!(
        needers(&report, "ld-linux-x86-64.so.2"),
        ["/usr/lib/x86_64-linux-gnu/libc.so.6"]
    );
    symlink(
        "/opt/rtld/ld-linux-x86-64.so.2",
        &root.join("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
    );
    assert!(everything(root).is_complete());
}
