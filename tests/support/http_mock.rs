//! A small HTTP/1.1 server on loopback, standing in for third-party APIs
//! that cannot be reached from the tests (Twilio's Messages API, a generic
//! SMS gateway). It implements the request and response shapes from the
//! providers' public references, records every request, and injects faults
//! on demand (5xx, 429 with `Retry-After`, timeouts).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// When the whole request had arrived.
    pub at: std::time::Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn form(&self) -> BTreeMap<String, String> {
        String::from_utf8_lossy(&self.body)
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (decode(k), decode(v)))
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the server does with one request.
pub enum Reply {
    Status(u16, Vec<(String, String)>, String),
    /// Hold the request without answering (the client times out).
    Hang(Duration),
    /// Close the connection without a response.
    Drop,
}

type Handler = dyn Fn(&Request, u64) -> Reply + Send + Sync;

pub struct MockServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl MockServer {
    /// Serve with `handler(request, n)` (`n`: the request's number, from 0).
    pub fn start(handler: impl Fn(&Request, u64) -> Reply + Send + Sync + 'static) -> MockServer {
        MockServer::start_on(0, handler)
    }

    /// Serve on this port of 127.0.0.1 (0: any free one).
    pub fn start_on(port: u16, handler: impl Fn(&Request, u64) -> Reply + Send + Sync + 'static) -> MockServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let counter = Arc::new(AtomicU64::new(0));
        {
            let requests = Arc::clone(&requests);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let requests = Arc::clone(&requests);
                            let handler = Arc::clone(&handler);
                            let counter = Arc::clone(&counter);
                            std::thread::spawn(move || serve(stream, &requests, &*handler, &counter));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            });
        }
        MockServer { port, requests, stop }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, requests: &Mutex<Vec<Request>>, handler: &Handler, counter: &AtomicU64) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut stream = stream;
    // Keep-alive: several requests per connection.
    for _ in 0..10_000 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            return;
        };
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len.min(1 << 20)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Request {
            method: method.to_string(),
            path: path.to_string(),
            headers,
            body,
            at: std::time::Instant::now(),
        };
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let reply = handler(&request, n);
        requests.lock().unwrap().push(request);
        match reply {
            Reply::Status(code, extra, body) => {
                let mut head = format!(
                    "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                    body.len()
                );
                for (k, v) in extra {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body.as_bytes()).is_err() {
                    return;
                }
            }
            Reply::Hang(d) => {
                std::thread::sleep(d);
                return;
            }
            Reply::Drop => return,
        }
    }
}

/// Twilio's Messages API, as documented: `POST
/// /2010-04-01/Accounts/{AccountSid}/Messages.json` with form fields `To`,
/// `From` and `Body` and HTTP basic auth; 201 with the Message resource, or
/// an error object `{code, message, more_info, status}`.
pub fn twilio_reply(r: &Request, sid: &str, token: &str) -> Reply {
    use base64_light::encode;
    let expected = format!("Basic {}", encode(&format!("{sid}:{token}")));
    if r.header("authorization") != Some(expected.as_str()) {
        return Reply::Status(
            401,
            vec![],
            r#"{"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}"#.into(),
        );
    }
    if r.method != "POST" || r.path != format!("/2010-04-01/Accounts/{sid}/Messages.json") {
        return Reply::Status(
            404,
            vec![],
            r#"{"code": 20404, "message": "Not Found", "status": 404}"#.into(),
        );
    }
    let form = r.form();
    let to = form.get("To").cloned().unwrap_or_default();
    if !to.starts_with('+') || to.len() < 8 {
        return Reply::Status(
            400,
            vec![],
            format!(
                r#"{{"code": 21211, "message": "The 'To' number {to} is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}}"#
            ),
        );
    }
    let n = r.body.len();
    Reply::Status(
        201,
        vec![],
        format!(
            r#"{{"sid": "SM{n:032x}", "status": "queued", "to": "{to}", "from": "{}", "num_segments": "1", "direction": "outbound-api"}}"#,
            form.get("From").cloned().unwrap_or_default()
        ),
    )
}

/// Base64 for basic auth, without a dependency.
pub mod base64_light {
    pub fn encode(s: &str) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let b = s.as_bytes();
        let mut out = String::new();
        for chunk in b.chunks(3) {
            let n = (u32::from(chunk[0]) << 16)
                | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                | u32::from(*chunk.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

/// HMAC-SHA256 in hex, for checking webhook signatures in the tests.
pub fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}
