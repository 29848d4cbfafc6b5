//! Fuzz targets for every parser of outside input lockship reads: Debian
//! indexes and packages, layer tars, wheels and index pages, lockfiles and
//! pyproject.toml, OCI images on disk and from registries, and registry
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

use targets::{debian, layer, oci, project, registry, wheel};

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
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn list_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
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
    b"-e ",
    b"--index-url ",
    b"#",
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

/// Every target, in a fixed order.
pub const TARGETS: &[Target] = &[
    Target {
        name: "deb822_packages",
        about: "a Debian Packages index (deb822 stanzas, relations, versions, closure)",
        run: debian::deb822_packages,
        generated: none,
        fixtures: &[],
        dict: DEB822,
        max_len: 64 * 1024,
        text: true,
        test_runs: 1500,
    },
    Target {
        name: "deb822_release",
        about: "a Debian Release file",
        run: debian::deb822_release,
        generated: none,
        fixtures: &[],
        dict: DEB822,
        max_len: 64 * 1024,
        text: true,
        test_runs: 2000,
    },
    Target {
        name: "deb822_inrelease",
        about: "a clear-signed InRelease file, checked against a fixed keyring",
        run: debian::deb822_inrelease,
        generated: none,
        fixtures: &[],
        dict: DEB822,
        max_len: 64 * 1024,
        text: false,
        test_runs: 600,
    },
    Target {
        name: "deb_contents",
        about: "a Debian Contents file (file to package index)",
        run: debian::deb_contents,
        generated: none,
        fixtures: &[],
        dict: &[
            b"usr/lib/x86_64-linux-gnu/",
            b"lib",
            b".so.",
            b"\n",
            b",",
            b"/",
        ],
        max_len: 64 * 1024,
        text: true,
        test_runs: 1500,
    },
    Target {
        name: "deb_archive",
        about: "a .deb: the ar container, control and data tars, unpacked",
        run: debian::deb_archive,
        generated: debian::deb_seeds,
        fixtures: &[],
        dict: ARCHIVE,
        max_len: 64 * 1024,
        text: false,
        test_runs: 300,
    },
    Target {
        name: "layer_tar",
        about: "a layer blob (tar, gzip or zstd) read entry by entry",
        run: layer::layer_tar,
        generated: layer::seeds,
        fixtures: &[],
        dict: ARCHIVE,
        max_len: 64 * 1024,
        text: false,
        test_runs: 800,
    },
    Target {
        name: "layer_unpack",
        about: "a layer flattened over a tree with whiteouts; a canary next to it must stay",
        run: layer::layer_unpack,
        generated: layer::hostile_seeds,
        fixtures: &[],
        dict: ARCHIVE,
        max_len: 64 * 1024,
        text: false,
        test_runs: 300,
    },
    Target {
        name: "wheel_filename",
        about: "a wheel file name",
        run: wheel::wheel_filename,
        generated: none,
        fixtures: &[],
        dict: WHEEL,
        max_len: 512,
        text: true,
        test_runs: 3000,
    },
    Target {
        name: "wheel_record",
        about: "a wheel's RECORD file",
        run: wheel::wheel_record,
        generated: none,
        fixtures: &[],
        dict: WHEEL,
        max_len: 16 * 1024,
        text: true,
        test_runs: 3000,
    },
    Target {
        name: "wheel_zip",
        about: "a wheel archive, installed into a staged virtualenv",
        run: wheel::wheel_zip,
        generated: wheel::seeds,
        fixtures: &[],
        dict: ARCHIVE,
        max_len: 64 * 1024,
        text: false,
        test_runs: 300,
    },
    Target {
        name: "index_json",
        about: "a PEP 691 JSON project page",
        run: wheel::index_json,
        generated: none,
        fixtures: &[],
        dict: JSON,
        max_len: 32 * 1024,
        text: true,
        test_runs: 2000,
    },
    Target {
        name: "index_html",
        about: "a PEP 503 HTML project page",
        run: wheel::index_html,
        generated: none,
        fixtures: &[],
        dict: WHEEL,
        max_len: 32 * 1024,
        text: true,
        test_runs: 2000,
    },
    Target {
        name: "uv_lock",
        about: "a uv.lock",
        run: project::uv_lock,
        generated: none,
        fixtures: &["uv.lock"],
        dict: TOML,
        max_len: 64 * 1024,
        text: true,
        test_runs: 400,
    },
    Target {
        name: "poetry_lock",
        about: "a poetry.lock",
        run: project::poetry_lock,
        generated: none,
        fixtures: &["poetry.lock"],
        dict: TOML,
        max_len: 96 * 1024,
        text: true,
        test_runs: 300,
    },
    Target {
        name: "pylock",
        about: "a pylock.toml (PEP 751)",
        run: project::pylock,
        generated: none,
        fixtures: &["pylock.toml"],
        dict: TOML,
        max_len: 64 * 1024,
        text: true,
        test_runs: 600,
    },
    Target {
        name: "requirements",
        about: "a pinned requirements file",
        run: project::requirements,
        generated: none,
        fixtures: &["requirements.txt"],
        dict: REQUIREMENTS,
        max_len: 64 * 1024,
        text: true,
        test_runs: 600,
    },
    Target {
        name: "pyproject",
        about: "a pyproject.toml",
        run: project::pyproject,
        generated: none,
        fixtures: &["pyproject.toml"],
        dict: TOML,
        max_len: 32 * 1024,
        text: true,
        test_runs: 800,
    },
    Target {
        name: "dockerignore",
        about: "a .dockerignore, parsed and matched",
        run: project::dockerignore,
        generated: none,
        fixtures: &[".dockerignore"],
        dict: DOCKERIGNORE,
        max_len: 4 * 1024,
        text: true,
        test_runs: 1500,
    },
    Target {
        name: "oci_index",
        about: "an OCI layout's index.json, read back and validated",
        run: oci::oci_index,
        generated: oci::index_seeds,
        fixtures: &[],
        dict: JSON,
        max_len: 32 * 1024,
        text: true,
        test_runs: 300,
    },
    Target {
        name: "oci_manifest",
        about: "an image manifest in an OCI layout",
        run: oci::oci_manifest,
        generated: oci::manifest_seeds,
        fixtures: &[],
        dict: JSON,
        max_len: 32 * 1024,
        text: true,
        test_runs: 300,
    },
    Target {
        name: "oci_config",
        about: "an image config in an OCI layout",
        run: oci::oci_config,
        generated: oci::config_seeds,
        fixtures: &[],
        dict: JSON,
        max_len: 32 * 1024,
        text: true,
        test_runs: 300,
    },
    Target {
        name: "oci_archive",
        about: "an oci-archive tar",
        run: oci::oci_archive,
        generated: oci::archive_seeds,
        fixtures: &[],
        dict: ARCHIVE,
        max_len: 64 * 1024,
        text: false,
        test_runs: 300,
    },
    Target {
        name: "docker_archive",
        about: "a docker-archive tar (Docker 25 layout, or manifest.json only)",
        run: oci::docker_archive,
        generated: oci::docker_seeds,
        fixtures: &[],
        dict: ARCHIVE,
        max_len: 64 * 1024,
        text: false,
        test_runs: 300,
    },
    Target {
        name: "registry_manifest",
        about: "a manifest or index served by a loopback registry to the real client",
        run: registry::registry_manifest,
        generated: registry::manifest_seeds,
        fixtures: &[],
        dict: JSON,
        max_len: 32 * 1024,
        text: true,
        test_runs: 300,
    },
    Target {
        name: "registry_config",
        about: "an image config served by a loopback registry to the real client",
        run: registry::registry_config,
        generated: registry::config_seeds,
        fixtures: &[],
        dict: JSON,
        max_len: 32 * 1024,
        text: true,
        test_runs: 300,
    },
    Target {
        name: "www_authenticate",
        about: "a registry's WWW-Authenticate header",
        run: registry::www_authenticate,
        generated: none,
        fixtures: &[],
        dict: AUTH,
        max_len: 4 * 1024,
        text: true,
        test_runs: 5000,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
