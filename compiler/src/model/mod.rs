//! The checked plan: every name resolved, every expression typed, every value
//! parsed. Rules and the planner work on this, never on raw YAML.
//!
//! Spans are kept so later stages (rules, LSP) can point at the source; they
//! are skipped when the model is serialised.

mod cond;
pub mod history;

pub use cond::{Cond, CondKind, Operand, Value, ValueRef};

use crate::ast::values::{CalendarOffset, Channel, Duration, HolidayCalendar, Purpose, Weekday};
use crate::ast::{Charset, ExperimentMetric, Metric, Reentry, ScalarType};
use crate::config::Config;
use crate::source::{FileId, Span};
use chrono::{NaiveDateTime, NaiveTime};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub config: Config,
    pub contact: ContactModel,
    pub policies: Policies,
    pub segments: BTreeMap<String, Segment>,
    pub messages: BTreeMap<String, Message>,
    pub programs: BTreeMap<String, Program>,
    pub campaigns: BTreeMap<String, Campaign>,
    pub scenarios: BTreeMap<String, Scenario>,
    /// What failed to load or to check (reported there), so that other
    /// rules do not report its consequences too.
    #[serde(skip)]
    pub broken: Broken,
}

/// Names declared by declarations that failed to load or to check: known,
/// but broken. A use of one is not "unknown", and what a broken declaration
/// may use is not "unused": one mistake, one error.
#[derive(Clone, Debug, Default)]
pub struct Broken {
    pub fields: BTreeSet<String>,
    pub consents: BTreeSet<String>,
    pub events: BTreeSet<String>,
    pub segments: BTreeSet<String>,
    pub messages: BTreeSet<String>,
    pub programs: BTreeSet<String>,
    pub campaigns: BTreeSet<String>,
    pub scenarios: BTreeSet<String>,
    /// The words written in the broken declarations.
    pub mentions: BTreeSet<String>,
}

impl Broken {
    pub fn section(&mut self, section: &str) -> Option<&mut BTreeSet<String>> {
        Some(match section {
            "fields" => &mut self.fields,
            "consents" => &mut self.consents,
            "events" => &mut self.events,
            "segments" => &mut self.segments,
            "messages" => &mut self.messages,
            "programs" => &mut self.programs,
            "campaigns" => &mut self.campaigns,
            "scenarios" => &mut self.scenarios,
            _ => return None,
        })
    }

    /// Nothing is broken.
    pub fn is_empty(&self) -> bool {
        [
            &self.fields,
            &self.consents,
            &self.events,
            &self.segments,
            &self.messages,
            &self.programs,
            &self.campaigns,
            &self.scenarios,
        ]
        .iter()
        .all(|s| s.is_empty())
            && self.mentions.is_empty()
    }
}

/// The type of a contact field.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FieldType {
    String,
    Email,
    Phone,
    Enum { values: Vec<String> },
    Number,
    Integer,
    Boolean,
    Date,
    Datetime,
    Timezone,
    List { of: ScalarType },
}

impl FieldType {
    pub fn describe(&self) -> String {
        match self {
            FieldType::String => "text".into(),
            FieldType::Email => "an email address".into(),
            FieldType::Phone => "a phone number".into(),
            FieldType::Enum { .. } => "an enum".into(),
            FieldType::Number => "a number".into(),
            FieldType::Integer => "an integer".into(),
            FieldType::Boolean => "a boolean".into(),
            FieldType::Date => "a date".into(),
            FieldType::Datetime => "a date and time".into(),
            FieldType::Timezone => "a time zone".into(),
            FieldType::List { of } => format!("a list of {}", scalar_name(*of)),
        }
    }

    pub fn from_scalar(s: ScalarType) -> FieldType {
        match s {
            ScalarType::String => FieldType::String,
            ScalarType::Email => FieldType::Email,
            ScalarType::Phone => FieldType::Phone,
            ScalarType::Number => FieldType::Number,
            ScalarType::Integer => FieldType::Integer,
            ScalarType::Boolean => FieldType::Boolean,
            ScalarType::Date => FieldType::Date,
            ScalarType::Datetime => FieldType::Datetime,
            ScalarType::Timezone => FieldType::Timezone,
        }
    }
}

