//! Segments, messages and programs that nothing uses.

use super::{RuleCx, Site};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Cond, CondKind, Step, Trigger};
use std::collections::BTreeSet;

pub fn check(cx: &mut RuleCx, sites: &[Site]) {
    let plan: &crate::model::Plan = cx.plan;
    let mut segments: BTreeSet<String> = BTreeSet::new();
    let note = |c: &Cond, segments: &mut BTreeSet<String>| {
        let mut found = Vec::new();
        c.walk(&mut |x| {
            if let CondKind::Segment { name } = &x.kind {
                found.push(name.clone());
            }
        });
        segments.extend(found);
    };
    for s in plan.segments.values() {
        note(&s.condition, &mut segments);
    }
    if let Some(c) = &plan.policies.suppress {
        note(c, &mut segments);
    }
    for c in plan.campaigns.values() {
        note(&c.audience, &mut segments);
    }
    for s in plan.scenarios.values() {
        for c in s.audience.iter().chain(s.exit_when.iter()) {
            note(c, &mut segments);
        }
        if let Trigger::Event { condition: Some(c), .. } = &s.trigger {
            note(c, &mut segments);
        }
        steps(&s.steps, &mut |c| note(c, &mut segments));
    }
    // What a broken declaration writes may be used there: not "unused".
    let mentioned = |name: &str| plan.broken.mentions.contains(name);
    for (name, s) in &plan.segments {
        if !segments.contains(name) && !mentioned(name) {
            cx.diags.push(
                Diagnostic::new(Code::ReferenceUnusedSegment, format!("segment `{name}` is not used"))
                    .at(s.span, "no audience or condition uses it")
                    .help(format!("Use it (`segment({name})`) in an audience, or delete it.")),
            );
        }
    }
    let sent: BTreeSet<&str> = sites.iter().map(|s| s.message).collect();
    for (name, m) in &plan.messages {
        if !sent.contains(name.as_str()) && !mentioned(name) {
            cx.diags.push(
                Diagnostic::new(Code::ReferenceUnusedMessage, format!("message `{name}` is never sent"))
                    .at(m.span, "no campaign or scenario sends it")
                    .help(format!(
                        "Send it (`send: {name}` in a scenario, or `message: {name}` in a campaign), or delete it."
                    )),
            );
        }
    }
    let mut programs: BTreeSet<&str> = BTreeSet::new();
    programs.extend(plan.campaigns.values().map(|c| c.program.as_str()));
    programs.extend(plan.scenarios.values().map(|s| s.program.as_str()));
    for (name, p) in &plan.programs {
        if !programs.contains(name.as_str()) && !mentioned(name) {
            cx.diags.push(
                Diagnostic::new(
                    Code::ReferenceUnusedProgram,
                    format!("program `{name}` has no campaign or scenario"),
                )
                .at(p.span, "nothing belongs to it")
                .help(format!(
                    "Set `program: {name}` on its campaigns and scenarios, or delete it."
                )),
            );
        }
    }
}

fn steps<'p>(list: &'p [Step], f: &mut impl FnMut(&'p Cond)) {
    for s in list {
        match s {
            Step::If {
                condition,
                then,
                otherwise,
                ..
            } => {
                f(condition);
                steps(then, f);
                steps(otherwise, f);
            }
            Step::WaitUntil { until, on_timeout, .. } => {
                f(until);
                steps(on_timeout, f);
            }
            _ => {}
        }
    }
}
