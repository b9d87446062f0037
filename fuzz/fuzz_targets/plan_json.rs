//! `cargo fuzz run plan_json`: the check is `fuzz_checks::plan_json` (crates/fuzz-checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_checks::plan_json(data);
});
