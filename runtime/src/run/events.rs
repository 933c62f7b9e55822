//! Events from outside (the HTTP endpoint, `herald event send`), checked
//! against the deployed plan's declaration (`contact.events`) before they
//! are recorded: an unknown event or property, or a value of the wrong
//! type, is refused with a message that names it — never the value.

use chrono::{DateTime, Datelike, Utc};
use herald_compiler::ast::ScalarType;
use herald_compiler::contact::{self, FieldValue};
use herald_compiler::engine::EventProps;
use herald_compiler::model::Plan;
use serde_json::{Map, Value};

/// A contact id, event id or other string field of an event, on the command
/// line as over HTTP: not empty, at most 256 characters.
pub fn check_id(option: &str, id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("`{option}` is empty"));
    }
    if id.len() > 256 {
        return Err(format!("`{option}` is longer than 256 characters"));
    }
    Ok(())
}

/// An event id seen before: the same event again (`Ok`), or an id reused
/// for another contact or event, which would be dropped as a duplicate and
/// lost (`Err`, naming neither).
pub fn check_repeat(
    store: &dyn crate::state::run::RunStore,
    id: &str,
    contact: &str,
    name: &str,
) -> Result<(), String> {
    match store.event_of_key(id) {
        Ok(Some((c, n))) if c != contact || n != name => Err(format!(
            "the id `{id}` was already recorded for another contact or event: an id names one event; give this one its own"
        )),
        _ => Ok(()),
    }
}

/// How far ahead of the runner's clock an event's `at` may be: a sender's
/// clock may run a little fast, but an event is what happened.
const AHEAD: chrono::Duration = chrono::Duration::hours(1);

/// Whether an event's time is plausible against the runner's `now`. An
/// event dated years ahead would enter its contact at once and wait until
/// then (using up a `reentry: never` for good); one dated before 2000 is a
/// zero or default date, not a happening.
pub fn check_at(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if at > now + AHEAD {
        return Err(format!(
            "`at` ({}) is more than an hour ahead of the runner's clock ({}): send an event when it happens, and check the sender's clock",
            stamp(at),
            stamp(now)
        ));
    }
    if at.year() < 2000 {
        return Err(format!(
            "`at` ({}) is before 2000: a zero or default date, not when the event happened",
            stamp(at)
        ));
    }
    Ok(())
}

fn type_name(t: ScalarType) -> &'static str {
    match t {
        ScalarType::String => "text",
        ScalarType::Email => "an email address",
        ScalarType::Phone => "a phone number",
        ScalarType::Number => "a number",
        ScalarType::Integer => "a whole number",
        ScalarType::Boolean => "true or false",
        ScalarType::Date => "a date (2026-11-27)",
        ScalarType::Datetime => "a date and time (2026-11-27T10:00:00Z)",
        ScalarType::Timezone => "a time zone name",
    }
}

/// A JSON value as the declared type, or why not.
fn typed(t: ScalarType, v: &Value) -> Option<FieldValue> {
    match (t, v) {
        (ScalarType::Number, Value::Number(n)) => n.as_f64().map(FieldValue::Number),
        (ScalarType::Integer, Value::Number(n)) => n.as_f64().filter(|f| f.fract() == 0.0).map(FieldValue::Number),
        (ScalarType::Boolean, Value::Bool(b)) => Some(FieldValue::Bool(*b)),
        (_, Value::String(s)) => contact::parse_property(t, s).ok().flatten(),
        _ => None,
    }
}

/// Check an event against the plan. `Ok`: its properties, as stored.
pub fn check(plan: &Plan, name: &str, props: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let Some(event) = plan.contact.events.get(name) else {
        let hint = herald_compiler::suggest::did_you_mean(name, plan.contact.events.keys().map(String::as_str))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_else(|| {
                format!(
                    "; the plan declares: {}",
                    plan.contact.events.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            });
        return Err(format!("unknown event `{name}`{hint}"));
    };
    let mut errors = Vec::new();
    for (k, v) in props {
        match event.properties.get(k) {
            None => errors.push(format!("event `{name}` has no property `{k}`")),
            Some(_) if v.is_null() => {}
            Some(t) if typed(*t, v).is_none() => {
                errors.push(format!("property `{k}` of `{name}` must be {}", type_name(*t)))
            }
            Some(_) => {}
        }
    }
    if errors.is_empty() {
        Ok(props.clone())
    } else {
        Err(errors.join("; "))
    }
}

/// Parse `key=value` command-line properties by their declared types.
pub fn from_args(plan: &Plan, name: &str, args: &[String]) -> Result<Map<String, Value>, String> {
    let event = plan.contact.events.get(name);
    let mut out = Map::new();
    for a in args {
        let Some((k, raw)) = a.split_once('=') else {
            return Err(format!("`--prop {a}` is not `KEY=VALUE`"));
        };
        if out.contains_key(k) {
            return Err(format!("`--prop {k}=…` is given twice: give each property once"));
        }
        let v = match event.and_then(|e| e.properties.get(k)) {
            Some(ScalarType::Number | ScalarType::Integer) => raw
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
                .unwrap_or_else(|| Value::String(raw.to_string())),
            Some(ScalarType::Boolean) => match raw.trim() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(raw.to_string()),
            },
            _ => Value::String(raw.to_string()),
        };
        out.insert(k.to_string(), v);
    }
    check(plan, name, &out)
}

