//! The workers that talk to providers: the HTTP providers' sends as
//! concurrent requests on one thread, the others (SMTP, files) on a few
//! threads; both take ready messages from a bounded queue (so the runner
//! never claims far more than is being sent) and report outcomes back.
//! A provider that cannot be connected to is "down" (see `run::breaker`):
//! its sends go back to the ledger untried.
//!
//! A message that the provider asks to retry is retried here a few times,
//! with back-off on the real clock; after that it goes back to the ledger
//! and a later pass takes it again.

use super::breaker::Breaker;
use crate::providers::{
    Attempt, Outcome, Outgoing, Pacer, Provider, Providers, backoff, sleep_until, sleep_until_async,
};
use herald_compiler::ast::values::Channel;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Retries in the worker before the message goes back to the ledger.
const INLINE_RETRIES: u32 = 4;

/// How many claimed sends to a provider WITHOUT idempotency keys (SMTP,
/// Twilio, FCM), and emails, are claimed in one commit: eight per worker. Fewer commits
/// cost less (a commit writes the pages it changed to the WAL and syncs it);
/// more would leave more sends in doubt after a crash, since these cannot be
/// retried. At most twice this many are claimed and unfinished at any moment
/// (one batch handed to the workers, one being claimed).
pub fn batch(workers: u32) -> usize {
    (workers as usize * 8).clamp(8, 256)
}

/// How many claimed sends in large batches (see [`Workers::large_batch`])
/// are claimed in one commit, and how many wait for the workers at most. A
/// crash leaves these `sending` and the next runner sends them again with
/// the same key, so a large batch costs nothing in doubt; it makes one commit
/// (one `fsync`) per this many sends. Bounded so that memory stays flat.
pub const LARGE_BATCH: usize = 1024;

/// How many claimed sends in large batches may be handed over and
/// unfinished at once. Several batches, not one: the runner claims and
/// commits the next batch in bursts (a commit writes a few megabytes to the
/// WAL), and with one batch in flight the workers and the runner took turns,
/// both cores idle a fifth of the time (100,000 SMS: 1.1–1.9 of 5.5–7
/// core-seconds idle, against 0.5–0.9 with four batches, and 32,000 →
/// 39,000 SMS a second; docs/run.md). A crash leaves these `sending`, sent
/// again with their keys, so more in flight costs nothing in doubt, and the
/// bound keeps memory flat (only small sends wait in large batches).
pub const IN_FLIGHT: usize = 4 * LARGE_BATCH;

pub struct Job {
    pub outgoing: Outgoing,
    /// The campaign or scenario it belongs to (`herald pause` names it).
    pub object: String,
    /// The ledger id of a send the pass inserted claimed (its outcome is
    /// recorded by it); `None` for one claimed by its key.
    pub id: Option<i64>,
    pub channel: Channel,
    /// Whether it may wait in a large batch ([`Workers::large_batch`]).
    pub large: bool,
}

pub struct Done {
    pub key: String,
    /// As the job's.
    pub id: Option<i64>,
    pub outcome: Outcome,
    /// Retries made in the worker.
    pub retries: u32,
    /// Whether the provider was asked at all: a message handed back because
    /// its provider is down or the runner stops, or whose every try could not
    /// connect, was not, and its claim is not an attempt (a server down for
    /// hours must not make sends give up).
    pub tried: bool,
    large: bool,
}

impl Done {
    /// Back to the ledger without its provider being asked.
    fn untried(job: Job, reason: &str) -> Done {
        let outcome = Outcome::Retry {
            after: None,
            reason: reason.into(),
        };
        Done::of(job, outcome, 0, false)
    }

    fn of(job: Job, outcome: Outcome, retries: u32, tried: bool) -> Done {
        Done {
            key: job.outgoing.key,
            id: job.id,
            outcome,
            retries,
            tried,
            large: job.large,
        }
    }
}

