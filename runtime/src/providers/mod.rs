//! Sending providers, over their real protocols: SMTP (lettre), Twilio's
//! Messages API, a generic HTTP SMS endpoint, FCM HTTP v1 push, signed
//! webhooks, call lists, and the `file` outbox that needs no server.
//!
//! A provider answers one question per message: sent, retry later, failed
//! for good, or in doubt (it may have been sent: the connection broke after
//! the request went out). Providers that take an idempotency key can be
//! retried when in doubt; the others cannot, and the runner reports them.
//!
//! Nothing a provider returns is logged or stored as text: a provider's
//! error body may echo the recipient's address. Outcomes carry codes.

mod call;
mod file;
mod http;
mod mime;
mod oauth;
mod pace;
mod smtp;

pub use http::HttpSend;
pub use pace::{Pacer, backoff, sleep_until, sleep_until_async};

use herald_compiler::ast::values::Channel;
use herald_compiler::config::{
    CallProviderKind, Config, DEFAULT_OUTBOX, EmailProviderKind, PushProviderKind, SecretRef, SmsProviderKind,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// A message ready to go: rendered, addressed, keyed.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// The permanent idempotency key of the send.
    pub key: String,
    pub contact_id: String,
    /// Email address, E.164 phone number or device token.
    pub to: String,
    pub body: Body,
}

#[derive(Clone, Debug)]
pub enum Body {
    Email {
        subject: String,
        preheader: Option<String>,
        html: String,
        text: String,
        /// RFC 8058 one-click unsubscribe (marketing).
        unsubscribe_url: Option<String>,
    },
    Sms {
        sender: Option<String>,
        text: String,
    },
    Push {
        title: String,
        body: String,
        url: Option<String>,
    },
    Call {
        script: String,
        /// The calling window the call belongs to (`2026-11-27T10`), for call lists.
        window: String,
        /// The other windows it was handed over in, when it is retried:
        /// the call may be in one of those lists already.
        earlier_windows: Vec<String>,
    },
}

/// What happened to one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        provider_id: Option<String>,
    },
    /// Not sent; try again (after the provider's `Retry-After`, if it said).
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Refused for good (an invalid number, a 4xx).
    Failed {
        reason: String,
    },
    /// Maybe sent: the outcome is unknown.
    InDoubt {
        reason: String,
    },
}

/// One attempt at a message: its outcome, and whether it could not even
/// connect or open a session (what the workers' circuit breaker counts: a
/// provider that is down or refuses every session, not one that refuses a
/// message or is slow).
#[derive(Debug)]
pub struct Attempt {
    pub outcome: Outcome,
    pub cannot_connect: bool,
    /// Of `cannot_connect`: the server answered, and refused the session
    /// (a code to the greeting, EHLO or AUTH): its settings, not the network.
    pub refused: bool,
    /// Whether the provider was contacted at all (or a connection tried): a
    /// message that could not even be built (an invalid address in the
    /// CRM) says nothing of the provider, and must not close the breaker.
    pub asked: bool,
    /// Of `cannot_connect`: the server that failed is another than the
    /// provider's own (FCM's token endpoint), and its reason names it.
    pub elsewhere: bool,
}

impl From<Outcome> for Attempt {
    fn from(outcome: Outcome) -> Attempt {
        Attempt {
            outcome,
            cannot_connect: false,
            refused: false,
            asked: true,
            elsewhere: false,
        }
    }
}

impl Attempt {
    /// Failed before the provider was contacted.
    pub fn local(outcome: Outcome) -> Attempt {
        Attempt {
            outcome,
            cannot_connect: false,
            refused: false,
            asked: false,
            elsewhere: false,
        }
    }
}

pub trait Provider: Send + Sync {
    /// `smtp`, `twilio`… (for reports).
    fn kind(&self) -> &'static str;
    /// Whether sending the same key twice delivers once (so a send in doubt
    /// can be retried with its key).
    fn idempotent(&self) -> bool;
    /// Send one message, blocking the thread. The providers over HTTP send
    /// through [`Provider::http`] (the workers' HTTP thread); this runs one
    /// exchange on a runtime of its own.
    fn send(&self, m: &Outgoing) -> Outcome {
        match self.http() {
            Some(h) => http::blocking(h, m, self.kind()),
            None => Outcome::Failed {
                reason: format!("{}: cannot send", self.kind()),
            },
        }
    }
    /// [`Provider::send`], saying whether it could not even connect (the
    /// workers' circuit breaker counts those).
    fn attempt(&self, m: &Outgoing) -> Attempt {
        self.send(m).into()
    }
    /// Where the provider is, for the report of one that is down: no
    /// credentials, no path.
    fn origin(&self) -> Option<String> {
        self.http().map(|h| h.origin().to_string())
    }
    /// The providers over HTTP: the workers send through this instead,
    /// many at once on one thread.
    fn http(&self) -> Option<&dyn HttpSend> {
        None
    }
}

