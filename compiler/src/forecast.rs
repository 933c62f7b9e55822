//! The forecast: who will receive what, on real contacts, streamed one
//! contact at a time (the caller reads the CRM; this module only counts).
//!
//! Per contact, in time order (transactional before service before
//! marketing at the same instant), every send the plan schedules — campaigns,
//! and date-triggered scenarios entering within the horizon — goes through
//! what the runtime will do: quiet hours defer it to the next allowed time in
//! the contact's time zone, then consent and address are checked, then the
//! pressure caps drop it if the contact already got `max` matching messages in
//! the rolling window. Event-triggered scenarios depend on future events: the
//! forecast counts the contacts eligible to enter them.

use crate::ast::values::{CalendarOffset, Channel, Purpose};
use crate::calendar::{self, Window};
use crate::contact::{Contact, FieldValue, Layout};
use crate::eval::{Compiled, Evaluator, Memo, NoHistory, Subject};
use crate::model::{Delivery, Experiment, FieldType, Message, MessageContent, Plan, PressureRule, Step, Trigger};
use crate::rules::pressure_counts;
use crate::sms;
use crate::template::{Emit, Out};
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Suppressed {
    /// Marketing sends to contacts without a consent on the channel.
    pub consent: u64,
    /// Contacts without an address for the channel (no email, no phone).
    pub no_address: u64,
    /// Dropped by each pressure rule (`policies.pressure[i]`).
    pub pressure: BTreeMap<String, u64>,
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

/// A stable hash (FNV-1a), so experiment groups are the same every run.
pub fn bucket(contact: &str, salt: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.bytes().chain([0u8]).chain(contact.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The experiment group of a contact: `None` for the holdout, `Some(Some(v))`
/// for a variant of the test, `Some(None)` for the rest (the winner).
pub fn assign<'e>(e: &'e Experiment, contact: &str, salt: &str) -> Option<Option<&'e str>> {
    let b = bucket(contact, salt) % 10_000;
    let holdout = u64::from(e.holdout) * 100;
    if b < holdout {
        return None;
    }
    let rest_space = 10_000 - holdout;
    let test = u64::from(e.test_size.unwrap_or(100).min(100)) * rest_space / 100;
    if b - holdout >= test {
        return Some(None);
    }
    // Within the test group, by split.
    let total: u64 = e.variants.iter().map(|v| u64::from(v.split)).sum::<u64>().max(1);
    let pick = bucket(contact, &format!("{salt}/variant")) % total;
    let mut acc = 0;
    for v in &e.variants {
        acc += u64::from(v.split);
        if pick < acc {
            return Some(Some(v.message.as_str()));
        }
    }
    Some(e.variants.last().map(|v| v.message.as_str()))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OriginRef {
    Campaign(usize),
    Scenario(usize),
}

struct Candidate<'p> {
    at: DateTime<Utc>,
    origin: OriginRef,
    message: &'p str,
    msg: &'p Message,
    /// Counted in the origin's recipients (a campaign counts once per contact).
    priority: u8,
    deferred: bool,
}

fn priority(p: Purpose) -> u8 {
    match p {
        Purpose::Transactional => 0,
        Purpose::Service => 1,
        Purpose::Marketing => 2,
    }
}

pub struct Forecaster<'p> {
    plan: &'p Plan,
    layout: &'p Layout,
    now: DateTime<Utc>,
    horizon: chrono::TimeDelta,
    eval: Evaluator,
    memo: Memo,
    campaigns: Vec<(&'p str, &'p crate::model::Campaign)>,
    scenarios: Vec<(&'p str, &'p crate::model::Scenario)>,
    /// Conditions compiled once for the layout and `now`, by campaign and scenario.
    campaign_audiences: Vec<Compiled>,
    scenario_conds: Vec<ScenarioConds<'p>>,
    windows: BTreeMap<Channel, Vec<Window>>,
    tz_field: Option<usize>,
    tz_cache: BTreeMap<String, Tz>,
    email_field: Option<usize>,
    phone_field: Option<usize>,
    channel_consents: BTreeMap<Channel, Vec<usize>>,
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
    /// What this contact got so far: (when, message, program, campaign tags).
    delivered: Vec<(DateTime<Utc>, &'p Message, &'p str, &'p [String])>,
}

/// For one time zone: each campaign's send instant, and today's date.
struct LocalTimes {
    tz: Tz,
    campaign_at: Vec<DateTime<Utc>>,
    today: NaiveDate,
}

/// A scenario's conditions, compiled.
struct ScenarioConds<'p> {
    /// The trigger's date field in the layout.
    trigger_field: Option<usize>,
    audience: Option<Compiled>,
    exit_when: Option<Compiled>,
    steps: Vec<CStep<'p>>,
}

