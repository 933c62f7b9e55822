//! Contacts are validated on read (max_length, E.164 phones, email syntax,
//! unique ids) and a bad row is reported by file, row, column and reason —
//! never by its value — in every output, saved plans included. An invalid
//! email or phone keeps the contact: only its sends to that address drop.

use super::*;

const MODEL: &str = "\
contact:
  fields:
    email: { type: email }
    first_name: { type: string, optional: true, max_length: 20 }
    phone: { type: phone, optional: true }
    signup_at: { type: datetime }
  consents:
    email_marketing: { channel: email }
";

const PLAN: &str = "\
policies:
  pressure:
    - { channel: email, purpose: marketing, max: 2, per: 7d }
programs:
  news:
    objective: Keep subscribers informed.
messages:
  news:
    channel: email
    purpose: marketing
    subject: \"News for {{ contact.first_name | default('you') }}\"
    preheader: \"Our news\"
    body: |
      <mjml><mj-body><mj-section><mj-column>
        <mj-text>Hello. <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></mj-text>
      </mj-column></mj-section></mj-body></mjml>
campaigns:
  news:
    program: news
    audience: consent(email_marketing)
    message: news
    send_at: 2026-12-03T10:00
";

/// Two good rows, two with an invalid address (kept) and five bad ones
/// (one with a 50 MB cell). Every value
/// that must never be printed contains `LEAK`.
fn contacts_csv() -> Vec<u8> {
    let t = "2025-01-01T00:00:00Z";
    let mut csv = format!(
        "id,email,first_name,phone,signup_at,consent_email_marketing\n\
         c1,a1@example.test,Ann,+33639980001,{t},true\n\
         c2,a2@example.test,Bob,,{t},true\n\
         c3,not-an-email-LEAK,Cy,,{t},true\n\
         c4,a4@example.test,Dee,not-a-phone-LEAK,{t},true\n\
         c5,a5@example.test,LEAK{},,{t},true\n\
         c1,dup-LEAK@example.test,Dup,,{t},true\n\
         c6,a6@example.test,Eve,,jean.dupont@LEAK.test,true\n\
         c8,a8@example.test,Fay,,{t},maybe-LEAK\n",
        "Z".repeat(96)
    )
    .into_bytes();
    csv.extend_from_slice(b"c7,a7@example.test,LEAK");
    csv.extend(std::iter::repeat_n(b'X', 50 * 1024 * 1024));
    csv.extend_from_slice(format!(",,{t},true\n").as_bytes());
    csv
}

fn dir() -> tempfile::TempDir {
    let csv = contacts_csv();
    plan(&[
        ("herald.toml", CONFIG),
        ("contact.yaml", MODEL.as_bytes()),
        ("plan.yaml", PLAN.as_bytes()),
        ("data/contacts.csv", &csv),
    ])
}

fn assert_no_leak(what: &str, text: &str) {
    assert!(text.len() < 64 * 1024, "{what}: {} bytes of output", text.len());
    for leak in ["LEAK", "ZZZZ", "not-an-email", "not-a-phone", "maybe"] {
        assert!(!text.contains(leak), "{what} shows a contact's value ({leak}):\n{text}");
    }
}

/// A plan's `{row, column, reason}` list.
fn problems(list: &serde_json::Value) -> Vec<(u64, &str, &str)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["column"].as_str().unwrap(),
                e["reason"].as_str().unwrap(),
            )
        })
        .collect()
}

