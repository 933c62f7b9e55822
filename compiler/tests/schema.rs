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
    // Test files' one section is in the same schema.
    sections.push(herald_compiler::ast::TEST_SECTION);
    sections.sort_unstable();
    assert_eq!(keys, sections);
    assert_eq!(
        schema.get("additionalProperties"),
        Some(&serde_json::Value::Bool(false))
    );
}

use serde_json::Value;

/// Resolve `$ref`s and one level of `allOf`/`anyOf` (without `null`) to the
/// schemas a value must match.
fn resolve<'a>(defs: &'a serde_json::Map<String, Value>, v: &'a Value) -> Vec<&'a Value> {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap();
        return resolve(defs, &defs[name]);
    }
    for comb in ["allOf", "anyOf", "oneOf"] {
        if let Some(parts) = v.get(comb).and_then(Value::as_array) {
            let mut out: Vec<&Value> = parts
                .iter()
                .filter(|p| p.get("type") != Some(&Value::String("null".into())))
                .flat_map(|p| resolve(defs, p))
                .collect();
            if v.get("examples").is_some() {
                out.insert(0, v);
            }
            return out;
        }
    }
    vec![v]
}

fn types(v: &Value) -> Vec<&str> {
    match v.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
        _ => Vec::new(),
    }
}

/// Every property of every object of the schema, as (where, name, schema).
fn properties(schema: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    fn walk(at: &str, v: &Value, out: &mut Vec<(String, String, Value)>) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                out.push((at.to_string(), k.clone(), p.clone()));
            }
        }
        for comb in ["oneOf", "anyOf", "allOf"] {
            for (i, x) in v.get(comb).and_then(Value::as_array).into_iter().flatten().enumerate() {
                walk(&format!("{at}.{comb}[{i}]"), x, out);
            }
        }
    }
    walk("root", schema, &mut out);
    for (name, d) in schema["definitions"].as_object().unwrap() {
        walk(name, d, &mut out);
    }
    out
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[test]
fn every_property_is_described_and_every_scalar_has_examples_or_values() {
    let schema: Value = serde_json::to_value(herald_compiler::schema::plan_file()).unwrap();
    let defs = schema["definitions"].as_object().unwrap();
    let mut problems = Vec::new();
    for (at, name, p) in properties(&schema) {
        if p.get("description").is_none() {
            problems.push(format!("{at}.{name}: no description"));
        }
        let targets = resolve(defs, &p);
        let documented = targets
            .iter()
            .any(|t| t.get("examples").is_some() || t.get("enum").is_some() || t.get("const").is_some())
            || p.get("examples").is_some();
        let objects_only = targets
            .iter()
            .all(|t| types(t) == ["object"] || t.get("properties").is_some());
        if !documented && !objects_only {
            problems.push(format!("{at}.{name}: no examples, enum or const"));
        }
        // Examples must have a type the property accepts.
        let accepted: Vec<&str> = targets.iter().flat_map(|t| types(t)).collect();
        for e in p.get("examples").and_then(Value::as_array).into_iter().flatten() {
            let t = type_of(e);
            let ok = accepted.is_empty()
                || accepted.contains(&t)
                || (t == "integer" && accepted.contains(&"number"))
                || targets.iter().any(|x| x.get("oneOf").is_some());
            if !ok {
                problems.push(format!("{at}.{name}: example {e} is {t}, not one of {accepted:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn objects_reject_unknown_keys_and_enums_cover_the_language() {
    let schema: Value = serde_json::to_value(herald_compiler::schema::plan_file()).unwrap();
    for (name, d) in schema["definitions"].as_object().unwrap() {
        if types(d) == ["object"] && d.get("properties").is_some() {
            assert_eq!(
                d.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{name} accepts unknown keys"
            );
        }
    }
    let defs = &schema["definitions"];
    assert_eq!(
        defs["Weekday"]["enum"],
        serde_json::json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    );
    assert_eq!(
        defs["Purpose"]["enum"],
        serde_json::json!(["marketing", "transactional", "service"])
    );
    for pattern_def in ["Duration", "TimeOfDay", "CalendarOffset", "LocalDateTime", "Reentry"] {
        assert!(
            defs[pattern_def].get("pattern").is_some(),
            "{pattern_def} has no pattern"
        );
    }
}
