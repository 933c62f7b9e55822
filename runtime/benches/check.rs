//! `cargo bench -p herald --bench check`
//!
//! Generates a large plan (~10,000 YAML lines) and measures, in the same run:
//! - the bare cost of reading the same YAML files into generic values
//!   (serde-saphyr → serde_json::Value), the floor any YAML tool pays;
//! - `check` in process: read the files and compile (load, parse conditions,
//!   resolve, type-check, templates);
//! - `herald check` end to end, as a process.
//!
//! Targets (issue #2): check < 3× the bare parse and < 300 ms on 2 cores.
//! Exits 1 when a target is missed, so it can gate a release job.

#[path = "support/large_plan.rs"]
mod large_plan;

use herald_compiler::{SourceFile, SourceKind, SourceSet};
use std::path::Path;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    // One warm-up run (page cache, allocator).
    std::hint::black_box(f());
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn read_sources(dir: &Path, files: &[(String, String)]) -> SourceSet {
    let mut set = SourceSet::new();
    for (rel, _) in files {
        let text = std::fs::read_to_string(dir.join(rel)).unwrap();
        let kind = if rel == "herald.toml" {
            SourceKind::Config
        } else {
            SourceKind::Yaml
        };
        set.add(SourceFile::new(rel.clone(), kind, text));
    }
    set
}

fn main() {
    let files = large_plan::files(&large_plan::DEFAULT);
    // `HERALD_BENCH_PLAN_DIR=DIR cargo bench --bench check` only writes the plan to DIR.
    if let Some(out) = std::env::var_os("HERALD_BENCH_PLAN_DIR") {
        for (rel, text) in &files {
            let p = std::path::Path::new(&out).join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
        }
        println!("wrote the benchmark plan to {}", std::path::Path::new(&out).display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut lines = 0;
    for (rel, text) in &files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        if rel.ends_with(".yaml") {
            lines += text.lines().count();
        }
    }
    let yaml: Vec<&(String, String)> = files.iter().filter(|(p, _)| p.ends_with(".yaml")).collect();
    println!("plan: {} YAML files, {lines} lines", yaml.len());

    // Sanity: the generated plan is valid.
    let set = read_sources(dir.path(), &files);
    let c = herald_compiler::compile(&set, now(), &Default::default());
    assert!(
        !c.has_errors(),
        "generated plan has errors: {:#?}",
        &c.diagnostics[..c.diagnostics.len().min(5)]
    );
    println!(
        "model: {} segments, {} messages, {} campaigns, {} scenarios",
        c.plan.segments.len(),
        c.plan.messages.len(),
        c.plan.campaigns.len(),
        c.plan.scenarios.len()
    );

    let runs = 21;
    let bare = time(runs, || {
        let mut n = 0usize;
        for (rel, _) in &yaml {
            let text = std::fs::read_to_string(dir.path().join(rel)).unwrap();
            let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
            n += v.as_object().map_or(0, |o| o.len());
        }
        n
    });
    let check = time(runs, || {
        let set = read_sources(dir.path(), &files);
        herald_compiler::compile(&set, now(), &Default::default())
            .diagnostics
            .len()
    });
    let process = time(5, || {
        std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("check")
            .arg(dir.path())
            .env("HERALD_NOW", NOW)
            .output()
            .unwrap()
            .status
    });
    let ratio = check.as_secs_f64() / bare.as_secs_f64();
    println!("bare YAML parse (generic values): {:>8.1} ms", bare.as_secs_f64() * 1e3);
    println!(
        "check, in process:                {:>8.1} ms  ({ratio:.2}× the bare parse)",
        check.as_secs_f64() * 1e3
    );
    println!(
        "herald check, whole process:      {:>8.1} ms",
        process.as_secs_f64() * 1e3
    );
    let ok = ratio < 3.0 && check < Duration::from_millis(300);
    println!("targets (< 3× and < 300 ms): {}", if ok { "met" } else { "MISSED" });
    if !ok {
        std::process::exit(1);
    }
}

/// The bench never reads the machine's clock: the generated plan's dates are
/// relative to this instant.
const NOW: &str = "2026-11-20T09:00:00Z";

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc()
}
