//! SVG without any external tool: each flowchart (a scenario, a program, a
//! week of the calendar) is laid out by `layout-rs` (a Rust port of the
//! layered layout Graphviz uses), then the panels are framed, titled and
//! arranged in rows in one SVG document.
//!
//! `layout-rs` has no frames (clusters), so each frame is its own panel; it
//! escapes the node and edge text it draws, and the titles drawn here are
//! escaped by [`xml`].

use super::calendar::{Calendar, NO_CAMPAIGNS, day_label};
use super::{Edge, Flow, Kind, Node, View, channel_colors, programs, scenarios};
use chrono::NaiveDateTime;
use herald_compiler::model::Plan;
use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::geometry::Point;
use layout::core::style::StyleAttr;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;
use std::collections::HashMap;
use std::fmt::Write;

const FONT: &str = "Helvetica, Arial, sans-serif";
const FONT_SIZE: usize = 13;
/// Panels wrap to a new row past this width.
const ROW_WIDTH: f64 = 1400.0;
const GAP: f64 = 18.0;
const TITLE_LINE: f64 = 18.0;

/// Text for SVG: XML, escaped as DOT's HTML-like labels are (the same rules).
use super::dot::escape::html as xml;

/// Control characters are not allowed in XML; `layout-rs` draws text as is.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' => " ".to_string(),
            c if c.is_control() => format!("U+{:04X}", u32::from(c)),
            c => c.to_string(),
        })
        .collect()
}

/// One laid-out picture with its title, ready to be placed.
struct Panel {
    title: Vec<String>,
    /// An `<svg …>` element (no XML declaration).
    body: String,
    width: f64,
    height: f64,
}

fn look(kind: Kind) -> StyleAttr {
    let (fill, stroke, rounded) = match kind {
        Kind::Trigger => ("#e5e7eb", "#374151", 12),
        Kind::Wait => ("#ffffff", "#6b7280", 0),
        Kind::WaitUntil => ("#f5f3ff", "#6d28d9", 0),
        Kind::Decision => ("#fffbeb", "#92400e", 0),
        Kind::Exit => ("#fee2e2", "#b91c1c", 0),
        Kind::End => ("#ffffff", "#374151", 0),
        Kind::Campaign => ("#ffffff", "#111827", 0),
        Kind::Scenario => ("#ffffff", "#111827", 12),
        Kind::Note => ("#ffffff", "#6b7280", 0),
        Kind::Send(c) | Kind::Message(c) => {
            let (fill, stroke) = channel_colors(c);
            (fill, stroke, 12)
        }
    };
    StyleAttr::new(
        Color::fast(stroke),
        if matches!(kind, Kind::Send(_) | Kind::Message(_)) {
            2
        } else {
            1
        },
        Some(Color::fast(fill)),
        rounded,
        FONT_SIZE,
    )
}

/// The size of a box holding `text`: Helvetica is about 0.6 em wide per character.
fn text_size(text: &str) -> Point {
    let lines = text.lines().count().max(1) as f64;
    let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(1).max(1) as f64;
    let f = FONT_SIZE as f64;
    Point::new(longest * f * 0.62 + 24.0, lines * f * 1.25 + 18.0)
}

fn element(n: &Node, dir: Orientation) -> Element {
    let mut lines: Vec<String> = n.title.iter().map(|l| clean(l)).collect();
    lines.extend(n.details.iter().map(|l| clean(l)));
    let text = lines.join("\n");
    let size = text_size(&text);
    let shape = match n.kind {
        Kind::End => ShapeKind::new_double_circle(&text),
        _ => ShapeKind::new_box(&text),
    };
    let size = if n.kind == Kind::End {
        Point::new(size.y.max(size.x), size.y.max(size.x))
    } else {
        size
    };
    Element::create(shape, look(n.kind), dir, size)
}

fn arrow(e: &Edge) -> Arrow {
    Arrow::simple(&clean(e.label.as_deref().unwrap_or("")))
}

/// Lay out nodes and edges; `invisible` edges only order the nodes.
fn lay_out(title: Vec<String>, nodes: &[&Node], edges: &[(&Edge, bool)], dir: Orientation) -> Result<Panel, String> {
    let mut vg = VisualGraph::new(dir);
    let mut handles = HashMap::new();
    for n in nodes {
        handles.insert(n.id.as_str(), vg.add_node(element(n, dir)));
    }
    for (e, invisible) in edges {
        if let (Some(a), Some(b)) = (handles.get(e.from.as_str()), handles.get(e.to.as_str())) {
            let arrow = if *invisible { Arrow::invisible() } else { arrow(e) };
            vg.add_edge(arrow, *a, *b);
        }
    }
    let (svg, width, height) = guarded(move || {
        let mut w = SVGWriter::new();
        vg.do_it(false, false, false, &mut w);
        // The writer's own size counts a text's length as height: measure
        // the laid-out nodes instead.
        let (mut width, mut height) = (0.0f64, 0.0f64);
        for n in vg.iter_nodes() {
            let (_, bottom_right) = vg.pos(n).bbox(true);
            width = width.max(bottom_right.x);
            height = height.max(bottom_right.y);
        }
        (w.finalize(), width + 10.0, height + 10.0)
    })?;
    let body = svg.split_once("?>").map_or(svg.as_str(), |(_, rest)| rest);
    let body = match (body.find("<svg "), body.find('>')) {
        (Some(open), Some(_)) => {
            let close = body[open..].find('>').map_or(body.len(), |i| open + i + 1);
            format!(
                "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\">{}",
                &body[close..]
            )
        }
        _ => body.to_string(),
    }
    .replace("font-family: Times, serif;", &format!("font-family: {FONT};"));
    Ok(Panel {
        title,
        body,
        width,
        height,
    })
}

