//! Calls handed to a call centre as call lists: one CSV file per calling
//! window (`calls-2026-11-27T10.csv`: key, contact id, phone, script), which
//! the centre's dialler imports. A new list is written through a temporary
//! file; then each call is one row appended in one write and synced, once
//! per key (the keys of a list are read once, and again only when the file
//! changed under Herald): a window's list costs the size of its rows, not
//! their square. A list that cannot be read whole is never written to (its
//! rows would be lost or mixed): the call waits. A last row without its
//! newline is one a crash cut short (its send was never recorded sent, and
//! is made again): the list is rewritten without it.

use super::{Body, Outcome, Outgoing, Provider};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct CallLists {
    dir: PathBuf,
    /// The lists written to, by path: one writer at a time.
    known: Mutex<HashMap<PathBuf, Known>>,
}

/// The keys of a list, and its length once Herald's last row was written:
/// another length means the file changed under Herald, and is read again.
struct Known {
    keys: HashSet<String>,
    len: u64,
}

/// A call list's size bound: a window's calls are a call centre's hour or
/// two of work (tens of thousands of rows at most).
const MAX_LIST_BYTES: u64 = 256 * 1024 * 1024;

const HEADER: [&str; 4] = ["key", "contact_id", "phone", "script"];

fn csv_row(fields: &[&str]) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields).map_err(|e| e.to_string())?;
    w.into_inner().map_err(|e| e.to_string())
}

fn retry(reason: impl Into<String>) -> Outcome {
    Outcome::Retry {
        after: None,
        reason: reason.into(),
    }
}

impl CallLists {
    /// Lists written in `dir` (as configured; the default outbox's `calls`).
    pub fn new(dir: PathBuf) -> Result<CallLists, String> {
        Ok(CallLists {
            dir: super::outbox_at(dir)?,
            known: Mutex::new(HashMap::new()),
        })
    }

