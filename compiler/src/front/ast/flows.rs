//! `segments:`, `campaigns:`, `scenarios:` and scenario steps.

use super::values::{CalendarOffset, Duration, LocalDateTime, TimeOfDay};
use crate::yaml::{Lenient, Sp};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor, value::MapAccessDeserializer};
use std::borrow::Cow;
use std::fmt;

/// A named set of contacts.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentDoc {
    /// The condition a contact meets to belong to the segment (expression language).
    #[serde(rename = "where")]
    pub condition: Sp<String>,
    /// What the segment means.
    pub description: Option<String>,
}

/// What an experiment optimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentMetric {
    Open,
    Click,
    Conversion,
}

/// One variant of an A/B test.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantDoc {
    /// The message sent to this variant's group.
    pub message: Sp<String>,
    /// Share of the test group, in percent; the splits add up to 100.
    pub split: Sp<u32>,
}

/// An A/B test: variants sent to a test group, the winner to the rest.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentDoc {
    /// The variants (messages of the same channel).
    pub variants: Vec<VariantDoc>,
    /// Percent of the audience that receives nothing (control group), 0–50.
    pub holdout: Option<Sp<u32>>,
    /// Percent of the audience in the test; the winner goes to the rest. Absent: everyone is in the test.
    pub test_size: Option<Sp<u32>>,
    /// How the winner is chosen.
    pub metric: Sp<ExperimentMetric>,
    /// How long the test runs before the winner is chosen (24–48 h is the field's practice).
    pub decide_after: Option<Sp<Duration>>,
    /// Fewest contacts per variant (default: `policies.experiments.min_sample`, else 1000).
    pub min_sample: Option<Sp<u32>>,
}

/// A one-off send to an audience at a date.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignDoc {
    /// The program the campaign belongs to.
    pub program: Sp<String>,
    /// Who receives it (expression language); must prove consent for marketing messages.
    pub audience: Sp<String>,
    /// The message sent. Absent when `experiment` lists the variants.
    pub message: Option<Sp<String>>,
    /// An A/B test instead of a single message.
    pub experiment: Option<ExperimentDoc>,
    /// When to send, in each contact's time zone.
    pub send_at: Sp<LocalDateTime>,
    /// What the campaign is for.
    pub description: Option<String>,
    /// Labels for pressure rules and reports.
    #[serde(default)]
    pub tags: Vec<Sp<String>>,
}

/// Repetition of a date trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Every {
    /// Every year, on the anniversary of the date (birthdays).
    Year,
}

/// What starts a scenario for a contact: an event, or a date field (with an offset).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerDoc {
    /// Start when the contact emits this event.
    pub event: Option<Sp<String>>,
    /// Only events matching this condition (may read `event.PROPERTY`).
    #[serde(rename = "where")]
    pub condition: Option<Sp<String>>,
    /// Start on the date in this contact field (a `date` or `datetime` field).
    pub date: Option<Sp<String>>,
    /// Shift from the date: `-7d` is a week before, `180d` half a year after.
    pub offset: Option<Sp<CalendarOffset>>,
    /// Time of day for date triggers, in the contact's time zone (default 10:00).
    pub at: Option<Sp<TimeOfDay>>,
    /// Repeat every year (anniversaries, birthdays).
    pub every: Option<Sp<Every>>,
}

/// Whether a contact may enter a scenario again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reentry {
    /// Once per contact, ever.
    Never,
    /// Again after this long since the previous entry.
    After(Duration),
    /// Every time the trigger fires.
    Always,
}

impl std::str::FromStr for Reentry {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        match t {
            "never" => Ok(Reentry::Never),
            "always" => Ok(Reentry::Always),
            _ => match t.strip_prefix("after ") {
                Some(d) => d.parse().map(Reentry::After),
                None => Err(format!(
                    "`{t}` is not a re-entry rule: write `never`, `always` or `after DURATION` (such as `after 30d`)"
                )),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Reentry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl fmt::Display for Reentry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reentry::Never => f.write_str("never"),
            Reentry::Always => f.write_str("always"),
            Reentry::After(d) => write!(f, "after {d}"),
        }
    }
}

impl JsonSchema for Reentry {
    fn schema_name() -> Cow<'static, str> {
        "Reentry".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(never|always|after [0-9]+(m|h|d|w))$",
            "description": "Whether a contact may enter again: `never`, `always`, or `after DURATION`.",
            "examples": ["never", "after 30d", "always"]
        })
    }
}

