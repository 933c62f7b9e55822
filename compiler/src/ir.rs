//! The plan's deployable objects: canonical JSON bodies with content hashes.
//! Same sources, same bytes: maps are sorted, spans are never serialised.

use crate::model::Plan;
use crate::source::SourceSet;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The version of the object format (and so of hashes); bump on breaking changes.
pub const OBJECT_FORMAT: &str = "1";

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Object {
    pub address: String,
    pub kind: &'static str,
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

fn object<T: Serialize>(kind: &'static str, section: &str, name: &str, value: &T) -> Object {
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
    add(object("contact", "contact", "", &plan.contact));
    add(object("policies", "policies", "", &plan.policies));
    for (n, x) in &plan.programs {
        add(object("program", "programs", n, x));
    }
    for (n, x) in &plan.segments {
        add(object("segment", "segments", n, x));
    }
    for (n, x) in &plan.messages {
        add(object("message", "messages", n, x));
    }
    for (n, x) in &plan.campaigns {
        add(object("campaign", "campaigns", n, x));
    }
    for (n, x) in &plan.scenarios {
        add(object("scenario", "scenarios", n, x));
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
