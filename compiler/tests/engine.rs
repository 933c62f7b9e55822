//! The step engine's semantics, and the forecast that drives it: what a
//! scenario does step by step, what the guards let through, and what the
//! forecast counts — each against timelines worked out by hand.

use chrono::{DateTime, TimeDelta, Utc};
use herald_compiler::ast::values::Channel;
use herald_compiler::contact::{Contact, Layout};
use herald_compiler::engine::guard::EXPIRY;
use herald_compiler::engine::{
    Action, ContactFacts, Content, Drop, Engine, Enrolment, Entry, ExitReason, Group, Origin, Previous, Progress,
    Request, Sent, Verdict, experiment,
};
use herald_compiler::eval::{History, NoHistory};
use herald_compiler::forecast::{Forecast, Forecaster};
use herald_compiler::model::Plan;
use herald_compiler::{SourceFile, SourceKind, SourceSet};

const CONFIG: &str = "[project]\nname = \"t\"\ntimezone = \"Europe/Paris\"\n";

const CONTACT: &str = r#"
contact:
  fields:
    email: { type: email, optional: true }
    phone: { type: phone, optional: true }
    birthdate: { type: date, optional: true }
    contract_start: { type: date, optional: true }
    timezone: { type: timezone, optional: true }
  consents:
    email_marketing: { channel: email }
    sms_marketing: { channel: sms }
  events:
    cart_abandoned: { properties: { cart_value: number } }
    purchase: {}
programs:
  p: { objective: "Test the engine." }
messages:
  email_a:
    channel: email
    purpose: marketing
    subject: "Offre A"
    preheader: "Une offre"
    body: '<p>A <a href="{{ unsubscribe_url }}">désinscription</a></p>'
  email_b:
    channel: email
    purpose: marketing
    subject: "Offre B"
    preheader: "Une offre"
    body: '<p>B <a href="{{ unsubscribe_url }}">désinscription</a></p>'
  sms_a:
    channel: sms
    purpose: marketing
    sender: Boutique
    text: "Boutique: offre du jour STOP au 36111"
  notice_sms:
    channel: sms
    purpose: transactional
    sender: Boutique
    text: "Boutique: votre commande est prête."
  email_promo:
    channel: email
    purpose: marketing
    tags: [promo]
    subject: "Votre panier"
    preheader: "Une offre"
    body: '<p>Panier <a href="{{ unsubscribe_url }}">désinscription</a></p>'
  sms_promo:
    channel: sms
    purpose: marketing
    tags: [promo]
    sender: Boutique
    text: "Boutique: votre panier vous attend STOP au 36111"
"#;

/// A send's verdict for a contact with no history.
fn decide(
    engine: &Engine,
    c: &Contact,
    req: &Request,
    log: &[Sent],
    suppressed: &[Channel],
    now: DateTime<Utc>,
) -> Verdict {
    let facts = ContactFacts {
        contact: c,
        event: None,
        history: &NoHistory,
    };
    engine.decide(&mut engine.cx(), &facts, req, log, suppressed, now)
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

struct Fixture {
    plan: Plan,
    layout: Layout,
}

const HEADER: &[&str] = &[
    "id",
    "email",
    "phone",
    "birthdate",
    "contract_start",
    "timezone",
    "consent_email_marketing",
    "consent_sms_marketing",
];

/// A plan for the engine. Without `policies`, no caps (`pressure: []`): these
/// tests are about steps, not the baseline caps. Errors fail the fixture,
/// except those of the codes listed in a `# check refuses: CODE` line — an
/// engine test may drive a plan `check` refuses, to see what the engine does.
fn fixture(yaml: &str) -> Fixture {
    let mut set = SourceSet::new();
    set.add(SourceFile::new("herald.toml", SourceKind::Config, CONFIG));
    set.add(SourceFile::new("contact.yaml", SourceKind::Yaml, CONTACT));
    let text = if yaml.contains("\npolicies:") {
        yaml.to_string()
    } else {
        format!("policies:\n  pressure: []\n{yaml}")
    };
    set.add(SourceFile::new("plan.yaml", SourceKind::Yaml, text));
    let c = herald_compiler::compile(&set, t("2026-11-01T00:00:00Z"), &Default::default());
    let refused: Vec<&str> = yaml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("# check refuses: "))
        .collect();
    let errors: Vec<_> = c
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && !refused.contains(&d.code.as_str()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let layout = Layout::new(&c.plan.contact, HEADER).unwrap();
    Fixture { plan: c.plan, layout }
}

/// A contact: id, email, phone, birthdate, contract start, zone, consents.
fn contact(f: &Fixture, cells: [&str; 8]) -> Contact {
    f.layout.parse_row(&cells).unwrap()
}

fn everyone(f: &Fixture, id: &str) -> Contact {
    contact(f, [id, "a@example.test", "+33612345678", "", "", "", "true", "true"])
}

/// A history given as (kind, name, at) facts.
struct Timeline(Vec<(&'static str, &'static str, DateTime<Utc>)>);

impl History for Timeline {
    fn opened(&self, message: &str, at: DateTime<Utc>) -> bool {
        self.0
            .iter()
            .any(|(k, m, t)| *k == "opened" && *m == message && *t <= at)
    }
    fn clicked(&self, message: &str, at: DateTime<Utc>) -> bool {
        self.0
            .iter()
            .any(|(k, m, t)| *k == "clicked" && *m == message && *t <= at)
    }
    fn count(&self, event: &str, since: Option<DateTime<Utc>>, at: DateTime<Utc>) -> u64 {
        self.0
            .iter()
            .filter(|(k, e, t)| *k == "event" && *e == event && *t <= at && since.is_none_or(|s| *t > s))
            .count() as u64
    }
    fn times(&self, event: &str, since: DateTime<Utc>, at: DateTime<Utc>, out: &mut Vec<DateTime<Utc>>) {
        out.extend(
            self.0
                .iter()
                .filter(|(k, e, t)| *k == "event" && *e == event && *t > since && *t <= at)
                .map(|(_, _, t)| *t),
        );
    }
}

fn sends(actions: &[Action]) -> Vec<(String, DateTime<Utc>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { at, content, .. } => Some((content.message(|_| None).to_string(), *at)),
            Action::Holdout { .. } => None,
        })
        .collect()
}

