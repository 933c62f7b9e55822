//! YAML with spans: text → [`Node`] tree (serde-saphyr, under input budgets)
//! → typed documents through a serde deserializer that keeps every span.

mod de;
mod node;
mod parse;
pub mod scalar;

pub use de::{DeError, DeErrorKind, Lenient, Sp, from_node};
pub use node::{Node, NodeKind};
pub use parse::{Budgets, parse_document};
