//! Providers over HTTP: Twilio's Messages API, a generic JSON SMS endpoint,
//! FCM HTTP v1 and signed webhooks.
//!
//! Status codes decide the outcome: 2xx sent; 429 and 5xx retried (after
//! `Retry-After` when given); other 4xx failed for good. A request that
//! could not connect is retried; one that timed out or broke after it was
//! sent is in doubt — retried with its key by the providers that take one.

use super::{Body, Outcome, Outgoing, Provider};
use herald_compiler::config::{PushProvider, SmsProvider};
use hmac::{KeyInit, Mac};
use reqwest::{Client, RequestBuilder};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The HTTP client of one provider: rustls with ring, bounded timeouts.
///
/// Each worker thread sends on its own: a single-threaded tokio runtime and
/// a client (with its pool of keep-alive connections) per thread, so that a
/// request is written, and its answer read, on the thread that asked for it.
/// `reqwest`'s blocking client instead hands every request to a runtime
/// thread and back: that handoff took a quarter of the runner's CPU at tens
/// of thousands of SMS a second. A connection belongs to the runtime that
/// opened it, hence one client per provider per thread.
pub struct Clients {
    id: u64,
    timeout: Duration,
}

struct Local {
    runtime: tokio::runtime::Runtime,
    /// (provider's `Clients::id`, client)
    clients: Vec<(u64, Client)>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

impl Clients {
    pub fn new(timeout: Duration) -> Result<Clients, String> {
        // Built once here so that a client that cannot start stops the runner
        // at start, with the reason, rather than failing every send.
        build(timeout)?;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Ok(Clients {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            timeout,
        })
    }

    /// Run one exchange on this thread's runtime, with this thread's client.
    fn exchange<F>(&self, provider: &str, f: impl FnOnce(&Client) -> F) -> Outcome
    where
        F: Future<Output = Outcome>,
    {
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            if local.is_none() {
                match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => {
                        *local = Some(Local {
                            runtime,
                            clients: Vec::new(),
                        });
                    }
                    Err(_) => {
                        return Outcome::Retry {
                            after: None,
                            reason: format!("{provider}: cannot start the HTTP runtime"),
                        };
                    }
                }
            }
            let Some(Local { runtime, clients }) = local.as_mut() else {
                unreachable!("the runtime was just made")
            };
            let i = match clients.iter().position(|(id, _)| *id == self.id) {
                Some(i) => i,
                None => match build(self.timeout) {
                    Ok(c) => {
                        clients.push((self.id, c));
                        clients.len() - 1
                    }
                    Err(reason) => return Outcome::Retry { after: None, reason },
                },
            };
            runtime.block_on(f(&clients[i].1))
        })
    }
}

/// Drop this thread's HTTP runtime and connections (a worker ends with it,
/// so that the runtime is not dropped in a thread-local destructor).
pub fn end_thread() {
    let _ = LOCAL.try_with(|l| l.borrow_mut().take());
}

fn build(timeout: Duration) -> Result<Client, String> {
    // Installed once for the process; a second call finds it there.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .pool_max_idle_per_host(16)
        .build()
        .map_err(|e| format!("cannot start the HTTP client: {e}"))
}

fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(|s| Duration::from_secs(s.min(3600)))
}

/// Send a request and map what happened. `id` reads the provider's message
/// id from a successful response body.
async fn exchange(
    provider: &str,
    request: RequestBuilder,
    idempotent: bool,
    id: impl FnOnce(&serde_json::Value) -> Option<String>,
    error_code: impl FnOnce(&serde_json::Value) -> Option<String>,
) -> Outcome {
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => {
            return Outcome::Retry {
                after: None,
                reason: format!("{provider}: cannot connect"),
            };
        }
        Err(e) => {
            let what = if e.is_timeout() { "timeout" } else { "connection lost" };
            let reason = format!("{provider}: {what}");
            return if idempotent {
                Outcome::Retry { after: None, reason }
            } else {
                Outcome::InDoubt { reason }
            };
        }
    };
    let status = response.status();
    let after = retry_after(response.headers());
    // Bodies are small; a bound keeps a hostile server from filling memory.
    let body: serde_json::Value = response
        .bytes()
        .await
        .ok()
        .filter(|b| b.len() <= 64 * 1024)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    let code = status.as_u16();
    if status.is_success() {
        Outcome::Sent { provider_id: id(&body) }
    } else if code == 429 || status.is_server_error() {
        Outcome::Retry {
            after,
            reason: format!("{provider}: HTTP {code}"),
        }
    } else {
        let detail = error_code(&body).map(|c| format!(" ({c})")).unwrap_or_default();
        Outcome::Failed {
            reason: format!("{provider}: HTTP {code}{detail}"),
        }
    }
}