/// Credentials read from the environment when the runner starts.
#[derive(Default)]
pub struct Secrets(BTreeMap<String, String>);

impl Secrets {
    /// Read every credential the configuration names. Missing variables are
    /// all reported at once, by name (never a value).
    pub fn resolve(config: &Config) -> Result<Secrets, String> {
        let mut refs: Vec<(&SecretRef, &str)> = Vec::new();
        let p = &config.providers;
        if let Some(e) = &p.email
            && e.kind == EmailProviderKind::Smtp
        {
            refs.extend(e.username.iter().map(|s| (s, "[providers.email] username")));
            refs.extend(e.password.iter().map(|s| (s, "[providers.email] password")));
        }
        if let Some(s) = &p.sms
            && s.kind != SmsProviderKind::File
        {
            refs.extend(s.account_sid.iter().map(|r| (r, "[providers.sms] account_sid")));
            refs.extend(s.auth_token.iter().map(|r| (r, "[providers.sms] auth_token")));
        }
        if let Some(s) = &p.push
            && s.kind != PushProviderKind::File
        {
            refs.extend(s.credentials.iter().map(|r| (r, "[providers.push] credentials")));
        }
        if let Some(c) = &p.call
            && c.kind == CallProviderKind::Webhook
        {
            refs.extend(c.secret.iter().map(|r| (r, "[providers.call] secret")));
        }
        let mut out = BTreeMap::new();
        let mut missing = Vec::new();
        for (r, what) in refs {
            match std::env::var(&r.env) {
                Ok(v) if !v.is_empty() => {
                    out.insert(r.env.clone(), v);
                }
                _ => missing.push(format!("{} (for {what})", r.env)),
            }
        }
        if missing.is_empty() {
            Ok(Secrets(out))
        } else {
            Err(format!(
                "these environment variables are not set: {}; set them, or configure a `file` provider to write messages to an outbox instead",
                missing.join(", ")
            ))
        }
    }

    fn get(&self, r: &Option<SecretRef>) -> Option<String> {
        r.as_ref().and_then(|r| self.0.get(&r.env).cloned())
    }
}

/// An outbox a `file` or `csv` provider writes in, checked before anything
/// is claimed (not found as sends that wait for ever), and rid of what a
/// killed runner left half-written.
fn outbox_at(dir: std::path::PathBuf) -> Result<std::path::PathBuf, String> {
    usable_outbox(&dir)?;
    crate::output::sweep_temporaries(&dir);
    Ok(dir)
}

/// What to say when the outbox `configured` for `channel` cannot be one.
fn unusable(channel: &'static str, configured: &str) -> impl FnOnce(String) -> String {
    let setting = match configured != DEFAULT_OUTBOX {
        true => format!("`dir = \"{configured}\"` of `[providers.{channel}]` in herald.toml"),
        false => format!("the outbox `{DEFAULT_OUTBOX}` (the default) of the {channel} channel"),
    };
    move |why| {
        format!(
            "{setting} cannot be used as an outbox: {why}; point it at a directory (Herald makes it if it is missing)"
        )
    }
}

/// Whether messages can be written in `dir`: it is a directory, or the
/// nearest part of it that exists is one (the rest is made when needed).
fn usable_outbox(dir: &Path) -> Result<(), String> {
    for at in dir.ancestors() {
        match std::fs::metadata(at) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) if at == dir => return Err("it is not a directory".into()),
            Ok(_) => return Err(format!("`{}` is not a directory", at.display())),
            // Missing, or under a file: the part above says which.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                continue;
            }
            Err(e) => return Err(format!("`{}` cannot be read ({})", at.display(), e.kind())),
        }
    }
    Ok(())
}

/// One provider per channel, as configured; channels without one use the
/// `file` outbox (the embedded default).
pub struct Providers {
    by_channel: BTreeMap<Channel, Box<dyn Provider>>,
    pacers: BTreeMap<Channel, Pacer>,
}