/// A step with its conditions compiled.
enum CStep<'p> {
    Send(&'p Delivery),
    Wait(chrono::TimeDelta),
    WaitUntil {
        until: Compiled,
        timeout: chrono::TimeDelta,
        on_timeout: Vec<CStep<'p>>,
    },
    If {
        condition: Compiled,
        then: Vec<CStep<'p>>,
        otherwise: Vec<CStep<'p>>,
    },
    Exit,
}

fn compile_steps<'p>(e: &Evaluator, steps: &'p [Step]) -> Vec<CStep<'p>> {
    steps
        .iter()
        .map(|step| match step {
            Step::Send { delivery, .. } => CStep::Send(delivery),
            Step::Wait { duration, .. } => CStep::Wait(duration.as_chrono()),
            Step::WaitUntil {
                until,
                timeout,
                on_timeout,
                ..
            } => CStep::WaitUntil {
                until: e.compile(until),
                timeout: timeout.as_chrono(),
                on_timeout: compile_steps(e, on_timeout),
            },
            Step::If {
                condition,
                then,
                otherwise,
                ..
            } => CStep::If {
                condition: e.compile(condition),
                then: compile_steps(e, then),
                otherwise: compile_steps(e, otherwise),
            },
            Step::Exit { .. } => CStep::Exit,
        })
        .collect()
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

impl<'p> Forecaster<'p> {
    pub fn new(plan: &'p Plan, layout: &'p Layout, now: DateTime<Utc>, horizon_days: u64) -> Self {
        let mut windows = BTreeMap::new();
        for c in [Channel::Email, Channel::Sms, Channel::Push, Channel::Call] {
            windows.insert(c, calendar::windows_for(&plan.policies, c).0);
        }
        let field_of = |want: &FieldType| {
            plan.contact
                .address_field(match want {
                    FieldType::Email => Channel::Email,
                    _ => Channel::Sms,
                })
                .and_then(|f| layout.field(f))
        };
        let mut channel_consents: BTreeMap<Channel, Vec<usize>> = BTreeMap::new();
        for (name, c) in &plan.contact.consents {
            if let Some(i) = layout.consent(name) {
                channel_consents.entry(c.channel).or_default().push(i);
            }
        }
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
        let eval = Evaluator::new(plan, layout, now);
        let campaign_audiences = plan.campaigns.values().map(|c| eval.compile(&c.audience)).collect();
        let scenario_conds = plan
            .scenarios
            .values()
            .map(|s| ScenarioConds {
                trigger_field: match &s.trigger {
                    Trigger::Date { field, .. } => layout.field(field),
                    Trigger::Event { .. } => None,
                },
                audience: s.audience.as_ref().map(|a| eval.compile(a)),
                exit_when: s.exit_when.as_ref().map(|x| eval.compile(x)),
                steps: compile_steps(&eval, &s.steps),
            })
            .collect();
        Forecaster {
            plan,
            layout,
            now,
            horizon: chrono::TimeDelta::days(i64::try_from(horizon_days).unwrap_or(365)),
            memo: eval.memo(),
            eval,
            campaign_audiences,
            scenario_conds,
            campaigns: plan.campaigns.iter().map(|(n, c)| (n.as_str(), c)).collect(),
            scenarios: plan.scenarios.iter().map(|(n, s)| (n.as_str(), s)).collect(),
            windows,
            tz_field: plan.contact.timezone_field().and_then(|f| layout.field(f)),
            tz_cache: BTreeMap::new(),
            email_field: field_of(&FieldType::Email),
            phone_field: field_of(&FieldType::Phone),
            channel_consents,
            cost_per_segment: plan.config.providers.sms.as_ref().map_or(0.0, |p| p.cost_per_segment),
            sms_plans,
            out,
            campaign_impacts,
            scenario_impacts,
            local_times: Vec::new(),
            candidates: Vec::new(),
            delivered: Vec::new(),
        }
    }

