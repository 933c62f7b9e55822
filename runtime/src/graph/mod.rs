//! Pictures of a plan for people: the programs, each scenario's flowchart and
//! the campaign calendar, in Mermaid, Graphviz DOT, or SVG (laid out here,
//! with no external tool).
//!
//! A view (`programs`, `scenarios`, `calendar`) turns the checked plan into a
//! small picture model ([`Flow`] or [`calendar::Calendar`]); a format
//! (`mermaid`, `dot`, `svg`) draws that model. Every text that comes from the
//! plan is escaped by the format's own `escape` module, so a label is shown
//! as written and never read as syntax.

pub mod calendar;
pub mod dot;
pub mod mermaid;
pub mod programs;
pub mod scenarios;
pub mod svg;

use chrono::NaiveDateTime;
use herald_compiler::ast::values::Channel;
use herald_compiler::model::Plan;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Mermaid text (GitHub and GitLab draw it in Markdown).
    #[default]
    Mermaid,
    /// Graphviz DOT text (`dot -Tsvg`).
    Dot,
    /// An SVG picture, laid out by Herald itself (no Graphviz needed).
    Svg,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    /// The three views (Mermaid: as Markdown with three diagrams).
    #[default]
    All,
    /// Programs with their campaigns, scenarios and the messages they send.
    Programs,
    /// One flowchart per scenario.
    Scenarios,
    /// The campaigns on a calendar.
    Calendar,
}

/// What a node stands for; each format gives every kind one declared shape
/// and style, so a decision or an SMS looks the same everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A scenario's start: trigger, audience, exit condition, re-entry.
    Trigger,
    /// `wait: 3d`.
    Wait,
    /// `wait: { until, timeout }`: two ways out, met and timeout.
    WaitUntil,
    /// `if`: two ways out, yes and no.
    Decision,
    /// A send on a channel (`None`: the message is unknown).
    Send(Option<Channel>),
    /// `exit`, with its reason.
    Exit,
    /// The end of a scenario's path.
    End,
    Campaign,
    Scenario,
    /// A message, styled by its channel.
    Message(Option<Channel>),
    /// A plain note ("No scheduled campaigns").
    Note,
}

#[derive(Clone, Debug)]
pub struct Node {
    /// Made by Herald (letters, digits, `_`): never user text.
    pub id: String,
    pub kind: Kind,
    /// The first line, drawn in bold where the format allows.
    pub title: Vec<String>,
    /// Further lines.
    pub details: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: Option<String>,
}

/// A group of nodes drawn in a frame (a scenario, a program).
#[derive(Clone, Debug)]
pub struct Cluster {
    pub id: String,
    pub title: Vec<String>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// A flowchart: framed groups, free nodes, and edges between any of them.
#[derive(Clone, Debug, Default)]
pub struct Flow {
    pub clusters: Vec<Cluster>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// How a channel is named on a picture.
pub fn channel_name(c: Option<Channel>) -> &'static str {
    match c {
        Some(Channel::Email) => "Email",
        Some(Channel::Sms) => "SMS",
        Some(Channel::Push) => "Push",
        Some(Channel::Call) => "Call",
        None => "Message",
    }
}

/// Fill and stroke colours of a channel, the same in every format.
pub fn channel_colors(c: Option<Channel>) -> (&'static str, &'static str) {
    match c {
        Some(Channel::Email) => ("#dbeafe", "#1d4ed8"),
        Some(Channel::Sms) => ("#dcfce7", "#15803d"),
        Some(Channel::Push) => ("#fef3c7", "#b45309"),
        Some(Channel::Call) => ("#fce7f3", "#be185d"),
        None => ("#f3f4f6", "#6b7280"),
    }
}

/// The longest line a label gets before it wraps (at a space; a longer word
/// stays whole). Wrapping only moves text to the next line: nothing is cut.
pub const WRAP: usize = 44;

/// `text` as lines: its own line breaks first, then soft-wrapped at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut current = String::new();
        for word in line.split(' ') {
            let fits = current.chars().count() + 1 + word.chars().count() <= width;
            if !current.is_empty() && !fits {
                out.push(std::mem::take(&mut current));
            } else if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        out.push(current);
    }
    out
}

/// The picture(s) of a plan in one format. `today` (the plan's local time
/// from the pinned clock) marks the calendar; `None` leaves it out.
pub fn render(plan: &Plan, format: Format, view: View, today: Option<NaiveDateTime>) -> Result<String, String> {
    let cal = || calendar::calendar(plan, today);
    Ok(match (format, view) {
        (Format::Mermaid, View::All) => format!(
            "## Programs\n\n```mermaid\n{}```\n\n## Scenarios\n\n```mermaid\n{}```\n\n## Calendar\n\n```mermaid\n{}```\n",
            mermaid::flow(&programs::flow(plan), mermaid::Layout::FramesStacked),
            mermaid::flow(&scenarios::flow(plan, None), mermaid::Layout::FramesSideBySide),
            mermaid::calendar(&cal())
        ),
        (Format::Mermaid, View::Programs) => mermaid::flow(&programs::flow(plan), mermaid::Layout::FramesStacked),
        (Format::Mermaid, View::Scenarios) => {
            mermaid::flow(&scenarios::flow(plan, None), mermaid::Layout::FramesSideBySide)
        }
        (Format::Mermaid, View::Calendar) => mermaid::calendar(&cal()),
        (Format::Dot, View::All) => dot::all(&programs::flow(plan), &scenarios::flow(plan, None), &cal()),
        (Format::Dot, View::Programs) => dot::flow(&programs::flow(plan), dot::Direction::LeftRight),
        (Format::Dot, View::Scenarios) => dot::flow(&scenarios::flow(plan, None), dot::Direction::TopBottom),
        (Format::Dot, View::Calendar) => dot::calendar(&cal()),
        (Format::Svg, view) => svg::render(plan, view, today)?,
    })
}

/// The Mermaid flowchart of one scenario (for the pull-request comment).
pub fn scenario_mermaid(plan: &Plan, name: &str) -> Option<String> {
    plan.scenarios
        .contains_key(name)
        .then(|| mermaid::flow(&scenarios::flow(plan, Some(name)), mermaid::Layout::FramesSideBySide))
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_keeps_every_character_and_breaks_only_at_spaces_and_newlines() {
        assert_eq!(wrap("a b c", 3), ["a b", "c"]);
        assert_eq!(wrap("two\nlines", 40), ["two", "lines"]);
        assert_eq!(wrap("averyveryverylongword x", 5), ["averyveryverylongword", "x"]);
        assert_eq!(wrap("", 5), [""]);
        let text = "consent(email_marketing) and segment(vip) and not segment(lapsed)";
        assert_eq!(wrap(text, 20).join(" "), text);
    }
}
