//! `herald run` against real protocols: a real SMTP server on loopback
//! (aiosmtpd, installed by scripts/test), and HTTP servers written here for
//! the SMS APIs (Twilio's Messages API and a generic gateway), which cannot
//! be reached from the tests — they follow the providers' published request
//! and response shapes. Then crashes (`kill -9`) and faults.

use super::http_mock::{MockServer, Reply, twilio_reply};
use super::*;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Black Friday, at 10:00 in Paris: two campaigns of one plan.
const SEND_AT: &str = "2026-11-27T10:00";
/// A minute after the campaigns' instant.
const RUN_AT: &str = "2026-11-27T09:01:00Z";

const PLAN: &str = r#"
contact:
  fields:
    email: { type: email, optional: true }
    phone: { type: phone, optional: true }
    first_name: { type: string, optional: true, max_length: 20 }
  consents:
    email_marketing: { channel: email }
    sms_marketing: { channel: sms }
programs:
  promotions: { objective: "Sell during Black Friday." }
# Delivery tests: every forecast send goes out, no cap drops one.
policies:
  pressure: []
messages:
  bf_email:
    channel: email
    purpose: marketing
    subject: "Black Friday : -30 %"
    preheader: "Sur tout le site, jusqu'à dimanche"
    body: '<html><body><p>Bonjour {{ contact.first_name | default("") }}, -30 % sur tout.</p><p><a href="{{ unsubscribe_url }}">Se désinscrire</a></p></body></html>'
  bf_sms:
    channel: sms
    purpose: marketing
    sender: Boutique
    text: "Boutique: -30% sur tout jusqu'a dimanche. STOP au 36111"
campaigns:
  bf_email:
    program: promotions
    audience: consent(email_marketing) and email is set
    message: bf_email
    send_at: SEND_AT
  bf_sms:
    program: promotions
    audience: consent(sms_marketing) and phone is set
    message: bf_sms
    send_at: SEND_AT
"#;

