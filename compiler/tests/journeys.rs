//! Journey tests: test files checked against a plan, simulated on the step
//! engine, their expectations matched — each against timelines worked out
//! by hand (the cascade, pressure from another campaign, quiet hours,
//! engagement, consent and data changes, suppression, re-entry, experiment
//! groups, time zones and DST, coverage).

use herald_compiler::contact::Layout;
use herald_compiler::engine::Engine;
use herald_compiler::engine::simulate::Point;
use herald_compiler::journeys::{self, Outcome, show};
use herald_compiler::{Code, Compilation, SourceFile, SourceKind, SourceSet};

const CONFIG: &str = "[project]\nname = \"t\"\ntimezone = \"Europe/Paris\"\n";

const PLAN: &str = r#"
contact:
  fields:
    email: { type: email, optional: true }
    phone: { type: phone, optional: true }
    first_name: { type: string, optional: true, max_length: 20 }
    region: { type: enum, values: [IDF, PACA] }
    timezone: { type: timezone, optional: true }
    total_spent: { type: number, optional: true }
  consents:
    email_marketing: { channel: email }
    sms_marketing: { channel: sms }
  events:
    cart_abandoned: { properties: { cart_value: number } }
    purchase: {}
policies:
  pressure:
    - { purpose: marketing, max: 1, per: 1d }
  quiet_hours:
    - { channel: sms, days: [mon, tue, wed, thu, fri], from: "08:00", to: "20:00", holidays: FR }
    - { channel: sms, days: [sat], from: "10:00", to: "18:00", holidays: FR }
programs:
  p: { objective: "Test journeys." }
messages:
  cart_email:
    channel: email
    purpose: marketing
    subject: "Votre panier, {{ contact.first_name | default('') }}"
    preheader: "Il vous attend"
    body: '<p>Panier de {{ event.cart_value }} € <a href="{{ unsubscribe_url }}">désinscription</a></p>'
  cart_sms:
    channel: sms
    purpose: marketing
    sender: Boutique
    text: "Boutique: {{ contact.first_name | default('') }}, votre panier vous attend STOP au 36111"
  promo_email:
    channel: email
    purpose: marketing
    subject: "Promo"
    preheader: "Une offre"
    body: '<p>Promo <a href="{{ unsubscribe_url }}">désinscription</a></p>'
campaigns:
  promo:
    program: p
    audience: consent(email_marketing)
    message: promo_email
    send_at: 2026-11-24T09:00
scenarios:
  cart:
    program: p
    trigger: { event: cart_abandoned, where: event.cart_value >= 30 }
    audience: consent(email_marketing)
    reentry: after 10d
    exit_when: count(purchase) >= 1
    steps:
      - wait: 1h
      - send: cart_email
      - wait:
          until: opened(cart_email)
          timeout: 1d
          on_timeout:
            - if: consent(sms_marketing) and phone is set
              then:
                - send: cart_sms
      - exit: done
"#;

fn compile(tests: &str) -> (SourceSet, Compilation) {
    let mut set = SourceSet::new();
    set.add(SourceFile::new("herald.toml", SourceKind::Config, CONFIG));
    set.add(SourceFile::new("plan.yaml", SourceKind::Yaml, PLAN));
    set.add(SourceFile::new("tests/t.yaml", SourceKind::Test, tests));
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let c = herald_compiler::compile(&set, now, &Default::default());
    (set, c)
}

/// Run every test; (name, outcome) with the actual timeline in words.
fn run(tests: &str) -> Vec<(String, bool, Vec<String>, Vec<String>)> {
    let (_, c) = compile(tests);
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let layout = Layout::for_model(&c.plan.contact);
    let engine = Engine::new(&c.plan, &layout);
    c.tests
        .iter()
        .map(|case| {
            let o: Outcome = journeys::run(&engine, &layout, case);
            let timeline = o
                .simulation
                .happenings
                .iter()
                .map(|h| {
                    format!(
                        "{}  {}",
                        show::time(h.at, case.tz),
                        show::happening(&engine, h, case.tz)
                    )
                })
                .collect();
            let results = o
                .results
                .iter()
                .zip(&case.expectations)
                .map(|(r, e)| {
                    format!(
                        "{} {}: {}",
                        if r.passed { "ok" } else { "FAIL" },
                        show::expectation(e, case.tz),
                        r.detail
                    )
                })
                .chain(o.problems.iter().map(|p| format!("PROBLEM {p}")))
                .collect();
            (case.name.clone(), o.passed(), results, timeline)
        })
        .collect()
}

