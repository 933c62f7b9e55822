//! Mermaid: flowcharts (`flowchart LR` with each scenario framed and drawn
//! top to bottom) and the calendar (`gantt`).

pub mod escape;

use super::calendar::{Calendar, NO_CAMPAIGNS, Tick};
use super::{Cluster, Flow, Kind, Node, channel_colors};
use herald_compiler::ast::values::Channel;
use std::fmt::Write;

/// The style of a kind of node (by its class name).
fn class_style(class: &str) -> String {
    let channel = |c| {
        let (fill, stroke) = channel_colors(c);
        format!("fill:{fill},stroke:{stroke},stroke-width:2px,color:#111827")
    };
    match class {
        "trigger" => "fill:#e5e7eb,stroke:#374151,color:#111827".into(),
        "wait" => "fill:#ffffff,stroke:#6b7280,stroke-dasharray:4 3,color:#111827".into(),
        "waituntil" => "fill:#f5f3ff,stroke:#6d28d9,color:#111827".into(),
        "decision" => "fill:#fffbeb,stroke:#92400e,color:#111827".into(),
        "exit" => "fill:#fee2e2,stroke:#b91c1c,color:#111827".into(),
        "done" => "fill:#374151,stroke:#374151,color:#ffffff".into(),
        "email" => channel(Some(Channel::Email)),
        "sms" => channel(Some(Channel::Sms)),
        "push" => channel(Some(Channel::Push)),
        "call" => channel(Some(Channel::Call)),
        "message" => channel(None),
        _ => "fill:#ffffff,stroke:#111827,color:#111827".into(),
    }
}

/// Declare the style of each kind of node the chart uses, once. Class names
/// are prefixed: some words (`call`, `end`…) are Mermaid keywords.
fn class_defs<'a>(o: &mut String, nodes: impl Iterator<Item = &'a Node>) {
    let mut used: Vec<&str> = nodes.map(|n| class(n.kind)).collect();
    used.sort_unstable();
    used.dedup();
    for c in used {
        let _ = writeln!(o, "  classDef k{c} {}", class_style(c));
    }
}

fn class_of_channel(c: Option<Channel>) -> &'static str {
    match c {
        Some(Channel::Email) => "email",
        Some(Channel::Sms) => "sms",
        Some(Channel::Push) => "push",
        Some(Channel::Call) => "call",
        None => "message",
    }
}

fn class(kind: Kind) -> &'static str {
    match kind {
        Kind::Trigger => "trigger",
        Kind::Wait => "wait",
        Kind::WaitUntil => "waituntil",
        Kind::Decision => "decision",
        Kind::Exit => "exit",
        Kind::End => "done",
        Kind::Campaign => "campaign",
        Kind::Scenario => "scenario",
        Kind::Note => "note",
        Kind::Send(c) | Kind::Message(c) => class_of_channel(c),
    }
}

/// `id<open>"label"<close>:::class`, the shape telling the kind.
fn node(o: &mut String, indent: &str, n: &Node) {
    let (open, close) = match n.kind {
        Kind::Trigger => ("[[", "]]"),
        Kind::Scenario => ("([", "])"),
        Kind::Wait => ("[/", "/]"),
        Kind::WaitUntil => ("{{", "}}"),
        Kind::Decision => ("{", "}"),
        Kind::Send(_) | Kind::Message(_) => ("(", ")"),
        Kind::Exit => (">", "]"),
        Kind::End => ("((", "))"),
        Kind::Campaign | Kind::Note => ("[", "]"),
    };
    let mut label = format!("<b>{}</b>", escape::lines(&n.title));
    if !n.details.is_empty() {
        label.push_str("<br/>");
        label.push_str(&escape::lines(&n.details));
    }
    let _ = writeln!(o, "{indent}{}{open}\"{label}\"{close}:::k{}", n.id, class(n.kind));
}

fn edges(o: &mut String, indent: &str, edges: &[super::Edge]) {
    for e in edges {
        match &e.label {
            Some(l) => {
                let _ = writeln!(o, "{indent}{} -->|\"{}\"| {}", e.from, escape::text(l), e.to);
            }
            None => {
                let _ = writeln!(o, "{indent}{} --> {}", e.from, e.to);
            }
        }
    }
}

fn cluster(o: &mut String, c: &Cluster) {
    let _ = writeln!(o, "  subgraph {}[\"{}\"]", c.id, title(&c.title));
    let _ = writeln!(o, "    direction TB");
    for n in &c.nodes {
        node(o, "    ", n);
    }
    edges(o, "    ", &c.edges);
    let _ = writeln!(o, "  end");
}

