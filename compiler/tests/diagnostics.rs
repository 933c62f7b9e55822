//! One case per diagnostic code: `cases/<code with / as __>.txt` holds the
//! plan files (`--- path` headers; a default herald.toml is added unless the
//! case has one), and the snapshot holds the input and the rendered output.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use herald_compiler::diagnostic::{Code, render_human, render_json};
use herald_compiler::{Options, SourceFile, SourceKind, SourceSet};
use std::path::Path;

const DEFAULT_CONFIG: &str = "[project]\nname = \"case\"\ntimezone = \"Europe/Paris\"\n";

/// Codes whose cases need the runtime — its file loader (binary files, bad
/// UTF-8, links and FIFOs) or the real contacts (`plan`): the end-to-end tests
/// in `tests/` snapshot them, and `every_code_has_a_case` checks that a
/// snapshot there shows each one.
const COVERED_BY_E2E: &[Code] = &[
    Code::SyntaxEncoding,
    Code::SyntaxUnreadableFile,
    Code::ExperimentSampleTooSmall,
];

/// A case's file is what the plan directory's would be; anything else a template.
fn kind_of(path: &str) -> SourceKind {
    SourceKind::of_path(path).unwrap_or(SourceKind::Template)
}

/// Split a case into files.
fn sources(case: &str) -> SourceSet {
    let mut files: Vec<(String, String)> = Vec::new();
    for line in case.split_inclusive('\n') {
        if let Some(path) = line.strip_prefix("--- ") {
            files.push((path.trim().to_string(), String::new()));
        } else if let Some((_, text)) = files.last_mut() {
            text.push_str(line);
        }
    }
    let mut set = SourceSet::new();
    if !files.iter().any(|(p, _)| p == "herald.toml" || p == "!no-config") {
        set.add(SourceFile::new("herald.toml", SourceKind::Config, DEFAULT_CONFIG));
    }
    for (path, text) in files {
        if path.starts_with('!') {
            continue;
        }
        set.add(SourceFile::new(path.clone(), kind_of(&path), text));
    }
    set
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z")
        .unwrap()
        .to_utc()
}

fn compile(case: &str) -> (SourceSet, herald_compiler::Compilation) {
    let set = sources(case);
    let mut options = Options::default();
    if case.contains("#! small-budget") {
        options.budgets.max_file_bytes = 64;
    }
    let c = herald_compiler::compile(&set, now(), &options);
    (set, c)
}

fn case_files() -> Vec<(String, String)> {
    files_in("tests/cases")
}

fn files_in(rel: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_case_renders_its_code() {
    for (name, case) in case_files() {
        let (set, c) = compile(&case);
        let code = name.split('.').next().unwrap().replace("__", "/");
        assert!(
            c.diagnostics.iter().any(|d| d.code.as_str() == code),
            "case {name} does not produce {code}: {:#?}",
            c.diagnostics
        );
        // The snapshot shows the case's own diagnostics in full, the others by code.
        let (own, others): (Vec<_>, Vec<_>) = c.diagnostics.iter().cloned().partition(|d| d.code.as_str() == code);
        let rendered = render_human::render(&own, &set, render_human::HumanOptions::default());
        let mut snapshot = format!("----- SOURCE\n{case}\n----- DIAGNOSTICS\n{rendered}");
        if !others.is_empty() {
            snapshot.push_str("----- OTHER DIAGNOSTICS\n");
            for d in &others {
                snapshot.push_str(&format!("{} {}: {}\n", d.severity.as_str(), d.code, d.message));
            }
        }
        insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, snapshot);
        });
    }
}

/// Categories of the rules issue: each code also has a passing case.
fn needs_passing_case(code: Code) -> bool {
    use herald_compiler::diagnostic::Category::*;
    matches!(
        code.category(),
        Consent | Pressure | Timing | Sms | Email | Push | Template | Experiment
    ) && code != Code::SyntaxTemplate
        || matches!(
            code,
            Code::ReferenceUnusedSegment | Code::ReferenceUnusedMessage | Code::ReferenceUnusedProgram
        )
}

#[test]
fn passing_cases_do_not_trigger_their_rule() {
    for (name, case) in files_in("tests/cases/pass") {
        let (_, c) = compile(&case);
        let code = name.split('.').next().unwrap().replace("__", "/");
        let hits: Vec<_> = c
            .diagnostics
            .iter()
            .filter(|d| d.code.as_str() == code || d.is_error())
            .collect();
        assert!(hits.is_empty(), "passing case {name} has diagnostics: {hits:#?}");
    }
}

