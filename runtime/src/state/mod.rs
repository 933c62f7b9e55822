//! Herald's state: what is deployed (objects and their versions), who holds
//! the lock, and — for `herald run` — enrolments, timers and the send ledger.
//! Embedded SQLite by default (`.herald/state.db`).
//!
//! Invariants:
//! - `lineage` is set once, when the state is created; `serial` grows by one
//!   on every committed apply. A saved plan records both; apply refuses a plan
//!   whose lineage or serial no longer match.
//! - An apply is one transaction: killed at any point, the state is before or
//!   after it, never between.
//! - A state file Herald cannot read (empty, damaged, not SQLite, written by
//!   a newer Herald) is reported and never modified.
//! - Read-only commands (`plan`, `state list/show`) open it read-only: they
//!   never create, migrate or write it.
//! - A state is created whole: made and migrated in a temporary file, then
//!   linked into place. A concurrent apply sees no state or a complete one.

pub mod lock;
pub mod run;
mod schema;

pub use lock::LockInfo;

use crate::fsx;
use herald_compiler::diff::{Change, Deployed};
use herald_compiler::ir::Object;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    /// `None` when no state exists yet.
    pub lineage: Option<String>,
    pub serial: u64,
}

#[derive(Debug)]
pub enum StateError {
    /// The file is not a Herald state (or is damaged). Never modified.
    Unreadable(PathBuf, String),
    /// Written by a newer Herald.
    TooNew(PathBuf, i64),
    Locked(Box<LockInfo>),
    /// The saved plan was made against another state.
    Stale(String),
    /// Another process holds the database (SQLite's busy), past the wait:
    /// nothing is wrong with the file.
    Busy(Option<PathBuf>),
    Db(String),
}

/// The runner holding the state's lease, if it is alive: its lease
/// (`runner` in `run_meta`, `OWNER|UNTIL_MS`) has not run out on the real
/// clock, and its process is not known to be gone.
fn live_runner(conn: &Connection) -> Option<String> {
    let held: String = conn
        .query_row("SELECT value FROM run_meta WHERE key = 'runner'", [], |r| r.get(0))
        .ok()?;
    let (owner, until) = held.rsplit_once('|')?;
    let live =
        until.parse::<i64>().is_ok_and(|u| u > crate::clock::real_unix_ms()) && !crate::run::runner_is_dead(owner);
    live.then(|| owner.to_string())
}

/// Whether SQLite answered that another connection holds the database
/// (`SQLITE_BUSY`; `SQLITE_LOCKED` is a conflict within one connection, a
/// bug, and stays an error as it is).
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy))
}

impl StateError {
    /// An error opening or first reading the state file: busy is not damage.
    fn unreadable(path: &Path, e: &rusqlite::Error) -> StateError {
        if is_busy(e) {
            StateError::Busy(Some(path.to_path_buf()))
        } else {
            StateError::Unreadable(path.to_path_buf(), e.to_string())
        }
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Unreadable(p, e) => write!(
                f,
                "the state file `{}` cannot be read ({e}); it was left untouched. If it is damaged, restore it from a backup, or move it aside to start a new state",
                p.display()
            ),
            StateError::TooNew(p, v) => write!(
                f,
                "the state file `{}` was written by a newer Herald (schema {v}, this one knows {}); it was left untouched: upgrade Herald",
                p.display(),
                schema::VERSION
            ),
            StateError::Locked(info) => write!(f, "the state is locked\n{info}"),
            StateError::Stale(m) => f.write_str(m),
            StateError::Busy(Some(p)) => write!(
                f,
                "the state file `{}` is held by another process (the database is locked), and was not changed; the file is not damaged. Wait for that process (another `herald apply`, `herald run`, or a tool with the file open) to finish, then try again",
                p.display()
            ),
            StateError::Busy(None) => f.write_str(
                "the state is held by another process (the database is locked), past the wait; what was committed before stays. Wait for that process (another `herald apply`, `herald run`, or a tool with the file open) to finish, then try again",
            ),
            StateError::Db(e) => write!(f, "state database error: {e}"),
        }
    }
}

impl From<rusqlite::Error> for StateError {
    fn from(e: rusqlite::Error) -> Self {
        if is_busy(&e) {
            return StateError::Busy(None);
        }
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => StateError::Db(format!(
                "the state file is damaged ({e}); it was left as it is. Restore it from a backup (`sqlite3 state.db .recover` may save what is left); moving it aside starts a new state and forgets every send"
            )),
            _ => StateError::Db(e.to_string()),
        }
    }
}

