//! `herald plan`: compile, diff against the state, forecast on the contacts.
//! The plan document (JSON, `docs/plan-format.md`) is also the saved plan
//! that `herald apply FILE` executes.

pub mod markdown;
pub mod settings;
pub mod text;

use crate::crm::{self, CrmError};
use crate::exit::Stop;
use crate::state::{Access, Meta, State, StateError};
use herald_compiler::diagnostic::{Code, Diagnostic, render_json};
use herald_compiler::diff::{self, Change};
use herald_compiler::forecast::{Forecast, Forecaster, Impact};
use herald_compiler::ir::{self, ObjectKind};
use herald_compiler::{SourceSet, model, model::Plan};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// 1.1: `plan_dir`, guard status `accepted`.
pub const FORMAT_VERSION: &str = "1.1";

/// The longest forecast horizon (`--horizon-days`): ten years.
pub const MAX_HORIZON_DAYS: u64 = 3_660;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Source {
    pub digest: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlannedChange {
    #[serde(flatten)]
    pub change: Change,
    /// Campaigns and scenarios: who will receive what (counts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
    /// Replaced scenarios: contacts still in the old version (they finish it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub no_op: usize,
    pub recipients: u64,
    pub sms_segments: u64,
    pub cost: f64,
    pub currency: String,
    /// Sections of `herald.toml` whose settings differ from the deployed
    /// ones (`providers.email`, `run`): applied like the objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<String>,
}

impl Summary {
    pub fn has_changes(&self) -> bool {
        self.create + self.update + self.replace + self.delete > 0 || !self.settings.is_empty()
    }

    /// Objects created, a replacement counting as one (terraform's footer).
    pub fn to_create(&self) -> usize {
        self.create + self.replace
    }

    /// Objects deleted, a replacement counting as one.
    pub fn to_delete(&self) -> usize {
        self.delete + self.replace
    }
}

/// The guards of `policies.guards`: a closed set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GuardCode {
    #[serde(rename = "guard/max-cost")]
    MaxCost,
    #[serde(rename = "guard/audience-growth")]
    AudienceGrowth,
}

impl GuardCode {
    pub const ALL: [GuardCode; 2] = [GuardCode::MaxCost, GuardCode::AudienceGrowth];

    pub fn as_str(self) -> &'static str {
        match self {
            GuardCode::MaxCost => "guard/max-cost",
            GuardCode::AudienceGrowth => "guard/audience-growth",
        }
    }
}

