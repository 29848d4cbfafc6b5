#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lockship_fuzz::targets::layer::layer_unpack(data);
});
