//! `[crm] kind = "csv"`: a CSV file with a header row (`id`, one column per
//! field, `consent_NAME` / `consent_NAME_at` per consent; lists joined by `|`).

use super::{ContactSource, CrmError, RowError, ScanReport};
use herald_compiler::contact::{Contact, Layout};
use herald_compiler::model::ContactModel;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

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
        let mut reader = self.reader()?;
        let mut report = ScanReport::default();
        let mut record = csv::ByteRecord::new();
        let mut contact = Contact::default();
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => match parse_record(&self.layout, &mut record, &mut contact) {
                    Ok(()) => {
                        report.contacts += 1;
                        if !f(&contact) {
                            break;
                        }
                    }
                    Err(e) => report.bad(e),
                },
                Err(e) => report.bad(self.broken(e)?),
            }
        }
        Ok(report)
    }

    /// One thread splits the file into records (the CSV syntax must be read
    /// in order: a quoted field may hold a newline) and deals them out in
    /// batches; each visitor's thread types its records and visits them.
    /// Batches go back to the reader to be refilled, so their buffers are
    /// reused, and at most a few are in memory.
    fn scan_parallel(&mut self, visitors: &mut [&mut super::Visitor]) -> Result<ScanReport, CrmError> {
        let mut reader = self.reader()?;
        let layout = &self.layout;
        let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
        std::thread::scope(|scope| {
            let mut queues = Vec::new();
            let mut workers = Vec::new();
            for visit in visitors.iter_mut() {
                let (tx, rx) = mpsc::sync_channel::<Batch>(QUEUED_BATCHES);
                queues.push(tx);
                let empty_tx = empty_tx.clone();
                workers.push(scope.spawn(move || {
                    let mut report = ScanReport::default();
                    let mut contact = Contact::default();
                    for mut batch in rx {
                        for record in &mut batch.records[..batch.used] {
                            match parse_record(layout, record, &mut contact) {
                                Ok(()) => {
                                    report.contacts += 1;
                                    visit(&contact);
                                }
                                Err(e) => report.bad(e),
                            }
                        }
                        batch.used = 0;
                        let _ = empty_tx.send(batch);
                    }
                    report
                }));
            }
            let mut report = ScanReport::default();
            let mut batch = Batch::default();
            let mut turn = 0;
            let mut outcome = Ok(());
            loop {
                if batch.used == batch.records.len() {
                    batch.records.push(csv::ByteRecord::new());
                }
                match reader.read_byte_record(&mut batch.records[batch.used]) {
                    Ok(false) => break,
                    Ok(true) => batch.used += 1,
                    Err(e) => match self.broken(e) {
                        Ok(bad) => report.bad(bad),
                        Err(fatal) => {
                            outcome = Err(fatal);
                            break;
                        }
                    },
                }
                if batch.used == BATCH {
                    let next = empty_rx.try_recv().unwrap_or_default();
                    if queues[turn % queues.len()]
                        .send(std::mem::replace(&mut batch, next))
                        .is_err()
                    {
                        break;
                    }
                    turn += 1;
                }
            }
            if batch.used > 0 && !queues.is_empty() {
                let _ = queues[turn % queues.len()].send(batch);
            }
            // Closing the queues ends the workers.
            drop(queues);
            for w in workers {
                match w.join() {
                    Ok(part) => report.merge(part),
                    Err(_) => outcome = Err(CrmError::Read("a contact reader thread failed unexpectedly".into())),
                }
            }
            outcome.map(|()| report)
        })
    }
}

impl CsvSource {
    fn reader(&self) -> Result<csv::Reader<std::fs::File>, CrmError> {
        csv::ReaderBuilder::new()
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_path(&self.path)
            .map_err(|e| CrmError::Open(format!("cannot open `{}`: {e}", self.path.display())))
    }