/// What `herald pause` holds, as the runner last read it: a send handed
/// over and not yet sent is handed back when its object is paused, so a
/// pause holds within about a second even with thousands handed over to a
/// slow, rate-limited provider.
#[derive(Default)]
pub struct Paused(std::sync::RwLock<BTreeSet<String>>);

/// Why a send handed back for a pause went back to the ledger.
pub const PAUSED: &str = "paused";

impl Paused {
    fn holds(&self, object: &str) -> bool {
        self.0.read().unwrap_or_else(|e| e.into_inner()).contains(object)
    }

    pub fn get(&self) -> BTreeSet<String> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, paused: &BTreeSet<String>) {
        let mut held = self.0.write().unwrap_or_else(|e| e.into_inner());
        if *held != *paused {
            held.clone_from(paused);
        }
    }
}

fn paused() -> Outcome {
    Outcome::Retry {
        after: None,
        reason: PAUSED.into(),
    }
}

/// How long the runner waits for outcomes before its heartbeat (its lease
/// lasts `pass::LEASE`; pauses hold within about a second).
const HEARTBEAT: Duration = Duration::from_secs(1);

/// When the runner must wait for room, it waits until this many more can
/// be handed over (a quarter of a large batch), so that it and the workers
/// do not take turns one message at a time.
const ROOM: usize = LARGE_BATCH / 4;

/// Outcomes on their way back to the runner. The runner is woken when as
/// many as it waits for are there, not once per outcome (each wake-up is a
/// context switch on a machine where the runner, the workers and maybe
/// the provider share two cores).
#[derive(Default)]
struct Outbox {
    state: Mutex<OutboxState>,
    ready: Condvar,
}

#[derive(Default)]
struct OutboxState {
    done: Vec<Done>,
    /// How many outcomes the waiting runner wants (0: not waiting).
    want: usize,
    /// Worker threads still running.
    threads: usize,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, d: Done) {
        let mut s = self.lock();
        s.done.push(d);
        if s.want > 0 && s.done.len() >= s.want {
            s.want = 0;
            self.ready.notify_one();
        }
    }

    fn take(&self) -> Vec<Done> {
        std::mem::take(&mut self.lock().done)
    }

    /// Wait until at least `n` outcomes are there or `timeout` passed:
    /// those there are (maybe none); `None` when no worker is left.
    fn wait(&self, n: usize, timeout: Duration) -> Option<Vec<Done>> {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        while s.done.len() < n && s.threads > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            s.want = n;
            s = match self.ready.wait_timeout(s, left) {
                Ok((s, _)) => s,
                Err(e) => e.into_inner().0,
            };
        }
        s.want = 0;
        if s.done.is_empty() && s.threads == 0 {
            return None;
        }
        Some(std::mem::take(&mut s.done))
    }
}

/// Counts a worker thread out of the outbox when it ends (even by a panic),
/// so that a runner waiting for outcomes does not wait forever.
struct Running(Arc<Outbox>);

impl Running {
    fn new(outbox: &Arc<Outbox>) -> Running {
        outbox.lock().threads += 1;
        Running(Arc::clone(outbox))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.lock().threads -= 1;
        self.0.ready.notify_one();
    }
}

/// The workers: sends to providers over HTTP run on one thread, `n` at a
/// time as concurrent requests (one tokio runtime, `n` keep-alive
/// connections); the others (SMTP, files) on `n` threads, one message at a
/// time each. Jobs and outcomes cross between threads in batches.
pub struct Workers {
    providers: Arc<Providers>,
    paused: Arc<Paused>,
    /// One per channel with a provider.
    breakers: Arc<BTreeMap<Channel, Breaker>>,
    /// The channels whose provider is over HTTP (sent by the HTTP thread).
    http: BTreeSet<Channel>,
    jobs: Option<SyncSender<Job>>,
    http_jobs: Option<tokio::sync::mpsc::UnboundedSender<Vec<Job>>>,
    outbox: Arc<Outbox>,
    handles: Vec<JoinHandle<()>>,
    n: u32,
    outstanding: usize,
    /// Handed over and not finished, in small batches.
    outstanding_unsafe: usize,
    /// Outcomes received while waiting for room (returned by the next `poll`).
    finished: Vec<Done>,
    /// When the runner's heartbeat last ran while waiting.
    last_beat: Instant,
}

