//! Fuzz targets for every parser of outside input lockship reads: Debian
//! indexes and packages, layer tars, wheels and index pages, lockfiles (and
//! requirements includes) and pyproject.toml, `.python-version` and Python
//! version constraints, OCI images on disk and from registries, and registry
//! authentication headers.
//!
//! Each target is a `fn(&[u8])` that must never panic, hang or hold
//! unbounded memory, whatever the input; refusing it with an error is
//! fine. The same functions back three runners:
//!
//! - the test suite (`cargo test -p lockship-fuzz`): the seeds of each target
//!   and a fixed number of inputs from the deterministic [`Mutator`];
//! - the stable driver (`cargo run -p lockship-fuzz --release -- TARGET
//!   --seconds 60`);
//! - cargo-fuzz on nightly (the `fuzz/` directory at the repository root).
//!
//! Seeds come from `corpus/<target>/` in this crate, from the repository's
//! example projects and test fixtures, and from small inputs built at run
//! time (archives, images, wheels).
//!
//! ```
//! let target = lockship_fuzz::target("wheel_filename").unwrap();
//! (target.run)(b"six-1.16.0-py2.py3-none-any.whl");
//! (target.run)(b"\xff-not-a-wheel");
//! ```
#![deny(missing_docs)]

mod alloc;
mod harness;
mod mutate;
pub mod targets;

use std::path::{Path, PathBuf};

pub use alloc::{set_current_input, with_cap, CappedAlloc};
pub use harness::{artifact_dir, fuzz, run_one, Budget, Failure, FailureKind, Options, Stats};
pub use mutate::{Mutator, Rng};

use targets::{debian, layer, oci, project, python, registry, wheel};

/// One fuzz target.
pub struct Target {
    /// Its name, as the driver and cargo-fuzz call it.
    pub name: &'static str,
    /// What input it parses.
    pub about: &'static str,
    /// Runs the parser on one input.
    pub run: fn(&[u8]),
    /// Seeds built at run time.
    generated: fn() -> Vec<Vec<u8>>,
    /// Files named like this in the example projects and test fixtures are
    /// seeds.
    fixtures: &'static [&'static str],
    /// Tokens the mutator inserts.
    pub dict: &'static [&'static [u8]],
    /// Longest input the mutator makes.
    pub max_len: usize,
    /// Mutated inputs in the test suite (sized for a debug build).
    pub test_runs: u64,
    /// Whether the input is text (most mutated inputs stay valid UTF-8).
    pub text: bool,
}

impl Target {
    /// Every seed: `corpus/<name>/` files, fixtures, then generated inputs.
    pub fn seeds(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut files = list_files(&crate_dir().join("corpus").join(self.name));
        for name in self.fixtures {
            for parent in FIXTURE_DIRS {
                for dir in list_dirs(&crate_dir().join("../..").join(parent)) {
                    let path = dir.join(name);
                    if path.is_file() {
                        files.push(path);
                    }
                }
            }
        }
        for file in files {
            if let Ok(bytes) = std::fs::read(&file) {
                out.push(bytes);
            }
        }
        out.extend((self.generated)());
        out
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("name", &self.name).finish()
    }
}

/// Where fixture files are looked for: each subdirectory of these, relative
/// to the repository root.
const FIXTURE_DIRS: &[&str] = &["examples", "crates/lockship-project/tests/fixtures"];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn list_files(dir: &Path) -> Vec<PathBuf> {
    list(dir, Path::is_file)
}

fn list_dirs(dir: &Path) -> Vec<PathBuf> {
    list(dir, Path::is_dir)
}

/// The entries of `dir` that `keep`, sorted; none when it cannot be read.
fn list(dir: &Path, keep: fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| keep(p))
        .collect();
    paths.sort();
    paths
}

fn none() -> Vec<Vec<u8>> {
    Vec::new()
}

