//! `policies:` → [`Policies`].

use super::typeck::Scope;
use super::{Ctx, Names};
use crate::ast::Documents;
use crate::ast::values::{Channel, Duration, Purpose};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{ContactModel, Policies, PressureRule, PressureSource, SendWindow};

/// The practice's baseline caps (`design.md`, research §2), applied when a
/// plan writes no `policies.pressure`: name, channel, max, per (days).
pub const BASELINE: [(&str, Option<Channel>, u32, u64); 4] = [
    ("email", Some(Channel::Email), 2, 7),
    ("sms", Some(Channel::Sms), 4, 30),
    ("push", Some(Channel::Push), 3, 7),
    ("daily", None, 1, 1),
];

/// The baseline caps, as rules (marketing messages only).
pub fn baseline() -> Vec<PressureRule> {
    BASELINE
        .iter()
        .map(|&(name, channel, max, days)| PressureRule {
            channel,
            purpose: Some(Purpose::Marketing),
            program: None,
            tag: None,
            max,
            per: Duration::from_minutes(days * 1440).unwrap_or(Duration::MAX),
            span: None,
            baseline: Some(name),
        })
        .collect()
}

/// What `check` says once when the baseline applies.
pub const BASELINE_NOTE: &str = "no `policies.pressure`: the practice's baseline caps apply — marketing email ≤ 2 per 7 days, SMS ≤ 4 per 30 days, push ≤ 3 per 7 days, and one marketing message per contact a day across channels (write `policies.pressure` to replace them, `pressure: []` to turn caps off)";

pub fn build(cx: &mut Ctx, docs: &Documents, names: &Names, contact: &ContactModel) -> Policies {
    let mut p = Policies {
        pressure: baseline(),
        pressure_source: PressureSource::Baseline,
        ..Policies::default()
    };
    let Some(doc) = &docs.policies else { return p };
    p.span = Some(doc.span);
    let doc = &doc.value;
    if let Some(list) = &doc.pressure {
        p.pressure.clear();
        p.pressure_source = if list.value.is_empty() {
            cx.diags.push(
                Diagnostic::new(Code::PressureCapsOff, "`pressure: []` turns every frequency cap off")
                    .at(list.span, "no caps: a contact may get any number of marketing messages")
                    .help("Remove `pressure` to apply the practice's baseline (marketing email ≤ 2 per 7 days, SMS ≤ 4 per 30 days, push ≤ 3 per 7 days, one a day across channels), or list your own caps."),
            );
            PressureSource::Off
        } else {
            PressureSource::Written
        };
    }
    for r in doc
        .pressure
        .iter()
        .flat_map(|l| l.value.iter())
        .filter_map(|r| r.0.as_ref())
    {
        if let Some(program) = &r.program
            && !names.programs.contains_key(&program.value)
        {
            cx.unknown(Code::ReferenceUnknownProgram, "program", program, &names.programs);
        }
        if r.max.value == 0 {
            cx.diags.push(
                Diagnostic::new(
                    Code::SchemaInvalidValue,
                    "a pressure cap of 0 forbids every message it covers",
                )
                .at(r.max.span, "`max: 0`")
                .help("Set `max` to at least 1, or narrow the rule's scope."),
            );
        }
        if r.per.value.minutes() == 0 {
            cx.diags.push(
                Diagnostic::new(Code::SchemaInvalidValue, "a pressure window must be longer than zero")
                    .at(r.per.span, "empty window")
                    .help("Use a window such as `7d`."),
            );
        }
        p.pressure.push(PressureRule {
            channel: r.channel.as_ref().map(|c| c.value),
            purpose: r.purpose.as_ref().map(|c| c.value),
            program: r.program.as_ref().map(|c| c.value.clone()),
            tag: r.tag.as_ref().map(|c| c.value.clone()),
            max: r.max.value,
            per: r.per.value,
            span: Some(r.max.span.to(r.per.span)),
            baseline: None,
        });
    }
    for q in doc.quiet_hours.iter().filter_map(|q| q.0.as_ref()) {
        if q.from.value.0 >= q.to.value.0 && q.to.value.to_string() != "00:00" {
            cx.diags.push(
                Diagnostic::new(
                    Code::SchemaInvalidValue,
                    format!("the window {}–{} is empty", q.from.value, q.to.value),
                )
                .at(q.from.span.to(q.to.span), "`from` must be before `to`")
                .help("Write the allowed hours in order, such as `from: \"08:00\"`, `to: \"20:00\"`."),
            );
        }
        if q.days.value.is_empty() {
            cx.diags.push(
                Diagnostic::new(
                    Code::SchemaInvalidValue,
                    format!("no day is allowed for {}", q.channel.value),
                )
                .at(q.days.span, "empty list of days")
                .help("List the days when sending is allowed, such as `[mon, tue, wed, thu, fri, sat]`."),
            );
        }
        p.quiet_hours.push(SendWindow {
            channel: q.channel.value,
            purpose: q.purpose.as_ref().map(|p| p.value),
            days: q.days.value.clone(),
            from: q.from.value.0,
            to: q.to.value.0,
            holidays: q.holidays.as_ref().map(|h| h.value),
            span: q.channel.span,
        });
    }
    if let Some(m) = &doc.sms.max_segments {
        if m.value == 0 {
            cx.diags.push(
                Diagnostic::new(Code::SchemaInvalidValue, "`max_segments` must be at least 1")
                    .at(m.span, "0 segments")
                    .help("Set it to 1 (160 GSM-7 characters) or more."),
            );
        }
        p.sms_max_segments = m.value.max(1);
    }
    if let Some(m) = &doc.email.subject_max_length {
        p.email_subject_max_length = m.value;
    }
    if let Some(m) = &doc.experiments.min_sample {
        p.experiment_min_sample = m.value;
    }
    p.guard_max_audience_growth_percent = doc.guards.max_audience_growth_percent.as_ref().map(|g| g.value);
    p.guard_max_cost = doc.guards.max_cost.as_ref().map(|g| g.value);
    if let Some(s) = &doc.suppress {
        let scope = Scope {
            contact,
            segments: &names.segments,
            messages: &names.messages,
            event: None,
            place: "`policies.suppress`",
            broken: &names.broken,
        };
        p.suppress = cx.condition(s, scope).map(|(c, _)| c);
    }
    p
}
