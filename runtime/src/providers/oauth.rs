//! OAuth 2 access tokens for FCM from a Google service account key: a JWT
//! signed with the key (RS256) is exchanged at the key's `token_uri` (RFC
//! 7523), and the token is kept until shortly before it expires. A runner
//! that runs for days renews its token itself (an access token given as is
//! lasts an hour).
//!
//! Neither the key nor a token is ever written to a log or an error.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Url;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use std::time::{Duration, Instant};

/// What Herald asks for: sending FCM messages, nothing else.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// A token is renewed this long before it expires (a send in flight must
/// not carry one that expires on the way).
const MARGIN: Duration = Duration::from_secs(300);
/// A token endpoint's answer is small.
const MAX_ANSWER: usize = 64 * 1024;
/// After a failed request for a token, the sends waiting for one fail at
/// once for this long instead of each asking again (each could wait the
/// whole timeout on an endpoint that does not answer).
const FAILED_FOR: Duration = Duration::from_secs(10);

/// A service account key, as Google's console downloads it (JSON).
pub struct ServiceAccount {
    email: String,
    key: RsaKeyPair,
    token_uri: Url,
    /// Its own client: no redirects (the assertion is a credential, and
    /// must not be re-posted elsewhere, in clear text maybe).
    client: reqwest::Client,
    kept: tokio::sync::Mutex<Kept>,
}

/// The token kept, and the last failure to get one.
#[derive(Default)]
struct Kept {
    /// A token, renewed from the first instant, good until the second.
    token: Option<(String, Instant, Instant)>,
    /// The last request for one failed; not asked again before then.
    failed: Option<(TokenError, Instant)>,
}

/// Why no token could be had.
#[derive(Clone)]
pub enum TokenError {
    /// The endpoint could not be reached or did not answer: try again later.
    Unavailable(String),
    /// It refused the key (a revoked or deleted key, a wrong account).
    Refused(u16),
}

impl ServiceAccount {
    /// `None` when `credentials` is not a JSON object (it is then an access
    /// token); an error, saying what is wrong and never quoting it, when it
    /// is meant as one (it starts with `{`) but is not a usable service
    /// account key: a key must never be sent as a token.
    pub fn parse(credentials: &str, timeout: Duration) -> Option<Result<ServiceAccount, String>> {
        let text = credentials.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        // Meant as a key: a key is never sent as a token, whatever wraps it.
        let key_like = text.starts_with('{') || text.contains("private_key") || text.contains("-----BEGIN");
        if !key_like {
            return None;
        }
        if !text.starts_with('{') {
            return Some(Err(
                "the FCM credentials hold a private key but do not start with `{` (quotes around the JSON?); give the service account key's JSON as Google's console downloads it"
                    .into(),
            ));
        }
        Some(match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => ServiceAccount::from_json(&v, timeout),
            Err(e) => Err(format!(
                "the FCM credentials start with `{{` but are not valid JSON (line {}, column {}); give the service account key's JSON as Google's console downloads it, or an access token",
                e.line(),
                e.column()
            )),
        })
    }

    fn from_json(v: &serde_json::Value, timeout: Duration) -> Result<ServiceAccount, String> {
        let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
        let bad = |why: &str| {
            format!(
                "the FCM credentials are JSON but not a usable service account key: {why}; give the key file's JSON as Google's console downloads it, or an access token"
            )
        };
        if field("type") != Some("service_account") {
            return Err(bad("`type` is not \"service_account\""));
        }
        let email = field("client_email").ok_or_else(|| bad("`client_email` is missing"))?;
        let pem = field("private_key").ok_or_else(|| bad("`private_key` is missing"))?;
        let der = pkcs8_der(pem).ok_or_else(|| bad("`private_key` is not a PEM private key"))?;
        let key = RsaKeyPair::from_pkcs8(&der).map_err(|_| bad("`private_key` is not an RSA key in PKCS#8"))?;
        let token_uri =
            Url::parse(field("token_uri").unwrap_or(GOOGLE_TOKEN_URI)).map_err(|_| bad("`token_uri` is not a URL"))?;
        // The assertion is a credential: over HTTPS, or to this machine.
        let local = matches!(token_uri.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if token_uri.scheme() != "https" && !(token_uri.scheme() == "http" && local) {
            return Err(bad("`token_uri` must be https://"));
        }
        let mut client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout);
        if local {
            client = client.no_proxy();
        }
        let client = client
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        Ok(ServiceAccount {
            email: email.to_string(),
            key,
            token_uri,
            client,
            kept: tokio::sync::Mutex::new(Kept::default()),
        })
    }

    /// The signed JWT asking for an FCM token, issued at `now` (Unix
    /// seconds, real clock), valid an hour.
    fn assertion(&self, now: i64) -> Result<String, String> {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let header = b64(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iss": self.email,
            "scope": FCM_SCOPE,
            "aud": self.token_uri.as_str(),
            "iat": now,
            "exp": now + 3600,
        });
        let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "fcm: the service account key cannot sign".to_string())?;
        Ok(format!("{input}.{}", b64(&signature)))
    }

    /// A valid access token: the one kept, or a new one from the token
    /// endpoint (one request at a time; the others wait for its answer, and
    /// share its failure for a while).
    pub async fn token(&self) -> Result<String, TokenError> {
        let mut kept = self.kept.lock().await;
        let now = Instant::now();
        // Still good, and not yet to renew; or still good while the
        // endpoint failed a moment ago.
        let good = kept
            .token
            .as_ref()
            .filter(|(_, _, expires)| now < *expires)
            .map(|(t, renew, _)| (t.clone(), *renew));
        if let Some((token, renew)) = &good
            && now < *renew
        {
            return Ok(token.clone());
        }
        if let Some((e, until)) = &kept.failed
            && now < *until
        {
            return good.map(|(t, _)| t).ok_or_else(|| e.clone());
        }
        match self.fetch().await {
            Ok((token, renew, expires)) => {
                *kept = Kept {
                    token: Some((token.clone(), renew, expires)),
                    failed: None,
                };
                Ok(token)
            }
            Err(e) => {
                kept.failed = Some((e.clone(), Instant::now() + FAILED_FOR));
                good.map(|(t, _)| t).ok_or(e)
            }
        }
    }

    /// A new token from the token endpoint, when to renew it, and until
    /// when it is good.
    async fn fetch(&self) -> Result<(String, Instant, Instant), TokenError> {
        let now = crate::clock::real_unix_ms() / 1000;
        let assertion = self.assertion(now).map_err(TokenError::Unavailable)?;
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ];
        let mut response = self
            .client
            .post(self.token_uri.clone())
            .form(&form)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(if e.is_timeout() { "timeout" } else { "no connection" }.into()))?;
        let status = response.status().as_u16();
        if (400..500).contains(&status) && status != 429 {
            return Err(TokenError::Refused(status));
        }
        if status != 200 {
            return Err(TokenError::Unavailable(format!("HTTP {status}")));
        }
        // Read up to the bound, not whatever the server sends.
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| TokenError::Unavailable("an answer cut short".into()))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_ANSWER {
                return Err(TokenError::Unavailable("an answer over 64 KiB".into()));
            }
        }
        let answer: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| TokenError::Unavailable("an answer that is not JSON".into()))?;
        let token = answer["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| TokenError::Unavailable("an answer without `access_token`".into()))?;
        let lasts = Duration::from_secs(answer["expires_in"].as_u64().unwrap_or(3600));
        let now = Instant::now();
        Ok((
            token.to_string(),
            now + lasts.saturating_sub(MARGIN).max(Duration::from_secs(30)).min(lasts),
            now + lasts,
        ))
    }

    /// Forget `token` if it is the one kept (FCM refused it: the next send
    /// asks for another; one fetched since by another send stays).
    pub async fn forget(&self, token: &str) {
        let mut kept = self.kept.lock().await;
        if kept.token.as_ref().is_some_and(|(t, _, _)| t == token) {
            kept.token = None;
        }
    }
}

