//! Scenarios: who enters, and what an enrolment does next.
//!
//! An [`Enrolment`] is all the state a contact's way through a scenario
//! needs: where it is ([`Cursor`]) and since when (`since`: waits count from
//! there). [`Engine::advance`] runs it from there up to `now` and says what
//! to send on the way and how it stands: asleep until an instant (a `wait`,
//! or a `wait until` that new facts may end sooner), exited, or complete.
//!
//! Moments: each step runs at the moment the previous one ended, not at the
//! moment a driver happens to look — a runner that wakes late, or a
//! simulation stepping through a day, sends at the same instants. Conditions
//! are evaluated at their step's moment, with history as of that moment; a
//! `wait until` that is met ends at the moment it was seen met (the driver
//! advances enrolments when new facts arrive), and otherwise at its timeout.
//! `exit_when` is evaluated before every step and while waiting. Waits in
//! whole days keep the wall-clock time in the contact's zone (a `wait: 7d`
//! from 10:00 ends at 10:00, across a DST change); others are exact.

use super::cursor::{Branch, Cursor};
use super::experiment::{self, Group};
use super::{CStep, ContactFacts, Cx, Engine, EventProps, later, local_instant};
use crate::ast::Reentry;
use crate::model::{Delivery, Experiment, Trigger};
use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

/// A scenario of the engine (an index into the plan's scenarios, by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScenarioId(pub usize);

/// One contact's way through one scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Enrolment {
    pub entered_at: DateTime<Utc>,
    /// The next step.
    pub cursor: Cursor,
    /// When the enrolment reached that step.
    pub since: DateTime<Utc>,
    /// The properties of the event that triggered the scenario.
    pub event: Option<EventProps>,
}

impl Enrolment {
    pub fn new(at: DateTime<Utc>, event: Option<EventProps>) -> Enrolment {
        Enrolment {
            entered_at: at,
            cursor: Cursor::start(),
            since: at,
            event,
        }
    }
}

/// What a send step sends.
#[derive(Clone, Copy, Debug)]
pub enum Content<'p> {
    Message(&'p str),
    /// The experiment's winner (the driver knows the results; see
    /// [`experiment::winner`]).
    Winner(&'p Experiment),
}

impl PartialEq for Content<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Content::Message(a), Content::Message(b)) => a == b,
            (Content::Winner(a), Content::Winner(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

impl<'p> Content<'p> {
    /// The message, given the results known so far (none: the first variant).
    pub fn message(&self, winner: impl FnOnce(&'p Experiment) -> Option<&'p str>) -> &'p str {
        match *self {
            Content::Message(m) => m,
            Content::Winner(e) => winner(e)
                .or_else(|| e.variants.first().map(|v| v.message.as_str()))
                .unwrap_or(""),
        }
    }
}

/// What an enrolment does on its way.
#[derive(Clone, Debug, PartialEq)]
pub enum Action<'p> {
    /// A send step was reached: the message is due at `at`.
    Send {
        at: DateTime<Utc>,
        step: Cursor,
        content: Content<'p>,
        /// The solicitation it belongs to: its own step, or for a fallback
        /// (`fallback_for`) the step of the send it falls back for. Pressure
        /// caps count a solicitation once.
        thread: Cursor,
    },
    /// A send step of an experiment was reached by a contact of its control group.
    Holdout { at: DateTime<Utc>, step: Cursor },
}

/// Why an enrolment ended before its last step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// An `exit` step, with its reason.
    Step(Option<String>),
    /// The scenario's `exit_when` holds.
    ExitWhen,
    /// The stored position does not fit the scenario's steps (a damaged state).
    Lost,
}

impl ExitReason {
    /// A stable code, as recorded in the state.
    pub fn code(&self) -> String {
        match self {
            ExitReason::Step(None) => "exit".into(),
            ExitReason::Step(Some(r)) => format!("exit:{r}"),
            ExitReason::ExitWhen => "exit_when".into(),
            ExitReason::Lost => "lost".into(),
        }
    }
}

/// How an enrolment stands after [`Engine::advance`].
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// Waiting until `until`. A `wait until` is `listening`: advance it again
    /// when the contact's facts change (an event, an open, a click).
    Asleep {
        until: DateTime<Utc>,
        listening: bool,
    },
    Exited {
        at: DateTime<Utc>,
        reason: ExitReason,
    },
    Completed {
        at: DateTime<Utc>,
    },
}

/// Which way an enrolment went at a branching step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Way {
    /// The `if` condition held.
    Then,
    /// It did not (the `else` steps, or none).
    Else,
    /// The `wait until` condition was met before the timeout.
    Met,
    /// The timeout passed first (the `on_timeout` steps, or none).
    TimedOut,
}

