//! JSON Schemas generated from the document types (checked in under `schema/`).

use schemars::generate::SchemaSettings;

/// The schema of a plan YAML file, for editors (`# yaml-language-server: $schema=`).
pub fn plan_file() -> schemars::Schema {
    let generator = SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<crate::ast::PlanFile>();
    if let Some(defs) = schema.get_mut("definitions").and_then(|d| d.as_object_mut()) {
        for (def, property, examples) in EXAMPLES {
            let Some(p) = defs
                .get_mut(*def)
                .and_then(|d| d.get_mut("properties"))
                .and_then(|p| p.get_mut(*property))
                .and_then(|p| p.as_object_mut())
            else {
                continue;
            };
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(examples) {
                p.insert("examples".into(), v);
            }
        }
    }
    schema
}

/// Examples shown by editors for properties whose type does not carry its
/// own (`Duration`, `TimeOfDay`… do). A test checks that every scalar
/// property has examples, and that each of these is valid against its schema.
const EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "CampaignDoc",
        "audience",
        r#"["segment(vip) and consent(email_marketing)"]"#,
    ),
    (
        "CampaignDoc",
        "description",
        r#"["VIPs get the winter sales one day early."]"#,
    ),
    ("CampaignDoc", "message", r#"["vip_early_access"]"#),
    ("CampaignDoc", "program", r#"["promotions"]"#),
    ("CampaignDoc", "tags", r#"[["sales"], ["black_friday", "sms"]]"#),
    ("ConsentDoc", "description", r#"["Newsletter and offers by email."]"#),
    ("ConsentDoc", "double_opt_in", "[true]"),
    ("ConsentDoc", "topics", r#"[["tips"], ["offers", "news"]]"#),
    ("EmailPolicyDoc", "subject_max_length", "[60]"),
    ("EventDoc", "description", r#"["The contact left items in the cart."]"#),
    ("ExperimentDoc", "holdout", "[5, 10]"),
    ("ExperimentDoc", "min_sample", "[1000]"),
    ("ExperimentDoc", "test_size", "[20]"),
    (
        "ExperimentDoc",
        "variants",
        r#"[[{ "message": "black_friday_email_a", "split": 50 }, { "message": "black_friday_email_b", "split": 50 }]]"#,
    ),
    ("ExperimentPolicyDoc", "min_sample", "[1000]"),
    (
        "FieldDoc",
        "description",
        r#"["Loyalty tier, computed nightly by the CRM."]"#,
    ),
    ("FieldDoc", "max_length", "[20, 40]"),
    ("FieldDoc", "optional", "[true]"),
    ("FieldDoc", "values", r#"[["standard", "silver", "gold"]]"#),
    ("GuardsDoc", "max_audience_growth_percent", "[50]"),
    (
        "PoliciesDoc",
        "suppress",
        r#"["paused_until > now", "segment(staff) or consent(do_not_contact)"]"#,
    ),
    ("MessageDoc", "topic", r#"["offers", "tips"]"#),
    ("GuardsDoc", "max_cost", "[2500]"),
    ("KpiDoc", "target", "[25, 0.3, 250000]"),
    (
        "MessageDoc",
        "body",
        r#"["templates/welcome.mjml", "Your order {{ event.order_id }} has shipped."]"#,
    ),
    ("MessageDoc", "description", r#"["First email of the welcome series."]"#),
    ("MessageDoc", "from", r#"["Boutique <news@boutique.example>"]"#),
    ("MessageDoc", "preheader", r#"["Your welcome gift is inside"]"#),
    ("MessageDoc", "reply_to", r#"["care@boutique.example"]"#),
    (
        "MessageDoc",
        "script",
        r#"["Hello {{ contact.first_name | default('') }}, this is Boutique calling about your order."]"#,
    ),
    ("MessageDoc", "sender", r#"["BoutiqMode", "+33612345678"]"#),
    (
        "MessageDoc",
        "subject",
        r#"["Welcome, {{ contact.first_name | default('') }}!"]"#,
    ),
    ("MessageDoc", "tags", r#"[["welcome"]]"#),
    (
        "MessageDoc",
        "text",
        r#"["BoutiqMode: -20% with code ANNIV20 this week. STOP 36111"]"#,
    ),
    ("MessageDoc", "title", r#"["New sneakers just dropped"]"#),
    ("MessageDoc", "transliterate", "[true]"),
    ("MessageDoc", "url", r#"["https://boutique.example/new"]"#),
    (
        "PoliciesDoc",
        "pressure",
        r#"[[{ "channel": "email", "purpose": "marketing", "max": 3, "per": "7d" }]]"#,
    ),
    (
        "PoliciesDoc",
        "quiet_hours",
        r#"[[{ "channel": "sms", "days": ["mon", "tue", "wed", "thu", "fri", "sat"], "from": "10:00", "to": "20:00", "holidays": "FR" }]]"#,
    ),
    ("PressureDoc", "max", "[2, 3]"),
    ("PressureDoc", "program", r#"["promotions"]"#),
    ("PressureDoc", "tag", r#"["black_friday"]"#),
    ("ProgramDoc", "description", r#"["Offers and sales."]"#),
    (
        "ProgramDoc",
        "kpis",
        r#"[[{ "metric": "click_rate", "target": 0.03 }]]"#,
    ),
    ("ProgramDoc", "objective", r#"["Bring customers back for the sales"]"#),
    ("ProgramDoc", "owner", r#"["crm-team@boutique.example"]"#),
    ("QuietHoursDoc", "days", r#"[["mon", "tue", "wed", "thu", "fri"]]"#),
    ("ScenarioDoc", "audience", r#"["consent(email_marketing)"]"#),
    ("ScenarioDoc", "description", r#"["Three emails over the first week."]"#),
    ("ScenarioDoc", "exit_when", r#"["orders >= 1"]"#),
    ("ScenarioDoc", "program", r#"["onboarding"]"#),
    (
        "ScenarioDoc",
        "steps",
        r#"[[{ "send": "welcome_email" }, { "wait": "2d" }, { "send": "welcome_tips" }]]"#,
    ),
    ("SegmentDoc", "description", r#"["Best customers."]"#),
    (
        "SegmentDoc",
        "where",
        r#"["loyalty_tier == \"gold\" or total_spent >= 1000"]"#,
    ),
    ("SmsPolicyDoc", "max_segments", "[1, 2]"),
    (
        "TestDoc",
        "description",
        r#"["An abandoned cart gets the email, then the SMS a day later."]"#,
    ),
    (
        "TestDoc",
        "timeline",
        r#"[[{ "at": "2026-11-10T09:05", "event": "cart_abandoned", "cart_value": 80 }, { "at": "2026-11-10T12:00", "opened": "cart_email" }]]"#,
    ),
    (
        "TestDoc",
        "expect",
        r#"[[{ "at": "2026-11-10T10:05", "send": "cart_email" }, { "never": "cart_sms", "reason": "consent" }]]"#,
    ),
    ("TriggerDoc", "date", r#"["birthdate"]"#),
    ("TriggerDoc", "event", r#"["cart_abandoned"]"#),
    ("TriggerDoc", "where", r#"["event.cart_value >= 30"]"#),
    ("VariantDoc", "message", r#"["black_friday_email_a"]"#),
    ("VariantDoc", "split", "[50]"),
    ("WaitUntilDoc", "on_timeout", r#"[[{ "send": "cart_sms" }]]"#),
    ("WaitUntilDoc", "until", r#"["opened(cart_email)"]"#),
];

/// The schema of a plan file as pretty JSON with a trailing newline.
pub fn plan_file_json() -> String {
    let mut s = serde_json::to_string_pretty(&plan_file()).unwrap_or_default();
    s.push('\n');
    s
}

/// The schema of herald.toml as pretty JSON with a trailing newline.
pub fn config_json() -> String {
    let mut s = serde_json::to_string_pretty(&crate::config::json_schema()).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_parses_and_names_a_real_property() {
        let generator = SchemaSettings::draft07().into_generator();
        let bare = generator.into_root_schema_for::<crate::ast::PlanFile>();
        for (def, property, examples) in EXAMPLES {
            let parsed: serde_json::Value =
                serde_json::from_str(examples).unwrap_or_else(|e| panic!("{def}.{property}: {e}"));
            assert!(
                parsed.as_array().is_some_and(|a| !a.is_empty()),
                "{def}.{property}: not a list"
            );
            let exists = bare
                .get("definitions")
                .and_then(|d| d.get(*def))
                .and_then(|d| d.get("properties"))
                .and_then(|p| p.get(*property))
                .is_some();
            assert!(exists, "{def}.{property} is not in the schema");
        }
    }
}
