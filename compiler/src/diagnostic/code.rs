//! The registry of diagnostic codes. A code is stable once released: tools and
//! CI configurations match on it. Every code has an explanation in
//! `compiler/explain/<code>.md` (a missing file is a compile error).

use serde::Serialize;

/// The families of codes, as listed in the JSON output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Syntax,
    Schema,
    Reference,
    Type,
    Consent,
    Pressure,
    Timing,
    Sms,
    Email,
    Push,
    Template,
    Experiment,
    Config,
    /// Journey tests (`tests/*.yaml`).
    Test,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Syntax => "syntax",
            Category::Schema => "schema",
            Category::Reference => "reference",
            Category::Type => "type",
            Category::Consent => "consent",
            Category::Pressure => "pressure",
            Category::Timing => "timing",
            Category::Sms => "sms",
            Category::Email => "email",
            Category::Push => "push",
            Category::Template => "template",
            Category::Experiment => "experiment",
            Category::Config => "config",
            Category::Test => "test",
        }
    }
}

macro_rules! codes {
    ($( $variant:ident => $name:literal, $category:ident, $severity:ident; )*) => {
        /// A stable diagnostic code such as `reference/unknown-field`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($variant),*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name),* }
            }

            pub fn category(self) -> Category {
                match self { $(Code::$variant => Category::$category),* }
            }

            pub fn default_severity(self) -> super::Severity {
                match self { $(Code::$variant => super::Severity::$severity),* }
            }

            /// The long explanation printed by `herald explain`.
            pub fn explanation(self) -> &'static str {
                match self {
                    $(Code::$variant => include_str!(concat!("../../explain/", $name, ".md"))),*
                }
            }
        }
    };
}

