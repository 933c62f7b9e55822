//! Templates: every variable resolves (contact fields, the triggering event's
//! properties, built-ins), optional fields are printed with a default,
//! filters exist, MJML compiles, and every template renders against a
//! synthetic worst-case contact.

use super::{RuleCx, Site};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Event, Message, MessageContent, Template};
use crate::suggest;
use crate::template::{self, BUILTIN_VARIABLES, FILTERS};
use std::collections::BTreeMap;

/// The templates of a message, with the key they are written under.
pub fn templates_of(m: &Message) -> Vec<(&'static str, &Template)> {
    match &m.content {
        MessageContent::Email {
            subject,
            preheader,
            body,
            ..
        } => {
            let mut v = vec![("subject", subject)];
            if let Some(p) = preheader {
                v.push(("preheader", p));
            }
            v.push(("body", body));
            v
        }
        MessageContent::Sms { text, .. } => vec![("text", text)],
        MessageContent::Push { title, body, .. } => vec![("title", title), ("body", body)],
        MessageContent::Call { script } => vec![("script", script)],
    }
}

/// The events each message can be rendered with: one entry per send site
/// (`None` where there is no event), grouped by message in one pass (a
/// search of every site per message grows with their product).
pub fn event_contexts<'p>(sites: &[Site<'p>]) -> BTreeMap<&'p str, Vec<(Option<&'p str>, crate::source::Span)>> {
    let mut out: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for s in sites {
        out.entry(s.message).or_default().push((s.event, s.span));
    }
    out
}

pub fn check(cx: &mut RuleCx, sites: &[Site]) {
    let plan = cx.plan;
    let by_message = event_contexts(sites);
    // One environment for the templates that include nothing, per format.
    let mut shared: BTreeMap<bool, minijinja::Environment> = BTreeMap::new();
    // Worst-case contexts, one per set of events (most messages share one).
    let mut contexts_by_events: BTreeMap<Vec<&str>, minijinja::Value> = BTreeMap::new();
    for (name, m) in &plan.messages {
        let contexts: &[_] = by_message.get(name.as_str()).map_or(&[], Vec::as_slice);
        let mut event_names: Vec<&str> = contexts.iter().filter_map(|(e, _)| *e).collect();
        event_names.sort_unstable();
        event_names.dedup();
        let ctx = contexts_by_events
            .entry(event_names.clone())
            .or_insert_with(|| {
                let events: Vec<&Event> = event_names.iter().filter_map(|e| plan.contact.events.get(*e)).collect();
                template::worst_case_context(&plan.contact, &events)
            })
            .clone();
        for (key, t) in templates_of(m) {
            let before = cx.diags.len();
            if let Some(a) = &t.analysis {
                statics(cx, name, t, a, contexts);
            }
            if key == "body" && t.source.trim_start().starts_with("<mjml") {
                mjml(cx, name, t);
            }
            let format = plan.config.format(m.channel());
            let own = (!t.includes.is_empty()).then(|| template::environment_with(&t.includes, &format));
            let env = match &own {
                Some(e) => e,
                None => shared
                    .entry(format.sms)
                    .or_insert_with(|| template::environment_with(&Default::default(), &format)),
            };
            if cx.diags.len() == before
                && let Err(e) = template::render(env, &t.source, &ctx)
            {
                let (start, end) = e.range().map_or((0, t.source.len()), |r| (r.start, r.end));
                let span = cx.template_span(t, start, end);
                if !matches!(e, template::RenderFailure::Error(_)) {
                    cx.diags.push(
                        Diagnostic::new(
                            Code::TemplateOverBudget,
                            format!("the {key} of message `{name}` is too costly to render: {e}"),
                        )
                        .at(span, "over the rendering budget with a worst-case contact")
                        .help("Loop over less, build shorter text (`replace`, `*`, `~`), or split the message."),
                    );
                    continue;
                }
                let detail = e.to_string();
                cx.diags.push(
                    Diagnostic::new(
                        Code::TemplateRenderFailed,
                        format!("the {key} of message `{name}` fails to render: {detail}"),
                    )
                    .at(
                        span,
                        "fails with a worst-case contact (every field set, at its longest)",
                    )
                    .help("Fix the expression; check the arguments of the filters it uses."),
                );
            }
        }
    }
}

