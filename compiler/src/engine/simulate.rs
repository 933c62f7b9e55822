//! Journey tests' driver: one contact, a timeline of what happens to it, and
//! a simulated clock stepped through every instant something is due — as
//! `herald run --once --until` steps a real one — on the same engine.
//!
//! At each instant, in the runner's order (`runtime/src/run/pass.rs`): the
//! timeline's facts of that instant apply (data and consent changes,
//! suppressions; events and engagement are history, read as of each
//! condition's moment); its events enter the scenarios they trigger;
//! campaigns whose instant in the contact's time zone has come queue their
//! send; date triggers enrol; enrolments advance; due sends go through the
//! guards — pressure counted from the simulated ledger of everything sent so
//! far, every campaign and scenario of the plan included. Then the clock
//! moves to the next instant anything is due: a fact, a campaign, a date
//! trigger, a wait's end, a send deferred by quiet hours.
//!
//! Timeline entries before the start are history: they count in conditions
//! and set the contact's data, but trigger nothing. An experiment's winner is
//! not known in a simulation: the rest of its audience gets the first variant.

use super::cursor::{Branch, Cursor};
use super::{
    Action, CStep, CampaignId, CampaignSend, ContactFacts, Content, Drop, Engine, Enrolment, Entry, EventProps,
    ExitReason, Origin, Passage, Previous, Progress, Request, ScenarioId, Sent, Verdict, Way,
};
use crate::ast::values::{Channel, Purpose};
use crate::contact::{Contact, FieldValue, Layout};
use crate::eval::History;
use crate::model::{Delivery, Experiment, Step};
use crate::render::{self, RenderError, Rendered};
use chrono::{DateTime, Days, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// Something that happens to the contact.
#[derive(Clone, Debug, PartialEq)]
pub enum Fact {
    /// An event, with its properties: enters the scenarios it triggers;
    /// `count(NAME)` sees it.
    Event { name: String, props: EventProps },
    /// The contact opened a message (`opened(m)`).
    Opened(String),
    /// The contact clicked in a message (`clicked(m)`; it was opened too).
    Clicked(String),
    /// The contact unsubscribed from a message, a provider reported a
    /// bounce or a complaint: the message's channel is suppressed for the
    /// contact from then on, as the runner does.
    Stopped { message: String, kind: StopKind },
    /// A consent (by its index in the layout) given or withdrawn.
    Consent { index: usize, given: bool },
    /// A field (by its index in the layout) changes; `None` removes its
    /// value. `invalid`: an email or phone that is not a valid address
    /// (kept as a CRM row's is; nothing is sent to it).
    Set {
        index: usize,
        value: Option<FieldValue>,
        invalid: Option<crate::contact::Reason>,
    },
}

/// What stops a channel for the contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StopKind {
    Unsubscribed,
    Bounced,
    Complained,
}

impl StopKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StopKind::Unsubscribed => "unsubscribed",
            StopKind::Bounced => "bounced",
            StopKind::Complained => "complained",
        }
    }
}

/// A fact at its instant.
#[derive(Clone, Debug, PartialEq)]
pub struct Timed {
    pub at: DateTime<Utc>,
    pub fact: Fact,
}

/// What a journey test simulates: a contact (typed through the layout the
/// engine was made for), the facts of its timeline, and the span of time.
#[derive(Clone, Debug, PartialEq)]
pub struct Journey {
    pub contact: Contact,
    pub start: DateTime<Utc>,
    /// The last instant simulated (inclusive).
    pub until: DateTime<Utc>,
    /// In any order; facts of the same instant apply in the order given.
    pub timeline: Vec<Timed>,
}

