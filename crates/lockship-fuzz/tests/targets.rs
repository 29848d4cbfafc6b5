//! A short, deterministic fuzzing run of every target: its seeds, then a
//! fixed number of mutated inputs from a fixed seed. A failure prints the
//! input and where it was saved.

use std::path::Path;

use lockship_fuzz::{fuzz, target, CappedAlloc, Options, TARGETS};

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

fn check(name: &str) {
    let t = target(name).unwrap_or_else(|| panic!("no target `{name}`"));
    let stats = fuzz(t, &Options::runs(t.test_runs)).unwrap_or_else(|failure| panic!("{failure}"));
    assert!(stats.seeds > 0, "target `{name}` has no seeds");
    assert_eq!(stats.inputs, stats.seeds as u64 + t.test_runs);
}

macro_rules! targets {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { check(stringify!($name)); })*

        #[test]
        fn every_target_has_a_test() {
            let tested = [$(stringify!($name)),*];
            for t in TARGETS {
                assert!(tested.contains(&t.name), "target `{}` is not run by the test suite", t.name);
            }
        }
    };
}

targets!(
    deb822_packages,
    deb822_release,
    deb822_inrelease,
    deb_contents,
    deb_archive,
    layer_tar,
    layer_unpack,
    wheel_filename,
    wheel_record,
    wheel_zip,
    index_json,
    index_html,
    uv_lock,
    poetry_lock,
    pylock,
    pdm_lock,
    pipfile_lock,
    requirements,
    requirements_includes,
    pyproject,
    python_version,
    python_constraint,
    dockerignore,
    oci_index,
    oci_manifest,
    oci_config,
    oci_archive,
    docker_archive,
    registry_manifest,
    registry_config,
    www_authenticate,
);

/// cargo-fuzz (`fuzz/` at the repository root) runs every target and only
/// those, in the table's order: one `[[bin]]` each, whose file calls it.
#[test]
fn cargo_fuzz_runs_every_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let bins: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|bin| {
            bin.lines()
                .find_map(|l| l.strip_prefix("name = \"")?.strip_suffix('"'))
        })
        .collect();
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    assert_eq!(
        bins, names,
        "fuzz/Cargo.toml's [[bin]]s are not the targets"
    );
    for name in &names {
        let path = root.join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert!(
            text.contains(&format!("::{name}(data)")),
            "{path:?} does not run `{name}`"
        );
    }
    let files = std::fs::read_dir(root.join("fuzz_targets"))
        .unwrap()
        .count();
    assert_eq!(
        files,
        names.len(),
        "fuzz/fuzz_targets has files of no target"
    );
}
