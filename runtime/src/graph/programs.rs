//! The programs view: each program framed with its objective, holding its
//! campaigns and scenarios, with an edge to every message they send.

use super::scenarios::trigger_summary;
use super::{Cluster, Edge, Flow, Kind, Node, WRAP, channel_name, wrap};
use herald_compiler::model::{Plan, Step};
use std::collections::BTreeMap;

pub fn flow(plan: &Plan) -> Flow {
    let mut flow = Flow::default();
    // Message node ids, in the order they are first sent.
    let mut messages: BTreeMap<String, String> = BTreeMap::new();
    let mut message_id = |flow: &mut Flow, m: &str| -> String {
        let next = messages.len() + 1;
        messages
            .entry(m.to_string())
            .or_insert_with(|| {
                let id = format!("m{next}");
                let ch = plan.messages.get(m).map(|x| x.channel());
                flow.nodes.push(Node {
                    id: id.clone(),
                    kind: Kind::Message(ch),
                    title: vec![format!("{}: {m}", channel_name(ch))],
                    details: Vec::new(),
                });
                id
            })
            .clone()
    };
    for (pi, (p, prog)) in plan.programs.iter().enumerate() {
        let mut cluster = Cluster {
            id: format!("p{}", pi + 1),
            title: vec![format!("program {p}")],
            nodes: Vec::new(),
            edges: Vec::new(),
        };
        cluster.title.extend(wrap(&prog.objective, WRAP));
        let mut sends: Vec<(String, Vec<&str>)> = Vec::new();
        for (ci, (n, c)) in plan.campaigns.iter().filter(|(_, c)| &c.program == p).enumerate() {
            let id = format!("p{}_c{}", pi + 1, ci + 1);
            cluster.nodes.push(Node {
                id: id.clone(),
                kind: Kind::Campaign,
                title: vec![format!("campaign {n}")],
                details: vec![c.send_at.format("%a %d %b %Y %H:%M").to_string()],
            });
            sends.push((id, c.delivery.messages()));
        }
        for (si, (n, s)) in plan.scenarios.iter().filter(|(_, s)| &s.program == p).enumerate() {
            let id = format!("p{}_s{}", pi + 1, si + 1);
            cluster.nodes.push(Node {
                id: id.clone(),
                kind: Kind::Scenario,
                title: vec![format!("scenario {n}")],
                details: wrap(&trigger_summary(&s.trigger), WRAP),
            });
            let mut sent = Vec::new();
            collect_sends(&s.steps, &mut sent);
            sends.push((id, sent));
        }
        flow.clusters.push(cluster);
        for (from, list) in sends {
            let mut seen = Vec::new();
            for m in list {
                if seen.contains(&m) {
                    continue;
                }
                seen.push(m);
                let to = message_id(&mut flow, m);
                flow.edges.push(Edge {
                    from: from.clone(),
                    to,
                    label: None,
                });
            }
        }
    }
    flow
}

fn collect_sends<'a>(steps: &'a [Step], out: &mut Vec<&'a str>) {
    for s in steps {
        match s {
            Step::Send { delivery, .. } => out.extend(delivery.messages()),
            Step::WaitUntil { on_timeout, .. } => collect_sends(on_timeout, out),
            Step::If { then, otherwise, .. } => {
                collect_sends(then, out);
                collect_sends(otherwise, out);
            }
            Step::Wait { .. } | Step::Exit { .. } => {}
        }
    }
}
