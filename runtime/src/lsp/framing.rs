//! The LSP's framing on standard input, written here so that a malformed
//! frame is a logged error and not the end of the server (lsp-server's own
//! reader stops at the first one, and the editor loses its server).
//!
//! A frame is `Content-Length: N` (other headers ignored), a blank line and
//! N bytes of JSON-RPC. A body that is not JSON is answered with a parse
//! error (-32700), one that is not a JSON-RPC message with an invalid
//! request (-32600) — when its id can be read; either way it is logged. Bytes
//! that are not a header are skipped up to the next `Content-Length`, and a
//! body that swallowed the next frame (a `Content-Length` larger than the
//! body) gives it back: the stream resynchronises. Bounded: header lines of
//! 8 KiB, frames of 64 MiB.

use lsp_server::{ErrorCode, Message, RequestId, Response};
use serde_json::Value;
use std::io::Read;

pub const MAX_FRAME_BYTES: usize = 64 << 20;
const MAX_HEADER_LINE: usize = 8 << 10;
const HEADER: &[u8] = b"content-length:";

/// What the reader found.
pub enum Event {
    Message(Message),
    /// A problem to log, and the error response to send when there is an id.
    Problem {
        log: String,
        reply: Option<Response>,
    },
}

enum Line {
    Text(Vec<u8>),
    TooLong,
}

pub struct Framer<R> {
    input: R,
    buf: Vec<u8>,
    pos: usize,
    /// The Content-Length of the frame whose headers are being read (kept
    /// across a problem reported in the middle of them).
    length: Option<Result<usize, String>>,
}

impl<R: Read> Framer<R> {
    pub fn new(input: R) -> Self {
        Framer {
            input,
            buf: Vec::new(),
            pos: 0,
            length: None,
        }
    }

