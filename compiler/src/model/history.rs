//! Which parts of a plan read the contacts' history (`count()`, `opened()`,
//! `clicked()`): without an event history the forecast reads them as 0 and
//! false, and `plan` names what that changes.

use super::cond::{Cond, CondKind, Operand};
use super::{Plan, Step, Trigger};
use std::collections::BTreeSet;

/// Whether `cond` reads history, segments expanded (each segment once, so a
/// cycle — reported by `check` — ends).
fn reads(plan: &Plan, cond: &Cond, known: Known, seen: &mut BTreeSet<String>) -> bool {
    let mut found = false;
    cond.walk(&mut |c| match &c.kind {
        CondKind::Opened { .. } | CondKind::Clicked { .. } => found |= !known.engagement,
        CondKind::Compare { lhs, rhs, .. } => {
            found |= !known.events && (matches!(lhs, Operand::Count { .. }) || matches!(rhs, Operand::Count { .. }));
        }
        CondKind::Segment { name } => {
            if seen.insert(name.clone())
                && let Some(s) = plan.segments.get(name)
            {
                // Recursion through the segment's own condition.
                let mut inner = seen.clone();
                found |= reads(plan, &s.condition, known, &mut inner);
            }
        }
        _ => {}
    });
    found
}

/// What history the forecast has: events (`count()`) and engagement
/// (`opened()`, `clicked()`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Known {
    pub events: bool,
    pub engagement: bool,
}

fn steps_read(plan: &Plan, steps: &[Step], known: Known) -> bool {
    steps.iter().any(|s| match s {
        Step::WaitUntil { until, on_timeout, .. } => {
            reads(plan, until, known, &mut BTreeSet::new()) || steps_read(plan, on_timeout, known)
        }
        Step::If {
            condition,
            then,
            otherwise,
            ..
        } => {
            reads(plan, condition, known, &mut BTreeSet::new())
                || steps_read(plan, then, known)
                || steps_read(plan, otherwise, known)
        }
        Step::Send { .. } | Step::Wait { .. } | Step::Exit { .. } => false,
    })
}

/// The campaigns and scenarios whose conditions read history the forecast
/// does not have (`known`), by address (`campaigns.NAME`, `scenarios.NAME`),
/// with where: `audience`, `where`, `exit_when`, `steps`.
pub fn dependent(plan: &Plan, known: Known) -> Vec<(String, Vec<&'static str>)> {
    let mut out = Vec::new();
    let r = |c: &Cond| reads(plan, c, known, &mut BTreeSet::new());
    for (name, c) in &plan.campaigns {
        if r(&c.audience) {
            out.push((format!("campaigns.{name}"), vec!["audience"]));
        }
    }
    for (name, s) in &plan.scenarios {
        let mut parts = Vec::new();
        if s.audience.as_ref().is_some_and(r) {
            parts.push("audience");
        }
        if let Trigger::Event { condition: Some(c), .. } = &s.trigger
            && r(c)
        {
            parts.push("where");
        }
        if s.exit_when.as_ref().is_some_and(r) {
            parts.push("exit_when");
        }
        if steps_read(plan, &s.steps, known) {
            parts.push("steps");
        }
        if !parts.is_empty() {
            out.push((format!("scenarios.{name}"), parts));
        }
    }
    out
}
