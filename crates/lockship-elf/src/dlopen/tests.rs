use std::os::unix::fs::symlink;

use super::*;

const TRIPLET: &str = "x86_64-linux-gnu";

fn amd64() -> &'static lockship_target::Target {
    lockship_target::by_debian_arch("amd64").unwrap()
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A file that starts like an ELF shared object.
fn lib(root: &Path, rel: &str) {
    write(root, rel, b"\x7fELF\x02\x01\x01\0 not a real library");
}

fn load(name: &str, call: LoadCall, file: &str, line: u32, group: u32) -> RuntimeLoad {
    RuntimeLoad {
        name: name.into(),
        file: file.into(),
        line,
        call,
        group,
        optional: false,
    }
}

#[test]
fn find_library_and_sonames_resolve_in_library_dirs() {
    let image = tempfile::tempdir().unwrap();
    let root = image.path();
    lib(root, &format!("usr/lib/{TRIPLET}/libpq.so.5.15"));
    symlink(
        "libpq.so.5.15",
        root.join(format!("usr/lib/{TRIPLET}/libpq.so.5")),
    )
    .unwrap();
    lib(root, "usr/lib/libcairo.so.2");
    // Not ELF: a text file with a library's name does not count.
    write(
        root,
        &format!("usr/lib/{TRIPLET}/libfake.so.1"),
        b"INPUT(-lfoo)",
    );
    // Outside the library directories.
    lib(root, "opt/elsewhere/libhidden.so.3");
    let fs = Filesystem::new().with_root(root);
    let loads = vec![
        load(
            "pq",
            LoadCall::FindLibrary,
            "psycopg/pq/_pq_ctypes.py",
            20,
            1,
        ),
        load(
            "libcairo.so.2",
            LoadCall::CffiDlopen,
            "cairocffi/__init__.py",
            60,
            1,
        ),
        load("fake", LoadCall::FindLibrary, "a.py", 3, 1),
        load("libhidden.so.3", LoadCall::Ctypes, "b.py", 4, 1),
        load("lockship-no-such-lib", LoadCall::FindLibrary, "c.py", 5, 1),
    ];
    let result = resolve_runtime_loads(&fs, &loads, amd64());
    let found: Vec<(&str, PathBuf)> = result
        .satisfied
        .iter()
        .map(|s| (s.name.as_str(), s.found.clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            ("libcairo.so.2", PathBuf::from("/usr/lib/libcairo.so.2")),
            (
                "pq",
                PathBuf::from(format!("/usr/lib/{TRIPLET}/libpq.so.5"))
            ),
        ]
    );
    let missing: Vec<(&str, String, &[Wanted])> = result
        .missing
        .iter()
        .map(|m| {
            (
                m.name.as_str(),
                m.asked_by.to_string(),
                m.wanted_as.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        missing,
        vec![
            (
                "fake",
                "a.py:3".into(),
                &[Wanted::FindLibrary("fake".into())][..]
            ),
            (
                "libhidden.so.3",
                "b.py:4".into(),
                &[Wanted::Soname("libhidden.so.3".into())][..]
            ),
            // A name no package ships is reported, not an error: the build
            // warns with the file and line.
            (
                "lockship-no-such-lib",
                "c.py:5".into(),
                &[Wanted::FindLibrary("lockship-no-such-lib".into())][..]
            ),
        ]
    );
}

#[test]
fn a_group_is_satisfied_by_any_alternative_and_ld_so_conf_counts() {
    let image = tempfile::tempdir().unwrap();
    let root = image.path();
    lib(root, "opt/gnome/lib/libgobject-2.0.so.0");
    write(
        root,
        "etc/ld.so.conf",
        b"include /etc/ld.so.conf.d/*.conf\n",
    );
    write(root, "etc/ld.so.conf.d/gnome.conf", b"/opt/gnome/lib\n");
    let fs = Filesystem::new().with_root(root);
    let file = "weasyprint/text/ffi.py";
    let loads: Vec<RuntimeLoad> = ["gobject-2.0-0", "libgobject-2.0-0", "gobject-2.0"]
        .iter()
        .map(|n| load(n, LoadCall::CffiDlopen, file, 13, 1))
        .chain(
            ["pango-1.0", "libpango-1.0.so.0"]
                .iter()
                .map(|n| load(n, LoadCall::CffiDlopen, file, 16, 2)),
        )
        .collect();
    let result = resolve_runtime_loads(&fs, &loads, amd64());
    assert_eq!(result.satisfied.len(), 1, "{result:?}");
    assert_eq!(
        result.satisfied[0].found,
        PathBuf::from("/opt/gnome/lib/libgobject-2.0.so.0")
    );
    assert_eq!(result.missing.len(), 1);
    assert_eq!(
        result.missing[0].wanted_as,
        vec![
            Wanted::Soname("libpango-1.0.so.0".into()),
            // cffi tries a name with a dot as a file first.
            Wanted::Soname("pango-1.0".into()),
            Wanted::FindLibrary("pango-1.0".into()),
            Wanted::FindLibrary("libpango-1.0.so.0".into()),
        ]
    );
    assert_eq!(result.missing[0].asked_by.to_string(), format!("{file}:16"));
}

#[test]
fn installed_distributions_bring_their_table_entries() {
    let venv = tempfile::tempdir().unwrap();
    let site = "lib/python3.11/site-packages";
    write(
        venv.path(),
        &format!("{site}/python_magic-0.4.27.dist-info/METADATA"),
        b"Name: python-magic\n",
    );
    write(
        venv.path(),
        &format!("{site}/magic/loader.py"),
        b"from ctypes.util import find_library\nimport ctypes\n\ndef load():\n    return ctypes.CDLL(find_library('magic') or 'libmagic.so.1')\n",
    );
    let scan = scan_runtime_loads(venv.path()).unwrap();
    let metadata = PathBuf::from(format!("{site}/python_magic-0.4.27.dist-info/METADATA"));
    let got: Vec<(&str, &Path, u32, LoadCall)> = scan
        .loads
        .iter()
        .map(|l| (l.name.as_str(), l.file.as_path(), l.line, l.call))
        .collect();
    let loader = PathBuf::from(format!("{site}/magic/loader.py"));
    assert_eq!(
        got,
        vec![
            ("libmagic.so.1", loader.as_path(), 5, LoadCall::Ctypes),
            ("magic", loader.as_path(), 5, LoadCall::FindLibrary),
            ("libmagic.so.1", metadata.as_path(), 0, LoadCall::Table),
            ("magic", metadata.as_path(), 0, LoadCall::Table),
            (
                "/usr/lib/file/magic.mgc",
                metadata.as_path(),
                0,
                LoadCall::TableFile
            ),
        ]
    );
    assert_eq!(scan.files_read, 1);

    // Against an image with libmagic but without its database.
    let image = tempfile::tempdir().unwrap();
    lib(image.path(), &format!("usr/lib/{TRIPLET}/libmagic.so.1"));
    let fs = Filesystem::new().with_root(image.path());
    let result = resolve_runtime_loads(&fs, &scan.loads, amd64());
    // loader.py's one load (find_library or the soname) and the table's.
    assert_eq!(result.satisfied.len(), 2, "{result:?}");
    assert_eq!(result.missing.len(), 1);
    assert_eq!(
        result.missing[0].wanted_as,
        vec![Wanted::File("/usr/lib/file/magic.mgc".into())]
    );
    assert_eq!(result.missing[0].call, LoadCall::TableFile);
}

#[test]
fn loads_of_optional_features_are_optional() {
    let venv = tempfile::tempdir().unwrap();
    let site = "lib/python3.11/site-packages";
    // django/contrib/gis/geos/libgeos.py, shortened.
    write(
        venv.path(),
        &format!("{site}/django/contrib/gis/geos/libgeos.py"),
        br#"from ctypes.util import find_library
lib_names = ["geos_c", "GEOS"]
for lib_name in lib_names:
    lib_path = find_library(lib_name)
"#,
    );
    write(
        venv.path(),
        &format!("{site}/django/db/backends/sqlite3/ext.py"),
        b"import ctypes
ctypes.CDLL('libsqlite3.so.0')
",
    );
    let scan = scan_runtime_loads(venv.path()).unwrap();
    let got: Vec<(&str, bool)> = scan
        .loads
        .iter()
        .map(|l| (l.name.as_str(), l.optional))
        .collect();
    assert_eq!(
        got,
        [("GEOS", true), ("geos_c", true), ("libsqlite3.so.0", false)]
    );
    let image = tempfile::tempdir().unwrap();
    let fs = Filesystem::new().with_root(image.path());
    let result = resolve_runtime_loads(&fs, &scan.loads, amd64());
    let missing: Vec<(&str, bool)> = result
        .missing
        .iter()
        .map(|m| (m.name.as_str(), m.optional))
        .collect();
    assert_eq!(missing, [("GEOS", true), ("libsqlite3.so.0", false)]);
}

#[test]
fn a_library_shipped_next_to_its_module_is_not_searched_for() {
    let venv = tempfile::tempdir().unwrap();
    let pkg = "lib/python3.11/site-packages/bundler";
    write(
        venv.path(),
        &format!("{pkg}/__init__.py"),
        b"import ctypes, os\nhere = os.path.dirname(__file__)\nlib = ctypes.CDLL(os.path.join(here, 'libbundled.so.1'))\nother = ctypes.CDLL('libsystem.so.2')\n",
    );
    lib(venv.path(), &format!("{pkg}/libbundled.so.1"));
    let scan = scan_runtime_loads(venv.path()).unwrap();
    let names: Vec<&str> = scan.loads.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["libsystem.so.2"]);
}

#[test]
fn the_table_parses_and_every_find_library_name_matches_its_soname() {
    let table = known_runtime_libraries();
    assert!(table.library.len() >= 10);
    for entry in &table.library {
        assert_eq!(entry.distribution, normalize_dist(&entry.distribution));
        assert!(looks_like_soname(&entry.soname), "{entry:?}");
        let path = format!("usr/lib/{TRIPLET}/{}", entry.soname);
        assert!(Wanted::Soname(entry.soname.clone()).matches_contents_path(&path, TRIPLET));
        if let Some(name) = &entry.find_library {
            assert!(
                Wanted::FindLibrary(name.clone()).matches_contents_path(&path, TRIPLET),
                "find_library({name:?}) would not find {}",
                entry.soname
            );
        }
    }
    for file in &table.file {
        assert!(file.path.is_absolute(), "{file:?}");
    }
}

#[test]
fn contents_paths_match_only_in_library_directories() {
    let pq = Wanted::FindLibrary("pq".into());
    assert!(pq.matches_contents_path("usr/lib/x86_64-linux-gnu/libpq.so.5", TRIPLET));
    // The -dev package's link, another architecture, a plugin directory.
    assert!(!pq.matches_contents_path("usr/lib/x86_64-linux-gnu/libpq.so", TRIPLET));
    assert!(!pq.matches_contents_path("usr/lib/aarch64-linux-gnu/libpq.so.5", TRIPLET));
    assert!(!pq.matches_contents_path("usr/lib/postgresql/libpq.so.5", TRIPLET));
    assert!(!pq.matches_contents_path("usr/lib/x86_64-linux-gnu/libpqwalreceiver.so.5", TRIPLET));
    let file = Wanted::File("/usr/lib/file/magic.mgc".into());
    assert!(file.matches_contents_path("usr/lib/file/magic.mgc", TRIPLET));
    assert_eq!(normalize_dist("Python_Magic"), "python-magic");
    assert_eq!(normalize_dist("WeasyPrint"), "weasyprint");
}

#[test]
fn hostile_scan_does_not_follow_links_out_of_the_tree() {
    let outside = tempfile::tempdir().unwrap();
    write(
        outside.path(),
        "evil.py",
        b"import ctypes\nctypes.CDLL('libevil.so.1')\n",
    );
    write(
        outside.path(),
        "pkg/also.py",
        b"import ctypes\nctypes.CDLL('libevil.so.2')\n",
    );
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path();
    write(
        root,
        "pkg/ok.py",
        b"import ctypes\nctypes.CDLL('libok.so.1')\n",
    );
    symlink(outside.path().join("evil.py"), root.join("pkg/link.py")).unwrap();
    symlink(outside.path().join("pkg"), root.join("pkg/linked_dir")).unwrap();
    // A loop: pkg/loop -> .. and a self link.
    symlink("..", root.join("pkg/loop")).unwrap();
    symlink("self.py", root.join("pkg/self.py")).unwrap();
    // A FIFO named like a module would block a reader forever.
    let fifo = root.join("pkg/fifo.py");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc_mkfifo(c_path.as_ptr(), 0o644) }, 0);
    // A huge (sparse) module is skipped with a warning, not read.
    let huge = std::fs::File::create(root.join("pkg/huge.py")).unwrap();
    huge.set_len(5 * 1024 * 1024 * 1024).unwrap();
    drop(huge);
    let start = std::time::Instant::now();
    let scan = scan_runtime_loads(root).unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    let names: Vec<&str> = scan.loads.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["libok.so.1"]);
    assert_eq!(scan.files_read, 1);
    assert_eq!(scan.warnings.len(), 1, "{:?}", scan.warnings);
    assert_eq!(scan.warnings[0].path, PathBuf::from("pkg/huge.py"));
    assert!(matches!(
        scan_runtime_loads(&root.join("pkg/ok.py")),
        Err(ElfError::NotADirectory { .. })
    ));
}

extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}
