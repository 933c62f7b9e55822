//! JSON Schemas generated from the document types (checked in under `schema/`).

use schemars::generate::SchemaSettings;

/// The schema of a plan YAML file, for editors (`# yaml-language-server: $schema=`).
pub fn plan_file() -> schemars::Schema {
    let generator = SchemaSettings::draft07().into_generator();
    generator.into_root_schema_for::<crate::ast::PlanFile>()
}

/// The schema of a plan file as pretty JSON with a trailing newline.
pub fn plan_file_json() -> String {
    let mut s = serde_json::to_string_pretty(&plan_file()).unwrap_or_default();
    s.push('\n');
    s
}

/// The schema of herald.toml as pretty JSON with a trailing newline.
pub fn config_json() -> String {
    let mut s = serde_json::to_string_pretty(&crate::config::json_schema()).unwrap_or_default();
    s.push('\n');
    s
}