    /// The index in `local_times` of a zone, computed on first sight.
    fn local_times(&mut self, tz: Tz) -> usize {
        if let Some(i) = self.local_times.iter().position(|l| l.tz == tz) {
            return i;
        }
        self.local_times.push(LocalTimes {
            tz,
            campaign_at: self
                .campaigns
                .iter()
                .map(|(_, c)| local_instant(tz, c.send_at))
                .collect(),
            today: self.now.with_timezone(&tz).date_naive(),
        });
        self.local_times.len() - 1
    }

    fn tz(&mut self, c: &Contact) -> Tz {
        let default = self.plan.config.timezone;
        let Some(FieldValue::Text(name)) = self.tz_field.and_then(|i| c.fields.get(i)).and_then(Option::as_ref) else {
            return default;
        };
        if let Some(tz) = self.tz_cache.get(name) {
            return *tz;
        }
        let tz = name.parse::<Tz>().unwrap_or(default);
        self.tz_cache.insert(name.clone(), tz);
        tz
    }

    /// Count one contact.
    pub fn add(&mut self, contact: &Contact) {
        let plan = self.plan;
        self.out.contacts += 1;
        self.memo.reset();
        let tz = self.tz(contact);
        let local = self.local_times(tz);
        let subject = Subject {
            contact,
            event: None,
            history: &NoHistory,
        };
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();

        for (i, &(name, c)) in self.campaigns.iter().enumerate() {
            let audience = &self.campaign_audiences[i];
            if !self.eval.eval(&subject, &mut self.memo, audience) {
                continue;
            }
            let Some(impact) = self.campaign_impacts.get_mut(i) else {
                continue;
            };
            impact.audience += 1;
            let message = match &c.delivery {
                Delivery::Message(m) => m.as_str(),
                Delivery::Experiment(e) => {
                    let x = impact.experiment.get_or_insert_with(|| ExperimentImpact {
                        min_sample: e.min_sample,
                        ..Default::default()
                    });
                    match assign(e, &contact.id, name) {
                        None => {
                            x.holdout += 1;
                            continue;
                        }
                        Some(Some(v)) => {
                            match x.variants.get_mut(v) {
                                Some(n) => *n += 1,
                                None => {
                                    x.variants.insert(v.to_string(), 1);
                                }
                            }
                            v
                        }
                        Some(None) => {
                            x.rest += 1;
                            e.variants.first().map_or("", |v| v.message.as_str())
                        }
                    }
                }
            };
            let Some(m) = plan.messages.get(message) else { continue };
            let at = self.local_times[local].campaign_at[i];
            candidates.push(Candidate {
                at,
                origin: OriginRef::Campaign(i),
                message,
                msg: m,
                priority: priority(m.purpose),
                deferred: false,
            });
        }

        for (i, &(_, s)) in self.scenarios.iter().enumerate() {
            let conds = &self.scenario_conds[i];
            let eligible = conds
                .audience
                .as_ref()
                .is_none_or(|a| self.eval.eval(&subject, &mut self.memo, a));
            if !eligible {
                continue;
            }
            let Some(impact) = self.scenario_impacts.get_mut(i) else {
                continue;
            };
            impact.audience += 1;
            let Trigger::Date { offset, at, yearly, .. } = &s.trigger else {
                continue;
            };
            let Some(date) = conds
                .trigger_field
                .and_then(|f| contact.fields.get(f))
                .and_then(Option::as_ref)
                .and_then(|v| match v {
                    FieldValue::Date(d) => Some(*d),
                    FieldValue::DateTime(d) => Some(d.with_timezone(&tz).date_naive()),
                    _ => None,
                })
            else {
                continue;
            };
            let Some(entry) = entry_date(date, *offset, *yearly, self.local_times[local].today) else {
                continue;
            };
            let when = local_instant(tz, entry.and_time(*at));
            if when < self.now || when > self.now + self.horizon {
                continue;
            }
            if conds
                .exit_when
                .as_ref()
                .is_some_and(|x| self.eval.eval(&subject, &mut self.memo, x))
            {
                continue;
            }
            impact.entries = Some(impact.entries.unwrap_or(0) + 1);
            let mut walker = Walker {
                plan,
                eval: &self.eval,
                subject: &subject,
                memo: &mut self.memo,
                origin: OriginRef::Scenario(i),
                out: &mut candidates,
            };
            walker.walk(&conds.steps, when);
        }

        // Quiet hours first (the runtime defers), then time order and priority.
        for cand in &mut candidates {
            let windows = self.windows.get(&cand.msg.channel()).map(Vec::as_slice).unwrap_or(&[]);
            if windows.is_empty() {
                continue;
            }
            let local = cand.at.with_timezone(&tz).naive_local();
            if !calendar::allowed(windows, local) {
                if let Some(next) = calendar::next_allowed(windows, local) {
                    cand.at = local_instant(tz, next);
                }
                cand.deferred = true;
            }
        }
        candidates.sort_by(|a, b| a.at.cmp(&b.at).then(a.priority.cmp(&b.priority)));
        self.delivered.clear();
        for cand in candidates.drain(..) {
            self.deliver(contact, cand);
        }
        self.candidates = candidates;
    }

