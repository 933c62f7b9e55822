//! A whole plan directory from fuzzed YAML, compiled end to end and forecast
//! on a few contacts: nothing panics (see `run.rs`).
#![no_main]

#[path = "run.rs"]
mod run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    run::plan(data);
});
