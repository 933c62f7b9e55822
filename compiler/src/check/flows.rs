//! `programs:`, `campaigns:` and `scenarios:` → the model.

use super::typeck::Scope;
use super::{Ctx, Names};
use crate::ast::{self, Documents, StepKind, WaitDoc};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{
    Campaign, Cond, ContactModel, Delivery, Event, Experiment, Fallback, FieldType, Kpi, Policies, Program, Scenario,
    Step, Trigger, Variant,
};
use crate::source::Span;
use crate::suggest;
use crate::yaml::{Lenient, Sp};
use chrono::NaiveTime;
use std::collections::BTreeMap;

fn metric_name(m: ast::Metric) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Why a KPI target is out of range: rates are percentages (0 to 100, as
/// marketers write them: `25` is 25 %), revenue an amount (0 or more).
fn kpi_target_problem(metric: ast::Metric, target: f64) -> Option<String> {
    if !target.is_finite() {
        return Some("not a number".into());
    }
    if metric == ast::Metric::Revenue {
        return (target < 0.0).then(|| format!("`{target}`, a negative amount"));
    }
    (!(0.0..=100.0).contains(&target)).then(|| format!("`{target}`, not a percentage between 0 and 100"))
}

pub fn programs(cx: &mut Ctx, docs: &Documents) -> BTreeMap<String, Program> {
    let mut out = BTreeMap::new();
    for decl in cx.unique(&docs.programs, "program") {
        let d = &decl.doc;
        if d.objective.value.trim().is_empty() {
            cx.diags.push(
                Diagnostic::new(
                    Code::SchemaInvalidValue,
                    format!("program `{}` has an empty objective", decl.name.value),
                )
                .at(d.objective.span, "empty")
                .help("Say in one sentence what the program is for."),
            );
        }
        for k in &d.kpis {
            if let Some(problem) = kpi_target_problem(k.metric.value, k.target.value) {
                cx.diags.push(
                    Diagnostic::new(
                        Code::SchemaInvalidValue,
                        format!(
                            "the target of `{}` in program `{}` is {}",
                            metric_name(k.metric.value),
                            decl.name.value,
                            problem
                        ),
                    )
                    .at(k.target.span, "out of range")
                    .help(if k.metric.value == ast::Metric::Revenue {
                        "Write the revenue objective as an amount, such as `250000`."
                    } else {
                        "Rates are percentages: write `25` for 25 %, `0.3` for 0.3 %."
                    }),
                );
            }
        }
        out.insert(
            decl.name.value.clone(),
            Program {
                objective: d.objective.value.clone(),
                owner: d.owner.clone(),
                kpis: d
                    .kpis
                    .iter()
                    .map(|k| Kpi {
                        metric: k.metric.value,
                        target: k.target.value,
                    })
                    .collect(),
                span: decl.name.span,
            },
        );
    }
    out
}

fn check_program(cx: &mut Ctx, program: &Sp<String>, names: &Names) -> bool {
    if names.programs.contains_key(&program.value) {
        return true;
    }
    cx.unknown(Code::ReferenceUnknownProgram, "program", program, &names.programs);
    false
}

fn check_message(cx: &mut Ctx, message: &Sp<String>, names: &Names) -> bool {
    if names.messages.contains_key(&message.value) {
        return true;
    }
    cx.unknown(Code::ReferenceUnknownMessage, "message", message, &names.messages);
    false
}

fn experiment(
    cx: &mut Ctx,
    e: &ast::ExperimentDoc,
    names: &Names,
    policies: &Policies,
    span: Span,
) -> Option<Experiment> {
    let before = cx.diags.len();
    // One variant against a control group measures the message itself.
    let holdout = e.holdout.as_ref().is_some_and(|h| h.value > 0);
    if e.variants.len() < 2 && !(e.variants.len() == 1 && holdout) {
        let (message, help) = match e.variants.len() {
            0 => (
                "an experiment lists no variant",
                "List the variants, each `{ message: NAME, split: PERCENT }`: two or more to compare messages, or one with a `holdout` to measure it against a control group.",
            ),
            _ => (
                "an experiment with one variant needs a control group",
                "Add `holdout: 10` (a percent of the audience that receives nothing) to measure this message against it, or list a second variant to compare two messages.",
            ),
        };
        cx.diags.push(
            Diagnostic::new(Code::SchemaInvalidValue, message)
                .at(span, format!("{} variant(s), no holdout", e.variants.len()))
                .help(help),
        );
    }
    for v in &e.variants {
        check_message(cx, &v.message, names);
    }
    if cx.diags.len() > before {
        return None;
    }
    Some(Experiment {
        variants: e
            .variants
            .iter()
            .map(|v| Variant {
                message: v.message.value.clone(),
                split: v.split.value,
                span: v.message.span.to(v.split.span),
            })
            .collect(),
        holdout: e.holdout.as_ref().map_or(0, |h| h.value),
        test_size: e.test_size.as_ref().map(|t| t.value),
        metric: e.metric.value,
        decide_after: e.decide_after.as_ref().map(|d| d.value),
        min_sample: e
            .min_sample
            .as_ref()
            .map_or(policies.experiment_min_sample, |m| m.value),
        span,
        holdout_span: e.holdout.as_ref().map(|h| h.span),
        test_size_span: e.test_size.as_ref().map(|h| h.span),
        decide_after_span: e.decide_after.as_ref().map(|h| h.span),
    })
}

pub fn campaigns(
    cx: &mut Ctx,
    docs: &Documents,
    contact: &ContactModel,
    names: &Names,
    policies: &Policies,
) -> BTreeMap<String, Campaign> {
    let mut out = BTreeMap::new();
    for decl in cx.unique(&docs.campaigns, "campaign") {
        let d = &decl.doc;
        let before = (cx.diags.len(), cx.broken);
        check_program(cx, &d.program, names);
        let scope = Scope {
            contact,
            segments: &names.segments,
            messages: &names.messages,
            event: None,
            place: "a campaign audience",
            broken: &names.broken,
        };
        let audience = cx.condition(&d.audience, scope).map(|(c, _)| c);
        let delivery = match (&d.message, &d.experiment) {
            (Some(m), None) => check_message(cx, m, names).then(|| (Delivery::Message(m.value.clone()), m.span)),
            (None, Some(e)) => {
                experiment(cx, e, names, policies, decl.name.span).map(|x| (Delivery::Experiment(x), decl.name.span))
            }
            (Some(m), Some(_)) => {
                cx.diags.push(
                    Diagnostic::new(Code::SchemaInvalidValue, format!("campaign `{}` has both `message` and `experiment`", decl.name.value))
                        .at(m.span, "a single message")
                        .help("Keep `message` for one message, or `experiment` to test variants (list the message among them)."),
                );
                None
            }
            (None, None) => {
                cx.diags.push(
                    Diagnostic::new(
                        Code::SchemaMissingKey,
                        format!("campaign `{}` sends nothing", decl.name.value),
                    )
                    .at(decl.name.span, "`message` (or `experiment`) is required")
                    .help("Add `message: NAME`."),
                );
                None
            }
        };
        if (cx.diags.len(), cx.broken) != before {
            continue;
        }
        if let (Some(audience), Some((delivery, delivery_span))) = (audience, delivery) {
            out.insert(
                decl.name.value.clone(),
                Campaign {
                    program: d.program.value.clone(),
                    audience,
                    delivery,
                    send_at: d.send_at.value.0,
                    tags: d.tags.iter().map(|t| t.value.clone()).collect(),
                    description: d.description.clone(),
                    span: decl.name.span,
                    send_at_span: d.send_at.span,
                    delivery_span,
                },
            );
        }
    }
    out
}

pub fn scenarios(
    cx: &mut Ctx,
    docs: &Documents,
    contact: &ContactModel,
    names: &Names,
    policies: &Policies,
) -> BTreeMap<String, Scenario> {
    let mut out = BTreeMap::new();
    for decl in cx.unique(&docs.scenarios, "scenario") {
        let d = &decl.doc;
        let before = (cx.diags.len(), cx.broken);
        check_program(cx, &d.program, names);
        let (trigger, event) = trigger(cx, &d.trigger, contact, names);
        if cx.broken != before.1 {
            // Its trigger's event or field is broken: its conditions could
            // not be typed without it.
            continue;
        }
        let sc = ScenarioCx {
            contact,
            names,
            policies,
            event,
        };
        let audience = d.audience.as_ref().and_then(|a| sc.cond(cx, a, "a scenario audience"));
        let exit_when = d.exit_when.as_ref().and_then(|a| sc.cond(cx, a, "`exit_when`"));
        if d.steps.value.is_empty() {
            cx.diags.push(
                Diagnostic::new(
                    Code::SchemaMissingKey,
                    format!("scenario `{}` has no steps", decl.name.value),
                )
                .at(d.steps.span, "empty")
                .help("Add at least one step, such as `- send: MESSAGE`."),
            );
        }
        let mut steps = sc.steps(cx, &d.steps.value);
        // A fallback with nothing to fall back for is an error of its own:
        // the scenario stays (the send counts as a solicitation of its own),
        // so it is said after the check that drops broken scenarios.
        let mut fallback_diags = Vec::new();
        resolve_fallbacks(
            &mut Ctx {
                sources: cx.sources,
                diags: &mut fallback_diags,
                cache: &mut *cx.cache,
                broken: 0,
            },
            &decl.name.value,
            &mut steps,
        );
        // Each wait is within 100 years; their sum must be too, so that every
        // date a contact reaches in the scenario stays inside the calendar.
        let span = longest_wait(&steps);
        if span > ast::values::Duration::MAX.minutes() {
            cx.diags.push(
                Diagnostic::new(
                    Code::SchemaInvalidValue,
                    format!(
                        "the steps of scenario `{}` wait {} in total on their longest path; a scenario spans at most {} (100 years)",
                        decl.name.value,
                        ast::values::Duration::from_minutes(span).map_or_else(|| format!("{}d", span / 1440), |d| d.to_string()),
                        ast::values::Duration::MAX
                    ),
                )
                .at(d.steps.span, "too long")
                .help("Shorten the waits, or split the journey into scenarios triggered by dates or events."),
            );
        }
        let broken = (cx.diags.len(), cx.broken) != before;
        cx.diags.extend(fallback_diags);
        if broken {
            continue;
        }
        if let Some(trigger) = trigger {
            out.insert(
                decl.name.value.clone(),
                Scenario {
                    program: d.program.value.clone(),
                    trigger,
                    audience,
                    reentry: d.reentry.as_ref().map_or(ast::Reentry::Never, |r| r.value),
                    exit_when,
                    steps,
                    description: d.description.clone(),
                    span: decl.name.span,
                    trigger_at_span: d.trigger.value.at.as_ref().map_or(d.trigger.span, |a| a.span),
                },
            );
        }
    }
    out
}

/// The names a campaign's declaration writes (for "unused" when it is broken).
pub fn campaign_mentions(d: &ast::CampaignDoc, out: &mut std::collections::BTreeSet<String>) {
    out.insert(d.program.value.clone());
    ast::words(&d.audience.value, out);
    if let Some(m) = &d.message {
        out.insert(m.value.clone());
    }
    for v in d.experiment.iter().flat_map(|e| &e.variants) {
        out.insert(v.message.value.clone());
    }
}

/// The names a scenario's declaration writes (for "unused" when it is broken).
pub fn scenario_mentions(d: &ast::ScenarioDoc, out: &mut std::collections::BTreeSet<String>) {
    fn steps(list: &[Lenient<ast::Step>], out: &mut std::collections::BTreeSet<String>) {
        for s in list.iter().filter_map(|s| s.0.as_ref()) {
            match &s.kind {
                StepKind::Send {
                    message,
                    experiment,
                    fallback_for,
                } => {
                    if let Some(f) = fallback_for {
                        out.insert(f.value.clone());
                    }
                    out.insert(message.value.clone());
                    for v in experiment.iter().flat_map(|e| &e.variants) {
                        out.insert(v.message.value.clone());
                    }
                }
                StepKind::Wait(WaitDoc::Until(u)) => {
                    ast::words(&u.until.value, out);
                    steps(&u.on_timeout, out);
                }
                StepKind::If {
                    condition,
                    then,
                    otherwise,
                } => {
                    ast::words(&condition.value, out);
                    steps(then, out);
                    steps(otherwise, out);
                }
                StepKind::Wait(WaitDoc::For(_)) | StepKind::Exit { .. } => {}
            }
        }
    }
    out.insert(d.program.value.clone());
    for c in [&d.audience, &d.exit_when, &d.trigger.value.condition]
        .into_iter()
        .flatten()
    {
        ast::words(&c.value, out);
    }
    steps(&d.steps.value, out);
}

/// For each message, the step that last sent it — the same on every path
/// that got here (`None`: it differs between paths).
type Sent = BTreeMap<String, Option<String>>;

/// Resolve each `fallback_for` to the step it falls back for: the send of
/// that message before it, which must be the same step on every path.
fn resolve_fallbacks(cx: &mut Ctx, scenario: &str, steps: &mut [Step]) {
    let mut sent = Sent::new();
    walk_fallbacks(cx, scenario, steps, "", &mut sent);
}

/// Walk `steps` (their cursors prefixed by `prefix`); `false` when every
/// path through them exits.
fn walk_fallbacks(cx: &mut Ctx, scenario: &str, steps: &mut [Step], prefix: &str, sent: &mut Sent) -> bool {
    for (i, step) in steps.iter_mut().enumerate() {
        let here = format!("{prefix}{i}");
        match step {
            Step::Send {
                delivery, fallback_for, ..
            } => {
                if let Some(f) = fallback_for {
                    match sent.get(&f.message) {
                        Some(Some(primary)) => f.primary = primary.clone(),
                        found => {
                            let why = if found.is_some() {
                                "it is sent by different steps on different paths"
                            } else {
                                "it is not sent before this step on every path"
                            };
                            cx.diags.push(
                                Diagnostic::new(
                                    Code::PressureInvalidFallback,
                                    format!(
                                        "this send of scenario `{scenario}` falls back for `{}`, but {why}",
                                        f.message
                                    ),
                                )
                                .at(f.span, format!("no single earlier send of `{}` on the paths to here", f.message))
                                .help(format!(
                                    "A fallback follows the one send it stands in for (`- send: {}` earlier in the same path, such as before a `wait: {{ until: opened({}) }}`); otherwise remove `fallback_for` and let the caps count it as a solicitation of its own.",
                                    f.message, f.message
                                )),
                            );
                        }
                    }
                }
                for m in delivery.messages() {
                    sent.insert(m.to_string(), Some(here.clone()));
                }
            }
            Step::Wait { .. } => {}
            Step::WaitUntil { on_timeout, .. } => {
                let mut timeout = sent.clone();
                if walk_fallbacks(cx, scenario, on_timeout, &format!("{here}/timeout/"), &mut timeout) {
                    merge(sent, &timeout);
                }
            }
            Step::If { then, otherwise, .. } => {
                let mut a = sent.clone();
                let mut b = sent.clone();
                let ca = walk_fallbacks(cx, scenario, then, &format!("{here}/then/"), &mut a);
                let cb = walk_fallbacks(cx, scenario, otherwise, &format!("{here}/else/"), &mut b);
                match (ca, cb) {
                    (true, true) => {
                        merge(&mut a, &b);
                        *sent = a;
                    }
                    (true, false) => *sent = a,
                    (false, true) => *sent = b,
                    (false, false) => return false,
                }
            }
            Step::Exit { .. } => return false,
        }
    }
    true
}

/// What holds after either of two paths: the messages both sent, by the
/// same step or ambiguous.
fn merge(a: &mut Sent, b: &Sent) {
    a.retain(|m, _| b.contains_key(m));
    for (m, step) in a.iter_mut() {
        if b.get(m) != Some(step) {
            *step = None;
        }
    }
}

/// The longest total of waits and timeouts along any path of `steps`, in minutes.
fn longest_wait(steps: &[Step]) -> u64 {
    let mut total = 0u64;
    for s in steps {
        let step = match s {
            Step::Wait { duration, .. } => duration.minutes(),
            // A timeout is waited in full before its branch runs.
            Step::WaitUntil {
                timeout, on_timeout, ..
            } => timeout.minutes().saturating_add(longest_wait(on_timeout)),
            Step::If { then, otherwise, .. } => longest_wait(then).max(longest_wait(otherwise)),
            Step::Send { .. } | Step::Exit { .. } => 0,
        };
        total = total.saturating_add(step);
    }
    total
}

fn trigger<'m>(
    cx: &mut Ctx,
    t: &Sp<ast::TriggerDoc>,
    contact: &'m ContactModel,
    names: &Names,
) -> (Option<Trigger>, Option<(&'m str, &'m Event)>) {
    let doc = &t.value;
    let date_only = [
        ("offset", doc.offset.as_ref().map(|x| x.span)),
        ("at", doc.at.as_ref().map(|x| x.span)),
        ("every", doc.every.as_ref().map(|x| x.span)),
    ];
    match (&doc.event, &doc.date) {
        (Some(event), None) => {
            for (key, span) in date_only {
                if let Some(span) = span {
                    cx.diags.push(
                        Diagnostic::new(
                            Code::SchemaInvalidValue,
                            format!("`{key}` applies to date triggers, not to event triggers"),
                        )
                        .at(span, "not used by an event trigger")
                        .help(format!(
                            "Remove `{key}`, or trigger on a date field with `date: FIELD`."
                        )),
                    );
                }
            }
            let Some((name, ev)) = contact.events.get_key_value(&event.value) else {
                if names.broken.events.contains(&event.value) {
                    cx.broken += 1;
                    return (None, None);
                }
                let help = suggest::help_for(&event.value, contact.events.keys().map(String::as_str), "the events")
                    .or_else(|| Some("Declare it under `contact.events`.".into()));
                cx.diags.push(
                    Diagnostic::new(Code::ReferenceUnknownEvent, format!("unknown event `{}`", event.value))
                        .at(event.span, "not declared under `contact.events`")
                        .maybe_help(help),
                );
                return (None, None);
            };
            let ctx_event = Some((name.as_str(), ev));
            let condition = match &doc.condition {
                None => None,
                Some(c) => {
                    let scope = Scope {
                        contact,
                        segments: &names.segments,
                        messages: &names.messages,
                        event: ctx_event,
                        place: "this trigger",
                        broken: &names.broken,
                    };
                    match cx.condition(c, scope) {
                        Some((c, _)) => Some(c),
                        None => return (None, ctx_event),
                    }
                }
            };
            (
                Some(Trigger::Event {
                    event: name.clone(),
                    condition,
                }),
                ctx_event,
            )
        }
        (None, Some(field)) => {
            if let Some(c) = &doc.condition {
                cx.diags.push(
                    Diagnostic::new(
                        Code::SchemaInvalidValue,
                        "`where` filters events, and this trigger is a date",
                    )
                    .at(c.span, "not used by a date trigger")
                    .help("Move the condition to the scenario's `audience`."),
                );
            }
            match contact.fields.get(&field.value).map(|f| &f.ty) {
                Some(FieldType::Date | FieldType::Datetime) => {}
                Some(other) => {
                    cx.diags.push(
                        Diagnostic::new(
                            Code::TypeNotTime,
                            format!("`{}` is {}, not a date", field.value, other.describe()),
                        )
                        .at(field.span, "a date trigger needs a date or datetime field")
                        .help("Trigger on a `date` or `datetime` field, such as `birthdate`."),
                    );
                    return (None, None);
                }
                None if names.broken.fields.contains(&field.value) => {
                    cx.broken += 1;
                    return (None, None);
                }
                None => {
                    let dates = contact
                        .fields
                        .iter()
                        .filter(|(_, f)| matches!(f.ty, FieldType::Date | FieldType::Datetime))
                        .map(|(n, _)| n.as_str());
                    let help = suggest::help_for(&field.value, dates, "the date fields")
                        .or_else(|| Some("Declare a `date` field under `contact.fields`.".into()));
                    cx.diags.push(
                        Diagnostic::new(
                            Code::ReferenceUnknownField,
                            format!("unknown contact field `{}`", field.value),
                        )
                        .at(field.span, "not a field of `contact.fields`")
                        .maybe_help(help),
                    );
                    return (None, None);
                }
            }
            (
                Some(Trigger::Date {
                    field: field.value.clone(),
                    offset: doc
                        .offset
                        .as_ref()
                        .map_or(ast::values::CalendarOffset::Days(0), |o| o.value),
                    at: doc
                        .at
                        .as_ref()
                        .map_or(NaiveTime::from_hms_opt(10, 0, 0).unwrap_or(NaiveTime::MIN), |a| {
                            a.value.0
                        }),
                    yearly: doc.every.is_some(),
                }),
                None,
            )
        }
        (Some(event), Some(_)) => {
            cx.diags.push(
                Diagnostic::new(Code::SchemaInvalidValue, "a trigger is an event or a date, not both")
                    .at(event.span, "`event` and `date` together")
                    .help("Keep `event: NAME` or `date: FIELD`, and start a second scenario for the other."),
            );
            (None, None)
        }
        (None, None) => {
            cx.diags.push(
                Diagnostic::new(Code::SchemaMissingKey, "the trigger names neither an event nor a date")
                    .at(t.span, "`event` or `date` is required")
                    .help("Write `trigger: { event: signup }` or `trigger: { date: birthdate, offset: -7d, every: year }`."),
            );
            (None, None)
        }
    }
}