    fn impact(&mut self, origin: OriginRef) -> Option<&mut Impact> {
        match origin {
            OriginRef::Campaign(i) => self.campaign_impacts.get_mut(i),
            OriginRef::Scenario(i) => self.scenario_impacts.get_mut(i),
        }
    }

    fn program_and_tags(&self, origin: OriginRef) -> (&'p str, &'p [String]) {
        match origin {
            OriginRef::Campaign(i) => self
                .campaigns
                .get(i)
                .map_or(("", &[][..]), |(_, c)| (c.program.as_str(), &c.tags[..])),
            OriginRef::Scenario(i) => self
                .scenarios
                .get(i)
                .map_or(("", &[][..]), |(_, s)| (s.program.as_str(), &[][..])),
        }
    }

    fn deliver(&mut self, contact: &Contact, cand: Candidate<'p>) {
        let plan = self.plan;
        let m = cand.msg;
        let channel = m.channel();
        let has_address = match channel {
            Channel::Email => self
                .email_field
                .and_then(|i| contact.fields.get(i))
                .is_some_and(Option::is_some),
            Channel::Sms | Channel::Call => self
                .phone_field
                .and_then(|i| contact.fields.get(i))
                .is_some_and(Option::is_some),
            Channel::Push => true,
        };
        let consent_ok = m.purpose != Purpose::Marketing
            || self
                .channel_consents
                .get(&channel)
                .is_some_and(|cs| cs.iter().any(|&i| contact.consents.get(i).is_some_and(|c| c.given)));
        let (program, tags) = self.program_and_tags(cand.origin);
        let mut capped_by: Option<usize> = None;
        if has_address && consent_ok {
            for (ri, rule) in plan.policies.pressure.iter().enumerate() {
                if !pressure_counts(rule, m, program, tags) {
                    continue;
                }
                let since = cand.at - rule.per.as_chrono();
                let n = self
                    .delivered
                    .iter()
                    .filter(|(t, msg, prog, tg)| *t > since && pressure_counts(rule, msg, prog, tg))
                    .count();
                if n as u64 >= u64::from(rule.max) {
                    capped_by = Some(ri);
                    break;
                }
            }
        }
        let segments = if channel == Channel::Sms {
            self.segments(contact, cand.message)
        } else {
            0
        };
        let Some(impact) = self.impact(cand.origin) else { return };
        if cand.deferred {
            impact.deferred_quiet_hours += 1;
        }
        if !has_address {
            impact.suppressed.no_address += 1;
            return;
        }
        if !consent_ok {
            impact.suppressed.consent += 1;
            return;
        }
        if let Some(ri) = capped_by {
            *impact
                .suppressed
                .pressure
                .entry(format!("policies.pressure[{ri}]"))
                .or_default() += 1;
            return;
        }
        impact.recipients += 1;
        *impact.by_channel.entry(channel).or_default() += 1;
        impact.sms_segments += segments;
        self.delivered.push((cand.at, m, program, tags));
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
        let names = first.campaigns.iter().map(|(n, _)| n.to_string());
        out.campaigns = names.zip(first.campaign_impacts).collect();
        let names = first.scenarios.iter().map(|(n, _)| n.to_string());
        out.scenarios = names.zip(first.scenario_impacts).collect();
        out
    }
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
    }
}

