//! `policies:` — pressure caps, quiet hours, SMS/email limits, experiments, guards.

use super::values::{Channel, Duration, HolidayCalendar, Purpose, TimeOfDay, Weekday};
use crate::yaml::{Lenient, Sp};
use schemars::JsonSchema;
use serde::Deserialize;

/// Marketing-pressure cap: at most `max` messages per contact in any rolling `per` window,
/// counting the messages that match the scope (channel, purpose, program, tag).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PressureDoc {
    /// Count only messages on this channel.
    pub channel: Option<Sp<Channel>>,
    /// Count only messages with this purpose (usually `marketing`).
    pub purpose: Option<Sp<Purpose>>,
    /// Count only messages of this program.
    pub program: Option<Sp<String>>,
    /// Count only messages with this tag (a given promotion, say).
    pub tag: Option<Sp<String>>,
    /// Most messages allowed in the window.
    pub max: Sp<u32>,
    /// The rolling window.
    pub per: Sp<Duration>,
}

/// An allowed sending window for a channel, in each contact's time zone.
/// Outside it, sends are deferred to the next allowed slot.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursDoc {
    /// The channel the window applies to.
    pub channel: Sp<Channel>,
    /// The messages the window applies to. Absent: marketing only — urgent
    /// transactional and service messages are never held back unless a
    /// window names their purpose.
    pub purpose: Option<Sp<Purpose>>,
    /// Days when sending is allowed.
    pub days: Sp<Vec<Weekday>>,
    /// Start of the allowed window (inclusive).
    pub from: Sp<TimeOfDay>,
    /// End of the allowed window (exclusive).
    pub to: Sp<TimeOfDay>,
    /// No sending on this calendar's public holidays.
    pub holidays: Option<Sp<HolidayCalendar>>,
}

/// SMS limits.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsPolicyDoc {
    /// Most segments a message may take in the worst case (default 1).
    pub max_segments: Option<Sp<u32>>,
}

/// Email limits.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailPolicyDoc {
    /// Longest subject before a warning, in characters (default 60).
    pub subject_max_length: Option<Sp<u32>>,
}

/// A/B-test defaults.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentPolicyDoc {
    /// Fewest contacts per variant (default 1000).
    pub min_sample: Option<Sp<u32>>,
}

/// Bounds that refuse an apply whose impact grows too much.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardsDoc {
    /// Refuse when an audience grows by more than this percentage since the last apply.
    pub max_audience_growth_percent: Option<Sp<u32>>,
    /// Refuse when one apply's forecast SMS cost exceeds this amount (project currency).
    pub max_cost: Option<Sp<f64>>,
}

/// `policies:` — the rules every campaign and scenario must respect.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoliciesDoc {
    /// Frequency caps per contact. Absent: the practice's baseline (marketing
    /// email ≤ 2 per 7 days, SMS ≤ 4 per 30 days, push ≤ 3 per 7 days, one
    /// marketing message a day across channels). A written list replaces it;
    /// `[]` turns caps off.
    pub pressure: Option<Sp<Vec<Lenient<PressureDoc>>>>,
    /// Allowed sending windows per channel.
    #[serde(default)]
    pub quiet_hours: Vec<Lenient<QuietHoursDoc>>,
    /// SMS limits.
    #[serde(default)]
    pub sms: SmsPolicyDoc,
    /// Email limits.
    #[serde(default)]
    pub email: EmailPolicyDoc,
    /// A/B-test defaults.
    #[serde(default)]
    pub experiments: ExperimentPolicyDoc,
    /// Apply-time guards.
    #[serde(default)]
    pub guards: GuardsDoc,
    /// A condition (expression language): contacts for whom it holds get no marketing
    /// message at all — a pause button, an internal blacklist (`paused_until > now or
    /// segment(staff)`). Checked at every marketing send; transactional and service
    /// messages still go.
    pub suppress: Option<Sp<String>>,
}