    /// A record the CSV reader could not split: a bad row, or (I/O) the end.
    fn broken(&self, e: csv::Error) -> Result<RowError, CrmError> {
        if matches!(e.kind(), csv::ErrorKind::Io(_)) {
            return Err(CrmError::Read(format!("cannot read `{}`: {e}", self.path.display())));
        }
        Ok(RowError {
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })
    }
}

const BATCH: usize = 2048;
const QUEUED_BATCHES: usize = 2;

/// Records in file order (`records[..used]`; the rest are buffers to reuse).
#[derive(Default)]
struct Batch {
    records: Vec<csv::ByteRecord>,
    used: usize,
}

/// Type one record into `contact` (its buffers are reused; the record is
/// lent to csv's UTF-8 check, which is faster than one per cell, and put back).
fn parse_record(layout: &Layout, record: &mut csv::ByteRecord, contact: &mut Contact) -> Result<(), RowError> {
    let line = record.position().map_or(0, |p| p.line());
    let (text, result) = match csv::StringRecord::from_byte_record(std::mem::take(record)) {
        Ok(text) => {
            let result = layout
                .parse_cells_into(|i| text.get(i), contact)
                .map_err(|message| RowError { line, message });
            (text.into_byte_record(), result)
        }
        Err(e) => {
            let column = e.utf8_error().field() + 1;
            let message = format!("column {column} is not valid UTF-8; save the file as UTF-8");
            (e.into_byte_record(), Err(RowError { line, message }))
        }
    };
    *record = text;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_compiler::contact::FieldValue;
    use herald_compiler::model::{Field, FieldType};
    use std::io::Write;
    use std::sync::Mutex;

    fn model() -> ContactModel {
        let mut m = ContactModel::default();
        m.fields.insert(
            "total".into(),
            Field {
                ty: FieldType::Number,
                optional: false,
                max_length: None,
                description: None,
                span: Default::default(),
            },
        );
        m
    }

    /// 10,000 rows (several batches), every 997th one bad, one with bad UTF-8.
    fn file() -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "id,total").unwrap();
        for i in 0..10_000 {
            if i % 997 == 0 {
                writeln!(f, "c{i},lots").unwrap();
            } else if i == 5_000 {
                f.write_all(b"c5000,\xff\n").unwrap();
            } else {
                writeln!(f, "c{i},{i}").unwrap();
            }
        }
        f
    }

    #[test]
    fn a_parallel_scan_sees_every_row_once_and_reports_like_a_sequential_one() {
        let f = file();
        let mut source = CsvSource::open(f.path(), &model()).unwrap();
        let mut sequential = Vec::new();
        let seq = source
            .scan(&mut |c| {
                sequential.push(c.id.clone());
                true
            })
            .unwrap();

        let seen = Mutex::new(Vec::new());
        let sums = [Mutex::new(0.0), Mutex::new(0.0)];
        let mut a = |c: &Contact| {
            seen.lock().unwrap().push(c.id.clone());
            if let Some(FieldValue::Number(n)) = &c.fields[0] {
                *sums[0].lock().unwrap() += n;
            }
        };
        let mut b = |c: &Contact| {
            seen.lock().unwrap().push(c.id.clone());
            if let Some(FieldValue::Number(n)) = &c.fields[0] {
                *sums[1].lock().unwrap() += n;
            }
        };
        let par = source.scan_parallel(&mut [&mut a, &mut b]).unwrap();

        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        sequential.sort();
        assert_eq!(seen, sequential);
        assert_eq!(seen.len(), 10_000 - 11 - 1);
        // Both threads got work.
        assert!(sums.iter().all(|s| *s.lock().unwrap() > 0.0));
        assert_eq!((par.contacts, par.bad_rows), (seq.contacts, seq.bad_rows));
        assert_eq!(par.errors, seq.errors);
        assert_eq!(par.errors.len(), 12);
        assert!(par.errors.windows(2).all(|w| w[0].line < w[1].line));
        let utf8 = par.errors.iter().find(|e| e.line == 5_002).unwrap();
        assert!(utf8.message.contains("column 2 is not valid UTF-8"), "{}", utf8.message);
    }
}
