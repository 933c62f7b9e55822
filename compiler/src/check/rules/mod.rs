//! Stage 5: the domain rules, on the checked model — consent proofs, pressure
//! bounds, timing, SMS/email/push content, templates, experiments, unused
//! declarations. Each rule only adds diagnostics.

pub mod bounds;
mod consent;
mod content;
mod experiments;
/// Public so that its soundness is tested against the evaluator (tests/eval_vs_sqlite.rs).
pub mod logic;
mod pressure;
mod sites;
mod templates;
mod timing;
mod unused;

pub use pressure::{Solicitation, counts as pressure_counts, counts_send};
pub use sites::{Origin, Site, sites};
pub use templates::templates_of;

/// Worst-case bounds of templates for a contact model.
pub fn bounds_env(contact: &crate::model::ContactModel) -> bounds::Env<'_> {
    bounds::Env {
        contact,
        events: Vec::new(),
    }
}

use crate::diagnostic::Diagnostic;
use crate::model::{Plan, Template};
use crate::source::{SourceSet, Span};
use crate::yaml::scalar::ScalarMap;
use chrono::{DateTime, Utc};

pub struct RuleCx<'a> {
    pub plan: &'a Plan,
    pub sources: &'a SourceSet,
    pub now: DateTime<Utc>,
    pub diags: &'a mut Vec<Diagnostic>,
}

impl RuleCx<'_> {
    /// The file span of bytes `[start, end)` of a template's source (or of
    /// a template it includes: see [`crate::template::Part`]).
    pub fn template_span(&self, t: &Template, start: usize, end: usize) -> Span {
        if let Some(p) = t.analysis.as_ref().and_then(|a| a.part_at(start))
            && let Some(file) = self.sources.find(&p.path)
        {
            let s = start - p.base;
            return Span::new(file, s, end.saturating_sub(p.base).max(s));
        }
        if let Some(file) = t.file {
            return Span::new(file, start, end);
        }
        let raw = self.sources.get(t.span.file).map_or("", |f| f.slice(t.span));
        ScalarMap::new(&t.source, raw, t.span.start).span(t.span.file, start, end)
    }
}

pub fn run(plan: &Plan, sources: &SourceSet, now: DateTime<Utc>, diags: &mut Vec<Diagnostic>) {
    let sites = sites(plan);
    let mut cx = RuleCx {
        plan,
        sources,
        now,
        diags,
    };
    templates::check(&mut cx, &sites);
    content::check(&mut cx, &sites);
    consent::check(&mut cx, &sites);
    pressure::check(&mut cx);
    timing::check(&mut cx);
    experiments::check(&mut cx);
    unused::check(&mut cx, &sites);
}
