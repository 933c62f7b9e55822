//! The condition language: parse text (from a YAML scalar) into an [`Expr`]
//! whose spans point into the YAML file.

mod ast;
mod fast;
mod parse;

pub use ast::{Arg, CmpOp, Expr, ExprKind, Ident, Literal};
pub use parse::{MAX_EXPRESSION_BYTES, MAX_NESTING, parse_condition, pest_only};
