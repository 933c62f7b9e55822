//! What the runner runs: the plan as applied, compiled from the sources the
//! state keeps for each apply — never the working tree. Contacts in flight
//! in a replaced scenario finish the version they entered, compiled from
//! the sources of the last apply that had it.

use crate::state::run::{RunStore, SendRow};
use chrono::{DateTime, Utc};
use herald_compiler::ast::values::Purpose;
use herald_compiler::contact::Layout;
use herald_compiler::engine::experiment::{self, VariantStats};
use herald_compiler::engine::{Engine, Sent, guard::thread_id};
use herald_compiler::model::{Experiment, Plan};
use herald_compiler::rules::Solicitation;
use herald_compiler::{SourceFile, SourceSet};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The plans of replaced scenario versions still in flight, by (address, version).
pub type VersionPlans = Vec<((String, u64), Arc<Plan>)>;

/// Compiled plans by source digest, and the versions deployed now.
#[derive(Default)]
pub struct Deployed {
    plans: BTreeMap<String, Arc<Plan>>,
    versions: BTreeMap<String, u64>,
    pub serial: u64,
}

impl Deployed {
    fn compile(&mut self, store: &dyn RunStore, digest: &str, now: DateTime<Utc>) -> Result<Arc<Plan>, String> {
        if let Some(p) = self.plans.get(digest) {
            return Ok(Arc::clone(p));
        }
        let files = store
            .snapshot(digest)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the state lacks the sources of apply {digest}; apply the plan again"))?;
        let mut set = SourceSet::new();
        for (path, text) in files {
            if let Some(kind) = herald_compiler::SourceKind::of_path(&path) {
                set.add(SourceFile::new(path, kind, text));
            }
        }
        let compiled = herald_compiler::compile(&set, now, &Default::default());
        if compiled.has_errors() {
            return Err(
                "the deployed plan does not compile with this version of Herald; run `herald plan` and `herald apply` with it"
                    .into(),
            );
        }
        let plan = Arc::new(compiled.plan);
        self.plans.insert(digest.to_string(), Arc::clone(&plan));
        Ok(plan)
    }

    /// The plan of the latest apply.
    pub fn current(&mut self, store: &dyn RunStore, now: DateTime<Utc>) -> Result<Arc<Plan>, String> {
        let (serial, digest) = store
            .current_apply()
            .map_err(|e| e.to_string())?
            .ok_or("nothing is deployed yet: run `herald plan` and `herald apply` first")?;
        self.serial = serial;
        self.versions = store
            .deployed_versions()
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
        self.compile(store, &digest, now)
    }

    /// Plans of scenario versions with contacts still in them but replaced since.
    pub fn in_flight(&mut self, store: &dyn RunStore, now: DateTime<Utc>) -> Result<VersionPlans, String> {
        let mut out = Vec::new();
        for (address, version) in store.active_versions().map_err(|e| e.to_string())? {
            if self.versions.get(&address) == Some(&version) {
                continue;
            }
            match store.version_digest(&address, version).map_err(|e| e.to_string())? {
                Some(d) => out.push(((address, version), self.compile(store, &d, now)?)),
                None => {
                    tracing::warn!(scenario = %address, version, "no sources for a version in flight; its contacts stop")
                }
            }
        }
        Ok(out)
    }

    pub fn versions(&self) -> &BTreeMap<String, u64> {
        &self.versions
    }
}

/// The engines of one pass: the current plan's, and one per older version in flight.
pub struct Engines<'p> {
    pub current: Engine<'p>,
    old: BTreeMap<(String, u64), Engine<'p>>,
    versions: BTreeMap<String, u64>,
    pub needs_history: bool,
    /// Experiment results so far, by object.
    stats: BTreeMap<String, BTreeMap<String, VariantStats>>,
}

impl<'p> Engines<'p> {
    pub fn new(
        current: &'p Plan,
        old: &'p [((String, u64), Arc<Plan>)],
        layout: &Layout,
        versions: &BTreeMap<String, u64>,
        stats: BTreeMap<String, BTreeMap<String, VariantStats>>,
    ) -> Engines<'p> {
        let current = Engine::new(current, layout);
        let old: BTreeMap<(String, u64), Engine<'p>> =
            old.iter().map(|(k, p)| (k.clone(), Engine::new(p, layout))).collect();
        let needs_history = current.reads_history() || old.values().any(Engine::reads_history);
        Engines {
            current,
            old,
            versions: versions.clone(),
            needs_history,
            stats,
        }
    }

    /// The deployed version of an object (1 when it is not in the state yet).
    pub fn version(&self, address: &str) -> u64 {
        self.versions.get(address).copied().unwrap_or(1)
    }

    pub fn for_version(&self, address: &str, version: u64) -> Option<&Engine<'p>> {
        if self.versions.get(address) == Some(&version) {
            return Some(&self.current);
        }
        self.old.get(&(address.to_string(), version))
    }

    /// The winner of an experiment of `address` so far (the first variant
    /// without results).
    pub fn winner(&self, address: &str, e: &'p Experiment) -> Option<&'p str> {
        experiment::winner(e, self.stats.get(address)?)
    }
}

/// Transactional before service before marketing at the same instant.
pub fn priority(p: Purpose) -> u8 {
    match p {
        Purpose::Transactional => 0,
        Purpose::Service => 1,
        Purpose::Marketing => 2,
    }
}

/// A ledger row as pressure rules see it.
pub fn sent(row: &SendRow) -> Option<Sent<'_>> {
    Some(Sent {
        at: row.sent_at?,
        what: Solicitation {
            channel: row.channel,
            purpose: row.purpose,
            program: &row.program,
            message_tags: &row.tags,
            origin_tags: &[],
        },
        thread: thread_id(row.thread_key()),
    })
}
