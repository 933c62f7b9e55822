//! The guards of a send, at the moment it is due, on the contact's current
//! data: what the forecast counts and what the runner enforces.
//!
//! In order: a send more than [`EXPIRY`] late is dropped; quiet hours defer
//! it to the channel's next allowed time in the contact's time zone (dropped
//! if that is past the expiry); then it is dropped without an address for
//! the channel or when the contact's address is not a valid one (an email
//! or phone the CRM holds with a bad syntax), without consent (marketing only), when `policies.suppress`
//! holds for the contact (marketing only), when the channel is suppressed
//! for the contact (bounces, complaints), or when a pressure cap is reached —
//! each rule counting the contact's earlier solicitations in its rolling
//! window `(at - per, at]`. A solicitation is a send and its fallbacks
//! (`fallback_for`: email, then SMS if not opened): it counts once per rule,
//! however many of its sends the rule matches.

use super::campaign::CampaignId;
use super::scenario::ScenarioId;
use super::{ContactFacts, Cx, Engine, later, local_instant};
use crate::ast::values::{Channel, Purpose};
use crate::calendar;
use crate::contact::Contact;
use crate::model::{Message, Policies};
use crate::rules::{Solicitation, counts_send};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// How late a send may go out (its quiet-hours deferral included): three
/// days covers a Saturday evening deferred to Monday morning.
pub const EXPIRY: TimeDelta = TimeDelta::hours(72);

/// What a send comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    Campaign(CampaignId),
    Scenario(ScenarioId),
}

/// A send to decide on.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub origin: Origin,
    pub message: &'a str,
    /// When it was first due (before any deferral).
    pub due: DateTime<Utc>,
    /// The solicitation it belongs to (see [`Sent::thread`]).
    pub thread: u64,
}

/// An earlier send of the contact, as pressure rules see it.
#[derive(Clone, Copy, Debug)]
pub struct Sent<'a> {
    pub at: DateTime<Utc>,
    pub what: Solicitation<'a>,
    /// The solicitation it belongs to: a send and its fallbacks share it, and
    /// a rule counts it once.
    pub thread: u64,
}

/// The thread of a send from its text (the runner's ledger key of the
/// solicitation's first send): a stable 64-bit hash (FNV-1a).
pub fn thread_id(text: &str) -> u64 {
    super::experiment::bucket(text, "thread")
}

/// The thread of a campaign's send, where no ledger key exists (the forecast,
/// journey tests): a campaign is one solicitation per contact.
pub fn campaign_thread(id: CampaignId) -> u64 {
    thread_id(&format!("campaigns.{}", id.0))
}

/// The thread of a scenario's send, where no ledger key exists: one per
/// enrolment (its entry time) and primary step (`Action::Send::thread`).
pub fn scenario_thread(id: ScenarioId, entered_at: DateTime<Utc>, primary: &super::Cursor) -> u64 {
    thread_id(&format!("scenarios.{}/{}/{primary}", id.0, entered_at.timestamp()))
}

/// Why a send does not go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Drop {
    /// The message is not in the plan (a damaged state).
    UnknownMessage,
    /// More than [`EXPIRY`] late.
    Expired,
    /// Quiet hours would defer it past the expiry.
    QuietHours,
    NoAddress,
    /// The contact's address for the channel is not a valid one.
    InvalidAddress,
    Consent,
    /// `policies.suppress` holds for the contact (marketing only).
    SuppressedByPolicy,
    Suppressed,
    /// The pressure rule `i` of `policies.pressure` (the caps in force) is reached.
    Pressure(usize),
}

impl Drop {
    /// A stable code, as recorded in the send ledger: `pressure:` then the
    /// rule's key (`policies.pressure[1]`, `baseline.email`).
    pub fn code(&self, policies: &Policies) -> String {
        match self {
            Drop::UnknownMessage => "unknown-message".into(),
            Drop::Expired => "expired".into(),
            Drop::QuietHours => "quiet-hours".into(),
            Drop::NoAddress => "no-address".into(),
            Drop::InvalidAddress => "invalid-address".into(),
            Drop::Consent => "consent".into(),
            Drop::SuppressedByPolicy => "suppressed-by-policy".into(),
            Drop::Suppressed => "suppressed".into(),
            Drop::Pressure(i) => format!(
                "pressure:{}",
                policies
                    .pressure
                    .get(*i)
                    .map_or_else(|| format!("policies.pressure[{i}]"), |r| r.key(*i))
            ),
        }
    }
}

/// What to do with a send now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Quiet hours: decide again at this instant.
    Defer(DateTime<Utc>),
    Drop(Drop),
}

impl<'p> Engine<'p> {
    /// The program and the extra tags of an origin.
    fn origin_scope(&self, origin: Origin) -> (&'p str, &'p [String]) {
        match origin {
            Origin::Campaign(id) => self
                .campaigns
                .get(id.0)
                .map_or(("", &[][..]), |c| (c.campaign.program.as_str(), &c.campaign.tags[..])),
            Origin::Scenario(id) => self
                .scenarios
                .get(id.0)
                .map_or(("", &[][..]), |s| (s.scenario.program.as_str(), &[][..])),
        }
    }