/// What happened, at an instant.
#[derive(Clone, Debug, PartialEq)]
pub enum What<'p> {
    /// The contact entered a scenario.
    Entered { scenario: ScenarioId },
    /// A scenario's trigger fired, and the contact did not enter.
    NotEntered { scenario: ScenarioId, why: Entry },
    /// A campaign's instant came, and the contact was not in its audience.
    NotInAudience { campaign: CampaignId },
    /// The contact is in the control group of an A/B test (of these
    /// variants): nothing is sent.
    Holdout { origin: Origin, variants: Vec<&'p str> },
    /// A message went out, rendered for the contact.
    Sent {
        origin: Origin,
        message: &'p str,
        /// When it was first due (a deferred send goes out later).
        due: DateTime<Utc>,
        rendered: Box<Rendered>,
    },
    /// The guards passed but the message could not be rendered (the runner
    /// records such a send as failed).
    Failed {
        origin: Origin,
        message: &'p str,
        error: RenderError,
    },
    /// Quiet hours: the send waits until this instant.
    Deferred {
        origin: Origin,
        message: &'p str,
        until: DateTime<Utc>,
    },
    /// A guard dropped the send.
    Dropped {
        origin: Origin,
        message: &'p str,
        reason: Drop,
    },
    /// The enrolment ended before its last step.
    Exited { scenario: ScenarioId, reason: ExitReason },
    /// The enrolment ran its last step.
    Completed { scenario: ScenarioId },
    /// A fact of the timeline (shown in the actual timeline).
    Fact(Fact),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Happening<'p> {
    pub at: DateTime<Utc>,
    pub what: What<'p>,
}

/// A place in a scenario that a test may or may not reach: a step, or one
/// way out of a branching step.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Point {
    Step(Cursor),
    Way(Cursor, Way),
}

/// The outcome of a simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct Simulation<'p> {
    /// In time order.
    pub happenings: Vec<Happening<'p>>,
    /// The steps reached and the ways taken, per scenario.
    pub reached: BTreeSet<(ScenarioId, Point)>,
    /// The simulation stopped at [`MAX_STOPS`] instants, before `until`.
    pub truncated: bool,
}

/// The most instants one simulation steps through.
pub const MAX_STOPS: usize = 100_000;

/// Every step and every way out of a branching step of a scenario.
pub fn points(steps: &[Step]) -> Vec<(Point, &Step)> {
    fn walk<'s>(steps: &'s [Step], mut at: Cursor, out: &mut Vec<(Point, &'s Step)>) {
        for step in steps {
            out.push((Point::Step(at.clone()), step));
            match step {
                Step::If { then, otherwise, .. } => {
                    out.push((Point::Way(at.clone(), Way::Then), step));
                    out.push((Point::Way(at.clone(), Way::Else), step));
                    let mut inner = at.clone();
                    inner.enter(Branch::Then);
                    walk(then, inner, out);
                    let mut inner = at.clone();
                    inner.enter(Branch::Else);
                    walk(otherwise, inner, out);
                }
                Step::WaitUntil { on_timeout, .. } => {
                    out.push((Point::Way(at.clone(), Way::Met), step));
                    out.push((Point::Way(at.clone(), Way::TimedOut), step));
                    let mut inner = at.clone();
                    inner.enter(Branch::Timeout);
                    walk(on_timeout, inner, out);
                }
                _ => {}
            }
            at.next();
        }
    }
    let mut out = Vec::new();
    walk(steps, Cursor::start(), &mut out);
    out
}

/// The timeline's events and engagement, read as of each moment.
struct TimelineHistory {
    events: Vec<(String, DateTime<Utc>)>,
    /// (message, clicked, at): a click is also an open.
    engagement: Vec<(String, bool, DateTime<Utc>)>,
}

impl History for TimelineHistory {
    fn opened(&self, message: &str, at: DateTime<Utc>) -> bool {
        self.engagement.iter().any(|(m, _, t)| m == message && *t <= at)
    }
    fn clicked(&self, message: &str, at: DateTime<Utc>) -> bool {
        self.engagement.iter().any(|(m, c, t)| m == message && *c && *t <= at)
    }
    fn count(&self, event: &str, since: Option<DateTime<Utc>>, at: DateTime<Utc>) -> u64 {
        self.events
            .iter()
            .filter(|(e, t)| e == event && *t <= at && since.is_none_or(|s| *t > s))
            .count() as u64
    }
}

