//! Durations have a range (up to 100 years): beyond it, a diagnostic where the
//! duration is written — in YAML values and in conditions — never a panic, a
//! wrap to zero, or an overflow in date arithmetic later.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use chrono::{DateTime, TimeDelta, Utc};
use herald_compiler::contact::{Contact, Layout};
use herald_compiler::eval::{Evaluator, NoHistory, Subject};
use herald_compiler::{Code, Compilation, SourceFile, SourceKind, SourceSet};

const BASE: &str = "contact:
  fields:
    email: { type: email }
    last_purchase_at: { type: datetime, optional: true }
  consents:
    email_marketing: { channel: email }
  events:
    purchase: {}
programs:
  p: { objective: Sell. }
messages:
  news:
    channel: email
    purpose: marketing
    subject: News
    preheader: This week
    body: \"<p>Hi</p><a href='{{ unsubscribe_url }}'>Unsubscribe</a>\"
";

fn compile_at(extra: &str, now: DateTime<Utc>) -> Compilation {
    let mut set = SourceSet::new();
    set.add(SourceFile::new(
        "herald.toml",
        SourceKind::Config,
        "[project]\nname = \"t\"\ntimezone = \"Europe/Paris\"\n",
    ));
    set.add(SourceFile::new("plan.yaml", SourceKind::Yaml, format!("{BASE}{extra}")));
    herald_compiler::compile(&set, now, &Default::default())
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z").unwrap().to_utc()
}

fn campaign(audience: &str) -> String {
    format!(
        "campaigns:\n  c:\n    program: p\n    audience: '{audience}'\n    message: news\n    send_at: 2026-12-02T10:00\n"
    )
}

/// The diagnostic's message and its labels' (a YAML value's error is on its label).
fn text(d: &herald_compiler::Diagnostic) -> String {
    let mut t = d.message.clone();
    for l in d.primary.iter().chain(&d.related) {
        t.push('\n');
        t.push_str(&l.message);
    }
    t
}

fn assert_error(c: &Compilation, code: Code, needle: &str) {
    assert!(
        c.diagnostics.iter().any(|d| d.code == code && text(d).contains(needle)),
        "expected {code} mentioning `{needle}`: {:#?}",
        c.diagnostics
    );
}

#[test]
fn a_pressure_window_beyond_100_years_is_a_diagnostic_not_a_panic() {
    // Panicked in rules/pressure.rs (date overflow), in `check` and in `herald lsp`.
    let plan = format!(
        "policies:\n  pressure:\n    - {{ purpose: marketing, max: 1, per: 97000000d }}\n{}{}",
        campaign("consent(email_marketing)"),
        "  d:\n    program: p\n    audience: consent(email_marketing)\n    message: news\n    send_at: 2026-12-03T10:00\n"
    );
    let c = compile_at(&plan, now());
    assert_error(&c, Code::SchemaInvalidValue, "too long a duration");
    // The longest accepted window is checked without overflow.
    let c = compile_at(&plan.replace("97000000d", "36525d"), now());
    assert!(
        c.diagnostics.iter().any(|d| d.code == Code::PressureCampaignsExceedCap),
        "{:#?}",
        c.diagnostics
    );
}

#[test]
fn a_within_beyond_100_years_is_a_diagnostic() {
    // Passed `check`, then panicked in `plan` (eval.rs).
    let c = compile_at(
        &campaign("consent(email_marketing) and last_purchase_at within 97000000d"),
        now(),
    );
    assert_error(&c, Code::SyntaxExpression, "too long a duration");
}

#[test]
fn a_count_window_beyond_100_years_is_a_diagnostic() {
    let c = compile_at(
        &campaign("consent(email_marketing) and count(purchase, 97000000d) == 0"),
        now(),
    );
    assert_error(&c, Code::SyntaxExpression, "too long a duration");
}

#[test]
fn a_duration_too_long_for_64_bits_is_not_zero() {
    // Silently became `0m`.
    let c = compile_at(
        &campaign("consent(email_marketing) and last_purchase_at not within 18446744073709551616m"),
        now(),
    );
    assert_error(&c, Code::SyntaxExpression, "too long a duration");
}

