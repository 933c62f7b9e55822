//! Evaluating typed conditions on a contact: the semantics of the condition
//! language, shared by `plan` (forecasts) and the runtime (sends).
//!
//! - A comparison, `in`, or `within` on a missing value is false; `not` of it
//!   is true; `is set` tests presence.
//! - Dates compare with date-times at midnight UTC; `within D` holds for a
//!   moment in `[now - D, now]`.
//! - `opened`, `clicked` and `count` read the contact's engagement history;
//!   without one (a forecast on CRM data alone) they are false / 0.
//!
//! Conditions are first compiled against a [`Layout`] (names resolved to
//! indices, literals typed), so evaluating one on a million contacts does no
//! lookups by name. The moment is given at evaluation ([`Subject::now`]): the
//! step engine evaluates the same compiled condition at each simulated or
//! real instant.

use crate::ast::values::Period;
use crate::contact::{Contact, FieldValue, Layout};
use crate::expr::CmpOp;
use crate::model::{Cond, CondKind, Operand, Plan, Value, ValueRef};
use chrono::{DateTime, NaiveDate, Utc};
use std::cmp::Ordering;

/// What happened to a contact (events, opens, clicks), read as of a moment:
/// a condition evaluated at `at` sees only what happened by then. The
/// forecast uses [`NoHistory`].
pub trait History {
    fn opened(&self, message: &str, at: DateTime<Utc>) -> bool;
    fn clicked(&self, message: &str, at: DateTime<Utc>) -> bool;
    /// Occurrences of `event` in `(since, at]` (`since: None`: ever).
    fn count(&self, event: &str, since: Option<DateTime<Utc>>, at: DateTime<Utc>) -> u64;
    /// The instants of `event` in `(since, at]`, in time order, appended to
    /// `out` (the forecast replays past trigger events through the entry
    /// rule). A history that keeps no instants has none.
    fn times(&self, _event: &str, _since: DateTime<Utc>, _at: DateTime<Utc>, _out: &mut Vec<DateTime<Utc>>) {}
}

pub struct NoHistory;

impl History for NoHistory {
    fn opened(&self, _: &str, _: DateTime<Utc>) -> bool {
        false
    }
    fn clicked(&self, _: &str, _: DateTime<Utc>) -> bool {
        false
    }
    fn count(&self, _: &str, _: Option<DateTime<Utc>>, _: DateTime<Utc>) -> u64 {
        0
    }
}

/// A value reference, resolved.
#[derive(Clone, Debug)]
enum Ref {
    Id,
    /// Index in the layout (`None`: the source has no such column).
    Field(Option<usize>),
    Event(String),
}

#[derive(Clone, Debug)]
enum Arg {
    Ref(Ref),
    Value(FieldValue),
    Count {
        event: String,
        /// The window before now (`None`: ever).
        within: Option<Period>,
    },
    Now,
}

/// A compiled condition.
#[derive(Clone, Debug)]
pub struct Compiled(Node);

#[derive(Clone, Debug)]
enum Node {
    Const(bool),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Compare(Arg, CmpOp, Arg),
    InList(Ref, Vec<FieldValue>, bool),
    Contains(Ref, FieldValue, bool),
    IsSet(Ref, bool),
    /// In `[now - window, now]` (months counted on the calendar).
    Within(Ref, Period, bool),
    Flag(Ref),
    Segment(usize),
    Consent(Option<usize>),
    Opened(String),
    Clicked(String),
}

/// Everything a condition may read about one contact.
pub struct Subject<'a> {
    pub contact: &'a Contact,
    /// The moment the condition is evaluated at (`within`, `count(e, D)`).
    pub now: DateTime<Utc>,
    /// Properties of the triggering event, if any.
    pub event: Option<&'a [(String, Option<FieldValue>)]>,
    pub history: &'a dyn History,
}

/// Compiles conditions for one layout and one moment, and evaluates them.
pub struct Evaluator {
    segments: Vec<Node>,
    segment_names: Vec<String>,
    layout: Layout,
}

/// Segment membership of the current contact at one moment (segments are
/// shared by many audiences). It forgets by itself when the moment changes;
/// [`Memo::reset`] it for another contact.
pub struct Memo {
    at: Option<DateTime<Utc>>,
    segments: Vec<Option<bool>>,
}

