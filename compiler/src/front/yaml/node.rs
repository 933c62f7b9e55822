//! The generic YAML tree. Every node knows its byte range in its file.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
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

/// The byte range of a node from serde-saphyr's `(byte_offset, byte_len)`;
/// unavailable offsets (the sentinel serde-saphyr uses) read as 0, as
/// `Span::byte_offset` would give `None` for them.
fn offsets((offset, len): (u64, u64)) -> (u32, u32) {
    // serde-saphyr's sentinel for "no byte offsets" (`u32::MAX`, or 2^48 - 1
    // with its `huge_documents` feature).
    let unavailable = |v: u64| v == u64::from(u32::MAX) || v == (1 << 48) - 1;
    let (offset, len) = if unavailable(offset) && unavailable(len) {
        (0, 0)
    } else {
        (offset, len)
    };
    let start = u32::try_from(offset).unwrap_or(u32::MAX);
    let end = start.saturating_add(u32::try_from(len).unwrap_or(0));
    (start, end)
}

/// A node from its kind and the byte range serde-saphyr gave its start.
fn node(kind: NodeKind, (start, mut end): (u32, u32)) -> Node {
    // Collections carry only their start position: extend to the last child.
    match &kind {
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
    Node { start, end, kind }
}

// `Node` reads what `serde_saphyr::Spanned<NodeKind>` reads, and gives the
// same result, without its per-node costs: `Spanned` reads the marker key
// into a `String` and both locations (line, column, span) field by field;
// a node only needs the use-site byte range. The protocol is serde-saphyr's
// (a newtype named `__yaml_spanned`, answered by a synthesised map: marker,
// `value`, `referenced`, `defined`); anything else (a value buffered by
// serde) is read as `Spanned` reads it: the value, at an unknown location.
const SPANNED_NEWTYPE: &str = "__yaml_spanned";
const SPANNED_MARKER: &str = "__serde_saphyr_private_spanned";

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(SPANNED_NEWTYPE, NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a span-aware YAML value")
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(SpannedVisitor)
    }
}

/// The synthesised `Spanned` map, or a plain value (unknown location).
struct SpannedVisitor;

/// A plain value at an unknown location (`Location::UNKNOWN`: offsets 0).
fn plain<E: de::Error>(kind: Result<NodeKind, E>) -> Result<Node, E> {
    kind.map(|k| node(k, (0, 0)))
}

/// The first key of the synthesised map: the marker, compared without
/// allocating; any other key is kept (a buffered user mapping).
enum FirstKey {
    Marker,
    Other(String),
}

impl<'de> Deserialize<'de> for FirstKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FirstKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E>(self, s: &str) -> Result<FirstKey, E> {
                Ok(if s == SPANNED_MARKER {
                    FirstKey::Marker
                } else {
                    FirstKey::Other(s.to_string())
                })
            }
            fn visit_string<E>(self, s: String) -> Result<FirstKey, E> {
                Ok(if s == SPANNED_MARKER {
                    FirstKey::Marker
                } else {
                    FirstKey::Other(s)
                })
            }
        }
        d.deserialize_string(V)
    }
}

/// A field name, compared without allocating.
struct Field(u8);

impl Field {
    const OTHER: u8 = 0;
}

/// The field names a visitor wants, in index order from 1.
struct FieldSeed(&'static [&'static str]);

impl<'de> de::DeserializeSeed<'de> for FieldSeed {
    type Value = Field;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        struct V(&'static [&'static str]);
        impl<'de> Visitor<'de> for V {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, s: &str) -> Result<Field, E> {
                let i = self
                    .0
                    .iter()
                    .position(|n| *n == s)
                    .map_or(Field::OTHER, |i| i as u8 + 1);
                Ok(Field(i))
            }
        }
        d.deserialize_identifier(V(self.0))
    }
}

