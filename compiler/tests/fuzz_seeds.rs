//! Every seed of the fuzz corpora (`fuzz/seeds/<target>/`, regression seeds
//! included) through the very function its fuzz target runs: a crash found
//! once stays fixed, on stable and without cargo-fuzz.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../../fuzz/fuzz_targets/run.rs"]
mod run;

use std::path::Path;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds").join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

#[test]
fn condition_seeds() {
    for (name, bytes) in seeds("condition") {
        // libFuzzer's `&str` input: only UTF-8 reaches the target.
        if let Ok(text) = std::str::from_utf8(&bytes) {
            eprintln!("condition/{name}");
            run::condition(text);
        }
    }
}

#[test]
fn loader_seeds() {
    for (name, bytes) in seeds("loader") {
        eprintln!("loader/{name}");
        run::loader(&bytes);
    }
}

#[test]
fn plan_seeds() {
    let mut forecast = 0;
    for (name, bytes) in seeds("plan") {
        eprintln!("plan/{name}");
        forecast += usize::from(run::plan(&bytes));
    }
    assert!(
        forecast > 0,
        "no plan seed compiles cleanly: the forecast is never fuzzed"
    );
}
