//! Calls handed to a call centre as call lists: one CSV file per calling
//! window (`calls-2026-11-27T10.csv`: key, contact id, phone, script), which
//! the centre's dialler imports. A new list is written through a temporary
//! file; then each call is one row appended in one write and synced, once
//! per key (the keys of a list are read once, and again only when the file
//! changed under Herald): a window's list costs the size of its rows, not
//! their square. A list that cannot be read whole is never written to (its
//! rows would be lost or mixed): the call waits.
//!
//! Rows are written with every field quoted, so a row a crash cut short is
//! known for sure: it ends inside quotes, or has fewer than four fields (its
//! send was never recorded sent, and is made again). The list is rewritten
//! without it; a whole last row that only lacks its newline gets it.

use super::{Body, Outcome, Outgoing, Provider};
use crate::fsx::FileStamp;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct CallLists {
    dir: PathBuf,
    /// The lists written to, by path: one writer at a time.
    known: Mutex<HashMap<PathBuf, Known>>,
}

/// What tells a list changed under Herald (none when it cannot be read).
type Stamp = Option<FileStamp>;

/// The stamp of the file at `path` (a link's own, not its target's).
fn stamp_at(path: &Path) -> Stamp {
    Some(FileStamp::of(&std::fs::symlink_metadata(path).ok()?))
}

/// The keys of a list, and its stamp once Herald's last row was written.
struct Known {
    keys: HashSet<String>,
    stamp: Stamp,
}

/// A call list's size bound: a window's calls are a call centre's hour or
/// two of work (tens of thousands of rows at most).
const MAX_LIST_BYTES: u64 = 256 * 1024 * 1024;

/// Lists whose keys are kept in memory (the current windows; an older one
/// is read again if a late retry comes for it).
const KEPT_LISTS: usize = 4;

const HEADER: [&str; 4] = ["key", "contact_id", "phone", "script"];

fn csv_row(fields: &[&str]) -> Result<Vec<u8>, String> {
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    w.write_record(fields).map_err(|e| e.to_string())?;
    w.into_inner().map_err(|e| e.to_string())
}

fn retry(reason: impl Into<String>) -> Outcome {
    Outcome::Retry {
        after: None,
        reason: reason.into(),
    }
}

/// Where the last whole line ends (after a newline outside quotes), and
/// whether the bytes end inside quotes (RFC 4180: quotes pair up).
fn last_line_end(bytes: &[u8]) -> (usize, bool) {
    let (mut end, mut quoted) = (0, false);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => end = i + 1,
            _ => {}
        }
    }
    (end, quoted)
}

/// A list's bytes without a row a crash cut short (see the module's note),
/// or `None` when nothing needs repair.
fn repaired(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return None;
    }
    let (end, quoted) = last_line_end(bytes);
    let tail = &bytes[end..];
    let whole = !quoted
        && csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(tail)
            .records()
            .next()
            .and_then(Result::ok)
            .is_some_and(|r| r.len() == HEADER.len());
    let mut out = bytes.to_vec();
    if whole {
        out.push(b'\n');
    } else {
        out.truncate(end);
    }
    Some(out)
}

impl CallLists {
    /// Lists written in `dir` (as configured; the default outbox's `calls`).
    pub fn new(dir: PathBuf) -> Result<CallLists, String> {
        Ok(CallLists {
            dir: super::outbox_at(dir)?,
            known: Mutex::new(HashMap::new()),
        })
    }

    /// The list of a calling window.
    fn list(&self, window: &str) -> PathBuf {
        self.dir.join(format!("calls-{window}.csv"))
    }

