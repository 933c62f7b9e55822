//! What `herald run` keeps in the state: the deployed sources, events,
//! engagement, suppressions, enrolments and the send ledger (the outbox).
//!
//! Everything the runner does goes through [`RunStore`], so a PostgreSQL
//! backend can slot in beside SQLite. Work is claimed the way `FOR UPDATE
//! SKIP LOCKED` with leases would claim it: a row being sent carries its
//! lease owner and expiry (on the real clock), renewed by its runner's
//! heartbeat; a runner claims only queued rows no other lease holds, and
//! takes over a row left `sending` only when its lease ended or its runner
//! died.
//!
//! The ledger's instants (`sends`) are Unix milliseconds ([`ms`]); the other
//! tables' are RFC 3339 UTC text with milliseconds ([`ts`]: fixed width, so
//! text order is time order).

use super::StateError;
use chrono::{DateTime, SecondsFormat, Utc};
use herald_compiler::ast::values::{Channel, Purpose};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The last instant [`ts`] writes: year 9999 at most, so that the text
/// stays fixed-width (sortable).
const MAX_STORED: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

pub fn ts(t: DateTime<Utc>) -> String {
    let t = if t.timestamp() > MAX_STORED {
        DateTime::from_timestamp(MAX_STORED, 0).unwrap_or(t)
    } else {
        t
    };
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An instant of the ledger (`sends`) as stored: Unix milliseconds. An
/// integer, not [`ts`]'s 24 characters: four instants per send made the row
/// a third larger, and the ledger's writes are most of the runner's work.
pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// An instant of the ledger read back.
pub fn from_ms(v: i64) -> Result<DateTime<Utc>, StateError> {
    DateTime::from_timestamp_millis(v).ok_or_else(|| StateError::Db(format!("a stored time `{v}` is out of range")))
}

/// An instant as the ledger stores it and reads it back (to the millisecond).
pub fn as_stored(t: DateTime<Utc>) -> DateTime<Utc> {
    from_ms(ms(t)).unwrap_or(t)
}

pub fn parse_ts(s: &str) -> Result<DateTime<Utc>, StateError> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.to_utc())
        .map_err(|e| StateError::Db(format!("a stored time `{s}` is not RFC 3339 ({e})")))
}

/// Where a send is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SendStatus {
    /// Waiting for its time (or for quiet hours to end, or for a retry).
    Queued,
    /// Claimed by a runner and handed to the provider.
    Sending,
    Sent,
    /// The provider refused it for good.
    Failed,
    /// Handed to a provider that takes no idempotency key, and the outcome
    /// is unknown (the runner died, or the connection broke): never resent
    /// on its own; `herald sends --in-doubt` lists them.
    InDoubt,
    /// A guard dropped it (the reason says which).
    Dropped,
}

impl SendStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SendStatus::Queued => "queued",
            SendStatus::Sending => "sending",
            SendStatus::Sent => "sent",
            SendStatus::Failed => "failed",
            SendStatus::InDoubt => "in_doubt",
            SendStatus::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Result<SendStatus, StateError> {
        Ok(match s {
            "queued" => SendStatus::Queued,
            "sending" => SendStatus::Sending,
            "sent" => SendStatus::Sent,
            "failed" => SendStatus::Failed,
            "in_doubt" => SendStatus::InDoubt,
            "dropped" => SendStatus::Dropped,
            other => return Err(StateError::Db(format!("unknown send status `{other}`"))),
        })
    }
}

/// How a claimed send ended, for [`RunStore::finish_claimed`].
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    /// Its ledger id.
    pub id: i64,
    pub status: SendStatus,
    pub reason: Option<String>,
    pub provider_id: Option<String>,
}

/// One row of the send ledger.
#[derive(Clone, Debug, PartialEq)]
pub struct SendRow {
    pub key: String,
    /// The campaign or scenario (`campaigns.black_friday`).
    pub object: String,
    pub version: u64,
    pub contact_id: String,
    /// Which time this object sends to this contact (`once`, or a scenario's
    /// entry and step).
    pub occurrence: String,
    pub message: String,
    pub channel: Channel,
    pub purpose: Purpose,
    pub program: String,
    /// The message's and the campaign's tags (pressure rules read them).
    pub tags: Vec<String>,
    pub priority: u8,
    pub due_at: DateTime<Utc>,
    pub not_before: DateTime<Utc>,
    pub status: SendStatus,
    pub reason: Option<String>,
    pub attempts: u32,
    pub sent_at: Option<DateTime<Utc>>,
    pub provider_id: Option<String>,
    /// The triggering event's properties (JSON), for templates.
    pub event: Option<String>,
    /// The solicitation it belongs to ([`SendRow::thread_key`]): the
    /// identity ([`send_key`]) of the send itself, or for a fallback of the
    /// send it falls back for.
    pub thread: Option<String>,
    /// For a call, the calling windows it was handed over in, in order
    /// (their lists): a retry looks there before adding it to another
    /// window's. Stored space-separated in `call_window`.
    pub call_windows: Vec<String>,
}

impl SendRow {
    /// A send to make, queued for `at`: its key made at `made_ms` (Unix
    /// milliseconds), its own solicitation. The caller says what it sends
    /// (an email of no message until then).
    pub fn new(
        made_ms: i64,
        object: &str,
        version: u64,
        contact_id: &str,
        occurrence: &str,
        at: DateTime<Utc>,
    ) -> SendRow {
        let identity = send_key(object, version, contact_id, occurrence);
        SendRow {
            key: ledger_key(made_ms, &identity),
            object: object.to_string(),
            version,
            contact_id: contact_id.to_string(),
            occurrence: occurrence.to_string(),
            message: String::new(),
            channel: Channel::Email,
            purpose: Purpose::Marketing,
            program: String::new(),
            tags: Vec::new(),
            priority: 2,
            due_at: at,
            not_before: at,
            status: SendStatus::Queued,
            reason: None,
            attempts: 0,
            sent_at: None,
            provider_id: None,
            event: None,
            thread: Some(identity),
            call_windows: Vec::new(),
        }
    }

    /// The identity of its solicitation (pressure caps count one per
    /// solicitation). Every send made since state 7 stores it in `thread`
    /// (its own identity, or a fallback's primary's); an older send without
    /// one is its own solicitation, and its key is its identity.
    pub fn thread_key(&self) -> &str {
        self.thread.as_deref().unwrap_or(&self.key)
    }
}

/// A send's identity hashed: object, version, contact and occurrence. It
/// names a solicitation (a fallback's `thread` is its primary's identity),
/// and it was the key of every send before state 7 (those keep it). Short
/// and safe whatever the contact id holds.
pub fn send_key(object: &str, version: u64, contact: &str, occurrence: &str) -> String {
    let mut h = Sha256::new();
    for part in [object, &version.to_string(), contact, occurrence] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    // Hex by hand: a `format!` per byte showed in the runner's profile.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = String::with_capacity(32);
    for b in &h.finalize()[..16] {
        key.push(char::from(HEX[usize::from(b >> 4)]));
        key.push(char::from(HEX[usize::from(b & 15)]));
    }
    key
}

/// The permanent idempotency key of a new send (stored with it; retries,
/// Message-IDs and providers' idempotency keys use the stored one): when it
/// was made, in Unix milliseconds on the machine's clock (12 hex digits),
/// then 20 hex digits of its identity. Keys made one after the other sort
/// one after the other, so each new send goes at the end of the ledger's
/// key index instead of into a random page of it. The ledger is unique by
/// identity, not by key; a key tells when its send was made, never how many
/// there were.
pub fn ledger_key(made_ms: i64, identity: &str) -> String {
    let ms = u64::try_from(made_ms).unwrap_or(0).min(0xffff_ffff_ffff);
    let tail = identity.get(..20).unwrap_or(identity);
    format!("{ms:012x}{tail}")
}