const CART: &str = r#"
scenarios:
  cart:
    program: p
    trigger: { event: cart_abandoned, where: event.cart_value >= 30 }
    audience: consent(email_marketing)
    reentry: after 7d
    exit_when: count(purchase) >= 1
    steps:
      - wait: 1h
      - send: email_a
      - wait:
          until: opened(email_a)
          timeout: 1d
          on_timeout:
            - if: consent(sms_marketing) and phone is set
              then:
                - send: sms_a
      - exit: done
"#;

#[test]
fn a_cascade_steps_through_its_waits_and_ends_at_the_first_open() {
    let f = fixture(CART);
    let engine = Engine::new(&f.plan, &f.layout);
    let mut cx = engine.cx();
    let id = engine.scenario_id("cart").unwrap();
    let c = everyone(&f, "c1");
    let entered = t("2026-11-27T09:05:00Z");

    // Not opened: email after an hour, SMS a day later, then the exit step.
    let h = Timeline(vec![]);
    let facts = ContactFacts {
        contact: &c,
        event: None,
        history: &h,
    };
    let mut e = Enrolment::new(entered, None);
    let mut out = Vec::new();
    assert_eq!(
        engine.advance(&mut cx, id, &mut e, &facts, entered, &mut out),
        Progress::Asleep {
            until: t("2026-11-27T10:05:00Z"),
            listening: true
        },
        "the wait listens for exit_when"
    );
    assert!(out.is_empty());
    let p = engine.advance(&mut cx, id, &mut e, &facts, t("2026-11-27T10:05:00Z"), &mut out);
    assert_eq!(sends(&out), [("email_a".to_string(), t("2026-11-27T10:05:00Z"))]);
    assert_eq!(
        p,
        Progress::Asleep {
            until: t("2026-11-28T10:05:00Z"),
            listening: true
        }
    );
    // A runner waking late still sends at the step's moment.
    out.clear();
    let p = engine.advance(&mut cx, id, &mut e, &facts, t("2026-11-28T18:00:00Z"), &mut out);
    assert_eq!(sends(&out), [("sms_a".to_string(), t("2026-11-28T10:05:00Z"))]);
    assert_eq!(
        p,
        Progress::Exited {
            at: t("2026-11-28T10:05:00Z"),
            reason: ExitReason::Step(Some("done".into()))
        }
    );
    assert_eq!(ExitReason::Step(Some("done".into())).code(), "exit:done");

    // Opened at noon: the wait ends then, no SMS.
    let h = Timeline(vec![("opened", "email_a", t("2026-11-27T12:00:00Z"))]);
    let facts = ContactFacts {
        contact: &c,
        event: None,
        history: &h,
    };
    let mut e = Enrolment::new(entered, None);
    let mut out = Vec::new();
    engine.advance(&mut cx, id, &mut e, &facts, t("2026-11-27T10:05:00Z"), &mut out);
    let p = engine.advance(&mut cx, id, &mut e, &facts, t("2026-11-27T12:00:00Z"), &mut out);
    assert_eq!(sends(&out), [("email_a".to_string(), t("2026-11-27T10:05:00Z"))]);
    assert_eq!(
        p,
        Progress::Exited {
            at: t("2026-11-27T12:00:00Z"),
            reason: ExitReason::Step(Some("done".into()))
        }
    );

    // An open after the timeout is too late, even seen late.
    let h = Timeline(vec![("opened", "email_a", t("2026-11-28T11:00:00Z"))]);
    let facts = ContactFacts {
        contact: &c,
        event: None,
        history: &h,
    };
    let mut e = Enrolment::new(entered, None);
    let mut out = Vec::new();
    engine.advance(&mut cx, id, &mut e, &facts, t("2026-11-28T12:00:00Z"), &mut out);
    assert_eq!(sends(&out).len(), 2, "email, then the SMS at the timeout");

    // No SMS consent: the timeout branch sends nothing and the scenario goes on.
    let c2 = contact(
        &f,
        ["c2", "b@example.test", "+33612345679", "", "", "", "true", "false"],
    );
    let facts = ContactFacts {
        contact: &c2,
        event: None,
        history: &NoHistory,
    };
    let mut e = Enrolment::new(entered, None);
    let mut out = Vec::new();
    let p = engine.advance(&mut cx, id, &mut e, &facts, t("2026-12-01T00:00:00Z"), &mut out);
    assert_eq!(sends(&out), [("email_a".to_string(), t("2026-11-27T10:05:00Z"))]);
    assert!(matches!(p, Progress::Exited { .. }));
}