impl std::fmt::Display for GuardCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for GuardCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        GuardCode::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| {
            let all: Vec<&str> = GuardCode::ALL.iter().map(|c| c.as_str()).collect();
            format!("`{s}` is not a guard; the guards are {}", all.join(", "))
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardStatus {
    Pass,
    /// Failed: the plan cannot be applied.
    Fail,
    /// Failed, and accepted deliberately with `--accept-guard CODE`.
    Accepted,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Guard {
    pub code: GuardCode,
    pub status: GuardStatus,
    pub message: String,
}

impl Guard {
    /// Failed and not accepted: the plan cannot be applied.
    pub fn blocks(&self) -> bool {
        self.status == GuardStatus::Fail
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ContactsRead {
    /// The contacts file, as written in herald.toml.
    pub file: String,
    /// Valid contacts read.
    pub contacts: u64,
    /// Rows rejected (never forecast).
    pub bad_rows: u64,
    /// The first rejected rows: where and why, never the row's content.
    pub errors: Vec<RejectedRow>,
    /// Contacts kept with an email or phone that is not a valid address:
    /// forecast, but their sends on that channel are dropped.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub invalid_addresses: u64,
    /// The first invalid addresses: row and column, never the value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invalid: Vec<RejectedRow>,
    pub horizon_days: u64,
    /// The campaigns and scenarios whose conditions read history the
    /// forecast does not have (`count()` without `[crm] events`, `opened()`
    /// and `clicked()`: 0 and false in the forecast), as `ADDRESS (where)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub without_history: Vec<String>,
    /// The event history of `[crm] events` / `events_table`, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<EventsRead>,
    /// Opens and clicks read from the state's send ledger, once `herald run`
    /// has sent (absent before: no engagement is known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engagement: Option<u64>,
    /// Events `herald run` received (absent when none), which `count()`
    /// reads after the newest event of `[crm] events`, as the runner does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_events: Option<u64>,
}

/// What the event history held.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EventsRead {
    /// The file (or `FILE#TABLE` for SQLite), as written in herald.toml.
    pub file: String,
    /// Events read (rejected rows excluded).
    pub events: u64,
    /// Contacts with at least one event.
    pub contacts: u64,
    pub bad_rows: u64,
    /// The first rejected rows: where and why, never the row's content.
    pub errors: Vec<RejectedRow>,
}

/// A rejected contact row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RejectedRow {
    pub row: u64,
    pub column: String,
    pub reason: String,
}

impl std::fmt::Display for RejectedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {}, column `{}`: {}", self.row, self.column, self.reason)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredObject {
    /// An unknown kind makes the file unreadable, never another kind.
    pub kind: ObjectKind,
    pub name: String,
    pub hash: String,
    pub body: serde_json::Value,
}

/// The plan document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanDoc {
    pub format_version: String,
    pub herald_version: String,
    pub project: String,
    pub applyable: bool,
    pub complete: bool,
    pub errored: bool,
    pub source: Source,
    pub prior_state: Meta,
    pub changes: Vec<PlannedChange>,
    pub summary: Summary,
    pub contacts: ContactsRead,
    pub diagnostics: Vec<serde_json::Value>,
    pub guards: Vec<Guard>,
    /// The objects the sources compiled to (by address). `apply` compiles the
    /// sources again and refuses unless it gets exactly these (hashes); it
    /// writes what it compiled, never what it read here.
    pub objects: BTreeMap<String, StoredObject>,
    /// Saved plans: the plan directory, relative to the directory holding the
    /// plan file (so the two can be moved together). `None` until saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_dir: Option<String>,
    /// Digest of everything above: a saved plan that was edited is refused.
    #[serde(default)]
    pub digest: String,
}

impl PlanDoc {
    /// sha256 of the document with `digest` empty, as compact JSON with
    /// sorted keys. It detects accidents (a truncated or hand-edited file);
    /// it is no seal: `apply` trusts nothing in the file and compiles again.
    pub fn compute_digest(&self) -> String {
        let mut copy = self.clone();
        copy.digest = String::new();
        let canonical = serde_json::to_value(&copy)
            .and_then(|v| serde_json::to_string(&v))
            .unwrap_or_default();
        ir::sha256_hex(canonical.as_bytes())
    }

    /// Failed guards that were not accepted.
    pub fn blocking_guards(&self) -> impl Iterator<Item = &Guard> {
        self.guards.iter().filter(|g| g.blocks())
    }

    /// Guards that failed and were accepted.
    pub fn accepted_guards(&self) -> Vec<GuardCode> {
        self.guards
            .iter()
            .filter(|g| g.status == GuardStatus::Accepted)
            .map(|g| g.code)
            .collect()
    }

    /// Audiences by address (for the growth guard, recorded on apply).
    pub fn audiences(&self) -> BTreeMap<String, u64> {
        self.changes
            .iter()
            .filter_map(|c| c.impact.as_ref().map(|i| (c.change.address.clone(), i.audience)))
            .collect()
    }
}

pub struct Options {
    pub horizon_days: u64,
    pub now: chrono::DateTime<chrono::Utc>,
    /// Guards that may fail: `--accept-guard CODE`.
    pub accepted: BTreeSet<GuardCode>,
}

/// Why a plan could not be made at all (one line; the command could not run).
pub struct PlanFailure(pub String);

