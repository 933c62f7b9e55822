//! `herald graph [DIR] [--format mermaid|dot] [--view all|programs|scenarios|calendar]`

use crate::exit::Exit;
use crate::output::fatal;
use herald_compiler::model::{Delivery, Plan, Step, Trigger};
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Mermaid,
    Dot,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    /// The three views (Mermaid: as Markdown with three diagrams).
    #[default]
    All,
    Programs,
    Scenarios,
    Calendar,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    format: Format,
    #[arg(long, value_enum, default_value_t = View::All)]
    view: View,
}

pub fn run(mut args: Args) -> Exit {
    args.dir = match crate::cli::plan_dir(&args.dir) {
        Ok(d) => d,
        Err(e) => {
            fatal(e);
            return Exit::Unusable;
        }
    };
    let (_, compilation) = match crate::cli::compile_dir(&args.dir) {
        Ok(x) => x,
        Err(e) => {
            fatal(e);
            return Exit::Unusable;
        }
    };
    if compilation.has_errors() {
        fatal(format!(
            "the plan has errors; run `herald check {}` first",
            args.dir.display()
        ));
        return Exit::Failure;
    }
    let plan = &compilation.plan;
    let out = match (args.format, args.view) {
        (Format::Mermaid, View::All) => format!(
            "## Programs\n\n```mermaid\n{}```\n\n## Scenarios\n\n```mermaid\n{}```\n\n## Calendar\n\n```mermaid\n{}```\n",
            mermaid_programs(plan),
            mermaid_scenarios(plan),
            mermaid_calendar(plan)
        ),
        (Format::Mermaid, View::Programs) => mermaid_programs(plan),
        (Format::Mermaid, View::Scenarios) => mermaid_scenarios(plan),
        (Format::Mermaid, View::Calendar) => mermaid_calendar(plan),
        (Format::Dot, view) => dot(plan, view),
    };
    out!("{out}");
    Exit::Ok
}

fn id(kind: &str, name: &str) -> String {
    format!("{kind}_{name}")
}

fn esc(s: &str) -> String {
    s.replace('"', "'")
}

fn mermaid_programs(plan: &Plan) -> String {
    let mut o = String::from("flowchart LR\n");
    for (p, prog) in &plan.programs {
        let _ = writeln!(o, "  subgraph {}[\"{p}: {}\"]", id("program", p), esc(&prog.objective));
        for (n, c) in plan.campaigns.iter().filter(|(_, c)| &c.program == p) {
            let _ = writeln!(
                o,
                "    {}[\"campaign {n}<br/>{}\"]",
                id("campaign", n),
                c.send_at.format("%Y-%m-%d %H:%M")
            );
        }
        for (n, s) in plan.scenarios.iter().filter(|(_, s)| &s.program == p) {
            let _ = writeln!(
                o,
                "    {}([\"scenario {n}<br/>{}\"])",
                id("scenario", n),
                trigger(&s.trigger)
            );
        }
        let _ = writeln!(o, "  end");
    }
    for (n, c) in &plan.campaigns {
        for m in c.delivery.messages() {
            let _ = writeln!(o, "  {} --> {}[/\"{m}\"/]", id("campaign", n), id("message", m));
        }
    }
    o
}

fn trigger(t: &Trigger) -> String {
    match t {
        Trigger::Event { event, .. } => format!("on {event}"),
        Trigger::Date {
            field, offset, yearly, ..
        } => format!("{field} {offset}{}", if *yearly { " yearly" } else { "" }),
    }
}

/// Nodes and edges of a scenario's steps: `prev` are the nodes that flow into the next step.
fn steps(
    o: &mut String,
    scenario: &str,
    list: &[Step],
    prev: Vec<(String, String)>,
    counter: &mut usize,
) -> Vec<(String, String)> {
    let mut prev = prev;
    for step in list {
        *counter += 1;
        let node = format!("{scenario}_{counter}");
        let label = match step {
            Step::Send {
                delivery: Delivery::Message(m),
                ..
            } => format!("send {m}"),
            Step::Send {
                delivery: Delivery::Experiment(e),
                ..
            } => format!(
                "A/B {}",
                e.variants
                    .iter()
                    .map(|v| v.message.as_str())
                    .collect::<Vec<_>>()
                    .join(" / ")
            ),
            Step::Wait { duration, .. } => format!("wait {duration}"),
            Step::WaitUntil { until, timeout, .. } => format!("wait until {} (max {timeout})", esc(&until.to_string())),
            Step::If { condition, .. } => format!("if {}", esc(&condition.to_string())),
            Step::Exit { .. } => "exit".to_string(),
        };
        let shape = if matches!(step, Step::If { .. } | Step::WaitUntil { .. }) {
            format!("{{\"{label}\"}}")
        } else {
            format!("[\"{label}\"]")
        };
        let _ = writeln!(o, "    {node}{shape}");
        for (p, edge) in &prev {
            let _ = writeln!(o, "    {p} -->{edge} {node}");
        }
        prev = match step {
            Step::If { then, otherwise, .. } => {
                let mut a = steps(o, scenario, then, vec![(node.clone(), "|yes|".into())], counter);
                let b = steps(o, scenario, otherwise, vec![(node.clone(), "|no|".into())], counter);
                a.extend(b);
                a
            }
            Step::WaitUntil { on_timeout, .. } => {
                let mut a = vec![(node.clone(), "|met|".to_string())];
                a.extend(steps(
                    o,
                    scenario,
                    on_timeout,
                    vec![(node.clone(), "|timeout|".into())],
                    counter,
                ));
                a
            }
            Step::Exit { .. } => Vec::new(),
            _ => vec![(node, String::new())],
        };
    }
    prev
}