impl Providers {
    pub fn build(config: &Config, dir: &Path, secrets: &Secrets) -> Result<Providers, String> {
        let p = &config.providers;
        let outbox = |d: &str| dir.join(d);
        let default_outbox = outbox(DEFAULT_OUTBOX);
        let mut by_channel: BTreeMap<Channel, Box<dyn Provider>> = BTreeMap::new();
        let mut pacers = BTreeMap::new();
        let email: Box<dyn Provider> = match &p.email {
            Some(e) if e.kind == EmailProviderKind::Smtp => Box::new(smtp::Smtp::new(e, dir, secrets)?),
            Some(e) => Box::new(
                file::FileOutbox::new(outbox(&e.dir), mime::domain_of(&e.from), e.from.clone())
                    .map_err(unusable("email", &e.dir))?,
            ),
            None => Box::new(
                file::FileOutbox::new(
                    default_outbox.clone(),
                    "herald.invalid".into(),
                    "Herald <herald@herald.invalid>".into(),
                )
                .map_err(unusable("email", DEFAULT_OUTBOX))?,
            ),
        };
        by_channel.insert(Channel::Email, email);
        let sms: Box<dyn Provider> = match &p.sms {
            Some(s) if s.kind == SmsProviderKind::Twilio => Box::new(http::Twilio::new(
                http::Client::new(s.timeout)?,
                s,
                secrets.get(&s.account_sid).unwrap_or_default(),
                secrets.get(&s.auth_token).unwrap_or_default(),
            )?),
            Some(s) if s.kind == SmsProviderKind::Http => Box::new(http::HttpSms::new(
                http::Client::new(s.timeout)?,
                s,
                secrets.get(&s.auth_token),
            )?),
            Some(s) => Box::new(file::FileOutbox::sms(outbox(&s.dir)).map_err(unusable("sms", &s.dir))?),
            None => Box::new(file::FileOutbox::sms(default_outbox.clone()).map_err(unusable("sms", DEFAULT_OUTBOX))?),
        };
        by_channel.insert(Channel::Sms, sms);
        let push: Box<dyn Provider> = match &p.push {
            Some(s) if s.kind == PushProviderKind::Fcm => Box::new(http::Fcm::new(
                http::Client::new(s.timeout)?,
                s,
                secrets.get(&s.credentials).unwrap_or_default(),
            )?),
            Some(s) if s.kind == PushProviderKind::Http => Box::new(http::Webhook::new(
                http::Client::new(s.timeout)?,
                "http",
                s.base_url.clone().unwrap_or_default(),
                secrets.get(&s.credentials).unwrap_or_default(),
            )?),
            Some(s) => Box::new(file::FileOutbox::push(outbox(&s.dir)).map_err(unusable("push", &s.dir))?),
            None => Box::new(file::FileOutbox::push(default_outbox.clone()).map_err(unusable("push", DEFAULT_OUTBOX))?),
        };
        by_channel.insert(Channel::Push, push);
        let call: Box<dyn Provider> = match &p.call {
            Some(c) if c.kind == CallProviderKind::Webhook => Box::new(http::Webhook::new(
                http::Client::new(c.timeout)?,
                "webhook",
                c.url.clone().unwrap_or_default(),
                secrets.get(&c.secret).unwrap_or_default(),
            )?),
            Some(c) if c.kind == CallProviderKind::Csv => {
                // In the default outbox, beside the other channels' folders;
                // a `dir` of its own holds the lists themselves.
                let dir = match c.dir == DEFAULT_OUTBOX {
                    true => outbox(&c.dir).join("calls"),
                    false => outbox(&c.dir),
                };
                Box::new(call::CallLists::new(dir).map_err(unusable("call", &c.dir))?)
            }
            Some(c) => Box::new(file::FileOutbox::call(outbox(&c.dir)).map_err(unusable("call", &c.dir))?),
            None => Box::new(file::FileOutbox::call(default_outbox).map_err(unusable("call", DEFAULT_OUTBOX))?),
        };
        by_channel.insert(Channel::Call, call);
        let rates = [
            (Channel::Email, p.email.as_ref().and_then(|e| e.rate)),
            (Channel::Sms, p.sms.as_ref().and_then(|e| e.rate)),
            (Channel::Push, p.push.as_ref().and_then(|e| e.rate)),
            (Channel::Call, p.call.as_ref().and_then(|e| e.rate)),
        ];
        for (c, rate) in rates {
            pacers.insert(c, Pacer::new(rate));
        }
        Ok(Providers { by_channel, pacers })
    }

    pub fn for_channel(&self, c: Channel) -> Option<(&dyn Provider, &Pacer)> {
        Some((self.by_channel.get(&c)?.as_ref(), self.pacers.get(&c)?))
    }

    /// `email: smtp, sms: twilio…`, for the start-up line.
    pub fn describe(&self) -> String {
        self.by_channel
            .iter()
            .map(|(c, p)| format!("{c}: {}", p.kind()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
