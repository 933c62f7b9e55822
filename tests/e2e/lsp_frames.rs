//! `herald lsp` survives malformed frames: it answers what has an id with the
//! JSON-RPC error, logs the rest to stderr, resynchronises on the next
//! header, and exits cleanly only at the end of its input (or on `exit`).

use super::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

struct Raw {
    child: std::process::Child,
    stdin: Option<ChildStdin>,
    incoming: Receiver<Value>,
}

impl Raw {
    fn start() -> Raw {
        let mut child = herald()
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            loop {
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if line.trim_end().is_empty() {
                        break;
                    }
                    if let Some(n) = line.trim_end().strip_prefix("Content-Length: ") {
                        length = n.parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                stdout.read_exact(&mut body).unwrap();
                let _ = tx.send(serde_json::from_slice(&body).unwrap());
            }
        });
        Raw { child, stdin, incoming }
    }

    fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn frame(&mut self, body: &str) {
        self.write(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    /// The next message that is a response (notifications are skipped).
    fn response(&mut self) -> Value {
        loop {
            let m = self
                .incoming
                .recv_timeout(Duration::from_secs(20))
                .expect("the server answers (it did not exit or hang)");
            if m.get("method").is_none() {
                return m;
            }
        }
    }

    /// Close stdin; the server must exit 0 on its own. Returns its stderr.
    fn finish(mut self) -> String {
        drop(self.stdin.take());
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "herald lsp did not exit at EOF"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(status.success(), "exit {status}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        err
    }
}

fn request(id: i64, method: &str) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": {} }).to_string()
}

fn initialize(s: &mut Raw) {
    s.frame(
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "capabilities": {} } }).to_string(),
    );
    assert_eq!(s.response()["id"], 1);
    s.frame(&json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} }).to_string());
}

#[test]
fn malformed_frames_get_errors_and_the_server_goes_on() {
    let mut s = Raw::start();
    initialize(&mut s);

    // Not JSON, but an id can be read: parse error for that id.
    s.frame(r#"{"jsonrpc":"2.0","id":2,"method":"x", oops"#);
    let r = s.response();
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (json!(2), json!(-32700)),
        "{r}"
    );

    // JSON, but not a JSON-RPC message: invalid request for that id.
    s.frame(r#"{"jsonrpc":"2.0","id":3}"#);
    let r = s.response();
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (json!(3), json!(-32600)),
        "{r}"
    );
    s.frame(r#"{"id":"four","method":17}"#);
    let r = s.response();
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (json!("four"), json!(-32600)),
        "{r}"
    );

    // No id at all: logged, nothing to answer. Then garbage header lines.
    s.frame("[1, 2, 3]");
    s.frame("\u{0}\u{1} binary \u{7f}");
    s.write(b"Garbage-Without-Colon\r\nX: y\r\n");
    s.frame(&request(5, "herald/unknown"));
    let r = s.response();
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (json!(5), json!(-32601)),
        "{r}"
    );

    // A Content-Length that says more than the body: the next frame is found again.
    let lie = r#"{"jsonrpc":"2.0","method":"y"}"#;
    s.write(format!("Content-Length: {}\r\n\r\n{lie}", lie.len() + 40).as_bytes());
    s.frame(&request(6, "herald/unknown"));
    assert_eq!(s.response()["id"], 6);

    // One that says less: the cut request is answered with a parse error
    // (its id is in the part read), the rest skipped up to the next frame.
    let body = request(70, "herald/unknown");
    assert!(body.starts_with(r#"{"id":70,"#));
    s.write(format!("Content-Length: 12\r\n\r\n{body}").as_bytes());
    s.frame(&request(7, "herald/unknown"));
    let r = s.response();
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (json!(70), json!(-32700)),
        "{r}"
    );
    assert_eq!(s.response()["id"], 7);

    // A header line without end, and a frame larger than the limit.
    s.write(&vec![b'A'; 200_000]);
    s.write(b"\r\nContent-Length: 999999999999\r\n\r\n");
    s.frame(&request(8, "herald/unknown"));
    assert_eq!(s.response()["id"], 8);

    // Still serving: shutdown is answered, and EOF ends the server cleanly.
    s.frame(&request(9, "shutdown"));
    let r = s.response();
    assert_eq!(r["id"], 9);
    assert!(r.get("error").is_none(), "{r}");
    let err = s.finish();
    assert!(err.contains("herald lsp:"), "problems are logged: {err}");
}

#[test]
fn the_server_exits_cleanly_at_eof_even_mid_frame() {
    let mut s = Raw::start();
    initialize(&mut s);
    s.write(b"Content-Length: 100\r\n\r\n{\"jsonrpc\"");
    s.finish();
}