impl Workers {
    pub fn start(n: u32, providers: Arc<Providers>, stop: Arc<AtomicBool>) -> Workers {
        let n = n.max(1);
        // What is claimed but not yet handed to a provider is what a crash
        // would leave `sending`: the queue is bounded, and `submit` bounds the
        // sends without idempotency keys more tightly.
        let (jobs_tx, jobs_rx) = sync_channel::<Job>(LARGE_BATCH);
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let outbox = Arc::new(Outbox::default());
        let paused = Arc::new(Paused::default());
        let breakers: BTreeMap<Channel, Breaker> = Channel::ALL
            .iter()
            .filter(|c| providers.for_channel(**c).is_some())
            .map(|c| (*c, Breaker::default()))
            .collect();
        let breakers = Arc::new(breakers);
        let http: BTreeSet<Channel> = Channel::ALL
            .iter()
            .filter(|c| providers.for_channel(**c).is_some_and(|(p, _)| p.http().is_some()))
            .copied()
            .collect();
        let mut handles: Vec<JoinHandle<()>> = (0..n)
            .map(|i| {
                let jobs = Arc::clone(&jobs_rx);
                let done = Running::new(&outbox);
                let providers = Arc::clone(&providers);
                let breakers = Arc::clone(&breakers);
                let stop = Arc::clone(&stop);
                let paused = Arc::clone(&paused);
                std::thread::Builder::new()
                    .name(format!("herald-send-{i}"))
                    .spawn(move || serve(&jobs, &done, &providers, &breakers, (&stop, &paused)))
                    .expect("a thread can be started")
            })
            .collect();
        let http_jobs = (!http.is_empty()).then(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let providers = Arc::clone(&providers);
            let breakers = Arc::clone(&breakers);
            let done = Running::new(&outbox);
            let paused = Arc::clone(&paused);
            handles.push(
                std::thread::Builder::new()
                    .name("herald-send-http".into())
                    .spawn(move || serve_http(rx, done, providers, breakers, (stop, paused), n))
                    .expect("a thread can be started"),
            );
            tx
        });
        Workers {
            providers,
            paused,
            breakers,
            http,
            jobs: Some(jobs_tx),
            http_jobs,
            outbox,
            handles,
            n,
            outstanding: 0,
            outstanding_unsafe: 0,
            finished: Vec::new(),
            last_beat: Instant::now(),
        }
    }

    /// Hand messages to the workers. Waits while the queue is full, and
    /// while a batch of sends without idempotency keys is still unfinished:
    /// at most [`IN_FLIGHT`] plus one per worker are handed over and
    /// unfinished, and at most [`batch`] of them without keys.
    /// `heartbeat` runs about once a second while it waits (the runner
    /// renews its lease and reads the pauses).
    pub fn submit_all(&mut self, jobs: impl IntoIterator<Item = Job>, heartbeat: &mut dyn FnMut()) {
        let limit = batch(self.n);
        let cap = IN_FLIGHT + self.n as usize;
        let mut pending: Vec<Job> = Vec::new();
        let mut pending_unsafe = 0;
        for job in jobs {
            if !self.http.contains(&job.channel) {
                self.submit_blocking(job, limit, heartbeat);
                continue;
            }
            loop {
                let full = self.outstanding + pending.len() >= cap
                    || (!job.large && self.outstanding_unsafe + pending_unsafe >= limit);
                if !full {
                    break;
                }
                if !pending.is_empty() {
                    self.hand_over(&mut pending, &mut pending_unsafe);
                    continue;
                }
                if !self.wait_for_room(cap.saturating_sub(ROOM), limit / 2, heartbeat) {
                    break;
                }
            }
            pending_unsafe += usize::from(!job.large);
            pending.push(job);
        }
        self.hand_over(&mut pending, &mut pending_unsafe);
    }

    /// Send a batch to the HTTP thread: one message, one wake-up.
    fn hand_over(&mut self, pending: &mut Vec<Job>, pending_unsafe: &mut usize) {
        if pending.is_empty() {
            return;
        }
        let jobs = std::mem::take(pending);
        let n = jobs.len();
        let sent = match &self.http_jobs {
            Some(tx) => tx.send(jobs).map_err(|e| e.0),
            None => Err(jobs),
        };
        match sent {
            Ok(()) => {
                self.outstanding += n;
                self.outstanding_unsafe += *pending_unsafe;
            }
            // The HTTP thread is gone (it could not start): back to the ledger.
            Err(jobs) => self
                .finished
                .extend(jobs.into_iter().map(|j| Done::untried(j, "the HTTP sender stopped"))),
        }
        *pending_unsafe = 0;
    }

    /// Wait until at most `total` messages are unfinished, and at most
    /// `unsafe_` of those in small batches, with a heartbeat about once a
    /// second. `false` if no worker is left.
    fn wait_for_room(&mut self, total: usize, unsafe_: usize, heartbeat: &mut dyn FnMut()) -> bool {
        while self.outstanding > total || self.outstanding_unsafe > unsafe_ {
            // At least this many must finish (any finished one counts
            // towards the total; only some towards the small batches).
            let n = (self.outstanding.saturating_sub(total))
                .max(self.outstanding_unsafe.saturating_sub(unsafe_))
                .max(1);
            let next_beat = HEARTBEAT.saturating_sub(self.last_beat.elapsed());
            let Some(done) = self.outbox.wait(n, next_beat.max(Duration::from_millis(1))) else {
                return false;
            };
            self.received(done);
            // By the clock, not per wait: a steady provider answers each
            // short wait in time, and the waits add up.
            if self.last_beat.elapsed() >= HEARTBEAT {
                heartbeat();
                self.last_beat = Instant::now();
            }
        }
        true
    }

    fn submit_blocking(&mut self, job: Job, limit: usize, heartbeat: &mut dyn FnMut()) {
        if !job.large && self.outstanding_unsafe >= limit {
            self.wait_for_room(usize::MAX, limit / 2, heartbeat);
        }
        let large = job.large;
        let mut job = job;
        // The queue is bounded: while it is full, wait for outcomes (with
        // heartbeats), not in a `send` that would block without them.
        while let Some(tx) = &self.jobs {
            match tx.try_send(job) {
                Ok(()) => {
                    self.outstanding += 1;
                    self.outstanding_unsafe += usize::from(!large);
                    return;
                }
                Err(std::sync::mpsc::TrySendError::Full(back)) => {
                    job = back;
                    if !self.wait_for_room(self.outstanding.saturating_sub(1), usize::MAX, heartbeat) {
                        break;
                    }
                }
                Err(std::sync::mpsc::TrySendError::Disconnected(back)) => {
                    job = back;
                    break;
                }
            }
        }
        // No worker left to take it: back to the ledger, never left `sending`.
        self.finished.push(Done::untried(job, "the senders stopped"));
    }

    fn received(&mut self, done: Vec<Done>) {
        for d in done {
            self.outstanding -= 1;
            self.outstanding_unsafe -= usize::from(!d.large);
            self.finished.push(d);
        }
    }

    /// Outcomes reported so far.
    pub fn poll(&mut self) -> Vec<Done> {
        let done = self.outbox.take();
        self.received(done);
        std::mem::take(&mut self.finished)
    }

    /// Wait for every message handed over.
    pub fn wait_all(&mut self, heartbeat: &mut dyn FnMut()) -> Vec<Done> {
        self.wait_for_room(0, 0, heartbeat);
        std::mem::take(&mut self.finished)
    }

    /// What is paused now (sends handed over and not yet sent to a paused
    /// object come back untried, reason [`PAUSED`]).
    pub fn set_paused(&self, paused: &BTreeSet<String>) {
        self.paused.set(paused);
    }

    /// The pauses the workers read, to update while the runner waits.
    pub fn paused(&self) -> Arc<Paused> {
        Arc::clone(&self.paused)
    }

    pub fn workers(&self) -> u32 {
        self.n
    }

    /// Whether the channel's provider takes an idempotency key.
    pub fn idempotent(&self, c: Channel) -> bool {
        self.providers.for_channel(c).is_some_and(|(p, _)| p.idempotent())
    }

    /// Whether sends of this channel are claimed in large batches: their
    /// provider takes an idempotency key (a crash leaves none in doubt), and
    /// they are small (an SMS, a push, a call: not an email, whose HTML and
    /// text would make a thousand waiting ones weigh tens of megabytes).
    pub fn large_batch(&self, c: Channel) -> bool {
        c != Channel::Email && self.idempotent(c)
    }

    /// Whether the channel's provider is down (it cannot be connected to),
    /// and for how long yet: its sends stay queued rather than being claimed.
    pub fn down_for(&self, c: Channel) -> Option<Duration> {
        let now = Instant::now();
        self.breakers.get(&c)?.open_until(now).map(|t| t - now)
    }

    /// The providers found down since the last call, in words (no
    /// credentials: the endpoint's origin only).
    pub fn unreachable(&self) -> Vec<String> {
        self.breakers
            .iter()
            .filter(|(_, b)| b.take_tripped())
            .map(|(c, b)| unreachable(&self.providers, *c, b.refused()))
            .collect()
    }
}

