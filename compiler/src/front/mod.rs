//! The front end: source texts to documents. Sources with their spans, YAML
//! read under budgets, the documents as written (typed, names unresolved),
//! `herald.toml`, and the condition language.

pub mod ast;
pub mod config;
pub mod expr;
pub mod load;
pub mod secrets;
pub mod source;
pub mod yaml;
