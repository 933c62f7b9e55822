//! Credentials written in herald.toml never reach any output: not the
//! message, label or help of a diagnostic, and not the source line of its
//! snippet, in any format.

use super::*;

const HEAD: &str = "[project]\nname = \"t\"\ntimezone = \"UTC\"\n";

/// herald.toml bodies, each holding a credential whose text contains `LEAK`.
fn cases() -> Vec<(&'static str, String)> {
    vec![
        (
            "quoted",
            format!("{HEAD}[providers.sms]\nkind = \"twilio\"\nauth_token = \"tok_live_LEAK_1\"\n"),
        ),
        (
            "not an env name",
            format!("{HEAD}[providers.sms]\nkind = \"twilio\"\nauth_token = \"env:sk_live-LEAK_2\"\n"),
        ),
        (
            "unquoted number",
            format!(
                "{HEAD}[providers.email]\nkind = \"smtp\"\nhost = \"h\"\nfrom = \"a@b.test\"\npassword = 774411990033\n"
            ),
        ),
        (
            "unquoted word",
            format!(
                "{HEAD}[providers.email]\nkind = \"smtp\"\nhost = \"h\"\nfrom = \"a@b.test\"\npassword = hunter2LEAK\n"
            ),
        ),
        (
            "inline table",
            format!("{HEAD}[providers]\nsms = {{ kind = \"twilio\", auth_token = \"LEAK_inline\" }}\n"),
        ),
        (
            "multi-line string",
            format!("{HEAD}[state]\nurl = \"\"\"postgres://u:LEAK_3@db\nLEAK_4\"\"\"\n"),
        ),
        (
            "very long",
            format!(
                "{HEAD}[providers.push]\nkind = \"fcm\"\ncredentials = \"{}\"\n",
                "LEAK".repeat(40)
            ),
        ),
    ]
}

fn leaked(text: &str) -> bool {
    ["LEAK", "774411990033", "74411990", "sk_live", "hunter2"]
        .iter()
        .any(|s| text.contains(s))
}

#[test]
fn a_credential_is_never_shown_in_any_format() {
    for (name, toml) in cases() {
        let dir = plan(&[("herald.toml", toml.as_bytes()), ("a.yaml", b"segments: {}\n")]);
        for format in ["human", "json", "github"] {
            let (code, out, err) = run(herald()
                .args(["check", "--color=never", "--format", format])
                .arg(dir.path()));
            assert_eq!(code, 1, "{name}/{format}: {out}{err}");
            assert!(!leaked(&out) && !leaked(&err), "{name}/{format} leaks:\n{out}{err}");
            if format == "human" {
                // The snippet is still shown, with the value masked.
                assert!(out.contains("herald.toml:"), "{name}: {out}");
                assert!(out.contains("***"), "{name}: the value is masked\n{out}");
            }
        }
    }
}

#[test]
fn an_env_reference_stays_visible_in_snippets() {
    // `env:NAME` is not a secret: a snippet near it shows it as written.
    let toml = format!(
        "{HEAD}[providers.sms]\nkind = \"twilio\"\nauth_token = \"env:TWILIO_TOKEN\"\ncost_per_segment = \"cheap\"\n"
    );
    let dir = plan(&[("herald.toml", toml.as_bytes()), ("a.yaml", b"segments: {}\n")]);
    let (code, out, _) = run(herald().args(["check", "--color=never"]).arg(dir.path()));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("auth_token = \"env:TWILIO_TOKEN\""), "{out}");
}

#[test]
fn the_language_server_does_not_repeat_a_credential_either() {
    let toml = format!("{HEAD}[providers.sms]\nkind = \"twilio\"\nauth_token = \"env:sk_live-LEAK_5\"\n");
    let dir = plan(&[("herald.toml", toml.as_bytes()), ("a.yaml", b"segments: {}\n")]);
    let mut c = crate::lsp_client::Client::start(herald().arg("lsp"));
    let u = format!("file://{}", dir.path().join("a.yaml").display());
    c.open(&u, "segments: {}\n");
    let toml_uri = format!("file://{}", dir.path().join("herald.toml").display());
    let ds = c.diagnostics(&toml_uri);
    assert!(!ds.is_empty());
    assert!(!leaked(&serde_json::to_string(&ds).unwrap()), "{ds:?}");
    c.shutdown();
}
