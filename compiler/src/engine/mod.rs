//! The step engine: the one semantics of what campaigns and scenarios do to a
//! contact. Pure — state, facts and `now` in; actions out — so the forecast
//! (`herald plan`), the runner (`herald run`) and journey tests (`herald
//! test`) drive the same code and cannot drift apart.
//!
//! - [`scenario`]: entering a scenario (triggers, audience, `exit_when`,
//!   re-entry) and advancing an [`Enrolment`] through its steps (sends,
//!   waits, `wait until` with its timeout, branches, exits).
//! - [`campaign`]: a campaign's instant in a contact's time zone, its
//!   audience at that instant, its experiment group.
//! - [`guard`]: what happens to a send at the moment it is due — deferred by
//!   quiet hours, dropped for consent, address, suppression or a pressure
//!   cap (counted from the contact's earlier sends), or sent.
//! - [`experiment`]: the stable experiment groups and the winner.
//!
//! - [`contact`] types a CRM row against the contact model; [`eval`] is the
//!   semantics of conditions on it; [`render`] a message for it.
//! - [`forecast`] drives the engine over the CRM for `herald plan`.
//!
//! Time: every instant is UTC; wall-clock times (a campaign's `send_at`, a
//! date trigger's `at`, quiet hours) are read in the contact's time zone.

pub mod campaign;
pub mod contact;
pub mod cursor;
pub mod eval;
pub mod experiment;
pub mod forecast;
pub mod guard;
pub mod render;
pub mod scenario;
pub mod simulate;

pub use campaign::{CampaignId, CampaignSend};
pub use cursor::{Branch, Cursor};
pub use experiment::Group;
pub use guard::{Drop, Origin, Request, Sent, Verdict};
pub use scenario::{Action, Content, Enrolment, Entry, ExitReason, Passage, Previous, Progress, ScenarioId, Way};

use crate::ast::values::{CalendarOffset, Channel, Purpose};
use crate::calendar::{self, Window};
use crate::contact::{Contact, FieldValue, Layout};
use crate::eval::{Compiled, Evaluator, History, Memo, Subject};
use crate::model::{Delivery, Plan, Step, Trigger};
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// A scenario step with its conditions compiled.
pub(crate) enum CStep<'p> {
    Send {
        delivery: &'p Delivery,
        /// A fallback: the step of the send it falls back for.
        primary: Option<Cursor>,
    },
    Wait(TimeDelta),
    WaitUntil {
        until: Compiled,
        timeout: TimeDelta,
        on_timeout: Vec<CStep<'p>>,
    },
    If {
        condition: Compiled,
        then: Vec<CStep<'p>>,
        otherwise: Vec<CStep<'p>>,
    },
    Exit(Option<&'p str>),
}

/// Steps that hold branches, for [`Cursor`] navigation.
pub trait StepTree: Sized {
    fn branch(&self, b: Branch) -> Option<&[Self]>;
}

impl StepTree for Step {
    fn branch(&self, b: Branch) -> Option<&[Step]> {
        match (self, b) {
            (Step::If { then, .. }, Branch::Then) => Some(then),
            (Step::If { otherwise, .. }, Branch::Else) => Some(otherwise),
            (Step::WaitUntil { on_timeout, .. }, Branch::Timeout) => Some(on_timeout),
            _ => None,
        }
    }
}

impl StepTree for CStep<'_> {
    fn branch(&self, b: Branch) -> Option<&[Self]> {
        match (self, b) {
            (CStep::If { then, .. }, Branch::Then) => Some(then),
            (CStep::If { otherwise, .. }, Branch::Else) => Some(otherwise),
            (CStep::WaitUntil { on_timeout, .. }, Branch::Timeout) => Some(on_timeout),
            _ => None,
        }
    }
}

fn compile_steps<'p>(e: &Evaluator, steps: &'p [Step]) -> Vec<CStep<'p>> {
    steps
        .iter()
        .map(|step| match step {
            Step::Send {
                delivery, fallback_for, ..
            } => CStep::Send {
                delivery,
                // Resolved and checked by `check`; a primary that does not
                // parse makes the send count on its own.
                primary: fallback_for.as_ref().and_then(|f| f.primary.parse().ok()),
            },
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
            Step::Exit { reason, .. } => CStep::Exit(reason.as_deref()),
        })
        .collect()
}

