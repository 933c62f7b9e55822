//! The cache of `compile_with` (what the language server keeps between
//! edits) changes nothing but the time: a compilation that reuses earlier
//! work gives the same diagnostics, plan, symbols and tests as one that
//! does all of it; and an edit re-does its file's work, and changes the
//! diagnostics of what depends on it in other files.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../../runtime/benches/support/large_plan.rs"]
mod large_plan;

use herald_compiler::cache::Stats;
use herald_compiler::{Cache, Code, Compilation, Options, SourceFile, SourceKind, SourceSet};
use std::path::Path;

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-20T09:00:00Z")
        .unwrap()
        .to_utc()
}

/// A case's file is what the plan directory's would be; anything else a template.
fn kind_of(path: &str) -> SourceKind {
    SourceKind::of_path(path).unwrap_or(SourceKind::Template)
}

fn set_of(files: &[(String, String)]) -> SourceSet {
    let mut set = SourceSet::new();
    for (path, text) in files {
        set.add(SourceFile::new(path.clone(), kind_of(path), text.clone()));
    }
    set
}

/// Every file of a plan directory (relative paths, sorted).
fn read_dir(root: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap();
            if name.starts_with('.') || name == "data" {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(text) = std::fs::read_to_string(&p) {
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().replace('\\', "/");
                out.push((rel, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// The diagnostic cases: each a set of files (`--- path` headers).
fn cases() -> Vec<(String, Vec<(String, String)>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut names: Vec<_> = [dir.clone(), dir.join("pass")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let case = std::fs::read_to_string(&p).unwrap();
            let mut files: Vec<(String, String)> = Vec::new();
            for line in case.split_inclusive('\n') {
                if let Some(path) = line.strip_prefix("--- ") {
                    files.push((path.trim().to_string(), String::new()));
                } else if let Some((_, text)) = files.last_mut() {
                    text.push_str(line);
                }
            }
            files.retain(|(p, _)| !p.starts_with('!'));
            if !files.iter().any(|(p, _)| p == "herald.toml") {
                files.insert(
                    0,
                    (
                        "herald.toml".into(),
                        "[project]\nname = \"case\"\ntimezone = \"Europe/Paris\"\n".into(),
                    ),
                );
            }
            (p.file_name().unwrap().to_string_lossy().into_owned(), files)
        })
        .collect()
}

fn assert_same(what: &str, cached: &Compilation, fresh: &Compilation) {
    assert_eq!(cached.diagnostics, fresh.diagnostics, "{what}: diagnostics differ");
    assert_eq!(
        format!("{:?}", cached.plan),
        format!("{:?}", fresh.plan),
        "{what}: plans differ"
    );
    assert_eq!(cached.symbols.all, fresh.symbols.all, "{what}: symbols differ");
    assert_eq!(
        format!("{:?}", cached.tests),
        format!("{:?}", fresh.tests),
        "{what}: tests differ"
    );
}

/// Compile `files` with the cache (as it is, then again warm) and without,
/// and compare.
fn check_both_ways(what: &str, files: &[(String, String)], cache: &mut Cache) {
    let set = set_of(files);
    let fresh = herald_compiler::compile(&set, now(), &Options::default());
    let first = herald_compiler::compile_with(&set, now(), &Options::default(), cache);
    assert_same(&format!("{what} (first)"), &first, &fresh);
    let again = herald_compiler::compile_with(&set, now(), &Options::default(), cache);
    assert_same(&format!("{what} (warm)"), &again, &fresh);
    assert_eq!(
        cache.stats.files_loaded, 0,
        "{what}: an unchanged plan loads no file again"
    );
    assert_eq!(cache.stats.conditions_parsed, 0, "{what}: nor parses a condition again");
}

#[test]
fn every_case_compiles_the_same_with_a_cache() {
    // One cache through every case: what another plan left in it (same
    // file names, other texts) must never leak into the next.
    let mut cache = Cache::new();
    for (name, files) in cases() {
        check_both_ways(&name, &files, &mut cache);
    }
}

#[test]
fn the_examples_and_a_generated_year_compile_the_same_with_a_cache() {
    let mut cache = Cache::new();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for name in ["boutique-mode", "garage-services", "saas-b2b"] {
        check_both_ways(name, &read_dir(&examples.join(name)), &mut cache);
    }
    let shape = large_plan::Shape {
        segments: 60,
        messages: 120,
        scenarios: 30,
        campaigns: 400,
    };
    let mut files = large_plan::files(&shape);
    check_both_ways("generated", &files, &mut cache);
    // Edits of every kind, each compiled with the cache of the one before.
    let edits: [(&str, &str, &str); 5] = [
        // A field the contact lacks: an error in a segment.
        ("segments/segments_0.yaml", "where: score_0 ", "where: score_0x "),
        // A YAML error: the file's names are known but broken.
        ("messages/messages_0.yaml", "  message_3:\n", "  message_3:\n  bad\n"),
        // A second `policies` in another file: a duplicate.
        ("contact.yaml", "programs:\n", "policies:\n  pressure: []\nprograms:\n"),
        // A template syntax error.
        ("messages/messages_1.yaml", "Preview text", "Preview {{ text"),
        // Every campaign of a file tagged `tag_0` too: over its cap.
        ("campaigns/campaigns_1.yaml", "tags: [tag_", "tags: [tag_0, tag_"),
    ];
    for (path, from, to) in edits {
        let file = files.iter_mut().find(|(p, _)| p == path).unwrap();
        assert!(file.1.contains(from), "{path} holds {from:?}");
        file.1 = file.1.replace(from, to);
        check_both_ways(&format!("generated, {path} edited"), &files, &mut cache);
    }
}

const PLAN: &str = "\
contact:
  fields:
    email: { type: email }
    total_spent: { type: number }
    region: { type: enum, values: [IDF, PACA] }
  consents:
    email_marketing: { channel: email }
programs:
  promotions: { objective: Sell more during the sales. }
policies:
  pressure:
    - { purpose: marketing, max: 1, per: 7d }
messages:
  news:
    channel: email
    purpose: marketing
    subject: \"News\"
    preheader: \"What is new this week in our shops, and what comes next month\"
    body: \"<p>Hello</p><a href='{{ unsubscribe_url }}'>Unsubscribe</a>\"
";

const CAMPAIGNS: &str = "\
campaigns:
  to_vips:
    program: promotions
    audience: segment(vip) and consent(email_marketing)
    message: news
    send_at: 2026-12-02T09:00
  to_others:
    program: promotions
    audience: segment(others) and consent(email_marketing)
    message: news
    send_at: 2026-12-03T09:00
";

fn segments(others: &str) -> String {
    format!("segments:\n  vip: {{ where: region == \"IDF\" }}\n  others: {{ where: '{others}' }}\n")
}

#[test]
fn an_edit_to_a_segment_changes_the_diagnostics_of_the_campaigns_using_it() {
    let files = |others: &str| {
        vec![
            (
                "herald.toml".to_string(),
                "[project]\nname = \"t\"\ntimezone = \"Europe/Paris\"\n".to_string(),
            ),
            ("campaigns.yaml".to_string(), CAMPAIGNS.to_string()),
            ("plan.yaml".to_string(), PLAN.to_string()),
            ("segments.yaml".to_string(), segments(others)),
        ]
    };
    let mut cache = Cache::new();
    let compile = |cache: &mut Cache, others: &str| {
        let set = set_of(&files(others));
        let c = herald_compiler::compile_with(&set, now(), &Options::default(), cache);
        assert_same(others, &c, &herald_compiler::compile(&set, now(), &Options::default()));
        c
    };
    let over_cap = |c: &Compilation| {
        c.diagnostics
            .iter()
            .filter(|d| {
                matches!(
                    d.code,
                    Code::PressureCampaignsExceedCap | Code::PressureCampaignsMayExceedCap
                )
            })
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
    };

    // Disjoint audiences: two sends in a week, to different contacts.
    let disjoint = compile(&mut cache, "region == \"PACA\"");
    assert!(over_cap(&disjoint).is_empty(), "{:?}", disjoint.diagnostics);
    assert!(disjoint.diagnostics.is_empty(), "{:?}", disjoint.diagnostics);

    // `others` now overlaps `vip`: the campaigns' file is unchanged, and
    // reused, but its campaigns may now send twice to the same contacts.
    let nested = compile(&mut cache, "region == \"IDF\" and total_spent >= 2000");
    assert_eq!(
        cache.stats,
        Stats {
            files_reused: 2,
            files_loaded: 1,
            conditions_reused: 3,
            conditions_parsed: 1,
            templates_reused: 3,
            templates_analysed: 0,
        },
        "only the segments' file is loaded again, only the edited condition parsed"
    );
    let found = over_cap(&nested);
    assert_eq!(found.len(), 1, "{:?}", nested.diagnostics);
    assert!(
        found[0].contains("`to_others`") && found[0].contains("`to_vips`"),
        "{found:?}"
    );

    // And back: the error goes.
    let again = compile(&mut cache, "region == \"PACA\"");
    assert!(again.diagnostics.is_empty(), "{:?}", again.diagnostics);
}
