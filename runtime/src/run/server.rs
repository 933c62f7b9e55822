//! The runner's HTTP endpoint (axum):
//! - `POST /v1/events` (bearer token from `[run] token`): an event for a
//!   contact, checked against the deployed plan's declaration;
//! - `POST /v1/engagement` (same token): opens, clicks, bounces, complaints
//!   and unsubscribes reported by providers, by send key;
//! - `GET|POST /u/TOKEN`: unsubscribe (RFC 8058 one-click on POST);
//! - `GET|POST /p/TOKEN`: the preference page (channels, one by one);
//! - `GET /v/TOKEN`: the message as sent ("view online"), rendered again
//!   from the deployed plan and the contact's current data;
//! - `GET /healthz`.
//!
//! Bodies are limited to 64 KiB; every refusal says what is wrong in a JSON
//! `{"error": ...}` with the right 4xx, and never echoes a value it received.

use super::{events, strict_json};
use crate::state::run::Store;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use herald_compiler::ast::values::Channel;
use herald_compiler::model::Plan;
use std::sync::{Arc, Mutex};

pub const MAX_BODY: usize = 64 * 1024;

pub struct Server {
    pub store: Mutex<Store>,
    pub deployed: Mutex<super::deployed::Deployed>,
    pub token: Option<String>,
    pub links: super::compose::Links,
    /// Tells the runner loop there is new work.
    pub wake: std::sync::mpsc::Sender<()>,
    /// The plan directory (the CRM's paths are relative to it).
    pub dir: std::path::PathBuf,
    pub now: Box<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// A request refused: a status and what is wrong.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal(status, message.into())
}

pub fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/v1/events", post(post_event))
        .route("/v1/engagement", post(post_engagement))
        .route("/u/{token}", get(unsubscribe_page).post(unsubscribe))
        .route("/p/{token}", get(preferences_page).post(preferences))
        .route("/v/{token}", get(view_online))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(server)
}

/// The bearer token, compared in constant time.
fn authorised(server: &Server, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(want) = &server.token else {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the events endpoint is off: set `[run] token = \"env:NAME\"` in herald.toml and restart `herald run`",
        ));
    };
    let got = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let same = got.len() == want.len() && got.bytes().zip(want.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
    if same {
        Ok(())
    } else {
        Err(refuse(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token: send `Authorization: Bearer TOKEN` with the token of `[run] token`",
        ))
    }
}

/// The body, or why not, as every other refusal: JSON with `error`.
type Body = Result<Bytes, axum::extract::rejection::BytesRejection>;

fn json_body(headers: &HeaderMap, body: &Body) -> Result<serde_json::Map<String, serde_json::Value>, Refusal> {
    let body = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over {} KiB: send one event at a time", MAX_BODY / 1024),
            ));
        }
        Err(r) => return Err(refuse(r.status(), r.body_text())),
    };
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send JSON with `Content-Type: application/json`",
        ));
    }
    match strict_json::from_slice(body) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(refuse(StatusCode::BAD_REQUEST, "the body must be a JSON object")),
        Err(e) if e.is_data() => Err(refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "{} (line {}, column {}): send each key once",
                strict_json::REPEATED_KEY,
                e.line(),
                e.column()
            ),
        )),
        Err(e) => Err(refuse(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON (line {}, column {})", e.line(), e.column()),
        )),
    }
}

fn field<'a>(m: &'a serde_json::Map<String, serde_json::Value>, key: &str) -> Result<Option<&'a str>, Refusal> {
    match m.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => events::check_id(key, s)
            .map(|()| Some(s.as_str()))
            .map_err(|e| refuse(StatusCode::UNPROCESSABLE_ENTITY, e)),
        Some(_) => Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("`{key}` must be a string"),
        )),
    }
}

fn current_plan(server: &Server) -> Result<Arc<Plan>, Refusal> {
    let store = server.store.lock().unwrap_or_else(|e| e.into_inner());
    let now = (server.now)();
    let mut deployed = server.deployed.lock().unwrap_or_else(|e| e.into_inner());
    deployed
        .current(&**store, now)
        .map_err(|e| refuse(StatusCode::SERVICE_UNAVAILABLE, e))
}

async fn post_event(State(server): State<Arc<Server>>, headers: HeaderMap, body: Body) -> Response {
    if let Err(r) = authorised(&server, &headers) {
        return r.into_response();
    }
    let m = match json_body(&headers, &body) {
        Ok(m) => m,
        Err(r) => return r.into_response(),
    };
    let s = Arc::clone(&server);
    tokio::task::spawn_blocking(move || record_event(&s, &m))
        .await
        .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "the event could not be recorded"))
}

