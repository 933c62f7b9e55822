//! `[crm] events`: the contacts' event history, which the forecast reads for
//! `count(EVENT, D)`. A CSV file with a header row naming at least
//! `contact_id`, `event` and `at` (in any order); other columns (the event's
//! properties) are allowed and not read. `at` is RFC 3339
//! (`2026-03-01T10:00:00Z`) or a local date-time or date (`2026-03-01 10:00`,
//! `2026-03-01`) in the project's time zone. A row whose event the contact
//! model does not declare, whose time cannot be read or is after now, or
//! without a contact id, is rejected and reported by row, column and reason,
//! never its values.
//!
//! Memory is bounded: the history is indexed by contact (an event takes 16
//! bytes and its contact id once per contact), at most [`MAX_EVENTS`] events;
//! rows are bounded as the contacts' are.

use super::csv_source::{self, row_of};
use super::{CrmError, MAX_REPORTED, RowError};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use herald_compiler::config::{CrmConfig, CrmKind};
use herald_compiler::contact::{Reason, RowProblem};
use herald_compiler::eval::History;
use herald_compiler::model::Plan;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The most events Herald indexes (about 400 MB): more is an error, not a
/// truncation, so that a forecast never silently misses history.
pub const MAX_EVENTS: u64 = 20_000_000;

/// The event history, indexed by contact id; each contact's events sorted by time.
#[derive(Debug, Default)]
pub struct EventHistory {
    /// The event names of the contact model (an event is its index here).
    names: Vec<String>,
    by_contact: HashMap<Box<str>, Vec<(u32, i64)>>,
    /// The messages opened or clicked (an engagement names one by its index).
    messages: Vec<String>,
    /// Opens and clicks from the send ledger: (message, clicked, at).
    engagement: HashMap<Box<str>, Vec<(u32, bool, i64)>>,
    /// Engagement rows kept.
    engagements: u64,
    /// Events kept.
    pub events: u64,
    /// The times of the earliest and the newest event read from the export
    /// (seconds since the epoch); events added from the state are not.
    earliest: Option<i64>,
    latest: Option<i64>,
    pub bad_rows: u64,
    /// The first rejected rows (at most [`MAX_REPORTED`]).
    pub errors: Vec<RowError>,
}

/// One contact's events and engagement, as [`History`].
pub struct ContactEvents<'a> {
    names: &'a [String],
    events: &'a [(u32, i64)],
    messages: &'a [String],
    engagement: &'a [(u32, bool, i64)],
}

impl ContactEvents<'_> {
    fn engaged(&self, message: &str, at: DateTime<Utc>, clicks_only: bool) -> bool {
        let Some(m) = self.messages.iter().position(|n| n == message) else {
            return false;
        };
        let at = at.timestamp();
        self.engagement
            .iter()
            .any(|(x, clicked, t)| *x as usize == m && (*clicked || !clicks_only) && *t <= at)
    }
}

impl History for ContactEvents<'_> {
    /// A click implies the message was opened (images may be blocked), as
    /// for the runner.
    fn opened(&self, message: &str, at: DateTime<Utc>) -> bool {
        self.engaged(message, at, false)
    }
    fn clicked(&self, message: &str, at: DateTime<Utc>) -> bool {
        self.engaged(message, at, true)
    }
    fn count(&self, event: &str, since: Option<DateTime<Utc>>, at: DateTime<Utc>) -> u64 {
        let Some(e) = self.names.iter().position(|n| n == event) else {
            return 0;
        };
        let (since, at) = (since.map(|s| s.timestamp()), at.timestamp());
        // Sorted by time: count `(since, at]` from the end of the window.
        let end = self.events.partition_point(|(_, t)| *t <= at);
        self.events[..end]
            .iter()
            .rev()
            .take_while(|(_, t)| since.is_none_or(|s| *t > s))
            .filter(|(x, _)| *x as usize == e)
            .count() as u64
    }
    fn times(&self, event: &str, since: DateTime<Utc>, at: DateTime<Utc>, out: &mut Vec<DateTime<Utc>>) {
        let Some(e) = self.names.iter().position(|n| n == event) else {
            return;
        };
        let (since, at) = (since.timestamp(), at.timestamp());
        let start = self.events.partition_point(|(_, t)| *t <= since);
        let end = self.events.partition_point(|(_, t)| *t <= at);
        out.extend(
            self.events[start..end.max(start)]
                .iter()
                .filter(|(x, _)| *x as usize == e)
                .filter_map(|(_, t)| DateTime::from_timestamp(*t, 0)),
        );
    }
}