/// A scenario, compiled for a layout.
pub(crate) struct ScenarioRt<'p> {
    pub name: &'p str,
    pub scenario: &'p crate::model::Scenario,
    /// The date trigger's field in the layout.
    pub date_field: Option<usize>,
    pub trigger_where: Option<Compiled>,
    pub audience: Option<Compiled>,
    pub exit_when: Option<Compiled>,
    pub steps: Vec<CStep<'p>>,
}

/// A campaign, compiled for a layout.
pub(crate) struct CampaignRt<'p> {
    pub name: &'p str,
    pub campaign: &'p crate::model::Campaign,
    pub audience: Compiled,
}

/// A plan compiled for one contact layout: the engine. Shared by reference;
/// per-contact scratch space lives in a [`Cx`].
pub struct Engine<'p> {
    pub plan: &'p Plan,
    pub(crate) eval: Evaluator,
    pub(crate) campaigns: Vec<CampaignRt<'p>>,
    pub(crate) scenarios: Vec<ScenarioRt<'p>>,
    /// Sending windows per channel and purpose (empty: any time).
    pub(crate) windows: BTreeMap<(Channel, Purpose), Vec<Window>>,
    pub(crate) tz_field: Option<usize>,
    pub(crate) email_field: Option<usize>,
    pub(crate) phone_field: Option<usize>,
    /// `policies.suppress`, compiled.
    pub(crate) suppress: Option<Compiled>,
    /// Each consent of the model with its index in the layout.
    pub(crate) consents: Vec<(usize, &'p crate::model::Consent)>,
}

/// Scratch space for evaluating conditions (segment memberships of the
/// current contact). One per thread; [`Cx::reset`] it for each contact.
pub struct Cx {
    memo: Memo,
}

impl Cx {
    pub fn reset(&mut self) {
        self.memo.reset();
    }
}

/// The properties of an event (`event.*` in conditions and templates).
pub type EventProps = Vec<(String, Option<FieldValue>)>;

/// What conditions read about a contact: its data, the event that triggered
/// the scenario, and its history (events, opens, clicks — each read as of
/// the moment a condition is evaluated at).
#[derive(Clone, Copy)]
pub struct ContactFacts<'a> {
    pub contact: &'a Contact,
    pub event: Option<&'a [(String, Option<FieldValue>)]>,
    pub history: &'a dyn History,
}

