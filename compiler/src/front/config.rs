//! `herald.toml`: project settings, state, CRM and providers.
//!
//! Secrets are never written in the file: a credential is `env:NAME` and the
//! runtime reads the variable. Time zones are checked against the IANA database.

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, SourceFile, Span};
use crate::suggest;
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The file name that marks a plan directory.
pub const CONFIG_FILE: &str = "herald.toml";

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "herald.toml")]
struct ConfigDoc {
    /// The project.
    project: ProjectDoc,
    /// Where Herald keeps what is deployed and what was sent.
    #[serde(default)]
    state: StateDoc,
    /// Where contacts come from.
    #[serde(default)]
    crm: CrmDoc,
    /// Sending providers per channel.
    #[serde(default)]
    providers: ProvidersDoc,
    /// `herald run`: the events endpoint, links, workers.
    #[serde(default)]
    run: RunDoc,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RunDoc {
    /// Address of the events endpoint (`POST /v1/events`), default `127.0.0.1:8470`.
    listen: Option<String>,
    /// Bearer token that event senders present, as `env:NAME` (required to serve events).
    #[schemars(with = "Option<String>")]
    token: Option<Spanned<String>>,
    /// Public base URL of this runner, for unsubscribe links (default `http://LISTEN`).
    public_url: Option<String>,
    /// Sends in parallel (default 4).
    workers: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProjectDoc {
    /// Project name, shown in plans and PR comments.
    name: String,
    /// Default contact time zone (IANA name, such as `Europe/Paris`).
    #[schemars(with = "String")]
    timezone: Spanned<String>,
    /// Currency of costs and of the `money` template filter (ISO 4217 code), default `EUR`.
    #[schemars(with = "Option<String>")]
    currency: Option<Spanned<String>>,
    /// Language of the `date` and `money` template filters: `fr-FR` (the default), `en-GB`, `en-US`
    /// (also `fr`, `fr-BE`, `fr-CH`, `fr-LU`, `en`, `en-IE`).
    #[schemars(with = "Option<String>")]
    locale: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct StateDoc {
    /// `sqlite`, the default and for now the only backend (`postgres` is refused until it exists).
    #[schemars(with = "Option<StateBackend>")]
    backend: Option<Spanned<StateBackend>>,
    /// SQLite file, relative to the plan directory (default `.herald/state.db`).
    path: Option<String>,
    /// PostgreSQL connection URL, as `env:NAME` (for the future `postgres` backend).
    #[schemars(with = "Option<String>")]
    url: Option<Spanned<String>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateBackend {
    #[default]
    Sqlite,
    Postgres,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CrmDoc {
    /// `csv` (default) or `sqlite`.
    kind: Option<CrmKind>,
    /// The CSV or SQLite file, relative to the plan directory (default `data/contacts.csv`).
    path: Option<String>,
    /// SQLite: the table holding contacts (default `contacts`).
    table: Option<String>,
    /// The contacts' event history: a CSV file with the columns `contact_id`, `event`, `at` (other columns allowed), relative to the plan directory. `herald plan`'s forecast reads it for `count()`. None by default.
    events: Option<String>,
    /// SQLite: a table of the CRM's file holding the event history (columns `contact_id`, `event`, `at`), instead of `events`.
    events_table: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrmKind {
    #[default]
    Csv,
    Sqlite,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ProvidersDoc {
    email: Option<EmailProviderDoc>,
    sms: Option<SmsProviderDoc>,
    push: Option<PushProviderDoc>,
    call: Option<CallProviderDoc>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct EmailProviderDoc {
    /// `smtp`, or `file` (each email written as a `.eml` file to `dir`).
    kind: EmailProviderKind,
    /// SMTP server host name (required for `smtp`).
    host: Option<String>,
    port: Option<u16>,
    /// `env:NAME`.
    #[schemars(with = "Option<String>")]
    username: Option<Spanned<String>>,
    /// `env:NAME`.
    #[schemars(with = "Option<String>")]
    password: Option<Spanned<String>>,
    /// Default From address.
    from: String,
    /// `starttls` (default), `tls` or `none`.
    tls: Option<SmtpTls>,
    /// A PEM file of certificate authorities to trust for the server's
    /// certificate besides the public ones (a relay with a private CA),
    /// relative to the plan directory.
    ca_file: Option<String>,
    /// `file`: the outbox directory, relative to the plan directory (default `.herald/outbox`).
    dir: Option<String>,
    /// At most this many messages per second.
    rate: Option<f64>,
    /// Seconds to wait for the provider (default 20).
    timeout: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailProviderKind {
    Smtp,
    File,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SmsProviderDoc {
    /// `twilio`, `http` (a generic JSON endpoint that takes an idempotency
    /// key), or `file` (each SMS written as JSON to `dir`).
    kind: SmsProviderKind,
    /// API base URL (default: the provider's).
    base_url: Option<String>,
    /// Account identifier, as `env:NAME`.
    #[schemars(with = "Option<String>")]
    account_sid: Option<Spanned<String>>,
    /// API token, as `env:NAME`.
    #[schemars(with = "Option<String>")]
    auth_token: Option<Spanned<String>>,
    /// Default sender ID or number.
    from: Option<String>,
    /// Price of one SMS segment, in the project currency.
    cost_per_segment: Option<f64>,
    /// `file`: the outbox directory (default `.herald/outbox`).
    dir: Option<String>,
    /// At most this many messages per second.
    rate: Option<f64>,
    /// Seconds to wait for the provider (default 20).
    timeout: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmsProviderKind {
    Twilio,
    Http,
    File,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PushProviderDoc {
    /// `fcm` (Firebase Cloud Messaging HTTP v1), `http` (a webhook signed
    /// with HMAC-SHA256), or `file`.
    kind: PushProviderKind,
    /// API base URL (`fcm`: default `https://fcm.googleapis.com`; `http`: the webhook URL).
    base_url: Option<String>,
    /// `fcm`: a service account key (its JSON; tokens are made and renewed
    /// by Herald) or an OAuth 2 access token; `http`: the signing secret.
    /// As `env:NAME`.
    #[schemars(with = "Option<String>")]
    credentials: Option<Spanned<String>>,
    /// `fcm`: the Firebase project id.
    project_id: Option<String>,
    /// The contact field holding the device token (default `push_token`).
    token_field: Option<String>,
    /// `file`: the outbox directory (default `.herald/outbox`).
    dir: Option<String>,
    /// At most this many messages per second.
    rate: Option<f64>,
    /// Seconds to wait for the provider (default 20).
    timeout: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CallProviderDoc {
    /// `webhook` (one signed request per call to the call centre), `csv`
    /// (one call list per calling window, in `dir`), or `file`.
    kind: CallProviderKind,
    /// `webhook`: the call centre's URL.
    url: Option<String>,
    /// `webhook`: the signing secret, as `env:NAME`.
    #[schemars(with = "Option<String>")]
    secret: Option<Spanned<String>>,
    /// `csv` and `file`: the directory (default `.herald/outbox`).
    dir: Option<String>,
    /// At most this many calls handed over per second.
    rate: Option<f64>,
    /// Seconds to wait for the call centre (default 20).
    timeout: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallProviderKind {
    Webhook,
    Csv,
    File,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PushProviderKind {
    Fcm,
    Http,
    File,
}

/// A credential to read from the environment at run time. Only the variable
/// name is kept; the value never enters the compiler.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretRef {
    pub env: String,
}

/// The checked `herald.toml`.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    pub project_name: String,
    #[serde(serialize_with = "ser_tz")]
    pub timezone: Tz,
    pub currency: String,
    pub locale: crate::template::Locale,
    pub state: StateConfig,
    pub crm: CrmConfig,
    pub providers: Providers,
    pub run: RunConfig,
}

/// `[run]`.
#[derive(Clone, Debug, Serialize)]
pub struct RunConfig {
    pub listen: String,
    pub token: Option<SecretRef>,
    pub public_url: Option<String>,
    pub workers: u32,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            listen: "127.0.0.1:8470".into(),
            token: None,
            public_url: None,
            workers: 4,
        }
    }
}

/// Where the `file` providers write, by default.
pub const DEFAULT_OUTBOX: &str = ".herald/outbox";

fn ser_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

#[derive(Clone, Debug, Serialize)]
pub struct StateConfig {
    pub backend: StateBackend,
    pub path: String,
    pub url: Option<SecretRef>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CrmConfig {
    pub kind: CrmKind,
    pub path: String,
    pub table: String,
    /// The event history: a CSV file (`None`: no history is read).
    pub events: Option<String>,
    /// SQLite: the table of the CRM's file holding the event history.
    pub events_table: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Providers {
    pub email: Option<EmailProvider>,
    pub sms: Option<SmsProvider>,
    pub push: Option<PushProvider>,
    pub call: Option<CallProvider>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EmailProvider {
    pub kind: EmailProviderKind,
    pub host: String,
    pub port: u16,
    pub username: Option<SecretRef>,
    pub password: Option<SecretRef>,
    pub from: String,
    pub tls: SmtpTls,
    /// Certificate authorities to trust besides the public ones (a PEM
    /// file, relative to the plan directory).
    pub ca_file: Option<String>,
    pub dir: String,
    pub rate: Option<f64>,
    pub timeout: std::time::Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct SmsProvider {
    pub kind: SmsProviderKind,
    pub base_url: Option<String>,
    pub account_sid: Option<SecretRef>,
    pub auth_token: Option<SecretRef>,
    pub from: Option<String>,
    pub cost_per_segment: f64,
    pub dir: String,
    pub rate: Option<f64>,
    pub timeout: std::time::Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct PushProvider {
    pub kind: PushProviderKind,
    pub base_url: Option<String>,
    pub credentials: Option<SecretRef>,
    pub project_id: Option<String>,
    pub token_field: String,
    pub dir: String,
    pub rate: Option<f64>,
    pub timeout: std::time::Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct CallProvider {
    pub kind: CallProviderKind,
    pub url: Option<String>,
    pub secret: Option<SecretRef>,
    pub dir: String,
    pub rate: Option<f64>,
    pub timeout: std::time::Duration,
}

impl Config {
    /// How the `date` and `money` filters print in a message of `channel`.
    pub fn format(&self, channel: crate::ast::values::Channel) -> crate::template::Format {
        crate::template::Format {
            locale: self.locale,
            currency: self.currency.clone(),
            timezone: self.timezone,
            sms: channel == crate::ast::values::Channel::Sms,
        }
    }

    /// Defaults for a plan checked without a readable configuration,
    /// so the YAML can still be checked.
    pub fn fallback() -> Config {
        Config {
            project_name: "herald".into(),
            timezone: Tz::UTC,
            currency: "EUR".into(),
            locale: Default::default(),
            state: StateConfig {
                backend: StateBackend::Sqlite,
                path: ".herald/state.db".into(),
                url: None,
            },
            crm: CrmConfig {
                kind: CrmKind::Csv,
                path: "data/contacts.csv".into(),
                table: "contacts".into(),
                events: None,
                events_table: None,
            },
            providers: Providers::default(),
            run: RunConfig::default(),
        }
    }
}

/// JSON Schema of `herald.toml` (for taplo / Even Better TOML).
pub fn json_schema() -> schemars::Schema {
    schemars::schema_for!(ConfigDoc)
}

fn span(id: FileId, r: std::ops::Range<usize>) -> Span {
    Span::new(id, r.start, r.end)
}

/// Parse and check `herald.toml`. Returns the configuration when it is usable.
pub fn load(id: FileId, file: &SourceFile, diags: &mut Vec<Diagnostic>) -> Option<Config> {
    if let Err(e) = file.text.parse::<toml::Table>() {
        let s = e.span().map_or(Span::new(id, 0, 0), |r| span(id, r));
        if let Some(key) = credential_at(file, s) {
            // The parser's message may quote the value: say nothing of it.
            diags.push(
                Diagnostic::new(Code::SyntaxToml, format!("invalid TOML in the value of `{key}`"))
                    .at(s, "credentials are written as a quoted `env:NAME`")
                    .help(format!(
                        "Write `{key} = \"env:NAME\"` and put the value in that environment variable; if a real credential was here, remove it from git history too."
                    )),
            );
            return None;
        }
        diags.push(
            Diagnostic::new(Code::SyntaxToml, format!("invalid TOML: {}", first_line(e.message())))
                .at(s, first_line(e.message()))
                .help("Fix the TOML syntax: `key = value` pairs under `[section]` headers, strings in double quotes."),
        );
        return None;
    }
    let doc: ConfigDoc = match toml::from_str(&file.text) {
        Ok(doc) => doc,
        Err(e) => {
            let s = e.span().map_or(Span::new(id, 0, 0), |r| span(id, r));
            diags.push(match credential_at(file, s) {
                // `invalid type: integer `1234`…` would print the value.
                Some(key) => inline_secret(key, s),
                None => data_error(id, file, &e),
            });
            return None;
        }
    };
    let before = diags.len();
    let mut secret = |v: Option<Spanned<String>>, key: &str| -> Option<SecretRef> {
        let v = v?;
        let s = span(id, v.span());
        match v.into_inner().strip_prefix("env:") {
            Some(name) if is_env_name(name) => Some(SecretRef { env: name.to_string() }),
            // Never echo the value, even after `env:`: it may be the credential itself.
            Some(_) => {
                diags.push(
                    Diagnostic::new(
                        Code::ConfigInvalid,
                        format!("the value of `{key}` after `env:` is not an environment variable name"),
                    )
                    .at(s, "expected `env:NAME`")
                    .help("Use letters, digits and underscores, such as `env:SMTP_PASSWORD`; if a real credential was written here, remove it from git history too."),
                );
                None
            }
            None => {
                diags.push(inline_secret(key, s));
                None
            }
        }
    };
    let state_url = secret(doc.state.url, "url");
    let outbox = |d: Option<String>| d.unwrap_or_else(|| DEFAULT_OUTBOX.into());
    // Between 100 ms and 5 minutes; 20 s when not written or not a number.
    let timeout = |t: Option<f64>| {
        std::time::Duration::from_secs_f64(t.filter(|t| t.is_finite()).unwrap_or(20.0).clamp(0.1, 300.0))
    };
    let email = doc.providers.email.map(|p| EmailProvider {
        kind: p.kind,
        host: p.host.unwrap_or_default(),
        port: p.port.unwrap_or(587),
        username: secret(p.username, "username"),
        password: secret(p.password, "password"),
        from: p.from,
        tls: p.tls.unwrap_or_default(),
        ca_file: p.ca_file,
        dir: outbox(p.dir),
        rate: p.rate,
        timeout: timeout(p.timeout),
    });
    let sms = doc.providers.sms.map(|p| SmsProvider {
        kind: p.kind,
        base_url: p.base_url,
        account_sid: secret(p.account_sid, "account_sid"),
        auth_token: secret(p.auth_token, "auth_token"),
        from: p.from,
        cost_per_segment: p.cost_per_segment.unwrap_or(0.0),
        dir: outbox(p.dir),
        rate: p.rate,
        timeout: timeout(p.timeout),
    });
    let push = doc.providers.push.map(|p| PushProvider {
        kind: p.kind,
        base_url: p.base_url,
        credentials: secret(p.credentials, "credentials"),
        project_id: p.project_id,
        token_field: p.token_field.unwrap_or_else(|| "push_token".into()),
        dir: outbox(p.dir),
        rate: p.rate,
        timeout: timeout(p.timeout),
    });
    let call = doc.providers.call.map(|p| CallProvider {
        kind: p.kind,
        url: p.url,
        secret: secret(p.secret, "secret"),
        dir: outbox(p.dir),
        rate: p.rate,
        timeout: timeout(p.timeout),
    });
    let run = RunConfig {
        listen: doc.run.listen.unwrap_or_else(|| RunConfig::default().listen),
        token: secret(doc.run.token, "token"),
        public_url: doc.run.public_url,
        workers: doc.run.workers.unwrap_or(4).clamp(1, 64),
    };

    let tz_span = span(id, doc.project.timezone.span());
    let tz_name = doc.project.timezone.into_inner();
    let timezone = match tz_name.parse::<Tz>() {
        Ok(tz) => tz,
        Err(_) => {
            let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
            let help = suggest::did_you_mean(&tz_name, names)
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| "Use an IANA time zone name such as `Europe/Paris` or `America/New_York`.".into());
            diags.push(
                Diagnostic::new(Code::ConfigUnknownTimezone, format!("unknown time zone `{tz_name}`"))
                    .at(tz_span, "not in the IANA time zone database")
                    .help(help),
            );
            Tz::UTC
        }
    };
    let currency = match doc.project.currency {
        None => "EUR".to_string(),
        Some(c) => {
            let s = span(id, c.span());
            let c = c.into_inner();
            if c.len() != 3 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
                diags.push(
                    Diagnostic::new(Code::ConfigInvalid, format!("`{c}` is not a currency code"))
                        .at(s, "expected a three-letter ISO 4217 code")
                        .help("Write the code in capitals, such as `EUR`, `USD` or `GBP`."),
                );
            }
            c
        }
    };
    let locale = match doc.project.locale {
        None => Default::default(),
        Some(l) => {
            let s = span(id, l.span());
            let l = l.into_inner();
            crate::template::Locale::parse(&l).unwrap_or_else(|| {
                let names = crate::template::Locale::NAMES;
                diags.push(
                    Diagnostic::new(Code::ConfigInvalid, format!("`{l}` is not a locale Herald formats"))
                        .at(s, "unknown locale")
                        .help(
                            suggest::did_you_mean(&l, names.iter().copied())
                                .map(|n| format!("did you mean `{n}`?"))
                                .unwrap_or_else(|| {
                                    format!(
                                        "Use one of {}.",
                                        names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                                    )
                                }),
                        ),
                );
                Default::default()
            })
        }
    };
    let backend = doc.state.backend.map(|b| (span(id, b.span()), b.into_inner()));
    if let Some((s, StateBackend::Postgres)) = backend {
        // Say what is true: accepting it would silently use local SQLite.
        diags.push(
            Diagnostic::new(
                Code::ConfigInvalid,
                "the `postgres` state backend is not available yet",
            )
            .at(s, "only `sqlite` is implemented")
            .help("Remove `backend` (or write `backend = \"sqlite\"`): the state is an SQLite file, `.herald/state.db` by default."),
        );
    }
    // A credential refused above (written inline) is not "missing" too.
    if diags.len() == before {
        required_settings(id, file, &email, &sms, &push, &call, diags);
    }
    let config = Config {
        project_name: doc.project.name,
        timezone,
        currency,
        locale,
        state: StateConfig {
            backend: backend.map(|(_, b)| b).unwrap_or_default(),
            path: doc.state.path.unwrap_or_else(|| ".herald/state.db".into()),
            url: state_url,
        },
        crm: CrmConfig {
            kind: doc.crm.kind.unwrap_or_default(),
            path: doc.crm.path.unwrap_or_else(|| "data/contacts.csv".into()),
            table: doc.crm.table.unwrap_or_else(|| "contacts".into()),
            events: doc.crm.events,
            events_table: doc.crm.events_table,
        },
        providers: Providers { email, sms, push, call },
        run,
    };
    (diags.len() == before).then_some(config)
}

/// The span of a `[section]` header, for settings missing from it.
fn section_span(id: FileId, file: &SourceFile, section: &str) -> Span {
    // At the start of a line: not a commented-out example of the section.
    let header = format!("[{section}]");
    let mut at = 0;
    for line in file.text.split_inclusive('\n') {
        if line.trim_start().starts_with(&header) {
            let start = at + (line.len() - line.trim_start().len());
            return Span::new(id, start, start + header.len());
        }
        at += line.len();
    }
    Span::new(id, 0, 0)
}

/// Each provider kind's required settings.
fn required_settings(
    id: FileId,
    file: &SourceFile,
    email: &Option<EmailProvider>,
    sms: &Option<SmsProvider>,
    push: &Option<PushProvider>,
    call: &Option<CallProvider>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut missing: Vec<(&str, &str, &str)> = Vec::new();
    if let Some(e) = email
        && e.kind == EmailProviderKind::Smtp
        && e.host.trim().is_empty()
    {
        missing.push(("providers.email", "smtp", "host = \"smtp.example.com\""));
    }
    if let Some(p) = sms {
        match p.kind {
            SmsProviderKind::Twilio if p.account_sid.is_none() => {
                missing.push(("providers.sms", "twilio", "account_sid = \"env:TWILIO_ACCOUNT_SID\""))
            }
            SmsProviderKind::Twilio if p.auth_token.is_none() => {
                missing.push(("providers.sms", "twilio", "auth_token = \"env:TWILIO_AUTH_TOKEN\""))
            }
            SmsProviderKind::Http if p.base_url.is_none() => missing.push((
                "providers.sms",
                "http",
                "base_url = \"https://sms.example.com/v1/messages\"",
            )),
            _ => {}
        }
    }
    if let Some(p) = push {
        match p.kind {
            PushProviderKind::Fcm if p.project_id.is_none() => {
                missing.push(("providers.push", "fcm", "project_id = \"my-firebase-project\""))
            }
            PushProviderKind::Fcm if p.credentials.is_none() => {
                missing.push(("providers.push", "fcm", "credentials = \"env:FCM_CREDENTIALS\""))
            }
            PushProviderKind::Http if p.base_url.is_none() => {
                missing.push(("providers.push", "http", "base_url = \"https://push.example.com/hook\""))
            }
            _ => {}
        }
    }
    if let Some(c) = call
        && c.kind == CallProviderKind::Webhook
    {
        if c.url.is_none() {
            missing.push(("providers.call", "webhook", "url = \"https://calls.example.com/hook\""));
        } else if c.secret.is_none() {
            missing.push(("providers.call", "webhook", "secret = \"env:CALLS_SECRET\""));
        }
    }
    for (section, kind, example) in missing {
        let key = example.split(' ').next().unwrap_or(example);
        diags.push(
            Diagnostic::new(
                Code::ConfigInvalid,
                format!("the `{kind}` provider of `[{section}]` needs `{key}`"),
            )
            .at(section_span(id, file, section), format!("`{key}` is missing"))
            .help(format!("Add `{example}` under `[{section}]`.")),
        );
    }
}

/// A credential written in the file (its value is never echoed).
fn inline_secret(key: &str, s: Span) -> Diagnostic {
    Diagnostic::new(Code::ConfigInlineSecret, format!("`{key}` holds a secret written in the file"))
        .at(s, "credentials are never written in herald.toml")
        .help(format!(
            "Put the value in an environment variable and write `{key} = \"env:NAME\"`; then remove it from the file and from git history."
        ))
}

/// The credential key whose value `s` touches, if any.
fn credential_at(file: &SourceFile, s: Span) -> Option<&'static str> {
    let (start, end) = (s.start as usize, (s.end as usize).max(s.start as usize + 1));
    crate::secrets::credentials(&file.text)
        .into_iter()
        .find(|c| start < c.value.end.max(c.value.start + 1) && c.value.start < end)
        .map(|c| c.key)
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

/// A serde error from a well-formed TOML file: unknown key, wrong type, missing key.
fn data_error(id: FileId, file: &SourceFile, e: &toml::de::Error) -> Diagnostic {
    let message = first_line(e.message());
    let s = e.span().map_or(Span::new(id, 0, 0), |r| span(id, r));
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or_default().to_string();
        let expected: Vec<&str> = rest
            .split_once("expected")
            .map(|(_, list)| list.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        return Diagnostic::new(Code::ConfigUnknownKey, format!("unknown key `{key}` in {CONFIG_FILE}"))
            .at(s, "not a setting Herald knows")
            .maybe_help(suggest::help_for(
                &key,
                expected.iter().copied(),
                "the allowed keys here",
            ));
    }
    let found = file.slice(s);
    let (label, help) = if let Some(field) = message.strip_prefix("missing field `") {
        let field = field.split('`').next().unwrap_or_default();
        (
            format!("`{field}` is required here"),
            format!("Add `{field} = ...` to this table."),
        )
    } else {
        (
            message.clone(),
            format!(
                "Check the value `{}` against the documentation of {CONFIG_FILE}.",
                truncate(found, 40)
            ),
        )
    };
    Diagnostic::new(Code::ConfigInvalid, format!("invalid {CONFIG_FILE}: {message}"))
        .at(s, label)
        .help(help)
}

fn truncate(s: &str, n: usize) -> String {
    let t: String = s.chars().take(n).collect();
    if t.len() < s.len() { format!("{t}…") } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceKind;

    fn load_str(text: &str) -> (Option<Config>, Vec<Diagnostic>) {
        let f = SourceFile::new(CONFIG_FILE, SourceKind::Config, text);
        let mut d = Vec::new();
        let c = load(FileId(0), &f, &mut d);
        (c, d)
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let (c, d) = load_str("[project]\nname = \"x\"\ntimezone = \"Europe/Paris\"\n");
        assert!(d.is_empty(), "{d:?}");
        let c = c.unwrap();
        assert_eq!(c.timezone, chrono_tz::Europe::Paris);
        assert_eq!(c.crm.path, "data/contacts.csv");
        assert_eq!(c.currency, "EUR");
    }

    #[test]
    fn inline_secrets_are_refused_without_echoing_them() {
        let text = "[project]\nname = \"x\"\ntimezone = \"UTC\"\n[providers.sms]\nkind = \"twilio\"\nauth_token = \"s3cr3t-value\"\n";
        let (c, d) = load_str(text);
        assert!(c.is_none());
        assert_eq!(d[0].code, Code::ConfigInlineSecret);
        let all = format!("{d:?}");
        assert!(!all.contains("s3cr3t"), "secret leaked: {all}");
    }

    #[test]
    fn no_credential_diagnostic_repeats_the_value() {
        for (text, code) in [
            (
                "[providers.sms]\nkind = \"twilio\"\nauth_token = \"env:sk_live-9LEAK\"\n",
                Code::ConfigInvalid,
            ),
            (
                "[providers.push]\nkind = \"fcm\"\ncredentials = 99887766\n",
                Code::ConfigInlineSecret,
            ),
            (
                "[providers.push]\nkind = \"fcm\"\ncredentials = hunterLEAK\n",
                Code::SyntaxToml,
            ),
            ("[state]\nurl = [\"LEAK\"]\n", Code::ConfigInlineSecret),
        ] {
            let (c, d) = load_str(&format!("[project]\nname = \"x\"\ntimezone = \"UTC\"\n{text}"));
            assert!(c.is_none());
            assert_eq!(d[0].code, code, "{d:?}");
            let all = format!("{d:?}");
            assert!(
                !all.contains("LEAK") && !all.contains("99887766"),
                "secret leaked: {all}"
            );
        }
    }

    #[test]
    fn the_postgres_backend_is_refused() {
        let (c, d) = load_str(
            "[project]\nname = \"x\"\ntimezone = \"UTC\"\n[state]\nbackend = \"postgres\"\nurl = \"env:DB\"\n",
        );
        assert!(c.is_none());
        assert_eq!(d[0].code, Code::ConfigInvalid);
        assert!(d[0].message.contains("not available yet"), "{d:?}");
        let (c, d) = load_str("[project]\nname = \"x\"\ntimezone = \"UTC\"\n[state]\nbackend = \"sqlite\"\n");
        assert!(d.is_empty() && c.is_some(), "{d:?}");
    }

    #[test]
    fn each_provider_kind_says_what_it_needs() {
        let base = "[project]\nname = \"x\"\ntimezone = \"UTC\"\n# [providers.sms] (an example)\n";
        for (section, want) in [
            (
                "[providers.email]\nkind = \"smtp\"\nfrom = \"a@b.test\"\n",
                "needs `host`",
            ),
            (
                "[providers.sms]\nkind = \"twilio\"\nauth_token = \"env:T\"\n",
                "needs `account_sid`",
            ),
            ("[providers.sms]\nkind = \"http\"\n", "needs `base_url`"),
            (
                "[providers.push]\nkind = \"fcm\"\ncredentials = \"env:T\"\n",
                "needs `project_id`",
            ),
            (
                "[providers.call]\nkind = \"webhook\"\nurl = \"https://x.test\"\n",
                "needs `secret`",
            ),
        ] {
            let text = format!("{base}{section}");
            let (c, d) = load_str(&text);
            assert!(c.is_none(), "{section}");
            assert!(d[0].message.contains(want), "{section}: {d:?}");
            // It points at the real header, not the commented one.
            let at = d[0].primary.as_ref().unwrap().span.start as usize;
            assert_eq!(&text[at..at + 11], "[providers.", "{section}");
            assert!(at > base.len() - 1, "{section}");
        }
        let (c, d) = load_str(&format!(
            "{base}[providers.email]\nkind = \"file\"\nfrom = \"a@b.test\"\n"
        ));
        assert!(c.is_some() && d.is_empty(), "{d:?}");
    }

    #[test]
    fn env_secrets_are_kept_as_names() {
        let text = "[project]\nname = \"x\"\ntimezone = \"UTC\"\n[providers.sms]\nkind = \"twilio\"\naccount_sid = \"env:TWILIO_SID\"\nauth_token = \"env:TWILIO_TOKEN\"\n";
        let (c, d) = load_str(text);
        assert!(d.is_empty(), "{d:?}");
        let sms = c.unwrap().providers.sms.unwrap();
        assert_eq!(
            sms.auth_token,
            Some(SecretRef {
                env: "TWILIO_TOKEN".into()
            })
        );
    }

    #[test]
    fn unknown_time_zone_suggests() {
        let (_, d) = load_str("[project]\nname = \"x\"\ntimezone = \"Europe/Pairs\"\n");
        assert_eq!(d[0].code, Code::ConfigUnknownTimezone);
        assert_eq!(d[0].help.as_deref(), Some("did you mean `Europe/Paris`?"));
    }

    #[test]
    fn unknown_key_suggests() {
        let (_, d) = load_str("[project]\nname = \"x\"\ntimezone = \"UTC\"\ntimzone = 1\n");
        assert_eq!(d[0].code, Code::ConfigUnknownKey, "{d:?}");
        assert_eq!(d[0].help.as_deref(), Some("did you mean `timezone`?"));
    }

    #[test]
    fn syntax_errors_are_syntax() {
        let (_, d) = load_str("[project\nname = \"x\"\n");
        assert_eq!(d[0].code, Code::SyntaxToml);
    }
}