fn one(tests: &str) -> (bool, Vec<String>, Vec<String>) {
    let mut all = run(tests);
    assert_eq!(all.len(), 1);
    let (_, passed, results, timeline) = all.remove(0);
    (passed, results, timeline)
}

const CONTACT: &str = r#"{ id: t1, email: a@example.test, phone: "+33612345678", first_name: Noël, region: IDF, consents: [email_marketing, sms_marketing] }"#;

#[test]
fn the_cascade_of_the_issue_steps_through_simulated_time() {
    // Tuesday 10 November 2026: no campaign around.
    let (passed, results, timeline) = one(&format!(
        r#"
tests:
  cart_email_then_sms:
    start: 2026-11-17T09:00
    until: 2026-11-20T00:00
    contact: {CONTACT}
    timeline:
      - {{ at: 2026-11-17T09:05, event: cart_abandoned, cart_value: 80 }}
    expect:
      - {{ at: 2026-11-17T10:05, send: cart_email, subject: "Votre panier, Noël", contains: "80 €" }}
      - {{ at: 2026-11-18T10:05, send: cart_sms, segments: 1, encoding: UCS-2, contains: Noël }}
      - {{ exit: cart, at: 2026-11-18T10:05, reason: done }}
      - {{ enter: cart, at: 2026-11-17T09:05 }}
      - {{ never: promo_email }}
"#
    ));
    assert!(passed, "{results:#?}\n{timeline:#?}");
    assert_eq!(
        timeline,
        [
            "Tue 2026-11-17 09:05  event cart_abandoned (cart_value: 80)",
            "Tue 2026-11-17 09:05  enter cart",
            "Tue 2026-11-17 10:05  sent cart_email: subject \"Votre panier, Noël\"",
            "Wed 2026-11-18 10:05  sent cart_sms: \"Boutique: Noël, votre panier vous attend STOP au …\" (UCS-2, 1 segment)",
            "Wed 2026-11-18 10:05  exit cart (done)",
        ]
    );
}

#[test]
fn pressure_counts_the_other_campaigns_of_the_plan() {
    // The promo campaign goes out at 09:00 on Tuesday 24 November: one
    // marketing message a day leaves no room for the cart email at 10:05.
    let (passed, results, timeline) = one(&format!(
        r#"
tests:
  promo_then_cart:
    start: 2026-11-24T08:00
    contact: {CONTACT}
    timeline:
      - {{ at: 2026-11-24T09:05, event: cart_abandoned, cart_value: 80 }}
    expect:
      - {{ at: 2026-11-24T09:00, send: promo_email }}
      - {{ never: cart_email, reason: pressure }}
      - {{ at: 2026-11-25T10:05, send: cart_sms }}
"#
    ));
    assert!(passed, "{results:#?}\n{timeline:#?}");
    assert!(
        timeline.contains(&"Tue 2026-11-24 10:05  dropped cart_email: pressure:policies.pressure[0]".to_string()),
        "{timeline:#?}"
    );
}

#[test]
fn quiet_hours_defer_an_sms_to_the_next_allowed_time_and_failures_say_why() {
    // Abandoned on Friday 13 at 18:30: the email at 19:30, the SMS due on
    // Saturday 19:30, after the Saturday window (10:00–18:00): Monday 08:00.
    let (passed, results, _) = one(&format!(
        r#"
tests:
  weekend:
    start: 2026-11-13T18:00
    contact: {CONTACT}
    timeline:
      - {{ at: 2026-11-13T18:30, event: cart_abandoned, cart_value: 80 }}
    expect:
      - {{ at: 2026-11-16T08:00, send: cart_sms }}
      - {{ at: 2026-11-14T19:30, send: cart_sms }}
"#
    ));
    assert!(!passed);
    assert_eq!(
        results[0],
        "ok send cart_sms at Mon 2026-11-16 08:00: sent at Mon 2026-11-16 08:00"
    );
    assert_eq!(
        results[1],
        "FAIL send cart_sms at Sat 2026-11-14 19:30: not sent then: deferred at Sat 2026-11-14 19:30 to Mon 2026-11-16 08:00 (quiet hours); sent at Mon 2026-11-16 08:00"
    );
}

