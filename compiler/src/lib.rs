//! Herald's compiler: plan sources in, a checked model and diagnostics out.
//!
//! Pure by construction: no file system, network, clock, environment or
//! threads (clippy's `disallowed_methods`/`disallowed_types`, configured in
//! `compiler/clippy.toml`, enforce it). The runtime reads the files and passes
//! them in a [`SourceSet`], together with `now`.
//!
//! The folders are the layers, each using only those before it:
//!
//! 1. [`front`] — the front end: sources ([`source`]), YAML with spans
//!    ([`yaml`]), the documents as written ([`ast`]), `herald.toml`
//!    ([`config`]), loading ([`load`]) and the condition language ([`expr`]).
//! 2. [`check`] — names, types and templates into the checked [`model::Plan`],
//!    then the rules on it ([`rules`]: consent, pressure, timing, content…).
//! 3. [`engine`] — the step engine: what campaigns and scenarios do to a
//!    contact ([`contact`], conditions in [`eval`], rendering in [`render`]),
//!    and the [`forecast`] that drives it over the CRM.
//! 4. [`deploy`] — the deployable objects ([`ir`]) and their diff against the
//!    deployed state ([`diff`]).
//! 5. [`journeys`] — journey tests: the plan's test files checked against it,
//!    simulated on the engine, their expectations matched.
//!
//! [`domain`] holds the knowledge every layer shares: the calendar of holidays
//! and sending windows, SMS encoding, the template language. [`diagnostic`]
//! and [`model`] are the types between the layers.

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod cache;
pub mod check;
pub mod deploy;
pub mod diagnostic;
pub mod domain;
pub mod engine;
pub mod front;
pub mod journeys;
pub mod model;
pub mod rng;
pub mod schema;
pub mod suggest;
pub mod symbols;

// The modules of each layer by their short names (the public API, and
// `crate::…` paths inside the compiler).
pub use check::rules;
pub use deploy::{diff, ir};
pub use domain::{calendar, sms, template};
pub use engine::{contact, eval, forecast, render};
pub use front::{ast, config, expr, load, secrets, source, yaml};

pub use cache::Cache;
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
    /// The journey tests of the test files (those without errors).
    pub tests: Vec<journeys::TestCase>,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// What applies without being a problem, said once by `check` (the
    /// baseline pressure caps when the plan writes none).
    pub fn notes(&self) -> Vec<String> {
        check::notes(&self.plan, self.has_errors())
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
    compile_with(sources, now, options, &mut Cache::off())
}

/// [`compile`], reusing the work of earlier compilations kept in `cache`
/// (the language server keeps one per plan): the result is the same as
/// [`compile`]'s, whatever the cache holds.
pub fn compile_with(sources: &SourceSet, now: DateTime<Utc>, options: &Options, cache: &mut Cache) -> Compilation {
    cache.start();
    let mut diagnostics = Vec::new();
    let loaded = load::load_with(sources, &options.budgets, &mut diagnostics, cache);
    let config = loaded.config.unwrap_or_else(config::Config::fallback);
    let plan = check::check_with(config, &loaded.docs, sources, &mut diagnostics, cache);
    rules::run(&plan, sources, now, &mut diagnostics);
    let symbols = symbols::Symbols::from_documents(&loaded.docs);
    let tests = journeys::check::check(&plan, &loaded.docs, &symbols, sources, &mut diagnostics, cache);
    diagnostic::sort(&mut diagnostics, sources);
    Compilation {
        plan,
        diagnostics,
        symbols,
        tests,
    }
}