/// An enrolment as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct EnrolmentRow {
    pub id: i64,
    pub scenario: String,
    pub version: u64,
    pub contact_id: String,
    pub occurrence: String,
    pub entered_at: DateTime<Utc>,
    pub status: EnrolmentStatus,
    pub cursor: String,
    pub since: DateTime<Utc>,
    pub wake_at: Option<DateTime<Utc>>,
    pub listening: bool,
    /// The triggering event's properties (JSON).
    pub event: Option<String>,
    pub exit_reason: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrolmentStatus {
    Active,
    Completed,
    Exited,
}

impl EnrolmentStatus {
    fn as_str(self) -> &'static str {
        match self {
            EnrolmentStatus::Active => "active",
            EnrolmentStatus::Completed => "completed",
            EnrolmentStatus::Exited => "exited",
        }
    }

    fn parse(s: &str) -> Result<EnrolmentStatus, StateError> {
        Ok(match s {
            "active" => EnrolmentStatus::Active,
            "completed" => EnrolmentStatus::Completed,
            "exited" => EnrolmentStatus::Exited,
            other => return Err(StateError::Db(format!("unknown enrolment status `{other}`"))),
        })
    }
}

/// An event received for a contact.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub id: i64,
    pub contact_id: String,
    pub name: String,
    pub at: DateTime<Utc>,
    /// JSON object of the event's properties.
    pub props: String,
    /// The CRM's stamp when the event's contact was last looked for and
    /// not found (see [`RunStore::mark_events_waiting`]).
    pub waiting: Option<String>,
}

/// What a contact did, for conditions (`count`, `opened`, `clicked`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactHistory {
    /// (event, at)
    pub events: Vec<(String, DateTime<Utc>)>,
    /// (message, kind, at), kind `opened` or `clicked`.
    pub engagement: Vec<(String, String, DateTime<Utc>)>,
}

/// A filter for `herald sends`.
#[derive(Clone, Debug, Default)]
pub struct SendFilter {
    pub contact: Option<String>,
    pub object: Option<String>,
    pub status: Option<SendStatus>,
    pub limit: usize,
}

/// Counts of sends by status (for reports).
pub type StatusCounts = BTreeMap<String, u64>;

/// The runner's view of the state. One implementation per backend; the
/// runner, the events endpoint and the commands hold a [`Store`].
pub trait RunStore {
    /// Start a write transaction (every write until `commit` is atomic).
    fn begin(&mut self) -> Result<(), StateError>;
    fn commit(&mut self) -> Result<(), StateError>;

    // The deployed plan.
    fn snapshot(&self, digest: &str) -> Result<Option<Vec<(String, String)>>, StateError>;
    /// The current serial and the digest of its sources.
    fn current_apply(&self) -> Result<Option<(u64, String)>, StateError>;
    /// The source digest under which a version of an object was last deployed.
    fn version_digest(&self, address: &str, version: u64) -> Result<Option<String>, StateError>;
    /// Deployed objects: address → (version, applied serial).
    fn deployed_versions(&self) -> Result<Vec<(String, u64)>, StateError>;
    /// When the serial that created this object version was applied.
    fn version_applied_at(&self, address: &str, version: u64) -> Result<Option<DateTime<Utc>>, StateError>;

    // Runner bookkeeping.
    fn meta(&self, key: &str) -> Result<Option<String>, StateError>;
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StateError>;
    /// Take or renew the runner lease (one runner per SQLite state). `false`:
    /// another runner holds an unexpired lease and `dead` does not say it
    /// died (a runner killed with `kill -9` on this machine is taken over at once).
    fn lease_runner(
        &mut self,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
        dead: &dyn Fn(&str) -> bool,
    ) -> Result<bool, StateError>;
    fn release_runner(&mut self, owner: &str) -> Result<(), StateError>;
    /// Paused addresses, and whether a stop was requested.
    fn controls(&self) -> Result<(BTreeSet<String>, bool), StateError>;
    fn set_control(
        &mut self,
        address: &str,
        action: Option<&str>,
        at: DateTime<Utc>,
        who: &str,
    ) -> Result<bool, StateError>;
    /// How far a campaign or date-triggered scenario version was scanned,
    /// and whether it is complete (a campaign whose every instant passed).
    fn progress(&self, address: &str, version: u64) -> Result<Option<(DateTime<Utc>, bool)>, StateError>;
    fn set_progress(
        &mut self,
        address: &str,
        version: u64,
        until: DateTime<Utc>,
        completed: bool,
    ) -> Result<(), StateError>;