/// An enrolment in progress.
struct Active {
    id: ScenarioId,
    e: Enrolment,
    /// Its number among the contact's enrolments (for re-entry).
    number: usize,
    wake: Option<DateTime<Utc>>,
    listening: bool,
    /// Entered at this stop: advance it now.
    fresh: bool,
}

/// A send waiting for its moment.
struct Queued<'p> {
    origin: Origin,
    message: &'p str,
    due: DateTime<Utc>,
    not_before: DateTime<Utc>,
    priority: u8,
    seq: usize,
    event: Option<EventProps>,
    /// The solicitation it belongs to (a send and its fallbacks share it).
    thread: u64,
}

fn variants(x: &Experiment) -> Vec<&str> {
    x.variants.iter().map(|v| v.message.as_str()).collect()
}

fn priority(p: Purpose) -> u8 {
    match p {
        Purpose::Transactional => 0,
        Purpose::Service => 1,
        Purpose::Marketing => 2,
    }
}

/// The addresses of the pages a send links to, in a simulation.
const UNSUBSCRIBE_URL: &str = "https://example.test/unsubscribe/TEST";
const PREFERENCES_URL: &str = "https://example.test/preferences/TEST";
const VIEW_ONLINE_URL: &str = "https://example.test/view/TEST";

struct Sim<'e, 'p> {
    engine: &'e Engine<'p>,
    layout: &'e Layout,
    cx: super::Cx,
    contact: Contact,
    history: TimelineHistory,
    start: DateTime<Utc>,
    suppressed: Vec<Channel>,
    active: Vec<Active>,
    /// The latest enrolment of each scenario: (entered at, number).
    latest: Vec<Option<(DateTime<Utc>, usize)>>,
    enrolments: usize,
    campaign_done: Vec<bool>,
    queue: Vec<Queued<'p>>,
    seq: usize,
    log: Vec<Sent<'p>>,
    out: Simulation<'p>,
}

/// Simulate a journey. `layout` is the one `engine` was made for (the
/// contact and the facts' indices are in its terms).
pub fn simulate<'p>(engine: &Engine<'p>, layout: &Layout, journey: &Journey) -> Simulation<'p> {
    let mut timeline: Vec<&Timed> = journey.timeline.iter().collect();
    timeline.sort_by_key(|t| t.at);
    let mut history = TimelineHistory {
        events: Vec::new(),
        engagement: Vec::new(),
    };
    for t in &timeline {
        match &t.fact {
            Fact::Event { name, .. } => history.events.push((name.clone(), t.at)),
            Fact::Opened(m) => history.engagement.push((m.clone(), false, t.at)),
            Fact::Clicked(m) => history.engagement.push((m.clone(), true, t.at)),
            _ => {}
        }
    }
    let mut sim = Sim {
        engine,
        layout,
        cx: engine.cx(),
        contact: journey.contact.clone(),
        history,
        start: journey.start,
        suppressed: Vec::new(),
        active: Vec::new(),
        latest: vec![None; engine.scenario_count()],
        enrolments: 0,
        campaign_done: vec![false; engine.campaign_count()],
        queue: Vec::new(),
        seq: 0,
        log: Vec::new(),
        out: Simulation {
            happenings: Vec::new(),
            reached: BTreeSet::new(),
            truncated: false,
        },
    };
    let mut now = journey.start;
    let mut prev: Option<DateTime<Utc>> = None;
    let mut next_fact = 0;
    for stop in 0.. {
        if stop >= MAX_STOPS {
            sim.out.truncated = true;
            break;
        }
        // 1. The facts of this instant (all those before the start, first).
        let mut events = Vec::new();
        let mut fresh = false;
        while let Some(t) = timeline.get(next_fact).filter(|t| t.at <= now) {
            next_fact += 1;
            fresh = true;
            sim.apply(t, &mut events);
        }
        sim.cx.reset();
        // 2–4. Entries and campaigns, in the runner's order.
        for (at, name, props) in events {
            sim.event(at, name, props);
        }
        let window = |t: DateTime<Utc>| t >= journey.start && t <= now && prev.is_none_or(|p| t > p);
        sim.campaigns(&window);
        sim.dates(prev.unwrap_or(journey.start), now, &window);
        // 5. Enrolments due, or listening to new facts.
        sim.advance(now, fresh);
        // 6. Sends due.
        sim.sends(now);
        // The next instant anything is due.
        let mut next = timeline.get(next_fact).map(|t| t.at);
        let mut due = |t: DateTime<Utc>| {
            if t > now && next.is_none_or(|n| t < n) {
                next = Some(t);
            }
        };
        sim.next_instants(now, &mut due);
        prev = Some(now);
        match next {
            Some(t) if t <= journey.until => now = t,
            _ => break,
        }
    }
    // At one instant: facts, then entries, then sends, then exits.
    sim.out.happenings.sort_by_key(|h| (h.at, rank(&h.what)));
    sim.out
}