fn mermaid_scenarios(plan: &Plan) -> String {
    let mut o = String::from("flowchart TD\n");
    for (n, s) in &plan.scenarios {
        let _ = writeln!(o, "  subgraph {}[\"scenario {n}\"]", id("scenario", n));
        let start = format!("{n}_start");
        let _ = writeln!(o, "    {start}((\"{}\"))", esc(&trigger(&s.trigger)));
        let mut counter = 0;
        steps(&mut o, n, &s.steps, vec![(start, String::new())], &mut counter);
        let _ = writeln!(o, "  end");
    }
    o
}

fn mermaid_calendar(plan: &Plan) -> String {
    let mut o = String::from("gantt\n  dateFormat YYYY-MM-DDTHH:mm\n  axisFormat %d %b\n");
    let mut by_program: std::collections::BTreeMap<&str, Vec<(&String, &herald_compiler::model::Campaign)>> =
        Default::default();
    for (n, c) in &plan.campaigns {
        by_program.entry(&c.program).or_default().push((n, c));
    }
    for (p, mut list) in by_program {
        list.sort_by_key(|(n, c)| (c.send_at, (*n).clone()));
        let _ = writeln!(o, "  section {p}");
        for (n, c) in list {
            let _ = writeln!(o, "    {n} : milestone, {}, 1h", c.send_at.format("%Y-%m-%dT%H:%M"));
        }
    }
    o
}

fn dot(plan: &Plan, view: View) -> String {
    let mut o = String::from("digraph herald {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
    if matches!(view, View::All | View::Programs) {
        for (p, prog) in &plan.programs {
            let _ = writeln!(
                o,
                "  subgraph \"cluster_{p}\" {{\n    label=\"{p}: {}\";",
                esc(&prog.objective)
            );
            for (n, c) in plan.campaigns.iter().filter(|(_, c)| &c.program == p) {
                let _ = writeln!(
                    o,
                    "    \"campaign.{n}\" [shape=box, label=\"campaign {n}\\n{}\"];",
                    c.send_at.format("%Y-%m-%d %H:%M")
                );
            }
            for (n, s) in plan.scenarios.iter().filter(|(_, s)| &s.program == p) {
                let _ = writeln!(
                    o,
                    "    \"scenario.{n}\" [shape=oval, label=\"scenario {n}\\n{}\"];",
                    esc(&trigger(&s.trigger))
                );
            }
            let _ = writeln!(o, "  }}");
        }
        for (n, c) in &plan.campaigns {
            for m in c.delivery.messages() {
                let _ = writeln!(o, "  \"campaign.{n}\" -> \"message.{m}\";");
            }
        }
    }
    if matches!(view, View::All | View::Scenarios) {
        for (n, s) in &plan.scenarios {
            let mut mermaid = String::new();
            let mut counter = 0;
            steps(
                &mut mermaid,
                n,
                &s.steps,
                vec![(format!("{n}_start"), String::new())],
                &mut counter,
            );
            // Reuse the step walk: turn its Mermaid lines into DOT.
            let _ = writeln!(o, "  subgraph \"cluster_scenario_{n}\" {{\n    label=\"scenario {n}\";");
            let _ = writeln!(
                o,
                "    \"{n}_start\" [shape=circle, label=\"{}\"];",
                esc(&trigger(&s.trigger))
            );
            for line in mermaid.lines().map(str::trim) {
                if let Some((from, to)) = line.split_once(" -->") {
                    let (label, to) = match to.trim().strip_prefix('|') {
                        Some(rest) => rest
                            .split_once("| ")
                            .map_or((String::new(), rest.to_string()), |(l, t)| {
                                (l.to_string(), t.to_string())
                            }),
                        None => (String::new(), to.trim().to_string()),
                    };
                    let _ = writeln!(o, "    \"{from}\" -> \"{to}\" [label=\"{label}\"];");
                } else if let Some(i) = line.find(['[', '{']) {
                    let (node, rest) = line.split_at(i);
                    let label = rest.trim_matches(|c| "[]{}\"".contains(c));
                    let _ = writeln!(o, "    \"{node}\" [shape=box, label=\"{}\"];", esc(label));
                }
            }
            let _ = writeln!(o, "  }}");
        }
    }
    if matches!(view, View::All | View::Calendar) {
        let mut list: Vec<(&String, &herald_compiler::model::Campaign)> = plan.campaigns.iter().collect();
        list.sort_by_key(|(n, c)| (c.send_at, (*n).clone()));
        for pair in list.windows(2) {
            let _ = writeln!(o, "  \"day.{}\" -> \"day.{}\" [style=dotted];", pair[0].0, pair[1].0);
        }
        for (n, c) in &list {
            let _ = writeln!(
                o,
                "  \"day.{n}\" [shape=note, label=\"{}\\n{n}\"];",
                c.send_at.format("%a %Y-%m-%d %H:%M")
            );
        }
    }
    o.push_str("}\n");
    o
}