    // Events and history.
    /// Record an event; `None` when its dedupe key was seen before.
    fn insert_event(
        &mut self,
        contact_id: &str,
        name: &str,
        at: DateTime<Utc>,
        props: &str,
        source: &str,
        dedupe_key: Option<&str>,
    ) -> Result<Option<i64>, StateError>;
    /// The contact and event name recorded under an event id.
    fn event_of_key(&self, dedupe_key: &str) -> Result<Option<(String, String)>, StateError>;
    /// Events not processed yet, after id `after`, in id order.
    fn pending_events(&self, after: i64, limit: usize) -> Result<Vec<EventRow>, StateError>;
    fn mark_events_processed(&mut self, ids: &[i64]) -> Result<(), StateError>;
    /// Events whose contact the CRM did not have when its stamp was
    /// `stamp`: not looked for again until the stamp changes.
    fn mark_events_waiting(&mut self, ids: &[i64], stamp: &str) -> Result<(), StateError>;
    fn history(&self, contact_id: &str) -> Result<ContactHistory, StateError>;
    fn record_engagement(
        &mut self,
        send_key: &str,
        kind: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<(String, String)>, StateError>;
    fn suppressed(&self, contact_id: &str) -> Result<Vec<Channel>, StateError>;
    /// Whether any contact is suppressed on any channel.
    fn any_suppression(&self) -> Result<bool, StateError>;
    fn suppress(
        &mut self,
        contact_id: &str,
        channel: Channel,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StateError>;

    // Enrolments.
    /// `None` when the contact already has this occurrence.
    fn enrol(&mut self, row: &EnrolmentRow) -> Result<Option<i64>, StateError>;
    fn latest_enrolment(&self, scenario: &str, contact_id: &str) -> Result<Option<EnrolmentRow>, StateError>;
    fn active_enrolments(&self, contact_id: &str) -> Result<Vec<EnrolmentRow>, StateError>;
    fn update_enrolment(&mut self, row: &EnrolmentRow) -> Result<(), StateError>;
    /// Contacts with an enrolment due by `now` (or listening for new facts).
    fn contacts_with_due_enrolments(&self, now: DateTime<Utc>) -> Result<BTreeSet<String>, StateError>;
    /// Versions of scenarios with contacts still in them: (address, version).
    fn active_versions(&self) -> Result<Vec<(String, u64)>, StateError>;
    /// Whether any contact is in a scenario.
    fn any_active_enrolment(&self) -> Result<bool, StateError>;

    // The send ledger.
    /// Insert a send; `false` when a send of its identity exists (it was queued before).
    fn queue_send(&mut self, row: &SendRow) -> Result<bool, StateError>;
    /// Whether the ledger holds the send of this identity.
    fn send_exists(&self, object: &str, version: u64, contact_id: &str, occurrence: &str) -> Result<bool, StateError>;
    /// Whether the ledger holds any send of this version of an object.
    fn has_sends(&self, object: &str, version: u64) -> Result<bool, StateError>;
    /// Queued sends of a contact that are due by `now` (and, for retries,
    /// whose hold on the real clock `now_ms` has passed), in time and priority order.
    fn due_sends(&self, contact_id: &str, now: DateTime<Utc>, now_ms: i64) -> Result<Vec<SendRow>, StateError>;
    fn contacts_with_due_sends(&self, now: DateTime<Utc>, now_ms: i64) -> Result<BTreeSet<String>, StateError>;
    /// Sends of a contact that went out (or may have) after `since`.
    fn sent_since(&self, contact_id: &str, since: DateTime<Utc>) -> Result<Vec<SendRow>, StateError>;
    /// Insert a send that is due now and passed the guards, already claimed
    /// (`sending`, leased to `owner`, sent at `at`, one attempt): one write
    /// where queueing then claiming took two. Its ledger id, for
    /// [`RunStore::finish_claimed`]; `None` when a send of its identity exists.
    fn insert_claimed(
        &mut self,
        row: &SendRow,
        owner: &str,
        lease_until_ms: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<i64>, StateError>;
    /// [`RunStore::finish_send`] for sends [`RunStore::insert_claimed`]
    /// inserted, found by their ledger ids (the table's own order, no index
    /// to go through). One statement, prepared once for the lot.
    fn finish_claimed(&mut self, ended: &[Ended]) -> Result<(), StateError>;
    /// Claim a queued send for the provider: `sending`, leased to `owner`
    /// until `lease.1`, with the calling windows a call was handed over in
    /// (none kept as they are). `false`, and nothing changed, when it is no
    /// longer queued or another runner's lease on it runs past `lease.0`
    /// (now, on the real clock): what `FOR UPDATE SKIP LOCKED` skips.
    fn claim_send(
        &mut self,
        key: &str,
        owner: &str,
        lease: (i64, i64),
        at: DateTime<Utc>,
        call_windows: &[String],
    ) -> Result<bool, StateError>;
    fn finish_send(
        &mut self,
        key: &str,
        status: SendStatus,
        reason: Option<&str>,
        provider_id: Option<&str>,
        sent_at: Option<DateTime<Utc>>,
    ) -> Result<(), StateError>;
    /// A send a dead runner left `sending`, back to `queued` to be sent again
    /// with its key. Its claim is not counted as an attempt: the runner died,
    /// not the provider refused (a large batch claimed by a runner killed
    /// again and again would otherwise be given up for failures it never had).
    fn requeue_abandoned(&mut self, key: &str, reason: &str) -> Result<(), StateError>;
    /// Back to `queued`: due again at `not_before`, and not before `hold_ms`
    /// on the real clock (retries back off on the real clock).
    fn requeue_send(
        &mut self,
        key: &str,
        not_before: DateTime<Utc>,
        hold_ms: Option<i64>,
        reason: Option<&str>,
    ) -> Result<(), StateError>;
    /// A claimed send handed back without its provider being asked (the
    /// provider is down, or the runner stops): back to `queued`, held until
    /// `hold_ms` on the real clock, and its claim not counted as an attempt
    /// (a provider down for hours must not make its sends give up).
    fn requeue_untried(&mut self, key: &str, hold_ms: i64, reason: &str) -> Result<(), StateError>;
    /// A queued send held until `hold_ms` on the real clock (its provider is
    /// down); a send no longer queued is left as it is.
    fn hold_queued(&mut self, key: &str, hold_ms: i64, reason: &str) -> Result<(), StateError>;
    fn drop_send(&mut self, key: &str, reason: &str) -> Result<(), StateError>;
    /// A queued send's message (an A/B test's winner, decided when due).
    fn set_queued_message(&mut self, key: &str, message: &str, tags: &[String]) -> Result<(), StateError>;
    /// Sends left `sending` by another runner that is gone: its lease on
    /// them ended before `now_ms` (real clock), or `dead` says it died.
    fn abandoned_sends(
        &self,
        owner: &str,
        now_ms: i64,
        dead: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<SendRow>, StateError>;
    /// How many sends other runners than `owner` have `sending`.
    fn sending_of_others(&self, owner: &str) -> Result<usize, StateError>;
    /// Renew the leases on the sends `owner` has in flight to `until_ms`,
    /// those that end before `before_ms` (its heartbeat: a runner alive keeps
    /// its sends, however long its provider takes).
    fn renew_send_leases(&mut self, owner: &str, before_ms: i64, until_ms: i64) -> Result<(), StateError>;
    /// The next instant a queued send or a sleeping enrolment is due after `now`.
    fn next_wake(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StateError>;
    /// Sends and engagement of each message an object sent (experiment results).
    fn variant_stats(
        &self,
        object: &str,
    ) -> Result<BTreeMap<String, herald_compiler::engine::experiment::VariantStats>, StateError>;
    fn list_sends(&self, filter: &SendFilter) -> Result<Vec<SendRow>, StateError>;
    fn send(&self, key: &str) -> Result<Option<SendRow>, StateError>;
    /// Sends by status (drops by reason), of one object and one contact when given.
    fn send_counts(&self, object: Option<&str>, contact: Option<&str>) -> Result<StatusCounts, StateError>;
}

/// The SQLite implementation.
pub struct SqliteRunStore {
    conn: Connection,
    in_tx: bool,
}

/// A run store of any backend, as the runner holds it (the events
/// endpoint shares it across threads).
pub type Store = Box<dyn RunStore + Send>;

/// Open the run store of the state at `path` (SQLite, the one backend yet;
/// PostgreSQL will be chosen here, from the configuration).
pub fn open_store(path: &Path) -> Result<Store, StateError> {
    Ok(Box::new(SqliteRunStore::open(path)?))
}

impl SqliteRunStore {
    /// Open the state for running (it must exist and be migrated: open it
    /// with [`super::State::open`] first). WAL lets the events endpoint and
    /// `herald event send` write while the runner works.
    pub fn open(path: &Path) -> Result<SqliteRunStore, StateError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A send marked `sending` must survive a power cut, not just a crash:
        // in WAL mode NORMAL syncs only at checkpoints, so a power cut could
        // forget a claim the provider already acted on and send it again.
        // FULL syncs the WAL at every commit (claims are batched per commit).
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Checkpoint every 10,000 WAL pages (~40 MB), not SQLite's 1,000: send
        // keys are random, so each commit dirties scattered index pages, and a
        // longer interval copies each page back once for many commits. For
        // 100,000 SMS (bench/run.sh) the runner wrote 0.86 GB, not 1.1 GB.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        Ok(SqliteRunStore { conn, in_tx: false })
    }

    /// Insert a send as given, with these status columns and lease: its
    /// ledger id, `None` when a send of its identity exists.
    #[allow(clippy::too_many_arguments)]
    fn insert_send(
        &mut self,
        s: &SendRow,
        status: SendStatus,
        reason: Option<&str>,
        attempts: u32,
        sent_at: Option<i64>,
        lease: Option<(&str, i64)>,
        updated_at: i64,
    ) -> Result<Option<i64>, StateError> {
        let n = self.conn.prepare_cached(
            "INSERT INTO sends (key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority, due_at, not_before, status, reason, attempts, sent_at, provider_id, event, thread, lease_owner, lease_until, updated_at, call_window)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)
             ON CONFLICT (object, version, contact_id, occurrence) DO NOTHING",
        )?
        .execute(params![
            s.key,
            s.object,
            s.version as i64,
            s.contact_id,
            s.occurrence,
            s.message,
            s.channel.as_str(),
            s.purpose.as_str(),
            s.program,
            serde_json::to_string(&s.tags).unwrap_or_else(|_| "[]".into()),
            i64::from(s.priority),
            ms(s.due_at),
            ms(s.not_before),
            status.as_str(),
            reason,
            i64::from(attempts),
            sent_at,
            s.provider_id,
            s.event,
            s.thread,
            lease.map(|l| l.0),
            lease.map(|l| l.1),
            updated_at,
            windows_text(&s.call_windows),
        ])?;
        Ok((n > 0).then(|| self.conn.last_insert_rowid()))
    }
}

fn send_row(r: &rusqlite::Row) -> rusqlite::Result<SendRowRaw> {
    Ok(SendRowRaw {
        key: r.get(0)?,
        object: r.get(1)?,
        version: r.get(2)?,
        contact_id: r.get(3)?,
        occurrence: r.get(4)?,
        message: r.get(5)?,
        channel: r.get(6)?,
        purpose: r.get(7)?,
        program: r.get(8)?,
        tags: r.get(9)?,
        priority: r.get(10)?,
        due_at: r.get(11)?,
        not_before: r.get(12)?,
        status: r.get(13)?,
        reason: r.get(14)?,
        attempts: r.get(15)?,
        sent_at: r.get(16)?,
        provider_id: r.get(17)?,
        event: r.get(18)?,
        thread: r.get(19)?,
        call_window: r.get(20)?,
    })
}

/// The columns of a send row, in [`send_row`]'s order (a macro, so that
/// queries are literals: `format!` made each hot query's text at each run).
macro_rules! send_columns {
    () => {
        "key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority, due_at, not_before, status, reason, attempts, sent_at, provider_id, event, thread, call_window"
    };
}

/// A send row as SQLite gives it, before typing.
struct SendRowRaw {
    key: String,
    object: String,
    version: i64,
    contact_id: String,
    occurrence: String,
    message: String,
    channel: String,
    purpose: String,
    program: String,
    tags: String,
    priority: i64,
    due_at: i64,
    not_before: i64,
    status: String,
    reason: Option<String>,
    attempts: i64,
    sent_at: Option<i64>,
    provider_id: Option<String>,
    event: Option<String>,
    thread: Option<String>,
    call_window: Option<String>,
}

/// A call's windows as stored (`None` for none).
fn windows_text(windows: &[String]) -> Option<String> {
    (!windows.is_empty()).then(|| windows.join(" "))
}

fn channel(s: &str) -> Result<Channel, StateError> {
    Channel::ALL
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or_else(|| StateError::Db(format!("unknown channel `{s}`")))
}

fn purpose(s: &str) -> Result<Purpose, StateError> {
    [Purpose::Marketing, Purpose::Transactional, Purpose::Service]
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| StateError::Db(format!("unknown purpose `{s}`")))
}

impl SendRowRaw {
    fn typed(self) -> Result<SendRow, StateError> {
        Ok(SendRow {
            key: self.key,
            object: self.object,
            version: self.version as u64,
            contact_id: self.contact_id,
            occurrence: self.occurrence,
            message: self.message,
            channel: channel(&self.channel)?,
            purpose: purpose(&self.purpose)?,
            program: self.program,
            tags: serde_json::from_str(&self.tags).unwrap_or_default(),
            priority: u8::try_from(self.priority).unwrap_or(u8::MAX),
            due_at: from_ms(self.due_at)?,
            not_before: from_ms(self.not_before)?,
            status: SendStatus::parse(&self.status)?,
            reason: self.reason,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            sent_at: self.sent_at.map(from_ms).transpose()?,
            provider_id: self.provider_id,
            event: self.event,
            thread: self.thread,
            call_windows: self
                .call_window
                .map(|w| w.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
        })
    }
}

fn sends(stmt: &mut rusqlite::Statement, params: impl rusqlite::Params) -> Result<Vec<SendRow>, StateError> {
    let rows = stmt.query_map(params, send_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r?.typed()?);
    }
    Ok(out)
}

macro_rules! enrolment_columns {
    () => {
        "id, scenario, version, contact_id, occurrence, entered_at, status, cursor, since, wake_at, listening, event, exit_reason"
    };
}

fn enrolments(stmt: &mut rusqlite::Statement, params: impl rusqlite::Params) -> Result<Vec<EnrolmentRow>, StateError> {
    let rows = stmt.query_map(params, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, String>(7)?,
            r.get::<_, String>(8)?,
            r.get::<_, Option<String>>(9)?,
            r.get::<_, bool>(10)?,
            r.get::<_, Option<String>>(11)?,
            r.get::<_, Option<String>>(12)?,
        ))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (
            id,
            scenario,
            version,
            contact_id,
            occurrence,
            entered_at,
            status,
            cursor,
            since,
            wake_at,
            listening,
            event,
            exit_reason,
        ) = r?;
        out.push(EnrolmentRow {
            id,
            scenario,
            version: version as u64,
            contact_id,
            occurrence,
            entered_at: parse_ts(&entered_at)?,
            status: EnrolmentStatus::parse(&status)?,
            cursor,
            since: parse_ts(&since)?,
            wake_at: wake_at.as_deref().map(parse_ts).transpose()?,
            listening,
            event,
            exit_reason,
        });
    }
    Ok(out)
}

impl RunStore for SqliteRunStore {
    fn begin(&mut self) -> Result<(), StateError> {
        if !self.in_tx {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.in_tx = true;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StateError> {
        if self.in_tx {
            self.conn.execute_batch("COMMIT")?;
            self.in_tx = false;
        }
        Ok(())
    }

    fn snapshot(&self, digest: &str) -> Result<Option<Vec<(String, String)>>, StateError> {
        let files: Option<String> = self
            .conn
            .query_row("SELECT files FROM snapshots WHERE digest = ?1", [digest], |r| r.get(0))
            .optional()?;
        files.as_deref().map(super::snapshot_files).transpose()
    }

    fn current_apply(&self) -> Result<Option<(u64, String)>, StateError> {
        Ok(self
            .conn
            .query_row(
                "SELECT serial, source_digest FROM applies WHERE source_digest IS NOT NULL ORDER BY serial DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?)),
            )
            .optional()?)
    }

    fn version_digest(&self, address: &str, version: u64) -> Result<Option<String>, StateError> {
        // The last apply while this version was deployed.
        Ok(self
            .conn
            .query_row(
                "SELECT a.source_digest FROM object_versions v JOIN applies a
                   ON a.serial >= v.created_serial AND (v.retired_serial IS NULL OR a.serial < v.retired_serial)
                 WHERE v.address = ?1 AND v.version = ?2 AND a.source_digest IS NOT NULL
                 ORDER BY a.serial DESC LIMIT 1",
                params![address, version as i64],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn deployed_versions(&self) -> Result<Vec<(String, u64)>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT address, version FROM objects ORDER BY address")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn version_applied_at(&self, address: &str, version: u64) -> Result<Option<DateTime<Utc>>, StateError> {
        let at: Option<String> = self
            .conn
            .query_row(
                "SELECT a.applied_at FROM object_versions v JOIN applies a ON a.serial = v.created_serial
                 WHERE v.address = ?1 AND v.version = ?2",
                params![address, version as i64],
                |r| r.get(0),
            )
            .optional()?;
        at.as_deref().map(parse_ts).transpose()
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StateError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM run_meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StateError> {
        self.conn.execute(
            "INSERT INTO run_meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }

    fn lease_runner(
        &mut self,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
        dead: &dyn Fn(&str) -> bool,
    ) -> Result<bool, StateError> {
        let held: Option<String> = self
            .conn
            .query_row("SELECT value FROM run_meta WHERE key = 'runner'", [], |r| r.get(0))
            .optional()?;
        if let Some(h) = held
            && let Some((who, until)) = h.rsplit_once('|')
            && who != owner
            && until.parse::<i64>().is_ok_and(|u| u > now_ms)
            && !dead(who)
        {
            return Ok(false);
        }
        self.set_meta("runner", &format!("{owner}|{}", now_ms.saturating_add(ttl_ms)))?;
        Ok(true)
    }

    fn release_runner(&mut self, owner: &str) -> Result<(), StateError> {
        self.conn.execute(
            "DELETE FROM run_meta WHERE key = 'runner' AND value LIKE ?1",
            [format!("{owner}|%")],
        )?;
        Ok(())
    }

    fn controls(&self) -> Result<(BTreeSet<String>, bool), StateError> {
        let mut stmt = self.conn.prepare("SELECT address, action FROM controls")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut paused = BTreeSet::new();
        let mut stop = false;
        for r in rows {
            let (address, action) = r?;
            if action == "stop" {
                stop = true;
            } else {
                paused.insert(address);
            }
        }
        Ok((paused, stop))
    }

    fn set_control(
        &mut self,
        address: &str,
        action: Option<&str>,
        at: DateTime<Utc>,
        who: &str,
    ) -> Result<bool, StateError> {
        let n = match action {
            Some(a) => self.conn.execute(
                "INSERT INTO controls (address, action, at, who) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(address) DO UPDATE SET action = ?2, at = ?3, who = ?4",
                params![address, a, ts(at), who],
            )?,
            None => self
                .conn
                .execute("DELETE FROM controls WHERE address = ?1", [address])?,
        };
        Ok(n > 0)
    }

    fn progress(&self, address: &str, version: u64) -> Result<Option<(DateTime<Utc>, bool)>, StateError> {
        let row: Option<(String, bool)> = self
            .conn
            .query_row(
                "SELECT scanned_until, completed FROM progress WHERE address = ?1 AND version = ?2",
                params![address, version as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(t, c)| Ok((parse_ts(&t)?, c))).transpose()
    }

    fn set_progress(
        &mut self,
        address: &str,
        version: u64,
        until: DateTime<Utc>,
        completed: bool,
    ) -> Result<(), StateError> {
        self.conn.execute(
            "INSERT INTO progress (address, version, scanned_until, completed) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(address, version) DO UPDATE SET scanned_until = ?3, completed = ?4",
            params![address, version as i64, ts(until), completed],
        )?;
        Ok(())
    }

    fn insert_event(
        &mut self,
        contact_id: &str,
        name: &str,
        at: DateTime<Utc>,
        props: &str,
        source: &str,
        dedupe_key: Option<&str>,
    ) -> Result<Option<i64>, StateError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO events (contact_id, name, at, props, source, dedupe_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![contact_id, name, ts(at), props, source, dedupe_key],
        )?;
        Ok((n > 0).then(|| self.conn.last_insert_rowid()))
    }

    fn event_of_key(&self, dedupe_key: &str) -> Result<Option<(String, String)>, StateError> {
        Ok(self
            .conn
            .query_row(
                "SELECT contact_id, name FROM events WHERE dedupe_key = ?1",
                [dedupe_key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn pending_events(&self, after: i64, limit: usize) -> Result<Vec<EventRow>, StateError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, contact_id, name, at, props, waiting FROM events WHERE processed = 0 AND id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map([after, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (id, contact_id, name, at, props, waiting) = r?;
            out.push(EventRow {
                id,
                contact_id,
                name,
                at: parse_ts(&at)?,
                props,
                waiting,
            });
        }
        Ok(out)
    }

    fn mark_events_processed(&mut self, ids: &[i64]) -> Result<(), StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("UPDATE events SET processed = 1 WHERE id = ?1")?;
        for id in ids {
            stmt.execute([id])?;
        }
        Ok(())
    }

    fn mark_events_waiting(&mut self, ids: &[i64], stamp: &str) -> Result<(), StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("UPDATE events SET waiting = ?2 WHERE id = ?1 AND processed = 0")?;
        for id in ids {
            stmt.execute(params![id, stamp])?;
        }
        Ok(())
    }

    fn history(&self, contact_id: &str) -> Result<ContactHistory, StateError> {
        let mut h = ContactHistory::default();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, at FROM events WHERE contact_id = ?1 ORDER BY at")?;
        for r in stmt.query_map([contact_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (name, at) = r?;
            h.events.push((name, parse_ts(&at)?));
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT message, kind, at FROM engagement WHERE contact_id = ?1 ORDER BY at")?;
        for r in stmt.query_map([contact_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })? {
            let (message, kind, at) = r?;
            h.engagement.push((message, kind, parse_ts(&at)?));
        }
        Ok(h)
    }

    fn record_engagement(
        &mut self,
        send_key: &str,
        kind: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<(String, String)>, StateError> {
        let found: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT contact_id, message FROM sends WHERE key = ?1",
                [send_key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((contact, message)) = found else {
            return Ok(None);
        };
        self.conn.execute(
            "INSERT INTO engagement (send_key, contact_id, message, kind, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![send_key, contact, message, kind, ts(at)],
        )?;
        // Enrolments waiting for new facts (`wait until`, `exit_when`) are
        // looked at again at once.
        self.conn.execute(
            "UPDATE enrolments SET wake_at = ?2 WHERE contact_id = ?1 AND status = 'active' AND listening = 1",
            params![contact, ts(at)],
        )?;
        Ok(Some((contact, message)))
    }

    fn any_suppression(&self) -> Result<bool, StateError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM suppressions LIMIT 1")?
            .exists([])?)
    }

    fn suppressed(&self, contact_id: &str) -> Result<Vec<Channel>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT channel FROM suppressions WHERE contact_id = ?1")?;
        let rows = stmt.query_map([contact_id], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(channel(&r?)?);
        }
        Ok(out)
    }

    fn suppress(&mut self, contact_id: &str, ch: Channel, reason: &str, at: DateTime<Utc>) -> Result<(), StateError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO suppressions (contact_id, channel, reason, at) VALUES (?1, ?2, ?3, ?4)",
            params![contact_id, ch.as_str(), reason, ts(at)],
        )?;
        Ok(())
    }

    fn enrol(&mut self, e: &EnrolmentRow) -> Result<Option<i64>, StateError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO enrolments (scenario, version, contact_id, occurrence, entered_at, status, cursor, since, wake_at, listening, event, exit_reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                e.scenario,
                e.version as i64,
                e.contact_id,
                e.occurrence,
                ts(e.entered_at),
                e.status.as_str(),
                e.cursor,
                ts(e.since),
                e.wake_at.map(ts),
                e.listening,
                e.event,
                e.exit_reason
            ],
        )?;
        Ok((n > 0).then(|| self.conn.last_insert_rowid()))
    }

    fn latest_enrolment(&self, scenario: &str, contact_id: &str) -> Result<Option<EnrolmentRow>, StateError> {
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT ",
            enrolment_columns!(),
            " FROM enrolments WHERE scenario = ?1 AND contact_id = ?2 ORDER BY entered_at DESC, id DESC LIMIT 1"
        ))?;
        Ok(enrolments(&mut stmt, params![scenario, contact_id])?.pop())
    }

    fn active_enrolments(&self, contact_id: &str) -> Result<Vec<EnrolmentRow>, StateError> {
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT ",
            enrolment_columns!(),
            " FROM enrolments WHERE contact_id = ?1 AND status = 'active' ORDER BY id"
        ))?;
        enrolments(&mut stmt, [contact_id])
    }

    fn update_enrolment(&mut self, e: &EnrolmentRow) -> Result<(), StateError> {
        self.conn.execute(
            "UPDATE enrolments SET status = ?2, cursor = ?3, since = ?4, wake_at = ?5, listening = ?6, exit_reason = ?7 WHERE id = ?1",
            params![
                e.id,
                e.status.as_str(),
                e.cursor,
                ts(e.since),
                e.wake_at.map(ts),
                e.listening,
                e.exit_reason
            ],
        )?;
        Ok(())
    }

    fn contacts_with_due_enrolments(&self, now: DateTime<Utc>) -> Result<BTreeSet<String>, StateError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT contact_id FROM enrolments WHERE status = 'active' AND (wake_at IS NULL OR wake_at <= ?1)",
        )?;
        let rows = stmt.query_map([ts(now)], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn any_active_enrolment(&self) -> Result<bool, StateError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM enrolments WHERE status = 'active' LIMIT 1")?
            .exists([])?)
    }

