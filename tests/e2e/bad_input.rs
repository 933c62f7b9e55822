//! Hostile and broken input: a clear diagnostic or a one-line exit 2, never a panic.

use super::*;
use insta_cmd::assert_cmd_snapshot;

fn check(dir: &Path) -> (i32, String, String) {
    run(herald().args(["check", "--color=never"]).arg(dir))
}

fn check_json(dir: &Path) -> serde_json::Value {
    let (_, out, _) = run(herald().args(["check", "--format=json"]).arg(dir));
    serde_json::from_str(&out).unwrap()
}

fn codes(v: &serde_json::Value) -> Vec<String> {
    v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn binary_file() {
    let dir = plan(&[
        ("herald.toml", CONFIG),
        ("image.yaml", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0"),
    ]);
    let (code, out, _) = check(dir.path());
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn invalid_utf8() {
    let dir = plan(&[
        ("herald.toml", CONFIG),
        ("latin1.yaml", b"segments:\n  caf\xe9:\n    where: x\n"),
    ]);
    let (code, out, _) = check(dir.path());
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn fifty_mib_file_is_not_read() {
    let dir = plan(&[("herald.toml", CONFIG)]);
    let f = std::fs::File::create(dir.path().join("huge.yaml")).unwrap();
    f.set_len(50 * 1024 * 1024).unwrap();
    let v = check_json(dir.path());
    assert_eq!(codes(&v), ["syntax/too-large"]);
}

#[test]
fn malformed_yaml_and_toml() {
    let dir = plan(&[
        ("herald.toml", b"[project\nname = 1"),
        ("a.yaml", b"segments: [unclosed\n"),
    ]);
    let v = check_json(dir.path());
    assert_eq!(codes(&v), ["syntax/yaml", "syntax/toml"]);
}

#[test]
fn tabs() {
    let dir = plan(&[
        ("herald.toml", CONFIG),
        ("a.yaml", b"segments:\n\tvip:\n\t\twhere: x\n"),
    ]);
    assert_eq!(codes(&check_json(dir.path())), ["syntax/yaml"]);
}

#[test]
fn deep_nesting_and_alias_bomb() {
    let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let mut bomb = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let mut prev = 'a';
    for n in "bcdefghi".chars() {
        bomb.push_str(&format!("{n}: &{n} [{}]\n", vec![format!("*{prev}"); 9].join(",")));
        prev = n;
    }
    let deep_expr = format!(
        "segments:\n  s:\n    where: \"{}a{}\"\n",
        "(".repeat(50_000),
        ")".repeat(50_000)
    );
    let dir = plan(&[
        ("herald.toml", CONFIG),
        ("deep.yaml", deep.as_bytes()),
        ("bomb.yaml", bomb.as_bytes()),
        ("expr.yaml", deep_expr.as_bytes()),
    ]);
    let v = check_json(dir.path());
    let c = codes(&v);
    assert!(c.contains(&"syntax/too-complex".to_string()), "{c:?}");
    assert_eq!(c.iter().filter(|x| *x == "syntax/too-complex").count(), 2, "{c:?}");
    assert!(c.contains(&"syntax/expression".to_string()), "{c:?}");
}

#[test]
fn empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    assert_cmd_snapshot!(herald().args(["check", "--color=never", "."]).current_dir(dir.path()));
}

#[test]
fn hidden_directories_and_state_are_skipped() {
    let dir = plan(&[
        ("herald.toml", CONFIG),
        ("plan.yaml", b"segments: {}\n"),
        (".herald/junk.yaml", b"\0\0\0"),
        (".git/x.yaml", b"not: [valid"),
        ("notes/readme.md", b"not a plan file"),
    ]);
    let (code, out, _) = check(dir.path());
    assert_eq!(code, 0, "{out}");
}

#[test]
fn empty_and_comment_only_files_are_fine() {
    let dir = plan(&[
        ("herald.toml", CONFIG),
        ("empty.yaml", b""),
        ("comments.yml", b"# nothing yet\n"),
    ]);
    assert_eq!(check(dir.path()).0, 0);
}

#[test]
fn a_scalar_document_is_a_schema_error() {
    let dir = plan(&[("herald.toml", CONFIG), ("a.yaml", b"just text\n")]);
    assert_eq!(codes(&check_json(dir.path())), ["schema/invalid-value"]);
}

#[test]
fn secrets_never_reach_the_output() {
    let dir = plan(&[
        (
            "herald.toml",
            b"[project]\nname = \"t\"\ntimezone = \"UTC\"\n[providers.sms]\nkind = \"twilio\"\nauth_token = \"tok_live_SUPERSECRET\"\n",
        ),
        ("a.yaml", b"segments: {}\n"),
    ]);
    for format in ["human", "json", "github"] {
        let (code, out, err) = run(herald().args(["check", "--format", format]).arg(dir.path()));
        assert_eq!(code, 1);
        // Not even the snippet's source line: CI logs are not the user's file.
        assert!(
            !out.contains("SUPERSECRET") && !err.contains("SUPERSECRET"),
            "{format}: {out}"
        );
    }
}