/// A contact whose phone is not a valid number, as a CRM may hold it:
/// kept, its email sent, its SMS dropped `invalid-address`. Without that
/// expectation the same value is a typo of the test, an error.
#[test]
fn an_invalid_address_is_tested_through_its_drop() {
    let test = |expect: &str| {
        format!(
            r#"
tests:
  bad_phone:
    start: 2026-11-17T09:00
    contact: {{ id: t1, email: a@example.test, phone: "06 12 34 56 78", region: IDF, consents: [email_marketing, sms_marketing] }}
    timeline:
      - {{ at: 2026-11-17T09:05, event: cart_abandoned, cart_value: 80 }}
    expect:
      - {{ at: 2026-11-17T10:05, send: cart_email }}
      - {expect}
"#
        )
    };
    let (passed, results, timeline) = one(&test("{ never: cart_sms, reason: invalid-address }"));
    assert!(passed, "{results:#?}\n{timeline:#?}");
    assert!(
        timeline
            .iter()
            .any(|t| t.contains("cart_sms") && t.contains("invalid-address")),
        "{timeline:#?}"
    );
    // The email address is valid: its message is sent, not dropped.
    let (passed, results, _) = one(&test("{ never: cart_email, reason: invalid-address }"));
    assert!(!passed, "{results:#?}");

    // Set in the timeline: the SMS goes to the number of its time.
    let (passed, results, timeline) = one(r#"
tests:
  phone_changed:
    start: 2026-11-17T09:00
    contact: { id: t1, email: a@example.test, phone: "+33612345678", region: IDF, consents: [email_marketing, sms_marketing] }
    timeline:
      - { at: 2026-11-17T09:05, event: cart_abandoned, cart_value: 80 }
      - { at: 2026-11-17T12:00, set: { phone: "06 12" } }
    expect:
      - { never: cart_sms, reason: invalid-address }
"#);
    assert!(passed, "{results:#?}\n{timeline:#?}");

    let (_, c) = compile(&test("{ never: cart_sms }"));
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].code, Code::TestInvalidValue);
    assert!(
        errors[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("reason: invalid-address")),
        "{errors:#?}"
    );
    // A line break is refused even when the test expects the drop, and
    // the help does not advise what the test does already.
    let (_, c) =
        compile(&test("{ never: cart_sms, reason: invalid-address }").replace("\"06 12 34 56 78\"", "\"06 12\\n34\""));
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let help = errors[0].help.as_deref().unwrap_or("");
    assert!(
        help.contains("control character") && !help.contains("expect `{"),
        "{help}"
    );
}

#[test]
fn an_open_ends_the_wait_and_a_purchase_ends_the_scenario() {
    let (passed, results, timeline) = fold(run(&format!(
        r#"
tests:
  opened:
    start: 2026-11-17T09:00
    contact: {CONTACT}
    timeline:
      - {{ at: 2026-11-17T09:05, event: cart_abandoned, cart_value: 80 }}
      - {{ at: 2026-11-17T12:00, opened: cart_email }}
    expect:
      - {{ send: cart_email }}
      - {{ never: cart_sms }}
      - {{ exit: cart, at: 2026-11-17T12:00, reason: done }}
  bought:
    start: 2026-11-17T09:00
    contact: {CONTACT}
    timeline:
      - {{ at: 2026-11-17T09:05, event: cart_abandoned, cart_value: 80 }}
      - {{ at: 2026-11-17T09:30, event: purchase }}
    expect:
      - {{ never: cart_email }}
      - {{ exit: cart, at: 2026-11-17T09:30, reason: exit_when }}
"#
    )));
    assert!(passed, "{results:#?}\n{timeline:#?}");
}

fn fold(all: Vec<(String, bool, Vec<String>, Vec<String>)>) -> (bool, Vec<String>, Vec<String>) {
    all.into_iter()
        .fold((true, Vec::new(), Vec::new()), |(p, mut r, mut t), x| {
            r.extend(x.2);
            t.extend(x.3);
            (p && x.1, r, t)
        })
}