    /// The keys of a list and its length (none when it does not exist yet).
    /// A list that cannot be read or parsed whole is an error, never an
    /// empty list; an unfinished last row is cut off first.
    fn load(path: &Path) -> Result<Option<Known>, String> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut bytes = match crate::fsx::read_regular(path, MAX_LIST_BYTES) {
            Ok(b) => b,
            Err(crate::fsx::FileError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(format!("call list {name} cannot be read: {e}")),
        };
        if bytes.last().is_some_and(|&b| b != b'\n') {
            let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            bytes.truncate(keep);
            // Replacing it is the point: its last row was cut short by a crash.
            crate::output::write_file(path, &bytes, true)
                .map_err(|_| format!("call list {name} has an unfinished last row and cannot be repaired"))?;
            tracing::warn!(list = %name, "a call list's unfinished last row (a crash) was removed; its call is made again");
        }
        let mut r = csv::ReaderBuilder::new().has_headers(true).from_reader(&bytes[..]);
        let mut keys = HashSet::new();
        for rec in r.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                format!("call list {name} is damaged at line {line}: repair or move it (Herald keeps its rows)")
            })?;
            if rec.len() != HEADER.len() {
                let line = rec.position().map_or(0, |p| p.line());
                return Err(format!(
                    "call list {name} is damaged at line {line}: repair or move it (Herald keeps its rows)"
                ));
            }
            keys.insert(rec[0].to_string());
        }
        Ok(Some(Known {
            keys,
            len: bytes.len() as u64,
        }))
    }

    /// Add one row to the list at `path`, once per key.
    fn add(&self, path: &Path, key: &str, row: &[u8]) -> Outcome {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let len_now = std::fs::symlink_metadata(path).ok().map(|m| m.len());
        let fresh = known.get(path).is_some_and(|k| Some(k.len) == len_now);
        if !fresh {
            known.remove(path);
            match CallLists::load(path) {
                Ok(Some(k)) => {
                    known.insert(path.to_path_buf(), k);
                }
                Ok(None) => {}
                Err(reason) => return retry(reason),
            }
        }
        let Some(list) = known.get_mut(path) else {
            // A new list: the header and the row, written whole.
            let mut bytes = match csv_row(&HEADER) {
                Ok(b) => b,
                Err(e) => return retry(format!("call list: {e}")),
            };
            bytes.extend_from_slice(row);
            if let Err(e) = std::fs::create_dir_all(&self.dir) {
                return retry(format!("call list directory cannot be created ({})", e.kind()));
            }
            if crate::output::write_file(path, &bytes, false).is_err() {
                return retry("call list write failed");
            }
            known.insert(
                path.to_path_buf(),
                Known {
                    keys: HashSet::from([key.to_string()]),
                    len: bytes.len() as u64,
                },
            );
            return Outcome::Sent { provider_id: None };
        };
        if list.keys.contains(key) {
            return Outcome::Sent { provider_id: None };
        }
        if list.len + row.len() as u64 > MAX_LIST_BYTES {
            return retry(format!(
                "call list is full ({}); move it aside for the dialler",
                crate::fsx::human_bytes(MAX_LIST_BYTES)
            ));
        }
        let appended = crate::fsx::open_regular_append(path).and_then(|mut f| {
            f.write_all(row)
                .and_then(|()| f.sync_data())
                .map_err(|e| crate::fsx::FileError::Io(path.to_path_buf(), e))
        });
        match appended {
            Ok(()) => {
                list.keys.insert(key.to_string());
                list.len += row.len() as u64;
                Outcome::Sent { provider_id: None }
            }
            Err(_) => {
                // Read again before the next row: this one may be half written.
                known.remove(path);
                retry("call list write failed")
            }
        }
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
        let row = match csv_row(&[&m.key, &m.contact_id, &m.to, script]) {
            Ok(r) => r,
            Err(e) => return retry(format!("call list: {e}")),
        };
        self.add(&self.dir.join(format!("calls-{window}.csv")), &m.key, &row)
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

    /// Rows are appended to the same file (no copy per row), and a row
    /// added by hand meanwhile is read before the next key is checked.
    #[test]
    fn rows_are_appended_in_place_and_a_change_by_hand_is_read_again() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls-2026-11-27T10.csv");
        let lists = CallLists::new(dir.path().to_path_buf()).unwrap();
        assert!(matches!(lists.send(&call("k0")), Outcome::Sent { .. }));
        let inode = std::fs::metadata(&path).unwrap().ino();
        for i in 1..500 {
            assert!(matches!(lists.send(&call(&format!("k{i}"))), Outcome::Sent { .. }));
        }
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode, "appended, not replaced");
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"k900,c9,+33600000009,Bonjour\n").unwrap();
        drop(f);
        for key in ["k900", "k3", "k499"] {
            assert!(matches!(lists.send(&call(key)), Outcome::Sent { .. }));
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1 + 500 + 1, "every key once");
        // A new process reads the keys from the file.
        let again = CallLists::new(dir.path().to_path_buf()).unwrap();
        assert!(matches!(again.send(&call("k250")), Outcome::Sent { .. }));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    /// A crash in the middle of a row leaves it without its newline: that
    /// row's send was never recorded sent; the list loses it and the call
    /// is added again, whole.
    #[test]
    fn an_unfinished_last_row_is_cut_off_and_the_call_added_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls-2026-11-27T10.csv");
        std::fs::write(
            &path,
            "key,contact_id,phone,script\nk0,c0,+33600000000,Bonjour\nk1,c1,+336",
        )
        .unwrap();
        let lists = CallLists::new(dir.path().to_path_buf()).unwrap();
        assert!(matches!(lists.send(&call("k1")), Outcome::Sent { .. }));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "key,contact_id,phone,script\nk0,c0,+33600000000,Bonjour\nk1,c1,+33600000001,Bonjour\n"
        );
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
