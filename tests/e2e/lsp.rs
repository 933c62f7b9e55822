//! `herald lsp` driven over stdio by a real JSON-RPC client (this file):
//! Content-Length framing, initialize/shutdown, documents opened and edited
//! without saving, and every feature the editors use.

use super::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::lsp_client::Client;

fn start() -> Client {
    Client::start(herald().arg("lsp"))
}

pub fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Line and UTF-16 column of the first occurrence of `needle` (plus `skip` characters).
fn position(text: &str, needle: &str, skip: usize) -> Value {
    let at = text.find(needle).unwrap_or_else(|| panic!("{needle:?} not found")) + skip;
    let line = text[..at].matches('\n').count();
    let col: usize = text[text[..at].rfind('\n').map_or(0, |i| i + 1)..at]
        .encode_utf16()
        .count();
    json!({ "line": line, "character": col })
}

fn at(uri: &str, pos: Value) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": pos })
}

#[test]
fn diagnostics_follow_unsaved_edits_with_exact_ranges_and_clear_when_fixed() {
    let dir = copy_example("boutique-mode");
    let path = dir.path().join("segments.yaml");
    let u = uri(&path);
    let on_disk = std::fs::read_to_string(&path).unwrap();
    let mut c = start();

    c.open(&u, &on_disk);
    // A clean plan publishes nothing for this file... so make an unsaved typo.
    let typo = on_disk.replace(r#"region == "IDF""#, r#"regoin == "IDF""#);
    c.change(&u, 2, &typo);
    let ds = c.diagnostics(&u);
    assert_eq!(ds.len(), 1, "{ds:#?}");
    let d = &ds[0];
    assert_eq!(d["code"], "reference/unknown-field");
    assert_eq!(d["severity"], 1);
    assert_eq!(d["source"], "herald");
    assert!(d["message"].as_str().unwrap().contains("did you mean `region`?"), "{d}");
    let start = position(&typo, "regoin", 0);
    assert_eq!(d["range"]["start"], start);
    assert_eq!(d["range"]["end"]["character"], start["character"].as_u64().unwrap() + 6);
    // The file on disk is untouched: the buffer overrides it.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), on_disk);

    // Fixed in the buffer: the diagnostics are cleared.
    c.change(&u, 3, &on_disk);
    assert_eq!(c.diagnostics(&u), Vec::<Value>::new());

    // An error inside a double-quoted scalar with escapes, on a later line.
    let quoted = on_disk.replace(
        "where: phone is set and consent(sms_marketing)",
        "where: \"phone is set and \\u0063onsent(sms_marketin)\"",
    );
    c.change(&u, 4, &quoted);
    let ds = c.diagnostics(&u);
    assert_eq!(ds[0]["code"], "reference/unknown-consent", "{ds:#?}");
    assert_eq!(ds[0]["range"]["start"], position(&quoted, "sms_marketin)", 0));
    c.shutdown();
}

#[test]
fn files_changed_on_disk_are_picked_up_when_the_editor_says_so() {
    let dir = copy_example("garage-services");
    let messages = dir.path().join("messages.yaml");
    let scenarios = dir.path().join("scenarios.yaml");
    let text = std::fs::read_to_string(&scenarios).unwrap();
    let mut c = start();
    c.open(&uri(&scenarios), &text);
    // Hover answers once the plan is compiled.
    c.request(
        "textDocument/hover",
        at(&uri(&scenarios), json!({ "line": 0, "character": 0 })),
    );
    // Another tool renames every message on disk; the open file now sends unknown messages.
    let m = std::fs::read_to_string(&messages).unwrap();
    std::fs::write(&messages, m.replace("_sms:", "_text:")).unwrap();
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": uri(&messages), "type": 2 }] }),
    );
    let ds = c.diagnostics(&uri(&scenarios));
    assert!(ds.iter().any(|d| d["code"] == "reference/unknown-message"), "{ds:#?}");
    c.shutdown();
}

#[test]
fn problems_in_other_files_and_in_templates_are_published_for_those_files() {
    let dir = copy_example("boutique-mode");
    let messages = dir.path().join("messages.yaml");
    let campaigns = dir.path().join("campaigns.yaml");
    let mut c = start();
    // Renaming a message in an unsaved buffer breaks the campaign that sends it.
    let text = std::fs::read_to_string(&messages).unwrap();
    c.open(&uri(&messages), &text);
    let renamed = text.replace("  vip_early_access:\n", "  vip_early_acess:\n");
    c.change(&uri(&messages), 2, &renamed);
    let ds = c.diagnostics(&uri(&campaigns));
    assert!(ds.iter().any(|d| d["code"] == "reference/unknown-message"), "{ds:#?}");

    // A template syntax error in an .mjml file: at its line.
    let mjml = dir.path().join("templates/welcome.mjml");
    let t = std::fs::read_to_string(&mjml).unwrap();
    let broken = t.replacen("{{", "{{ contact.first_name |", 1);
    c.open(&uri(&mjml), &broken);
    let ds = c.diagnostics(&uri(&mjml));
    assert!(!ds.is_empty());
    assert_eq!(
        ds[0]["range"]["start"]["line"],
        position(&broken, "{{ contact.first_name |", 0)["line"]
    );
    c.shutdown();
}