const COLUMNS: [&str; 3] = ["contact_id", "event", "at"];

/// Where the configured event history is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `[crm] events`: a CSV file.
    Csv(PathBuf),
    /// `[crm] events_table`: a table of the SQLite CRM.
    Table(PathBuf, String),
}

impl Source {
    /// The event history herald.toml configures, if any.
    pub fn configured(crm: &CrmConfig, dir: &Path) -> Result<Option<Source>, CrmError> {
        Ok(match (&crm.events, &crm.events_table) {
            (Some(_), Some(_)) => {
                return Err(CrmError::Open(
                    "`[crm]` sets both `events` and `events_table`; keep one: the history is a CSV file or a table of the SQLite CRM".into(),
                ));
            }
            (None, Some(_)) if crm.kind != CrmKind::Sqlite => {
                return Err(CrmError::Open(
                    "`events_table` names a table of an SQLite CRM, but `[crm] kind` is not \"sqlite\"; for a CSV history write `events = \"data/events.csv\"`".into(),
                ));
            }
            (Some(file), _) => Some(Source::Csv(crate::fsx::configured(dir, file)?)),
            (None, Some(table)) => Some(Source::Table(super::path(crm, dir)?, table.clone())),
            (None, None) => None,
        })
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        match self {
            Source::Csv(p) | Source::Table(p, _) => p,
        }
    }

    /// Read the history of the events the contact model declares.
    pub fn read(&self, plan: &Plan, now: DateTime<Utc>) -> Result<EventHistory, CrmError> {
        let names = plan.contact.events.keys().cloned();
        let tz = plan.config.timezone;
        match self {
            Source::Csv(path) => EventHistory::read(path, names, tz, now),
            Source::Table(path, table) => EventHistory::read_table(path, table, names, tz, now),
        }
    }
}

