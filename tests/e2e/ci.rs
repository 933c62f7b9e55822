//! The pull-request workflow of `examples/ci/herald.yml`, run step by step
//! as GitHub Actions would (bash -e, from the repository root) on a copy of
//! an example inside a repository layout: check annotations, journey tests
//! as JUnit, the plan comment and its artifact, then on merge the apply of
//! exactly that artifact. Steps that need GitHub itself (`uses:`, installing
//! herald, posting the comment, fetching the artifact) are stood in for.

use super::*;
use serde_json::Value;
use std::path::Path;

/// GitHub's limit on the body of a pull-request comment, in characters.
const COMMENT_LIMIT: usize = 65_536;

/// The steps only GitHub can run, by id; every other `run:` step is run here.
const STOOD_IN_FOR: [&str; 3] = ["install", "comment", "fetch"];

fn workflow() -> Value {
    let text = std::fs::read_to_string(repo().join("examples/ci/herald.yml")).unwrap();
    serde_saphyr::from_str(&text).expect("the workflow is YAML")
}

/// The `run:` steps of a job, in order: (id, script).
fn steps(wf: &Value, job: &str) -> Vec<(String, String)> {
    let steps = wf["jobs"][job]["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no job {job}"));
    let mut out = Vec::new();
    for s in steps {
        let Some(script) = s["run"].as_str() else {
            assert!(s["uses"].is_string(), "a step runs or uses: {s}");
            continue;
        };
        let id = s["id"].as_str().unwrap_or_else(|| panic!("a run step without id: {s}"));
        out.push((id.to_string(), script.to_string()));
    }
    out
}

/// Run one step's script from the repository root, as Actions does.
fn step(root: &Path, wf: &Value, script: &str) -> (i32, String, String) {
    assert!(!script.contains("${{"), "a step run here uses an expression: {script}");
    let plan_dir = wf["env"]["PLAN_DIR"].as_str().unwrap();
    run(shell(script).current_dir(root).env("PLAN_DIR", plan_dir))
}

/// The repository: the example at PLAN_DIR and the workflow under .github.
fn repository(wf: &Value) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let plan = root.path().join(wf["env"]["PLAN_DIR"].as_str().unwrap());
    copy_dir(&example("boutique-mode"), &plan);
    let _ = std::fs::remove_dir_all(plan.join(".herald"));
    std::fs::create_dir_all(root.path().join(".github/workflows")).unwrap();
    std::fs::copy(
        repo().join("examples/ci/herald.yml"),
        root.path().join(".github/workflows/herald.yml"),
    )
    .unwrap();
    root
}

#[test]
fn the_pull_request_workflow_runs_end_to_end() {
    let wf = workflow();
    let root = repository(&wf);
    let r = root.path();
    let plan_dir = wf["env"]["PLAN_DIR"].as_str().unwrap().to_string();
    let pr = steps(&wf, "pull-request");
    let ids: Vec<&str> = pr.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["install", "check", "test", "plan", "split", "comment"]);

    // A pull request with a mistake: check fails the job, and its
    // annotations name files from the repository root.
    let scenarios = r.join(&plan_dir).join("scenarios.yaml");
    let good = std::fs::read_to_string(&scenarios).unwrap();
    std::fs::write(&scenarios, good.replace("phone is set", "phone_number is set")).unwrap();
    let (code, out, _) = step(r, &wf, &pr[1].1);
    assert_eq!(code, 1, "{out}");
    let annotations: Vec<&str> = out.lines().filter(|l| l.starts_with("::")).collect();
    assert!(!annotations.is_empty(), "{out}");
    for a in &annotations {
        let file = a.split("file=").nth(1).and_then(|s| s.split(',').next()).unwrap();
        assert!(
            r.join(file).is_file(),
            "annotation on {file}, not a file of the repository: {a}"
        );
    }
    assert!(
        annotations
            .iter()
            .any(|a| a.starts_with(&format!("::error file={plan_dir}/scenarios.yaml,line=29,"))),
        "{out}"
    );
    std::fs::write(&scenarios, &good).unwrap();

    // The fixed pull request: every step passes.
    for (id, script) in &pr {
        if STOOD_IN_FOR.contains(&id.as_str()) {
            continue;
        }
        let (code, out, err) = step(r, &wf, script);
        assert_eq!(code, 0, "step {id} failed:\n{out}{err}");
        match id.as_str() {
            "check" => assert!(!out.contains("::error"), "{out}"),
            "test" => {
                let xml = std::fs::read_to_string(r.join("herald-junit.xml")).unwrap();
                let doc = roxmltree::Document::parse(&xml).expect("valid JUnit XML");
                assert_eq!(doc.root_element().attribute("tests"), Some("13"));
                assert_eq!(doc.root_element().attribute("failures"), Some("0"));
                for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
                    let file = case.attribute("file").unwrap();
                    assert!(file.starts_with(&format!("{plan_dir}/tests/")), "{file}");
                    assert!(r.join(file).is_file(), "{file}");
                }
            }
            "plan" => assert!(r.join("plan.json").is_file()),
            _ => {}
        }
    }

    // The comment: each part within GitHub's limit, saying what changes and
    // who receives what.
    let mut parts: Vec<_> = std::fs::read_dir(r)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("comment-"))
        .collect();
    parts.sort();
    assert!(!parts.is_empty());
    let mut comment = String::new();
    for p in &parts {
        let body = std::fs::read_to_string(p).unwrap();
        assert!(body.chars().count() <= COMMENT_LIMIT, "{} is too long", p.display());
        assert!(!body.contains("herald:split"), "{body}");
        comment.push_str(&body);
    }
    assert!(
        comment.contains("**33 to create, 0 to update, 0 to delete**"),
        "{comment}"
    );
    assert!(comment.contains("1,072 recipients"), "{comment}");
    assert!(
        comment.contains("| create | `scenarios.birthday` | 1,262 | 90 | email 75, sms 15 |"),
        "{comment}"
    );
    assert!(!comment.contains('@'), "no address in a comment");

    // Merge: a fresh checkout gets the artifact, and apply takes exactly it.
    let artifact = tempfile::tempdir().unwrap();
    std::fs::rename(r.join("plan.json"), artifact.path().join("plan.json")).unwrap();
    for f in ["plan.md", "herald-junit.xml"] {
        std::fs::remove_file(r.join(f)).unwrap();
    }
    let apply = steps(&wf, "apply");
    let ids: Vec<&str> = apply.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["install", "fetch", "apply"]);
    let fetch = || std::fs::copy(artifact.path().join("plan.json"), r.join("plan.json")).unwrap();

    // Not the reviewed files (a commit after the plan): refused, nothing applied.
    let messages = r.join(&plan_dir).join("messages.yaml");
    let reviewed = std::fs::read_to_string(&messages).unwrap();
    std::fs::write(
        &messages,
        reviewed.replacen("Vous avez oublié quelque chose ?", "Oublié ?", 1),
    )
    .unwrap();
    fetch();
    let (code, _, err) = step(r, &wf, &apply[2].1);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("changed since `plan.json` was made"), "{err}");
    std::fs::write(&messages, &reviewed).unwrap();

    let (code, out, err) = step(r, &wf, &apply[2].1);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Apply complete! 33 created, 0 updated, 0 replaced, 0 deleted. State serial 1."),
        "{out}"
    );
    // Once only: the same artifact again is stale.
    let (code, _, err) = step(r, &wf, &apply[2].1);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is stale"), "{err}");
}
