//! Libraries loaded at run time, against real parts: the table of names
//! built at run time checked against Debian bookworm's Contents index, and
//! the scan over a real venv with the packages the table is about.
//!
//! Both need the network (a Debian mirror from the host's apt sources, a
//! Python package index through pip) and skip with a message without it,
//! unless `CI=true`, where that is a failure.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use lockship_debian::{
    mirror_from_apt_sources, ContentsIndex, FileQuery, Keyring, RepoOptions, Repository,
};
use lockship_elf::{
    known_runtime_libraries, resolve_runtime_loads, scan_runtime_loads, Filesystem, LoadCall,
    Wanted,
};
use lockship_fetch::{Cache, FetchOptions, Fetcher, NoReporter};

const SUITE: &str = "bookworm";
const TRIPLET: &str = "x86_64-linux-gnu";

fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("network test cannot run under CI=true: {why}");
    }
    println!("skipping: no network/mirror ({why})");
}

/// Bookworm's `main` Contents index for amd64, or why not.
fn bookworm_contents(cache_dir: &Path) -> Result<ContentsIndex, String> {
    let mirror = match mirror_from_apt_sources(Path::new("/")) {
        Ok(Some(m)) => m,
        Ok(None) => return Err("no Debian mirror in the apt sources".into()),
        Err(e) => return Err(format!("cannot read the apt sources: {e}")),
    };
    let keyring = Keyring::load(Path::new(Keyring::DEFAULT_PATH))
        .map_err(|e| format!("no archive keyring: {e}"))?;
    let fetcher = Fetcher::new(FetchOptions {
        attempts: 2,
        ..FetchOptions::default()
    })
    .unwrap();
    let cache = Cache::open(cache_dir).unwrap();
    let repo = match Repository::open(
        &fetcher,
        &cache,
        &keyring,
        RepoOptions {
            mirror,
            suite: SUITE.into(),
            arch: "amd64".into(),
            components: vec!["main".into()],
        },
        &NoReporter,
    ) {
        Ok(repo) => repo,
        Err(lockship_debian::DebianError::Fetch { url, source }) => {
            return Err(format!("cannot fetch `{url}`: {source}"))
        }
        Err(e) => panic!("{e}"),
    };
    Ok(ContentsIndex::open(&repo, &fetcher, &cache, "main", &NoReporter).unwrap())
}

/// Every entry of the table names a library (and every data file a path)
/// that some bookworm package ships where the loader looks, so a renamed
/// library or package is caught here rather than in a user's image.
#[test]
fn table_entries_ship_in_debian_bookworm() {
    let dir = tempfile::tempdir().unwrap();
    let index = match bookworm_contents(&dir.path().join("cache")) {
        Ok(index) => index,
        Err(why) => return skip(&why),
    };
    let table = known_runtime_libraries();
    for entry in &table.library {
        let hits = index.packages_for_soname(&entry.soname);
        let soname = Wanted::Soname(entry.soname.clone());
        let hit = hits
            .iter()
            .find(|h| soname.matches_contents_path(&h.path, TRIPLET))
            .unwrap_or_else(|| {
                panic!(
                    "no {SUITE} package ships `{}` in a library directory (for `{}`): {hits:?}",
                    entry.soname, entry.distribution
                )
            });
        if let Some(name) = &entry.find_library {
            assert!(
                Wanted::FindLibrary(name.clone()).matches_contents_path(&hit.path, TRIPLET),
                "find_library({name:?}) would not find `{}`",
                hit.path
            );
        }
        println!(
            "{}: {} -> {} ({})",
            entry.distribution,
            entry.soname,
            hit.packages.join(", "),
            hit.path
        );
    }
    // A name no package ships has no hit: the build warns about it.
    assert!(index
        .packages_for_soname("liblockship-made-up-name.so.7")
        .is_empty());

    let queries: Vec<FileQuery> = table
        .file
        .iter()
        .map(|f| FileQuery::Path(f.path.to_string_lossy().into_owned()))
        .collect();
    let results = index.search(&queries).unwrap();
    for (file, (_, hits)) in table.file.iter().zip(&results) {
        let wanted = Wanted::File(file.path.clone());
        let hit = hits
            .iter()
            .find(|h| wanted.matches_contents_path(&h.path, TRIPLET))
            .unwrap_or_else(|| {
                panic!(
                    "no {SUITE} package ships `{}` (for `{}`)",
                    file.path.display(),
                    file.distribution
                )
            });
        println!(
            "{}: {} -> {}",
            file.distribution,
            file.path.display(),
            hit.packages.join(", ")
        );
    }
}

