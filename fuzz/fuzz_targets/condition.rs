//! The condition parser never panics, and what it accepts round-trips (see `run.rs`).
#![no_main]

#[path = "run.rs"]
mod run;

libfuzzer_sys::fuzz_target!(|text: &str| run::condition(text));
