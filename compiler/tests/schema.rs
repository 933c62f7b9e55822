//! The checked-in JSON Schemas must match the types they are generated from.
//! Regenerate with `HERALD_UPDATE_SCHEMA=1 cargo test -p herald-compiler --test schema`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::Path;

fn check(file: &str, generated: String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema").join(file);
    if std::env::var_os("HERALD_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "schema/{file} is stale: run `HERALD_UPDATE_SCHEMA=1 cargo test -p herald-compiler --test schema` and commit the result"
    );
}

#[test]
fn plan_schema_is_current() {
    check("herald.schema.json", herald_compiler::schema::plan_file_json());
}

#[test]
fn config_schema_is_current() {
    check("herald-toml.schema.json", herald_compiler::schema::config_json());
}

#[test]
fn schema_sections_match_the_loader() {
    let schema = herald_compiler::schema::plan_file();
    let props = schema.get("properties").and_then(|p| p.as_object()).unwrap();
    let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut sections = herald_compiler::ast::SECTIONS.to_vec();
    sections.sort_unstable();
    assert_eq!(keys, sections);
    assert_eq!(
        schema.get("additionalProperties"),
        Some(&serde_json::Value::Bool(false))
    );
}
