//! The forecast: who will receive what, on real contacts, streamed one
//! contact at a time (the caller reads the CRM; this module only counts).
//!
//! It drives the step engine ([`crate::engine`]) over the horizon as the
//! runner would with a clock stepping through it, on the CRM's data as it is
//! now and with no engagement yet (nobody has opened anything): each
//! campaign at its instant in the contact's time zone, each date-triggered
//! scenario entered on its days within the horizon and run to the horizon's
//! end. Then, per contact in time order (transactional before service before
//! marketing at the same instant), every send goes through the engine's
//! guards: quiet hours defer it, address, consent and pressure caps drop it.
//! Event-triggered scenarios depend on future events: the forecast counts the
//! contacts eligible to enter them.

use crate::ast::values::{Channel, Purpose};
use crate::contact::{Contact, FieldValue, Layout};
use crate::engine::{
    self, Action, CampaignId, CampaignSend, ContactFacts, Content, Cx, Engine, Enrolment, Entry, Group, Origin,
    Previous, Progress, Request, ScenarioId, Sent, Verdict,
};
use crate::eval::{History, NoHistory};
use crate::model::{Message, MessageContent, Plan, PressureRule, Trigger};
use crate::rules::pressure_counts;
use crate::sms;
use crate::template::{Emit, Out};
use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Suppressed {
    /// Marketing sends to contacts without a consent on the channel.
    pub consent: u64,
    /// Contacts without an address for the channel (no email, no phone).
    pub no_address: u64,
    /// Contacts whose address for the channel is not a valid one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub invalid_address: u64,
    /// Dropped by each pressure rule, by its key (`policies.pressure[i]`, `baseline.email`).
    pub pressure: BTreeMap<String, u64>,
    /// Quiet hours would defer them past the expiry (72 hours).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub quiet_hours: u64,
    /// Marketing sends to contacts `policies.suppress` holds for.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub policy: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExperimentImpact {
    pub holdout: u64,
    /// Contacts per variant in the test group.
    pub variants: BTreeMap<String, u64>,
    /// Contacts who get the winner after the test.
    pub rest: u64,
    pub min_sample: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    /// Contacts matching the audience (scenarios: eligible now).
    pub audience: u64,
    /// Sends that go out (after every suppression).
    pub recipients: u64,
    pub by_channel: BTreeMap<Channel, u64>,
    pub suppressed: Suppressed,
    /// Sends moved to the next allowed time by quiet hours.
    pub deferred_quiet_hours: u64,
    pub sms_segments: u64,
    pub cost: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ExperimentImpact>,
    /// Scenarios with a date trigger: contacts entering within the horizon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// Scenarios with an event trigger: sends depend on future events.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub event_triggered: bool,
    /// Scenarios with an event trigger, when an event history is read: the
    /// entries its past trigger events would have made since the replay
    /// start ([`Forecaster::replay_triggers_since`]), under the entry rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_entries: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub contacts: u64,
    pub horizon_days: u64,
    pub campaigns: BTreeMap<String, Impact>,
    pub scenarios: BTreeMap<String, Impact>,
    pub recipients: u64,
    pub sms_segments: u64,
    pub cost: f64,
}

/// A send the contact's plan schedules, before the guards.
struct Candidate<'p> {
    at: DateTime<Utc>,
    due: DateTime<Utc>,
    origin: Origin,
    message: &'p str,
    msg: &'p Message,
    priority: u8,
    deferred: bool,
    /// The solicitation it belongs to (a send and its fallbacks share one).
    thread: u64,
}

fn priority(p: Purpose) -> u8 {
    match p {
        Purpose::Transactional => 0,
        Purpose::Service => 1,
        Purpose::Marketing => 2,
    }
}

/// Entries into one scenario per contact, at most, within a horizon (a
/// yearly trigger fires once a year; a bound keeps a huge horizon finite).
const MAX_ENTRIES: usize = 400;

