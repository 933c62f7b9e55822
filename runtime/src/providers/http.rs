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

use super::{Attempt, Body, Outcome, Outgoing, Provider};
use bytes::Bytes;
use herald_compiler::config::{PushProvider, SmsProvider};
use hmac::{KeyInit, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use reqwest::{RequestBuilder, Url};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

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
    timeout: Duration,
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
        Ok(Client { inner, timeout })
    }

    fn post(&self, url: &Url) -> RequestBuilder {
        self.inner.post(url.clone())
    }

    /// For a plain-HTTP endpoint, hyper's connections directly.
    fn plain(&self, url: &Url) -> Option<Plain> {
        // reqwest does what this does not: credentials in the URL (basic
        // auth), and the proxy the environment names.
        let proxied = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
        if url.scheme() != "http" || !url.username().is_empty() || url.password().is_some() || proxied {
            return None;
        }
        let host = url.host_str()?;
        let port = url.port_or_known_default()?;
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        Some(Plain {
            addr: format!("{host}:{port}"),
            host: HeaderValue::from_str(&authority).ok()?,
            path: match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            }
            .parse()
            .ok()?,
            idle: Mutex::default(),
            connect_timeout: self.timeout.min(Duration::from_secs(5)),
            timeout: self.timeout,
        })
    }
}

/// A plain-HTTP (`http://`) endpoint, sent to over hyper's HTTP/1.1
/// connections, kept between requests (one per request in flight). Only the
/// providers that take an idempotency key use it (the generic SMS endpoint,
/// webhooks): a request whose fate is unclear is retried with its key.
/// reqwest's layers over hyper (its services, URL conversions, a pool keyed
/// by URL) cost a quarter of the sending thread's CPU per request; TLS
/// endpoints keep reqwest.
struct Plain {
    /// `host:port`, to connect to.
    addr: String,
    host: HeaderValue,
    /// The path and query (origin form).
    path: hyper::Uri,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    connect_timeout: Duration,
    timeout: Duration,
}

/// Why a request got no answer.
enum Failure {
    /// No connection could be made: nothing was sent.
    Connect,
    /// No answer in time: it may have been taken.
    Timeout,
    /// The connection broke after the request went out.
    Lost,
}

/// A provider's answer: status, `Retry-After`, body (bounded; `None` when
/// too large or unreadable).
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: Option<Bytes>,
}

/// Bodies are small; a bound keeps a hostile server from filling memory.
const MAX_BODY: usize = 64 * 1024;

impl Plain {
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let stream = tokio::time::timeout(self.connect_timeout, tokio::net::TcpStream::connect(&self.addr))
            .await
            .map_err(|_| Failure::Connect)?
            .map_err(|_| Failure::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|_| Failure::Connect)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    async fn post(&self, headers: &[(HeaderName, HeaderValue)], body: Vec<u8>) -> Result<Answer, Failure> {
        let body = Bytes::from(body);
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let kept = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let fresh = kept.is_none();
            let mut conn = match kept {
                Some(c) => c,
                None => self.connect().await?,
            };
            if conn.ready().await.is_err() {
                if fresh {
                    return Err(Failure::Connect);
                }
                // A kept connection the server has closed: another one.
                continue;
            }
            let mut request = hyper::Request::post(self.path.clone()).header(HOST, self.host.clone());
            for (k, v) in headers {
                request = request.header(k, v.clone());
            }
            let Ok(request) = request.body(Full::new(body.clone())) else {
                return Err(Failure::Connect);
            };
            let exchange = async {
                let response = match conn.try_send_request(request).await {
                    Ok(r) => r,
                    // Whether the request was still unsent.
                    Err(mut e) => return Err(e.take_message().is_some()),
                };
                let status = response.status().as_u16();
                let retry_after = retry_after(response.headers());
                let body = Limited::new(response.into_body(), MAX_BODY)
                    .collect()
                    .await
                    .ok()
                    .map(http_body_util::Collected::to_bytes);
                Ok(Answer {
                    status,
                    retry_after,
                    body,
                })
            };
            match tokio::time::timeout_at(deadline, exchange).await {
                Err(_) => return Err(Failure::Timeout),
                // Not sent: a kept connection closed under it; a new one.
                Ok(Err(true)) if !fresh => continue,
                Ok(Err(true)) => return Err(Failure::Connect),
                Ok(Err(false)) => return Err(Failure::Lost),
                Ok(Ok(answer)) => {
                    if answer.body.is_some() {
                        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
                    }
                    return Ok(answer);
                }
            }
        }
    }
}