impl Memo {
    /// Forget the previous contact.
    pub fn reset(&mut self) {
        self.at = None;
        self.segments.iter_mut().for_each(|s| *s = None);
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

struct Builder<'a> {
    layout: &'a Layout,
    segment_names: &'a [String],
}

impl Builder<'_> {
    fn reference(&self, r: &ValueRef) -> Ref {
        match r {
            ValueRef::Field(f) if f == crate::model::ID_FIELD => Ref::Id,
            ValueRef::Field(f) => Ref::Field(self.layout.field(f)),
            ValueRef::EventProperty(p) => Ref::Event(p.clone()),
        }
    }

    fn arg(&self, o: &Operand) -> Arg {
        match o {
            Operand::Ref(r) => Arg::Ref(self.reference(r)),
            Operand::Value(v) => Arg::Value(literal(v)),
            Operand::Count { event, within } => Arg::Count {
                event: event.clone(),
                within: *within,
            },
            Operand::Now => Arg::Now,
        }
    }

    fn node(&self, c: &Cond) -> Node {
        match &c.kind {
            CondKind::Const { value } => Node::Const(*value),
            CondKind::And { all } => Node::And(all.iter().map(|x| self.node(x)).collect()),
            CondKind::Or { any } => Node::Or(any.iter().map(|x| self.node(x)).collect()),
            CondKind::Not { cond } => Node::Not(Box::new(self.node(cond))),
            CondKind::Compare { lhs, cmp, rhs } => Node::Compare(self.arg(lhs), *cmp, self.arg(rhs)),
            CondKind::InList { value, list, negated } => {
                Node::InList(self.reference(value), list.iter().map(literal).collect(), *negated)
            }
            CondKind::Contains { list, value, negated } => {
                Node::Contains(self.reference(list), literal(value), *negated)
            }
            CondKind::IsSet { value, negated } => Node::IsSet(self.reference(value), *negated),
            CondKind::Within {
                value,
                duration,
                negated,
            } => Node::Within(self.reference(value), *duration, *negated),
            CondKind::Flag { value } => Node::Flag(self.reference(value)),
            CondKind::Segment { name } => match self.segment_names.iter().position(|s| s == name) {
                Some(i) => Node::Segment(i),
                None => Node::Const(false),
            },
            CondKind::Consent { name } => Node::Consent(self.layout.consent(name)),
            CondKind::Opened { message } => Node::Opened(message.clone()),
            CondKind::Clicked { message } => Node::Clicked(message.clone()),
        }
    }
}

impl Evaluator {
    pub fn new(plan: &Plan, layout: &Layout) -> Evaluator {
        let segment_names: Vec<String> = plan.segments.keys().cloned().collect();
        let b = Builder {
            layout,
            segment_names: &segment_names,
        };
        let segments = plan.segments.values().map(|s| b.node(&s.condition)).collect();
        Evaluator {
            segments,
            segment_names,
            layout: layout.clone(),
        }
    }

    /// Compile a condition of the plan (for the layout of [`Evaluator::new`]).
    pub fn compile(&self, c: &Cond) -> Compiled {
        let b = Builder {
            layout: &self.layout,
            segment_names: &self.segment_names,
        };
        Compiled(b.node(c))
    }

    /// Whether a condition reads the contact's history (`count`, `opened`,
    /// `clicked`), directly or through a segment: drivers load it only then.
    pub fn reads_history(&self, c: &Compiled) -> bool {
        self.node_reads_history(&c.0, 0)
    }

    fn node_reads_history(&self, n: &Node, depth: usize) -> bool {
        // Segments cannot refer to each other in a cycle (`check`), so the
        // depth is bounded by their number; the guard is for damaged input.
        if depth > self.segments.len() + 64 {
            return false;
        }
        match n {
            Node::Opened(_) | Node::Clicked(_) => true,
            Node::Compare(a, _, b) => matches!(a, Arg::Count { .. }) || matches!(b, Arg::Count { .. }),
            Node::And(xs) | Node::Or(xs) => xs.iter().any(|x| self.node_reads_history(x, depth + 1)),
            Node::Not(x) => self.node_reads_history(x, depth + 1),
            Node::Segment(i) => self
                .segments
                .get(*i)
                .is_some_and(|s| self.node_reads_history(s, depth + 1)),
            _ => false,
        }
    }

