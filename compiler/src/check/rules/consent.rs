//! Consent is a type rule: a marketing send on channel C must have an
//! effective audience that implies a consent on C.

use super::logic::facts_prove_consent;
use super::{Origin, RuleCx, Site};
use crate::ast::values::{Channel, Purpose};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Cond, MessageContent};
use crate::source::Span;
use std::collections::BTreeMap;

pub fn check(cx: &mut RuleCx, sites: &[Site]) {
    // Unproven sends grouped per (origin, channel): one error each, not one per send.
    let mut unproven: BTreeMap<(String, Channel), Vec<&Site>> = BTreeMap::new();
    for site in sites {
        let Some(message) = cx.plan.messages.get(site.message) else {
            continue;
        };
        if message.purpose != Purpose::Marketing {
            continue;
        }
        let channel = message.channel();
        let proven = facts_prove_consent(cx.plan, &site.conditions, channel);
        if !proven {
            unproven
                .entry((site.origin.describe(), channel))
                .or_default()
                .push(site);
        }
    }
    for ((_, channel), group) in unproven {
        report(cx, channel, &group);
    }
    promotions(cx);
}

fn consents_for<'p>(cx: &RuleCx<'p>, channel: Channel) -> Vec<&'p str> {
    cx.plan
        .contact
        .consents
        .iter()
        .filter(|(_, c)| c.channel == channel)
        .map(|(n, _)| n.as_str())
        .collect()
}

fn channel_label(c: Channel) -> &'static str {
    match c {
        Channel::Email => "email",
        Channel::Sms => "SMS",
        Channel::Push => "push",
        Channel::Call => "call",
    }
}

fn report(cx: &mut RuleCx, channel: Channel, group: &[&Site]) {
    let Some(first) = group.first() else { return };
    let consents = consents_for(cx, channel);
    let wanted = match consents.as_slice() {
        [] => None,
        [one] => Some(format!("consent({one})")),
        many => Some(format!("consent({})", many[0])),
    };
    let (audience, audience_label): (Option<&Cond>, &str) = match first.origin {
        Origin::Campaign(_, c) => (Some(&c.audience), "this audience"),
        Origin::Scenario(_, s) => (s.audience.as_ref(), "the scenario's audience"),
    };
    let label = channel_label(channel);
    let messages: Vec<String> = {
        let mut m: Vec<String> = group.iter().map(|s| format!("`{}`", s.message)).collect();
        m.dedup();
        m
    };
    let what = if messages.len() == 1 {
        format!("marketing {label} {}", messages[0])
    } else {
        format!(
            "{} marketing {label} messages ({})",
            messages.len(),
            messages.join(", ")
        )
    };
    let mut d = Diagnostic::new(
        Code::ConsentUnproven,
        format!(
            "{} sends {what} to contacts who may not have given {label} consent",
            first.origin.describe()
        ),
    )
    .at(
        first.span,
        format!(
            "marketing {label}: needs {} {label} consent",
            if channel == Channel::Sms { "an" } else { "a" }
        ),
    );
    match audience {
        Some(a) => {
            let hint = weak_point(cx, a, channel).unwrap_or("does not require a consent on this channel");
            d = d.related(a.span, format!("{audience_label} {hint}"));
        }
        None => {
            if let Origin::Scenario(_, s) = first.origin {
                d = d.related(s.span, "this scenario has no `audience`");
            }
        }
    }
    for other in group.iter().skip(1) {
        d = d.related(other.span, format!("also sends `{}` here", other.message));
    }
    let help = match (&wanted, audience) {
        (Some(w), Some(_)) => {
            let others = if consents.len() > 1 {
                format!(" (or another {label} consent: {})", consents.join(", "))
            } else {
                String::new()
            };
            format!(
                "Add `and {w}` to the audience{others}, or wrap the send in `if: {w}`; if this message is not marketing, set its `purpose` to `transactional` or `service`."
            )
        }
        (Some(w), None) => format!("Add `audience: {w}` to the scenario, or wrap the send in `if: {w}`."),
        (None, _) => format!(
            "Declare a consent for this channel under `contact.consents` (for example `{}_marketing: {{ channel: {} }}`) and require it in the audience.",
            channel.as_str(),
            channel.as_str()
        ),
    };
    if let (Some(w), Some(a)) = (&wanted, audience) {
        // `x or y` must be wrapped before `and` binds to its last operand.
        let wrap = matches!(a.kind, crate::model::CondKind::Or { .. });
        let start = Span::new(a.span.file, a.span.start as usize, a.span.start as usize);
        let end = Span::new(a.span.file, a.span.end as usize, a.span.end as usize);
        let edits = if wrap {
            vec![(start, "(".to_string()), (end, format!(") and {w}"))]
        } else {
            vec![(end, format!(" and {w}"))]
        };
        d = d.fix(format!("Require `{w}` in the audience"), edits);
    }
    cx.diags.push(d.help(help));
}

/// Why an audience fails to prove consent, when a simple reason exists.
fn weak_point(cx: &RuleCx, a: &crate::model::Cond, channel: Channel) -> Option<&'static str> {
    use crate::model::CondKind;
    let conjuncts: Vec<&crate::model::Cond> = match &a.kind {
        CondKind::And { all } => all.iter().collect(),
        _ => vec![a],
    };
    let other_channel = conjuncts.iter().any(|c| {
        matches!(&c.kind, CondKind::Consent { name }
            if cx.plan.contact.consents.get(name).is_some_and(|k| k.channel != channel))
    });
    match &a.kind {
        CondKind::Or { .. } => Some("is a disjunction: some of its alternatives do not require consent"),
        CondKind::Not { .. } => Some("is a negation, which never proves consent"),
        _ if other_channel => Some("requires a consent on another channel only"),
        _ => None,
    }
}

/// Transactional and service messages must not carry promotions.
fn promotions(cx: &mut RuleCx) {
    const MARKERS: &[&str] = &[
        "code promo",
        "promo",
        "soldes",
        "réduction",
        "reduction",
        "remise",
        "discount",
        "coupon",
        "% off",
        "offre spéciale",
        "black friday",
        "stop au",
    ];
    for (name, m) in &cx.plan.messages {
        if m.purpose == Purpose::Marketing {
            continue;
        }
        let texts: Vec<&crate::model::Template> = match &m.content {
            MessageContent::Email { subject, body, .. } => vec![subject, body],
            MessageContent::Sms { text, .. } => vec![text],
            MessageContent::Push { title, body, .. } => vec![title, body],
            MessageContent::Call { script } => vec![script],
        };
        for t in texts {
            let lower = t.source.to_lowercase();
            let hit = MARKERS
                .iter()
                .filter_map(|mk| lower.find(mk).map(|i| (i, mk.len())))
                .chain(discount_percent(&lower))
                .min();
            if let Some((i, len)) = hit {
                let span = cx.template_span(t, i, i + len);
                cx.diags.push(
                    Diagnostic::new(
                        Code::ConsentPromotionInTransactional,
                        format!("{} message `{name}` looks promotional", m.purpose),
                    )
                    .at(span, "promotional content")
                    .help("Keep transactional and service messages free of offers (they are sent without marketing consent), or make this a marketing message."),
                );
                break;
            }
        }
    }
}

/// "-20%", "20 %": a discount.
fn discount_percent(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let mut j = i + 1;
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            if b.get(j) == Some(&b' ') {
                j += 1;
            }
            if b.get(j) == Some(&b'%') {
                return Some((i, j + 1 - i));
            }
        }
    }
    None
}