fn rank(w: &What) -> u8 {
    match w {
        What::Fact(_) => 0,
        What::Entered { .. } | What::NotEntered { .. } | What::NotInAudience { .. } => 1,
        What::Holdout { .. }
        | What::Sent { .. }
        | What::Failed { .. }
        | What::Deferred { .. }
        | What::Dropped { .. } => 2,
        What::Exited { .. } | What::Completed { .. } => 3,
    }
}

impl<'p> Sim<'_, 'p> {
    fn facts(&self) -> ContactFacts<'_> {
        ContactFacts {
            contact: &self.contact,
            event: None,
            history: &self.history,
        }
    }

    fn happen(&mut self, at: DateTime<Utc>, what: What<'p>) {
        self.out.happenings.push(Happening { at, what });
    }

    fn apply<'t>(&mut self, t: &'t Timed, events: &mut Vec<(DateTime<Utc>, &'t str, &'t EventProps)>) {
        match &t.fact {
            Fact::Event { name, props } => {
                // Before the start: history only.
                if t.at >= self.start {
                    events.push((t.at, name, props));
                }
            }
            Fact::Opened(_) | Fact::Clicked(_) => {}
            Fact::Stopped { message, .. } => {
                if let Some(m) = self.engine.plan.messages.get(message)
                    && !self.suppressed.contains(&m.channel())
                {
                    self.suppressed.push(m.channel());
                }
            }
            Fact::Consent { index, given } => {
                if let Some(c) = self.contact.consents.get_mut(*index) {
                    c.given = *given;
                    c.at = Some(t.at.date_naive());
                }
            }
            Fact::Set { index, value, invalid } => {
                if let Some(slot) = self.contact.fields.get_mut(*index) {
                    slot.clone_from(value);
                }
                self.contact.invalid.retain(|(i, _)| i != index);
                if let Some(reason) = invalid {
                    self.contact.invalid.push((*index, reason.clone()));
                    self.contact.invalid.sort_by_key(|(i, _)| *i);
                }
            }
        }
        if t.at >= self.start {
            self.happen(t.at, What::Fact(t.fact.clone()));
        }
    }

    fn previous(&self, id: ScenarioId) -> Option<Previous> {
        self.latest
            .get(id.0)
            .copied()
            .flatten()
            .map(|(entered_at, number)| Previous {
                entered_at,
                active: self.active.iter().any(|a| a.number == number),
            })
    }

    fn enter(&mut self, id: ScenarioId, at: DateTime<Utc>, facts_event: Option<&EventProps>) {
        let previous = self.previous(id);
        let facts = ContactFacts {
            contact: &self.contact,
            event: facts_event.map(Vec::as_slice),
            history: &self.history,
        };
        let entry = self.engine.entry(&mut self.cx, id, &facts, previous, at);
        if entry != Entry::Enter {
            self.happen(
                at,
                What::NotEntered {
                    scenario: id,
                    why: entry,
                },
            );
            return;
        }
        self.enrolments += 1;
        let number = self.enrolments;
        if let Some(l) = self.latest.get_mut(id.0) {
            *l = Some((at, number));
        }
        self.active.push(Active {
            id,
            e: Enrolment::new(at, facts_event.cloned()),
            number,
            wake: None,
            listening: false,
            fresh: true,
        });
        self.happen(at, What::Entered { scenario: id });
    }

    fn event(&mut self, at: DateTime<Utc>, name: &str, props: &EventProps) {
        for i in 0..self.engine.scenario_count() {
            let id = ScenarioId(i);
            if self.engine.trigger_event(id) == Some(name) {
                self.enter(id, at, Some(props));
            }
        }
    }

    fn campaigns(&mut self, window: &dyn Fn(DateTime<Utc>) -> bool) {
        let tz = self.engine.tz(&self.contact);
        for i in 0..self.engine.campaign_count() {
            let id = CampaignId(i);
            let Some(at) = self.engine.campaign_instant(id, tz) else {
                continue;
            };
            if self.campaign_done.get(i).copied().unwrap_or(true) || !window(at) {
                continue;
            }
            self.campaign_done[i] = true;
            let facts = ContactFacts {
                contact: &self.contact,
                event: None,
                history: &self.history,
            };
            let send = self.engine.campaign(&mut self.cx, id, &facts, at);
            match send {
                None => self.happen(at, What::NotInAudience { campaign: id }),
                Some(CampaignSend::Holdout) => {
                    let campaign: Option<&'p crate::model::Campaign> = self.engine.campaigns.get(i).map(|c| c.campaign);
                    if let Some(Delivery::Experiment(x)) = campaign.map(|c| &c.delivery) {
                        self.happen(
                            at,
                            What::Holdout {
                                origin: Origin::Campaign(id),
                                variants: variants(x),
                            },
                        );
                    }
                }
                Some(CampaignSend::Send { at, content, .. }) => {
                    let thread = super::guard::campaign_thread(id);
                    self.queue(Origin::Campaign(id), content, at, None, thread);
                }
            }
        }
    }

    fn dates(&mut self, from: DateTime<Utc>, now: DateTime<Utc>, window: &dyn Fn(DateTime<Utc>) -> bool) {
        let tz = self.engine.tz(&self.contact);
        for i in 0..self.engine.scenario_count() {
            let id = ScenarioId(i);
            if self.engine.trigger_event(id).is_some() {
                continue;
            }
            let mut day = from.with_timezone(&tz).date_naive();
            // Every trigger day of the window (a yearly trigger fires once a year).
            for _ in 0..400 {
                let facts = self.facts();
                let Some((d, at)) = self.engine.next_date_trigger(id, &facts, day) else {
                    break;
                };
                if at > now {
                    break;
                }
                if window(at) {
                    self.enter(id, at, None);
                }
                match d.checked_add_days(Days::new(1)) {
                    Some(next) => day = next,
                    None => break,
                }
            }
        }
    }

    fn queue(
        &mut self,
        origin: Origin,
        content: Content<'p>,
        at: DateTime<Utc>,
        event: Option<EventProps>,
        thread: u64,
    ) {
        let message = content.message(|_| None);
        let Some((name, m)) = self.engine.plan.messages.get_key_value(message) else {
            return;
        };
        self.seq += 1;
        self.queue.push(Queued {
            origin,
            message: name,
            due: at,
            not_before: at,
            priority: priority(m.purpose),
            seq: self.seq,
            event,
            thread,
        });
    }

    fn advance(&mut self, now: DateTime<Utc>, fresh_facts: bool) {
        let mut active = std::mem::take(&mut self.active);
        let mut kept = Vec::with_capacity(active.len());
        let mut actions = Vec::new();
        for mut a in active.drain(..) {
            let due = a.fresh || a.wake.is_none_or(|w| w <= now) || (a.listening && fresh_facts);
            if !due {
                kept.push(a);
                continue;
            }
            a.fresh = false;
            actions.clear();
            let reached = &mut self.out.reached;
            let id = a.id;
            let facts = ContactFacts {
                contact: &self.contact,
                event: None,
                history: &self.history,
            };
            let mut trace = |p: Passage| {
                let point = match p {
                    Passage::Reached(c) => Point::Step(c.clone()),
                    Passage::Took(c, w) => Point::Way(c.clone(), w),
                };
                reached.insert((id, point));
            };
            let progress =
                self.engine
                    .advance_traced(&mut self.cx, id, &mut a.e, &facts, now, &mut actions, &mut trace);
            for action in actions.drain(..) {
                match action {
                    Action::Send {
                        at, content, thread, ..
                    } => {
                        let thread = super::guard::scenario_thread(id, a.e.entered_at, &thread);
                        self.queue(Origin::Scenario(id), content, at, a.e.event.clone(), thread);
                    }
                    Action::Holdout { at, step } => {
                        if let Some(x) = self.step_experiment(id, &step) {
                            self.happen(
                                at,
                                What::Holdout {
                                    origin: Origin::Scenario(id),
                                    variants: variants(x),
                                },
                            );
                        }
                    }
                }
            }
            match progress {
                Progress::Asleep { until, listening } => {
                    a.wake = Some(until);
                    a.listening = listening;
                    kept.push(a);
                }
                Progress::Exited { at, reason } => self.happen(at, What::Exited { scenario: id, reason }),
                Progress::Completed { at } => self.happen(at, What::Completed { scenario: id }),
            }
        }
        kept.append(&mut self.active);
        self.active = kept;
    }

    /// The experiment of a scenario's send step.
    fn step_experiment(&self, id: ScenarioId, step: &Cursor) -> Option<&'p Experiment> {
        let rt = self.engine.scenarios.get(id.0)?;
        let CStep::Send { delivery, .. } = step.step(&rt.steps)? else {
            return None;
        };
        let d: &'p Delivery = delivery;
        match d {
            Delivery::Experiment(x) => Some(x),
            Delivery::Message(_) => None,
        }
    }

    fn sends(&mut self, now: DateTime<Utc>) {
        let mut due: Vec<Queued<'p>> = Vec::new();
        let mut i = 0;
        while i < self.queue.len() {
            if self.queue[i].not_before <= now {
                due.push(self.queue.swap_remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|q| (q.not_before, q.priority, q.seq));
        for mut q in due {
            let facts = ContactFacts {
                contact: &self.contact,
                event: None,
                history: &self.history,
            };
            let verdict = self.engine.decide(
                &mut self.cx,
                &facts,
                &Request {
                    origin: q.origin,
                    message: q.message,
                    due: q.due,
                    thread: q.thread,
                },
                &self.log,
                &self.suppressed,
                now,
            );
            let (origin, message) = (q.origin, q.message);
            match verdict {
                Verdict::Send => match self.render(message, q.event.as_ref()) {
                    Ok(rendered) => {
                        if let Some(m) = self.engine.plan.messages.get(message) {
                            let what = self.engine.solicitation(origin, m);
                            self.log.push(Sent {
                                at: now,
                                what,
                                thread: q.thread,
                            });
                        }
                        self.happen(
                            now,
                            What::Sent {
                                origin,
                                message,
                                due: q.due,
                                rendered: Box::new(rendered),
                            },
                        );
                    }
                    Err(error) => self.happen(now, What::Failed { origin, message, error }),
                },
                Verdict::Defer(until) => {
                    self.happen(now, What::Deferred { origin, message, until });
                    q.not_before = until;
                    self.queue.push(q);
                }
                Verdict::Drop(reason) => self.happen(
                    now,
                    What::Dropped {
                        origin,
                        message,
                        reason,
                    },
                ),
            }
        }
    }

    /// The message rendered for the contact, as the runner renders it.
    fn render(&self, message: &str, event: Option<&EventProps>) -> Result<Rendered, RenderError> {
        let Some(m) = self.engine.plan.messages.get(message) else {
            return Err(RenderError {
                part: "message",
                message: format!("`{message}` is not in the plan"),
            });
        };
        let event: BTreeMap<&str, minijinja::Value> = event
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str(), crate::contact::template_value(v.as_ref()?))))
            .collect();
        let ctx = minijinja::context! {
            contact => crate::contact::contact_value(self.layout, &self.contact),
            event => event,
            unsubscribe_url => UNSUBSCRIBE_URL,
            preferences_url => PREFERENCES_URL,
            view_online_url => VIEW_ONLINE_URL,
        };
        render::render(&self.engine.plan.config, m, &ctx)
    }

    /// Report every instant after `now` something is due.
    fn next_instants(&self, now: DateTime<Utc>, due: &mut dyn FnMut(DateTime<Utc>)) {
        for a in &self.active {
            if let Some(w) = a.wake {
                due(w);
            }
        }
        for q in &self.queue {
            due(q.not_before);
        }
        let tz = self.engine.tz(&self.contact);
        for i in 0..self.engine.campaign_count() {
            if !self.campaign_done.get(i).copied().unwrap_or(true)
                && let Some(at) = self.engine.campaign_instant(CampaignId(i), tz)
            {
                due(at);
            }
        }
        let facts = self.facts();
        let today = now.with_timezone(&tz).date_naive();
        for i in 0..self.engine.scenario_count() {
            let id = ScenarioId(i);
            if self.engine.trigger_event(id).is_some() {
                continue;
            }
            // Today's trigger may be past: look at the next days too.
            let mut day = today;
            for _ in 0..3 {
                let Some((d, at)) = self.engine.next_date_trigger(id, &facts, day) else {
                    break;
                };
                if at > now {
                    due(at);
                    break;
                }
                match d.checked_add_days(Days::new(1)) {
                    Some(next) => day = next,
                    None => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::values::Duration;
    use crate::model::{Cond, CondKind};
    use crate::source::Span;

    #[test]
    fn points_name_every_step_and_every_way() {
        let cond = || Cond {
            kind: CondKind::Const { value: true },
            span: Span::default(),
        };
        let exit = || Step::Exit {
            reason: None,
            span: Span::default(),
        };
        let steps = vec![
            Step::If {
                condition: cond(),
                then: vec![exit()],
                otherwise: vec![],
                span: Span::default(),
            },
            Step::WaitUntil {
                until: cond(),
                timeout: Duration::from_minutes(60).unwrap(),
                on_timeout: vec![exit()],
                span: Span::default(),
            },
        ];
        let shown: Vec<String> = points(&steps)
            .into_iter()
            .map(|(p, _)| match p {
                Point::Step(c) => c.to_string(),
                Point::Way(c, w) => format!("{c} {w:?}"),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "0",
                "0 Then",
                "0 Else",
                "0/then/0",
                "1",
                "1 Met",
                "1 TimedOut",
                "1/timeout/0"
            ]
        );
    }

    #[test]
    fn the_timeline_history_is_read_as_of_a_moment() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let h = TimelineHistory {
            events: vec![("purchase".into(), t("2026-11-27T10:00:00Z"))],
            engagement: vec![("m".into(), true, t("2026-11-27T12:00:00Z"))],
        };
        assert_eq!(h.count("purchase", None, t("2026-11-27T09:59:00Z")), 0);
        assert_eq!(h.count("purchase", None, t("2026-11-27T10:00:00Z")), 1);
        assert!(!h.opened("m", t("2026-11-27T11:00:00Z")));
        assert!(h.opened("m", t("2026-11-27T12:00:00Z")), "a click is an open");
        assert!(h.clicked("m", t("2026-11-27T12:00:00Z")));
    }
}