    /// Whether a condition reads the triggering event's properties
    /// (`event.amount`): an event history keeps no properties, so such a
    /// trigger cannot be replayed from it.
    pub fn reads_event(&self, c: &Compiled) -> bool {
        fn is_event(r: &Ref) -> bool {
            matches!(r, Ref::Event(_))
        }
        fn arg(a: &Arg) -> bool {
            matches!(a, Arg::Ref(Ref::Event(_)))
        }
        fn node(n: &Node) -> bool {
            match n {
                Node::Compare(a, _, b) => arg(a) || arg(b),
                Node::InList(r, ..)
                | Node::Contains(r, ..)
                | Node::IsSet(r, _)
                | Node::Within(r, ..)
                | Node::Flag(r) => is_event(r),
                Node::And(xs) | Node::Or(xs) => xs.iter().any(node),
                Node::Not(x) => node(x),
                // Segments are about contacts: they cannot name `event.`.
                _ => false,
            }
        }
        node(&c.0)
    }

    pub fn memo(&self) -> Memo {
        Memo {
            at: None,
            segments: vec![None; self.segments.len()],
        }
    }

    pub fn eval(&self, s: &Subject, memo: &mut Memo, c: &Compiled) -> bool {
        if memo.at != Some(s.now) {
            memo.segments.iter_mut().for_each(|x| *x = None);
            memo.at = Some(s.now);
        }
        self.node(s, memo, &c.0)
    }

    fn value<'a>(&self, s: &'a Subject, r: &'a Ref) -> Option<std::borrow::Cow<'a, FieldValue>> {
        use std::borrow::Cow;
        match r {
            Ref::Id => Some(Cow::Owned(FieldValue::Text(s.contact.id.clone()))),
            Ref::Field(Some(i)) => s.contact.fields.get(*i)?.as_ref().map(Cow::Borrowed),
            Ref::Field(None) => None,
            Ref::Event(p) => s
                .event?
                .iter()
                .find(|(n, _)| n == p)
                .and_then(|(_, v)| v.as_ref())
                .map(Cow::Borrowed),
        }
    }

    fn arg<'a>(&self, s: &'a Subject, a: &'a Arg) -> Option<std::borrow::Cow<'a, FieldValue>> {
        use std::borrow::Cow;
        match a {
            Arg::Ref(r) => self.value(s, r),
            Arg::Value(v) => Some(Cow::Borrowed(v)),
            Arg::Count { event, within } => {
                // A window reaching before the first representable instant is "ever".
                let since = within.and_then(|w| w.before(s.now));
                Some(Cow::Owned(FieldValue::Number(
                    s.history.count(event, since, s.now) as f64
                )))
            }
            Arg::Now => Some(Cow::Owned(FieldValue::DateTime(s.now))),
        }
    }

    fn node(&self, s: &Subject, memo: &mut Memo, n: &Node) -> bool {
        match n {
            Node::Const(v) => *v,
            Node::And(xs) => xs.iter().all(|x| self.node(s, memo, x)),
            Node::Or(xs) => xs.iter().any(|x| self.node(s, memo, x)),
            Node::Not(x) => !self.node(s, memo, x),
            Node::Compare(a, op, b) => match (self.arg(s, a), self.arg(s, b)) {
                (Some(x), Some(y)) => compare(&x, &y).is_some_and(|o| holds(*op, o)),
                _ => false,
            },
            Node::InList(r, list, negated) => match self.value(s, r) {
                None => false,
                Some(v) => list.iter().any(|l| compare(&v, l) == Some(Ordering::Equal)) != *negated,
            },
            Node::Contains(r, v, negated) => match self.value(s, r).as_deref() {
                Some(FieldValue::List(items)) => {
                    items.iter().any(|i| compare(i, v) == Some(Ordering::Equal)) != *negated
                }
                _ => false,
            },
            Node::IsSet(r, negated) => self.value(s, r).is_some() != *negated,
            Node::Within(r, window, negated) => {
                let at = match self.value(s, r).as_deref() {
                    Some(FieldValue::DateTime(d)) => *d,
                    Some(FieldValue::Date(d)) => midnight(*d),
                    _ => return false,
                };
                let from = window.before(s.now).unwrap_or(DateTime::<Utc>::MIN_UTC);
                (at <= s.now && at >= from) != *negated
            }
            Node::Flag(r) => matches!(self.value(s, r).as_deref(), Some(FieldValue::Bool(true))),
            Node::Segment(i) => {
                if let Some(known) = memo.segments.get(*i).copied().flatten() {
                    return known;
                }
                let result = self.segments.get(*i).is_some_and(|seg| self.node(s, memo, seg));
                if let Some(slot) = memo.segments.get_mut(*i) {
                    *slot = Some(result);
                }
                result
            }
            Node::Consent(i) => i.and_then(|i| s.contact.consents.get(i)).is_some_and(|c| c.given),
            Node::Opened(m) => s.history.opened(m, s.now),
            Node::Clicked(m) => s.history.clicked(m, s.now),
        }
    }
}
