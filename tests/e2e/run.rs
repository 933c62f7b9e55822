//! `herald run`: real processes, a real SQLite state, the file outbox.

use super::*;
use std::collections::BTreeMap;

/// Point every channel of a plan at the file outbox (the embedded default).
pub fn with_file_providers(dir: &Path) {
    let path = dir.join("herald.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with('[') {
            skipping = line.starts_with("[providers");
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("\n[providers.email]\nkind = \"file\"\nfrom = \"Herald <news@herald.example.test>\"\n");
    out.push_str("\n[providers.sms]\nkind = \"file\"\ncost_per_segment = 0.045\n");
    std::fs::write(path, out).unwrap();
}

/// The events endpoint's token, from `HERALD_EVENTS_TOKEN` (what
/// [`Runner::start`] sets).
fn with_events_token(dir: &Path) {
    let config = dir.join("herald.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n[run]\ntoken = \"env:HERALD_EVENTS_TOKEN\"\n")).unwrap();
}

fn at(t: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(t).unwrap().to_utc()
}

/// `herald run --once` at `t`; its JSON report.
pub fn run_once(dir: &Path, t: &str) -> serde_json::Value {
    let (code, out, err) = run(herald()
        .env("HERALD_NOW", t)
        .args(["run", "--once", "--format", "json"])
        .arg(dir));
    assert_eq!(code, 0, "run at {t}: {err}");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Run at each instant something is due, from `start` up to `end` (one
/// process: `run --once --until`); the number of passes.
fn step_through(dir: &Path, start: &str, end: chrono::DateTime<chrono::Utc>) -> usize {
    let (code, out, err) = run(herald()
        .env("HERALD_NOW", start)
        .args(["run", "--once", "--format", "json", "--until", &end.to_rfc3339()])
        .arg(dir));
    assert_eq!(code, 0, "{err}");
    let reports: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let last = reports.last().unwrap();
    assert!(
        last["next_due"].as_str().is_none_or(|n| at(n) > end),
        "the runner reached the end: {last}"
    );
    reports.len()
}

fn ledger(dir: &Path) -> Vec<serde_json::Value> {
    let (code, out, err) = run(herald()
        .args(["sends", "--format", "json", "--limit", "100000"])
        .arg(dir));
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn the_runner_sends_what_the_forecast_said_object_by_object() {
    // A horizon that holds every campaign of the examples (and the rest
    // groups of their A/B tests, a day later).
    let horizon = 47;
    // One thread per example: each steps its own state through the horizon.
    let threads: Vec<_> = ["boutique-mode", "saas-b2b", "garage-services"]
        .into_iter()
        .map(|name| std::thread::spawn(move || agree(name, horizon)))
        .collect();
    for t in threads {
        if let Err(e) = t.join() {
            std::panic::resume_unwind(e);
        }
    }
}

fn agree(name: &str, horizon: i64) {
    {
        let dir = copy_example(name);
        with_file_providers(dir.path());
        let (code, out, err) = run(herald()
            .args(["plan", "--format", "json", "--horizon-days", &horizon.to_string()])
            .arg(dir.path()));
        assert_eq!(code, 0, "{name}: {err}");
        let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
        let (code, _, err) = run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path()));
        assert_eq!(code, 0, "{name}: {err}");

        let end = at(NOW) + chrono::TimeDelta::days(horizon);
        // Past the end, so that sends due before it but deferred by quiet
        // hours go out too.
        let passes = step_through(dir.path(), NOW, end + chrono::TimeDelta::days(3));
        let mut sent: BTreeMap<String, u64> = BTreeMap::new();
        for row in ledger(dir.path()) {
            if row["status"] == "sent" && at(row["due_at"].as_str().unwrap()) <= end {
                *sent.entry(row["object"].as_str().unwrap().to_string()).or_default() += 1;
            }
        }
        let mut forecast: BTreeMap<String, u64> = BTreeMap::new();
        for c in plan["changes"].as_array().unwrap() {
            if let Some(n) = c["impact"]["recipients"].as_u64()
                && n > 0
            {
                forecast.insert(c["address"].as_str().unwrap().to_string(), n);
            }
        }
        assert!(!forecast.is_empty(), "{name}: the forecast should send something");
        assert_eq!(
            sent, forecast,
            "{name}: runner (left, {passes} passes) against forecast (right)"
        );
    }
}

#[test]
fn run_once_writes_the_outbox_once_and_reports_the_next_work() {
    let dir = copy_example("garage-services");
    with_file_providers(dir.path());
    let (code, _, err) = run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    // Nothing due yet: the next maintenance reminder time is reported.
    let r = run_once(dir.path(), NOW);
    assert_eq!(r["sent"], 0);
    assert!(r["next_due"].is_string(), "{r}");
    // A day later the reminders of that day go out, once.
    let later = "2026-11-25T12:00:00Z";
    let first = run_once(dir.path(), later);
    let n = first["sent"].as_u64().unwrap();
    assert!(n > 0, "{first}");
    let files = |kind: &str| {
        std::fs::read_dir(dir.path().join(".herald/outbox").join(kind))
            .map(|d| d.count())
            .unwrap_or(0) as u64
    };
    assert_eq!(files("sms") + files("email"), n);
    let again = run_once(dir.path(), later);
    assert_eq!(again["sent"], 0, "never twice: {again}");
    assert_eq!(files("sms") + files("email"), n);
    // The human report says what happened, with counts only.
    let (code, out, _) = run(herald()
        .env("HERALD_NOW", later)
        .args(["run", "--once"])
        .arg(dir.path()));
    assert_eq!(code, 0);
    assert!(out.starts_with("Run at 2026-11-25T12:00:00+00:00: "), "{out}");
    assert!(!out.contains("@example.test") && !out.contains("+336"), "{out}");
    // The ledger's filters: an address that names nothing is a typo.
    let (code, _, err) = run(herald().args(["sends", "--object", "car_ready"]).arg(dir.path()));
    assert_eq!(code, 1);
    assert!(err.contains("did you mean `scenarios.car_ready`?"), "{err}");
    let (code, _, err) = run(herald().args(["sends", "--limit", "0"]).arg(dir.path()));
    assert_eq!(code, 2, "{err}");
}

/// The providers are deployed settings: a change to `herald.toml` alone is
/// planned (exit 2 with `--detailed-exitcode`), applied, and used by the
/// next run; until then the runner says it uses the deployed ones.
#[test]
fn a_change_to_the_providers_alone_is_planned_applied_and_then_used() {
    let dir = copy_example("garage-services");
    with_file_providers(dir.path());
    let apply = |dir: &Path| run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir));
    assert_eq!(apply(dir.path()).0, 0);
    let config = dir.path().join("herald.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let moved = text.replace(
        "[providers.sms]\nkind = \"file\"\n",
        "[providers.sms]\nkind = \"file\"\ndir = \"sms-out\"\n",
    );
    assert_ne!(moved, text);
    std::fs::write(&config, moved).unwrap();
    let later = "2026-11-25T12:00:00Z";
    // Not applied yet: the run says it uses the deployed settings.
    let (code, _, err) = run(herald().args(["run", "--once"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "warning: herald.toml changed since the last apply (providers.sms); this run uses the deployed settings"
        ),
        "{err}"
    );
    // Planned as a change, by section, never by value.
    let (code, out, err) = run(herald()
        .env("HERALD_NOW", later)
        .args(["plan", "--detailed-exitcode", "--color", "never"])
        .arg(dir.path()));
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("  ~ settings\n      ~ providers.sms\n"), "{out}");
    assert!(out.contains("0 to delete, settings to update."), "{out}");
    assert!(!out.contains("sms-out"), "a value shows: {out}");
    let (code, out, err) = apply(dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("0 deleted; settings updated (providers.sms). State serial 2."),
        "{out}"
    );
    // Applied: nothing left to plan, no warning, and the next SMS go to the new outbox.
    let (code, out, _) = run(herald()
        .env("HERALD_NOW", later)
        .args(["plan", "--detailed-exitcode", "--color", "never"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{out}");
    let (code, out, err) = run(herald()
        .env("HERALD_NOW", later)
        .args(["run", "--once", "--format", "json"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
    let sms = |d: &str| std::fs::read_dir(dir.path().join(d)).map(|d| d.count()).unwrap_or(0);
    assert!(sms("sms-out") > 0, "the SMS go to the applied outbox: {out}");
    assert_eq!(sms(".herald/outbox/sms"), 0);
}

/// The rest group of an A/B test is queued at `send_at`, before any result;
/// it gets the variant that wins by the time it is due (`decide_after`
/// later), from the clicks the endpoint recorded meanwhile.
#[test]
fn the_rest_of_an_ab_test_gets_the_winner_of_when_it_is_due() {
    let dir = copy_example("boutique-mode");
    with_file_providers(dir.path());
    with_events_token(dir.path());
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    let bf = |dir: &Path| -> Vec<serde_json::Value> {
        ledger(dir)
            .into_iter()
            .filter(|s| s["object"] == "campaigns.black_friday_email")
            .collect()
    };
    let count = |rows: &[serde_json::Value], status: &str, message: &str| {
        rows.iter()
            .filter(|s| s["status"] == status && s["message"] == message)
            .count()
    };
    // Black Friday morning in every zone: the test group gets its variants.
    run_once(dir.path(), "2026-11-27T23:00:00Z");
    let rows = bf(dir.path());
    let (a, b) = (
        count(&rows, "sent", "black_friday_email_a"),
        count(&rows, "sent", "black_friday_email_b"),
    );
    assert!(a > 0 && b > 0, "{a} {b}");
    assert!(rows.iter().any(|s| s["status"] == "queued"), "the rest waits");
    // Variant B's emails are clicked.
    let runner = Runner::start(dir.path(), "s3cret-token");
    for s in rows
        .iter()
        .filter(|s| s["message"] == "black_friday_email_b" && s["status"] == "sent")
    {
        let body = serde_json::json!({"key": s["key"], "kind": "clicked"}).to_string();
        let (code, reply) = runner.post("/v1/engagement", Some("s3cret-token"), "application/json", body);
        assert!(code < 300, "{code} {reply}");
    }
    drop(runner);
    // A day later: the rest gets B, the winner, not the leader of the day before.
    run_once(dir.path(), "2026-11-28T23:00:00Z");
    let rows = bf(dir.path());
    assert!(!rows.iter().any(|s| s["status"] == "queued"), "{rows:?}");
    assert_eq!(count(&rows, "sent", "black_friday_email_a"), a, "no rest email is A");
    assert!(count(&rows, "sent", "black_friday_email_b") > 3 * b, "the rest got B");
}

#[test]
fn events_from_the_command_line_enter_scenarios() {
    let dir = copy_example("garage-services");
    with_file_providers(dir.path());
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    let contact = "c0000007";
    let (code, out, err) = run(herald()
        .args([
            "event",
            "send",
            "car_ready",
            "--contact",
            contact,
            "--prop",
            "amount=120.5",
        ])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("recorded"), "{out}");
    // Typos and wrong types are refused, naming the property, never the value.
    let (code, _, err) = run(herald()
        .args(["event", "send", "car_redy", "--contact", contact])
        .arg(dir.path()));
    assert_eq!(code, 1);
    assert!(err.contains("did you mean `car_ready`"), "{err}");
    // Ids as the endpoint takes them; each property once.
    let (code, _, err) = run(herald()
        .args(["event", "send", "car_ready", "--contact", ""])
        .arg(dir.path()));
    assert_eq!(code, 2);
    assert!(err.contains("`--contact` is empty"), "{err}");
    let (code, _, err) = run(herald()
        .args(["event", "send", "car_ready", "--contact", contact])
        .args(["--prop", "amount=1", "--prop", "amount=2"])
        .arg(dir.path()));
    assert_eq!(code, 1);
    assert!(err.contains("`--prop amount=…` is given twice"), "{err}");
    // An event dated far ahead is refused: it would enter now and wait.
    let (code, _, err) = run(herald()
        .env("HERALD_NOW", NOW)
        .args(["event", "send", "car_ready", "--contact", contact, "--prop", "amount=1"])
        .args(["--at", "2099-01-01T00:00:00Z"])
        .arg(dir.path()));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`--at` (2099-01-01T00:00:00Z) is more than an hour ahead"),
        "{err}"
    );
    let (code, _, err) = run(herald()
        .args([
            "event",
            "send",
            "car_ready",
            "--contact",
            contact,
            "--prop",
            "amount=secret-value",
        ])
        .arg(dir.path()));
    assert_eq!(code, 1);
    assert!(err.contains("`amount`") && !err.contains("secret-value"), "{err}");

    // 10:10 in Paris, before the day's maintenance reminders (10:30).
    let r = run_once(dir.path(), "2026-11-20T09:10:00Z");
    assert_eq!((r["events"].as_u64(), r["entered"].as_u64()), (Some(1), Some(1)), "{r}");
    // The transactional SMS goes out at once (within the SMS window).
    assert_eq!(r["sent"], 1, "{r}");
    let rows = ledger(dir.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["contact_id"], contact);
    assert_eq!(rows[0]["object"], "scenarios.car_ready");
    // The same event id twice is one event.
    for _ in 0..2 {
        assert_eq!(
            run(herald()
                .args(["event", "send", "car_ready", "--contact", contact, "--id", "order-1"])
                .arg(dir.path()))
            .0,
            0
        );
    }
    let r = run_once(dir.path(), "2026-11-20T09:15:00Z");
    assert_eq!(r["events"], 1, "{r}");
    // An id names one event: reused for another contact, it is refused.
    let with_id = |who: &str| {
        run(herald()
            .args(["event", "send", "car_ready", "--contact", who, "--id", "visit-1"])
            .arg(dir.path()))
    };
    assert_eq!(with_id(contact).0, 0);
    assert_eq!(with_id(contact).0, 0, "the same event again: nothing to do");
    let (code, _, err) = with_id("c0000008");
    assert_eq!(code, 1);
    assert!(
        err.contains("`visit-1` was already recorded for another contact or event"),
        "{err}"
    );
}

/// An event may come before the CRM export that holds its contact (a
/// signup): it waits for the contact, up to 72 hours after the event.
#[test]
fn an_event_for_a_contact_not_yet_in_the_crm_waits_for_it() {
    let dir = copy_example("garage-services");
    with_file_providers(dir.path());
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    let send = |who: &str| {
        let (code, _, err) = run(herald()
            .env("HERALD_NOW", "2026-11-20T09:05:00Z")
            .args(["event", "send", "car_ready", "--contact", who, "--prop", "amount=80"])
            .arg(dir.path()));
        assert_eq!(code, 0, "{err}");
    };
    send("c_new");
    send("c_never");
    let r = run_once(dir.path(), "2026-11-20T09:10:00Z");
    assert_eq!(
        (
            r["waiting_events"].as_u64(),
            r["unknown_contacts"].as_u64(),
            r["entered"].as_u64()
        ),
        (Some(2), Some(0), Some(0)),
        "{r}"
    );
    let (code, out, _) = run(herald()
        .env("HERALD_NOW", "2026-11-20T09:11:00Z")
        .args(["run", "--once"])
        .arg(dir.path()));
    assert_eq!(code, 0);
    assert!(
        out.contains("2 events are for contact ids the CRM does not have yet; they wait"),
        "{out}"
    );
    // The CRM has not changed: a later run (cron) does not read it again
    // for them, and is due when they are given up on at the latest.
    let r = run_once(dir.path(), "2026-11-20T09:12:00Z");
    assert_eq!(
        (r["waiting_events"].as_u64(), r["contacts"].as_u64()),
        (Some(2), Some(0)),
        "{r}"
    );
    // An apply may change how the CRM is read: they are looked for again.
    let messages = dir.path().join("messages.yaml");
    let text = std::fs::read_to_string(&messages).unwrap();
    std::fs::write(&messages, text.replacen("A tout de suite !", "A bientot !", 1)).unwrap();
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    let r = run_once(dir.path(), "2026-11-20T09:13:00Z");
    assert_eq!(r["waiting_events"].as_u64(), Some(2), "{r}");
    assert!(r["contacts"].as_u64() > Some(0), "{r}");
    // The next export holds the new contact: its event enters the scenario.
    let csv = dir.path().join("data/contacts.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let row = text.lines().nth(1).unwrap().replacen("c0000001", "c_new", 1);
    std::fs::write(&csv, format!("{text}{row}\n")).unwrap();
    let r = run_once(dir.path(), "2026-11-20T09:20:00Z");
    assert_eq!(
        (r["waiting_events"].as_u64(), r["entered"].as_u64(), r["sent"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{r}"
    );
    let rows = ledger(dir.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["contact_id"], "c_new");
    // The run before is due again when the waiting event is given up on.
    let r = run_once(dir.path(), "2026-11-23T08:00:00Z");
    assert_eq!(
        (r["waiting_events"].as_u64(), r["next_due"].as_str()),
        (Some(1), Some("2026-11-23T09:05:00Z")),
        "{r}"
    );
    // 72 hours after its event, the other one is given up, once: stepping
    // through time reaches that instant and goes past it.
    let (code, out, err) = run(herald()
        .env("HERALD_NOW", "2026-11-23T08:00:00Z")
        .args(["run", "--once", "--format", "json", "--until", "2026-11-23T09:06:00Z"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let reports: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let given_up: Vec<&str> = reports
        .iter()
        .filter(|r| r["unknown_contacts"] == 1)
        .map(|r| r["at"].as_str().unwrap())
        .collect();
    assert_eq!(given_up, ["2026-11-23T09:05:00Z"], "{out}");
    assert_eq!(reports.last().unwrap()["waiting_events"], 0, "{out}");
    let r = run_once(dir.path(), "2026-11-23T09:07:00Z");
    assert_eq!(
        (r["waiting_events"].as_u64(), r["unknown_contacts"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
}

/// A waiting event is given up at its time even when its contact arrives
/// later, before any pass gave it up (a runner down meanwhile).
#[test]
fn a_waiting_event_past_its_time_is_given_up_though_its_contact_arrived() {
    let dir = copy_example("garage-services");
    with_file_providers(dir.path());
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    let (code, _, err) = run(herald()
        .env("HERALD_NOW", "2026-11-20T09:05:00Z")
        .args([
            "event",
            "send",
            "car_ready",
            "--contact",
            "c_late",
            "--prop",
            "amount=80",
        ])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let r = run_once(dir.path(), "2026-11-20T09:10:00Z");
    assert_eq!(r["waiting_events"].as_u64(), Some(1), "{r}");
    let csv = dir.path().join("data/contacts.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let row = text.lines().nth(1).unwrap().replacen("c0000001", "c_late", 1);
    std::fs::write(&csv, format!("{text}{row}\n")).unwrap();
    let r = run_once(dir.path(), "2026-11-23T12:00:00Z");
    assert_eq!(
        (r["unknown_contacts"].as_u64(), r["events"].as_u64()),
        (Some(1), Some(0)),
        "{r}"
    );
    assert!(ledger(dir.path()).iter().all(|s| s["contact_id"] != "c_late"));
}

#[test]
fn pause_resume_and_stop() {
    let dir = copy_example("garage-services");
    with_file_providers(dir.path());
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    let (code, _, err) = run(herald().args(["pause", "scenarios.car_redy", "--dir"]).arg(dir.path()));
    assert_eq!(code, 1);
    assert!(err.contains("did you mean `scenarios.car_ready`"), "{err}");
    assert_eq!(
        run(herald().args(["pause", "scenarios.car_ready", "--dir"]).arg(dir.path())).0,
        0
    );
    run(herald()
        .args(["event", "send", "car_ready", "--contact", "c0000001"])
        .arg(dir.path()));
    let r = run_once(dir.path(), "2026-11-20T09:10:00Z");
    assert_eq!(r["sent"], 0, "paused: {r}");
    assert_eq!(r["paused"], serde_json::json!(["scenarios.car_ready"]));
    assert_eq!(
        run(herald()
            .args(["resume", "scenarios.car_ready", "--dir"])
            .arg(dir.path()))
        .0,
        0
    );
    // The event waited; the scenario picks it up.
    let r = run_once(dir.path(), "2026-11-20T09:11:00Z");
    assert_eq!(r["sent"], 1, "{r}");
    // `herald stop` stops the next pass before it starts; `resume` alone
    // lifts the stop and keeps (and lists) the pauses; `--all` lifts both.
    assert_eq!(run(herald().args(["stop", "--dir"]).arg(dir.path())).0, 0);
    let (code, out, _) = run(herald().env("HERALD_NOW", NOW).args(["run", "--once"]).arg(dir.path()));
    assert_eq!(code, 1);
    assert!(out.contains("Stopped by `herald stop`"), "{out}");
    assert_eq!(
        run(herald().args(["pause", "scenarios.car_ready", "--dir"]).arg(dir.path())).0,
        0
    );
    let (code, out, err) = run(herald().args(["resume", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("`herald stop` is lifted") && out.contains("Still paused: `scenarios.car_ready`"),
        "{out}"
    );
    let r = run_once(dir.path(), NOW);
    assert_eq!(r["stopped"], false);
    assert_eq!(r["paused"], serde_json::json!(["scenarios.car_ready"]));
    // Nothing stopped: `resume` alone says so, and what stays paused.
    let (code, out, _) = run(herald().args(["resume", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0);
    assert!(
        out.contains("Nothing is stopped.\nStill paused: `scenarios.car_ready`"),
        "{out}"
    );
    assert_eq!(run(herald().args(["stop", "--dir"]).arg(dir.path())).0, 0);
    let (code, out, _) = run(herald().args(["resume", "--all", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        "Resumed everything: lifted `herald stop`; unpaused `scenarios.car_ready`."
    );
    let r = run_once(dir.path(), NOW);
    assert_eq!(
        (r["stopped"].as_bool(), r["paused"].as_array().map(Vec::len)),
        (Some(false), Some(0))
    );
}

#[test]
fn the_runner_needs_a_deployed_plan_and_its_credentials() {
    let dir = copy_example("garage-services");
    // The production providers of the example (its herald.toml shows them).
    let config = dir.path().join("herald.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = &text[..text.find("\n[providers.email]").unwrap() + 1];
    std::fs::write(
        &config,
        format!(
            "{text}[providers.email]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nusername = \"env:GARAGE_SMTP_USER\"\npassword = \"env:GARAGE_SMTP_PASSWORD\"\nfrom = \"a@b.test\"\n\n[providers.sms]\nkind = \"http\"\nbase_url = \"http://127.0.0.1:9/\"\nauth_token = \"env:GARAGE_SMS_TOKEN\"\n"
        ),
    )
    .unwrap();
    let (code, _, err) = run(herald().args(["run", "--once"]).arg(dir.path()));
    assert_eq!(code, 1);
    assert!(err.contains("run `herald plan` and `herald apply` first"), "{err}");
    // The example's SMTP and SMS credentials are not set: nothing starts.
    assert_eq!(
        run(herald()
            .args(["apply", "--auto-approve", "--dir"])
            .arg(dir.path())
            .env_remove("GARAGE_SMTP_USER"))
        .0,
        0
    );
    let (code, _, err) = run(herald()
        .args(["run", "--once"])
        .arg(dir.path())
        .env_remove("GARAGE_SMTP_USER")
        .env_remove("GARAGE_SMTP_PASSWORD")
        .env_remove("GARAGE_SMS_TOKEN"));
    assert_eq!(code, 1);
    assert!(
        err.contains("GARAGE_SMTP_USER") && err.contains("GARAGE_SMS_TOKEN"),
        "every missing variable is named: {err}"
    );
    // Values never appear.
    let (_, _, err) = run(herald()
        .args(["run", "--once"])
        .arg(dir.path())
        .env("GARAGE_SMTP_USER", "u")
        .env("GARAGE_SMTP_PASSWORD", "hunter2-secret")
        .env_remove("GARAGE_SMS_TOKEN"));
    assert!(!err.contains("hunter2-secret"), "{err}");
}

/// An HTTP client for the tests (rustls with ring, as the binary uses).
pub fn client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::new()
}

/// A long-running `herald run` serving its endpoint on a free port.
pub struct Runner {
    pub child: std::process::Child,
    pub url: String,
}

impl Runner {
    pub fn start(dir: &Path, token: &str) -> Runner {
        Runner::start_at(dir, token, NOW)
    }

    /// A runner whose business clock is pinned at `now`.
    pub fn start_at(dir: &Path, token: &str, now: &str) -> Runner {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = herald()
            .args(["run", "--interval", "200ms", "--listen", &format!("127.0.0.1:{port}")])
            .arg(dir)
            .env("HERALD_NOW", now)
            .env("HERALD_EVENTS_TOKEN", token)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let start = std::time::Instant::now();
        while client().get(format!("{url}/healthz")).send().is_err() {
            assert!(start.elapsed().as_secs() < 30, "herald run did not start serving");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Runner { child, url }
    }

    pub fn post(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: impl Into<reqwest::blocking::Body>,
    ) -> (u16, serde_json::Value) {
        let mut req = client()
            .post(format!("{}{path}", self.url))
            .header("Content-Type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().unwrap();
        let code = resp.status().as_u16();
        (code, resp.json().unwrap_or(serde_json::Value::Null))
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_events_endpoint_checks_what_it_receives_and_the_runner_acts_at_once() {
    let dir = copy_example("garage-services");
    with_file_providers(dir.path());
    with_events_token(dir.path());
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    let runner = Runner::start(dir.path(), "s3cret-token");
    let json = "application/json";
    let event = |contact: &str| {
        serde_json::json!({"event": "car_ready", "contact_id": contact, "properties": {"amount": 80}}).to_string()
    };
    // Refusals, each with its status and a message that names the problem.
    let (code, body) = runner.post("/v1/events", None, json, event("c0000001"));
    assert_eq!(code, 401, "{body}");
    let (code, _) = runner.post("/v1/events", Some("wrong"), json, event("c0000001"));
    assert_eq!(code, 401);
    let (code, body) = runner.post("/v1/events", Some("s3cret-token"), "text/plain", event("c0000001"));
    assert_eq!(code, 415, "{body}");
    let (code, body) = runner.post("/v1/events", Some("s3cret-token"), json, "{not json");
    assert_eq!(code, 400, "{body}");
    // The same key twice: which one would count is not for Herald to guess.
    let (code, body) = runner.post(
        "/v1/events",
        Some("s3cret-token"),
        json,
        r#"{"event": "car_ready", "contact_id": "c0000001", "properties": {"amount": 80, "amount": "jean@example.test"}}"#,
    );
    assert_eq!(code, 400, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.starts_with("a key appears twice in one object (line 1, column ")
            && message.ends_with("send each key once"),
        "{body}"
    );
    assert!(!message.contains("amount") && !message.contains("jean@"), "{body}");
    let (code, body) = runner.post(
        "/v1/events",
        Some("s3cret-token"),
        json,
        r#"{"event": "car_redy", "contact_id": "c1"}"#,
    );
    assert_eq!(code, 422);
    assert!(
        body["error"].as_str().unwrap().contains("did you mean `car_ready`"),
        "{body}"
    );
    let (code, body) = runner.post(
        "/v1/events",
        Some("s3cret-token"),
        json,
        r#"{"event": "car_ready", "contact_id": "c1", "properties": {"amount": "jean@example.test"}}"#,
    );
    assert_eq!(code, 422);
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("`amount`") && !message.contains("jean@"), "{body}");
    // An event dated years ahead would enter its contact now and wait.
    let (code, body) = runner.post(
        "/v1/events",
        Some("s3cret-token"),
        json,
        r#"{"event": "car_ready", "contact_id": "c0000002", "at": "9999-12-31T23:59:59Z", "properties": {"amount": 80}}"#,
    );
    assert_eq!(code, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("ahead of the runner's clock"),
        "{body}"
    );
    let (code, body) = runner.post("/v1/events", Some("s3cret-token"), json, vec![b' '; 70 * 1024]);
    assert_eq!(code, 413, "bodies are bounded");
    assert!(body["error"].as_str().unwrap().contains("over 64 KiB"), "{body}");
    let (code, body) = runner.post(
        "/v1/events",
        Some("s3cret-token"),
        json,
        r#"{"event": "car_ready", "contact_id": ""}"#,
    );
    assert_eq!((code, body["error"].as_str()), (422, Some("`contact_id` is empty")));
    // Accepted, once per id.
    let with_id = serde_json::json!({"event": "car_ready", "contact_id": "c0000003", "id": "order-9"}).to_string();
    let (code, body) = runner.post("/v1/events", Some("s3cret-token"), json, with_id.clone());
    assert_eq!(code, 202, "{body}");
    let (code, body) = runner.post("/v1/events", Some("s3cret-token"), json, with_id);
    assert_eq!((code, body["status"].as_str()), (200, Some("duplicate")));
    // The same id for another contact would be dropped as a duplicate: refused.
    let reused = serde_json::json!({"event": "car_ready", "contact_id": "c0000004", "id": "order-9"}).to_string();
    let (code, body) = runner.post("/v1/events", Some("s3cret-token"), json, reused);
    assert_eq!(code, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("already recorded for another contact"),
        "{body}"
    );
    // The runner wakes up for it: the transactional SMS is written out.
    let outbox = dir.path().join(".herald/outbox/sms");
    let start = std::time::Instant::now();
    while std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(start.elapsed().as_secs() < 30, "the event was not acted on");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 1);
    // `herald stop` ends it within a second (two here, for a loaded CI
    // machine: it looks every quarter of a second).
    let mut child = runner;
    let start = std::time::Instant::now();
    assert_eq!(run(herald().args(["stop", "--dir"]).arg(dir.path())).0, 0);
    loop {
        if child.child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "herald run did not stop within 2 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    eprintln!("stopped {:?} after `herald stop`", start.elapsed());
}

#[test]
fn the_runner_enforces_policies_suppress_as_the_plan_counted_it() {
    let dir = copy_example("boutique-mode");
    with_file_providers(dir.path());
    let policies = dir.path().join("policies.yaml");
    let text = std::fs::read_to_string(&policies).unwrap();
    assert!(text.contains("  sms: { max_segments: 1 }"));
    std::fs::write(
        &policies,
        text.replacen(
            "  sms: { max_segments: 1 }",
            "  sms: { max_segments: 1 }\n  suppress: region == \"PACA\"",
            1,
        ),
    )
    .unwrap();
    let address = "campaigns.black_friday_email";
    let (code, out, err) = run(herald().args(["plan", "--format", "json"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let impact = &plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .unwrap()["impact"];
    let (recipients, policy) = (
        impact["recipients"].as_u64().unwrap(),
        impact["suppressed"]["policy"].as_u64().unwrap(),
    );
    assert!(recipients > 0 && policy > 0, "{impact:#}");
    let (code, _, err) = run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    // Black Friday: the A/B test on 27 November, the winner to the rest a day later.
    step_through(dir.path(), NOW, at("2026-11-29T00:00:00Z"));
    let rows: Vec<_> = ledger(dir.path())
        .into_iter()
        .filter(|r| r["object"] == address)
        .collect();
    let count = |status: &str, reason: Option<&str>| {
        rows.iter()
            .filter(|r| r["status"] == status && reason.is_none_or(|w| r["reason"] == w))
            .count() as u64
    };
    assert_eq!(count("sent", None), recipients, "the runner sent what the plan said");
    assert_eq!(
        count("dropped", Some("suppressed-by-policy")),
        policy,
        "and dropped, with the reason, what the plan counted"
    );
}

#[test]
fn the_runner_counts_the_event_history_as_the_plan_does() {
    // `count()` reads `[crm] events` in the runner as in the forecast, plus
    // the events Herald received after the export's newest event: the plan's
    // recipients are the runner's sends.
    let dir = copy_example("boutique-mode");
    with_file_providers(dir.path());
    let mut text = String::from("contact_id,event,at\n");
    for i in 1..=90u32 {
        let id = format!("c{i:07}");
        match i % 3 {
            0 => {
                text.push_str(&format!("{id},purchase,2026-01-15T10:00:00Z\n"));
                text.push_str(&format!("{id},purchase,2026-11-01T10:00:00Z\n"));
            }
            1 => text.push_str(&format!("{id},purchase,2026-03-01T10:00:00Z\n")),
            _ => {}
        }
    }
    std::fs::write(dir.path().join("data/events.csv"), text).unwrap();
    edit(
        &dir.path().join("herald.toml"),
        "path = \"data/contacts.csv\"",
        "path = \"data/contacts.csv\"\nevents = \"data/events.csv\"",
    );
    edit(
        &dir.path().join("campaigns.yaml"),
        "campaigns:\n",
        "campaigns:\n  loyal_thanks:\n    program: promotions\n    audience: count(purchase, 365d) >= 2 and consent(email_marketing)\n    message: vip_early_access\n    send_at: 2026-11-21T10:00\n",
    );
    let address = "campaigns.loyal_thanks";
    let (code, _, err) = run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let consented = crate::plan::with_email_consent(dir.path());
    // A contact with one purchase in the export.
    let once = (1..=90u32)
        .map(|i| (i, format!("c{i:07}")))
        .find(|(i, id)| i % 3 == 1 && consented.contains(id))
        .map(|(_, id)| id)
        .unwrap();
    // A second purchase Herald received itself, after the export: it counts.
    let (code, _, err) = run(herald()
        .args(["event", "send", "purchase", "--contact", &once, "--prop", "amount=20"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(herald().args(["plan", "--format", "json"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["contacts"]["received_events"], 1, "{:#}", plan["contacts"]);
    let forecast = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .map(|c| c["impact"]["recipients"].as_u64().unwrap())
        .unwrap_or_else(|| panic!("{out}"));
    // By hand: every third contact bought twice in the year, and `once`
    // once in the export and once since, all with the email consent.
    let hand = (1..=90u32)
        .map(|i| (i, format!("c{i:07}")))
        .filter(|(i, id)| i % 3 == 0 || *id == once)
        .filter(|(_, id)| consented.contains(id))
        .count() as u64;
    assert!(hand > 10, "{hand}");
    assert_eq!(forecast, hand);
    step_through(dir.path(), NOW, at("2026-11-22T00:00:00Z"));
    let sent = ledger(dir.path())
        .into_iter()
        .filter(|r| r["object"] == address && r["status"] == "sent")
        .count() as u64;
    assert_eq!(sent, hand, "the runner sent what the plan said");
}

/// An outbox that cannot be one (here a file) stops the runner at start,
/// naming the setting, before anything is claimed: never sends that wait
/// for ever behind a report of success.
#[test]
fn an_outbox_that_is_not_a_directory_stops_the_runner_before_anything_is_claimed() {
    let dir = copy_example("garage-services");
    with_file_providers(dir.path());
    std::fs::write(dir.path().join("not-a-dir"), "kept").unwrap();
    let config = dir.path().join("herald.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        "[providers.email]\nkind = \"file\"\n",
        "[providers.email]\nkind = \"file\"\ndir = \"not-a-dir\"\n",
    );
    std::fs::write(&config, text).unwrap();
    let (code, _, err) = run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(herald()
        .env("HERALD_NOW", "2026-11-25T12:00:00Z")
        .args(["run", "--once"])
        .arg(dir.path()));
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("`dir = \"not-a-dir\"` of `[providers.email]` in herald.toml cannot be used as an outbox: `")
            && err.contains("not-a-dir` is not a directory; point it at a directory"),
        "{err}"
    );
    assert!(ledger(dir.path()).is_empty());
    assert_eq!(std::fs::read_to_string(dir.path().join("not-a-dir")).unwrap(), "kept");
}

/// `herald event send NAME --contact ID --prop …` at `now` (business clock).
fn event_at(dir: &Path, now: &str, name: &str, contact: &str, props: &[&str]) {
    let mut cmd = herald();
    cmd.env("HERALD_NOW", now)
        .args(["event", "send", name, "--contact", contact]);
    for p in props {
        cmd.args(["--prop", p]);
    }
    let (code, _, err) = run(cmd.arg(dir));
    assert_eq!(code, 0, "{name} for {contact} at {now}: {err}");
}

/// The contacts of a scenario's enrolments, by status (`active`,
/// `completed`, `exited`), with the version each entered.
fn enrolments(dir: &Path, scenario: &str) -> Vec<(String, String, i64)> {
    let conn = rusqlite::Connection::open(dir.join(".herald/state.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT contact_id, status, version FROM enrolments WHERE scenario = ?1 ORDER BY contact_id, id")
        .unwrap();
    stmt.query_map([scenario], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The runner drives a scenario on what happens while contacts are in it:
/// `wait until` ends on engagement recorded by the endpoint, or times out;
/// `exit_when` takes a contact out on a new event; re-entry is refused
/// within its delay and allowed after it; contacts in flight finish the
/// version they entered while new ones get the version applied since.
#[test]
fn the_runner_drives_scenarios_on_events_and_engagement() {
    let dir = copy_example("boutique-mode");
    with_file_providers(dir.path());
    with_events_token(dir.path());
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    let scenario = "scenarios.cart_abandonment";
    let cart = ["cart_value=80", "item_count=2"];
    // Contacts with both consents and a phone, in Paris, whom no date
    // trigger reaches in these two weeks.
    let (opens, ignores, buys, again, later) = ("c0000004", "c0000006", "c0000013", "c0000020", "c0000024");
    // Monday 23 November, 10:00 in Paris.
    for who in [opens, ignores, buys, again] {
        event_at(dir.path(), "2026-11-23T09:00:00Z", "cart_abandoned", who, &cart);
    }
    // Under the trigger's `where` (cart_value >= 30): not entered.
    event_at(
        dir.path(),
        "2026-11-23T09:00:00Z",
        "cart_abandoned",
        later,
        &["cart_value=12", "item_count=1"],
    );
    run_once(dir.path(), "2026-11-23T09:01:00Z");
    let entered: Vec<String> = enrolments(dir.path(), scenario).into_iter().map(|e| e.0).collect();
    assert_eq!(entered, [opens, ignores, buys, again]);
    // A purchase before the email: `exit_when: count(purchase, 2d) >= 1`.
    event_at(
        dir.path(),
        "2026-11-23T09:30:00Z",
        "purchase",
        buys,
        &["amount=80", "order_id=o-1"],
    );
    // The same cart again three hours later: `reentry: after 10d` refuses it.
    event_at(dir.path(), "2026-11-23T09:40:00Z", "cart_abandoned", again, &cart);
    run_once(dir.path(), "2026-11-23T10:01:00Z");
    let sent = |object: &str, message: &str| -> Vec<(String, i64)> {
        let mut v: Vec<(String, i64)> = ledger(dir.path())
            .into_iter()
            .filter(|s| s["object"] == object && s["message"] == message && s["status"] == "sent")
            .map(|s| {
                (
                    s["contact_id"].as_str().unwrap().to_string(),
                    s["version"].as_i64().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let v1 = |who: &[&str]| -> Vec<(String, i64)> { who.iter().map(|w| (w.to_string(), 1)).collect() };
    assert_eq!(sent(scenario, "cart_email"), v1(&[opens, ignores, again]));
    let status = |who: &str| -> Vec<String> {
        enrolments(dir.path(), scenario)
            .into_iter()
            .filter(|e| e.0 == who)
            .map(|e| e.1)
            .collect()
    };
    assert_eq!(status(buys), ["exited"]);
    assert_eq!(status(again), ["active"], "entered once");

    // One email is opened (the endpoint records it against its send key).
    let key = ledger(dir.path())
        .into_iter()
        .find(|s| s["contact_id"] == opens && s["message"] == "cart_email")
        .unwrap()["key"]
        .clone();
    let runner = Runner::start_at(dir.path(), "s3cret-token", "2026-11-23T11:00:00Z");
    let body = serde_json::json!({"key": key, "kind": "opened"}).to_string();
    let (code, reply) = runner.post("/v1/engagement", Some("s3cret-token"), "application/json", body);
    assert!(code < 300, "{code} {reply}");
    drop(runner);

    // Version 2 of the scenario waits two hours before the email; the
    // contacts in it now finish version 1.
    let path = dir.path().join("scenarios.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = text.replacen(
        "      - wait: 1h\n      - send: cart_email",
        "      - wait: 2h\n      - send: cart_email",
        1,
    );
    assert_ne!(changed, text);
    std::fs::write(&path, changed).unwrap();
    let (code, _, err) = run(herald()
        .env("HERALD_NOW", "2026-11-23T11:00:00Z")
        .args(["apply", "--auto-approve", "--dir"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    event_at(dir.path(), "2026-11-23T11:30:00Z", "cart_abandoned", later, &cart);
    run_once(dir.path(), "2026-11-23T12:31:00Z");
    assert!(
        sent(scenario, "cart_email").iter().all(|s| s.0 != later),
        "version 2 waits 2 h"
    );
    run_once(dir.path(), "2026-11-23T13:31:00Z");
    assert!(sent(scenario, "cart_email").contains(&(later.to_string(), 2)));

    // Tuesday, a day after the emails: the wait for an open times out for
    // those who did not open; the one who did gets no SMS.
    run_once(dir.path(), "2026-11-24T10:05:00Z");
    assert_eq!(sent(scenario, "cart_sms"), v1(&[ignores, again]));
    assert_eq!(status(opens), ["completed"]);
    assert_eq!(status(ignores), ["completed"]);

    // Eleven days after its first entry, the same contact enters again.
    run_once(dir.path(), "2026-12-04T06:59:00Z");
    event_at(dir.path(), "2026-12-04T07:00:00Z", "cart_abandoned", again, &cart);
    run_once(dir.path(), "2026-12-04T07:01:00Z");
    let rows: Vec<(String, String, i64)> = enrolments(dir.path(), scenario)
        .into_iter()
        .filter(|e| e.0 == again)
        .collect();
    assert_eq!(
        rows,
        [
            (again.into(), "completed".into(), 1),
            (again.into(), "active".into(), 2)
        ],
        "entered again, in the version deployed now"
    );

    // `herald sends` by contact and by object: that contact's sends alone,
    // and counts of what is listed.
    let (code, out, err) = run(herald()
        .args(["sends", "--contact", again, "--object", scenario, "--format", "json"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let mut messages: Vec<&str> = rows
        .iter()
        .inspect(|r| {
            assert_eq!(
                (r["contact_id"].as_str(), r["object"].as_str()),
                (Some(again), Some(scenario))
            )
        })
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    messages.sort_unstable();
    assert_eq!(messages, ["cart_email", "cart_sms"]);
    let (code, out, _) = run(herald().args(["sends", "--contact", again]).arg(dir.path()));
    assert_eq!(code, 0);
    let all = ledger(dir.path());
    let theirs = all.iter().filter(|r| r["contact_id"] == again).count();
    assert!(theirs >= 2 && theirs < all.len(), "{theirs} of {}", all.len());
    let sent_n = all
        .iter()
        .filter(|r| r["contact_id"] == again && r["status"] == "sent")
        .count();
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("Ledger for contact {again}: ")) && first.contains(&format!("sent {sent_n}")),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.contains(&format!("contact {again} "))).count(),
        theirs
    );
    let (_, out, _) = run(herald()
        .args(["sends", "--contact", again, "--in-doubt"])
        .arg(dir.path()));
    assert!(out.ends_with("No sends match (none is in doubt).\n"), "{out}");
}

/// The guards at the moment of sending, at the runner, each drop with its
/// reason: a pressure cap counted across a scenario and a campaign; quiet
/// hours that defer a scenario's SMS to the next allowed time, or drop it
/// when that is more than 72 hours away.
#[test]
fn the_runner_guards_pressure_across_objects_and_quiet_hours() {
    let plan_yaml = r#"
contact:
  fields:
    email: { type: email, optional: true }
    phone: { type: phone, optional: true }
  consents:
    email_marketing: { channel: email }
    sms_marketing: { channel: sms }
  events:
    signup: { properties: { source: string } }
    sms_optin: { properties: { source: string } }
programs:
  promotions: { objective: "Sell." }
policies:
  pressure:
    - { purpose: marketing, max: 1, per: 1d }
  quiet_hours:
    - { channel: sms, days: [mon], from: "08:00", to: "12:00" }
messages:
  welcome:
    channel: email
    purpose: marketing
    subject: "Bienvenue"
    preheader: "Votre compte est prêt"
    body: '<html><body><p>Bienvenue.</p><p><a href="{{ unsubscribe_url }}">Se désinscrire</a></p></body></html>'
  promo:
    channel: email
    purpose: marketing
    subject: "-20 % cette semaine"
    preheader: "Sur tout le site"
    body: '<html><body><p>-20 %.</p><p><a href="{{ unsubscribe_url }}">Se désinscrire</a></p></body></html>'
  promo_sms:
    channel: sms
    purpose: marketing
    sender: Boutique
    text: "Boutique: -20% cette semaine. STOP au 36111"
scenarios:
  welcome:
    program: promotions
    trigger: { event: signup }
    audience: consent(email_marketing)
    reentry: never
    steps:
      - send: welcome
  sms_welcome:
    program: promotions
    trigger: { event: sms_optin }
    audience: consent(sms_marketing) and phone is set
    reentry: never
    steps:
      - send: promo_sms
campaigns:
  promo:
    program: promotions
    audience: consent(email_marketing) and email is set
    message: promo
    send_at: 2026-11-24T10:00
"#;
    let csv = "id,email,phone,consent_email_marketing,consent_email_marketing_at,consent_sms_marketing,consent_sms_marketing_at\n\
               a1,a1@example.test,,true,2025-01-15,false,\n\
               b2,b2@example.test,+33612345602,true,2025-01-15,true,2025-01-15\n\
               c3,,+33612345603,false,,true,2025-01-15\n";
    let config = "[project]\nname = \"guards\"\ntimezone = \"Europe/Paris\"\n\n[crm]\nkind = \"csv\"\npath = \"data/contacts.csv\"\n";
    let dir = plan(&[
        ("herald.toml", config.as_bytes()),
        ("plan.yaml", plan_yaml.as_bytes()),
        ("data/contacts.csv", csv.as_bytes()),
    ]);
    with_file_providers(dir.path());
    let (code, _, err) = run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    // Tuesday 24 November, 09:00 in Paris: a1 signs up and gets the welcome;
    // at 11:00, b2 opts in to SMS, outside the SMS hours (Mondays only).
    event_at(dir.path(), "2026-11-24T08:00:00Z", "signup", "a1", &["source=web"]);
    run_once(dir.path(), "2026-11-24T08:01:00Z");
    event_at(dir.path(), "2026-11-24T10:00:00Z", "sms_optin", "b2", &["source=web"]);
    run_once(dir.path(), "2026-11-24T10:01:00Z");
    // Sunday 29, 11:00: c3 opts in.
    event_at(dir.path(), "2026-11-29T10:00:00Z", "sms_optin", "c3", &["source=web"]);
    // Up to Monday noon, at each instant something is due.
    step_through(dir.path(), "2026-11-29T10:01:00Z", at("2026-11-30T12:00:00Z"));
    let rows = ledger(dir.path());
    let outcome = |object: &str, contact: &str| -> (String, String) {
        let mine: Vec<&serde_json::Value> = rows
            .iter()
            .filter(|s| s["object"] == object && s["contact_id"] == contact)
            .collect();
        assert_eq!(mine.len(), 1, "{object} {contact}: {rows:?}");
        let s = mine[0];
        (
            s["status"].as_str().unwrap().to_string(),
            s["reason"].as_str().unwrap_or_default().to_string(),
        )
    };
    let is = |s: &str, r: &str| (s.to_string(), r.to_string());
    assert_eq!(outcome("scenarios.welcome", "a1"), is("sent", ""));
    // One marketing message a day, counted across the scenario and the campaign.
    assert_eq!(
        outcome("campaigns.promo", "a1"),
        is("dropped", "pressure:policies.pressure[0]")
    );
    assert_eq!(outcome("campaigns.promo", "b2"), is("sent", ""));
    // SMS only on Mondays 08:00-12:00: Tuesday's would wait six days, past
    // 72 hours; Sunday's waits for Monday 08:00.
    let (status, reason) = outcome("scenarios.sms_welcome", "b2");
    assert_eq!(status, "dropped");
    assert!(reason.starts_with("quiet-hours"), "{reason}");
    assert_eq!(outcome("scenarios.sms_welcome", "c3"), is("sent", ""));
    let monday = rows
        .iter()
        .find(|s| s["object"] == "scenarios.sms_welcome" && s["contact_id"] == "c3")
        .unwrap();
    assert_eq!(
        monday["sent_at"].as_str().map(at),
        Some(at("2026-11-30T07:00:00Z")),
        "{monday}"
    );
}

/// `--once` on a terminal draws a bar of the contacts looked at (the CRM's
/// size estimated at start); off a terminal, nothing but the report. The
/// terminal is util-linux's `script`.
#[test]
fn run_once_on_a_terminal_shows_its_progress() {
    let dir = copy_example("boutique-mode");
    with_file_providers(dir.path());
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    let command = format!("{} run --once {}", env!("CARGO_BIN_EXE_herald"), dir.path().display());
    let (code, out, err) = run(Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("HERALD_NOW", "2026-11-27T09:01:00Z")
        .env("COLUMNS", "100"));
    assert_eq!(code, 0, "{err}");
    let bar = out
        .split(['\r', '\n'])
        .find(|l| l.contains("% · ") && l.contains(" contacts · ") && l.contains(" left"));
    assert!(bar.is_some(), "no progress bar drawn:\n{out:?}");
    assert!(
        out.contains("Run at 2026-11-27T09:01:00+00:00: 2,000 contacts"),
        "{out}"
    );
    // Off a terminal: the report alone.
    let (_, out, err) = run(herald()
        .env("HERALD_NOW", "2026-11-27T10:01:00Z")
        .args(["run", "--once"])
        .arg(dir.path()));
    assert!(
        out.starts_with("Run at ") && !out.contains("% · ") && !err.contains("% · "),
        "{out}{err}"
    );
}
