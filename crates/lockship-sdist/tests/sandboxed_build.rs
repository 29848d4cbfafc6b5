//! Real sdist builds in the real sandbox, in a build environment assembled
//! from the host's Debian mirror. The sdists are made here, with an in-tree
//! PEP 517 backend that needs no package index. Skipped (with a message)
//! without a mirror or bubblewrap, unless `CI=true`, where that fails.

use std::io::Write;
use std::path::{Path, PathBuf};

use lockship_fetch::{Cache, FetchOptions, Fetcher, NoReporter};
use lockship_runtime::buildenv::BuildEnvOptions;
use lockship_runtime::{BaseOptions, Context, PythonRuntime};
use lockship_sdist::{
    build_wheel, AddedBy, ContentsLookup, Missing, NoLookup, PackageLookup, SdistError,
    SdistOptions, SdistRequest,
};

fn skip(why: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("sandboxed build test cannot run under CI=true: {why}");
    }
    println!("skipping: {why}");
    true
}

fn mirror() -> Option<url::Url> {
    if lockship_sdist::Sandbox::find().is_err() {
        skip("no bubblewrap (`bwrap`) on PATH");
        return None;
    }
    match lockship_debian::mirror_from_apt_sources(Path::new("/")) {
        Ok(Some(m)) => Some(m),
        _ => {
            skip("no Debian mirror in the apt sources");
            None
        }
    }
}

/// A shared cache, so the build environment is assembled once per test run.
fn cache() -> Cache {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp/lockship-test-cache");
    Cache::open(dir).unwrap()
}

/// An in-tree backend: compiles `ext.c` with cc and zips a wheel by hand.
const BACKEND: &str = r#"
import base64, hashlib, os, subprocess, sys, sysconfig, zipfile

NAME, VERSION = "nativedemo", "1.0"

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if os.path.exists("net.txt"):
        import socket
        try:
            socket.create_connection(("127.0.0.1", int(open("net.txt").read())), timeout=3).close()
            print("NET:connected")
        except OSError as e:
            print("NET:blocked %s" % e)
        sys.exit(1)
    if os.path.exists("probe.txt"):
        print("ENV:" + repr(sorted(os.environ.items())))
        print("UID:%d" % os.getuid())
        sys.exit(1)
    if os.path.exists("escape.txt"):
        with open(open("escape.txt").read().strip(), "w") as f:
            f.write("escaped")
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    inc = sysconfig.get_paths()["include"]
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-I" + inc, "ext.c", "-o", "nativedemo" + suffix]
                   + open("ldflags.txt").read().split(), check=True)
    tag = "cp%d%d" % sys.version_info[:2]
    name = "%s-%s-%s-%s-linux_x86_64.whl" % (NAME, VERSION, tag, tag)
    dist = "%s-%s.dist-info" % (NAME, VERSION)
    files = {
        "nativedemo" + suffix: open("nativedemo" + suffix, "rb").read(),
        dist + "/METADATA": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (NAME, VERSION)).encode(),
        dist + "/WHEEL": ("Wheel-Version: 1.0\nGenerator: demo\nRoot-Is-Purelib: false\nTag: %s-%s-linux_x86_64\n" % (tag, tag)).encode(),
    }
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
        record.append(dist + "/RECORD,,")
        z.writestr(dist + "/RECORD", "\n".join(record) + "\n")
    return name
"#;