pub struct Forecaster<'p> {
    plan: &'p Plan,
    layout: &'p Layout,
    engine: Engine<'p>,
    cx: Cx,
    now: DateTime<Utc>,
    end: DateTime<Utc>,
    cost_per_segment: f64,
    sms_plans: BTreeMap<&'p str, SmsPlan<'p>>,
    out: Forecast,
    /// Impacts by campaign and scenario index (names are only for output).
    campaign_impacts: Vec<Impact>,
    scenario_impacts: Vec<Impact>,
    /// Times that depend only on the time zone, per zone seen.
    local_times: Vec<LocalTimes>,
    /// Reused for every contact.
    candidates: Vec<Candidate<'p>>,
    actions: Vec<Action<'p>>,
    delivered: Vec<Sent<'p>>,
    /// Replay past trigger events from this instant (an event history is
    /// read), for the scenarios marked replayable (by index).
    replay: Option<(DateTime<Utc>, Vec<bool>)>,
    times: Vec<DateTime<Utc>>,
}

/// For one time zone: each campaign's send instant, and today's date.
struct LocalTimes {
    tz: Tz,
    campaign_at: Vec<Option<DateTime<Utc>>>,
    today: NaiveDate,
}

impl<'p> Forecaster<'p> {
    pub fn new(plan: &'p Plan, layout: &'p Layout, now: DateTime<Utc>, horizon_days: u64) -> Self {
        let mut sms_plans = BTreeMap::new();
        for (name, m) in &plan.messages {
            if let MessageContent::Sms {
                text, transliterate, ..
            } = &m.content
            {
                sms_plans.insert(name.as_str(), sms_plan(plan, text, *transliterate));
            }
        }
        let out = Forecast {
            horizon_days,
            ..Forecast::default()
        };
        let campaign_impacts = plan.campaigns.values().map(|_| Impact::default()).collect();
        let scenario_impacts = plan
            .scenarios
            .values()
            .map(|s| Impact {
                event_triggered: matches!(s.trigger, Trigger::Event { .. }),
                ..Impact::default()
            })
            .collect();
        let engine = Engine::new(plan, layout);
        let horizon = chrono::TimeDelta::try_days(i64::try_from(horizon_days).unwrap_or(i64::MAX))
            .unwrap_or(chrono::TimeDelta::MAX);
        Forecaster {
            plan,
            layout,
            cx: engine.cx(),
            engine,
            now,
            end: now.checked_add_signed(horizon).unwrap_or(DateTime::<Utc>::MAX_UTC),
            cost_per_segment: plan.config.providers.sms.as_ref().map_or(0.0, |p| p.cost_per_segment),
            sms_plans,
            out,
            campaign_impacts,
            scenario_impacts,
            local_times: Vec::new(),
            candidates: Vec::new(),
            actions: Vec::new(),
            delivered: Vec::new(),
            replay: None,
            times: Vec::new(),
        }
    }

    /// Replay each contact's past trigger events from `since` to now through
    /// the entry rule (audience, re-entry, `exit_when` at each event's time),
    /// counting [`Impact::history_entries`] of event-triggered scenarios:
    /// the rate at which they are entered, for A/B samples. Triggers whose
    /// condition reads the event's properties are not replayed (a history
    /// keeps none).
    pub fn replay_triggers_since(&mut self, since: DateTime<Utc>) {
        let replayable = (0..self.engine.scenario_count())
            .map(ScenarioId)
            .map(|id| self.engine.trigger_event(id).is_some() && !self.engine.trigger_reads_event(id))
            .collect();
        self.replay = Some((since.min(self.now), replayable));
    }

    /// The index in `local_times` of a zone, computed on first sight.
    fn local_times(&mut self, tz: Tz) -> usize {
        if let Some(i) = self.local_times.iter().position(|l| l.tz == tz) {
            return i;
        }
        let engine = &self.engine;
        self.local_times.push(LocalTimes {
            tz,
            campaign_at: (0..engine.campaign_count())
                .map(|i| engine.campaign_instant(CampaignId(i), tz))
                .collect(),
            today: self.now.with_timezone(&tz).date_naive(),
        });
        self.local_times.len() - 1
    }

    /// Count one contact, with no history (`count()` 0, nothing opened).
    pub fn add(&mut self, contact: &Contact) {
        self.add_with_history(contact, &NoHistory);
    }

