//! `messages:` and `programs:`.

use super::values::{Channel, Purpose};
use crate::yaml::Sp;
use schemars::JsonSchema;
use serde::Deserialize;

/// A message: its channel decides which content keys it takes
/// (email: subject, preheader, body; sms: sender, text; push: title, body, url; call: script).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageDoc {
    /// The channel the message is sent on.
    pub channel: Sp<Channel>,
    /// `marketing` needs consent and counts against pressure caps; `transactional` and `service` do not.
    pub purpose: Sp<Purpose>,
    /// What the message is for.
    pub description: Option<String>,
    /// Labels used by pressure rules (`policies.pressure[].tag`) and reports.
    #[serde(default)]
    pub tags: Vec<Sp<String>>,
    /// What a marketing message is about (`offers`, `tips`): it needs a consent of its channel
    /// whose `topics` include it (or a consent without `topics`).
    pub topic: Option<Sp<String>>,
    /// Email: the subject line (a template).
    pub subject: Option<Sp<String>>,
    /// Email: the preview text shown after the subject (a template).
    pub preheader: Option<Sp<String>>,
    /// Email: the body, inline MJML/HTML or a path to a `.mjml`, `.html` or `.txt` file in the plan
    /// directory. Push: the notification text.
    pub body: Option<Sp<String>>,
    /// Email: the From address, if not the provider's default.
    pub from: Option<Sp<String>>,
    /// Email: the Reply-To address.
    pub reply_to: Option<Sp<String>>,
    /// SMS: the sender ID shown on the phone (3–11 letters/digits) or a number.
    pub sender: Option<Sp<String>>,
    /// SMS: the text (a template).
    pub text: Option<Sp<String>>,
    /// SMS: replace characters outside GSM-7 (é is fine, ê is not) by their closest GSM-7 look-alike at send time.
    pub transliterate: Option<Sp<bool>>,
    /// Push: the title (a template).
    pub title: Option<Sp<String>>,
    /// Push: the deep link opened on tap.
    pub url: Option<Sp<String>>,
    /// Call: the script read to the contact (a template).
    pub script: Option<Sp<String>>,
}

/// A program KPI metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    DeliveryRate,
    OpenRate,
    ClickRate,
    ConversionRate,
    UnsubscribeRate,
    ComplaintRate,
    Revenue,
}

/// A KPI of a program: a metric and its target.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiDoc {
    /// What is measured.
    pub metric: Sp<Metric>,
    /// The objective: for rates a percentage from 0 to 100 (25 means 25 %, 0.3 means 0.3 %),
    /// for revenue an amount (0 or more).
    pub target: Sp<f64>,
}

/// A program: a family of communications with an objective.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramDoc {
    /// What the program is for, in one sentence.
    pub objective: Sp<String>,
    /// Who answers for it.
    pub owner: Option<String>,
    /// What the program is about.
    pub description: Option<String>,
    /// How success is measured.
    #[serde(default)]
    pub kpis: Vec<KpiDoc>,
}