fn unreachable(providers: &Providers, c: Channel, (refused, cause): (bool, Option<String>)) -> String {
    let origin = providers
        .for_channel(c)
        .and_then(|(p, _)| p.origin())
        .unwrap_or_else(|| "its server".into());
    let smtp = providers.for_channel(c).is_some_and(|(p, _)| p.kind() == "smtp");
    match (refused, smtp) {
        (true, true) => format!(
            "{c} provider refuses sessions: {origin} answers but opens none ({}; check the credentials, `tls`, `ca_file` and the port)",
            cause.unwrap_or_else(|| "`herald sends` shows its code or how it ended".into())
        ),
        (true, false) => format!(
            "{c} provider refuses Herald's credentials: {origin} answers that its requests are not authorised (`herald sends` shows the code; check the credentials)"
        ),
        // Another server than the provider's own (FCM's token endpoint) is
        // named by the cause; a plain failure to connect has none.
        (false, _) => match cause {
            Some(cause) => format!("{c} provider unreachable: cannot connect to {origin} ({cause})"),
            None => format!("{c} provider unreachable: cannot connect to {origin}"),
        },
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.jobs = None;
        self.http_jobs = None;
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn serve(
    jobs: &Mutex<Receiver<Job>>,
    done: &Running,
    providers: &Providers,
    breakers: &BTreeMap<Channel, Breaker>,
    halt: (&AtomicBool, &Paused),
) {
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(|e| e.into_inner());
            rx.recv()
        };
        let Ok(job) = job else { return };
        let (outcome, retries, tried) = send(&job, providers, breakers, halt);
        done.0.push(Done::of(job, outcome, retries, tried));
    }
}

