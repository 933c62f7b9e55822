//! `contact:` — the contact model: typed fields, consents, events.

use super::values::Channel;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

use crate::yaml::Sp;

/// The type of a contact field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Email,
    Phone,
    Enum,
    Number,
    Integer,
    Boolean,
    Date,
    Datetime,
    Timezone,
    List,
}

/// The type of list items and of event properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalarType {
    String,
    Email,
    Phone,
    Number,
    Integer,
    Boolean,
    Date,
    Datetime,
    Timezone,
}

/// The characters a text field may hold.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, JsonSchema, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Charset {
    /// Any character.
    #[default]
    Unicode,
    /// Only characters of the GSM-7 alphabet (the basic table and its
    /// extension): an SMS printing the field stays in GSM-7. Contacts whose
    /// value has another character are rejected when read.
    Gsm7,
}

impl Charset {
    pub fn is_unicode(&self) -> bool {
        *self == Charset::Unicode
    }
}

/// A contact field.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldDoc {
    /// The field's type.
    #[serde(rename = "type")]
    pub ty: Sp<FieldType>,
    /// The field may be missing on some contacts. Templates that print it must say what to print instead.
    #[serde(default)]
    pub optional: bool,
    /// Longest value, in characters (strings). Needed to bound SMS length.
    pub max_length: Option<Sp<u32>>,
    /// Allowed values (type `enum`).
    pub values: Option<Vec<Sp<String>>>,
    /// Item type (type `list`).
    pub of: Option<Sp<ScalarType>>,
    /// `gsm7`: the values use only GSM-7 characters (text fields), so an SMS
    /// printing it never switches to UCS-2. Default `unicode`.
    pub charset: Option<Sp<Charset>>,
    /// What the field means, for readers of the plan.
    pub description: Option<String>,
}

/// A consent a contact can give, per channel.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentDoc {
    /// The channel this consent covers.
    pub channel: Sp<Channel>,
    /// The opt-in was confirmed a second time (good practice for SMS).
    #[serde(default)]
    pub double_opt_in: bool,
    /// The topics the contact agreed to on this channel (`[tips]`, `[offers, news]`);
    /// absent, every topic of the channel. The preference centre offers them.
    pub topics: Option<Sp<Vec<Sp<String>>>>,
    /// What the contact agreed to, in the words of the form.
    pub description: Option<String>,
}

/// An event contacts can emit (signup, purchase...), with typed properties.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventDoc {
    /// Property names and their types, readable as `event.NAME` in a scenario triggered by this event.
    #[serde(default)]
    pub properties: BTreeMap<Sp<String>, Sp<ScalarType>>,
    /// What the event means.
    pub description: Option<String>,
}

/// `contact:` — the type environment of every expression and template.
#[derive(Clone, Debug, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by the loader entry by entry; this type describes the schema.
pub struct ContactDoc {
    /// Contact fields by name. `id` is built in.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldDoc>,
    /// Consents by name, each for one channel.
    #[serde(default)]
    pub consents: BTreeMap<String, ConsentDoc>,
    /// Events by name.
    #[serde(default)]
    pub events: BTreeMap<String, EventDoc>,
}

/// Keys of `contact:`, in the loader's order.
pub const CONTACT_KEYS: &[&str] = &["fields", "consents", "events"];
