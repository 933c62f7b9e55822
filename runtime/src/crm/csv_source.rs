//! `[crm] kind = "csv"`: a CSV file with a header row (`id`, one column per
//! field, `consent_NAME` / `consent_NAME_at` per consent; lists joined by `|`).

use super::{ContactSource, CrmError, MAX_REPORTED, RowError, ScanReport};
use herald_compiler::contact::{Contact, Layout};
use herald_compiler::model::ContactModel;
use std::path::{Path, PathBuf};

pub struct CsvSource {
    path: PathBuf,
    layout: Layout,
}

impl CsvSource {
    pub fn open(path: &Path, model: &ContactModel) -> Result<CsvSource, CrmError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .map_err(|e| CrmError::Open(format!("cannot open the contacts file `{}`: {e}", path.display())))?;
        let header = reader
            .headers()
            .map_err(|e| CrmError::Header(format!("cannot read the header of `{}`: {e}", path.display())))?
            .clone();
        let cols: Vec<&str> = header.iter().collect();
        let layout = Layout::new(model, &cols).map_err(|e| {
            CrmError::Header(format!(
                "`{}` does not match the contact model: {e}; regenerate it with `herald contacts generate`, or add the column",
                path.display()
            ))
        })?;
        Ok(CsvSource {
            path: path.to_path_buf(),
            layout,
        })
    }
}

impl ContactSource for CsvSource {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn scan(&mut self, f: &mut dyn FnMut(&Contact) -> bool) -> Result<ScanReport, CrmError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(&self.path)
            .map_err(|e| CrmError::Open(format!("cannot open `{}`: {e}", self.path.display())))?;
        let mut report = ScanReport::default();
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    // A broken record (bad UTF-8, unbalanced quote): report and go on.
                    let line = e.position().map_or(0, |p| p.line());
                    report.bad_rows += 1;
                    if report.errors.len() < MAX_REPORTED {
                        report.errors.push(RowError {
                            line,
                            message: e.to_string(),
                        });
                    }
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        return Err(CrmError::Read(format!("cannot read `{}`: {e}", self.path.display())));
                    }
                    continue;
                }
            }
            let cells: Vec<&str> = record.iter().collect();
            match self.layout.parse_row(&cells) {
                Ok(contact) => {
                    report.contacts += 1;
                    if !f(&contact) {
                        break;
                    }
                }
                Err(message) => {
                    report.bad_rows += 1;
                    if report.errors.len() < MAX_REPORTED {
                        let line = record.position().map_or(0, |p| p.line());
                        report.errors.push(RowError { line, message });
                    }
                }
            }
        }
        Ok(report)
    }
}