/// What to do after an attempt: `Ok(wait)` to retry after `wait`, `Err` to
/// report the outcome.
fn next(
    outcome: Outcome,
    idempotent: bool,
    retries: u32,
    key: &str,
    stop: &AtomicBool,
) -> Result<(Duration, String), Outcome> {
    let outcome = match outcome {
        // With an idempotency key, not knowing is a reason to try again.
        Outcome::InDoubt { reason } if idempotent => Outcome::Retry { after: None, reason },
        o => o,
    };
    match outcome {
        Outcome::Retry { after, reason } if retries < INLINE_RETRIES && !stop.load(Ordering::Relaxed) => {
            let wait = after.unwrap_or_else(|| backoff(retries, key));
            // Long waits (a provider's Retry-After) go back to the ledger.
            if wait > Duration::from_secs(10) {
                Err(Outcome::Retry {
                    after: Some(wait),
                    reason,
                })
            } else {
                Ok((wait, reason))
            }
        }
        o => Err(o),
    }
}

fn send(
    job: &Job,
    providers: &Providers,
    breakers: &BTreeMap<Channel, Breaker>,
    (stop, held): (&AtomicBool, &Paused),
) -> (Outcome, u32, bool) {
    let Some((provider, pacer, breaker)) = route(job.channel, providers, breakers) else {
        return no_provider(job.channel);
    };
    let mut t = Tries::default();
    loop {
        if let Some(held) = down(breaker, providers, job.channel) {
            return t.end(held);
        }
        if held.holds(&job.object) {
            return t.end(paused());
        }
        if !pacer.wait(stop) {
            return t.end(stopped());
        }
        // The wait for the provider's rate may have been long.
        if held.holds(&job.object) {
            return t.end(paused());
        }
        let attempt = provider.attempt(&job.outgoing);
        match t.after(attempt, breaker, provider.idempotent(), &job.outgoing.key, stop) {
            Ok((wait, reason)) => {
                if !sleep_until(Instant::now() + wait, stop) {
                    return t.end(Outcome::Retry { after: None, reason });
                }
                t.retries += 1;
            }
            Err(o) => return t.end(o),
        }
    }
}

