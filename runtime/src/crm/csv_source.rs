//! `[crm] kind = "csv"`: a CSV file with a header row (`id`, one column per
//! field, `consent_NAME` / `consent_NAME_at` per consent; lists joined by `|`).
//! The file must be a regular file; a row longer than [`MAX_ROW_BYTES`] stops
//! the read (it is not a contact but a wrong file, and would fill memory).

use super::dedup::Ids;
use super::{ContactSource, CrmError, Row, RowError, ScanReport};
use crate::fsx::{self, human_bytes};
use herald_compiler::contact::{Contact, ID_COLUMN, Layout, Reason, RowProblem};
use herald_compiler::model::ContactModel;
use std::cell::Cell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc;

/// The longest row Herald reads.
pub const MAX_ROW_BYTES: u64 = 64 << 20;
const READ_BUFFER: usize = 1 << 20;

pub struct CsvSource {
    path: PathBuf,
    layout: Layout,
}

/// The file, failing once more than [`MAX_ROW_BYTES`] were read since the
/// start of the current row (`row_start`, kept by the scan).
pub(super) struct Bounded {
    file: std::fs::File,
    read: u64,
    row_start: Rc<Cell<u64>>,
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.read += n as u64;
        if self.read - self.row_start.get() > MAX_ROW_BYTES + READ_BUFFER as u64 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a row is longer than {}; is it a CSV file?", human_bytes(MAX_ROW_BYTES)),
            ));
        }
        Ok(n)
    }
}

pub(super) type Reader = csv::Reader<Bounded>;

