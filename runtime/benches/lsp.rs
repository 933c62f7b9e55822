//! `cargo bench -p herald --bench lsp`
//!
//! Starts `herald lsp` on the year of the `check` benchmark (2,000
//! campaigns, 1,000 segments, 2,000 messages, 500 scenarios: ~30,000 YAML
//! lines; `HERALD_BENCH_CAMPAIGNS=N` for another size), opens a file, then
//! makes one-character edits — alternately breaking and fixing a field name
//! in a condition — and measures the time from sending `didChange` to
//! receiving the diagnostics that reflect it.
//!
//! Target (issue 11): the median edit → diagnostics within 100 ms.
//! Exits 1 when it is missed.

#[path = "support/large_plan.rs"]
mod large_plan;
#[path = "../../tests/support/lsp_client.rs"]
mod lsp_client;

use std::time::{Duration, Instant};

const EDITS: usize = 40;
const TARGET: Duration = Duration::from_millis(100);

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let campaigns = std::env::var("HERALD_BENCH_CAMPAIGNS")
        .ok()
        .and_then(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).max())
        .unwrap_or(2000);
    let files = large_plan::files(&large_plan::year(campaigns));
    let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    for (rel, text) in &files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    let path = dir.path().join("segments/segments_0.yaml");
    let uri = format!("file://{}", path.display());
    let clean = std::fs::read_to_string(&path).unwrap();
    // One character more makes `score_0` an unknown field.
    let broken = clean.replacen("where: score_0 ", "where: score_0x ", 1);
    assert_ne!(clean, broken);

    let mut client = lsp_client::Client::start(
        std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("lsp")
            .env("HERALD_NOW", "2026-11-20T09:00:00Z"),
    );
    let t = Instant::now();
    client.open(&uri, &clean);
    // The first compilation of a clean file publishes nothing for it: ask
    // for something to know it is done.
    client.request(
        "textDocument/hover",
        serde_json::json!({ "textDocument": { "uri": uri }, "position": { "line": 4, "character": 12 } }),
    );
    let first = t.elapsed();

    let mut times = Vec::new();
    for i in 0..EDITS {
        let (text, expect_error) = if i % 2 == 0 { (&broken, true) } else { (&clean, false) };
        let t = Instant::now();
        client.change(&uri, i as i64 + 2, text);
        let diags = client.diagnostics(&uri);
        times.push(t.elapsed());
        assert_eq!(!diags.is_empty(), expect_error, "edit {i}: {diags:?}");
    }
    client.shutdown();

    times.sort();
    let median = times[times.len() / 2];
    let p90 = times[times.len() * 9 / 10];
    let max = *times.last().unwrap();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("plan: {campaigns} campaigns, {} files, {lines} lines", files.len());
    println!("open + first compilation: {:7.1} ms", ms(first));
    println!(
        "one-character edit → diagnostics ({EDITS} edits): median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        ms(median),
        ms(p90),
        ms(max)
    );
    let ok = median <= TARGET;
    println!(
        "target (median edit ≤ {} ms): {}",
        TARGET.as_millis(),
        if ok { "met" } else { "MISSED" }
    );
    std::process::exit(if ok { 0 } else { 1 });
}