const DEB822: &[&[u8]] = &[
    b"\nPackage: ",
    b"\nVersion: ",
    b"\nDepends: ",
    b"\nProvides: ",
    b"\nSHA256:\n ",
    b" | ",
    b" (>= ",
    b" (<< ",
    b":any",
    b"\n \n",
    b"\n .\n",
    b"~",
    b"+",
    b"1:",
    b"-----BEGIN PGP SIGNATURE-----",
    b"- ",
];
const TOML: &[&[u8]] = &[
    b"[[package]]\n",
    b"name = \"",
    b"version = \"",
    b"marker = \"",
    b"python_version >= '3.8' and ",
    b"extra == \"x\"",
    b"sdist = { url = \"",
    b"wheels = [",
    b"dependencies = [",
    b"{ name = \"a\" }",
    b"\"\"\"",
    b"'''",
    b"\\u0000",
    b"[[[[[[[[",
    b"{a={a={a={a=",
    b"file:///",
    b"path = \"/\"",
];
const REQUIREMENTS: &[&[u8]] = &[
    b"==",
    b" \\\n",
    b" --hash=sha256:",
    b" ; python_version < \"3\"",
    b"[extra]",
    b" @ file:///",
    b"-r ",
    b"-c ",
    b"-r base.txt",
    b"-c constraints.txt",
    b"-r nested/more.txt",
    b"-r ../secret.txt",
    b"-r link.txt",
    b"\0",
    b"-e ",
    b"--index-url ",
    b"#",
];
const PDM: &[&[u8]] = &[
    b"[metadata]\n",
    b"lock_version = \"4.",
    b"content_hash = \"sha256:",
    b"[[metadata.targets]]\n",
    b"requires_python = \"",
    b"[[package]]\n",
    b"groups = [\"default\"",
    b"extras = [\"",
    b"dependencies = [\"",
    b"files = [\n    {file = \"",
    b"{url = \"",
    b"hash = \"sha256:",
    b"git = \"",
    b"path = \"../",
    b"editable = true",
];
const PIPFILE: &[&[u8]] = &[
    b"\"_meta\":",
    b"\"pipfile-spec\": 6",
    b"\"sources\": [",
    b"\"default\": {",
    b"\"develop\": {",
    b"\"hashes\": [\"sha256:",
    b"\"version\": \"==",
    b"\"markers\": \"",
    b"\"index\": \"",
    b"\"git\": \"",
    b"\"ref\": \"",
    b"\"path\": \"../",
    b"\"editable\": true",
];
const PYTHON: &[&[u8]] = &[
    b"3.12",
    b".7",
    b"cpython-",
    b"cpython@",
    b"python",
    b"pypy",
    b"\n",
    b"#",
    b">=",
    b"<",
    b"!=",
    b"==",
    b"~=",
    b"^",
    b"~",
    b"||",
    b",",
    b".*",
    b"*",
    b"rc1",
    b"a1",
    b"99999999999999999999",
];
const JSON: &[&[u8]] = &[
    b"\"mediaType\":",
    b"\"digest\":\"sha256:",
    b"\"size\":",
    b"\"manifests\":[",
    b"\"layers\":[",
    b"\"platform\":{",
    b"\"diff_ids\":[",
    b"null",
    b"[[[[[[[[[[[[[[[[",
    b"{\"a\":{\"a\":{\"a\":",
    b"\\ud800",
    b"1e999",
    b"-0",
];
const ARCHIVE: &[&[u8]] = &[
    b"ustar\x00",
    b"ustar  \x00",
    b"././@LongLink",
    b"PaxHeader",
    b".wh.",
    b".wh..wh..opq",
    b"!<arch>\n",
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"PK\x05\x06",
    b"\x1f\x8b\x08",
    b"\x28\xb5\x2f\xfd",
    b"00000000000",
    b"77777777777",
];
const WHEEL: &[&[u8]] = &[
    b"-py3-none-any.whl",
    b"-cp311-cp311-manylinux_2_17_x86_64",
    b".dist-info/",
    b".data/",
    b"sha256=",
    b",,",
    b"\"",
    b"href=\"",
    b"&amp;",
    b"&#x",
    b"<!--",
    b"#sha256=",
];
const CONTENTS: &[&[u8]] = &[
    b"usr/lib/x86_64-linux-gnu/",
    b"lib",
    b".so.",
    b"\n",
    b",",
    b"/",
];
const DOCKERIGNORE: &[&[u8]] = &[
    b"**", b"**/", b"/**/", b"*", b"?", b"[a-z]", b"[^/]", b"[!x]", b"[", b"\\", b"\n!", b"\n#",
    b"\n/", b"./",
];
const AUTH: &[&[u8]] = &[
    b"Bearer ",
    b"Basic ",
    b"realm=\"",
    b"service=",
    b"scope=\"",
    b"\\\"",
    b", ",
];

/// A KiB, for the longest inputs below.
const K: usize = 1024;

/// Declares [`TARGETS`], one row a target:
/// `name: run, text|bytes, dict, max_len, test_runs, "about"`, then
/// optionally `, seeds FN` (seeds built at run time) and `, fixtures [..]`
/// (file names whose copies in the examples and fixtures are seeds).
macro_rules! targets {
    (@text text) => { true };
    (@text bytes) => { false };
    (@seeds) => { none };
    (@seeds $generated:path) => { $generated };
    (@fixtures) => { &[] };
    (@fixtures $fixtures:expr) => { $fixtures };
    ($($name:ident: $run:path, $text:ident, $dict:expr, $max_len:expr, $test_runs:expr, $about:literal
        $(, seeds $generated:path)? $(, fixtures $fixtures:expr)?;)*) => {
        /// Every target, in a fixed order.
        pub const TARGETS: &[Target] = &[$(Target {
            name: stringify!($name),
            about: $about,
            run: $run,
            generated: targets!(@seeds $($generated)?),
            fixtures: targets!(@fixtures $($fixtures)?),
            dict: $dict,
            max_len: $max_len,
            test_runs: $test_runs,
            text: targets!(@text $text),
        }),*];
    };
}

