//! One pass of the runner at a business instant `now`: everything due by
//! then is done, through the step engine, with every step in the ledger.
//!
//! The pass streams the CRM once (contacts are never all in memory) and, for
//! each contact with something due, in order:
//! 1. events received for it enter event-triggered scenarios;
//! 2. campaigns whose instant in its time zone has come queue its send;
//! 3. date-triggered scenarios whose day and time have come enrol it;
//! 4. its enrolments advance (waits end, `wait until` sees new facts);
//! 5. its due sends go through the guards on its current data: sent,
//!    deferred by quiet hours, or dropped with a reason.
//!
//! Exactly once: a send is a ledger row with a permanent key before anything
//! else happens; it is marked `sending` and committed before the provider
//! sees it; its outcome is recorded after. Killed between the two, the row
//! stays `sending` with an expired lease: the next pass retries it with the
//! same key on a provider that takes one, and marks it in doubt otherwise.

use super::compose::{Links, compose};
use super::deployed::{Deployed, Engines};
use super::history::{CrmEvents, RunHistory};
use super::workers::{Done, Job, Paused, Workers};
use crate::crm;
use crate::crm::events::EventHistory;
use crate::providers::{Body, Outcome, backoff};
use crate::state::run::{
    Ended, EnrolmentRow, EnrolmentStatus, EventRow, RunStore, SendRow, SendStatus, Store, as_stored, send_key,
};
use chrono::{DateTime, Days, TimeDelta, Utc};
use herald_compiler::ast::values::{Channel, Purpose};
use herald_compiler::contact::{Contact, Layout};
use herald_compiler::engine::guard::EXPIRY;
use herald_compiler::engine::{
    Action, CampaignSend, ContactFacts, Content, Cursor, Cx, Drop, Engine, Enrolment, Entry, EventProps, ExitReason,
    Origin, Previous, Progress, Request, ScenarioId, Sent, Verdict,
};
use herald_compiler::model::{Plan, Trigger};
use herald_compiler::render::Renderer;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a runner's claim on the state and on a send lasts without being
/// renewed (real clock). A runner killed with `kill -9` blocks the next one
/// for at most this long.
pub const LEASE: Duration = Duration::from_secs(15);

/// Attempts before a send that keeps failing to go out is given up.
const MAX_ATTEMPTS: u32 = 12;

/// Commit at least this often (sends are handed over only once committed).
const FLUSH_EVERY: Duration = Duration::from_millis(200);
const FLUSH_OPS: usize = 4 * super::workers::LARGE_BATCH;

/// What a pass did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Report {
    pub at: DateTime<Utc>,
    pub contacts: u64,
    pub bad_rows: u64,
    pub events: u64,
    /// Events given up: their contact was still not in the CRM [`EXPIRY`]
    /// after the event.
    pub unknown_contacts: u64,
    /// Events waiting for their contact to appear in the CRM (a signup
    /// sent before the CRM export that holds the new contact).
    pub waiting_events: u64,
    pub entered: u64,
    pub completed: u64,
    pub exited: u64,
    pub queued: u64,
    pub sent: u64,
    pub deferred: u64,
    pub dropped: BTreeMap<String, u64>,
    pub failed: u64,
    pub in_doubt: u64,
    /// Sends that will be retried by a later pass.
    pub retrying: u64,
    pub paused: Vec<String>,
    pub stopped: bool,
    /// The next instant something is due (a wait, a deferred send, a campaign…).
    pub next_due: Option<DateTime<Utc>>,
    /// Providers found down (they could not be connected to): their sends
    /// stay queued for a later pass.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
}

impl Report {
    /// Whether the pass entered, queued, sent or dropped anything.
    pub fn did_something(&self) -> bool {
        self.entered
            + self.queued
            + self.sent
            + self.deferred
            + self.failed
            + self.in_doubt
            + self.exited
            + self.completed
            > 0
            || !self.dropped.is_empty()
            || self.stopped
            || !self.unreachable.is_empty()
    }

    /// Add another pass's counts (for `--until`'s total).
    pub fn add(&mut self, o: &Report) {
        self.contacts = self.contacts.max(o.contacts);
        self.events += o.events;
        self.unknown_contacts += o.unknown_contacts;
        self.waiting_events = o.waiting_events;
        self.entered += o.entered;
        self.completed += o.completed;
        self.exited += o.exited;
        self.queued += o.queued;
        self.sent += o.sent;
        self.deferred += o.deferred;
        self.failed += o.failed;
        self.in_doubt += o.in_doubt;
        self.retrying = o.retrying;
        for (k, n) in &o.dropped {
            *self.dropped.entry(k.clone()).or_default() += n;
        }
        self.stopped |= o.stopped;
        self.next_due = o.next_due;
        for u in &o.unreachable {
            if !self.unreachable.contains(u) {
                self.unreachable.push(u.clone());
            }
        }
    }

    fn due(&mut self, t: DateTime<Utc>) {
        if self.next_due.is_none_or(|n| t < n) {
            self.next_due = Some(t);
        }
    }

    fn drop(&mut self, reason: &str) {
        *self
            .dropped
            .entry(reason.split(':').next().unwrap_or(reason).to_string())
            .or_default() += 1;
    }
}

pub struct Runner {
    pub dir: std::path::PathBuf,
    pub store: Store,
    pub owner: String,
    pub stop: Arc<AtomicBool>,
    pub workers: Workers,
    pub links: Arc<Links>,
    pub deployed: Deployed,
    /// The event export `count()` reads, kept between passes.
    pub crm_events: CrmEvents,
    /// How long the sends of a provider found down are held in the ledger:
    /// a long-running runner holds them until its breaker tries the provider
    /// again (not taking and putting them back at every pass); `--once` a
    /// moment only, as the next run starts with a fresh breaker.
    pub down_hold: DownHold,
    /// The settings the providers and the endpoint were built from (at
    /// start), and the apply last compared with them.
    pub started_with: (herald_compiler::config::Config, u64),
}

/// The name of the calling window a call is handed over in, from when it
/// opened in the contact's zone (`2026-11-27T14` for 14:00–20:00): the
/// window of the call's purpose, else the legal (marketing) calling
/// windows, else the hour.
fn calling_window(engine: &Engine, purpose: Purpose, tz: chrono_tz::Tz, now: DateTime<Utc>) -> String {
    use chrono::Timelike;
    let start = engine
        .window_start(Channel::Call, purpose, tz, now)
        .or_else(|| engine.window_start(Channel::Call, Purpose::Marketing, tz, now))
        .unwrap_or_else(|| {
            let local = now.with_timezone(&tz).naive_local();
            local.date().and_hms_opt(local.hour(), 0, 0).unwrap_or(local)
        });
    let format = if start.minute() == 0 {
        "%Y-%m-%dT%H"
    } else {
        "%Y-%m-%dT%H%M"
    };
    start.format(format).to_string()
}

/// Events a pass acts on at most (the rest wait for the next pass).
const EVENTS_PER_PASS: usize = 100_000;

/// Whether an event's contact is given up on (at its give-up time: a
/// `--until` run steps to that instant, and must not find it waiting again).
fn waited_too_long(e: &EventRow, now: DateTime<Utc>) -> bool {
    now >= give_up_at(e)
}

