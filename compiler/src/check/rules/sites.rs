//! Every place a message is sent from, with what is known there: the
//! conditions that hold (audience, trigger, enclosing `if`s) and the event.

use crate::model::{Campaign, Cond, Delivery, Plan, Scenario, Step, Trigger};
use crate::source::Span;

#[derive(Clone, Copy, Debug)]
pub enum Origin<'p> {
    Campaign(&'p str, &'p Campaign),
    Scenario(&'p str, &'p Scenario),
}

impl Origin<'_> {
    pub fn describe(&self) -> String {
        match self {
            Origin::Campaign(n, _) => format!("campaign `{n}`"),
            Origin::Scenario(n, _) => format!("scenario `{n}`"),
        }
    }
    pub fn name(&self) -> &str {
        match self {
            Origin::Campaign(n, _) | Origin::Scenario(n, _) => n,
        }
    }
}

/// One send of one message (each experiment variant is its own site).
#[derive(Clone, Debug)]
pub struct Site<'p> {
    pub message: &'p str,
    pub span: Span,
    pub origin: Origin<'p>,
    /// Conditions known to hold at the send, with their polarity (`false`:
    /// the condition is known *not* to hold — an `else` branch).
    pub conditions: Vec<(&'p Cond, bool)>,
    /// The triggering event, if the send happens in an event-triggered scenario.
    pub event: Option<&'p str>,
}

pub fn sites(plan: &Plan) -> Vec<Site<'_>> {
    let mut out = Vec::new();
    add_sites(plan, &mut out);
    // A marketing send never reaches a contact `policies.suppress` holds for
    // (the engine's guard drops it): the rules may count on it.
    if let Some(s) = &plan.policies.suppress {
        for site in &mut out {
            let marketing = plan
                .messages
                .get(site.message)
                .is_some_and(|m| m.purpose == crate::ast::values::Purpose::Marketing);
            if marketing {
                site.conditions.push((s, false));
            }
        }
    }
    out
}

fn add_sites<'p>(plan: &'p Plan, out: &mut Vec<Site<'p>>) {
    for (name, c) in &plan.campaigns {
        for m in c.delivery.messages() {
            out.push(Site {
                message: m,
                span: c.delivery_span,
                origin: Origin::Campaign(name, c),
                conditions: vec![(&c.audience, true)],
                event: None,
            });
        }
    }
    for (name, s) in &plan.scenarios {
        let mut base: Vec<(&Cond, bool)> = Vec::new();
        if let Some(a) = &s.audience {
            base.push((a, true));
        }
        let event = match &s.trigger {
            Trigger::Event { event, condition } => {
                if let Some(c) = condition {
                    base.push((c, true));
                }
                Some(event.as_str())
            }
            Trigger::Date { .. } => None,
        };
        walk(&s.steps, &mut base, Origin::Scenario(name, s), event, out);
    }
}

fn walk<'p>(
    steps: &'p [Step],
    conds: &mut Vec<(&'p Cond, bool)>,
    origin: Origin<'p>,
    event: Option<&'p str>,
    out: &mut Vec<Site<'p>>,
) {
    for step in steps {
        match step {
            Step::Send { delivery, span, .. } => {
                let messages = match delivery {
                    Delivery::Message(m) => vec![m.as_str()],
                    Delivery::Experiment(e) => e.variants.iter().map(|v| v.message.as_str()).collect(),
                };
                for m in messages {
                    out.push(Site {
                        message: m,
                        span: *span,
                        origin,
                        conditions: conds.clone(),
                        event,
                    });
                }
            }
            Step::If {
                condition,
                then,
                otherwise,
                ..
            } => {
                conds.push((condition, true));
                walk(then, conds, origin, event, out);
                conds.pop();
                conds.push((condition, false));
                walk(otherwise, conds, origin, event, out);
                conds.pop();
            }
            Step::WaitUntil { on_timeout, .. } => walk(on_timeout, conds, origin, event, out),
            Step::Wait { .. } | Step::Exit { .. } => {}
        }
    }
}
