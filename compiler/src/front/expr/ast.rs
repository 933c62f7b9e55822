//! Syntax tree of a condition. Spans are file spans.

use crate::ast::values::Period;
use crate::source::Span;
use chrono::{NaiveDate, NaiveDateTime};
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// Two or more alternatives (n-ary, so long chains stay shallow).
    Or(Vec<Expr>),
    /// Two or more conjuncts.
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        op: CmpOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `x in [..]`, `"v" in list_field`, and `not in`.
    In {
        item: Box<Expr>,
        collection: Box<Expr>,
        negated: bool,
    },
    /// `x is set`, `x is not set`.
    IsSet {
        operand: Box<Expr>,
        negated: bool,
    },
    /// `x within 30d`: a date/datetime in the last 30 days; `not within` negates.
    Within {
        operand: Box<Expr>,
        duration: Period,
        negated: bool,
    },
    /// `now`: the moment the condition is evaluated at.
    Now,
    Call {
        name: Ident,
        args: Vec<Arg>,
    },
    /// `field`, `contact.field`, `event.property`.
    Path(Vec<Ident>),
    Literal(Literal),
    List(Vec<Expr>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Name(Ident),
    Duration(Period, Span),
}

impl Arg {
    pub fn span(&self) -> Span {
        match self {
            Arg::Name(i) => i.span,
            Arg::Duration(_, s) => *s,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum CmpOp {
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    pub fn is_ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    String(String),
    Number(f64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Duration(Period),
}

impl Literal {
    pub fn describe(&self) -> &'static str {
        match self {
            Literal::String(_) => "text",
            Literal::Number(_) => "a number",
            Literal::Bool(_) => "a boolean",
            Literal::Date(_) => "a date",
            Literal::DateTime(_) => "a date and time",
            Literal::Duration(_) => "a duration",
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => {
                // Only the escapes the grammar reads back: \" \\ \n \t.
                f.write_str("\"")?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\t' => f.write_str("\\t")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("\"")
            }
            Literal::Number(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Literal::DateTime(d) => write!(f, "{}", d.format("%Y-%m-%dT%H:%M")),
            Literal::Duration(d) => write!(f, "{d}"),
        }
    }
}

impl fmt::Display for Expr {
    /// A canonical, fully parenthesised rendering (used in tests and messages).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Or(xs) | ExprKind::And(xs) => {
                let op = if matches!(self.kind, ExprKind::Or(_)) {
                    " or "
                } else {
                    " and "
                };
                f.write_str("(")?;
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str(")")
            }
            ExprKind::Not(a) => write!(f, "(not {a})"),
            ExprKind::Compare { op, lhs, rhs } => write!(f, "({lhs} {} {rhs})", op.as_str()),
            ExprKind::In {
                item,
                collection,
                negated,
            } => write!(f, "({item} {}in {collection})", if *negated { "not " } else { "" }),
            ExprKind::IsSet { operand, negated } => {
                write!(f, "({operand} is {}set)", if *negated { "not " } else { "" })
            }
            ExprKind::Within {
                operand,
                duration,
                negated,
            } => write!(f, "({operand} {}within {duration})", if *negated { "not " } else { "" }),
            ExprKind::Call { name, args } => {
                write!(f, "{}(", name.name)?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match a {
                        Arg::Name(n) => f.write_str(&n.name)?,
                        Arg::Duration(d, _) => write!(f, "{d}")?,
                    }
                }
                f.write_str(")")
            }
            ExprKind::Path(parts) => {
                let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
                f.write_str(&names.join("."))
            }
            ExprKind::Literal(l) => write!(f, "{l}"),
            ExprKind::Now => f.write_str("now"),
            ExprKind::List(items) => {
                f.write_str("[")?;
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
        }
    }
}