#[test]
fn scenario_waits_and_offsets_beyond_100_years_are_diagnostics() {
    let scenario = "scenarios:
  s:
    program: p
    trigger: { event: purchase }
    audience: consent(email_marketing)
    reentry: after 40000d
    steps:
      - wait: 5300w
      - send: news
  b:
    program: p
    trigger: { date: last_purchase_at, offset: 101y }
    audience: consent(email_marketing)
    steps: [ { send: news } ]
";
    let c = compile_at(scenario, now());
    let long: Vec<_> = c
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::SchemaInvalidValue)
        .map(text)
        .collect();
    assert!(
        long.iter().any(|m| m.contains("too long a duration"))
            && long.iter().any(|m| m.contains("too large an offset")),
        "{:#?}",
        c.diagnostics
    );
}

#[test]
fn windows_at_the_start_of_time_are_checked() {
    // `now - 100 years` before chrono's first instant: the window starts there.
    let start = DateTime::<Utc>::MIN_UTC + TimeDelta::days(1);
    let c = compile_at(
        "segments:\n  recent:\n    where: last_purchase_at within 36525d and count(purchase, 36525d) == 0\n",
        start,
    );
    let Some(seg) = c.plan.segments.get("recent") else {
        panic!("{:#?}", c.diagnostics)
    };
    let layout = Layout::new(&c.plan.contact, &["id", "email", "last_purchase_at"]).unwrap();
    let evaluator = Evaluator::new(&c.plan, &layout);
    let contact = Contact {
        id: "c1".into(),
        fields: vec![None; layout.fields.len()],
        consents: vec![],
        invalid: Vec::new(),
    };
    let subject = Subject {
        contact: &contact,
        now: start,
        event: None,
        history: &NoHistory,
    };
    let compiled = evaluator.compile(&seg.condition);
    assert!(!evaluator.eval(&subject, &mut evaluator.memo(), &compiled));
}

/// Each wait is within 100 years, but thousands of them added up past the end
/// of chrono's calendar (year 262143) and the forecast overflowed
/// (`forecast.rs`, `at += d`): a scenario spans at most 100 years in total.
#[test]
fn thousands_of_long_waits_are_a_diagnostic_not_a_forecast_overflow() {
    let scenario = |steps: &str| {
        format!(
            "scenarios:\n  s:\n    program: p\n    trigger: {{ date: last_purchase_at, every: year }}\n    audience: consent(email_marketing)\n    steps:\n{steps}      - send: news\n"
        )
    };
    let c = compile_at(&scenario(&"      - wait: 36525d\n".repeat(8_000)), now());
    assert_error(&c, Code::SchemaInvalidValue, "a scenario spans at most 36525d");
    // Timeouts count, on the longest branch.
    let branchy = "      - wait: 20000d\n      - wait:\n          until: opened(news)\n          timeout: 10000d\n          on_timeout:\n            - if: consent(email_marketing)\n              then: [ { wait: 7000d } ]\n              else: [ { wait: 1d } ]\n";
    let c = compile_at(&scenario(branchy), now());
    assert_error(&c, Code::SchemaInvalidValue, "a scenario spans at most");
    // Exactly 100 years is fine, and forecasts.
    let c = compile_at(&scenario("      - wait: 20000d\n      - wait: 16525d\n"), now());
    assert!(
        !c.has_errors(),
        "{:#?}",
        c.diagnostics.iter().filter(|d| d.is_error()).collect::<Vec<_>>()
    );
    let layout = Layout::new(
        &c.plan.contact,
        &["id", "email", "last_purchase_at", "consent_email_marketing"],
    )
    .unwrap();
    let contact = layout
        .parse_row(&["c1", "a@example.test", "2020-11-25T10:00:00Z", "true"])
        .unwrap();
    let mut f = herald_compiler::forecast::Forecaster::new(&c.plan, &layout, now(), 30);
    f.add(&contact);
    let _ = f.finish();
}
