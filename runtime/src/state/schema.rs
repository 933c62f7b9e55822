//! Versioned migrations of the state database (`PRAGMA user_version`).
//! PostgreSQL will get the same tables.

use super::StateError;
use rusqlite::Connection;

pub const VERSION: i64 = 9;

pub(super) const MIGRATIONS: &[&str] = &[
    // 1: deployed objects, versions, locks, applies; runtime tables.
    "
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE objects (
        address        TEXT PRIMARY KEY,
        kind           TEXT NOT NULL,
        name           TEXT NOT NULL,
        version        INTEGER NOT NULL,
        hash           TEXT NOT NULL,
        body           TEXT NOT NULL,
        applied_serial INTEGER NOT NULL,
        applied_at     TEXT NOT NULL,
        last_audience  INTEGER
    );
    CREATE TABLE object_versions (
        address        TEXT NOT NULL,
        version        INTEGER NOT NULL,
        hash           TEXT NOT NULL,
        body           TEXT NOT NULL,
        created_serial INTEGER NOT NULL,
        retired_serial INTEGER,
        PRIMARY KEY (address, version)
    );
    CREATE TABLE locks (
        name       TEXT PRIMARY KEY CHECK (name = 'state'),
        id         TEXT NOT NULL,
        operation  TEXT NOT NULL,
        who        TEXT NOT NULL,
        version    TEXT NOT NULL,
        created_at TEXT NOT NULL,
        info       TEXT NOT NULL
    );
    CREATE TABLE applies (
        serial      INTEGER PRIMARY KEY,
        applied_at  TEXT NOT NULL,
        who         TEXT NOT NULL,
        plan_digest TEXT NOT NULL,
        summary     TEXT NOT NULL
    );
    CREATE TABLE enrolments (
        scenario   TEXT NOT NULL,
        version    INTEGER NOT NULL,
        contact_id TEXT NOT NULL,
        entered_at TEXT NOT NULL,
        status     TEXT NOT NULL CHECK (status IN ('active', 'done', 'exited')),
        step_path  TEXT NOT NULL,
        next_at    TEXT,
        PRIMARY KEY (scenario, contact_id, entered_at)
    );
    CREATE INDEX enrolments_due ON enrolments (status, next_at);
    CREATE TABLE send_ledger (
        idempotency_key TEXT PRIMARY KEY,
        message         TEXT NOT NULL,
        contact_id      TEXT NOT NULL,
        channel         TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('recorded', 'sent', 'failed', 'in_doubt', 'dropped', 'deferred')),
        reason          TEXT,
        recorded_at     TEXT NOT NULL,
        sent_at         TEXT,
        provider_id     TEXT
    );
    CREATE INDEX send_ledger_contact ON send_ledger (contact_id, sent_at);
    ",
    // 2: the guards each apply accepted (`--accept-guard`), a JSON array of codes.
    "
    ALTER TABLE applies ADD COLUMN accepted_guards TEXT NOT NULL DEFAULT '[]';
    ",
    // 3: herald run. The placeholder tables of 1 were never written.
    "
    DROP TABLE enrolments;
    DROP TABLE send_ledger;
    -- What each apply deployed, as sources: the runner compiles these, never
    -- the working tree, and in-flight contacts finish their version's.
    ALTER TABLE applies ADD COLUMN source_digest TEXT;
    CREATE TABLE snapshots (
        digest TEXT PRIMARY KEY,
        files  TEXT NOT NULL
    );
    CREATE TABLE run_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    -- `herald pause ADDRESS` (or `*` for `herald stop`).
    CREATE TABLE controls (
        address   TEXT PRIMARY KEY,
        action    TEXT NOT NULL CHECK (action IN ('pause', 'stop')),
        at        TEXT NOT NULL,
        who       TEXT NOT NULL
    );
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY,
        contact_id  TEXT NOT NULL,
        name        TEXT NOT NULL,
        at          TEXT NOT NULL,
        props       TEXT NOT NULL,
        source      TEXT NOT NULL,
        dedupe_key  TEXT UNIQUE,
        processed   INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX events_pending ON events (processed, id);
    CREATE INDEX events_contact ON events (contact_id, name, at);
    -- Opens, clicks, bounces, unsubscribes, complaints of sends.
    CREATE TABLE engagement (
        id          INTEGER PRIMARY KEY,
        send_key    TEXT NOT NULL,
        contact_id  TEXT NOT NULL,
        message     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        at          TEXT NOT NULL
    );
    CREATE INDEX engagement_contact ON engagement (contact_id, message, kind);
    CREATE TABLE suppressions (
        contact_id  TEXT NOT NULL,
        channel     TEXT NOT NULL,
        reason      TEXT NOT NULL,
        at          TEXT NOT NULL,
        PRIMARY KEY (contact_id, channel)
    );
    CREATE TABLE enrolments (
        id          INTEGER PRIMARY KEY,
        scenario    TEXT NOT NULL,
        version     INTEGER NOT NULL,
        contact_id  TEXT NOT NULL,
        occurrence  TEXT NOT NULL,
        entered_at  TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('active', 'completed', 'exited')),
        cursor      TEXT NOT NULL,
        since       TEXT NOT NULL,
        wake_at     TEXT,
        listening   INTEGER NOT NULL DEFAULT 0,
        event       TEXT,
        exit_reason TEXT,
        UNIQUE (scenario, contact_id, occurrence)
    );
    CREATE INDEX enrolments_due ON enrolments (status, wake_at);
    CREATE INDEX enrolments_contact ON enrolments (contact_id, scenario, entered_at);
    -- The send ledger and outbox: one row per send, keyed for idempotency.
    CREATE TABLE sends (
        key         TEXT PRIMARY KEY,
        object      TEXT NOT NULL,
        version     INTEGER NOT NULL,
        contact_id  TEXT NOT NULL,
        occurrence  TEXT NOT NULL,
        message     TEXT NOT NULL,
        channel     TEXT NOT NULL,
        purpose     TEXT NOT NULL,
        program     TEXT NOT NULL,
        tags        TEXT NOT NULL,
        priority    INTEGER NOT NULL,
        due_at      TEXT NOT NULL,
        not_before  TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'in_doubt', 'dropped')),
        reason      TEXT,
        attempts    INTEGER NOT NULL DEFAULT 0,
        sent_at     TEXT,
        provider_id TEXT,
        lease_owner TEXT,
        lease_until INTEGER,
        event       TEXT,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX sends_due ON sends (status, not_before);
    CREATE INDEX sends_contact ON sends (contact_id, sent_at);
    CREATE INDEX sends_object ON sends (object, status);
    -- How far the runner has looked at each campaign and date-triggered
    -- scenario version: instants up to `scanned_until` are done.
    CREATE TABLE progress (
        address       TEXT NOT NULL,
        version       INTEGER NOT NULL,
        scanned_until TEXT NOT NULL,
        completed     INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (address, version)
    );
    ",
    // 4: the solicitation a send belongs to: for a fallback (`fallback_for`),
    // the key of the send it falls back for; NULL, its own key. Pressure caps
    // count a solicitation once.
    "
    ALTER TABLE sends ADD COLUMN thread TEXT;
    ",
    // 5: send indexes a send's status changes do not rewrite. A send goes
    // queued -> sending -> sent; indexes holding the status took a delete and
    // an insert at each step (a third of the ledger's work at thousands of
    // sends a second). What is queued and what is sending are each a partial
    // index (the due sends; the sends a dead runner left), and sends are
    // found by object without their status.
    "
    DROP INDEX sends_due;
    DROP INDEX sends_object;
    CREATE INDEX sends_due ON sends (not_before) WHERE status = 'queued';
    CREATE INDEX sends_sending ON sends (lease_owner) WHERE status = 'sending';
    CREATE INDEX sends_object ON sends (object);
    ",
    // 6: the send ledger and the enrolments rebuilt, for two costs per write
    // at thousands of sends a second:
    // - a CHECK written `status IN (...)` builds a temporary table of the list
    //   at every insert and update (about a tenth of the runner's work per
    //   send); the same check written with `=` and `OR` builds none;
    // - sends are found by object and version: the runner asks whether a
    //   campaign version has any send yet (when none, no contact needs looking
    //   up in the ledger), which an index on the object alone answered by
    //   reading every send of the earlier versions.
    // A send's row id becomes a column (`id`), so that it is stable (a
    // VACUUM renumbers implicit row ids): the runner records outcomes by it.
    // Row ids are kept: they order the ledger.
    "
    CREATE TABLE sends_6 (
        id          INTEGER PRIMARY KEY,
        key         TEXT NOT NULL UNIQUE,
        object      TEXT NOT NULL,
        version     INTEGER NOT NULL,
        contact_id  TEXT NOT NULL,
        occurrence  TEXT NOT NULL,
        message     TEXT NOT NULL,
        channel     TEXT NOT NULL,
        purpose     TEXT NOT NULL,
        program     TEXT NOT NULL,
        tags        TEXT NOT NULL,
        priority    INTEGER NOT NULL,
        due_at      TEXT NOT NULL,
        not_before  TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (
            status = 'queued' OR status = 'sending' OR status = 'sent'
            OR status = 'failed' OR status = 'in_doubt' OR status = 'dropped'
        ),
        reason      TEXT,
        attempts    INTEGER NOT NULL DEFAULT 0,
        sent_at     TEXT,
        provider_id TEXT,
        lease_owner TEXT,
        lease_until INTEGER,
        event       TEXT,
        updated_at  TEXT NOT NULL,
        thread      TEXT
    );
    INSERT INTO sends_6 (id, key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority, due_at, not_before, status, reason, attempts, sent_at, provider_id, lease_owner, lease_until, event, updated_at, thread)
        SELECT rowid, key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority, due_at, not_before, status, reason, attempts, sent_at, provider_id, lease_owner, lease_until, event, updated_at, thread FROM sends;
    DROP TABLE sends;
    ALTER TABLE sends_6 RENAME TO sends;
    CREATE INDEX sends_due ON sends (not_before) WHERE status = 'queued';
    CREATE INDEX sends_sending ON sends (lease_owner) WHERE status = 'sending';
    CREATE INDEX sends_contact ON sends (contact_id, sent_at);
    CREATE INDEX sends_object ON sends (object, version);
    CREATE TABLE enrolments_6 (
        id          INTEGER PRIMARY KEY,
        scenario    TEXT NOT NULL,
        version     INTEGER NOT NULL,
        contact_id  TEXT NOT NULL,
        occurrence  TEXT NOT NULL,
        entered_at  TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status = 'active' OR status = 'completed' OR status = 'exited'),
        cursor      TEXT NOT NULL,
        since       TEXT NOT NULL,
        wake_at     TEXT,
        listening   INTEGER NOT NULL DEFAULT 0,
        event       TEXT,
        exit_reason TEXT,
        UNIQUE (scenario, contact_id, occurrence)
    );
    INSERT INTO enrolments_6 (id, scenario, version, contact_id, occurrence, entered_at, status, cursor, since, wake_at, listening, event, exit_reason)
        SELECT id, scenario, version, contact_id, occurrence, entered_at, status, cursor, since, wake_at, listening, event, exit_reason FROM enrolments;
    DROP TABLE enrolments;
    ALTER TABLE enrolments_6 RENAME TO enrolments;
    CREATE INDEX enrolments_due ON enrolments (status, wake_at);
    CREATE INDEX enrolments_contact ON enrolments (contact_id, scenario, entered_at);
    ",
    // 7: a send is unique by its identity (object, version, contact,
    // occurrence) through an index in that order, no longer through its key.
    // A key was the identity hashed: random, so every new send went into a
    // random page of an index as large as the whole ledger (on a ledger of
    // 2,000,000 sends the runner spent most of its time reading and writing
    // those pages, and sent half as fast). New keys begin with the time
    // they were made (see `state::run::ledger_key`), so each goes at the end
    // of the key index. The identity index also answers what the index on
    // (object, version) did.
    "
    CREATE UNIQUE INDEX sends_once ON sends (object, version, contact_id, occurrence);
    DROP INDEX sends_object;
    ",
    // 8: the ledger's instants (due, not before, sent, updated) are Unix
    // milliseconds, not RFC 3339 text: 24 characters each made the row a
    // third larger, and writing rows is most of what the runner does per
    // send (see `state::run::ms`). Every row comes through, with its id.
    // STRICT: a value of the wrong type is refused, not stored as it comes
    // (an older runner writing text instants into it would fail loudly).
    // `MS(column)` is spelled out by `migration`.
    "
    CREATE TABLE sends_8 (
        id          INTEGER PRIMARY KEY,
        key         TEXT NOT NULL UNIQUE,
        object      TEXT NOT NULL,
        version     INTEGER NOT NULL,
        contact_id  TEXT NOT NULL,
        occurrence  TEXT NOT NULL,
        message     TEXT NOT NULL,
        channel     TEXT NOT NULL,
        purpose     TEXT NOT NULL,
        program     TEXT NOT NULL,
        tags        TEXT NOT NULL,
        priority    INTEGER NOT NULL,
        due_at      INTEGER NOT NULL,
        not_before  INTEGER NOT NULL,
        status      TEXT NOT NULL CHECK (
            status = 'queued' OR status = 'sending' OR status = 'sent'
            OR status = 'failed' OR status = 'in_doubt' OR status = 'dropped'
        ),
        reason      TEXT,
        attempts    INTEGER NOT NULL DEFAULT 0,
        sent_at     INTEGER,
        provider_id TEXT,
        lease_owner TEXT,
        lease_until INTEGER,
        event       TEXT,
        updated_at  INTEGER NOT NULL,
        thread      TEXT
    ) STRICT;
    INSERT INTO sends_8 (id, key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority, due_at, not_before, status, reason, attempts, sent_at, provider_id, lease_owner, lease_until, event, updated_at, thread)
        SELECT id, key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority,
            MS(due_at),
            MS(not_before),
            status, reason, attempts,
            MS(sent_at),
            provider_id, lease_owner, lease_until, event,
            MS(updated_at),
            thread
        FROM sends;
    DROP TABLE sends;
    ALTER TABLE sends_8 RENAME TO sends;
    CREATE INDEX sends_due ON sends (not_before) WHERE status = 'queued';
    CREATE INDEX sends_sending ON sends (lease_owner) WHERE status = 'sending';
    CREATE INDEX sends_contact ON sends (contact_id, sent_at);
    CREATE UNIQUE INDEX sends_once ON sends (object, version, contact_id, occurrence);
    ",
    // 9: an event whose contact the CRM did not have holds the CRM's stamp
    // of that look (`waiting`); it is not looked for again until the CRM
    // changes. Kept in memory before, so each `herald run --once` (cron)
    // read the whole CRM again while any event waited (up to 72 hours).
    // A call's calling windows are kept from each hand-over (space-separated),
    // so that a retry in another window finds it in a list it went to.
    "
    ALTER TABLE events ADD COLUMN waiting TEXT;
    ALTER TABLE sends ADD COLUMN call_window TEXT;
    ",
];