/// When an event whose contact the CRM does not have is given up on: a
/// `--once` run is due then (`next_due`), to say so.
fn give_up_at(e: &EventRow) -> DateTime<Utc> {
    e.at.checked_add_signed(EXPIRY).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DownHold {
    UntilRetried,
    Moment,
}

/// A campaign or date-triggered scenario looked at in this pass: instants in
/// `(from, now]` are due.
struct Window {
    address: String,
    version: u64,
    from: DateTime<Utc>,
    /// Whether the ledger may hold sends of this version already (an earlier
    /// pass, or one a crash cut short, looked at some contacts). When it holds
    /// none, no contact's send needs looking up: a campaign's first pass makes
    /// one ledger write per contact and no read.
    ledger_known: bool,
}

impl Runner {
    /// The providers and `[run]` are built once, at start: an apply that
    /// changes them since is said once (the CRM's settings are read at
    /// every pass).
    fn warn_of_new_settings(&mut self, deployed: &herald_compiler::config::Config) {
        let (started, seen) = &mut self.started_with;
        if *seen == self.deployed.serial {
            return;
        }
        *seen = self.deployed.serial;
        let stale: Vec<String> = crate::plan::settings::differences(started, deployed)
            .into_iter()
            .filter(|s| s.starts_with("providers.") || s == "run")
            .collect();
        if !stale.is_empty() {
            tracing::warn!(
                sections = %stale.join(", "),
                serial = self.deployed.serial,
                "an apply changed settings this runner built at start; restart `herald run` to use them"
            );
        }
    }

    /// Renew the runner's lease; `false` when another runner holds the state.
    pub fn lease(&mut self) -> Result<bool, String> {
        renew_lease(&mut *self.store, &self.owner)
    }

    /// One pass at `now`.
    /// `progress(contacts looked at, about how many there are)`, when given
    /// (`herald run --once` on a terminal).
    pub fn pass(
        &mut self,
        now: DateTime<Utc>,
        mut progress: Option<&mut dyn FnMut(u64, Option<u64>)>,
    ) -> Result<Report, String> {
        let mut report = Report {
            at: now,
            ..Report::default()
        };
        if !self.lease()? {
            return Err(format!(
                "another `herald run` is working on this state (its lease lasts {} s after it stops renewing it); stop it first, or wait",
                LEASE.as_secs()
            ));
        }
        self.recover(&mut report).map_err(|e| e.to_string())?;
        let (paused, stop) = self.store.controls().map_err(|e| e.to_string())?;
        self.workers.set_paused(&paused);
        report.paused = paused.iter().cloned().collect();
        if stop {
            report.stopped = true;
            return Ok(report);
        }
        let current = self.deployed.current(&*self.store, now)?;
        self.warn_of_new_settings(&current.config);
        let mut source = crm::open(&current.config.crm, &self.dir, &current.contact).map_err(|e| e.to_string())?;
        let layout = source.layout().clone();
        let plans = self.deployed.in_flight(&*self.store, now)?;
        let mut stats = BTreeMap::new();
        for (name, c) in &current.campaigns {
            if matches!(c.delivery, herald_compiler::model::Delivery::Experiment(_)) {
                let address = format!("campaigns.{name}");
                stats.insert(
                    address.clone(),
                    self.store.variant_stats(&address).map_err(|e| e.to_string())?,
                );
            }
        }
        for name in current.scenarios.keys() {
            let address = format!("scenarios.{name}");
            stats.insert(
                address.clone(),
                self.store.variant_stats(&address).map_err(|e| e.to_string())?,
            );
        }
        let engines = Engines::new(&current, &plans, &layout, self.deployed.versions(), stats);
        let crm_events = if engines.needs_history {
            self.crm_events.get(&current, &self.dir, now)?
        } else {
            None
        };

        let now_ms = crate::clock::real_unix_ms();
        let st = &self.store;
        let due_sends = st.contacts_with_due_sends(now, now_ms).map_err(|e| e.to_string())?;
        let due_enrolments = st.contacts_with_due_enrolments(now).map_err(|e| e.to_string())?;
        let enrolments_active = st.any_active_enrolment().map_err(|e| e.to_string())?;
        // Events for contacts the CRM did not have hold the CRM's stamp of
        // that look, in the state: they are looked for again when the CRM
        // changed, not at every pass nor at every `--once` (a waiting event
        // must not make each pass read a million contacts). They wait for
        // [`EXPIRY`] after the event (as long as a send may be late).
        // With the apply's serial: an apply may change what the file is
        // read as (`[crm]`, the contact model) while the file stays as it was.
        let crm_stamp = crm::contacts_stamp(&current.config.crm, &self.dir)
            .map(|s| format!("{}|{}", self.deployed.serial, crm::stamp_text(&s)));
        let mut events: BTreeMap<String, Vec<EventRow>> = BTreeMap::new();
        let mut given_up = Vec::new();
        // Up to EVENTS_PER_PASS events to act on; the waiting ones are read
        // past (paged), so a flood of them never holds back newer events.
        let (mut after, mut taken) = (0, 0);
        while taken < EVENTS_PER_PASS {
            let page = st.pending_events(after, 10_000).map_err(|e| e.to_string())?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for e in page {
                // One that waited for its contact is given up at its time,
                // whether or not the CRM changed since (a runner down then
                // must not act on it later).
                if e.waiting.is_some() && waited_too_long(&e, now) {
                    given_up.push(e.id);
                } else if crm_stamp.is_none() || e.waiting != crm_stamp {
                    taken += 1;
                    events.entry(e.contact_id.clone()).or_default().push(e);
                } else {
                    report.waiting_events += 1;
                    report.due(give_up_at(&e));
                }
            }
        }
        let known_zones = self.zones(&current)?;
        let (campaigns, dates) = self.windows(&current, &engines, &paused, &known_zones, now)?;
        let full = !campaigns.is_empty() || !dates.is_empty();

        let mut pass = Pass {
            owner: &self.owner,
            store: &mut *self.store,
            workers: &mut self.workers,
            links: &self.links,
            stop: &self.stop,
            engines: &engines,
            layout: &layout,
            paused,
            now,
            now_ms,
            cx: engines.current.cx(),
            report,
            campaigns,
            dates,
            events,
            ops: 0,
            last_flush: Instant::now(),
            last_control: Instant::now(),
            ready: Vec::new(),
            ready_unsafe: 0,
            down_hold: self.down_hold,
            enrolments_active,
            suppressions: false,
            enrolled: false,
            error: None,
            zones: Vec::new(),
            due_sends: &due_sends,
            due_enrolments: &due_enrolments,
            touched: false,
            renderer: Renderer::default(),
            fresh: Vec::new(),
            crm_events: crm_events.as_deref(),
        };
        pass.begin()?;
        let mut seen = 0u64;
        let mut total = None;
        let scan = if full || !due_sends.is_empty() || !due_enrolments.is_empty() || !pass.events.is_empty() {
            if let Some(p) = progress.as_mut() {
                total = source.estimated_rows();
                p(0, total);
            }
            Some(source.scan(&mut |c: &Contact| {
                seen += 1;
                if seen.is_multiple_of(1000)
                    && let Some(p) = progress.as_mut()
                {
                    p(seen, total);
                }
                let wanted = full
                    || pass.due_sends.contains(&c.id)
                    || pass.due_enrolments.contains(&c.id)
                    || pass.events.contains_key(&c.id);
                if wanted && let Err(e) = pass.contact(c) {
                    pass.error = Some(e);
                    return false;
                }
                pass.maybe_flush();
                !(pass.error.is_some() || pass.stop.load(Ordering::Relaxed))
            }))
        } else {
            None
        };
        if let Some(p) = progress.as_mut()
            && (seen > 0 || total.is_some())
        {
            p(seen, total.map(|_| seen));
        }
        if let Some(e) = pass.error.take() {
            let _ = pass.finish();
            return Err(e);
        }
        let scan = match scan {
            Some(r) => Some(r.map_err(|e| format!("{e} (the runner reads the contacts of `[crm]` in herald.toml)"))?),
            None => None,
        };
        let stopped = pass.stop.load(Ordering::Relaxed);
        // Events of contacts the whole CRM does not have wait for them (a
        // scan cut short by a stop has not looked at every contact).
        let after_scan = (|| {
            if !stopped {
                let mut waiting = Vec::new();
                for e in pass.events.values().flatten() {
                    if waited_too_long(e, now) {
                        given_up.push(e.id);
                    } else {
                        waiting.push(e.id);
                        pass.report.waiting_events += 1;
                        pass.report.due(give_up_at(e));
                    }
                }
                if let Some(stamp) = &crm_stamp {
                    pass.store.mark_events_waiting(&waiting, stamp).map_err(db)?;
                }
            }
            pass.report.unknown_contacts += given_up.len() as u64;
            pass.store.mark_events_processed(&given_up).map_err(db)?;
            if !stopped {
                pass.close_windows()?;
            }
            Ok::<(), String>(())
        })();
        // Whatever failed, the sends claimed are handed over and recorded.
        if let Err(e) = after_scan {
            let _ = pass.finish();
            return Err(e);
        }
        pass.next_scheduled(&current);
        let seen: Vec<String> = pass.zones.iter().map(|z| z.name().to_string()).collect();
        let mut report = pass.finish()?;
        if full && !seen.is_empty() {
            self.store
                .set_meta("zones", &serde_json::to_string(&seen).unwrap_or_default())
                .map_err(|e| e.to_string())?;
        }
        report.stopped |= stopped;
        if let Some(s) = scan {
            report.contacts = s.contacts;
            report.bad_rows = s.bad_rows;
        }
        // What is due later, from the ledger and the timers.
        if let Some(t) = self.next_timer(now)? {
            report.due(t);
        }
        self.store
            .set_meta("last_pass", &crate::state::run::ts(now))
            .map_err(|e| e.to_string())?;
        Ok(report)
    }

    /// Sends left `sending` by a runner that died: retried with their key
    /// where the provider takes one, in doubt otherwise.
    fn recover(&mut self, report: &mut Report) -> Result<(), crate::state::StateError> {
        let abandoned = self
            .store
            .abandoned_sends(&self.owner, crate::clock::real_unix_ms(), &runner_is_dead)?;
        if !abandoned.is_empty() {
            self.take_over(abandoned, report)?;
        }
        // What is left of other runners' is held by a lease that runs (a
        // runner not seen dead: another machine, a container restarted):
        // said, not silently left.
        let held = self.store.sending_of_others(&self.owner)?;
        if held > 0 {
            tracing::warn!(
                sends = held,
                "sends left `sending` by another runner are held until its lease ends (15 s at most after its last heartbeat); a later pass takes them over"
            );
        }
        Ok(())
    }

    fn take_over(&mut self, abandoned: Vec<SendRow>, report: &mut Report) -> Result<(), crate::state::StateError> {
        self.store.begin()?;
        for s in abandoned {
            let idempotent = self.workers.idempotent(s.channel);
            if idempotent {
                self.store.requeue_abandoned(&s.key, "retried after a crash")?;
            } else {
                self.store.finish_send(
                    &s.key,
                    SendStatus::InDoubt,
                    Some("runner stopped while sending"),
                    None,
                    None,
                )?;
                report.in_doubt += 1;
            }
        }
        self.store.commit()
    }

    /// The campaigns and date-triggered scenarios with instants in this pass.
    /// The time zones of the contacts seen by the last full scan, and the
    /// project's. Empty before any scan: then every window is scanned.
    fn zones(&self, plan: &Plan) -> Result<Vec<chrono_tz::Tz>, String> {
        let Some(text) = self.store.meta("zones").map_err(|e| e.to_string())? else {
            return Ok(Vec::new());
        };
        let names: Vec<String> = serde_json::from_str(&text).unwrap_or_default();
        let mut zones: Vec<chrono_tz::Tz> = names.iter().filter_map(|n| n.parse().ok()).collect();
        if !zones.contains(&plan.config.timezone) {
            zones.push(plan.config.timezone);
        }
        Ok(zones)
    }

    /// The campaigns and date-triggered scenarios with instants in this pass,
    /// in the zones known. A window with no instant in them is left for a
    /// later pass (not marked scanned): a contact of a zone not seen yet is
    /// entered late, never skipped.
    fn windows(
        &self,
        plan: &Plan,
        engines: &Engines,
        paused: &BTreeSet<String>,
        zones: &[chrono_tz::Tz],
        now: DateTime<Utc>,
    ) -> Result<(Vec<Window>, Vec<Window>), String> {
        let mut campaigns = Vec::new();
        let mut dates = Vec::new();
        let st = &self.store;
        for (name, c) in &plan.campaigns {
            let address = format!("campaigns.{name}");
            if paused.contains(&address) {
                continue;
            }
            let version = engines.version(&address);
            let from = match st.progress(&address, version).map_err(|e| e.to_string())? {
                Some((_, true)) => continue,
                Some((t, false)) => t,
                // A campaign applied late still goes out within the expiry.
                None => st
                    .version_applied_at(&address, version)
                    .map_err(|e| e.to_string())?
                    .unwrap_or(now)
                    .checked_sub_signed(EXPIRY)
                    .unwrap_or(now),
            };
            // Instants in every zone lie within a day around `send_at` read as UTC.
            let earliest = c.send_at.and_utc() - TimeDelta::hours(15);
            if now <= from || now < earliest {
                continue;
            }
            let in_window = |tz: &chrono_tz::Tz| {
                let t = herald_compiler::engine::local_instant(*tz, c.send_at);
                t > from && t <= now
            };
            if !zones.is_empty() && !zones.iter().any(in_window) && now < c.send_at.and_utc() + TimeDelta::hours(15) {
                continue;
            }
            let ledger_known = st.has_sends(&address, version).map_err(|e| e.to_string())?;
            campaigns.push(Window {
                address,
                version,
                from,
                ledger_known,
            });
        }
        for (name, s) in &plan.scenarios {
            if !matches!(s.trigger, Trigger::Date { .. }) {
                continue;
            }
            let address = format!("scenarios.{name}");
            if paused.contains(&address) {
                continue;
            }
            let version = engines.version(&address);
            let from = match st.progress(&address, version).map_err(|e| e.to_string())? {
                Some((t, _)) => t,
                // From the moment it was deployed: earlier days are not re-run.
                None => st
                    .version_applied_at(&address, version)
                    .map_err(|e| e.to_string())?
                    .unwrap_or(now),
            };
            let Trigger::Date { at, .. } = &s.trigger else { continue };
            let due = zones.is_empty()
                || zones.iter().any(|tz| {
                    // The trigger's local time on each day of the window.
                    let first = from.with_timezone(tz).date_naive();
                    let last = now.with_timezone(tz).date_naive();
                    first.iter_days().take_while(|d| *d <= last).take(400).any(|d| {
                        let t = herald_compiler::engine::local_instant(*tz, d.and_time(*at));
                        t > from && t <= now
                    })
                });
            if now > from && due {
                dates.push(Window {
                    address,
                    version,
                    from,
                    ledger_known: true,
                });
            }
        }
        Ok((campaigns, dates))
    }

    fn next_timer(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
        self.store.next_wake(now).map_err(|e| e.to_string())
    }
}

/// A message's tags and its origin's, as pressure rules count them.
fn tags_of(engine: &Engine, origin: Origin, m: &herald_compiler::model::Message) -> Vec<String> {
    let s = engine.solicitation(origin, m);
    let mut tags: Vec<String> = s.message_tags.to_vec();
    tags.extend(s.origin_tags.iter().cloned());
    tags
}

/// A runner id is `user@host:PID:NONCE`. One of this machine whose process
/// is gone died without releasing its lease (`kill -9`, a crash). Where
/// processes cannot be looked up (no `/proc`), a holder is never presumed
/// dead: its lease expires on its own.
pub fn runner_is_dead(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (Some(_nonce), Some(pid), Some(who)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if who != crate::state::lock::who() || !Path::new("/proc/self").exists() {
        return false;
    }
    pid.parse::<u32>()
        .is_ok_and(|pid| pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists())
}

/// How long a claim on a send lasts (real clock), as the runner's on the
/// state: renewed by its heartbeat when less than half is left, so the
/// sends of a runner that died where it cannot be seen dead (another
/// machine, a container restarted) are taken over when its lease on the
/// state would be.
const SEND_LEASE_MS: i64 = LEASE.as_millis() as i64;

/// Renew the runner's lease, and its leases on the sends it has in flight;
/// `false` when another runner holds the state.
fn renew_lease(store: &mut dyn RunStore, owner: &str) -> Result<bool, String> {
    let ttl = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
    if !store
        .lease_runner(owner, crate::clock::real_unix_ms(), ttl, &runner_is_dead)
        .map_err(db)?
    {
        return Ok(false);
    }
    // Read again: the write above may have waited for the database.
    let now = crate::clock::real_unix_ms();
    store
        .renew_send_leases(owner, now + SEND_LEASE_MS / 2, now + SEND_LEASE_MS)
        .map_err(db)?;
    Ok(true)
}

/// [`heartbeat`] as the workers call it while they wait, keeping the first
/// error in `failed`.
fn beating<'s>(
    store: &'s mut dyn RunStore,
    owner: &'s str,
    paused: &'s Paused,
    stop: &'s AtomicBool,
    failed: &'s mut Option<String>,
) -> impl FnMut() + 's {
    move || {
        if let Err(e) = heartbeat(store, owner, paused, stop) {
            failed.get_or_insert(e);
        }
    }
}