/// An automated journey.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioDoc {
    /// The program the scenario belongs to.
    pub program: Sp<String>,
    /// What starts the scenario for a contact.
    pub trigger: Sp<TriggerDoc>,
    /// Who may enter (expression language); must prove consent for marketing sends.
    pub audience: Option<Sp<String>>,
    /// Whether a contact may enter again (default `never`).
    pub reentry: Option<Sp<Reentry>>,
    /// A contact leaves the scenario as soon as this condition holds.
    pub exit_when: Option<Sp<String>>,
    /// What happens, in order.
    pub steps: Sp<Vec<Lenient<Step>>>,
    /// What the scenario is for.
    pub description: Option<String>,
}

/// `wait:` either a duration or a condition with a timeout.
#[derive(Clone, Debug)]
pub enum WaitDoc {
    For(Sp<Duration>),
    Until(WaitUntilDoc),
}

/// Wait until a condition holds, at most `timeout`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitUntilDoc {
    /// The condition that ends the wait (such as `opened(welcome_email)`).
    pub until: Sp<String>,
    /// The longest wait.
    pub timeout: Sp<Duration>,
    /// Steps run when the timeout passes first; the scenario then continues after the wait.
    #[serde(default)]
    pub on_timeout: Vec<Lenient<Step>>,
}

/// A scenario step: `send`, `wait`, `if` / `then` / `else`, or `exit`.
#[derive(Clone, Debug)]
pub struct Step {
    pub kind: StepKind,
    pub span: crate::source::Span,
}

#[derive(Clone, Debug)]
pub enum StepKind {
    Send {
        message: Sp<String>,
        experiment: Option<ExperimentDoc>,
        /// The earlier send this one falls back for (a cascade: the same
        /// solicitation on another channel).
        fallback_for: Option<Sp<String>>,
    },
    Wait(WaitDoc),
    If {
        condition: Sp<String>,
        then: Vec<Lenient<Step>>,
        otherwise: Vec<Lenient<Step>>,
    },
    Exit {
        reason: Option<String>,
    },
}

/// The keys a step may have, all optional; which ones are present decides the kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFields {
    send: Option<Sp<String>>,
    experiment: Option<ExperimentDoc>,
    fallback_for: Option<Sp<String>>,
    wait: Option<WaitDoc>,
    #[serde(rename = "if")]
    condition: Option<Sp<String>>,
    then: Option<Vec<Lenient<Step>>>,
    #[serde(rename = "else")]
    otherwise: Option<Vec<Lenient<Step>>>,
    #[serde(default, deserialize_with = "present")]
    exit: Option<Option<String>>,
}

/// `exit:` with no value is present: keep it apart from an absent key.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

const STEP_HELP: &str = "a step is one of `send: MESSAGE`, `wait: DURATION`, `wait: {until: CONDITION, timeout: DURATION}`, `if: CONDITION` with `then:` (and `else:`), or `exit`";

