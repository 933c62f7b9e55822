//! JSON as the endpoint takes it: like `serde_json::Value`, except that an
//! object with the same key twice is refused. serde_json keeps the last one
//! silently, so `{"amount": 80, "amount": "x"}` would be checked on what a
//! sender's logs do not show, and two systems reading the same body could
//! disagree on what the event said (RFC 8259 §4 leaves it undefined).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// A JSON value with no repeated key in any of its objects.
pub struct Strict(pub Value);

/// Parse `bytes` as JSON, refusing a repeated key at any depth. The error
/// carries its line and column; its text never quotes the key (a key is
/// whatever the sender wrote, and errors are logged).
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(bytes).map(|s| s.0)
}

/// The marker of a repeated key in an error's text (what callers test for).
pub const REPEATED_KEY: &str = "a key appears twice in one object";

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never yields a non-finite number.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(REPEATED_KEY));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_reads_what_serde_json_reads() {
        let text = r#"{"a": [1, -2, 3.5, true, null, "x"], "b": {"c": {}}, "big": 18446744073709551615}"#;
        assert_eq!(
            from_slice(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth_without_quoting_it() {
        for text in [
            r#"{"amount": 80, "amount": "x"}"#,
            r#"{"properties": {"jean@example.test": 1, "jean@example.test": 2}}"#,
            r#"[{"k": 1}, {"k": 1, "k": 1}]"#,
        ] {
            let e = from_slice(text.as_bytes()).unwrap_err();
            let said = e.to_string();
            assert!(said.contains(REPEATED_KEY), "{text}: {said}");
            assert!(!said.contains("amount") && !said.contains("jean@"), "{said}");
            assert!(e.line() == 1 && e.column() > 1, "{said}");
            assert!(e.is_data(), "a repeat is not a syntax error: {said}");
        }
    }

    #[test]
    fn the_same_key_in_different_objects_is_fine() {
        let v = from_slice(br#"{"k": {"k": 1}, "l": [{"k": 2}, {"k": 3}]}"#).unwrap();
        assert_eq!(v["k"]["k"], 1);
    }

    #[test]
    fn syntax_errors_stay_syntax_errors() {
        assert!(from_slice(b"{not json").unwrap_err().is_syntax());
        assert!(from_slice(b"{\"a\": 1,}").unwrap_err().is_syntax());
    }
}
