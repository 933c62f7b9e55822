//! Email over SMTP (lettre's SMTP client), with a pool of connections shared
//! by the workers. SMTP takes no idempotency key: a message whose connection
//! broke after it was handed over is in doubt, never resent on its own.
//!
//! The transaction is driven here, command by command, rather than by
//! lettre's `SmtpTransport`, for two reasons:
//! - the outcome depends on how far the transaction went: a failure before
//!   the message content was written (a pooled connection the server closed
//!   while idle, a refused `MAIL FROM`) sent nothing and is retried; only a
//!   failure once the content is out leaves the message in doubt;
//! - the content and its terminating `.` go out in one write. lettre writes
//!   them apart, and Nagle's algorithm then holds the 5-byte terminator until
//!   the server acknowledges the content, which a server waiting for the
//!   terminator delays (40 ms on Linux): at most 25 messages a second per
//!   connection. Its pool also sends a `NOOP` before each reuse: a round trip
//!   per message that the staged outcome above makes unnecessary;
//! - with a server that offers PIPELINING (RFC 2920), `MAIL`, `RCPT` and
//!   `DATA` go in one write: two round trips a message instead of four.

use super::{Attempt, Outcome, Outgoing, Provider, Secrets, mime};
use herald_compiler::config::{EmailProvider, SmtpTls};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Idle connections kept for reuse (more than the workers ever need).
const POOL: usize = 16;
/// A connection idle longer than this is closed rather than reused: servers
/// close idle sessions (Postfix after 300 s).
const IDLE: Duration = Duration::from_secs(30);

pub struct Smtp {
    host: String,
    port: u16,
    tls: SmtpTls,
    tls_params: Option<TlsParameters>,
    timeout: Duration,
    credentials: Option<Credentials>,
    hello: ClientId,
    from: String,
    domain: String,
    idle: Mutex<Vec<(Session, Instant)>>,
}

/// A connection, and whether its server takes pipelined commands.
struct Session {
    conn: SmtpConnection,
    pipelining: bool,
}

/// A PEM bundle is a few certificates: far less than this.
const MAX_CA_FILE: u64 = 1024 * 1024;

fn unusable_ca(ca_file: &str, why: &str) -> String {
    format!(
        "[providers.email] `ca_file = \"{ca_file}\"`: {why}; give a PEM file of the certificate authorities that sign the server's certificate"
    )
}

/// The certificate authorities of `ca_file`: relative to the plan
/// directory `dir` and inside it, or absolute.
fn authorities(dir: &Path, ca_file: &str) -> Result<lettre::transport::smtp::client::Certificate, String> {
    let unusable = |why: String| unusable_ca(ca_file, &why);
    let path = crate::fsx::configured(dir, ca_file).map_err(|e| unusable(e.to_string()))?;
    let pem = crate::fsx::read_regular(&path, MAX_CA_FILE).map_err(|e| unusable(e.to_string()))?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(unusable("it holds no PEM certificate".into()));
    }
    lettre::transport::smtp::client::Certificate::from_pem(&pem)
        .map_err(|_| unusable("a certificate in it is not valid PEM".into()))
}