impl<'p> Engine<'p> {
    pub fn new(plan: &'p Plan, layout: &Layout) -> Engine<'p> {
        let eval = Evaluator::new(plan, layout);
        let mut windows = BTreeMap::new();
        for c in Channel::ALL {
            for p in Purpose::ALL {
                windows.insert((c, p), calendar::windows_for(&plan.policies, c, p).0);
            }
        }
        let consents = plan
            .contact
            .consents
            .iter()
            .filter_map(|(name, c)| Some((layout.consent(name)?, c)))
            .collect();
        let address = |c: Channel| plan.contact.address_field(c).and_then(|f| layout.field(f));
        let campaigns = plan
            .campaigns
            .iter()
            .map(|(name, c)| CampaignRt {
                name,
                campaign: c,
                audience: eval.compile(&c.audience),
            })
            .collect();
        let scenarios = plan
            .scenarios
            .iter()
            .map(|(name, s)| ScenarioRt {
                name,
                scenario: s,
                date_field: match &s.trigger {
                    Trigger::Date { field, .. } => layout.field(field),
                    Trigger::Event { .. } => None,
                },
                trigger_where: match &s.trigger {
                    Trigger::Event { condition: Some(c), .. } => Some(eval.compile(c)),
                    _ => None,
                },
                audience: s.audience.as_ref().map(|a| eval.compile(a)),
                exit_when: s.exit_when.as_ref().map(|x| eval.compile(x)),
                steps: compile_steps(&eval, &s.steps),
            })
            .collect();
        Engine {
            plan,
            campaigns,
            scenarios,
            windows,
            tz_field: plan.contact.timezone_field().and_then(|f| layout.field(f)),
            email_field: address(Channel::Email),
            phone_field: address(Channel::Sms),
            consents,
            suppress: plan.policies.suppress.as_ref().map(|c| eval.compile(c)),
            eval,
        }
    }

    pub fn cx(&self) -> Cx {
        Cx { memo: self.eval.memo() }
    }

    /// The contact's time zone: its time zone field when set and valid, the
    /// project's otherwise.
    pub fn tz(&self, c: &Contact) -> Tz {
        match self.tz_field.and_then(|i| c.fields.get(i)).and_then(Option::as_ref) {
            Some(FieldValue::Text(name)) => name.parse().unwrap_or(self.plan.config.timezone),
            _ => self.plan.config.timezone,
        }
    }

    /// Evaluate a compiled condition on a contact at a moment.
    pub(crate) fn holds(&self, cx: &mut Cx, f: &ContactFacts, now: DateTime<Utc>, c: &Compiled) -> bool {
        let subject = Subject {
            contact: f.contact,
            now,
            event: f.event,
            history: f.history,
        };
        self.eval.eval(&subject, &mut cx.memo, c)
    }

    pub fn campaign_count(&self) -> usize {
        self.campaigns.len()
    }

    pub fn scenario_count(&self) -> usize {
        self.scenarios.len()
    }

    pub fn campaign_id(&self, name: &str) -> Option<CampaignId> {
        self.campaigns.iter().position(|c| c.name == name).map(CampaignId)
    }

    pub fn scenario_id(&self, name: &str) -> Option<ScenarioId> {
        self.scenarios.iter().position(|s| s.name == name).map(ScenarioId)
    }

    /// The campaign or scenario at an address (`campaigns.x`, `scenarios.y`).
    pub fn origin(&self, address: &str) -> Option<Origin> {
        if let Some(name) = address.strip_prefix("campaigns.") {
            return self.campaign_id(name).map(Origin::Campaign);
        }
        address
            .strip_prefix("scenarios.")
            .and_then(|name| self.scenario_id(name))
            .map(Origin::Scenario)
    }

    /// Whether any condition of the plan reads contact history.
    pub fn reads_history(&self) -> bool {
        fn steps(e: &Evaluator, s: &[CStep]) -> bool {
            s.iter().any(|s| match s {
                CStep::WaitUntil { until, on_timeout, .. } => e.reads_history(until) || steps(e, on_timeout),
                CStep::If {
                    condition,
                    then,
                    otherwise,
                } => e.reads_history(condition) || steps(e, then) || steps(e, otherwise),
                _ => false,
            })
        }
        let e = &self.eval;
        self.suppress.as_ref().is_some_and(|c| e.reads_history(c))
            || self.campaigns.iter().any(|c| e.reads_history(&c.audience))
            || self.scenarios.iter().any(|s| {
                [&s.trigger_where, &s.audience, &s.exit_when]
                    .into_iter()
                    .flatten()
                    .any(|c| e.reads_history(c))
                    || steps(e, &s.steps)
            })
    }

    pub fn campaign_name(&self, id: CampaignId) -> &'p str {
        self.campaigns.get(id.0).map_or("", |c| c.name)
    }

    pub fn scenario_name(&self, id: ScenarioId) -> &'p str {
        self.scenarios.get(id.0).map_or("", |s| s.name)
    }
}

/// The instant a local wall-clock time happens in a zone: the earlier of two
/// in a DST fold, an hour later in a DST gap (that local time does not exist).
pub fn local_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        chrono::LocalResult::None => tz
            .from_local_datetime(&(local + TimeDelta::hours(1)))
            .earliest()
            .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

/// `at + d`, or the end of time when that is not representable.
pub(crate) fn later(at: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    at.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn shift(d: NaiveDate, o: CalendarOffset) -> Option<NaiveDate> {
    match o {
        CalendarOffset::Days(n) if n >= 0 => d.checked_add_days(Days::new(n.unsigned_abs().into())),
        CalendarOffset::Days(n) => d.checked_sub_days(Days::new(n.unsigned_abs().into())),
        CalendarOffset::Months(n) if n >= 0 => d.checked_add_months(Months::new(n.unsigned_abs())),
        CalendarOffset::Months(n) => d.checked_sub_months(Months::new(n.unsigned_abs())),
    }
}

/// The date in `year` of a yearly date (29 February falls on the 28th in
/// other years).
fn anniversary(date: NaiveDate, year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, date.month(), date.day()).or_else(|| NaiveDate::from_ymd_opt(year, date.month(), 28))
}