/// Follows a scenario's steps for one contact, with what is known now (no
/// engagement history: nobody has opened anything yet).
struct Walker<'a, 'p> {
    plan: &'p Plan,
    eval: &'a Evaluator,
    subject: &'a Subject<'a>,
    memo: &'a mut Memo,
    origin: OriginRef,
    out: &'a mut Vec<Candidate<'p>>,
}

impl<'p> Walker<'_, 'p> {
    /// The moment the steps end, or `None` at an `exit`.
    fn walk(&mut self, steps: &[CStep<'p>], mut at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        for step in steps {
            match step {
                CStep::Send(delivery) => {
                    let message = match delivery {
                        Delivery::Message(m) => m.as_str(),
                        Delivery::Experiment(e) => match assign(e, &self.subject.contact.id, "scenario") {
                            None => continue,
                            Some(Some(v)) => v,
                            Some(None) => e.variants.first().map_or("", |v| v.message.as_str()),
                        },
                    };
                    let Some(msg) = self.plan.messages.get(message) else {
                        continue;
                    };
                    self.out.push(Candidate {
                        at,
                        origin: self.origin,
                        message,
                        msg,
                        priority: priority(msg.purpose),
                        deferred: false,
                    });
                }
                CStep::Wait(d) => at += *d,
                CStep::WaitUntil {
                    until,
                    timeout,
                    on_timeout,
                } => {
                    if !self.eval.eval(self.subject, self.memo, until) {
                        at += *timeout;
                        at = self.walk(on_timeout, at)?;
                    }
                }
                CStep::If {
                    condition,
                    then,
                    otherwise,
                } => {
                    let branch = if self.eval.eval(self.subject, self.memo, condition) {
                        then
                    } else {
                        otherwise
                    };
                    at = self.walk(branch, at)?;
                }
                CStep::Exit => return None,
            }
        }
        Some(at)
    }
}

fn local_instant(tz: Tz, local: chrono::NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        // In a DST gap: an hour later exists.
        chrono::LocalResult::None => tz
            .from_local_datetime(&(local + chrono::TimeDelta::hours(1)))
            .earliest()
            .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

fn shift(d: NaiveDate, o: CalendarOffset) -> Option<NaiveDate> {
    match o {
        CalendarOffset::Days(n) if n >= 0 => d.checked_add_days(Days::new(n.unsigned_abs().into())),
        CalendarOffset::Days(n) => d.checked_sub_days(Days::new(n.unsigned_abs().into())),
        CalendarOffset::Months(n) if n >= 0 => d.checked_add_months(Months::new(n.unsigned_abs())),
        CalendarOffset::Months(n) => d.checked_sub_months(Months::new(n.unsigned_abs())),
    }
}

/// The next date the trigger fires on or after `today` (yearly), or its one date.
pub fn entry_date(date: NaiveDate, offset: CalendarOffset, yearly: bool, today: NaiveDate) -> Option<NaiveDate> {
    if !yearly {
        return shift(date, offset);
    }
    // The anniversary in this year (29 February falls back to 28), shifted.
    for year in [today.year(), today.year() + 1] {
        let anniversary = NaiveDate::from_ymd_opt(year, date.month(), date.day())
            .or_else(|| NaiveDate::from_ymd_opt(year, date.month(), 28))?;
        let d = shift(anniversary, offset)?;
        if d >= today {
            return Some(d);
        }
    }
    None
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