/// How far a transaction went when it failed.
enum Failure {
    /// Nothing was handed over: safe to try again.
    Before(lettre::transport::smtp::Error),
    /// The content was (maybe) handed over.
    After(lettre::transport::smtp::Error),
    /// The server cannot take this message (an address it cannot carry).
    Unsupported(&'static str),
}

impl Smtp {
    /// `dir`: the plan directory (`ca_file` is relative to it).
    pub fn new(c: &EmailProvider, dir: &Path, secrets: &Secrets) -> Result<Smtp, String> {
        let tls_params = match (c.tls, &c.ca_file) {
            (SmtpTls::None, None) => None,
            (SmtpTls::None, Some(_)) => {
                return Err(
                    "`ca_file` is set in [providers.email] but `tls = \"none\"` never checks a certificate; set `tls = \"starttls\"` or `\"tls\"`, or remove `ca_file`"
                        .into(),
                );
            }
            (SmtpTls::Starttls | SmtpTls::Tls, ca_file) => {
                let mut builder = TlsParameters::builder(c.host.clone());
                if let Some(file) = ca_file {
                    builder = builder.add_root_certificate(authorities(dir, file)?);
                }
                Some(builder.build_rustls().map_err(|e| match ca_file {
                    // rustls reads the authorities here: a certificate it
                    // cannot use is the file's, not the server's.
                    Some(file) => unusable_ca(file, &format!("a certificate in it cannot be used ({e})")),
                    None => format!("TLS for `{}`: {e}", c.host),
                })?)
            }
        };
        let credentials = match (secrets.get(&c.username), secrets.get(&c.password)) {
            (Some(user), Some(password)) => Some(Credentials::new(user, password)),
            _ => None,
        };
        Ok(Smtp {
            host: c.host.clone(),
            port: c.port,
            tls: c.tls,
            tls_params,
            timeout: c.timeout,
            credentials,
            hello: ClientId::default(),
            from: c.from.clone(),
            domain: mime::domain_of(&c.from),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// A new session: connected, encrypted as configured, authenticated.
    fn connect(&self) -> Result<Session, lettre::transport::smtp::Error> {
        let wrapper = match self.tls {
            SmtpTls::Tls => self.tls_params.as_ref(),
            _ => None,
        };
        let mut conn = SmtpConnection::connect(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &self.hello,
            wrapper,
            None,
        )?;
        if self.tls == SmtpTls::Starttls
            && let Some(params) = &self.tls_params
        {
            conn.starttls(params, &self.hello)?;
        }
        // lettre keeps only the extensions it uses from the EHLO reply: ask
        // again (before AUTH, which a new EHLO may forget) for PIPELINING.
        // RFC 5321 allows a second EHLO; a server that refuses it for good
        // (`503`, as Python's old `smtpd` does) still has the session of
        // the first: it goes on without pipelining. Anything else (`421`,
        // closing) ends the session.
        let pipelining = match conn.command(Ehlo::new(self.hello.clone())) {
            Ok(ehlo) => ehlo.message().any(|l| l.trim().eq_ignore_ascii_case("PIPELINING")),
            Err(e) if e.is_permanent() => false,
            Err(e) => return Err(e),
        };
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials)?;
        }
        Ok(Session { conn, pipelining })
    }

    /// A pooled session if one is fresh enough (`true`), else a new one.
    fn session(&self) -> Result<(Session, bool), lettre::transport::smtp::Error> {
        loop {
            let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match pooled {
                Some((s, since)) if since.elapsed() < IDLE => return Ok((s, true)),
                Some((mut s, _)) => s.conn.abort(),
                None => return self.connect().map(|s| (s, false)),
            }
        }
    }

    fn recycle(&self, conn: Session) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < POOL {
            idle.push((conn, Instant::now()));
        }
    }
}

/// The message content, dot-stuffed (RFC 5321 §4.5.2), with the terminating
/// `<CRLF>.<CRLF>`, as one command so that it is written at once.
struct Content(String);

impl std::fmt::Display for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn content(message: &str) -> Content {
    let mut out = String::with_capacity(message.len() + 16);
    for (i, line) in message.split("\r\n").enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    out.push_str("\r\n.\r\n");
    Content(out)
}

/// Commands written at once (RFC 2920 pipelining).
struct Pipelined(String);

impl std::fmt::Display for Pipelined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One transaction on a session. On any failure the session is closed.
fn transaction(
    session: &mut Session,
    envelope: &Envelope,
    message: &[u8],
) -> Result<lettre::transport::smtp::response::Response, Failure> {
    let conn = &mut session.conn;
    let mut options = Vec::new();
    let non_ascii_address = envelope.from().is_some_and(|a| !AsRef::<str>::as_ref(a).is_ascii())
        || envelope.to().iter().any(|a| !AsRef::<str>::as_ref(a).is_ascii());
    if non_ascii_address {
        if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            return Err(Failure::Unsupported(
                "smtp: the address is not ASCII and the server does not take SMTPUTF8",
            ));
        }
        options.push(MailParameter::SmtpUtfEight);
    }
    if !message.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let before = |conn: &mut SmtpConnection, e| {
        conn.abort();
        Failure::Before(e)
    };
    let mail = Mail::new(envelope.from().cloned(), options);
    if session.pipelining {
        let mut commands = mail.to_string();
        for to in envelope.to() {
            commands.push_str(&Rcpt::new(to.clone(), vec![]).to_string());
        }
        commands.push_str(&Data.to_string());
        // One reply per command, in order; the first refusal decides. A
        // broken connection (no reply code) stops the reading.
        let mut outcome = conn.command(Pipelined(commands)).map(|_| ());
        for _ in 0..=envelope.to().len() {
            if outcome.as_ref().is_err_and(|e| e.status().is_none()) {
                break;
            }
            let reply = conn.read_response();
            if outcome.is_ok() {
                outcome = reply.map(|_| ());
            }
        }
        outcome.map_err(|e| before(conn, e))?;
    } else {
        conn.command(mail).map_err(|e| before(conn, e))?;
        for to in envelope.to() {
            conn.command(Rcpt::new(to.clone(), vec![]))
                .map_err(|e| before(conn, e))?;
        }
        conn.command(Data).map_err(|e| before(conn, e))?;
    }
    let sent = match std::str::from_utf8(message) {
        Ok(text) => conn.command(content(text)),
        // Not UTF-8 (never for Herald's messages): lettre's own writer.
        Err(_) => conn.message(message),
    };
    sent.map_err(|e| {
        conn.abort();
        Failure::After(e)
    })
}

