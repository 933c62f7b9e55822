//! Contacts as typed values, read against the contact model. Pure: the
//! runtime reads rows (CSV, SQLite…) and hands cells to [`Layout::parse_row`].
//! A row is validated as it is typed (`max_length`, E.164 phones, email
//! syntax); a bad row is a [`RowProblem`]: a column and a [`Reason`], never
//! the value, which is personal data. An address that is not one (an email
//! or phone field failing its syntax) does not reject the row: the contact
//! is kept, the field is marked invalid, and only sends on that address's
//! channels are dropped (`invalid-address`).

use crate::ast::ScalarType;
use crate::model::{ContactModel, FieldType};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Text(String),
    Number(f64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    List(Vec<FieldValue>),
}

/// A consent column pair: `consent_NAME` and `consent_NAME_at`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsentState {
    pub given: bool,
    pub at: Option<NaiveDate>,
}

/// One contact: field values in the layout's order (`None`: missing).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contact {
    pub id: String,
    pub fields: Vec<Option<FieldValue>>,
    pub consents: Vec<ConsentState>,
    /// Email and phone fields whose value is not a valid address, with the
    /// reason (in field order). The value stays in `fields`, as the CRM has
    /// it, for audiences and templates; nothing is ever sent to it.
    pub invalid: Vec<(usize, Reason)>,
}

impl Contact {
    /// Whether field `i` holds a value that is not a valid address.
    pub fn is_invalid(&self, i: usize) -> bool {
        self.invalid.iter().any(|(f, _)| *f == i)
    }
}

/// Whether a value failing for `reason` is kept as an invalid address (its
/// contact kept, nothing sent to it) rather than rejecting its row: an email
/// or phone with a bad syntax. A line break is no typo: most likely a quote
/// not closed, which swallowed the rows after it.
pub fn kept_as_invalid(reason: &Reason, text: &str) -> bool {
    matches!(reason, Reason::NotAPhone | Reason::NotAnEmail) && !text.contains(char::is_control)
}

/// Where each field and consent of the model is, in a contact and in a row.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Field names in model order, with their types.
    pub fields: Vec<(String, FieldType, bool)>,
    pub consents: Vec<String>,
    field_index: BTreeMap<String, usize>,
    consent_index: BTreeMap<String, usize>,
    /// `max_length` of each field (text fields only), and whether it is
    /// declared `charset: gsm7`.
    max_lengths: Vec<(Option<u32>, bool)>,
    /// The source's column names, in its order.
    header: Vec<String>,
    /// Column of each part in the row: id, fields, consents, consent dates.
    id_col: usize,
    field_cols: Vec<Option<usize>>,
    consent_cols: Vec<(Option<usize>, Option<usize>)>,
}

/// A problem with the columns of a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    MissingId,
    MissingColumn(String),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::MissingId => f.write_str("there is no `id` column"),
            HeaderError::MissingColumn(c) => write!(f, "the required column `{c}` is missing"),
        }
    }
}

impl Layout {
    /// Map the model onto a header row. Optional fields and consent dates
    /// may be absent; a missing consent column means "not given".
    pub fn new(model: &ContactModel, header: &[&str]) -> Result<Layout, HeaderError> {
        let col = |name: &str| header.iter().position(|h| h.trim() == name);
        let id_col = col("id").ok_or(HeaderError::MissingId)?;
        let mut fields = Vec::new();
        let mut max_lengths = Vec::new();
        let mut field_cols = Vec::new();
        let mut field_index = BTreeMap::new();
        for (i, (name, f)) in model.fields.iter().enumerate() {
            let c = col(name);
            if c.is_none() && !f.optional {
                return Err(HeaderError::MissingColumn(name.clone()));
            }
            fields.push((name.clone(), f.ty.clone(), f.optional));
            max_lengths.push((f.max_length, f.charset == crate::ast::Charset::Gsm7));
            field_cols.push(c);
            field_index.insert(name.clone(), i);
        }
        let mut consents = Vec::new();
        let mut consent_cols = Vec::new();
        let mut consent_index = BTreeMap::new();
        for (i, name) in model.consents.keys().enumerate() {
            consents.push(name.clone());
            consent_cols.push((col(&format!("consent_{name}")), col(&format!("consent_{name}_at"))));
            consent_index.insert(name.clone(), i);
        }
        Ok(Layout {
            fields,
            max_lengths,
            header: header.iter().map(|h| h.trim().to_string()).collect(),
            consents,
            field_index,
            consent_index,
            id_col,
            field_cols,
            consent_cols,
        })
    }

