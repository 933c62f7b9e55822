//! The embedded CRM: contacts read from a CSV file or an SQLite table, typed
//! and validated by the plan's contact model. A bad row is rejected and
//! reported by its row and column and the reason — never its values, which
//! are personal data — and never forecast. Ids are unique: a later row with
//! an id already seen is rejected (the first one is kept).

mod csv_source;
mod dedup;
pub mod events;
mod sqlite_source;

pub use csv_source::CsvSource;
pub use sqlite_source::SqliteSource;

use crate::fsx::{self, FileError, FileStamp};
use herald_compiler::contact::{Contact, Layout, RowProblem};
use std::fmt;
use std::path::{Path, PathBuf};

/// A row that was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based row: for CSV the header is row 1 (as in a spreadsheet); for
    /// SQLite the rows are counted in rowid order.
    pub row: u64,
    /// The contact id, when the row has one (for `preview --contact`).
    pub id: Option<String>,
    pub problem: RowProblem,
}

/// What a scan read.
#[derive(Clone, Debug, Default)]
pub struct ScanReport {
    pub contacts: u64,
    pub bad_rows: u64,
    /// The first bad rows (at most `MAX_REPORTED`).
    pub errors: Vec<RowError>,
    /// Contacts kept with an email or phone that is not a valid address
    /// (their sends on that channel are dropped, the others go).
    pub invalid_addresses: u64,
    /// The first invalid addresses (at most `MAX_REPORTED`), by row and column.
    pub invalid: Vec<RowError>,
}

pub const MAX_REPORTED: usize = 20;

/// One row of a scan: a valid contact, or why it was rejected.
pub type Row<'a> = Result<&'a Contact, &'a RowError>;

#[derive(Debug)]
pub enum CrmError {
    Open(String),
    Header(String),
    Read(String),
}

impl fmt::Display for CrmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrmError::Open(m) | CrmError::Header(m) | CrmError::Read(m) => f.write_str(m),
        }
    }
}

impl From<FileError> for CrmError {
    fn from(e: FileError) -> Self {
        CrmError::Open(e.to_string())
    }
}

/// Something that looks at contacts on a reader thread.
pub type Visitor<'a> = dyn FnMut(&Contact) + Send + 'a;

/// A source of contacts. Implementations stream: they never hold more than
/// one contact at a time.
pub trait ContactSource {
    /// The layout of the contacts this source yields.
    fn layout(&self) -> &Layout;
    /// Visit every row in order, valid or rejected; `f` returns `false` to stop.
    fn rows(&mut self, f: &mut dyn FnMut(Row) -> bool) -> Result<ScanReport, CrmError>;

    /// About how many rows the source holds, cheaply (for a progress bar):
    /// `None` when it cannot tell.
    fn estimated_rows(&self) -> Option<u64> {
        None
    }

    /// Visit every valid contact; `f` returns `false` to stop early.
    fn scan(&mut self, f: &mut dyn FnMut(&Contact) -> bool) -> Result<ScanReport, CrmError> {
        self.rows(&mut |row| row.map_or(true, &mut *f))
    }

    /// Visit every valid contact once, spread over one thread per visitor
    /// (each sees its share in file order). For counting, where the order
    /// between contacts does not matter. Sources that cannot read in
    /// parallel give everything to the first visitor.
    fn scan_parallel(&mut self, visitors: &mut [&mut Visitor]) -> Result<ScanReport, CrmError> {
        match visitors.first_mut() {
            Some(first) => self.scan(&mut |c| {
                first(c);
                true
            }),
            None => Ok(ScanReport::default()),
        }
    }
}

impl ScanReport {
    /// Add what another part of the same scan read (errors stay in row order).
    pub fn merge(&mut self, other: ScanReport) {
        self.contacts += other.contacts;
        self.bad_rows += other.bad_rows;
        self.errors.extend(other.errors);
        self.errors.sort_by_key(|e| e.row);
        self.errors.truncate(MAX_REPORTED);
        self.invalid_addresses += other.invalid_addresses;
        self.invalid.extend(other.invalid);
        self.invalid.sort_by_key(|e| e.row);
        self.invalid.truncate(MAX_REPORTED);
    }

    /// Count a contact read from `row`, and its invalid addresses if any.
    fn kept(&mut self, row: u64, layout: &Layout, contact: &Contact) {
        self.contacts += 1;
        if contact.invalid.is_empty() {
            return;
        }
        self.invalid_addresses += 1;
        for problem in layout.invalid_addresses(contact) {
            if self.invalid.len() >= MAX_REPORTED {
                break;
            }
            self.invalid.push(RowError {
                row,
                id: Some(contact.id.clone()),
                problem,
            });
        }
    }

    fn bad(&mut self, error: RowError) {
        self.bad_rows += 1;
        if self.errors.len() < MAX_REPORTED {
            self.errors.push(error);
        }
    }
}