/// Who applies what, and when: recorded with every apply.
pub struct Provenance<'a> {
    pub who: &'a str,
    pub plan_digest: &'a str,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The sources the objects were compiled from (`herald run` compiles
    /// these), and their digest.
    pub sources: &'a herald_compiler::SourceSet,
    /// Guards that failed and were accepted with `--accept-guard`.
    pub accepted_guards: &'a [String],
}

/// One committed apply, as `herald state history` shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ApplyRecord {
    pub serial: u64,
    pub applied_at: String,
    pub who: String,
    pub plan_digest: String,
    /// Object counts: `create`, `update`, `replace`, `delete`.
    pub summary: BTreeMap<String, u64>,
    pub accepted_guards: Vec<String>,
}

/// A visitor of the opens and clicks of the ledger: (contact id, message,
/// clicked, at); an error stops the visit.
pub type Received<'a> = dyn FnMut(&str, &str, chrono::DateTime<chrono::Utc>) -> Result<(), String> + 'a;
pub type Engaged<'a> = dyn FnMut(&str, &str, bool, chrono::DateTime<chrono::Utc>) -> Result<(), String> + 'a;

pub struct State {
    conn: Connection,
    path: PathBuf,
}

/// What a command does with the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Look only: never created, migrated or written.
    Read,
    /// Apply, release a lock: migrated if older, never created here.
    Write,
}

/// The files of a stored snapshot (`snapshots.files`: JSON pairs of path and text).
pub fn snapshot_files(json: &str) -> Result<Vec<(String, String)>, StateError> {
    serde_json::from_str(json).map_err(|e| StateError::Db(format!("a stored snapshot is damaged: {e}")))
}

/// Where the state of a plan is: `[state] path`, inside the plan directory
/// unless it is absolute.
pub fn path(dir: &Path, config: &herald_compiler::config::Config) -> Result<PathBuf, StateError> {
    fsx::configured(dir, &config.state.path).map_err(|e| StateError::Db(e.to_string()))
}

impl State {
    /// The state if there is one (`Ok(None)` otherwise). A file that is not
    /// a Herald state, an empty one included, is an error and left as it is.
    pub fn open_existing(path: &Path, access: Access) -> Result<Option<State>, StateError> {
        if path.symlink_metadata().is_err() {
            return Ok(None);
        }
        let unreadable = |why: String| StateError::Unreadable(path.to_path_buf(), why);
        // SQLite would block on a FIFO: only regular files are opened.
        let meta = fsx::check_regular(path).map_err(|e| unreadable(e.to_string()))?;
        if meta.len() == 0 {
            return Err(unreadable("it is empty, so not a Herald state".into()));
        }
        use rusqlite::OpenFlags;
        let flags = match access {
            Access::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
            Access::Write => OpenFlags::SQLITE_OPEN_READ_WRITE,
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| StateError::unreadable(path, &e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mut state = State {
            conn,
            path: path.to_path_buf(),
        };
        state.prepare(access)?;
        Ok(Some(state))
    }

    /// Whether the runner ever recorded a send: then the ledger's
    /// engagement (opens and clicks) is the contacts' engagement history.
    pub fn has_run(&self) -> Result<bool, StateError> {
        Ok(self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM sends)", [], |r| r.get(0))?)
    }

    /// Visit the opens and clicks the runner recorded: (contact id, message,
    /// clicked, at). `f` fails to stop (a bound).
    pub fn engagement(&self, f: &mut Engaged) -> Result<(), StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT contact_id, message, kind, at FROM engagement WHERE kind IN ('opened', 'clicked')")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (id, message, kind, at): (String, String, String, String) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            f(&id, &message, kind == "clicked", run::parse_ts(&at)?).map_err(StateError::Db)?;
        }
        Ok(())
    }

