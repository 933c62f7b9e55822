//! The scenarios view: one framed flowchart per scenario, from its trigger to
//! every way it ends.

use super::{Cluster, Edge, Flow, Kind, Node, WRAP, channel_name, wrap};
use herald_compiler::ast::values::CalendarOffset;
use herald_compiler::model::{Delivery, Plan, Scenario, Step, Trigger};

/// Every scenario (or only `only`), one cluster each.
pub fn flow(plan: &Plan, only: Option<&str>) -> Flow {
    let clusters = plan
        .scenarios
        .iter()
        .filter(|(n, _)| only.is_none_or(|o| o == n.as_str()))
        .enumerate()
        .map(|(i, (name, s))| cluster(plan, &format!("s{}", i + 1), name, s))
        .collect();
    Flow {
        clusters,
        ..Flow::default()
    }
}

/// The words of a trigger, on one line: "on cart_abandoned", "7d before birthdate at 10:00, every year".
pub fn trigger_summary(t: &Trigger) -> String {
    match t {
        Trigger::Event { event, .. } => format!("on {event}"),
        Trigger::Date {
            field,
            offset,
            at,
            yearly,
        } => {
            let when = match *offset {
                CalendarOffset::Days(0) | CalendarOffset::Months(0) => format!("on {field}"),
                CalendarOffset::Days(d) if d < 0 => format!("{} before {field}", CalendarOffset::Days(-d)),
                CalendarOffset::Months(m) if m < 0 => format!("{} before {field}", CalendarOffset::Months(-m)),
                o => format!("{o} after {field}"),
            };
            let every = if *yearly { ", every year" } else { "" };
            format!("{when} at {}{every}", at.format("%H:%M"))
        }
    }
}

fn cluster(plan: &Plan, prefix: &str, name: &str, s: &Scenario) -> Cluster {
    let mut details = Vec::new();
    if let Trigger::Event { condition: Some(c), .. } = &s.trigger {
        details.extend(wrap(&format!("where {c}"), WRAP));
    }
    let audience = s.audience.as_ref().map_or("everyone".to_string(), ToString::to_string);
    details.extend(wrap(&format!("audience: {audience}"), WRAP));
    if let Some(c) = &s.exit_when {
        details.extend(wrap(&format!("exits when: {c}"), WRAP));
    }
    details.push(format!("re-entry: {}", s.reentry));
    let mut walk = Walk {
        plan,
        prefix,
        nodes: vec![Node {
            id: format!("{prefix}_start"),
            kind: Kind::Trigger,
            title: wrap(&trigger_summary(&s.trigger), WRAP),
            details,
        }],
        edges: Vec::new(),
        counter: 0,
    };
    let open = walk.steps(&s.steps, vec![(format!("{prefix}_start"), None)]);
    if !open.is_empty() {
        let end = format!("{prefix}_end");
        walk.nodes.push(Node {
            id: end.clone(),
            kind: Kind::End,
            title: vec!["end".into()],
            details: Vec::new(),
        });
        walk.link(open, &end);
    }
    Cluster {
        id: prefix.to_string(),
        title: vec![format!("scenario {name}")],
        nodes: walk.nodes,
        edges: walk.edges,
    }
}

/// The nodes that flow into the next step, with the label of that edge.
type Open = Vec<(String, Option<String>)>;

struct Walk<'a> {
    plan: &'a Plan,
    prefix: &'a str,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    counter: usize,
}

impl Walk<'_> {
    fn link(&mut self, open: Open, to: &str) {
        for (from, label) in open {
            self.edges.push(Edge {
                from,
                to: to.to_string(),
                label,
            });
        }
    }

    fn node(&mut self, kind: Kind, title: Vec<String>, details: Vec<String>) -> String {
        self.counter += 1;
        let id = format!("{}_{}", self.prefix, self.counter);
        self.nodes.push(Node {
            id: id.clone(),
            kind,
            title,
            details,
        });
        id
    }

    fn channel_of(&self, message: &str) -> Option<herald_compiler::ast::values::Channel> {
        self.plan.messages.get(message).map(|m| m.channel())
    }

    fn steps(&mut self, list: &[Step], mut open: Open) -> Open {
        for step in list {
            let (kind, title, details) = match step {
                Step::Send {
                    delivery: Delivery::Message(m),
                    ..
                } => {
                    let ch = self.channel_of(m);
                    (Kind::Send(ch), vec![format!("{}: {m}", channel_name(ch))], Vec::new())
                }
                Step::Send {
                    delivery: Delivery::Experiment(e),
                    ..
                } => {
                    let ch = e.variants.first().and_then(|v| self.channel_of(&v.message));
                    let mut details: Vec<String> = e
                        .variants
                        .iter()
                        .map(|v| format!("{} {}%", v.message, v.split))
                        .collect();
                    if e.holdout > 0 {
                        details.push(format!("holdout {}%", e.holdout));
                    }
                    (Kind::Send(ch), vec![format!("{}: A/B test", channel_name(ch))], details)
                }
                Step::Wait { duration, .. } => (Kind::Wait, vec![format!("wait {duration}")], Vec::new()),
                Step::WaitUntil { until, timeout, .. } => (
                    Kind::WaitUntil,
                    wrap(&format!("wait until {until}"), WRAP),
                    vec![format!("at most {timeout}")],
                ),
                Step::If { condition, .. } => (Kind::Decision, wrap(&format!("if {condition}"), 30), Vec::new()),
                Step::Exit { reason, .. } => (
                    Kind::Exit,
                    match reason {
                        Some(r) => wrap(&format!("exit: {r}"), WRAP),
                        None => vec!["exit".into()],
                    },
                    Vec::new(),
                ),
            };
            let id = self.node(kind, title, details);
            self.link(std::mem::take(&mut open), &id);
            open = match step {
                Step::If { then, otherwise, .. } => {
                    let mut yes = self.steps(then, vec![(id.clone(), Some("yes".into()))]);
                    yes.extend(self.steps(otherwise, vec![(id, Some("no".into()))]));
                    yes
                }
                Step::WaitUntil {
                    on_timeout, timeout, ..
                } => {
                    let mut out = vec![(id.clone(), Some("met".into()))];
                    out.extend(self.steps(on_timeout, vec![(id, Some(format!("timeout ({timeout})")))]));
                    out
                }
                Step::Exit { .. } => Vec::new(),
                _ => vec![(id, None)],
            };
        }
        open
    }
}
