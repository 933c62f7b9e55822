//! Stages 2–4: resolve names, type-check expressions and templates, and build
//! the checked [`Plan`]. Declarations with errors are left out of the plan;
//! everything else is still checked, so one run reports every problem.
//! Stage 5, [`rules`], checks the practice on the checked plan.

mod contact;
mod cycles;
mod flows;
mod messages;
mod policies;
pub mod rules;
pub mod typeck;

use crate::ast::{Decl, Documents};
use crate::config::Config;
use crate::diagnostic::{Code, Diagnostic};
use crate::expr::{self, Expr};
use crate::model::{Broken, Cond, Plan};
use crate::source::{SourceSet, Span};
use crate::yaml::Sp;
use crate::yaml::scalar::ScalarMap;
use std::collections::BTreeMap;
use typeck::{Scope, Typer};

pub struct Ctx<'a> {
    pub sources: &'a SourceSet,
    pub diags: &'a mut Vec<Diagnostic>,
    /// Parsed conditions and analysed templates of earlier compilations.
    pub cache: &'a mut crate::Cache,
    /// Conditions left out because they use a broken declaration (no error
    /// of their own): what holds them is left out too.
    pub broken: usize,
}

impl Ctx<'_> {
    /// The declarations with distinct names; a second definition is reported
    /// (pointing at both) and dropped.
    pub fn unique<'d, T>(&mut self, decls: &'d [Decl<T>], what: &str) -> Vec<&'d Decl<T>> {
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        let mut out = Vec::with_capacity(decls.len());
        for d in decls {
            if let Some(first) = seen.get(d.name.value.as_str()) {
                self.diags.push(
                    Diagnostic::new(
                        Code::ReferenceDuplicate,
                        format!("{what} `{}` is defined twice", d.name.value),
                    )
                    .at(d.name.span, "defined again here")
                    .related(*first, "first defined here")
                    .help(format!(
                        "Rename one of them, or merge them: {what} names are global across the plan's files."
                    )),
                );
                continue;
            }
            seen.insert(&d.name.value, d.name.span);
            out.push(d);
        }
        out
    }

    /// The map from decoded offsets of a YAML string to the file.
    pub fn scalar_map(&self, s: &Sp<String>) -> ScalarMap {
        let raw = self.sources.get(s.span.file).map_or("", |f| f.slice(s.span));
        ScalarMap::new(&s.value, raw, s.span.start)
    }

    pub fn parse_expr(&mut self, s: &Sp<String>) -> Option<Expr> {
        // The parse reads the decoded value and the raw scalar at its place.
        let raw = self.sources.get(s.span.file).map_or("", |f| f.slice(s.span));
        if !self.cache.keeps() {
            let map = ScalarMap::new(&s.value, raw, s.span.start);
            return match expr::parse_condition(&s.value, &map, s.span.file) {
                Ok(e) => Some(e),
                Err(d) => {
                    self.diags.push(d);
                    None
                }
            };
        }
        let key = crate::cache::ConditionKey {
            file: s.span.file,
            start: s.span.start,
            raw: raw.to_string(),
            value: s.value.clone(),
        };
        let parsed = match self.cache.conditions.get(&key) {
            Some(r) => {
                self.cache.stats.conditions_reused += 1;
                r.clone()
            }
            None => {
                self.cache.stats.conditions_parsed += 1;
                let map = ScalarMap::new(&s.value, raw, s.span.start);
                let r = expr::parse_condition(&s.value, &map, s.span.file);
                self.cache.conditions.insert(key, r.clone());
                r
            }
        };
        match parsed {
            Ok(e) => Some(e),
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    /// Parse and type a condition; `None` when it has errors (reported).
    pub fn condition(&mut self, s: &Sp<String>, scope: Scope<'_>) -> Option<(Cond, Vec<(String, Span)>)> {
        let e = self.parse_expr(s)?;
        let mut typer = Typer::new(scope, self.diags);
        let c = typer.condition(&e);
        if typer.broken {
            self.broken += 1;
        }
        Some((c?, typer.segment_refs))
    }

    /// Report an unknown reference to a declaration of `kind`.
    pub fn unknown(&mut self, code: Code, kind: &str, name: &Sp<String>, known: &BTreeMap<String, Span>) {
        let help = crate::suggest::help_for(&name.value, known.keys().map(String::as_str), &format!("the {kind}s"))
            .or_else(|| Some(format!("Declare the {kind} under `{kind}s:`; the plan has none.")));
        self.diags.push(
            Diagnostic::new(code, format!("unknown {kind} `{}`", name.value))
                .at(name.span, format!("no {kind} has this name"))
                .maybe_help(help),
        );
    }
}

/// What applies without being a problem, for `check` to say once (only of
/// a plan without errors: a plan that failed to load may have lost the very
/// `policies` the note would be about).
pub fn notes(plan: &Plan, has_errors: bool) -> Vec<String> {
    let mut out = Vec::new();
    if !has_errors && plan.policies.pressure_source == crate::model::PressureSource::Baseline {
        out.push(policies::BASELINE_NOTE.to_string());
    }
    out
}

/// Names declared in each section (first definitions), for resolution,
/// and those whose declaration is broken (known, but not in the plan).
pub struct Names {
    pub segments: BTreeMap<String, Span>,
    pub messages: BTreeMap<String, Span>,
    pub programs: BTreeMap<String, Span>,
    pub broken: Broken,
}

fn names_of<T>(decls: &[Decl<T>]) -> BTreeMap<String, Span> {
    let mut m = BTreeMap::new();
    for d in decls {
        m.entry(d.name.value.clone()).or_insert(d.name.span);
    }
    m
}

/// Declared names (first definitions, and declarations that failed to load)
/// that are not in `built`: broken.
fn dropped<T, V>(decls: &[Decl<T>], built: &BTreeMap<String, V>, out: &mut std::collections::BTreeSet<String>) {
    for d in decls {
        if !built.contains_key(&d.name.value) {
            out.insert(d.name.value.clone());
        }
    }
}

pub fn check(config: Config, docs: &Documents, sources: &SourceSet, diags: &mut Vec<Diagnostic>) -> Plan {
    check_with(config, docs, sources, diags, &mut crate::Cache::off())
}

/// [`check`], reusing parsed conditions and analysed templates of `cache`.
pub fn check_with(
    config: Config,
    docs: &Documents,
    sources: &SourceSet,
    diags: &mut Vec<Diagnostic>,
    cache: &mut crate::Cache,
) -> Plan {
    let mut cx = Ctx {
        sources,
        diags,
        cache,
        broken: 0,
    };
    // What failed to load is known but broken (one mistake, one error).
    let mut broken = Broken {
        mentions: docs.mentions.clone(),
        ..Broken::default()
    };
    let mut segments = names_of(&docs.segments);
    let mut messages = names_of(&docs.messages);
    let mut programs = names_of(&docs.programs);
    for b in &docs.broken {
        if let Some(set) = broken.section(b.section) {
            set.insert(b.name.value.clone());
        }
        let names = match b.section {
            "segments" => &mut segments,
            "messages" => &mut messages,
            "programs" => &mut programs,
            _ => continue,
        };
        names.entry(b.name.value.clone()).or_insert(b.name.span);
    }
    let contact = contact::build(&mut cx, docs);
    dropped(&docs.fields, &contact.fields, &mut broken.fields);
    broken.fields.remove(crate::model::ID_FIELD);
    dropped(&docs.consents, &contact.consents, &mut broken.consents);
    dropped(&docs.events, &contact.events, &mut broken.events);
    let mut names = Names {
        segments,
        messages,
        programs,
        broken,
    };
    let policies = policies::build(&mut cx, docs, &names, &contact);
    let messages = messages::build(&mut cx, docs, &contact);
    dropped(&docs.messages, &messages, &mut names.broken.messages);
    let programs = flows::programs(&mut cx, docs);
    let segments = cycles::segments(&mut cx, docs, &contact, &names);
    for d in &docs.segments {
        if !segments.contains_key(&d.name.value) && names.broken.segments.insert(d.name.value.clone()) {
            crate::ast::words(&d.doc.condition.value, &mut names.broken.mentions);
        }
    }
    let campaigns = flows::campaigns(&mut cx, docs, &contact, &names, &policies);
    let scenarios = flows::scenarios(&mut cx, docs, &contact, &names, &policies);
    for d in &docs.campaigns {
        if !campaigns.contains_key(&d.name.value) && names.broken.campaigns.insert(d.name.value.clone()) {
            flows::campaign_mentions(&d.doc, &mut names.broken.mentions);
        }
    }
    for d in &docs.scenarios {
        if !scenarios.contains_key(&d.name.value) && names.broken.scenarios.insert(d.name.value.clone()) {
            flows::scenario_mentions(&d.doc, &mut names.broken.mentions);
        }
    }
    Plan {
        config,
        contact,
        policies,
        segments,
        messages,
        programs,
        campaigns,
        scenarios,
        broken: names.broken,
    }
}