    /// Count one contact whose history is known (events read from the CRM,
    /// engagement from the ledger): conditions read it as of each instant.
    pub fn add_with_history(&mut self, contact: &Contact, history: &dyn History) {
        self.out.contacts += 1;
        self.cx.reset();
        let tz = self.engine.tz(contact);
        let local = self.local_times(tz);
        let facts = ContactFacts {
            contact,
            event: None,
            history,
        };
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();
        self.campaigns(&facts, local, &mut candidates);
        self.scenarios(&facts, local, &mut candidates);

        // Quiet hours first (the runner defers), then time order and priority.
        for cand in &mut candidates {
            if let Some(next) = self
                .engine
                .quiet_until(cand.msg.channel(), cand.msg.purpose, tz, cand.at)
            {
                cand.at = next;
                cand.deferred = true;
            }
        }
        candidates.sort_by(|a, b| a.at.cmp(&b.at).then(a.priority.cmp(&b.priority)));
        self.delivered.clear();
        for cand in candidates.drain(..) {
            self.deliver(&facts, cand);
        }
        self.candidates = candidates;
    }

    /// Each campaign at its instant in the contact's zone (no later than the
    /// expiry ago: the runner still sends those).
    fn campaigns(&mut self, facts: &ContactFacts, local: usize, out: &mut Vec<Candidate<'p>>) {
        let plan = self.plan;
        for i in 0..self.engine.campaign_count() {
            let Some(at) = self.local_times[local].campaign_at[i] else {
                continue;
            };
            if engine::guard::EXPIRY
                .checked_add(&(at - self.now))
                .is_none_or(|late| late < chrono::TimeDelta::zero())
            {
                continue;
            }
            let Some(send) = self.engine.campaign(&mut self.cx, CampaignId(i), facts, at) else {
                continue;
            };
            let Some(impact) = self.campaign_impacts.get_mut(i) else {
                continue;
            };
            impact.audience += 1;
            let (at, content, group) = match send {
                CampaignSend::Holdout => {
                    experiment(impact, plan, i).holdout += 1;
                    continue;
                }
                CampaignSend::Send { at, content, group } => (at, content, group),
            };
            match group {
                Some(Group::Test(v)) => *experiment(impact, plan, i).variants.entry(v.to_string()).or_default() += 1,
                Some(Group::Rest) => experiment(impact, plan, i).rest += 1,
                _ => {}
            }
            let thread = engine::guard::campaign_thread(CampaignId(i));
            push(plan, out, at, Origin::Campaign(CampaignId(i)), content, thread);
        }
    }

    /// Date-triggered scenarios entered within the horizon, run to its end.
    fn scenarios(&mut self, facts: &ContactFacts, local: usize, out: &mut Vec<Candidate<'p>>) {
        let plan = self.plan;
        for i in 0..self.engine.scenario_count() {
            let id = ScenarioId(i);
            if !self.engine.eligible(&mut self.cx, id, facts, self.now) {
                continue;
            }
            let Some(impact) = self.scenario_impacts.get_mut(i) else {
                continue;
            };
            impact.audience += 1;
            if let Some(event) = self.engine.trigger_event(id) {
                if let Some((since, replayable)) = &self.replay
                    && replayable.get(i) == Some(&true)
                {
                    let since = *since;
                    let n = self.replay(id, event, facts, since);
                    if let Some(impact) = self.scenario_impacts.get_mut(i) {
                        impact.history_entries = Some(impact.history_entries.unwrap_or(0) + n);
                    }
                }
                continue;
            }
            let mut from = self.local_times[local].today;
            let mut previous: Option<Previous> = None;
            for _ in 0..MAX_ENTRIES {
                let Some((day, at)) = self.engine.next_date_trigger(id, facts, from) else {
                    break;
                };
                if at > self.end {
                    break;
                }
                from = match day.checked_add_days(Days::new(1)) {
                    Some(d) => d,
                    None => break,
                };
                // Strictly after now: the runner enters triggers that come
                // after the plan is applied.
                if at <= self.now {
                    continue;
                }
                if self.engine.entry(&mut self.cx, id, facts, previous, at) != Entry::Enter {
                    continue;
                }
                if let Some(impact) = self.scenario_impacts.get_mut(i) {
                    impact.entries = Some(impact.entries.unwrap_or(0) + 1);
                }
                let mut e = Enrolment::new(at, None);
                self.actions.clear();
                let progress = self
                    .engine
                    .advance(&mut self.cx, id, &mut e, facts, self.end, &mut self.actions);
                previous = Some(Previous {
                    entered_at: at,
                    active: matches!(progress, Progress::Asleep { .. }),
                });
                for a in self.actions.drain(..) {
                    match a {
                        Action::Send {
                            at, content, thread, ..
                        } => {
                            let thread = engine::guard::scenario_thread(id, e.entered_at, &thread);
                            push(plan, out, at, Origin::Scenario(id), content, thread);
                        }
                        Action::Holdout { .. } => {}
                    }
                }
            }
        }
    }

