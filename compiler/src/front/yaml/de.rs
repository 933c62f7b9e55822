//! A serde `Deserializer` over [`Node`]: the typed documents derive
//! `Deserialize` (and `JsonSchema`, so the schema and the loader cannot drift)
//! while every error and every [`Sp`] value keeps its exact span.

use super::{Node, NodeKind};
use crate::source::{FileId, Span};
use crate::suggest;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

const SPAN_MAGIC: &str = "$herald::Sp";
const LENIENT_MAGIC: &str = "$herald::Lenient";

/// A value whose errors do not abort the enclosing declaration: the error is
/// recorded (and reported) and the value is `None`. Used for list items
/// (scenario steps, policy entries) so one bad item does not hide the others.
#[derive(Clone, Debug)]
pub struct Lenient<T>(pub Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct LenientVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for LenientVisitor<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value read by herald's YAML loader")
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Lenient<T>, D::Error> {
                // herald's deserializer has recorded the error already.
                Ok(Lenient(T::deserialize(d).ok()))
            }
        }
        d.deserialize_newtype_struct(LENIENT_MAGIC, LenientVisitor(PhantomData))
    }
}

/// A wrapper the YAML author never sees: its schema is its content's.
macro_rules! transparent_schema {
    ($wrapper:ident) => {
        impl<T: JsonSchema> JsonSchema for $wrapper<T> {
            fn inline_schema() -> bool {
                T::inline_schema()
            }
            fn schema_name() -> Cow<'static, str> {
                T::schema_name()
            }
            fn schema_id() -> Cow<'static, str> {
                T::schema_id()
            }
            fn json_schema(generator: &mut SchemaGenerator) -> Schema {
                T::json_schema(generator)
            }
        }
    };
}

transparent_schema!(Lenient);

/// Errors recorded by [`Lenient`] values during one deserialization.
type Sink = std::cell::RefCell<Vec<DeError>>;

/// A value with the span of the YAML node it came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Self {
        Sp { value, span }
    }
}

impl<T: Serialize> Serialize for Sp<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SpVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for SpVisitor<T> {
            type Value = Sp<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value read by herald's YAML loader")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Sp<T>, A::Error> {
                let missing = || de::Error::custom("span-aware value without its span");
                let file: u32 = seq.next_element()?.ok_or_else(missing)?;
                let start: u32 = seq.next_element()?.ok_or_else(missing)?;
                let end: u32 = seq.next_element()?.ok_or_else(missing)?;
                let value: T = seq.next_element()?.ok_or_else(missing)?;
                Ok(Sp {
                    value,
                    span: Span {
                        file: FileId(file),
                        start,
                        end,
                    },
                })
            }
        }
        d.deserialize_newtype_struct(SPAN_MAGIC, SpVisitor(PhantomData))
    }
}

transparent_schema!(Sp);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeErrorKind {
    UnknownKey {
        key: String,
        expected: Vec<&'static str>,
    },
    MissingKey {
        key: &'static str,
    },
    DuplicateKey {
        key: String,
    },
    /// Wrong shape or bad value.
    Invalid,
}