pub fn scalar_name(s: ScalarType) -> &'static str {
    match s {
        ScalarType::String => "text",
        ScalarType::Email => "email addresses",
        ScalarType::Phone => "phone numbers",
        ScalarType::Number => "numbers",
        ScalarType::Integer => "integers",
        ScalarType::Boolean => "booleans",
        ScalarType::Date => "dates",
        ScalarType::Datetime => "dates and times",
        ScalarType::Timezone => "time zones",
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Field {
    pub ty: FieldType,
    pub optional: bool,
    pub max_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Charset::is_unicode")]
    pub charset: Charset,
    pub description: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct Consent {
    pub channel: Channel,
    pub double_opt_in: bool,
    /// The topics it covers; empty: every topic of the channel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub properties: BTreeMap<String, ScalarType>,
    #[serde(skip)]
    pub span: Span,
}

impl Consent {
    /// Whether this consent covers a message on `channel` about `topic`: its
    /// channel, and the topic among its `topics` (no `topics`: every topic; a
    /// message without a topic needs such a consent).
    pub fn covers(&self, channel: Channel, topic: Option<&str>) -> bool {
        self.channel == channel && (self.topics.is_empty() || topic.is_some_and(|t| self.topics.iter().any(|x| x == t)))
    }
}

/// Built-in contact field: every contact has an id.
pub const ID_FIELD: &str = "id";

#[derive(Clone, Debug, Default, Serialize)]
pub struct ContactModel {
    pub fields: BTreeMap<String, Field>,
    pub consents: BTreeMap<String, Consent>,
    pub events: BTreeMap<String, Event>,
}

impl ContactModel {
    /// The field that holds the address for a channel (email → the `email`
    /// field, sms/call → the `phone` field), when there is exactly one.
    pub fn address_field(&self, channel: Channel) -> Option<&str> {
        let want = match channel {
            Channel::Email => FieldType::Email,
            Channel::Sms | Channel::Call => FieldType::Phone,
            Channel::Push => return None,
        };
        let mut it = self.fields.iter().filter(|(_, f)| f.ty == want);
        match (it.next(), it.next()) {
            (Some((name, _)), None) => Some(name),
            _ => None,
        }
    }

    /// The contact's own time zone field, if the model has one.
    pub fn timezone_field(&self) -> Option<&str> {
        self.fields
            .iter()
            .find(|(_, f)| f.ty == FieldType::Timezone)
            .map(|(n, _)| n.as_str())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PressureRule {
    pub channel: Option<Channel>,
    pub purpose: Option<Purpose>,
    pub program: Option<String>,
    pub tag: Option<String>,
    pub max: u32,
    pub per: Duration,
    /// Where it is written (`None`: one of the baseline's rules).
    #[serde(skip)]
    pub span: Option<Span>,
    /// The baseline rule's name (`email`, `sms`, `push`, `daily`), when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<&'static str>,
}

impl PressureRule {
    /// A stable name: `policies.pressure[i]` for a written rule (its index in
    /// the list), `baseline.NAME` for the baseline's.
    pub fn key(&self, index: usize) -> String {
        match self.baseline {
            Some(name) => format!("baseline.{name}"),
            None => format!("policies.pressure[{index}]"),
        }
    }
}

/// Where the pressure caps come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PressureSource {
    /// No `policies.pressure`: the practice's baseline.
    Baseline,
    /// `policies.pressure` lists the caps.
    Written,
    /// `pressure: []`: no caps at all.
    Off,
}

#[derive(Clone, Debug, Serialize)]
pub struct SendWindow {
    pub channel: Channel,
    /// The purpose it applies to (`None`: marketing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
    pub days: Vec<Weekday>,
    pub from: NaiveTime,
    pub to: NaiveTime,
    pub holidays: Option<HolidayCalendar>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct Policies {
    /// The caps in force: the written ones, or the baseline.
    pub pressure: Vec<PressureRule>,
    #[serde(skip)]
    pub pressure_source: PressureSource,
    /// Allowed sending windows (what is outside is quiet).
    pub quiet_hours: Vec<SendWindow>,
    pub sms_max_segments: u32,
    pub email_subject_max_length: u32,
    pub experiment_min_sample: u32,
    pub guard_max_audience_growth_percent: Option<u32>,
    pub guard_max_cost: Option<f64>,
    /// No marketing message to contacts for whom this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress: Option<Cond>,
    #[serde(skip)]
    pub span: Option<Span>,
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            pressure: Vec::new(),
            pressure_source: PressureSource::Off,
            quiet_hours: Vec::new(),
            sms_max_segments: 1,
            email_subject_max_length: 60,
            experiment_min_sample: 1000,
            guard_max_audience_growth_percent: None,
            guard_max_cost: None,
            suppress: None,
            span: None,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Segment {
    pub condition: Cond,
    pub description: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

/// Where a template's text lives: inline in a YAML scalar, or a whole file.
#[derive(Clone, Debug, Serialize)]
pub struct Template {
    pub source: String,
    /// `Some(path)` when the text comes from a separate file.
    pub path: Option<String>,
    /// The YAML scalar (inline) or the whole file.
    #[serde(skip)]
    pub span: Span,
    #[serde(skip)]
    pub file: Option<FileId>,
    /// The parsed template (absent when it has a syntax error, reported already).
    #[serde(skip)]
    pub analysis: Option<crate::template::Analysis>,
    /// The templates it includes, imports or extends (path → text): part of
    /// the message, so a change to a shared footer changes it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub includes: BTreeMap<String, String>,
}

impl Template {
    /// The text of `[start, end)` in the analysis' offsets (the template's
    /// own, or of a part it includes).
    pub fn text(&self, start: usize, end: usize) -> Option<&str> {
        if let Some(p) = self.analysis.as_ref().and_then(|a| a.part_at(start)) {
            return p.source.get(start - p.base..end.checked_sub(p.base)?);
        }
        self.source.get(start..end)
    }
}

// Messages are few and built once: an email's three templates inline are fine.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "channel")]
pub enum MessageContent {
    Email {
        subject: Template,
        preheader: Option<Template>,
        body: Template,
        from: Option<String>,
        reply_to: Option<String>,
    },
    Sms {
        sender: Option<String>,
        text: Template,
        transliterate: bool,
    },
    Push {
        title: Template,
        body: Template,
        url: Option<String>,
    },
    Call {
        script: Template,
    },
}

impl MessageContent {
    pub fn channel(&self) -> Channel {
        match self {
            MessageContent::Email { .. } => Channel::Email,
            MessageContent::Sms { .. } => Channel::Sms,
            MessageContent::Push { .. } => Channel::Push,
            MessageContent::Call { .. } => Channel::Call,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Message {
    pub purpose: Purpose,
    /// What the message is about (consents cover topics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub content: MessageContent,
    #[serde(skip)]
    pub span: Span,
    /// Span of `sender:` (SMS), for rules that point at it.
    #[serde(skip)]
    pub sender_span: Option<Span>,
}

impl Message {
    pub fn channel(&self) -> Channel {
        self.content.channel()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Kpi {
    pub metric: Metric,
    pub target: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Program {
    pub objective: String,
    pub owner: Option<String>,
    pub kpis: Vec<Kpi>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct Variant {
    pub message: String,
    pub split: u32,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
pub struct Experiment {
    pub variants: Vec<Variant>,
    /// Percent of the audience kept as control group.
    pub holdout: u32,
    /// Percent of the audience in the test (`None`: everyone).
    pub test_size: Option<u32>,
    pub metric: ExperimentMetric,
    pub decide_after: Option<Duration>,
    pub min_sample: u32,
    #[serde(skip)]
    pub span: Span,
    /// Spans of `holdout`, `test_size` and `decide_after`, when written.
    #[serde(skip)]
    pub holdout_span: Option<Span>,
    #[serde(skip)]
    pub test_size_span: Option<Span>,
    #[serde(skip)]
    pub decide_after_span: Option<Span>,
}

/// When the rest of an experiment's audience gets the winner, when the
/// experiment does not say (`decide_after`).
pub const DEFAULT_DECIDE_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// What a campaign or a send step sends.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    Message(String),
    Experiment(Experiment),
}

impl Delivery {
    /// Every message this delivery may send.
    pub fn messages(&self) -> Vec<&str> {
        match self {
            Delivery::Message(m) => vec![m.as_str()],
            Delivery::Experiment(e) => e.variants.iter().map(|v| v.message.as_str()).collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Campaign {
    pub program: String,
    pub audience: Cond,
    pub delivery: Delivery,
    /// Local wall-clock time, read in each contact's time zone.
    pub send_at: NaiveDateTime,
    pub tags: Vec<String>,
    pub description: Option<String>,
    #[serde(skip)]
    pub span: Span,
    #[serde(skip)]
    pub send_at_span: Span,
    #[serde(skip)]
    pub delivery_span: Span,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Trigger {
    Event {
        event: String,
        condition: Option<Cond>,
    },
    Date {
        field: String,
        offset: CalendarOffset,
        at: NaiveTime,
        yearly: bool,
    },
}

/// A send that falls back for an earlier one (email, then SMS if not
/// opened): the same solicitation on another channel, which pressure caps
/// count once.
#[derive(Clone, Debug, Serialize)]
pub struct Fallback {
    /// The message of the earlier send.
    pub message: String,
    /// The earlier send's step, as a cursor's text (`2/then/0`): the same on
    /// every path to this one (checked).
    #[serde(skip)]
    pub primary: String,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum Step {
    Send {
        delivery: Delivery,
        #[serde(skip_serializing_if = "Option::is_none")]
        fallback_for: Option<Fallback>,
        #[serde(skip)]
        span: Span,
    },
    Wait {
        duration: Duration,
        #[serde(skip)]
        span: Span,
    },
    WaitUntil {
        until: Cond,
        timeout: Duration,
        on_timeout: Vec<Step>,
        #[serde(skip)]
        span: Span,
    },
    If {
        condition: Cond,
        then: Vec<Step>,
        #[serde(rename = "else")]
        otherwise: Vec<Step>,
        #[serde(skip)]
        span: Span,
    },
    Exit {
        reason: Option<String>,
        #[serde(skip)]
        span: Span,
    },
}

impl Step {
    pub fn span(&self) -> Span {
        match self {
            Step::Send { span, .. }
            | Step::Wait { span, .. }
            | Step::WaitUntil { span, .. }
            | Step::If { span, .. }
            | Step::Exit { span, .. } => *span,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    pub program: String,
    pub trigger: Trigger,
    pub audience: Option<Cond>,
    #[serde(serialize_with = "ser_display")]
    pub reentry: Reentry,
    pub exit_when: Option<Cond>,
    pub steps: Vec<Step>,
    pub description: Option<String>,
    #[serde(skip)]
    pub span: Span,
    /// The trigger's time of day (`at:`), or the trigger when it has none.
    #[serde(skip)]
    pub trigger_at_span: Span,
}

fn ser_display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}