pub struct Planned {
    pub doc: PlanDoc,
    pub sources: SourceSet,
    pub diagnostics: Vec<Diagnostic>,
    /// The objects the sources compiled to: what `apply` writes.
    pub objects: BTreeMap<String, ir::Object>,
    /// Where the state is (from `[state] path`).
    pub state_path: PathBuf,
    /// The checked plan (for the pictures of the pull-request comment).
    pub plan: Plan,
}

pub fn make(dir: &Path, options: &Options) -> Result<Planned, PlanFailure> {
    let (sources, compilation) = crate::project::compile_dir(dir).map_err(PlanFailure)?;
    let plan = &compilation.plan;
    let mut diagnostics = compilation.diagnostics.clone();
    let digest = ir::source_digest(&sources);
    let objects = ir::objects(plan);

    // Read-only: planning never creates or writes the state.
    let state_path = crate::state::path(dir, &plan.config)?;
    let state = State::open_existing(&state_path, Access::Read)?;
    let (prior, deployed) = match &state {
        Some(s) => (
            s.meta().map_err(|e| PlanFailure(e.to_string()))?,
            s.deployed().map_err(|e| PlanFailure(e.to_string()))?,
        ),
        None => (
            Meta {
                lineage: None,
                serial: 0,
            },
            BTreeMap::new(),
        ),
    };
    let changes = diff::diff(&objects, &deployed);
    let working_config = sources
        .iter()
        .find_map(|(_, f)| (f.path == herald_compiler::config::CONFIG_FILE).then_some(f.text.as_str()))
        .unwrap_or_default();
    let settings = settings::changed(state.as_ref(), working_config)?;

    let errored = compilation.has_errors();
    let mut contacts = ContactsRead {
        file: plan.config.crm.path.clone(),
        horizon_days: options.horizon_days,
        ..Default::default()
    };
    // The days of event history replayed for event triggers' entry rates.
    let mut replayed_days: Option<f64> = None;
    let forecast: Option<Forecast> = if errored {
        None
    } else {
        let mut source = crm::open(&plan.config.crm, dir, &plan.contact).map_err(|e| PlanFailure(crm_failure(&e)))?;
        let layout = source.layout().clone();
        let mut history = crm::events::Source::configured(&plan.config.crm, dir)
            .and_then(|s| s.map(|s| s.read(plan, options.now)).transpose())
            .map_err(|e| {
                PlanFailure(format!(
                    "{e} (the forecast reads the event history of `[crm] events` or `events_table` in herald.toml)"
                ))
            })?;
        let events_known = history.is_some();
        // Once the runner has sent, the ledger's opens and clicks are the
        // contacts' engagement history.
        let engagement_known = match &state {
            Some(s) if s.has_run()? => {
                let h = history.get_or_insert_with(crm::events::EventHistory::empty);
                s.engagement(&mut |id, message, clicked, at| {
                    // As for events, a history is the past: a time after now
                    // (a clock ahead) would count later in the horizon.
                    if at > options.now {
                        return Ok(());
                    }
                    h.add_engagement(id, message, clicked, at)
                })
                .map_err(|e| PlanFailure(format!("cannot read the opens and clicks of the state: {e}")))?;
                contacts.engagement = Some(h.engagements());
                true
            }
            _ => false,
        };
        // The events the runner received count as they do for the runner:
        // after the export's newest event (`counts_received`).
        if let Some(s) = &state {
            let mut received = 0u64;
            let mut h = history.take().unwrap_or_else(crm::events::EventHistory::empty);
            s.received_events(&mut |id, event, at| {
                if at > options.now {
                    return Ok(());
                }
                received += 1;
                h.add_received(id, event, at)
            })
            .map_err(|e| PlanFailure(format!("cannot read the events of the state: {e}")))?;
            h.finish();
            if received > 0 {
                contacts.received_events = Some(received);
            }
            if received > 0 || events_known || engagement_known {
                history = Some(h);
            }
        }
        let history = history.as_ref();
        // Two counters (the machines Herald runs on have at least two cores);
        // each contact is forecast on its own, so their sums are exact.
        let mut parts: Vec<Forecaster> = (0..2)
            .map(|_| Forecaster::new(plan, &layout, options.now, options.horizon_days))
            .collect();
        // Event triggers are entered at the rate their events came in the
        // recent past: the last REPLAY_DAYS, or since the first event.
        if let Some(first) = history.filter(|_| events_known).and_then(|h| h.earliest()) {
            let since = first.max(options.now - chrono::Days::new(REPLAY_DAYS));
            let days = (options.now - since).num_minutes() as f64 / 1440.0;
            if days >= 1.0 {
                replayed_days = Some(days);
                for f in &mut parts {
                    f.replay_triggers_since(since);
                }
            }
        }
        let report = {
            let mut visitors: Vec<_> = parts
                .iter_mut()
                .map(|f| {
                    move |c: &herald_compiler::contact::Contact| match history {
                        Some(h) => f.add_with_history(c, &h.of(&c.id)),
                        None => f.add(c),
                    }
                })
                .collect();
            let mut refs: Vec<&mut crm::Visitor> = visitors.iter_mut().map(|v| v as &mut crm::Visitor).collect();
            source.scan_parallel(&mut refs)
        };
        let report = report.map_err(|e| PlanFailure(crm_failure(&e)))?;
        contacts.contacts = report.contacts;
        contacts.bad_rows = report.bad_rows;
        contacts.errors = report.errors.iter().map(rejected).collect();
        contacts.invalid_addresses = report.invalid_addresses;
        contacts.invalid = report.invalid.iter().map(rejected).collect();
        // Say what depends on history the forecast does not have.
        let known = herald_compiler::model::history::Known {
            events: events_known,
            engagement: engagement_known,
        };
        contacts.events = history.filter(|_| events_known).map(|h| EventsRead {
            file: match (&plan.config.crm.events, &plan.config.crm.events_table) {
                (Some(f), _) => f.clone(),
                (None, Some(t)) => format!("{}#{t}", plan.config.crm.path),
                (None, None) => String::new(),
            },
            events: h.events,
            contacts: h.contacts() as u64,
            bad_rows: h.bad_rows,
            errors: h.errors.iter().map(rejected).collect(),
        });
        contacts.without_history = herald_compiler::model::history::dependent(plan, known)
            .into_iter()
            .map(|(address, parts)| format!("{address} ({})", parts.join(", ")))
            .collect();
        Some(Forecaster::merge(parts))
    };

    // Plan-time checks on real data: experiment samples.
    if let Some(f) = &forecast {
        for (name, impact) in &f.campaigns {
            let Some(x) = &impact.experiment else { continue };
            let Some(c) = plan.campaigns.get(name) else { continue };
            for (variant, n) in &x.variants {
                if *n < u64::from(x.min_sample) {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::ExperimentSampleTooSmall,
                            format!("variant `{variant}` of campaign `{name}` reaches {n} contacts; the minimum sample is {}", x.min_sample),
                        )
                        .at(c.delivery_span, format!("{n} contacts in this variant"))
                        .help("Raise `test_size`, use fewer variants, widen the audience, or lower `min_sample` if you accept a weaker test."),
                    );
                }
            }
        }
    }
    if let Some(f) = &forecast {
        scenario_samples(plan, f, options.horizon_days, replayed_days, &mut diagnostics);
    }
    herald_compiler::diagnostic::sort(&mut diagnostics, &sources);
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);

    let mut planned = Vec::new();
    for c in changes {
        let impact = forecast.as_ref().and_then(|f| match c.kind {
            ObjectKind::Campaign => f.campaigns.get(&c.name).cloned(),
            ObjectKind::Scenario => f.scenarios.get(&c.name).cloned(),
            _ => None,
        });
        let in_flight = match (&state, c.is_replace() || c.is_delete(), c.kind, c.version_before) {
            // Fail closed: a state that cannot say who is in flight stops the plan.
            (Some(s), true, ObjectKind::Scenario, Some(v)) => Some(
                s.in_flight(&c.address, v)
                    .map_err(|e| PlanFailure(format!("cannot count the contacts in flight of `{}`: {e}", c.address)))?,
            ),
            _ => None,
        };
        planned.push(PlannedChange {
            change: c,
            impact,
            in_flight,
        });
    }
    let mut summary = Summary {
        currency: plan.config.currency.clone(),
        settings,
        ..Default::default()
    };
    for p in &planned {
        let c = &p.change;
        match () {
            _ if c.is_noop() => summary.no_op += 1,
            _ if c.is_create() => summary.create += 1,
            _ if c.is_update() => summary.update += 1,
            _ if c.is_replace() => summary.replace += 1,
            _ => summary.delete += 1,
        }
    }
    if let Some(f) = &forecast {
        summary.recipients = f.recipients;
        summary.sms_segments = f.sms_segments;
        summary.cost = f.cost;
    }
    let guards = guards(plan, state.as_ref(), &planned, &summary, &options.accepted);
    let json_diags: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|d| serde_json::to_value(render_json::one(d, &sources)).unwrap_or_default())
        .collect();
    let mut doc = PlanDoc {
        format_version: FORMAT_VERSION.into(),
        herald_version: env!("CARGO_PKG_VERSION").into(),
        project: plan.config.project_name.clone(),
        applyable: !has_errors && !guards.iter().any(Guard::blocks),
        complete: forecast.is_some(),
        errored: has_errors,
        source: Source { digest },
        prior_state: prior,
        changes: planned,
        summary,
        contacts,
        diagnostics: json_diags,
        guards,
        objects: objects
            .iter()
            .map(|(a, o)| {
                (
                    a.clone(),
                    StoredObject {
                        kind: o.kind,
                        name: o.name.clone(),
                        hash: o.hash.clone(),
                        body: o.body.clone(),
                    },
                )
            })
            .collect(),
        plan_dir: None,
        digest: String::new(),
    };
    doc.digest = doc.compute_digest();
    Ok(Planned {
        doc,
        sources,
        diagnostics,
        objects,
        state_path,
        plan: compilation.plan,
    })
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn rejected(e: &crm::RowError) -> RejectedRow {
    RejectedRow {
        row: e.row,
        column: e.problem.column.clone(),
        reason: e.problem.reason.to_string(),
    }
}

