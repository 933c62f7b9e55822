//! Journey tests (`herald test`): the test files of a plan checked against
//! it ([`check`]: names, values typed through the engine's
//! [`Layout`](crate::contact::Layout), times), then each simulated on the
//! step engine ([`crate::engine::simulate`]) and its expectations matched
//! against what happened ([`run`]). [`coverage`] lists the steps and
//! branches of each scenario no test reaches; [`show`] words a simulation
//! for people.
//!
//! This layer comes after the engine: it types test contacts with the
//! engine's contact model, and never decides what a step does itself.

pub mod check;
mod expect;
pub mod show;

pub use expect::{ExpectResult, Outcome, run};

use crate::engine::simulate::{Journey, Point, points};
use crate::engine::{Engine, ScenarioId};
use crate::model::{Plan, Step};
use crate::source::Span;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use std::collections::BTreeSet;

/// A checked journey test, ready to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct TestCase {
    pub name: String,
    /// The test's name in its file.
    pub span: Span,
    pub description: Option<String>,
    /// The zone its local times are read in (and shown in).
    pub tz: Tz,
    /// The contact is typed through [`crate::contact::Layout::for_model`].
    pub journey: Journey,
    pub expectations: Vec<Expectation>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    pub span: Span,
    pub expect: Expect,
}

/// An instant, give or take a tolerance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct When {
    pub at: DateTime<Utc>,
    pub within: TimeDelta,
}

impl When {
    pub fn holds(&self, t: DateTime<Utc>) -> bool {
        (t - self.at).abs() <= self.within
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    Send {
        message: String,
        when: Option<When>,
        content: Vec<ContentCheck>,
    },
    Never {
        message: String,
        reason: Option<NeverReason>,
    },
    Enter {
        scenario: String,
        when: Option<When>,
    },
    Exit {
        scenario: String,
        when: Option<When>,
        reason: Option<ExitWhy>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContentCheck {
    /// In the subject, preheader or text of an email, an SMS text, a push
    /// title or body, a call script.
    Contains(String),
    Subject(String),
    Segments(u32),
    Encoding(crate::sms::Encoding),
}

/// Why a message was not sent, as tests name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeverReason {
    Consent,
    Pressure,
    QuietHours,
    NoAddress,
    InvalidAddress,
    Suppressed,
    Expired,
    Holdout,
}

impl NeverReason {
    pub const ALL: [NeverReason; 8] = [
        NeverReason::Consent,
        NeverReason::Pressure,
        NeverReason::QuietHours,
        NeverReason::NoAddress,
        NeverReason::InvalidAddress,
        NeverReason::Suppressed,
        NeverReason::Expired,
        NeverReason::Holdout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NeverReason::Consent => "consent",
            NeverReason::Pressure => "pressure",
            NeverReason::QuietHours => "quiet-hours",
            NeverReason::NoAddress => "no-address",
            NeverReason::InvalidAddress => "invalid-address",
            NeverReason::Suppressed => "suppressed",
            NeverReason::Expired => "expired",
            NeverReason::Holdout => "holdout",
        }
    }

    /// Whether a guard's drop is this reason.
    pub fn is(self, d: crate::engine::Drop) -> bool {
        use crate::engine::Drop;
        matches!(
            (self, d),
            (NeverReason::Consent, Drop::Consent)
                | (NeverReason::Pressure, Drop::Pressure(_))
                | (NeverReason::QuietHours, Drop::QuietHours)
                | (NeverReason::NoAddress, Drop::NoAddress)
                | (NeverReason::InvalidAddress, Drop::InvalidAddress)
                | (NeverReason::Suppressed, Drop::Suppressed)
                | (NeverReason::Expired, Drop::Expired)
        )
    }
}

/// Why a contact leaves a scenario, as tests name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitWhy {
    /// An `exit` step, with its reason.
    Step(Option<String>),
    ExitWhen,
    /// It ran its last step.
    Completed,
}

impl ExitWhy {
    pub fn parse(s: &str) -> ExitWhy {
        match s {
            "exit_when" => ExitWhy::ExitWhen,
            "completed" => ExitWhy::Completed,
            "exit" => ExitWhy::Step(None),
            r => ExitWhy::Step(Some(r.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ExitWhy::Step(None) => "exit",
            ExitWhy::Step(Some(r)) => r,
            ExitWhy::ExitWhen => "exit_when",
            ExitWhy::Completed => "completed",
        }
    }
}

/// A step or a way out of a branching step that no test reached.
#[derive(Clone, Debug)]
pub struct Gap<'p> {
    pub scenario: &'p str,
    pub point: Point,
    pub step: &'p Step,
}

/// What the tests reached of each scenario, and what they did not.
#[derive(Clone, Debug)]
pub struct Coverage<'p> {
    /// Per scenario (by name): its points, and the ones not reached.
    pub scenarios: Vec<(&'p str, usize, Vec<Gap<'p>>)>,
}

impl Coverage<'_> {
    pub fn points(&self) -> usize {
        self.scenarios.iter().map(|(_, n, _)| n).sum()
    }
    pub fn gaps(&self) -> usize {
        self.scenarios.iter().map(|(_, _, g)| g.len()).sum()
    }
}

/// The steps and ways of every scenario that `reached` (the union of the
/// tests' simulations) lacks.
pub fn coverage<'p>(engine: &Engine<'p>, plan: &'p Plan, reached: &BTreeSet<(ScenarioId, Point)>) -> Coverage<'p> {
    let mut out = Vec::new();
    for (name, s) in &plan.scenarios {
        let Some(id) = engine.scenario_id(name) else { continue };
        let all = points(&s.steps);
        let total = all.len();
        let gaps = all
            .into_iter()
            .filter(|(p, _)| !reached.contains(&(id, p.clone())))
            .map(|(point, step)| Gap {
                scenario: name,
                point,
                step,
            })
            .collect();
        out.push((name.as_str(), total, gaps));
    }
    Coverage { scenarios: out }
}
