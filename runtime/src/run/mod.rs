//! `herald run`: the engine that sends. It runs what is deployed in the
//! state (never the working tree) against the CRM and the providers.
//!
//! - `herald run --once DIR`: everything due now, then exit (cron, CI).
//! - `herald run DIR`: a long-running runner: passes as work comes due, an
//!   HTTP endpoint for events and unsubscribes, `herald pause/resume/stop`
//!   honoured within a second, SIGINT/SIGTERM finish the pass in progress.
//!
//! The business clock is `HERALD_NOW` or the machine's; leases, retries and
//! timeouts run on the real clock.

mod breaker;
mod compose;
mod deployed;
mod events;
mod history;
mod pass;
mod server;
mod strict_json;
mod workers;

pub use pass::Report;
pub use pass::runner_is_dead;

use crate::exit::Exit;
use crate::output::fatal;
use crate::plan::text::thousands;
use crate::state::run::{RunStore, SendFilter, SendStatus, open_store};
use crate::state::{State, lock::who};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// The plan directory (holding herald.toml, which says where the state is).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Do everything due now, then exit.
    #[arg(long)]
    once: bool,
    /// With `--once`: move the business clock forward, running at each instant
    /// something is due, up to this time (RFC 3339). With the `file`
    /// providers, this shows what the coming days will send.
    #[arg(long, requires = "once", value_parser = parse_time)]
    until: Option<DateTime<Utc>>,
    /// How often to look for due work when nothing wakes the runner (`10s`, `1m`).
    #[arg(long, default_value = "10s", value_parser = parse_interval)]
    interval: Duration,
    /// Serve the events endpoint on this address instead of `[run] listen`.
    #[arg(long)]
    listen: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.to_utc())
        .map_err(|_| format!("`{s}` is not an RFC 3339 time such as 2026-12-01T00:00:00Z"))
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{t}` is not a duration: write `10s` or `1m`"))?;
    let d = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(format!("`{t}` is not a duration: write `10s` or `1m`")),
    };
    if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
        return Err("the interval is between 100ms and 1h".into());
    }
    Ok(d)
}

/// The state of a plan directory: `[state] path` of its herald.toml. Only
/// that file is read: the runner runs the deployed sources, and a work in
/// progress in the directory must not stop it.
/// Returns the plan directory (DIR or its nearest parent with herald.toml),
/// the state's path, and the state.
pub fn open_state(dir: &Path) -> Result<(PathBuf, PathBuf, State), (Exit, String)> {
    let dir = crate::project::plan_dir(dir).map_err(|e| (Exit::Unusable, e))?;
    let config_path = dir.join(herald_compiler::config::CONFIG_FILE);
    let bytes = crate::fsx::read_regular(&config_path, 1 << 20).map_err(|e| (Exit::Unusable, e.to_string()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| (Exit::Unusable, format!("`{}` is not UTF-8 text", config_path.display())))?;
    let file = herald_compiler::SourceFile::new(
        herald_compiler::config::CONFIG_FILE,
        herald_compiler::SourceKind::Config,
        text,
    );
    let mut diags = Vec::new();
    let config = herald_compiler::config::load(herald_compiler::FileId(0), &file, &mut diags).ok_or_else(|| {
        (
            Exit::Unusable,
            format!(
                "`{}` has errors; run `herald check {}`",
                config_path.display(),
                dir.display()
            ),
        )
    })?;
    let path = crate::state::path(&dir, &config).map_err(|e| (Exit::Unusable, e.to_string()))?;
    // Migrated if older (the runner's tables), never created here.
    let state = State::open_existing(&path, crate::state::Access::Write)
        .map_err(|e| (Exit::Unusable, e.to_string()))?
        .ok_or_else(|| {
            (
                Exit::Failure,
                format!(
                    "nothing is deployed yet (no state at `{}`): run `herald plan` and `herald apply` first",
                    path.display()
                ),
            )
        })?;
    Ok((dir, path, state))
}

fn link_secret(store: &mut dyn RunStore) -> Result<String, String> {
    if let Some(s) = store.meta("link_secret").map_err(|e| e.to_string())? {
        return Ok(s);
    }
    let s = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    store.set_meta("link_secret", &s).map_err(|e| e.to_string())?;
    Ok(s)
}

pub fn run(args: Args) -> Exit {
    match start(&args) {
        Ok(exit) => exit,
        Err((exit, reason)) => {
            fatal(reason);
            exit
        }
    }
}

/// The runner uses the settings of the last apply (`deployed`, compiled
/// from its snapshot): say so when the working `herald.toml` differs,
/// naming the sections (never their values).
fn warn_of_undeployed_settings(dir: &std::path::Path, deployed: &herald_compiler::config::Config) {
    let path = dir.join(herald_compiler::config::CONFIG_FILE);
    let working = crate::fsx::read_regular(&path, crate::loader::Limits::default().max_file_bytes)
        .ok()
        .and_then(|b| crate::plan::settings::parse(&String::from_utf8_lossy(&b)));
    let changed = match working {
        Some(w) => crate::plan::settings::differences(deployed, &w),
        None => vec![herald_compiler::config::CONFIG_FILE.to_string()],
    };
    if !changed.is_empty() {
        eprintln!(
            "warning: herald.toml changed since the last apply ({}); this run uses the deployed settings: `herald plan` shows the change, `herald apply` deploys it",
            changed.join(", ")
        );
    }
}

fn now() -> Result<DateTime<Utc>, (Exit, String)> {
    crate::clock::now().map_err(|e| (Exit::Unusable, e))
}

fn start(args: &Args) -> Result<Exit, (Exit, String)> {
    crate::output::init_logging();
    let (dir, state_path, _state) = open_state(&args.dir)?;
    let failure = |e: String| (Exit::Failure, e);
    let mut store = open_store(&state_path).map_err(|e| failure(e.to_string()))?;
    let mut deployed = deployed::Deployed::default();
    let plan = deployed.current(&*store, now()?).map_err(failure)?;
    let config = plan.config.clone();
    let serial = deployed.serial;
    warn_of_undeployed_settings(&dir, &config);
    // Every credential before anything is sent.
    let secrets = crate::providers::Secrets::resolve(&config).map_err(failure)?;
    let providers = Arc::new(crate::providers::Providers::build(&config, &dir, &secrets).map_err(failure)?);
    let listen = args.listen.clone().unwrap_or_else(|| config.run.listen.clone());
    let links = Arc::new(compose::Links {
        base: config
            .run
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{listen}")),
        secret: link_secret(&mut *store).map_err(failure)?,
    });
    let smtp = providers
        .for_channel(herald_compiler::ast::values::Channel::Email)
        .is_some_and(|(p, _)| p.kind() == "smtp");
    if smtp && !links.base.starts_with("https://") {
        // Mail clients offer one-click unsubscribe only over HTTPS (RFC 8058).
        eprintln!(
            "warning: unsubscribe links point at `{}`, not HTTPS: mail clients will not offer one-click unsubscribe (RFC 8058); set `[run] public_url` to this runner's public HTTPS address",
            links.base
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let owner = format!("{}:{}:{}", who(), std::process::id(), uuid::Uuid::new_v4().simple());
    if args.once {
        tracing::debug!(providers = %providers.describe(), serial = deployed.serial, "herald run --once");
    } else {
        tracing::info!(providers = %providers.describe(), serial = deployed.serial, "herald run starting");
    }
    let workers = workers::Workers::start(config.run.workers, Arc::clone(&providers), Arc::clone(&stop));
    let mut runner = pass::Runner {
        dir: dir.clone(),
        store,
        owner,
        stop: Arc::clone(&stop),
        workers,
        links,
        deployed,
        crm_events: Default::default(),
        started_with: (config.clone(), serial),
        down_hold: if args.once {
            pass::DownHold::Moment
        } else {
            pass::DownHold::UntilRetried
        },
    };
    if args.once {
        let mut at = now()?;
        let mut total = Report::default();
        let mut passes = 0u64;
        let mut stalled = 0u32;
        let mut stuck_at = None;
        let stopped = loop {
            // Stepping through time, a human reads the passes that did something.
            let quiet = args.until.is_some() && args.format == Format::Human;
            let report = once(&mut runner, at, args.format, quiet)?;
            passes += 1;
            total.add(&report);
            match (args.until, report.next_due) {
                (Some(until), Some(next)) if !report.stopped && report.unreachable.is_empty() && next <= until => {
                    // A pass that leaves something due at its own instant
                    // is run again there, a few times, never forever.
                    if next > at {
                        (at, stalled) = (next, 0);
                    } else if stalled < 2 {
                        stalled += 1;
                    } else {
                        stuck_at = Some((at, until));
                        break report.stopped;
                    }
                }
                _ => break report.stopped,
            }
        };
        if let (Some(until), Format::Human) = (args.until, args.format) {
            total.at = until;
            outln!("{passes} passes up to {}: {}.", until.to_rfc3339(), summary(&total));
        }
        release(&mut runner);
        if !total.unreachable.is_empty() {
            fatal(format!(
                "{}. Nothing was lost: its sends stay queued and the next `herald run` sends them. Check that the provider is running and reachable from here, and its settings in herald.toml (`base_url` or `url`; for SMTP, `host`, `port`, `tls` and the credentials; after a change, `herald apply`)",
                total.unreachable.join("; ")
            ));
            return Ok(Exit::Failure);
        }
        if let Some((at, until)) = stuck_at {
            // Short of `--until`: a CI stepping through time must not pass.
            fatal(format!(
                "something stays due at {} after three passes at that instant; stepping stopped there, short of {}. This is a Herald bug: please report it",
                at.to_rfc3339(),
                until.to_rfc3339()
            ));
            return Ok(Exit::Failure);
        }
        return Ok(if stopped { Exit::Failure } else { Exit::Ok });
    }
    let token = match &config.run.token {
        Some(r) => Some(std::env::var(&r.env).map_err(|_| {
            failure(format!(
                "the environment variable {} (for [run] token) is not set; set it, or remove `[run] token` to run without the events endpoint",
                r.env
            ))
        })?),
        None => None,
    };
    let result = serve_and_loop(&mut runner, args, &state_path, &listen, token, &stop);
    release(&mut runner);
    result
}

fn release(runner: &mut pass::Runner) {
    let owner = runner.owner.clone();
    if let Err(e) = runner.store.release_runner(&owner) {
        tracing::warn!(error = %e, "the runner lease could not be released; it expires on its own");
    }
}

/// A bar of the contacts looked at, when stderr is a terminal: the pass
/// dispatches a campaign as it reads the CRM.
fn progress_bar() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(indicatif::ProgressBar::hidden())
}

fn once(runner: &mut pass::Runner, at: DateTime<Utc>, format: Format, quiet: bool) -> Result<Report, (Exit, String)> {
    let bar = progress_bar();
    let mut tick = |seen: u64, total: Option<u64>| {
        let Some(b) = &bar else { return };
        if b.is_hidden() {
            // The first tick: a bar when the CRM's size is known, else a spinner.
            let style = match total {
                Some(n) => {
                    b.set_length(n);
                    indicatif::ProgressStyle::with_template(
                        "{bar:30} {percent:>3}% · {human_pos}/{human_len} contacts · {eta} left",
                    )
                }
                None => indicatif::ProgressStyle::with_template("{spinner} {human_pos} contacts looked at"),
            };
            b.set_style(style.unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()));
            b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        // An estimate short of the CRM grows with it.
        if total.is_some() && b.length().is_some_and(|n| seen > n) {
            b.set_length(seen);
        }
        b.set_position(seen);
    };
    let progress: Option<&mut dyn FnMut(u64, Option<u64>)> = if bar.is_some() { Some(&mut tick) } else { None };
    let report = runner.pass(at, progress).map_err(|e| (Exit::Failure, e))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !quiet || report.did_something() {
        print_report(&report, format);
    }
    Ok(report)
}

fn print_report(r: &Report, format: Format) {
    match format {
        Format::Json => outln!("{}", serde_json::to_string(r).unwrap_or_default()),
        Format::Human => {
            outln!(
                "Run at {}: {} contacts · {}.",
                r.at.to_rfc3339(),
                thousands(r.contacts),
                summary(r)
            );
            let hours = herald_compiler::engine::guard::EXPIRY.num_hours();
            if r.waiting_events > 0 {
                outln!(
                    "{} events are for contact ids the CRM does not have yet; they wait for the contact up to {hours} hours after the event.",
                    r.waiting_events
                );
            }
            if r.unknown_contacts > 0 {
                outln!(
                    "{} events were for contact ids the CRM still did not have {hours} hours after the event; they were recorded and skipped.",
                    r.unknown_contacts
                );
            }
            if r.bad_rows > 0 {
                outln!("{} contact rows could not be read (see `herald plan`).", r.bad_rows);
            }
            if !r.paused.is_empty() {
                outln!("Paused: {}.", r.paused.join(", "));
            }
            if r.in_doubt > 0 {
                outln!("Sends in doubt may have gone out: `herald sends --in-doubt` lists them.");
            }
            if r.stopped {
                outln!("Stopped by `herald stop`; run `herald resume --all` to start again.");
            }
            match r.next_due {
                Some(t) => outln!("Next work due at {}.", t.to_rfc3339()),
                // Held on the real clock (back-off, a provider down), not
                // scheduled on the business clock: still work to do.
                None if r.retrying > 0 => outln!(
                    "{} sends wait to be tried again: the next `herald run` takes them.",
                    thousands(r.retrying)
                ),
                None => outln!("Nothing else is scheduled."),
            }
        }
    }
}

/// What a pass (or several) did, in words: `12 entered · 740 sent · …`.
fn summary(r: &Report) -> String {
    let mut parts = Vec::new();
    let mut add = |n: u64, what: &str| {
        if n > 0 {
            parts.push(format!("{} {what}", thousands(n)));
        }
    };
    add(r.events, "events");
    add(r.entered, "entered");
    add(r.completed, "completed");
    add(r.exited, "exited");
    add(r.queued, "queued");
    add(r.sent, "sent");
    add(r.deferred, "deferred by quiet hours");
    add(r.retrying, "to retry");
    add(r.failed, "failed");
    add(r.in_doubt, "in doubt");
    let dropped: u64 = r.dropped.values().sum();
    if dropped > 0 {
        let why: Vec<String> = r.dropped.iter().map(|(k, n)| format!("{k} {n}")).collect();
        parts.push(format!("{} dropped ({})", thousands(dropped), why.join(", ")));
    }
    if parts.is_empty() {
        "nothing due".to_string()
    } else {
        parts.join(" · ")
    }
}

/// The long-running runner: the HTTP endpoint on its own thread, passes on
/// this one.
fn serve_and_loop(
    runner: &mut pass::Runner,
    args: &Args,
    state_path: &Path,
    listen: &str,
    token: Option<String>,
    stop: &Arc<AtomicBool>,
) -> Result<Exit, (Exit, String)> {
    let (wake_tx, wake_rx) = std::sync::mpsc::channel::<()>();
    let server = Arc::new(server::Server {
        store: std::sync::Mutex::new(open_store(state_path).map_err(|e| (Exit::Failure, e.to_string()))?),
        deployed: std::sync::Mutex::new(deployed::Deployed::default()),
        token,
        links: compose::Links::clone(&runner.links),
        wake: wake_tx,
        dir: runner.dir.clone(),
        now: Box::new(|| crate::clock::now().unwrap_or(DateTime::<Utc>::UNIX_EPOCH)),
    });
    let listener = std::net::TcpListener::bind(listen).map_err(|e| {
        (
            Exit::Failure,
            format!("cannot listen on `{listen}` ({e}); set `[run] listen` or `--listen` to a free address"),
        )
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| (Exit::Failure, e.to_string()))?;
    let address = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let http_stop = Arc::clone(stop);
    let http = std::thread::Builder::new()
        .name("herald-http".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "the HTTP endpoint could not start");
                    return;
                }
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let shutdown = async move {
                    loop {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => break,
                            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                                if http_stop.load(Ordering::Relaxed) { break; }
                            }
                        }
                    }
                    http_stop.store(true, Ordering::Relaxed);
                };
                let _ = axum::serve(listener, server::router(server))
                    .with_graceful_shutdown(shutdown)
                    .await;
            });
        })
        .map_err(|e| (Exit::Failure, e.to_string()))?;
    terminate_on_sigterm(stop);
    outln!("herald run: serving events on http://{address} (Ctrl-C stops after the pass in progress)");
    let mut failures = 0u32;
    while !stop.load(Ordering::Relaxed) {
        match runner.pass(now()?, None) {
            Ok(report) => {
                failures = 0;
                if report.stopped {
                    // Consume the stop request: the next runner starts clean.
                    let _ = runner.store.set_control("*", None, now()?, &who());
                    stop.store(true, Ordering::Relaxed);
                }
                if report.sent + report.queued + report.entered + report.failed + report.in_doubt > 0 {
                    print_report(&report, args.format);
                }
                for u in &report.unreachable {
                    tracing::warn!(
                        provider = %u,
                        "provider down; its sends stay queued and it is tried again after a hold (10 s, doubling while it stays down, at most 5 min)"
                    );
                }
            }
            Err(e) => {
                failures += 1;
                tracing::error!(error = %e, "a pass failed; retrying");
                if failures >= 5 {
                    stop.store(true, Ordering::Relaxed);
                    let _ = http.join();
                    return Err((Exit::Failure, e));
                }
            }
        }
        // Wait for the interval, new work, a control change or a stop.
        let deadline = std::time::Instant::now() + args.interval;
        while std::time::Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            match wake_rx.recv_timeout(Duration::from_millis(250)) {
                Ok(()) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if runner.lease().is_err() {
                        break;
                    }
                    if let Ok((_, true)) = runner.store.controls() {
                        break;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    }
    let _ = http.join();
    outln!("herald run: stopped.");
    Ok(Exit::Ok)
}

/// SIGTERM (a service manager stopping the runner) finishes the pass in
/// progress, like Ctrl-C.
fn terminate_on_sigterm(stop: &Arc<AtomicBool>) {
    let stop = Arc::clone(stop);
    let _ = std::thread::Builder::new()
        .name("herald-signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                #[cfg(unix)]
                {
                    use tokio::signal::unix::{SignalKind, signal};
                    let (Ok(mut term), Ok(mut int)) =
                        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                    stop.store(true, Ordering::Relaxed);
                }
            });
        });
}

// ---- herald event send / pause / resume / stop / sends ----

#[derive(clap::Args)]
pub struct EventArgs {
    /// The event's name, as declared under `contact.events`.
    name: String,
    /// The plan directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The contact's id.
    #[arg(long)]
    contact: String,
    /// A property, `KEY=VALUE` (repeat for each).
    #[arg(long = "prop")]
    props: Vec<String>,
    /// When it happened (RFC 3339; default now).
    #[arg(long)]
    at: Option<String>,
    /// A key that makes sending the same event twice harmless.
    #[arg(long)]
    id: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum EventCommand {
    /// Record an event for a contact (the runner picks it up at its next pass).
    Send(EventArgs),
}

pub fn event(cmd: EventCommand) -> Exit {
    let EventCommand::Send(a) = cmd;
    match send_event(&a) {
        Ok(()) => Exit::Ok,
        Err((exit, reason)) => {
            fatal(reason);
            exit
        }
    }
}

fn send_event(a: &EventArgs) -> Result<(), (Exit, String)> {
    events::check_id("--contact", &a.contact).map_err(|e| (Exit::Unusable, e))?;
    if let Some(id) = &a.id {
        events::check_id("--id", id).map_err(|e| (Exit::Unusable, e))?;
    }
    let (_, path, _state) = open_state(&a.dir)?;
    let mut store = open_store(&path).map_err(|e| (Exit::Failure, e.to_string()))?;
    let now = now()?;
    let at = match &a.at {
        None => now,
        Some(t) => DateTime::parse_from_rfc3339(t).map(|t| t.to_utc()).map_err(|_| {
            (
                Exit::Unusable,
                format!("`--at {t}` is not an RFC 3339 time such as 2026-11-27T10:00:00Z"),
            )
        })?,
    };
    events::check_at(at, now).map_err(|e| (Exit::Unusable, e.replacen("`at`", "`--at`", 1)))?;
    let mut deployed = deployed::Deployed::default();
    let plan = deployed.current(&*store, at).map_err(|e| (Exit::Failure, e))?;
    let props = events::from_args(&plan, &a.name, &a.props).map_err(|e| (Exit::Failure, e))?;
    let json = serde_json::Value::Object(props).to_string();
    match store
        .insert_event(&a.contact, &a.name, at, &json, "cli", a.id.as_deref())
        .map_err(|e| (Exit::Failure, e.to_string()))?
    {
        Some(id) => outln!("Event `{}` recorded for contact `{}` (#{id}).", a.name, a.contact),
        None => {
            let id = a.id.as_deref().unwrap_or_default();
            events::check_repeat(&*store, id, &a.contact, &a.name).map_err(|e| (Exit::Failure, e))?;
            outln!("Event already recorded (same `--id`); nothing to do.");
        }
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct ControlArgs {
    /// A campaign or scenario (`campaigns.black_friday`, `scenarios.welcome`).
    address: Option<String>,
    /// The plan directory.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// `resume --all`: lift every pause and a stop.
    #[arg(long)]
    all: bool,
}

#[derive(Clone, Copy)]
pub enum Control {
    Pause,
    Resume,
    Stop,
}

pub fn control(what: Control, a: ControlArgs) -> Exit {
    match set_control(what, &a) {
        Ok(()) => Exit::Ok,
        Err((exit, reason)) => {
            fatal(reason);
            exit
        }
    }
}

fn set_control(what: Control, a: &ControlArgs) -> Result<(), (Exit, String)> {
    let (_, path, _state) = open_state(&a.dir)?;
    let mut store = open_store(&path).map_err(|e| (Exit::Failure, e.to_string()))?;
    let at = now()?;
    let fail = |e: crate::state::StateError| (Exit::Failure, e.to_string());
    match what {
        Control::Stop => {
            store.set_control("*", Some("stop"), at, &who()).map_err(fail)?;
            outln!(
                "Stop requested: a running `herald run` stops after the pass in progress (within a second); if none is running, the next one stops before its first pass, unless `herald resume` lifts the request first."
            );
        }
        Control::Pause => {
            let Some(address) = &a.address else {
                return Err((
                    Exit::Unusable,
                    "name what to pause: `herald pause campaigns.NAME`".into(),
                ));
            };
            let known = store.deployed_versions().map_err(fail)?;
            if !known.iter().any(|(x, _)| x == address)
                || !(address.starts_with("campaigns.") || address.starts_with("scenarios."))
            {
                let names = known.iter().map(|(x, _)| x.as_str());
                let hint = herald_compiler::suggest::did_you_mean(address, names)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_else(|| "; `herald state list` shows what is deployed".into());
                return Err((
                    Exit::Failure,
                    format!("no deployed campaign or scenario `{address}`{hint}"),
                ));
            }
            store.set_control(address, Some("pause"), at, &who()).map_err(fail)?;
            outln!("Paused {address}: nothing of it is sent until `herald resume {address}`.");
        }
        Control::Resume => {
            let (paused, stopped) = store.controls().map_err(fail)?;
            let list = |p: &std::collections::BTreeSet<String>| {
                p.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", ")
            };
            let still_paused = || {
                if !paused.is_empty() {
                    outln!(
                        "Still paused: {} (`herald resume ADDRESS` for each, or `herald resume --all`).",
                        list(&paused)
                    );
                }
            };
            if a.all {
                for p in paused.iter().map(String::as_str).chain(["*"]) {
                    store.set_control(p, None, at, &who()).map_err(fail)?;
                }
                let mut lifted = Vec::new();
                if stopped {
                    lifted.push("lifted `herald stop`".to_string());
                }
                if !paused.is_empty() {
                    lifted.push(format!("unpaused {}", list(&paused)));
                }
                match lifted.is_empty() {
                    true => outln!("Nothing was paused or stopped."),
                    false => outln!("Resumed everything: {}.", lifted.join("; ")),
                }
            } else if a.address.is_none() && stopped {
                // `herald resume` undoes `herald stop`, and only that.
                store.set_control("*", None, at, &who()).map_err(fail)?;
                outln!("Resumed: `herald stop` is lifted.");
                still_paused();
            } else {
                let Some(address) = &a.address else {
                    // Nothing to lift (a runner that stopped took the request).
                    outln!("Nothing is stopped.");
                    still_paused();
                    return Ok(());
                };
                if store.set_control(address, None, at, &who()).map_err(fail)? {
                    outln!("Resumed {address}.");
                } else {
                    outln!("{address} was not paused.");
                }
            }
        }
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct SendsArgs {
    /// The plan directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Only this contact's sends.
    #[arg(long)]
    contact: Option<String>,
    /// Only this campaign's or scenario's (`campaigns.black_friday`).
    #[arg(long)]
    object: Option<String>,
    /// Only sends whose outcome is unknown (they may have gone out).
    #[arg(long)]
    in_doubt: bool,
    /// At most this many (1 to 100,000).
    #[arg(long, default_value_t = 100, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    limit: usize,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

pub fn sends(a: SendsArgs) -> Exit {
    match list_sends(&a) {
        Ok(()) => Exit::Ok,
        Err((exit, reason)) => {
            fatal(reason);
            exit
        }
    }
}

fn list_sends(a: &SendsArgs) -> Result<(), (Exit, String)> {
    let (_, path, _state) = open_state(&a.dir)?;
    let store = open_store(&path).map_err(|e| (Exit::Failure, e.to_string()))?;
    let rows = store
        .list_sends(&SendFilter {
            contact: a.contact.clone(),
            object: a.object.clone(),
            status: a.in_doubt.then_some(SendStatus::InDoubt),
            limit: a.limit,
        })
        .map_err(|e| (Exit::Failure, e.to_string()))?;
    // An address that names nothing, deployed or sent: a typo, not an
    // empty answer.
    if let Some(object) = &a.object
        && rows.is_empty()
    {
        let known = store.deployed_versions().map_err(|e| (Exit::Failure, e.to_string()))?;
        if !known.iter().any(|(x, _)| x == object) {
            let names = || known.iter().map(|(x, _)| x.as_str());
            let hint = names()
                .find(|x| x.split_once('.').is_some_and(|(_, n)| n == object))
                .map(str::to_string)
                .or_else(|| herald_compiler::suggest::did_you_mean(object, names()).map(str::to_string))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_else(|| "; `herald state list` shows what is deployed".into());
            return Err((
                Exit::Failure,
                format!("no sends of `{object}`, and no deployed campaign or scenario has that address{hint}"),
            ));
        }
    }
    match a.format {
        Format::Json => {
            let v: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "key": r.key, "object": r.object, "version": r.version, "contact_id": r.contact_id,
                        "occurrence": r.occurrence, "message": r.message, "channel": r.channel,
                        "status": r.status.as_str(), "reason": r.reason, "due_at": r.due_at,
                        "sent_at": r.sent_at, "attempts": r.attempts,
                    })
                })
                .collect();
            outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Format::Human => {
            // The counts of what is listed (every status: `--in-doubt`
            // lists some of them).
            let counts = store
                .send_counts(a.object.as_deref(), a.contact.as_deref())
                .map_err(|e| (Exit::Failure, e.to_string()))?;
            if !counts.is_empty() {
                let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {}", thousands(*n))).collect();
                outln!(
                    "Ledger{}{}: {}.",
                    a.object.as_ref().map(|o| format!(" of {o}")).unwrap_or_default(),
                    a.contact
                        .as_ref()
                        .map(|c| format!(" for contact {c}"))
                        .unwrap_or_default(),
                    summary.join(", ")
                );
            }
            if rows.is_empty() {
                outln!("No sends match{}.", if a.in_doubt { " (none is in doubt)" } else { "" });
            }
            for r in &rows {
                outln!(
                    "{}  {:<9} {:<34} contact {:<12} {:<24} {}{}",
                    r.due_at.format("%Y-%m-%d %H:%M"),
                    r.status.as_str(),
                    r.object,
                    r.contact_id,
                    r.message,
                    r.channel,
                    r.reason.as_ref().map(|x| format!(" ({x})")).unwrap_or_default()
                );
            }
            if rows.len() == a.limit {
                outln!("(the first {}; use --limit for more)", a.limit);
            }
        }
    }
    Ok(())
}
