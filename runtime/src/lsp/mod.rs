//! `herald lsp`: the language server, over stdio. Synchronous like the
//! compiler: one thread reads messages; a burst of edits is compiled once,
//! when no message is waiting. The framing is Herald's own (`framing.rs`):
//! a malformed frame is answered or logged, and the server goes on; it
//! stops at `exit` or at the end of its input, and exits 0.

mod convert;
mod features;
mod framing;
mod project;
mod uri;

use crate::exit::Exit;
#[cfg(test)]
use lsp_server::RequestId;
use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types as lsp;
use lsp_types::notification::{self as notif, Notification as _};
use lsp_types::request::{self as req, Request as _};
use project::Project;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn run() -> Exit {
    let (to_client, outgoing) = crossbeam_channel::unbounded::<Message>();
    let (incoming, from_client) = crossbeam_channel::bounded::<Message>(64);
    let writer = std::thread::spawn(move || {
        let mut stdout = std::io::stdout().lock();
        for message in outgoing {
            if message.write(&mut stdout).is_err() {
                break; // the editor went away
            }
        }
    });
    let replies = to_client.clone();
    // Not joined: it may be blocked on stdin after `exit`; the process ends.
    std::thread::spawn(move || read_stdin(&incoming, &replies));
    let connection = Connection {
        sender: to_client,
        receiver: from_client,
    };
    let result = serve(&connection);
    drop(connection);
    let _ = writer.join();
    match result {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("herald lsp: {e}");
            Exit::Failure
        }
    }
}

/// Frames from stdin to the server, until `exit` or the end of input;
/// malformed ones are logged, and answered when they have an id.
fn read_stdin(incoming: &crossbeam_channel::Sender<Message>, replies: &crossbeam_channel::Sender<Message>) {
    let mut framer = framing::Framer::new(std::io::stdin().lock());
    loop {
        match framer.next() {
            Ok(Some(framing::Event::Message(m))) => {
                let exit = matches!(&m, Message::Notification(n) if n.method == notif::Exit::METHOD);
                if incoming.send(m).is_err() || exit {
                    return;
                }
            }
            Ok(Some(framing::Event::Problem { log, reply })) => {
                eprintln!("herald lsp: {log}");
                if let Some(r) = reply {
                    let _ = replies.send(r.into());
                }
            }
            Ok(None) => return,
            Err(e) => {
                eprintln!("herald lsp: cannot read standard input: {e}");
                return;
            }
        }
    }
}

fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(lsp::TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(lsp::TextDocumentSyncKind::FULL),
            save: Some(lsp::TextDocumentSyncSaveOptions::Supported(true)),
            ..Default::default()
        })),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp::OneOf::Left(true)),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some(vec![".".into(), "(".into(), " ".into()]),
            ..Default::default()
        }),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Simple(true)),
        ..Default::default()
    }
}

