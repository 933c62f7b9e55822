//! Providers over HTTP: Twilio's Messages API, a generic JSON SMS endpoint,
//! FCM HTTP v1 and signed webhooks.
//!
//! Status codes decide the outcome: 2xx sent; 429 and 5xx retried (after
//! `Retry-After` when given); other 4xx failed for good. A request that
//! could not connect is retried; one that timed out or broke after it was
//! sent is in doubt — retried with its key by the providers that take one.
//!
//! They send asynchronously: the workers run every HTTP send on one thread,
//! as many concurrent requests over keep-alive connections as there are
//! workers (see `run::workers`). What does not change between requests (the
//! URL, the authorization and content-type headers) is made once.

use super::{Body, Outcome, Outgoing, Provider};
use herald_compiler::config::{PushProvider, SmsProvider};
use hmac::{KeyInit, Mac};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use reqwest::{RequestBuilder, Url};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// One attempt at a request: its outcome, and whether it could not even
/// connect (what the workers' circuit breaker counts: a provider that is
/// down, not one that answers 5xx or is slow).
#[derive(Debug)]
pub struct Attempt {
    pub outcome: Outcome,
    pub cannot_connect: bool,
}

impl From<Outcome> for Attempt {
    fn from(outcome: Outcome) -> Attempt {
        Attempt {
            outcome,
            cannot_connect: false,
        }
    }
}

pub type Sending<'a> = Pin<Box<dyn Future<Output = Attempt> + 'a>>;

/// A provider that sends over HTTP, on a tokio runtime.
pub trait HttpSend: Send + Sync {
    /// Must be polled inside a tokio runtime (the workers' HTTP thread).
    fn send_async<'a>(&'a self, m: &'a Outgoing) -> Sending<'a>;
    /// `scheme://host:port/` of the endpoint: no credentials, no path (a
    /// Twilio path holds the account), for the report of a provider that is down.
    fn origin(&self) -> &str;
}

/// The HTTP client of one provider: rustls with ring, bounded timeouts, a
/// pool of keep-alive connections. Its connections belong to the runtime
/// that opened them: the workers' HTTP thread, the only one that sends.
pub struct Client {
    inner: reqwest::Client,
}

impl Client {
    pub fn new(timeout: Duration) -> Result<Client, String> {
        // Installed once for the process; a second call finds it there.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Built here so that a client that cannot start stops the runner at
        // start, with the reason, rather than failing every send.
        let inner = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        Ok(Client { inner })
    }

    fn post(&self, url: &Url) -> RequestBuilder {
        self.inner.post(url.clone())
    }
}

/// Send one message outside the workers (on a runtime made for it).
fn blocking(p: &dyn HttpSend, m: &Outgoing, provider: &str) -> Outcome {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(p.send_async(m)).outcome,
        Err(_) => Outcome::Retry {
            after: None,
            reason: format!("{provider}: cannot start the HTTP runtime"),
        },
    }
}

/// The endpoint of a provider, parsed once, and its origin for messages.
fn endpoint(provider: &str, url: &str) -> Result<(Url, String), String> {
    let parsed = Url::parse(url).map_err(|e| {
        format!("the {provider} provider's URL is not a valid URL ({e}); set `base_url` in herald.toml to `https://…`")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the {provider} provider's URL must start with `http://` or `https://`; set `base_url` in herald.toml"
        ));
    }
    let origin = match (parsed.host_str(), parsed.port_or_known_default()) {
        (Some(h), Some(p)) if h.contains(':') => format!("{}://[{h}]:{p}/", parsed.scheme()),
        (Some(h), Some(p)) => format!("{}://{h}:{p}/", parsed.scheme()),
        _ => format!("{}://?/", parsed.scheme()),
    };
    Ok((parsed, origin))
}

