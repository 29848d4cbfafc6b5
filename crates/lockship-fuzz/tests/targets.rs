//! A short, deterministic fuzzing run of every target: its seeds, then a
//! fixed number of mutated inputs from a fixed seed. A failure prints the
//! input and where it was saved.

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
    requirements,
    pyproject,
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