/// A deserialization error with the span it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeError {
    pub kind: DeErrorKind,
    pub message: String,
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl DeError {
    fn invalid(message: String) -> Self {
        DeError {
            kind: DeErrorKind::Invalid,
            message,
            span: None,
            help: None,
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

/// "u32" → "a whole number", "struct Segment" → "a mapping"…
fn humanize_expected(exp: &str) -> String {
    match exp {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a string" | "a borrowed string" | "string" => "text".into(),
        "a boolean" => "`true` or `false`".into(),
        "a sequence" => "a list".into(),
        "a map" => "a mapping".into(),
        e if e.starts_with("struct ") || e.starts_with("a map") => "a mapping".into(),
        e if e.starts_with("enum ") => "one of the allowed words".into(),
        e if e.starts_with("variant identifier") || e.starts_with("field identifier") => "a name".into(),
        e => e.to_string(),
    }
}

fn describe_unexpected(u: &de::Unexpected) -> String {
    match u {
        de::Unexpected::Bool(b) => format!("`{b}`"),
        de::Unexpected::Unsigned(n) => format!("the number {n}"),
        de::Unexpected::Signed(n) => format!("the number {n}"),
        de::Unexpected::Float(n) => format!("the number {n}"),
        de::Unexpected::Str(s) => format!("the text \"{s}\""),
        de::Unexpected::Unit => "nothing".into(),
        de::Unexpected::Seq => "a list".into(),
        de::Unexpected::Map => "a mapping".into(),
        other => other.to_string(),
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::invalid(msg.to_string())
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        DeError::invalid(format!(
            "expected {}, found {}",
            humanize_expected(&exp.to_string()),
            describe_unexpected(&unexp)
        ))
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        DeError::invalid(format!(
            "expected {}, found {}",
            humanize_expected(&exp.to_string()),
            describe_unexpected(&unexp)
        ))
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        DeError::invalid(format!("expected {exp}, found {len} elements"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError {
            kind: DeErrorKind::Invalid,
            message: format!("unknown value `{variant}`"),
            span: None,
            help: suggest::help_for(variant, expected.iter().copied(), "the allowed values"),
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError {
            kind: DeErrorKind::UnknownKey {
                key: field.to_string(),
                expected: expected.to_vec(),
            },
            message: format!("unknown key `{field}`"),
            span: None,
            help: suggest::help_for(field, expected.iter().copied(), "the allowed keys"),
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            kind: DeErrorKind::MissingKey { key: field },
            message: format!("missing key `{field}`"),
            span: None,
            help: Some(format!("Add `{field}:` here.")),
        }
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError {
            kind: DeErrorKind::DuplicateKey { key: field.to_string() },
            message: format!("the key `{field}` appears twice"),
            span: None,
            help: Some(format!("Keep one `{field}:` entry.")),
        }
    }
}

/// Deserialize `T` from `node`. `owner` is the span of the mapping key that
/// holds the node, where "missing key" errors point. Errors inside
/// [`Lenient`] values come back in the list; the first other error aborts.
pub fn from_node<'a, T: Deserialize<'a>>(
    node: &'a Node,
    file: FileId,
    text: &'a str,
    owner: Option<Span>,
) -> (Result<T, DeError>, Vec<DeError>) {
    let sink = Sink::default();
    let r = T::deserialize(NodeDe {
        node,
        file,
        text,
        owner,
        sink: &sink,
        record: false,
    });
    (r, sink.into_inner())
}

#[derive(Clone, Copy)]
struct NodeDe<'a, 's> {
    node: &'a Node,
    file: FileId,
    text: &'a str,
    owner: Option<Span>,
    sink: &'s Sink,
    /// This node is a [`Lenient`] value: record its error in the sink.
    record: bool,
}

impl<'a, 's> NodeDe<'a, 's> {
    fn span(&self) -> Span {
        Span {
            file: self.file,
            start: self.node.start,
            end: self.node.end,
        }
    }

    fn child(&self, node: &'a Node, owner: Option<Span>) -> NodeDe<'a, 's> {
        NodeDe {
            node,
            file: self.file,
            text: self.text,
            owner,
            sink: self.sink,
            record: false,
        }
    }

    /// Give an error without a span the span of this node (and record it
    /// when this node is a [`Lenient`] value).
    fn locate<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|mut e| {
            if e.span.is_none() {
                e.span = Some(match e.kind {
                    DeErrorKind::MissingKey { .. } => self.owner.unwrap_or_else(|| {
                        let s = self.span();
                        Span { end: s.start, ..s }
                    }),
                    _ => self.span(),
                });
            }
            if self.record {
                self.sink.borrow_mut().push(e.clone());
            }
            e
        })
    }

    /// The source text of a plain scalar (so `sender: 36111` reads as text).
    fn raw(&self) -> &'a str {
        self.text
            .get(self.node.start as usize..self.node.end as usize)
            .unwrap_or("")
    }

    fn unexpected(&self) -> de::Unexpected<'a> {
        match &self.node.kind {
            NodeKind::Null => de::Unexpected::Unit,
            NodeKind::Bool(b) => de::Unexpected::Bool(*b),
            NodeKind::Int(n) => de::Unexpected::Signed(*n),
            NodeKind::Float(f) => de::Unexpected::Float(*f),
            NodeKind::Str(s) => de::Unexpected::Str(s),
            NodeKind::Seq(_) => de::Unexpected::Seq,
            NodeKind::Map(_) => de::Unexpected::Map,
        }
    }

    fn visit_map_entries<V: Visitor<'a>>(self, entries: &'a [(Node, Node)], visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(MapDe {
            de: self,
            entries: entries.iter(),
            value: None,
            seen: Vec::new(),
        })
    }
}

impl<'a, 's> Deserializer<'a> for NodeDe<'a, 's> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Bool(b) => visitor.visit_bool(*b),
            NodeKind::Int(n) => visitor.visit_i64(*n),
            NodeKind::Float(f) => visitor.visit_f64(*f),
            NodeKind::Str(s) => visitor.visit_borrowed_str(s),
            NodeKind::Seq(items) => visitor.visit_seq(SeqDe {
                de: self,
                items: items.iter(),
            }),
            NodeKind::Map(entries) => self.visit_map_entries(entries, visitor),
        };
        self.locate(r)
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Str(s) => visitor.visit_borrowed_str(s),
            NodeKind::Bool(_) | NodeKind::Int(_) | NodeKind::Float(_) => visitor.visit_borrowed_str(self.raw()),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        };
        self.locate(r)
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.kind {
            NodeKind::Null => self.locate(visitor.visit_none()),
            _ => self.locate(visitor.visit_some(self)),
        }
    }

    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(self, name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        if name == LENIENT_MAGIC {
            let lenient = NodeDe { record: true, ..self };
            return visitor.visit_newtype_struct(lenient);
        }
        if name == SPAN_MAGIC {
            let span = self.span();
            let r = visitor.visit_seq(SpanSeq {
                // The value is this same node: record its errors once, below.
                de: NodeDe { record: false, ..self },
                parts: [span.file.0, span.start, span.end],
                index: 0,
            });
            return self.locate(r);
        }
        self.locate(visitor.visit_newtype_struct(self))
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Seq(items) => visitor.visit_seq(SeqDe {
                de: self,
                items: items.iter(),
            }),
            // `key:` with nothing after it reads as an empty list.
            NodeKind::Null => visitor.visit_seq(SeqDe {
                de: self,
                items: [].iter(),
            }),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        };
        self.locate(r)
    }

    fn deserialize_tuple<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Map(entries) => self.visit_map_entries(entries, visitor),
            // `key:` with nothing after it reads as an empty mapping.
            NodeKind::Null => self.visit_map_entries(&[], visitor),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        };
        self.locate(r)
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Str(_) | NodeKind::Int(_) | NodeKind::Bool(_) | NodeKind::Float(_) => {
                visitor.visit_enum(UnitEnum { de: self })
            }
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        };
        self.locate(r)
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'a>>
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
    }
}