/// Every batch handed over and not taken goes back to the ledger, untried;
/// once the channel is closed, `hand_over` puts later ones back itself.
fn hand_back(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<Job>>, done: &Running, reason: &str) {
    rx.close();
    while let Ok(jobs) = rx.try_recv() {
        for j in jobs {
            done.0.push(Done::untried(j, reason));
        }
    }
}

/// One message's tries, in either kind of worker.
#[derive(Default)]
struct Tries {
    retries: u32,
    /// Whether the provider was asked (see `Done::tried`).
    tried: bool,
}

impl Tries {
    fn end(&self, o: Outcome) -> (Outcome, u32, bool) {
        (o, self.retries, self.tried)
    }

    /// After an attempt (the breaker learns of it): `Ok(wait)` to try again
    /// after `wait`, `Err` to report the outcome.
    fn after(
        &mut self,
        attempt: Attempt,
        breaker: &Breaker,
        idempotent: bool,
        key: &str,
        stop: &AtomicBool,
    ) -> Result<(Duration, String), Outcome> {
        self.tried |= attempt.asked && !attempt.cannot_connect;
        if attempt.asked {
            if attempt.cannot_connect {
                // How a refused session ended, or which other server failed.
                let cause = match &attempt.outcome {
                    Outcome::Retry { reason, .. } if attempt.refused || attempt.elsewhere => Some(reason.as_str()),
                    _ => None,
                };
                breaker.record_refused(attempt.refused, cause);
            }
            breaker.record(attempt.cannot_connect, Instant::now());
        }
        next(attempt.outcome, idempotent, self.retries, key, stop)
    }
}

/// The provider, its pacer and its breaker for a channel.
fn route<'w>(
    c: Channel,
    providers: &'w Providers,
    breakers: &'w BTreeMap<Channel, Breaker>,
) -> Option<(&'w dyn Provider, &'w Pacer, &'w Breaker)> {
    let (provider, pacer) = providers.for_channel(c)?;
    Some((provider, pacer, breakers.get(&c)?))
}

fn no_provider(c: Channel) -> (Outcome, u32, bool) {
    let o = Outcome::Failed {
        reason: format!("no provider for {c}"),
    };
    (o, 0, false)
}

/// A provider that is down: its message goes straight back to the ledger,
/// untried, due again at once; the runner's next look at it finds the
/// provider down and holds it there (see `pass::Runner::down_hold`).
fn down(breaker: &Breaker, providers: &Providers, c: Channel) -> Option<Outcome> {
    breaker.open_until(Instant::now())?;
    Some(Outcome::Retry {
        after: None,
        reason: unreachable(providers, c, breaker.refused()),
    })
}