fn statics(
    cx: &mut RuleCx,
    name: &str,
    t: &Template,
    a: &template::Analysis,
    contexts: &[(Option<&str>, crate::source::Span)],
) {
    let plan = cx.plan;
    let mut reported_event = false;
    for r in &a.references {
        let span = cx.template_span(t, r.start, r.end);
        match (r.root.as_str(), r.attr.as_deref()) {
            ("contact", Some("id")) | ("contact", None) => {}
            ("contact", Some(field)) => match plan.contact.fields.get(field) {
                // Its declaration is broken, and reported.
                None if plan.broken.fields.contains(field) => {}
                None => {
                    // The label covers `contact.FIELD`: the suggestion (and
                    // its quick fix) keeps the `contact.` prefix.
                    let fields = plan.contact.fields.keys().map(String::as_str).chain(["id"]);
                    let help = match suggest::did_you_mean(field, fields.clone()) {
                        Some(s) => Some(format!("did you mean `contact.{s}`?")),
                        None => suggest::help_for(field, fields, "the contact fields").map(|h| format!("{h}.")),
                    }
                    .or_else(|| Some("Declare the field under `contact.fields`.".into()));
                    cx.diags.push(
                        Diagnostic::new(
                            Code::TemplateUnknownVariable,
                            format!("message `{name}` reads `contact.{field}`, which is not a contact field"),
                        )
                        .at(span, "unknown field")
                        .maybe_help(help),
                    );
                }
                Some(f) if f.optional && r.printed && !r.guarded => {
                    cx.diags.push(
                        Diagnostic::new(
                            Code::TemplateOptionalWithoutDefault,
                            format!("message `{name}` prints the optional field `{field}` without saying what to print when it is missing"),
                        )
                        .at(span, "may be missing")
                        .related(f.span, "declared `optional: true` here")
                        .help(format!("Write `{{{{ contact.{field} | default('...') }}}}`, or print it inside `{{% if contact.{field} %}}`.")),
                    );
                }
                Some(_) => {}
            },
            ("event", prop) => {
                let Some(prop) = prop else { continue };
                for (event, site) in contexts {
                    match event {
                        None if !reported_event => {
                            reported_event = true;
                            cx.diags.push(
                                Diagnostic::new(
                                    Code::TemplateEventUnavailable,
                                    format!("message `{name}` prints `event.{prop}`, but it is sent where there is no event"),
                                )
                                .at(span, "needs a triggering event")
                                .related(*site, "sent here, without an event")
                                .help("Send this message only from a scenario triggered by the event, or print a contact field instead."),
                            );
                        }
                        Some(ev) => {
                            if plan.broken.events.contains(*ev) {
                                continue;
                            }
                            let known = plan.contact.events.get(*ev);
                            if known.is_some_and(|e| !e.properties.contains_key(prop)) {
                                let help = known.and_then(|e| {
                                    let props = e.properties.keys().map(String::as_str);
                                    match suggest::did_you_mean(prop, props.clone()) {
                                        Some(s) => Some(format!("did you mean `event.{s}`?")),
                                        None => {
                                            suggest::help_for(prop, props, "its properties").map(|h| format!("{h}."))
                                        }
                                    }
                                });
                                cx.diags.push(
                                    Diagnostic::new(
                                        Code::TemplateUnknownVariable,
                                        format!("message `{name}` reads `event.{prop}`, and event `{ev}` has no such property"),
                                    )
                                    .at(span, "unknown property")
                                    .related(*site, format!("sent here, on `{ev}`"))
                                    .maybe_help(help.or_else(|| Some(format!("Declare it under `contact.events.{ev}.properties`.")))),
                                );
                                break;
                            }
                        }
                        None => {}
                    }
                }
            }
            (root, _) if BUILTIN_VARIABLES.contains(&root) => {}
            (root, _) => {
                let candidates = ["contact", "event"]
                    .into_iter()
                    .chain(BUILTIN_VARIABLES.iter().copied());
                let help = suggest::help_for(root, candidates, "the variables").map(|h| {
                    let stop = if h.ends_with('?') { "" } else { "." };
                    format!("{h}{stop} Contact fields are read as `contact.FIELD`.")
                });
                cx.diags.push(
                    Diagnostic::new(
                        Code::TemplateUnknownVariable,
                        format!("message `{name}` reads `{root}`, which is not defined"),
                    )
                    .at(span, "unknown variable")
                    .maybe_help(help),
                );
            }
        }
    }
    for f in &a.filters {
        if FILTERS.contains(&f.name.as_str()) {
            continue;
        }
        // Point at the filter's name inside its expression.
        let text = t.text(f.start, f.end).unwrap_or("");
        let (start, end) = match text.rfind(&f.name) {
            Some(i) => (f.start + i, f.start + i + f.name.len()),
            None => (f.start, f.end),
        };
        let span = cx.template_span(t, start, end);
        cx.diags.push(
            Diagnostic::new(
                Code::TemplateUnknownFilter,
                format!("unknown filter `{}` in message `{name}`", f.name),
            )
            .at(span, "no such filter")
            .maybe_help(suggest::help_for(&f.name, FILTERS.iter().copied(), "the filters")),
        );
    }
}

