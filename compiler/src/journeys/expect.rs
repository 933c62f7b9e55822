//! Running a test: its journey simulated on the engine, then each
//! expectation matched against what happened, with a reason when it fails.

use super::show::{self, time};
use super::{ContentCheck, Expect, NeverReason, TestCase, When};
use crate::contact::Layout;
use crate::engine::simulate::{Fact, Happening, MAX_STOPS, Simulation, What, simulate};
use crate::engine::{Engine, ExitReason, ScenarioId};
use crate::journeys::ExitWhy;
use crate::render::Rendered;

/// Whether one expectation held, and what happened instead when not.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectResult {
    pub passed: bool,
    /// What matched, or why nothing did.
    pub detail: String,
}

/// A test's simulation and the verdict on each of its expectations.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome<'p> {
    pub simulation: Simulation<'p>,
    /// One per expectation, in the test's order.
    pub results: Vec<ExpectResult>,
    /// Problems with the test itself (a fact that cannot happen, a
    /// simulation cut short): each fails the test.
    pub problems: Vec<String>,
}

impl Outcome<'_> {
    pub fn passed(&self) -> bool {
        self.problems.is_empty() && self.results.iter().all(|r| r.passed)
    }
}

/// Simulate a test and match its expectations. `engine` is made for
/// `layout`, which is [`Layout::for_model`] of the plan's contact model.
pub fn run<'p>(engine: &Engine<'p>, layout: &Layout, case: &TestCase) -> Outcome<'p> {
    let simulation = simulate(engine, layout, &case.journey);
    let tz = case.tz;
    let h = &simulation.happenings;
    let mut used = vec![false; h.len()];
    let mut results = Vec::new();
    for e in &case.expectations {
        results.push(match &e.expect {
            Expect::Send { message, when, content } => send(engine, h, &mut used, message, when.as_ref(), content, tz),
            Expect::Never { message, reason } => never(engine, h, message, *reason, tz),
            Expect::Enter { scenario, when } => enter(engine, h, &mut used, scenario, when.as_ref(), tz),
            Expect::Exit { scenario, when, reason } => {
                exit(engine, h, &mut used, scenario, when.as_ref(), reason.as_ref(), tz)
            }
        });
    }
    let mut problems = Vec::new();
    if simulation.truncated {
        problems.push(format!(
            "the simulation stopped after {MAX_STOPS} instants, before `until`"
        ));
    }
    // Engagement with a message the contact never got cannot happen.
    for fact in case.journey.timeline.iter().filter(|f| f.at >= case.journey.start) {
        let (m, what) = match &fact.fact {
            Fact::Opened(m) => (m, "opens"),
            Fact::Clicked(m) => (m, "clicks in"),
            Fact::Stopped { message, .. } => (message, "reacts to"),
            _ => continue,
        };
        let got = h
            .iter()
            .any(|x| x.at <= fact.at && matches!(&x.what, What::Sent { message, .. } if *message == m.as_str()));
        if !got {
            problems.push(format!(
                "the timeline {what} `{m}` at {}, but the contact was not sent `{m}` before then",
                time(fact.at, tz)
            ));
        }
    }
    Outcome {
        simulation,
        results,
        problems,
    }
}

fn pass(detail: String) -> ExpectResult {
    ExpectResult { passed: true, detail }
}

fn fail(detail: String) -> ExpectResult {
    ExpectResult { passed: false, detail }
}

/// Why a rendered message fails a content check, if it does.
fn content_problem(r: &Rendered, checks: &[ContentCheck]) -> Option<String> {
    for c in checks {
        let problem = match (c, r) {
            (ContentCheck::Contains(t), _) => {
                let texts: Vec<&str> = match r {
                    Rendered::Email {
                        subject,
                        preheader,
                        text,
                        ..
                    } => [Some(subject.as_str()), preheader.as_deref(), Some(text.as_str())]
                        .into_iter()
                        .flatten()
                        .collect(),
                    Rendered::Sms { text, .. } => vec![text],
                    Rendered::Push { title, body, .. } => vec![title, body],
                    Rendered::Call { script } => vec![script],
                };
                (!texts.iter().any(|x| x.contains(t.as_str()))).then(|| format!("it does not contain {t:?}"))
            }
            (ContentCheck::Subject(want), Rendered::Email { subject, .. }) => {
                (subject != want).then(|| format!("its subject is {subject:?}, not {want:?}"))
            }
            (ContentCheck::Segments(n), Rendered::Sms { analysis, .. }) => {
                (analysis.segments != *n as usize).then(|| format!("it has {} segments, not {n}", analysis.segments))
            }
            (ContentCheck::Encoding(enc), Rendered::Sms { analysis, .. }) => (analysis.encoding != *enc)
                .then(|| format!("it is {}, not {}", analysis.encoding.as_str(), enc.as_str())),
            _ => Some("it is not of the channel this check is for".to_string()),
        };
        if problem.is_some() {
            return problem;
        }
    }
    None
}

/// What happened to a message instead, for a failed `send`.
fn instead(policies: &crate::model::Policies, h: &[Happening], message: &str, tz: chrono_tz::Tz) -> String {
    let mut notes = Vec::new();
    for x in h {
        let note = match &x.what {
            What::Sent { message: m, .. } if *m == message => format!("sent at {}", time(x.at, tz)),
            What::Dropped { message: m, reason, .. } if *m == message => {
                format!("dropped at {} ({})", time(x.at, tz), reason.code(policies))
            }
            What::Deferred { message: m, until, .. } if *m == message => {
                format!("deferred at {} to {} (quiet hours)", time(x.at, tz), time(*until, tz))
            }
            What::Failed { message: m, error, .. } if *m == message => {
                format!("failed at {}: {error}", time(x.at, tz))
            }
            What::Holdout { variants, .. } if variants.contains(&message) => {
                format!("held out at {} (control group)", time(x.at, tz))
            }
            _ => continue,
        };
        notes.push(note);
    }
    if notes.is_empty() {
        "it was never due".into()
    } else {
        notes.join("; ")
    }
}

