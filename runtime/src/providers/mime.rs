//! The MIME message of an email: multipart/alternative (text, then HTML),
//! RFC 8058 one-click unsubscribe headers, and a Message-ID derived from the
//! send's idempotency key (so a duplicate is recognisable downstream).

use super::{Body, Outgoing};
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

/// The domain of a From address (`Boutique <news@boutique.fr>` → `boutique.fr`).
pub fn domain_of(from: &str) -> String {
    from.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').trim().to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "herald.invalid".into())
}

/// The Message-ID of a send.
pub fn message_id(key: &str, domain: &str) -> String {
    format!("<{key}@{domain}>")
}

/// A hidden preheader, placed first in the HTML body (mail clients show it
/// next to the subject), unless the HTML already holds it.
fn with_preheader(html: &str, preheader: Option<&str>) -> String {
    let Some(p) = preheader.filter(|p| !p.is_empty() && !html.contains(*p)) else {
        return html.to_string();
    };
    let hidden = format!(
        "<div style=\"display:none;max-height:0;overflow:hidden;mso-hide:all\">{}</div>",
        escape(p)
    );
    match html.find("<body").and_then(|i| html[i..].find('>').map(|j| i + j + 1)) {
        Some(at) => format!("{}{hidden}{}", &html[..at], &html[at..]),
        None => format!("{hidden}{html}"),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Build the message. Errors name what is wrong, never an address.
pub fn email(m: &Outgoing, from: &str, domain: &str) -> Result<Message, String> {
    let Body::Email {
        subject,
        preheader,
        html,
        text,
        unsubscribe_url,
    } = &m.body
    else {
        return Err("not an email".into());
    };
    let from: Mailbox = from
        .parse()
        .map_err(|_| "the `from` address of [providers.email] is not a valid mailbox".to_string())?;
    let to: Mailbox =
        m.to.parse()
            .map_err(|_| format!("contact `{}` has an invalid email address", m.contact_id))?;
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(subject.as_str())
        .message_id(Some(message_id(&m.key, domain)));
    if let Some(url) = unsubscribe_url {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text.clone()))
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(with_preheader(html, preheader.as_deref())),
                ),
        )
        .map_err(|e| format!("the email cannot be built: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marketing_email_has_both_parts_and_one_click_unsubscribe() {
        let m = Outgoing {
            key: "k123".into(),
            contact_id: "c1".into(),
            to: "a@example.test".into(),
            body: Body::Email {
                subject: "Bienvenue chez nous".into(),
                preheader: Some("Vos avantages".into()),
                html: "<html><body><p>Bonjour</p></body></html>".into(),
                text: "Bonjour".into(),
                unsubscribe_url: Some("https://h.example.test/u/tok".into()),
            },
        };
        let msg = email(&m, "Boutique <news@boutique.example.test>", "boutique.example.test").unwrap();
        let raw = String::from_utf8(msg.formatted()).unwrap();
        assert!(raw.contains("Message-ID: <k123@boutique.example.test>"), "{raw}");
        assert!(raw.contains("List-Unsubscribe: <https://h.example.test/u/tok>"));
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("multipart/alternative"));
        let text_at = raw.find("text/plain").unwrap();
        let html_at = raw.find("text/html").unwrap();
        assert!(text_at < html_at, "text first, HTML last (preferred)");
        assert!(raw.contains("Vos avantages"), "preheader in the HTML");
        assert_eq!(
            domain_of("Boutique <news@boutique.example.test>"),
            "boutique.example.test"
        );
    }

    #[test]
    fn a_bad_address_is_reported_by_contact_id_only() {
        let m = Outgoing {
            key: "k".into(),
            contact_id: "c9".into(),
            to: "not-an-address".into(),
            body: Body::Email {
                subject: "s".into(),
                preheader: None,
                html: "h".into(),
                text: "t".into(),
                unsubscribe_url: None,
            },
        };
        let e = email(&m, "a@b.test", "b.test").unwrap_err();
        assert!(e.contains("c9") && !e.contains("not-an-address"), "{e}");
    }
}