/// A contact looked up by id: the first row with that id decides.
pub enum Lookup {
    Found(Contact),
    Rejected(RowError),
    Missing,
}

/// Find one contact by id.
pub fn find(source: &mut dyn ContactSource, id: &str) -> Result<Lookup, CrmError> {
    let mut found = Lookup::Missing;
    source.rows(&mut |row| match row {
        Ok(c) if c.id == id => {
            found = Lookup::Found(c.clone());
            false
        }
        Err(e) if e.id.as_deref() == Some(id) => {
            found = Lookup::Rejected(e.clone());
            false
        }
        _ => true,
    })?;
    Ok(found)
}

/// What tells that the contacts changed: the stamp of their file, and of
/// an SQLite file's write-ahead log.
pub type Stamp = Vec<Option<FileStamp>>;

/// A [`Stamp`] as text, to keep in the state (`len:mtime:ino:ctime` per
/// file, `-` for a missing one).
pub fn stamp_text(stamp: &Stamp) -> String {
    let part = |p: &Option<FileStamp>| match p {
        Some(f) => {
            let at = f.modified.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            format!(
                "{}:{}.{:09}:{}:{}.{:09}",
                f.len,
                at.as_secs(),
                at.subsec_nanos(),
                f.ino,
                f.changed.0,
                f.changed.1
            )
        }
        None => "-".to_string(),
    };
    stamp.iter().map(part).collect::<Vec<_>>().join(";")
}

/// The [`Stamp`] of a CSV file, or of an SQLite database (`sqlite`).
pub fn stamp(path: &Path, sqlite: bool) -> Stamp {
    let of = |p: &Path| std::fs::metadata(p).ok().map(|m| FileStamp::of(&m));
    if !sqlite {
        return vec![of(path)];
    }
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    vec![of(path), of(Path::new(&wal))]
}

/// The [`Stamp`] of the contacts of `[crm]` (none when the path is not usable).
pub fn contacts_stamp(config: &herald_compiler::config::CrmConfig, dir: &Path) -> Option<Stamp> {
    let sqlite = config.kind == herald_compiler::config::CrmKind::Sqlite;
    path(config, dir).ok().map(|p| stamp(&p, sqlite))
}

/// Where the contacts of `[crm]` are: inside the plan directory unless the
/// path is absolute.
pub fn path(config: &herald_compiler::config::CrmConfig, dir: &Path) -> Result<PathBuf, CrmError> {
    Ok(fsx::configured(dir, &config.path)?)
}

/// The contact source configured in herald.toml.
pub fn open(
    config: &herald_compiler::config::CrmConfig,
    dir: &Path,
    model: &herald_compiler::model::ContactModel,
) -> Result<Box<dyn ContactSource>, CrmError> {
    use herald_compiler::config::CrmKind;
    let path = path(config, dir)?;
    Ok(match config.kind {
        CrmKind::Csv => Box::new(CsvSource::open(&path, model)?),
        CrmKind::Sqlite => Box::new(SqliteSource::open(&path, &config.table, model)?),
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_stamp_as_text_tells_every_change() {
        let at = UNIX_EPOCH + Duration::new(1_764_000_000, 5);
        let f = crate::fsx::FileStamp {
            len: 10,
            modified: at,
            ino: 7,
            changed: (1_764_000_001, 3),
        };
        assert_eq!(
            super::stamp_text(&vec![Some(f), None]),
            "10:1764000000.000000005:7:1764000001.000000003;-"
        );
        let a = super::stamp_text(&vec![Some(f)]);
        let other = |g: crate::fsx::FileStamp| super::stamp_text(&vec![Some(g)]);
        assert_ne!(a, other(crate::fsx::FileStamp { len: 11, ..f }), "length");
        assert_ne!(
            a,
            other(crate::fsx::FileStamp {
                modified: at + Duration::from_nanos(1),
                ..f
            }),
            "mtime"
        );
        assert_ne!(
            a,
            other(crate::fsx::FileStamp { ino: 8, ..f }),
            "another file renamed over it"
        );
        assert_ne!(
            a,
            other(crate::fsx::FileStamp {
                changed: (1_764_000_001, 4),
                ..f
            }),
            "mtime set back"
        );
        assert_ne!(a, super::stamp_text(&vec![None]), "file gone");
    }

    /// A file rewritten with the same size and its old mtime put back
    /// (`touch -r`, `cp -p`) still changes its stamp.
    #[test]
    fn a_file_with_its_mtime_set_back_has_a_new_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("contacts.csv");
        std::fs::write(&path, "id\nc1\n").unwrap();
        let before = super::stamp(&path, false);
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        // Past the kernel's coarse clock tick (ctime is not finer).
        std::thread::sleep(Duration::from_millis(50));
        std::fs::write(&path, "id\nc2\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let after = super::stamp(&path, false);
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert_ne!(super::stamp_text(&before), super::stamp_text(&after));
    }
}