fn stopped() -> Outcome {
    Outcome::Retry {
        after: None,
        reason: "stopped before sending".into(),
    }
}

/// The HTTP thread: `n` sends in flight at most, each a task on this
/// thread's runtime.
fn serve_http(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Vec<Job>>,
    done: Running,
    providers: Arc<Providers>,
    breakers: Arc<BTreeMap<Channel, Breaker>>,
    (stop, held): (Arc<AtomicBool>, Arc<Paused>),
    n: u32,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "the HTTP sender could not start");
            hand_back(&mut rx, &done, "the HTTP sender could not start");
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let slots = Arc::new(tokio::sync::Semaphore::new(n as usize));
        let done = Rc::new(done);
        while let Some(jobs) = rx.recv().await {
            for job in jobs {
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let (providers, breakers, stop, held, done) = (
                    Arc::clone(&providers),
                    Arc::clone(&breakers),
                    Arc::clone(&stop),
                    Arc::clone(&held),
                    Rc::clone(&done),
                );
                tokio::task::spawn_local(async move {
                    let mut unfinished = Unfinished {
                        done: Rc::clone(&done),
                        job: Some((job.outgoing.key.clone(), job.id, job.large)),
                    };
                    let (outcome, retries, tried) = send_http(&job, &providers, &breakers, (&stop, &held)).await;
                    drop(slot);
                    unfinished.job = None;
                    done.0.push(Done::of(job, outcome, retries, tried));
                });
            }
        }
        // Every send finished (their slots are back) before the thread ends.
        let _ = slots.acquire_many(n).await;
    });
}

/// A send whose task ends without an outcome (it panicked) is reported in
/// doubt, as it may have gone out: the runner must not wait for it forever.
struct Unfinished {
    done: Rc<Running>,
    /// The send's key, ledger id and batch size, until it finished.
    job: Option<(String, Option<i64>, bool)>,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some((key, id, large)) = self.job.take() {
            self.done.0.push(Done {
                key,
                id,
                outcome: Outcome::InDoubt {
                    reason: "the sender failed".into(),
                },
                retries: 0,
                tried: true,
                large,
            });
        }
    }
}