    /// Visit the events the runner received (`POST /v1/events`, `herald
    /// event send`): (contact id, event, at). `f` fails to stop (a bound).
    pub fn received_events(&self, f: &mut Received) -> Result<(), StateError> {
        let mut stmt = self.conn.prepare("SELECT contact_id, name, at FROM events")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (id, name, at): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            f(&id, &name, run::parse_ts(&at)?).map_err(StateError::Db)?;
        }
        Ok(())
    }

    /// The state for an apply, created (empty, with no lineage yet) if
    /// there is none.
    pub fn open_or_create(path: &Path) -> Result<State, StateError> {
        if path.symlink_metadata().is_err() {
            Self::create(path)?;
        }
        Self::open_existing(path, Access::Write)?.ok_or_else(|| {
            StateError::Db(format!(
                "the state `{}` disappeared while it was opened",
                path.display()
            ))
        })
    }

    /// Make a complete state in a temporary file beside `path` and link it
    /// into place, unless another process did first (then theirs is kept).
    fn create(path: &Path) -> Result<(), StateError> {
        let io = |e: std::io::Error| StateError::Db(format!("cannot create the state `{}`: {e}", path.display()));
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io)?;
        let tmp = tempfile::Builder::new()
            .prefix(".state.")
            .suffix(".tmp")
            .tempfile_in(parent)
            .map_err(io)?;
        {
            let mut conn = Connection::open(tmp.path())?;
            schema::migrate(&mut conn, path)?;
        }
        match tmp.persist_noclobber(path) {
            Ok(_) => Ok(()),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(io(e.error)),
        }
    }

    fn prepare(&mut self, access: Access) -> Result<(), StateError> {
        let path = self.path.clone();
        let unreadable = |e: rusqlite::Error| StateError::unreadable(&path, &e);
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(unreadable)?;
        // Any table that is not ours means this is not a Herald state.
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| {
                r.get(0)
            })
            .map_err(unreadable)?;
        // Herald makes a state whole before it appears (see `create`): a
        // file at version 0 was made by something else.
        if version == 0 {
            let why = if tables > 0 {
                "it is an SQLite database but not a Herald state"
            } else {
                "it is an SQLite database without Herald's tables, so not a Herald state"
            };
            return Err(StateError::Unreadable(path, why.into()));
        }
        if version > schema::VERSION {
            return Err(StateError::TooNew(path, version));
        }
        if version < schema::VERSION {
            if access == Access::Read {
                return Err(StateError::Unreadable(
                    path,
                    format!(
                        "it was written by an older Herald (schema {version}); the next `herald apply` upgrades it"
                    ),
                ));
            }
            schema::migrate(&mut self.conn, &path)?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn meta(&self) -> Result<Meta, StateError> {
        let lineage: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'lineage'", [], |r| r.get(0))
            .optional()?;
        let serial: u64 = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'serial'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok(Meta { lineage, serial })
    }

    /// The source files of the last apply (`None` before any apply).
    pub fn deployed_sources(&self) -> Result<Option<Vec<(String, String)>>, StateError> {
        let files: Option<String> = self
            .conn
            .query_row(
                "SELECT s.files FROM applies a JOIN snapshots s ON s.digest = a.source_digest ORDER BY a.serial DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        files.as_deref().map(snapshot_files).transpose()
    }

    /// Every deployed object, by address.
    pub fn deployed(&self) -> Result<BTreeMap<String, Deployed>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT address, kind, name, version, hash, body FROM objects ORDER BY address")?;
        let rows = stmt.query_map([], |r| {
            let body: String = r.get(5)?;
            Ok((
                r.get::<_, String>(0)?,
                Deployed {
                    kind: r.get::<_, String>(1)?.parse().map_err(|e: String| {
                        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
                    })?,
                    name: r.get(2)?,
                    version: r.get::<_, i64>(3)? as u64,
                    hash: r.get(4)?,
                    body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
                },
            ))
        })?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (a, d) = row?;
            out.insert(a, d);
        }
        Ok(out)
    }

    /// The last recorded audience of each object (for the growth guard).
    pub fn audiences(&self) -> Result<BTreeMap<String, u64>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT address, last_audience FROM objects WHERE last_audience IS NOT NULL")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Contacts still inside a version of a scenario (the runtime fills this).
    pub fn in_flight(&self, address: &str, version: u64) -> Result<u64, StateError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM enrolments WHERE scenario = ?1 AND version = ?2 AND status = 'active'",
            params![address, version as i64],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// The versions kept for an address (newest first): (version, hash, retired).
    pub fn versions(&self, address: &str) -> Result<Vec<(u64, String, bool)>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT version, hash, retired_serial IS NOT NULL FROM object_versions WHERE address = ?1 ORDER BY version DESC")?;
        let rows = stmt.query_map([address], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Apply changes in one transaction, if the state is still at `expected`.
    pub fn apply(
        &mut self,
        expected: &Meta,
        changes: &[Change],
        objects: &BTreeMap<String, Object>,
        audiences: &BTreeMap<String, u64>,
        by: &Provenance,
    ) -> Result<Meta, StateError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let lineage: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'lineage'", [], |r| r.get(0))
            .optional()?;
        let serial: u64 = tx
            .query_row("SELECT value FROM meta WHERE key = 'serial'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match (&expected.lineage, &lineage) {
            (Some(a), Some(b)) if a != b => {
                return Err(StateError::Stale(format!(
                    "the saved plan was made against another state (lineage {a}, the state is {b}); run `herald plan` again"
                )));
            }
            (None, _) if serial > 0 => {
                return Err(StateError::Stale(
                    "the saved plan is stale: it was made before any apply, and the state has changed since (serial {serial}); run `herald plan` again"
                        .replace("{serial}", &serial.to_string()),
                ));
            }
            _ => {}
        }
        if serial != expected.serial {
            return Err(StateError::Stale(format!(
                "the saved plan is stale: it was made at state serial {}, the state is now at {serial} (another apply ran since); run `herald plan` again",
                expected.serial
            )));
        }
        let lineage = lineage.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let next = serial + 1;
        let now = by.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for c in changes {
            let obj = objects.get(&c.address);
            let audience = audiences.get(&c.address).map(|a| *a as i64);
            if c.is_noop() {
                if let Some(a) = audience {
                    tx.execute(
                        "UPDATE objects SET last_audience = ?2 WHERE address = ?1",
                        params![c.address, a],
                    )?;
                }
                continue;
            }
            if c.is_delete() {
                tx.execute("DELETE FROM objects WHERE address = ?1", [&c.address])?;
                tx.execute(
                    "UPDATE object_versions SET retired_serial = ?2 WHERE address = ?1 AND retired_serial IS NULL",
                    params![c.address, next as i64],
                )?;
                continue;
            }
            let Some(o) = obj else { continue };
            let body = serde_json::to_string(&o.body).unwrap_or_default();
            let version = c.version_after.unwrap_or(1) as i64;
            if c.is_replace() {
                tx.execute(
                    "UPDATE object_versions SET retired_serial = ?2 WHERE address = ?1 AND retired_serial IS NULL",
                    params![c.address, next as i64],
                )?;
            }
            tx.execute(
                "INSERT INTO objects (address, kind, name, version, hash, body, applied_serial, applied_at, last_audience)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(address) DO UPDATE SET kind = ?2, name = ?3, version = ?4, hash = ?5, body = ?6,
                   applied_serial = ?7, applied_at = ?8, last_audience = ?9",
                params![c.address, o.kind.as_str(), o.name, version, o.hash, body, next as i64, now, audience],
            )?;
            tx.execute(
                "INSERT INTO object_versions (address, version, hash, body, created_serial)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(address, version) DO UPDATE SET hash = ?3, body = ?4",
                params![c.address, version, o.hash, body, next as i64],
            )?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('lineage', ?1)",
            [&lineage],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('serial', ?1)",
            [next.to_string()],
        )?;
        let summary = serde_json::json!({
            "create": changes.iter().filter(|c| c.is_create()).count(),
            "update": changes.iter().filter(|c| c.is_update()).count(),
            "replace": changes.iter().filter(|c| c.is_replace()).count(),
            "delete": changes.iter().filter(|c| c.is_delete()).count(),
        });
        let source_digest = herald_compiler::ir::source_digest(by.sources);
        let files: Vec<(&str, &str)> = by
            .sources
            .iter()
            .map(|(_, f)| (f.path.as_str(), f.text.as_str()))
            .collect();
        tx.execute(
            "INSERT OR IGNORE INTO snapshots (digest, files) VALUES (?1, ?2)",
            params![source_digest, serde_json::to_string(&files).unwrap_or_default()],
        )?;
        let accepted = serde_json::to_string(by.accepted_guards).unwrap_or_else(|_| "[]".into());
        tx.execute(
            "INSERT INTO applies (serial, applied_at, who, plan_digest, summary, accepted_guards, source_digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![next as i64, now, by.who, by.plan_digest, summary.to_string(), accepted, source_digest],
        )?;
        // A pause point for the crash test: the transaction is open, nothing is
        // committed. The marker file tells the test that this point is reached.
        if let Some(ms) = std::env::var_os("HERALD_TEST_APPLY_PAUSE_MS").and_then(|v| v.to_str()?.parse::<u64>().ok()) {
            if let Some(marker) = std::env::var_os("HERALD_TEST_APPLY_MARKER") {
                let _ = std::fs::write(marker, b"in transaction\n");
            }
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        tx.commit()?;
        Ok(Meta {
            lineage: Some(lineage),
            serial: next,
        })
    }

    /// Every committed apply, oldest first.
    pub fn history(&self) -> Result<Vec<ApplyRecord>, StateError> {
        let mut stmt = self.conn.prepare(
            "SELECT serial, applied_at, who, plan_digest, summary, accepted_guards FROM applies ORDER BY serial",
        )?;
        let rows = stmt.query_map([], |r| {
            let summary: String = r.get(4)?;
            let accepted: String = r.get(5)?;
            Ok(ApplyRecord {
                serial: r.get::<_, i64>(0)? as u64,
                applied_at: r.get(1)?,
                who: r.get(2)?,
                plan_digest: r.get(3)?,
                summary: serde_json::from_str(&summary).unwrap_or_default(),
                accepted_guards: serde_json::from_str(&accepted).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    /// A state another process holds is reported as held, never as damaged:
    /// the advice for damage (move the file aside) would throw the ledger
    /// away, and every send would go out again.
    #[test]
    fn a_locked_state_is_reported_as_held_not_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".herald/state.db");
        State::open_or_create(&path).unwrap();
        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(std::time::Duration::ZERO).unwrap();
        let e = other
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .unwrap_err();
        let reported = StateError::unreadable(&path, &e);
        assert!(matches!(reported, StateError::Busy(Some(_))), "{reported}");
        let text = reported.to_string();
        assert!(
            text.contains("held by another process") && text.contains("not damaged"),
            "{text}"
        );
        assert!(!text.contains("move it aside"), "{text}");
        // Later statements say the same, through `?`.
        let e = other.execute_batch("BEGIN IMMEDIATE").unwrap_err();
        assert!(matches!(StateError::from(e), StateError::Busy(None)));
        // Damage is still damage.
        let damaged = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT), None);
        assert!(matches!(
            StateError::unreadable(&path, &damaged),
            StateError::Unreadable(..)
        ));
        // Later, damage says so, and how to recover without losing the ledger.
        let text = StateError::from(damaged).to_string();
        assert!(
            text.contains("damaged") && text.contains("Restore it from a backup"),
            "{text}"
        );
    }

    /// Many first opens at once (as concurrent first applies do): every one
    /// gets the same, complete state; none sees a half-made one.
    #[test]
    fn concurrent_creation_never_sees_a_half_made_state() {
        for round in 0..150 {
            let dir = tempfile::tempdir().unwrap();
            let path = Arc::new(dir.path().join(".herald/state.db"));
            let start = Arc::new(Barrier::new(8));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let (path, start) = (Arc::clone(&path), Arc::clone(&start));
                    std::thread::spawn(move || {
                        start.wait();
                        State::open_or_create(&path).map(|s| s.meta().is_ok())
                    })
                })
                .collect();
            for t in threads {
                match t.join().unwrap() {
                    Ok(opened) => assert!(opened),
                    Err(e) => panic!("round {round}: {e}"),
                }
            }
        }
    }

    #[test]
    fn a_version_1_state_migrates_and_keeps_its_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO applies (serial, applied_at, who, plan_digest, summary) VALUES (1, 't', 'ann', 'sha256:ab', '{\"create\":2}')",
                [],
            )
            .unwrap();
        }
        let state = State::open_existing(&path, Access::Write).unwrap().unwrap();
        let history = state.history().unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].who, "ann");
        assert_eq!(history[0].summary["create"], 2);
        assert!(history[0].accepted_guards.is_empty());
        let version: i64 = state.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, schema::VERSION);
    }

    /// A state an older runner is still working on is not upgraded under it
    /// (it would write the old layout into the new): the upgrade waits until
    /// that runner's lease has run out or its process is gone.
    #[test]
    fn an_older_state_is_not_upgraded_under_a_live_runner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let lease = |until: i64| {
            let conn = Connection::open(&path).unwrap();
            conn.execute(
                "INSERT OR REPLACE INTO run_meta (key, value) VALUES ('runner', ?1)",
                [format!("ops@elsewhere:4242:n0nce|{until}")],
            )
            .unwrap();
        };
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &schema::MIGRATIONS[..7] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 7).unwrap();
        }
        lease(crate::clock::real_unix_ms() + 60_000);
        let err = State::open_existing(&path, Access::Write).err().unwrap().to_string();
        assert!(
            err.contains("`herald run`") && err.contains("ops@elsewhere:4242:n0nce"),
            "{err}"
        );
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 7, "not upgraded");
        // Its lease ran out: the runner is gone.
        lease(crate::clock::real_unix_ms() - 1);
        let state = State::open_existing(&path, Access::Write).unwrap().unwrap();
        let version: i64 = state.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, schema::VERSION);
    }
}