/// What an enrolment went through, for coverage (`herald test --coverage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Passage<'c> {
    /// The step at this position was reached.
    Reached(&'c Cursor),
    /// The branching step at this position went this way.
    Took(&'c Cursor, Way),
}

/// The contact's previous entry into the scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Previous {
    pub entered_at: DateTime<Utc>,
    /// Still in the scenario.
    pub active: bool,
}

/// Whether a contact enters a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    Enter,
    /// The trigger's `where` does not hold for this event.
    NotTriggered,
    /// The re-entry rule forbids another entry now.
    Reentry,
    NotInAudience,
    /// `exit_when` already holds.
    ExitWhen,
}

impl<'p> Engine<'p> {
    /// Whether a contact enters a scenario at `at`, its trigger having fired
    /// (with the event's properties in `facts` for an event trigger).
    /// Re-entry: `never` once ever; `after D` not while still in the
    /// scenario, nor within D of the previous entry; `always` every time, even
    /// while still in it.
    pub fn entry(
        &self,
        cx: &mut Cx,
        id: ScenarioId,
        facts: &ContactFacts,
        previous: Option<Previous>,
        at: DateTime<Utc>,
    ) -> Entry {
        let Some(rt) = self.scenarios.get(id.0) else {
            return Entry::NotTriggered;
        };
        if let Some(w) = &rt.trigger_where
            && !self.holds(cx, facts, at, w)
        {
            return Entry::NotTriggered;
        }
        if let Some(p) = previous {
            let allowed = match rt.scenario.reentry {
                Reentry::Never => false,
                Reentry::Always => true,
                Reentry::After(d) => !p.active && later(p.entered_at, d.as_chrono()) <= at,
            };
            if !allowed {
                return Entry::Reentry;
            }
        }
        if let Some(a) = &rt.audience
            && !self.holds(cx, facts, at, a)
        {
            return Entry::NotInAudience;
        }
        if let Some(x) = &rt.exit_when
            && self.holds(cx, facts, at, x)
        {
            return Entry::ExitWhen;
        }
        Entry::Enter
    }

    /// Whether the scenario's audience holds for the contact at `at` (for
    /// "eligible" counts; entering also checks the trigger and re-entry).
    pub fn eligible(&self, cx: &mut Cx, id: ScenarioId, facts: &ContactFacts, at: DateTime<Utc>) -> bool {
        self.scenarios
            .get(id.0)
            .is_some_and(|rt| rt.audience.as_ref().is_none_or(|a| self.holds(cx, facts, at, a)))
    }

    /// Whether the scenario's trigger condition reads the event's properties.
    pub fn trigger_reads_event(&self, id: ScenarioId) -> bool {
        self.scenarios
            .get(id.0)
            .and_then(|rt| rt.trigger_where.as_ref())
            .is_some_and(|w| self.eval.reads_event(w))
    }

