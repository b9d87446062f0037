//! `cargo fuzz run locals`: the check is `fuzz_checks::locals` (crates/fuzz-checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_checks::locals(data);
});