async fn send_http(
    job: &Job,
    providers: &Providers,
    breakers: &BTreeMap<Channel, Breaker>,
    (stop, held): (&AtomicBool, &Paused),
) -> (Outcome, u32, bool) {
    let Some((provider, pacer, breaker)) = route(job.channel, providers, breakers) else {
        return no_provider(job.channel);
    };
    let Some(http) = provider.http() else {
        return no_provider(job.channel);
    };
    let mut t = Tries::default();
    loop {
        if let Some(held) = down(breaker, providers, job.channel) {
            return t.end(held);
        }
        if held.holds(&job.object) {
            return t.end(paused());
        }
        if let Some(slot) = pacer.slot()
            && !sleep_until_async(slot, stop).await
        {
            return t.end(stopped());
        }
        // The wait for the provider's rate may have been long.
        if held.holds(&job.object) {
            return t.end(paused());
        }
        if stop.load(Ordering::Relaxed) {
            return t.end(stopped());
        }
        let attempt = http.send_async(&job.outgoing).await;
        match t.after(attempt, breaker, provider.idempotent(), &job.outgoing.key, stop) {
            Ok((wait, reason)) => {
                if !sleep_until_async(Instant::now() + wait, stop).await {
                    return t.end(Outcome::Retry { after: None, reason });
                }
                t.retries += 1;
            }
            Err(o) => return t.end(o),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that answers and refuses every session (a wrong password)
    /// trips the breaker like one that cannot be reached, but the runner
    /// says it refuses sessions, not that it cannot be reached; its sends
    /// keep their attempts.
    #[test]
    fn refused_sessions_trip_the_breaker_and_say_so() {
        let breaker = Breaker::default();
        let stop = AtomicBool::new(false);
        for _ in 0..super::super::breaker::TRIP_AFTER {
            let mut t = Tries::default();
            let refused = Attempt {
                outcome: Outcome::Retry {
                    after: None,
                    reason: "smtp session refused (535)".into(),
                },
                cannot_connect: true,
                refused: true,
                asked: true,
                elsewhere: false,
            };
            let _ = t.after(refused, &breaker, false, "k", &stop);
            assert!(!t.tried, "a refused session is not an attempt at the message");
        }
        assert!(breaker.take_tripped() && breaker.refused().0);
        assert_eq!(breaker.refused().1.as_deref(), Some("smtp session refused (535)"));
        let dir = tempfile::tempdir().unwrap();
        let config = herald_compiler::config::Config::fallback();
        let providers = Providers::build(&config, dir.path(), &Secrets::default()).unwrap();
        // (Here not an SMTP provider: the words of HTTP ones; tests/e2e says
        // SMTP's, "refuses sessions".)
        let said = unreachable(&providers, Channel::Email, breaker.refused());
        assert!(
            said.starts_with("email provider refuses Herald's credentials"),
            "{said}"
        );
        // A connection that cannot be made is said as before.
        breaker.record_refused(false, None);
        assert!(unreachable(&providers, Channel::Email, breaker.refused()).contains("unreachable"));
    }

    /// An HTTP thread that cannot start hands back every batch it was given
    /// (none is left `sending` for ever), and takes no more.
    #[test]
    fn batches_given_to_an_http_thread_that_cannot_start_come_back_untried() {
        let outbox = Arc::new(Outbox::default());
        let running = Running::new(&outbox);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let job = |key: &str| Job {
            id: None,
            object: "campaigns.bf".into(),
            outgoing: Outgoing {
                key: key.into(),
                contact_id: "c1".into(),
                to: "+33600000000".into(),
                body: crate::providers::Body::Sms {
                    sender: None,
                    text: "x".into(),
                },
            },
            channel: Channel::Sms,
            large: true,
        };
        tx.send(vec![job("k1"), job("k2")]).unwrap();
        tx.send(vec![job("k3")]).unwrap();
        hand_back(&mut rx, &running, "could not start");
        let back = outbox.take();
        let keys: Vec<&str> = back.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["k1", "k2", "k3"]);
        assert!(
            back.iter()
                .all(|d| !d.tried && matches!(d.outcome, Outcome::Retry { .. }))
        );
        assert!(
            tx.send(vec![job("k4")]).is_err(),
            "closed: hand_over keeps the next batch"
        );
    }

    /// A send task that ends without an outcome (a panic) is reported in
    /// doubt; one that finished is reported once, by itself.
    #[test]
    fn a_send_that_never_finished_is_reported_in_doubt() {
        let outbox = Arc::new(Outbox::default());
        let running = Rc::new(Running::new(&outbox));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _unfinished = Unfinished {
                done: Rc::clone(&running),
                job: Some(("k1".into(), Some(7), true)),
            };
            panic!("a bug in a provider");
        }));
        assert!(panicked.is_err());
        drop(Unfinished {
            done: Rc::clone(&running),
            job: None,
        });
        let done = outbox.take();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].key, "k1");
        assert!(matches!(&done[0].outcome, Outcome::InDoubt { reason } if reason == "the sender failed"));
    }
    use crate::providers::Secrets;

    /// Emails (large) and sends to providers without keys (in doubt after a
    /// crash) wait in small batches; small sends that carry their key, in
    /// large ones.
    #[test]
    fn only_small_sends_with_keys_wait_in_large_batches() {
        let dir = tempfile::tempdir().unwrap();
        let config = herald_compiler::config::Config::fallback();
        // No provider configured: every channel writes to the `file` outbox,
        // which takes the key.
        let providers = Providers::build(&config, dir.path(), &Secrets::default()).unwrap();
        let workers = Workers::start(1, Arc::new(providers), Arc::new(AtomicBool::new(false)));
        assert!(workers.idempotent(Channel::Email));
        assert!(!workers.large_batch(Channel::Email));
        assert!(workers.large_batch(Channel::Sms));
        assert!(workers.large_batch(Channel::Push));
    }
}