struct ScenarioCx<'a> {
    contact: &'a ContactModel,
    names: &'a Names,
    policies: &'a Policies,
    event: Option<(&'a str, &'a Event)>,
}

impl ScenarioCx<'_> {
    fn cond(&self, cx: &mut Ctx, s: &Sp<String>, place: &str) -> Option<Cond> {
        let scope = Scope {
            contact: self.contact,
            segments: &self.names.segments,
            messages: &self.names.messages,
            event: self.event,
            place,
            broken: &self.names.broken,
        };
        cx.condition(s, scope).map(|(c, _)| c)
    }

    /// A `fallback_for` whose message exists (its step is resolved later,
    /// by [`resolve_fallbacks`]). `None` when it names an unknown message.
    #[allow(clippy::option_option)]
    fn fallback(&self, cx: &mut Ctx, f: Option<&Sp<String>>) -> Option<Option<Fallback>> {
        match f {
            None => Some(None),
            Some(m) => check_message(cx, m, self.names).then(|| {
                Some(Fallback {
                    message: m.value.clone(),
                    primary: String::new(),
                    span: m.span,
                })
            }),
        }
    }

    /// Steps that failed to load are already reported (and absent).
    fn steps(&self, cx: &mut Ctx, steps: &[Lenient<ast::Step>]) -> Vec<Step> {
        steps
            .iter()
            .filter_map(|s| s.0.as_ref())
            .filter_map(|s| self.step(cx, s))
            .collect()
    }

    fn step(&self, cx: &mut Ctx, s: &ast::Step) -> Option<Step> {
        let span = s.span;
        match &s.kind {
            StepKind::Send {
                message,
                experiment: None,
                fallback_for,
            } => {
                let fallback = self.fallback(cx, fallback_for.as_ref())?;
                check_message(cx, message, self.names).then(|| Step::Send {
                    delivery: Delivery::Message(message.value.clone()),
                    fallback_for: fallback,
                    span,
                })
            }
            StepKind::Send {
                message,
                experiment: Some(e),
                fallback_for,
            } => {
                let fallback = self.fallback(cx, fallback_for.as_ref())?;
                // The step's own message is one of the variants: check it's listed.
                let listed = e.variants.iter().any(|v| v.message.value == message.value);
                if !listed {
                    cx.diags.push(
                        Diagnostic::new(
                            Code::SchemaInvalidValue,
                            format!("`{}` is not one of the experiment's variants", message.value),
                        )
                        .at(message.span, "the step sends this message")
                        .help("List the step's message among `variants`, so the test compares it with the others."),
                    );
                    return None;
                }
                let x = experiment(cx, e, self.names, self.policies, message.span)?;
                Some(Step::Send {
                    delivery: Delivery::Experiment(x),
                    fallback_for: fallback,
                    span,
                })
            }
            StepKind::Wait(WaitDoc::For(d)) => {
                if d.value.minutes() == 0 {
                    cx.diags.push(
                        Diagnostic::new(Code::SchemaInvalidValue, "a wait of zero does nothing")
                            .at(d.span, "zero")
                            .help("Remove the step, or wait a positive duration such as `1d`."),
                    );
                }
                Some(Step::Wait {
                    duration: d.value,
                    span,
                })
            }
            StepKind::Wait(WaitDoc::Until(u)) => {
                let until = self.cond(cx, &u.until, "`wait until`");
                let on_timeout = self.steps(cx, &u.on_timeout);
                Some(Step::WaitUntil {
                    until: until?,
                    timeout: u.timeout.value,
                    on_timeout,
                    span,
                })
            }
            StepKind::If {
                condition,
                then,
                otherwise,
            } => {
                let c = self.cond(cx, condition, "an `if` step");
                let then = self.steps(cx, then);
                let otherwise = self.steps(cx, otherwise);
                Some(Step::If {
                    condition: c?,
                    then,
                    otherwise,
                    span,
                })
            }
            StepKind::Exit { reason } => Some(Step::Exit {
                reason: reason.clone(),
                span,
            }),
        }
    }
}