fn record_event(server: &Server, m: &serde_json::Map<String, serde_json::Value>) -> Response {
    let (name, contact, at, id) = match (
        field(m, "event"),
        field(m, "contact_id"),
        field(m, "at"),
        field(m, "id"),
    ) {
        (Ok(Some(n)), Ok(Some(c)), Ok(at), Ok(id)) => (n, c, at, id),
        (Ok(None), ..) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "`event` (the event's name) is required",
            );
        }
        (_, Ok(None), ..) => return error(StatusCode::UNPROCESSABLE_ENTITY, "`contact_id` is required"),
        (Err(r), ..) | (_, Err(r), ..) | (_, _, Err(r), _) | (_, _, _, Err(r)) => return r.into_response(),
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["event", "contact_id", "at", "id", "properties"].contains(&k.as_str()))
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "unknown key `{k}`: an event has `event`, `contact_id`, `properties`, and optionally `at` and `id`"
            ),
        );
    }
    let at = match at {
        None => (server.now)(),
        Some(t) => match DateTime::parse_from_rfc3339(t) {
            Ok(t) => t.to_utc(),
            Err(_) => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "`at` must be an RFC 3339 time such as 2026-11-27T10:00:00Z",
                );
            }
        },
    };
    if let Err(e) = events::check_at(at, (server.now)()) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, e);
    }
    let props = match m.get("properties") {
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(serde_json::Value::Object(p)) => p.clone(),
        Some(_) => return error(StatusCode::UNPROCESSABLE_ENTITY, "`properties` must be an object"),
    };
    let plan = match current_plan(server) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let props = match events::check(&plan, name, &props) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, e),
    };
    let mut store = server.store.lock().unwrap_or_else(|e| e.into_inner());
    let json = serde_json::Value::Object(props).to_string();
    match store.insert_event(contact, name, at, &json, "http", id) {
        Ok(Some(n)) => {
            let _ = server.wake.send(());
            (
                StatusCode::ACCEPTED,
                axum::Json(serde_json::json!({ "status": "accepted", "id": n })),
            )
                .into_response()
        }
        Ok(None) => match events::check_repeat(&**store, id.unwrap_or_default(), contact, name) {
            Ok(()) => (StatusCode::OK, axum::Json(serde_json::json!({ "status": "duplicate" }))).into_response(),
            Err(e) => error(StatusCode::CONFLICT, e),
        },
        Err(e) => {
            tracing::error!(error = %e, "an event could not be recorded");
            error(StatusCode::SERVICE_UNAVAILABLE, "the state is busy; retry")
        }
    }
}

/// What a provider reports: a kind, and what it means for the contact.
fn engagement_kind(kind: &str) -> Option<(&'static str, bool)> {
    Some(match kind {
        "delivered" => ("delivered", false),
        "opened" => ("opened", false),
        "clicked" => ("clicked", false),
        "converted" => ("converted", false),
        // These stop the channel for the contact at once.
        "bounced" => ("bounced", true),
        "complained" => ("complained", true),
        "unsubscribed" => ("unsubscribed", true),
        _ => return None,
    })
}

async fn post_engagement(State(server): State<Arc<Server>>, headers: HeaderMap, body: Body) -> Response {
    if let Err(r) = authorised(&server, &headers) {
        return r.into_response();
    }
    let m = match json_body(&headers, &body) {
        Ok(m) => m,
        Err(r) => return r.into_response(),
    };
    let s = Arc::clone(&server);
    tokio::task::spawn_blocking(move || {
        let (key, kind) = match (field(&m, "key"), field(&m, "kind")) {
            (Ok(Some(k)), Ok(Some(kind))) => (k.to_string(), kind.to_string()),
            _ => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "`key` (the send's key) and `kind` are required",
                );
            }
        };
        let Some((kind, stops)) = engagement_kind(&kind) else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "`kind` is one of delivered, opened, clicked, converted, bounced, complained, unsubscribed",
            );
        };
        engage(&s, &key, kind, stops)
    })
    .await
    .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "not recorded"))
}

/// Record engagement of a send; stop its channel for the contact if asked.
fn engage(server: &Server, key: &str, kind: &str, stops: bool) -> Response {
    let now = (server.now)();
    let mut store = server.store.lock().unwrap_or_else(|e| e.into_inner());
    let found = store.record_engagement(key, kind, now);
    match found {
        Ok(Some((contact, _))) => {
            if stops {
                let channel = store.send(key).ok().flatten().map(|r| r.channel);
                if let Some(c) = channel
                    && let Err(e) = store.suppress(&contact, c, kind, now)
                {
                    tracing::error!(error = %e, "a suppression could not be recorded");
                }
            }
            let _ = server.wake.send(());
            (StatusCode::OK, axum::Json(serde_json::json!({ "status": "recorded" }))).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "no send has this key"),
        Err(e) => {
            tracing::error!(error = %e, "engagement could not be recorded");
            error(StatusCode::SERVICE_UNAVAILABLE, "the state is busy; retry")
        }
    }
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head><body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\"><h1>{title}</h1>{body}</body></html>"
    ))
}

