//! Email over SMTP (lettre), with a pool of connections shared by the
//! workers. SMTP takes no idempotency key: a message whose connection broke
//! after it was handed over is in doubt, never resent on its own.

use super::{Outcome, Outgoing, Provider, Secrets, mime};
use herald_compiler::config::{EmailProvider, SmtpTls};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};

pub struct Smtp {
    transport: SmtpTransport,
    from: String,
    domain: String,
}

impl Smtp {
    pub fn new(c: &EmailProvider, secrets: &Secrets) -> Result<Smtp, String> {
        let tls = match c.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls | SmtpTls::Tls => {
                let params = TlsParameters::new(c.host.clone()).map_err(|e| format!("TLS for `{}`: {e}", c.host))?;
                if c.tls == SmtpTls::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut builder = SmtpTransport::builder_dangerous(c.host.as_str())
            .port(c.port)
            .tls(tls)
            .timeout(Some(c.timeout))
            .pool_config(PoolConfig::new().max_size(16));
        if let (Some(user), Some(password)) = (secrets.get(&c.username), secrets.get(&c.password)) {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Smtp {
            transport: builder.build(),
            from: c.from.clone(),
            domain: mime::domain_of(&c.from),
        })
    }
}

impl Provider for Smtp {
    fn kind(&self) -> &'static str {
        "smtp"
    }

    fn idempotent(&self) -> bool {
        false
    }

    fn send(&self, m: &Outgoing) -> Outcome {
        let message = match mime::email(m, &self.from, &self.domain) {
            Ok(msg) => msg,
            Err(reason) => return Outcome::Failed { reason },
        };
        match self.transport.send(&message) {
            Ok(response) => Outcome::Sent {
                provider_id: Some(format!("smtp {}", response.code())),
            },
            // Only the code: the server's text may quote the recipient.
            Err(e) if e.is_permanent() => Outcome::Failed {
                reason: format!("smtp {}", e.status().map_or("5xx".into(), |c| c.to_string())),
            },
            Err(e) if e.is_transient() => Outcome::Retry {
                after: None,
                reason: format!("smtp {}", e.status().map_or("4xx".into(), |c| c.to_string())),
            },
            // lettre reports a failed connection (nothing was sent) as
            // "Connection error"; any other failure may have happened
            // after the message was handed over.
            Err(e) if e.to_string().starts_with("Connection error") => Outcome::Retry {
                after: None,
                reason: "smtp connection failed".into(),
            },
            Err(e) if e.is_tls() => Outcome::Retry {
                after: None,
                reason: "smtp TLS failed".into(),
            },
            Err(e) if e.is_timeout() => Outcome::InDoubt {
                reason: "smtp timeout".into(),
            },
            Err(_) => Outcome::InDoubt {
                reason: "smtp connection lost".into(),
            },
        }
    }
}