fn bearer(token: &str) -> HeaderValue {
    let mut h = HeaderValue::from_str(&format!("Bearer {token}")).unwrap_or_else(|_| HeaderValue::from_static(""));
    h.set_sensitive(true);
    h
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

fn key_header(key: &str) -> HeaderValue {
    HeaderValue::from_str(key).unwrap_or_else(|_| HeaderValue::from_static("invalid-key"))
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
) -> Attempt {
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => {
            return Attempt {
                outcome: Outcome::Retry {
                    after: None,
                    reason: format!("{provider}: cannot connect"),
                },
                cannot_connect: true,
            };
        }
        Err(e) => {
            let what = if e.is_timeout() { "timeout" } else { "connection lost" };
            let reason = format!("{provider}: {what}");
            return if idempotent {
                Outcome::Retry { after: None, reason }
            } else {
                Outcome::InDoubt { reason }
            }
            .into();
        }
    };
    let status = response.status();
    let after = retry_after(response.headers());
    let code = status.as_u16();
    // Read whole, so that the connection can carry the next request. Bodies
    // are small; a bound keeps a hostile server from filling memory.
    let bytes = response.bytes().await.ok().filter(|b| b.len() <= 64 * 1024);
    let body = || -> serde_json::Value {
        bytes
            .as_ref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    if status.is_success() {
        Outcome::Sent {
            provider_id: id(&body()),
        }
        .into()
    } else if code == 429 || status.is_server_error() {
        Outcome::Retry {
            after,
            reason: format!("{provider}: HTTP {code}"),
        }
        .into()
    } else {
        let detail = error_code(&body()).map(|c| format!(" ({c})")).unwrap_or_default();
        Outcome::Failed {
            reason: format!("{provider}: HTTP {code}{detail}"),
        }
        .into()
    }
}

/// Twilio's Messages API: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
/// form-encoded `To`, `From`, `Body`, HTTP basic auth.
pub struct Twilio {
    client: Client,
    url: Url,
    origin: String,
    sid: String,
    token: String,
    from: Option<String>,
}

impl Twilio {
    pub fn new(client: Client, c: &SmsProvider, sid: String, token: String) -> Result<Twilio, String> {
        let base = c.base_url.clone().unwrap_or_else(|| "https://api.twilio.com".into());
        let (url, origin) = endpoint(
            "twilio",
            &format!("{}/2010-04-01/Accounts/{sid}/Messages.json", base.trim_end_matches('/')),
        )?;
        Ok(Twilio {
            client,
            url,
            origin,
            sid,
            token,
            from: c.from.clone(),
        })
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
        blocking(self, m, "twilio")
    }

    fn http(&self) -> Option<&dyn HttpSend> {
        Some(self)
    }
}

impl HttpSend for Twilio {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn send_async<'a>(&'a self, m: &'a Outgoing) -> Sending<'a> {
        Box::pin(async move {
            let Body::Sms { sender, text } = &m.body else {
                return Outcome::Failed {
                    reason: "not an SMS".into(),
                }
                .into();
            };
            let from = sender.as_ref().or(self.from.as_ref()).map_or("", String::as_str);
            let form = [("To", m.to.as_str()), ("From", from), ("Body", text.as_str())];
            let request = self
                .client
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
            .await
        })
    }
}

/// A generic SMS endpoint: `POST base_url` with JSON `{to, from, text, key}`,
/// a bearer token, and the send's key as `Idempotency-Key`.
pub struct HttpSms {
    client: Client,
    url: Url,
    origin: String,
    auth: Option<HeaderValue>,
    from: Option<String>,
}

/// The generic SMS body, serialized straight from borrowed fields.
#[derive(serde::Serialize)]
struct SmsJson<'a> {
    to: &'a str,
    from: Option<&'a str>,
    text: &'a str,
    key: &'a str,
}

impl HttpSms {
    pub fn new(client: Client, c: &SmsProvider, token: Option<String>) -> Result<HttpSms, String> {
        let (url, origin) = endpoint("sms", c.base_url.as_deref().unwrap_or_default())?;
        Ok(HttpSms {
            client,
            url,
            origin,
            auth: token.as_deref().map(bearer),
            from: c.from.clone(),
        })
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
        blocking(self, m, "http")
    }

    fn http(&self) -> Option<&dyn HttpSend> {
        Some(self)
    }
}

impl HttpSend for HttpSms {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn send_async<'a>(&'a self, m: &'a Outgoing) -> Sending<'a> {
        Box::pin(async move {
            let Body::Sms { sender, text } = &m.body else {
                return Outcome::Failed {
                    reason: "not an SMS".into(),
                }
                .into();
            };
            let body = serde_json::to_vec(&SmsJson {
                to: &m.to,
                from: sender.as_deref().or(self.from.as_deref()),
                text,
                key: &m.key,
            })
            .unwrap_or_default();
            let mut request = self
                .client
                .post(&self.url)
                .header(IDEMPOTENCY_KEY, key_header(&m.key))
                .header(CONTENT_TYPE, JSON);
            if let Some(a) = &self.auth {
                request = request.header(AUTHORIZATION, a.clone());
            }
            exchange(
                "http",
                request.body(body),
                true,
                |b| b.get("id").and_then(|s| s.as_str()).map(str::to_string),
                |b| b.get("code").and_then(|c| c.as_str().map(str::to_string)),
            )
            .await
        })
    }
}