/// The first day on or after `from` a date trigger fires: `date` shifted by
/// `offset`, or for a yearly trigger every anniversary of `date` shifted by
/// `offset` (a birthday J-7, a contract's yearly renewal a year after it
/// started). A yearly trigger never fires before the date itself plus the
/// offset: a contract signed today has its first anniversary next year.
pub fn next_trigger_date(date: NaiveDate, offset: CalendarOffset, yearly: bool, from: NaiveDate) -> Option<NaiveDate> {
    let first = shift(date, offset)?;
    if !yearly {
        return (first >= from).then_some(first);
    }
    // Anniversaries of `date`, shifted; the offset may move them across a
    // year boundary either way, so try the years around `from`, in order.
    let start = from.year().checked_sub(1)?.max(date.year());
    for year in start..=from.year().checked_add(2)? {
        let Some(d) = anniversary(date, year).and_then(|a| shift(a, offset)) else {
            continue;
        };
        // The anniversary of the year the date falls in is the date itself
        // (a birthday J-7 fires the week before every birthday, the first
        // included; a `+1y` renewal a year after).
        if d >= from && d >= first {
            return Some(d);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn yearly_triggers_fire_on_every_anniversary_with_their_offset() {
        let yearly = |date, offset, from| next_trigger_date(d(date), offset, true, d(from));
        // A birthday J-7.
        assert_eq!(
            yearly("1980-12-03", CalendarOffset::Days(-7), "2026-11-20"),
            Some(d("2026-11-26"))
        );
        assert_eq!(
            yearly("1980-12-03", CalendarOffset::Days(-7), "2026-11-27"),
            Some(d("2027-11-26"))
        );
        // J-7 of a 3 January birthday falls the year before.
        assert_eq!(
            yearly("1980-01-03", CalendarOffset::Days(-7), "2026-12-01"),
            Some(d("2026-12-27"))
        );
        // A yearly renewal a year after the start: `1y`, `12mo` and `365d`.
        for offset in [CalendarOffset::Months(12), CalendarOffset::Days(365)] {
            assert_eq!(
                yearly("2025-12-10", offset, "2026-11-20"),
                Some(d("2026-12-10")),
                "{offset:?}"
            );
        }
        // Not before the first anniversary: signed on 2026-11-01, renewal 2027-11-01.
        assert_eq!(
            yearly("2026-11-01", CalendarOffset::Months(12), "2026-11-20"),
            Some(d("2027-11-01"))
        );
        // 29 February.
        assert_eq!(
            yearly("2000-02-29", CalendarOffset::Days(0), "2027-01-01"),
            Some(d("2027-02-28"))
        );
        // Once: only on the date itself.
        assert_eq!(
            next_trigger_date(d("2026-11-10"), CalendarOffset::Days(14), false, d("2026-11-20")),
            Some(d("2026-11-24"))
        );
        assert_eq!(
            next_trigger_date(d("2026-11-10"), CalendarOffset::Days(7), false, d("2026-11-20")),
            None
        );
        // Out of the calendar's range: never, no panic.
        assert_eq!(
            next_trigger_date(NaiveDate::MAX, CalendarOffset::Months(12), true, d("2026-11-20")),
            None
        );
    }

    #[test]
    fn local_times_across_dst() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let t = |s: &str| s.parse::<NaiveDateTime>().unwrap();
        // 2026-03-29 02:30 does not exist in Paris: an hour later, 03:30 CEST.
        assert_eq!(
            local_instant(paris, t("2026-03-29T02:30:00")).to_rfc3339(),
            "2026-03-29T01:30:00+00:00"
        );
        // 2026-10-25 02:30 happens twice: the first (CEST).
        assert_eq!(
            local_instant(paris, t("2026-10-25T02:30:00")).to_rfc3339(),
            "2026-10-25T00:30:00+00:00"
        );
    }
}
