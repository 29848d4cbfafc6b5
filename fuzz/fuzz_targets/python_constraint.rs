#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lockship_fuzz::targets::python::python_constraint(data);
});