struct SeqDe<'a, 's> {
    de: NodeDe<'a, 's>,
    items: std::slice::Iter<'a, Node>,
}

impl<'a, 's> SeqAccess<'a> for SeqDe<'a, 's> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'a>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(item) => seed.deserialize(self.de.child(item, None)).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'a, 's> {
    de: NodeDe<'a, 's>,
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<(&'a Node, Span)>,
    seen: Vec<&'a str>,
}

impl<'a, 's> MapAccess<'a> for MapDe<'a, 's> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((k, v)) => {
                let key = self.de.child(k, None);
                if let NodeKind::Str(name) = &k.kind {
                    if self.seen.contains(&name.as_str()) {
                        // Caught here (not by serde) to point at the second key.
                        return Err(DeError {
                            kind: DeErrorKind::DuplicateKey { key: name.clone() },
                            message: format!("the key `{name}` appears twice"),
                            span: Some(key.span()),
                            help: Some(format!("Keep one `{name}:` entry.")),
                        });
                    }
                    self.seen.push(name);
                }
                self.value = Some((v, key.span()));
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some((v, key_span)) => seed.deserialize(self.de.child(v, Some(key_span))),
            None => Err(de::Error::custom("value requested before key")),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct SpanSeq<'a, 's> {
    de: NodeDe<'a, 's>,
    parts: [u32; 3],
    index: usize,
}

impl<'a, 's> SeqAccess<'a> for SpanSeq<'a, 's> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'a>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let i = self.index;
        self.index += 1;
        match self.parts.get(i) {
            Some(n) => seed.deserialize(n.into_deserializer()).map(Some),
            None if i == 3 => seed.deserialize(self.de).map(Some),
            None => Ok(None),
        }
    }
}

struct UnitEnum<'a, 's> {
    de: NodeDe<'a, 's>,
}

impl<'a, 's> EnumAccess<'a> for UnitEnum<'a, 's> {
    type Error = DeError;
    type Variant = UnitOnly;
    fn variant_seed<V: DeserializeSeed<'a>>(self, seed: V) -> Result<(V::Value, UnitOnly), DeError> {
        let v = seed.deserialize(self.de)?;
        Ok((v, UnitOnly))
    }
}

