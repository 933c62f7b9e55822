//! Exit codes of the CLI itself, `explain`, `schema`, `init`, `contacts generate`.

use super::*;
use herald_compiler::diagnostic::Code;
use insta_cmd::assert_cmd_snapshot;

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let (code, _, err) = run(herald().args(["check", "--frobnicate"]));
    assert_eq!(code, 2);
    assert!(err.contains("--frobnicate"), "{err}");
    assert_eq!(run(herald().args(["check", "--format", "xml"])).0, 2);
    assert_eq!(run(herald().arg("launch")).0, 2);
    assert_eq!(run(&mut herald()).0, 0, "no subcommand prints help");
    assert_eq!(run(herald().arg("--help")).0, 0);
    assert_eq!(run(herald().arg("--version")).0, 0);
}

#[test]
fn a_missing_directory_exits_2_with_one_line() {
    let (code, out, err) = run(herald().args(["check", "/nonexistent/plan"]));
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: `/nonexistent/plan` does not exist"), "{err}");
}

#[test]
fn a_file_instead_of_a_directory_exits_2() {
    let (code, _, err) = run(herald().arg("check").arg(example("boutique-mode").join("herald.toml")));
    assert_eq!(code, 2);
    assert!(err.contains("is not a directory"), "{err}");
}

#[test]
fn explain_prints_every_code() {
    for code in Code::ALL {
        let (status, out, _) = run(herald().args(["explain", code.as_str()]));
        assert_eq!(status, 0);
        assert!(out.starts_with(&format!("# {code}")), "{out}");
    }
    let (status, out, _) = run(herald().arg("explain"));
    assert_eq!(status, 0);
    assert_eq!(out.lines().filter(|l| l.starts_with("  ")).count(), Code::ALL.len());
}

#[test]
fn explain_unknown_code_suggests() {
    assert_cmd_snapshot!(herald().args(["explain", "reference/unknown-feild"]));
}

#[test]
fn schema_prints_the_checked_in_schema() {
    let (code, out, _) = run(herald().arg("schema"));
    assert_eq!(code, 0);
    let on_disk = std::fs::read_to_string(repo().join("schema/herald.schema.json")).unwrap();
    assert_eq!(out, on_disk, "run `herald schema > schema/herald.schema.json`");
    let (_, out, _) = run(herald().args(["schema", "--config"]));
    let on_disk = std::fs::read_to_string(repo().join("schema/herald-toml.schema.json")).unwrap();
    assert_eq!(out, on_disk);
}

#[test]
fn init_then_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("my-plan");
    let (code, out, _) = run(herald().arg("init").arg(&target));
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = run(herald().arg("check").arg(&target));
    assert_eq!(code, 0, "{out}");
    assert!(target.join("data/contacts.csv").exists());
    assert!(target.join("herald.schema.json").exists());
    let toml = std::fs::read_to_string(target.join("herald.toml")).unwrap();
    assert!(toml.contains("name = \"my-plan\""));
    // It sends on a fresh machine: the embedded outbox, no server.
    let (code, out, err) = run(herald().args(["apply", "--auto-approve", "--dir"]).arg(&target));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(herald()
        .args(["run", "--once", "--until", "2026-12-31T00:00:00Z"])
        .arg(&target));
    assert_eq!(code, 0, "{out}{err}");
    let emails = std::fs::read_dir(target.join(".herald/outbox/email")).map_or(0, |d| d.count());
    assert!(emails > 0, "{out}");
    // A second init refuses to overwrite.
    let (code, _, err) = run(herald().arg("init").arg(&target));
    assert_eq!(code, 2);
    assert!(err.contains("already holds a plan"), "{err}");
}

#[test]
fn generated_contacts_are_deterministic_and_match_the_examples() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.csv");
    let (code, _, err) = run(herald()
        .args(["contacts", "generate"])
        .arg(example("garage-services"))
        .args(["--count", "800", "--seed", "33", "--out"])
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    let generated = std::fs::read_to_string(&out).unwrap();
    let committed = std::fs::read_to_string(example("garage-services").join("data/contacts.csv")).unwrap();
    assert!(
        generated == committed,
        "examples/garage-services/data/contacts.csv is not what the generator gives"
    );
}
