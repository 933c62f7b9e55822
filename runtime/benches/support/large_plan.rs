//! Large, valid, deterministic plans for the benchmarks: a year of
//! campaigns (issue 11: 2,000 campaigns, 1,000 segments, 2,000 messages and
//! 500 scenarios — about 30,000 YAML lines — and the same with 500 or 1,000
//! campaigns).
//!
//! The plan is what a large retailer writes: campaigns on every business
//! day of 2027, each to one of 16 regions (so audiences of different
//! regions are disjoint, and the pressure check must prove it for every
//! pair in each cap's window), channels rotating per region so that the
//! practice's caps hold; event- and date-triggered scenarios that cascade
//! from email to SMS or push.
#![allow(dead_code)]

use herald_compiler::ast::values::HolidayCalendar;
use herald_compiler::calendar;
use std::fmt::Write;

pub const CONFIG: &str = "[project]\nname = \"bench\"\ntimezone = \"Europe/Paris\"\n";
const HEADER: &str = "# yaml-language-server: $schema=../../schema/herald.schema.json\n";

pub const REGIONS: [&str; 16] = [
    "IDF", "PACA", "ARA", "OCC", "NAQ", "HDF", "GES", "BRE", "NOR", "PDL", "CVL", "BFC", "COR", "GUA", "MAR", "REU",
];

#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub segments: usize,
    pub messages: usize,
    pub scenarios: usize,
    pub campaigns: usize,
}

/// The year of issue 11.
pub const YEAR: Shape = Shape {
    segments: 1000,
    messages: 2000,
    scenarios: 500,
    campaigns: 2000,
};

/// The same year with `campaigns` campaigns.
pub fn year(campaigns: usize) -> Shape {
    Shape { campaigns, ..YEAR }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ch {
    Email,
    Sms,
    Push,
}

/// Message `i`'s channel: per region, email, SMS, email, push in turn.
fn channel(i: usize) -> Ch {
    match (i / REGIONS.len()) % 4 {
        1 => Ch::Sms,
        3 => Ch::Push,
        _ => Ch::Email,
    }
}

fn consent(c: Ch) -> &'static str {
    match c {
        Ch::Email => "email_marketing",
        Ch::Sms => "sms_marketing",
        Ch::Push => "push_marketing",
    }
}