fn crm_failure(e: &CrmError) -> String {
    format!("{e} (the forecast reads the contacts of `[crm]` in herald.toml)")
}

/// `policies.guards`: refuse an apply whose audience or cost grows too much.
/// They fail closed: what cannot be checked fails.
fn guards(
    plan: &Plan,
    state: Option<&State>,
    changes: &[PlannedChange],
    summary: &Summary,
    accepted: &BTreeSet<GuardCode>,
) -> Vec<Guard> {
    let mut out = Vec::new();
    let mut push = |code: GuardCode, pass: bool, message: String| {
        let status = match (pass, accepted.contains(&code)) {
            (true, _) => GuardStatus::Pass,
            (false, true) => GuardStatus::Accepted,
            (false, false) => GuardStatus::Fail,
        };
        out.push(Guard { code, status, message });
    };
    if let Some(max) = plan.policies.guard_max_cost {
        let pass = summary.cost <= max;
        push(
            GuardCode::MaxCost,
            pass,
            format!(
                "forecast SMS cost {:.2} {} {} the bound of {:.2}",
                summary.cost,
                summary.currency,
                if pass { "is within" } else { "exceeds" },
                max
            ),
        );
    }
    if let (Some(pct), Some(state)) = (plan.policies.guard_max_audience_growth_percent, state) {
        let before = match state.audiences() {
            Ok(b) => b,
            Err(e) => {
                push(
                    GuardCode::AudienceGrowth,
                    false,
                    format!("cannot read the audiences recorded in the state ({e}), so their growth cannot be checked"),
                );
                return out;
            }
        };
        for c in changes {
            let (Some(impact), Some(prev)) = (&c.impact, before.get(&c.change.address)) else {
                continue;
            };
            if *prev == 0 {
                continue;
            }
            let growth = (impact.audience as f64 - *prev as f64) / *prev as f64 * 100.0;
            if growth > f64::from(pct) {
                push(
                    GuardCode::AudienceGrowth,
                    false,
                    format!(
                        "audience of {} grows {growth:.0}% ({prev} → {}), more than {pct}%",
                        c.change.address, impact.audience
                    ),
                );
            }
        }
    }
    out
}

