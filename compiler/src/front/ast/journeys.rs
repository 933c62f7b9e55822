//! `tests:` — journey tests, in the plan directory's `tests/` files: a
//! contact, a timeline of what happens to it, and what should happen.
//!
//! ```yaml
//! tests:
//!   cart_email_then_sms:
//!     start: 2026-11-10T09:00
//!     contact: { id: t1, email: a@example.test, consents: [email_marketing] }
//!     timeline:
//!       - { at: 2026-11-10T09:05, event: cart_abandoned, cart_value: 80 }
//!     expect:
//!       - { at: 2026-11-10T10:05, send: cart_email }
//!       - { never: cart_sms, reason: consent }
//! ```
//!
//! Timeline entries and the contact mix fixed keys with names from the plan
//! (event properties, fields): their deserializers keep those as spanned
//! pairs, typed later against the plan (`journeys::check`).

use super::values::{Duration, LocalDateTime};
use crate::yaml::{Lenient, Sp};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// One journey test.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestDoc {
    /// What the test shows.
    pub description: Option<String>,
    /// When the simulation starts: a local time in the contact's time zone (its time zone field, else the project's), or a time with an offset.
    pub start: Sp<TestTime>,
    /// The last instant simulated (default: 7 days after the last instant the test names).
    pub until: Option<Sp<TestTime>>,
    /// The test contact: `id` (default: the test's name; it decides experiment groups), `consents` given, and field values. Fields not written are missing.
    pub contact: Sp<TestContactDoc>,
    /// What happens to the contact: events, opens and clicks, unsubscribes, consent and data changes. Entries before `start` are history: they count in conditions but trigger nothing.
    #[serde(default)]
    pub timeline: Vec<Lenient<Sp<TimelineDoc>>>,
    /// What should happen, and what should not.
    pub expect: Vec<Lenient<Sp<ExpectDoc>>>,
}

/// An instant of a test: `2026-11-27T09:05` (read in the contact's time
/// zone), `2026-11-27` (midnight there), or with an offset
/// (`2026-11-27T09:05+01:00`, `…Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TestTime {
    Local(NaiveDateTime),
    Fixed(DateTime<FixedOffset>),
}

impl FromStr for TestTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Ok(LocalDateTime(dt)) = t.parse::<LocalDateTime>() {
            return Ok(TestTime::Local(dt));
        }
        if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Ok(TestTime::Local(d.and_hms_opt(0, 0, 0).unwrap_or_default()));
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Ok(TestTime::Fixed(dt));
        }
        // RFC 3339 without seconds: `2026-11-27T09:05+01:00`, `2026-11-27T09:05Z`.
        let with_seconds = match t.get(..16) {
            Some(head) if t.len() > 16 => format!("{head}:00{}", &t[16..]),
            _ => String::new(),
        };
        if let Ok(dt) = DateTime::parse_from_rfc3339(&with_seconds) {
            return Ok(TestTime::Fixed(dt));
        }
        Err(format!(
            "`{t}` is not a time: write `YYYY-MM-DDTHH:MM` (in the contact's time zone), such as `2026-11-27T09:05`, or add an offset (`2026-11-27T09:05+01:00`)"
        ))
    }
}

impl fmt::Display for TestTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TestTime::Local(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M")),
            TestTime::Fixed(t) => write!(f, "{}", t.to_rfc3339()),
        }
    }
}

impl<'de> Deserialize<'de> for TestTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = TestTime;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a time such as 2026-11-27T09:05")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TestTime, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl Serialize for TestTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for TestTime {
    fn schema_name() -> Cow<'static, str> {
        "TestTime".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$",
            "description": "An instant of the test: a local time in the contact's time zone (`2026-11-27T09:05`), a date (midnight), or a time with an offset.",
            "examples": ["2026-11-27T09:05", "2026-11-27", "2026-11-27T09:05+01:00"]
        })
    }
}

/// A value written in a test: text, a number, a boolean, nothing (a missing
/// value), or a list of those (list fields).
#[derive(Clone, Debug, PartialEq)]
pub enum ValueDoc {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<Sp<ValueDoc>>),
    /// A mapping, where a value was expected (reported by the check).
    Map,
}

