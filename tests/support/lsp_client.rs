//! A minimal LSP client over stdio, shared by the end-to-end tests and the
//! latency benchmark: Content-Length framing, requests matched to their
//! responses, notifications kept until asked for.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

pub struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
    /// Notifications received while waiting for something else.
    pub notifications: Vec<Value>,
    configuration: std::collections::BTreeMap<String, Value>,
}

impl Client {
    /// Start the server `command` (e.g. `herald lsp`) and initialize it.
    pub fn start(command: &mut Command) -> Client {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start herald lsp");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.expect("Content-Length header")];
                stdout.read_exact(&mut body).unwrap();
                if tx.send(serde_json::from_slice(&body).expect("JSON body")).is_err() {
                    return;
                }
            }
        });
        let mut client = Client {
            child,
            stdin,
            incoming,
            next_id: 0,
            notifications: Vec::new(),
            configuration: Default::default(),
        };
        let caps = client.request(
            "initialize",
            json!({ "processId": null, "rootUri": null, "capabilities": {} }),
        );
        assert!(caps["capabilities"]["hoverProvider"].as_bool().unwrap(), "{caps}");
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Send a request and return its result (panics on an error response).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let msg = self.request_raw(method, params, Duration::from_secs(30));
        assert!(msg.get("error").is_none(), "{method} failed: {msg}");
        msg["result"].clone()
    }

    /// Send a request and return the whole response message.
    pub fn request_raw(&mut self, method: &str, params: Value, timeout: Duration) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let deadline = Instant::now() + timeout;
        loop {
            let msg = self
                .incoming
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("no answer to {method}"));
            if msg["id"] == json!(id) && msg.get("method").is_none() {
                return msg;
            }
            self.keep(msg);
        }
    }

    /// Settings returned to a server's `workspace/configuration` requests,
    /// by section.
    pub fn set_configuration(&mut self, section: &str, value: Value) {
        self.configuration.insert(section.to_string(), value);
    }

    /// Answer a request from the server, or keep a notification.
    fn keep(&mut self, msg: Value) {
        match (msg.get("id"), msg["method"].as_str()) {
            (Some(id), Some(method)) => {
                let result = if method == "workspace/configuration" {
                    let items = msg["params"]["items"].as_array().cloned().unwrap_or_default();
                    Value::Array(
                        items
                            .iter()
                            .map(|i| {
                                i["section"]
                                    .as_str()
                                    .and_then(|s| self.configuration.get(s).cloned())
                                    .unwrap_or(Value::Null)
                            })
                            .collect(),
                    )
                } else {
                    Value::Null
                };
                let id = id.clone();
                self.send(json!({ "jsonrpc": "2.0", "id": id, "result": result }));
            }
            _ => self.notifications.push(msg),
        }
    }

    /// The next diagnostics published for `uri` (earlier ones received
    /// while waiting for a response count too).
    pub fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let is_for = |m: &Value| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri;
        if let Some(i) = self.notifications.iter().position(is_for) {
            let m = self.notifications.remove(i);
            return m["params"]["diagnostics"].as_array().unwrap().clone();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self
                .incoming
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(m) if is_for(&m) => return m["params"]["diagnostics"].as_array().unwrap().clone(),
                Ok(m) => self.keep(m),
                Err(RecvTimeoutError::Timeout) => panic!("no diagnostics for {uri}"),
                Err(RecvTimeoutError::Disconnected) => panic!("the server stopped"),
            }
        }
    }

    /// The diagnostics published and not yet read, in order: (uri, list).
    pub fn take_published(&mut self) -> Vec<(String, Vec<Value>)> {
        let mut out = Vec::new();
        self.notifications.retain(|m| {
            if m["method"] != "textDocument/publishDiagnostics" {
                return true;
            }
            let uri = m["params"]["uri"].as_str().unwrap_or_default().to_string();
            out.push((uri, m["params"]["diagnostics"].as_array().cloned().unwrap_or_default()));
            false
        });
        out
    }

    pub fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "yaml", "version": 1, "text": text } }),
        );
    }

    /// Stop without the shutdown handshake (for servers we only borrow).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn change(&mut self, uri: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
        );
    }

    pub fn shutdown(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "herald lsp exited with {status}");
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "herald lsp did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
