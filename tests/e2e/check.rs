//! `herald check`: exit codes, formats, examples.

use super::*;
use insta_cmd::assert_cmd_snapshot;

#[test]
fn every_example_passes() {
    for name in ["boutique-mode", "saas-b2b", "garage-services"] {
        let (code, out, _) = run(herald().arg("check").arg(example(name)));
        assert_eq!(code, 0, "{name}:\n{out}");
        assert!(out.contains("no problems"), "{name}:\n{out}");
    }
}

#[test]
fn every_example_yaml_file_declares_the_schema() {
    for entry in glob(&repo().join("examples")) {
        // Plan files and test files (`tests/`, one level deeper); not the CI workflow.
        if entry.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&entry).unwrap();
            assert!(
                text.starts_with(&format!("# yaml-language-server: $schema={}\n", schema_line(&entry))),
                "{} does not start with the $schema line",
                entry.display()
            );
        }
    }
}

/// The path of `schema/herald.schema.json` from an example's file.
pub fn schema_line(file: &Path) -> String {
    let examples = repo().join("examples");
    let depth = file.strip_prefix(&examples).unwrap().components().count();
    format!("{}schema/herald.schema.json", "../".repeat(depth))
}

fn glob(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(glob(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn examples_have_enough_synthetic_contacts() {
    for name in ["boutique-mode", "saas-b2b", "garage-services"] {
        let csv = std::fs::read_to_string(example(name).join("data/contacts.csv")).unwrap();
        let rows = csv.lines().count() - 1;
        assert!(rows >= 500, "{name} has {rows} contacts");
        assert!(
            !csv.contains('@')
                || csv
                    .lines()
                    .skip(1)
                    .all(|l| !l.contains('@') || l.contains("@example.test"))
        );
    }
}

#[test]
fn human_output_of_a_broken_plan() {
    assert_cmd_snapshot!(herald().args(["check", "--color=never"]).current_dir(fixture("broken")));
}

#[test]
fn errors_exit_1_and_json_has_the_documented_shape() {
    let (code, out, _) = run(herald().args(["check", "--format", "json"]).arg(fixture("broken")));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let top: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        top,
        ["diagnostics", "error_count", "format_version", "valid", "warning_count"]
    );
    assert_eq!(v["format_version"], "1");
    assert_eq!(v["valid"], false);
    assert_eq!(v["error_count"], 2);
    let d = &v["diagnostics"][0];
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "category", "code", "file", "help", "message", "range", "related", "severity"
        ]
    );
    assert_eq!(d["code"], "reference/unknown-field");
    assert_eq!(d["category"], "reference");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "plan.yaml");
    assert_eq!(d["range"]["start"]["line"], 9);
    assert_eq!(d["range"]["start"]["column"], 36);
    assert_eq!(d["range"]["end"]["column"], 42);
    assert_cmd_snapshot!(
        herald()
            .args(["check", "--format", "json"])
            .current_dir(fixture("broken"))
    );
}

#[test]
fn github_format_annotates_files() {
    // Run from the plan directory: paths are the plan's own.
    let (code, out, _) = run(herald()
        .args(["check", "--format", "github"])
        .current_dir(fixture("broken")));
    assert_eq!(code, 1);
    let first = out.lines().next().unwrap();
    assert!(
        first
            .starts_with("::error file=plan.yaml,line=9,col=36,endLine=9,endColumn=42,title=reference/unknown-field::"),
        "{first}"
    );
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().nth(2).unwrap().starts_with("::warning file=plan.yaml"));
}

#[test]
fn a_clean_plan_exits_0_in_every_format() {
    for format in ["human", "json", "github"] {
        let (code, out, _) = run(herald()
            .args(["check", "--format", format])
            .arg(example("garage-services")));
        assert_eq!(code, 0, "{format}: {out}");
    }
    let (_, out, _) = run(herald()
        .args(["check", "--format", "json"])
        .arg(example("garage-services")));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["diagnostics"], serde_json::json!([]));
}

#[test]
fn default_directory_is_the_current_one() {
    let (code, _, _) = run(herald().arg("check").current_dir(example("saas-b2b")));
    assert_eq!(code, 0);
}

#[test]
fn the_baseline_caps_are_said_once_when_the_plan_writes_none() {
    // Issue 11 item 5: no `policies.pressure` means the practice's baseline,
    // said once — as a note, in JSON `notes`, as a GitHub notice.
    let config = b"[project]\nname = \"t\"\ntimezone = \"Europe/Paris\"\n";
    let yaml = b"contact:\n  fields:\n    email: { type: email }\n";
    let dir = plan(&[("herald.toml", config), ("plan.yaml", yaml)]);
    let (code, out, _) = run(herald().args(["check", "--color=never"]).arg(dir.path()));
    assert_eq!(code, 0, "{out}");
    insta::assert_snapshot!(out);
    let (_, out, _) = run(herald().args(["check", "--format", "json"]).arg(dir.path()));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["notes"].as_array().unwrap().len(), 1, "{v}");
    assert!(
        v["notes"][0].as_str().unwrap().starts_with("no `policies.pressure`"),
        "{v}"
    );
    let (_, out, _) = run(herald().args(["check", "--format", "github"]).arg(dir.path()));
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("::notice title=Herald::no `policies.pressure`"))
            .count(),
        1,
        "{out}"
    );
    // A written list replaces the baseline: nothing to say.
    let yaml = b"contact:\n  fields:\n    email: { type: email }\npolicies:\n  pressure:\n    - { purpose: marketing, max: 1, per: 1d }\n";
    let dir = plan(&[("herald.toml", config), ("plan.yaml", yaml)]);
    let (code, out, _) = run(herald().args(["check", "--color=never"]).arg(dir.path()));
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("baseline"), "{out}");
}