fn serve(connection: &Connection) -> Result<(), String> {
    let caps = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    match connection.initialize(caps) {
        Ok(_) => {}
        // The input ended before `initialize`: nothing to serve.
        Err(e) if e.channel_is_disconnected() => return Ok(()),
        Err(e) => return Err(e.to_string()),
    }
    let mut server = Server::default();
    let mut shut_down = false;
    for msg in &connection.receiver {
        match msg {
            Message::Request(request) => {
                let response = if request.method == req::Shutdown::METHOD {
                    shut_down = true;
                    Response::new_ok(request.id, ())
                } else if shut_down {
                    Response::new_err(
                        request.id,
                        lsp_server::ErrorCode::InvalidRequest as i32,
                        "the server is shutting down".into(),
                    )
                } else {
                    server.request(request)
                };
                connection.sender.send(response.into()).map_err(|e| e.to_string())?;
            }
            Message::Notification(n) => {
                if n.method == notif::Exit::METHOD {
                    return Ok(());
                }
                server.notify(n);
            }
            Message::Response(_) => {}
        }
        // Publish once the burst is over: a request is answered on fresh
        // data anyway (it recompiles what changed).
        if connection.receiver.is_empty() {
            for n in server.publish() {
                connection.sender.send(n.into()).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

#[derive(Default)]
struct Server {
    /// Plan directories by root (the nearest ancestor holding herald.toml).
    projects: BTreeMap<PathBuf, Project>,
}

/// The plan directory of a file: its nearest ancestor holding herald.toml.
fn plan_root(file: &Path) -> Option<PathBuf> {
    file.ancestors()
        .skip(1)
        .find(|d| d.join(herald_compiler::config::CONFIG_FILE).is_file())
        .map(Path::to_path_buf)
}

fn params<P: serde::de::DeserializeOwned>(value: serde_json::Value) -> Option<P> {
    serde_json::from_value(value).ok()
}

impl Server {
    /// The project of a document and its path inside it.
    fn locate(&mut self, uri: &lsp::Uri) -> Option<(&mut Project, String)> {
        let path = uri::to_path(uri.as_str())?;
        let root = plan_root(&path)?;
        let project = self.projects.entry(root.clone()).or_insert_with(|| Project::new(root));
        let rel = project.relative(&path)?;
        Some((project, rel))
    }

    fn notify(&mut self, n: Notification) {
        match n.method.as_str() {
            notif::DidOpenTextDocument::METHOD => {
                if let Some(p) = params::<lsp::DidOpenTextDocumentParams>(n.params)
                    && let Some((project, rel)) = self.locate(&p.text_document.uri)
                {
                    project.overlays.insert(rel, p.text_document.text);
                    project.dirty = true;
                }
            }
            notif::DidChangeTextDocument::METHOD => {
                if let Some(p) = params::<lsp::DidChangeTextDocumentParams>(n.params)
                    && let Some((project, rel)) = self.locate(&p.text_document.uri)
                    // Full sync: the last change holds the whole text.
                    && let Some(change) = p.content_changes.into_iter().last()
                {
                    project.overlays.insert(rel, change.text);
                    project.dirty = true;
                }
            }
            notif::DidSaveTextDocument::METHOD => {
                if let Some(p) = params::<lsp::DidSaveTextDocumentParams>(n.params)
                    && let Some((project, _)) = self.locate(&p.text_document.uri)
                {
                    // Other files may have changed on disk too.
                    project.dirty = true;
                }
            }
            notif::DidChangeWatchedFiles::METHOD => {
                // Files changed on disk (a checkout, a generator): recompile
                // the plans they belong to.
                if let Some(p) = params::<lsp::DidChangeWatchedFilesParams>(n.params) {
                    for change in p.changes {
                        if let Some(path) = uri::to_path(change.uri.as_str()) {
                            for project in self.projects.values_mut().filter(|p| path.starts_with(&p.root)) {
                                project.dirty = true;
                            }
                        }
                    }
                }
            }
            notif::DidCloseTextDocument::METHOD => {
                if let Some(p) = params::<lsp::DidCloseTextDocumentParams>(n.params)
                    && let Some((project, rel)) = self.locate(&p.text_document.uri)
                {
                    // Back to what is on disk.
                    project.overlays.remove(&rel);
                    project.dirty = true;
                }
            }
            _ => {}
        }
    }

    fn request(&mut self, r: Request) -> Response {
        let id = r.id.clone();
        match self.answer(r) {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    fn answer(&mut self, r: Request) -> Result<serde_json::Value, (lsp_server::ErrorCode, String)> {
        use lsp_server::ErrorCode;
        let bad = |e: serde_json::Error| (ErrorCode::InvalidParams, e.to_string());
        let json = |v: serde_json::Result<serde_json::Value>| v.map_err(|e| (ErrorCode::InternalError, e.to_string()));
        match r.method.as_str() {
            req::HoverRequest::METHOD => {
                let p: lsp::HoverParams = serde_json::from_value(r.params).map_err(bad)?;
                let tdp = p.text_document_position_params;
                let out = self.with(&tdp.text_document.uri, |_, c, rel| {
                    features::hover(c, rel, tdp.position)
                });
                json(serde_json::to_value(out.flatten()))
            }
            req::GotoDefinition::METHOD => {
                let p: lsp::GotoDefinitionParams = serde_json::from_value(r.params).map_err(bad)?;
                let tdp = p.text_document_position_params;
                let out = self.with(&tdp.text_document.uri, |root, c, rel| {
                    features::definition(root, c, rel, tdp.position)
                });
                json(serde_json::to_value(
                    out.flatten().map(lsp::GotoDefinitionResponse::Scalar),
                ))
            }
            req::Completion::METHOD => {
                let p: lsp::CompletionParams = serde_json::from_value(r.params).map_err(bad)?;
                let tdp = p.text_document_position;
                let out = self.with(&tdp.text_document.uri, |_, c, rel| {
                    features::completion(c, rel, tdp.position)
                });
                json(serde_json::to_value(lsp::CompletionResponse::Array(
                    out.unwrap_or_default(),
                )))
            }
            req::CodeActionRequest::METHOD => {
                let p: lsp::CodeActionParams = serde_json::from_value(r.params).map_err(bad)?;
                let out = self.with(&p.text_document.uri, |root, c, rel| {
                    features::code_actions(root, c, rel, p.range)
                });
                json(serde_json::to_value(out.unwrap_or_default()))
            }
            _ => Err((
                ErrorCode::MethodNotFound,
                format!("herald lsp does not handle `{}`", r.method),
            )),
        }
    }

    /// Run `f` on the fresh compilation of a document's plan.
    fn with<T>(&mut self, uri: &lsp::Uri, f: impl FnOnce(&Path, &project::Compiled, &str) -> T) -> Option<T> {
        let (project, rel) = self.locate(uri)?;
        let root = project.root.clone();
        let compiled = project.refresh().ok()?;
        Some(f(&root, compiled, &rel))
    }

    /// Compile what changed and publish the diagnostics that differ from
    /// what the editor shows.
    fn publish(&mut self) -> Vec<Notification> {
        let mut out = Vec::new();
        for project in self.projects.values_mut().filter(|p| p.unpublished()) {
            let root = project.root.clone();
            let fresh: BTreeMap<String, Vec<lsp::Diagnostic>> = match project.refresh() {
                Ok(c) => c
                    .by_file()
                    .into_iter()
                    .filter_map(|(rel, ds)| {
                        let uri = convert::uri_of(&root, &rel)?;
                        let list = ds.iter().map(|d| convert::diagnostic(&root, &c.sources, d)).collect();
                        Some((uri.as_str().to_string(), list))
                    })
                    .collect(),
                Err(e) => {
                    eprintln!("herald lsp: cannot read `{}`: {e}", root.display());
                    BTreeMap::new()
                }
            };
            project.published_generation = project.compiled_generation;
            // Files that had problems and are gone from the plan: clear them.
            let gone: Vec<String> = project
                .published
                .keys()
                .filter(|u| !fresh.contains_key(*u))
                .cloned()
                .collect();
            for uri in gone {
                project.published.remove(&uri);
                out.push(publish(&uri, Vec::new()));
            }
            for (uri, list) in fresh {
                let before = project.published.get(&uri);
                if before == Some(&list) || (before.is_none() && list.is_empty()) {
                    continue;
                }
                out.push(publish(&uri, list.clone()));
                project.published.insert(uri, list);
            }
        }
        out
    }
}

fn publish(uri: &str, diagnostics: Vec<lsp::Diagnostic>) -> Notification {
    Notification::new(
        notif::PublishDiagnostics::METHOD.to_string(),
        serde_json::json!({ "uri": uri, "diagnostics": diagnostics }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn notification(method: &str, params: serde_json::Value) -> Notification {
        Notification::new(method.to_string(), params)
    }

    #[test]
    fn a_request_that_compiles_an_edit_does_not_swallow_its_diagnostics() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("herald.toml"),
            "[project]\nname = \"t\"\ntimezone = \"Europe/Paris\"\n",
        )
        .unwrap();
        let file = dir.path().join("plan.yaml");
        std::fs::write(&file, "segments:\n  a:\n    where: id is set\n").unwrap();
        let u = uri::from_path(&file);
        let mut server = Server::default();
        server.notify(notification(
            notif::DidOpenTextDocument::METHOD,
            json!({ "textDocument": { "uri": u, "languageId": "yaml", "version": 1, "text": "segments:\n  a:\n    where: nope is set\n" } }),
        ));
        // The editor asks something before the server got to publish.
        let hover = Request::new(
            RequestId::from(1),
            req::HoverRequest::METHOD.to_string(),
            json!({ "textDocument": { "uri": u }, "position": { "line": 0, "character": 0 } }),
        );
        server.request(hover);
        let published = server.publish();
        let diagnostics = published
            .iter()
            .find(|n| n.params["uri"] == u)
            .map(|n| n.params["diagnostics"].clone())
            .expect("the edit's diagnostics are published");
        assert_eq!(diagnostics[0]["code"], "reference/unknown-field", "{diagnostics}");
        // Nothing new: nothing more to publish.
        assert!(server.publish().is_empty());
    }
}