    /// The entries a contact's past `event`s since `since` make in a
    /// scenario: each is offered to the entry rule, with the previous
    /// enrolment advanced to that instant to know whether it is still on.
    fn replay(&mut self, id: ScenarioId, event: &str, facts: &ContactFacts, since: DateTime<Utc>) -> u64 {
        let mut times = std::mem::take(&mut self.times);
        times.clear();
        facts.history.times(event, since, self.now, &mut times);
        let mut entered = 0;
        let mut last: Option<(Enrolment, Previous)> = None;
        for &at in &times {
            if let Some((e, p)) = &mut last
                && p.active
            {
                self.actions.clear();
                let progress = self.engine.advance(&mut self.cx, id, e, facts, at, &mut self.actions);
                p.active = matches!(progress, Progress::Asleep { .. });
            }
            let previous = last.as_ref().map(|(_, p)| *p);
            if self.engine.entry(&mut self.cx, id, facts, previous, at) != Entry::Enter {
                continue;
            }
            entered += 1;
            let mut e = Enrolment::new(at, None);
            self.actions.clear();
            let progress = self
                .engine
                .advance(&mut self.cx, id, &mut e, facts, at, &mut self.actions);
            let active = matches!(progress, Progress::Asleep { .. });
            last = Some((e, Previous { entered_at: at, active }));
        }
        self.actions.clear();
        self.times = times;
        entered
    }

    fn impact(&mut self, origin: Origin) -> Option<&mut Impact> {
        match origin {
            Origin::Campaign(i) => self.campaign_impacts.get_mut(i.0),
            Origin::Scenario(i) => self.scenario_impacts.get_mut(i.0),
        }
    }

    fn deliver(&mut self, facts: &ContactFacts, cand: Candidate<'p>) {
        let contact = facts.contact;
        let channel = cand.msg.channel();
        let verdict = self.engine.decide(
            &mut self.cx,
            facts,
            &Request {
                origin: cand.origin,
                message: cand.message,
                due: cand.due,
                thread: cand.thread,
            },
            &self.delivered,
            &[],
            cand.at,
        );
        let segments = if channel == Channel::Sms && verdict == Verdict::Send {
            self.segments(contact, cand.message)
        } else {
            0
        };
        let what = self.engine.solicitation(cand.origin, cand.msg);
        let plan = self.plan;
        let Some(impact) = self.impact(cand.origin) else { return };
        if cand.deferred {
            impact.deferred_quiet_hours += 1;
        }
        let drop = match verdict {
            Verdict::Send => {
                impact.recipients += 1;
                *impact.by_channel.entry(channel).or_default() += 1;
                impact.sms_segments += segments;
                self.delivered.push(Sent {
                    at: cand.at,
                    what,
                    thread: cand.thread,
                });
                return;
            }
            Verdict::Drop(d) => d,
            // Deferred candidates are decided at their deferred time, which
            // quiet hours allow.
            Verdict::Defer(_) => engine::Drop::QuietHours,
        };
        let s = &mut impact.suppressed;
        match drop {
            engine::Drop::NoAddress => s.no_address += 1,
            engine::Drop::InvalidAddress => s.invalid_address += 1,
            engine::Drop::Consent => s.consent += 1,
            engine::Drop::SuppressedByPolicy => s.policy += 1,
            engine::Drop::Pressure(ri) => {
                let key = plan
                    .policies
                    .pressure
                    .get(ri)
                    .map_or_else(|| format!("policies.pressure[{ri}]"), |r| r.key(ri));
                *s.pressure.entry(key).or_default() += 1;
            }
            engine::Drop::QuietHours | engine::Drop::Expired => s.quiet_hours += 1,
            engine::Drop::Suppressed | engine::Drop::UnknownMessage => {}
        }
    }