/// Send one message outside the workers (on a runtime made for it).
pub(super) fn blocking(p: &dyn HttpSend, m: &Outgoing, provider: &str) -> Outcome {
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
        format!("the {provider} provider's URL is not a valid URL ({e}); set its `base_url` (or `url`) in herald.toml to `https://…`")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the {provider} provider's URL must start with `http://` or `https://`; set its `base_url` (or `url`) in herald.toml"
        ));
    }
    // `host_str` brackets an IPv6 address already.
    let origin = match (parsed.host_str(), parsed.port_or_known_default()) {
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

/// `Retry-After` in seconds or as an HTTP date in any of the three forms
/// RFC 9110 says a recipient must read (IMF-fixdate, RFC 850, asctime); the
/// date is read on the machine's real clock. At most an hour.
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            // Then RFC 2822, which some servers send (`+0000`, a one-digit day).
            let at_ms = match httpdate::parse_http_date(v) {
                Ok(at) => at
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
                Err(_) => chrono::DateTime::parse_from_rfc2822(v).ok()?.timestamp_millis(),
            };
            Duration::from_millis(u64::try_from(at_ms.saturating_sub(crate::clock::real_unix_ms())).unwrap_or(0))
        }
    };
    Some(wait.min(Duration::from_secs(3600)))
}

/// Send a request through reqwest and map what happened. `id` reads the
/// provider's message id from a successful response body.
async fn exchange(
    provider: &str,
    request: RequestBuilder,
    idempotent: bool,
    id: impl FnOnce(&serde_json::Value) -> Option<String>,
    error_code: impl FnOnce(&serde_json::Value) -> Option<String>,
) -> Attempt {
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return failed(provider, Failure::Connect, idempotent),
        Err(e) if e.is_timeout() => return failed(provider, Failure::Timeout, idempotent),
        Err(_) => return failed(provider, Failure::Lost, idempotent),
    };
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    // Read whole, so that the connection can carry the next request.
    let body = response.bytes().await.ok().filter(|b| b.len() <= MAX_BODY);
    answered(
        provider,
        Answer {
            status,
            retry_after,
            body,
        },
        id,
        error_code,
    )
}

/// POST a body to an endpoint that takes an idempotency key (the generic SMS
/// endpoint, webhooks): over hyper directly when it is plain HTTP, else
/// through reqwest. A request whose fate is unclear is retried with its key.
#[allow(clippy::too_many_arguments)]
async fn post_keyed(
    provider: &str,
    client: &Client,
    plain: Option<&Plain>,
    url: &Url,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
    id: impl FnOnce(&serde_json::Value) -> Option<String>,
    error_code: impl FnOnce(&serde_json::Value) -> Option<String>,
) -> Attempt {
    if let Some(plain) = plain {
        return match plain.post(&headers, body).await {
            Ok(a) => answered(provider, a, id, error_code),
            Err(f) => failed(provider, f, true),
        };
    }
    let mut request = client.post(url);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    exchange(provider, request.body(body), true, id, error_code).await
}

/// The text of an SMS and its sender (the message's, else the provider's).
fn sms<'m>(m: &'m Outgoing, from: &'m Option<String>) -> Result<(Option<&'m str>, &'m str), Attempt> {
    match &m.body {
        Body::Sms { sender, text } => Ok((sender.as_deref().or(from.as_deref()), text)),
        _ => Err(Attempt::local(Outcome::Failed {
            reason: "not an SMS".into(),
        })),
    }
}