/// A failure with no reply code, before anything was handed over.
/// Why no session opened, and whether the server took the connection (a
/// code, a hang-up or bad reply, a failed TLS handshake: its settings or
/// ours, not the network).
fn session_failure(e: &lettre::transport::smtp::Error) -> (String, bool) {
    match e.status() {
        Some(code) => (format!("smtp session refused ({code})"), true),
        // lettre's "incomplete response": the server closed the connection
        // without a reply code (as some do to a client they refuse, or to
        // plain text on a TLS port).
        None if e.is_response() => ("smtp session ended without a reply code".into(), true),
        // lettre's own checks of what the server offers ("STARTTLS is not
        // supported on this server": never a fallback to clear text; no
        // AUTH mechanism in common): it answered, its settings or ours.
        None if e.is_client() => {
            let why = std::error::Error::source(e).map_or_else(|| "a capability is missing".into(), |s| s.to_string());
            (format!("smtp session refused: {why}"), true)
        }
        None => match tls_refused(e) {
            // A handshake rustls refused: the server answered.
            Some(why) => (format!("smtp TLS failed: {why}"), true),
            None => (no_answer(e), e.is_tls()),
        },
    }
}

fn no_answer(e: &lettre::transport::smtp::Error) -> String {
    if let Some(why) = tls_refused(e) {
        return format!("smtp TLS failed: {why}");
    }
    match e.is_tls() {
        true => "smtp TLS failed".into(),
        false => "smtp connection failed".into(),
    }
}

/// Why the TLS handshake failed, when rustls said (lettre reports it as an
/// I/O error): the server answered, its certificate or protocol did not
/// do. rustls's words name no address.
fn tls_refused(e: &lettre::transport::smtp::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        // An io::Error's `source` skips the error it carries.
        let inner = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|i| i as &(dyn std::error::Error + 'static));
        for candidate in [Some(c), inner].into_iter().flatten() {
            match candidate.downcast_ref::<rustls::Error>() {
                Some(rustls::Error::InvalidCertificate(why)) => {
                    // The kind alone (`UnknownIssuer`, `NotValidForName`):
                    // its details quote what the server presented.
                    let kind: String = format!("{why:?}")
                        .chars()
                        .take_while(char::is_ascii_alphanumeric)
                        .collect();
                    return Some(format!(
                        "the server's certificate is not valid or not trusted ({kind}); `ca_file` names a private CA"
                    ));
                }
                // rustls's own words, bounded.
                Some(other) => return Some(other.to_string().chars().take(120).collect()),
                None => {}
            }
        }
        cause = c.source();
    }
    None
}