    /// A layout with a column for every field and consent of the model, in
    /// the model's order: how a contact written by hand (a journey test's)
    /// is typed, through the same parsing and validation as a CRM row.
    pub fn for_model(model: &ContactModel) -> Layout {
        let mut header: Vec<String> = vec![ID_COLUMN.to_string()];
        header.extend(model.fields.keys().cloned());
        for name in model.consents.keys() {
            header.push(format!("consent_{name}"));
            header.push(format!("consent_{name}_at"));
        }
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        // Every column is there, so no column can be missing.
        Layout::new(model, &header).unwrap_or_else(|_| Layout {
            fields: Vec::new(),
            consents: Vec::new(),
            field_index: BTreeMap::new(),
            consent_index: BTreeMap::new(),
            max_lengths: Vec::new(),
            header: Vec::new(),
            id_col: 0,
            field_cols: Vec::new(),
            consent_cols: Vec::new(),
        })
    }

    /// One cell of field `i` typed and validated as in a row (`max_length`,
    /// E.164, email syntax); `None` for an empty cell.
    pub fn parse_field(&self, i: usize, raw: &str) -> Result<Option<FieldValue>, Reason> {
        let Some((_, ty, _)) = self.fields.get(i) else {
            return Ok(None);
        };
        let mut slot = None;
        parse_cell_into(ty, raw.trim(), &mut slot)?;
        if let Some(FieldValue::Text(text)) = &slot {
            validate_text(ty, self.max_lengths.get(i).copied().unwrap_or((None, false)), text)?;
        }
        Ok(slot)
    }

    /// The name of the source's column `i`, when it is one of the model's
    /// (other headers are the file's text, not shown).
    pub fn column_name(&self, i: usize) -> Option<&str> {
        let name = self.header.get(i)?.as_str();
        let known = name == ID_COLUMN
            || self.field_index.contains_key(name)
            || self.consents.iter().any(|c| {
                name.strip_prefix("consent_")
                    .is_some_and(|r| r == c || r.strip_suffix("_at") == Some(c))
            });
        known.then_some(name)
    }

    /// [`Layout::parse_field`], keeping an address that is not a valid one
    /// as a row keeps it (see [`kept_as_invalid`]): the value, and why it
    /// is invalid.
    pub fn parse_field_keeping_invalid(
        &self,
        i: usize,
        raw: &str,
    ) -> Result<(Option<FieldValue>, Option<Reason>), Reason> {
        match self.parse_field(i, raw) {
            Ok(value) => Ok((value, None)),
            Err(reason) if kept_as_invalid(&reason, raw) => {
                Ok((Some(FieldValue::Text(raw.trim().to_string())), Some(reason)))
            }
            Err(reason) => Err(reason),
        }
    }

    /// The problems of a kept contact's invalid addresses, by column.
    pub fn invalid_addresses<'c>(&'c self, contact: &'c Contact) -> impl Iterator<Item = RowProblem> + 'c {
        contact.invalid.iter().filter_map(|(i, reason)| {
            let (name, _, _) = self.fields.get(*i)?;
            Some(RowProblem::new(name, reason.clone()))
        })
    }

    /// The column of the row that holds the contact id.
    pub fn id_column(&self) -> usize {
        self.id_col
    }

    pub fn field(&self, name: &str) -> Option<usize> {
        self.field_index.get(name).copied()
    }

    pub fn consent(&self, name: &str) -> Option<usize> {
        self.consent_index.get(name).copied()
    }

    /// Parse one row. Errors name the column and the value's problem.
    pub fn parse_row(&self, row: &[&str]) -> Result<Contact, RowProblem> {
        let mut c = Contact::default();
        self.parse_row_into(row, &mut c)?;
        Ok(c)
    }

    /// Parse one row into `out`, reusing its buffers (a scan of a million
    /// rows then allocates almost nothing). On error `out` holds garbage.
    pub fn parse_row_into(&self, row: &[&str], out: &mut Contact) -> Result<(), RowProblem> {
        self.parse_cells_into(|i| row.get(i).copied(), out)
    }