/// The business days of 2027 (no weekends, no French public holidays).
fn business_days() -> Vec<chrono::NaiveDate> {
    use chrono::Datelike;
    let mut out = Vec::new();
    let mut d = chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    while d.year() == 2027 {
        let weekend = matches!(d.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
        if !weekend && !calendar::is_holiday(HolidayCalendar::Fr, d) {
            out.push(d);
        }
        d = d.succ_opt().unwrap();
    }
    out
}

/// (relative path, contents) of every file of the plan.
pub fn files(shape: &Shape) -> Vec<(String, String)> {
    let mut out = vec![("herald.toml".to_string(), CONFIG.to_string())];
    let mut contact = String::from(HEADER);
    contact.push_str("contact:\n  fields:\n");
    contact.push_str("    email: { type: email }\n    phone: { type: phone, optional: true }\n");
    contact.push_str("    first_name: { type: string, optional: true, max_length: 20 }\n");
    let _ = writeln!(
        contact,
        "    region: {{ type: enum, values: [{}] }}",
        REGIONS.join(", ")
    );
    contact.push_str("    interests: { type: list, of: string }\n");
    contact.push_str("    last_purchase_at: { type: datetime, optional: true }\n");
    contact.push_str("    birthdate: { type: date, optional: true }\n");
    for i in 0..20 {
        let _ = writeln!(contact, "    score_{i}: {{ type: number }}");
    }
    contact.push_str("  consents:\n    email_marketing: { channel: email }\n");
    contact
        .push_str("    sms_marketing: { channel: sms, double_opt_in: true }\n    push_marketing: { channel: push }\n");
    contact.push_str("  events:\n");
    for i in 0..10 {
        let _ = writeln!(
            contact,
            "    event_{i}: {{ properties: {{ value: number, label: string }} }}"
        );
    }
    contact.push_str("programs:\n");
    for i in 0..10 {
        let _ = writeln!(
            contact,
            "  program_{i}: {{ objective: \"Objective number {i} of the benchmark plan.\" }}"
        );
    }
    out.push(("contact.yaml".into(), contact));

    // The practice's caps, written out.
    out.push((
        "policies.yaml".into(),
        format!(
            "{HEADER}policies:\n  pressure:\n    - {{ channel: email, purpose: marketing, max: 2, per: 7d }}\n    - {{ channel: sms, purpose: marketing, max: 4, per: 30d }}\n    - {{ channel: push, purpose: marketing, max: 3, per: 7d }}\n    - {{ purpose: marketing, max: 1, per: 1d }}\n    - {{ tag: tag_0, max: 3, per: 14d }}\n"
        ),
    ));

    let per_file = 100;
    for chunk in 0..shape.segments.div_ceil(per_file) {
        let mut segments = String::from(HEADER);
        segments.push_str("segments:\n");
        for i in chunk * per_file..((chunk + 1) * per_file).min(shape.segments) {
            let _ = writeln!(segments, "  segment_{i}:");
            let _ = writeln!(segments, "    description: Segment {i} of the benchmark.");
            let base = format!(
                "score_{} >= {} and last_purchase_at within {}d",
                i % 20,
                i * 3,
                30 + i % 200
            );
            if i > 0 && i % 3 == 0 {
                let _ = writeln!(segments, "    where: segment(segment_{}) and ({base})", i / 2);
            } else {
                let _ = writeln!(segments, "    where: {base} and \"shoes\" in interests");
            }
        }
        out.push((format!("segments/segments_{chunk}.yaml"), segments));
    }

    for chunk in 0..shape.messages.div_ceil(per_file) {
        let mut m = String::from(HEADER);
        m.push_str("messages:\n");
        for i in chunk * per_file..((chunk + 1) * per_file).min(shape.messages) {
            let _ = writeln!(m, "  message_{i}:");
            match channel(i) {
                Ch::Email => {
                    m.push_str("    channel: email\n    purpose: marketing\n");
                    let _ = writeln!(
                        m,
                        "    subject: \"Offer {i} for {{{{ contact.first_name | default('you') }}}}\""
                    );
                    let _ = writeln!(m, "    preheader: \"Preview text {i}\"");
                    let _ = writeln!(
                        m,
                        "    body: \"<p>Hello {{{{ contact.first_name | default('') }}}}, offer {i}.</p><a href='{{{{ unsubscribe_url }}}}'>Unsubscribe</a>\""
                    );
                }
                Ch::Sms => {
                    m.push_str("    channel: sms\n    purpose: marketing\n    sender: BenchShop\n");
                    let _ = writeln!(
                        m,
                        "    text: \"BenchShop: offer {i}, -20% with code B{i}. STOP au 36111\""
                    );
                }
                Ch::Push => {
                    m.push_str("    channel: push\n    purpose: marketing\n");
                    let _ = writeln!(m, "    title: \"Offer {i}\"");
                    let _ = writeln!(m, "    body: \"Open the app for offer {i}\"");
                }
            }
        }
        out.push((format!("messages/messages_{chunk}.yaml"), m));
    }

    // Scenarios send the messages campaigns leave: three each, the first an
    // email, the others guarded by the consent of their channel.
    let mut s = String::from(HEADER);
    s.push_str("scenarios:\n");
    let first_free = shape.campaigns.min(shape.messages);
    let mut next = first_free;
    let mut take = |want_email: bool| -> usize {
        loop {
            let i = next;
            next += 1;
            let i = if i >= shape.messages {
                (i - first_free) % shape.messages
            } else {
                i
            };
            if (channel(i) == Ch::Email) == want_email {
                return i;
            }
        }
    };
    for i in 0..shape.scenarios {
        // An email, its fallback on another channel (one solicitation for
        // the caps), and a second email after the week of the first.
        let (a, b, c) = (take(true), take(false), take(true));
        let _ = writeln!(s, "  scenario_{i}:");
        let _ = writeln!(s, "    program: program_{}", i % 10);
        if i % 10 == 9 {
            s.push_str("    trigger: { date: birthdate, offset: -7d, every: year, at: \"10:00\" }\n");
        } else {
            let _ = writeln!(
                s,
                "    trigger: {{ event: event_{}, where: event.value >= {} }}",
                i % 10,
                i % 100
            );
        }
        let _ = writeln!(
            s,
            "    audience: consent(email_marketing) and segment(segment_{})",
            i % shape.segments.max(1)
        );
        s.push_str("    reentry: after 30d\n");
        let _ = writeln!(s, "    exit_when: count(event_{}, 7d) >= 1", (i + 1) % 10);
        s.push_str("    steps:\n");
        let _ = writeln!(s, "      - send: message_{a}");
        s.push_str("      - wait: 2d\n");
        let _ = writeln!(
            s,
            "      - if: not opened(message_{a}) and consent({})",
            consent(channel(b))
        );
        s.push_str("        then:\n");
        let _ = writeln!(s, "          - send: message_{b}");
        let _ = writeln!(s, "            fallback_for: message_{a}");
        s.push_str("      - wait: 5d\n");
        let _ = writeln!(s, "      - if: consent({})", consent(channel(c)));
        s.push_str("        then:\n");
        let _ = writeln!(s, "          - send: message_{c}");
    }
    out.push(("scenarios.yaml".into(), s));

    // Campaign i: region i % 16, on business day i·B/n at 10:00, so a
    // region has a campaign every 16·B/n business days (at least 2).
    let days = business_days();
    for chunk in 0..shape.campaigns.div_ceil(per_file) {
        let mut c = String::from(HEADER);
        c.push_str("campaigns:\n");
        for i in chunk * per_file..((chunk + 1) * per_file).min(shape.campaigns) {
            let msg = i % shape.messages;
            let day = days[i * days.len() / shape.campaigns.max(1)];
            let _ = writeln!(c, "  campaign_{i}:");
            let _ = writeln!(c, "    program: program_{}", i % 10);
            let _ = writeln!(
                c,
                "    audience: segment(segment_{}) and consent({}) and region == \"{}\"",
                (i * 7) % shape.segments.max(1),
                consent(channel(msg)),
                REGIONS[i % REGIONS.len()]
            );
            let _ = writeln!(c, "    message: message_{msg}");
            let _ = writeln!(c, "    send_at: {}T10:00", day.format("%Y-%m-%d"));
            let _ = writeln!(c, "    tags: [tag_{}]", i % 7);
        }
        out.push((format!("campaigns/campaigns_{chunk}.yaml"), c));
    }
    out
}

/// The number of YAML lines of a plan.
pub fn yaml_lines(files: &[(String, String)]) -> usize {
    files
        .iter()
        .filter(|(p, _)| p.ends_with(".yaml"))
        .map(|(_, t)| t.lines().count())
        .sum()
}
