//! Evaluating typed conditions on a contact: the semantics of the condition
//! language, shared by `plan` (forecasts) and the runtime (sends).
//!
//! - A comparison, `in`, or `within` on a missing value is false; `not` of it
//!   is true; `is set` tests presence.
//! - Dates compare with date-times at midnight UTC; `within D` holds for a
//!   moment in `[now - D, now]`.
//! - `opened`, `clicked` and `count` read the contact's engagement history;
//!   without one (a forecast on CRM data alone) they are false / 0.

use crate::contact::{Contact, FieldValue, Layout};
use crate::expr::CmpOp;
use crate::model::{Cond, CondKind, Operand, Plan, Value, ValueRef};
use chrono::{DateTime, NaiveDate, Utc};
use std::cmp::Ordering;

/// What happened to a contact before (events, opens, clicks). The forecast
/// uses [`NoHistory`].
pub trait History {
    fn opened(&self, message: &str) -> bool;
    fn clicked(&self, message: &str) -> bool;
    fn count(&self, event: &str, since: Option<DateTime<Utc>>) -> u64;
}

pub struct NoHistory;

impl History for NoHistory {
    fn opened(&self, _: &str) -> bool {
        false
    }
    fn clicked(&self, _: &str) -> bool {
        false
    }
    fn count(&self, _: &str, _: Option<DateTime<Utc>>) -> u64 {
        0
    }
}

/// Everything a condition may read about one contact at one moment.
pub struct Subject<'a> {
    pub plan: &'a Plan,
    pub layout: &'a Layout,
    pub contact: &'a Contact,
    pub now: DateTime<Utc>,
    /// Properties of the triggering event, if any.
    pub event: Option<&'a [(String, Option<FieldValue>)]>,
    pub history: &'a dyn History,
}

/// Segment membership, memoised per contact (segments are shared by many audiences).
pub struct Memo {
    segments: Vec<Option<bool>>,
    index: std::collections::BTreeMap<String, usize>,
}

impl Memo {
    pub fn new(plan: &Plan) -> Memo {
        Memo {
            segments: vec![None; plan.segments.len()],
            index: plan.segments.keys().enumerate().map(|(i, k)| (k.clone(), i)).collect(),
        }
    }
    /// Forget the previous contact.
    pub fn reset(&mut self) {
        self.segments.iter_mut().for_each(|s| *s = None);
    }
}

fn value_of<'a>(s: &'a Subject, r: &ValueRef) -> Option<std::borrow::Cow<'a, FieldValue>> {
    use std::borrow::Cow;
    match r {
        ValueRef::Field(name) if name == crate::model::ID_FIELD => {
            Some(Cow::Owned(FieldValue::Text(s.contact.id.clone())))
        }
        ValueRef::Field(name) => {
            let i = s.layout.field(name)?;
            s.contact.fields.get(i)?.as_ref().map(Cow::Borrowed)
        }
        ValueRef::EventProperty(p) => s
            .event?
            .iter()
            .find(|(n, _)| n == p)
            .and_then(|(_, v)| v.as_ref())
            .map(Cow::Borrowed),
    }
}

fn literal(v: &Value) -> FieldValue {
    match v {
        Value::String(s) => FieldValue::Text(s.clone()),
        Value::Number(n) => FieldValue::Number(*n),
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::Date(d) => FieldValue::Date(*d),
        Value::DateTime(d) => FieldValue::DateTime(d.and_utc()),
    }
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// Order two values of compatible types (`None`: incomparable).
fn compare(a: &FieldValue, b: &FieldValue) -> Option<Ordering> {
    use FieldValue as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => x.partial_cmp(y),
        (V::Text(x), V::Text(y)) => Some(x.cmp(y)),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        (V::Date(x), V::Date(y)) => Some(x.cmp(y)),
        (V::DateTime(x), V::DateTime(y)) => Some(x.cmp(y)),
        (V::Date(x), V::DateTime(y)) => Some(midnight(*x).cmp(y)),
        (V::DateTime(x), V::Date(y)) => Some(x.cmp(&midnight(*y))),
        _ => None,
    }
}

fn holds(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
    }
}

fn operand<'a>(s: &'a Subject, o: &'a Operand) -> Option<std::borrow::Cow<'a, FieldValue>> {
    use std::borrow::Cow;
    match o {
        Operand::Ref(r) => value_of(s, r),
        Operand::Value(v) => Some(Cow::Owned(literal(v))),
        Operand::Count { event, within } => {
            let since = within.map(|d| s.now - d.as_chrono());
            Some(Cow::Owned(FieldValue::Number(s.history.count(event, since) as f64)))
        }
    }
}

/// Evaluate a condition.
pub fn eval(s: &Subject, memo: &mut Memo, c: &Cond) -> bool {
    match &c.kind {
        CondKind::Const { value } => *value,
        CondKind::And { all } => all.iter().all(|x| eval(s, memo, x)),
        CondKind::Or { any } => any.iter().any(|x| eval(s, memo, x)),
        CondKind::Not { cond } => !eval(s, memo, cond),
        CondKind::Compare { lhs, cmp, rhs } => match (operand(s, lhs), operand(s, rhs)) {
            (Some(a), Some(b)) => compare(&a, &b).is_some_and(|o| holds(*cmp, o)),
            _ => false,
        },
        CondKind::InList { value, list, negated } => match value_of(s, value) {
            None => false,
            Some(v) => {
                let found = list.iter().any(|l| compare(&v, &literal(l)) == Some(Ordering::Equal));
                found != *negated
            }
        },
        CondKind::Contains { list, value, negated } => match value_of(s, list).as_deref() {
            Some(FieldValue::List(items)) => {
                let v = literal(value);
                let found = items.iter().any(|i| compare(i, &v) == Some(Ordering::Equal));
                found != *negated
            }
            _ => false,
        },
        CondKind::IsSet { value, negated } => value_of(s, value).is_some() != *negated,
        CondKind::Within {
            value,
            duration,
            negated,
        } => {
            let at = match value_of(s, value).as_deref() {
                Some(FieldValue::DateTime(d)) => *d,
                Some(FieldValue::Date(d)) => midnight(*d),
                _ => return false,
            };
            let inside = at <= s.now && at >= s.now - duration.as_chrono();
            inside != *negated
        }
        CondKind::Flag { value } => matches!(value_of(s, value).as_deref(), Some(FieldValue::Bool(true))),
        CondKind::Segment { name } => {
            let Some(&i) = memo.index.get(name) else { return false };
            if let Some(known) = memo.segments.get(i).copied().flatten() {
                return known;
            }
            let result = s
                .plan
                .segments
                .get(name)
                .is_some_and(|seg| eval(s, memo, &seg.condition));
            if let Some(slot) = memo.segments.get_mut(i) {
                *slot = Some(result);
            }
            result
        }
        CondKind::Consent { name } => s
            .layout
            .consent(name)
            .and_then(|i| s.contact.consents.get(i))
            .is_some_and(|c| c.given),
        CondKind::Opened { message } => s.history.opened(message),
        CondKind::Clicked { message } => s.history.clicked(message),
    }
}