    /// Read more input; `false` at its end.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.input.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next line, without its line break; `None` at the end of input.
    fn line(&mut self) -> std::io::Result<Option<Line>> {
        let mut too_long = false;
        loop {
            // In a line too long to be a header, resume at a header inside it.
            let header_inside = |buf: &[u8], from: usize, to: usize| {
                buf.get(from + 1..to)
                    .and_then(|b| find(b, HEADER))
                    .map(|at| from + 1 + at)
            };
            if let Some(n) = self.buf[self.pos..].iter().position(|&b| b == b'\n') {
                if too_long {
                    self.pos = header_inside(&self.buf, self.pos, self.pos + n).unwrap_or(self.pos + n + 1);
                    return Ok(Some(Line::TooLong));
                }
                let line = self.buf[self.pos..self.pos + n].to_vec();
                self.pos += n + 1;
                return Ok(Some(Line::Text(line)));
            }
            if self.buf.len() - self.pos > MAX_HEADER_LINE {
                if let Some(at) = header_inside(&self.buf, self.pos, self.buf.len()) {
                    self.pos = at;
                    return Ok(Some(Line::TooLong));
                }
                // Keep the tail: a header may start at the end of the garbage.
                self.pos = self.buf.len() - HEADER.len() - 1;
                too_long = true;
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Exactly `n` bytes; `None` if the input ends first.
    fn bytes(&mut self, n: usize) -> std::io::Result<Option<Vec<u8>>> {
        while self.buf.len() - self.pos < n {
            if !self.fill()? {
                return Ok(None);
            }
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(Some(out))
    }

    /// Put bytes back in front of the input.
    fn unread(&mut self, bytes: &[u8]) {
        self.buf.splice(self.pos..self.pos, bytes.iter().copied());
    }

    /// The next message or problem; `None` at the end of input.
    pub fn next(&mut self) -> std::io::Result<Option<Event>> {
        loop {
            let line = match self.line()? {
                None => return Ok(None),
                Some(Line::TooLong) => {
                    return Ok(Some(problem(format!(
                        "skipped a header line longer than {} KiB",
                        MAX_HEADER_LINE >> 10
                    ))));
                }
                Some(Line::Text(line)) => line,
            };
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            if line.is_empty() {
                match self.length.take() {
                    // Blank lines between frames.
                    None => continue,
                    Some(Err(why)) => return Ok(Some(problem(why))),
                    Some(Ok(n)) => {
                        return Ok(self.bytes(n)?.map(|body| self.body(body)));
                    }
                }
            }
            match find(line, HEADER) {
                Some(at) => {
                    let value = String::from_utf8_lossy(&line[at + HEADER.len()..]).trim().to_string();
                    self.length = Some(match value.parse::<usize>() {
                        Ok(n) if n <= MAX_FRAME_BYTES => Ok(n),
                        Ok(n) => Err(format!("skipped a frame of {n} bytes, more than {MAX_FRAME_BYTES}")),
                        Err(_) => Err("skipped a frame whose Content-Length is not a number".to_string()),
                    });
                    if at > 0 {
                        return Ok(Some(problem("skipped bytes that are not a header".into())));
                    }
                }
                None if is_header(line) => {} // Content-Type and the like
                None => return Ok(Some(problem("skipped a line that is not a header".into()))),
            }
        }
    }

    /// A frame's body: a message, or what is wrong with it.
    fn body(&mut self, mut body: Vec<u8>) -> Event {
        let mut value = serde_json::from_slice::<Value>(&body);
        if value.is_err()
            && let Some(at) = find(&body, HEADER)
        {
            // The Content-Length said more than the body: the next frame
            // started inside it. Give that back, and read what came before.
            let rest = body.split_off(at);
            let start = rest_start(&body);
            self.unread(&rest);
            body.truncate(start);
            value = serde_json::from_slice::<Value>(&body);
        }
        match value {
            Err(e) => {
                let id = salvage_id(&body);
                Event::Problem {
                    log: format!("a frame is not JSON ({e})"),
                    reply: id.map(|id| Response::new_err(id, ErrorCode::ParseError as i32, "Parse error".into())),
                }
            }
            Ok(v) => match message(v) {
                Ok(m) => Event::Message(m),
                Err((why, id)) => Event::Problem {
                    log: format!("a frame is not a JSON-RPC message: {why}"),
                    reply: id.map(|id| {
                        Response::new_err(id, ErrorCode::InvalidRequest as i32, format!("Invalid request: {why}"))
                    }),
                },
            },
        }
    }
}

fn problem(log: String) -> Event {
    Event::Problem { log, reply: None }
}

/// The start of the `Content-Length` header found at the end of `body`'s
/// kept part: trailing line breaks before it belong to no message.
fn rest_start(body: &[u8]) -> usize {
    body.len() - body.iter().rev().take_while(|b| b.is_ascii_whitespace()).count()
}

/// `Name: value`, with a token for a name.
fn is_header(line: &[u8]) -> bool {
    match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => line[..colon].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-'),
        _ => false,
    }
}

/// Case-insensitive search.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn request_id(v: &Value) -> Option<RequestId> {
    match v {
        Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()).map(RequestId::from),
        Value::String(s) => Some(RequestId::from(s.clone())),
        _ => None,
    }
}

/// A JSON value as a JSON-RPC message, or why not (and its id, if any).
fn message(v: Value) -> Result<Message, (String, Option<RequestId>)> {
    let Value::Object(o) = &v else {
        return Err(("not an object".into(), None));
    };
    let id = o.get("id").and_then(request_id);
    if o.get("id").is_some_and(|i| !i.is_null()) && id.is_none() {
        return Err(("its id is neither a 32-bit integer nor a string".into(), None));
    }
    let shape_ok = match o.get("method") {
        Some(Value::String(_)) => true,
        Some(_) => return Err(("`method` is not a string".into(), id)),
        None => id.is_some() && (o.contains_key("result") || o.contains_key("error")),
    };
    if !shape_ok {
        return Err(("no `method`, and not a response".into(), id));
    }
    serde_json::from_value::<Message>(v).map_err(|e| (e.to_string(), id))
}

/// The id of a request whose JSON is broken, if it can still be read:
/// `"id"`, a colon, then a number or a simple string.
fn salvage_id(body: &[u8]) -> Option<RequestId> {
    let text = String::from_utf8_lossy(body);
    let at = text.find("\"id\"")?;
    let rest = text[at + 4..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        let end = s.find(['"', '\\'])?;
        return (s.as_bytes().get(end) == Some(&b'"')).then(|| RequestId::from(s[..end].to_string()));
    }
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect();
    digits.parse::<i32>().ok().map(RequestId::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    fn events(input: &str) -> Vec<String> {
        let mut f = Framer::new(input.as_bytes());
        let mut out = Vec::new();
        while let Some(e) = f.next().unwrap() {
            out.push(match e {
                Event::Message(Message::Request(r)) => format!("request {}", r.id),
                Event::Message(Message::Notification(n)) => format!("notification {}", n.method),
                Event::Message(Message::Response(r)) => format!("response {}", r.id),
                Event::Problem { reply: Some(r), .. } => {
                    format!("error {} {}", r.id, r.response_result.err().map_or(0, |e| e.code))
                }
                Event::Problem { reply: None, .. } => "logged".into(),
            });
        }
        out
    }

    #[test]
    fn good_frames_and_bad_ones() {
        let input = [
            frame(r#"{"jsonrpc":"2.0","id":1,"method":"a"}"#),
            frame(r#"{"jsonrpc":"2.0","method":"b","params":{}}"#),
            frame(r#"{"jsonrpc":"2.0","id":"x","result":null}"#),
            frame(r#"{"id":2,"method":"#),
            frame(r#"{"id":3}"#),
            frame("[1]"),
            "Content-Type: application/vscode-jsonrpc\r\n".to_string() + &frame(r#"{"id":4,"method":"c"}"#),
        ]
        .concat();
        assert_eq!(
            events(&input),
            [
                "request 1",
                "notification b",
                "response \"x\"",
                "error 2 -32700",
                "error 3 -32600",
                "logged",
                "request 4"
            ]
        );
    }

    #[test]
    fn lying_lengths_and_garbage_resynchronise() {
        let next = frame(r#"{"id":9,"method":"n"}"#);
        let longer = format!("Content-Length: 50\r\n\r\n{}{next}", r#"{"method":"m"}"#);
        assert_eq!(events(&longer), ["notification m", "request 9"]);
        let shorter = format!("Content-Length: 5\r\n\r\n{}{next}", r#"{"id":8,"method":"m"}"#);
        assert_eq!(events(&shorter), ["logged", "logged", "request 9"]);
        let garbage = format!("{}\r\nnot a header\r\n{next}", "x".repeat(100_000));
        assert_eq!(events(&garbage), ["logged", "logged", "request 9"]);
        let huge = format!("Content-Length: 99999999999\r\n\r\n{next}");
        assert_eq!(events(&huge), ["logged", "request 9"]);
        // The end of input in the middle of a frame is just the end.
        assert_eq!(events("Content-Length: 10\r\n\r\n{\"id\""), Vec::<String>::new());
    }
}