    /// The keys of a list (none when it does not exist yet or is empty). A
    /// list that cannot be read or parsed whole is an error, never an empty
    /// list; a row a crash cut short is cut off first.
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
        if let Some(fixed) = repaired(&bytes) {
            // Replacing it is the point: its last row was cut short by a crash.
            crate::output::write_file(path, &fixed, true)
                .map_err(|_| format!("call list {name} has an unfinished last row and cannot be repaired"))?;
            tracing::warn!(list = %name, "a call list's unfinished last row (a crash) was repaired");
            bytes = fixed;
        }
        if bytes.is_empty() {
            return Ok(None);
        }
        let damaged = |line: u64| {
            format!("call list {name} is damaged at line {line}: repair or move it (Herald keeps its rows)")
        };
        let mut r = csv::ReaderBuilder::new().has_headers(true).from_reader(&bytes[..]);
        if r.headers().map_err(|_| damaged(1))? != HEADER.as_slice() {
            return Err(damaged(1));
        }
        let mut keys = HashSet::new();
        for rec in r.records() {
            let rec = rec.map_err(|e| damaged(e.position().map_or(0, |p| p.line())))?;
            if rec.len() != HEADER.len() {
                return Err(damaged(rec.position().map_or(0, |p| p.line())));
            }
            keys.insert(rec[0].to_string());
        }
        let stamp = stamp_at(path);
        Ok(Some(Known { keys, stamp }))
    }

    /// The keys of the list at `path` in `known`, read again when the file
    /// changed under Herald (none kept for a list that does not exist yet
    /// or is empty).
    fn refresh(known: &mut HashMap<PathBuf, Known>, path: &Path) -> Result<(), String> {
        let stamp_now = stamp_at(path);
        let fresh = known
            .get(path)
            .is_some_and(|k| k.stamp.is_some() && k.stamp == stamp_now);
        if !fresh {
            known.remove(path);
            if known.len() >= KEPT_LISTS {
                known.clear();
            }
            if let Some(k) = CallLists::load(path)? {
                known.insert(path.to_path_buf(), k);
            }
        }
        Ok(())
    }

    /// Whether the list at `path` holds the call `key`.
    fn holds(&self, path: &Path, key: &str) -> Result<bool, String> {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        CallLists::refresh(&mut known, path)?;
        Ok(known.get(path).is_some_and(|k| k.keys.contains(key)))
    }

    /// Add one row to the list at `path`, once per key.
    fn add(&self, path: &Path, key: &str, row: &[u8]) -> Outcome {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(reason) = CallLists::refresh(&mut known, path) {
            return retry(reason);
        }
        let Some(list) = known.get_mut(path) else {
            // A new list (or an empty one): the header and the row, whole.
            let mut bytes = match csv_row(&HEADER) {
                Ok(b) => b,
                Err(e) => return retry(format!("call list: {e}")),
            };
            bytes.extend_from_slice(row);
            if let Err(e) = std::fs::create_dir_all(&self.dir) {
                return retry(format!("call list directory cannot be created ({})", e.kind()));
            }
            let empty = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0);
            if crate::output::write_file(path, &bytes, empty).is_err() {
                return retry("call list write failed");
            }
            let stamp = stamp_at(path);
            known.insert(
                path.to_path_buf(),
                Known {
                    keys: HashSet::from([key.to_string()]),
                    stamp,
                },
            );
            return Outcome::Sent { provider_id: None };
        };
        if list.keys.contains(key) {
            return Outcome::Sent { provider_id: None };
        }
        if list.stamp.is_some_and(|st| st.len + row.len() as u64 > MAX_LIST_BYTES) {
            return retry(format!(
                "call list is full ({}); move it aside for the dialler",
                crate::fsx::human_bytes(MAX_LIST_BYTES)
            ));
        }
        let appended = crate::fsx::open_regular_append(path).and_then(|mut f| {
            f.write_all(row)
                .and_then(|()| f.sync_data())
                .and_then(|()| f.metadata())
                .map_err(|e| crate::fsx::FileError::Io(path.to_path_buf(), e))
        });
        match appended {
            Ok(meta) => {
                list.keys.insert(key.to_string());
                list.stamp = Some(FileStamp::of(&meta));
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
        let Body::Call {
            script,
            window,
            earlier_windows,
        } = &m.body
        else {
            return Outcome::Failed {
                reason: "not a call".into(),
            };
        };
        // A retry in another window: the call may be in a list it was
        // handed over to before (its write not recorded: a runner killed,
        // a sync that failed). Added only when none of them holds it.
        for earlier in earlier_windows {
            match self.holds(&self.list(earlier), &m.key) {
                Ok(true) => return Outcome::Sent { provider_id: None },
                Ok(false) => {}
                Err(reason) => return retry(reason),
            }
        }
        let row = match csv_row(&[&m.key, &m.contact_id, &m.to, script]) {
            Ok(r) => r,
            Err(e) => return retry(format!("call list: {e}")),
        };
        self.add(&self.list(window), &m.key, &row)
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
                earlier_windows: Vec::new(),
            },
        }
    }

    /// Why a send must be tried again (it must be one).
    fn retry_reason(o: Outcome) -> String {
        match o {
            Outcome::Retry { reason, .. } => reason,
            other => panic!("{other:?}"),
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

    /// A retry in a later window looks in the lists the call went to:
    /// found there, it is not added again; else it joins the current list.
    #[test]
    fn a_retry_in_a_later_window_finds_the_call_in_its_first_list() {
        let dir = tempfile::tempdir().unwrap();
        let lists = CallLists::new(dir.path().to_path_buf()).unwrap();
        assert!(matches!(lists.send(&call("k1")), Outcome::Sent { .. }));
        let later = |key: &str| {
            let mut m = call(key);
            m.body = Body::Call {
                script: "Bonjour".into(),
                window: "2026-11-27T14".into(),
                earlier_windows: vec!["2026-11-27T10".into()],
            };
            m
        };
        assert!(matches!(lists.send(&later("k1")), Outcome::Sent { .. }));
        assert!(
            !dir.path().join("calls-2026-11-27T14.csv").exists(),
            "k1 is in the 10:00 list already"
        );
        assert!(matches!(lists.send(&later("k2")), Outcome::Sent { .. }));
        let text = std::fs::read_to_string(dir.path().join("calls-2026-11-27T14.csv")).unwrap();
        assert!(text.contains("\"k2\"") && !text.contains("\"k1\""), "{text}");
        let first = std::fs::read_to_string(dir.path().join("calls-2026-11-27T10.csv")).unwrap();
        assert_eq!(first.lines().count(), 2, "{first}");
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
        let reason = retry_reason(lists.send(&call("k1")));
        assert!(reason.contains("is damaged at line 3"), "{reason}");
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
    /// is added again, whole. A whole row that only lacks its newline gets it.
    #[test]
    fn an_unfinished_last_row_is_cut_off_and_the_call_added_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls-2026-11-27T10.csv");
        let head = "key,contact_id,phone,script\nk0,c0,+33600000000,Bonjour\n";
        let whole = "\"k1\",\"c1\",\"+33600000001\",\"Bonjour\"\n";
        let k2 = "\"k2\",\"c1\",\"+33600000001\",\"Bonjour\"\n";
        // Cut inside a multi-line script, between fields, and after the
        // last quote (a whole row without its newline).
        for cut in [
            "\"k1\",\"c1\",\"+33600000001\",\"Bonjour,\nà demain",
            "\"k1\",\"c1\"",
            "\"k1\",\"c1\",\"+33600000001\",\"Bonjour\"",
        ] {
            std::fs::write(&path, format!("{head}{cut}")).unwrap();
            let lists = CallLists::new(dir.path().to_path_buf()).unwrap();
            assert!(matches!(lists.send(&call("k1")), Outcome::Sent { .. }));
            assert!(matches!(lists.send(&call("k2")), Outcome::Sent { .. }));
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text, format!("{head}{whole}{k2}"), "{cut:?}");
        }
    }

    /// A list emptied (a dialler that took its rows) starts again with its
    /// header; one whose header is not Herald's is not written to.
    #[test]
    fn an_emptied_list_gets_its_header_and_a_foreign_one_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls-2026-11-27T10.csv");
        let lists = CallLists::new(dir.path().to_path_buf()).unwrap();
        assert!(matches!(lists.send(&call("k0")), Outcome::Sent { .. }));
        std::fs::write(&path, "").unwrap();
        assert!(matches!(lists.send(&call("k1")), Outcome::Sent { .. }));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("\"key\",\"contact_id\""), "{text}");
        assert_eq!(text.lines().count(), 2, "{text}");
        std::fs::write(&path, "id,name\n1,x\n").unwrap();
        let reason = retry_reason(lists.send(&call("k2")));
        assert!(reason.contains("is damaged at line 1"), "{reason}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "id,name\n1,x\n");
    }

    #[test]
    fn a_list_that_is_not_a_file_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("calls-2026-11-27T10.csv")).unwrap();
        let lists = CallLists::new(dir.path().to_path_buf()).unwrap();
        let reason = retry_reason(lists.send(&call("k1")));
        assert!(reason.contains("cannot be read"), "{reason}");
        assert!(dir.path().join("calls-2026-11-27T10.csv").is_dir());
    }
}