/// A layout bug must not crash the command (nor print a backtrace).
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.map_err(|_| {
        "the built-in SVG layout failed on this plan; use `--format dot` and Graphviz (`dot -Tsvg`) instead".to_string()
    })
}

/// Give every id of a panel a prefix, so panels placed in one document
/// do not draw each other's edge labels or arrowheads.
fn prefix_ids(body: &str, p: &str) -> String {
    body.replace("id=\"", &format!("id=\"{p}"))
        .replace("href=\"#", &format!("href=\"#{p}"))
        .replace("url(#", &format!("url(#{p}"))
}

fn flow_panels(flow: &Flow, dir: Orientation) -> Result<Vec<Panel>, String> {
    let mut panels = Vec::new();
    for c in &flow.clusters {
        let nodes: Vec<&Node> = c.nodes.iter().collect();
        let edges: Vec<(&Edge, bool)> = c.edges.iter().map(|e| (e, false)).collect();
        panels.push(lay_out(c.title.clone(), &nodes, &edges, dir)?);
    }
    Ok(panels)
}

/// Programs: each program's campaigns and scenarios with the messages they send.
fn program_panels(flow: &Flow) -> Result<Vec<Panel>, String> {
    let mut panels = Vec::new();
    for c in &flow.clusters {
        let ids: Vec<&str> = c.nodes.iter().map(|n| n.id.as_str()).collect();
        let edges: Vec<&Edge> = flow.edges.iter().filter(|e| ids.contains(&e.from.as_str())).collect();
        let mut nodes: Vec<&Node> = c.nodes.iter().collect();
        for n in &flow.nodes {
            if edges.iter().any(|e| e.to == n.id) {
                nodes.push(n);
            }
        }
        let edges: Vec<(&Edge, bool)> = edges.into_iter().map(|e| (e, false)).collect();
        panels.push(lay_out(c.title.clone(), &nodes, &edges, Orientation::LeftToRight)?);
    }
    Ok(panels)
}

/// Calendar: a row per week, its days left to right (kept in order by
/// invisible edges: nothing suggests one campaign depends on another).
fn calendar_panels(cal: &Calendar) -> Result<Vec<Panel>, String> {
    let today = cal.today.map(|t| t.date());
    let weeks = cal.weeks();
    if cal.entries.is_empty() {
        let mut details = Vec::new();
        if let Some(t) = cal.today {
            details.push(format!("today is {}", day_label(t.date())));
        }
        let note = Node {
            id: "empty".into(),
            kind: Kind::Note,
            title: vec![NO_CAMPAIGNS.into()],
            details,
        };
        return Ok(vec![lay_out(
            vec!["Campaigns".into()],
            &[&note],
            &[],
            Orientation::LeftToRight,
        )?]);
    }
    let mut panels = Vec::new();
    for (monday, days) in &weeks {
        let mut nodes = Vec::new();
        for (i, (day, list)) in days.iter().enumerate() {
            let is_today = today == Some(*day);
            let mut details = Vec::new();
            for e in list {
                details.push(String::new());
                details.push(e.name.clone());
                details.push(format!("{} · program {}", e.when_and_how(), e.program));
            }
            let channel = list.first().and_then(|e| e.channels.first().copied());
            nodes.push(Node {
                id: format!("d{i}"),
                kind: if is_today { Kind::Exit } else { Kind::Message(channel) },
                title: vec![format!("{}{}", day_label(*day), if is_today { " · today" } else { "" })],
                details,
            });
        }
        if let Some(t) = cal
            .today
            .filter(|t| !days.iter().any(|(d, _)| Some(*d) == today) && super::calendar::monday_of(t.date()) == *monday)
        {
            let at = days.iter().position(|(d, _)| *d > t.date()).unwrap_or(days.len());
            nodes.insert(
                at,
                Node {
                    id: "today".into(),
                    kind: Kind::Exit,
                    title: vec!["today".into()],
                    details: vec![t.format("%a %d %b %H:%M").to_string()],
                },
            );
        }
        let edges: Vec<Edge> = nodes
            .windows(2)
            .map(|w| Edge {
                from: w[0].id.clone(),
                to: w[1].id.clone(),
                label: None,
            })
            .collect();
        let refs: Vec<&Node> = nodes.iter().collect();
        let edge_refs: Vec<(&Edge, bool)> = edges.iter().map(|e| (e, true)).collect();
        panels.push(lay_out(
            vec![format!("week of {}", monday.format("%d %b %Y"))],
            &refs,
            &edge_refs,
            Orientation::LeftToRight,
        )?);
    }
    Ok(panels)
}