const EXT_C: &str = r#"
#include <Python.h>
#include <zlib.h>
#ifdef NEEDS_PQ
#include <libpq-fe.h>
#endif
static PyObject *version(PyObject *self, PyObject *args) { return PyUnicode_FromString(zlibVersion()); }
static PyMethodDef methods[] = {{"version", version, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "nativedemo", NULL, -1, methods};
PyMODINIT_FUNC PyInit_nativedemo(void) { return PyModule_Create(&mod); }
"#;

/// Writes `nativedemo-1.0.tar.gz` with the given extra files.
fn make_sdist(dir: &Path, ldflags: &str, extra: &[(&str, &str)]) -> (PathBuf, String) {
    make_sdist_requiring(dir, ldflags, extra, "")
}

/// [`make_sdist`] whose `[build-system] requires` lists `requires` (TOML
/// array items, e.g. `"six"`).
fn make_sdist_requiring(
    dir: &Path,
    ldflags: &str,
    extra: &[(&str, &str)],
    requires: &str,
) -> (PathBuf, String) {
    let path = dir.join("nativedemo-1.0.tar.gz");
    let file = std::fs::File::create(&path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let pyproject = format!("[build-system]\nrequires = [{requires}]\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n\n[project]\nname = \"nativedemo\"\nversion = \"1.0\"\n");
    let pkg_info = "Metadata-Version: 2.1\nName: nativedemo\nVersion: 1.0\n";
    let mut files: Vec<(&str, &str)> = vec![
        ("pyproject.toml", pyproject.as_str()),
        ("PKG-INFO", pkg_info),
        ("backend.py", BACKEND),
        ("ext.c", EXT_C),
        ("ldflags.txt", ldflags),
    ];
    files.extend_from_slice(extra);
    for (name, body) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        tar.append_data(
            &mut header,
            format!("nativedemo-1.0/{name}"),
            body.as_bytes(),
        )
        .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    let sha = lockship_fetch::sha256_hex(&std::fs::read(&path).unwrap());
    (path, sha)
}

fn options(mirror: url::Url, packages: &[&str]) -> SdistOptions {
    let base = BaseOptions::new(
        PythonRuntime::lookup("3.11").unwrap(),
        "linux/amd64".parse().unwrap(),
        mirror,
    );
    SdistOptions::new(BuildEnvOptions {
        base,
        packages: packages.iter().map(|s| s.to_string()).collect(),
    })
}

struct Fixed;
impl PackageLookup for Fixed {
    fn packages_for(&self, missing: &[Missing]) -> Result<Vec<Vec<String>>, SdistError> {
        Ok(missing
            .iter()
            .map(|m| match m {
                Missing::Header(h) if h == "libpq-fe.h" => vec!["libpq-dev".to_string()],
                _ => Vec::new(),
            })
            .collect())
    }
}

#[test]
fn builds_links_caches_and_explains_failures() {
    let Some(mirror) = mirror() else { return };
    let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
    let cache = cache();
    let ctx = Context {
        fetcher: &fetcher,
        cache: &cache,
        reporter: &NoReporter,
    };
    let scratch = tempfile::tempdir().unwrap();

    // A C extension that links zlib, built against the suite's headers.
    let dir = scratch.path().join("ok");
    std::fs::create_dir_all(&dir).unwrap();
    let marker = format!("{}", std::process::id());
    let (sdist, sha) = make_sdist(&dir, &format!("-lz -DX{marker}"), &[]);
    let request = SdistRequest {
        name: "nativedemo".into(),
        version: "1.0".into(),
        sdist,
        filename: "nativedemo-1.0.tar.gz".into(),
        sha256: sha,
    };
    let opts = options(mirror.clone(), &["zlib1g-dev"]);
    let built = build_wheel(&ctx, &opts, &request, &NoLookup).unwrap();
    assert!(!built.cached);
    assert!(
        built
            .filename
            .starts_with("nativedemo-1.0-cp311-cp311-linux_x86_64"),
        "{}",
        built.filename
    );
    assert_eq!(
        built.sha256,
        lockship_fetch::sha256_hex(&std::fs::read(&built.path).unwrap())
    );
    let again = build_wheel(&ctx, &opts, &request, &NoLookup).unwrap();
    assert!(again.cached, "the second build reuses the cached wheel");
    assert_eq!(again.sha256, built.sha256);

    // A missing header names the -dev package and the build-packages line.
    let dir = scratch.path().join("fail");
    std::fs::create_dir_all(&dir).unwrap();
    let (sdist, sha) = make_sdist(&dir, &format!("-lz -DNEEDS_PQ -DY{marker}"), &[]);
    let request = SdistRequest {
        name: "nativedemo".into(),
        version: "1.0".into(),
        sdist,
        filename: "nativedemo-1.0.tar.gz".into(),
        sha256: sha,
    };
    // With discovery off (`--build-packages none`), the error explains.
    let mut off = options(mirror.clone(), &["zlib1g-dev"]);
    off.auto_packages = false;
    let err = build_wheel(&ctx, &off, &request, &Fixed).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("header `libpq-fe.h` (shipped by `libpq-dev`)"),
        "{text}"
    );
    assert!(
        text.contains("libpq-fe.h: No such file or directory"),
        "{text}"
    );
    let hint = err.hint().unwrap();
    assert!(
        hint.contains(r#"build-packages = ["libpq-dev", "zlib1g-dev"]"#),
        "{hint}"
    );

    // An sdist that writes outside its directory is stopped, and the host
    // never sees the file.
    let dir = scratch.path().join("escape");
    std::fs::create_dir_all(&dir).unwrap();
    let (sdist, sha) = make_sdist(
        &dir,
        "-lz",
        &[("escape.txt", "/usr/lib/python3/dist-packages/evil.pth")],
    );
    let request = SdistRequest {
        name: "nativedemo".into(),
        version: "1.0".into(),
        sdist,
        filename: "nativedemo-1.0.tar.gz".into(),
        sha256: sha,
    };
    let err =
        build_wheel(&ctx, &options(mirror, &["zlib1g-dev"]), &request, &NoLookup).unwrap_err();
    assert!(
        matches!(&err, SdistError::Escape { path, .. } if path == "/usr/lib/python3/dist-packages/evil.pth"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("build directory"));
}

/// Issue 12, finding 9: the build's environment holds no index credential
/// (the index URL goes in without its user and password) and runs as the
/// sandbox's unprivileged user.
#[test]
fn sdist_sandbox_env_has_no_index_credentials() {
    let Some(mirror) = mirror() else { return };
    let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
    let cache = cache();
    let ctx = Context {
        fetcher: &fetcher,
        cache: &cache,
        reporter: &NoReporter,
    };
    let scratch = tempfile::tempdir().unwrap();
    let marker = format!("{}", std::process::id());
    let (sdist, sha) = make_sdist(
        scratch.path(),
        &format!("-lz -DP{marker}"),
        &[("probe.txt", "1")],
    );
    let request = SdistRequest {
        name: "nativedemo".into(),
        version: "1.0".into(),
        sdist,
        filename: "nativedemo-1.0.tar.gz".into(),
        sha256: sha,
    };
    let mut opts = options(mirror, &["zlib1g-dev"]);
    opts.index_urls = vec![
        "http://builder:s3cr3t-pw@127.0.0.1:9/simple".to_string(),
        "http://__token__:t0k3n@127.0.0.1:9/extra".to_string(),
    ];
    let err = build_wheel(&ctx, &opts, &request, &NoLookup).unwrap_err();
    // The end of this build's log (the kept log file is shared by name
    // with the other test's builds of the same package).
    let SdistError::BuildFailed { tail: text, .. } = &err else {
        panic!("{err}");
    };
    let env = text
        .lines()
        .find(|l| l.contains("ENV:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        !env.contains("s3cr3t-pw") && !env.contains("t0k3n"),
        "{env}"
    );
    assert!(!env.contains("builder"), "{env}");
    // The build itself has no index at all: its build requirements come
    // from the wheels fetched before it, offline.
    assert!(!env.contains("PIP_INDEX_URL"), "{env}");
    assert!(env.contains("('PIP_NO_INDEX', '1')"), "{env}");
    assert!(env.contains("('PIP_FIND_LINKS', '/build/wheels')"), "{env}");
    assert!(text.contains("UID:65532"), "{text}");
}

/// Issue 12, finding 9: build code reached host loopback services. The
/// build now runs in a network namespace of its own.
#[test]
fn hostile_sdist_build_code_reaches_no_network() {
    let Some(mirror) = mirror() else { return };
    let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
    let cache = cache();
    let ctx = Context {
        fetcher: &fetcher,
        cache: &cache,
        reporter: &NoReporter,
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let scratch = tempfile::tempdir().unwrap();
    let (sdist, sha) = make_sdist(scratch.path(), "-lz -DNET", &[("net.txt", &port)]);
    let request = SdistRequest {
        name: "nativedemo".into(),
        version: "1.0".into(),
        sdist,
        filename: "nativedemo-1.0.tar.gz".into(),
        sha256: sha,
    };
    let err =
        build_wheel(&ctx, &options(mirror, &["zlib1g-dev"]), &request, &NoLookup).unwrap_err();
    let SdistError::BuildFailed { tail: text, .. } = &err else {
        panic!("{err}");
    };
    assert!(text.contains("NET:blocked"), "{text}");
    assert!(!text.contains("NET:connected"), "{text}");
    assert!(
        listener.accept().is_err(),
        "the build connected to a host loopback service"
    );
}

/// The build's requirements are fetched (as wheels only, by pip alone) and
/// then found offline: an sdist that needs `six` to build still builds.
#[test]
fn build_requirements_are_fetched_before_the_offline_build() {
    let Some(mirror) = mirror() else { return };
    let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
    let cache = cache();
    let ctx = Context {
        fetcher: &fetcher,
        cache: &cache,
        reporter: &NoReporter,
    };
    let scratch = tempfile::tempdir().unwrap();
    let marker = format!("-DREQ{}", std::process::id());
    let (sdist, sha) =
        make_sdist_requiring(scratch.path(), &format!("-lz {marker}"), &[], "\"six\"");
    let request = SdistRequest {
        name: "nativedemo".into(),
        version: "1.0".into(),
        sdist,
        filename: "nativedemo-1.0.tar.gz".into(),
        sha256: sha,
    };
    let built = build_wheel(&ctx, &options(mirror, &["zlib1g-dev"]), &request, &NoLookup)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(built.path.is_file(), "{}", built.path.display());
}

/// An sdist whose C needs `ffi.h` (first, `-include`) then `libpq-fe.h`:
/// two rounds of discovery.
fn needy_sdist(dir: &Path, tag: &str, extra_flags: &str) -> SdistRequest {
    let flags = format!(
        "-lz -D{tag}{} -DNEEDS_PQ -I/usr/include/postgresql -include ffi.h {extra_flags}",
        std::process::id()
    );
    let (sdist, sha) = make_sdist(dir, &flags, &[]);
    SdistRequest {
        name: "nativedemo".into(),
        version: "1.0".into(),
        sdist,
        filename: "nativedemo-1.0.tar.gz".into(),
        sha256: sha,
    }
}

/// Issue 15: a build that misses a header is retried with the package the
/// suite's Contents index names, round after round, and each package added
/// is reported with the log line that asked for it.
#[test]
fn missing_build_packages_are_found_in_the_contents_index() {
    let Some(mirror) = mirror() else { return };
    let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
    let cache = cache();
    let ctx = Context {
        fetcher: &fetcher,
        cache: &cache,
        reporter: &NoReporter,
    };
    let scratch = tempfile::tempdir().unwrap();
    let opts = options(mirror, &["zlib1g-dev"]);
    let lookup = ContentsLookup::new(&ctx, &opts.env.base);

    // The bound reached: the error lists what was tried.
    let dir = scratch.path().join("bound");
    std::fs::create_dir_all(&dir).unwrap();
    let request = needy_sdist(&dir, "BOUND", "");
    let mut bounded = opts.clone();
    bounded.max_package_rounds = 1;
    let err = build_wheel(&ctx, &bounded, &request, &lookup).unwrap_err();
    let SdistError::TooManyPackageRounds { tried, rounds, .. } = &err else {
        panic!("expected the bound: {err}");
    };
    assert_eq!(*rounds, 1);
    assert_eq!(tried.len(), 1, "{tried:?}");
    assert_eq!(tried[0].package, "libffi-dev");
    let text = err.to_string();
    assert!(
        text.contains("tried: libffi-dev (for header `ffi.h`"),
        "{text}"
    );
    assert!(
        text.contains("still missing: header `libpq-fe.h` (shipped by `libpq-dev`)"),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("\"libffi-dev\""));

    // Within the bound: two rounds, and the build passes.
    let dir = scratch.path().join("found");
    std::fs::create_dir_all(&dir).unwrap();
    let request = needy_sdist(&dir, "FOUND", "");
    let built = build_wheel(&ctx, &opts, &request, &lookup).unwrap_or_else(|e| panic!("{e}"));
    let added: Vec<(&str, usize)> = built
        .added_packages
        .iter()
        .map(|a| (a.package.as_str(), a.round))
        .collect();
    assert_eq!(added, [("libffi-dev", 1), ("libpq-dev", 2)]);
    assert!(built
        .added_packages
        .iter()
        .all(|a| a.by == AddedBy::BuildLog));
    assert!(
        built.added_packages[0]
            .line
            .contains("fatal error: ffi.h: No such file or directory"),
        "{:?}",
        built.added_packages[0]
    );
    assert_eq!(built.added_packages[1].wanted, "header `libpq-fe.h`");
    assert_eq!(
        built.build_packages,
        ["zlib1g-dev", "libffi-dev", "libpq-dev"]
    );

    // A header no package ships: the error names it and says so.
    let dir = scratch.path().join("nowhere");
    std::fs::create_dir_all(&dir).unwrap();
    let request = needy_sdist(&dir, "NOWHERE", "-include lockship_no_such_header.h");
    let err = build_wheel(&ctx, &opts, &request, &lookup).unwrap_err();
    let SdistError::NoPackageShips { name, kind, .. } = &err else {
        panic!("expected no package to ship it: {err}");
    };
    assert_eq!(
        (name.as_str(), *kind),
        ("lockship_no_such_header.h", "header")
    );
    let text = err.to_string();
    assert!(
        text.contains("no Debian package of `bookworm` ships it"),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("lockship_no_such_header.h"));
}
