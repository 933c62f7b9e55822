//! `herald plan` / `apply` / `state` / `force-unlock`, on copies of
//! the examples, with real processes and a real SQLite state.

use super::*;
use std::process::Stdio;

fn plan_json(dir: &Path) -> serde_json::Value {
    let (code, out, err) = run(herald().args(["plan", "--format", "json"]).arg(dir));
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn change<'a>(plan: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .unwrap()
}

#[test]
fn first_plan_creates_everything_and_forecasts_without_personal_data() {
    let dir = copy_example("boutique-mode");
    let (code, out, _) = run(herald().args(["plan", "--format", "json"]).arg(dir.path()));
    assert_eq!(code, 0);
    assert!(
        !out.contains("@example.test") && !out.contains("+336399"),
        "no emails or phone numbers in a plan"
    );
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["format_version"], "1.1");
    assert_eq!(plan["prior_state"]["lineage"], serde_json::Value::Null);
    assert_eq!(plan["contacts"]["contacts"], 2000);
    assert_eq!(plan["summary"]["delete"], 0);
    assert!(plan["summary"]["create"].as_u64().unwrap() > 30);
    let bf = change(&plan, "campaigns.black_friday_sms");
    assert_eq!(bf["actions"], serde_json::json!(["create"]));
    let impact = &bf["impact"];
    assert_eq!(impact["recipients"], impact["by_channel"]["sms"]);
    assert_eq!(impact["sms_segments"], impact["recipients"], "one segment each");
    let expected_cost = impact["sms_segments"].as_f64().unwrap() * 0.045;
    assert!((impact["cost"].as_f64().unwrap() - expected_cost).abs() < 0.01);
    let ab = &change(&plan, "campaigns.black_friday_email")["impact"]["experiment"];
    assert!(ab["holdout"].as_u64().unwrap() > 0 && ab["rest"].as_u64().unwrap() > 0);
    // Deterministic: the same inputs give the same bytes.
    let (_, again, _) = run(herald().args(["plan", "--format", "json"]).arg(dir.path()));
    assert_eq!(out, again);
}

#[test]
fn detailed_exit_codes() {
    let dir = copy_example("garage-services");
    assert_eq!(
        run(herald().args(["plan", "--detailed-exitcode"]).arg(dir.path())).0,
        2,
        "changes"
    );
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    assert_eq!(
        run(herald().args(["plan", "--detailed-exitcode"]).arg(dir.path())).0,
        0,
        "no changes"
    );
    // A usage error is 1 under --detailed-exitcode (2 would read as "changes").
    assert_eq!(
        run(herald()
            .args(["plan", "--detailed-exitcode", "--frobnicate"])
            .arg(dir.path()))
        .0,
        1
    );
    // A plan with errors is 1.
    edit(
        &dir.path().join("scenarios.yaml"),
        "send: car_ready_sms",
        "send: car_ready_smss",
    );
    assert_eq!(run(herald().args(["plan", "--detailed-exitcode"]).arg(dir.path())).0, 1);
}