fn title(lines: &[String]) -> String {
    match lines.split_first() {
        Some((first, rest)) if !rest.is_empty() => {
            format!("<b>{}</b><br/>{}", escape::text(first), escape::lines(rest))
        }
        Some((first, _)) => format!("<b>{}</b>", escape::text(first)),
        None => String::new(),
    }
}

/// Mermaid wraps HTML labels at 200 px by default, mid-condition; Herald
/// wraps its own lines at [`super::WRAP`] characters, which fit in this.
const HEADER: &str = "---\nconfig:\n  flowchart:\n    wrappingWidth: 360\n---\n";

/// How the frames of a flowchart are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Unlinked frames (scenarios) side by side, each drawn top to bottom;
    /// left to right would stack them into one thin strip.
    FramesSideBySide,
    /// Frames linked to shared nodes (programs to messages): frames one
    /// under the other, links going right.
    FramesStacked,
}

pub fn flow(f: &Flow, layout: Layout) -> String {
    let dir = match layout {
        Layout::FramesSideBySide => "TB",
        Layout::FramesStacked => "LR",
    };
    let mut o = format!("{HEADER}flowchart {dir}\n");
    class_defs(&mut o, f.clusters.iter().flat_map(|c| &c.nodes).chain(&f.nodes));
    for c in &f.clusters {
        cluster(&mut o, c);
    }
    for n in &f.nodes {
        node(&mut o, "  ", n);
    }
    edges(&mut o, "  ", &f.edges);
    if f.clusters.is_empty() && f.nodes.is_empty() {
        let _ = writeln!(o, "  classDef knote {}", class_style("note"));
        node(
            &mut o,
            "  ",
            &Node {
                id: "empty".into(),
                kind: Kind::Note,
                title: vec!["Nothing to draw".into()],
                details: Vec::new(),
            },
        );
    }
    o
}

/// A gantt chart: one section per program, a milestone per campaign at its
/// local time, labelled with the time and channel; today (from the pinned
/// clock) as its own milestone, never the viewer's clock. Without campaigns,
/// a note instead: an empty gantt does not render.
pub fn calendar(cal: &Calendar) -> String {
    let mut o = String::new();
    if cal.entries.is_empty() {
        o.push_str("flowchart TB\n");
        let _ = writeln!(o, "  classDef knote {}", class_style("note"));
        let mut details = Vec::new();
        if let Some(t) = cal.today {
            details.push(format!("today is {}", super::calendar::day_label(t.date())));
        }
        node(
            &mut o,
            "  ",
            &Node {
                id: "empty".into(),
                kind: Kind::Note,
                title: vec![NO_CAMPAIGNS.into()],
                details,
            },
        );
        return o;
    }
    let (tick, axis) = match cal.tick() {
        Tick::Day => ("1day", "%a %d %b"),
        Tick::Week => ("1week", "%d %b"),
        Tick::Month => ("1month", "%b %Y"),
    };
    let _ = writeln!(o, "gantt");
    let _ = writeln!(o, "  title Campaigns (local time of each contact)");
    let _ = writeln!(o, "  dateFormat YYYY-MM-DDTHH:mm");
    let _ = writeln!(o, "  axisFormat {axis}");
    let _ = writeln!(o, "  tickInterval {tick}");
    // The viewer's clock is not the plan's: draw the pinned today instead.
    let _ = writeln!(o, "  todayMarker off");
    if let Some(t) = cal.today {
        let _ = writeln!(o, "  section today");
        let _ = writeln!(
            o,
            "    {} : milestone, crit, {}, 0m",
            escape::text(&format!("today {}", t.format("%a %d %b %H:%M"))),
            t.format("%Y-%m-%dT%H:%M")
        );
    }
    for (program, list) in cal.by_program() {
        let _ = writeln!(o, "  section {}", escape::text(program));
        for e in list {
            let past = cal.today.is_some_and(|t| e.at < t);
            let _ = writeln!(
                o,
                "    {} : milestone, {}{}, 0m",
                escape::text(&format!(
                    "{} · {} {}",
                    e.name,
                    e.at.format("%a %d %b"),
                    e.when_and_how()
                )),
                if past { "done, " } else { "" },
                e.at.format("%Y-%m-%dT%H:%M")
            );
        }
    }
    o
}
