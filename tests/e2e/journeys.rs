//! `herald test`: journey tests run by the binary on the examples and on
//! broken copies — output, formats, exit codes, filter and coverage.

use super::*;

/// A copy of boutique-mode whose cart email waits two hours instead of one,
/// so the cart tests fail.
fn slow_cart() -> tempfile::TempDir {
    let dir = copy_example("boutique-mode");
    let path = dir.path().join("scenarios.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("      - wait: 1h\n"));
    std::fs::write(&path, text.replacen("      - wait: 1h\n", "      - wait: 2h\n", 1)).unwrap();
    dir
}

#[test]
fn every_example_passes_and_reaches_every_step_and_branch() {
    for (name, count) in [("boutique-mode", 13), ("garage-services", 6), ("saas-b2b", 8)] {
        let (code, out, err) = run(herald().arg("test").arg(example(name)).arg("--coverage"));
        assert_eq!(code, 0, "{name}: {out}{err}");
        assert!(
            out.contains(&format!("test result: ok. {count} passed; 0 failed; 0 filtered out")),
            "{name}: {out}"
        );
        let line = out
            .lines()
            .find(|l| l.starts_with("coverage: "))
            .expect("a coverage line");
        let figures: Vec<&str> = line.split_whitespace().collect();
        // `coverage: R of P steps and branches of N scenarios reached`
        assert_eq!(figures[1], figures[3], "{name} leaves steps unreached:\n{out}");
        assert!(!out.contains("not reached"), "{name}: {out}");
    }
}

#[test]
fn human_output_of_a_passing_run() {
    let (code, out, err) = run(herald()
        .arg("test")
        .arg("--coverage")
        .current_dir(example("garage-services")));
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!(out);
}

#[test]
fn human_output_of_a_failing_run() {
    let dir = slow_cart();
    let (code, out, err) = run(herald()
        .arg("test")
        .args(["--filter", "cart_email_"])
        .current_dir(dir.path()));
    assert_eq!(code, 1, "{out}{err}");
    insta::assert_snapshot!(out);
}

#[test]
fn a_failure_shows_expected_and_actual_side_by_side() {
    let dir = slow_cart();
    let (code, out, _) = run(herald().arg("test").arg(dir.path()));
    assert_eq!(code, 1);
    assert!(out.contains("test cart_email_then_sms ... FAILED"), "{out}");
    assert!(out.contains("test welcome_two_emails ... ok"), "{out}");
    assert!(
        out.contains("test result: FAILED. 9 passed; 4 failed; 0 filtered out"),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("✗ send cart_email at Tue 2026-11-17 10:05") && l.contains(" | "))
        .unwrap_or_else(|| panic!("no side-by-side row:\n{out}"));
    assert!(
        row.ends_with("Tue 2026-11-17 09:05  event cart_abandoned (cart_value: 80)"),
        "{row}"
    );
    assert!(
        out.contains("(tests/cart.yaml:13): not sent then: sent at Tue 2026-11-17 11:05"),
        "{out}"
    );
}

#[test]
fn filter_runs_only_the_matching_tests() {
    let (code, out, _) = run(herald()
        .arg("test")
        .arg(example("boutique-mode"))
        .args(["--filter", "welcome"]));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("running 3 tests"), "{out}");
    assert!(
        out.contains("test result: ok. 3 passed; 0 failed; 10 filtered out"),
        "{out}"
    );
    assert!(!out.contains("cart_"), "{out}");
}