fn bad_link() -> Response {
    (
        StatusCode::NOT_FOUND,
        page(
            "Lien invalide",
            "<p>Ce lien n'est pas valide ou a été modifié. Utilisez le lien du message reçu.</p>",
        ),
    )
        .into_response()
}

async fn unsubscribe_page(State(server): State<Arc<Server>>, UrlPath(token): UrlPath<String>) -> Response {
    if server.links.verify(&token).is_none() {
        return bad_link();
    }
    page(
        "Désinscription",
        "<p>Vous ne recevrez plus ces messages par ce canal.</p>\
         <form method=\"post\"><button type=\"submit\">Confirmer la désinscription</button></form>",
    )
    .into_response()
}

/// RFC 8058: a POST to the List-Unsubscribe URL (body
/// `List-Unsubscribe=One-Click`) unsubscribes at once, without a page.
async fn unsubscribe(State(server): State<Arc<Server>>, UrlPath(token): UrlPath<String>) -> Response {
    let Some(key) = server.links.verify(&token).map(str::to_string) else {
        return bad_link();
    };
    let s = Arc::clone(&server);
    let r = tokio::task::spawn_blocking(move || engage(&s, &key, "unsubscribed", true)).await;
    match r {
        Ok(r) if r.status().is_success() => page(
            "Vous êtes désinscrit",
            "<p>C'est fait : vous ne recevrez plus ces messages par ce canal.</p>",
        )
        .into_response(),
        _ => bad_link(),
    }
}

async fn preferences_page(State(server): State<Arc<Server>>, UrlPath(token): UrlPath<String>) -> Response {
    if server.links.verify(&token).is_none() {
        return bad_link();
    }
    let buttons: String = Channel::ALL
        .iter()
        .map(|c| {
            format!(
                "<form method=\"post\"><input type=\"hidden\" name=\"channel\" value=\"{c}\"><button type=\"submit\">Ne plus rien recevoir par {}</button></form>",
                match c {
                    Channel::Email => "email",
                    Channel::Sms => "SMS",
                    Channel::Push => "notification",
                    Channel::Call => "téléphone",
                }
            )
        })
        .collect();
    page("Vos préférences", &buttons).into_response()
}

async fn preferences(State(server): State<Arc<Server>>, UrlPath(token): UrlPath<String>, body: Bytes) -> Response {
    let Some(key) = server.links.verify(&token).map(str::to_string) else {
        return bad_link();
    };
    let form = String::from_utf8_lossy(&body);
    let Some(channel) = form
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "channel")
        .and_then(|(_, v)| Channel::ALL.into_iter().find(|c| c.as_str() == v))
    else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "choose a channel");
    };
    let s = Arc::clone(&server);
    let r = tokio::task::spawn_blocking(move || {
        let now = (s.now)();
        let mut store = s.store.lock().unwrap_or_else(|e| e.into_inner());
        let contact = store
            .record_engagement(&key, "unsubscribed", now)
            .ok()
            .flatten()
            .map(|(c, _)| c);
        match contact {
            Some(c) => store.suppress(&c, channel, "preferences", now).is_ok(),
            None => false,
        }
    })
    .await;
    match r {
        Ok(true) => page("C'est noté", "<p>Votre choix est enregistré.</p>").into_response(),
        _ => bad_link(),
    }
}

/// "View online": the message rendered again for its contact.
async fn view_online(State(server): State<Arc<Server>>, UrlPath(token): UrlPath<String>) -> Response {
    let Some(key) = server.links.verify(&token).map(str::to_string) else {
        return bad_link();
    };
    let s = Arc::clone(&server);
    let r = tokio::task::spawn_blocking(move || render_again(&s, &key)).await;
    match r {
        Ok(Some(html)) => Html(html).into_response(),
        _ => bad_link(),
    }
}

fn render_again(server: &Server, key: &str) -> Option<String> {
    let row = {
        let store = server.store.lock().unwrap_or_else(|e| e.into_inner());
        store.send(key).ok().flatten()?
    };
    let plan = current_plan(server).ok()?;
    let mut source = crate::crm::open(&plan.config.crm, &server.dir, &plan.contact).ok()?;
    let crate::crm::Lookup::Found(contact) = crate::crm::find(source.as_mut(), &row.contact_id).ok()? else {
        return None;
    };
    let layout = source.layout().clone();
    let links = std::sync::Arc::new(server.links.clone());
    let mut renderer = herald_compiler::render::Renderer::default();
    let out = super::compose::compose(&mut renderer, &plan, &layout, &contact, &row, &links, String::new).ok()?;
    Some(match out.body {
        crate::providers::Body::Email { html, .. } => html,
        crate::providers::Body::Sms { text, .. } => page("SMS", &format!("<p>{}</p>", html_escape(&text))).0,
        crate::providers::Body::Push { title, body, .. } => {
            page(&html_escape(&title), &format!("<p>{}</p>", html_escape(&body))).0
        }
        crate::providers::Body::Call { script, .. } => page("Appel", &format!("<pre>{}</pre>", html_escape(&script))).0,
    })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