#[test]
fn hover_and_go_to_definition_on_names() {
    let dir = copy_example("boutique-mode");
    let campaigns = dir.path().join("campaigns.yaml");
    let text = std::fs::read_to_string(&campaigns).unwrap();
    let u = uri(&campaigns);
    let mut c = start();
    c.open(&u, &text);

    let h = c.request("textDocument/hover", at(&u, position(&text, "segment(vip)", 9)));
    let v = h["contents"]["value"].as_str().unwrap();
    assert!(v.contains("**segment** `vip`"), "{v}");
    assert!(v.contains(r#"loyalty_tier == "gold" or total_spent >= 1000"#), "{v}");

    let h = c.request(
        "textDocument/hover",
        at(&u, position(&text, "consent(email_marketing)", 9)),
    );
    let v = h["contents"]["value"].as_str().unwrap();
    assert!(v.contains("email channel") && v.contains("every topic"), "{h}");

    // A message: channel, purpose, and for SMS the encoding and segments.
    let h = c.request(
        "textDocument/hover",
        at(&u, position(&text, "message: black_friday_sms", 10)),
    );
    let v = h["contents"]["value"].as_str().unwrap();
    assert!(v.contains("sms message, marketing"), "{v}");
    assert!(v.contains("GSM-7") && v.contains("segment"), "{v}");

    let def = c.request("textDocument/definition", at(&u, position(&text, "segment(vip)", 9)));
    let segments = std::fs::read_to_string(dir.path().join("segments.yaml")).unwrap();
    assert_eq!(def["uri"], uri(&dir.path().join("segments.yaml")));
    assert_eq!(def["range"]["start"], position(&segments, "  vip:", 2));

    let def = c.request(
        "textDocument/definition",
        at(&u, position(&text, "message: vip_early_access", 10)),
    );
    assert_eq!(def["uri"], uri(&dir.path().join("messages.yaml")));

    // An event property, in a scenario trigger.
    let scenarios = dir.path().join("scenarios.yaml");
    let st = std::fs::read_to_string(&scenarios).unwrap();
    c.open(&uri(&scenarios), &st);
    let h = c.request(
        "textDocument/hover",
        at(&uri(&scenarios), position(&st, "event.cart_value", 8)),
    );
    let v = h["contents"]["value"].as_str().unwrap();
    assert!(
        v.contains("`cart_value`") && v.contains("`cart_abandoned` (number)"),
        "{v}"
    );

    // Nothing there: null, not an error.
    let none = c.request("textDocument/hover", at(&u, json!({ "line": 0, "character": 0 })));
    assert_eq!(none, Value::Null);
    c.shutdown();
}

fn labels(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn completion_offers_the_names_allowed_where_the_cursor_is() {
    let dir = copy_example("boutique-mode");
    let campaigns = dir.path().join("campaigns.yaml");
    let text = std::fs::read_to_string(&campaigns).unwrap();
    let u = uri(&campaigns);
    let mut c = start();
    let edited = text
        .replace(
            "audience: segment(vip) and consent(email_marketing)",
            "audience: segment(v) and consent(em) and reg",
        )
        .replace(
            "audience: segment(idf_shoes) and consent(push_marketing)",
            "audience: count(ca, within 30d) >= 1 and opened(wel",
        );
    c.open(&u, &edited);

    let items = c.request("textDocument/completion", at(&u, position(&edited, "segment(v)", 9)));
    let l = labels(&items);
    for s in ["vip", "lapsed", "recent_buyers", "idf_shoes", "sms_reachable"] {
        assert!(l.contains(&s.to_string()), "{l:?}");
    }
    assert!(!l.contains(&"region".to_string()), "{l:?}");

    let mut l = labels(&c.request("textDocument/completion", at(&u, position(&edited, "consent(em)", 10))));
    l.sort();
    assert_eq!(l, ["email_marketing", "push_marketing", "sms_marketing"]);

    let l = labels(&c.request("textDocument/completion", at(&u, position(&edited, "count(ca", 8))));
    assert!(l.contains(&"cart_abandoned".to_string()), "{l:?}");
    let l = labels(&c.request("textDocument/completion", at(&u, position(&edited, "opened(wel", 10))));
    assert!(l.contains(&"welcome_email".to_string()), "{l:?}");

    let l = labels(&c.request("textDocument/completion", at(&u, position(&edited, "and reg", 7))));
    assert!(
        l.contains(&"region".to_string()) && l.contains(&"segment".to_string()),
        "{l:?}"
    );

    let l = labels(&c.request(
        "textDocument/completion",
        at(&u, position(&edited, "message: shoes_drop_push", 12)),
    ));
    assert!(l.contains(&"shoes_drop_push".to_string()), "{l:?}");

    // `contact.` in a template file.
    let mjml = dir.path().join("templates/welcome.mjml");
    let t = std::fs::read_to_string(&mjml)
        .unwrap()
        .replacen("<mj-text>", "<mj-text>{{ contact.", 1);
    c.open(&uri(&mjml), &t);
    let l = labels(&c.request(
        "textDocument/completion",
        at(&uri(&mjml), position(&t, "{{ contact.", 11)),
    ));
    assert!(
        l.contains(&"first_name".to_string()) && l.contains(&"id".to_string()),
        "{l:?}"
    );
    c.shutdown();
}

/// The code actions offered at a position.
fn code_actions(c: &mut Client, uri: &str, at: &Value) -> Value {
    c.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": uri }, "range": { "start": at, "end": at }, "context": { "diagnostics": [] } }),
    )
}

#[test]
fn code_actions_fix_typos_and_add_the_missing_consent() {
    let dir = copy_example("boutique-mode");
    let campaigns = dir.path().join("campaigns.yaml");
    let text = std::fs::read_to_string(&campaigns).unwrap();
    let u = uri(&campaigns);
    let mut c = start();
    let edited = text
        .replace(
            "segment(vip) and consent(email_marketing)",
            "segment(vipp) and consent(email_marketing)",
        )
        .replace(
            "audience: segment(sms_reachable) and not consent(email_marketing) and segment(recent_buyers)",
            "audience: not consent(email_marketing) or segment(recent_buyers)",
        );
    c.open(&u, &edited);
    let _ = c.diagnostics(&u);

    let typo = position(&edited, "vipp", 0);
    let actions = code_actions(&mut c, &u, &typo);
    let a = &actions[0];
    assert_eq!(a["title"], "Replace with `vip`", "{actions:#}");
    assert_eq!(a["kind"], "quickfix");
    let edit = &a["edit"]["changes"][&u][0];
    assert_eq!(edit["newText"], "vip");
    assert_eq!(edit["range"]["start"], typo);

    let send = position(&edited, "message: black_friday_sms", 9);
    let actions = code_actions(&mut c, &u, &send);
    let a = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"].as_str().unwrap().contains("consent(sms_marketing)"))
        .unwrap_or_else(|| panic!("{actions:#}"));
    // An `or` audience is wrapped before the consent is added.
    let edits = a["edit"]["changes"][&u].as_array().unwrap();
    let texts: Vec<&str> = edits.iter().map(|e| e["newText"].as_str().unwrap()).collect();
    assert_eq!(texts, ["(", ") and consent(sms_marketing)"]);
    assert_eq!(
        edits[0]["range"]["start"],
        position(&edited, "not consent(email_marketing) or", 0)
    );
    c.shutdown();
}

#[test]
fn a_file_outside_any_plan_and_unknown_requests_do_not_break_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let stray = dir.path().join("notes.yaml");
    std::fs::write(&stray, "a: 1\n").unwrap();
    let mut c = start();
    c.open(&uri(&stray), "a: [1\n");
    let h = c.request(
        "textDocument/hover",
        at(&uri(&stray), json!({ "line": 0, "character": 0 })),
    );
    assert_eq!(h, Value::Null);
    // An unknown method gets a JSON-RPC error, and the server keeps going.
    let err = c.request_raw("herald/unknown", json!({}), Duration::from_secs(10));
    assert_eq!(err["error"]["code"], -32601);
    c.shutdown();
}

#[test]
fn test_files_get_diagnostics_and_completion_of_their_names() {
    let dir = copy_example("boutique-mode");
    let path = dir.path().join("tests/cart.yaml");
    let u = uri(&path);
    let on_disk = std::fs::read_to_string(&path).unwrap();
    let mut c = start();
    c.open(&u, &on_disk);
    let typo = on_disk.replacen("send: cart_email }", "send: cart_emial }", 1);
    c.change(&u, 2, &typo);
    let ds = c.diagnostics(&u);
    assert_eq!(ds.len(), 1, "{ds:#?}");
    assert_eq!(ds[0]["code"], "reference/unknown-message");
    assert_eq!(ds[0]["range"]["start"], position(&typo, "cart_emial", 0));
    c.change(&u, 3, &on_disk);
    assert_eq!(c.diagnostics(&u), Vec::<Value>::new());

    let l = labels(&c.request(
        "textDocument/completion",
        at(&u, position(&on_disk, "send: cart_email", 10)),
    ));
    assert!(
        l.contains(&"cart_email".to_string()) && l.contains(&"birthday_sms".to_string()),
        "{l:?}"
    );
    let l = labels(&c.request(
        "textDocument/completion",
        at(&u, position(&on_disk, "never: birthday_email", 7)),
    ));
    assert!(l.contains(&"birthday_email".to_string()), "{l:?}");
    let l = labels(&c.request(
        "textDocument/completion",
        at(&u, position(&on_disk, "event: cart_abandoned", 9)),
    ));
    assert!(
        l.contains(&"cart_abandoned".to_string()) && l.contains(&"purchase".to_string()),
        "{l:?}"
    );
    assert!(!l.contains(&"cart_email".to_string()), "{l:?}");
    let mut l = labels(&c.request(
        "textDocument/completion",
        at(&u, position(&on_disk, "sms_marketing] }", 2)),
    ));
    l.sort();
    assert_eq!(l, ["email_marketing", "push_marketing", "sms_marketing"]);
    let l = labels(&c.request(
        "textDocument/completion",
        at(&u, position(&on_disk, "exit: cart_abandonment", 8)),
    ));
    assert!(
        l.contains(&"cart_abandonment".to_string()) && l.contains(&"birthday".to_string()),
        "{l:?}"
    );
    c.shutdown();
}

/// What the editor shows after edits — the diagnostics published, each
/// file's last list — is what `herald check` says of the edited plan, every
/// file included (the server reuses the work of unchanged files).
#[test]
fn diagnostics_after_edits_are_those_of_herald_check() {
    let dir = copy_example("boutique-mode");
    let messages = dir.path().join("messages.yaml");
    let segments = dir.path().join("segments.yaml");
    let mut c = start();
    let mut shown: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut texts = BTreeMap::new();
    for path in [&messages, &segments] {
        let text = std::fs::read_to_string(path).unwrap();
        c.open(&uri(path), &text);
        texts.insert(path.clone(), text);
    }
    // Each edit in turn, on top of the earlier ones: a renamed message (its
    // campaign breaks in another file), a typo in a segment, then a fix.
    let edits: [(&Path, &str, &str); 3] = [
        (&messages, "  vip_early_access:\n", "  vip_early_acess:\n"),
        (&segments, r#"region == "IDF""#, r#"regoin == "IDF""#),
        (&messages, "  vip_early_acess:\n", "  vip_early_access:\n"),
    ];
    for (version, (path, from, to)) in edits.into_iter().enumerate() {
        let text = texts.get_mut(path).unwrap();
        assert!(text.contains(from), "{from:?}");
        *text = text.replacen(from, to, 1);
        c.change(&uri(path), version as i64 + 2, text);
        // The edited file's diagnostics change at every edit; a request
        // after them flushes the rest of the same publication.
        let ds = c.diagnostics(&uri(path));
        shown.insert(uri(path), ds);
        c.request(
            "textDocument/hover",
            at(&uri(path), json!({ "line": 0, "character": 0 })),
        );
        for (u, ds) in c.take_published() {
            shown.insert(u, ds);
        }
    }
    c.shutdown();

    // The same plan, saved, checked from scratch.
    for (path, text) in &texts {
        std::fs::write(path, text).unwrap();
    }
    let (_, out, _) = run(herald().args(["check", "--format", "json"]).arg(dir.path()));
    let v: Value = serde_json::from_str(&out).unwrap();
    let key = |file: &str, code: &Value, line: u64| format!("{file}:{line} {code}");
    // The message, without the label and help the editor adds to it.
    let head = |m: &str| {
        m.split(" (")
            .next()
            .unwrap_or(m)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    };
    let mut expected: Vec<String> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let file = d["file"].as_str().unwrap_or("herald.toml");
            let line = d["range"]["start"]["line"].as_u64().unwrap_or(1) - 1;
            format!(
                "{} {}",
                key(file, &d["code"], line),
                head(d["message"].as_str().unwrap())
            )
        })
        .collect();
    let root = format!("{}/", uri(dir.path()));
    let mut published: Vec<String> = shown
        .iter()
        .flat_map(|(u, ds)| {
            let file = u.strip_prefix(&root).unwrap().to_string();
            ds.iter().map(move |d| {
                let line = d["range"]["start"]["line"].as_u64().unwrap();
                format!(
                    "{} {}",
                    key(&file, &d["code"], line),
                    head(d["message"].as_str().unwrap())
                )
            })
        })
        .collect();
    expected.sort();
    published.sort();
    assert!(!expected.is_empty(), "the edits leave problems: {out}");
    assert_eq!(published, expected);
}
