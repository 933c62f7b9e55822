//! `cargo bench -p herald --bench check` (or `bench/check.sh`)
//!
//! Generates a year of campaigns (issue 11: 2,000 campaigns, 1,000 segments,
//! 2,000 messages, 500 scenarios — and the same year with 500 and 1,000
//! campaigns) and measures, for each, in the same run:
//! - the bare cost of reading the same YAML files into generic values
//!   (serde-saphyr → serde_json::Value), the floor any YAML tool pays;
//! - `check` in process: read the files and compile (load, parse conditions,
//!   resolve, type-check, templates, every rule);
//! - `herald check` end to end, as a process.
//!
//! Targets: check ≤ 3× the bare parse at every size, and growing linearly
//! (its time per YAML line at 2,000 campaigns at most 1.5× that at 500).
//! Exits 1 when a target is missed, so it can gate a release job.
//!
//! `HERALD_BENCH_CAMPAIGNS=500,2000` picks the sizes;
//! `HERALD_BENCH_PLAN_DIR=DIR` only writes the plan of the largest size to DIR.

#[path = "support/large_plan.rs"]
mod large_plan;

/// The allocator of the `herald` binary, so that the in-process figures
/// (the bare parse as well as `check`) are those of the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use herald_compiler::{SourceFile, SourceKind, SourceSet};
use std::path::Path;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The median of up to `runs` runs, fewer when one run takes long (the
/// whole measure stays within a few seconds).
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    // One warm-up run (page cache, allocator).
    let t = Instant::now();
    std::hint::black_box(f());
    let first = t.elapsed();
    let budget = Duration::from_secs(4);
    let runs = runs
        .min((budget.as_secs_f64() / first.as_secs_f64().max(1e-6)) as usize)
        .max(1);
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

fn write(dir: &Path, files: &[(String, String)]) {
    for (rel, text) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
}

struct Row {
    campaigns: usize,
    lines: usize,
    bare: Duration,
    check: Duration,
    process: Duration,
}

fn measure(campaigns: usize) -> Row {
    let files = large_plan::files(&large_plan::year(campaigns));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &files);
    let lines = large_plan::yaml_lines(&files);
    let yaml: Vec<&(String, String)> = files.iter().filter(|(p, _)| p.ends_with(".yaml")).collect();

    // Sanity: the generated plan is valid.
    let set = read_sources(dir.path(), &files);
    let c = herald_compiler::compile(&set, now(), &Default::default());
    assert!(
        !c.has_errors(),
        "generated plan has errors: {:#?}",
        &c.diagnostics[..c.diagnostics.len().min(5)]
    );
    let (_, warnings) = herald_compiler::diagnostic::counts(&c.diagnostics);
    println!(
        "{campaigns} campaigns: {} YAML files, {lines} lines; {} segments, {} messages, {} scenarios; {warnings} warnings",
        yaml.len(),
        c.plan.segments.len(),
        c.plan.messages.len(),
        c.plan.scenarios.len()
    );

    let bare = time(11, || {
        let mut n = 0usize;
        for (rel, _) in &yaml {
            let text = std::fs::read_to_string(dir.path().join(rel)).unwrap();
            let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
            n += v.as_object().map_or(0, |o| o.len());
        }
        n
    });
    let check = time(11, || {
        let set = read_sources(dir.path(), &files);
        herald_compiler::compile(&set, now(), &Default::default())
            .diagnostics
            .len()
    });
    let process = time(3, || {
        std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("check")
            .arg(dir.path())
            .env("HERALD_NOW", NOW)
            .output()
            .unwrap()
            .status
    });
    Row {
        campaigns,
        lines,
        bare,
        check,
        process,
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::var("HERALD_BENCH_CAMPAIGNS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![500, 1000, 2000]);
    // `HERALD_BENCH_PLAN_DIR=DIR cargo bench --bench check` only writes the plan to DIR.
    if let Some(out) = std::env::var_os("HERALD_BENCH_PLAN_DIR") {
        let n = sizes.iter().copied().max().unwrap_or(2000);
        write(Path::new(&out), &large_plan::files(&large_plan::year(n)));
        println!(
            "wrote the benchmark plan ({n} campaigns) to {}",
            Path::new(&out).display()
        );
        return;
    }
    let rows: Vec<Row> = sizes.iter().map(|&n| measure(n)).collect();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!();
    println!(
        "| campaigns | YAML lines | bare parse | check (in process) | × bare | µs per line | herald check (process) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut ok = true;
    for r in &rows {
        let ratio = r.check.as_secs_f64() / r.bare.as_secs_f64();
        ok &= ratio <= 3.0;
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms | {ratio:.2} | {:.2} | {:.1} ms |",
            r.campaigns,
            r.lines,
            ms(r.bare),
            ms(r.check),
            r.check.as_secs_f64() * 1e6 / r.lines as f64,
            ms(r.process)
        );
    }
    let per_line = |r: &Row| r.check.as_secs_f64() / r.lines as f64;
    if let (Some(small), Some(large)) = (rows.first(), rows.last())
        && rows.len() > 1
    {
        let growth = per_line(large) / per_line(small);
        ok &= growth <= 1.5;
        println!(
            "time per line from {} to {} campaigns: ×{growth:.2} (linear is ×1)",
            small.campaigns, large.campaigns
        );
    }
    println!(
        "targets (≤ 3× the bare parse, linear growth): {}",
        if ok { "met" } else { "MISSED" }
    );
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