/// Place sections of panels (a heading, then panels in rows) in one document.
fn compose(sections: Vec<(Option<&str>, Vec<Panel>)>) -> String {
    let mut body = String::new();
    let mut y = GAP;
    let mut width: f64 = 0.0;
    let mut n = 0;
    for (heading, panels) in sections {
        if let Some(h) = heading {
            y += 22.0;
            let _ = writeln!(
                body,
                "<text x=\"{GAP}\" y=\"{y}\" font-family=\"{FONT}\" font-size=\"20\" font-weight=\"bold\" fill=\"#111827\">{}</text>",
                xml(h)
            );
            y += GAP / 2.0;
        }
        let mut x = GAP;
        let mut row_height: f64 = 0.0;
        for p in panels {
            let title_h = p.title.len() as f64 * TITLE_LINE + 8.0;
            let w = p
                .width
                .max(p.title.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64 * 8.0)
                + 16.0;
            let h = p.height + title_h + 12.0;
            if x > GAP && x + w > ROW_WIDTH {
                x = GAP;
                y += row_height + GAP;
                row_height = 0.0;
            }
            let _ = writeln!(
                body,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"8\" fill=\"#ffffff\" stroke=\"#9ca3af\"/>"
            );
            for (i, line) in p.title.iter().enumerate() {
                let weight = if i == 0 { " font-weight=\"bold\"" } else { "" };
                let _ = writeln!(
                    body,
                    "<text x=\"{}\" y=\"{}\" font-family=\"{FONT}\" font-size=\"14\"{weight} fill=\"#111827\">{}</text>",
                    x + 10.0,
                    y + 6.0 + (i as f64 + 1.0) * TITLE_LINE - 4.0,
                    xml(line)
                );
            }
            n += 1;
            let inner = prefix_ids(&p.body, &format!("p{n}_"));
            let inner = inner.replacen("<svg ", &format!("<svg x=\"{}\" y=\"{}\" ", x + 8.0, y + title_h), 1);
            body.push_str(&inner);
            body.push('\n');
            x += w + GAP;
            width = width.max(x);
            row_height = row_height.max(h);
        }
        y += row_height + GAP;
    }
    let width = width.max(200.0);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{y}\" viewBox=\"0 0 {width} {y}\">\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n{body}</svg>\n"
    )
}

pub fn render(plan: &Plan, view: View, today: Option<NaiveDateTime>) -> Result<String, String> {
    let cal = || super::calendar::calendar(plan, today);
    let sections = match view {
        View::Programs => vec![(None, program_panels(&programs::flow(plan))?)],
        View::Scenarios => vec![(None, scenario_panels(plan)?)],
        View::Calendar => vec![(None, calendar_panels(&cal())?)],
        View::All => vec![
            (Some("Programs"), program_panels(&programs::flow(plan))?),
            (Some("Scenarios"), scenario_panels(plan)?),
            (Some("Calendar"), calendar_panels(&cal())?),
        ],
    };
    Ok(compose(sections))
}

fn scenario_panels(plan: &Plan) -> Result<Vec<Panel>, String> {
    let flow = scenarios::flow(plan, None);
    if flow.clusters.is_empty() {
        let note = Node {
            id: "empty".into(),
            kind: Kind::Note,
            title: vec!["No scenarios".into()],
            details: Vec::new(),
        };
        return Ok(vec![lay_out(
            vec!["Scenarios".into()],
            &[&note],
            &[],
            Orientation::TopToBottom,
        )?]);
    }
    flow_panels(&flow, Orientation::TopToBottom)
}

#[cfg(test)]
mod tests {
    use super::{prefix_ids, xml};

    #[test]
    fn xml_escapes_markup_and_control_characters() {
        assert_eq!(
            xml("<b>\"a\" & 'b'</b>"),
            "&lt;b&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/b&gt;"
        );
        assert_eq!(xml("#1; %% `x` [y] {z} | 🎉"), "#1; %% `x` [y] {z} | 🎉");
        assert_eq!(xml("\u{1b}"), "U+001B");
    }

    #[test]
    fn panel_ids_are_prefixed_everywhere_they_are_used() {
        let body =
            r##"<marker id="endarrow"/><path id="arrow0" marker-end="url(#endarrow)"/><textPath href="#arrow0"/>"##;
        assert_eq!(
            prefix_ids(body, "p1_"),
            r##"<marker id="p1_endarrow"/><path id="p1_arrow0" marker-end="url(#p1_endarrow)"/><textPath href="#p1_arrow0"/>"##
        );
    }
}