/// Save a plan document.
pub fn save(doc: &PlanDoc, path: &Path) -> Result<(), String> {
    let text = serde_json::to_string_pretty(doc).map_err(|e| e.to_string())?;
    // Write then rename, so a reader never sees half a plan.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text + "\n").map_err(|e| format!("cannot write `{}`: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

/// The largest saved plan read: plans hold bodies of messages, not contacts.
pub const MAX_PLAN_FILE_BYTES: u64 = 64 << 20;

/// Load a saved plan (a regular file, at most [`MAX_PLAN_FILE_BYTES`]) and
/// check that it is well-formed. Its content is not trusted: `apply`
/// compiles the sources again and compares.
pub fn load(path: &Path) -> Result<PlanDoc, Stop> {
    let bytes = crate::fsx::read_regular(path, MAX_PLAN_FILE_BYTES)
        .map_err(|e| Stop::unusable(format!("cannot read the plan file: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Stop::unusable(format!(
            "`{}` is not a Herald plan file (not UTF-8 text)",
            path.display()
        ))
    })?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Stop::unusable(format!("`{}` is not a Herald plan file: {e}", path.display())))?;
    let version = value.get("format_version").and_then(|v| v.as_str()).unwrap_or("");
    if version.split('.').next() != FORMAT_VERSION.split('.').next() {
        return Err(Stop::unusable(format!(
            "`{}` has plan format {version:?}; this Herald reads format {FORMAT_VERSION}: make the plan again with this version",
            path.display()
        )));
    }
    let doc: PlanDoc = serde_json::from_value(value)
        .map_err(|e| Stop::unusable(format!("`{}` is not a valid plan file: {e}", path.display())))?;
    if doc.digest != doc.compute_digest() {
        return Err(Stop::refused(format!(
            "`{}` was modified after it was made (its digest does not match); make the plan again",
            path.display()
        )));
    }
    Ok(doc)
}