/// Firebase Cloud Messaging, HTTP v1:
/// `POST {base}/v1/projects/{project}/messages:send` with an OAuth 2 access token.
pub struct Fcm {
    client: Client,
    url: Url,
    origin: String,
    auth: HeaderValue,
}

impl Fcm {
    pub fn new(client: Client, c: &PushProvider, token: String) -> Result<Fcm, String> {
        let base = c
            .base_url
            .clone()
            .unwrap_or_else(|| "https://fcm.googleapis.com".into());
        let (url, origin) = endpoint(
            "fcm",
            &format!(
                "{}/v1/projects/{}/messages:send",
                base.trim_end_matches('/'),
                c.project_id.clone().unwrap_or_default()
            ),
        )?;
        Ok(Fcm {
            client,
            url,
            origin,
            auth: bearer(&token),
        })
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
        blocking(self, m, "fcm")
    }

    fn http(&self) -> Option<&dyn HttpSend> {
        Some(self)
    }
}

impl HttpSend for Fcm {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn send_async<'a>(&'a self, m: &'a Outgoing) -> Sending<'a> {
        Box::pin(async move {
            let Body::Push { title, body, url } = &m.body else {
                return Outcome::Failed {
                    reason: "not a push".into(),
                }
                .into();
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
            let request = self
                .client
                .post(&self.url)
                .header(AUTHORIZATION, self.auth.clone())
                .json(&serde_json::json!({ "message": message }));
            exchange(
                "fcm",
                request,
                false,
                |b| b.get("name").and_then(|s| s.as_str()).map(str::to_string),
                |b| b.pointer("/error/status").and_then(|s| s.as_str()).map(str::to_string),
            )
            .await
        })
    }
}

/// A webhook signed with HMAC-SHA256: `X-Herald-Signature: v1=HEX` over
/// `TIMESTAMP.BODY`, with `X-Herald-Timestamp` and `Idempotency-Key`
/// (receivers deduplicate by key).
pub struct Webhook {
    client: Client,
    kind: &'static str,
    url: Url,
    origin: String,
    secret: String,
}

impl Webhook {
    pub fn new(client: Client, kind: &'static str, url: String, secret: String) -> Result<Webhook, String> {
        let (url, origin) = endpoint(kind, &url)?;
        Ok(Webhook {
            client,
            kind,
            url,
            origin,
            secret,
        })
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
        blocking(self, m, self.kind)
    }

    fn http(&self) -> Option<&dyn HttpSend> {
        Some(self)
    }
}

impl HttpSend for Webhook {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn send_async<'a>(&'a self, m: &'a Outgoing) -> Sending<'a> {
        Box::pin(async move {
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
                    }
                    .into();
                }
            };
            let body = serde_json::to_vec(&payload).unwrap_or_default();
            let timestamp = crate::clock::real_unix_ms() / 1000;
            let request = self
                .client
                .post(&self.url)
                .header(CONTENT_TYPE, JSON)
                .header(IDEMPOTENCY_KEY, key_header(&m.key))
                .header("X-Herald-Timestamp", timestamp.to_string())
                .header("X-Herald-Signature", sign(&self.secret, timestamp, &body))
                .body(body);
            exchange(self.kind, request, true, |_| None, |_| None).await
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

    #[test]
    fn origins_hold_no_credentials_nor_path() {
        let (_, o) = endpoint("sms", "https://user:secret@sms.example:8443/v1/ACxxx/messages?k=v").unwrap();
        assert_eq!(o, "https://sms.example:8443/");
        let (_, o) = endpoint("sms", "http://127.0.0.1:9/x").unwrap();
        assert_eq!(o, "http://127.0.0.1:9/");
        assert!(endpoint("sms", "").unwrap_err().contains("base_url"));
        assert!(endpoint("sms", "ftp://x/").unwrap_err().contains("http://"));
    }
}