/// MJML bodies must compile (mrml).
fn mjml(cx: &mut RuleCx, name: &str, t: &Template) {
    use mrml::prelude::parser::Error as E;
    let Err(e) = mrml::parse(&t.source) else { return };
    let (range, detail) = match &e {
        E::UnexpectedElement { position, .. } => (
            Some((position.start, position.end)),
            "unexpected element here".to_string(),
        ),
        E::UnexpectedToken { position, .. } => (
            Some((position.start, position.end)),
            "unexpected token here".to_string(),
        ),
        E::MissingAttribute { name, position, .. } => (
            Some((position.start, position.end)),
            format!("missing attribute `{name}`"),
        ),
        E::InvalidAttribute { position, .. } => (Some((position.start, position.end)), "invalid attribute".to_string()),
        E::InvalidFormat { position, .. } => (Some((position.start, position.end)), "invalid format".to_string()),
        E::EndOfStream { .. } => (
            Some((t.source.len(), t.source.len())),
            "the document ends before its elements are closed".to_string(),
        ),
        E::ParserError { source, .. } => {
            let pos = source.pos();
            let offset = offset_of(&t.source, pos.row as usize, pos.col as usize);
            (Some((offset, offset + 1)), "not well-formed here".to_string())
        }
        other => (None, other.to_string()),
    };
    let (start, end) = range.unwrap_or((0, t.source.len().min(1)));
    let span = cx.template_span(t, start, end.max(start));
    cx.diags.push(
        Diagnostic::new(
            Code::TemplateMjml,
            format!("the MJML body of message `{name}` does not compile: {detail}"),
        )
        .at(span, detail)
        .help("Fix the element at this place; see https://documentation.mjml.io for which element can contain which."),
    );
}

/// Byte offset of a 1-based row and character column.
fn offset_of(text: &str, row: usize, col: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(row.saturating_sub(1))
        .map(str::len)
        .sum();
    let line = text.get(line_start..).unwrap_or("");
    line_start
        + line
            .chars()
            .take(col.saturating_sub(1))
            .map(char::len_utf8)
            .sum::<usize>()
}

/// Messages by name, and which (event) contexts they are sent in: used by
/// content rules for bounds.
pub fn events_by_message<'p>(cx: &RuleCx<'p>, sites: &[Site<'p>]) -> BTreeMap<&'p str, Vec<&'p Event>> {
    let mut out: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for s in sites {
        let e = s.event.and_then(|e| cx.plan.contact.events.get(e));
        let list = out.entry(s.message).or_default();
        if let Some(e) = e
            && !list.iter().any(|x| std::ptr::eq(*x, e))
        {
            list.push(e);
        }
    }
    out
}