/// `dir` written relative to the directory holding `file`, with `/`
/// separators: what a saved plan records as `plan_dir`.
pub fn relative_dir(file: &Path, dir: &Path) -> Result<String, String> {
    let absolute = |p: &Path| std::fs::canonicalize(p).map_err(|e| format!("cannot resolve `{}`: {e}", p.display()));
    let base = absolute(match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    })?;
    let target = absolute(dir)?;
    let (b, t): (Vec<_>, Vec<_>) = (base.components().collect(), target.components().collect());
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    for c in &t[common..] {
        let part = c
            .as_os_str()
            .to_str()
            .ok_or_else(|| format!("the plan directory `{}` is not a UTF-8 path", target.display()))?;
        parts.push(part.to_string());
    }
    Ok(if parts.is_empty() { ".".into() } else { parts.join("/") })
}

/// The plan directory a saved plan records, resolved from where the plan file is.
pub fn recorded_dir(file: &Path, doc: &PlanDoc) -> Result<PathBuf, Stop> {
    let Some(rel) = &doc.plan_dir else {
        return Err(Stop::unusable(format!(
            "`{}` does not record its plan directory; make it again with `herald plan DIR --out {}`",
            file.display(),
            file.display()
        )));
    };
    let base = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok(base.join(rel))
}

impl From<StateError> for PlanFailure {
    fn from(e: StateError) -> Self {
        PlanFailure(e.to_string())
    }
}

/// The experiments of a scenario's steps, with their steps' spans.
fn experiments<'p>(steps: &'p [model::Step], out: &mut Vec<&'p model::Experiment>) {
    for step in steps {
        match step {
            model::Step::Send {
                delivery: model::Delivery::Experiment(x),
                ..
            } => out.push(x),
            model::Step::WaitUntil { on_timeout, .. } => experiments(on_timeout, out),
            model::Step::If { then, otherwise, .. } => {
                experiments(then, out);
                experiments(otherwise, out);
            }
            _ => {}
        }
    }
}

