//! The generic YAML tree. Every node knows its byte range in its file.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Byte offsets into the file. Scalars cover their raw token (quotes
    /// included, block scalars from their first content line); collections
    /// run from their first to their last child.
    pub start: u32,
    pub end: u32,
    pub kind: NodeKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl NodeKind {
    /// How the kind is named in messages ("found a list").
    pub fn describe(&self) -> &'static str {
        match self {
            NodeKind::Null => "nothing",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "a number",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "text",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

impl Node {
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }
}

fn offsets(loc: &serde_saphyr::Location) -> (u32, u32) {
    let span = loc.span();
    let start = span.byte_offset().unwrap_or(0);
    let len = span.byte_len().unwrap_or(0);
    let start = u32::try_from(start).unwrap_or(u32::MAX);
    let end = start.saturating_add(u32::try_from(len).unwrap_or(0));
    (start, end)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned: Spanned<NodeKind> = Spanned::deserialize(d)?;
        let (start, mut end) = offsets(&spanned.referenced);
        // Collections carry only their start position: extend to the last child.
        match &spanned.value {
            NodeKind::Seq(items) => {
                if let Some(last) = items.last() {
                    end = end.max(last.end);
                }
            }
            NodeKind::Map(entries) => {
                if let Some((_, v)) = entries.last() {
                    end = end.max(v.end);
                }
            }
            _ => {}
        }
        Ok(Node {
            start,
            end,
            kind: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for NodeKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KindVisitor;
        impl<'de> Visitor<'de> for KindVisitor {
            type Value = NodeKind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<NodeKind, E> {
                Ok(NodeKind::Null)
            }
            fn visit_none<E>(self) -> Result<NodeKind, E> {
                Ok(NodeKind::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeKind, D::Error> {
                NodeKind::deserialize(d)
            }
            fn visit_bool<E>(self, b: bool) -> Result<NodeKind, E> {
                Ok(NodeKind::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<NodeKind, E> {
                Ok(NodeKind::Int(n))
            }
            fn visit_u64<E>(self, n: u64) -> Result<NodeKind, E> {
                Ok(i64::try_from(n).map_or(NodeKind::Float(n as f64), NodeKind::Int))
            }
            fn visit_i128<E>(self, n: i128) -> Result<NodeKind, E> {
                Ok(i64::try_from(n).map_or(NodeKind::Float(n as f64), NodeKind::Int))
            }
            fn visit_u128<E>(self, n: u128) -> Result<NodeKind, E> {
                Ok(i64::try_from(n).map_or(NodeKind::Float(n as f64), NodeKind::Int))
            }
            fn visit_f64<E>(self, n: f64) -> Result<NodeKind, E> {
                Ok(NodeKind::Float(n))
            }
            fn visit_str<E>(self, s: &str) -> Result<NodeKind, E> {
                Ok(NodeKind::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<NodeKind, E> {
                Ok(NodeKind::Str(s))
            }
            fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<NodeKind, E> {
                Ok(NodeKind::Str(String::from_utf8_lossy(b).into_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeKind, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Node>()? {
                    items.push(item);
                }
                Ok(NodeKind::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeKind, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<Node, Node>()? {
                    entries.push(entry);
                }
                Ok(NodeKind::Map(entries))
            }
        }
        d.deserialize_any(KindVisitor)
    }
}
