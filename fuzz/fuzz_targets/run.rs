#![allow(dead_code)] // each target uses one of these functions
//! What each fuzz target runs, shared with `compiler/tests/fuzz_seeds.rs`,
//! which replays every seed of `fuzz/seeds/` through the same functions under
//! `cargo test` (so regression seeds stay fixed on stable, without cargo-fuzz).
//!
//! Each function panics only on a bug: a panic inside the compiler, or a
//! broken property (the round trip of conditions).

use herald_compiler::contact::{Contact, Layout};
use herald_compiler::diagnostic::{render_human, render_json};
use herald_compiler::expr::{parse_condition, pest_only};
use herald_compiler::forecast::Forecaster;
use herald_compiler::source::FileId;
use herald_compiler::yaml::scalar::ScalarMap;
use herald_compiler::{SourceFile, SourceKind, SourceSet};

const CONFIG: &str = "[project]\nname = \"fuzz\"\ntimezone = \"Europe/Paris\"\n";

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default()
}

/// The condition parser never panics, parses as the pest grammar alone does,
/// and what it accepts round-trips: the canonical rendering of a parsed
/// condition parses to the same rendering.
pub fn condition(text: &str) {
    let map = ScalarMap::new(text, text, 0);
    // The fast parser gives pest's tree, spans included, or leaves the
    // text to pest: either way the result is the reference's.
    let parsed = parse_condition(text, &map, FileId(0));
    match (&parsed, pest_only(text, &map, FileId(0))) {
        (Ok(a), Ok(b)) => assert_eq!(*a, b, "{text:?}"),
        (Err(a), Err(b)) => assert_eq!(a.message, b.message, "{text:?}"),
        (a, b) => panic!("{text:?}: {a:?} but pest alone: {b:?}"),
    }
    if let Ok(expr) = parsed {
        let canonical = expr.to_string();
        let map2 = ScalarMap::new(&canonical, &canonical, 0);
        let again = parse_condition(&canonical, &map2, FileId(0)).expect("canonical form must parse");
        assert_eq!(again.to_string(), canonical);
    }
}

/// Any bytes as a plan file: compiling and rendering never panic.
pub fn loader(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut set = SourceSet::new();
    set.add(SourceFile::new("herald.toml", SourceKind::Config, CONFIG));
    set.add(SourceFile::new("plan.yaml", SourceKind::Yaml, text));
    set.add(SourceFile::new(
        "templates/a.mjml",
        SourceKind::Template,
        "<mjml>{{ contact.x }}</mjml>",
    ));
    let c = herald_compiler::compile(&set, now(), &Default::default());
    let _ = render_json::render(&c.diagnostics, &set);
    let _ = render_human::render(&c.diagnostics, &set, Default::default());
}

/// Cell values the generated contacts take: one of each kind the loader reads.
const CELLS: &[&str] = &[
    "",
    "x",
    "IDF",
    "0",
    "42",
    "-3.5",
    "true",
    "false",
    "2026-11-20",
    "1970-01-01",
    "2026-11-27T09:00:00Z",
    "+33612345678",
    "a@example.test",
    "Europe/Paris",
    "a|b",
    "yes",
];

/// A whole plan directory: the input is split on NUL bytes into the files of
/// the plan (the first four become `a.yaml` … `d.yaml`, the fifth the template
/// `templates/t.mjml`). It is compiled end to end (loader → checks → rules),
/// its diagnostics rendered, its objects diffed against an empty state, and,
/// when it has no error, a few contacts generated from the input are
/// forecast. Returns whether the forecast ran.
pub fn plan(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let mut set = SourceSet::new();
    set.add(SourceFile::new("herald.toml", SourceKind::Config, CONFIG));
    for (i, part) in text.split('\0').take(5).enumerate() {
        let (path, kind) = match i {
            0 => ("a.yaml", SourceKind::Yaml),
            1 => ("b.yaml", SourceKind::Yaml),
            2 => ("c.yaml", SourceKind::Yaml),
            3 => ("d.yaml", SourceKind::Yaml),
            _ => ("templates/t.mjml", SourceKind::Template),
        };
        set.add(SourceFile::new(path, kind, part));
    }
    let c = herald_compiler::compile(&set, now(), &Default::default());
    let _ = render_json::render(&c.diagnostics, &set);
    let _ = render_human::render(&c.diagnostics, &set, Default::default());
    let objects = herald_compiler::ir::objects(&c.plan);
    let _ = herald_compiler::diff::diff(&objects, &Default::default());
    if c.has_errors() {
        return false;
    }
    forecast(&c.plan, data);
    true
}

/// Forecast a few contacts whose cells are picked by the input's bytes.
fn forecast(plan: &herald_compiler::model::Plan, data: &[u8]) {
    let mut header: Vec<String> = vec!["id".into()];
    header.extend(plan.contact.fields.keys().cloned());
    header.extend(plan.contact.consents.keys().map(|c| format!("consent_{c}")));
    let names: Vec<&str> = header.iter().map(String::as_str).collect();
    let Ok(layout) = Layout::new(&plan.contact, &names) else {
        return;
    };
    let mut rng =
        herald_compiler::rng::SplitMix64::new(data.iter().fold(7u64, |h, b| h.wrapping_mul(31) ^ u64::from(*b)));
    let mut forecaster = Forecaster::new(plan, &layout, now(), 30);
    for k in 0..5 {
        let id = format!("c{k}");
        let mut row: Vec<&str> = vec![&id];
        for _ in 1..names.len() {
            row.push(CELLS[rng.index(CELLS.len())]);
        }
        let contact: Contact = match layout.parse_row(&row) {
            Ok(c) => c,
            Err(_) => continue,
        };
        forecaster.add(&contact);
    }
    let _ = forecaster.finish();
}