/// The days of event history replayed at most to estimate how often event
/// triggers are entered: recent enough to reflect today's traffic, long
/// enough to cover weekly and monthly cycles.
const REPLAY_DAYS: u64 = 90;

/// A/B tests in scenarios (issue 11 item 6): the entries each variant gets
/// while the test runs (`decide_after`), against `min_sample`. Date
/// triggers: the forecast's entries over the horizon, pro rata. Event
/// triggers, when an event history is read: the entries its past trigger
/// events made over the `replayed_days`, pro rata. Without history (or when
/// the trigger's condition reads event properties, which a history does not
/// keep), and when each contact can enter at most once during the test
/// (`reentry: never`, or `after` at least `decide_after`), the audience
/// bounds the entries, and a test that cannot reach its sample even then is
/// reported.
fn scenario_samples(
    plan: &Plan,
    f: &Forecast,
    horizon_days: u64,
    replayed_days: Option<f64>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (name, s) in &plan.scenarios {
        let Some(impact) = f.scenarios.get(name) else { continue };
        let mut xs = Vec::new();
        experiments(&s.steps, &mut xs);
        for x in xs {
            let window = x.decide_after.map_or(model::DEFAULT_DECIDE_AFTER, |d| d.as_chrono());
            let minutes = window.num_minutes().max(1) as f64;
            let (entries, how) = match (&s.trigger, impact.entries) {
                (model::Trigger::Date { .. }, Some(n)) if horizon_days > 0 => (
                    n as f64 * minutes / (horizon_days as f64 * 1440.0),
                    format!("{n} entries forecast over {horizon_days} days"),
                ),
                (model::Trigger::Event { event, .. }, _)
                    if impact.history_entries.is_some() && replayed_days.is_some() =>
                {
                    let n = impact.history_entries.unwrap_or(0);
                    let days = replayed_days.unwrap_or(1.0);
                    (
                        n as f64 * minutes / (days * 1440.0),
                        format!(
                            "its `{event}` events of the last {} days of history made {n} entries",
                            days.floor()
                        ),
                    )
                }
                (model::Trigger::Event { .. }, _)
                    if match s.reentry {
                        herald_compiler::ast::Reentry::Never => true,
                        herald_compiler::ast::Reentry::After(d) => d.as_chrono() >= window,
                        herald_compiler::ast::Reentry::Always => false,
                    } =>
                {
                    (
                        impact.audience as f64,
                        format!(
                            "at most the {} contacts of its audience, each entering once",
                            impact.audience
                        ),
                    )
                }
                _ => continue,
            };
            let tested = entries
                * (1.0 - f64::from(x.holdout.min(100)) / 100.0)
                * f64::from(x.test_size.unwrap_or(100).min(100))
                / 100.0;
            let total: f64 = x.variants.iter().map(|v| f64::from(v.split)).sum::<f64>().max(1.0);
            let after = x.decide_after.map_or_else(|| "24h".to_string(), |d| d.to_string());
            for v in &x.variants {
                let n = (tested * f64::from(v.split) / total).floor() as u64;
                if n >= u64::from(x.min_sample) {
                    continue;
                }
                let entries = if n == 1 { "entry" } else { "entries" };
                diagnostics.push(
                    Diagnostic::new(
                        Code::ExperimentSampleTooSmall,
                        format!(
                            "variant `{}` of scenario `{name}` gets about {n} {entries} while its test runs ({after}); the minimum sample is {}",
                            v.message, x.min_sample
                        ),
                    )
                    .at(v.span, format!("about {n} {entries} in {after}: {how}"))
                    .help("Lengthen `decide_after`, raise `test_size`, use fewer variants, widen the audience, or lower `min_sample` if you accept a weaker test."),
                );
            }
        }
    }
}