targets! {
    deb822_packages: debian::deb822_packages, text, DEB822, 64 * K, 1500, "a Debian Packages index (deb822 stanzas, relations, versions, closure)";
    deb822_release: debian::deb822_release, text, DEB822, 64 * K, 2000, "a Debian Release file";
    deb822_inrelease: debian::deb822_inrelease, bytes, DEB822, 64 * K, 600, "a clear-signed InRelease file, checked against a fixed keyring";
    deb_contents: debian::deb_contents, text, CONTENTS, 64 * K, 1500, "a Debian Contents file (file to package index)";
    deb_archive: debian::deb_archive, bytes, ARCHIVE, 64 * K, 300, "a .deb: the ar container, control and data tars, unpacked", seeds debian::deb_seeds;
    layer_tar: layer::layer_tar, bytes, ARCHIVE, 64 * K, 800, "a layer blob (tar, gzip or zstd) read entry by entry", seeds layer::seeds;
    layer_unpack: layer::layer_unpack, bytes, ARCHIVE, 64 * K, 300, "a layer flattened over a tree with whiteouts; a canary next to it must stay", seeds layer::hostile_seeds;
    wheel_filename: wheel::wheel_filename, text, WHEEL, 512, 3000, "a wheel file name";
    wheel_record: wheel::wheel_record, text, WHEEL, 16 * K, 3000, "a wheel's RECORD file";
    wheel_zip: wheel::wheel_zip, bytes, ARCHIVE, 64 * K, 300, "a wheel archive, installed into a staged virtualenv", seeds wheel::seeds;
    index_json: wheel::index_json, text, JSON, 32 * K, 2000, "a PEP 691 JSON project page";
    index_html: wheel::index_html, text, WHEEL, 32 * K, 2000, "a PEP 503 HTML project page";
    uv_lock: project::uv_lock, text, TOML, 64 * K, 400, "a uv.lock", fixtures &["uv.lock"];
    poetry_lock: project::poetry_lock, text, TOML, 96 * K, 300, "a poetry.lock", fixtures &["poetry.lock"];
    pylock: project::pylock, text, TOML, 64 * K, 600, "a pylock.toml (PEP 751)", fixtures &["pylock.toml"];
    pdm_lock: project::pdm_lock, text, PDM, 64 * K, 400, "a pdm.lock (lock_version 4.x)", fixtures &["pdm.lock"];
    pipfile_lock: project::pipfile_lock, text, PIPFILE, 64 * K, 400, "a Pipfile.lock (pipfile-spec 6)", fixtures &["Pipfile.lock"];
    requirements: project::requirements, text, REQUIREMENTS, 64 * K, 600, "a pinned requirements file", fixtures &["requirements.txt"];
    requirements_includes: project::requirements_includes, text, REQUIREMENTS, 16 * K, 600, "a requirements file and the files it includes (NUL-separated); nothing outside the project is read";
    pyproject: project::pyproject, text, TOML, 32 * K, 800, "a pyproject.toml", fixtures &["pyproject.toml"];
    python_version: python::python_version, text, PYTHON, 4 * K, 3000, "a .python-version file; a request reads back the same", fixtures &[".python-version"];
    python_constraint: python::python_constraint, text, PYTHON, 4 * K, 1500, "a Python version constraint (PEP 440, Poetry's ^ ~ ||)";
    dockerignore: project::dockerignore, text, DOCKERIGNORE, 4 * K, 1500, "a .dockerignore, parsed and matched", fixtures &[".dockerignore"];
    oci_index: oci::oci_index, text, JSON, 32 * K, 300, "an OCI layout's index.json, read back and validated", seeds oci::index_seeds;
    oci_manifest: oci::oci_manifest, text, JSON, 32 * K, 300, "an image manifest in an OCI layout", seeds oci::manifest_seeds;
    oci_config: oci::oci_config, text, JSON, 32 * K, 300, "an image config in an OCI layout", seeds oci::config_seeds;
    oci_archive: oci::oci_archive, bytes, ARCHIVE, 64 * K, 300, "an oci-archive tar", seeds oci::archive_seeds;
    docker_archive: oci::docker_archive, bytes, ARCHIVE, 64 * K, 300, "a docker-archive tar (Docker 25 layout, or manifest.json only)", seeds oci::docker_seeds;
    registry_manifest: registry::registry_manifest, text, JSON, 32 * K, 300, "a manifest or index served by a loopback registry to the real client", seeds registry::manifest_seeds;
    registry_config: registry::registry_config, text, JSON, 32 * K, 300, "an image config served by a loopback registry to the real client", seeds registry::config_seeds;
    www_authenticate: registry::www_authenticate, text, AUTH, 4 * K, 5000, "a registry's WWW-Authenticate header";
}

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