    fn active_versions(&self) -> Result<Vec<(String, u64)>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT scenario, version FROM enrolments WHERE status = 'active'")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn queue_send(&mut self, s: &SendRow) -> Result<bool, StateError> {
        self.insert_send(
            s,
            s.status,
            s.reason.as_deref(),
            s.attempts,
            s.sent_at.map(ms),
            None,
            ms(s.due_at),
        )
        .map(|id| id.is_some())
    }

    fn insert_claimed(
        &mut self,
        s: &SendRow,
        owner: &str,
        lease_until_ms: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<i64>, StateError> {
        let at = ms(at);
        self.insert_send(
            s,
            SendStatus::Sending,
            None,
            1,
            Some(at),
            Some((owner, lease_until_ms)),
            at,
        )
    }

    fn has_sends(&self, object: &str, version: u64) -> Result<bool, StateError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM sends WHERE object = ?1 AND version = ?2 LIMIT 1")?
            .exists(params![object, version as i64])?)
    }

    fn send_exists(&self, object: &str, version: u64, contact_id: &str, occurrence: &str) -> Result<bool, StateError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT 1 FROM sends WHERE object = ?1 AND version = ?2 AND contact_id = ?3 AND occurrence = ?4",
            )?
            .exists(params![object, version as i64, contact_id, occurrence])?)
    }

    fn due_sends(&self, contact_id: &str, now: DateTime<Utc>, now_ms: i64) -> Result<Vec<SendRow>, StateError> {
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT ",
            send_columns!(),
            " FROM sends WHERE contact_id = ?1 AND status = 'queued' AND not_before <= ?2
               AND (lease_until IS NULL OR lease_until <= ?3) ORDER BY not_before, priority, key"
        ))?;
        sends(&mut stmt, params![contact_id, ms(now), now_ms])
    }

    fn contacts_with_due_sends(&self, now: DateTime<Utc>, now_ms: i64) -> Result<BTreeSet<String>, StateError> {
        let mut stmt = self.conn.prepare_cached(
            // The partial index of queued sends: without it the planner
            // walks every send in contact order to avoid sorting.
            "SELECT DISTINCT contact_id FROM sends INDEXED BY sends_due WHERE status = 'queued' AND not_before <= ?1
               AND (lease_until IS NULL OR lease_until <= ?2)",
        )?;
        let rows = stmt.query_map(params![ms(now), now_ms], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn sent_since(&self, contact_id: &str, since: DateTime<Utc>) -> Result<Vec<SendRow>, StateError> {
        // `=` and `OR`, not `IN (...)`: a list of three or more builds a
        // temporary table at each run (per contact, per send).
        let mut stmt = self.conn.prepare_cached(concat!("SELECT ", send_columns!(), " FROM sends WHERE contact_id = ?1 AND (status = 'sending' OR status = 'sent' OR status = 'in_doubt') AND sent_at > ?2"))?;
        sends(&mut stmt, params![contact_id, ms(since)])
    }

    fn claim_send(
        &mut self,
        key: &str,
        owner: &str,
        (now_ms, lease_until_ms): (i64, i64),
        at: DateTime<Utc>,
        call_windows: &[String],
    ) -> Result<bool, StateError> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE sends SET status = 'sending', lease_owner = ?2, lease_until = ?3, sent_at = ?4, attempts = attempts + 1, updated_at = ?4, call_window = coalesce(?5, call_window) \
                 WHERE key = ?1 AND status = 'queued' AND (lease_until IS NULL OR lease_until <= ?6)",
            )?
            .execute(params![key, owner, lease_until_ms, ms(at), windows_text(call_windows), now_ms])?;
        Ok(changed == 1)
    }

    fn finish_send(
        &mut self,
        key: &str,
        status: SendStatus,
        reason: Option<&str>,
        provider_id: Option<&str>,
        sent_at: Option<DateTime<Utc>>,
    ) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "UPDATE sends SET status = ?2, reason = ?3, provider_id = coalesce(?4, provider_id), sent_at = coalesce(?5, sent_at), lease_owner = NULL, lease_until = NULL WHERE key = ?1",
            )?
            .execute(params![key, status.as_str(), reason, provider_id, sent_at.map(ms)])?;
        Ok(())
    }

    fn finish_claimed(&mut self, ended: &[Ended]) -> Result<(), StateError> {
        if ended.is_empty() {
            return Ok(());
        }
        let mut stmt = self.conn.prepare_cached(
            "UPDATE sends SET status = ?2, reason = ?3, provider_id = coalesce(?4, provider_id), lease_owner = NULL, lease_until = NULL WHERE id = ?1",
        )?;
        // Every row is tried: one that cannot be written does not leave the
        // others `sending` (the first error is returned after).
        let mut failed = None;
        for e in ended {
            if let Err(err) = stmt.execute(params![e.id, e.status.as_str(), e.reason, e.provider_id]) {
                failed.get_or_insert(err);
            }
        }
        failed.map_or(Ok(()), |e| Err(e.into()))
    }

    fn requeue_abandoned(&mut self, key: &str, reason: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "UPDATE sends SET status = 'queued', reason = ?2, sent_at = NULL, lease_owner = NULL, lease_until = NULL, attempts = max(attempts - 1, 0) WHERE key = ?1",
            )?
            .execute(params![key, reason])?;
        Ok(())
    }

    fn requeue_send(
        &mut self,
        key: &str,
        not_before: DateTime<Utc>,
        hold_ms: Option<i64>,
        reason: Option<&str>,
    ) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "UPDATE sends SET status = 'queued', not_before = ?2, reason = ?3, sent_at = NULL, lease_owner = NULL, lease_until = ?4 WHERE key = ?1",
            )?
            .execute(params![key, ms(not_before), reason, hold_ms])?;
        Ok(())
    }

    fn hold_queued(&mut self, key: &str, hold_ms: i64, reason: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached("UPDATE sends SET reason = ?2, lease_until = ?3 WHERE key = ?1 AND status = 'queued'")?
            .execute(params![key, reason, hold_ms])?;
        Ok(())
    }

    fn requeue_untried(&mut self, key: &str, hold_ms: i64, reason: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "UPDATE sends SET status = 'queued', reason = ?2, sent_at = NULL, lease_owner = NULL, lease_until = ?3, attempts = max(attempts - 1, 0) WHERE key = ?1",
            )?
            .execute(params![key, reason, hold_ms])?;
        Ok(())
    }

    fn drop_send(&mut self, key: &str, reason: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached("UPDATE sends SET status = 'dropped', reason = ?2, lease_owner = NULL, lease_until = NULL WHERE key = ?1")?
            .execute(params![key, reason])?;
        Ok(())
    }

    fn set_queued_message(&mut self, key: &str, message: &str, tags: &[String]) -> Result<(), StateError> {
        self.conn
            .prepare_cached("UPDATE sends SET message = ?2, tags = ?3 WHERE key = ?1 AND status = 'queued'")?
            .execute(params![
                key,
                message,
                serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
            ])?;
        Ok(())
    }

    fn abandoned_sends(
        &self,
        owner: &str,
        now_ms: i64,
        dead: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<SendRow>, StateError> {
        let owners: Vec<Option<String>> = self
            .conn
            .prepare("SELECT DISTINCT lease_owner FROM sends WHERE status = 'sending'")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare(concat!(
            "SELECT ",
            send_columns!(),
            " FROM sends WHERE status = 'sending' AND lease_owner IS ?1 AND (?2 OR lease_until IS NULL OR lease_until <= ?3)"
        ))?;
        let mut out = Vec::new();
        for other in owners.iter().filter(|o| o.as_deref() != Some(owner)) {
            // A runner of this machine killed with `kill -9` is taken over at
            // once; another one's sends when their lease ends.
            let gone = other.as_deref().is_none_or(dead);
            out.extend(sends(&mut stmt, params![other, gone, now_ms])?);
        }
        Ok(out)
    }

    fn sending_of_others(&self, owner: &str) -> Result<usize, StateError> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM sends WHERE status = 'sending' AND (lease_owner IS NULL OR lease_owner != ?1)",
            )?
            .query_row([owner], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn renew_send_leases(&mut self, owner: &str, before_ms: i64, until_ms: i64) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "UPDATE sends SET lease_until = ?3 WHERE status = 'sending' AND lease_owner = ?1 AND lease_until < ?2",
            )?
            .execute(params![owner, before_ms, until_ms])?;
        Ok(())
    }

    fn next_wake(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StateError> {
        // The ledger's instants are integers, the enrolments' text.
        let send: Option<i64> = self.conn.query_row(
            "SELECT min(not_before) FROM sends WHERE status = 'queued' AND not_before > ?1",
            [ms(now)],
            |r| r.get(0),
        )?;
        let wake: Option<String> = self.conn.query_row(
            "SELECT min(wake_at) FROM enrolments WHERE status = 'active' AND wake_at > ?1",
            [ts(now)],
            |r| r.get(0),
        )?;
        let send = send.map(from_ms).transpose()?;
        let wake = wake.as_deref().map(parse_ts).transpose()?;
        Ok(send.into_iter().chain(wake).min())
    }

    fn variant_stats(
        &self,
        object: &str,
    ) -> Result<BTreeMap<String, herald_compiler::engine::experiment::VariantStats>, StateError> {
        let mut out: BTreeMap<String, herald_compiler::engine::experiment::VariantStats> = BTreeMap::new();
        let mut stmt = self.conn.prepare(
            "SELECT message, count(*) FROM sends WHERE object = ?1 AND status IN ('sent', 'in_doubt') GROUP BY message",
        )?;
        for r in stmt.query_map([object], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (m, n) = r?;
            out.entry(m).or_default().sent = n as u64;
        }
        let mut stmt = self.conn.prepare(
            "SELECT s.message, e.kind, count(DISTINCT e.send_key) FROM engagement e JOIN sends s ON s.key = e.send_key
             WHERE s.object = ?1 GROUP BY s.message, e.kind",
        )?;
        for r in stmt.query_map([object], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
        })? {
            let (m, kind, n) = r?;
            let v = out.entry(m).or_default();
            match kind.as_str() {
                "opened" => v.opened = n as u64,
                "clicked" => v.clicked = n as u64,
                "converted" => v.converted = n as u64,
                _ => {}
            }
        }
        Ok(out)
    }

    fn send(&self, key: &str) -> Result<Option<SendRow>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(concat!("SELECT ", send_columns!(), " FROM sends WHERE key = ?1"))?;
        Ok(sends(&mut stmt, [key])?.pop())
    }

    fn list_sends(&self, f: &SendFilter) -> Result<Vec<SendRow>, StateError> {
        let mut stmt = self.conn.prepare(concat!(
            "SELECT ",
            send_columns!(),
            " FROM sends
             WHERE (?1 IS NULL OR contact_id = ?1) AND (?2 IS NULL OR object = ?2) AND (?3 IS NULL OR status = ?3)
             ORDER BY due_at, key LIMIT ?4"
        ))?;
        sends(
            &mut stmt,
            params![
                f.contact,
                f.object,
                f.status.map(SendStatus::as_str),
                i64::try_from(f.limit).unwrap_or(i64::MAX)
            ],
        )
    }

    fn send_counts(&self, object: Option<&str>, contact: Option<&str>) -> Result<StatusCounts, StateError> {
        let mut stmt = self.conn.prepare(
            "SELECT status, coalesce(reason, ''), count(*) FROM sends \
             WHERE (?1 IS NULL OR object = ?1) AND (?2 IS NULL OR contact_id = ?2) GROUP BY status, reason",
        )?;
        let rows = stmt.query_map([object, contact], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
        })?;
        let mut out = StatusCounts::new();
        for r in rows {
            let (status, reason, n) = r?;
            let key = if status == "dropped" && !reason.is_empty() {
                format!("dropped:{}", reason.split(':').next().unwrap_or(&reason))
            } else {
                status
            };
            *out.entry(key).or_default() += n as u64;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new state's run store (its directory lives as long as the handle).
    fn fresh_store() -> (tempfile::TempDir, SqliteRunStore) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        super::super::State::open_or_create(&path).unwrap();
        let store = SqliteRunStore::open(&path).unwrap();
        (dir, store)
    }

    #[test]
    fn keys_are_stable_distinct_and_safe() {
        let k = send_key("campaigns.bf", 1, "c/1", "once");
        // Keys are permanent (ledgers and Message-IDs hold them): never changed.
        assert_eq!(k, "d0fba65d619c6550358d02c223b1cdab");
        assert_eq!(k.len(), 32);
        assert!(k.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(k, send_key("campaigns.bf", 2, "c/1", "once"));
        // Parts cannot run into each other.
        assert_ne!(send_key("a", 1, "bc", "d"), send_key("a", 1, "b", "cd"));
    }

    #[test]
    fn ledger_keys_begin_with_the_instant_and_end_with_the_identity() {
        let id = send_key("campaigns.bf", 1, "c/1", "once");
        let at = 1_764_234_060_123;
        let k = ledger_key(at, &id);
        assert_eq!(k, "019ac48b615bd0fba65d619c6550358d");
        assert_eq!(k.len(), 32);
        assert!(k.ends_with(&id[..20]));
        // Made later, sorted after, whatever the identity.
        let later = ledger_key(at + 1, &send_key("campaigns.bf", 1, "a", "once"));
        assert!(later > k);
        // Before 1970 or past year 10889: clamped, still 32 hex digits.
        assert_eq!(ledger_key(i64::MIN, &id).len(), 32);
        assert_eq!(ledger_key(i64::MAX, &id).len(), 32);
    }

    /// `as_stored` is the round trip through the ledger's integer, to the
    /// millisecond, at the edges too (leap second, year 9999 and beyond,
    /// chrono's first and last instants).
    #[test]
    fn an_instant_as_stored_is_its_round_trip_through_the_ledger() {
        let mut instants = vec![
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::from_timestamp(253_402_300_799, 999_999_999).unwrap(),
            DateTime::from_timestamp(253_402_300_800, 5).unwrap(),
            DateTime::from_timestamp(-62_135_596_800, 123_456_789).unwrap(),
            DateTime::from_timestamp(-62_135_596_801, 1).unwrap(),
            // A leap second (chrono's nanosecond above 10^9).
            DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap(),
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = (x % 400_000_000_000) as i64 - 100_000_000_000;
            instants.push(DateTime::from_timestamp(secs, (x >> 34) as u32 % 1_000_000_000).unwrap());
        }
        for t in instants {
            let back = from_ms(ms(t)).unwrap();
            assert_eq!(as_stored(t), back, "{t:?}");
            assert_eq!(ms(back), ms(t), "{t:?} -> {back:?}");
            // Truncated to the millisecond; a leap second (chrono's
            // nanosecond past 10^9) comes back as the next second's start,
            // as Unix time has none.
            if t.timestamp_subsec_nanos() < 1_000_000_000 {
                assert!(
                    back <= t && t - back < chrono::TimeDelta::milliseconds(1),
                    "{t:?} -> {back:?}"
                );
            }
        }
        // Through SQLite too: the due instant and the claim come back as stored.
        let (_dir, mut store) = fresh_store();
        for (i, t) in [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap(),
            DateTime::from_timestamp_millis(1_764_234_060_123).unwrap(),
        ]
        .into_iter()
        .enumerate()
        {
            let row = SendRow::new(0, "campaigns.bf", 1, &format!("c{i}"), "once", t);
            store.insert_claimed(&row, "runner", 0, t).unwrap().unwrap();
            let back = store.send(&row.key).unwrap().unwrap();
            assert_eq!(
                (back.due_at, back.not_before, back.sent_at),
                (as_stored(t), as_stored(t), Some(as_stored(t)))
            );
        }
    }

    /// The queries a runner makes on every pass find their sends through
    /// the partial indexes, never by walking the whole ledger.
    #[test]
    fn due_and_abandoned_sends_are_found_by_their_partial_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        super::super::State::open_or_create(&path).unwrap();
        let store = SqliteRunStore::open(&path).unwrap();
        let plan = |sql: &str| -> String {
            let mut stmt = store.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let due = plan(
            "SELECT DISTINCT contact_id FROM sends INDEXED BY sends_due WHERE status = 'queued' AND not_before <= 0",
        );
        assert!(due.contains("USING INDEX sends_due"), "{due}");
        for abandoned in [
            plan("SELECT DISTINCT lease_owner FROM sends WHERE status = 'sending'"),
            plan("SELECT key FROM sends WHERE status = 'sending' AND lease_owner IS 'a' AND (0 OR lease_until <= 0)"),
        ] {
            assert!(
                abandoned.contains("USING INDEX sends_sending")
                    || abandoned.contains("USING COVERING INDEX sends_sending"),
                "{abandoned}"
            );
        }
        let next = plan("SELECT min(not_before) FROM sends WHERE status = 'queued' AND not_before > 0");
        assert!(next.contains("sends_due"), "{next}");
    }

    /// The ledger keeps one send per identity, whatever its key (a later
    /// pass makes another key for it); a key that another identity holds is
    /// an error, never a send silently skipped.
    #[test]
    fn one_send_per_identity_and_a_key_clash_is_an_error() {
        let (_dir, mut store) = fresh_store();
        let at = DateTime::from_timestamp_millis(1_764_234_060_000).unwrap();
        let row = |contact: &str, made: DateTime<Utc>| SendRow {
            message: "bf_sms".into(),
            channel: Channel::Sms,
            ..SendRow::new(made.timestamp_millis(), "campaigns.bf", 1, contact, "once", at)
        };
        let later = at + chrono::TimeDelta::hours(1);
        assert!(store.queue_send(&row("c1", at)).unwrap());
        assert!(!store.queue_send(&row("c1", at)).unwrap(), "the same send again");
        assert!(!store.queue_send(&row("c1", later)).unwrap(), "a later pass's key");
        assert!(
            store
                .insert_claimed(&row("c1", later), "runner", 0, later)
                .unwrap()
                .is_none()
        );
        assert!(store.send_exists("campaigns.bf", 1, "c1", "once").unwrap());
        assert!(!store.send_exists("campaigns.bf", 1, "c2", "once").unwrap());
        let mut clash = row("c2", at);
        clash.key = row("c1", at).key;
        assert!(store.queue_send(&clash).is_err(), "another identity under a taken key");
        assert!(store.insert_claimed(&row("c2", at), "runner", 0, at).unwrap().is_some());
    }

    /// A call's windows, as the runner keeps them: each hand-over's, in order.
    #[test]
    fn a_call_keeps_every_window_it_was_handed_over_in() {
        let (_dir, mut store) = fresh_store();
        let at = DateTime::from_timestamp_millis(1_764_234_060_000).unwrap();
        let row = SendRow {
            message: "call".into(),
            channel: Channel::Call,
            ..SendRow::new(at.timestamp_millis(), "scenarios.s", 1, "c1", "e1", at)
        };
        assert!(store.queue_send(&row).unwrap());
        let windows = |store: &SqliteRunStore| store.send(&row.key).unwrap().unwrap().call_windows;
        assert!(windows(&store).is_empty());
        // The runner's list at each claim; none leaves the stored one.
        let (w10, w14) = ("2026-11-27T10".to_string(), "2026-11-27T14".to_string());
        for w in [vec![w10.clone()], vec![], vec![w10, w14]] {
            assert!(store.claim_send(&row.key, "runner", (0, 0), at, &w).unwrap());
            store.requeue_abandoned(&row.key, "again").unwrap();
        }
        assert_eq!(windows(&store), ["2026-11-27T10", "2026-11-27T14"]);
    }

    /// Claims as `FOR UPDATE SKIP LOCKED` with leases: a send another runner
    /// holds is skipped while its lease runs (renewed by that runner's
    /// heartbeat), and taken over when the lease ends or its runner died.
    #[test]
    fn a_send_leased_to_a_live_runner_is_skipped_until_its_lease_ends() {
        let (_dir, mut store) = fresh_store();
        let at = DateTime::from_timestamp_millis(1_764_234_060_000).unwrap();
        let row = SendRow {
            message: "bf_sms".into(),
            channel: Channel::Sms,
            ..SendRow::new(at.timestamp_millis(), "campaigns.bf", 1, "c1", "once", at)
        };
        assert!(store.queue_send(&row).unwrap());
        let alive = |_: &str| false;
        let keys = |v: Vec<SendRow>| v.into_iter().map(|r| r.key).collect::<Vec<_>>();
        let one = vec![row.key.clone()];
        // Runner A claims it until 61 s; B cannot claim it (it is being
        // sent), nor take it over while the lease runs.
        assert!(store.claim_send(&row.key, "A", (1_000, 61_000), at, &[]).unwrap());
        assert!(!store.claim_send(&row.key, "B", (2_000, 62_000), at, &[]).unwrap());
        assert!(store.abandoned_sends("B", 2_000, &alive).unwrap().is_empty());
        assert!(
            store.abandoned_sends("A", 99_000, &alive).unwrap().is_empty(),
            "its own"
        );
        // A died (`kill -9` on this machine): taken over at once.
        assert_eq!(keys(store.abandoned_sends("B", 2_000, &|o| o == "A").unwrap()), one);
        // A's heartbeat renews what ends before 70 s: still held at 61 s.
        store.renew_send_leases("A", 70_000, 120_000).unwrap();
        assert!(store.abandoned_sends("B", 61_000, &alive).unwrap().is_empty());
        // A stopped beating (another machine, hung): taken over when it ends.
        assert_eq!(keys(store.abandoned_sends("B", 120_000, &alive).unwrap()), one);
        // Queued again and held on the real clock until 130 s: skipped until then.
        store
            .requeue_send(&row.key, at, Some(130_000), Some("HTTP 500"))
            .unwrap();
        assert!(!store.claim_send(&row.key, "B", (125_000, 185_000), at, &[]).unwrap());
        assert!(store.claim_send(&row.key, "B", (130_000, 190_000), at, &[]).unwrap());
        let held = store.send(&row.key).unwrap().unwrap();
        assert_eq!((held.status, held.attempts), (SendStatus::Sending, 2));
    }

    #[test]
    fn instants_past_year_9999_are_stored_as_its_last_second() {
        let far = DateTime::from_timestamp(300_000_000_000, 0).unwrap();
        assert_eq!(ts(far), "9999-12-31T23:59:59.000Z");
        let t = DateTime::from_timestamp_millis(1_764_234_060_123).unwrap();
        assert_eq!(ts(t), "2025-11-27T09:01:00.123Z");
    }
}