#[test]
fn consent_changes_unsubscribes_and_data_changes_apply_at_their_instant() {
    let (passed, results, timeline) = fold(run(&format!(
        r#"
tests:
  withdrawn:
    start: 2026-11-17T09:00
    contact: {CONTACT}
    timeline:
      - {{ at: 2026-11-17T09:05, event: cart_abandoned, cart_value: 80 }}
      - {{ at: 2026-11-17T20:00, consent_withdrawn: sms_marketing }}
    expect:
      - {{ send: cart_email }}
      - {{ never: cart_sms }}
  no_phone_any_more:
    start: 2026-11-17T09:00
    contact: {CONTACT}
    timeline:
      - {{ at: 2026-11-17T09:05, event: cart_abandoned, cart_value: 80 }}
      - {{ at: 2026-11-17T20:00, set: {{ phone: null }} }}
    expect:
      - {{ never: cart_sms }}
  unsubscribed:
    start: 2026-11-17T09:00
    contact: {CONTACT}
    timeline:
      - {{ at: 2026-11-17T09:05, event: cart_abandoned, cart_value: 80 }}
      - {{ at: 2026-11-17T11:00, unsubscribed: cart_email }}
      - {{ at: 2026-11-28T09:00, event: cart_abandoned, cart_value: 90 }}
    expect:
      - {{ at: 2026-11-18T10:05, send: cart_sms }}
      - {{ enter: cart, at: 2026-11-28T09:00 }}
      - {{ never: cart_email, reason: suppressed }}
"#
    )));
    assert!(!passed, "unsubscribed: the first cart email was sent");
    assert!(
        results.contains(&"FAIL never cart_email (suppressed): sent at Tue 2026-11-17 10:05".to_string()),
        "{results:#?}"
    );
    assert!(
        timeline.contains(&"Sat 2026-11-28 10:00  dropped cart_email: suppressed".to_string()),
        "{timeline:#?}"
    );
    assert!(
        results.iter().filter(|r| r.starts_with("ok")).count() == 5,
        "{results:#?}"
    );
}

#[test]
fn reentry_and_the_trigger_condition_are_the_engines() {
    let (passed, results, timeline) = one(&format!(
        r#"
tests:
  twice:
    start: 2026-11-02T09:00
    contact: {CONTACT}
    timeline:
      - {{ at: 2026-11-02T09:05, event: cart_abandoned, cart_value: 80 }}
      - {{ at: 2026-11-04T09:05, event: cart_abandoned, cart_value: 10 }}
      - {{ at: 2026-11-07T09:05, event: cart_abandoned, cart_value: 80 }}
      - {{ at: 2026-11-13T09:05, event: cart_abandoned, cart_value: 80 }}
    expect:
      - {{ enter: cart, at: 2026-11-02T09:05 }}
      - {{ enter: cart, at: 2026-11-13T09:05 }}
"#
    ));
    assert!(passed, "{results:#?}");
    assert!(
        timeline.contains(&"Wed 2026-11-04 09:05  not entered cart: the trigger's `where` does not hold".to_string())
            && timeline.contains(&"Sat 2026-11-07 09:05  not entered cart: the re-entry rule forbids it".to_string()),
        "{timeline:#?}"
    );
}

