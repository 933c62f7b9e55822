//! `[crm] kind = "sqlite"`: contacts in a table of an SQLite file, with the
//! same columns as the CSV layout (`id`, fields, `consent_NAME[_at]`). The
//! file must be a regular file, opened read-only, and a value is at most
//! [`MAX_ROW_BYTES`](super::csv_source::MAX_ROW_BYTES).

use super::csv_source::MAX_ROW_BYTES;
use super::dedup::Ids;
use super::{ContactSource, CrmError, Row, RowError, ScanReport};
use crate::fsx;
use herald_compiler::contact::{ID_COLUMN, Layout, Reason, RowProblem};
use herald_compiler::model::ContactModel;
use rusqlite::types::ValueRef;
use std::path::{Path, PathBuf};

pub struct SqliteSource {
    path: PathBuf,
    table: String,
    layout: Layout,
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

impl SqliteSource {
    pub fn open(path: &Path, table: &str, model: &ContactModel) -> Result<SqliteSource, CrmError> {
        let conn = connect(path)?;
        let stmt = conn
            .prepare(&format!("SELECT * FROM {} LIMIT 0", quote(table)))
            .map_err(|e| CrmError::Open(format!("cannot read table `{table}` of `{}`: {e}", path.display())))?;
        let cols: Vec<&str> = stmt.column_names();
        let layout = Layout::new(model, &cols)
            .map_err(|e| CrmError::Header(format!("table `{table}` does not match the contact model: {e}")))?;
        Ok(SqliteSource {
            path: path.to_path_buf(),
            table: table.to_string(),
            layout,
        })
    }
}

/// A read-only connection to a regular file, with values bounded.
pub(super) fn connect(path: &Path) -> Result<rusqlite::Connection, CrmError> {
    fsx::check_regular(path)?;
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| CrmError::Open(format!("cannot open `{}`: {e}", path.display())))?;
    conn.set_limit(
        rusqlite::limits::Limit::SQLITE_LIMIT_LENGTH,
        i32::try_from(MAX_ROW_BYTES).unwrap_or(i32::MAX),
    )
    .map_err(|e| CrmError::Open(e.to_string()))?;
    Ok(conn)
}

impl ContactSource for SqliteSource {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn estimated_rows(&self) -> Option<u64> {
        let conn = connect(&self.path).ok()?;
        conn.query_row(&format!("SELECT count(*) FROM {}", quote(&self.table)), [], |r| {
            r.get(0)
        })
        .ok()
    }

    fn rows(&mut self, f: &mut dyn FnMut(Row) -> bool) -> Result<ScanReport, CrmError> {
        let conn = connect(&self.path)?;
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {} ORDER BY rowid", quote(&self.table)))
            .map_err(|e| CrmError::Read(e.to_string()))?;
        let n = stmt.column_count();
        let mut rows = stmt.query([]).map_err(|e| CrmError::Read(e.to_string()))?;
        let mut report = ScanReport::default();
        let mut ids = Ids::default();
        let mut line = 0u64;
        let mut cells: Vec<String> = vec![String::new(); n];
        let id_col = self.layout.id_column();
        while let Some(row) = rows.next().map_err(|e| CrmError::Read(e.to_string()))? {
            line += 1;
            for (i, cell) in cells.iter_mut().enumerate() {
                cell.clear();
                match row.get_ref(i).map_err(|e| CrmError::Read(e.to_string()))? {
                    ValueRef::Null => {}
                    ValueRef::Integer(x) => cell.push_str(&x.to_string()),
                    ValueRef::Real(x) => cell.push_str(&x.to_string()),
                    ValueRef::Text(t) | ValueRef::Blob(t) => cell.push_str(&String::from_utf8_lossy(t)),
                }
            }
            let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
            let id = refs.get(id_col).map(|s| s.trim()).filter(|s| !s.is_empty());
            let problem = if id.is_some_and(|id| ids.seen_before(id.as_bytes())) {
                Err(RowProblem::new(ID_COLUMN, Reason::Duplicate))
            } else {
                self.layout.parse_row(&refs)
            };
            let go_on = match problem {
                Ok(c) => {
                    report.kept(line, &self.layout, &c);
                    f(Ok(&c))
                }
                Err(problem) => {
                    let e = RowError {
                        row: line,
                        id: id.map(str::to_string),
                        problem,
                    };
                    let go_on = f(Err(&e));
                    report.bad(e);
                    go_on
                }
            };
            if !go_on {
                break;
            }
        }
        Ok(report)
    }
}
