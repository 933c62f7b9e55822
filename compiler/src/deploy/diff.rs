//! Desired objects against the deployed ones (passed in as data): what
//! `apply` would create, update, replace or delete. Deterministic: sorted by
//! address, field changes by path.

use crate::ir::{Object, ObjectKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// An object as recorded in the state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deployed {
    pub kind: ObjectKind,
    pub name: String,
    pub version: u64,
    pub hash: String,
    pub body: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// This field makes the change a replacement (a new scenario version).
    pub forces_replace: bool,
}

/// What applying a change does to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    NoOp,
    Create,
    Update,
    Delete,
    /// A new version starts, the old one finishes its contacts in flight, then goes.
    Replace,
}

impl Action {
    /// The terraform-style list written in plan documents.
    pub fn words(self) -> &'static [&'static str] {
        match self {
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Update => &["update"],
            Action::Delete => &["delete"],
            Action::Replace => &["create", "delete"],
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.words().join(", "))
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.words().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let words: Vec<String> = Vec::deserialize(d)?;
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        Ok(match words.as_slice() {
            ["no-op"] => Action::NoOp,
            ["create"] => Action::Create,
            ["update"] => Action::Update,
            ["delete"] => Action::Delete,
            ["create", "delete"] | ["delete", "create"] => Action::Replace,
            other => {
                return Err(serde::de::Error::custom(format!(
                    "{other:?} is not a list of actions Herald knows"
                )));
            }
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    pub kind: ObjectKind,
    pub name: String,
    /// Written as `["no-op"]`, `["create"]`, `["update"]`, `["delete"]`, or
    /// `["create", "delete"]` (replace).
    pub actions: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub fields: BTreeMap<String, FieldChange>,
    /// Fields that did not change (not listed).
    pub unchanged_fields: usize,
    pub version_before: Option<u64>,
    pub version_after: Option<u64>,
}

impl Change {
    pub fn is_noop(&self) -> bool {
        self.actions == Action::NoOp
    }
    pub fn is_create(&self) -> bool {
        self.actions == Action::Create
    }
    pub fn is_update(&self) -> bool {
        self.actions == Action::Update
    }
    pub fn is_delete(&self) -> bool {
        self.actions == Action::Delete
    }
    pub fn is_replace(&self) -> bool {
        self.actions == Action::Replace
    }
}

/// Leaf values of a JSON document by path (`steps[1].duration`).
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

/// Paths whose change needs a new version of the object.
fn forces_replace(kind: ObjectKind, path: &str) -> bool {
    kind == ObjectKind::Scenario && (path.starts_with("steps") || path.starts_with("trigger"))
}

fn change(kind: ObjectKind, name: &str, address: &str, before: Option<&Deployed>, after: Option<&Object>) -> Change {
    let mut b = BTreeMap::new();
    let mut a = BTreeMap::new();
    if let Some(d) = before {
        flatten("", &d.body, &mut b);
    }
    if let Some(o) = after {
        flatten("", &o.body, &mut a);
    }
    let mut fields = BTreeMap::new();
    let mut unchanged = 0;
    let mut replace = false;
    let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    for k in keys {
        let (x, y) = (b.get(k), a.get(k));
        if x == y {
            unchanged += 1;
            continue;
        }
        let forces = before.is_some() && after.is_some() && forces_replace(kind, k);
        replace |= forces;
        fields.insert(
            k.clone(),
            FieldChange {
                before: x.cloned(),
                after: y.cloned(),
                forces_replace: forces,
            },
        );
    }
    let (actions, reason) = match (before, after) {
        (None, Some(_)) => (Action::Create, None),
        (Some(_), None) => (Action::Delete, Some("delete_because_not_in_configuration".into())),
        (Some(d), Some(o)) if d.hash == o.hash => (Action::NoOp, None),
        (Some(_), Some(_)) if replace => (Action::Replace, Some("replace_because_steps_or_trigger_changed".into())),
        (Some(_), Some(_)) => (Action::Update, None),
        (None, None) => (Action::NoOp, None),
    };
    let version_before = before.map(|d| d.version);
    let version_after = match (before, actions) {
        (_, Action::Delete) => None,
        (Some(d), Action::Replace) => Some(d.version + 1),
        (Some(d), _) => Some(d.version),
        (None, _) => Some(1),
    };
    Change {
        address: address.to_string(),
        kind,
        name: name.to_string(),
        actions,
        reason,
        fields: if before.is_some() && after.is_some() {
            fields
        } else {
            BTreeMap::new()
        },
        unchanged_fields: unchanged,
        version_before,
        version_after,
    }
}

pub fn diff(desired: &BTreeMap<String, Object>, deployed: &BTreeMap<String, Deployed>) -> Vec<Change> {
    let mut out = Vec::new();
    let addresses: std::collections::BTreeSet<&String> = desired.keys().chain(deployed.keys()).collect();
    for addr in addresses {
        let (d, o) = (deployed.get(addr), desired.get(addr));
        let (kind, name) = match (o, d) {
            (Some(o), _) => (o.kind, o.name.clone()),
            (None, Some(d)) => (d.kind, d.name.clone()),
            (None, None) => continue,
        };
        out.push(change(kind, &name, addr, d, o));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: ObjectKind, name: &str, body: Value) -> Object {
        let hash = crate::ir::sha256_hex(body.to_string().as_bytes());
        Object {
            address: format!("{kind}s.{name}"),
            kind,
            name: name.into(),
            body,
            hash,
        }
    }

    fn deployed(o: &Object, version: u64) -> Deployed {
        Deployed {
            kind: o.kind,
            name: o.name.clone(),
            version,
            hash: o.hash.clone(),
            body: o.body.clone(),
        }
    }

    #[test]
    fn create_update_delete_replace_noop() {
        let seg_old = obj(
            ObjectKind::Segment,
            "vip",
            json!({"condition": {"op": "const", "value": true}, "description": "a"}),
        );
        let seg_new = obj(
            ObjectKind::Segment,
            "vip",
            json!({"condition": {"op": "const", "value": true}, "description": "b"}),
        );
        let sc_old = obj(
            ObjectKind::Scenario,
            "w",
            json!({"steps": [{"step": "wait", "duration": "1d"}], "program": "p"}),
        );
        let sc_new = obj(
            ObjectKind::Scenario,
            "w",
            json!({"steps": [{"step": "wait", "duration": "2d"}], "program": "p"}),
        );
        let gone = obj(ObjectKind::Message, "old", json!({"purpose": "marketing"}));
        let same = obj(ObjectKind::Program, "p", json!({"objective": "x"}));
        let fresh = obj(ObjectKind::Campaign, "c", json!({"program": "p"}));
        let desired: BTreeMap<String, Object> = [&seg_new, &sc_new, &same, &fresh]
            .iter()
            .map(|o| (o.address.clone(), (*o).clone()))
            .collect();
        let state: BTreeMap<String, Deployed> = [(&seg_old, 1), (&sc_old, 3), (&gone, 1), (&same, 2)]
            .iter()
            .map(|(o, v)| (o.address.clone(), deployed(o, *v)))
            .collect();
        let changes = diff(&desired, &state);
        let by: BTreeMap<&str, &Change> = changes.iter().map(|c| (c.address.as_str(), c)).collect();
        assert_eq!(by["segments.vip"].actions, Action::Update);
        assert_eq!(by["segments.vip"].fields.len(), 1);
        assert_eq!(by["segments.vip"].unchanged_fields, 2);
        assert_eq!(by["scenarios.w"].actions, Action::Replace);
        assert_eq!(by["scenarios.w"].version_after, Some(4));
        assert!(by["scenarios.w"].fields["steps[0].duration"].forces_replace);
        assert_eq!(by["messages.old"].actions, Action::Delete);
        assert_eq!(by["programs.p"].actions, Action::NoOp);
        assert_eq!(by["campaigns.c"].actions, Action::Create);
        let addresses: Vec<&str> = changes.iter().map(|c| c.address.as_str()).collect();
        let mut sorted = addresses.clone();
        sorted.sort_unstable();
        assert_eq!(addresses, sorted, "deterministic order");
    }

    #[test]
    fn actions_keep_their_json_shape_and_refuse_unknown_lists() {
        for a in [
            Action::NoOp,
            Action::Create,
            Action::Update,
            Action::Delete,
            Action::Replace,
        ] {
            let json = serde_json::to_value(a).unwrap();
            assert_eq!(serde_json::from_value::<Action>(json).unwrap(), a);
        }
        assert_eq!(
            serde_json::to_value(Action::Replace).unwrap(),
            json!(["create", "delete"])
        );
        for bad in [
            json!(["create", "update"]),
            json!([]),
            json!(["teleport"]),
            json!("create"),
        ] {
            assert!(serde_json::from_value::<Action>(bad.clone()).is_err(), "{bad}");
        }
        assert!(serde_json::from_value::<ObjectKind>(json!("widget")).is_err());
        assert_eq!(serde_json::to_value(ObjectKind::Policies).unwrap(), json!("policies"));
    }
}