#[test]
fn saved_plan_applies_once_then_is_stale() {
    let dir = copy_example("saas-b2b");
    let file = dir.path().join("plan.json");
    let (code, _, err) = run(herald().args(["plan", "--out"]).arg(&file).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(herald().arg("apply").arg(&file).arg("--dir").arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Apply complete!") && out.contains("State serial 1"),
        "{out}"
    );
    let (code, _, err) = run(herald().arg("apply").arg(&file));
    assert_eq!(code, 1);
    assert!(
        err.contains("the state changed since") && err.contains("--out"),
        "{err}"
    );
    // State listing.
    let (code, out, _) = run(herald().args(["state", "list"]).arg(dir.path()));
    assert_eq!(code, 0);
    assert!(
        out.contains("serial 1") && out.contains("scenarios.trial_onboarding  v1"),
        "{out}"
    );
    let (code, out, _) = run(herald()
        .args(["state", "show", "campaigns.december_newsletter"])
        .arg(dir.path()));
    assert_eq!(code, 0);
    assert!(
        out.contains("\"audience\": \"consent(product_updates) and segment(paying)\""),
        "{out}"
    );
}

#[test]
fn a_plan_is_refused_when_sources_changed_or_the_file_was_edited() {
    let dir = copy_example("saas-b2b");
    let file = dir.path().join("plan.json");
    run(herald().args(["plan", "--out"]).arg(&file).arg(dir.path()));
    edit(&file, "\"project\": \"saas-b2b\"", "\"project\": \"tampered\"");
    let (code, _, err) = run(herald().arg("apply").arg(&file).arg("--dir").arg(dir.path()));
    assert_eq!(code, 1);
    assert!(err.contains("was modified"), "{err}");
    run(herald().args(["plan", "--out"]).arg(&file).arg(dir.path()));
    edit(&dir.path().join("flows.yaml"), "2026-12-08T10:00", "2026-12-09T10:00");
    let (code, _, err) = run(herald().arg("apply").arg(&file).arg("--dir").arg(dir.path()));
    assert_eq!(code, 1);
    assert!(err.contains("changed since"), "{err}");
}

#[test]
fn updates_replacements_and_deletions() {
    let dir = copy_example("boutique-mode");
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    edit(
        &dir.path().join("segments.yaml"),
        "total_spent >= 1000",
        "total_spent >= 800",
    );
    edit(
        &dir.path().join("scenarios.yaml"),
        "      - wait: 3d\n      - send: welcome_discover",
        "      - wait: 4d\n      - send: welcome_discover",
    );
    let campaigns = dir.path().join("campaigns.yaml");
    let text = std::fs::read_to_string(&campaigns).unwrap();
    let start = text.find("  idf_shoes_drop:").unwrap();
    let end = text.find("  black_friday_email:").unwrap();
    std::fs::write(&campaigns, format!("{}{}", &text[..start], &text[end..])).unwrap();
    // A setting too: deployed with the objects, named by section.
    let config = dir.path().join("herald.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n[run]\nworkers = 8\n")).unwrap();
    let plan = plan_json(dir.path());
    assert_eq!(plan["summary"]["settings"], serde_json::json!(["run"]));
    let vip = change(&plan, "segments.vip");
    assert_eq!(vip["actions"], serde_json::json!(["update"]));
    assert_eq!(
        vip["fields"]["condition"]["before"],
        "loyalty_tier == \"gold\" or total_spent >= 1000"
    );
    assert_eq!(
        vip["fields"]["condition"]["after"],
        "loyalty_tier == \"gold\" or total_spent >= 800"
    );
    let welcome = change(&plan, "scenarios.welcome_series");
    assert_eq!(welcome["actions"], serde_json::json!(["create", "delete"]));
    assert_eq!(welcome["version_after"], 2);
    assert_eq!(welcome["in_flight"], 0);
    assert_eq!(
        change(&plan, "campaigns.idf_shoes_drop")["actions"],
        serde_json::json!(["delete"])
    );
    let (_, human, _) = run(herald().args(["plan", "--color=never"]).arg(dir.path()));
    let human = human.split("Forecast on").next().unwrap().to_string();
    insta::assert_snapshot!("plan_human_changes", human);
    let (_, md, _) = run(herald().args(["plan", "--format", "markdown"]).arg(dir.path()));
    assert!(md.starts_with("<!-- herald:plan project=boutique-mode -->"));
    let warning = md.find("[!WARNING]").unwrap();
    let table = md.find("| Action |").unwrap();
    assert!(warning < table, "deletions come first");
    assert!(md.contains("**`campaigns.idf_shoes_drop`** will be deleted"));
    assert!(md.contains("2 to delete, settings to update (run)**"), "{md}");
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    let (_, out, _) = run(herald()
        .args(["state", "show", "scenarios.welcome_series"])
        .arg(dir.path()));
    assert!(
        out.contains("version 2:") && out.contains("version 1:") && out.contains("(retired)"),
        "{out}"
    );
}

#[test]
fn apply_without_a_terminal_refuses_to_ask() {
    let dir = copy_example("garage-services");
    let (code, _, err) = run(herald().args(["apply", "--dir"]).arg(dir.path()).stdin(Stdio::null()));
    assert_eq!(code, 1);
    assert!(err.contains("refusing to ask"), "{err}");
    assert!(!dir.path().join(".herald/state.db").exists(), "nothing was written");
}