    /// [`Layout::parse_row_into`] for any row type: `cell(i)` is column `i`.
    pub fn parse_cells_into<'r>(
        &self,
        cell: impl Fn(usize) -> Option<&'r str>,
        out: &mut Contact,
    ) -> Result<(), RowProblem> {
        let id = cell(self.id_col).map(|s| s.trim()).unwrap_or("");
        if id.is_empty() {
            return Err(RowProblem::new(ID_COLUMN, Reason::Empty));
        }
        out.id.clear();
        out.id.push_str(id);
        out.fields.resize(self.fields.len(), None);
        out.invalid.clear();
        let columns = self.fields.iter().zip(&self.max_lengths).zip(&self.field_cols);
        for (i, ((((name, ty, optional), max), col), slot)) in columns.zip(&mut out.fields).enumerate() {
            let raw = col.and_then(&cell).map_or("", |s| s.trim());
            let problem = |reason| RowProblem::new(name, reason);
            parse_cell_into(ty, raw, slot).map_err(problem)?;
            match slot {
                None if !optional => return Err(problem(Reason::Empty)),
                Some(FieldValue::Text(text)) => match validate_text(ty, *max, text) {
                    Ok(()) => {}
                    Err(reason) if kept_as_invalid(&reason, text) => out.invalid.push((i, reason)),
                    Err(reason) => return Err(problem(reason)),
                },
                _ => {}
            }
        }
        out.consents.clear();
        for (name, (c, at)) in self.consents.iter().zip(&self.consent_cols) {
            let given = match c.and_then(&cell).map(|s| s.trim()) {
                None => false,
                Some(v) => consent_flag(v)
                    .ok_or_else(|| RowProblem::new(format!("consent_{name}"), Reason::NotAConsentFlag))?,
            };
            let at = match at.and_then(&cell).map(|s| s.trim()).filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => Some(parse_date(s).map_err(|r| RowProblem::new(format!("consent_{name}_at"), r))?),
            };
            out.consents.push(ConsentState { given, at });
        }
        Ok(())
    }
}

/// The column of contact ids.
pub const ID_COLUMN: &str = "id";

/// Why a row was rejected: the column, and what is wrong with its value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowProblem {
    pub column: String,
    pub reason: Reason,
}

impl RowProblem {
    pub fn new(column: impl Into<String>, reason: Reason) -> Self {
        RowProblem {
            column: column.into(),
            reason,
        }
    }
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column `{}`: {}", self.column, self.reason)
    }
}

/// What is wrong with a value. Deliberately holds nothing read from the row.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Empty,
    NotANumber,
    NotAWholeNumber,
    NotABoolean,
    NotADate,
    NotADateTime,
    /// An enum value outside the model's list (the list is the model's).
    NotOneOf(Vec<String>),
    TooLong {
        max: u32,
    },
    NotAPhone,
    NotAnEmail,
    NotAConsentFlag,
    NotUtf8,
    /// A character outside GSM-7 in a field declared `charset: gsm7`.
    NotGsm7,
    /// A list item is wrong for this reason.
    Item(Box<Reason>),
    /// A later row with an id already seen (the first one is kept).
    Duplicate,
    /// The row itself cannot be split (wrong number of fields…).
    Malformed(String),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Empty => f.write_str("empty, but the field is not optional"),
            Reason::NotANumber => f.write_str("not a number"),
            Reason::NotAWholeNumber => f.write_str("not a whole number"),
            Reason::NotABoolean => f.write_str("not true or false"),
            Reason::NotADate => f.write_str("not a date (YYYY-MM-DD)"),
            Reason::NotADateTime => f.write_str("not a date and time (RFC 3339, such as 2026-11-27T10:00:00Z)"),
            Reason::NotOneOf(values) => write!(f, "not one of {}", values.join(", ")),
            Reason::TooLong { max } => write!(f, "longer than its max_length of {max} characters"),
            Reason::NotAPhone => f.write_str("not an E.164 phone number (such as +33612345678)"),
            Reason::NotAnEmail => f.write_str("not a valid email address"),
            Reason::NotAConsentFlag => f.write_str("expected true or false"),
            Reason::NotUtf8 => f.write_str("not valid UTF-8; save the file as UTF-8"),
            Reason::NotGsm7 => {
                f.write_str("holds a character outside GSM-7, and the field is declared `charset: gsm7`")
            }
            Reason::Item(r) => write!(f, "an item is {r}"),
            Reason::Duplicate => f.write_str("duplicate id: an earlier row has the same one (the first is kept)"),
            Reason::Malformed(m) => f.write_str(m),
        }
    }
}

