//! The embedded default: every message written to an outbox directory —
//! `email/KEY.eml` (the full MIME message), `sms/KEY.json`, `push/KEY.json`,
//! `call/KEY.json`. No server needed, so `herald run --once` works on a fresh
//! clone; the files are what a provider would have received.
//!
//! Idempotent: a message's file is named by its key, written to a temporary
//! file and renamed into place, so a retry after a crash finds it there.

use super::{Body, Outcome, Outgoing, Provider, mime};
use std::path::PathBuf;

pub struct FileOutbox {
    dir: PathBuf,
    kind: FileKind,
}

enum FileKind {
    Email { domain: String, from: String },
    Sms,
    Push,
    Call,
}

impl FileOutbox {
    pub fn new(dir: PathBuf, domain: String, from: String) -> Result<FileOutbox, String> {
        FileOutbox::at(dir.join("email"), FileKind::Email { domain, from })
    }

    /// An outbox in `dir` (see [`super::outbox_at`]).
    fn at(dir: PathBuf, kind: FileKind) -> Result<FileOutbox, String> {
        Ok(FileOutbox {
            dir: super::outbox_at(dir)?,
            kind,
        })
    }

    pub fn sms(dir: PathBuf) -> Result<FileOutbox, String> {
        FileOutbox::at(dir.join("sms"), FileKind::Sms)
    }

    pub fn push(dir: PathBuf) -> Result<FileOutbox, String> {
        FileOutbox::at(dir.join("push"), FileKind::Push)
    }

    pub fn call(dir: PathBuf) -> Result<FileOutbox, String> {
        FileOutbox::at(dir.join("call"), FileKind::Call)
    }

    fn content(&self, m: &Outgoing) -> Result<(Vec<u8>, &'static str), String> {
        Ok(match (&self.kind, &m.body) {
            (FileKind::Email { domain, from }, Body::Email { .. }) => {
                (mime::email(m, from, domain)?.formatted(), "eml")
            }
            (FileKind::Sms, Body::Sms { sender, text }) => {
                let a = herald_compiler::sms::analyze(text);
                let v = serde_json::json!({
                    "key": m.key, "contact_id": m.contact_id, "to": m.to, "from": sender,
                    "text": text, "encoding": a.encoding.as_str(), "segments": a.segments,
                });
                (pretty(&v), "json")
            }
            (FileKind::Push, Body::Push { title, body, url }) => {
                let v = serde_json::json!({
                    "key": m.key, "contact_id": m.contact_id, "token": m.to,
                    "title": title, "body": body, "url": url,
                });
                (pretty(&v), "json")
            }
            (FileKind::Call, Body::Call { script, window, .. }) => {
                let v = serde_json::json!({
                    "key": m.key, "contact_id": m.contact_id, "phone": m.to,
                    "window": window, "script": script,
                });
                (pretty(&v), "json")
            }
            _ => return Err("a message of another channel".into()),
        })
    }
}

fn pretty(v: &serde_json::Value) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).unwrap_or_default();
    s.push(b'\n');
    s
}

impl Provider for FileOutbox {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn idempotent(&self) -> bool {
        true
    }

    fn send(&self, m: &Outgoing) -> Outcome {
        let (bytes, ext) = match self.content(m) {
            Ok(c) => c,
            Err(reason) => return Outcome::Failed { reason },
        };
        let path = self.dir.join(format!("{}.{ext}", m.key));
        if path.exists() {
            return Outcome::Sent { provider_id: None };
        }
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            return Outcome::Retry {
                after: None,
                reason: format!(
                    "outbox directory `{}` cannot be created ({})",
                    self.dir.display(),
                    e.kind()
                ),
            };
        }
        match crate::output::write_file(&path, &bytes, false) {
            Ok(()) => Outcome::Sent { provider_id: None },
            // A full disk or a permission problem: keep the send, try later.
            Err(_) => Outcome::Retry {
                after: None,
                reason: "outbox write failed".into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sms(key: &str) -> Outgoing {
        Outgoing {
            key: key.into(),
            contact_id: "c1".into(),
            to: "+33612345678".into(),
            body: Body::Sms {
                sender: None,
                text: "Bonjour".into(),
            },
        }
    }

    /// What a killed runner left half-written (a whole message, address
    /// included) is removed when the next one starts, and never stops a
    /// message from being written.
    #[test]
    fn half_written_messages_of_a_killed_runner_are_swept_and_never_block() {
        let dir = tempfile::tempdir().unwrap();
        let sms_dir = dir.path().join("sms");
        std::fs::create_dir_all(&sms_dir).unwrap();
        // A process id no process has (above the kernel's maximum).
        let dead = sms_dir.join(".k1.json.4294967295.tmp");
        std::fs::write(&dead, "half").unwrap();
        let kept = sms_dir.join("k0.json");
        std::fs::write(&kept, "{}").unwrap();
        // As if a process with this one's id had been killed mid-write (in
        // a container every runner is 1): swept too, before any write.
        let ours = sms_dir.join(format!(".k2.json.{}.tmp", std::process::id()));
        std::fs::write(&ours, "half").unwrap();
        let outbox = FileOutbox::sms(dir.path().to_path_buf()).unwrap();
        assert!(!dead.exists() && !ours.exists());
        assert!(kept.exists());
        // One left after the sweep never blocks the write of its key.
        std::fs::write(&ours, "half").unwrap();
        assert!(matches!(outbox.send(&sms("k2")), Outcome::Sent { .. }));
        assert!(!ours.exists());
        assert!(
            std::fs::read_to_string(sms_dir.join("k2.json"))
                .unwrap()
                .contains("Bonjour")
        );
    }
}
