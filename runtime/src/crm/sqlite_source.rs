//! `[crm] kind = "sqlite"`: contacts in a table of an SQLite file, with the
//! same columns as the CSV layout (`id`, fields, `consent_NAME[_at]`).

use super::{ContactSource, CrmError, MAX_REPORTED, RowError, ScanReport};
use herald_compiler::contact::{Contact, Layout};
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
        if !path.exists() {
            return Err(CrmError::Open(format!(
                "the contacts database `{}` does not exist",
                path.display()
            )));
        }
        let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| CrmError::Open(format!("cannot open `{}`: {e}", path.display())))?;
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

impl ContactSource for SqliteSource {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn scan(&mut self, f: &mut dyn FnMut(&Contact) -> bool) -> Result<ScanReport, CrmError> {
        let conn = rusqlite::Connection::open_with_flags(&self.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| CrmError::Open(e.to_string()))?;
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {} ORDER BY rowid", quote(&self.table)))
            .map_err(|e| CrmError::Read(e.to_string()))?;
        let n = stmt.column_count();
        let mut rows = stmt.query([]).map_err(|e| CrmError::Read(e.to_string()))?;
        let mut report = ScanReport::default();
        let mut line = 0u64;
        let mut cells: Vec<String> = vec![String::new(); n];
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
            match self.layout.parse_row(&refs) {
                Ok(c) => {
                    report.contacts += 1;
                    if !f(&c) {
                        break;
                    }
                }
                Err(message) => {
                    report.bad_rows += 1;
                    if report.errors.len() < MAX_REPORTED {
                        report.errors.push(RowError {
                            line,
                            message: format!("row {line}: {message}"),
                        });
                    }
                }
            }
        }
        Ok(report)
    }
}
