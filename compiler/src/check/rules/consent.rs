//! Consent is a type rule: a marketing send on channel C must have an
//! effective audience that implies a consent on C.

use super::logic::{Need, facts_prove_consent};
use super::{Origin, RuleCx, Site};
use crate::ast::values::{Channel, Purpose};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Cond, MessageContent};
use crate::source::Span;
use std::collections::BTreeMap;

pub fn check(cx: &mut RuleCx, sites: &[Site]) {
    // Unproven sends grouped per (origin, channel, topic): one error each, not one per send.
    let mut unproven: BTreeMap<(String, Channel, Option<&str>), Vec<&Site>> = BTreeMap::new();
    for site in sites {
        let Some(message) = cx.plan.messages.get(site.message) else {
            continue;
        };
        if message.purpose != Purpose::Marketing {
            continue;
        }
        let need = Need {
            channel: message.channel(),
            topic: message.topic.as_deref(),
        };
        let proven = facts_prove_consent(cx.plan, &site.conditions, need);
        if !proven {
            unproven
                .entry((site.origin.describe(), need.channel, need.topic))
                .or_default()
                .push(site);
        }
    }
    for ((_, channel, topic), group) in unproven {
        report(cx, Need { channel, topic }, &group);
    }
    promotions(cx);
}

fn consents_for<'p>(cx: &RuleCx<'p>, need: Need) -> Vec<&'p str> {
    cx.plan
        .contact
        .consents
        .iter()
        .filter(|(_, c)| c.covers(need.channel, need.topic))
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

/// "an email", "an SMS", "a push", "a call".
fn article(c: Channel) -> &'static str {
    match c {
        Channel::Email | Channel::Sms => "an",
        Channel::Push | Channel::Call => "a",
    }
}

fn report(cx: &mut RuleCx, need: Need, group: &[&Site]) {
    let channel = need.channel;
    let Some(first) = group.first() else { return };
    let consents = consents_for(cx, need);
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
    // "email consent", or "email consent covering `offers`".
    let kind = match need.topic {
        Some(t) => format!("{label} consent covering `{t}`"),
        None => format!("{label} consent"),
    };
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
            "{} sends {what} to contacts who may not have given {kind}",
            first.origin.describe()
        ),
    )
    .at(
        first.span,
        format!("marketing {label}: needs {} {kind}", article(channel)),
    );
    match audience {
        Some(a) => {
            let fallback = if need.topic.is_some() {
                "does not require a consent covering this topic"
            } else {
                "does not require a consent on this channel"
            };
            let hint = weak_point(cx, a, need).unwrap_or(fallback);
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
        (None, _) => match need.topic {
            Some(t) => format!(
                "No {label} consent covers `{t}`: add `{t}` to the `topics` of one under `contact.consents` (or declare one, such as `{}_{t}: {{ channel: {}, topics: [{t}] }}`) and require it in the audience.",
                channel.as_str(),
                channel.as_str()
            ),
            None => {
                // Consents of the channel all limited to topics: the message needs one.
                let topics: Vec<String> = cx
                    .plan
                    .contact
                    .consents
                    .values()
                    .filter(|c| c.channel == channel)
                    .flat_map(|c| c.topics.iter().map(|t| format!("`{t}`")))
                    .collect();
                if topics.is_empty() {
                    format!(
                        "Declare a consent for this channel under `contact.consents` (for example `{}_marketing: {{ channel: {} }}`) and require it in the audience.",
                        channel.as_str(),
                        channel.as_str()
                    )
                } else {
                    format!(
                        "The {label} consents cover topics only ({}): give the message the `topic` it is about, or declare a consent without `topics` (for example `{}_marketing: {{ channel: {} }}`) and require it in the audience.",
                        topics.join(", "),
                        channel.as_str(),
                        channel.as_str()
                    )
                }
            }
        },
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
fn weak_point(cx: &RuleCx, a: &crate::model::Cond, need: Need) -> Option<&'static str> {
    let channel = need.channel;
    use crate::model::CondKind;
    let conjuncts: Vec<&crate::model::Cond> = match &a.kind {
        CondKind::And { all } => all.iter().collect(),
        _ => vec![a],
    };
    let required = |f: &dyn Fn(&crate::model::Consent) -> bool| {
        conjuncts.iter().any(|c| {
            matches!(&c.kind, CondKind::Consent { name }
                if cx.plan.contact.consents.get(name).is_some_and(f))
        })
    };
    let other_channel = required(&|k| k.channel != channel);
    let other_topic = required(&|k| k.channel == channel && !k.covers(channel, need.topic));
    match &a.kind {
        CondKind::Or { .. } => Some("is a disjunction: some of its alternatives do not require consent"),
        CondKind::Not { .. } => Some("is a negation, which never proves consent"),
        _ if other_topic && need.topic.is_some() => {
            Some("requires a consent of this channel that does not cover the message's topic")
        }
        _ if other_topic => Some("requires a consent limited to some topics, and the message has no `topic`"),
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