impl ValueDoc {
    pub fn describe(&self) -> &'static str {
        match self {
            ValueDoc::Null => "nothing",
            ValueDoc::Bool(_) => "a boolean",
            ValueDoc::Int(_) | ValueDoc::Float(_) => "a number",
            ValueDoc::Text(_) => "text",
            ValueDoc::List(_) => "a list",
            ValueDoc::Map => "a mapping",
        }
    }
}

impl<'de> Deserialize<'de> for ValueDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ValueDoc;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value (text, a number, a boolean) or a list of values")
            }
            fn visit_unit<E>(self) -> Result<ValueDoc, E> {
                Ok(ValueDoc::Null)
            }
            fn visit_none<E>(self) -> Result<ValueDoc, E> {
                Ok(ValueDoc::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<ValueDoc, E> {
                Ok(ValueDoc::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<ValueDoc, E> {
                Ok(ValueDoc::Int(n))
            }
            fn visit_u64<E>(self, n: u64) -> Result<ValueDoc, E> {
                Ok(i64::try_from(n).map_or(ValueDoc::Float(n as f64), ValueDoc::Int))
            }
            fn visit_f64<E>(self, n: f64) -> Result<ValueDoc, E> {
                Ok(ValueDoc::Float(n))
            }
            fn visit_str<E>(self, s: &str) -> Result<ValueDoc, E> {
                Ok(ValueDoc::Text(s.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ValueDoc, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Sp<ValueDoc>>()? {
                    items.push(item);
                }
                Ok(ValueDoc::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ValueDoc, A::Error> {
                while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(ValueDoc::Map)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for ValueDoc {
    fn schema_name() -> Cow<'static, str> {
        "TestValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A value, typed by the contact field or event property it is for; a list for list fields; null for no value.",
            "type": ["string", "number", "boolean", "null", "array"],
            "items": { "type": ["string", "number", "boolean"] },
            "examples": ["a@example.test", 80, true, ["shoes", "bags"]]
        })
    }
}

/// `name: value` pairs in the order written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pairs(pub Vec<(Sp<String>, Sp<ValueDoc>)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<Sp<String>>()? {
                    out.push((k, map.next_value::<Sp<ValueDoc>>()?));
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The test contact.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestContactDoc {
    pub id: Option<Sp<String>>,
    /// The consents given; the others are not.
    pub consents: Vec<Sp<String>>,
    /// Field values, by field name.
    pub fields: Vec<(Sp<String>, Sp<ValueDoc>)>,
}

impl<'de> Deserialize<'de> for TestContactDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TestContactDoc;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a contact: `id`, `consents` and field values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TestContactDoc, A::Error> {
                let mut c = TestContactDoc::default();
                while let Some(k) = map.next_key::<Sp<String>>()? {
                    match k.value.as_str() {
                        "id" => c.id = Some(map.next_value()?),
                        "consents" => c.consents = map.next_value()?,
                        _ => c.fields.push((k, map.next_value()?)),
                    }
                }
                Ok(c)
            }
        }
        d.deserialize_map(V)
    }
}

impl JsonSchema for TestContactDoc {
    fn schema_name() -> Cow<'static, str> {
        "TestContact".into()
    }
    fn inline_schema() -> bool {
        // Field names are the plan's: any key is allowed, so this object
        // stays out of the definitions that must reject unknown keys.
        true
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let value = g.subschema_for::<ValueDoc>();
        json_schema!({
            "type": "object",
            "description": "The test contact: `id`, `consents` given, and a value for any field of `contact.fields`.",
            "properties": {
                "id": { "type": ["string", "number"], "description": "The contact id (default: the test's name); it decides the contact's experiment groups.", "examples": ["t1"] },
                "consents": { "type": "array", "items": { "type": "string" }, "description": "The consents the contact has given; the others are not given.", "examples": [["email_marketing", "sms_marketing"]] }
            },
            "additionalProperties": value,
            "examples": [{ "id": "t1", "email": "a@example.test", "first_name": "Noël", "consents": ["email_marketing"] }]
        })
    }
}

/// What a timeline entry records.
#[derive(Clone, Debug, PartialEq)]
pub enum TimelineKind {
    /// An event; its properties are the entry's other keys.
    Event(Sp<String>),
    Opened(Sp<String>),
    Clicked(Sp<String>),
    Unsubscribed(Sp<String>),
    Bounced(Sp<String>),
    Complained(Sp<String>),
    ConsentGiven(Sp<String>),
    ConsentWithdrawn(Sp<String>),
    /// New values of fields (`null` removes one).
    Set(Sp<Pairs>),
}

/// The keys that say what a timeline entry is.
pub const TIMELINE_KINDS: &[&str] = &[
    "event",
    "opened",
    "clicked",
    "unsubscribed",
    "bounced",
    "complained",
    "consent_given",
    "consent_withdrawn",
    "set",
];

/// One entry of a test's timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineDoc {
    pub at: Sp<TestTime>,
    pub kind: TimelineKind,
    /// The other keys: an event's properties (an error on other entries).
    pub others: Vec<(Sp<String>, Sp<ValueDoc>)>,
}

const TIMELINE_HELP: &str = "a timeline entry has `at:` and one of `event: NAME` (with its properties), `opened: MESSAGE`, `clicked: MESSAGE`, `unsubscribed: MESSAGE`, `bounced: MESSAGE`, `complained: MESSAGE`, `consent_given: CONSENT`, `consent_withdrawn: CONSENT` or `set: { FIELD: VALUE }`";

impl<'de> Deserialize<'de> for TimelineDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TimelineDoc;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(TIMELINE_HELP)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TimelineDoc, A::Error> {
                let mut at = None;
                let mut kinds: Vec<TimelineKind> = Vec::new();
                let mut names: Vec<String> = Vec::new();
                let mut others = Vec::new();
                while let Some(k) = map.next_key::<Sp<String>>()? {
                    let kind = match k.value.as_str() {
                        "at" => {
                            at = Some(map.next_value()?);
                            continue;
                        }
                        "event" => TimelineKind::Event(map.next_value()?),
                        "opened" => TimelineKind::Opened(map.next_value()?),
                        "clicked" => TimelineKind::Clicked(map.next_value()?),
                        "unsubscribed" => TimelineKind::Unsubscribed(map.next_value()?),
                        "bounced" => TimelineKind::Bounced(map.next_value()?),
                        "complained" => TimelineKind::Complained(map.next_value()?),
                        "consent_given" => TimelineKind::ConsentGiven(map.next_value()?),
                        "consent_withdrawn" => TimelineKind::ConsentWithdrawn(map.next_value()?),
                        "set" => TimelineKind::Set(map.next_value()?),
                        _ => {
                            others.push((k, map.next_value()?));
                            continue;
                        }
                    };
                    names.push(k.value);
                    kinds.push(kind);
                }
                let at = at.ok_or_else(|| de::Error::missing_field("at"))?;
                if kinds.len() > 1 {
                    return Err(de::Error::custom(format!(
                        "an entry records one thing, this one has `{}`: split it into one entry per list item",
                        names.join("` and `")
                    )));
                }
                let kind = kinds
                    .pop()
                    .ok_or_else(|| de::Error::custom(format!("nothing happens here: {TIMELINE_HELP}")))?;
                Ok(TimelineDoc { at, kind, others })
            }
        }
        d.deserialize_map(V)
    }
}