/// A plan directory with `contacts` generated contacts and these providers.
fn campaign_plan(contacts: u64, providers: &str) -> tempfile::TempDir {
    let config = format!("{}\n{providers}\n", String::from_utf8_lossy(CONFIG));
    let dir = plan(&[
        ("herald.toml", config.as_bytes()),
        ("plan.yaml", PLAN.replace("SEND_AT", SEND_AT).as_bytes()),
    ]);
    let (code, _, err) = run(herald()
        .args(["contacts", "generate", "--count", &contacts.to_string(), "--seed", "7"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    dir
}

/// Forecast recipients of each campaign (the plan of an applied plan shows no
/// changes, so read them from a fresh copy's plan).
fn expected(dir: &Path) -> BTreeMap<String, u64> {
    let copy = tempfile::tempdir().unwrap();
    for f in ["herald.toml", "plan.yaml"] {
        std::fs::copy(dir.join(f), copy.path().join(f)).unwrap();
    }
    std::fs::create_dir_all(copy.path().join("data")).unwrap();
    std::fs::copy(dir.join("data/contacts.csv"), copy.path().join("data/contacts.csv")).unwrap();
    let (code, out, err) = run(herald().args(["plan", "--format", "json"]).arg(copy.path()));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| Some((c["address"].as_str()?.to_string(), c["impact"]["recipients"].as_u64()?)))
        .collect()
}

fn ledger(dir: &Path) -> Vec<serde_json::Value> {
    let (code, out, err) = run(herald()
        .args(["sends", "--format", "json", "--limit", "100000"])
        .arg(dir));
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// Run again (half a second apart, 30 times at most) while any of `rows`
/// is queued: sends held on the real clock go at a later pass.
fn run_until_none_queued(dir: &Path, env: &[(&str, &str)], rows: impl Fn(&Path) -> Vec<serde_json::Value>) {
    for _ in 0..30 {
        if !rows(dir).iter().any(|s| s["status"] == "queued") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        run_once(dir, env);
    }
}

fn run_once(dir: &Path, env: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = herald();
    cmd.env("HERALD_NOW", RUN_AT)
        .args(["run", "--once", "--format", "json"])
        .arg(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(out.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {out} {err}"))
}

/// aiosmtpd requiring a login: `PORT MAILDIR USER PASSWORD`.
const SMTP_WITH_LOGIN: &str = r#"
import signal, sys
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
port, maildir, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode(), sys.argv[4].encode()
def check(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == user and data.password == password
    # `handled=False`: aiosmtpd answers a refusal with 535 itself.
    return AuthResult(success=ok, handled=False)
# ready_timeout: on a loaded machine the default (a second or so) runs out
# and the server stops, leaving a port that briefly answered.
c = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port, authenticator=check,
               auth_required=True, auth_require_tls=False, ready_timeout=30)
c.start()
open(maildir + ".ready", "w").close()
# Not `time.sleep`: under libfaketime (scripts/test's run years ahead) a
# long sleep fails with EINVAL, and the server would be gone.
signal.pause()
"#;

/// aiosmtpd, writing what it receives to a Maildir.
struct Smtp {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Smtp {
    fn start() -> Smtp {
        Smtp::start_on(free_port())
    }

    fn start_on(port: u16) -> Smtp {
        Smtp::spawn(port, None)
    }

    /// An aiosmtpd that requires AUTH (PLAIN or LOGIN, over the plain
    /// connection on loopback) and takes only `user`/`password`.
    fn start_with_login(user: &str, password: &str) -> Smtp {
        Smtp::spawn(free_port(), Some((user, password)))
    }

    /// aiosmtpd with TLS: `starttls` (offered on the plain connection) or
    /// `tls` (implicit, from the first byte), with `server.pem` and
    /// `server.key` of `certs` (see [`test_certificates`]).
    fn start_with_tls(kind: &str, certs: &Path) -> Smtp {
        let (cert, key) = match kind {
            "starttls" => ("--tlscert", "--tlskey"),
            _ => ("--smtpscert", "--smtpskey"),
        };
        let tls = [
            cert.to_string(),
            certs.join("server.pem").display().to_string(),
            key.to_string(),
            certs.join("server.key").display().to_string(),
        ];
        Smtp::spawn_with(free_port(), None, &tls)
    }

    fn spawn(port: u16, login: Option<(&str, &str)>) -> Smtp {
        Smtp::spawn_with(port, login, &[])
    }

    fn spawn_with(port: u16, login: Option<(&str, &str)>, tls: &[String]) -> Smtp {
        let python = std::env::var("HERALD_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo().join("target/test-venv/bin/python"));
        assert!(
            python.exists(),
            "the SMTP tests need aiosmtpd: run scripts/test (it makes target/test-venv), or set HERALD_TEST_PYTHON"
        );
        let maildir = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new(python);
        match login {
            None => cmd
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
                .args(tls)
                .args(["-c", "aiosmtpd.handlers.Mailbox"]),
            Some(_) => cmd.args(["-c", SMTP_WITH_LOGIN, &port.to_string()]),
        };
        // A path that does not exist yet: Python's Maildir creates its
        // subdirectories only then.
        cmd.arg(maildir.path().join("mail"));
        if let Some((user, password)) = login {
            cmd.args([user, password]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let start = Instant::now();
        // With a login, the script says when its server is up (the port
        // answers a moment before, and the start may still fail).
        let ready = maildir.path().join("mail.ready");
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() || (login.is_some() && !ready.exists()) {
            assert!(start.elapsed() < Duration::from_secs(20), "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Smtp { child, port, maildir }
    }

    /// Every message received, raw.
    fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            for e in std::fs::read_dir(self.maildir.path().join("mail").join(sub))
                .into_iter()
                .flatten()
            {
                out.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
            }
        }
        out
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run openssl in `dir` (scripts/test installs it).
fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (scripts/test installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A certificate authority (`ca.pem`) and a certificate it signed for
/// 127.0.0.1 (`server.pem`, `server.key`), made in `dir` by openssl.
fn test_certificates(dir: &Path) {
    let openssl = |args: &[&str]| openssl(dir, args);
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[
            &["req", "-x509"],
            &ec[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "3650",
                "-subj",
                "/CN=Herald test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"],
            &ec[..],
            &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "3650",
        "-extfile",
        "server.ext",
    ]);
}

/// STARTTLS and implicit TLS against a real server whose certificate a
/// private CA signed (`ca_file`): the emails arrive. Without `ca_file` the
/// certificate is not trusted: nothing is sent, in clear or otherwise, and
/// the report says why.
#[test]
fn starttls_and_tls_with_a_private_ca_and_never_in_clear_without_trust() {
    let certs = tempfile::tempdir().unwrap();
    test_certificates(certs.path());
    for kind in ["starttls", "tls"] {
        let smtp = Smtp::start_with_tls(kind, certs.path());
        let settings = |ca: bool| {
            smtp_providers(smtp.port).replace(
                "tls = \"none\"\n",
                &format!(
                    "tls = \"{kind}\"\n{}",
                    if ca { "ca_file = \"certs/ca.pem\"\n" } else { "" }
                ),
            )
        };
        // Not trusted: the public roots do not hold the private CA.
        let dir = campaign_plan(5, &settings(false));
        let (code, _, err) = run(herald()
            .env("HERALD_NOW", RUN_AT)
            .args(["run", "--once"])
            .arg(dir.path()));
        assert_eq!(code, 1, "{kind}: {err}");
        assert!(
            err.contains("refuses sessions") && err.contains("(UnknownIssuer)") && err.contains("`ca_file`"),
            "{kind}: {err}"
        );
        assert!(smtp.messages().is_empty(), "{kind}: sent to an untrusted server");
        let (_, listing, _) = run(herald().args(["sends"]).arg(dir.path()));
        assert!(
            listing.contains("smtp TLS failed: the server's certificate is not valid or not trusted (UnknownIssuer)"),
            "{kind}: {listing}"
        );
        // Trusted through `ca_file`: the emails arrive.
        let dir = campaign_plan(5, &settings(true));
        std::fs::create_dir_all(dir.path().join("certs")).unwrap();
        std::fs::copy(certs.path().join("ca.pem"), dir.path().join("certs/ca.pem")).unwrap();
        let want = expected(dir.path())["campaigns.bf_email"];
        let r = run_once(dir.path(), &[]);
        let emails_sent = ledger(dir.path())
            .iter()
            .filter(|s| s["channel"] == "email" && s["status"] == "sent")
            .count() as u64;
        assert_eq!(emails_sent, want, "{kind}: {r}");
        assert_eq!(smtp.messages().len() as u64, want, "{kind}");
    }
    // A server that offers no STARTTLS: no fallback to clear text.
    let plain = Smtp::start();
    let settings = smtp_providers(plain.port).replace("tls = \"none\"\n", "tls = \"starttls\"\n");
    let dir = campaign_plan(5, &settings);
    let (code, _, err) = run(herald()
        .env("HERALD_NOW", RUN_AT)
        .args(["run", "--once"])
        .arg(dir.path()));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("refuses sessions") && err.contains("STARTTLS is not supported on this server"),
        "{err}"
    );
    assert!(plain.messages().is_empty(), "sent in clear text");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let head = raw.split("\n\n").next().unwrap_or(raw);
    head.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

fn smtp_providers(port: u16) -> String {
    format!(
        "[providers.email]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"Boutique <news@boutique.example.test>\"\n"
    )
}

#[test]
fn email_over_smtp_has_both_parts_one_click_unsubscribe_and_a_message_id_from_the_key() {
    let smtp = Smtp::start();
    let dir = campaign_plan(
        60,
        &format!("{}\n[providers.sms]\nkind = \"file\"\n", smtp_providers(smtp.port)),
    );
    let want = expected(dir.path());
    let r = run_once(dir.path(), &[]);
    assert_eq!(r["failed"], 0, "{r}");
    let received = smtp.messages();
    assert_eq!(received.len() as u64, want["campaigns.bf_email"], "{r}");
    let keys: BTreeSet<String> = ledger(dir.path())
        .iter()
        .filter(|s| s["channel"] == "email" && s["status"] == "sent")
        .map(|s| s["key"].as_str().unwrap().to_string())
        .collect();
    for raw in &received {
        let id = header(raw, "Message-ID").unwrap();
        let key = id.trim_matches(['<', '>']).split('@').next().unwrap();
        assert!(keys.contains(key), "the Message-ID is the send's key: {id}");
        let unsubscribe = header(raw, "List-Unsubscribe").unwrap();
        assert!(
            unsubscribe.starts_with("<http://") && unsubscribe.contains("/u/"),
            "{unsubscribe}"
        );
        assert_eq!(header(raw, "List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
        assert!(raw.contains("multipart/alternative"));
        let text = raw.find("Content-Type: text/plain").unwrap();
        let html = raw.find("Content-Type: text/html").unwrap();
        assert!(text < html, "text part first, HTML last");
    }
    // Run again: nothing more.
    run_once(dir.path(), &[]);
    assert_eq!(smtp.messages().len(), received.len());
}

/// A bare SMTP server that records, for each message, the time between the
/// first bytes of its content and its terminating `.`; it closes each
/// session after `per_session` messages without a word, as servers that
/// limit messages per connection or time out idle sessions do. With
/// `pipelining` it offers PIPELINING and counts the transactions whose
/// `MAIL`, `RCPT` and `DATA` came in one piece; it refuses every
/// `refuse_every`-th recipient (550).
struct TimingSmtp {
    port: u16,
    gaps: Arc<Mutex<Vec<Duration>>>,
    sessions: Arc<AtomicU64>,
    pipelined: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

impl TimingSmtp {
    fn start(per_session: usize, pipelining: bool, refuse_every: u64) -> TimingSmtp {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let gaps: Arc<Mutex<Vec<Duration>>> = Arc::default();
        let sessions: Arc<AtomicU64> = Arc::default();
        let pipelined: Arc<AtomicU64> = Arc::default();
        let refused: Arc<AtomicU64> = Arc::default();
        let recipients: Arc<AtomicU64> = Arc::default();
        let (g, n, p, r) = (
            Arc::clone(&gaps),
            Arc::clone(&sessions),
            Arc::clone(&pipelined),
            Arc::clone(&refused),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut out) = stream else { return };
                n.fetch_add(1, Ordering::Relaxed);
                let (g, p, r, rcpt) = (Arc::clone(&g), Arc::clone(&p), Arc::clone(&r), Arc::clone(&recipients));
                std::thread::spawn(move || {
                    let mut input = BufReader::new(out.try_clone().unwrap());
                    let _ = out.write_all(b"220 timing ESMTP\r\n");
                    let mut messages = 0;
                    let mut accepted = 0;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if input.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" if pipelining => b"250-timing\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
                            "EHLO" => b"250-timing\r\n250 8BITMIME\r\n",
                            "QUIT" => {
                                let _ = out.write_all(b"221 bye\r\n");
                                return;
                            }
                            "MAIL" => {
                                accepted = 0;
                                if String::from_utf8_lossy(input.buffer()).ends_with("DATA\r\n") {
                                    p.fetch_add(1, Ordering::Relaxed);
                                }
                                b"250 ok\r\n"
                            }
                            "RCPT" if (rcpt.fetch_add(1, Ordering::Relaxed) + 1) % refuse_every == 0 => {
                                r.fetch_add(1, Ordering::Relaxed);
                                b"550 5.1.1 no such user\r\n"
                            }
                            "RCPT" => {
                                accepted += 1;
                                b"250 ok\r\n"
                            }
                            "DATA" if accepted == 0 => b"554 no valid recipients\r\n",
                            "DATA" => {
                                let _ = out.write_all(b"354 go on\r\n");
                                let mut content: Vec<u8> = Vec::new();
                                let mut first = None;
                                while !content.ends_with(b"\r\n.\r\n") {
                                    let chunk = match input.fill_buf() {
                                        Ok([]) | Err(_) => return,
                                        Ok(c) => c.to_vec(),
                                    };
                                    first.get_or_insert_with(Instant::now);
                                    input.consume(chunk.len());
                                    content.extend_from_slice(&chunk);
                                }
                                g.lock().unwrap().push(first.map_or(Duration::ZERO, |t| t.elapsed()));
                                let _ = out.write_all(b"250 queued\r\n");
                                messages += 1;
                                if messages == per_session {
                                    // Gone without a word: the client finds out at its next command.
                                    return;
                                }
                                continue;
                            }
                            _ => b"250 ok\r\n",
                        };
                        let _ = out.write_all(reply);
                    }
                });
            }
        });
        TimingSmtp {
            port,
            gaps,
            sessions,
            pipelined,
            refused,
        }
    }
}

#[test]
fn a_message_and_its_terminator_go_out_together_and_closed_sessions_lose_nothing() {
    // One worker, one session at a time. Written apart, the terminator waits
    // for the server's delayed acknowledgement of the content (Nagle's
    // algorithm): 40 ms a message on Linux.
    let smtp = TimingSmtp::start(7, false, u64::MAX);
    let providers = format!(
        "[run]\nworkers = 1\n\n{}\n[providers.sms]\nkind = \"file\"\n",
        smtp_providers(smtp.port)
    );
    let dir = campaign_plan(80, &providers);
    let want = expected(dir.path())["campaigns.bf_email"];
    assert!(want > 20, "enough messages to see the delays: {want}");
    let r = run_once(dir.path(), &[]);
    assert_eq!(r["in_doubt"], 0, "a session closed between messages sent nothing: {r}");
    let sent = ledger(dir.path())
        .iter()
        .filter(|s| s["channel"] == "email" && s["status"] == "sent")
        .count();
    assert_eq!(sent as u64, want, "{r}");
    let gaps = smtp.gaps.lock().unwrap().clone();
    assert_eq!(gaps.len() as u64, want);
    let slowest = gaps.iter().max().unwrap();
    assert!(
        *slowest < Duration::from_millis(30),
        "the terminator came {slowest:?} after the content"
    );
    // Seven messages a session: the closed ones were replaced.
    assert!(smtp.sessions.load(Ordering::Relaxed) >= want.div_ceil(7));
}

#[test]
fn a_server_that_offers_pipelining_gets_mail_rcpt_and_data_at_once_and_refusals_send_nothing() {
    let smtp = TimingSmtp::start(usize::MAX, true, 5);
    let providers = format!("{}\n[providers.sms]\nkind = \"file\"\n", smtp_providers(smtp.port));
    let dir = campaign_plan(80, &providers);
    let want = expected(dir.path())["campaigns.bf_email"];
    let r = run_once(dir.path(), &[]);
    let refused = smtp.refused.load(Ordering::Relaxed);
    assert!(refused > 0 && refused == want / 5, "{refused} of {want}");
    assert_eq!(r["in_doubt"], 0, "a refused recipient: nothing was sent: {r}");
    let rows = ledger(dir.path());
    let email: Vec<_> = rows.iter().filter(|s| s["channel"] == "email").collect();
    let sent = email.iter().filter(|s| s["status"] == "sent").count() as u64;
    let failed: Vec<_> = email.iter().filter(|s| s["status"] == "failed").collect();
    assert_eq!(sent, want - refused);
    assert_eq!(failed.len() as u64, refused);
    assert!(failed.iter().all(|s| s["reason"] == "smtp 550"), "{failed:?}");
    assert_eq!(smtp.gaps.lock().unwrap().len() as u64, sent);
    // Every transaction came in one piece.
    assert_eq!(smtp.pipelined.load(Ordering::Relaxed), want);
}

#[test]
fn twilio_requests_have_the_documented_shape_and_errors_keep_only_their_code() {
    let server = MockServer::start(|r, _| {
        // One contact's number is refused as invalid, as Twilio does.
        if r.form().get("To").is_some_and(|t| t.ends_with('7')) {
            return Reply::Status(
                400,
                vec![],
                r#"{"code": 21211, "message": "The 'To' number +33639980007 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#.into(),
            );
        }
        twilio_reply(r, "AC123", "tok")
    });
    let providers = format!(
        "[providers.sms]\nkind = \"twilio\"\nbase_url = \"{}\"\naccount_sid = \"env:T_SID\"\nauth_token = \"env:T_TOKEN\"\nfrom = \"+33700000000\"\n",
        server.url()
    );
    let dir = campaign_plan(60, &providers);
    let want = expected(dir.path());
    let r = run_once(dir.path(), &[("T_SID", "AC123"), ("T_TOKEN", "tok")]);
    let requests = server.requests();
    assert_eq!(requests.len() as u64, want["campaigns.bf_sms"], "{r}");
    for q in &requests {
        assert_eq!(q.path, "/2010-04-01/Accounts/AC123/Messages.json");
        assert!(
            q.header("content-type")
                .unwrap()
                .starts_with("application/x-www-form-urlencoded")
        );
        let f = q.form();
        assert!(f["To"].starts_with("+336"));
        assert_eq!(f["From"], "Boutique", "the message's sender ID");
        assert!(f["Body"].starts_with("Boutique: -30%"));
    }
    let rows = ledger(dir.path());
    let sms: Vec<_> = rows.iter().filter(|s| s["channel"] == "sms").collect();
    let failed: Vec<_> = sms.iter().filter(|s| s["status"] == "failed").collect();
    let sent = sms.iter().filter(|s| s["status"] == "sent").count();
    assert_eq!(failed.len() as u64, r["failed"].as_u64().unwrap());
    assert_eq!(sent + failed.len(), requests.len());
    for f in &failed {
        let reason = f["reason"].as_str().unwrap();
        assert_eq!(reason, "twilio: HTTP 400 (error 21211)");
    }
    // Nothing the API said about a number is kept or shown.
    let listing = run(herald().args(["sends"]).arg(dir.path())).1;
    assert!(
        !listing.contains("+336") && !listing.contains("not a valid phone"),
        "{listing}"
    );
}

/// A generic SMS gateway that honours `Idempotency-Key`: a key seen before
/// gets its first answer again and is not delivered twice.
struct Gateway {
    server: MockServer,
    /// Delivered keys, with how many requests carried each.
    delivered: Arc<Mutex<BTreeMap<String, u64>>>,
}

/// Zero duplicates at the gateway: every key it delivered is a send of the
/// ledger, and no send (object, contact) was delivered under two keys.
fn once_per_send(dir: &Path, delivered: &BTreeMap<String, u64>) {
    let rows = ledger(dir);
    let by_key: BTreeMap<&str, (&str, &str)> = rows
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap();
            (f("key"), (f("object"), f("contact_id")))
        })
        .collect();
    let mut seen = BTreeSet::new();
    for key in delivered.keys() {
        let send = by_key
            .get(key.as_str())
            .unwrap_or_else(|| panic!("the gateway got a key no send has: {key}"));
        assert!(seen.insert(*send), "{send:?} delivered twice, under two keys");
    }
}

fn gateway(fault: impl Fn(u64) -> Option<Reply> + Send + Sync + 'static) -> Gateway {
    gateway_on(0, fault)
}

/// The gateway on this port (0: any free one).
fn gateway_on(port: u16, fault: impl Fn(u64) -> Option<Reply> + Send + Sync + 'static) -> Gateway {
    let delivered: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let d = Arc::clone(&delivered);
    let server = MockServer::start_on(port, move |r, n| {
        let Some(key) = r.header("idempotency-key").map(str::to_string) else {
            return Reply::Status(400, vec![], r#"{"code": "missing_key"}"#.into());
        };
        // Faults before the gateway looks at the message: nothing delivered.
        if let Some(reply) = fault(n) {
            if let Reply::Hang(_) = reply {
                // A timeout after the message was taken: delivered, answer lost.
                *d.lock().unwrap().entry(key).or_insert(0) += 1;
            }
            return reply;
        }
        let mut delivered = d.lock().unwrap();
        let first = !delivered.contains_key(&key);
        *delivered.entry(key.clone()).or_insert(0) += 1;
        let status = if first { 201 } else { 200 };
        Reply::Status(status, vec![], format!(r#"{{"id": "msg-{key}"}}"#))
    });
    Gateway { server, delivered }
}

fn http_providers(url: &str) -> String {
    format!(
        "[providers.sms]\nkind = \"http\"\nbase_url = \"{url}/v1/messages\"\nauth_token = \"env:GW_TOKEN\"\ntimeout = 0.5\n"
    )
}

#[test]
fn faults_on_a_fifth_of_sms_requests_lose_nothing_and_duplicate_nothing() {
    // 20 % of requests fail: 500, 429 with Retry-After, or a timeout after
    // the gateway took the message.
    let g = gateway(|n| match n % 15 {
        0 => Some(Reply::Status(500, vec![], "{}".into())),
        5 => Some(Reply::Status(
            429,
            vec![("Retry-After".into(), "1".into())],
            "{}".into(),
        )),
        10 => Some(Reply::Hang(Duration::from_millis(900))),
        _ => None,
    });
    let dir = campaign_plan(300, &http_providers(&g.server.url()));
    let want = expected(dir.path())["campaigns.bf_sms"];
    let env = [("GW_TOKEN", "t")];
    run_once(dir.path(), &env);
    // Sends put back to the ledger are held on the real clock; later passes
    // take them. A pass that retried nothing may come while some are still
    // held (backing off from an earlier pass): wait until none is queued.
    run_until_none_queued(dir.path(), &env, ledger);
    let delivered = g.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len() as u64, want, "zero lost");
    once_per_send(dir.path(), &delivered);
    let rows = ledger(dir.path());
    let sms: Vec<_> = rows.iter().filter(|s| s["channel"] == "sms").collect();
    assert_eq!(sms.len() as u64, want);
    assert!(sms.iter().all(|s| s["status"] == "sent"), "every send ends sent");
    let requests = g.server.requests();
    assert!(requests.len() as u64 > want, "faults made the runner retry");
    // Every request for one send carried the same key.
    let per_key: BTreeSet<&str> = requests.iter().filter_map(|q| q.header("idempotency-key")).collect();
    assert_eq!(per_key.len() as u64, want);
}

/// A 429's `Retry-After` is waited, on the real clock, before the same
/// message is tried again; `rate` spaces every request, retries included.
#[test]
fn a_429_is_tried_again_after_its_retry_after_and_rate_spaces_requests() {
    let g = gateway(|n| (n < 3).then(|| Reply::Status(429, vec![("Retry-After".into(), "2".into())], "{}".into())));
    let providers = format!("{}rate = 20\n", http_providers(&g.server.url()));
    let dir = campaign_plan(150, &providers);
    let want = expected(dir.path())["campaigns.bf_sms"];
    assert!(want > 40, "enough requests to measure the rate: {want}");
    let env = [("GW_TOKEN", "t")];
    run_once(dir.path(), &env);
    run_until_none_queued(dir.path(), &env, ledger);
    let delivered = g.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len() as u64, want, "zero lost");
    once_per_send(dir.path(), &delivered);
    let requests = g.server.requests();
    let mut by_key: BTreeMap<&str, Vec<Instant>> = BTreeMap::new();
    for q in &requests {
        by_key
            .entry(q.header("idempotency-key").unwrap())
            .or_default()
            .push(q.at);
    }
    let retried: Vec<&Vec<Instant>> = by_key.values().filter(|t| t.len() > 1).collect();
    assert_eq!(retried.len(), 3, "the three refused messages, once more each");
    for times in retried {
        assert_eq!(times.len(), 2);
        let waited = times[1] - times[0];
        assert!(
            waited >= Duration::from_millis(1900),
            "retried after {waited:?}, not 2 s"
        );
    }
    // 20 a second: any 21 requests in a row span about a second or more.
    let mut at: Vec<Instant> = requests.iter().map(|q| q.at).collect();
    at.sort();
    for w in at.windows(21) {
        let span = w[20] - w[0];
        assert!(span >= Duration::from_millis(900), "21 requests within {span:?}");
    }
}

/// Logs carry counts, keys and contact ids: at every level, dependencies'
/// logs included, no address and no message text reaches them.
#[test]
fn logs_at_trace_level_show_no_address_and_no_message_text() {
    let g = gateway(|n| (n % 7 == 3).then(|| Reply::Status(500, vec![], "{}".into())));
    let dir = campaign_plan(40, &http_providers(&g.server.url()));
    let mut cmd = herald();
    cmd.env("HERALD_NOW", RUN_AT)
        .env("GW_TOKEN", "gw-secret-token")
        .env("HERALD_LOG", "trace")
        .args(["run", "--once", "--format", "json"])
        .arg(dir.path());
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{err}");
    assert!(g.delivered.lock().unwrap().len() > 10);
    assert!(err.contains("DEBUG herald::run"), "the trace level is on: {err}");
    let contacts = std::fs::read_to_string(dir.path().join("data/contacts.csv")).unwrap();
    let mut lines = contacts.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (email, phone) = (col("email"), col("phone"));
    let logs = format!("{out}{err}");
    for row in lines {
        let cells: Vec<&str> = row.split(',').collect();
        for value in [cells[email], cells[phone]] {
            assert!(
                value.is_empty() || !logs.contains(value),
                "the logs show a contact's address"
            );
        }
    }
    for secret in ["gw-secret-token", "sur tout", "STOP au"] {
        assert!(!logs.contains(secret), "the logs show `{secret}`");
    }
}

/// A pause holds within about a second, even for sends already handed to a
/// slow provider (its `rate` keeps a few hundred waiting): they go back to
/// the ledger untried, `herald pause` itself is not kept waiting by the
/// runner, and after `herald resume` each goes out once.
#[test]
fn a_pause_holds_sends_already_handed_to_a_rate_limited_provider() {
    let g = gateway(|_| None);
    let providers = format!("{}rate = 50\n", http_providers(&g.server.url()));
    let dir = campaign_plan(600, &providers);
    let want = expected(dir.path())["campaigns.bf_sms"];
    assert!(want > 150, "enough to outlast the pause: {want}");
    let env = [("GW_TOKEN", "t")];
    let delivered = || g.delivered.lock().unwrap().len() as u64;
    let mut cmd = herald();
    cmd.env("HERALD_NOW", RUN_AT)
        .env("GW_TOKEN", "t")
        .args(["run", "--once", "--format", "json"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let start = Instant::now();
    while delivered() < 20 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, _, err) = run(herald().args(["pause", "campaigns.bf_sms", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let paused_at = delivered();
    // Soon nothing more goes out (50 a second otherwise): the count stays
    // put for 1.5 s, reached within 10 s (a loaded machine is slow to beat).
    let (mut settled, mut since) = (paused_at, Instant::now());
    let deadline = Instant::now() + Duration::from_secs(10);
    while since.elapsed() < Duration::from_millis(1500) {
        assert!(
            Instant::now() < deadline,
            "sends went on after the pause: {paused_at} -> {}",
            delivered()
        );
        std::thread::sleep(Duration::from_millis(50));
        if delivered() != settled {
            (settled, since) = (delivered(), Instant::now());
        }
    }
    // Within a second of the pause (50 sends at the rate; about 30 measured
    // alone and within the whole suite), and a fifth for a loaded machine.
    assert!(settled - paused_at <= 60, "{paused_at} -> {settled}");
    assert!(settled < want, "{settled} of {want}: the pause came too late to show");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<_> = ledger(dir.path())
        .into_iter()
        .filter(|s| s["object"] == "campaigns.bf_sms")
        .collect();
    let count = |status: &str| rows.iter().filter(|s| s["status"] == status).count() as u64;
    assert_eq!(count("sent"), settled);
    assert_eq!(count("queued"), want - settled, "the rest wait in the ledger");
    assert_eq!(count("sending"), 0);
    // Handed back for the pause is not an attempt.
    assert!(
        rows.iter()
            .filter(|s| s["status"] == "queued")
            .all(|s| s["attempts"] == 0)
    );
    let (code, _, err) = run(herald().args(["resume", "campaigns.bf_sms", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    run_until_none_queued(dir.path(), &env, ledger);
    let delivered = g.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len() as u64, want, "zero lost");
    once_per_send(dir.path(), &delivered);
}

#[test]
fn a_provider_that_is_down_ends_the_run_quickly_loses_nothing_and_the_next_run_sends_each_once() {
    // A port where nothing listens: every connection is refused.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = campaign_plan(900, &http_providers(&url));
    let want = expected(dir.path())["campaigns.bf_sms"];
    assert!(want > 200, "a few hundred sends: {want}");
    let token = "gw-t0ken-never-shown";
    let env = [("GW_TOKEN", token)];
    let start = Instant::now();
    let (code, out, err) = run(herald()
        .env("HERALD_NOW", RUN_AT)
        .env("GW_TOKEN", token)
        .args(["run", "--once"])
        .arg(dir.path()));
    let took = start.elapsed();
    // Each send tried five times with back-off would take minutes: the
    // breaker stops trying after a few refused connections.
    assert!(took < Duration::from_secs(20), "took {took:?}: {out} {err}");
    assert_eq!(code, 1, "{out} {err}");
    assert!(
        err.contains(&format!(
            "sms provider unreachable: cannot connect to http://127.0.0.1:{port}/"
        )),
        "{err}"
    );
    assert!(err.contains("Nothing was lost") && err.contains("base_url"), "{err}");
    assert!(
        !out.contains(token) && !err.contains(token) && !err.contains("+33"),
        "{out} {err}"
    );
    // Every SMS stays queued: none sent, none in doubt, none left `sending`.
    let rows = ledger(dir.path());
    let sms: Vec<_> = rows.iter().filter(|s| s["channel"] == "sms").collect();
    assert_eq!(sms.len() as u64, want);
    assert!(sms.iter().all(|s| s["status"] == "queued"), "{sms:?}");
    // Once their hold on the real clock is over, a run tries again, and its
    // JSON report names the provider too.
    std::thread::sleep(Duration::from_millis(1100));
    let (code, out, _) = run(herald()
        .env("HERALD_NOW", RUN_AT)
        .env("GW_TOKEN", token)
        .args(["run", "--once", "--format", "json"])
        .arg(dir.path()));
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(out.lines().last().unwrap_or("")).unwrap();
    assert_eq!(report["sent"], 0);
    assert!(
        report["unreachable"][0]
            .as_str()
            .unwrap()
            .starts_with("sms provider unreachable")
    );
    // The provider is back: a later run sends each exactly once.
    let g = gateway_on(port, |_| None);
    // The sends were held a moment on the real clock.
    run_until_none_queued(dir.path(), &env, ledger);
    let delivered = g.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len() as u64, want, "zero lost");
    once_per_send(dir.path(), &delivered);
    let rows = ledger(dir.path());
    assert!(
        rows.iter()
            .filter(|s| s["channel"] == "sms")
            .all(|s| s["status"] == "sent"),
        "every send ends sent"
    );
}

/// A server that requires a login: with the right credentials (from the
/// environment) every email goes out once; with a wrong password nothing is
/// lost or given up, the run says the provider refuses its sessions, and
/// neither the password nor an address shows anywhere.
#[test]
fn smtp_login_right_sends_each_once_and_wrong_loses_nothing_and_shows_no_secret() {
    let smtp = Smtp::start_with_login("herald", "s3cret-pw");
    let providers = format!(
        "{}username = \"env:SMTP_USER\"\npassword = \"env:SMTP_PASSWORD\"\n\n[providers.sms]\nkind = \"file\"\n",
        smtp_providers(smtp.port)
    );
    let dir = campaign_plan(120, &providers);
    let want = expected(dir.path())["campaigns.bf_email"];
    assert!(want > 10, "{want}");
    let emails = |dir: &Path| -> Vec<serde_json::Value> {
        ledger(dir).into_iter().filter(|s| s["channel"] == "email").collect()
    };
    // A wrong password: refused sessions, a retry counted against the
    // provider, not an attempt at each message.
    let wrong = "wr0ng-pw-never-shown";
    let (code, out, err) = run(herald()
        .env("HERALD_NOW", RUN_AT)
        .env("SMTP_USER", "herald")
        .env("SMTP_PASSWORD", wrong)
        .args(["run", "--once"])
        .arg(dir.path()));
    assert_eq!(code, 1, "{out} {err}");
    // No `public_url`: the links are the local listener's, and the run says
    // one-click unsubscribe needs HTTPS.
    assert!(
        err.contains("warning: unsubscribe links point at `http://127.0.0.1:8470`, not HTTPS"),
        "{err}"
    );
    // On failure, the ledger's reasons say what the sessions met.
    let reasons = || -> BTreeSet<String> { emails(dir.path()).iter().map(|s| s["reason"].to_string()).collect() };
    assert!(
        err.contains("email provider refuses sessions"),
        "{err}\n{:?}",
        reasons()
    );
    assert!(err.contains("credentials"), "{err}");
    for text in [&out, &err] {
        assert!(
            !text.contains(wrong) && !text.contains("s3cret"),
            "a secret shows: {text}"
        );
        assert!(!text.contains("@example.test"), "an address shows: {text}");
    }
    assert!(smtp.messages().is_empty());
    let rows = emails(dir.path());
    assert_eq!(rows.len() as u64, want);
    assert!(
        rows.iter().all(|s| s["status"] == "queued" && s["attempts"] == 0),
        "{rows:?}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    // The right one: each email once.
    let env = [("SMTP_USER", "herald"), ("SMTP_PASSWORD", "s3cret-pw")];
    run_once(dir.path(), &env);
    run_until_none_queued(dir.path(), &env, emails);
    let messages = smtp.messages();
    assert_eq!(messages.len() as u64, want);
    let ids: BTreeSet<&str> = messages.iter().filter_map(|m| header(m, "Message-ID")).collect();
    assert_eq!(ids.len() as u64, want, "each email once");
    assert!(emails(dir.path()).iter().all(|s| s["status"] == "sent"));
}

#[test]
fn an_smtp_server_that_is_down_ends_the_run_quickly_and_its_sends_keep_their_attempts() {
    // A port where nothing listens: no SMTP session can be opened.
    let port = free_port();
    let dir = campaign_plan(
        600,
        &format!("{}\n[providers.sms]\nkind = \"file\"\n", smtp_providers(port)),
    );
    let want = expected(dir.path())["campaigns.bf_email"];
    assert!(want > 100, "a few hundred emails: {want}");
    let emails = |dir: &Path| -> Vec<serde_json::Value> {
        ledger(dir).into_iter().filter(|s| s["channel"] == "email").collect()
    };
    for round in 0..3 {
        let start = Instant::now();
        let (code, out, err) = run(herald()
            .env("HERALD_NOW", RUN_AT)
            .args(["run", "--once"])
            .arg(dir.path()));
        let took = start.elapsed();
        // Each email tried five times with back-off would take minutes.
        assert!(
            took < Duration::from_secs(20),
            "round {round} took {took:?}: {out} {err}"
        );
        assert_eq!(code, 1, "{out} {err}");
        assert!(
            err.contains(&format!(
                "email provider unreachable: cannot connect to smtp://127.0.0.1:{port}"
            )),
            "{err}"
        );
        assert!(
            err.contains("Nothing was lost") && err.contains("`host`, `port`, `tls`"),
            "{err}"
        );
        // The report does not say that nothing is left to do.
        assert!(
            out.contains("sends wait to be tried again") && !out.contains("Nothing else is scheduled"),
            "{out}"
        );
        if round == 0 {
            // What a marketer reads (the port is a free one, different each time).
            insta::assert_snapshot!(
                "smtp_down_once",
                format!("{out}---\n{err}").replace(&port.to_string(), "PORT")
            );
        }
        // Every email stays queued, and handing a claim back untried is not
        // an attempt: a server down for hours does not make them give up.
        let rows = emails(dir.path());
        assert_eq!(rows.len() as u64, want);
        assert!(
            rows.iter().all(|s| s["status"] == "queued" && s["attempts"] == 0),
            "round {round}: {:?}",
            rows.iter().find(|s| s["status"] != "queued" || s["attempts"] != 0)
        );
        // Held a moment on the real clock.
        std::thread::sleep(Duration::from_millis(1100));
    }
    // The server is back: each email goes out exactly once.
    let smtp = Smtp::start_on(port);
    run_until_none_queued(dir.path(), &[], emails);
    let messages = smtp.messages();
    assert_eq!(messages.len() as u64, want, "zero lost");
    let ids: BTreeSet<&str> = messages.iter().filter_map(|m| header(m, "Message-ID")).collect();
    assert_eq!(ids.len() as u64, want, "zero duplicates");
    assert!(emails(dir.path()).iter().all(|s| s["status"] == "sent"));
}

/// Kill `herald run` with SIGKILL after `ms` milliseconds.
fn run_and_kill(dir: &Path, env: &[(&str, &str)], ms: u64) {
    let mut cmd = herald();
    cmd.env("HERALD_NOW", RUN_AT)
        .args(["run", "--once"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

/// Sends claimed and not finished: what a kill left in flight.
/// The keys of the sends of `channel` left `sending` (in flight at a kill).
fn in_flight(dir: &Path, channel: &str) -> BTreeSet<String> {
    let db = rusqlite::Connection::open(dir.join(".herald/state.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT key FROM sends WHERE status = 'sending' AND channel = ?1")
        .unwrap();
    stmt.query_map([channel], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// What a crash may leave in doubt, and no more: each send in doubt is one
/// a kill caught in flight on its channel.
fn in_doubt_were_in_flight(rows: &[&serde_json::Value], caught: &BTreeSet<String>) -> u64 {
    let in_doubt: Vec<&str> = rows
        .iter()
        .filter(|s| s["status"] == "in_doubt")
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    for key in &in_doubt {
        assert!(
            caught.contains(*key),
            "{key} is in doubt but no kill caught it in flight"
        );
    }
    in_doubt.len() as u64
}

#[test]
fn kill_9_at_random_moments_never_sends_twice_and_loses_nothing_with_keys() {
    let smtp = Smtp::start();
    let g = gateway(|_| None);
    let providers = format!("{}\n{}", smtp_providers(smtp.port), http_providers(&g.server.url()));
    let dir = campaign_plan(5000, &providers);
    let want = expected(dir.path());
    let env = [("GW_TOKEN", "t")];
    // Deterministic "random" moments, spread over a pass.
    let seed = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let next = || {
        let x = seed.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) >> 33
    };
    // The email sends each kill left in flight (a send caught by several
    // kills counts once).
    let mut caught = BTreeSet::new();
    let mut caught_sms = 0;
    for _ in 0..20 {
        run_and_kill(dir.path(), &env, 150 + next() % 900);
        caught.extend(in_flight(dir.path(), "email"));
        caught_sms += in_flight(dir.path(), "sms").len();
    }
    let r = run_once(dir.path(), &env);
    assert_eq!(r["stopped"], false);
    // The kills hit the campaign while it was being sent.
    let total = want["campaigns.bf_email"] + want["campaigns.bf_sms"];
    let last = r["sent"].as_u64().unwrap();
    eprintln!(
        "in flight at the kills: {} emails, {caught_sms} SMS; sent by the last run: {last} of {total}",
        caught.len()
    );
    assert!(!caught.is_empty(), "no kill caught an email in flight");
    assert!(last < total, "the kills should have left part of the work done");

    // SMTP, per send: each email received once (its Message-ID is its
    // ledger key), every email sent was received, and one received but not
    // recorded sent is in doubt.
    let received = smtp.messages();
    let keys: Vec<&str> = received
        .iter()
        .map(|m| {
            let id = header(m, "Message-ID").expect("a Message-ID");
            id.trim_start_matches('<').split('@').next().unwrap()
        })
        .collect();
    let unique: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(keys.len(), unique.len(), "an email was sent twice");
    let rows = ledger(dir.path());
    let emails: Vec<_> = rows.iter().filter(|s| s["channel"] == "email").collect();
    assert_eq!(emails.len() as u64, want["campaigns.bf_email"]);
    for s in &emails {
        let key = s["key"].as_str().unwrap();
        match s["status"].as_str().unwrap() {
            "sent" => assert!(unique.contains(key), "{key} is recorded sent but was not received"),
            "in_doubt" => {}
            other => panic!("{key} ended {other}: each email is sent or in doubt"),
        }
    }
    let known: BTreeSet<&str> = emails.iter().map(|s| s["key"].as_str().unwrap()).collect();
    assert!(
        unique.is_subset(&known),
        "the server got an email the ledger does not hold"
    );
    let in_doubt = in_doubt_were_in_flight(&emails, &caught);
    assert!(in_doubt <= caught.len() as u64);
    // The idempotent gateway: nothing lost, nothing twice.
    let delivered = g.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len() as u64, want["campaigns.bf_sms"], "zero lost");
    once_per_send(dir.path(), &delivered);
    let sms_sent = rows
        .iter()
        .filter(|s| s["channel"] == "sms" && s["status"] == "sent")
        .count() as u64;
    assert_eq!(sms_sent, want["campaigns.bf_sms"]);
    // `herald sends --in-doubt` lists exactly those.
    let (_, out, _) = run(herald()
        .args(["sends", "--in-doubt", "--format", "json", "--limit", "100000"])
        .arg(dir.path()));
    let listed: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.len() as u64, in_doubt);
}

#[test]
fn one_click_unsubscribe_stops_the_channel_for_the_next_campaign() {
    let dir = campaign_plan(
        30,
        "[providers.email]\nkind = \"file\"\nfrom = \"Boutique <news@boutique.example.test>\"\n",
    );
    // A second email campaign, the day after.
    let plan = std::fs::read_to_string(dir.path().join("plan.yaml")).unwrap();
    std::fs::write(
        dir.path().join("plan.yaml"),
        format!(
            "{plan}  bf_email_2:\n    program: promotions\n    audience: consent(email_marketing) and email is set\n    message: bf_email\n    send_at: 2026-11-28T10:00\n"
        ),
    )
    .unwrap();
    assert_eq!(
        run(herald().args(["apply", "--auto-approve", "--dir"]).arg(dir.path())).0,
        0
    );
    run_once(dir.path(), &[]);
    let outbox = dir.path().join(".herald/outbox/email");
    let first = std::fs::read_dir(&outbox).unwrap().next().unwrap().unwrap().path();
    let raw = std::fs::read_to_string(&first).unwrap();
    let link = header(&raw, "List-Unsubscribe").unwrap().trim_matches(['<', '>']);
    let path = &link[link.find("/u/").unwrap()..];
    let key = first.file_stem().unwrap().to_str().unwrap().to_string();
    let contact = ledger(dir.path())
        .into_iter()
        .find(|s| s["key"] == key.as_str())
        .unwrap()["contact_id"]
        .as_str()
        .unwrap()
        .to_string();

    let runner = super::run::Runner::start(dir.path(), "t");
    // A forged token is refused; the real one works, as RFC 8058 posts it.
    let client = super::run::client();
    let forged = client
        .post(format!("{}/u/{key}.0000", runner.url))
        .body("List-Unsubscribe=One-Click")
        .send()
        .unwrap();
    assert_eq!(forged.status().as_u16(), 404);
    let page = client.get(format!("{}{path}", runner.url)).send().unwrap();
    assert_eq!(page.status().as_u16(), 200, "the link opens a confirmation page");
    // The same token opens the message as sent ("view online").
    let view = client
        .get(format!("{}{}", runner.url, path.replacen("/u/", "/v/", 1)))
        .send()
        .unwrap();
    assert_eq!(view.status().as_u16(), 200);
    assert!(view.text().unwrap().contains("-30 % sur tout"));
    let done = client
        .post(format!("{}{path}", runner.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .unwrap();
    assert_eq!(done.status().as_u16(), 200);
    drop(runner);

    let mut cmd = herald();
    cmd.env("HERALD_NOW", "2026-11-28T09:01:00Z")
        .args(["run", "--once", "--format", "json"])
        .arg(dir.path());
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["dropped"]["suppressed"], 1, "{r}");
    let second: Vec<_> = ledger(dir.path())
        .into_iter()
        .filter(|s| s["object"] == "campaigns.bf_email_2" && s["contact_id"] == contact.as_str())
        .collect();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["status"], "dropped");
    assert_eq!(second[0]["reason"], "suppressed");
}

fn twilio_providers(url: &str) -> String {
    format!(
        "[providers.sms]\nkind = \"twilio\"\nbase_url = \"{url}\"\naccount_sid = \"env:T_SID\"\nauth_token = \"env:T_TOKEN\"\ntimeout = 0.5\n"
    )
}

const TWILIO_ENV: [(&str, &str); 2] = [("T_SID", "AC123"), ("T_TOKEN", "tok")];

/// Contact id → phone, from the generated contacts.
fn phones(dir: &Path) -> BTreeMap<String, String> {
    let mut r = csv::Reader::from_path(dir.join("data/contacts.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    let (id, phone) = (
        headers.iter().position(|h| h == "id").unwrap(),
        headers.iter().position(|h| h == "phone").unwrap(),
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[id].to_string(), rec[phone].to_string())
        })
        .collect()
}

/// Each accepted Twilio request, by recipient.
fn twilio_accepted(server: &MockServer) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for q in server.requests() {
        *out.entry(q.form()["To"].clone()).or_default() += 1;
    }
    out
}

/// A wrong token (401) is the provider's settings, not the messages': no
/// send is failed or spends an attempt, the run exits 1 saying the
/// credentials are refused (never showing them), and with the right token
/// each goes out once.
#[test]
fn a_wrong_twilio_token_fails_no_send_and_the_right_one_sends_each_once() {
    let server = MockServer::start(|r, _| twilio_reply(r, "AC123", "tok"));
    let dir = campaign_plan(60, &twilio_providers(&server.url()));
    let want = expected(dir.path())["campaigns.bf_sms"];
    assert!(want > 10, "{want}");
    let sms =
        |dir: &Path| -> Vec<serde_json::Value> { ledger(dir).into_iter().filter(|s| s["channel"] == "sms").collect() };
    let (code, out, err) = run(herald()
        .env("HERALD_NOW", RUN_AT)
        .env("T_SID", "AC123")
        .env("T_TOKEN", "wrong-token-never-shown")
        .args(["run", "--once"])
        .arg(dir.path()));
    assert_eq!(code, 1, "{out} {err}");
    assert!(err.contains("sms provider refuses Herald's credentials"), "{err}");
    assert!(
        !out.contains("wrong-token") && !err.contains("wrong-token"),
        "{out} {err}"
    );
    let rows = sms(dir.path());
    assert_eq!(rows.len() as u64, want);
    assert!(
        rows.iter().all(|s| s["status"] == "queued" && s["attempts"] == 0),
        "{rows:?}"
    );
    // The breaker stopped the run before every message was tried.
    let refused = server.requests().len();
    assert!(refused < want as usize, "{refused} requests");
    std::thread::sleep(Duration::from_millis(1100));
    run_until_none_queued(dir.path(), &TWILIO_ENV, sms);
    let mut accepted = BTreeMap::<String, u64>::new();
    for q in &server.requests()[refused..] {
        *accepted.entry(q.form()["To"].clone()).or_default() += 1;
    }
    assert_eq!(accepted.len() as u64, want, "each contact once");
    assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");
    assert!(sms(dir.path()).iter().all(|s| s["status"] == "sent"));
}

#[test]
fn twilio_500s_and_429s_are_retried_and_its_timeouts_stay_in_doubt() {
    // Twilio takes no idempotency key: a request that timed out may have
    // been delivered, so it is never sent again on its own.
    let served = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let s = Arc::clone(&served);
    let server = MockServer::start(move |r, n| {
        let reply = match n % 10 {
            0 => return Reply::Status(500, vec![], r#"{"code": 20500, "status": 500}"#.into()),
            3 => {
                return Reply::Status(
                    429,
                    vec![("Retry-After".into(), "1".into())],
                    r#"{"code": 20429}"#.into(),
                );
            }
            6 => Reply::Hang(Duration::from_millis(800)),
            _ => twilio_reply(r, "AC123", "tok"),
        };
        // Taken (answered or not): the message is on its way.
        *s.lock().unwrap().entry(r.form()["To"].clone()).or_default() += 1;
        reply
    });
    let dir = campaign_plan(200, &twilio_providers(&server.url()));
    let want = expected(dir.path())["campaigns.bf_sms"];
    let mut r = run_once(dir.path(), &TWILIO_ENV);
    for _ in 0..30 {
        if r["retrying"] == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        r = run_once(dir.path(), &TWILIO_ENV);
    }
    let delivered = served.lock().unwrap().clone();
    let rows = ledger(dir.path());
    let sms: Vec<_> = rows.iter().filter(|s| s["channel"] == "sms").collect();
    let sent = sms.iter().filter(|s| s["status"] == "sent").count() as u64;
    let in_doubt = sms.iter().filter(|s| s["status"] == "in_doubt").count() as u64;
    assert_eq!(sent + in_doubt, want, "every send is sent or in doubt");
    assert!(in_doubt > 0, "timeouts leave sends in doubt");
    // Each send was taken once: those in doubt too (they timed out after).
    assert_eq!(delivered.values().sum::<u64>(), want, "taken once each");
}

#[test]
fn kill_9_on_twilio_leaves_each_contact_one_message_or_in_doubt() {
    let server = MockServer::start(|r, _| twilio_reply(r, "AC123", "tok"));
    let dir = campaign_plan(5000, &twilio_providers(&server.url()));
    let want = expected(dir.path())["campaigns.bf_sms"];
    let mut caught = BTreeSet::new();
    for i in 0..20u64 {
        run_and_kill(dir.path(), &TWILIO_ENV, 150 + (i * 7919) % 900);
        caught.extend(in_flight(dir.path(), "sms"));
    }
    run_once(dir.path(), &TWILIO_ENV);
    let delivered = twilio_accepted(&server);
    let rows = ledger(dir.path());
    let sms: Vec<_> = rows.iter().filter(|s| s["channel"] == "sms").collect();
    let sent = sms.iter().filter(|s| s["status"] == "sent").count() as u64;
    let in_doubt = sms.iter().filter(|s| s["status"] == "in_doubt").count() as u64;
    assert_eq!(sent + in_doubt, want);
    // Generated contacts may share a number (the fiction range is small): no
    // number gets more messages than it has contacts sent to.
    let phones = phones(dir.path());
    let mut per_number: BTreeMap<String, u64> = BTreeMap::new();
    for s in &sms {
        *per_number
            .entry(phones[s["contact_id"].as_str().unwrap()].clone())
            .or_default() += 1;
    }
    for (number, n) in &delivered {
        assert!(
            *n <= per_number[number],
            "{number}: {n} messages, {} contacts",
            per_number[number]
        );
    }
    let total: u64 = delivered.values().sum();
    assert!(total >= sent && total <= sent + in_doubt, "{total} {sent} {in_doubt}");
    assert_eq!(in_doubt_were_in_flight(&sms, &caught), in_doubt);
    assert!(!caught.is_empty(), "some kill caught sends in flight");
}

const PUSH_AND_CALLS: &str = r#"
contact:
  fields:
    phone: { type: phone, optional: true }
    push_token: { type: string, optional: true, max_length: 200 }
  consents:
    push_marketing: { channel: push }
  events:
    appointment_due: {}
programs:
  service: { objective: "Remind customers of their appointments." }
messages:
  app_push:
    channel: push
    purpose: marketing
    title: "Black Friday"
    body: "-30 % sur tout le site"
    url: "https://boutique.example.test/bf"
  reminder_call:
    channel: call
    purpose: service
    script: "Bonjour, votre rendez-vous est demain. Merci de confirmer."
campaigns:
  bf_push:
    program: service
    audience: consent(push_marketing) and push_token is set
    message: app_push
    send_at: 2026-11-27T10:00
scenarios:
  call_before:
    program: service
    trigger: { event: appointment_due }
    reentry: always
    steps:
      - if: phone is set
        then:
          - send: reminder_call
"#;

/// A plan with push and call messages, its contacts written by hand.
fn push_and_call_plan(providers: &str) -> tempfile::TempDir {
    let config = format!("{}\n{providers}\n", String::from_utf8_lossy(CONFIG));
    let csv = "id,phone,push_token,consent_push_marketing,consent_push_marketing_at\n\
               p1,+33639980001,tok-1,true,2026-01-01\n\
               p2,+33639980002,tok-2,true,2026-01-01\n\
               p3,+33639980003,,true,2026-01-01\n\
               p4,,tok-4,false,\n";
    let dir = plan(&[
        ("herald.toml", config.as_bytes()),
        ("plan.yaml", PUSH_AND_CALLS.as_bytes()),
        ("data/contacts.csv", csv.as_bytes()),
    ]);
    let (code, _, err) = run(herald().args(["apply", "--auto-approve"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    dir
}

#[test]
fn push_over_fcm_has_the_v1_shape() {
    let server = MockServer::start(|r, n| {
        if r.header("authorization") != Some("Bearer fcm-token") {
            return Reply::Status(401, vec![], r#"{"error": {"status": "UNAUTHENTICATED"}}"#.into());
        }
        Reply::Status(200, vec![], format!(r#"{{"name": "projects/bm/messages/{n}"}}"#))
    });
    let dir = push_and_call_plan(&format!(
        "[providers.push]\nkind = \"fcm\"\nbase_url = \"{}\"\nproject_id = \"bm\"\ncredentials = \"env:FCM_TOKEN\"\n",
        server.url()
    ));
    let r = run_once(dir.path(), &[("FCM_TOKEN", "fcm-token")]);
    assert_eq!(r["sent"], 2, "p1 and p2 have a token and the consent: {r}");
    for q in server.requests() {
        assert_eq!(q.path, "/v1/projects/bm/messages:send");
        let m = &q.json()["message"];
        assert!(m["token"].as_str().unwrap().starts_with("tok-"));
        assert_eq!(m["notification"]["title"], "Black Friday");
        assert_eq!(m["webpush"]["fcm_options"]["link"], "https://boutique.example.test/bf");
        assert_eq!(m["data"]["herald_key"].as_str().unwrap().len(), 32);
    }
    let ids: BTreeSet<String> = ledger(dir.path())
        .iter()
        .filter_map(|s| Some(s["status"].as_str()?.to_string()))
        .collect();
    assert!(ids.contains("sent"));
}

/// An RSA key made by openssl, as a service account key holds it (PKCS#8
/// PEM), and its public key (PKCS#1 DER) to check signatures with.
fn rsa_key(dir: &Path) -> (String, Vec<u8>) {
    let openssl = |args: &[&str]| openssl(dir, args);
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "key.pem",
    ]);
    openssl(&[
        "rsa",
        "-in",
        "key.pem",
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        "pub.der",
    ]);
    (
        std::fs::read_to_string(dir.join("key.pem")).unwrap(),
        std::fs::read(dir.join("pub.der")).unwrap(),
    )
}

/// FCM with a service account key: Herald signs a JWT with the key (RS256),
/// exchanges it at the key's `token_uri` (RFC 7523) for an access token,
/// keeps the token for the next sends, and asks for another when FCM
/// refuses it. The token endpoint here checks the signature with the
/// public key, as Google's does.
#[test]
fn fcm_with_a_service_account_key_makes_and_renews_its_tokens() {
    use base64::Engine;
    let keys = tempfile::tempdir().unwrap();
    let (private_pem, public_der) = rsa_key(keys.path());
    let tokens = Arc::new(AtomicU64::new(0));
    let issued = Arc::clone(&tokens);
    let server = MockServer::start(move |r, _| {
        if r.path == "/token" {
            let form = r.form();
            assert_eq!(form["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer");
            let jwt = &form["assertion"];
            let (input, signature) = jwt.rsplit_once('.').unwrap();
            let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap();
            let key =
                ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &public_der);
            if key.verify(input.as_bytes(), &b64(signature)).is_err() {
                return Reply::Status(400, vec![], r#"{"error": "invalid_grant"}"#.into());
            }
            let claims: serde_json::Value = serde_json::from_slice(&b64(input.split('.').nth(1).unwrap())).unwrap();
            assert_eq!(claims["iss"], "herald@bm.iam.gserviceaccount.test");
            assert_eq!(claims["scope"], "https://www.googleapis.com/auth/firebase.messaging");
            assert!(claims["aud"].as_str().unwrap().ends_with("/token"));
            assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            return Reply::Status(
                200,
                vec![],
                format!(r#"{{"access_token": "at-{n}", "expires_in": 3599, "token_type": "Bearer"}}"#),
            );
        }
        match r.header("authorization") {
            // The first token is revoked before its first use.
            Some("Bearer at-1") => Reply::Status(401, vec![], r#"{"error": {"status": "UNAUTHENTICATED"}}"#.into()),
            Some("Bearer at-2") => Reply::Status(200, vec![], r#"{"name": "projects/bm/messages/1"}"#.into()),
            _ => Reply::Status(403, vec![], r#"{"error": {"status": "PERMISSION_DENIED"}}"#.into()),
        }
    });
    let account = serde_json::json!({
        "type": "service_account",
        "project_id": "bm",
        "private_key_id": "k1",
        "private_key": private_pem,
        "client_email": "herald@bm.iam.gserviceaccount.test",
        "token_uri": format!("{}/token", server.url()),
    })
    .to_string();
    let dir = push_and_call_plan(&format!(
        "[providers.push]\nkind = \"fcm\"\nbase_url = \"{}\"\nproject_id = \"bm\"\ncredentials = \"env:FCM_CREDENTIALS\"\n",
        server.url()
    ));
    let (code, out, err) = run(herald()
        .env("HERALD_NOW", RUN_AT)
        .env("FCM_CREDENTIALS", &account)
        .args(["run", "--once", "--format", "json"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let pushes = |status: &str| {
        ledger(dir.path())
            .iter()
            .filter(|s| s["channel"] == "push" && s["status"] == status)
            .count()
    };
    assert_eq!(pushes("sent"), 2, "{out}");
    // One token refused, one more asked for and kept for the second send.
    assert_eq!(tokens.load(Ordering::SeqCst), 2);
    let sent_with = |token: &str| {
        server
            .requests()
            .iter()
            .filter(|q| q.header("authorization") == Some(&format!("Bearer {token}")))
            .count()
    };
    // (Both sends may have carried the first token: they run concurrently.)
    assert!((1..=2).contains(&sent_with("at-1")));
    assert_eq!(sent_with("at-2"), 2);
    // Neither the key nor a token is shown.
    for text in [&out, &err, &run(herald().args(["sends"]).arg(dir.path())).1] {
        assert!(!text.contains("PRIVATE KEY") && !text.contains("at-2"), "{text}");
    }
    // A key that is not one stops the runner at start, saying what is wrong.
    let broken = account.replace("service_account", "authorized_user");
    let (code, _, err) = run(herald()
        .env("HERALD_NOW", RUN_AT)
        .env("FCM_CREDENTIALS", &broken)
        .args(["run", "--once"])
        .arg(dir.path()));
    assert_ne!(code, 0);
    assert!(
        err.contains("not a usable service account key: `type` is not \"service_account\""),
        "{err}"
    );
    assert!(!err.contains("PRIVATE KEY"), "{err}");
}

/// Calls through a signed webhook: the call centre gets the rendered
/// script inside the calling hours only. An appointment at lunchtime waits
/// for the afternoon window (Code de la consommation: 14:00 in Paris).
#[test]
fn calls_by_webhook_are_signed_and_wait_for_the_calling_hours() {
    let server = MockServer::start(|r, _| {
        let ts = r.header("x-herald-timestamp").unwrap_or("");
        let mut signed = ts.as_bytes().to_vec();
        signed.push(b'.');
        signed.extend_from_slice(&r.body);
        let want = super::http_mock::hmac_sha256_hex(b"call-secret", &signed);
        if r.header("x-herald-signature") != Some(format!("v1={want}").as_str()) {
            return Reply::Status(401, vec![], "{}".into());
        }
        Reply::Status(200, vec![], "{}".into())
    });
    // A marketing call (prospection): the legal calling hours hold it back.
    let config = format!(
        "{}\n[providers.push]\nkind = \"file\"\n\n[providers.call]\nkind = \"webhook\"\nurl = \"{}/calls\"\nsecret = \"env:CALL_SECRET\"\n",
        String::from_utf8_lossy(CONFIG),
        server.url()
    );
    let plan_yaml = PUSH_AND_CALLS
        .replace(
            "    push_marketing: { channel: push }\n",
            "    push_marketing: { channel: push }\n    call_marketing: { channel: call }\n",
        )
        .replace("purpose: service\n    script", "purpose: marketing\n    script")
        .replace("reentry: always", "reentry: after 7d")
        .replace("- if: phone is set", "- if: phone is set and consent(call_marketing)");
    let csv = "id,phone,push_token,consent_push_marketing,consent_call_marketing\n\
               p1,+33639980001,,false,true\n";
    let dir = plan(&[
        ("herald.toml", config.as_bytes()),
        ("plan.yaml", plan_yaml.as_bytes()),
        ("data/contacts.csv", csv.as_bytes()),
    ]);
    let (code, _, err) = run(herald().args(["apply", "--auto-approve"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let at = |t: &str| {
        let (code, out, err) = run(herald()
            .env("HERALD_NOW", t)
            .env("CALL_SECRET", "call-secret")
            .args(["run", "--once", "--format", "json"])
            .arg(dir.path()));
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(out.lines().last().unwrap()).unwrap()
    };
    // Friday 27 November, 13:30 in Paris: between the calling windows.
    let (code, _, err) = run(herald()
        .env("HERALD_NOW", "2026-11-27T12:30:00Z")
        .args(["event", "send", "appointment_due", "--contact", "p1"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let r = at("2026-11-27T12:31:00Z");
    assert_eq!(r["deferred"], 1, "{r}");
    assert_eq!(r["next_due"], "2026-11-27T13:00:00Z", "14:00 in Paris: {r}");
    assert!(server.requests().is_empty(), "no call outside the calling hours");
    let rows = ledger(dir.path());
    let call: Vec<_> = rows.iter().filter(|s| s["channel"] == "call").collect();
    assert_eq!(call.len(), 1);
    assert_eq!(
        (&call[0]["status"], &call[0]["reason"]),
        (&"queued".into(), &"quiet-hours".into())
    );
    let r = at("2026-11-27T13:00:00Z");
    assert_eq!(r["sent"], 1, "{r}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "signed and accepted once");
    let body = requests[0].json();
    assert_eq!(body["type"], "call");
    assert_eq!(body["contact_id"], "p1");
    assert_eq!(body["phone"], "+33639980001");
    assert_eq!(body["window"], "2026-11-27T14");
    assert_eq!(
        body["script"],
        "Bonjour, votre rendez-vous est demain. Merci de confirmer."
    );
    assert_eq!(body["key"].as_str(), requests[0].header("idempotency-key"));
    // Nothing more at the next pass.
    at("2026-11-27T13:05:00Z");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn push_webhooks_are_signed_and_calls_go_to_lists_per_calling_window() {
    let server = MockServer::start(|r, _| {
        // The receiver checks the signature: HMAC-SHA256 of `timestamp.body`.
        let ts = r.header("x-herald-timestamp").unwrap_or("");
        let mut signed = ts.as_bytes().to_vec();
        signed.push(b'.');
        signed.extend_from_slice(&r.body);
        let want = super::http_mock::hmac_sha256_hex(b"hook-secret", &signed);
        if r.header("x-herald-signature") != Some(format!("v1={want}").as_str()) {
            return Reply::Status(401, vec![], "{}".into());
        }
        Reply::Status(200, vec![], "{}".into())
    });
    let dir = push_and_call_plan(&format!(
        "[providers.push]\nkind = \"http\"\nbase_url = \"{}/hook\"\ncredentials = \"env:HOOK_SECRET\"\n\n[providers.call]\nkind = \"csv\"\ndir = \"calls\"\n",
        server.url()
    ));
    let env = [("HOOK_SECRET", "hook-secret")];
    for c in ["p1", "p3", "p4"] {
        let (code, _, err) = run(herald()
            .env("HERALD_NOW", RUN_AT)
            .args(["event", "send", "appointment_due", "--contact", c])
            .arg(dir.path()));
        assert_eq!(code, 0, "{err}");
    }
    let r = run_once(dir.path(), &env);
    // Two pushes (signed, accepted), two calls (p4 has no phone).
    assert_eq!(r["sent"], 4, "{r}");
    assert_eq!(server.requests().len(), 2);
    for q in server.requests() {
        assert_eq!(q.json()["type"], "push");
        assert_eq!(q.header("idempotency-key").map(str::len), Some(32));
    }
    // Friday 27 November, 10:01 in Paris: inside the calling hours.
    let list = dir.path().join("calls/calls-2026-11-27T10.csv");
    let text = std::fs::read_to_string(&list).unwrap();
    let mut lines = text.lines();
    // Every field quoted: a row a crash cut short is known for sure.
    assert_eq!(lines.next(), Some(r#""key","contact_id","phone","script""#));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows.iter().any(|r| r.contains(r#","p1","+33639980001","#)), "{text}");
    // Run again: the list does not grow.
    run_once(dir.path(), &env);
    assert_eq!(std::fs::read_to_string(&list).unwrap(), text);
    // 11:40, still the 10:00–13:00 window: the same list gets the call.
    let (code, _, err) = run(herald()
        .env("HERALD_NOW", "2026-11-27T10:40:00Z")
        .args(["event", "send", "appointment_due", "--contact", "p3"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(herald()
        .env("HERALD_NOW", "2026-11-27T10:41:00Z")
        .env("HOOK_SECRET", "hook-secret")
        .args(["run", "--once"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let lists: Vec<String> = std::fs::read_dir(dir.path().join("calls"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(lists, ["calls-2026-11-27T10.csv"], "one list per calling window");
    let rows = std::fs::read_to_string(&list).unwrap().lines().count();
    assert_eq!(rows, 4, "the header and three calls");
    // A runner killed after p1's row landed, before it was recorded sent:
    // the next runner, in the 14:00 window, finds the call in its first
    // list and does not hand it over a second time.
    let db = rusqlite::Connection::open(dir.path().join(".herald/state.db")).unwrap();
    let (key, window): (String, String) = db
        .query_row(
            "SELECT key, call_window FROM sends WHERE channel = 'call' AND contact_id = 'p1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(window, "2026-11-27T10");
    db.execute(
        "UPDATE sends SET status = 'sending', lease_owner = 'dead', lease_until = 0 WHERE key = ?1",
        [&key],
    )
    .unwrap();
    drop(db);
    let (code, out, err) = run(herald()
        .env("HERALD_NOW", "2026-11-27T13:30:00Z")
        .env("HOOK_SECRET", "hook-secret")
        .args(["run", "--once", "--format", "json"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"sent\":1"), "{out}");
    assert!(
        !dir.path().join("calls/calls-2026-11-27T14.csv").exists(),
        "p1's call is in the 10:00 list already"
    );
    assert_eq!(std::fs::read_to_string(&list).unwrap().lines().count(), 4);
}

/// A send another runner holds (a runner on another machine, not seen
/// dead) waits for its lease to end, and the run says so; then it is taken
/// over and sent again with its key.
#[test]
fn a_send_another_runner_holds_waits_for_its_lease() {
    let dir = campaign_plan(
        20,
        "[providers.email]\nkind = \"file\"\nfrom = \"Boutique <news@boutique.example.test>\"\n",
    );
    run_once(dir.path(), &[]);
    let db = rusqlite::Connection::open(dir.path().join(".herald/state.db")).unwrap();
    let key: String = db
        .query_row(
            "SELECT key FROM sends WHERE status = 'sent' ORDER BY key LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let status = || -> String {
        db.query_row("SELECT status FROM sends WHERE key = ?1", [&key], |r| r.get(0))
            .unwrap()
    };
    // Held far ahead on the real clock by `ops@elsewhere`, pid 4242.
    db.execute(
        "UPDATE sends SET status = 'sending', lease_owner = 'ops@elsewhere:4242:n0nce', lease_until = ?2 WHERE key = ?1",
        rusqlite::params![key, i64::MAX / 2],
    )
    .unwrap();
    let (code, _, err) = run(herald()
        .env("HERALD_NOW", RUN_AT)
        .args(["run", "--once"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("held until its lease ends"), "{err}");
    assert_eq!(status(), "sending");
    // Its lease ended: taken over, sent again with the same key.
    db.execute("UPDATE sends SET lease_until = 0 WHERE key = ?1", [&key])
        .unwrap();
    let r = run_once(dir.path(), &[]);
    assert_eq!(status(), "sent", "{r}");
}

/// A token endpoint that does not answer: one request waits its timeout,
/// the sends waiting for a token share its failure instead of each asking
/// again, and the run names the token endpoint, not FCM.
#[test]
fn fcm_token_endpoint_that_hangs_is_asked_once_and_named() {
    let keys = tempfile::tempdir().unwrap();
    let (private_pem, _) = rsa_key(keys.path());
    let server = MockServer::start(|r, _| {
        if r.path == "/token" {
            return Reply::Hang(Duration::from_secs(5));
        }
        Reply::Status(200, vec![], r#"{"name": "projects/bm/messages/1"}"#.into())
    });
    let account = serde_json::json!({
        "type": "service_account",
        "private_key": private_pem,
        "client_email": "herald@bm.iam.gserviceaccount.test",
        "token_uri": format!("{}/token", server.url()),
    })
    .to_string();
    let dir = push_and_call_plan(&format!(
        "[providers.push]\nkind = \"fcm\"\nbase_url = \"{}\"\nproject_id = \"bm\"\ncredentials = \"env:FCM_CREDENTIALS\"\ntimeout = 1\n",
        server.url()
    ));
    let (code, _, err) = run(herald()
        .env("HERALD_NOW", RUN_AT)
        .env("FCM_CREDENTIALS", &account)
        .args(["run", "--once"])
        .arg(dir.path()));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("push provider unreachable") && err.contains("(fcm: token endpoint: timeout)"),
        "{err}"
    );
    let asked = server.requests().iter().filter(|q| q.path == "/token").count();
    assert_eq!(asked, 1, "the waiting sends shared the failure");
    assert!(
        server.requests().iter().all(|q| q.path == "/token"),
        "nothing sent without a token"
    );
    // A token endpoint that refuses connections is named too (a new plan:
    // the sends above are held a moment on the real clock).
    let closed = account.replace(
        &format!("{}/token", server.url()),
        &format!("http://127.0.0.1:{}/token", free_port()),
    );
    let dir = push_and_call_plan(&format!(
        "[providers.push]\nkind = \"fcm\"\nbase_url = \"{}\"\nproject_id = \"bm\"\ncredentials = \"env:FCM_CREDENTIALS\"\ntimeout = 1\n",
        server.url()
    ));
    let (code, _, err) = run(herald()
        .env("HERALD_NOW", RUN_AT)
        .env("FCM_CREDENTIALS", &closed)
        .args(["run", "--once"])
        .arg(dir.path()));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("(fcm: token endpoint: no connection)"), "{err}");
}
