//! The plan's documents as written: typed and spanned, names not yet resolved.
//! These types derive `Deserialize` for the loader and `JsonSchema` for
//! `schema/herald.schema.json`, so the two cannot disagree.

pub mod contact;
pub mod flows;
pub mod journeys;
pub mod messages;
pub mod policies;
pub mod values;

pub use contact::*;
pub use flows::*;
pub use journeys::*;
pub use messages::*;
pub use policies::*;

use crate::source::Span;
use crate::yaml::Sp;
use schemars::JsonSchema;
use std::collections::BTreeMap;

/// One YAML file of a plan: any of these sections.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Herald plan file")]
#[allow(dead_code)] // the loader reads section by section; this type describes the schema.
pub struct PlanFile {
    /// The contact model: fields, consents and events.
    contact: Option<ContactDoc>,
    /// Pressure caps, quiet hours and other limits.
    policies: Option<PoliciesDoc>,
    /// Named sets of contacts.
    segments: Option<BTreeMap<String, SegmentDoc>>,
    /// Messages by name.
    messages: Option<BTreeMap<String, MessageDoc>>,
    /// Programs (families of communications with an objective).
    programs: Option<BTreeMap<String, ProgramDoc>>,
    /// One-off campaigns.
    campaigns: Option<BTreeMap<String, CampaignDoc>>,
    /// Automated scenarios (journeys).
    scenarios: Option<BTreeMap<String, ScenarioDoc>>,
    /// Journey tests, by name: only in the files under `tests/` of the plan directory (`herald test` runs them).
    tests: Option<BTreeMap<String, TestDoc>>,
}

/// The top-level sections, in the loader's order.
pub const SECTIONS: &[&str] = &[
    "contact",
    "policies",
    "segments",
    "messages",
    "programs",
    "campaigns",
    "scenarios",
];

/// The one section of a test file (a `.yaml` file under `tests/`).
pub const TEST_SECTION: &str = "tests";

/// A named declaration: `name:` and what follows it.
#[derive(Clone, Debug)]
pub struct Decl<T> {
    pub name: Sp<String>,
    pub doc: T,
}

/// Everything the loader read from all files, in file order.
#[derive(Clone, Debug, Default)]
pub struct Documents {
    /// Where `contact:` is written (first occurrence).
    pub contact: Option<Span>,
    pub fields: Vec<Decl<FieldDoc>>,
    pub consents: Vec<Decl<ConsentDoc>>,
    pub events: Vec<Decl<EventDoc>>,
    pub policies: Option<Sp<PoliciesDoc>>,
    pub segments: Vec<Decl<SegmentDoc>>,
    pub messages: Vec<Decl<MessageDoc>>,
    pub programs: Vec<Decl<ProgramDoc>>,
    pub campaigns: Vec<Decl<CampaignDoc>>,
    pub scenarios: Vec<Decl<ScenarioDoc>>,
    /// Journey tests (from the test files).
    pub tests: Vec<Decl<TestDoc>>,
    /// Declarations that failed to load (their error is reported): known by
    /// name, so that their uses are not "unknown" too.
    pub broken: Vec<BrokenDecl>,
    /// The words written in declarations that failed to load, whole or in
    /// part: a name among them may be used there, so it is not "unused".
    pub mentions: std::collections::BTreeSet<String>,
}

/// A declaration that failed to load: its section (`segments`, `fields`…) and name.
#[derive(Clone, Debug)]
pub struct BrokenDecl {
    pub section: &'static str,
    pub name: Sp<String>,
}

/// The names (identifiers) written in a text.
pub fn words(text: &str, out: &mut std::collections::BTreeSet<String>) {
    for w in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if w.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
            out.insert(w.to_string());
        }
    }
}
