//! The forecast can be split across threads: forecasting the contacts in
//! shares and merging gives exactly the forecast of all of them at once (the
//! runtime relies on it to use every core).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use herald_compiler::contact::{Contact, Layout};
use herald_compiler::forecast::Forecaster;
use herald_compiler::{SourceFile, SourceKind, SourceSet};
use std::path::Path;

fn example(name: &str) -> (SourceSet, Vec<Vec<String>>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name);
    let mut set = SourceSet::default();
    set.add(SourceFile::new(
        "herald.toml",
        SourceKind::Config,
        std::fs::read_to_string(dir.join("herald.toml")).unwrap(),
    ));
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "yaml")) {
        let rel = f.file_name().unwrap().to_str().unwrap().to_string();
        set.add(SourceFile::new(
            rel,
            SourceKind::Yaml,
            std::fs::read_to_string(f).unwrap(),
        ));
    }
    for t in std::fs::read_dir(dir.join("templates")).into_iter().flatten() {
        let t = t.unwrap().path();
        let rel = format!("templates/{}", t.file_name().unwrap().to_str().unwrap());
        set.add(SourceFile::new(
            rel,
            SourceKind::Template,
            std::fs::read_to_string(&t).unwrap(),
        ));
    }
    let csv = std::fs::read_to_string(dir.join("data/contacts.csv")).unwrap();
    // The generated files hold no quoted commas.
    let rows = csv
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (set, rows)
}

#[test]
fn forecasting_in_shares_and_merging_equals_forecasting_at_once() {
    for name in ["boutique-mode", "saas-b2b", "garage-services"] {
        let (set, rows) = example(name);
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-20T09:00:00Z")
            .unwrap()
            .to_utc();
        let compiled = herald_compiler::compile(&set, now, &Default::default());
        assert!(!compiled.has_errors(), "{name}: {:?}", compiled.diagnostics);
        let plan = &compiled.plan;
        let header: Vec<&str> = rows[0].iter().map(String::as_str).collect();
        let layout = Layout::new(&plan.contact, &header).unwrap();
        let contacts: Vec<Contact> = rows[1..]
            .iter()
            .map(|r| {
                layout
                    .parse_row(&r.iter().map(String::as_str).collect::<Vec<_>>())
                    .unwrap()
            })
            .collect();

        let mut whole = Forecaster::new(plan, &layout, now, 30);
        let mut parts: Vec<Forecaster> = (0..3).map(|_| Forecaster::new(plan, &layout, now, 30)).collect();
        for (i, c) in contacts.iter().enumerate() {
            whole.add(c);
            // Uneven shares, like batches dealt to threads.
            parts[(i / 7) % 3].add(c);
        }
        let whole = whole.finish();
        let merged = Forecaster::merge(parts);
        assert_eq!(merged, whole, "{name}");
        assert_eq!(whole.contacts, contacts.len() as u64);
        assert!(whole.recipients > 0, "{name}: the example should send something");
    }
}