#[test]
fn times_are_read_in_the_contacts_zone() {
    // The promo campaign at 09:00 in New York is 15:00 in Paris.
    let (passed, results, _) = one(r#"
tests:
  new_york:
    start: 2026-11-24T00:00
    contact: { id: t2, email: b@example.test, region: IDF, timezone: America/New_York, consents: [email_marketing] }
    expect:
      - { at: 2026-11-24T09:00, send: promo_email }
      - { at: 2026-11-24T15:00+01:00, send: promo_email }
"#);
    // One send matches one expectation.
    assert!(!passed);
    assert!(results[0].starts_with("ok"), "{results:#?}");
    assert!(results[1].starts_with("FAIL"), "{results:#?}");
}

#[test]
fn engagement_with_a_message_never_sent_is_a_problem_of_the_test() {
    let (passed, results, _) = one(&format!(
        r#"
tests:
  phantom_open:
    start: 2026-11-17T09:00
    contact: {CONTACT}
    timeline:
      - {{ at: 2026-11-17T09:30, opened: cart_email }}
    expect:
      - {{ never: cart_sms }}
"#
    ));
    assert!(!passed);
    assert!(
        results.iter().any(|r| r.contains("the timeline opens `cart_email` at Tue 2026-11-17 09:30, but the contact was not sent `cart_email` before then")),
        "{results:#?}"
    );
}

#[test]
fn coverage_names_the_steps_and_ways_no_test_reached() {
    let (_, c) = compile(&format!(
        r#"
tests:
  cascade:
    start: 2026-11-17T09:00
    contact: {CONTACT}
    timeline:
      - {{ at: 2026-11-17T09:05, event: cart_abandoned, cart_value: 80 }}
    expect:
      - {{ send: cart_sms }}
"#
    ));
    let layout = Layout::for_model(&c.plan.contact);
    let engine = Engine::new(&c.plan, &layout);
    let mut reached = std::collections::BTreeSet::new();
    for case in &c.tests {
        reached.extend(journeys::run(&engine, &layout, case).simulation.reached);
    }
    let cov = journeys::coverage(&engine, &c.plan, &reached);
    let gaps: Vec<String> = cov.scenarios[0]
        .2
        .iter()
        .map(|g| match &g.point {
            Point::Step(c) => format!("step {c}"),
            Point::Way(c, w) => format!("{c} {w:?}"),
        })
        .collect();
    // The open was never simulated, nor a contact without the SMS consent.
    assert_eq!(gaps, ["2 Met", "2/timeout/0 Else"]);
    assert_eq!(cov.points(), 10);
}

#[test]
fn test_files_are_checked_against_the_plan() {
    let (_, c) = compile(
        r#"
tests:
  bad:
    start: 2026-11-17T09:00
    contact: { email: not-an-email, regoin: IDF, consents: [sms_marketting], phone: 33612345678 }
    timeline:
      - { at: 2026-11-17T09:05, event: cart_abandonned }
      - { at: 2026-11-17T09:06, event: cart_abandoned, cart_valeu: 3, }
      - { at: 2026-11-17T09:07, opened: cart_mail }
    expect:
      - { send: cart_email_reminder }
      - { send: cart_email, segments: 1 }
      - { exit: cart, reason: bought }
      - { enter: kart }
      - { at: 2026-11-01T10:00, send: cart_email }
"#,
    );
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code.as_str()).collect();
    for want in [
        Code::TestInvalidValue,
        Code::ReferenceUnknownField,
        Code::ReferenceUnknownConsent,
        Code::ReferenceUnknownEvent,
        Code::ReferenceUnknownProperty,
        Code::ReferenceUnknownMessage,
        Code::TestImpossibleExpectation,
        Code::ReferenceUnknownScenario,
        Code::TestBadTime,
    ] {
        assert!(codes.contains(&want.as_str()), "{want} missing from {codes:?}");
    }
    assert!(c.tests.is_empty(), "a test with errors is left out");
}

/// An error in a scenario drops it from the plan; the tests naming it, or
/// its messages, must not pile errors on top (the one error is in the plan).
#[test]
fn a_broken_scenario_does_not_cascade_into_its_tests() {
    let mut set = SourceSet::new();
    set.add(SourceFile::new("herald.toml", SourceKind::Config, CONFIG));
    let broken = PLAN.replace("phone is set", "phone_number is set");
    set.add(SourceFile::new("plan.yaml", SourceKind::Yaml, &broken));
    set.add(SourceFile::new(
        "tests/t.yaml",
        SourceKind::Test,
        "tests:\n  t:\n    start: 2026-11-17T09:00\n    contact: { id: t, email: a@example.test, region: IDF, consents: [email_marketing] }\n    timeline:\n      - { at: 2026-11-17T09:05, event: cart_abandoned, cart_value: 80 }\n    expect:\n      - { at: 2026-11-17T10:05, send: cart_email }\n      - { exit: cart, reason: done }\n      - { send: no_such_message }\n",
    ));
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let c = herald_compiler::compile(&set, now, &Default::default());
    let codes: Vec<(&str, &str)> = c
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let file = d
                .primary
                .as_ref()
                .map_or("", |l| set.get(l.span.file).unwrap().path.as_str());
            (d.code.as_str(), file)
        })
        .collect();
    assert!(codes.contains(&("reference/unknown-field", "plan.yaml")), "{codes:?}");
    // In the test file, only its own error: a message no file declares.
    let in_test: Vec<_> = codes.iter().filter(|(_, f)| *f == "tests/t.yaml").collect();
    assert_eq!(in_test, [&("reference/unknown-message", "tests/t.yaml")], "{codes:?}");
    assert!(c.tests.is_empty(), "a test of a broken plan is not kept");
}