#[test]
fn exit_when_ends_an_enrolment_while_it_waits() {
    let f = fixture(CART);
    let engine = Engine::new(&f.plan, &f.layout);
    let mut cx = engine.cx();
    let id = engine.scenario_id("cart").unwrap();
    let c = everyone(&f, "c1");
    let h = Timeline(vec![("event", "purchase", t("2026-11-27T09:30:00Z"))]);
    let facts = ContactFacts {
        contact: &c,
        event: None,
        history: &h,
    };
    let mut e = Enrolment::new(t("2026-11-27T09:05:00Z"), None);
    let mut out = Vec::new();
    // Advanced when the purchase arrives: out before the email.
    let p = engine.advance(&mut cx, id, &mut e, &facts, t("2026-11-27T09:30:00Z"), &mut out);
    assert_eq!(
        p,
        Progress::Exited {
            at: t("2026-11-27T09:30:00Z"),
            reason: ExitReason::ExitWhen
        }
    );
    assert!(out.is_empty());
}

#[test]
fn entry_checks_the_trigger_reentry_audience_and_exit_when() {
    let f = fixture(CART);
    let engine = Engine::new(&f.plan, &f.layout);
    let mut cx = engine.cx();
    let id = engine.scenario_id("cart").unwrap();
    let c = everyone(&f, "c1");
    let at = t("2026-11-27T09:05:00Z");
    let props = |v: f64| {
        vec![(
            "cart_value".to_string(),
            Some(herald_compiler::contact::FieldValue::Number(v)),
        )]
    };
    let big = props(80.0);
    let small = props(10.0);
    let facts = |event: &'static [(String, Option<herald_compiler::contact::FieldValue>)]| ContactFacts {
        contact: &c,
        event: Some(event),
        history: &NoHistory,
    };
    let big: &'static _ = Box::leak(big.into_boxed_slice());
    let small: &'static _ = Box::leak(small.into_boxed_slice());
    assert_eq!(engine.entry(&mut cx, id, &facts(big), None, at), Entry::Enter);
    assert_eq!(engine.entry(&mut cx, id, &facts(small), None, at), Entry::NotTriggered);
    // `reentry: after 7d`: not while in the scenario, not within 7 days.
    let prev = |days: i64, active| {
        Some(Previous {
            entered_at: at - TimeDelta::days(days),
            active,
        })
    };
    assert_eq!(
        engine.entry(&mut cx, id, &facts(big), prev(8, true), at),
        Entry::Reentry
    );
    assert_eq!(
        engine.entry(&mut cx, id, &facts(big), prev(6, false), at),
        Entry::Reentry
    );
    assert_eq!(engine.entry(&mut cx, id, &facts(big), prev(7, false), at), Entry::Enter);
    // The audience needs the email consent.
    let no_consent = contact(&f, ["c3", "c@example.test", "", "", "", "", "false", "false"]);
    let facts3 = ContactFacts {
        contact: &no_consent,
        event: Some(big),
        history: &NoHistory,
    };
    assert_eq!(engine.entry(&mut cx, id, &facts3, None, at), Entry::NotInAudience);
    // Already bought: exit_when holds at entry.
    let h = Timeline(vec![("event", "purchase", t("2026-11-01T00:00:00Z"))]);
    let facts4 = ContactFacts {
        contact: &c,
        event: Some(big),
        history: &h,
    };
    assert_eq!(engine.entry(&mut cx, id, &facts4, None, at), Entry::ExitWhen);
}

#[test]
fn a_stored_position_from_another_version_is_reported_lost() {
    let f = fixture(CART);
    let engine = Engine::new(&f.plan, &f.layout);
    let mut cx = engine.cx();
    let id = engine.scenario_id("cart").unwrap();
    let c = everyone(&f, "c1");
    let facts = ContactFacts {
        contact: &c,
        event: None,
        history: &NoHistory,
    };
    let mut e = Enrolment::new(t("2026-11-27T09:05:00Z"), None);
    e.cursor = "9/then/0".parse().unwrap();
    let p = engine.advance(&mut cx, id, &mut e, &facts, t("2026-11-28T00:00:00Z"), &mut Vec::new());
    assert!(
        matches!(
            p,
            Progress::Exited {
                reason: ExitReason::Lost,
                ..
            }
        ),
        "{p:?}"
    );
}