/// The outcome of a failure: only the code, as the server's text may quote
/// the recipient.
fn outcome(failure: Failure) -> Outcome {
    let (e, handed_over) = match failure {
        Failure::Before(e) => (e, false),
        Failure::After(e) => (e, true),
        Failure::Unsupported(reason) => return Outcome::Failed { reason: reason.into() },
    };
    let code = |default: &str| format!("smtp {}", e.status().map_or(default.into(), |c| c.to_string()));
    if e.is_permanent() {
        Outcome::Failed { reason: code("5xx") }
    } else if e.is_transient() {
        Outcome::Retry {
            after: None,
            reason: code("4xx"),
        }
    } else if !handed_over {
        Outcome::Retry {
            after: None,
            reason: no_answer(&e),
        }
    } else if e.is_timeout() {
        Outcome::InDoubt {
            reason: "smtp timeout".into(),
        }
    } else {
        Outcome::InDoubt {
            reason: "smtp connection lost".into(),
        }
    }
}

impl Provider for Smtp {
    fn kind(&self) -> &'static str {
        "smtp"
    }

    fn idempotent(&self) -> bool {
        false
    }

    fn origin(&self) -> Option<String> {
        // An IPv6 address in brackets, as in a URL.
        Some(match self.host.contains(':') {
            true => format!("smtp://[{}]:{}", self.host, self.port),
            false => format!("smtp://{}:{}", self.host, self.port),
        })
    }

    fn send(&self, m: &Outgoing) -> Outcome {
        self.attempt(m).outcome
    }

    fn attempt(&self, m: &Outgoing) -> Attempt {
        let message = match mime::email(m, &self.from, &self.domain) {
            Ok(msg) => msg,
            Err(reason) => return Attempt::local(Outcome::Failed { reason }),
        };
        let bytes = message.formatted();
        loop {
            let (mut conn, reused) = match self.session() {
                Ok(s) => s,
                // No session (refused, no route, timed out, TLS, or a code
                // to the greeting, EHLO or AUTH): the server or its settings,
                // not this message. Never a failure of the message (a `535`
                // to AUTH would fail every send for good): it waits, and the
                // breaker counts the provider down.
                Err(e) => {
                    let (reason, refused) = session_failure(&e);
                    return Attempt {
                        outcome: Outcome::Retry { after: None, reason },
                        cannot_connect: true,
                        refused,
                        asked: true,
                        elsewhere: false,
                    };
                }
            };
            match transaction(&mut conn, message.envelope(), &bytes) {
                Ok(response) => {
                    self.recycle(conn);
                    return Outcome::Sent {
                        provider_id: Some(format!("smtp {}", response.code())),
                    }
                    .into();
                }
                // A pooled session the server closed meanwhile: nothing was
                // sent; a new session takes the message.
                Err(Failure::Before(e)) if reused && !e.is_permanent() && !e.is_transient() => {}
                Err(failure) => return outcome(failure).into(),
            }
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        for (mut s, _) in self.idle.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            let _ = s.conn.quit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ca_file`: a clear error at start for a setting that cannot work,
    /// naming the file, never a silent fallback to the public roots alone.
    #[test]
    fn a_ca_file_that_cannot_be_used_stops_the_provider_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let config = |tls: SmtpTls, ca: &str| EmailProvider {
            kind: herald_compiler::config::EmailProviderKind::Smtp,
            host: "smtp.example.test".into(),
            port: 587,
            username: None,
            password: None,
            from: "Herald <news@herald.example.test>".into(),
            tls,
            ca_file: Some(ca.into()),
            dir: String::new(),
            rate: None,
            timeout: Duration::from_secs(5),
        };
        let error = |c: EmailProvider| match Smtp::new(&c, dir.path(), &Secrets::default()) {
            Ok(_) => panic!("accepted"),
            Err(e) => e,
        };
        let e = error(config(SmtpTls::None, "ca.pem"));
        assert!(e.contains("`tls = \"none\"` never checks a certificate"), "{e}");
        let e = error(config(SmtpTls::Starttls, "missing.pem"));
        assert!(e.starts_with("[providers.email] `ca_file = \"missing.pem\"`: "), "{e}");
        std::fs::write(dir.path().join("empty.pem"), "not a certificate\n").unwrap();
        let e = error(config(SmtpTls::Tls, "empty.pem"));
        assert!(e.contains("it holds no PEM certificate"), "{e}");
        std::fs::create_dir(dir.path().join("certs")).unwrap();
        let e = error(config(SmtpTls::Tls, "certs"));
        assert!(e.contains("`ca_file = \"certs\"`"), "{e}");
        // Relative paths stay in the plan directory, even to a file that
        // exists; an absolute one is used as written.
        let outside = tempfile::tempdir().unwrap();
        let plan = outside.path().join("plan");
        std::fs::create_dir(&plan).unwrap();
        std::fs::write(outside.path().join("ca.pem"), "-----BEGIN CERTIFICATE-----\n").unwrap();
        let e = match Smtp::new(&config(SmtpTls::Tls, "../ca.pem"), &plan, &Secrets::default()) {
            Ok(_) => panic!("accepted"),
            Err(e) => e,
        };
        assert!(e.contains("resolves outside the plan directory"), "{e}");
        let absolute = outside.path().join("ca.pem").display().to_string();
        let e = match Smtp::new(&config(SmtpTls::Tls, &absolute), &plan, &Secrets::default()) {
            Ok(_) => panic!("accepted"),
            Err(e) => e,
        };
        assert!(!e.contains("outside") && e.contains("not valid PEM"), "{e}");
    }
    use crate::providers::Body;
    use std::io::{BufRead, BufReader, Write};

    /// A minimal SMTP server on loopback for one session, written here to
    /// stand in for servers that behave oddly (real ones are tested with
    /// aiosmtpd in `tests/`): `greeting` first, then `250` to everything,
    /// `503` to a second EHLO, `354` to DATA. Returns the messages taken.
    fn odd_server(greeting: &'static str) -> (u16, std::thread::JoinHandle<usize>) {
        odd_server_with(greeting, false)
    }

    /// The same, offering AUTH and refusing every login (`535`) if `auth`.
    fn odd_server_with(greeting: &'static str, auth: bool) -> (u16, std::thread::JoinHandle<usize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut out = stream.try_clone().unwrap();
            let mut lines = BufReader::new(stream);
            out.write_all(greeting.as_bytes()).unwrap();
            if !greeting.starts_with("220") {
                return 0;
            }
            let (mut ehlos, mut taken, mut line) = (0, 0, String::new());
            // Bounded: a session of a few commands.
            for _ in 0..100 {
                line.clear();
                if lines.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" => {
                        ehlos += 1;
                        if ehlos > 1 {
                            b"503 Duplicate HELO/EHLO\r\n"
                        } else if auth {
                            b"250-odd\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
                        } else {
                            b"250-odd\r\n250 8BITMIME\r\n"
                        }
                    }
                    "DATA" => {
                        out.write_all(b"354 go on\r\n").unwrap();
                        let mut body = String::new();
                        while !body.ends_with("\r\n.\r\n") && lines.read_line(&mut body).unwrap_or(0) > 0 {}
                        taken += 1;
                        b"250 queued\r\n"
                    }
                    "AUTH" => b"535 5.7.8 authentication failed\r\n",
                    "QUIT" => {
                        let _ = out.write_all(b"221 bye\r\n");
                        break;
                    }
                    _ => b"250 ok\r\n",
                };
                out.write_all(reply).unwrap();
            }
            taken
        });
        (port, server)
    }

    fn smtp(port: u16) -> Smtp {
        smtp_as(port, None)
    }

    /// With `login`, a username and password from (test) secrets.
    fn smtp_as(port: u16, login: Option<(&str, &str)>) -> Smtp {
        let config = EmailProvider {
            kind: herald_compiler::config::EmailProviderKind::Smtp,
            host: "127.0.0.1".into(),
            port,
            username: login.map(|_| herald_compiler::config::SecretRef { env: "U".into() }),
            password: login.map(|_| herald_compiler::config::SecretRef { env: "P".into() }),
            from: "Herald <news@herald.example.test>".into(),
            tls: SmtpTls::None,
            ca_file: None,
            dir: String::new(),
            rate: None,
            timeout: Duration::from_secs(5),
        };
        let secrets = match login {
            Some((user, password)) => Secrets(
                [
                    ("U".to_string(), user.to_string()),
                    ("P".to_string(), password.to_string()),
                ]
                .into(),
            ),
            None => Secrets::default(),
        };
        Smtp::new(&config, Path::new("."), &secrets).unwrap()
    }

    fn message() -> Outgoing {
        Outgoing {
            key: "k1".into(),
            contact_id: "c1".into(),
            to: "a@example.test".into(),
            body: Body::Email {
                subject: "Bonjour".into(),
                preheader: None,
                html: "<p>Bonjour</p>".into(),
                text: "Bonjour".into(),
                unsubscribe_url: None,
            },
        }
    }

    /// A server that refuses Herald's second EHLO still takes the message,
    /// without pipelining: never a failure of every send.
    #[test]
    fn a_server_that_refuses_a_second_ehlo_still_gets_the_message() {
        let (port, server) = odd_server("220 odd ESMTP\r\n");
        let smtp = smtp(port);
        let attempt = smtp.attempt(&message());
        assert!(matches!(attempt.outcome, Outcome::Sent { .. }), "{attempt:?}");
        drop(smtp);
        assert_eq!(server.join().unwrap(), 1);
    }

    /// A wrong password (`535` to AUTH) is the provider's settings, not the
    /// message's: the send waits, counted against the provider.
    #[test]
    fn a_refused_login_keeps_the_send() {
        let (port, server) = odd_server_with("220 odd ESMTP\r\n", true);
        let attempt = smtp_as(port, Some(("news", "wrong"))).attempt(&message());
        match attempt.outcome {
            Outcome::Retry { ref reason, .. } => assert_eq!(reason, "smtp session refused (535)"),
            ref other => panic!("{other:?}"),
        }
        assert!(attempt.cannot_connect && attempt.refused);
        assert_eq!(server.join().unwrap(), 0);
    }

    /// A session refused at its greeting is the server's state, not the
    /// message's: the send waits (and the breaker counts the provider
    /// down), never failed for good.
    #[test]
    fn a_refused_session_keeps_the_send() {
        let (port, server) = odd_server("554 no service here\r\n");
        let attempt = smtp(port).attempt(&message());
        match attempt.outcome {
            Outcome::Retry { ref reason, .. } => assert_eq!(reason, "smtp session refused (554)"),
            ref other => panic!("{other:?}"),
        }
        assert!(attempt.cannot_connect && attempt.refused && attempt.asked);
        assert_eq!(server.join().unwrap(), 0);
    }

    /// A server that takes the connection and hangs up without a word is
    /// not "unreachable": its settings (or ours) refuse the session.
    #[test]
    fn a_server_that_hangs_up_at_once_refuses_the_session() {
        let (port, server) = odd_server("");
        let attempt = smtp(port).attempt(&message());
        match attempt.outcome {
            Outcome::Retry { ref reason, .. } => assert_eq!(reason, "smtp session ended without a reply code"),
            ref other => panic!("{other:?}"),
        }
        assert!(attempt.cannot_connect && attempt.refused && attempt.asked);
        assert_eq!(server.join().unwrap(), 0);
    }

    /// Nothing listening: unreachable, not refused.
    #[test]
    fn no_server_is_unreachable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let attempt = smtp(port).attempt(&message());
        match attempt.outcome {
            Outcome::Retry { ref reason, .. } => assert_eq!(reason, "smtp connection failed"),
            ref other => panic!("{other:?}"),
        }
        assert!(attempt.cannot_connect && !attempt.refused);
    }

    #[test]
    fn content_is_dot_stuffed_and_terminated_in_one_piece() {
        assert_eq!(content("a\r\n.b\r\n..\r\nc.").0, "a\r\n..b\r\n...\r\nc.\r\n.\r\n");
        assert_eq!(content(".x").0, "..x\r\n.\r\n");
    }
}
