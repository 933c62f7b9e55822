//! Saved plans, guards and exit codes: a saved plan is never trusted for its
//! content, guards fail closed and are passed only deliberately (and on the
//! record), a saved plan finds its directory, and 2 means "could not run".

use super::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Edit a saved plan by hand and recompute its digest, as an attacker (or a
/// careless script) would: the digest is an unkeyed sha256 of the JSON.
fn reseal(file: &Path, change: impl FnOnce(&mut Value)) {
    let mut v = read_json(file);
    change(&mut v);
    v["digest"] = json!("");
    let sum = Sha256::digest(serde_json::to_string(&v).unwrap().as_bytes());
    let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
    v["digest"] = json!(format!("sha256:{hex}"));
    std::fs::write(file, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn failing_cost_guard(dir: &Path) {
    edit(&dir.join("policies.yaml"), "max_cost: 2500", "max_cost: 0.5");
}

#[test]
fn a_saved_plan_applies_exactly_as_the_output_advises() {
    let root = tempfile::tempdir().unwrap();
    copy_dir(&example("saas-b2b"), &root.path().join("plans/saas"));
    let _ = std::fs::remove_dir_all(root.path().join("plans/saas/.herald"));
    let (code, out, err) = run(herald()
        .current_dir(root.path())
        .args(["plan", "plans/saas", "--out", "plan.json"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Apply exactly these actions with `herald apply plan.json`."),
        "{out}"
    );
    assert_eq!(read_json(&root.path().join("plan.json"))["plan_dir"], "plans/saas");
    // Used to fail with "the plan directory `.` changed".
    let (code, out, err) = run(herald().current_dir(root.path()).args(["apply", "plan.json"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Apply complete!"), "{out}");
}

#[test]
fn a_saved_plan_and_its_directory_move_together() {
    let root = tempfile::tempdir().unwrap();
    copy_dir(&example("garage-services"), &root.path().join("a/plan"));
    let _ = std::fs::remove_dir_all(root.path().join("a/plan/.herald"));
    let (code, _, err) = run(herald()
        .current_dir(root.path().join("a"))
        .args(["plan", "plan", "--out", "saved.json"]));
    assert_eq!(code, 0, "{err}");
    std::fs::rename(root.path().join("a"), root.path().join("b")).unwrap();
    let (code, out, err) = run(herald().current_dir(root.path()).args(["apply", "b/saved.json"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Apply complete!"), "{out}");
    // The hidden `--dir` spelling still works, and must agree with the file.
    let (code, _, err) = run(herald()
        .current_dir(root.path())
        .args(["apply", "b/saved.json", "--dir", "."]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("was made for the plan directory"), "{err}");
}

#[test]
fn a_failed_guard_set_to_pass_in_a_resealed_plan_is_still_refused() {
    let dir = copy_example("boutique-mode");
    failing_cost_guard(dir.path());
    let file = dir.path().join("plan.json");
    let (code, _, err) = run(herald().args(["plan", "--out"]).arg(&file).arg(dir.path()));
    assert_eq!(code, 1, "a failed guard: {err}");
    assert_eq!(read_json(&file)["guards"][0]["status"], "fail");
    reseal(&file, |v| {
        for g in v["guards"].as_array_mut().unwrap() {
            g["status"] = json!("pass");
        }
        v["applyable"] = json!(true);
    });
    let (code, _, err) = run(herald().arg("apply").arg(&file));
    assert_eq!(code, 1);
    assert!(
        err.contains("refused by a guard") && err.contains("--accept-guard guard/max-cost"),
        "{err}"
    );
    assert!(!dir.path().join(".herald/state.db").exists(), "nothing was written");
}

/// The address of a message in a saved plan.
fn a_message(v: &Value) -> String {
    v["objects"]
        .as_object()
        .unwrap()
        .keys()
        .find(|a| a.starts_with("messages."))
        .unwrap()
        .clone()
}

#[test]
fn content_edited_in_a_resealed_plan_is_never_deployed() {
    let dir = copy_example("saas-b2b");
    let file = dir.path().join("plan.json");
    assert_eq!(run(herald().args(["plan", "--out"]).arg(&file).arg(dir.path())).0, 0);
    let pristine = std::fs::read_to_string(&file).unwrap();
    let address = a_message(&read_json(&file));

    // A changed body with its hash: not what the sources compile to.
    reseal(&file, |v| {
        let o = &mut v["objects"][&address];
        o["body"]["content"] = json!("SMUGGLED");
        o["hash"] = json!("sha256:0000000000000000000000000000000000000000000000000000000000000000");
    });
    let (code, _, err) = run(herald().arg("apply").arg(&file));
    assert_eq!(code, 1);
    assert!(err.contains("does not hold what its sources compile to"), "{err}");

    // A changed body under the old hash: apply writes what it compiled.
    std::fs::write(&file, &pristine).unwrap();
    reseal(&file, |v| {
        v["objects"][&address]["body"]["content"] = json!("SMUGGLED");
    });
    let (code, _, err) = run(herald().arg("apply").arg(&file));
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(herald().args(["state", "show", &address]).arg(dir.path()));
    assert_eq!(code, 0);
    assert!(!out.contains("SMUGGLED"), "{out}");
    let (code, out, _) = run(herald().args(["plan", "--detailed-exitcode"]).arg(dir.path()));
    assert_eq!(code, 0, "no changes after the apply: {out}");
}

#[test]
fn a_failed_guard_exits_1_and_is_accepted_only_deliberately() {
    let dir = copy_example("boutique-mode");
    failing_cost_guard(dir.path());
    let (code, out, _) = run(herald().arg("plan").arg(dir.path()));
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("Apply exactly"), "{out}");
    assert!(out.contains("--accept-guard guard/max-cost"), "{out}");
    let (code, _, _) = run(herald().args(["plan", "--detailed-exitcode"]).arg(dir.path()));
    assert_eq!(code, 1, "a failed guard is not \"changes\"");

    let file = dir.path().join("plan.json");
    let (code, out, err) = run(herald()
        .args(["plan", "--accept-guard", "guard/max-cost", "--out"])
        .arg(&file)
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("--accept-guard guard/max-cost`."), "{out}");
    assert_eq!(read_json(&file)["guards"][0]["status"], "accepted");

    // Accepting at plan time does not carry over: apply accepts on its own.
    let (code, _, err) = run(herald().arg("apply").arg(&file));
    assert_eq!(code, 1);
    assert!(err.contains("--accept-guard guard/max-cost"), "{err}");
    let (code, out, err) = run(herald()
        .arg("apply")
        .arg(&file)
        .args(["--accept-guard", "guard/max-cost"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Accepted guards: guard/max-cost"), "{out}");

    let (code, out, err) = run(herald().args(["state", "history"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("serial 1 "))
        .unwrap_or_else(|| panic!("{out}"));
    let digest = read_json(&file)["digest"].as_str().unwrap()[..19].to_string();
    assert!(
        line.contains(&format!("plan {digest}"))
            && line.contains("33 created")
            && line.contains("accepted: guard/max-cost")
            && line.contains("2026-11-20T09:00:00Z"),
        "{line}"
    );
}

#[test]
fn the_growth_guard_fails_closed_when_the_state_cannot_be_read() {
    let dir = copy_example("boutique-mode");
    let (code, _, err) = run(herald().args(["apply", "--auto-approve"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    // The recorded audiences become unreadable; the rest of the state is fine.
    let conn = rusqlite::Connection::open(dir.path().join(".herald/state.db")).unwrap();
    conn.execute_batch("ALTER TABLE objects DROP COLUMN last_audience")
        .unwrap();
    drop(conn);
    let (code, out, _) = run(herald().arg("plan").arg(dir.path()));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("guard failed")
            && out.contains("cannot read the audiences")
            && out.contains("guard/audience-growth"),
        "{out}"
    );
}

#[test]
fn contacts_in_flight_that_cannot_be_counted_stop_the_plan() {
    let dir = copy_example("saas-b2b");
    assert_eq!(run(herald().args(["apply", "--auto-approve"]).arg(dir.path())).0, 0);
    // A replaced scenario asks the state who is still inside it.
    edit(&dir.path().join("flows.yaml"), "- wait: 3d", "- wait: 4d");
    let conn = rusqlite::Connection::open(dir.path().join(".herald/state.db")).unwrap();
    conn.execute_batch("DROP TABLE enrolments").unwrap();
    drop(conn);
    let (code, out, err) = run(herald().arg("plan").arg(dir.path()));
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("cannot count the contacts in flight"), "{err}");
}

#[test]
fn could_not_run_is_exit_2_except_under_detailed_exitcode() {
    let dir = copy_example("garage-services");
    let missing = dir.path().join("nofile.json");
    let (code, _, err) = run(herald().arg("apply").arg(&missing));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read"), "{err}");
    let not_a_plan = dir.path().join("notes.json");
    std::fs::write(&not_a_plan, "{\"hello\": 1}").unwrap();
    assert_eq!(run(herald().arg("apply").arg(&not_a_plan)).0, 2);
    let nowhere = dir.path().join("nowhere");
    for args in [
        vec!["plan"],
        vec!["apply", "--auto-approve"],
        vec!["state", "list"],
        vec!["state", "history"],
        vec!["force-unlock", "some-id"],
    ] {
        let (code, _, err) = run(herald().args(&args).arg(&nowhere));
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    assert_eq!(
        run(herald().args(["plan", "--detailed-exitcode"]).arg(&nowhere)).0,
        1,
        "2 means changes there"
    );
    for bad in [
        vec!["plan", "--accept-guard", "guard/bogus"],
        vec!["apply", "--accept-guard", "bogus"],
        vec!["plan", "--horizon-days", "99999999"],
    ] {
        let (code, _, err) = run(herald().args(&bad).arg(dir.path()));
        assert_eq!(code, 2, "{bad:?}: {err}");
    }
    let (code, _, _) = run(herald()
        .args(["plan", "--detailed-exitcode", "--horizon-days", "99999999"])
        .arg(dir.path()));
    assert_eq!(code, 1);
}

#[test]
fn unknown_kinds_actions_and_guard_statuses_are_refused_not_guessed() {
    let dir = copy_example("garage-services");
    let file = dir.path().join("plan.json");
    assert_eq!(run(herald().args(["plan", "--out"]).arg(&file).arg(dir.path())).0, 0);
    let pristine = std::fs::read_to_string(&file).unwrap();
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 3] = [
        // Was read as a scenario.
        ("kind", |v| {
            let first = v["objects"].as_object_mut().unwrap().values_mut().next().unwrap();
            first["kind"] = json!("widget");
        }),
        // Any two actions were a replace.
        ("actions", |v| v["changes"][0]["actions"] = json!(["create", "update"])),
        (
            "status",
            |v| v["guards"] = json!([{"code": "guard/max-cost", "status": "maybe", "message": "m"}]),
        ),
    ];
    for (what, change) in edits {
        std::fs::write(&file, &pristine).unwrap();
        reseal(&file, change);
        let (code, _, err) = run(herald().arg("apply").arg(&file));
        assert_eq!(code, 2, "{what}: {err}");
        assert!(err.contains("is not a valid plan file"), "{what}: {err}");
    }
}