/// A venv with pip, or why not.
fn venv_with(dir: &Path, packages: &[&str]) -> Result<std::path::PathBuf, String> {
    let venv = dir.join("venv");
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !status.success() {
        return Err("python3 -m venv failed".into());
    }
    let out = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(packages)
        .output()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pip install failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok(venv)
}

/// The scan finds what the real packages load, fast, and an empty image
/// misses each of them.
#[test]
fn real_venv_scan_finds_the_loads_of_real_packages() {
    let dir = tempfile::tempdir().unwrap();
    let packages = [
        "psycopg",
        "python-magic",
        "weasyprint",
        "cairocffi",
        "pyvips",
    ];
    let venv = match venv_with(dir.path(), &packages) {
        Ok(venv) => venv,
        Err(why) => return skip(&why),
    };
    let start = Instant::now();
    let scan = scan_runtime_loads(&venv).unwrap();
    let elapsed = start.elapsed();
    println!(
        "scanned {} .py files in {elapsed:?}: {} loads, {} warnings",
        scan.files_read,
        scan.loads.len(),
        scan.warnings.len()
    );
    for load in &scan.loads {
        println!(
            "  {}:{} {:?} {} (group {})",
            load.file.display(),
            load.line,
            load.call,
            load.name,
            load.group
        );
    }
    let has = |file_end: &str, name: &str, call: LoadCall| {
        scan.loads
            .iter()
            .any(|l| l.file.ends_with(file_end) && l.name == name && l.call == call)
    };
    assert!(
        has("psycopg/pq/misc.py", "pq", LoadCall::FindLibrary)
            || has("psycopg/pq/_pq_ctypes.py", "pq", LoadCall::FindLibrary)
    );
    assert!(has("magic/loader.py", "magic", LoadCall::FindLibrary));
    assert!(has("magic/loader.py", "libmagic.so.1", LoadCall::Literal));
    assert!(has(
        "weasyprint/text/ffi.py",
        "libpango-1.0.so.0",
        LoadCall::CffiDlopen
    ));
    assert!(has(
        "weasyprint/text/ffi.py",
        "fontconfig",
        LoadCall::CffiDlopen
    ));
    assert!(has(
        "cairocffi/__init__.py",
        "libcairo.so.2",
        LoadCall::CffiDlopen
    ));
    // Names built at run time come from the table.
    assert!(scan
        .loads
        .iter()
        .any(|l| l.call == LoadCall::Table && l.name == "libvips.so.42"));
    // No Windows or macOS name gets through.
    assert!(!scan
        .loads
        .iter()
        .any(|l| l.name.ends_with(".dll") || l.name.contains(".dylib")));
    // Deterministic.
    assert_eq!(scan_runtime_loads(&venv).unwrap(), scan);

    let empty = tempfile::tempdir().unwrap();
    let fs = Filesystem::new().with_root(empty.path());
    let target = lockship_target::by_debian_arch("amd64").unwrap();
    let result = resolve_runtime_loads(&fs, &scan.loads, target);
    assert!(result.satisfied.is_empty(), "{:?}", result.satisfied);
    let missing: Vec<String> = result
        .missing
        .iter()
        .map(|m| format!("{} ({})", m.name, m.asked_by))
        .collect();
    println!("missing in an empty image: {missing:#?}");
    for soname in [
        "libpango-1.0.so.0",
        "libcairo.so.2",
        "libvips.so.42",
        "libmagic.so.1",
    ] {
        assert!(
            result
                .missing
                .iter()
                .any(|m| m.wanted_as.contains(&Wanted::Soname(soname.into()))),
            "{soname} not reported missing"
        );
    }
}