#[test]
fn coverage_lists_what_no_test_reaches() {
    let (code, out, _) =
        run(herald()
            .arg("test")
            .arg(example("garage-services"))
            .args(["--filter", "survey_by_email", "--coverage"]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("coverage: 4 of 12 steps and branches of 3 scenarios reached"),
        "{out}"
    );
    assert!(out.contains("  scenarios.car_ready (scenarios.yaml:3)"), "{out}");
    assert!(
        out.contains("    step 0 `send: car_ready_sms`: not reached (scenarios.yaml:9)"),
        "{out}"
    );
    assert!(
        out.contains("    step 1 `if: email is set`: its condition always held (the `else` way) (scenarios.yaml:31)"),
        "{out}"
    );
    assert!(!out.contains("`send: survey_email`"), "survey_email is reached:\n{out}");
}

#[test]
fn junit_is_valid_xml_with_one_case_per_test() {
    let dir = slow_cart();
    let (code, out, err) = run(herald().arg("test").arg(dir.path()).args(["--format", "junit"]));
    assert_eq!(code, 1, "{err}");
    let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("invalid XML ({e}):\n{out}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("13"));
    assert_eq!(root.attribute("failures"), Some("4"));
    let cases: Vec<_> = root.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 13);
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap())
        .collect();
    assert_eq!(
        failed,
        [
            "cart_email_then_sms",
            "cart_email_opened",
            "cart_email_only_without_sms_consent",
            "cart_sms_waits_for_monday"
        ]
    );
    let first = cases[0];
    assert_eq!(first.attribute("classname"), Some("tests/cart.yaml"));
    assert_eq!(first.attribute("line"), Some("5"));
    let failure = first.children().find(|n| n.has_tag_name("failure")).unwrap();
    assert_eq!(failure.attribute("message"), Some("2 of 3 expectations failed"));
    assert!(
        failure
            .text()
            .unwrap()
            .contains("not sent then: sent at Tue 2026-11-17 11:05")
    );

    // A passing run: no failure element, exit 0.
    let (code, out, _) = run(herald()
        .arg("test")
        .arg(example("saas-b2b"))
        .args(["--format", "junit"]));
    assert_eq!(code, 0);
    let doc = roxmltree::Document::parse(&out).unwrap();
    assert_eq!(doc.root_element().attribute("failures"), Some("0"));
    assert!(!doc.descendants().any(|n| n.has_tag_name("failure")));
}

#[test]
fn json_has_the_documented_shape() {
    let dir = slow_cart();
    let (code, out, _) = run(herald()
        .arg("test")
        .arg(dir.path())
        .args(["--format", "json", "--coverage"]));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format_version"], "1");
    assert_eq!(v["passed"], 9);
    assert_eq!(v["failed"], 4);
    assert_eq!(v["filtered_out"], 0);
    let t = &v["tests"][0];
    assert_eq!(t["name"], "cart_email_then_sms");
    assert_eq!(t["file"], "tests/cart.yaml");
    assert_eq!(t["passed"], false);
    assert_eq!(t["time_zone"], "Europe/Paris");
    assert_eq!(t["expectations"][0]["passed"], false);
    assert_eq!(t["expectations"][2]["passed"], true);
    assert_eq!(t["timeline"][2]["at"], "2026-11-17T10:05:00Z");
    assert_eq!(t["timeline"][2]["local"], "Tue 2026-11-17 11:05");
    assert_eq!(v["coverage"]["points"], 24);
    assert_eq!(v["coverage"]["gaps"], serde_json::json!([]));
}

#[test]
fn a_test_naming_an_unknown_message_cannot_run_and_check_reports_it() {
    let dir = copy_example("garage-services");
    std::fs::write(
        dir.path().join("tests/typo.yaml"),
        "tests:\n  typo:\n    start: 2026-11-17T09:00\n    contact: { id: x, phone: \"+33612345678\" }\n    expect:\n      - { send: car_redy_sms }\n",
    )
    .unwrap();
    let (code, out, err) = run(herald().arg("test").arg(dir.path()).args(["--format", "junit"]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "stdout stays empty for tools: {out}");
    assert!(err.contains("reference/unknown-message"), "{err}");
    assert!(err.contains("car_ready_sms"), "a suggestion: {err}");

    let (code, out, _) = run(herald().arg("check").arg(dir.path()).args(["--format", "json"]));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let d = &v["diagnostics"][0];
    assert_eq!(d["code"], "reference/unknown-message");
    assert_eq!(d["file"], "tests/typo.yaml");
}

#[test]
fn no_plan_is_could_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(herald().arg("test").arg(dir.path()));
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("herald.toml"), "{err}");
}
