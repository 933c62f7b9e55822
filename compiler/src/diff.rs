//! Desired objects against the deployed ones (passed in as data): what
//! `apply` would create, update, replace or delete. Deterministic: sorted by
//! address, field changes by path.

use crate::ir::Object;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// An object as recorded in the state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deployed {
    pub kind: String,
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    pub kind: String,
    pub name: String,
    /// `["no-op"]`, `["create"]`, `["update"]`, `["delete"]`, or
    /// `["create", "delete"]` (replace: the new version starts, the old one
    /// finishes its contacts in flight, then goes).
    pub actions: Vec<String>,
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
        self.actions == ["no-op"]
    }
    pub fn is_create(&self) -> bool {
        self.actions == ["create"]
    }
    pub fn is_update(&self) -> bool {
        self.actions == ["update"]
    }
    pub fn is_delete(&self) -> bool {
        self.actions == ["delete"]
    }
    pub fn is_replace(&self) -> bool {
        self.actions.len() == 2
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
fn forces_replace(kind: &str, path: &str) -> bool {
    kind == "scenario" && (path.starts_with("steps") || path.starts_with("trigger"))
}

fn change(kind: &str, name: &str, address: &str, before: Option<&Deployed>, after: Option<&Object>) -> Change {
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
    let (actions, reason): (Vec<&str>, Option<String>) = match (before, after) {
        (None, Some(_)) => (vec!["create"], None),
        (Some(_), None) => (vec!["delete"], Some("delete_because_not_in_configuration".into())),
        (Some(d), Some(o)) if d.hash == o.hash => (vec!["no-op"], None),
        (Some(_), Some(_)) if replace => (
            vec!["create", "delete"],
            Some("replace_because_steps_or_trigger_changed".into()),
        ),
        (Some(_), Some(_)) => (vec!["update"], None),
        (None, None) => (vec!["no-op"], None),
    };
    let version_before = before.map(|d| d.version);
    let version_after = match (before, actions.as_slice()) {
        (_, ["delete"]) => None,
        (Some(d), ["create", "delete"]) => Some(d.version + 1),
        (Some(d), _) => Some(d.version),
        (None, _) => Some(1),
    };
    Change {
        address: address.to_string(),
        kind: kind.to_string(),
        name: name.to_string(),
        actions: actions.into_iter().map(String::from).collect(),
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
            (Some(o), _) => (o.kind.to_string(), o.name.clone()),
            (None, Some(d)) => (d.kind.clone(), d.name.clone()),
            (None, None) => continue,
        };
        out.push(change(&kind, &name, addr, d, o));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: &'static str, name: &str, body: Value) -> Object {
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
            kind: o.kind.into(),
            name: o.name.clone(),
            version,
            hash: o.hash.clone(),
            body: o.body.clone(),
        }
    }

    #[test]
    fn create_update_delete_replace_noop() {
        let seg_old = obj(
            "segment",
            "vip",
            json!({"condition": {"op": "const", "value": true}, "description": "a"}),
        );
        let seg_new = obj(
            "segment",
            "vip",
            json!({"condition": {"op": "const", "value": true}, "description": "b"}),
        );
        let sc_old = obj(
            "scenario",
            "w",
            json!({"steps": [{"step": "wait", "duration": "1d"}], "program": "p"}),
        );
        let sc_new = obj(
            "scenario",
            "w",
            json!({"steps": [{"step": "wait", "duration": "2d"}], "program": "p"}),
        );
        let gone = obj("message", "old", json!({"purpose": "marketing"}));
        let same = obj("program", "p", json!({"objective": "x"}));
        let fresh = obj("campaign", "c", json!({"program": "p"}));
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
        assert_eq!(by["segments.vip"].actions, ["update"]);
        assert_eq!(by["segments.vip"].fields.len(), 1);
        assert_eq!(by["segments.vip"].unchanged_fields, 2);
        assert_eq!(by["scenarios.w"].actions, ["create", "delete"]);
        assert_eq!(by["scenarios.w"].version_after, Some(4));
        assert!(by["scenarios.w"].fields["steps[0].duration"].forces_replace);
        assert_eq!(by["messages.old"].actions, ["delete"]);
        assert_eq!(by["programs.p"].actions, ["no-op"]);
        assert_eq!(by["campaigns.c"].actions, ["create"]);
        let addresses: Vec<&str> = changes.iter().map(|c| c.address.as_str()).collect();
        let mut sorted = addresses.clone();
        sorted.sort_unstable();
        assert_eq!(addresses, sorted, "deterministic order");
    }
}