/// Twilio's Messages API: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
/// form-encoded `To`, `From`, `Body`, HTTP basic auth.
pub struct Twilio {
    client: Clients,
    url: String,
    sid: String,
    token: String,
    from: Option<String>,
}

impl Twilio {
    pub fn new(client: Clients, c: &SmsProvider, sid: String, token: String) -> Twilio {
        let base = c.base_url.clone().unwrap_or_else(|| "https://api.twilio.com".into());
        Twilio {
            client,
            url: format!("{}/2010-04-01/Accounts/{sid}/Messages.json", base.trim_end_matches('/')),
            sid,
            token,
            from: c.from.clone(),
        }
    }
}

impl Provider for Twilio {
    fn kind(&self) -> &'static str {
        "twilio"
    }

    fn idempotent(&self) -> bool {
        false
    }

    fn send(&self, m: &Outgoing) -> Outcome {
        let Body::Sms { sender, text } = &m.body else {
            return Outcome::Failed {
                reason: "not an SMS".into(),
            };
        };
        let from = sender.as_ref().or(self.from.as_ref()).cloned().unwrap_or_default();
        let form = [("To", m.to.as_str()), ("From", from.as_str()), ("Body", text.as_str())];
        self.client.exchange("twilio", |client| {
            let request = client
                .post(&self.url)
                .basic_auth(&self.sid, Some(&self.token))
                .form(&form);
            exchange(
                "twilio",
                request,
                false,
                |b| b.get("sid").and_then(|s| s.as_str()).map(str::to_string),
                // Twilio's error code (21211 invalid To…), never its message: it quotes the number.
                |b| {
                    b.get("code")
                        .and_then(serde_json::Value::as_i64)
                        .map(|c| format!("error {c}"))
                },
            )
        })
    }
}

/// A generic SMS endpoint: `POST base_url` with JSON `{to, from, text, key}`,
/// a bearer token, and the send's key as `Idempotency-Key`.
pub struct HttpSms {
    client: Clients,
    url: String,
    token: Option<String>,
    from: Option<String>,
}

impl HttpSms {
    pub fn new(client: Clients, c: &SmsProvider, token: Option<String>) -> HttpSms {
        HttpSms {
            client,
            url: c.base_url.clone().unwrap_or_default(),
            token,
            from: c.from.clone(),
        }
    }
}

impl Provider for HttpSms {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn idempotent(&self) -> bool {
        true
    }

    fn send(&self, m: &Outgoing) -> Outcome {
        let Body::Sms { sender, text } = &m.body else {
            return Outcome::Failed {
                reason: "not an SMS".into(),
            };
        };
        let body = serde_json::json!({
            "to": m.to, "from": sender.as_ref().or(self.from.as_ref()), "text": text, "key": m.key,
        });
        self.client.exchange("http", |client| {
            let mut request = client.post(&self.url).header("Idempotency-Key", &m.key).json(&body);
            if let Some(t) = &self.token {
                request = request.bearer_auth(t);
            }
            exchange(
                "http",
                request,
                true,
                |b| b.get("id").and_then(|s| s.as_str()).map(str::to_string),
                |b| b.get("code").and_then(|c| c.as_str().map(str::to_string)),
            )
        })
    }
}