/// The stored properties (JSON) of an event, typed for conditions. A
/// property that does not fit its declaration (the plan changed) is missing.
pub fn typed_props(plan: &Plan, name: &str, json: &str) -> EventProps {
    let props: Map<String, Value> = serde_json::from_str(json).unwrap_or_default();
    let Some(event) = plan.contact.events.get(name) else {
        return Vec::new();
    };
    event
        .properties
        .iter()
        .map(|(k, t)| (k.clone(), props.get(k).and_then(|v| typed(*t, v))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_compiler::{SourceFile, SourceKind, SourceSet};

    #[test]
    fn an_event_is_dated_when_it_could_have_happened() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let now = t("2026-11-27T09:00:00Z");
        assert!(check_at(now, now).is_ok());
        assert!(
            check_at(t("2026-11-27T09:59:59Z"), now).is_ok(),
            "a fast clock is allowed for"
        );
        assert!(check_at(t("2024-03-01T00:00:00Z"), now).is_ok(), "the past is history");
        let ahead = check_at(t("9999-12-31T23:59:59Z"), now).unwrap_err();
        assert!(
            ahead.contains("more than an hour ahead") && ahead.contains("2026-11-27T09:00:00Z"),
            "{ahead}"
        );
        assert!(check_at(t("2026-11-27T10:00:01Z"), now).is_err());
        let zero = check_at(t("1970-01-01T00:00:00Z"), now).unwrap_err();
        assert!(zero.contains("before 2000"), "{zero}");
    }

    fn plan() -> Plan {
        let mut set = SourceSet::new();
        set.add(SourceFile::new(
            "herald.toml",
            SourceKind::Config,
            "[project]\nname = \"t\"\ntimezone = \"Europe/Paris\"\n",
        ));
        set.add(SourceFile::new(
            "c.yaml",
            SourceKind::Yaml,
            "contact:\n  fields:\n    email: { type: email }\n  events:\n    cart_abandoned: { properties: { cart_value: number, cart_url: string } }\n",
        ));
        herald_compiler::compile(&set, chrono::DateTime::UNIX_EPOCH, &Default::default()).plan
    }

    #[test]
    fn events_are_checked_without_echoing_values() {
        let p = plan();
        let ok: Map<String, Value> = serde_json::from_str(r#"{"cart_value": 80, "cart_url": "https://x"}"#).unwrap();
        assert!(check(&p, "cart_abandoned", &ok).is_ok());
        let e = check(&p, "cart_abandonned", &ok).unwrap_err();
        assert!(e.contains("did you mean `cart_abandoned`"), "{e}");
        let bad: Map<String, Value> =
            serde_json::from_str(r#"{"cart_value": "jean@example.test", "size": 1}"#).unwrap();
        let e = check(&p, "cart_abandoned", &bad).unwrap_err();
        assert!(e.contains("`cart_value` of `cart_abandoned` must be a number"), "{e}");
        assert!(e.contains("no property `size`"), "{e}");
        assert!(!e.contains("jean@"), "{e}");
        let args = from_args(&p, "cart_abandoned", &["cart_value=80".into()]).unwrap();
        assert_eq!(args["cart_value"], serde_json::json!(80.0));
        let typed = typed_props(&p, "cart_abandoned", r#"{"cart_value": 80}"#);
        assert!(typed.contains(&("cart_value".to_string(), Some(FieldValue::Number(80.0)))));
        assert!(typed.contains(&("cart_url".to_string(), None)));
    }
}
