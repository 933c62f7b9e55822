//! Calls handed to a call centre as call lists: one CSV file per calling
//! window (`calls-2026-11-27T10.csv`: key, contact id, phone, script), which
//! the centre's dialler imports. A row is added once per key, the file
//! rewritten through a temporary file, so a retry never duplicates a call;
//! a list that cannot be read whole is never rewritten (its rows would be
//! lost): the call waits.

use super::{Body, Outcome, Outgoing, Provider};
use std::path::PathBuf;
use std::sync::Mutex;

pub struct CallLists {
    dir: PathBuf,
    /// One writer at a time: rows are added by rewriting the file.
    lock: Mutex<()>,
}

/// A call list's size bound: a window's calls are a call centre's hour or
/// two of work (tens of thousands of rows at most).
const MAX_LIST_BYTES: u64 = 256 * 1024 * 1024;

impl CallLists {
    /// Lists written in `dir` (as configured; the default outbox's `calls`).
    pub fn new(dir: PathBuf) -> Result<CallLists, String> {
        Ok(CallLists {
            dir: super::outbox_at(dir)?,
            lock: Mutex::new(()),
        })
    }

    /// The rows of a list, none when it does not exist yet. A list that
    /// cannot be read or parsed whole is an error, never an empty list: it
    /// is rewritten with every row, and a row lost is a call not made.
    fn rows(path: &std::path::Path) -> Result<Vec<Vec<String>>, String> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = match crate::fsx::read_regular(path, MAX_LIST_BYTES) {
            Ok(b) => b,
            Err(crate::fsx::FileError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(format!("call list {name} cannot be read: {e}")),
        };
        let mut r = csv::ReaderBuilder::new().has_headers(true).from_reader(&bytes[..]);
        r.records()
            .map(|rec| {
                rec.map(|rec| rec.iter().map(str::to_string).collect()).map_err(|e| {
                    let line = e.position().map_or(0, |p| p.line());
                    format!("call list {name} is damaged at line {line}: repair or move it (Herald keeps its rows)")
                })
            })
            .collect()
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
        let mut rows = match CallLists::rows(&path) {
            Ok(rows) => rows,
            Err(reason) => return Outcome::Retry { after: None, reason },
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn call(key: &str) -> Outgoing {
        Outgoing {
            key: key.into(),
            contact_id: "c1".into(),
            to: "+33600000001".into(),
            body: Body::Call {
                script: "Bonjour".into(),
                window: "2026-11-27T10".into(),
            },
        }
    }

    #[test]
    fn rows_are_added_once_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let lists = CallLists::new(dir.path().to_path_buf()).unwrap();
        for key in ["k1", "k2", "k1"] {
            assert!(matches!(lists.send(&call(key)), Outcome::Sent { .. }));
        }
        let text = std::fs::read_to_string(dir.path().join("calls-2026-11-27T10.csv")).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    /// A list that cannot be parsed (a hand edit, a dialler's mark) is
    /// never replaced by one holding only the new row.
    #[test]
    fn a_damaged_list_keeps_its_rows_and_the_call_waits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls-2026-11-27T10.csv");
        let damaged = "key,contact_id,phone,script\nk0,c0,+33600000000,Bonjour\nk9,c9\n";
        std::fs::write(&path, damaged).unwrap();
        let lists = CallLists::new(dir.path().to_path_buf()).unwrap();
        match lists.send(&call("k1")) {
            Outcome::Retry { reason, .. } => assert!(reason.contains("is damaged at line 3"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), damaged);
    }

    #[test]
    fn a_list_that_is_not_a_file_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("calls-2026-11-27T10.csv")).unwrap();
        let lists = CallLists::new(dir.path().to_path_buf()).unwrap();
        match lists.send(&call("k1")) {
            Outcome::Retry { reason, .. } => assert!(reason.contains("cannot be read"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(dir.path().join("calls-2026-11-27T10.csv").is_dir());
    }
}
