//! The embedded CRM: contacts read from a CSV file (or, later, a database),
//! typed by the plan's contact model. Bad rows are reported with their line
//! and skipped, never silently.

mod csv_source;
mod sqlite_source;

pub use csv_source::CsvSource;
pub use sqlite_source::SqliteSource;

use herald_compiler::contact::{Contact, Layout};
use std::fmt;

/// A row that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub message: String,
}

/// What a scan read.
#[derive(Clone, Debug, Default)]
pub struct ScanReport {
    pub contacts: u64,
    pub bad_rows: u64,
    /// The first bad rows (at most `MAX_REPORTED`).
    pub errors: Vec<RowError>,
}

pub const MAX_REPORTED: usize = 20;

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

/// Something that looks at contacts on a reader thread.
pub type Visitor<'a> = dyn FnMut(&Contact) + Send + 'a;

/// A source of contacts. Implementations stream: they never hold more than
/// one contact at a time.
pub trait ContactSource {
    /// The layout of the contacts this source yields.
    fn layout(&self) -> &Layout;
    /// Visit every valid contact; `f` returns `false` to stop early.
    fn scan(&mut self, f: &mut dyn FnMut(&Contact) -> bool) -> Result<ScanReport, CrmError>;

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
    /// Add what another part of the same scan read (errors stay in line order).
    pub fn merge(&mut self, other: ScanReport) {
        self.contacts += other.contacts;
        self.bad_rows += other.bad_rows;
        self.errors.extend(other.errors);
        self.errors.sort_by_key(|e| e.line);
        self.errors.truncate(MAX_REPORTED);
    }

    fn bad(&mut self, error: RowError) {
        self.bad_rows += 1;
        if self.errors.len() < MAX_REPORTED {
            self.errors.push(error);
        }
    }
}

/// Find one contact by id.
pub fn find(source: &mut dyn ContactSource, id: &str) -> Result<Option<Contact>, CrmError> {
    let mut found = None;
    source.scan(&mut |c| {
        if c.id == id {
            found = Some(c.clone());
            false
        } else {
            true
        }
    })?;
    Ok(found)
}

/// The contact source configured in herald.toml.
pub fn open(
    config: &herald_compiler::config::CrmConfig,
    dir: &std::path::Path,
    model: &herald_compiler::model::ContactModel,
) -> Result<Box<dyn ContactSource>, CrmError> {
    use herald_compiler::config::CrmKind;
    let path = dir.join(&config.path);
    Ok(match config.kind {
        CrmKind::Csv => Box::new(CsvSource::open(&path, model)?),
        CrmKind::Sqlite => Box::new(SqliteSource::open(&path, &config.table, model)?),
    })
}