codes! {
    SyntaxYaml => "syntax/yaml", Syntax, Error;
    SyntaxToml => "syntax/toml", Syntax, Error;
    SyntaxExpression => "syntax/expression", Syntax, Error;
    SyntaxTemplate => "syntax/template", Syntax, Error;
    SyntaxEncoding => "syntax/encoding", Syntax, Error;
    SyntaxTooLarge => "syntax/too-large", Syntax, Error;
    SyntaxTooComplex => "syntax/too-complex", Syntax, Error;
    SyntaxUnreadableFile => "syntax/unreadable-file", Syntax, Error;

    SchemaUnknownKey => "schema/unknown-key", Schema, Error;
    SchemaMissingKey => "schema/missing-key", Schema, Error;
    SchemaInvalidValue => "schema/invalid-value", Schema, Error;
    SchemaInvalidName => "schema/invalid-name", Schema, Error;
    SchemaDuplicateKey => "schema/duplicate-key", Schema, Error;
    SchemaWrongChannelField => "schema/wrong-channel-field", Schema, Error;
    SchemaInvalidFieldDefinition => "schema/invalid-field-definition", Schema, Error;
    SchemaEmptyPlan => "schema/empty-plan", Schema, Error;

    ReferenceDuplicate => "reference/duplicate", Reference, Error;
    ReferenceUnknownField => "reference/unknown-field", Reference, Error;
    ReferenceUnknownSegment => "reference/unknown-segment", Reference, Error;
    ReferenceUnknownConsent => "reference/unknown-consent", Reference, Error;
    ReferenceUnknownMessage => "reference/unknown-message", Reference, Error;
    ReferenceUnknownEvent => "reference/unknown-event", Reference, Error;
    ReferenceUnknownProgram => "reference/unknown-program", Reference, Error;
    ReferenceUnknownProperty => "reference/unknown-property", Reference, Error;
    ReferenceUnknownFunction => "reference/unknown-function", Reference, Error;
    ReferenceUnknownTopic => "reference/unknown-topic", Reference, Error;
    ReferenceMissingFile => "reference/missing-file", Reference, Error;
    ReferenceSegmentCycle => "reference/segment-cycle", Reference, Error;
    ReferenceUnknownScenario => "reference/unknown-scenario", Reference, Error;

    TypeMismatch => "type/mismatch", Type, Error;
    TypeUnknownEnumValue => "type/unknown-enum-value", Type, Error;
    TypeNotTime => "type/not-time", Type, Error;
    TypeNotList => "type/not-list", Type, Error;
    TypeNotCondition => "type/not-condition", Type, Error;
    TypeBadArguments => "type/bad-arguments", Type, Error;
    TypeEventUnavailable => "type/event-unavailable", Type, Error;

    ReferenceUnusedSegment => "reference/unused-segment", Reference, Warning;
    ReferenceUnusedMessage => "reference/unused-message", Reference, Warning;
    ReferenceUnusedProgram => "reference/unused-program", Reference, Warning;

    ConsentUnproven => "consent/unproven", Consent, Error;
    ConsentPromotionInTransactional => "consent/promotion-in-transactional", Consent, Warning;

    PressureScenarioExceedsCap => "pressure/scenario-exceeds-cap", Pressure, Error;
    PressureCampaignsExceedCap => "pressure/campaigns-exceed-cap", Pressure, Error;
    PressureCampaignsMayExceedCap => "pressure/campaigns-may-exceed-cap", Pressure, Warning;
    PressureUnboundedReentry => "pressure/unbounded-reentry", Pressure, Warning;
    PressureCapsOff => "pressure/caps-off", Pressure, Warning;
    PressureInvalidFallback => "pressure/invalid-fallback", Pressure, Error;

    TimingOutsideWindow => "timing/outside-window", Timing, Error;
    TimingInThePast => "timing/in-the-past", Timing, Warning;

    SmsTooLong => "sms/too-long", Sms, Error;
    SmsUnboundedVariable => "sms/unbounded-variable", Sms, Error;
    SmsMaySwitchToUcs2 => "sms/may-switch-to-ucs2", Sms, Warning;
    SmsMayExceedSegments => "sms/may-exceed-segments", Sms, Error;
    SmsNonGsmCharacters => "sms/non-gsm-characters", Sms, Warning;
    SmsMissingStop => "sms/missing-stop", Sms, Error;
    SmsMissingSenderIdentity => "sms/missing-sender-identity", Sms, Error;
    SmsInvalidSenderId => "sms/invalid-sender-id", Sms, Error;
    SmsEmpty => "sms/empty", Sms, Error;

    EmailMissingUnsubscribe => "email/missing-unsubscribe", Email, Error;
    EmailMissingPreheader => "email/missing-preheader", Email, Warning;
    EmailSubjectTooLong => "email/subject-too-long", Email, Warning;
    EmailInsecureLink => "email/insecure-link", Email, Warning;

    PushTitleTooLong => "push/title-too-long", Push, Warning;
    PushBodyTooLong => "push/body-too-long", Push, Warning;
    PushPayloadTooLarge => "push/payload-too-large", Push, Error;

    TemplateUnknownVariable => "template/unknown-variable", Template, Error;
    TemplateEventUnavailable => "template/event-unavailable", Template, Error;
    TemplateOptionalWithoutDefault => "template/optional-without-default", Template, Error;
    TemplateUnknownFilter => "template/unknown-filter", Template, Error;
    TemplateRenderFailed => "template/render-failed", Template, Error;
    TemplateOverBudget => "template/over-budget", Template, Error;
    TemplateMjml => "template/mjml", Template, Error;
    TemplateInclude => "template/include", Template, Error;

    ExperimentSplitSum => "experiment/split-sum", Experiment, Error;
    ExperimentHoldoutRange => "experiment/holdout-range", Experiment, Error;
    ExperimentTestSizeRange => "experiment/test-size-range", Experiment, Error;
    ExperimentMixedChannels => "experiment/mixed-channels", Experiment, Error;
    ExperimentDecideAfter => "experiment/decide-after", Experiment, Warning;
    ExperimentSeveralDifferences => "experiment/several-differences", Experiment, Warning;
    ExperimentSampleTooSmall => "experiment/sample-too-small", Experiment, Error;

    ConfigMissing => "config/missing", Config, Error;
    ConfigUnknownKey => "config/unknown-key", Config, Error;
    ConfigInvalid => "config/invalid", Config, Error;
    ConfigInlineSecret => "config/inline-secret", Config, Error;
    ConfigUnknownTimezone => "config/unknown-timezone", Config, Error;

    TestInvalidValue => "test/invalid-value", Test, Error;
    TestBadTime => "test/bad-time", Test, Error;
    TestImpossibleExpectation => "test/impossible-expectation", Test, Error;
}

impl Code {
    pub fn parse(name: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_prefixed_by_their_category() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            let prefix = code.as_str().split('/').next().unwrap_or_default();
            assert_eq!(prefix, code.category().as_str(), "{code}");
        }
    }

    #[test]
    fn every_code_has_a_full_explanation() {
        for code in Code::ALL {
            let text = code.explanation();
            assert!(
                text.starts_with(&format!("# {}", code.as_str())),
                "{code}: explanation must start with `# {code}`"
            );
            for section in ["## What it checks", "## Why", "## Example", "## Fix"] {
                assert!(text.contains(section), "{code}: explanation lacks `{section}`");
            }
        }
    }

    #[test]
    fn parse_round_trips() {
        for code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(*code));
        }
        assert_eq!(Code::parse("nope/nope"), None);
    }
}