/// Bring the database to `VERSION`, in one write transaction. The version is
/// read again inside it: two processes creating the state at once migrate once.
pub fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<(), StateError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let from: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if from >= VERSION {
        return Ok(tx.commit()?);
    }
    // A runner of the Herald that wrote this state, still at work, would go
    // on writing the old layout into the new one. Checked under the write
    // lock: no runner can take the lease meanwhile.
    if from >= 3
        && let Some(owner) = super::live_runner(&tx)
    {
        return Err(StateError::Db(format!(
            "a `herald run` of the Herald that wrote this state (schema {from}) is working on it ({owner}); stop it, or end its process, before this Herald upgrades the state to schema {VERSION}"
        )));
    }
    // Version 8 rewrites every send: say so, or a large ledger looks like a
    // hang (2,100,000 sends took 23 s on two cores).
    if (3..8).contains(&from) {
        let sends: i64 = tx
            .query_row("SELECT count(*) FROM sends", [], |r| r.get(0))
            .unwrap_or(0);
        if sends >= 100_000 {
            eprintln!(
                "Upgrading the state `{}` to schema {VERSION}: its {} sends are rewritten once; this takes about 10 s per million.",
                path.display(),
                crate::plan::text::thousands(sends.unsigned_abs())
            );
        }
    }
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version > from {
            if version == 8 {
                unconvertible_instants(&tx)?;
            }
            tx.execute_batch(&migration(sql))?;
        }
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    Ok(tx.commit()?)
}