/// What a request that got no answer means.
fn failed(provider: &str, f: Failure, idempotent: bool) -> Attempt {
    let what = match f {
        Failure::Connect => {
            return Attempt {
                outcome: Outcome::Retry {
                    after: None,
                    reason: format!("{provider}: cannot connect"),
                },
                cannot_connect: true,
                refused: false,
                asked: true,
                elsewhere: false,
            };
        }
        Failure::Timeout => "timeout",
        Failure::Lost => "connection lost",
    };
    let reason = format!("{provider}: {what}");
    if idempotent {
        Outcome::Retry { after: None, reason }
    } else {
        Outcome::InDoubt { reason }
    }
    .into()
}

/// What an answer means.
fn answered(
    provider: &str,
    a: Answer,
    id: impl FnOnce(&serde_json::Value) -> Option<String>,
    error_code: impl FnOnce(&serde_json::Value) -> Option<String>,
) -> Attempt {
    let body = || -> serde_json::Value {
        a.body
            .as_ref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    let code = a.status;
    if (200..300).contains(&code) {
        Outcome::Sent {
            provider_id: id(&body()),
        }
        .into()
    } else if code == 401 || code == 407 || (code == 403 && provider != "fcm") {
        // Not this message: the provider refuses Herald's credentials, and
        // would refuse every send alike. Each waits, untried, and the
        // breaker holds the provider, as for a refused SMTP login (an
        // expired token is renewed in the environment, not by failing
        // every message). FCM's 403 names one device token's sender: that
        // message's own failure.
        Attempt {
            outcome: Outcome::Retry {
                after: None,
                reason: format!("{provider}: HTTP {code}, credentials refused"),
            },
            cannot_connect: true,
            refused: true,
            asked: true,
            elsewhere: false,
        }
    } else if code == 429 || (500..600).contains(&code) {
        Outcome::Retry {
            after: a.retry_after,
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
            let (from, text) = match sms(m, &self.from) {
                Ok(s) => s,
                Err(a) => return a,
            };
            let form = [("To", m.to.as_str()), ("From", from.unwrap_or("")), ("Body", text)];
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
    plain: Option<Plain>,
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
            plain: client.plain(&url),
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
            let (from, text) = match sms(m, &self.from) {
                Ok(s) => s,
                Err(a) => return a,
            };
            let body = serde_json::to_vec(&SmsJson {
                to: &m.to,
                from,
                text,
                key: &m.key,
            })
            .unwrap_or_default();
            let mut headers = vec![(IDEMPOTENCY_KEY, key_header(&m.key)), (CONTENT_TYPE, JSON)];
            headers.extend(self.auth.iter().map(|a| (AUTHORIZATION, a.clone())));
            post_keyed(
                "http",
                &self.client,
                self.plain.as_ref(),
                &self.url,
                headers,
                body,
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
    auth: FcmAuth,
}

/// How FCM requests are authorised.
enum FcmAuth {
    /// An access token given as is (it lasts an hour).
    Token(HeaderValue),
    /// A service account key: tokens made and renewed as needed.
    Account(Box<super::oauth::ServiceAccount>),
}

impl Fcm {
    /// `credentials`: a service account key (JSON) or an access token.
    pub fn new(client: Client, c: &PushProvider, credentials: String) -> Result<Fcm, String> {
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
        let auth = match super::oauth::ServiceAccount::parse(&credentials, c.timeout) {
            Some(account) => FcmAuth::Account(Box::new(account?)),
            None => FcmAuth::Token(bearer(&credentials)),
        };
        Ok(Fcm {
            client,
            url,
            origin,
            auth,
        })
    }

    /// The `Authorization` header of the next request and the token it
    /// carries when Herald made it, or why there is none.
    async fn authorization(&self) -> Result<(HeaderValue, Option<String>), Attempt> {
        let account = match &self.auth {
            FcmAuth::Token(h) => return Ok((h.clone(), None)),
            FcmAuth::Account(a) => a,
        };
        match account.token().await {
            Ok(token) => Ok((bearer(&token), Some(token))),
            // No token, no send: the provider is down until there is one.
            Err(e) => {
                let (reason, refused) = match e {
                    super::oauth::TokenError::Unavailable(why) => (format!("fcm: token endpoint: {why}"), false),
                    super::oauth::TokenError::Refused(code) => (
                        format!("fcm: token endpoint: HTTP {code}, the service account key is refused"),
                        true,
                    ),
                };
                Err(Attempt {
                    outcome: Outcome::Retry { after: None, reason },
                    cannot_connect: true,
                    refused,
                    asked: true,
                    elsewhere: true,
                })
            }
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
                return Attempt::local(Outcome::Failed {
                    reason: "not a push".into(),
                });
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
            let (auth, token) = match self.authorization().await {
                Ok(a) => a,
                Err(attempt) => return attempt,
            };
            let request = self
                .client
                .post(&self.url)
                .header(AUTHORIZATION, auth)
                .json(&serde_json::json!({ "message": message }));
            let attempt = exchange(
                "fcm",
                request,
                false,
                |b| b.get("name").and_then(|s| s.as_str()).map(str::to_string),
                |b| b.pointer("/error/status").and_then(|s| s.as_str()).map(str::to_string),
            )
            .await;
            // A token refused (revoked, or expired early): the next send
            // asks for another.
            if attempt.refused
                && let (FcmAuth::Account(a), Some(token)) = (&self.auth, &token)
            {
                a.forget(token).await;
            }
            attempt
        })
    }
}

/// A webhook signed with HMAC-SHA256: `X-Herald-Signature: v1=HEX` over
/// `TIMESTAMP.BODY`, with `X-Herald-Timestamp` and `Idempotency-Key`
/// (receivers deduplicate by key).
pub struct Webhook {
    client: Client,
    plain: Option<Plain>,
    kind: &'static str,
    url: Url,
    origin: String,
    secret: String,
}

impl Webhook {
    pub fn new(client: Client, kind: &'static str, url: String, secret: String) -> Result<Webhook, String> {
        let (url, origin) = endpoint(kind, &url)?;
        Ok(Webhook {
            plain: client.plain(&url),
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
                Body::Call { script, window, .. } => serde_json::json!({
                    "type": "call", "key": m.key, "contact_id": m.contact_id, "phone": m.to,
                    "window": window, "script": script,
                }),
                Body::Sms { sender, text } => serde_json::json!({
                    "type": "sms", "key": m.key, "contact_id": m.contact_id, "to": m.to, "from": sender, "text": text,
                }),
                Body::Email { .. } => {
                    return Attempt::local(Outcome::Failed {
                        reason: "email goes over SMTP".into(),
                    });
                }
            };
            let body = serde_json::to_vec(&payload).unwrap_or_default();
            let timestamp = crate::clock::real_unix_ms() / 1000;
            let headers = vec![
                (CONTENT_TYPE, JSON),
                (IDEMPOTENCY_KEY, key_header(&m.key)),
                (
                    HeaderName::from_static("x-herald-timestamp"),
                    HeaderValue::from(timestamp),
                ),
                (
                    HeaderName::from_static("x-herald-signature"),
                    HeaderValue::from_str(&sign(&self.secret, timestamp, &body))
                        .unwrap_or_else(|_| HeaderValue::from_static("")),
                ),
            ];
            post_keyed(
                self.kind,
                &self.client,
                self.plain.as_ref(),
                &self.url,
                headers,
                body,
                |_| None,
                |_| None,
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds_or_as_an_http_date() {
        let header = |v: &str| {
            let mut h = reqwest::header::HeaderMap::new();
            h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_str(v).unwrap());
            retry_after(&h)
        };
        assert_eq!(header("7"), Some(Duration::from_secs(7)));
        assert_eq!(header(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(header("999999"), Some(Duration::from_secs(3600)), "at most an hour");
        let in_30s = chrono::DateTime::from_timestamp_millis(crate::clock::real_unix_ms() + 30_000).unwrap();
        let date = in_30s.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let wait = header(&date).unwrap();
        assert!(
            wait > Duration::from_secs(27) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        // The obsolete forms RFC 9110 still asks recipients to read.
        let rfc850 = in_30s.format("%A, %d-%b-%y %H:%M:%S GMT").to_string();
        let asctime = in_30s.format("%a %b %e %H:%M:%S %Y").to_string();
        for date in [rfc850, asctime] {
            let wait = header(&date).unwrap_or_else(|| panic!("{date} not read"));
            assert!(
                wait > Duration::from_secs(27) && wait <= Duration::from_secs(30),
                "{date}: {wait:?}"
            );
        }
        assert_eq!(
            header("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO),
            "a date past"
        );
        assert_eq!(header("Sunday, 06-Nov-94 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(header("Sun Nov  6 08:49:37 1994"), Some(Duration::ZERO));
        assert_eq!(
            header("Sun, 6 Nov 1994 08:49:37 +0000"),
            Some(Duration::ZERO),
            "RFC 2822"
        );
        assert_eq!(header("soon"), None);
        assert_eq!(retry_after(&reqwest::header::HeaderMap::new()), None);
    }

    #[test]
    fn refused_credentials_hold_the_provider_and_a_refused_message_fails() {
        let answer = |provider: &str, status: u16| {
            answered(
                provider,
                Answer {
                    status,
                    retry_after: None,
                    body: None,
                },
                |_| None,
                |_| None,
            )
        };
        for (provider, status) in [("twilio", 401), ("http", 403), ("fcm", 401), ("webhook", 407)] {
            let a = answer(provider, status);
            assert!(a.cannot_connect && a.refused && a.asked, "{provider} {status}: {a:?}");
            assert!(matches!(a.outcome, Outcome::Retry { .. }), "{a:?}");
        }
        // FCM's 403 is one device token's (another sender's): that message fails.
        for (provider, status) in [("fcm", 403), ("twilio", 400), ("http", 404)] {
            let a = answer(provider, status);
            assert!(!a.cannot_connect, "{provider} {status}: {a:?}");
            assert!(matches!(a.outcome, Outcome::Failed { .. }), "{a:?}");
        }
    }

    #[test]
    fn signatures_are_hmac_sha256_over_timestamp_and_body() {
        // Computed with openssl: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
        assert_eq!(
            sign("s3cret", 1_700_000_000, br#"{"a":1}"#),
            "v1=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
        );
    }

    #[test]
    fn plain_http_endpoints_go_over_hyper_and_tls_ones_over_reqwest() {
        let client = Client::new(Duration::from_secs(2)).unwrap();
        let p = client
            .plain(&Url::parse("http://127.0.0.1:9/v1/messages?x=1").unwrap())
            .unwrap();
        assert_eq!(p.addr, "127.0.0.1:9");
        assert_eq!(p.host, "127.0.0.1:9");
        assert_eq!(p.path, "/v1/messages?x=1");
        let p = client.plain(&Url::parse("http://sms.example/send").unwrap()).unwrap();
        assert_eq!(
            (p.addr.as_str(), p.host.to_str().unwrap()),
            ("sms.example:80", "sms.example")
        );
        assert!(client.plain(&Url::parse("https://sms.example/send").unwrap()).is_none());
        // Credentials in the URL are reqwest's to send (basic auth).
        assert!(
            client
                .plain(&Url::parse("http://u:p@sms.example/send").unwrap())
                .is_none()
        );
        let (_, origin) = endpoint("sms", "http://[::1]:8080/v1").unwrap();
        assert_eq!(origin, "http://[::1]:8080/");
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