#[test]
fn every_code_has_a_case() {
    let names: Vec<String> = case_files()
        .into_iter()
        .map(|(n, _)| n.split('.').next().unwrap().to_string())
        .collect();
    let e2e: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/snapshots"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    for code in Code::ALL {
        if COVERED_BY_E2E.contains(code) {
            let shown = format!("[{code}]");
            assert!(
                e2e.iter().any(|snap| snap.contains(&shown)),
                "no end-to-end snapshot shows {code}: add a test under tests/e2e that produces it"
            );
            continue;
        }
        let want = code.as_str().replace('/', "__");
        assert!(names.contains(&want), "no case for {code}: add tests/cases/{want}.txt");
        if needs_passing_case(*code) && !COVERED_BY_E2E.contains(code) {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/cases/pass/{want}.txt"));
            assert!(
                path.exists(),
                "no passing case for {code}: add tests/cases/pass/{want}.txt"
            );
        }
    }
}

#[test]
fn json_ranges_are_one_based_characters() {
    let case = "--- plan.yaml\ncontact:\n  fields:\n    tags_x: { type: string }\nsegments:\n  s:\n    where: 'tags_x == \"é\" or regoin == 2'\n";
    let (set, c) = compile(case);
    let report = render_json::report(&c.diagnostics, &set);
    let v = serde_json::to_value(&report).unwrap();
    let unknown = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["message"].as_str().unwrap().contains("regoin"))
        .unwrap();
    assert_eq!(unknown["file"], "plan.yaml");
    // `    where: 'tags_x == "é" or ` is 29 characters before `regoin` (é counts once).
    assert_eq!(unknown["range"]["start"]["line"], 6);
    assert_eq!(unknown["range"]["start"]["column"], 30);
    assert_eq!(unknown["range"]["end"]["column"], 36);
}

#[test]
fn positions_map_through_quoting_styles() {
    // The same typo in a plain, a double-quoted (with escapes), a single-quoted
    // and a block scalar: each diagnostic points at `regoin` in the file.
    let case = concat!(
        "--- plan.yaml\n",
        "contact:\n  fields:\n    region: { type: string }\n",
        "segments:\n",
        "  a:\n    where: regoin == \"x\"\n",
        "  b:\n    where: \"region == \\\"\\u00e9\\\" or regoin == \\\"y\\\"\"\n",
        "  c:\n    where: 'region == ''x'' or regoin == ''y'''\n",
        "  d:\n    where: |\n      region == \"x\"\n        or regoin == \"y\"\n",
        "  e:\n    where: >-\n      region == \"x\"\n      or regoin == \"y\"\n",
    );
    let (set, c) = compile(case);
    let file = set.get(set.find("plan.yaml").unwrap()).unwrap();
    let hits: Vec<&str> = c
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::ReferenceUnknownField)
        .map(|d| file.slice(d.primary.as_ref().unwrap().span))
        .collect();
    assert_eq!(hits, ["regoin"; 5], "{:#?}", c.diagnostics);
}

#[test]
fn the_template_quick_fix_keeps_the_contact_prefix() {
    let case = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/template__unknown-variable.txt"),
    )
    .unwrap();
    let (set, c) = compile(&case);
    let d = c
        .diagnostics
        .iter()
        .find(|d| d.code == Code::TemplateUnknownVariable)
        .unwrap();
    assert_eq!(d.help.as_deref(), Some("did you mean `contact.first_name`?"));
    let [fix] = d.fixes.as_slice() else {
        panic!("{:#?}", d.fixes)
    };
    let [(span, text)] = fix.edits.as_slice() else {
        panic!("{fix:#?}")
    };
    let file = set.get(span.file).unwrap();
    assert_eq!(file.slice(*span), "contact.frist_name");
    // Applied, the fix leaves no error behind.
    let fixed = case.replace("contact.frist_name", text);
    let (_, again) = compile(&fixed);
    assert!(!again.has_errors(), "{:#?}", again.diagnostics);
}

#[test]
fn one_mistake_gives_one_error() {
    for name in ["syntax__yaml.one-mistake", "schema__unknown-key.one-mistake"] {
        let case =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/cases/{name}.txt")))
                .unwrap();
        let (_, c) = compile(&case);
        let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes.len(), 1, "{name}: {:#?}", c.diagnostics);
    }
}