    fn segments(&self, contact: &Contact, message: &str) -> u64 {
        match self.sms_plans.get(message) {
            Some(SmsPlan::Fixed(n)) | Some(SmsPlan::Worst(n)) => *n,
            Some(SmsPlan::Pieces(out, transliterate)) => {
                let mut text = String::new();
                if assemble(self.layout, contact, out, &mut text) {
                    if *transliterate {
                        text = sms::transliterate(&text);
                    }
                    sms::analyze(&text).segments as u64
                } else {
                    1
                }
            }
            None => 0,
        }
    }

    /// The forecast of the contacts added.
    pub fn finish(self) -> Forecast {
        Self::merge(vec![self])
    }

    /// The forecast of the contacts added to any of `parts` (forecasters of
    /// the same plan that each counted a share of the contacts).
    pub fn merge(parts: Vec<Forecaster<'p>>) -> Forecast {
        let mut parts = parts.into_iter();
        let Some(mut first) = parts.next() else {
            return Forecast::default();
        };
        for part in parts {
            first.out.contacts += part.out.contacts;
            for (a, b) in first.campaign_impacts.iter_mut().zip(part.campaign_impacts) {
                a.add(b);
            }
            for (a, b) in first.scenario_impacts.iter_mut().zip(part.scenario_impacts) {
                a.add(b);
            }
        }
        let mut out = first.out;
        // Money from whole segments, rounded to the cent: the same however
        // the contacts were shared out.
        let cost = |segments: u64| (segments as f64 * first.cost_per_segment * 100.0).round() / 100.0;
        for i in first
            .campaign_impacts
            .iter_mut()
            .chain(first.scenario_impacts.iter_mut())
        {
            i.cost = cost(i.sms_segments);
            out.recipients += i.recipients;
            out.sms_segments += i.sms_segments;
        }
        out.cost = cost(out.sms_segments);
        let names = first.plan.campaigns.keys().cloned();
        out.campaigns = names.zip(first.campaign_impacts).collect();
        let names = first.plan.scenarios.keys().cloned();
        out.scenarios = names.zip(first.scenario_impacts).collect();
        out
    }
}

/// The experiment counts of a campaign's impact.
fn experiment<'i>(impact: &'i mut Impact, plan: &Plan, campaign: usize) -> &'i mut ExperimentImpact {
    impact.experiment.get_or_insert_with(|| ExperimentImpact {
        min_sample: match plan.campaigns.values().nth(campaign).map(|c| &c.delivery) {
            Some(crate::model::Delivery::Experiment(e)) => e.min_sample,
            _ => 0,
        },
        ..Default::default()
    })
}

/// A send the engine scheduled, as a candidate. The winner of an experiment
/// is not known before it runs: the forecast counts the first variant.
fn push<'p>(
    plan: &'p Plan,
    out: &mut Vec<Candidate<'p>>,
    at: DateTime<Utc>,
    origin: Origin,
    content: Content<'p>,
    thread: u64,
) {
    let message = content.message(|_| None);
    let Some((name, msg)) = plan.messages.get_key_value(message) else {
        return;
    };
    out.push(Candidate {
        at,
        due: at,
        origin,
        message: name,
        msg,
        priority: priority(msg.purpose),
        deferred: false,
        thread,
    });
}

impl Impact {
    /// Add the counts of the same object over other contacts.
    fn add(&mut self, o: Impact) {
        self.audience += o.audience;
        self.recipients += o.recipients;
        for (c, n) in o.by_channel {
            *self.by_channel.entry(c).or_default() += n;
        }
        self.suppressed.consent += o.suppressed.consent;
        self.suppressed.no_address += o.suppressed.no_address;
        self.suppressed.invalid_address += o.suppressed.invalid_address;
        self.suppressed.quiet_hours += o.suppressed.quiet_hours;
        self.suppressed.policy += o.suppressed.policy;
        for (r, n) in o.suppressed.pressure {
            *self.suppressed.pressure.entry(r).or_default() += n;
        }
        self.deferred_quiet_hours += o.deferred_quiet_hours;
        self.sms_segments += o.sms_segments;
        if let Some(x) = o.experiment {
            let mine = self.experiment.get_or_insert_with(|| ExperimentImpact {
                min_sample: x.min_sample,
                ..Default::default()
            });
            mine.holdout += x.holdout;
            mine.rest += x.rest;
            for (v, n) in x.variants {
                *mine.variants.entry(v).or_default() += n;
            }
        }
        if let Some(n) = o.entries {
            self.entries = Some(self.entries.unwrap_or(0) + n);
        }
        if let Some(n) = o.history_entries {
            self.history_entries = Some(self.history_entries.unwrap_or(0) + n);
        }
    }
}

