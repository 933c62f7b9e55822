//! Versioned migrations of the state database (`PRAGMA user_version`).
//! The tables of `herald run` (enrolments, timers, ledger) exist from the
//! start so the layout is settled; PostgreSQL will get the same tables.

use rusqlite::Connection;

pub const VERSION: i64 = 2;

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
];

/// Bring the database to `VERSION`, in one write transaction. The version is
/// read again inside it: two processes creating the state at once migrate once.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let from: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if from >= VERSION {
        return tx.commit();
    }
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version > from {
            tx.execute_batch(sql)?;
        }
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_migration_per_version() {
        assert_eq!(super::MIGRATIONS.len() as i64, super::VERSION);
    }
}
