//! Herald's JSON Schema in the standard YAML language server (npm
//! `yaml-language-server`, installed by scripts/test under tests/schema-ls):
//! the real server, started over stdio, finds the schema through each
//! file's `# yaml-language-server: $schema=` line — as VS Code, Neovim or
//! Helix would, with no Herald installed. Every example file validates; each
//! known-bad file gets the expected error at the expected line.

use super::*;
use serde_json::{Value, json};

use crate::lsp_client::Client;

fn yaml_server() -> Client {
    let bin = repo().join("tests/schema-ls/node_modules/yaml-language-server/bin/yaml-language-server");
    assert!(
        bin.exists(),
        "{} is missing: run `npm ci --prefix tests/schema-ls` (scripts/test does)",
        bin.display()
    );
    let mut command = std::process::Command::new("node");
    command.arg(bin).arg("--stdio");
    let mut c = Client::start(&mut command);
    let settings = json!({ "validate": true, "hover": true, "completion": true, "schemaStore": { "enable": false } });
    c.set_configuration("yaml", settings.clone());
    c.notify(
        "workspace/didChangeConfiguration",
        json!({ "settings": { "yaml": settings } }),
    );
    c
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

fn diagnostics_of(c: &mut Client, path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let u = uri(path);
    c.open(&u, &text);
    c.diagnostics(&u)
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn every_example_file_is_valid_for_the_yaml_language_server() {
    let mut files = Vec::new();
    yaml_files(&repo().join("examples"), &mut files);
    // The GitHub Actions workflow is not a plan file.
    files.retain(|f| !f.starts_with(repo().join("examples/ci")));
    files.sort();
    assert!(files.len() >= 15, "{files:?}");
    let mut c = yaml_server();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.starts_with(&format!(
                "# yaml-language-server: $schema={}",
                super::check::schema_line(f)
            )),
            "{} lacks the schema line",
            f.display()
        );
        let ds = diagnostics_of(&mut c, f);
        assert!(ds.is_empty(), "{}: {ds:#?}", f.display());
    }
    c.kill();
}

#[test]
fn known_schema_errors_are_reported_where_they_are() {
    let cases: &[(&str, &str, u64)] = &[
        // (file, a fragment of the message, 0-based line)
        ("unknown-key.yaml", "wher", 3),
        ("unknown-section.yaml", "segmets", 1),
        ("bad-channel.yaml", r#"valid values: "email", "sms", "push", "call""#, 3),
        ("bad-duration.yaml", "pattern", 7),
        ("wrong-type.yaml", "integer", 4),
        ("bad-day-and-time.yaml", "mon", 4),
        ("bad-day-and-time.yaml", "pattern", 5),
    ];
    let mut c = yaml_server();
    let mut by_file: std::collections::BTreeMap<&str, Vec<Value>> = Default::default();
    for (file, fragment, line) in cases {
        let ds = by_file
            .entry(file)
            .or_insert_with(|| diagnostics_of(&mut c, &fixture("schema-bad").join(file)))
            .clone();
        assert!(!ds.is_empty(), "{file}: no diagnostics");
        let hit = ds.iter().any(|d| {
            d["range"]["start"]["line"] == json!(line)
                && d["message"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .contains(&fragment.to_lowercase())
        });
        assert!(hit, "{file}: expected {fragment:?} at line {line}, got {ds:#?}");
    }
    c.kill();
}
