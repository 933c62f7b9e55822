//! A send of the ledger, made ready for its provider: the message rendered
//! for the contact (the compiler's renderer, the one `preview` uses), the
//! address, and the links that identify the send (unsubscribe, preferences).

use crate::providers::{Body, Outgoing};
use crate::state::run::SendRow;
use herald_compiler::ast::values::{Channel, Purpose};
use herald_compiler::contact::{self, Contact, FieldValue, Layout};
use herald_compiler::model::Plan;
use herald_compiler::render::{Rendered, Renderer};
use hmac::{KeyInit, Mac};
use std::sync::{Arc, OnceLock};

/// Signed links to the runner's public pages for one send.
#[derive(Clone)]
pub struct Links {
    pub base: String,
    pub secret: String,
}

impl Links {
    /// `KEY.SIGNATURE`: the send's key, and an HMAC of it, so a link cannot
    /// be forged to unsubscribe someone else.
    pub fn token(&self, key: &str) -> String {
        format!("{key}.{}", self.signature(key))
    }

    fn signature(&self, key: &str) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(self.secret.as_bytes()).unwrap_or_else(|_| {
                <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&[0]).expect("HMAC takes any key")
            });
        mac.update(key.as_bytes());
        let mut out = String::with_capacity(32);
        for b in &mac.finalize().into_bytes()[..16] {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
        out
    }

    /// The key of a valid token.
    pub fn verify<'t>(&self, token: &'t str) -> Option<&'t str> {
        let (key, sig) = token.split_once('.')?;
        // Compared in constant time: the signature is a secret's output.
        let want = self.signature(key);
        (want.len() == sig.len() && want.bytes().zip(sig.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0)
            .then_some(key)
    }

    /// The link to a page for a token (one token serves every page of a send).
    fn page(&self, page: &str, token: &str) -> String {
        format!("{}/{page}/{token}", self.base.trim_end_matches('/'))
    }
}

/// What a message's templates see: the contact, the event, and the send's
/// links, made only when a template reads them (signing a token for every
/// SMS that prints no link was a tenth of composing it).
struct SendContext {
    contact: minijinja::Value,
    event: minijinja::Value,
    links: Arc<Links>,
    key: String,
    token: OnceLock<String>,
}

// Not derived: the links hold the secret that signs them.
impl std::fmt::Debug for SendContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendContext").finish_non_exhaustive()
    }
}

impl SendContext {
    /// The link to one of the send's pages, signed once for all of them.
    fn page(&self, page: &str) -> String {
        let token = self.token.get_or_init(|| self.links.token(&self.key));
        self.links.page(page, token)
    }
}