/// While the runner waits for the workers (outside a transaction): renew
/// its lease (a pass waiting minutes on a rate-limited provider must not
/// let a second runner in) and read the pauses and a stop.
fn heartbeat(
    store: &mut dyn RunStore,
    owner: &str,
    paused: &Paused,
    stop: &AtomicBool,
) -> Result<BTreeSet<String>, String> {
    if !renew_lease(store, owner)? {
        stop.store(true, Ordering::Relaxed);
        return Err(
            "another `herald run` took over this state's lease while this one waited for its provider; this one stops"
                .into(),
        );
    }
    let (now_paused, stopped) = store.controls().map_err(db)?;
    paused.set(&now_paused);
    if stopped {
        stop.store(true, Ordering::Relaxed);
    }
    Ok(now_paused)
}

/// The state of one pass.
struct Pass<'a, 'p> {
    owner: &'a str,
    store: &'a mut dyn RunStore,
    workers: &'a mut Workers,
    links: &'a Arc<Links>,
    stop: &'a AtomicBool,
    engines: &'a Engines<'p>,
    layout: &'a Layout,
    paused: BTreeSet<String>,
    now: DateTime<Utc>,
    now_ms: i64,
    cx: Cx,
    report: Report,
    campaigns: Vec<Window>,
    dates: Vec<Window>,
    events: BTreeMap<String, Vec<EventRow>>,
    /// Writes since the last commit.
    ops: usize,
    last_flush: Instant,
    last_control: Instant,
    /// Claimed sends, handed to the workers at the next commit.
    ready: Vec<Job>,
    down_hold: DownHold,
    /// Whether any enrolment was active when the pass began (only the
    /// runner, under its lease, enrols).
    enrolments_active: bool,
    /// Whether the ledger holds any suppression, as of the transaction the
    /// pass is in (refreshed at each commit, when the pass starts seeing
    /// what the events endpoint recorded meanwhile): when none, no contact
    /// needs looking up.
    suppressions: bool,
    /// Whether the contact being looked at entered a scenario in this pass.
    enrolled: bool,
    /// How many of them are in small batches (no idempotency key, or email).
    ready_unsafe: usize,
    error: Option<String>,
    /// Time zones seen (for the next campaign instants).
    zones: Vec<chrono_tz::Tz>,
    due_sends: &'a BTreeSet<String>,
    due_enrolments: &'a BTreeSet<String>,
    /// The current contact got an enrolment or a send in this pass.
    touched: bool,
    /// The deployed templates, compiled once per pass.
    renderer: Renderer<'p>,
    /// Sends due now queued for the current contact in this pass, not yet
    /// in the ledger (the guards decide how they are written).
    fresh: Vec<(SendRow, bool)>,
    /// The event export `count()` reads beside the events received.
    crm_events: Option<&'a EventHistory>,
}

