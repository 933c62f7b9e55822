//! Graphviz DOT: every node's shape and style declared (no default
//! ellipses), one font family, scenarios framed and drawn top to bottom; the
//! calendar as a grid of weeks with no arrows between campaigns.

pub mod escape;

use super::calendar::{Calendar, NO_CAMPAIGNS, day_label};
use super::{Cluster, Edge, Flow, Kind, Node, channel_colors};
use escape::{html, html_lines, quoted};
use std::fmt::Write;

pub const FONT: &str = "Helvetica,Arial,sans-serif";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    TopBottom,
    LeftRight,
}

fn header(o: &mut String, name: &str, dir: Direction) {
    let _ = writeln!(o, "digraph {name} {{");
    let rankdir = match dir {
        Direction::TopBottom => "TB",
        Direction::LeftRight => "LR",
    };
    let _ = writeln!(
        o,
        "  graph [rankdir={rankdir}, fontname={f}, fontsize=12, nodesep=0.35, ranksep=0.4, newrank=true];",
        f = quoted(FONT)
    );
    let _ = writeln!(
        o,
        "  node [fontname={f}, fontsize=11, shape=box, style=filled, fillcolor=\"#ffffff\", color=\"#374151\", margin=\"0.12,0.06\"];",
        f = quoted(FONT)
    );
    let _ = writeln!(
        o,
        "  edge [fontname={f}, fontsize=10, color=\"#4b5563\", arrowsize=0.7];",
        f = quoted(FONT)
    );
}

/// The declared shape and style of each kind of node.
fn style(kind: Kind) -> String {
    let channel = |c| {
        let (fill, stroke) = channel_colors(c);
        format!("shape=box, style=\"rounded,filled\", fillcolor=\"{fill}\", color=\"{stroke}\", penwidth=1.5")
    };
    match kind {
        Kind::Trigger => "shape=box, style=\"rounded,filled\", fillcolor=\"#e5e7eb\", color=\"#374151\"".into(),
        Kind::Wait => "shape=parallelogram, style=\"dashed,filled\", fillcolor=\"#ffffff\", color=\"#6b7280\"".into(),
        Kind::WaitUntil => "shape=hexagon, style=filled, fillcolor=\"#f5f3ff\", color=\"#6d28d9\"".into(),
        Kind::Decision => "shape=diamond, style=filled, fillcolor=\"#fffbeb\", color=\"#92400e\"".into(),
        Kind::Exit => "shape=cds, style=filled, fillcolor=\"#fee2e2\", color=\"#b91c1c\"".into(),
        Kind::End => {
            "shape=circle, style=filled, fillcolor=\"#374151\", fontcolor=\"#ffffff\", fontsize=9, width=0.4, fixedsize=true"
                .into()
        }
        Kind::Campaign => "shape=box, style=filled, fillcolor=\"#ffffff\", color=\"#111827\"".into(),
        Kind::Scenario => "shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", color=\"#111827\"".into(),
        Kind::Note => "shape=note, style=filled, fillcolor=\"#ffffff\", color=\"#6b7280\"".into(),
        Kind::Send(c) | Kind::Message(c) => channel(c),
    }
}

fn label(n: &Node) -> String {
    let mut l = format!("<B>{}</B>", html_lines(&n.title));
    if !n.details.is_empty() {
        let _ = write!(l, "<BR/><FONT POINT-SIZE=\"10\">{}</FONT>", html_lines(&n.details));
    }
    l
}

fn node(o: &mut String, indent: &str, n: &Node) {
    if n.kind == Kind::Trigger {
        // A small start dot, then the trigger's details.
        let _ = writeln!(
            o,
            "{indent}{}_dot [shape=circle, style=filled, fillcolor=\"#374151\", color=\"#374151\", label=\"\", width=0.14, fixedsize=true];",
            n.id
        );
        let _ = writeln!(o, "{indent}{}_dot -> {};", n.id, n.id);
    }
    let _ = writeln!(o, "{indent}{} [{}, label=<{}>];", n.id, style(n.kind), label(n));
}

