//! Herald's compiler: plan sources in, a checked model and diagnostics out.
//!
//! Pure by construction: no file system, network, clock, environment or
//! threads (clippy's `disallowed_methods`/`disallowed_types`, configured in
//! `compiler/clippy.toml`, enforce it). The runtime reads the files and passes
//! them in a [`SourceSet`], together with `now`.
//!
//! Stages: [`load`] (TOML + YAML with spans) → [`expr`] (conditions, pest) →
//! [`check`] (names, types, templates) → [`model::Plan`].

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod ast;
pub mod calendar;
pub mod check;
pub mod config;
pub mod contact;
pub mod diagnostic;
pub mod diff;
pub mod engine;
pub mod eval;
pub mod expr;
pub mod forecast;
pub mod ir;
pub mod load;
pub mod model;
pub mod render;
pub mod rng;
pub mod rules;
pub mod schema;
pub mod secrets;
pub mod sms;
pub mod source;
pub mod suggest;
pub mod symbols;
pub mod template;
pub mod yaml;

use chrono::{DateTime, Utc};
pub use diagnostic::{Code, Diagnostic, Severity};
pub use source::{FileId, SourceFile, SourceKind, SourceSet, Span};

/// The result of compiling a plan.
#[derive(Debug)]
pub struct Compilation {
    /// The checked model. Declarations with errors are left out, so it is only
    /// complete when `has_errors()` is false.
    pub plan: model::Plan,
    /// Sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// Every declared name and where (for editors).
    pub symbols: symbols::Symbols,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Options of a compilation.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub budgets: yaml::Budgets,
}

/// Compile a plan. `now` is the reference time for rules that depend on it
/// (a campaign in the past); the compiler never reads the clock itself.
pub fn compile(sources: &SourceSet, now: DateTime<Utc>, options: &Options) -> Compilation {
    let mut diagnostics = Vec::new();
    let loaded = load::load(sources, &options.budgets, &mut diagnostics);
    let config = loaded.config.unwrap_or_else(config::Config::fallback);
    let plan = check::check(config, &loaded.docs, sources, &mut diagnostics);
    rules::run(&plan, sources, now, &mut diagnostics);
    diagnostic::sort(&mut diagnostics, sources);
    let symbols = symbols::Symbols::from_documents(&loaded.docs);
    Compilation {
        plan,
        diagnostics,
        symbols,
    }
}
