//! `herald test [DIR] [--format human|json|junit] [--filter NAME] [--coverage]`:
//! the plan's journey tests (`tests/*.yaml`), each simulated on the step
//! engine by the compiler (`herald_compiler::journeys`); this module only
//! chooses the tests and prints what happened.
//!
//! Exit codes: 0 every test passed, 1 a test failed, 2 the tests could not
//! run (no plan, a plan or a test file with errors).

use crate::exit::Exit;
use crate::output::fatal;
use herald_compiler::contact::Layout;
use herald_compiler::diagnostic::render_human;
use herald_compiler::engine::Engine;
use herald_compiler::engine::simulate::Point;
use herald_compiler::journeys::{self, Coverage, Outcome, TestCase, show};
use herald_compiler::model::Step;
use herald_compiler::{SourceSet, Span};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per test as `cargo test` prints; a failure shows the
    /// expected and the actual timelines side by side.
    #[default]
    Human,
    /// One JSON object (format_version 1), for tools.
    Json,
    /// JUnit XML, for CI systems.
    Junit,
}

#[derive(clap::Args)]
pub struct Args {
    /// The plan directory (holding herald.toml); its tests are in `tests/*.yaml`.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Run only the tests whose name contains this text.
    #[arg(long, value_name = "NAME")]
    filter: Option<String>,
    /// Also list the steps and branches of each scenario that no test reaches.
    #[arg(long)]
    coverage: bool,
}

/// One test run.
struct Ran<'c, 'p> {
    case: &'c TestCase,
    outcome: Outcome<'p>,
    elapsed: Duration,
}

pub fn run(args: Args) -> Exit {
    let dir = match crate::project::plan_dir(&args.dir) {
        Ok(d) => d,
        Err(reason) => {
            fatal(reason);
            return Exit::Unusable;
        }
    };
    let (sources, compilation) = match crate::project::compile_dir(&dir) {
        Ok(x) => x,
        Err(reason) => {
            fatal(reason);
            return Exit::Unusable;
        }
    };
    if compilation.has_errors() {
        // Diagnostics on stderr: stdout stays valid JSON or XML for tools.
        let errors: Vec<_> = compilation
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect();
        eprint!(
            "{}",
            render_human::render(&errors, &sources, render_human::HumanOptions::default())
        );
        fatal(format!(
            "the plan or its tests have errors, so the tests cannot run; `herald check {}` lists them",
            dir.display()
        ));
        return Exit::Unusable;
    }
    let plan = &compilation.plan;
    let layout = Layout::for_model(&plan.contact);
    let engine = Engine::new(plan, &layout);
    let selected: Vec<&TestCase> = compilation
        .tests
        .iter()
        .filter(|t| args.filter.as_deref().is_none_or(|f| t.name.contains(f)))
        .collect();
    let filtered_out = compilation.tests.len() - selected.len();
    let started = Instant::now();
    let mut reached = BTreeSet::new();
    let mut ran = Vec::new();
    for case in selected {
        let t = Instant::now();
        let outcome = journeys::run(&engine, &layout, case);
        reached.extend(outcome.simulation.reached.iter().cloned());
        ran.push(Ran {
            case,
            outcome,
            elapsed: t.elapsed(),
        });
    }
    let coverage = args.coverage.then(|| journeys::coverage(&engine, plan, &reached));
    let shown = crate::project::relative_to_cwd(&dir).unwrap_or_else(|| dir.display().to_string());
    let report = Report {
        dir: &shown,
        sources: &sources,
        engine: &engine,
        ran: &ran,
        filtered_out,
        coverage: coverage.as_ref(),
        elapsed: started.elapsed(),
    };
    match args.format {
        Format::Human => out!("{}", report.human()),
        Format::Json => outln!("{}", report.json()),
        Format::Junit => out!("{}", report.junit()),
    }
    if ran.iter().all(|r| r.outcome.passed()) {
        Exit::Ok
    } else {
        Exit::Failure
    }
}