/// The DER of a PEM `PRIVATE KEY` (PKCS#8).
fn pkcs8_der(pem: &str) -> Option<Vec<u8>> {
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PRIVATE KEY-----")?
        .trim_end()
        .strip_suffix("-----END PRIVATE KEY-----")?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_that_are_not_json_are_an_access_token() {
        assert!(ServiceAccount::parse("ya29.a0AfH6SM-token", Duration::from_secs(5)).is_none());
    }

    /// What is wrong is said; the key's content never is.
    #[test]
    fn a_key_that_cannot_be_used_is_refused_without_quoting_it() {
        let error = |json: serde_json::Value| match ServiceAccount::parse(&json.to_string(), Duration::from_secs(5)) {
            Some(Err(e)) => e,
            Some(Ok(_)) => panic!("accepted"),
            None => panic!("not read as JSON"),
        };
        let e = error(serde_json::json!({"type": "authorized_user", "client_email": "x@y.test"}));
        assert!(
            e.contains("`type` is not \"service_account\"") && !e.contains("x@y.test"),
            "{e}"
        );
        let e = error(serde_json::json!({"type": "service_account", "private_key": "k"}));
        assert!(e.contains("`client_email` is missing"), "{e}");
        let secret = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";
        let e =
            error(serde_json::json!({"type": "service_account", "client_email": "a@b.test", "private_key": secret}));
        assert!(e.contains("not an RSA key in PKCS#8") && !e.contains("c2VjcmV0"), "{e}");
        let e =
            error(serde_json::json!({"type": "service_account", "client_email": "a@b.test", "private_key": "nope"}));
        assert!(e.contains("not a PEM private key"), "{e}");
    }

    /// Meant as a key but not JSON (a trailing comma, a byte order mark
    /// before it): an error at start, never the text sent as a token.
    #[test]
    fn credentials_that_start_as_json_must_be_a_key() {
        let five = Duration::from_secs(5);
        for text in [
            r#"{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n",}"#,
            "\u{feff}{\"type\": \"service_account\"",
            " \u{feff}{\"type\": \"service_account\"",
        ] {
            match ServiceAccount::parse(text, five) {
                Some(Err(e)) => {
                    assert!(
                        e.contains("start with `{` but are not valid JSON (line 1, column "),
                        "{e}"
                    );
                    assert!(!e.contains("PRIVATE KEY") && !e.contains("AAEC"), "{e}");
                }
                _ => panic!("not refused: {text}"),
            }
        }
        // Quoted (as `docker --env-file` keeps quotes): still a key, refused.
        let quoted = r#"'{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\nAAEC"}'"#;
        match ServiceAccount::parse(quoted, five) {
            Some(Err(e)) => assert!(e.contains("quotes around the JSON?") && !e.contains("AAEC"), "{e}"),
            _ => panic!("a quoted key was taken as a token"),
        }
    }

    #[test]
    fn pem_bodies_are_read_across_lines() {
        let pem = "-----BEGIN PRIVATE KEY-----\nAAEC\nAwQ=\n-----END PRIVATE KEY-----\n";
        assert_eq!(pkcs8_der(pem), Some(vec![0, 1, 2, 3, 4]));
        assert_eq!(
            pkcs8_der("-----BEGIN RSA PRIVATE KEY-----\nAAEC\n-----END RSA PRIVATE KEY-----"),
            None
        );
    }
}