impl minijinja::value::Object for SendContext {
    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        Some(match key.as_str()? {
            "contact" => self.contact.clone(),
            "event" => self.event.clone(),
            "unsubscribe_url" => minijinja::Value::from(self.page("u")),
            "preferences_url" => minijinja::Value::from(self.page("p")),
            "view_online_url" => minijinja::Value::from(self.page("v")),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(&[
            "contact",
            "event",
            "unsubscribe_url",
            "preferences_url",
            "view_online_url",
        ])
    }
}

/// The contact's address for a channel: the model's email or phone field,
/// the push token field.
fn address(plan: &Plan, layout: &Layout, c: &Contact, channel: Channel) -> Option<String> {
    let field = match channel {
        Channel::Email | Channel::Sms | Channel::Call => plan.contact.address_field(channel)?.to_string(),
        Channel::Push => plan
            .config
            .providers
            .push
            .as_ref()
            .map_or_else(|| "push_token".to_string(), |p| p.token_field.clone()),
    };
    let i = layout.field(&field)?;
    if c.is_invalid(i) {
        return None;
    }
    match c.fields.get(i)?.as_ref()? {
        FieldValue::Text(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

/// Why a send cannot be made ready (recorded as its failure reason).
/// `renderer` keeps the plan's templates compiled from one send to the next.
pub fn compose<'p>(
    renderer: &mut Renderer<'p>,
    plan: &'p Plan,
    layout: &Layout,
    contact: &Contact,
    row: &SendRow,
    links: &Arc<Links>,
    // The calling window's name, asked only for a call (its formatting
    // showed in the runner's profile when made for every send).
    window: impl FnOnce() -> String,
) -> Result<Outgoing, String> {
    let message = plan
        .messages
        .get(&row.message)
        .ok_or_else(|| format!("message `{}` is not in the deployed plan", row.message))?;
    let to = address(plan, layout, contact, row.channel).ok_or_else(|| "no-address".to_string())?;
    let event: serde_json::Value = row
        .event
        .as_deref()
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or(serde_json::Value::Null);
    let send = Arc::new(SendContext {
        contact: contact::contact_value(layout, contact),
        event: minijinja::Value::from(minijinja::value::Serde(&event)),
        links: Arc::clone(links),
        key: row.key.clone(),
        token: OnceLock::new(),
    });
    let ctx = minijinja::Value::from_dyn_object(Arc::clone(&send));
    // The renderer's messages name the part and the template problem, never a value.
    let rendered = renderer
        .render(&plan.config, message, &ctx)
        .map_err(|e| format!("render: {e}"))?;
    let body = match rendered {
        Rendered::Email {
            subject,
            preheader,
            html,
            text,
        } => Body::Email {
            subject,
            preheader,
            html,
            text,
            unsubscribe_url: (message.purpose == Purpose::Marketing).then(|| send.page("u")),
        },
        Rendered::Sms { text, .. } => Body::Sms {
            sender: match &message.content {
                herald_compiler::model::MessageContent::Sms { sender, .. } => sender.clone(),
                _ => None,
            },
            text,
        },
        Rendered::Push { title, body, url } => Body::Push { title, body, url },
        Rendered::Call { script } => {
            let window = window();
            Body::Call {
                script,
                earlier_windows: row.call_windows.iter().filter(|w| **w != window).cloned().collect(),
                window,
            }
        }
    };
    Ok(Outgoing {
        key: row.key.clone(),
        contact_id: contact.id.clone(),
        to,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_tokens_verify_and_cannot_be_forged() {
        let links = Links {
            base: "https://h.example.test/".into(),
            secret: "s".into(),
        };
        let t = links.token("abc");
        assert_eq!(links.verify(&t), Some("abc"));
        assert_eq!(links.verify("abd.0000"), None);
        let forged = t.replacen("abc", "abd", 1);
        assert_eq!(links.verify(&forged), None);
        assert_eq!(links.verify("no-dot"), None);
        assert!(
            links
                .page("u", &links.token("abc"))
                .starts_with("https://h.example.test/u/abc.")
        );
    }

    /// Templates see the contact, the event and the send's three links (one
    /// token signs them all); the secret never shows in a debug print.
    #[test]
    fn the_send_context_gives_templates_the_links_of_the_send() {
        let links = Arc::new(Links {
            base: "https://h.example.test".into(),
            secret: "s3cret-value".into(),
        });
        let ctx = minijinja::Value::from_object(SendContext {
            contact: minijinja::context! { first_name => "Ada" },
            event: minijinja::context! { order => 7 },
            links: Arc::clone(&links),
            key: "k1".into(),
            token: OnceLock::new(),
        });
        let env = minijinja::Environment::new();
        let out = env
            .render_str(
                "{{ contact.first_name }} {{ event.order }} {{ unsubscribe_url }} {{ preferences_url }} {{ view_online_url }} {{ nothing is undefined }}",
                &ctx,
            )
            .unwrap();
        let token = links.token("k1");
        assert_eq!(
            out,
            format!(
                "Ada 7 https://h.example.test/u/{token} https://h.example.test/p/{token} https://h.example.test/v/{token} True"
            )
        );
        assert_eq!(links.verify(&token), Some("k1"));
        assert!(!format!("{ctx:?}").contains("s3cret"), "{ctx:?}");
    }
}