    /// The scenario's trigger event, if it has one.
    pub fn trigger_event(&self, id: ScenarioId) -> Option<&'p str> {
        match &self.scenarios.get(id.0)?.scenario.trigger {
            Trigger::Event { event, .. } => Some(event),
            Trigger::Date { .. } => None,
        }
    }

    /// The first day on or after `from` (in the contact's time zone) a date
    /// trigger fires for the contact, and the instant it fires at.
    pub fn next_date_trigger(
        &self,
        id: ScenarioId,
        facts: &ContactFacts,
        from: NaiveDate,
    ) -> Option<(NaiveDate, DateTime<Utc>)> {
        let rt = self.scenarios.get(id.0)?;
        let Trigger::Date { offset, at, yearly, .. } = &rt.scenario.trigger else {
            return None;
        };
        let tz = self.tz(facts.contact);
        let date = match facts.contact.fields.get(rt.date_field?)?.as_ref()? {
            crate::contact::FieldValue::Date(d) => *d,
            crate::contact::FieldValue::DateTime(d) => d.with_timezone(&tz).date_naive(),
            _ => return None,
        };
        let day = super::next_trigger_date(date, *offset, *yearly, from)?;
        Some((day, super::local_instant(tz, day.and_time(*at))))
    }

    /// Run an enrolment from where it is up to `now`: push what it sends on
    /// the way to `out`, and say how it stands.
    pub fn advance(
        &self,
        cx: &mut Cx,
        id: ScenarioId,
        e: &mut Enrolment,
        facts: &ContactFacts,
        now: DateTime<Utc>,
        out: &mut Vec<Action<'p>>,
    ) -> Progress {
        self.advance_traced(cx, id, e, facts, now, out, &mut |_| {})
    }

    /// [`Engine::advance`], telling `trace` every step reached and every
    /// way taken at a branching step (journey tests measure coverage so).
    #[allow(clippy::too_many_arguments)]
    pub fn advance_traced(
        &self,
        cx: &mut Cx,
        id: ScenarioId,
        e: &mut Enrolment,
        facts: &ContactFacts,
        now: DateTime<Utc>,
        out: &mut Vec<Action<'p>>,
        trace: &mut dyn FnMut(Passage),
    ) -> Progress {
        let Some(rt) = self.scenarios.get(id.0) else {
            return Progress::Exited {
                at: e.since,
                reason: ExitReason::Lost,
            };
        };
        let event = e.event.clone();
        let facts = ContactFacts {
            event: event.as_deref().or(facts.event),
            ..*facts
        };
        let exits = |cx: &mut Cx, at| rt.exit_when.as_ref().is_some_and(|x| self.holds(cx, &facts, at, x));
        let tz = self.tz(facts.contact);
        loop {
            if !e.cursor.settle(&rt.steps) {
                return if e.cursor.fits(&rt.steps) {
                    Progress::Completed { at: e.since }
                } else {
                    Progress::Exited {
                        at: e.since,
                        reason: ExitReason::Lost,
                    }
                };
            }
            let Some(step) = e.cursor.step(&rt.steps) else {
                return Progress::Exited {
                    at: e.since,
                    reason: ExitReason::Lost,
                };
            };
            trace(Passage::Reached(&e.cursor));
            match step {
                CStep::Wait(d) => {
                    let wake = after(tz, e.since, *d);
                    let seen = wake.min(now).max(e.since);
                    if exits(cx, seen) {
                        return exited(seen);
                    }
                    if wake > now {
                        return Progress::Asleep {
                            until: wake,
                            listening: rt.exit_when.is_some(),
                        };
                    }
                    e.since = wake;
                    e.cursor.next();
                }
                CStep::WaitUntil { until, timeout, .. } => {
                    let deadline = after(tz, e.since, *timeout);
                    let seen = deadline.min(now).max(e.since);
                    if exits(cx, seen) {
                        return exited(seen);
                    }
                    if self.holds(cx, &facts, seen, until) {
                        trace(Passage::Took(&e.cursor, Way::Met));
                        e.since = seen;
                        e.cursor.next();
                    } else if deadline > now {
                        return Progress::Asleep {
                            until: deadline,
                            listening: true,
                        };
                    } else {
                        trace(Passage::Took(&e.cursor, Way::TimedOut));
                        e.since = deadline;
                        e.cursor.enter(Branch::Timeout);
                    }
                }
                CStep::Send { delivery, primary } => {
                    if exits(cx, e.since) {
                        return exited(e.since);
                    }
                    let step = e.cursor.clone();
                    let thread = primary.clone().unwrap_or_else(|| step.clone());
                    out.push(match delivery {
                        Delivery::Message(m) => Action::Send {
                            at: e.since,
                            step,
                            content: Content::Message(m),
                            thread,
                        },
                        Delivery::Experiment(x) => {
                            let salt = format!("scenarios.{}/{step}", rt.name);
                            match experiment::assign(x, &facts.contact.id, &salt) {
                                Group::Holdout => Action::Holdout { at: e.since, step },
                                Group::Test(m) => Action::Send {
                                    at: e.since,
                                    step,
                                    content: Content::Message(m),
                                    thread,
                                },
                                Group::Rest => Action::Send {
                                    at: e.since,
                                    step,
                                    content: Content::Winner(x),
                                    thread,
                                },
                            }
                        }
                    });
                    e.cursor.next();
                }
                CStep::If { condition, .. } => {
                    if exits(cx, e.since) {
                        return exited(e.since);
                    }
                    let (branch, way) = if self.holds(cx, &facts, e.since, condition) {
                        (Branch::Then, Way::Then)
                    } else {
                        (Branch::Else, Way::Else)
                    };
                    trace(Passage::Took(&e.cursor, way));
                    e.cursor.enter(branch);
                }
                CStep::Exit(reason) => {
                    return Progress::Exited {
                        at: e.since,
                        reason: ExitReason::Step(reason.map(str::to_string)),
                    };
                }
            }
        }
    }
}

/// The end of a wait of `d` from `at`: in whole days (`1d`, `2w`), the
/// same wall-clock time that many days later in the contact's zone, across
/// DST changes; otherwise exactly `d` later.
fn after(tz: Tz, at: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    let day = TimeDelta::days(1);
    if d.is_zero() || d.num_seconds() % day.num_seconds() != 0 {
        return later(at, d);
    }
    let days = Days::new(d.num_days().unsigned_abs());
    match at.with_timezone(&tz).naive_local().checked_add_days(days) {
        Some(local) => local_instant(tz, local),
        None => DateTime::<Utc>::MAX_UTC,
    }
}

fn exited(at: DateTime<Utc>) -> Progress {
    Progress::Exited {
        at,
        reason: ExitReason::ExitWhen,
    }
}