#[test]
fn bad_rows_are_rejected_counted_and_never_echoed() {
    let dir = dir();
    let (code, out, err) = run(herald().args(["plan", "--format", "json"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert_no_leak("json", &format!("{out}{err}"));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &v["contacts"];
    assert_eq!(c["contacts"], 4, "{c}");
    assert_eq!(c["bad_rows"], 5, "{c}");
    assert_eq!(c["invalid_addresses"], 2, "{c}");
    assert_eq!(
        problems(&c["invalid"]),
        [
            (4, "email", "not a valid email address"),
            (5, "phone", "not an E.164 phone number (such as +33612345678)"),
        ]
    );
    assert_eq!(c["file"], "data/contacts.csv");
    assert_eq!(
        problems(&c["errors"]),
        [
            (6, "first_name", "longer than its max_length of 20 characters"),
            (
                7,
                "id",
                "duplicate id: an earlier row has the same one (the first is kept)"
            ),
            (
                8,
                "signup_at",
                "not a date and time (RFC 3339, such as 2026-11-27T10:00:00Z)"
            ),
            (9, "consent_email_marketing", "expected true or false"),
            (10, "first_name", "longer than its max_length of 20 characters"),
        ]
    );
    // Rejected rows never forecast a send; the contact with an invalid
    // email is in the audience and its email is dropped, the one with an
    // invalid phone still gets its email.
    let news = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "campaigns.news")
        .unwrap();
    assert_eq!(news["impact"]["audience"], 4, "{news}");
    assert_eq!(news["impact"]["recipients"], 3, "{news}");
    assert_eq!(news["impact"]["suppressed"]["invalid_address"], 1, "{news}");

    let (_, human, err) = run(herald().args(["plan", "--color=never"]).arg(dir.path()));
    assert_no_leak("human", &format!("{human}{err}"));
    assert!(human.contains("4 contacts read (5 rows rejected)"), "{human}");
    assert!(
        human.contains("warning: 2 contacts are kept with an invalid address"),
        "{human}"
    );
    assert!(
        human.contains("warning: invalid address: data/contacts.csv row 4, column `email`: not a valid email address"),
        "{human}"
    );
    assert!(human.contains("1 dropped for an invalid address"), "{human}");
    insta::assert_snapshot!("plan_with_rejected_rows_and_invalid_addresses", human);

    let (_, md, _) = run(herald().args(["plan", "--format", "markdown"]).arg(dir.path()));
    assert_no_leak("markdown", &md);
    assert!(md.contains("5 contact rows rejected"), "{md}");
    assert!(md.contains("2 contacts with an invalid address"), "{md}");
    assert!(md.contains("(+1 invalid address)"), "{md}");

    let saved = dir.path().join("saved.json");
    let (code, _, _) = run(herald().arg("plan").arg(dir.path()).arg("--out").arg(&saved));
    assert_eq!(code, 0);
    assert_no_leak("saved plan", &std::fs::read_to_string(&saved).unwrap());
}

#[test]
fn the_runner_drops_a_send_to_an_invalid_address_and_sends_the_others() {
    let dir = dir();
    super::run::with_file_providers(dir.path());
    let (code, _, err) = run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(herald()
        .env("HERALD_NOW", "2026-12-03T10:00:00Z")
        .args(["run", "--once", "--format", "json"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert_no_leak("run", &format!("{out}{err}"));
    let (code, out, err) = run(herald().args(["sends", "--format", "json"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert_no_leak("sends", &format!("{out}{err}"));
    let sends: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let mut by_contact: Vec<(String, String, String)> = sends
        .iter()
        .map(|s| {
            (
                s["contact_id"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    by_contact.sort();
    assert_eq!(
        by_contact,
        [
            ("c1".into(), "sent".into(), "".into()),
            ("c2".into(), "sent".into(), "".into()),
            ("c3".into(), "dropped".into(), "invalid-address".into()),
            ("c4".into(), "sent".into(), "".into()),
        ]
    );
    let emails = std::fs::read_dir(dir.path().join(".herald/outbox/email"))
        .unwrap()
        .count();
    assert_eq!(emails, 3);
}

#[test]
fn preview_of_a_rejected_contact_says_why() {
    let dir = dir();
    for (id, why) in [
        (
            "c5",
            "row 6, column `first_name`: longer than its max_length of 20 characters",
        ),
        ("c6", "row 8, column `signup_at`: not a date and time"),
    ] {
        let (code, out, err) = run(herald().args(["preview", "news", "--contact", id]).arg(dir.path()));
        assert_eq!(code, 1, "{out}");
        assert!(
            err.contains(&format!("contact `{id}` is rejected")) && err.contains(why),
            "{err}"
        );
        assert_no_leak("preview", &format!("{out}{err}"));
    }
    // A contact with an invalid address is previewed, with a warning.
    let (code, out, err) = run(herald().args(["preview", "news", "--contact", "c3"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: contact `c3` has an invalid address (`data/contacts.csv` column `email`: not a valid email address)")
            && err.contains("`invalid-address`"),
        "{err}"
    );
    assert_no_leak("preview", &format!("{out}{err}"));
    // The first of two rows with the same id is the contact.
    let (code, out, err) = run(herald().args(["preview", "news", "--contact", "c1"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("News for Ann"), "{out}");
}
