//! Typed conditions: what the runtime evaluates and the rules reason about.

use crate::ast::values::Period;
use crate::expr::CmpOp;
use crate::source::Span;
use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

/// A typed condition. It serialises as its canonical text (the condition
/// language, fully resolved), so plans and diffs show what people write.
#[derive(Clone, Debug, PartialEq)]
pub struct Cond {
    pub kind: CondKind,
    pub span: Span,
}

impl Serialize for Cond {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Number(n) => format!("{n}"),
        Value::Bool(b) => b.to_string(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::DateTime(d) => {
            if d.and_utc().timestamp() % 60 == 0 {
                d.format("%Y-%m-%dT%H:%M").to_string()
            } else {
                d.format("%Y-%m-%dT%H:%M:%S").to_string()
            }
        }
    }
}

fn ref_text(r: &ValueRef) -> String {
    match r {
        ValueRef::Field(f) => f.clone(),
        ValueRef::EventProperty(p) => format!("event.{p}"),
    }
}

fn operand_text(o: &Operand) -> String {
    match o {
        Operand::Ref(r) => ref_text(r),
        Operand::Value(v) => value_text(v),
        Operand::Count { event, within: None } => format!("count({event})"),
        Operand::Count { event, within: Some(d) } => format!("count({event}, {d})"),
        Operand::Now => "now".to_string(),
    }
}

impl std::fmt::Display for Cond {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Parenthesise a child only where precedence needs it (or < and < not).
        let child = |c: &Cond, parent: u8| {
            let level = match c.kind {
                CondKind::Or { .. } => 0,
                CondKind::And { .. } => 1,
                _ => 2,
            };
            if level < parent {
                format!("({c})")
            } else {
                c.to_string()
            }
        };
        let not = |negated: bool| if negated { "not " } else { "" };
        match &self.kind {
            CondKind::Const { value } => write!(f, "{value}"),
            CondKind::And { all } => f.write_str(&all.iter().map(|c| child(c, 2)).collect::<Vec<_>>().join(" and ")),
            CondKind::Or { any } => f.write_str(&any.iter().map(|c| child(c, 1)).collect::<Vec<_>>().join(" or ")),
            CondKind::Not { cond } => write!(f, "not {}", child(cond, 2)),
            CondKind::Compare { lhs, cmp, rhs } => {
                write!(f, "{} {} {}", operand_text(lhs), cmp.as_str(), operand_text(rhs))
            }
            CondKind::InList { value, list, negated } => {
                let items: Vec<String> = list.iter().map(value_text).collect();
                write!(f, "{} {}in [{}]", ref_text(value), not(*negated), items.join(", "))
            }
            CondKind::Contains { list, value, negated } => {
                write!(f, "{} {}in {}", value_text(value), not(*negated), ref_text(list))
            }
            CondKind::IsSet { value, negated } => write!(f, "{} is {}set", ref_text(value), not(*negated)),
            CondKind::Within {
                value,
                duration,
                negated,
            } => write!(f, "{} {}within {duration}", ref_text(value), not(*negated)),
            CondKind::Flag { value } => f.write_str(&ref_text(value)),
            CondKind::Segment { name } => write!(f, "segment({name})"),
            CondKind::Consent { name } => write!(f, "consent({name})"),
            CondKind::Opened { message } => write!(f, "opened({message})"),
            CondKind::Clicked { message } => write!(f, "clicked({message})"),
        }
    }
}

/// A value read from the contact or from the triggering event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ValueRef {
    Field(String),
    EventProperty(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(String),
    Number(f64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Ref(ValueRef),
    /// How many times the contact emitted the event (in the window, if any).
    Count {
        event: String,
        within: Option<Period>,
    },
    Value(Value),
    /// The moment the condition is evaluated at.
    Now,
}

#[derive(Clone, Debug, PartialEq)]
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
        duration: Period,
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