impl EventHistory {
    /// The events of one contact (none when it has no history).
    pub fn of(&self, id: &str) -> ContactEvents<'_> {
        ContactEvents {
            names: &self.names,
            events: self.by_contact.get(id).map_or(&[], Vec::as_slice),
            messages: &self.messages,
            engagement: self.engagement.get(id).map_or(&[], Vec::as_slice),
        }
    }

    /// No events (a history of engagement only).
    pub fn empty() -> EventHistory {
        EventHistory::default()
    }

    /// Add an open or a click from the send ledger; fails beyond [`MAX_EVENTS`].
    pub fn add_engagement(&mut self, id: &str, message: &str, clicked: bool, at: DateTime<Utc>) -> Result<(), String> {
        if self.engagements >= MAX_EVENTS {
            return Err(format!(
                "the state holds more than {MAX_EVENTS} opens and clicks, more than the forecast reads"
            ));
        }
        self.engagements += 1;
        let m = match self.messages.iter().position(|n| n == message) {
            Some(m) => m,
            None => {
                self.messages.push(message.to_string());
                self.messages.len() - 1
            }
        } as u32;
        let row = (m, clicked, at.timestamp());
        match self.engagement.get_mut(id) {
            Some(v) => v.push(row),
            None => {
                self.engagement.insert(id.into(), vec![row]);
            }
        }
        Ok(())
    }

    /// Opens and clicks read from the send ledger.
    pub fn engagements(&self) -> u64 {
        self.engagements
    }

    /// The time of the earliest event (none when no event was kept).
    pub fn earliest(&self) -> Option<DateTime<Utc>> {
        self.earliest.and_then(|t| DateTime::from_timestamp(t, 0))
    }

    /// Whether an event Herald received (`POST /v1/events`, `herald event
    /// send`) at `at` counts beside this export: the export is the record up
    /// to its newest event, and holds the events Herald received before
    /// then (the CRM got them too); those after it are Herald's alone. The
    /// forecast and the runner count `count()` by this one rule.
    pub fn counts_received(&self, at: DateTime<Utc>) -> bool {
        self.latest.is_none_or(|l| at.timestamp() > l)
    }

    /// Add an event Herald received, when [`EventHistory::counts_received`]
    /// says it counts and the contact model declares it; fails beyond
    /// [`MAX_EVENTS`]. Call [`EventHistory::finish`] after the last one.
    pub fn add_received(&mut self, id: &str, event: &str, at: DateTime<Utc>) -> Result<(), String> {
        let Some(e) = self.names.iter().position(|n| n == event) else {
            return Ok(());
        };
        if !self.counts_received(at) {
            return Ok(());
        }
        if self.events >= MAX_EVENTS {
            return Err(format!(
                "the history and the state hold more than {MAX_EVENTS} events, more than the forecast reads"
            ));
        }
        self.events += 1;
        let row = (e as u32, at.timestamp());
        match self.by_contact.get_mut(id) {
            Some(v) => v.push(row),
            None => {
                self.by_contact.insert(id.into(), vec![row]);
            }
        }
        Ok(())
    }

    /// Contacts with at least one event.
    pub fn contacts(&self) -> usize {
        self.by_contact.len()
    }

    /// Read the history file (a regular file; see the module's comment).
    pub fn read(
        path: &Path,
        events: impl IntoIterator<Item = String>,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<EventHistory, CrmError> {
        let (mut reader, row_start, _) = csv_source::reader(path)?;
        let header = reader
            .byte_headers()
            .map_err(|e| CrmError::Header(format!("cannot read the header of `{}`: {e}", path.display())))?
            .clone();
        let mut at = [0usize; 3];
        for (slot, name) in at.iter_mut().zip(COLUMNS) {
            *slot = header
                .iter()
                .position(|h| h.trim_ascii() == name.as_bytes())
                .ok_or_else(|| {
                    CrmError::Header(format!(
                        "`{}` has no `{name}` column; an event history has the columns contact_id, event, at",
                        path.display()
                    ))
                })?;
        }
        let [id_col, event_col, at_col] = at;
        let mut h = EventHistory {
            names: events.into_iter().collect(),
            ..EventHistory::default()
        };
        let mut record = csv::ByteRecord::new();
        loop {
            let read = reader.read_byte_record(&mut record);
            row_start.set(reader.position().byte());
            let row = match read {
                Ok(false) => break,
                Ok(true) => row_of(record.position()),
                Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                    return Err(CrmError::Read(format!("cannot read `{}`: {e}", path.display())));
                }
                Err(e) => {
                    let problem = RowProblem::new("*", Reason::Malformed("the row cannot be read as CSV".into()));
                    h.bad(row_of(e.position()), problem);
                    continue;
                }
            };
            let cells = [id_col, event_col, at_col].map(|i| record.get(i).unwrap_or_default());
            h.add(row, cells, tz, now, path)?;
        }
        h.finish();
        Ok(h)
    }

    /// Read the history from a table of an SQLite file (read-only, values
    /// bounded as the contacts'), rows counted in rowid order.
    pub fn read_table(
        path: &Path,
        table: &str,
        events: impl IntoIterator<Item = String>,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<EventHistory, CrmError> {
        let conn = super::sqlite_source::connect(path)?;
        let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let sql = format!(
            "SELECT CAST(contact_id AS BLOB), CAST(event AS BLOB), CAST(at AS BLOB) FROM {} ORDER BY rowid",
            q(table)
        );
        let mut stmt = conn.prepare(&sql).map_err(|e| {
            CrmError::Header(format!(
                "cannot read the event history table `{table}` of `{}`: {e}; it needs the columns contact_id, event, at",
                path.display()
            ))
        })?;
        let mut rows = stmt.query([]).map_err(|e| CrmError::Read(e.to_string()))?;
        let mut h = EventHistory {
            names: events.into_iter().collect(),
            ..EventHistory::default()
        };
        let mut line = 0;
        while let Some(r) = rows.next().map_err(|e| CrmError::Read(e.to_string()))? {
            line += 1;
            let cell = |i: usize| match r.get_ref(i) {
                Ok(rusqlite::types::ValueRef::Blob(b)) => b,
                _ => &[],
            };
            h.add(line, [cell(0), cell(1), cell(2)], tz, now, path)?;
        }
        h.finish();
        Ok(h)
    }

    fn add(&mut self, row: u64, cells: [&[u8]; 3], tz: Tz, now: DateTime<Utc>, path: &Path) -> Result<(), CrmError> {
        match self.parse(cells, tz, now) {
            Ok((id, event, t)) => {
                if self.events >= MAX_EVENTS {
                    return Err(CrmError::Read(format!(
                        "`{}` holds more than {MAX_EVENTS} events; keep the history the plan's conditions read (such as the last year)",
                        path.display()
                    )));
                }
                self.events += 1;
                self.earliest = Some(self.earliest.map_or(t, |e| e.min(t)));
                self.latest = Some(self.latest.map_or(t, |e| e.max(t)));
                match self.by_contact.get_mut(id) {
                    Some(v) => v.push((event, t)),
                    None => {
                        self.by_contact.insert(id.into(), vec![(event, t)]);
                    }
                }
            }
            Err(problem) => self.bad(row, problem),
        }
        Ok(())
    }

    /// Sort each contact's events by time (after reading or adding).
    pub fn finish(&mut self) {
        // Each contact's list is sorted on its own: the order of the map does not matter.
        #[allow(clippy::iter_over_hash_type)]
        for v in self.by_contact.values_mut() {
            v.sort_unstable_by_key(|(_, t)| *t);
            v.shrink_to_fit();
        }
    }

    fn bad(&mut self, row: u64, problem: RowProblem) {
        self.bad_rows += 1;
        if self.errors.len() < MAX_REPORTED {
            self.errors.push(RowError { row, id: None, problem });
        }
    }

    fn parse<'r>(&self, cells: [&'r [u8]; 3], tz: Tz, now: DateTime<Utc>) -> Result<(&'r str, u32, i64), RowProblem> {
        let cell = |i: usize, name: &str| -> Result<&'r str, RowProblem> {
            let bytes = cells[i].trim_ascii();
            let text = std::str::from_utf8(bytes).map_err(|_| RowProblem::new(name, Reason::NotUtf8))?;
            if text.is_empty() {
                return Err(RowProblem::new(name, Reason::Empty));
            }
            Ok(text)
        };
        let id = cell(0, COLUMNS[0])?;
        let event = cell(1, COLUMNS[1])?;
        let event = self
            .names
            .iter()
            .position(|n| n == event)
            .ok_or_else(|| RowProblem::new(COLUMNS[1], Reason::NotOneOf(self.names.clone())))?;
        let at = time(cell(2, COLUMNS[2])?, tz).ok_or_else(|| {
            RowProblem::new(
                COLUMNS[2],
                Reason::Malformed(
                    "not a date and time (RFC 3339 such as 2026-11-27T10:00:00Z, or 2026-11-27 10:00 in the project's time zone)".into(),
                ),
            )
        })?;
        if at > now {
            return Err(RowProblem::new(
                COLUMNS[2],
                Reason::Malformed("after now: a history holds past events".into()),
            ));
        }
        Ok((id, event as u32, at.timestamp()))
    }
}

