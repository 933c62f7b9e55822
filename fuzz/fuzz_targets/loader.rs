//! Any bytes as a plan file: compiling and rendering never panic (see `run.rs`).
#![no_main]

#[path = "run.rs"]
mod run;

libfuzzer_sys::fuzz_target!(|data: &[u8]| run::loader(data));