fn db(e: crate::state::StateError) -> String {
    e.to_string()
}

impl<'p> Pass<'_, 'p> {
    /// Everything due for one contact.
    fn contact(&mut self, c: &Contact) -> Result<(), String> {
        let engine = &self.engines.current;
        self.cx.reset();
        self.fresh.clear();
        self.enrolled = false;
        let tz = engine.tz(c);
        if !self.zones.contains(&tz) {
            self.zones.push(tz);
        }
        let history = if self.engines.needs_history {
            RunHistory::load(&*self.store, &c.id, self.crm_events).map_err(db)?
        } else {
            RunHistory::default()
        };
        let facts = ContactFacts {
            contact: c,
            event: None,
            history: &history,
        };
        self.touched = false;
        let had_events = match self.events.remove(&c.id) {
            Some(events) => {
                self.events_of(c, &facts, &events)?;
                true
            }
            None => false,
        };
        self.campaigns_of(c, &facts, tz)?;
        self.dates_of(c, &facts)?;
        // The state is read only for contacts with something there: a
        // contact touched in this pass (a new send can matter to a `wait
        // until`) may have enrolments only if some were active when the pass
        // began or the contact just entered one.
        let may_have_enrolments = self.enrolments_active || self.enrolled;
        if (self.touched && may_have_enrolments) || had_events || self.due_enrolments.contains(&c.id) {
            self.enrolments_of(c, &facts)?;
        }
        if self.touched || self.due_sends.contains(&c.id) {
            self.sends_of(c, &facts, tz)?;
        }
        Ok(())
    }

    /// Events enter the scenarios they trigger. An event for a paused
    /// scenario waits (unprocessed) until it is resumed; entering is
    /// idempotent (one enrolment per event), so the others are not entered twice.
    fn events_of(&mut self, c: &Contact, facts: &ContactFacts, events: &[EventRow]) -> Result<(), String> {
        let engine = &self.engines.current;
        let mut done = Vec::new();
        for ev in events {
            self.report.events += 1;
            let mut held = false;
            for i in 0..engine.scenario_count() {
                let id = ScenarioId(i);
                if engine.trigger_event(id) != Some(ev.name.as_str()) {
                    continue;
                }
                let address = format!("scenarios.{}", engine.scenario_name(id));
                if self.paused.contains(&address) {
                    held = true;
                    continue;
                }
                let props = super::events::typed_props(engine.plan, &ev.name, &ev.props);
                let with_event = ContactFacts {
                    event: Some(&props),
                    ..*facts
                };
                let previous = self.previous(&address, &c.id)?;
                if engine.entry(&mut self.cx, id, &with_event, previous, ev.at) == Entry::Enter {
                    self.enrol(&address, c, &format!("event:{}", ev.id), ev.at, Some(ev.props.clone()))?;
                }
            }
            if !held {
                done.push(ev.id);
            }
        }
        self.store.mark_events_processed(&done).map_err(db)?;
        self.ops += done.len();
        Ok(())
    }

    fn previous(&self, address: &str, contact: &str) -> Result<Option<Previous>, String> {
        Ok(self
            .store
            .latest_enrolment(address, contact)
            .map_err(db)?
            .map(|e| Previous {
                entered_at: e.entered_at,
                active: e.status == EnrolmentStatus::Active,
            }))
    }

    fn enrol(
        &mut self,
        address: &str,
        c: &Contact,
        occurrence: &str,
        at: DateTime<Utc>,
        event: Option<String>,
    ) -> Result<(), String> {
        let row = EnrolmentRow {
            id: 0,
            scenario: address.to_string(),
            version: self.engines.version(address),
            contact_id: c.id.clone(),
            occurrence: occurrence.to_string(),
            entered_at: at,
            status: EnrolmentStatus::Active,
            cursor: Cursor::start().to_string(),
            since: at,
            wake_at: None,
            listening: false,
            event,
            exit_reason: None,
        };
        if self.store.enrol(&row).map_err(db)?.is_some() {
            self.report.entered += 1;
            self.ops += 1;
            self.touched = true;
            self.enrolled = true;
        }
        Ok(())
    }

    fn campaigns_of(&mut self, c: &Contact, facts: &ContactFacts, tz: chrono_tz::Tz) -> Result<(), String> {
        let engine = &self.engines.current;
        for w in 0..self.campaigns.len() {
            let (address, version, from, ledger_known) = {
                let w = &self.campaigns[w];
                (w.address.clone(), w.version, w.from, w.ledger_known)
            };
            let Some(id) = engine.campaign_id(address.trim_start_matches("campaigns.")) else {
                continue;
            };
            let Some(at) = engine.campaign_instant(id, tz) else {
                continue;
            };
            if at <= from || at > self.now {
                continue;
            }
            if ledger_known && self.store.send_exists(&address, version, &c.id, "once").map_err(db)? {
                continue;
            }
            // The control group of an A/B test is recorded too: its drop says why.
            let (at, content, holdout) = match engine.campaign(&mut self.cx, id, facts, at) {
                None => continue,
                Some(CampaignSend::Holdout) => (at, Content::Message(""), true),
                Some(CampaignSend::Send { at, content, .. }) => (at, content, false),
            };
            let mut row = self.row(
                engine,
                Origin::Campaign(id),
                &address,
                version,
                c,
                "once",
                at,
                content,
                None,
            );
            if holdout {
                row.status = SendStatus::Dropped;
                row.reason = Some("holdout".into());
            }
            self.queue(row, true)?;
        }
        Ok(())
    }

    fn dates_of(&mut self, c: &Contact, facts: &ContactFacts) -> Result<(), String> {
        let engine = &self.engines.current;
        let tz = engine.tz(c);
        for w in 0..self.dates.len() {
            let (address, from) = (self.dates[w].address.clone(), self.dates[w].from);
            let Some(id) = engine.scenario_id(address.trim_start_matches("scenarios.")) else {
                continue;
            };
            let mut day = from.with_timezone(&tz).date_naive();
            // Every trigger day in the window (a runner down for days catches up).
            for _ in 0..400 {
                let Some((d, at)) = engine.next_date_trigger(id, facts, day) else {
                    break;
                };
                if at > self.now {
                    self.report.due(at);
                    break;
                }
                if at > from {
                    let previous = self.previous(&address, &c.id)?;
                    if engine.entry(&mut self.cx, id, facts, previous, at) == Entry::Enter {
                        self.enrol(&address, c, &format!("date:{d}"), at, None)?;
                    }
                }
                match d.checked_add_days(Days::new(1)) {
                    Some(next) => day = next,
                    None => break,
                }
            }
        }
        Ok(())
    }

    fn enrolments_of(&mut self, c: &Contact, facts: &ContactFacts) -> Result<(), String> {
        let rows = self.store.active_enrolments(&c.id).map_err(db)?;
        for mut row in rows {
            if self.paused.contains(&row.scenario) {
                continue;
            }
            if row.wake_at.is_some_and(|w| w > self.now) && !row.listening {
                continue;
            }
            let Some(engine) = self.engines.for_version(&row.scenario, row.version) else {
                row.status = EnrolmentStatus::Exited;
                row.exit_reason = Some("version-gone".into());
                self.store.update_enrolment(&row).map_err(db)?;
                continue;
            };
            let Some(id) = engine.scenario_id(row.scenario.trim_start_matches("scenarios.")) else {
                continue;
            };
            let props: Option<EventProps> = row.event.as_deref().and_then(|e| {
                engine
                    .trigger_event(id)
                    .map(|name| super::events::typed_props(engine.plan, name, e))
            });
            let Ok(cursor) = row.cursor.parse::<Cursor>() else {
                row.status = EnrolmentStatus::Exited;
                row.exit_reason = Some(ExitReason::Lost.code());
                self.store.update_enrolment(&row).map_err(db)?;
                continue;
            };
            let mut enrolment = Enrolment {
                entered_at: row.entered_at,
                cursor,
                since: row.since,
                event: props,
            };
            let mut actions = Vec::new();
            // The segment memo of `self.cx` is indexed by the current
            // version's segments: an older version gets its own.
            let mut own_cx = (!std::ptr::eq(engine, &self.engines.current)).then(|| engine.cx());
            let progress = engine.advance(
                own_cx.as_mut().unwrap_or(&mut self.cx),
                id,
                &mut enrolment,
                facts,
                self.now,
                &mut actions,
            );
            for a in actions {
                let (at, step, content, thread) = match a {
                    Action::Send {
                        at,
                        step,
                        content,
                        thread,
                    } => (at, step, Some(content), Some(thread)),
                    Action::Holdout { at, step } => (at, step, None, None),
                };
                let occurrence = format!("{}/{step}", row.occurrence);
                let mut send = self.row(
                    engine,
                    Origin::Scenario(id),
                    &row.scenario,
                    row.version,
                    c,
                    &occurrence,
                    at,
                    content.unwrap_or(Content::Message("")),
                    row.event.clone(),
                );
                if content.is_none() {
                    send.status = SendStatus::Dropped;
                    send.reason = Some("holdout".into());
                }
                // A fallback belongs to the solicitation of the send it
                // falls back for: that send's identity.
                if let Some(thread) = thread.filter(|t| *t != step) {
                    let primary = format!("{}/{thread}", row.occurrence);
                    send.thread = Some(send_key(&row.scenario, row.version, &c.id, &primary));
                }
                self.queue(send, false)?;
            }
            row.cursor = enrolment.cursor.to_string();
            row.since = enrolment.since;
            match progress {
                Progress::Asleep { until, listening } => {
                    row.wake_at = Some(until);
                    row.listening = listening;
                    self.report.due(until);
                }
                Progress::Completed { .. } => {
                    row.status = EnrolmentStatus::Completed;
                    row.wake_at = None;
                    row.listening = false;
                    self.report.completed += 1;
                }
                Progress::Exited { reason, .. } => {
                    row.status = EnrolmentStatus::Exited;
                    row.wake_at = None;
                    row.listening = false;
                    row.exit_reason = Some(reason.code());
                    if reason == ExitReason::Lost {
                        tracing::warn!(scenario = %row.scenario, contact = %row.contact_id, "an enrolment's position does not fit its scenario version; it was ended");
                    }
                    self.report.exited += 1;
                }
            }
            self.store.update_enrolment(&row).map_err(db)?;
            self.ops += 1;
        }
        Ok(())
    }

    /// A ledger row for a send of `origin` to `c`.
    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        engine: &Engine<'p>,
        origin: Origin,
        address: &str,
        version: u64,
        c: &Contact,
        occurrence: &str,
        at: DateTime<Utc>,
        content: Content<'p>,
        event: Option<String>,
    ) -> SendRow {
        let message = content.message(|x| self.engines.winner(address, x));
        let (channel, purpose, tags, priority) = match engine.plan.messages.get(message) {
            Some(m) => {
                let tags = tags_of(engine, origin, m);
                (m.channel(), m.purpose, tags, super::deployed::priority(m.purpose))
            }
            None => (
                herald_compiler::ast::values::Channel::Email,
                herald_compiler::ast::values::Purpose::Marketing,
                Vec::new(),
                2,
            ),
        };
        let program = match origin {
            Origin::Campaign(id) => engine
                .plan
                .campaigns
                .get(engine.campaign_name(id))
                .map(|x| x.program.clone()),
            Origin::Scenario(id) => engine
                .plan
                .scenarios
                .get(engine.scenario_name(id))
                .map(|x| x.program.clone()),
        }
        .unwrap_or_default();
        SendRow {
            message: message.to_string(),
            channel,
            purpose,
            program,
            tags,
            priority,
            event,
            // Keyed by the real clock: a pass's keys then grow as it goes,
            // and each goes at the end of the ledger's key index.
            ..SendRow::new(crate::clock::real_unix_ms(), address, version, &c.id, occurrence, at)
        }
    }

    /// A new send. One that is due now is kept in memory and written once
    /// its guards have decided (claimed, deferred or dropped: one insert, not
    /// an insert then an update); the others are written at once. `checked`:
    /// the caller already knows no send of its identity is in the ledger.
    fn queue(&mut self, mut row: SendRow, checked: bool) -> Result<(), String> {
        // As the ledger holds it (instants to the millisecond).
        row.due_at = as_stored(row.due_at);
        row.not_before = as_stored(row.not_before);
        let later = row.status != SendStatus::Queued || row.not_before > self.now;
        let new = if later {
            self.store.queue_send(&row).map_err(db)?
        } else {
            // It may be in the ledger already, or queued for this contact a
            // moment ago in this pass.
            let same = |r: &SendRow| {
                r.object == row.object
                    && r.version == row.version
                    && r.contact_id == row.contact_id
                    && r.occurrence == row.occurrence
            };
            let known = (!checked
                && self
                    .store
                    .send_exists(&row.object, row.version, &row.contact_id, &row.occurrence)
                    .map_err(db)?)
                || self.fresh.iter().any(|(r, _)| same(r));
            !known
        };
        if !new {
            return Ok(());
        }
        self.ops += 1;
        self.touched = true;
        if row.status == SendStatus::Dropped {
            self.report.drop(row.reason.as_deref().unwrap_or("dropped"));
        } else {
            self.report.queued += 1;
            if !later {
                self.fresh.push((row, false));
            }
        }
        Ok(())
    }

    /// Write a send that was kept in memory, as the guards left it.
    fn write_fresh(&mut self, row: &SendRow) -> Result<(), String> {
        self.store.queue_send(row).map_err(db)?;
        Ok(())
    }

    /// The contact's due sends, through the guards.
    fn sends_of(&mut self, c: &Contact, facts: &ContactFacts, tz: chrono_tz::Tz) -> Result<(), String> {
        // (row, whether the ledger has it): those queued by an earlier pass,
        // and those just queued, kept in memory, in the ledger's order.
        let mut due: Vec<(SendRow, bool)> = std::mem::take(&mut self.fresh);
        if self.due_sends.contains(&c.id) {
            let stored = self.store.due_sends(&c.id, self.now, self.now_ms).map_err(db)?;
            due.extend(stored.into_iter().map(|r| (r, true)));
            due.sort_by(|(a, _), (b, _)| (a.not_before, a.priority, &a.key).cmp(&(b.not_before, b.priority, &b.key)));
        } else if due.len() > 1 {
            due.sort_by(|(a, _), (b, _)| (a.not_before, a.priority, &a.key).cmp(&(b.not_before, b.priority, &b.key)));
        }
        if due.is_empty() {
            return Ok(());
        }
        let suppressed = if self.suppressions {
            self.store.suppressed(&c.id).map_err(db)?
        } else {
            Vec::new()
        };
        for (mut row, in_ledger) in due {
            if self.paused.contains(&row.object) {
                if !in_ledger {
                    self.write_fresh(&row)?;
                }
                continue;
            }
            if row.attempts >= MAX_ATTEMPTS {
                self.store
                    .finish_send(
                        &row.key,
                        SendStatus::Failed,
                        Some("gave up after repeated failures"),
                        None,
                        None,
                    )
                    .map_err(db)?;
                self.report.failed += 1;
                continue;
            }
            let engine = self
                .engines
                .for_version(&row.object, row.version)
                .and_then(|e| e.origin(&row.object).map(|o| (e, o)));
            let Some((engine, origin)) = engine else {
                self.settle(&mut row, in_ledger, SendStatus::Dropped, "version-gone")?;
                self.report.drop("version-gone");
                continue;
            };
            // The rest group of an A/B test was queued at `send_at` with the
            // leader of then; its winner is the one of now, when it is due.
            if let Origin::Campaign(id) = origin
                && let Some(content) = engine.rest_content(id, &c.id)
            {
                let winner = content.message(|x| self.engines.winner(&row.object, x));
                if winner != row.message
                    && let Some(m) = engine.plan.messages.get(winner)
                {
                    row.message = winner.to_string();
                    row.tags = tags_of(engine, origin, m);
                    if in_ledger {
                        self.store
                            .set_queued_message(&row.key, &row.message, &row.tags)
                            .map_err(db)?;
                    }
                }
            }
            // The contact's earlier sends within the longest cap window.
            let window = engine.plan.policies.pressure.iter().map(|r| r.per.as_chrono()).max();
            let log_rows = match window {
                Some(w) => self
                    .store
                    .sent_since(
                        &c.id,
                        self.now.checked_sub_signed(w).unwrap_or(DateTime::<Utc>::MIN_UTC),
                    )
                    .map_err(db)?,
                None => Vec::new(),
            };
            let log: Vec<Sent> = log_rows.iter().filter_map(super::deployed::sent).collect();
            // The segment memo of `self.cx` is indexed by the current
            // version's segments: an older version gets its own.
            let mut own_cx = (!std::ptr::eq(engine, &self.engines.current)).then(|| engine.cx());
            let verdict = engine.decide(
                own_cx.as_mut().unwrap_or(&mut self.cx),
                facts,
                &Request {
                    origin,
                    message: &row.message,
                    due: row.due_at,
                    thread: herald_compiler::engine::guard::thread_id(row.thread_key()),
                },
                &log,
                &suppressed,
                self.now,
            );
            self.ops += 1;
            match verdict {
                Verdict::Send if let Some(down) = self.workers.down_for(row.channel) => {
                    // Its provider cannot be connected to: not claimed, left
                    // queued, held on the real clock (see `Runner::down_hold`).
                    let hold = match self.down_hold {
                        DownHold::UntilRetried => down,
                        DownHold::Moment => down.min(Duration::from_secs(1)),
                    };
                    let hold = crate::clock::real_unix_ms() + i64::try_from(hold.as_millis()).unwrap_or(i64::MAX / 2);
                    if !in_ledger {
                        self.write_fresh(&row)?;
                    }
                    self.store.hold_queued(&row.key, hold, "provider-down").map_err(db)?;
                    self.report.retrying += 1;
                }
                Verdict::Send => {
                    let now = self.now;
                    let purpose = row.purpose;
                    let window_id = || calling_window(engine, purpose, tz, now);
                    match compose(
                        &mut self.renderer,
                        engine.plan,
                        self.layout,
                        c,
                        &row,
                        self.links,
                        window_id,
                    ) {
                        Ok(outgoing) => {
                            // From now, not from the pass's start: a long
                            // pass must not make claims that already ended.
                            let claimed_at = crate::clock::real_unix_ms();
                            let lease = claimed_at + SEND_LEASE_MS;
                            // A call's windows are kept from each hand-over.
                            if let Body::Call { window, .. } = &outgoing.body
                                && !row.call_windows.contains(window)
                            {
                                row.call_windows.push(window.clone());
                            }
                            // Pressure counts the send at the instant it went
                            // out. Committed before the provider sees it.
                            // `None`: a send of its identity was in the ledger already.
                            let claimed = if in_ledger {
                                // Not claimed: another runner holds it.
                                self.store
                                    .claim_send(&row.key, self.owner, (claimed_at, lease), self.now, &row.call_windows)
                                    .map_err(db)?
                                    .then_some(None)
                            } else {
                                self.store
                                    .insert_claimed(&row, self.owner, lease, self.now)
                                    .map_err(db)?
                                    .map(Some)
                            };
                            if let Some(id) = claimed {
                                let large = self.workers.large_batch(row.channel);
                                self.ready_unsafe += usize::from(!large);
                                self.ready.push(Job {
                                    outgoing,
                                    object: row.object.clone(),
                                    id,
                                    channel: row.channel,
                                    large,
                                });
                            }
                        }
                        Err(reason) if reason == "no-address" => {
                            self.settle(&mut row, in_ledger, SendStatus::Dropped, "no-address")?;
                            self.report.drop("no-address");
                        }
                        Err(reason) => {
                            self.settle(&mut row, in_ledger, SendStatus::Failed, &reason)?;
                            self.report.failed += 1;
                        }
                    }
                }
                Verdict::Defer(t) => {
                    if in_ledger {
                        self.store
                            .requeue_send(&row.key, t, None, Some("quiet-hours"))
                            .map_err(db)?;
                    } else {
                        row.not_before = t;
                        row.reason = Some("quiet-hours".into());
                        self.write_fresh(&row)?;
                    }
                    self.report.deferred += 1;
                    self.report.due(t);
                }
                Verdict::Drop(d) => {
                    let code = d.code(&engine.plan.policies);
                    self.settle(&mut row, in_ledger, SendStatus::Dropped, &code)?;
                    self.report.drop(&code);
                    if d == Drop::UnknownMessage {
                        tracing::warn!(send = %row.key, "a queued send names a message the deployed plan lacks");
                    }
                }
            }
        }
        Ok(())
    }

    /// Record that a send was dropped or failed for good, with the reason.
    fn settle(&mut self, row: &mut SendRow, in_ledger: bool, status: SendStatus, reason: &str) -> Result<(), String> {
        if in_ledger {
            if status == SendStatus::Dropped {
                self.store.drop_send(&row.key, reason).map_err(db)?;
            } else {
                self.store
                    .finish_send(&row.key, status, Some(reason), None, None)
                    .map_err(db)?;
            }
        } else {
            row.status = status;
            row.reason = Some(reason.to_string());
            self.write_fresh(row)?;
        }
        Ok(())
    }

    /// Commit when enough was written (or time passed), then hand the
    /// claimed sends over and record what the workers finished.
    fn maybe_flush(&mut self) {
        let due = self.ops >= FLUSH_OPS
            || self.ready_unsafe >= super::workers::batch(self.workers.workers())
            || self.ready.len() >= super::workers::LARGE_BATCH
            || self.last_flush.elapsed() >= FLUSH_EVERY;
        if due && let Err(e) = self.flush() {
            self.error = Some(e);
        }
        // Its lease renewed in the transaction (committed within
        // FLUSH_EVERY), the pauses and a stop read.
        if self.last_control.elapsed() >= Duration::from_millis(500) {
            self.last_control = Instant::now();
            match heartbeat(self.store, self.owner, &self.workers.paused(), self.stop) {
                Ok(paused) => self.paused = paused,
                Err(e) => self.error = Some(e),
            }
        }
    }

    fn flush(&mut self) -> Result<(), String> {
        self.store.commit().map_err(db)?;
        // Outside a transaction: the heartbeat's writes commit at once.
        let paused = self.workers.paused();
        let mut failed = None;
        let mut beat = beating(self.store, self.owner, &paused, self.stop, &mut failed);
        self.workers.submit_all(self.ready.drain(..), &mut beat);
        drop(beat);
        self.paused = paused.get();
        if let Some(e) = failed {
            self.error.get_or_insert(e);
        }
        self.ready_unsafe = 0;
        let done = self.workers.poll();
        // The outcomes are recorded even if the next transaction cannot
        // begin (then a statement at a time): dropped, their sends would stay
        // `sending` and go out again after a restart.
        let began = self.begin();
        let recorded = self.record_all(done);
        self.ops = 0;
        self.last_flush = Instant::now();
        began.and(recorded)
    }

    /// Begin the pass's next transaction, and read in it whether any
    /// suppression exists (what the events endpoint recorded meanwhile
    /// shows from here on, as every contact's suppressions would).
    fn begin(&mut self) -> Result<(), String> {
        let began = self.store.begin().map_err(db);
        let any = self.store.any_suppression().map_err(db);
        // Unknown: each contact is looked up (and its query reports the error).
        self.suppressions = *any.as_ref().unwrap_or(&true);
        began.and(any.map(|_| ()))
    }

    /// Record what the workers finished. Claimed sends that ended are
    /// written together (one statement prepared for the lot).
    /// Every outcome is recorded even if one cannot be (the first error is
    /// returned after): a claimed send left `sending` after its provider
    /// took it would be sent again by the next runner.
    fn record_all(&mut self, done: Vec<Done>) -> Result<(), String> {
        let mut ended = Vec::with_capacity(done.len());
        let mut failed = None;
        for d in done {
            if let Err(e) = self.record(d, &mut ended) {
                failed.get_or_insert(e);
            }
        }
        let written = self.store.finish_claimed(&ended).map_err(db);
        failed.map_or(written, Err)
    }

    /// Record one outcome; a claimed send that ended goes to `ended`.
    fn record(&mut self, d: Done, ended: &mut Vec<Ended>) -> Result<(), String> {
        let st = &mut *self.store;
        let mut finish = |status: SendStatus, reason: Option<String>, provider_id: Option<String>| match d.id {
            Some(id) => {
                ended.push(Ended {
                    id,
                    status,
                    reason,
                    provider_id,
                });
                Ok(())
            }
            None => st.finish_send(&d.key, status, reason.as_deref(), provider_id.as_deref(), None),
        };
        match d.outcome {
            Outcome::Sent { provider_id } => {
                finish(SendStatus::Sent, None, provider_id).map_err(db)?;
                self.report.sent += 1;
            }
            Outcome::Failed { reason } => {
                finish(SendStatus::Failed, Some(reason), None).map_err(db)?;
                self.report.failed += 1;
            }
            Outcome::InDoubt { reason } => {
                finish(SendStatus::InDoubt, Some(reason), None).map_err(db)?;
                self.report.in_doubt += 1;
            }
            Outcome::Retry { after, reason } => {
                // Back to the ledger, held on the real clock; due at once on
                // the business clock. Handed back for a pause: no hold (the
                // pause holds it), and not a retry.
                let paused = reason == super::workers::PAUSED;
                let hold = match paused {
                    true => Duration::ZERO,
                    false => after.unwrap_or_else(|| backoff(d.retries + 1, &d.key)),
                };
                let hold_ms = crate::clock::real_unix_ms() + i64::try_from(hold.as_millis()).unwrap_or(i64::MAX / 2);
                if d.tried {
                    st.requeue_send(&d.key, self.now, Some(hold_ms), Some(&reason))
                        .map_err(db)?;
                } else {
                    st.requeue_untried(&d.key, hold_ms, &reason).map_err(db)?;
                }
                if !paused {
                    self.report.retrying += 1;
                }
            }
        }
        Ok(())
    }

    /// Mark the campaigns and date scenarios scanned up to now; a campaign
    /// whose instant has passed in every zone is complete.
    fn close_windows(&mut self) -> Result<(), String> {
        let now = self.now;
        for w in &self.campaigns {
            let name = w.address.trim_start_matches("campaigns.");
            let last = self
                .engines
                .current
                .plan
                .campaigns
                .get(name)
                .map_or(now, |c| c.send_at.and_utc() + TimeDelta::hours(15));
            self.store
                .set_progress(&w.address, w.version, now, now >= last)
                .map_err(db)?;
        }
        for w in &self.dates {
            self.store.set_progress(&w.address, w.version, now, false).map_err(db)?;
        }
        Ok(())
    }

    /// The next campaign instants, and the next date-trigger times, after
    /// now in the zones seen (and the project's): when to look again.
    fn next_scheduled(&mut self, plan: &Plan) {
        let engine = &self.engines.current;
        if !self.zones.contains(&plan.config.timezone) {
            self.zones.push(plan.config.timezone);
        }
        for name in plan.campaigns.keys() {
            let Some(id) = engine.campaign_id(name) else { continue };
            for tz in &self.zones {
                if let Some(at) = engine.campaign_instant(id, *tz)
                    && at > self.now
                {
                    self.report.due(at);
                }
            }
        }
        for s in plan.scenarios.values() {
            let Trigger::Date { at, .. } = &s.trigger else { continue };
            for tz in &self.zones {
                let today = self.now.with_timezone(tz).date_naive();
                for day in [Some(today), today.checked_add_days(Days::new(1))]
                    .into_iter()
                    .flatten()
                {
                    let t = herald_compiler::engine::local_instant(*tz, day.and_time(*at));
                    if t > self.now {
                        self.report.due(t);
                        break;
                    }
                }
            }
        }
    }

    /// Commit, wait for the workers, record their outcomes.
    fn finish(mut self) -> Result<Report, String> {
        // Whatever fails, the workers' outcomes are waited for, recorded and
        // committed before the error is returned.
        let flushed = self.flush();
        // Wait outside a transaction: the events endpoint and `herald pause`
        // write meanwhile, and the heartbeat's lease must commit.
        let committed = self.store.commit().map_err(db);
        let paused = self.workers.paused();
        let mut failed = None;
        let mut beat = beating(self.store, self.owner, &paused, self.stop, &mut failed);
        let done = self.workers.wait_all(&mut beat);
        drop(beat);
        // Busy (`herald pause` or the events endpoint writing): the outcomes
        // are then written a statement at a time, and the pass stands.
        if let Err(e) = self.begin() {
            tracing::warn!(error = %e, "recording the last outcomes one at a time");
        }
        let recorded = self.record_all(done);
        self.store.commit().map_err(db)?;
        // What is paused as the pass ends (a pause that came meanwhile
        // held sends back).
        self.report.paused = self.paused.iter().cloned().collect();
        flushed?;
        committed?;
        recorded?;
        if let Some(e) = failed.or(self.error.take()) {
            return Err(e);
        }
        self.report.unreachable = self.workers.unreachable();
        Ok(self.report)
    }
}
