//! The plan's deployable objects: canonical JSON bodies with content hashes.
//! Same sources, same bytes: maps are sorted, spans are never serialised.

use crate::model::Plan;
use crate::source::SourceSet;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The version of the object format (and so of hashes); bump on breaking changes.
pub const OBJECT_FORMAT: &str = "1";

/// The kinds of deployable objects: a closed set. A plan file or a state row
/// naming another kind is refused, never read as one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Contact,
    Policies,
    Program,
    Segment,
    Message,
    Campaign,
    Scenario,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 7] = [
        ObjectKind::Contact,
        ObjectKind::Policies,
        ObjectKind::Program,
        ObjectKind::Segment,
        ObjectKind::Message,
        ObjectKind::Campaign,
        ObjectKind::Scenario,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Contact => "contact",
            ObjectKind::Policies => "policies",
            ObjectKind::Program => "program",
            ObjectKind::Segment => "segment",
            ObjectKind::Message => "message",
            ObjectKind::Campaign => "campaign",
            ObjectKind::Scenario => "scenario",
        }
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ObjectKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ObjectKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a kind of Herald object"))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Object {
    pub address: String,
    pub kind: ObjectKind,
    pub name: String,
    pub body: Value,
    pub hash: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(64 + 7);
    s.push_str("sha256:");
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn object<T: Serialize>(kind: ObjectKind, section: &str, name: &str, value: &T) -> Object {
    let body = serde_json::to_value(value).unwrap_or(Value::Null);
    let canonical = serde_json::to_string(&body).unwrap_or_default();
    let hash = sha256_hex(format!("{OBJECT_FORMAT}\n{kind}\n{canonical}").as_bytes());
    let address = if name.is_empty() {
        section.to_string()
    } else {
        format!("{section}.{name}")
    };
    Object {
        address,
        kind,
        name: name.to_string(),
        body,
        hash,
    }
}

/// Every deployable object of a plan, by address (`segments.vip`, `policies`…).
pub fn objects(plan: &Plan) -> BTreeMap<String, Object> {
    let mut out = BTreeMap::new();
    let mut add = |o: Object| {
        out.insert(o.address.clone(), o);
    };
    add(object(ObjectKind::Contact, "contact", "", &plan.contact));
    add(object(ObjectKind::Policies, "policies", "", &plan.policies));
    for (n, x) in &plan.programs {
        add(object(ObjectKind::Program, "programs", n, x));
    }
    for (n, x) in &plan.segments {
        add(object(ObjectKind::Segment, "segments", n, x));
    }
    for (n, x) in &plan.messages {
        add(object(ObjectKind::Message, "messages", n, x));
    }
    for (n, x) in &plan.campaigns {
        add(object(ObjectKind::Campaign, "campaigns", n, x));
    }
    for (n, x) in &plan.scenarios {
        add(object(ObjectKind::Scenario, "scenarios", n, x));
    }
    out
}

/// A digest of all the plan's sources (paths and contents).
pub fn source_digest(sources: &SourceSet) -> String {
    let mut files: Vec<(&str, &str)> = sources
        .iter()
        .map(|(_, f)| (f.path.as_str(), f.text.as_str()))
        .collect();
    files.sort_unstable();
    let mut h = Sha256::new();
    for (path, text) in files {
        h.update(path.as_bytes());
        h.update([0]);
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    let d = h.finalize();
    let mut s = String::from("sha256:");
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