impl<'de> Visitor<'de> for SpannedVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value or a span-aware map with value/referenced/defined fields")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        match map.next_key::<FirstKey>()? {
            // An empty buffered mapping.
            None => Ok(node(NodeKind::Map(Vec::new()), (0, 0))),
            // A buffered user mapping: the first key is a string node.
            Some(FirstKey::Other(key)) => {
                let first = (node(NodeKind::Str(key), (0, 0)), map.next_value::<Node>()?);
                let mut entries = vec![first];
                while let Some(entry) = map.next_entry::<Node, Node>()? {
                    entries.push(entry);
                }
                Ok(node(NodeKind::Map(entries), (0, 0)))
            }
            Some(FirstKey::Marker) => {
                map.next_value::<de::IgnoredAny>()?;
                let mut value = None;
                let mut referenced = None;
                let mut defined = false;
                while let Some(Field(f)) = map.next_key_seed(FieldSeed(&["value", "referenced", "defined"]))? {
                    match f {
                        1 if value.is_none() => value = Some(map.next_value::<NodeKind>()?),
                        2 if referenced.is_none() => referenced = Some(map.next_value_seed(LocationSeed)?),
                        3 if !defined => {
                            map.next_value_seed(SkipLocation)?;
                            defined = true;
                        }
                        1 => return Err(de::Error::duplicate_field("value")),
                        2 => return Err(de::Error::duplicate_field("referenced")),
                        3 => return Err(de::Error::duplicate_field("defined")),
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                let value = value.ok_or_else(|| de::Error::missing_field("value"))?;
                let referenced = referenced.ok_or_else(|| de::Error::missing_field("referenced"))?;
                if !defined {
                    return Err(de::Error::missing_field("defined"));
                }
                Ok(node(value, referenced))
            }
        }
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Node, E> {
        plain(KindVisitor.visit_bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Node, E> {
        plain(KindVisitor.visit_i64(n))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Node, E> {
        plain(KindVisitor.visit_u64(n))
    }
    fn visit_i128<E: de::Error>(self, n: i128) -> Result<Node, E> {
        plain(KindVisitor.visit_i128(n))
    }
    fn visit_u128<E: de::Error>(self, n: u128) -> Result<Node, E> {
        plain(KindVisitor.visit_u128(n))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Node, E> {
        plain(KindVisitor.visit_f64(n))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Node, E> {
        plain(KindVisitor.visit_str(s))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Node, E> {
        plain(KindVisitor.visit_string(s))
    }
    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Node, E> {
        plain(KindVisitor.visit_bytes(b))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        plain(KindVisitor.visit_unit())
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        plain(KindVisitor.visit_none())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Node, A::Error> {
        plain(KindVisitor.visit_seq(seq))
    }
}

/// The use-site location's byte range: only its span's `byte_info` is read.
struct LocationSeed;

impl<'de> de::DeserializeSeed<'de> for LocationSeed {
    type Value = (u32, u32);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(u32, u32), D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = (u32, u32);
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a location")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(u32, u32), A::Error> {
                let mut span = (0, 0);
                while let Some(Field(f)) = map.next_key_seed(FieldSeed(&["span"]))? {
                    if f == 1 {
                        span = map.next_value_seed(SpanSeed)?;
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                Ok(span)
            }
        }
        d.deserialize_struct("Location", &["line", "column", "span", "source_id"], V)
    }
}

struct SpanSeed;

impl<'de> de::DeserializeSeed<'de> for SpanSeed {
    type Value = (u32, u32);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(u32, u32), D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = (u32, u32);
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a span")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(u32, u32), A::Error> {
                let mut info = None;
                while let Some(Field(f)) = map.next_key_seed(FieldSeed(&["byte_info"]))? {
                    if f == 1 {
                        info = Some(map.next_value::<(u64, u64)>()?);
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                // No byte offsets: as `Span::byte_offset` → `None`.
                Ok(info.map_or((0, 0), offsets))
            }
        }
        d.deserialize_struct("Span", &["offset", "len", "byte_info"], V)
    }
}

/// The definition-site location, which a node does not use: its fields are
/// not read (serde-saphyr's synthesised map moves on regardless).
struct SkipLocation;

impl<'de> de::DeserializeSeed<'de> for SkipLocation {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a location")
            }
            fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<(), A::Error> {
                Ok(())
            }
        }
        d.deserialize_struct("Location", &["line", "column", "span", "source_id"], V)
    }
}

impl<'de> Deserialize<'de> for NodeKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

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

#[cfg(test)]
mod tests {
    //! The node tree is the one `serde_saphyr::Spanned<NodeKind>` gives
    //! (the implementation before the fast path, kept here as the oracle).
    use super::*;
    use serde_saphyr::Spanned;

    struct Oracle(Node);

    impl<'de> Deserialize<'de> for Oracle {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let spanned: Spanned<OracleKind> = Spanned::deserialize(d)?;
            let span = spanned.referenced.span();
            let start = span.byte_offset().unwrap_or(0);
            let len = span.byte_len().unwrap_or(0);
            let start = u32::try_from(start).unwrap();
            let end = start + u32::try_from(len).unwrap();
            Ok(Oracle(node(spanned.value.0, (start, end))))
        }
    }

    struct OracleKind(NodeKind);

    impl<'de> Deserialize<'de> for OracleKind {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = OracleKind;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("any YAML value")
                }
                fn visit_unit<E: de::Error>(self) -> Result<OracleKind, E> {
                    Ok(OracleKind(NodeKind::Null))
                }
                fn visit_none<E: de::Error>(self) -> Result<OracleKind, E> {
                    Ok(OracleKind(NodeKind::Null))
                }
                fn visit_bool<E: de::Error>(self, b: bool) -> Result<OracleKind, E> {
                    Ok(OracleKind(NodeKind::Bool(b)))
                }
                fn visit_i64<E: de::Error>(self, n: i64) -> Result<OracleKind, E> {
                    Ok(OracleKind(NodeKind::Int(n)))
                }
                fn visit_u64<E: de::Error>(self, n: u64) -> Result<OracleKind, E> {
                    Ok(OracleKind(KindVisitor.visit_u64(n)?))
                }
                fn visit_f64<E: de::Error>(self, n: f64) -> Result<OracleKind, E> {
                    Ok(OracleKind(NodeKind::Float(n)))
                }
                fn visit_str<E: de::Error>(self, s: &str) -> Result<OracleKind, E> {
                    Ok(OracleKind(NodeKind::Str(s.to_string())))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OracleKind, A::Error> {
                    let mut items = Vec::new();
                    while let Some(Oracle(item)) = seq.next_element()? {
                        items.push(item);
                    }
                    Ok(OracleKind(NodeKind::Seq(items)))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OracleKind, A::Error> {
                    let mut entries = Vec::new();
                    while let Some((Oracle(k), Oracle(v))) = map.next_entry()? {
                        entries.push((k, v));
                    }
                    Ok(OracleKind(NodeKind::Map(entries)))
                }
            }
            d.deserialize_any(V)
        }
    }

    fn options() -> serde_saphyr::Options {
        let mut options = serde_saphyr::Options::default();
        options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
        options
    }

    #[test]
    fn nodes_are_those_of_spanned() {
        let docs = [
            "a: 1\nb: [x, 'y', \"z\\t\"]\nc:\n  d: ~\n  e: true\n  f: 2.5\n",
            "base: &b\n  k: v\n  n: [1, 2]\nuse:\n  <<: *b\n  k: w\nref: *b\n",
            "text: |\n  line one\n  line two\nfolded: >-\n  a\n  b\nempty_map: {}\nempty_seq: []\n",
            "- a: 1\n  b:\n    - x\n    - {y: 2, z: [3]}\n- ~\n- 18446744073709551615\n",
            "key with spaces: value: no\n",
            "é: \"ünïcode ✓\"\nk: 'it''s'\n",
            "a: 1\na: 2\n",
            "",
        ];
        for doc in docs {
            let fast = serde_saphyr::from_str_with_options::<Node>(doc, options());
            let oracle = serde_saphyr::from_str_with_options::<Oracle>(doc, options());
            match (fast, oracle) {
                (Ok(f), Ok(Oracle(o))) => assert_eq!(f, o, "{doc:?}"),
                (Err(f), Err(o)) => assert_eq!(f.to_string(), o.to_string(), "{doc:?}"),
                (f, o) => panic!("{doc:?}: {f:?} vs {:?}", o.map(|o| o.0)),
            }
        }
    }
}
