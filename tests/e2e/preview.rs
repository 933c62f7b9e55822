//! `herald preview`: a message rendered as it would be sent.

use super::*;

#[test]
fn sms_for_the_worst_case_contact() {
    let (code, out, _) = run(herald().args(["preview", "birthday_sms"]).arg(example("boutique-mode")));
    assert_eq!(code, 0, "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn email_for_a_contact_writes_html_and_prints_the_text_part() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("welcome.html");
    let (code, out, err) = run(herald()
        .args(["preview", "welcome_email"])
        .arg(example("boutique-mode"))
        .args(["--contact", "c0000003", "--out"])
        .arg(&html));
    assert_eq!(code, 0, "{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<html") && page.contains("BIENVENUE10"),
        "MJML was compiled to HTML"
    );
    assert!(out.contains("Subject:   Bienvenue chez Boutique Mode"), "{out}");
    assert!(out.contains("Text part:") && out.contains("Se désinscrire"), "{out}");
}

#[test]
fn push_and_transactional_sms() {
    let (code, out, _) = run(herald()
        .args(["preview", "shoes_drop_push", "--worst-case"])
        .arg(example("boutique-mode")));
    assert_eq!(code, 0);
    assert!(out.contains("Title:     Nouvelles sneakers"), "{out}");
    let (code, out, _) = run(herald()
        .args(["preview", "car_ready_sms", "--contact", "c0000001"])
        .arg(example("garage-services")));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Garage Martin: votre Megane (AJ-968-HO) est pret"),
        "{out}"
    );
}

#[test]
fn unknown_message_or_contact() {
    let (code, _, err) = run(herald()
        .args(["preview", "welcome_emial"])
        .arg(example("boutique-mode")));
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `welcome_email`?"), "{err}");
    let (code, _, err) = run(herald()
        .args(["preview", "welcome_email", "--contact", "nobody"])
        .arg(example("boutique-mode")));
    assert_eq!(code, 1);
    assert!(err.contains("no contact `nobody`"), "{err}");
}
