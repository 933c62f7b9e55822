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
    // The file is the user's now: a second preview replaces it only with `--force`.
    std::fs::write(&html, "mine").unwrap();
    let again = |force: bool| {
        let mut cmd = herald();
        cmd.args(["preview", "welcome_email"])
            .arg(example("boutique-mode"))
            .args(["--contact", "c0000003", "--out"])
            .arg(&html);
        if force {
            cmd.arg("--force");
        }
        run(&mut cmd)
    };
    let (code, _, err) = again(false);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already exists; pass `--force`"), "{err}");
    assert_eq!(std::fs::read_to_string(&html).unwrap(), "mine");
    let (code, _, err) = again(true);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read_to_string(&html).unwrap().contains("BIENVENUE10"));
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

#[test]
fn shared_layouts_and_french_formats_reach_the_rendered_message() {
    let dir = copy_example("boutique-mode");
    let templates = dir.path().join("templates");
    std::fs::write(
        templates.join("footer.html"),
        "<p>Boutique Mode, 12 rue de la Paix, Paris</p>\n<p><a href=\"{{ unsubscribe_url }}\">Se désinscrire</a></p>\n",
    )
    .unwrap();
    std::fs::write(
        templates.join("statement.html"),
        "<p>{% if contact.birthdate %}Né le {{ contact.birthdate | date }}, {% endif %}{{ contact.total_spent | money }} d'achats.</p>\n{% include \"templates/footer.html\" %}\n",
    )
    .unwrap();
    let messages = dir.path().join("messages.yaml");
    let text = std::fs::read_to_string(&messages).unwrap();
    std::fs::write(
        &messages,
        text.replacen(
            "messages:\n",
            "messages:\n  statement:\n    channel: email\n    purpose: marketing\n    subject: \"Votre relevé\"\n    preheader: \"Vos achats de l'année\"\n    body: templates/statement.html\n",
            1,
        ),
    )
    .unwrap();
    // The unsubscribe link of the included footer counts: no error.
    let (code, out, err) = run(herald().arg("check").arg(dir.path()));
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("email/missing-unsubscribe"), "{out}");

    let out_dir = tempfile::tempdir().unwrap();
    let preview = |name: &str| {
        let html = out_dir.path().join(name);
        let (code, _, err) = run(herald()
            .args(["preview", "statement", "--contact", "c0000001", "--out"])
            .arg(&html)
            .arg(dir.path()));
        assert_eq!(code, 0, "{err}");
        std::fs::read_to_string(&html).unwrap()
    };
    let page = preview("first.html");
    // fr-FR (the default locale) and EUR: a no-break space before the symbol.
    assert!(page.contains("Né le 3 juillet 1970, 44,98\u{a0}€ d'achats."), "{page}");
    assert!(page.contains("12 rue de la Paix"), "{page}");
    // The footer travels with the message: a change to it changes the message.
    std::fs::write(
        templates.join("footer.html"),
        "<p>Boutique Mode, 1 place Bellecour, Lyon</p>\n<p><a href=\"{{ unsubscribe_url }}\">Se désinscrire</a></p>\n",
    )
    .unwrap();
    let page = preview("second.html");
    assert!(
        page.contains("1 place Bellecour") && !page.contains("rue de la Paix"),
        "{page}"
    );

    // Outside the plan directory: refused where it is written.
    std::fs::write(
        templates.join("statement.html"),
        "<p>Bonjour</p>\n{% include \"../footer.html\" %}\n",
    )
    .unwrap();
    let (code, out, _) = run(herald().arg("check").arg(dir.path()));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("template/include") && out.contains("statement.html"),
        "{out}"
    );
}