impl StepFields {
    fn into_kind<E: de::Error>(self) -> Result<StepKind, E> {
        let kinds = [
            self.send.is_some().then_some("send"),
            self.wait.is_some().then_some("wait"),
            self.condition.is_some().then_some("if"),
            self.exit.is_some().then_some("exit"),
        ];
        let present: Vec<&str> = kinds.into_iter().flatten().collect();
        if present.len() > 1 {
            return Err(E::custom(format!(
                "a step does one thing, this one has `{}`: split it into one step per list item",
                present.join("` and `")
            )));
        }
        let only =
            |key: &str, allowed: &str| -> Result<(), E> { Err(E::custom(format!("`{key}` belongs to {allowed}"))) };
        if self.experiment.is_some() && self.send.is_none() {
            only("experiment", "a `send` step")?;
        }
        if self.fallback_for.is_some() && self.send.is_none() {
            only("fallback_for", "a `send` step")?;
        }
        if (self.then.is_some() || self.otherwise.is_some()) && self.condition.is_none() {
            only(if self.then.is_some() { "then" } else { "else" }, "an `if` step")?;
        }
        if let Some(message) = self.send {
            return Ok(StepKind::Send {
                message,
                experiment: self.experiment,
                fallback_for: self.fallback_for,
            });
        }
        if let Some(wait) = self.wait {
            return Ok(StepKind::Wait(wait));
        }
        if let Some(condition) = self.condition {
            let Some(then) = self.then else {
                return Err(E::custom(
                    "an `if` step needs `then:` with the steps to run when the condition holds",
                ));
            };
            return Ok(StepKind::If {
                condition,
                then,
                otherwise: self.otherwise.unwrap_or_default(),
            });
        }
        if let Some(reason) = self.exit {
            return Ok(StepKind::Exit { reason });
        }
        Err(E::custom(format!("empty step: {STEP_HELP}")))
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StepVisitor;
        impl<'de> Visitor<'de> for StepVisitor {
            type Value = StepKind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(STEP_HELP)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<StepKind, E> {
                match s {
                    "exit" => Ok(StepKind::Exit { reason: None }),
                    other => Err(E::custom(format!("`{other}` is not a step: {STEP_HELP}"))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StepKind, A::Error> {
                StepFields::deserialize(MapAccessDeserializer::new(map))?.into_kind()
            }
        }
        let sp: Sp<StepKindWrapper> = Sp::deserialize(d)?;
        return Ok(Step {
            kind: sp.value.0,
            span: sp.span,
        });

        struct StepKindWrapper(StepKind);
        impl<'de> Deserialize<'de> for StepKindWrapper {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(StepVisitor).map(StepKindWrapper)
            }
        }
    }
}

impl<'de> Deserialize<'de> for WaitDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct WaitVisitor;
        impl<'de> Visitor<'de> for WaitVisitor {
            type Value = Result<WaitUntilDoc, Duration>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as `2d`, or `{until: CONDITION, timeout: DURATION}`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                s.parse::<Duration>().map(Err).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "`{n}` has no unit: {}",
                    super::values::DURATION_HELP
                )))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                self.visit_i64(i64::try_from(n).unwrap_or(i64::MAX))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                WaitUntilDoc::deserialize(MapAccessDeserializer::new(map)).map(Ok)
            }
        }
        struct Wrapper(Result<WaitUntilDoc, Duration>);
        impl<'de> Deserialize<'de> for Wrapper {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(WaitVisitor).map(Wrapper)
            }
        }
        let sp: Sp<Wrapper> = Sp::deserialize(d)?;
        Ok(match sp.value.0 {
            Ok(until) => WaitDoc::Until(until),
            Err(duration) => WaitDoc::For(Sp::new(duration, sp.span)),
        })
    }
}

impl JsonSchema for Step {
    fn schema_name() -> Cow<'static, str> {
        "Step".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let message = g.subschema_for::<String>();
        let experiment = g.subschema_for::<ExperimentDoc>();
        let duration = g.subschema_for::<Duration>();
        let until = g.subschema_for::<WaitUntilDoc>();
        let steps = g.subschema_for::<Vec<Step>>();
        json_schema!({
            "description": "A scenario step: send a message, wait, branch, or exit.",
            "oneOf": [
                {
                    "type": "object",
                    "description": "Send a message (optionally as an A/B test).",
                    "properties": {
                        "send": { "allOf": [message], "description": "The message to send.", "examples": ["welcome_email"] },
                        "experiment": { "allOf": [experiment], "description": "Send variants of the message to parts of the contacts and keep the best." },
                        "fallback_for": { "allOf": [message.clone()], "description": "The earlier send of this scenario this one falls back for (email, then SMS if not opened): the same solicitation on another channel, counted once by pressure caps.", "examples": ["cart_email"] }
                    },
                    "required": ["send"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "description": "Wait a duration, or until a condition holds (with a timeout).",
                    "properties": {
                        "wait": {
                            "oneOf": [duration, until],
                            "description": "A duration (`2d`), or `until:` a condition with a `timeout:` and optional `on_timeout:` steps.",
                            "examples": ["1h", "2d", { "until": "opened(cart_email)", "timeout": "1d" }]
                        }
                    },
                    "required": ["wait"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "description": "Branch on a condition.",
                    "properties": {
                        "if": { "type": "string", "description": "The condition (expression language).", "examples": ["consent(sms_marketing) and phone is set"] },
                        "then": { "allOf": [steps.clone()], "description": "Steps when the condition holds.", "examples": [[{ "send": "cart_sms" }]] },
                        "else": { "allOf": [steps], "description": "Steps when it does not.", "examples": [["exit"]] }
                    },
                    "required": ["if", "then"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "description": "Leave the scenario.",
                    "properties": {
                        "exit": { "type": ["string", "null"], "description": "Why the contact leaves.", "examples": ["converted"] }
                    },
                    "required": ["exit"],
                    "additionalProperties": false
                },
                { "const": "exit", "description": "Leave the scenario." }
            ]
        })
    }
}
