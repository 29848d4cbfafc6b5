//! Every entry of the table of well-known packages
//! (`data/build-packages.toml`) checked against the real suites' signed
//! Packages indexes, bookworm and trixie, so that a renamed or removed
//! Debian package is caught. Needs the Debian mirror (`LOCKSHIP_DEBIAN_MIRROR`,
//! else the host's apt sources): skipped with a message without it, unless
//! `CI=true`, where that fails.

use std::path::Path;

use lockship_fetch::{Cache, FetchOptions, Fetcher, NoReporter};
use lockship_runtime::{BaseOptions, Context, PythonRuntime};
use lockship_sdist::known::{known_packages, Alternatives};

fn mirror() -> Option<url::Url> {
    let from_env = std::env::var("LOCKSHIP_DEBIAN_MIRROR")
        .ok()
        .and_then(|m| url::Url::parse(&m).ok());
    let found = from_env.or_else(|| {
        lockship_debian::mirror_from_apt_sources(Path::new("/"))
            .ok()
            .flatten()
    });
    if found.is_none() {
        let why = "no Debian mirror (LOCKSHIP_DEBIAN_MIRROR or the apt sources)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the table's packages cannot be checked under CI=true: {why}");
        }
        println!("skipping: {why}");
    }
    found
}

#[test]
fn every_table_entry_exists_in_bookworm_and_trixie() {
    let Some(mirror) = mirror() else { return };
    let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp/lockship-test-cache");
    let cache = Cache::open(dir).unwrap();
    let ctx = Context {
        fetcher: &fetcher,
        cache: &cache,
        reporter: &NoReporter,
    };
    let mut missing: Vec<String> = Vec::new();
    // Python 3.11 is bookworm's, 3.13 is trixie's.
    for python in ["3.11", "3.13"] {
        let runtime = PythonRuntime::lookup(python).unwrap();
        let suite = runtime.suite.to_string();
        let base = BaseOptions::new(runtime, "linux/amd64".parse().unwrap(), mirror.clone());
        let repo = lockship_runtime::open_repository(&ctx, &base)
            .unwrap_or_else(|e| panic!("{suite}: {e}"));
        let exists = |a: &Alternatives| {
            a.0.iter()
                .any(|p| repo.index.get(p).is_some() || !repo.index.providers(p).is_empty())
        };
        for entry in known_packages() {
            for (what, items) in [("build", &entry.build), ("run", &entry.run)] {
                for item in items.iter().filter(|a| !exists(a)) {
                    missing.push(format!(
                        "{suite}: {} {what} `{}`",
                        entry.name,
                        item.display()
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "packages of data/build-packages.toml the suites lack:\n{}",
        missing.join("\n")
    );
}
