//! The state lock: one writer at a time. A row in `locks`, inserted in an
//! IMMEDIATE transaction (so two processes cannot both take it), removed when
//! the operation ends. A killed process leaves it behind: `herald
//! force-unlock ID` releases it (the id is a nonce, so the right lock goes).

use super::{State, StateError};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::fmt;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockInfo {
    pub id: String,
    pub operation: String,
    pub who: String,
    pub version: String,
    pub created_at: String,
    pub info: String,
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Lock info:")?;
        writeln!(f, "  ID:        {}", self.id)?;
        writeln!(f, "  Operation: {}", self.operation)?;
        writeln!(f, "  Who:       {}", self.who)?;
        writeln!(f, "  Version:   {}", self.version)?;
        writeln!(f, "  Created:   {}", self.created_at)?;
        if !self.info.is_empty() {
            writeln!(f, "  Info:      {}", self.info)?;
        }
        write!(
            f,
            "Wait for that operation to finish, or retry with a longer `--lock-timeout`. If it died, release the lock with `herald force-unlock {}`.",
            self.id
        )
    }
}

/// Held while an operation writes; dropping it releases the lock. It has its
/// own connection, so the state stays free for the operation itself.
pub struct LockGuard {
    conn: Connection,
    pub id: String,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.conn.execute("DELETE FROM locks WHERE id = ?1", [&self.id]);
    }
}

/// `user@host`, for lock and apply records.
pub fn who() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| {
            crate::fsx::read_regular(std::path::Path::new("/etc/hostname"), 1024)
                .ok()
                .map(|s| String::from_utf8_lossy(&s).trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}")
}

impl State {
    pub fn lock_info(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, operation, who, version, created_at, info FROM locks WHERE name = 'state'",
                [],
                |r| {
                    Ok(LockInfo {
                        id: r.get(0)?,
                        operation: r.get(1)?,
                        who: r.get(2)?,
                        version: r.get(3)?,
                        created_at: r.get(4)?,
                        info: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// Take the lock, waiting up to `timeout` for another holder to finish.
    pub fn lock(
        &self,
        operation: &str,
        info: &str,
        timeout: Duration,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<LockGuard, StateError> {
        let now = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let start = Instant::now();
        let id = uuid::Uuid::new_v4().to_string();
        let mut conn = Connection::open(self.path())?;
        // Short busy waits: a writer holding the database counts as a held lock,
        // so `--lock-timeout` is honoured even while another apply commits.
        conn.busy_timeout(Duration::from_millis(100))?;
        loop {
            let taken = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
                Ok(tx) => {
                    let held: Option<String> = tx
                        .query_row("SELECT id FROM locks WHERE name = 'state'", [], |r| r.get(0))
                        .optional()?;
                    if held.is_none() {
                        tx.execute(
                            "INSERT INTO locks (name, id, operation, who, version, created_at, info) VALUES ('state', ?1, ?2, ?3, ?4, ?5, ?6)",
                            params![id, operation, who(), env!("CARGO_PKG_VERSION"), now, info],
                        )?;
                    }
                    tx.commit()?;
                    held.is_none()
                }
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy => false,
                Err(e) => return Err(e.into()),
            };
            if taken {
                conn.busy_timeout(Duration::from_secs(10))?;
                return Ok(LockGuard { conn, id });
            }
            if start.elapsed() >= timeout {
                return Err(match self.lock_info()? {
                    Some(info) => StateError::Locked(Box::new(info)),
                    None => {
                        StateError::Db("the state database stayed busy; retry with a longer `--lock-timeout`".into())
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Release a lock left by a dead process. The id must match.
    pub fn force_unlock(&self, id: &str) -> Result<bool, StateError> {
        let n = self.conn().execute("DELETE FROM locks WHERE id = ?1", [id])?;
        Ok(n == 1)
    }
}
