//! Contacts as typed values, read against the contact model. Pure: the
//! runtime reads rows (CSV, SQLite…) and hands cells to [`Layout::parse_row`].

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
}

/// Where each field and consent of the model is, in a contact and in a row.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Field names in model order, with their types.
    pub fields: Vec<(String, FieldType, bool)>,
    pub consents: Vec<String>,
    field_index: BTreeMap<String, usize>,
    consent_index: BTreeMap<String, usize>,
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
        let mut field_cols = Vec::new();
        let mut field_index = BTreeMap::new();
        for (i, (name, f)) in model.fields.iter().enumerate() {
            let c = col(name);
            if c.is_none() && !f.optional {
                return Err(HeaderError::MissingColumn(name.clone()));
            }
            fields.push((name.clone(), f.ty.clone(), f.optional));
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
            consents,
            field_index,
            consent_index,
            id_col,
            field_cols,
            consent_cols,
        })
    }

    pub fn field(&self, name: &str) -> Option<usize> {
        self.field_index.get(name).copied()
    }

    pub fn consent(&self, name: &str) -> Option<usize> {
        self.consent_index.get(name).copied()
    }

    /// Parse one row. Errors name the column and the value's problem.
    pub fn parse_row(&self, row: &[&str]) -> Result<Contact, String> {
        let id = row.get(self.id_col).map(|s| s.trim()).unwrap_or("");
        if id.is_empty() {
            return Err("`id` is empty".into());
        }
        let mut fields = Vec::with_capacity(self.fields.len());
        for ((name, ty, optional), col) in self.fields.iter().zip(&self.field_cols) {
            let raw = col.and_then(|c| row.get(c)).map_or("", |s| s.trim());
            match parse_cell(ty, raw) {
                Ok(None) if !optional => return Err(format!("`{name}` is empty but the field is not optional")),
                Ok(v) => fields.push(v),
                Err(e) => return Err(format!("`{name}`: {e}")),
            }
        }
        let mut consents = Vec::with_capacity(self.consents.len());
        for (name, (c, at)) in self.consents.iter().zip(&self.consent_cols) {
            let given = match c.and_then(|c| row.get(c)).map(|s| s.trim().to_ascii_lowercase()) {
                None => false,
                Some(v) => match v.as_str() {
                    "true" | "1" | "yes" | "y" => true,
                    "false" | "0" | "no" | "n" | "" => false,
                    other => return Err(format!("`consent_{name}` is `{other}`, expected true or false")),
                },
            };
            let at = match at.and_then(|c| row.get(c)).map(|s| s.trim()).filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => Some(parse_date(s).map_err(|e| format!("`consent_{name}_at`: {e}"))?),
            };
            consents.push(ConsentState { given, at });
        }
        Ok(Contact {
            id: id.to_string(),
            fields,
            consents,
        })
    }
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| parse_datetime(s).map(|d| d.date_naive()))
        .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD)"))
}

fn parse_datetime(s: &str) -> Result<DateTime<Utc>, String> {
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
    Err(format!(
        "`{s}` is not a date and time (RFC 3339, such as 2026-11-27T10:00:00Z)"
    ))
}

fn parse_scalar(ty: &FieldType, raw: &str) -> Result<FieldValue, String> {
    Ok(match ty {
        FieldType::String | FieldType::Email | FieldType::Phone | FieldType::Timezone => {
            FieldValue::Text(raw.to_string())
        }
        FieldType::Enum { values } => {
            if !values.iter().any(|v| v == raw) {
                return Err(format!("`{raw}` is not one of {}", values.join(", ")));
            }
            FieldValue::Text(raw.to_string())
        }
        FieldType::Number => FieldValue::Number(
            raw.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| format!("`{raw}` is not a number"))?,
        ),
        FieldType::Integer => FieldValue::Number(
            raw.parse::<i64>()
                .map_err(|_| format!("`{raw}` is not a whole number"))? as f64,
        ),
        FieldType::Boolean => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => FieldValue::Bool(true),
            "false" | "0" | "no" => FieldValue::Bool(false),
            _ => return Err(format!("`{raw}` is not true or false")),
        },
        FieldType::Date => FieldValue::Date(parse_date(raw)?),
        FieldType::Datetime => FieldValue::DateTime(parse_datetime(raw)?),
        FieldType::List { of } => FieldValue::List(
            raw.split('|')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| parse_scalar(&FieldType::from_scalar(*of), s))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A cell as a typed value; `None` for an empty cell (lists: an empty list).
pub fn parse_cell(ty: &FieldType, raw: &str) -> Result<Option<FieldValue>, String> {
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
pub fn parse_property(ty: ScalarType, raw: &str) -> Result<Option<FieldValue>, String> {
    parse_cell(&FieldType::from_scalar(ty), raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    fn model() -> ContactModel {
        let mut m = ContactModel::default();
        let f = |ty, optional| Field {
            ty,
            optional,
            max_length: None,
            description: None,
            span: Default::default(),
        };
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
                span: Default::default(),
            },
        );
        m
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
        assert!(
            layout
                .parse_row(&["c2", "Paris", "1", "", "", "false", ""])
                .unwrap_err()
                .contains("`region`")
        );
        assert!(
            layout
                .parse_row(&["c3", "IDF", "x", "", "", "", ""])
                .unwrap_err()
                .contains("not a number")
        );
        assert!(layout.parse_row(&["", "IDF", "1", "", "", "", ""]).is_err());
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