/// Firebase Cloud Messaging, HTTP v1:
/// `POST {base}/v1/projects/{project}/messages:send` with an OAuth 2 access token.
pub struct Fcm {
    client: Clients,
    url: String,
    token: String,
}

impl Fcm {
    pub fn new(client: Clients, c: &PushProvider, token: String) -> Fcm {
        let base = c
            .base_url
            .clone()
            .unwrap_or_else(|| "https://fcm.googleapis.com".into());
        Fcm {
            client,
            url: format!(
                "{}/v1/projects/{}/messages:send",
                base.trim_end_matches('/'),
                c.project_id.clone().unwrap_or_default()
            ),
            token,
        }
    }
}

impl Provider for Fcm {
    fn kind(&self) -> &'static str {
        "fcm"
    }

    fn idempotent(&self) -> bool {
        false
    }

    fn send(&self, m: &Outgoing) -> Outcome {
        let Body::Push { title, body, url } = &m.body else {
            return Outcome::Failed {
                reason: "not a push".into(),
            };
        };
        let mut message = serde_json::json!({
            "token": m.to,
            "notification": { "title": title, "body": body },
            "data": { "herald_key": m.key },
        });
        if let Some(u) = url {
            message["webpush"] = serde_json::json!({ "fcm_options": { "link": u } });
            message["data"]["url"] = serde_json::Value::String(u.clone());
        }
        self.client.exchange("fcm", |client| {
            let request = client
                .post(&self.url)
                .bearer_auth(&self.token)
                .json(&serde_json::json!({ "message": message }));
            exchange(
                "fcm",
                request,
                false,
                |b| b.get("name").and_then(|s| s.as_str()).map(str::to_string),
                |b| b.pointer("/error/status").and_then(|s| s.as_str()).map(str::to_string),
            )
        })
    }
}

/// A webhook signed with HMAC-SHA256: `X-Herald-Signature: v1=HEX` over
/// `TIMESTAMP.BODY`, with `X-Herald-Timestamp` and `Idempotency-Key`
/// (receivers deduplicate by key).
pub struct Webhook {
    client: Clients,
    kind: &'static str,
    url: String,
    secret: String,
}

impl Webhook {
    pub fn new(client: Clients, kind: &'static str, url: String, secret: String) -> Webhook {
        Webhook {
            client,
            kind,
            url,
            secret,
        }
    }
}

/// The signature of a webhook body.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&[0]).expect("HMAC takes any key"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("v1={hex}")
}

impl Provider for Webhook {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn idempotent(&self) -> bool {
        true
    }

    fn send(&self, m: &Outgoing) -> Outcome {
        let payload = match &m.body {
            Body::Push { title, body, url } => serde_json::json!({
                "type": "push", "key": m.key, "contact_id": m.contact_id, "token": m.to,
                "title": title, "body": body, "url": url,
            }),
            Body::Call { script, window } => serde_json::json!({
                "type": "call", "key": m.key, "contact_id": m.contact_id, "phone": m.to,
                "window": window, "script": script,
            }),
            Body::Sms { sender, text } => serde_json::json!({
                "type": "sms", "key": m.key, "contact_id": m.contact_id, "to": m.to, "from": sender, "text": text,
            }),
            Body::Email { .. } => {
                return Outcome::Failed {
                    reason: "email goes over SMTP".into(),
                };
            }
        };
        let body = serde_json::to_vec(&payload).unwrap_or_default();
        let timestamp = crate::clock::real_unix_ms() / 1000;
        self.client.exchange(self.kind, |client| {
            let request = client
                .post(&self.url)
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", &m.key)
                .header("X-Herald-Timestamp", timestamp.to_string())
                .header("X-Herald-Signature", sign(&self.secret, timestamp, &body))
                .body(body);
            exchange(self.kind, request, true, |_| None, |_| None)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_over_timestamp_and_body() {
        // Computed with openssl: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
        assert_eq!(
            sign("s3cret", 1_700_000_000, br#"{"a":1}"#),
            "v1=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
        );
    }
}