/// RFC 3339 text as Unix milliseconds, in SQL (migration 8). A leap second
/// (`:60.`, which chrono writes and SQLite does not read) is the next
/// second's start, as `state::run::ms` makes it. NULL when unreadable.
const MS_SQL: &str =
    "(CAST(round(unixepoch(replace(X, ':60.', ':59.'), 'subsec') * 1000) AS INTEGER) + (instr(X, ':60.') > 0) * 1000)";

/// A migration's SQL with `MS(column)` spelled out.
fn migration(sql: &str) -> String {
    let mut out = sql.to_string();
    for c in ["due_at", "not_before", "sent_at", "updated_at"] {
        out = out.replace(&format!("MS({c})"), &MS_SQL.replace('X', c));
    }
    out
}

/// Before migration 8: every stored instant must convert, or the upgrade
/// stops and names the sends (a NULL would abort it with a bare constraint
/// error, or silently drop a send from the pressure counts).
fn unconvertible_instants(tx: &Connection) -> Result<(), StateError> {
    let bad = |c: &str| format!("({c} IS NOT NULL AND {} IS NULL)", MS_SQL.replace('X', c));
    let sql = format!(
        "SELECT key FROM sends WHERE {} OR {} OR {} OR {} LIMIT 3",
        bad("due_at"),
        bad("not_before"),
        bad("sent_at"),
        bad("updated_at")
    );
    let keys: Vec<String> = tx
        .prepare(&sql)?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if keys.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    Err(StateError::Db(format!(
        "cannot upgrade the state to schema 8: the send(s) {} hold an instant that is not RFC 3339 text (edited by hand?). Nothing was changed. Correct them (`YYYY-MM-DDTHH:MM:SS.mmmZ`) with `sqlite3`, or restore the state from a backup",
        keys.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    #[test]
    fn one_migration_per_version() {
        assert_eq!(super::MIGRATIONS.len() as i64, super::VERSION);
    }

    fn at_version(conn: &Connection, version: usize) {
        upgrade(conn, 0, version);
    }

    /// The migrations from `from` to `to` alone (a later one may need data
    /// that a test of an earlier one does not write).
    fn upgrade(conn: &Connection, from: usize, to: usize) {
        for sql in &super::MIGRATIONS[from..to] {
            conn.execute_batch(&super::migration(sql)).unwrap();
        }
        conn.pragma_update(None, "user_version", to as i64).unwrap();
    }

    /// Version 9: events recorded before it are looked for again (no
    /// stamp), and keep everything else; sends gain their calls' windows.
    #[test]
    fn version_9_events_recorded_before_are_not_waiting() {
        let conn = Connection::open_in_memory().unwrap();
        at_version(&conn, 8);
        let columns_9 = |conn: &Connection| {
            conn.prepare("SELECT waiting FROM events").is_ok() && conn.prepare("SELECT call_window FROM sends").is_ok()
        };
        assert!(!columns_9(&conn));
        conn.execute_batch(
            "INSERT INTO events (id, contact_id, name, at, props, source, dedupe_key, processed)
             VALUES (3, 'c9', 'signup', '2026-11-20T09:05:00.000Z', '{}', 'cli', 'k', 0)",
        )
        .unwrap();
        upgrade(&conn, 8, 9);
        assert!(columns_9(&conn));
        let row: (i64, String, i64, Option<String>) = conn
            .query_row("SELECT id, contact_id, processed, waiting FROM events", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        assert_eq!(row, (3, "c9".to_string(), 0, None));
    }

    /// Version 8 stores the ledger's instants as Unix milliseconds: each
    /// text instant comes through to the millisecond (a missing one stays
    /// missing), with every other column, the row ids and the indexes.
    #[test]
    fn version_8_stores_the_ledger_instants_as_milliseconds() {
        let mut conn = Connection::open_in_memory().unwrap();
        at_version(&conn, 7);
        conn.execute_batch(
            "INSERT INTO sends (id, key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority, due_at, not_before, status, reason, attempts, sent_at, provider_id, lease_owner, lease_until, event, updated_at, thread)
             VALUES (7, 'k7', 'campaigns.bf', 2, 'c1', 'once', 'bf_sms', 'sms', 'marketing', 'promotions', '[\"x\"]', 2, '2026-11-27T09:00:00.000Z', '2026-11-27T09:00:00.000Z', 'sent', 'r', 1, '2026-11-27T09:01:00.123Z', 'p', NULL, NULL, 'e', '2026-11-27T09:01:00.123Z', 'k6'),
                    (9, 'k9', 'campaigns.bf', 2, 'c2', 'once', 'bf_sms', 'sms', 'marketing', 'promotions', '[]', 2, '1970-01-01T00:00:00.001Z', '9999-12-31T23:59:59.999Z', 'queued', NULL, 0, NULL, NULL, NULL, 99, NULL, '1969-12-31T23:59:59.999Z', NULL),
                    (11, 'k11', 'campaigns.bf', 2, 'c3', 'once', 'bf_sms', 'sms', 'marketing', 'promotions', '[]', 2, '2016-12-31T23:59:60.500Z', '2016-12-31T23:59:60.500Z', 'sent', NULL, 1, '2016-12-31T23:59:60.500Z', NULL, NULL, NULL, NULL, '2016-12-31T23:59:60.500Z', NULL);",
        )
        .unwrap();
        let before: Vec<String> = {
            let mut stmt = conn
                .prepare("SELECT key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority, status, reason, attempts, provider_id, lease_owner, lease_until, event, thread FROM sends ORDER BY id")
                .unwrap();
            stmt.query_map([], |r| {
                Ok(format!(
                    "{:?}",
                    (0..19)
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
        };
        super::migrate(&mut conn, std::path::Path::new("state.db")).unwrap();
        let instants: Vec<(i64, i64, i64, Option<i64>, i64)> = conn
            .prepare("SELECT id, due_at, not_before, sent_at, updated_at FROM sends ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            instants,
            [
                (
                    7,
                    1_795_770_000_000,
                    1_795_770_000_000,
                    Some(1_795_770_060_123),
                    1_795_770_060_123
                ),
                (9, 1, 253_402_300_799_999, None, -1),
                // A leap second, as chrono writes it: the next second's start.
                (
                    11,
                    1_483_228_800_500,
                    1_483_228_800_500,
                    Some(1_483_228_800_500),
                    1_483_228_800_500
                ),
            ]
        );
        // The conversion agrees with the runner's own.
        let leap = chrono::DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap();
        assert_eq!(crate::state::run::ms(leap), 1_483_228_800_500);
        let after: Vec<String> = {
            let mut stmt = conn
                .prepare("SELECT key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority, status, reason, attempts, provider_id, lease_owner, lease_until, event, thread FROM sends ORDER BY id")
                .unwrap();
            stmt.query_map([], |r| {
                Ok(format!(
                    "{:?}",
                    (0..19)
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
        };
        assert_eq!(after, before);
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'sends' AND sql IS NOT NULL ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(indexes, ["sends_contact", "sends_due", "sends_once", "sends_sending"]);
        let bad = conn.execute("UPDATE sends SET status = 'lost' WHERE id = 7", []);
        assert!(bad.is_err(), "the ledger's check refuses an unknown status");
        // An older runner's text instant is refused, not stored as text.
        let bad = conn.execute("UPDATE sends SET sent_at = '2026-11-27T09:01:00.000Z' WHERE id = 7", []);
        assert!(bad.is_err(), "a text instant in the ledger");
    }

    /// An instant the migration cannot read stops the upgrade before any
    /// change, naming the send, instead of a bare constraint error or a
    /// send silently dropped from the pressure counts.
    #[test]
    fn version_8_refuses_an_unreadable_instant_and_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        at_version(&conn, 7);
        conn.execute_batch(
            "INSERT INTO sends (id, key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority, due_at, not_before, status, attempts, sent_at, updated_at)
             VALUES (7, 'k7', 'campaigns.bf', 2, 'c1', 'once', 'bf_sms', 'sms', 'marketing', 'promotions', '[]', 2, '2026-11-27T09:00:00.000Z', '2026-11-27T09:00:00.000Z', 'sent', 1, 'yesterday', '2026-11-27T09:00:00.000Z');",
        )
        .unwrap();
        let err = super::migrate(&mut conn, std::path::Path::new("state.db"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`k7`") && err.contains("Nothing was changed"), "{err}");
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, 7);
        let sent_at: String = conn.query_row("SELECT sent_at FROM sends", [], |r| r.get(0)).unwrap();
        assert_eq!(sent_at, "yesterday");
    }

    /// Version 7 makes a send unique by its identity: the rows stay, a second
    /// row with the same identity and another key is refused, and a campaign
    /// version's sends are found through the identity index.
    #[test]
    fn version_7_makes_a_send_unique_by_its_identity() {
        let conn = Connection::open_in_memory().unwrap();
        at_version(&conn, 6);
        let insert = |conn: &Connection, id: i64, key: &str, contact: &str| {
            conn.execute(
                "INSERT INTO sends (id, key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority, due_at, not_before, status, updated_at)
                 VALUES (?1, ?2, 'campaigns.bf', 2, ?3, 'once', 'bf_sms', 'sms', 'marketing', 'promotions', '[]', 2, 'd', 'n', 'sent', 'u')",
                rusqlite::params![id, key, contact],
            )
        };
        insert(&conn, 7, "k7", "c1").unwrap();
        insert(&conn, 9, "k9", "c2").unwrap();
        upgrade(&conn, 6, 7);
        let keys: Vec<String> = conn
            .prepare("SELECT key FROM sends ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(keys, ["k7", "k9"]);
        assert!(insert(&conn, 11, "k11", "c1").is_err(), "the same identity twice");
        insert(&conn, 12, "k12", "c3").unwrap();
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT 1 FROM sends WHERE object = 'campaigns.bf' AND version = 2 LIMIT 1",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("sends_once"), "{plan}");
    }

    /// Version 6 rebuilds the ledger and the enrolments: every row, its row
    /// id and every column come through; the checks still refuse a status
    /// that does not exist; no check builds a temporary table any more.
    #[test]
    fn version_6_rebuilds_the_ledger_and_the_enrolments_keeping_every_row() {
        let conn = Connection::open_in_memory().unwrap();
        at_version(&conn, 5);
        conn.execute_batch(
            "INSERT INTO sends (rowid, key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority, due_at, not_before, status, reason, attempts, sent_at, provider_id, lease_owner, lease_until, event, updated_at, thread)
             VALUES (7, 'k7', 'campaigns.bf', 2, 'c1', 'once', 'bf_sms', 'sms', 'marketing', 'promotions', '[\"x\"]', 2, 'd', 'n', 'sent', 'r', 1, 's', 'p', NULL, NULL, 'e', 'u', 'k6'),
                    (9, 'k9', 'campaigns.bf', 2, 'c2', 'once', 'bf_sms', 'sms', 'marketing', 'promotions', '[]', 2, 'd', 'n', 'sending', NULL, 1, 's', NULL, 'runner', 99, NULL, 'u', NULL);
             INSERT INTO enrolments (id, scenario, version, contact_id, occurrence, entered_at, status, cursor, since, wake_at, listening, event, exit_reason)
             VALUES (3, 'scenarios.welcome', 1, 'c1', 'signup', 't', 'active', '[]', 't', 'w', 1, 'signup', NULL);",
        )
        .unwrap();
        let rows = |conn: &Connection, sql: &str| -> Vec<String> {
            let mut stmt = conn.prepare(sql).unwrap();
            let n = stmt.column_count();
            stmt.query_map([], |r| {
                Ok((0..n)
                    .map(|i| match r.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                        v => format!("{v:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
        };
        let sends_sql = "SELECT rowid, key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority, due_at, not_before, status, reason, attempts, sent_at, provider_id, lease_owner, lease_until, event, updated_at, thread FROM sends ORDER BY rowid";
        let enrolments_sql = "SELECT * FROM enrolments ORDER BY id";
        let (sends, enrolments) = (rows(&conn, sends_sql), rows(&conn, enrolments_sql));
        upgrade(&conn, 5, 6);
        assert_eq!(rows(&conn, sends_sql), sends);
        assert_eq!(rows(&conn, enrolments_sql), enrolments);
        assert_eq!(sends.len(), 2);
        // The row id is a column now, with the same values.
        assert_eq!(
            rows(&conn, "SELECT id FROM sends ORDER BY id"),
            ["Integer(7)", "Integer(9)"]
        );
        // The partial index of what is sending came through.
        let sending: i64 = conn
            .query_row("SELECT count(*) FROM sends INDEXED BY sends_sending WHERE status = 'sending' AND lease_owner = 'runner'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sending, 1);
        let bad = conn.execute("UPDATE sends SET status = 'lost' WHERE key = 'k7'", []);
        assert!(bad.is_err(), "the ledger's check refuses an unknown status");
        let bad = conn.execute("UPDATE enrolments SET status = 'lost' WHERE id = 3", []);
        assert!(bad.is_err(), "the enrolments' check refuses an unknown status");
        let ok = conn
            .execute("UPDATE sends SET status = 'failed' WHERE key = 'k7'", [])
            .unwrap();
        assert_eq!(ok, 1);
        for sql in [
            "UPDATE sends SET status = 'sent' WHERE rowid = 9",
            "UPDATE enrolments SET status = 'completed' WHERE id = 3",
            "SELECT key FROM sends WHERE contact_id = 'c1' AND (status = 'sending' OR status = 'sent' OR status = 'in_doubt') AND sent_at > 'a'",
        ] {
            let plan = rows(&conn, &format!("EXPLAIN {sql}")).join("\n");
            assert!(
                !plan.contains("OpenEphemeral"),
                "{sql} builds a temporary table:\n{plan}"
            );
        }
    }
}