fn edges(o: &mut String, indent: &str, edges: &[Edge]) {
    for e in edges {
        match &e.label {
            Some(l) => {
                let _ = writeln!(o, "{indent}{} -> {} [label=<{}>];", e.from, e.to, html(l));
            }
            None => {
                let _ = writeln!(o, "{indent}{} -> {};", e.from, e.to);
            }
        }
    }
}

fn cluster(o: &mut String, indent: &str, c: &Cluster) {
    let _ = writeln!(o, "{indent}subgraph cluster_{} {{", c.id);
    let title = match c.title.split_first() {
        Some((first, rest)) if !rest.is_empty() => format!(
            "<B>{}</B><BR/><FONT POINT-SIZE=\"10\">{}</FONT>",
            html(first),
            html_lines(rest)
        ),
        Some((first, _)) => format!("<B>{}</B>", html(first)),
        None => String::new(),
    };
    let _ = writeln!(
        o,
        "{indent}  graph [label=<{title}>, labeljust=l, style=\"rounded\", color=\"#9ca3af\", margin=12];"
    );
    for n in &c.nodes {
        node(o, &format!("{indent}  "), n);
    }
    edges(o, &format!("{indent}  "), &c.edges);
    let _ = writeln!(o, "{indent}}}");
}

fn flow_body(o: &mut String, indent: &str, f: &Flow) {
    for c in &f.clusters {
        cluster(o, indent, c);
    }
    for n in &f.nodes {
        node(o, indent, n);
    }
    edges(o, indent, &f.edges);
}

pub fn flow(f: &Flow, dir: Direction) -> String {
    let mut o = String::new();
    header(&mut o, "herald", dir);
    flow_body(&mut o, "  ", f);
    if f.clusters.is_empty() && f.nodes.is_empty() {
        note(&mut o, "  ", "empty", &["Nothing to draw".to_string()]);
    }
    o.push_str("}\n");
    o
}

fn note(o: &mut String, indent: &str, id: &str, lines: &[String]) {
    let n = Node {
        id: id.into(),
        kind: Kind::Note,
        title: lines.to_vec(),
        details: Vec::new(),
    };
    node(o, indent, &n);
}

/// One cell of the calendar: a day and its campaigns, as an HTML table.
fn day_table(day: chrono::NaiveDate, entries: &[&super::calendar::Entry], today: bool) -> String {
    let head = if today { "#fecaca" } else { "#e5e7eb" };
    let mut t = format!(
        "<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"4\" COLOR=\"#9ca3af\"><TR><TD BGCOLOR=\"{head}\"><B>{}{}</B></TD></TR>",
        html(&day_label(day)),
        if today { " · today" } else { "" }
    );
    for e in entries {
        let (fill, _) = channel_colors(e.channels.first().copied());
        let _ = write!(
            t,
            "<TR><TD ALIGN=\"LEFT\" BGCOLOR=\"{fill}\"><B>{}</B><BR ALIGN=\"LEFT\"/>{}<BR ALIGN=\"LEFT\"/><FONT POINT-SIZE=\"9\">program {}</FONT><BR ALIGN=\"LEFT\"/></TD></TR>",
            html(&e.name),
            html(&e.when_and_how()),
            html(&e.program)
        );
    }
    t.push_str("</TABLE>");
    t
}

