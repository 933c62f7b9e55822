//! Calls handed to a call centre as call lists: one CSV file per calling
//! window (`calls-2026-11-27T10.csv`: key, contact id, phone, script), which
//! the centre's dialler imports. A row is added once per key, the file
//! rewritten through a temporary file, so a retry never duplicates a call.

use super::{Body, Outcome, Outgoing, Provider};
use std::path::PathBuf;
use std::sync::Mutex;

pub struct CallLists {
    dir: PathBuf,
    /// One writer at a time: rows are added by rewriting the file.
    lock: Mutex<()>,
}

impl CallLists {
    pub fn new(dir: PathBuf) -> Result<CallLists, String> {
        Ok(CallLists {
            dir: super::outbox_at(dir.join("calls"))?,
            lock: Mutex::new(()),
        })
    }
}

impl Provider for CallLists {
    fn kind(&self) -> &'static str {
        "csv"
    }

    fn idempotent(&self) -> bool {
        true
    }

    fn send(&self, m: &Outgoing) -> Outcome {
        let Body::Call { script, window } = &m.body else {
            return Outcome::Failed {
                reason: "not a call".into(),
            };
        };
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let path = self.dir.join(format!("calls-{window}.csv"));
        let mut rows: Vec<Vec<String>> = Vec::new();
        if let Ok(existing) = std::fs::read(&path) {
            let mut r = csv::ReaderBuilder::new().has_headers(true).from_reader(&existing[..]);
            for rec in r.records().flatten() {
                rows.push(rec.iter().map(str::to_string).collect());
            }
        }
        if rows.iter().any(|r| r.first() == Some(&m.key)) {
            return Outcome::Sent { provider_id: None };
        }
        rows.push(vec![m.key.clone(), m.contact_id.clone(), m.to.clone(), script.clone()]);
        let mut w = csv::Writer::from_writer(Vec::new());
        let written = w
            .write_record(["key", "contact_id", "phone", "script"])
            .and_then(|()| rows.iter().try_for_each(|r| w.write_record(r)));
        let bytes = match written
            .map_err(|e| e.to_string())
            .and_then(|()| w.into_inner().map_err(|e| e.to_string()))
        {
            Ok(b) => b,
            Err(e) => {
                return Outcome::Retry {
                    after: None,
                    reason: format!("call list: {e}"),
                };
            }
        };
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            return Outcome::Retry {
                after: None,
                reason: format!("call list directory cannot be created ({})", e.kind()),
            };
        }
        // Rows are added by rewriting the list: replacing it is the point.
        match crate::output::write_file(&path, &bytes, true) {
            Ok(()) => Outcome::Sent { provider_id: None },
            Err(_) => Outcome::Retry {
                after: None,
                reason: "call list write failed".into(),
            },
        }
    }
}
