//! The memory cap: a run holding more than its cap aborts the process,
//! naming the target and saving the input; runs under it, and allocations
//! outside a capped run, are untouched.

use std::process::Command;

use lockship_fuzz::{set_current_input, with_cap, CappedAlloc};

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

const CHILD: &str = "LOCKSHIP_FUZZ_ALLOC_CHILD";

#[test]
fn a_run_over_its_memory_cap_aborts_and_saves_the_input() {
    if std::env::var_os(CHILD).is_some() {
        let input = b"grow without end".to_vec();
        set_current_input("alloc_test", &input);
        with_cap(1 << 20, || {
            let mut held = Vec::new();
            for _ in 0..64 {
                held.push(std::hint::black_box(vec![1u8; 256 * 1024]));
            }
            std::hint::black_box(held);
        });
        panic!("the cap did not stop the run");
    }
    let artifacts = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_run_over_its_memory_cap_aborts_and_saves_the_input",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("LOCKSHIP_FUZZ_ARTIFACTS", artifacts.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the child ran to the end: {stderr}");
    assert!(
        stderr.contains("lockship-fuzz: target `alloc_test` held"),
        "{stderr}"
    );
    assert!(!stderr.contains("the cap did not stop the run"), "{stderr}");
    let saved: Vec<_> = std::fs::read_dir(artifacts.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert!(saved[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("oom-alloc_test-"));
    assert_eq!(std::fs::read(&saved[0]).unwrap(), b"grow without end");
}

#[test]
fn runs_under_the_cap_and_uncapped_code_are_untouched() {
    let total = with_cap(1 << 20, || {
        // Many allocations, each freed: only what is held at once counts.
        (0..1000)
            .map(|i| vec![0u8; 64 * 1024].len() + i)
            .sum::<usize>()
    });
    assert!(total > 1 << 20);
    let big = vec![0u8; 8 << 20];
    assert_eq!(big.len(), 8 << 20);
}