/// RFC 3339, or a local date-time or date in `tz` (the earlier of an
/// ambiguous time; a time skipped by a clock change is unreadable).
fn time(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let local = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0))?;
    tz.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn now() -> DateTime<Utc> {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    fn names() -> Vec<String> {
        vec!["purchase".into(), "visit".into()]
    }

    fn read(text: &str) -> Result<EventHistory, CrmError> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        EventHistory::read(f.path(), names(), chrono_tz::Europe::Paris, now())
    }

    #[test]
    fn rows_are_indexed_by_contact_and_counted_in_their_window() {
        let h = read(
            "event,contact_id,at,amount\n\
             purchase,c1,2026-05-01T10:00:00Z,10\n\
             purchase,c1,2025-01-01 10:00,20\n\
             visit,c1,2026-05-20,\n\
             purchase,c2,2026-05-31T23:00:00+02:00,5\n",
        )
        .unwrap();
        assert_eq!((h.events, h.bad_rows, h.contacts()), (4, 0, 2));
        let at = now();
        let year = Some(at - chrono::Days::new(365));
        assert_eq!(h.of("c1").count("purchase", None, at), 2);
        assert_eq!(h.of("c1").count("purchase", year, at), 1);
        assert_eq!(h.of("c1").count("visit", year, at), 1);
        // Seen as of a moment: nothing after it counts.
        assert_eq!(
            h.of("c1")
                .count("purchase", None, "2026-04-01T00:00:00Z".parse().unwrap()),
            1
        );
        assert_eq!(h.of("c2").count("purchase", year, at), 1);
        assert_eq!(h.of("c3").count("purchase", None, at), 0);
        assert_eq!(h.of("c1").count("unknown", None, at), 0);
        // A local time in the project's zone (Paris, UTC+1 in winter).
        assert_eq!(h.earliest(), Some("2025-01-01T09:00:00Z".parse().unwrap()));
        // The instants of one event in `(since, at]`, in time order.
        let mut times = Vec::new();
        h.of("c1")
            .times("purchase", "2025-01-01T10:00:00Z".parse().unwrap(), at, &mut times);
        assert_eq!(times, ["2026-05-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap()]);
        times.clear();
        h.of("c1")
            .times("purchase", at - chrono::Days::new(1000), at, &mut times);
        assert_eq!(times.len(), 2);
        assert!(times[0] < times[1]);
        times.clear();
        h.of("c1")
            .times("purchase", at, "2026-01-01T00:00:00Z".parse().unwrap(), &mut times);
        assert!(times.is_empty(), "an empty window holds nothing");
    }

    #[test]
    fn bad_rows_are_rejected_with_their_column_and_reason_never_their_values() {
        let h = read(
            "contact_id,event,at\n\
             c1,purchase,2026-05-01T10:00:00Z\n\
             c1,refund,2026-05-01T10:00:00Z\n\
             c2,purchase,yesterday\n\
             ,purchase,2026-05-01T10:00:00Z\n\
             c3,purchase,2027-01-01T00:00:00Z\n\
             c4,purchase\n\
             c5,purchase,2026-02-30\n",
        )
        .unwrap();
        assert_eq!((h.events, h.bad_rows), (1, 6));
        let got: Vec<(u64, String, String)> = h
            .errors
            .iter()
            .map(|e| (e.row, e.problem.column.clone(), e.problem.reason.to_string()))
            .collect();
        let time = "not a date and time (RFC 3339 such as 2026-11-27T10:00:00Z, or 2026-11-27 10:00 in the project's time zone)";
        assert_eq!(
            got,
            vec![
                (3, "event".into(), "not one of purchase, visit".into()),
                (4, "at".into(), time.into()),
                (5, "contact_id".into(), "empty, but the field is not optional".into()),
                (6, "at".into(), "after now: a history holds past events".into()),
                (7, "at".into(), "empty, but the field is not optional".into()),
                (8, "at".into(), time.into()),
            ]
        );
        for e in &h.errors {
            let shown = format!("{} {}", e.problem.column, e.problem.reason);
            assert!(!shown.contains("refund") && !shown.contains("yesterday"), "{shown}");
        }
    }

    #[test]
    fn engagement_from_the_ledger_is_read_as_of_a_moment() {
        let mut h = EventHistory::empty();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        h.add_engagement("c1", "welcome", false, t("2026-05-01T10:00:00Z"))
            .unwrap();
        h.add_engagement("c1", "promo", true, t("2026-05-02T10:00:00Z"))
            .unwrap();
        let c1 = h.of("c1");
        assert!(c1.opened("welcome", now()) && !c1.clicked("welcome", now()));
        // A click is an open.
        assert!(c1.opened("promo", now()) && c1.clicked("promo", now()));
        assert!(!c1.opened("promo", t("2026-05-01T12:00:00Z")));
        assert!(!h.of("c2").opened("welcome", now()));
        assert_eq!(c1.count("purchase", None, now()), 0);
    }

    #[test]
    fn a_file_without_the_columns_is_refused_and_only_regular_files_are_read() {
        let e = read("id,event,at\nc1,purchase,2026-05-01\n").unwrap_err();
        assert!(e.to_string().contains("has no `contact_id` column"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = EventHistory::read(dir.path(), names(), chrono_tz::UTC, now()).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_row_longer_than_the_bound_stops_the_read() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "contact_id,event,at").unwrap();
        f.write_all(b"c2,\"").unwrap();
        let chunk = vec![b'9'; 1 << 20];
        for _ in 0..(csv_source::MAX_ROW_BYTES >> 20) + 2 {
            f.write_all(&chunk).unwrap();
        }
        let e = EventHistory::read(f.path(), names(), chrono_tz::UTC, now()).unwrap_err();
        assert!(e.to_string().contains("a row is longer than 64 MiB"), "{e}");
    }
}