const BIRTHDAY: &str = r#"
scenarios:
  birthday:
    program: p
    trigger: { date: birthdate, offset: -7d, every: year, at: "10:00" }
    audience: consent(email_marketing)
    reentry: after 300d
    steps:
      - send: email_a
      - wait: 7d
      - send: email_b
  renewal:
    program: p
    trigger: { date: contract_start, offset: 1y, every: year, at: "09:00" }
    audience: consent(email_marketing)
    reentry: after 300d
    steps:
      - send: email_b
"#;

#[test]
fn waits_in_days_keep_the_local_time_across_dst() {
    let f = fixture(BIRTHDAY);
    let engine = Engine::new(&f.plan, &f.layout);
    let mut cx = engine.cx();
    let id = engine.scenario_id("birthday").unwrap();
    // Birthday on 1 November: J-7 on 25 October, the day summer time ends.
    let c = contact(&f, ["c1", "a@example.test", "", "1990-11-01", "", "", "true", "false"]);
    let facts = ContactFacts {
        contact: &c,
        event: None,
        history: &NoHistory,
    };
    let (day, at) = engine
        .next_date_trigger(id, &facts, "2026-10-01".parse().unwrap())
        .unwrap();
    assert_eq!(day.to_string(), "2026-10-25");
    assert_eq!(at, t("2026-10-25T09:00:00Z"), "10:00 CET");
    let mut e = Enrolment::new(at, None);
    let mut out = Vec::new();
    engine.advance(&mut cx, id, &mut e, &facts, t("2026-12-01T00:00:00Z"), &mut out);
    // From 10:00 on 25 October (winter time since 03:00) to 10:00 on 1 November.
    assert_eq!(
        sends(&out),
        [
            ("email_a".to_string(), t("2026-10-25T09:00:00Z")),
            ("email_b".to_string(), t("2026-11-01T09:00:00Z")),
        ]
    );
    // Entered the day before the change, at 10:00 CEST: 7 days later is 10:00 CET.
    let mut e = Enrolment::new(t("2026-10-24T08:00:00Z"), None);
    let mut out = Vec::new();
    engine.advance(&mut cx, id, &mut e, &facts, t("2026-12-01T00:00:00Z"), &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(
        sends(&out)[1].1,
        t("2026-10-31T09:00:00Z"),
        "10:00 local, 169 hours later"
    );
}

fn forecast(f: &Fixture, contacts: &[Contact], now: &str, horizon: u64) -> Forecast {
    let mut fc = Forecaster::new(&f.plan, &f.layout, t(now), horizon);
    for c in contacts {
        fc.add(c);
    }
    fc.finish()
}

#[test]
fn yearly_anniversaries_a_year_after_the_date_are_forecast() {
    let f = fixture(BIRTHDAY);
    // Contracts that started a year before days within the horizon, written
    // `1y` here; `12mo` and `365d` are checked on the engine's date function.
    let contacts: Vec<Contact> = ["2025-11-25", "2025-12-10", "2024-12-01", "2025-12-25", "2026-11-25"]
        .iter()
        .enumerate()
        .map(|(i, d)| contact(&f, [&format!("c{i}"), "a@example.test", "", "", d, "", "true", "false"]))
        .collect();
    let fc = forecast(&f, &contacts, "2026-11-20T09:00:00Z", 30);
    let renewal = &fc.scenarios["renewal"];
    // 25 Nov, 10 Dec, 1 Dec (two years on): within 30 days; 25 Dec is not;
    // a contract starting on 25 Nov 2026 renews only in 2027.
    assert_eq!(renewal.entries, Some(3), "{renewal:?}");
    assert_eq!(renewal.recipients, 3);
}

#[test]
fn the_forecast_counts_each_guard() {
    let f = fixture(
        r#"
# check refuses: timing/outside-window
policies:
  pressure:
    - { channel: email, purpose: marketing, max: 1, per: 7d }
  quiet_hours:
    - { channel: sms, days: [mon, tue, wed, thu, fri], from: "08:00", to: "20:00", holidays: FR }
    - { channel: sms, purpose: transactional, days: [mon, tue, wed, thu, fri], from: "08:00", to: "21:00" }
campaigns:
  noon:
    program: p
    audience: consent(email_marketing)
    message: email_b
    send_at: 2026-11-26T12:00
scenarios:
  birthday:
    program: p
    trigger: { date: birthdate, every: year, at: "21:30" }
    audience: consent(email_marketing)
    reentry: after 300d
    steps:
      - send: notice_sms
      - send: email_a
"#,
    );
    let c = |id: &str, email: &str, phone: &str, consent: &str| {
        contact(&f, [id, email, phone, "1990-11-26", "", "", consent, "false"])
    };
    let contacts = [
        c("ok", "a@example.test", "+33612345678", "true"),
        c("no_consent", "b@example.test", "+33612345679", "false"),
        c("no_email", "", "+33612345670", "true"),
        c("no_phone", "d@example.test", "", "true"),
    ];
    let fc = forecast(&f, &contacts, "2026-11-20T09:00:00Z", 30);
    let noon = &fc.campaigns["noon"];
    assert_eq!((noon.audience, noon.recipients, noon.suppressed.no_address), (3, 2, 1));
    let b = &fc.scenarios["birthday"];
    assert_eq!((b.audience, b.entries), (3, Some(3)));
    // The transactional SMS at 21:30 on Thursday 26 November waits for 08:00
    // on Friday, under the window written for transactional SMS (for every
    // contact: the address is checked when it is sent).
    assert_eq!(b.deferred_quiet_hours, 3, "{b:?}");
    assert_eq!(b.by_channel.get(&Channel::Sms), Some(&2));
    assert_eq!(b.suppressed.no_address, 2, "an SMS and an email");
    // `ok` and `no_phone` had the noon campaign: one marketing email a week.
    assert_eq!(b.by_channel.get(&Channel::Email), None);
    assert_eq!(b.suppressed.pressure["policies.pressure[0]"], 2);
    assert_eq!(b.recipients, 2);
}

#[test]
fn windows_without_a_purpose_never_hold_back_urgent_messages() {
    let f = fixture(
        r#"
policies:
  quiet_hours:
    - { channel: sms, days: [mon, tue, wed, thu, fri], from: "08:00", to: "20:00", holidays: FR }
scenarios:
  alert:
    program: p
    trigger: { event: purchase }
    reentry: always
    steps:
      - send: notice_sms
"#,
    );
    let engine = Engine::new(&f.plan, &f.layout);
    let id = engine.scenario_id("alert").unwrap();
    let c = everyone(&f, "c1");
    let req = |message| Request {
        origin: Origin::Scenario(id),
        message,
        due: t("2026-11-29T20:30:00Z"),
        thread: 1,
    };
    // Sunday 21:30 in Paris: a security alert goes now; a marketing SMS waits
    // for Monday 08:00.
    let sunday = t("2026-11-29T20:30:00Z");
    assert_eq!(decide(&engine, &c, &req("notice_sms"), &[], &[], sunday), Verdict::Send);
    assert_eq!(
        decide(&engine, &c, &req("sms_a"), &[], &[], sunday),
        Verdict::Defer(t("2026-11-30T07:00:00Z"))
    );
}

#[test]
fn a_fallback_is_the_same_solicitation_for_every_cap() {
    // Email, then SMS if not opened, under "one promotion per 14 days" and
    // "one marketing message a day": the cascade is one solicitation.
    let f = fixture(
        r#"
# check refuses: pressure/scenario-exceeds-cap
policies:
  pressure:
    - { tag: promo, max: 1, per: 14d }
    - { purpose: marketing, max: 1, per: 1d }
    - { channel: sms, purpose: marketing, max: 4, per: 30d }
scenarios:
  cart:
    program: p
    trigger: { date: contract_start, at: "10:00" }
    audience: consent(email_marketing) and consent(sms_marketing)
    steps:
      - send: email_promo
      - wait:
          until: opened(email_promo)
          timeout: 22h
          on_timeout:
            - send: sms_promo
              fallback_for: email_promo
      - wait: 3d
      - send: sms_promo
"#,
    );
    let c = contact(
        &f,
        [
            "c1",
            "a@example.test",
            "+33612345678",
            "",
            "2026-11-24",
            "",
            "true",
            "true",
        ],
    );
    let fc = forecast(&f, &[c], "2026-11-20T09:00:00Z", 30);
    let cart = &fc.scenarios["cart"];
    // The email (Tuesday 10:00) and its SMS fallback (Wednesday 08:00):
    // sent, one solicitation for the tag cap and the daily cap. The second
    // SMS, three days later, is a new promotion: dropped.
    assert_eq!(cart.by_channel.get(&Channel::Email), Some(&1), "{cart:?}");
    assert_eq!(cart.by_channel.get(&Channel::Sms), Some(&1), "{cart:?}");
    assert_eq!(
        cart.suppressed.pressure.get("policies.pressure[0]"),
        Some(&1),
        "{cart:?}"
    );
}

#[test]
fn quiet_hours_defer_and_expire_and_pressure_counts_the_log() {
    let f = fixture(
        r#"
policies:
  pressure:
    - { purpose: marketing, max: 1, per: 1d }
scenarios:
  s:
    program: p
    trigger: { event: purchase }
    audience: consent(email_marketing)
    reentry: after 7d
    steps:
      - send: email_a
"#,
    );
    let engine = Engine::new(&f.plan, &f.layout);
    let id = engine.scenario_id("s").unwrap();
    let c = everyone(&f, "c1");
    let req = |message, due| Request {
        origin: Origin::Scenario(id),
        message,
        due,
        thread: 1,
    };
    // Saturday 21:00 in Paris: the default SMS window defers to Monday 08:00.
    let sat = t("2026-11-28T20:00:00Z");
    assert_eq!(
        decide(&engine, &c, &req("sms_a", sat), &[], &[], sat),
        Verdict::Defer(t("2026-11-30T07:00:00Z"))
    );
    // Not for email.
    assert_eq!(decide(&engine, &c, &req("email_a", sat), &[], &[], sat), Verdict::Send);
    // Consent and address, on the data at the moment of sending.
    let withdrawn = contact(
        &f,
        ["c2", "a@example.test", "+33612345678", "", "", "", "true", "false"],
    );
    let monday = t("2026-11-30T09:00:00Z");
    assert_eq!(
        decide(&engine, &withdrawn, &req("sms_a", monday), &[], &[], monday),
        Verdict::Drop(Drop::Consent)
    );
    assert_eq!(
        decide(&engine, &withdrawn, &req("notice_sms", monday), &[], &[], monday),
        Verdict::Send,
        "transactional"
    );
    let no_phone = contact(&f, ["c3", "a@example.test", "", "", "", "", "true", "true"]);
    assert_eq!(
        decide(&engine, &no_phone, &req("notice_sms", monday), &[], &[], monday),
        Verdict::Drop(Drop::NoAddress)
    );
    // A phone that is not one drops the SMS, with its own reason; the
    // contact's email still goes.
    let bad_phone = contact(
        &f,
        ["c4", "a@example.test", "06 12 34 56 78", "", "", "", "true", "true"],
    );
    assert_eq!(
        decide(&engine, &bad_phone, &req("notice_sms", monday), &[], &[], monday),
        Verdict::Drop(Drop::InvalidAddress)
    );
    assert_eq!(Drop::InvalidAddress.code(&f.plan.policies), "invalid-address");
    assert_eq!(
        decide(&engine, &bad_phone, &req("email_a", monday), &[], &[], monday),
        Verdict::Send
    );
    // Too late: dropped.
    let late = sat + EXPIRY + TimeDelta::minutes(1);
    assert_eq!(
        decide(&engine, &c, &req("email_a", sat), &[], &[], late),
        Verdict::Drop(Drop::Expired)
    );
    // One marketing message a day: the log decides.
    let msg = &f.plan.messages["email_a"];
    let earlier = |h| Sent {
        at: sat - TimeDelta::hours(h),
        what: engine.solicitation(Origin::Scenario(id), msg),
        thread: 100 + h as u64,
    };
    assert_eq!(
        decide(&engine, &c, &req("email_a", sat), &[earlier(23)], &[], sat),
        Verdict::Drop(Drop::Pressure(0))
    );
    assert_eq!(
        decide(&engine, &c, &req("email_a", sat), &[earlier(24)], &[], sat),
        Verdict::Send,
        "half-open windows: exactly a day before is out"
    );
    // Suppressed channels (bounces, complaints).
    assert_eq!(
        decide(&engine, &c, &req("email_a", sat), &[], &[Channel::Email], sat),
        Verdict::Drop(Drop::Suppressed)
    );
    // A send of the same solicitation (the one a fallback stands in for)
    // does not count against it: a solicitation counts once.
    let same = Sent {
        thread: 1,
        ..earlier(23)
    };
    assert_eq!(
        decide(&engine, &c, &req("email_a", sat), &[same], &[], sat),
        Verdict::Send
    );
    // Two sends of one other solicitation count once.
    let other = |h| Sent {
        thread: 7,
        ..earlier(h)
    };
    let two = Request {
        origin: Origin::Scenario(id),
        message: "email_a",
        due: sat,
        thread: 1,
    };
    assert_eq!(
        decide(&engine, &c, &two, &[other(2), other(3)], &[], sat),
        Verdict::Drop(Drop::Pressure(0))
    );
    assert_eq!(
        Drop::Pressure(0).code(&f.plan.policies),
        "pressure:policies.pressure[0]"
    );
}

#[test]
fn experiment_groups_are_the_same_in_the_engine_and_the_forecast() {
    let f = fixture(
        r#"
campaigns:
  ab:
    program: p
    audience: consent(email_marketing)
    experiment:
      variants:
        - { message: email_a, split: 50 }
        - { message: email_b, split: 50 }
      holdout: 10
      test_size: 40
      metric: click
      decide_after: 24h
      min_sample: 10
    send_at: 2026-11-27T10:00
"#,
    );
    let contacts: Vec<Contact> = (0..2000).map(|i| everyone(&f, &format!("c{i}"))).collect();
    let fc = forecast(&f, &contacts, "2026-11-20T09:00:00Z", 30);
    let x = fc.campaigns["ab"].experiment.clone().unwrap();
    let e = match &f.plan.campaigns["ab"].delivery {
        herald_compiler::model::Delivery::Experiment(e) => e,
        _ => unreachable!(),
    };
    let (mut holdout, mut a, mut rest) = (0, 0, 0);
    for c in &contacts {
        match experiment::assign(e, &c.id, "campaigns.ab") {
            Group::Holdout => holdout += 1,
            Group::Test("email_a") => a += 1,
            Group::Test(_) => {}
            Group::Rest => rest += 1,
        }
    }
    assert_eq!((x.holdout, x.variants["email_a"], x.rest), (holdout, a, rest));
    assert!((150..250).contains(&holdout), "{holdout}");
    // The rest gets the winner a day after the test, so the test group and
    // the rest are both sent.
    assert_eq!(fc.campaigns["ab"].recipients, 2000 - holdout);
    assert_eq!(fc.campaigns["ab"].audience, 2000);
    let _ = Content::Winner(e);
}

#[test]
fn advance_traced_tells_every_step_reached_and_every_way_taken() {
    use herald_compiler::engine::{Passage, Way};
    let f = fixture(CART);
    let engine = Engine::new(&f.plan, &f.layout);
    let mut cx = engine.cx();
    let id = engine.scenario_id("cart").unwrap();
    let c = everyone(&f, "c1");
    let facts = ContactFacts {
        contact: &c,
        event: None,
        history: &NoHistory,
    };
    let mut e = Enrolment::new(t("2026-11-27T09:05:00Z"), None);
    let mut seen = Vec::new();
    let p = engine.advance_traced(
        &mut cx,
        id,
        &mut e,
        &facts,
        t("2026-12-01T00:00:00Z"),
        &mut Vec::new(),
        &mut |p| {
            seen.push(match p {
                Passage::Reached(c) => c.to_string(),
                Passage::Took(c, w) => format!("{c} {w:?}"),
            })
        },
    );
    assert!(matches!(p, Progress::Exited { .. }));
    // Not opened: the timeout, then the `if` holds (SMS consent and a phone).
    assert_eq!(
        seen,
        [
            "0",
            "1",
            "2",
            "2 TimedOut",
            "2/timeout/0",
            "2/timeout/0 Then",
            "2/timeout/0/then/0",
            "3"
        ]
    );
    assert_eq!(format!("{:?}", Way::Met), "Met");
}

#[test]
fn policies_suppress_drops_marketing_sends_only() {
    // `contract_start` stands for a "paused until" date here.
    let f = fixture(
        r#"
policies:
  suppress: contract_start > now
campaigns:
  promo:
    program: p
    audience: consent(email_marketing)
    message: email_a
    send_at: 2026-11-27T10:00
scenarios:
  s:
    program: p
    trigger: { event: purchase }
    audience: consent(email_marketing) and consent(sms_marketing)
    steps:
      - send: email_a
"#,
    );
    let engine = Engine::new(&f.plan, &f.layout);
    assert!(!engine.reads_history());
    let id = engine.scenario_id("s").unwrap();
    let req = |message, due| Request {
        origin: Origin::Scenario(id),
        message,
        due,
        thread: 0,
    };
    let monday = t("2026-11-30T09:00:00Z");
    let paused = contact(
        &f,
        [
            "c1",
            "a@example.test",
            "+33612345678",
            "",
            "2026-12-15",
            "",
            "true",
            "true",
        ],
    );
    assert_eq!(
        decide(&engine, &paused, &req("email_a", monday), &[], &[], monday),
        Verdict::Drop(Drop::SuppressedByPolicy)
    );
    assert_eq!(Drop::SuppressedByPolicy.code(&f.plan.policies), "suppressed-by-policy");
    // Transactional messages still go.
    assert_eq!(
        decide(&engine, &paused, &req("notice_sms", monday), &[], &[], monday),
        Verdict::Send
    );
    // The pause is over on 15 December: `now` is the moment of the send.
    let later = t("2026-12-16T09:00:00Z");
    assert_eq!(
        decide(&engine, &paused, &req("email_a", later), &[], &[], later),
        Verdict::Send
    );
    // `plan` counts it.
    let active = everyone(&f, "c2");
    let fc = forecast(&f, &[paused, active], "2026-11-20T09:00:00Z", 30);
    let promo = &fc.campaigns["promo"];
    assert_eq!((promo.audience, promo.recipients, promo.suppressed.policy), (2, 1, 1));
}

#[test]
fn consent_topics_decide_marketing_sends() {
    let yaml = r#"
contact:
  fields:
    email: { type: email }
  consents:
    email_tips: { channel: email, topics: [tips] }
    email_offers: { channel: email, topics: [offers] }
    email_all: { channel: email }
programs:
  p: { objective: "Topics." }
messages:
  tip:
    channel: email
    purpose: marketing
    topic: tips
    subject: "Astuce"
    preheader: "Une astuce"
    body: '<p>A <a href="{{ unsubscribe_url }}">désinscription</a></p>'
  offer:
    channel: email
    purpose: marketing
    topic: offers
    subject: "Offre"
    preheader: "Une offre"
    body: '<p>B <a href="{{ unsubscribe_url }}">désinscription</a></p>'
  news:
    channel: email
    purpose: marketing
    subject: "Nouveautés"
    preheader: "Nouveau"
    body: '<p>C <a href="{{ unsubscribe_url }}">désinscription</a></p>'
campaigns:
  c:
    program: p
    audience: consent(email_all) or consent(email_offers)
    message: offer
    send_at: 2026-11-27T10:00
"#;
    let mut set = SourceSet::new();
    set.add(SourceFile::new("herald.toml", SourceKind::Config, CONFIG));
    set.add(SourceFile::new("plan.yaml", SourceKind::Yaml, yaml));
    let c = herald_compiler::compile(&set, t("2026-11-01T00:00:00Z"), &Default::default());
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let header = [
        "id",
        "email",
        "consent_email_tips",
        "consent_email_offers",
        "consent_email_all",
    ];
    let layout = Layout::new(&c.plan.contact, &header).unwrap();
    let engine = Engine::new(&c.plan, &layout);
    let origin = Origin::Campaign(engine.campaign_id("c").unwrap());
    let at = t("2026-11-27T09:00:00Z");
    let verdict = |row: [&str; 5], message| {
        let contact = layout.parse_row(&row).unwrap();
        let req = Request {
            origin,
            message,
            due: at,
            thread: 0,
        };
        decide(&engine, &contact, &req, &[], &[], at)
    };
    let tips_only = ["t", "t@example.test", "true", "false", "false"];
    assert_eq!(verdict(tips_only, "tip"), Verdict::Send);
    assert_eq!(
        verdict(tips_only, "offer"),
        Verdict::Drop(Drop::Consent),
        "tips do not cover offers"
    );
    assert_eq!(
        verdict(tips_only, "news"),
        Verdict::Drop(Drop::Consent),
        "no topic: a consent without topics"
    );
    let all = ["a", "a@example.test", "false", "false", "true"];
    for m in ["tip", "offer", "news"] {
        assert_eq!(verdict(all, m), Verdict::Send, "{m}");
    }
}

const BROWSE: &str = r#"
scenarios:
  browse:
    program: p
    trigger: { event: cart_abandoned }
    audience: consent(email_marketing)
    reentry: after 2d
    exit_when: count(purchase) >= 1
    steps:
      - send: email_a
      - wait:
          until: opened(email_a)
          timeout: 5d
          on_timeout:
            - send: email_b
  valued:
    program: p
    trigger: { event: cart_abandoned, where: event.cart_value >= 30 }
    audience: consent(email_marketing)
    steps:
      - send: email_a
"#;

#[test]
fn past_trigger_events_are_replayed_through_the_entry_rule() {
    // Issue 11 item 6: the forecast replays a contact's past trigger events
    // to know how often an event-triggered scenario is entered.
    let f = fixture(BROWSE);
    let c = everyone(&f, "c1");
    let day = |d: u32| t(&format!("2026-10-{d:02}T10:00:00Z"));
    let h = Timeline(vec![
        // Before the replay starts: not offered.
        ("event", "cart_abandoned", t("2026-09-01T10:00:00Z")),
        ("event", "cart_abandoned", day(1)),
        // Within 2 days of the entry: re-entry refuses.
        ("event", "cart_abandoned", day(2)),
        // Past 2 days, but still waiting for the open (5 days): refused.
        ("event", "cart_abandoned", day(4)),
        // The enrolment ended on the 6th: entered again.
        ("event", "cart_abandoned", day(8)),
        ("event", "purchase", day(9)),
        // Bought since: `exit_when` holds at the event, no entry.
        ("event", "cart_abandoned", day(20)),
    ]);
    let now = t("2026-11-01T00:00:00Z");
    let mut fc = Forecaster::new(&f.plan, &f.layout, now, 30);
    fc.replay_triggers_since(t("2026-09-15T00:00:00Z"));
    fc.add_with_history(&c, &h);
    let no_consent = contact(&f, ["c2", "b@example.test", "", "", "", "", "false", "false"]);
    fc.add_with_history(&no_consent, &h);
    let out = fc.finish();
    assert_eq!(
        out.scenarios["browse"].history_entries,
        Some(2),
        "{:?}",
        out.scenarios["browse"]
    );
    // A trigger reading the event's properties cannot be replayed.
    assert_eq!(out.scenarios["valued"].history_entries, None);
    // Without a replay start, nothing is estimated.
    let out = forecast(&f, &[c], "2026-11-01T00:00:00Z", 30);
    assert_eq!(out.scenarios["browse"].history_entries, None);
}