/// Checks of a text value beyond its type: length, phone and email syntax.
fn validate_text(ty: &FieldType, (max, gsm7): (Option<u32>, bool), text: &str) -> Result<(), Reason> {
    if gsm7 && text.chars().any(|c| crate::sms::gsm_septets(c).is_none()) {
        return Err(Reason::NotGsm7);
    }
    // A text no longer in bytes than `max` cannot be longer in characters.
    if let Some(max) = max
        && text.len() > max as usize
        && text.chars().nth(max as usize).is_some()
    {
        return Err(Reason::TooLong { max });
    }
    match ty {
        FieldType::Phone if !is_e164(text) => Err(Reason::NotAPhone),
        FieldType::Email if !is_email(text) => Err(Reason::NotAnEmail),
        _ => Ok(()),
    }
}

/// E.164: `+`, a country code that does not start with 0, at most 15 digits.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// An address as HTML forms accept it (WHATWG's "valid email address"), with
/// a dot in the domain since mail is not sent to a bare host name, and the
/// SMTP lengths (64 for the local part, 254 in all). Letters beyond ASCII
/// are accepted (internationalised addresses).
pub fn is_email(s: &str) -> bool {
    if s.is_ascii() {
        return is_ascii_email(s.as_bytes());
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let local_ok = |c: char| c.is_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars().count() <= 63
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    s.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && local.chars().all(local_ok)
        && domain.contains('.')
        && domain.split('.').all(label_ok)
}

/// [`is_email`] for ASCII text, in one pass over the bytes (a million
/// contacts are checked on every plan).
fn is_ascii_email(b: &[u8]) -> bool {
    let Some(at) = b.iter().rposition(|&c| c == b'@') else {
        return false;
    };
    let (local, domain) = (&b[..at], &b[at + 1..]);
    let local_ok = |c: &u8| c.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(c);
    if b.len() > 254 || local.is_empty() || local.len() > 64 || !local.iter().all(local_ok) {
        return false;
    }
    let mut labels = 0;
    for label in domain.split(|&c| c == b'.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            && label[0] != b'-'
            && label[label.len() - 1] != b'-';
        if !ok {
            return false;
        }
        labels += 1;
    }
    labels >= 2
}

/// Put `raw` in a text slot, reusing its string.
fn set_text(slot: &mut Option<FieldValue>, raw: &str) {
    match slot {
        Some(FieldValue::Text(s)) => {
            s.clear();
            s.push_str(raw);
        }
        _ => *slot = Some(FieldValue::Text(raw.to_string())),
    }
}

/// [`parse_cell`] into an existing slot, reusing text and list buffers.
fn parse_cell_into(ty: &FieldType, raw: &str, slot: &mut Option<FieldValue>) -> Result<(), Reason> {
    match ty {
        FieldType::String | FieldType::Email | FieldType::Phone | FieldType::Timezone if !raw.is_empty() => {
            set_text(slot, raw)
        }
        FieldType::Enum { values } if !raw.is_empty() => {
            if !values.iter().any(|v| v == raw) {
                return Err(Reason::NotOneOf(values.clone()));
            }
            set_text(slot, raw)
        }
        FieldType::List { of } => {
            let mut items = match slot.take() {
                Some(FieldValue::List(items)) => items,
                _ => Vec::new(),
            };
            let item_ty = FieldType::from_scalar(*of);
            let mut n = 0;
            for part in raw.split('|').map(str::trim).filter(|s| !s.is_empty()) {
                match items.get_mut(n) {
                    Some(item) => {
                        let mut s = Some(std::mem::replace(item, FieldValue::Bool(false)));
                        parse_cell_into(&item_ty, part, &mut s).map_err(|r| Reason::Item(Box::new(r)))?;
                        *item = s.unwrap_or(FieldValue::Bool(false));
                    }
                    None => items.push(parse_scalar(&item_ty, part).map_err(|r| Reason::Item(Box::new(r)))?),
                }
                n += 1;
            }
            items.truncate(n);
            *slot = Some(FieldValue::List(items));
        }
        _ => *slot = parse_cell(ty, raw)?,
    }
    Ok(())
}

fn consent_flag(v: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["true", "1", "yes", "y"];
    const FALSE: [&str; 5] = ["false", "0", "no", "n", ""];
    if TRUE.iter().any(|t| v.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| v.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

/// `YYYY-MM-DD` without chrono's format interpreter (the common case of a
/// million-row export; anything else goes the general way).
fn fast_date(b: &[u8]) -> Option<NaiveDate> {
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(digits(0..4)?).ok()?, digits(5..7)?, digits(8..10)?)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (or without the `Z`, read as UTC), fast.
fn fast_datetime(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    let rest = match b.len() {
        19 => &b[10..],
        20 if b[19] == b'Z' => &b[10..19],
        _ => return None,
    };
    let date = fast_date(&b[..10])?;
    if !matches!(rest[0], b'T' | b' ') || rest[3] != b':' || rest[6] != b':' {
        return None;
    }
    let two = |i: usize| -> Option<u32> {
        let (x, y) = (rest[i], rest[i + 1]);
        (x.is_ascii_digit() && y.is_ascii_digit()).then(|| u32::from(x - b'0') * 10 + u32::from(y - b'0'))
    };
    Some(date.and_hms_opt(two(1)?, two(4)?, two(7)?)?.and_utc())
}

fn parse_date(s: &str) -> Result<NaiveDate, Reason> {
    if let Some(d) = (s.len() == 10).then(|| fast_date(s.as_bytes())).flatten() {
        return Ok(d);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| parse_datetime(s).map(|d| d.date_naive()))
        .map_err(|_| Reason::NotADate)
}

fn parse_datetime(s: &str) -> Result<DateTime<Utc>, Reason> {
    if let Some(d) = fast_datetime(s) {
        return Ok(d);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(d.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(Reason::NotADateTime)
}

fn parse_scalar(ty: &FieldType, raw: &str) -> Result<FieldValue, Reason> {
    Ok(match ty {
        FieldType::String | FieldType::Email | FieldType::Phone | FieldType::Timezone => {
            FieldValue::Text(raw.to_string())
        }
        FieldType::Enum { values } => {
            if !values.iter().any(|v| v == raw) {
                return Err(Reason::NotOneOf(values.clone()));
            }
            FieldValue::Text(raw.to_string())
        }
        FieldType::Number => FieldValue::Number(
            raw.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or(Reason::NotANumber)?,
        ),
        FieldType::Integer => FieldValue::Number(raw.parse::<i64>().map_err(|_| Reason::NotAWholeNumber)? as f64),
        FieldType::Boolean => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => FieldValue::Bool(true),
            "false" | "0" | "no" => FieldValue::Bool(false),
            _ => return Err(Reason::NotABoolean),
        },
        FieldType::Date => FieldValue::Date(parse_date(raw)?),
        FieldType::Datetime => FieldValue::DateTime(parse_datetime(raw)?),
        FieldType::List { of } => FieldValue::List(
            raw.split('|')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| parse_scalar(&FieldType::from_scalar(*of), s).map_err(|r| Reason::Item(Box::new(r))))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A cell as a typed value; `None` for an empty cell (lists: an empty list).
pub fn parse_cell(ty: &FieldType, raw: &str) -> Result<Option<FieldValue>, Reason> {
    if raw.is_empty() {
        return Ok(match ty {
            FieldType::List { .. } => Some(FieldValue::List(Vec::new())),
            _ => None,
        });
    }
    parse_scalar(ty, raw).map(Some)
}

/// A value for templates (minijinja).
pub fn template_value(v: &FieldValue) -> minijinja::Value {
    match v {
        FieldValue::Text(s) => minijinja::Value::from(s.as_str()),
        FieldValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => minijinja::Value::from(*n as i64),
        FieldValue::Number(n) => minijinja::Value::from(*n),
        FieldValue::Bool(b) => minijinja::Value::from(*b),
        FieldValue::Date(d) => minijinja::Value::from(d.format("%Y-%m-%d").to_string()),
        FieldValue::DateTime(d) => minijinja::Value::from(d.to_rfc3339()),
        FieldValue::List(items) => minijinja::Value::from(items.iter().map(template_value).collect::<Vec<_>>()),
    }
}

/// The `contact` object of a template context (missing fields are absent,
/// so strict rendering fails on them unless a `default` is given).
pub fn contact_value(layout: &Layout, c: &Contact) -> minijinja::Value {
    let mut m: BTreeMap<String, minijinja::Value> = BTreeMap::new();
    m.insert("id".into(), minijinja::Value::from(c.id.as_str()));
    for ((name, _, _), v) in layout.fields.iter().zip(&c.fields) {
        if let Some(v) = v {
            m.insert(name.clone(), template_value(v));
        }
    }
    minijinja::Value::from(m)
}

/// Scalar types of event properties, parsed from text.
pub fn parse_property(ty: ScalarType, raw: &str) -> Result<Option<FieldValue>, Reason> {
    parse_cell(&FieldType::from_scalar(ty), raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    /// A field of the model, as the front end makes it.
    fn field(ty: FieldType, optional: bool, max_length: Option<u32>) -> Field {
        Field {
            ty,
            optional,
            max_length,
            description: None,
            charset: Default::default(),
            span: Default::default(),
        }
    }

    fn model() -> ContactModel {
        let mut m = ContactModel::default();
        let f = |ty, optional| field(ty, optional, None);
        m.fields.insert(
            "region".into(),
            f(
                FieldType::Enum {
                    values: vec!["IDF".into(), "PACA".into()],
                },
                false,
            ),
        );
        m.fields.insert("total".into(), f(FieldType::Number, false));
        m.fields
            .insert("tags".into(), f(FieldType::List { of: ScalarType::String }, false));
        m.fields.insert("seen".into(), f(FieldType::Datetime, true));
        m.consents.insert(
            "sms".into(),
            crate::model::Consent {
                channel: crate::ast::values::Channel::Sms,
                double_opt_in: false,
                topics: Vec::new(),
                span: Default::default(),
            },
        );
        m
    }

    #[test]
    fn fast_date_paths_agree_with_chrono() {
        for s in ["2026-11-27", "2024-02-29", "1900-01-01", "9999-12-31"] {
            assert_eq!(
                fast_date(s.as_bytes()),
                NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
                "{s}"
            );
        }
        // Impossible dates and other shapes are not taken by the fast path.
        for s in ["2025-02-29", "2026-13-01", "2026-1-01x", "20261127ab", "2026/11/27"] {
            assert_eq!(fast_date(s.as_bytes()), None, "{s}");
        }
        for s in ["2026-11-27T10:00:00Z", "2026-11-27 23:59:59", "2026-11-27T10:00:00"] {
            let slow =
                NaiveDateTime::parse_from_str(s.trim_end_matches('Z').replace(' ', "T").as_str(), "%Y-%m-%dT%H:%M:%S")
                    .map(|d| d.and_utc())
                    .ok();
            assert_eq!(fast_datetime(s), slow, "{s}");
        }
        for s in [
            "2026-11-27T24:00:00Z",
            "2026-11-27T10:00:00+02:00",
            "2026-11-27X10:00:00Z",
        ] {
            assert_eq!(fast_datetime(s), None, "{s}");
        }
        // The general path still reads offsets.
        assert_eq!(
            parse_datetime("2026-11-27T12:00:00+02:00").unwrap(),
            fast_datetime("2026-11-27T10:00:00Z").unwrap()
        );
        assert_eq!(consent_flag("TRUE"), Some(true));
        assert_eq!(consent_flag(""), Some(false));
        assert_eq!(consent_flag("maybe"), None);
    }

    #[test]
    fn reusing_a_contact_gives_the_same_result_as_a_fresh_parse() {
        let m = model();
        let layout = Layout::new(&m, &["id", "region", "total", "tags", "seen", "consent_sms"]).unwrap();
        let rows: [&[&str]; 4] = [
            &["a", "IDF", "1", "x|y|z", "2026-01-01T10:00:00Z", "true"],
            &["b", "PACA", "2.5", "w", "", "false"],
            &["c", "IDF", "3", "", "2026-01-02", ""],
            &["d", "PACA", "4", "p|q", "2026-01-03T00:00:00+01:00", "yes"],
        ];
        let mut reused = Contact::default();
        for row in rows {
            layout.parse_row_into(row, &mut reused).unwrap();
            assert_eq!(reused, layout.parse_row(row).unwrap(), "{row:?}");
        }
        // A bad row in between does not leak into the next one.
        assert!(
            layout
                .parse_row_into(&["e", "MARS", "1", "x", "", "true"], &mut reused)
                .is_err()
        );
        layout.parse_row_into(rows[1], &mut reused).unwrap();
        assert_eq!(reused, layout.parse_row(rows[1]).unwrap());
    }

    #[test]
    fn rows_are_typed_by_the_model() {
        let m = model();
        let layout = Layout::new(
            &m,
            &["id", "region", "total", "tags", "seen", "consent_sms", "consent_sms_at"],
        )
        .unwrap();
        let c = layout
            .parse_row(&["c1", "IDF", "12.5", "a|b", "", "true", "2025-01-02"])
            .unwrap();
        assert_eq!(
            c.fields[layout.field("region").unwrap()],
            Some(FieldValue::Text("IDF".into()))
        );
        assert_eq!(c.fields[layout.field("total").unwrap()], Some(FieldValue::Number(12.5)));
        assert_eq!(c.fields[layout.field("seen").unwrap()], None);
        assert!(c.consents[0].given);
        assert_eq!(
            layout
                .parse_row(&["c2", "Paris", "1", "", "", "false", ""])
                .unwrap_err(),
            RowProblem::new("region", Reason::NotOneOf(vec!["IDF".into(), "PACA".into()]))
        );
        assert_eq!(
            layout.parse_row(&["c3", "IDF", "x", "", "", "", ""]).unwrap_err(),
            RowProblem::new("total", Reason::NotANumber)
        );
        assert!(layout.parse_row(&["", "IDF", "1", "", "", "", ""]).is_err());
    }

    #[test]
    fn rows_are_validated_and_problems_never_hold_the_value() {
        let mut m = ContactModel::default();
        let f = field;
        m.fields.insert("name".into(), f(FieldType::String, true, Some(5)));
        m.fields.insert("email".into(), f(FieldType::Email, true, None));
        m.fields.insert("phone".into(), f(FieldType::Phone, true, None));
        m.fields.insert("n".into(), f(FieldType::Integer, true, None));
        let layout = Layout::new(&m, &["id", "name", "email", "phone", "n"]).unwrap();
        let ok = layout.parse_row(&["a", "Éloï", "x.y+z@mail.example.fr", "+33612345678", "3"]);
        assert!(ok.is_ok(), "{ok:?}");
        assert!(layout.parse_row(&["a", "Ann", "", "", ""]).is_ok());
        for (row, column, reason) in [
            (["a", "Sixsix", "", "", ""], "name", Reason::TooLong { max: 5 }),
            (["a", "", "", "", "secret-4.5"], "n", Reason::NotAWholeNumber),
            (["", "", "", "", ""], "id", Reason::Empty),
        ] {
            let problem = layout.parse_row(&row).unwrap_err();
            assert_eq!(problem, RowProblem::new(column, reason));
            let shown = problem.to_string();
            for value in row.iter().filter(|v| v.len() > 1) {
                assert!(!shown.contains(value), "{shown} echoes {value}");
            }
        }
        // Five characters, not five bytes.
        assert!(layout.parse_row(&["a", "Éloïs", "", "", ""]).is_ok());
    }

    #[test]
    fn an_invalid_address_keeps_the_contact_and_marks_the_field() {
        let mut m = ContactModel::default();
        let f = |ty| field(ty, false, None);
        m.fields.insert("email".into(), f(FieldType::Email));
        m.fields.insert("phone".into(), f(FieldType::Phone));
        let layout = Layout::new(&m, &["id", "email", "phone"]).unwrap();
        let (email, phone) = (layout.field("email").unwrap(), layout.field("phone").unwrap());
        let mut c = layout.parse_row(&["a", "secret-not-email", "06 12 34 56 78"]).unwrap();
        assert!(c.is_invalid(email) && c.is_invalid(phone));
        // The value stays as the CRM has it, for audiences and templates.
        assert_eq!(c.fields[phone], Some(FieldValue::Text("06 12 34 56 78".into())));
        let problems: Vec<RowProblem> = layout.invalid_addresses(&c).collect();
        assert_eq!(
            problems,
            [
                RowProblem::new("email", Reason::NotAnEmail),
                RowProblem::new("phone", Reason::NotAPhone)
            ]
        );
        for p in &problems {
            assert!(
                !p.to_string().contains("secret") && !p.to_string().contains("06 12"),
                "{p}"
            );
        }
        // A reused contact forgets the marks of the row before.
        layout
            .parse_row_into(&["b", "ann@mail.example.fr", "06 12 34 56 78"], &mut c)
            .unwrap();
        assert!(!c.is_invalid(email) && c.is_invalid(phone));
        // A value over several lines (a quote not closed) rejects the row.
        assert_eq!(
            layout
                .parse_row(&["d", "a@b.fr\nd2,x@y.fr", "+33612345678"])
                .unwrap_err(),
            RowProblem::new("email", Reason::NotAnEmail)
        );
        // An empty required address is still a rejected row.
        assert_eq!(
            layout.parse_row(&["c", "", "+33612345678"]).unwrap_err(),
            RowProblem::new("email", Reason::Empty)
        );
    }

    #[test]
    fn a_gsm7_field_rejects_rows_outside_gsm7_without_echoing_them() {
        let mut m = ContactModel::default();
        m.fields.insert(
            "first_name".into(),
            Field {
                ty: FieldType::String,
                optional: true,
                max_length: Some(20),
                description: None,
                charset: crate::ast::Charset::Gsm7,
                span: Default::default(),
            },
        );
        let layout = Layout::new(&m, &["id", "first_name"]).unwrap();
        // GSM-7 holds é, è, ü… but not ë nor ç (lower case).
        for ok in ["Noel", "Zoé", "Hélène", "Müller", ""] {
            assert!(layout.parse_row(&["a", ok]).is_ok(), "{ok}");
        }
        for bad in ["Noël", "François", "Anaïs", "李"] {
            let problem = layout.parse_row(&["a", bad]).unwrap_err();
            assert_eq!(problem, RowProblem::new("first_name", Reason::NotGsm7), "{bad}");
            assert!(!problem.to_string().contains(bad), "{problem}");
        }
    }

    #[test]
    fn phone_and_email_syntax() {
        for p in ["+33612345678", "+12025550123", "+4420"] {
            assert!(is_e164(p), "{p}");
        }
        for p in [
            "0612345678",
            "+0612345678",
            "+33 6 12 34 56 78",
            "+3361234567890123",
            "+",
            "+1",
            "not-a-phone",
        ] {
            assert!(!is_e164(p), "{p}");
        }
        for e in [
            "a@b.fr",
            "jean.dupont+promo@mail.example.test",
            "o'neil@x-y.example",
            "zoé@exemple.fr",
        ] {
            assert!(is_email(e), "{e}");
        }
        for e in [
            "not-an-email",
            "a@b",
            "@b.fr",
            "a@.fr",
            "a@b..fr",
            "a@-b.fr",
            "a b@c.fr",
            "a@b.fr ",
            "a@@b.fr",
            "a@b_c.fr",
        ] {
            assert!(!is_email(e), "{e}");
        }
        assert!(!is_email(&format!("{}@b.fr", "a".repeat(65))));
    }

    #[test]
    fn a_layout_for_the_model_types_single_fields_like_rows() {
        let m = model();
        let layout = Layout::for_model(&m);
        let region = layout.field("region").unwrap();
        assert_eq!(
            layout.parse_field(region, "IDF"),
            Ok(Some(FieldValue::Text("IDF".into())))
        );
        assert_eq!(
            layout.parse_field(region, "Paris"),
            Err(Reason::NotOneOf(vec!["IDF".into(), "PACA".into()]))
        );
        let tags = layout.field("tags").unwrap();
        assert_eq!(
            layout.parse_field(tags, "a|b"),
            Ok(Some(FieldValue::List(vec![
                FieldValue::Text("a".into()),
                FieldValue::Text("b".into())
            ])))
        );
        assert_eq!(layout.parse_field(layout.field("seen").unwrap(), ""), Ok(None));
        assert_eq!(layout.consent("sms"), Some(0));
        // A row of that layout (the model's fields in name order) parses as usual.
        let c = layout.parse_row(&["c", "PACA", "", "x", "2", "true", ""]).unwrap();
        assert_eq!(c.fields[layout.field("total").unwrap()], Some(FieldValue::Number(2.0)));
        assert!(c.consents[0].given);
    }

    #[test]
    fn headers_must_hold_the_required_columns() {
        let m = model();
        assert_eq!(Layout::new(&m, &["region"]).unwrap_err(), HeaderError::MissingId);
        assert_eq!(
            Layout::new(&m, &["id", "region", "tags"]).unwrap_err(),
            HeaderError::MissingColumn("total".into())
        );
        // Optional fields and consents may be absent.
        assert!(Layout::new(&m, &["id", "region", "total", "tags"]).is_ok());
    }
}