#[allow(clippy::too_many_arguments)]
fn send(
    engine: &Engine,
    h: &[Happening],
    used: &mut [bool],
    message: &str,
    when: Option<&When>,
    content: &[ContentCheck],
    tz: chrono_tz::Tz,
) -> ExpectResult {
    let candidates: Vec<usize> = (0..h.len())
        .filter(|&i| !used[i])
        .filter(|&i| matches!(&h[i].what, What::Sent { message: m, .. } if *m == message))
        .filter(|&i| when.is_none_or(|w| w.holds(h[i].at)))
        .collect();
    let mut first_problem = None;
    for &i in &candidates {
        let What::Sent { rendered, .. } = &h[i].what else {
            continue;
        };
        match content_problem(rendered, content) {
            None => {
                used[i] = true;
                return pass(format!("sent at {}", time(h[i].at, tz)));
            }
            Some(p) => {
                first_problem.get_or_insert_with(|| format!("sent at {}, but {p}", time(h[i].at, tz)));
            }
        }
    }
    match first_problem {
        Some(p) => fail(p),
        None => fail(format!(
            "not sent then: {}",
            instead(&engine.plan.policies, h, message, tz)
        )),
    }
}

fn never(
    engine: &Engine,
    h: &[Happening],
    message: &str,
    reason: Option<NeverReason>,
    tz: chrono_tz::Tz,
) -> ExpectResult {
    if let Some(x) = h
        .iter()
        .find(|x| matches!(&x.what, What::Sent { message: m, .. } if *m == message))
    {
        return fail(format!("sent at {}", time(x.at, tz)));
    }
    let Some(reason) = reason else {
        return pass("never sent".into());
    };
    let hit = h.iter().find(|x| match &x.what {
        What::Dropped {
            message: m, reason: d, ..
        } => *m == message && reason.is(*d),
        What::Holdout { variants, .. } => reason == NeverReason::Holdout && variants.contains(&message),
        _ => false,
    });
    match hit {
        Some(x) => pass(format!("{} at {}", reason.as_str(), time(x.at, tz))),
        None => fail(format!(
            "never sent, but not for {}: {}",
            reason.as_str(),
            instead(&engine.plan.policies, h, message, tz)
        )),
    }
}

fn scenario_is(engine: &Engine, id: ScenarioId, name: &str) -> bool {
    engine.scenario_name(id) == name
}

fn enter(
    engine: &Engine,
    h: &[Happening],
    used: &mut [bool],
    scenario: &str,
    when: Option<&When>,
    tz: chrono_tz::Tz,
) -> ExpectResult {
    let found = (0..h.len()).find(|&i| {
        !used[i]
            && matches!(&h[i].what, What::Entered { scenario: s } if scenario_is(engine, *s, scenario))
            && when.is_none_or(|w| w.holds(h[i].at))
    });
    if let Some(i) = found {
        used[i] = true;
        return pass(format!("entered at {}", time(h[i].at, tz)));
    }
    let mut notes = Vec::new();
    for x in h {
        match &x.what {
            What::Entered { scenario: s } if scenario_is(engine, *s, scenario) => {
                notes.push(format!("entered at {}", time(x.at, tz)));
            }
            What::NotEntered { scenario: s, .. } if scenario_is(engine, *s, scenario) => {
                notes.push(format!("{} at {}", show::happening(engine, x, tz), time(x.at, tz)));
            }
            _ => {}
        }
    }
    if notes.is_empty() {
        fail("not entered: its trigger never fired".into())
    } else {
        fail(format!("not entered then: {}", notes.join("; ")))
    }
}

fn exit_matches(why: &ExitWhy, what: &What) -> bool {
    match (why, what) {
        (ExitWhy::Completed, What::Completed { .. }) => true,
        (ExitWhy::ExitWhen, What::Exited { reason, .. }) => *reason == ExitReason::ExitWhen,
        (ExitWhy::Step(r), What::Exited { reason, .. }) => *reason == ExitReason::Step(r.clone()),
        _ => false,
    }
}

fn exit(
    engine: &Engine,
    h: &[Happening],
    used: &mut [bool],
    scenario: &str,
    when: Option<&When>,
    reason: Option<&ExitWhy>,
    tz: chrono_tz::Tz,
) -> ExpectResult {
    let is_exit = |w: &What| match w {
        What::Exited { scenario: s, .. } | What::Completed { scenario: s } => scenario_is(engine, *s, scenario),
        _ => false,
    };
    let found = (0..h.len()).find(|&i| {
        !used[i]
            && is_exit(&h[i].what)
            && when.is_none_or(|w| w.holds(h[i].at))
            && reason.is_none_or(|r| exit_matches(r, &h[i].what))
    });
    if let Some(i) = found {
        used[i] = true;
        return pass(format!(
            "{} at {}",
            show::happening(engine, &h[i], tz),
            time(h[i].at, tz)
        ));
    }
    let notes: Vec<String> = h
        .iter()
        .filter(|x| is_exit(&x.what))
        .map(|x| format!("{} at {}", show::happening(engine, x, tz), time(x.at, tz)))
        .collect();
    if notes.is_empty() {
        fail("the contact did not leave it".into())
    } else {
        fail(format!("not then: {}", notes.join("; ")))
    }
}
