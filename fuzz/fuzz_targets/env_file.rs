//! `cargo fuzz run env_file`: the check is `fuzz_checks::env_file` (crates/fuzz-checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_checks::env_file(data);
});