/// How to count an SMS's segments for one contact.
enum SmsPlan<'p> {
    /// No variable: the same for everyone.
    Fixed(u64),
    /// Text and simple variables: assembled without the template engine.
    Pieces(&'p [Out], bool),
    /// Anything else: the worst case (from `check`).
    Worst(u64),
}

fn sms_plan<'p>(plan: &'p Plan, text: &'p crate::model::Template, transliterate: bool) -> SmsPlan<'p> {
    let Some(a) = &text.analysis else {
        return SmsPlan::Fixed(1);
    };
    let simple = a.output.iter().all(|o| match o {
        Out::Text(_) => true,
        Out::Emit(Emit::Const(_)) => true,
        Out::Emit(Emit::Path { root, filters, .. }) => {
            root == "contact"
                && filters
                    .iter()
                    .all(|(f, _)| matches!(f.as_str(), "default" | "d" | "truncate" | "upper" | "lower" | "trim"))
        }
        _ => false,
    });
    let has_vars = a.output.iter().any(|o| matches!(o, Out::Emit(Emit::Path { .. })));
    if !has_vars && simple {
        let mut t = String::new();
        for o in &a.output {
            match o {
                Out::Text(x) | Out::Emit(Emit::Const(x)) => t.push_str(x),
                _ => {}
            }
        }
        if transliterate {
            t = sms::transliterate(&t);
        }
        return SmsPlan::Fixed(sms::analyze(&t).segments as u64);
    }
    if simple {
        return SmsPlan::Pieces(&a.output, transliterate);
    }
    let env = crate::rules::bounds_env(&plan.contact);
    let b = env.bound(&a.output, transliterate);
    SmsPlan::Worst(b.segments().0 as u64)
}

fn text_of(v: &FieldValue) -> String {
    match v {
        FieldValue::Text(s) => s.clone(),
        FieldValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        FieldValue::Number(n) => format!("{n}"),
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Date(d) => d.format("%Y-%m-%d").to_string(),
        FieldValue::DateTime(d) => d.to_rfc3339(),
        FieldValue::List(items) => items.iter().map(text_of).collect::<Vec<_>>().join(", "),
    }
}

/// Assemble a simple SMS text for a contact (the filters `check` allows in
/// `Pieces`). `false` when a value is missing without a default.
fn assemble(layout: &Layout, c: &Contact, out: &[Out], buf: &mut String) -> bool {
    for o in out {
        match o {
            Out::Text(t) | Out::Emit(Emit::Const(t)) => buf.push_str(t),
            Out::Emit(Emit::Path { attr, filters, .. }) => {
                let mut v: Option<String> = attr.as_deref().and_then(|a| {
                    if a == "id" {
                        Some(c.id.clone())
                    } else {
                        layout
                            .field(a)
                            .and_then(|i| c.fields.get(i))
                            .and_then(|x| x.as_ref())
                            .map(text_of)
                    }
                });
                for (f, args) in filters {
                    v = match f.as_str() {
                        "default" | "d" => v.or_else(|| match args.first() {
                            Some(Emit::Const(x)) => Some(x.clone()),
                            Some(Emit::Path { attr: Some(a), .. }) => layout
                                .field(a)
                                .and_then(|i| c.fields.get(i))
                                .and_then(|x| x.as_ref())
                                .map(text_of),
                            _ => None,
                        }),
                        "truncate" => {
                            let n = match args.first() {
                                Some(Emit::Const(n)) => n.parse().unwrap_or(usize::MAX),
                                _ => usize::MAX,
                            };
                            v.map(|s| s.chars().take(n).collect())
                        }
                        "upper" => v.map(|s| s.to_uppercase()),
                        "lower" => v.map(|s| s.to_lowercase()),
                        "trim" => v.map(|s| s.trim().to_string()),
                        _ => v,
                    };
                }
                match v {
                    Some(s) => buf.push_str(&s),
                    None => return false,
                }
            }
            _ => return false,
        }
    }
    true
}

/// Whether a rule counts a message (re-exported for the runtime).
pub fn counts(rule: &PressureRule, message: &Message, program: &str, tags: &[String]) -> bool {
    pressure_counts(rule, message, program, tags)
}