/// The calendar body: one row per week (a header cell, then its days in
/// order), rows stacked in time order. Rows and days are kept in place by
/// invisible edges: no arrow suggests one campaign depends on another.
fn calendar_body(o: &mut String, indent: &str, cal: &Calendar, prefix: &str) {
    let weeks = cal.weeks();
    if cal.entries.is_empty() {
        let mut lines = vec![NO_CAMPAIGNS.to_string()];
        if let Some(t) = cal.today {
            lines.push(format!("today is {}", day_label(t.date())));
        }
        note(o, indent, &format!("{prefix}empty"), &lines);
        return;
    }
    let today = cal.today.map(|t| t.date());
    let mut week_ids = Vec::new();
    for (wi, (monday, days)) in weeks.iter().enumerate() {
        let wid = format!("{prefix}w{wi}");
        let _ = writeln!(
            o,
            "{indent}{wid} [shape=plaintext, style=\"\", label=<<B>week of</B><BR/>{}>];",
            html(&monday.format("%d %b %Y").to_string())
        );
        let mut prev = wid.clone();
        let mut shown_today = false;
        for (di, (day, list)) in days.iter().enumerate() {
            let did = format!("{prefix}w{wi}d{di}");
            let is_today = today == Some(*day);
            shown_today |= is_today;
            let _ = writeln!(
                o,
                "{indent}{did} [shape=plaintext, style=\"\", label=<{}>];",
                day_table(*day, list, is_today)
            );
            let _ = writeln!(o, "{indent}{prev} -> {did} [style=invis];");
            prev = did;
        }
        if let Some(t) = cal
            .today
            .filter(|t| !shown_today && super::calendar::monday_of(t.date()) == *monday)
        {
            let tid = format!("{prefix}w{wi}today");
            let _ = writeln!(
                o,
                "{indent}{tid} [shape=box, style=\"rounded,filled\", fillcolor=\"#fecaca\", color=\"#b91c1c\", label=<<B>today</B><BR/>{}>];",
                html(&t.format("%a %d %b %H:%M").to_string())
            );
            let _ = writeln!(o, "{indent}{prev} -> {tid} [style=invis];");
        }
        week_ids.push(wid);
    }
    // Weeks one under the other, in order.
    let _ = writeln!(o, "{indent}{{ rank=same; {}; }}", week_ids.join("; "));
    for pair in week_ids.windows(2) {
        let _ = writeln!(o, "{indent}{} -> {} [style=invis];", pair[0], pair[1]);
    }
}

pub fn calendar(cal: &Calendar) -> String {
    let mut o = String::new();
    header(&mut o, "calendar", Direction::LeftRight);
    let _ = writeln!(
        o,
        "  graph [label=<<B>Campaigns</B> (local time of each contact)>, labelloc=t, labeljust=l];"
    );
    calendar_body(&mut o, "  ", cal, "");
    o.push_str("}\n");
    o
}

/// The three views in one graph, each in its own frame.
pub fn all(programs: &Flow, scenarios: &Flow, cal: &Calendar) -> String {
    let mut o = String::new();
    header(&mut o, "herald", Direction::TopBottom);
    let _ = writeln!(o, "  subgraph cluster_programs {{");
    let _ = writeln!(
        o,
        "    graph [label=<<B>Programs</B>>, labeljust=l, style=\"dashed\", color=\"#d1d5db\"];"
    );
    flow_body(&mut o, "    ", programs);
    let _ = writeln!(o, "  }}");
    let _ = writeln!(o, "  subgraph cluster_scenarios {{");
    let _ = writeln!(
        o,
        "    graph [label=<<B>Scenarios</B>>, labeljust=l, style=\"dashed\", color=\"#d1d5db\"];"
    );
    flow_body(&mut o, "    ", scenarios);
    let _ = writeln!(o, "  }}");
    let _ = writeln!(o, "  subgraph cluster_calendar {{");
    let _ = writeln!(
        o,
        "    graph [label=<<B>Campaigns</B> (local time of each contact)>, labeljust=l, style=\"dashed\", color=\"#d1d5db\"];"
    );
    calendar_body(&mut o, "    ", cal, "cal_");
    let _ = writeln!(o, "  }}");
    // One frame under the other (side by side they make a strip): invisible
    // edges from the bottom of each frame to the top of the next.
    let firsts: Vec<String> = scenarios
        .clusters
        .iter()
        .filter_map(|c| c.nodes.first())
        .map(|n| {
            if n.kind == Kind::Trigger {
                format!("{}_dot", n.id)
            } else {
                n.id.clone()
            }
        })
        .collect();
    let lasts: Vec<&str> = scenarios
        .clusters
        .iter()
        .filter_map(|c| c.nodes.last())
        .map(|n| n.id.as_str())
        .collect();
    if let Some(bottom) = programs.nodes.first() {
        for top in &firsts {
            let _ = writeln!(o, "  {} -> {top} [style=invis];", bottom.id);
        }
    }
    let calendar_top = if cal.entries.is_empty() { "cal_empty" } else { "cal_w0" };
    for bottom in lasts {
        let _ = writeln!(o, "  {bottom} -> {calendar_top} [style=invis];");
    }
    o.push_str("}\n");
    o
}