impl JsonSchema for TimelineDoc {
    fn schema_name() -> Cow<'static, str> {
        "TimelineEntry".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let time = g.subschema_for::<TestTime>();
        let time =
            json_schema!({ "allOf": [time], "description": "When it happens.", "examples": ["2026-11-27T09:05"] });
        let value = g.subschema_for::<ValueDoc>();
        let name =
            |what: &str, example: &str| json_schema!({ "type": "string", "description": what, "examples": [example] });
        let one = |key: &str, what: &str, example: &str| {
            json_schema!({
                "type": "object",
                "description": what,
                "properties": { "at": time.clone(), key: name(what, example) },
                "required": ["at", key],
                "additionalProperties": false
            })
        };
        json_schema!({
            "description": TIMELINE_HELP,
            "oneOf": [
                {
                    "type": "object",
                    "description": "An event; its properties are the entry's other keys.",
                    "properties": {
                        "at": time.clone(),
                        "event": name("The event (from `contact.events`).", "cart_abandoned")
                    },
                    "required": ["at", "event"],
                    "additionalProperties": value,
                    "not": { "anyOf": [
                        { "required": ["opened"] }, { "required": ["clicked"] }, { "required": ["unsubscribed"] },
                        { "required": ["bounced"] }, { "required": ["complained"] }, { "required": ["consent_given"] },
                        { "required": ["consent_withdrawn"] }, { "required": ["set"] }
                    ] }
                },
                one("opened", "The contact opened this message.", "cart_email"),
                one("clicked", "The contact clicked in this message.", "cart_email"),
                one("unsubscribed", "The contact unsubscribed from this message: its channel is suppressed.", "cart_email"),
                one("bounced", "This message bounced: its channel is suppressed.", "cart_email"),
                one("complained", "The contact complained about this message: its channel is suppressed.", "cart_email"),
                one("consent_given", "The contact gave this consent.", "sms_marketing"),
                one("consent_withdrawn", "The contact withdrew this consent.", "sms_marketing"),
                {
                    "type": "object",
                    "description": "Contact fields change (`null` removes a value).",
                    "properties": {
                        "at": time,
                        "set": {
                            "type": "object",
                            "description": "New values by field name.",
                            "additionalProperties": value,
                            "examples": [{ "total_spent": 1200, "phone": null }]
                        }
                    },
                    "required": ["at", "set"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// What an expectation is about.
#[derive(Clone, Debug, PartialEq)]
pub enum ExpectKind {
    /// The message is sent (at `at`, give or take `within`).
    Send(Sp<String>),
    /// The message is never sent (optionally: dropped for `reason`).
    Never(Sp<String>),
    /// The contact enters the scenario.
    Enter(Sp<String>),
    /// The contact leaves the scenario (optionally: for `reason`).
    Exit(Sp<String>),
}

/// One expectation of a test.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectDoc {
    pub kind: ExpectKind,
    pub at: Option<Sp<TestTime>>,
    pub within: Option<Sp<Duration>>,
    pub reason: Option<Sp<String>>,
    /// Content checks of a send.
    pub contains: Option<Sp<String>>,
    pub subject: Option<Sp<String>>,
    pub segments: Option<Sp<u32>>,
    pub encoding: Option<Sp<SmsEncodingDoc>>,
}

/// An SMS encoding, as tests name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema, Serialize)]
pub enum SmsEncodingDoc {
    #[serde(rename = "GSM-7", alias = "gsm7", alias = "gsm-7")]
    Gsm7,
    #[serde(rename = "UCS-2", alias = "ucs2", alias = "ucs-2")]
    Ucs2,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectFields {
    send: Option<Sp<String>>,
    never: Option<Sp<String>>,
    enter: Option<Sp<String>>,
    exit: Option<Sp<String>>,
    at: Option<Sp<TestTime>>,
    within: Option<Sp<Duration>>,
    reason: Option<Sp<String>>,
    contains: Option<Sp<String>>,
    subject: Option<Sp<String>>,
    segments: Option<Sp<u32>>,
    encoding: Option<Sp<SmsEncodingDoc>>,
}

const EXPECT_HELP: &str = "an expectation is one of `send: MESSAGE` (with `at:`, `within:`, `contains:`, `subject:`, `segments:`, `encoding:`), `never: MESSAGE` (with `reason:`), `enter: SCENARIO` or `exit: SCENARIO` (with `at:`, `within:`, `reason:`)";

impl<'de> Deserialize<'de> for ExpectDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = ExpectFields::deserialize(d)?;
        let mut kinds: Vec<(&str, ExpectKind)> = Vec::new();
        if let Some(m) = f.send {
            kinds.push(("send", ExpectKind::Send(m)));
        }
        if let Some(m) = f.never {
            kinds.push(("never", ExpectKind::Never(m)));
        }
        if let Some(s) = f.enter {
            kinds.push(("enter", ExpectKind::Enter(s)));
        }
        if let Some(s) = f.exit {
            kinds.push(("exit", ExpectKind::Exit(s)));
        }
        if kinds.len() > 1 {
            let names: Vec<&str> = kinds.iter().map(|(n, _)| *n).collect();
            return Err(de::Error::custom(format!(
                "an expectation checks one thing, this one has `{}`: split it into one expectation per list item",
                names.join("` and `")
            )));
        }
        let Some((name, kind)) = kinds.pop() else {
            return Err(de::Error::custom(format!("nothing is expected here: {EXPECT_HELP}")));
        };
        let content = [
            ("contains", f.contains.is_some()),
            ("subject", f.subject.is_some()),
            ("segments", f.segments.is_some()),
            ("encoding", f.encoding.is_some()),
        ];
        if name != "send"
            && let Some((key, _)) = content.iter().find(|(_, present)| *present)
        {
            return Err(de::Error::custom(format!(
                "`{key}` checks what a `send` expectation sent: it does not go with `{name}`"
            )));
        }
        if name == "never" && (f.at.is_some() || f.within.is_some()) {
            return Err(de::Error::custom(
                "`never` holds for the whole test: it takes no `at` or `within`",
            ));
        }
        if name == "send" && f.reason.is_some() {
            return Err(de::Error::custom(
                "`reason` goes with `never` (why a message was dropped) or `exit` (why the contact left)",
            ));
        }
        if f.within.is_some() && f.at.is_none() {
            return Err(de::Error::custom("`within` is a tolerance around `at`: add `at`"));
        }
        Ok(ExpectDoc {
            kind,
            at: f.at,
            within: f.within,
            reason: f.reason,
            contains: f.contains,
            subject: f.subject,
            segments: f.segments,
            encoding: f.encoding,
        })
    }
}

impl JsonSchema for ExpectDoc {
    fn schema_name() -> Cow<'static, str> {
        "Expectation".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let time = g.subschema_for::<TestTime>();
        let duration = g.subschema_for::<Duration>();
        let encoding = g.subschema_for::<SmsEncodingDoc>();
        let at = json_schema!({ "allOf": [time], "description": "When (exactly, unless `within` gives a tolerance).", "examples": ["2026-11-27T10:05"] });
        let within = json_schema!({ "allOf": [duration], "description": "The tolerance around `at`.", "examples": ["5m", "1h"] });
        json_schema!({
            "description": EXPECT_HELP,
            "oneOf": [
                {
                    "type": "object",
                    "description": "The message is sent, and what it says.",
                    "properties": {
                        "send": { "type": "string", "description": "The message.", "examples": ["cart_email"] },
                        "at": at.clone(),
                        "within": within.clone(),
                        "contains": { "type": "string", "description": "Text the rendered message contains (an email's subject, preheader or text; an SMS text; a push title or body).", "examples": ["PANIER10"] },
                        "subject": { "type": "string", "description": "The email's rendered subject, exactly.", "examples": ["Vous avez oublié quelque chose ?"] },
                        "segments": { "type": "integer", "minimum": 0, "description": "The SMS's segments.", "examples": [1] },
                        "encoding": { "allOf": [encoding], "description": "The SMS's encoding." }
                    },
                    "required": ["send"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "description": "The message is never sent during the test.",
                    "properties": {
                        "never": { "type": "string", "description": "The message.", "examples": ["cart_sms"] },
                        "reason": {
                            "type": "string",
                            "description": "It was due, and dropped for this reason.",
                            "enum": ["consent", "pressure", "quiet-hours", "no-address", "invalid-address", "suppressed", "expired", "holdout"]
                        }
                    },
                    "required": ["never"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "description": "The contact enters the scenario.",
                    "properties": {
                        "enter": { "type": "string", "description": "The scenario.", "examples": ["cart_abandonment"] },
                        "at": at.clone(),
                        "within": within.clone()
                    },
                    "required": ["enter"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "description": "The contact leaves the scenario.",
                    "properties": {
                        "exit": { "type": "string", "description": "The scenario.", "examples": ["welcome_series"] },
                        "at": at,
                        "within": within,
                        "reason": { "type": "string", "description": "Why: the reason of an `exit` step (`exit` for one without), `exit_when`, or `completed` (it ran its last step).", "examples": ["exit_when", "completed"] }
                    },
                    "required": ["exit"],
                    "additionalProperties": false
                }
            ]
        })
    }
}
