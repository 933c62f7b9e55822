//! A fast SMS gateway on loopback for `bench/run.sh` (the `herald run`
//! benchmark): it takes what Herald's generic `http` SMS provider sends —
//! `POST /v1/messages`, a bearer token, JSON `{to, from, text, key}` and an
//! `Idempotency-Key` — checks it, remembers the key (a key seen before is
//! answered 200 and not delivered again) and answers `201 {"id": …}`.
//! `GET /stats` tells how many requests came and how many messages were
//! delivered.
//!
//! Rust rather than Python: the benchmark compares Herald with the raw
//! throughput of this server driven by `wrk`, so the server must not be the
//! bottleneck, and tens of thousands of requests a second are out of reach
//! of a Python server on two cores. It reuses axum and tokio, which Herald
//! already builds, on one single-threaded runtime per core sharing the
//! listening socket.
//!
//! `cargo bench -p herald --bench sms_gateway -- --listen 127.0.0.1:PORT --token T`
//! serves until killed; without `--listen` (as in a plain `cargo bench`) it
//! exits at once.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Gateway {
    token: String,
    requests: AtomicU64,
    delivered: AtomicU64,
    /// Keys seen, in shards so that threads rarely wait on one another.
    keys: [Mutex<HashSet<String>>; 16],
}

fn shard(key: &str) -> usize {
    key.bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
        % 16
}

fn reply(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn message(State(g): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    g.requests.fetch_add(1, Ordering::Relaxed);
    let authorised = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == g.token);
    if !authorised {
        return reply(StatusCode::UNAUTHORIZED, r#"{"code":"unauthorized"}"#.into());
    }
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) else {
        return reply(StatusCode::BAD_REQUEST, r#"{"code":"missing_key"}"#.into());
    };
    let json: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return reply(StatusCode::BAD_REQUEST, r#"{"code":"bad_json"}"#.into()),
    };
    let well_formed = ["to", "text"]
        .iter()
        .all(|f| json.get(f).and_then(|v| v.as_str()).is_some_and(|s| !s.is_empty()));
    if !well_formed {
        return reply(StatusCode::UNPROCESSABLE_ENTITY, r#"{"code":"invalid_message"}"#.into());
    }
    let first = g.keys[shard(key)]
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.to_string());
    let n = if first {
        g.delivered.fetch_add(1, Ordering::Relaxed) + 1
    } else {
        0
    };
    let status = if first { StatusCode::CREATED } else { StatusCode::OK };
    reply(status, format!(r#"{{"id":"msg-{n}"}}"#))
}

async fn stats(State(g): State<Arc<Gateway>>) -> Response {
    reply(
        StatusCode::OK,
        format!(
            r#"{{"requests":{},"delivered":{}}}"#,
            g.requests.load(Ordering::Relaxed),
            g.delivered.load(Ordering::Relaxed)
        ),
    )
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(listen) = arg(&args, "--listen") else {
        eprintln!("sms_gateway: a server for bench/run.sh; pass --listen ADDR --token TOKEN to serve");
        return;
    };
    let threads: usize = arg(&args, "--threads").and_then(|t| t.parse().ok()).unwrap_or(2);
    let gateway = Arc::new(Gateway {
        token: arg(&args, "--token").unwrap_or_default(),
        ..Gateway::default()
    });
    let listener = std::net::TcpListener::bind(&listen).unwrap_or_else(|e| panic!("cannot listen on {listen}: {e}"));
    listener.set_nonblocking(true).expect("a non-blocking socket");
    let app = Router::new()
        .route("/v1/messages", post(message))
        .route("/stats", get(stats))
        .with_state(gateway);
    let handles: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let listener = listener.try_clone().expect("the socket can be shared");
            let app = app.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                    axum::serve(listener, app).await.expect("serve");
                });
            })
        })
        .collect();
    println!("listening on {listen}");
    for h in handles {
        let _ = h.join();
    }
}
