//! Typed conditions: what the runtime evaluates and the rules reason about.

use crate::ast::values::Duration;
use crate::expr::CmpOp;
use crate::source::Span;
use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cond {
    #[serde(flatten)]
    pub kind: CondKind,
    #[serde(skip)]
    pub span: Span,
}

/// A value read from the contact or from the triggering event.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueRef {
    Field(String),
    EventProperty(String),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    String(String),
    Number(f64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operand {
    Ref(ValueRef),
    /// How many times the contact emitted the event (in the window, if any).
    Count {
        event: String,
        within: Option<Duration>,
    },
    Value(Value),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum CondKind {
    Const {
        value: bool,
    },
    And {
        all: Vec<Cond>,
    },
    Or {
        any: Vec<Cond>,
    },
    Not {
        cond: Box<Cond>,
    },
    Compare {
        lhs: Operand,
        cmp: CmpOp,
        rhs: Operand,
    },
    /// `value in [..]` (or `not in`).
    InList {
        value: ValueRef,
        list: Vec<Value>,
        negated: bool,
    },
    /// `"v" in list_field` (or `not in`).
    Contains {
        list: ValueRef,
        value: Value,
        negated: bool,
    },
    IsSet {
        value: ValueRef,
        negated: bool,
    },
    /// A date/datetime within the last `duration` before now (or not).
    Within {
        value: ValueRef,
        duration: Duration,
        negated: bool,
    },
    /// A boolean field used as a condition.
    Flag {
        value: ValueRef,
    },
    Segment {
        name: String,
    },
    Consent {
        name: String,
    },
    Opened {
        message: String,
    },
    Clicked {
        message: String,
    },
}

impl Cond {
    pub fn new(kind: CondKind, span: Span) -> Self {
        Cond { kind, span }
    }

    /// Visit this condition and every sub-condition.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Cond)) {
        f(self);
        match &self.kind {
            CondKind::And { all: xs } | CondKind::Or { any: xs } => {
                for x in xs {
                    x.walk(f);
                }
            }
            CondKind::Not { cond } => cond.walk(f),
            _ => {}
        }
    }
}
