#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lockship_fuzz::targets::project::pipfile_lock(data);
});
