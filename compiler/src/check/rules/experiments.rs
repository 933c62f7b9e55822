//! A/B tests: splits, holdout, test size, one channel, decision delay, one
//! difference between variants.

use super::RuleCx;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Delivery, Experiment, MessageContent, Step};
use std::collections::BTreeSet;

pub fn check(cx: &mut RuleCx) {
    let plan = cx.plan;
    let mut experiments: Vec<(String, &Experiment)> = Vec::new();
    for (name, c) in &plan.campaigns {
        if let Delivery::Experiment(e) = &c.delivery {
            experiments.push((format!("campaign `{name}`"), e));
        }
    }
    for (name, s) in &plan.scenarios {
        collect(&s.steps, &format!("scenario `{name}`"), &mut experiments);
    }
    for (owner, e) in experiments {
        one(cx, &owner, e);
    }
}

fn collect<'p>(steps: &'p [Step], owner: &str, out: &mut Vec<(String, &'p Experiment)>) {
    for s in steps {
        match s {
            Step::Send {
                delivery: Delivery::Experiment(e),
                ..
            } => out.push((owner.to_string(), e)),
            Step::If { then, otherwise, .. } => {
                collect(then, owner, out);
                collect(otherwise, owner, out);
            }
            Step::WaitUntil { on_timeout, .. } => collect(on_timeout, owner, out),
            _ => {}
        }
    }
}

/// The elements that differ between two messages.
fn differences(a: &MessageContent, b: &MessageContent) -> Vec<&'static str> {
    let mut d = Vec::new();
    let mut cmp = |name: &'static str, x: Option<&str>, y: Option<&str>| {
        if x != y {
            d.push(name);
        }
    };
    match (a, b) {
        (
            MessageContent::Email {
                subject: s1,
                preheader: p1,
                body: b1,
                from: f1,
                ..
            },
            MessageContent::Email {
                subject: s2,
                preheader: p2,
                body: b2,
                from: f2,
                ..
            },
        ) => {
            cmp("subject", Some(&s1.source), Some(&s2.source));
            cmp(
                "preheader",
                p1.as_ref().map(|p| p.source.as_str()),
                p2.as_ref().map(|p| p.source.as_str()),
            );
            cmp("body", Some(&b1.source), Some(&b2.source));
            cmp("from", f1.as_deref(), f2.as_deref());
        }
        (
            MessageContent::Sms {
                sender: s1, text: t1, ..
            },
            MessageContent::Sms {
                sender: s2, text: t2, ..
            },
        ) => {
            cmp("sender", s1.as_deref(), s2.as_deref());
            cmp("text", Some(&t1.source), Some(&t2.source));
        }
        (
            MessageContent::Push {
                title: t1,
                body: b1,
                url: u1,
            },
            MessageContent::Push {
                title: t2,
                body: b2,
                url: u2,
            },
        ) => {
            cmp("title", Some(&t1.source), Some(&t2.source));
            cmp("body", Some(&b1.source), Some(&b2.source));
            cmp("url", u1.as_deref(), u2.as_deref());
        }
        _ => {}
    }
    d
}

fn one(cx: &mut RuleCx, owner: &str, e: &Experiment) {
    let plan = cx.plan;
    let total: u32 = e.variants.iter().map(|v| v.split).sum();
    if total != 100 {
        let mut d = Diagnostic::new(
            Code::ExperimentSplitSum,
            format!("the variants of the experiment of {owner} split {total} %, not 100 %"),
        )
        .help("Adjust the `split` values so that they add up to 100.");
        if let Some(first) = e.variants.first() {
            d = d.at(first.span, format!("splits add up to {total}"));
        }
        for v in e.variants.iter().skip(1) {
            d = d.related(v.span, format!("{} %", v.split));
        }
        cx.diags.push(d);
    }
    if e.holdout > 50 {
        cx.diags.push(
            Diagnostic::new(
                Code::ExperimentHoldoutRange,
                format!("the experiment of {owner} holds out {} % of the audience", e.holdout),
            )
            .at(e.holdout_span.unwrap_or(e.span), "holdout above 50 %")
            .help("Keep the control group between 0 and 50 % (5–20 % is usual)."),
        );
    }
    if let Some(t) = e.test_size
        && (t == 0 || t > 100 || t + e.holdout > 100)
    {
        cx.diags.push(
            Diagnostic::new(
                Code::ExperimentTestSizeRange,
                format!("the experiment of {owner} has a test size of {t} %"),
            )
            .at(e.test_size_span.unwrap_or(e.span), "test size out of range")
            .help("Use a test size between 1 and 100 − holdout, such as 20 (the winner goes to the rest)."),
        );
    }
    let channels: BTreeSet<_> = e
        .variants
        .iter()
        .filter_map(|v| plan.messages.get(&v.message))
        .map(|m| m.channel())
        .collect();
    if channels.len() > 1 {
        let list: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
        cx.diags.push(
            Diagnostic::new(
                Code::ExperimentMixedChannels,
                format!(
                    "the variants of the experiment of {owner} are on different channels ({})",
                    list.join(", ")
                ),
            )
            .at(e.span, "one channel per experiment")
            .help("Test variants of one channel; compare channels with separate campaigns."),
        );
    }
    if let Some(d) = e.decide_after {
        let h = d.minutes() / 60;
        if !(24..=48).contains(&h) || d.minutes() % 60 != 0 && h >= 48 {
            cx.diags.push(
                Diagnostic::new(
                    Code::ExperimentDecideAfter,
                    format!("the experiment of {owner} decides after {d}"),
                )
                .at(e.decide_after_span.unwrap_or(e.span), "outside 24–48 h")
                .help("Decide after 24 to 48 hours: earlier measures noise, later delays the send to everyone else."),
            );
        }
    }
    let contents: Vec<(&str, &MessageContent)> = e
        .variants
        .iter()
        .filter_map(|v| plan.messages.get(&v.message).map(|m| (v.message.as_str(), &m.content)))
        .collect();
    if let Some((first_name, first)) = contents.first() {
        for (name, other) in contents.iter().skip(1) {
            let diff = differences(first, other);
            if diff.len() > 1 {
                cx.diags.push(
                    Diagnostic::new(
                        Code::ExperimentSeveralDifferences,
                        format!(
                            "variants `{first_name}` and `{name}` of the experiment of {owner} differ in {}",
                            diff.join(" and ")
                        ),
                    )
                    .at(e.span, "more than one element changes")
                    .help("Change one element per experiment, so the result says which one made the difference."),
                );
            }
        }
    }
}