#[test]
fn guards_refuse_an_apply() {
    let dir = copy_example("boutique-mode");
    edit(&dir.path().join("policies.yaml"), "max_cost: 2500", "max_cost: 0.5");
    let (code, _, err) = run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path()));
    assert_eq!(code, 1);
    assert!(
        err.contains("refused by a guard") && err.contains("guard/max-cost"),
        "{err}"
    );
}

#[test]
fn bad_contact_rows_are_reported_with_their_row_and_column() {
    let dir = copy_example("garage-services");
    let csv = dir.path().join("data/contacts.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("c9999999,,,Dupont,not-a-date,12,+33639980000,AB-123-CD,Clio,lyon_7,true,,false,\n");
    std::fs::write(&csv, text).unwrap();
    let plan = plan_json(dir.path());
    assert_eq!(plan["contacts"]["bad_rows"], 1);
    assert_eq!(plan["contacts"]["contacts"], 800);
    let e = &plan["contacts"]["errors"][0];
    assert_eq!(
        e,
        &serde_json::json!({ "row": 802, "column": "last_visit_at", "reason": "not a date (YYYY-MM-DD)" })
    );
    assert!(!plan.to_string().contains("not-a-date"), "the value is never shown");
}

#[test]
fn sqlite_crm_gives_the_same_forecast_as_csv() {
    let dir = copy_example("garage-services");
    let csv_plan = plan_json(dir.path());
    // Copy the CSV into an SQLite table.
    let db = dir.path().join("data/crm.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut reader = csv::Reader::from_path(dir.path().join("data/contacts.csv")).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    conn.execute_batch(&format!(
        "CREATE TABLE people ({})",
        headers
            .iter()
            .map(|h| format!("\"{h}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .unwrap();
    let insert = format!("INSERT INTO people VALUES ({})", vec!["?"; headers.len()].join(", "));
    for r in reader.records() {
        let r = r.unwrap();
        let values: Vec<Option<&str>> = r.iter().map(|v| if v.is_empty() { None } else { Some(v) }).collect();
        conn.execute(&insert, rusqlite::params_from_iter(values)).unwrap();
    }
    drop(conn);
    edit(
        &dir.path().join("herald.toml"),
        "kind = \"csv\"\npath = \"data/contacts.csv\"",
        "kind = \"sqlite\"\npath = \"data/crm.db\"\ntable = \"people\"",
    );
    let sqlite_plan = plan_json(dir.path());
    for c in csv_plan["changes"].as_array().unwrap() {
        if c.get("impact").is_some() {
            assert_eq!(
                c["impact"],
                change(&sqlite_plan, c["address"].as_str().unwrap())["impact"],
                "{}",
                c["address"]
            );
        }
    }
}
#[test]
fn an_experiment_below_its_minimum_sample_is_an_error_of_plan() {
    // `experiment/sample-too-small` needs the real contacts: only `plan` can tell.
    let dir = copy_example("boutique-mode");
    edit(&dir.path().join("campaigns.yaml"), "min_sample: 50", "min_sample: 5000");
    let (code, out, _) = run(herald().args(["plan", "--color=never"]).arg(dir.path()));
    assert_eq!(code, 1, "{out}");
    insta::assert_snapshot!("experiment_sample_too_small", out);
    assert_eq!(
        run(herald().args(["check"]).arg(dir.path())).0,
        0,
        "check cannot see it"
    );
}

#[test]
fn policies_suppress_is_counted_by_plan() {
    let dir = copy_example("boutique-mode");
    let before = plan_json(dir.path());
    let bf = |p: &serde_json::Value| change(p, "campaigns.black_friday_email")["impact"].clone();
    let was = bf(&before);
    assert_eq!(was["suppressed"].get("policy"), None, "omitted when 0");
    edit(
        &dir.path().join("policies.yaml"),
        "  sms: { max_segments: 1 }",
        "  sms: { max_segments: 1 }\n  suppress: region == \"PACA\"",
    );
    let after = plan_json(dir.path());
    let now = bf(&after);
    let policy = now["suppressed"]["policy"].as_u64().unwrap();
    assert!(policy > 0, "{now:#}");
    let (now_n, was_n) = (now["recipients"].as_u64().unwrap(), was["recipients"].as_u64().unwrap());
    // Every send to PACA went out before (or hit a cap that it no longer reaches).
    assert!(
        now_n < was_n && now_n + policy >= was_n,
        "{now_n} + {policy} vs {was_n}"
    );
    let (code, text, _) = run(herald().arg("plan").arg(dir.path()));
    assert_eq!(code, 0);
    assert!(text.contains("suppressed by policies.suppress"), "{text}");
}

#[test]
fn the_forecast_names_what_depends_on_the_missing_event_history() {
    // Issue 11 item 7: without an event history, `count()` is 0 and
    // `opened()` false for everyone; the plan says which objects that changes.
    let dir = copy_example("boutique-mode");
    let (code, out, err) = run(herald().args(["plan", "--format", "json"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = plan["contacts"]["without_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(names.contains(&"scenarios.welcome_series (exit_when)"), "{names:?}");
    assert!(
        names.contains(&"scenarios.cart_abandonment (exit_when, steps)"),
        "{names:?}"
    );
    assert!(
        names.iter().all(|n| !n.starts_with("campaigns.black_friday_email")),
        "{names:?}"
    );
    let (code, out, _) = run(herald().arg("plan").arg(dir.path()));
    assert_eq!(code, 0);
    assert!(
        out.contains("note: no event history is read") && out.contains("scenarios.cart_abandonment (exit_when, steps)"),
        "{out}"
    );
}

/// Contacts `c0000001`..`c0000060` of boutique-mode, with a purchase
/// history whose support for `count(purchase, 365d) >= 2` (on 2026-12-10)
/// is known by construction; plus rows the reader must reject.
fn write_purchase_history(path: &Path) -> (Vec<String>, Vec<String>) {
    let mut text = String::from("contact_id,event,at,amount\n");
    let (mut supported, mut bought) = (Vec::new(), Vec::new());
    for i in 1..=60u32 {
        let id = format!("c{i:07}");
        let rows: &[(&str, &str)] = match i % 4 {
            // Two purchases within the year (one as a local time in Paris).
            0 => &[("purchase", "2026-01-15T10:00:00Z"), ("purchase", "2026-11-01 18:30")],
            // One within the year, one before it: not enough.
            1 => &[
                ("purchase", "2026-03-01T10:00:00Z"),
                ("purchase", "2025-06-01T10:00:00Z"),
            ],
            // Three within the year, and a signup.
            2 => &[
                ("signup", "2025-01-01T10:00:00Z"),
                ("purchase", "2026-02-01"),
                ("purchase", "2026-05-01T10:00:00+02:00"),
                ("purchase", "2026-11-19T10:00:00Z"),
            ],
            // Other events only.
            _ => &[
                ("signup", "2026-02-01T10:00:00Z"),
                ("cart_abandoned", "2026-02-02T10:00:00Z"),
            ],
        };
        if i % 4 == 0 || i % 4 == 2 {
            supported.push(id.clone());
        }
        if i % 4 != 3 {
            bought.push(id.clone());
        }
        for (event, at) in rows {
            text.push_str(&format!("{id},{event},{at},12.5\n"));
        }
    }
    // A contact the CRM does not have, and rows that are rejected: an event
    // the contact model does not declare, a time that is no time, a future one.
    text.push_str("c9999999,purchase,2026-01-01T00:00:00Z,1\n");
    text.push_str("c0000001,refund,2026-01-01T00:00:00Z,1\n");
    text.push_str("c0000001,purchase,last tuesday,1\n");
    text.push_str("c0000001,purchase,2027-01-01T00:00:00Z,1\n");
    std::fs::write(path, text).unwrap();
    (supported, bought)
}

/// The ids of boutique-mode's contacts with an email consent, read by hand.
pub fn with_email_consent(dir: &Path) -> std::collections::BTreeSet<String> {
    let mut reader = csv::Reader::from_path(dir.join("data/contacts.csv")).unwrap();
    let col = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "consent_email_marketing")
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[col] == "true")
        .map(|r| r[0].to_string())
        .collect()
}

#[test]
fn the_forecast_reads_the_event_history_of_the_crm() {
    // Issue 11 item 7: `count(purchase, 365d) >= 2` forecasts exactly the
    // contacts the history supports, counted by hand.
    let dir = copy_example("boutique-mode");
    let (supported, bought) = write_purchase_history(&dir.path().join("data/events.csv"));
    let consented = with_email_consent(dir.path());
    let hand = |ids: &[String]| ids.iter().filter(|id| consented.contains(*id)).count() as u64;
    let supported = hand(&supported);
    assert!(supported > 5 && supported < 30, "{supported}");
    edit(
        &dir.path().join("herald.toml"),
        "path = \"data/contacts.csv\"",
        "path = \"data/contacts.csv\"\nevents = \"data/events.csv\"",
    );
    let campaigns = "campaigns:\n";
    edit(
        &dir.path().join("campaigns.yaml"),
        campaigns,
        "campaigns:\n  loyal_thanks:\n    program: promotions\n    audience: count(purchase, 365d) >= 2 and consent(email_marketing)\n    message: vip_early_access\n    send_at: 2026-12-10T10:00\n  never_bought:\n    program: promotions\n    audience: count(purchase) == 0 and consent(email_marketing)\n    message: vip_early_access\n    send_at: 2026-12-10T10:00\n",
    );
    let plan = plan_json(dir.path());
    assert_eq!(plan["contacts"]["bad_rows"], 0, "{:#}", plan["contacts"]);
    assert_eq!(change(&plan, "campaigns.loyal_thanks")["impact"]["audience"], supported);
    // Who bought something, counted from the beginning of the history.
    assert_eq!(
        change(&plan, "campaigns.never_bought")["impact"]["audience"],
        consented.len() as u64 - hand(&bought)
    );
    let events = &plan["contacts"]["events"];
    assert_eq!(events["file"], "data/events.csv");
    assert_eq!(events["events"], 60 / 4 * (2 + 2 + 4 + 2) + 1);
    assert_eq!(events["contacts"], 61);
    assert_eq!(events["bad_rows"], 3);
    let rejected: Vec<String> = events["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["row"],
                e["column"].as_str().unwrap(),
                e["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(rejected.len(), 3);
    assert!(rejected[0].starts_with("153 event not one of "), "{rejected:?}");
    assert!(rejected[1].starts_with("154 at not a date and time"), "{rejected:?}");
    assert_eq!(rejected[2], "155 at after now: a history holds past events");
    // What the history covers is no longer listed; engagement still is.
    let without: Vec<&str> = plan["contacts"]["without_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        !without.iter().any(|n| n.starts_with("campaigns.loyal_thanks")),
        "{without:?}"
    );
    assert!(
        !without.iter().any(|n| n.starts_with("scenarios.welcome_series")),
        "{without:?}"
    );
    assert!(without.contains(&"scenarios.cart_abandonment (steps)"), "{without:?}");

    let (code, out, err) = run(herald().arg("plan").arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("151 events of 61 contacts read from data/events.csv (3 rows rejected)."),
        "{out}"
    );
    assert!(
        out.contains("warning: rejected event: data/events.csv row 154, column `at`: not a date and time"),
        "{out}"
    );
    assert!(!out.contains("last tuesday") && !out.contains("refund"), "{out}");
    assert!(!out.contains("no event history is read"), "{out}");
    assert!(out.contains("note: no engagement history is read"), "{out}");
}

#[test]
fn an_sqlite_crm_reads_its_event_history_from_a_table() {
    let dir = copy_example("boutique-mode");
    let csv = dir.path().join("data/events.csv");
    let (supported, _) = write_purchase_history(&csv);
    let consented = with_email_consent(dir.path());
    let supported = supported.iter().filter(|id| consented.contains(*id)).count() as u64;
    let db = dir.path().join("data/crm.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    // The contacts and their history in two tables of the CRM's file.
    let mut reader = csv::Reader::from_path(dir.path().join("data/contacts.csv")).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let cols: Vec<String> = headers.iter().map(|h| format!("\"{h}\"")).collect();
    conn.execute_batch(&format!(
        "CREATE TABLE contacts ({}); CREATE TABLE events (contact_id, event, at, amount)",
        cols.join(", ")
    ))
    .unwrap();
    let insert = format!("INSERT INTO contacts VALUES ({})", vec!["?"; headers.len()].join(", "));
    for r in reader.records() {
        let r = r.unwrap();
        let values: Vec<Option<&str>> = r.iter().map(|v| if v.is_empty() { None } else { Some(v) }).collect();
        conn.execute(&insert, rusqlite::params_from_iter(values)).unwrap();
    }
    for r in csv::Reader::from_path(&csv).unwrap().records() {
        let r = r.unwrap();
        conn.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?)",
            rusqlite::params![&r[0], &r[1], &r[2], 12.5],
        )
        .unwrap();
    }
    drop(conn);
    edit(
        &dir.path().join("herald.toml"),
        "kind = \"csv\"\npath = \"data/contacts.csv\"",
        "kind = \"sqlite\"\npath = \"data/crm.db\"\nevents_table = \"events\"",
    );
    edit(
        &dir.path().join("campaigns.yaml"),
        "campaigns:\n",
        "campaigns:\n  loyal_thanks:\n    program: promotions\n    audience: count(purchase, 365d) >= 2 and consent(email_marketing)\n    message: vip_early_access\n    send_at: 2026-12-10T10:00\n",
    );
    let plan = plan_json(dir.path());
    assert_eq!(change(&plan, "campaigns.loyal_thanks")["impact"]["audience"], supported);
    let events = &plan["contacts"]["events"];
    assert_eq!(events["file"], "data/crm.db#events");
    assert_eq!(
        (events["events"].as_u64(), events["bad_rows"].as_u64()),
        (Some(151), Some(3))
    );
    // Rows of a table are counted from 1.
    assert_eq!(events["errors"][0]["row"], 152);
}

#[test]
fn an_event_history_that_cannot_be_read_stops_the_plan_with_the_reason() {
    let dir = copy_example("boutique-mode");
    let toml = dir.path().join("herald.toml");
    edit(
        &toml,
        "path = \"data/contacts.csv\"",
        "path = \"data/contacts.csv\"\nevents = \"data/events.csv\"",
    );
    let (code, _, err) = run(herald().arg("plan").arg(dir.path()));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("data/events.csv` does not exist (the forecast reads the event history of `[crm] events`"),
        "{err}"
    );
    edit(&toml, "events = \"data/events.csv\"", "events = \"../events.csv\"");
    let (_, _, err) = run(herald().arg("plan").arg(dir.path()));
    assert!(err.contains("resolves outside the plan directory"), "{err}");
    edit(&toml, "events = \"../events.csv\"", "events_table = \"events\"");
    let (code, _, err) = run(herald().arg("plan").arg(dir.path()));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`events_table` names a table of an SQLite CRM"), "{err}");
}

#[test]
fn once_herald_run_has_sent_the_forecast_reads_opens_and_clicks_from_the_ledger() {
    // Issue 11 item 7: engagement comes from the send ledger of the state.
    let dir = copy_example("boutique-mode");
    edit(
        &dir.path().join("campaigns.yaml"),
        "campaigns:\n",
        "campaigns:\n  openers:\n    program: promotions\n    audience: opened(vip_early_access) and consent(email_marketing)\n    message: vip_early_access\n    send_at: 2026-12-10T10:00\n",
    );
    let before = plan_json(dir.path());
    assert_eq!(change(&before, "campaigns.openers")["impact"]["audience"], 0);
    assert!(before["contacts"].get("engagement").is_none());
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    // A ledger as `herald run` leaves it: sends, and opens and clicks of them.
    let conn = rusqlite::Connection::open(dir.path().join(".herald/state.db")).unwrap();
    let consented = with_email_consent(dir.path());
    let ids: Vec<String> = (1..=40u32).map(|i| format!("c{i:07}")).collect();
    for (i, id) in ids.iter().enumerate() {
        conn.execute(
            "INSERT INTO sends (key, object, version, contact_id, occurrence, message, channel, purpose, program, tags, priority, due_at, not_before, status, updated_at)
             VALUES (?1, 'campaigns.vip_sales_early_access', 1, ?2, 'o', 'vip_early_access', 'email', 'marketing', 'promotions', '[]', 0, 1793527200000, 1793527200000, 'sent', 1793527200000)",
            rusqlite::params![format!("k{i}"), id],
        )
        .unwrap();
        // Every third opened, every fifth clicked (a click is an open), one
        // opened after now (a clock ahead: not read).
        let kind = match i {
            _ if i % 5 == 0 => "clicked",
            _ if i % 3 == 0 => "opened",
            _ => "bounced",
        };
        let at = if i == 3 {
            "2026-12-01T10:00:00.000Z"
        } else {
            "2026-11-02T10:00:00.000Z"
        };
        conn.execute(
            "INSERT INTO engagement (send_key, contact_id, message, kind, at) VALUES (?1, ?2, 'vip_early_access', ?3, ?4)",
            rusqlite::params![format!("k{i}"), id, kind, at],
        )
        .unwrap();
    }
    drop(conn);
    let hand = ids
        .iter()
        .enumerate()
        .filter(|(i, id)| (i % 5 == 0 || i % 3 == 0) && *i != 3 && consented.contains(*id))
        .count() as u64;
    assert!(hand > 3, "{hand}");
    let after = plan_json(dir.path());
    assert_eq!(change(&after, "campaigns.openers")["impact"]["audience"], hand);
    // Opens and clicks are read; bounces are not engagement.
    let read = (0..40).filter(|i| (i % 5 == 0 || i % 3 == 0) && *i != 3).count() as u64;
    assert_eq!(after["contacts"]["engagement"], read);
    let without = after["contacts"]["without_history"].to_string();
    assert!(!without.contains("campaigns.openers"), "{without}");
    // No `[crm] events`: what reads `count()` is still named.
    assert!(without.contains("scenarios.welcome_series (exit_when)"), "{without}");
    let (code, out, _) = run(herald().arg("plan").arg(dir.path()));
    assert_eq!(code, 0);
    assert!(
        out.contains("note: no event history is read (`[crm] events`): `count()` is 0"),
        "{out}"
    );
}

#[test]
fn a_birthday_test_is_checked_on_the_entries_of_its_decide_after() {
    // Issue 11 item 6: ~2,000 contacts have a birthday over a year; in the
    // 24 h of a test each variant gets a handful of entries, far below
    // `min_sample`. `plan` estimates them from the forecast's entries.
    let dir = copy_example("boutique-mode");
    edit(
        &dir.path().join("messages.yaml"),
        "  birthday_sms:\n",
        "  birthday_email_b:\n    channel: email\n    purpose: marketing\n    subject: \"Votre cadeau d'anniversaire vous attend\"\n    preheader: \"-20 % sur tout le site pendant 7 jours\"\n    body: templates/birthday.mjml\n  birthday_sms:\n",
    );
    edit(
        &dir.path().join("scenarios.yaml"),
        "    steps:\n      - send: birthday_email\n",
        "    steps:\n      - send: birthday_email\n        experiment:\n          variants:\n            - { message: birthday_email, split: 50 }\n            - { message: birthday_email_b, split: 50 }\n          metric: click\n          min_sample: 20\n",
    );
    assert_eq!(run(herald().arg("check").arg(dir.path())).0, 0, "check cannot see it");
    let (code, out, _) = run(herald().args(["plan", "--color=never"]).arg(dir.path()));
    assert_eq!(code, 1, "{out}");
    insta::assert_snapshot!("scenario_experiment_sample_too_small", out);
    // Two days of entries per decision reach a sample of 2.
    edit(
        &dir.path().join("scenarios.yaml"),
        "          min_sample: 20\n",
        "          min_sample: 2\n          decide_after: 48h\n",
    );
    let (code, out, _) = run(herald().args(["plan", "--color=never"]).arg(dir.path()));
    assert!(!out.contains("sample-too-small"), "{out}");
    assert_eq!(code, 0, "{out}");
}

#[test]
fn an_event_triggered_test_is_checked_on_the_entries_its_event_history_makes() {
    // Issue 11 item 6, event triggers: the history's `signup` events of the
    // last 90 days are replayed through the entry rule (audience, re-entry,
    // `exit_when` at each event's time), and the entries per day, over
    // `decide_after`, are what each variant gets. Counted by hand here.
    let dir = copy_example("boutique-mode");
    let mut text = String::from("contact_id,event,at\n");
    // Before the 90 days: sets where the history starts, never replayed.
    text.push_str("c0000001,signup,2025-01-01T10:00:00Z\n");
    for i in 1..=2000u32 {
        let id = format!("c{i:07}");
        text.push_str(&format!("{id},signup,2026-10-{:02}T10:00:00Z\n", 1 + i % 28));
        if i % 10 == 0 {
            // Bought before signing up: `exit_when` holds, no entry.
            text.push_str(&format!("{id},purchase,2026-09-01T10:00:00Z\n"));
        }
        if i % 7 == 0 {
            // Signed up again: `reentry: never`, still one entry.
            text.push_str(&format!("{id},signup,2026-11-10T10:00:00Z\n"));
        }
    }
    std::fs::write(dir.path().join("data/events.csv"), text).unwrap();
    let consented = with_email_consent(dir.path());
    let hand = (1..=2000u32)
        .filter(|i| i % 10 != 0 && consented.contains(&format!("c{i:07}")))
        .count() as u64;
    assert!(hand > 600, "{hand}");
    edit(
        &dir.path().join("herald.toml"),
        "path = \"data/contacts.csv\"",
        "path = \"data/contacts.csv\"\nevents = \"data/events.csv\"",
    );
    edit(
        &dir.path().join("messages.yaml"),
        "  welcome_discover:\n",
        "  welcome_email_b:\n    channel: email\n    purpose: marketing\n    subject: \"Bienvenue !\"\n    preheader: \"Votre code de bienvenue -10 % vous attend\"\n    body: templates/welcome.mjml\n  welcome_discover:\n",
    );
    edit(
        &dir.path().join("scenarios.yaml"),
        "    steps:\n      - send: welcome_email\n",
        "    steps:\n      - send: welcome_email\n        experiment:\n          variants:\n            - { message: welcome_email, split: 50 }\n            - { message: welcome_email_b, split: 50 }\n          metric: click\n          min_sample: 20\n          decide_after: 48h\n",
    );
    let (code, out, err) = run(herald().args(["plan", "--format", "json"]).arg(dir.path()));
    assert_eq!(code, 1, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        change(&json, "scenarios.welcome_series")["impact"]["history_entries"],
        hand
    );
    // A trigger whose condition reads the event's properties is not
    // replayed: a history keeps no properties.
    assert!(
        change(&json, "scenarios.cart_abandonment")["impact"]
            .get("history_entries")
            .is_none(),
        "{json}"
    );
    let per_variant = (hand as f64 * 2.0 / 90.0 * 0.5).floor() as u64;
    assert!(per_variant < 20, "{per_variant}");
    let (code, out, _) = run(herald().args(["plan", "--color=never"]).arg(dir.path()));
    assert_eq!(code, 1, "{out}");
    // The report wraps long lines: compare words.
    let words = out
        .split(|c: char| c.is_whitespace() || c == '│')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        words.contains(&format!(
            "variant `welcome_email` of scenario `welcome_series` gets about {per_variant} entries while its test runs (2d); the minimum sample is 20"
        )),
        "{words}"
    );
    assert!(
        words.contains(&format!(
            "its `signup` events of the last 90 days of history made {hand} entries"
        )),
        "{out}"
    );
    // A smaller sample is reached.
    edit(&dir.path().join("scenarios.yaml"), "min_sample: 20", "min_sample: 5");
    assert!(per_variant >= 5, "{per_variant}");
    let (code, out, _) = run(herald().args(["plan", "--color=never"]).arg(dir.path()));
    assert!(!out.contains("sample-too-small"), "{out}");
    assert_eq!(code, 0, "{out}");
}