    /// A send of `message` from `origin`, as pressure rules see it.
    pub fn solicitation(&self, origin: Origin, message: &'p Message) -> Solicitation<'p> {
        let (program, origin_tags) = self.origin_scope(origin);
        Solicitation {
            channel: message.channel(),
            purpose: message.purpose,
            program,
            message_tags: &message.tags,
            origin_tags,
        }
    }

    /// When a send at `at` may go out instead, if `at` is inside quiet hours
    /// for messages of the channel and purpose in the zone (windows without
    /// a purpose hold back marketing only).
    pub fn quiet_until(&self, channel: Channel, purpose: Purpose, tz: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let windows = self.windows.get(&(channel, purpose)).map(Vec::as_slice).unwrap_or(&[]);
        let local = at.with_timezone(&tz).naive_local();
        if calendar::allowed(windows, local) {
            return None;
        }
        // No allowed time within a year (windows on no day): never.
        Some(calendar::next_allowed(windows, local).map_or(DateTime::<Utc>::MAX_UTC, |next| local_instant(tz, next)))
    }

    /// When the sending window of the channel and purpose holding `at` (in
    /// zone `tz`) opened, as a local time: a calling window names its call
    /// list. `None` outside every window, or when none is declared.
    pub fn window_start(&self, channel: Channel, purpose: Purpose, tz: Tz, at: DateTime<Utc>) -> Option<NaiveDateTime> {
        let windows = self.windows.get(&(channel, purpose)).map(Vec::as_slice).unwrap_or(&[]);
        calendar::window_start(windows, at.with_timezone(&tz).naive_local())
    }

    /// Why the contact cannot be sent to on the channel, if it cannot: no
    /// address, or one that is not valid (push goes to the contact's
    /// devices, which the provider knows).
    pub fn address_problem(&self, contact: &Contact, channel: Channel) -> Option<Drop> {
        let field = match channel {
            Channel::Email => self.email_field,
            Channel::Sms | Channel::Call => self.phone_field,
            Channel::Push => return None,
        };
        match field {
            Some(i) if contact.is_invalid(i) => Some(Drop::InvalidAddress),
            Some(i) if contact.fields.get(i).is_some_and(Option::is_some) => None,
            _ => Some(Drop::NoAddress),
        }
    }

    /// Whether the contact has given a consent that covers a message on the
    /// channel about the topic (see [`crate::model::Consent::covers`]).
    pub fn has_consent(&self, contact: &Contact, channel: Channel, topic: Option<&str>) -> bool {
        self.consents
            .iter()
            .any(|&(i, consent)| consent.covers(channel, topic) && contact.consents.get(i).is_some_and(|c| c.given))
    }

    /// Decide a send at `now`. `facts` are what conditions read about the
    /// contact (`policies.suppress`); `log` holds the contact's earlier sends
    /// (any order); `suppressed` the channels the contact may not be sent on.
    pub fn decide(
        &self,
        cx: &mut Cx,
        facts: &ContactFacts,
        req: &Request,
        log: &[Sent],
        suppressed: &[Channel],
        now: DateTime<Utc>,
    ) -> Verdict {
        let contact = facts.contact;
        let Some(message) = self.plan.messages.get(req.message) else {
            return Verdict::Drop(Drop::UnknownMessage);
        };
        let channel = message.channel();
        let expires = later(req.due, EXPIRY);
        if now > expires {
            return Verdict::Drop(Drop::Expired);
        }
        if let Some(next) = self.quiet_until(channel, message.purpose, self.tz(contact), now) {
            return Verdict::Drop(Drop::QuietHours).or_defer(next, expires);
        }
        if let Some(drop) = self.address_problem(contact, channel) {
            return Verdict::Drop(drop);
        }
        if message.purpose == Purpose::Marketing {
            if !self.has_consent(contact, channel, message.topic.as_deref()) {
                return Verdict::Drop(Drop::Consent);
            }
            if let Some(s) = &self.suppress
                && self.holds(cx, facts, now, s)
            {
                return Verdict::Drop(Drop::SuppressedByPolicy);
            }
        }
        if suppressed.contains(&channel) {
            return Verdict::Drop(Drop::Suppressed);
        }
        let this = self.solicitation(req.origin, message);
        for (i, rule) in self.plan.policies.pressure.iter().enumerate() {
            if !counts_send(rule, &this) {
                continue;
            }
            let since = now
                .checked_sub_signed(rule.per.as_chrono())
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            // Distinct solicitations, this one's own earlier sends aside.
            let mut threads: Vec<u64> = log
                .iter()
                .filter(|s| s.at > since && s.at <= now && s.thread != req.thread && counts_send(rule, &s.what))
                .map(|s| s.thread)
                .collect();
            threads.sort_unstable();
            threads.dedup();
            if threads.len() as u64 >= u64::from(rule.max) {
                return Verdict::Drop(Drop::Pressure(i));
            }
        }
        Verdict::Send
    }
}

impl Verdict {
    /// Defer to `next` unless that is past `expires` (then `self`).
    fn or_defer(self, next: DateTime<Utc>, expires: DateTime<Utc>) -> Verdict {
        if next > expires { self } else { Verdict::Defer(next) }
    }
}