impl CsvSource {
    pub fn open(path: &Path, model: &ContactModel) -> Result<CsvSource, CrmError> {
        let (mut reader, _, _) = reader(path)?;
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

/// The reader, the start of its current row (to update), and the file's size.
pub(super) fn reader(path: &Path) -> Result<(Reader, Rc<Cell<u64>>, u64), CrmError> {
    let file = fsx::open_regular(path)?;
    let size = file.metadata().map_or(0, |m| m.len());
    let row_start = Rc::new(Cell::new(0));
    let bounded = Bounded {
        file,
        read: 0,
        row_start: Rc::clone(&row_start),
    };
    let reader = csv::ReaderBuilder::new()
        .flexible(true)
        .buffer_capacity(READ_BUFFER)
        .from_reader(bounded);
    Ok((reader, row_start, size))
}

/// After `SIZING_ROWS` rows, size the id set for the whole file (rows of an
/// export are alike in length), so it does not grow by rehashing.
const SIZING_ROWS: u64 = 1024;

fn size_ids(ids: &mut Ids, reader: &Reader, size: u64) {
    let read = reader.position().byte().max(1);
    let rows = reader.position().record();
    let estimate = (size as f64 / read as f64 * rows as f64 * 1.05).min(1e8);
    ids.expect(estimate as usize);
}

/// The 1-based row of a record (the header is row 1).
pub(super) fn row_of(position: Option<&csv::Position>) -> u64 {
    position.map_or(0, |p| p.record() + 1)
}

fn id_of(layout: &Layout, record: &csv::ByteRecord) -> Option<String> {
    let id = record.get(layout.id_column())?.trim_ascii();
    (!id.is_empty()).then(|| String::from_utf8_lossy(id).into_owned())
}

/// A record whose id an earlier row already has.
fn duplicate(layout: &Layout, record: &csv::ByteRecord, ids: &mut Ids) -> Option<RowError> {
    let id = record.get(layout.id_column())?.trim_ascii();
    let row = row_of(record.position());
    if id.is_empty() || !ids.seen_before(id) {
        return None;
    }
    Some(RowError {
        row,
        id: Some(String::from_utf8_lossy(id).into_owned()),
        problem: RowProblem::new(ID_COLUMN, Reason::Duplicate),
    })
}

impl ContactSource for CsvSource {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The rows of the first 64 KiB, scaled to the file's size (an export's
    /// rows are alike in length; a quoted newline counts one more).
    fn estimated_rows(&self) -> Option<u64> {
        const SAMPLE: usize = 64 * 1024;
        let file = fsx::open_regular(&self.path).ok()?;
        let size = file.metadata().ok()?.len();
        let mut sample = Vec::with_capacity(SAMPLE);
        file.take(SAMPLE as u64).read_to_end(&mut sample).ok()?;
        let body = sample.iter().position(|&b| b == b'\n')? + 1;
        let lines = sample[body..].iter().filter(|&&b| b == b'\n').count() as u64;
        if sample.len() as u64 == size {
            let last_open = sample.last().is_some_and(|&b| b != b'\n') && sample.len() > body;
            return Some(lines + u64::from(last_open));
        }
        let per_byte = lines as f64 / (sample.len() - body).max(1) as f64;
        Some((per_byte * (size - body as u64) as f64).round() as u64)
    }

    fn rows(&mut self, f: &mut dyn FnMut(Row) -> bool) -> Result<ScanReport, CrmError> {
        let (mut reader, row_start, size) = reader(&self.path)?;
        let mut report = ScanReport::default();
        let mut record = csv::ByteRecord::new();
        let mut contact = Contact::default();
        let mut ids = Ids::default();
        loop {
            let outcome = match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => match duplicate(&self.layout, &record, &mut ids) {
                    Some(dup) => Err(dup),
                    None => parse_record(&self.layout, &mut record, &mut contact),
                },
                Err(e) => Err(self.broken(e)?),
            };
            row_start.set(reader.position().byte());
            if reader.position().record() == SIZING_ROWS {
                size_ids(&mut ids, &reader, size);
            }
            let go_on = match outcome {
                Ok(()) => {
                    report.kept(row_of(record.position()), &self.layout, &contact);
                    f(Ok(&contact))
                }
                Err(e) => {
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

    /// One thread splits the file into records (the CSV syntax must be read
    /// in order: a quoted field may hold a newline), rejects duplicate ids,
    /// and deals the records out in batches; each visitor's thread types its
    /// records and visits them. Batches go back to the reader to be refilled,
    /// so their buffers are reused, and at most a few are in memory.
    fn scan_parallel(&mut self, visitors: &mut [&mut super::Visitor]) -> Result<ScanReport, CrmError> {
        let (mut reader, row_start, size) = reader(&self.path)?;
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
                                    report.kept(row_of(record.position()), layout, &contact);
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
            let mut ids = Ids::default();
            let mut batch = Batch::default();
            let mut turn = 0;
            let mut outcome = Ok(());
            loop {
                if batch.used == batch.records.len() {
                    batch.records.push(csv::ByteRecord::new());
                }
                let read = reader.read_byte_record(&mut batch.records[batch.used]);
                row_start.set(reader.position().byte());
                if reader.position().record() == SIZING_ROWS {
                    size_ids(&mut ids, &reader, size);
                }
                match read {
                    Ok(false) => break,
                    Ok(true) => match duplicate(layout, &batch.records[batch.used], &mut ids) {
                        Some(dup) => report.bad(dup),
                        None => batch.used += 1,
                    },
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
    /// A record the CSV reader could not split: a bad row, or (I/O) the end.
    fn broken(&self, e: csv::Error) -> Result<RowError, CrmError> {
        if matches!(e.kind(), csv::ErrorKind::Io(_)) {
            return Err(CrmError::Read(format!("cannot read `{}`: {e}", self.path.display())));
        }
        let row = row_of(e.position());
        // csv's messages give counts and positions, never cell values.
        let what = match e.kind() {
            csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                format!("{len} fields where the header has {expected_len}")
            }
            _ => "the row cannot be read as CSV".to_string(),
        };
        Ok(RowError {
            row,
            id: None,
            problem: RowProblem::new("*", Reason::Malformed(what)),
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

/// A value that failed and runs over several lines: most likely a quote
/// left open, which swallowed the rows after it into this value. Say that,
/// rather than that it is not an email: those rows are not read at all.
fn unclosed_quote(layout: &Layout, text: &csv::StringRecord, problem: RowProblem) -> RowProblem {
    let spans = text
        .iter()
        .enumerate()
        .find(|(i, v)| v.contains('\n') && layout.column_name(*i) == Some(problem.column.as_str()))
        .map(|(_, v)| v.matches('\n').count() + 1);
    match spans {
        Some(lines) => RowProblem::new(
            problem.column,
            Reason::Malformed(format!(
                "its value runs over {lines} lines: a quote is most likely not closed, and the rows after it were read into this value (close the quote)"
            )),
        ),
        None => problem,
    }
}

/// Type one record into `contact` (its buffers are reused; the record is
/// lent to csv's UTF-8 check, which is faster than one per cell, and put back).
fn parse_record(layout: &Layout, record: &mut csv::ByteRecord, contact: &mut Contact) -> Result<(), RowError> {
    let row = row_of(record.position());
    let (text, result) = match csv::StringRecord::from_byte_record(std::mem::take(record)) {
        Ok(text) => {
            let result = layout
                .parse_cells_into(|i| text.get(i), contact)
                .map_err(|problem| unclosed_quote(layout, &text, problem));
            (text.into_byte_record(), result)
        }
        Err(e) => {
            let column = e.utf8_error().field();
            let name = layout
                .column_name(column)
                .map_or_else(|| format!("#{}", column + 1), str::to_string);
            (e.into_byte_record(), Err(RowProblem::new(name, Reason::NotUtf8)))
        }
    };
    *record = text;
    result.map_err(|problem| RowError {
        row,
        id: id_of(layout, record),
        problem,
    })
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
                charset: Default::default(),
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
    fn the_row_estimate_is_exact_for_a_small_file_and_close_for_a_large_one() {
        let small = |text: &str| {
            let mut f = tempfile::NamedTempFile::new().unwrap();
            f.write_all(text.as_bytes()).unwrap();
            CsvSource {
                path: f.path().to_path_buf(),
                layout: Layout::new(&model(), &["id", "total"]).unwrap(),
            }
            .estimated_rows()
        };
        assert_eq!(small("id,total\nc1,1\nc2,2\n"), Some(2));
        assert_eq!(small("id,total\nc1,1\nc2,2"), Some(2), "no newline at the end");
        assert_eq!(small("id,total\n"), Some(0));
        assert_eq!(small("id,total"), None, "a header only, unfinished");
        let f = file();
        let big = CsvSource::open(f.path(), &model()).unwrap().estimated_rows().unwrap();
        assert!((9_500..=10_500).contains(&big), "{big} for 10,000 rows");
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
        assert!(par.errors.windows(2).all(|w| w[0].row < w[1].row));
        let utf8 = par.errors.iter().find(|e| e.row == 5_002).unwrap();
        assert_eq!(utf8.problem, RowProblem::new("total", Reason::NotUtf8));
    }

    /// A quote left open swallows the rows after it into one value: the row
    /// says so, not that the value is not a number.
    #[test]
    fn an_unclosed_quote_is_named_as_such() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        write!(f, "id,total\nc1,\"12\nc2,3\nc3,4\"\nc4,5\nc5,\"6\"\n").unwrap();
        let mut source = CsvSource::open(f.path(), &model()).unwrap();
        let scan = source.scan(&mut |_| true).unwrap();
        assert_eq!((scan.contacts, scan.bad_rows), (2, 1));
        let e = &scan.errors[0];
        assert_eq!((e.row, e.problem.column.as_str()), (2, "total"));
        let said = e.problem.reason.to_string();
        assert!(
            said.contains("runs over 3 lines: a quote is most likely not closed"),
            "{said}"
        );
    }

    #[test]
    fn duplicate_ids_are_rejected_after_the_first_in_both_scans() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "id,total").unwrap();
        for i in 0..5_000 {
            writeln!(f, "c{},{i}", i % 4_000).unwrap();
        }
        let mut source = CsvSource::open(f.path(), &model()).unwrap();
        let seq = source.scan(&mut |_| true).unwrap();
        assert_eq!((seq.contacts, seq.bad_rows), (4_000, 1_000));
        assert_eq!(
            seq.errors[0],
            RowError {
                row: 4_002,
                id: Some("c0".into()),
                problem: RowProblem::new("id", Reason::Duplicate)
            }
        );
        let mut visit = |_: &Contact| {};
        let par = source.scan_parallel(&mut [&mut visit]).unwrap();
        assert_eq!((par.contacts, par.bad_rows), (4_000, 1_000));
        assert_eq!(par.errors, seq.errors);
    }

    #[test]
    fn a_row_longer_than_the_bound_stops_the_read() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "id,total").unwrap();
        writeln!(f, "c1,1").unwrap();
        f.write_all(b"c2,\"").unwrap();
        let chunk = vec![b'9'; 1 << 20];
        for _ in 0..(MAX_ROW_BYTES >> 20) + 2 {
            f.write_all(&chunk).unwrap();
        }
        let mut source = CsvSource::open(f.path(), &model()).unwrap();
        let e = source.scan(&mut |_| true).unwrap_err();
        assert!(e.to_string().contains("a row is longer than 64 MiB"), "{e}");
        let mut visit = |_: &Contact| {};
        let e = source.scan_parallel(&mut [&mut visit]).err().unwrap();
        assert!(e.to_string().contains("a row is longer than 64 MiB"), "{e}");
    }
}