struct Report<'a, 'c, 'p> {
    /// The plan directory as shown (from the working directory).
    dir: &'a str,
    sources: &'a SourceSet,
    engine: &'a Engine<'p>,
    ran: &'a [Ran<'c, 'p>],
    filtered_out: usize,
    coverage: Option<&'a Coverage<'p>>,
    elapsed: Duration,
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `tests/cart.yaml:3` for a span.
fn place(sources: &SourceSet, span: Span) -> (String, usize) {
    match sources.get(span.file) {
        Some(f) => (f.path.clone(), f.line_col(span.start).line),
        None => ("?".into(), 0),
    }
}

/// Pad to `width` characters.
fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width {
        s.to_string()
    } else {
        format!("{s}{}", " ".repeat(width - n))
    }
}

/// The most characters of the expected column.
const LEFT_MAX: usize = 64;

impl Report<'_, '_, '_> {
    fn failed(&self) -> usize {
        self.ran.iter().filter(|r| !r.outcome.passed()).count()
    }

    /// The expected and the actual timelines side by side, then what went wrong.
    fn side_by_side(&self, r: &Ran) -> String {
        let tz = r.case.tz;
        let left: Vec<String> = r
            .case
            .expectations
            .iter()
            .zip(&r.outcome.results)
            .map(|(e, res)| {
                let mark = if res.passed { "✓" } else { "✗" };
                show::short(&format!("{mark} {}", show::expectation(e, tz)), LEFT_MAX)
            })
            .collect();
        let right: Vec<String> = r
            .outcome
            .simulation
            .happenings
            .iter()
            .map(|h| format!("{}  {}", show::time(h.at, tz), show::happening(self.engine, h, tz)))
            .collect();
        let width = left
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
            .max("expected".len());
        let mut out = String::new();
        out.push_str(&format!("{} | actual ({tz})\n", pad("expected", width)));
        for i in 0..left.len().max(right.len()).max(1) {
            let l = left.get(i).map_or("", String::as_str);
            let rt = right
                .get(i)
                .map_or(if i == 0 { "(nothing happened)" } else { "" }, String::as_str);
            out.push_str(pad(l, width).as_str());
            out.push_str(" | ");
            out.push_str(rt);
            out.push('\n');
            let _ = &mut out;
        }
        let trimmed: String = out.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
        let mut out = trimmed + "\n";
        let fails: Vec<String> = r
            .case
            .expectations
            .iter()
            .zip(&r.outcome.results)
            .filter(|(_, res)| !res.passed)
            .map(|(e, res)| {
                let (file, line) = place(self.sources, e.span);
                format!("✗ {} ({file}:{line}): {}", show::expectation(e, tz), res.detail)
            })
            .chain(r.outcome.problems.iter().map(|p| format!("✗ {p}")))
            .collect();
        if !fails.is_empty() {
            out.push('\n');
            for f in fails {
                out.push_str(&f);
                out.push('\n');
            }
        }
        out
    }

    fn human(&self) -> String {
        let mut o = String::new();
        o.push_str(&format!(
            "\nrunning {} in {}\n",
            plural(self.ran.len(), "test"),
            self.dir
        ));
        for r in self.ran {
            let verdict = if r.outcome.passed() { "ok" } else { "FAILED" };
            o.push_str(&format!("test {} ... {verdict}\n", r.case.name));
        }
        let failed = self.failed();
        if failed > 0 {
            o.push_str("\nfailures:\n");
            for r in self.ran.iter().filter(|r| !r.outcome.passed()) {
                let (file, line) = place(self.sources, r.case.span);
                o.push_str(&format!("\n---- {} ({file}:{line}) ----\n", r.case.name));
                if let Some(d) = &r.case.description {
                    o.push_str(&format!("{}\n", show::short(d, 100)));
                }
                o.push_str(&self.side_by_side(r));
            }
            o.push_str("\nfailures:\n");
            for r in self.ran.iter().filter(|r| !r.outcome.passed()) {
                o.push_str(&format!("    {}\n", r.case.name));
            }
        }
        o.push_str(&format!(
            "\ntest result: {}. {} passed; {failed} failed; {} filtered out\n",
            if failed == 0 { "ok" } else { "FAILED" },
            self.ran.len() - failed,
            self.filtered_out
        ));
        if let Some(c) = self.coverage {
            o.push_str(&self.coverage_text(c));
        }
        o
    }

    fn step_text(&self, step: &Step) -> String {
        let text = self
            .sources
            .get(step.span().file)
            .map_or("", |f| f.slice(step.span()))
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .trim_start_matches("- ")
            .trim_end_matches(':')
            .to_string();
        show::short(&text, 60)
    }

    fn gap_text(&self, g: &journeys::Gap) -> (String, String, usize) {
        let (file, line) = place(self.sources, g.step.span());
        let step = self.step_text(g.step);
        let text = match &g.point {
            Point::Step(c) => format!("step {c} `{step}`: not reached"),
            Point::Way(c, w) => {
                let way = match w {
                    herald_compiler::engine::Way::Then => "its condition never held (the `then` steps)",
                    herald_compiler::engine::Way::Else => "its condition always held (the `else` way)",
                    herald_compiler::engine::Way::Met => "the wait never ended on its condition",
                    herald_compiler::engine::Way::TimedOut => "the wait never timed out (`on_timeout`)",
                };
                format!("step {c} `{step}`: {way}")
            }
        };
        (text, file, line)
    }

    fn coverage_text(&self, c: &Coverage) -> String {
        let mut o = String::new();
        let points = c.points();
        o.push_str(&format!(
            "\ncoverage: {} of {} steps and branches of {} reached\n",
            points - c.gaps(),
            points,
            plural(c.scenarios.len(), "scenario")
        ));
        for (name, _, gaps) in &c.scenarios {
            if gaps.is_empty() {
                continue;
            }
            let span = self.engine.plan.scenarios.get(*name).map(|s| s.span);
            let at = span
                .map(|s| place(self.sources, s))
                .map_or(String::new(), |(f, l)| format!(" ({f}:{l})"));
            o.push_str(&format!("  scenarios.{name}{at}\n"));
            for g in gaps {
                let (text, file, line) = self.gap_text(g);
                o.push_str(&format!("    {text} ({file}:{line})\n"));
            }
        }
        o
    }

    fn json(&self) -> String {
        #[derive(Serialize)]
        struct Doc<'a> {
            format_version: &'static str,
            plan: &'a str,
            passed: usize,
            failed: usize,
            filtered_out: usize,
            tests: Vec<TestJson>,
            #[serde(skip_serializing_if = "Option::is_none")]
            coverage: Option<CoverageJson>,
        }
        #[derive(Serialize)]
        struct TestJson {
            name: String,
            file: String,
            line: usize,
            passed: bool,
            time_zone: String,
            expectations: Vec<ExpectJson>,
            problems: Vec<String>,
            timeline: Vec<HappeningJson>,
        }
        #[derive(Serialize)]
        struct ExpectJson {
            expect: String,
            line: usize,
            passed: bool,
            detail: String,
        }
        #[derive(Serialize)]
        struct HappeningJson {
            at: String,
            local: String,
            what: String,
        }
        #[derive(Serialize)]
        struct CoverageJson {
            points: usize,
            reached: usize,
            gaps: Vec<GapJson>,
        }
        #[derive(Serialize)]
        struct GapJson {
            scenario: String,
            position: String,
            way: Option<&'static str>,
            text: String,
            file: String,
            line: usize,
        }
        let tests = self
            .ran
            .iter()
            .map(|r| {
                let tz = r.case.tz;
                let (file, line) = place(self.sources, r.case.span);
                TestJson {
                    name: r.case.name.clone(),
                    file,
                    line,
                    passed: r.outcome.passed(),
                    time_zone: tz.name().to_string(),
                    expectations: r
                        .case
                        .expectations
                        .iter()
                        .zip(&r.outcome.results)
                        .map(|(e, res)| ExpectJson {
                            expect: show::expectation(e, tz),
                            line: place(self.sources, e.span).1,
                            passed: res.passed,
                            detail: res.detail.clone(),
                        })
                        .collect(),
                    problems: r.outcome.problems.clone(),
                    timeline: r
                        .outcome
                        .simulation
                        .happenings
                        .iter()
                        .map(|h| HappeningJson {
                            at: h.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            local: show::time(h.at, tz),
                            what: show::happening(self.engine, h, tz),
                        })
                        .collect(),
                }
            })
            .collect();
        let coverage = self.coverage.map(|c| CoverageJson {
            points: c.points(),
            reached: c.points() - c.gaps(),
            gaps: c
                .scenarios
                .iter()
                .flat_map(|(_, _, gaps)| gaps)
                .map(|g| {
                    let (text, file, line) = self.gap_text(g);
                    let (position, way) = match &g.point {
                        Point::Step(c) => (c.to_string(), None),
                        Point::Way(c, w) => (
                            c.to_string(),
                            Some(match w {
                                herald_compiler::engine::Way::Then => "then",
                                herald_compiler::engine::Way::Else => "else",
                                herald_compiler::engine::Way::Met => "met",
                                herald_compiler::engine::Way::TimedOut => "timed_out",
                            }),
                        ),
                    };
                    GapJson {
                        scenario: g.scenario.to_string(),
                        position,
                        way,
                        text,
                        file,
                        line,
                    }
                })
                .collect(),
        });
        let failed = self.failed();
        let doc = Doc {
            format_version: "1",
            plan: self.dir,
            passed: self.ran.len() - failed,
            failed,
            filtered_out: self.filtered_out,
            tests,
            coverage,
        };
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    fn junit(&self) -> String {
        use quick_xml::Writer;
        use quick_xml::events::{BytesDecl, BytesText, Event};
        let secs = |d: Duration| format!("{:.3}", d.as_secs_f64());
        let failed = self.failed().to_string();
        let total = self.ran.len().to_string();
        let suite = self
            .dir
            .rsplit('/')
            .find(|p| !p.is_empty() && *p != ".")
            .unwrap_or("plan");
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        let result = (|| -> std::io::Result<()> {
            w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
            w.create_element("testsuites")
                .with_attributes([
                    ("name", "herald test"),
                    ("tests", total.as_str()),
                    ("failures", failed.as_str()),
                    ("errors", "0"),
                    ("time", secs(self.elapsed).as_str()),
                ])
                .write_inner_content(|w| {
                    w.create_element("testsuite")
                        .with_attributes([
                            ("name", xml_safe(suite).as_str()),
                            ("tests", total.as_str()),
                            ("failures", failed.as_str()),
                            ("errors", "0"),
                            ("skipped", "0"),
                            ("time", secs(self.elapsed).as_str()),
                        ])
                        .write_inner_content(|w| {
                            for r in self.ran {
                                let (file, line) = place(self.sources, r.case.span);
                                let path = if self.dir == "." {
                                    file.clone()
                                } else {
                                    format!("{}/{file}", self.dir.trim_end_matches('/'))
                                };
                                let line = line.to_string();
                                let time = secs(r.elapsed);
                                let element = w.create_element("testcase").with_attributes([
                                    ("name", xml_safe(&r.case.name).as_str()),
                                    ("classname", xml_safe(&file).as_str()),
                                    ("file", xml_safe(&path).as_str()),
                                    ("line", line.as_str()),
                                    ("time", time.as_str()),
                                ]);
                                if r.outcome.passed() {
                                    element.write_empty()?;
                                    continue;
                                }
                                let misses =
                                    r.outcome.results.iter().filter(|x| !x.passed).count() + r.outcome.problems.len();
                                let message = format!(
                                    "{} of {} failed",
                                    misses,
                                    plural(r.outcome.results.len() + r.outcome.problems.len(), "expectation")
                                );
                                let body = self.side_by_side(r);
                                element.write_inner_content(|w| {
                                    w.create_element("failure")
                                        .with_attributes([
                                            ("message", xml_safe(&message).as_str()),
                                            ("type", "expectation"),
                                        ])
                                        .write_text_content(BytesText::new(&xml_safe(&body)))?;
                                    Ok(())
                                })?;
                            }
                            Ok(())
                        })?;
                    Ok(())
                })?;
            Ok(())
        })();
        if let Err(e) = result {
            fatal(format!("cannot write the JUnit report: {e}"));
        }
        let mut s = String::from_utf8(w.into_inner()).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// Characters XML 1.0 cannot hold (even escaped) replaced.
fn xml_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}