struct UnitOnly;

impl<'a> VariantAccess<'a> for UnitOnly {
    type Error = DeError;
    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, _seed: T) -> Result<T::Value, DeError> {
        Err(de::Error::custom("expected a single word"))
    }
    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, _visitor: V) -> Result<V::Value, DeError> {
        Err(de::Error::custom("expected a single word"))
    }
    fn struct_variant<V: Visitor<'a>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, DeError> {
        Err(de::Error::custom("expected a single word"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{SourceFile, SourceKind};
    use crate::yaml::{Budgets, parse_document};

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        name: Sp<String>,
        count: Option<u32>,
        kind: Option<Kind>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Email,
        Sms,
    }

    fn load(text: &str) -> (Result<Doc, DeError>, String) {
        let f = SourceFile::new("t.yaml", SourceKind::Yaml, text);
        let node = parse_document(FileId(0), &f, &Budgets::default()).unwrap();
        (from_node(&node, FileId(0), text, None).0, text.to_string())
    }

    fn at(text: &str, span: Span) -> &str {
        &text[span.start as usize..span.end as usize]
    }

    #[test]
    fn spans_survive_deserialization() {
        let (doc, text) = load("name: 'hello'\ncount: 3\nkind: sms\n");
        let doc = doc.unwrap();
        assert_eq!(doc.name.value, "hello");
        assert_eq!(doc.count, Some(3));
        assert_eq!(at(&text, doc.name.span), "'hello'");
        assert_eq!(doc.kind, Some(Kind::Sms));
    }

    #[test]
    fn unknown_keys_point_at_the_key_and_suggest() {
        let (doc, text) = load("name: x\ncuont: 3\n");
        let e = doc.unwrap_err();
        assert_eq!(at(&text, e.span.unwrap()), "cuont");
        assert_eq!(e.help.as_deref(), Some("did you mean `count`?"));
    }

    #[test]
    fn wrong_types_point_at_the_value() {
        let (doc, text) = load("name: x\ncount: [1]\n");
        let e = doc.unwrap_err();
        assert_eq!(at(&text, e.span.unwrap()), "[1");
        assert_eq!(e.message, "expected a whole number (0 or more), found a list");
    }

    #[test]
    fn unknown_enum_values_suggest() {
        let (doc, text) = load("name: x\nkind: emial\n");
        let e = doc.unwrap_err();
        assert_eq!(at(&text, e.span.unwrap()), "emial");
        assert_eq!(e.help.as_deref(), Some("did you mean `email`?"));
    }

    #[test]
    fn numbers_read_as_text_where_text_is_expected() {
        let (doc, _) = load("name: 36111\n");
        assert_eq!(doc.unwrap().name.value, "36111");
    }

    #[test]
    fn lenient_items_report_every_error_and_keep_the_rest() {
        #[derive(Deserialize, Debug)]
        struct Items {
            items: Vec<Lenient<Sp<u32>>>,
        }
        let text = "items: [1, x, 3, [4]]\n";
        let f = SourceFile::new("t.yaml", SourceKind::Yaml, text);
        let node = parse_document(FileId(0), &f, &Budgets::default()).unwrap();
        let (r, errors) = from_node::<Items>(&node, FileId(0), text, None);
        let kept: Vec<Option<u32>> = r.unwrap().items.into_iter().map(|i| i.0.map(|s| s.value)).collect();
        assert_eq!(kept, [Some(1), None, Some(3), None]);
        assert_eq!(errors.len(), 2);
        assert_eq!(at(text, errors[0].span.unwrap()), "x");
        assert_eq!(at(text, errors[1].span.unwrap()), "[4");
    }

    #[test]
    fn missing_keys_point_at_the_owner() {
        let text = "seg:\n  count: 1\n";
        let f = SourceFile::new("t.yaml", SourceKind::Yaml, text);
        let node = parse_document(FileId(0), &f, &Budgets::default()).unwrap();
        let (k, v) = &node.as_map().unwrap()[0];
        let owner = Span::new(FileId(0), k.start as usize, k.end as usize);
        let e = from_node::<Doc>(v, FileId(0), text, Some(owner)).0.unwrap_err();
        assert_eq!(e.kind, DeErrorKind::MissingKey { key: "name" });
        assert_eq!(at(text, e.span.unwrap()), "seg");
    }
}
