//! The workers that talk to providers: a few threads, each taking ready
//! messages from a bounded queue (so the runner never claims far more than
//! is being sent) and reporting outcomes back.
//!
//! A message that the provider asks to retry is retried here a few times,
//! with back-off on the real clock; after that it goes back to the ledger
//! and a later pass takes it again.

use crate::providers::{Outcome, Outgoing, Providers, backoff};
use herald_compiler::ast::values::Channel;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, channel, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

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
/// (one `fsync`) per this many sends, and lets the workers send one batch
/// while the next is claimed and committed. Bounded so that memory stays flat.
pub const LARGE_BATCH: usize = 1024;

pub struct Job {
    pub outgoing: Outgoing,
    pub channel: Channel,
    /// Whether it may wait in a large batch ([`Workers::large_batch`]).
    pub large: bool,
}

pub struct Done {
    pub key: String,
    pub outcome: Outcome,
    /// Retries made in the worker.
    pub retries: u32,
    large: bool,
}

pub struct Workers {
    providers: Arc<Providers>,
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    handles: Vec<JoinHandle<()>>,
    outstanding: usize,
    /// Handed over and not finished, in small batches.
    outstanding_unsafe: usize,
    /// Outcomes received while waiting for room (returned by the next `poll`).
    finished: Vec<Done>,
}

impl Workers {
    pub fn start(n: u32, providers: Arc<Providers>, stop: Arc<AtomicBool>) -> Workers {
        // What is claimed but not yet handed to a provider is what a crash
        // would leave `sending`: the queue is bounded, and `submit` bounds the
        // sends without idempotency keys more tightly.
        let (jobs_tx, jobs_rx) = sync_channel::<Job>(LARGE_BATCH);
        let jobs_rx = Arc::new(std::sync::Mutex::new(jobs_rx));
        let (done_tx, done) = channel();
        let handles = (0..n.max(1))
            .map(|i| {
                let jobs = Arc::clone(&jobs_rx);
                let done = done_tx.clone();
                let providers = Arc::clone(&providers);
                let stop = Arc::clone(&stop);
                std::thread::Builder::new()
                    .name(format!("herald-send-{i}"))
                    .spawn(move || work(&jobs, &done, &providers, &stop))
                    .expect("a thread can be started")
            })
            .collect();
        Workers {
            providers,
            jobs: Some(jobs_tx),
            done,
            handles,
            outstanding: 0,
            outstanding_unsafe: 0,
            finished: Vec::new(),
        }
    }

    /// Hand a message to the workers. Waits while the queue is full, and
    /// while a batch of sends without idempotency keys is still unfinished.
    pub fn submit(&mut self, job: Job) {
        if !job.large {
            let limit = batch(self.workers());
            while self.outstanding_unsafe >= limit {
                match self.done.recv() {
                    Ok(d) => self.received(d),
                    Err(_) => break,
                }
            }
        }
        let large = job.large;
        if let Some(tx) = &self.jobs
            && tx.send(job).is_ok()
        {
            self.outstanding += 1;
            self.outstanding_unsafe += usize::from(!large);
        }
    }

    fn received(&mut self, d: Done) {
        self.outstanding -= 1;
        self.outstanding_unsafe -= usize::from(!d.large);
        self.finished.push(d);
    }

    /// Outcomes reported so far.
    pub fn poll(&mut self) -> Vec<Done> {
        loop {
            match self.done.try_recv() {
                Ok(d) => self.received(d),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return std::mem::take(&mut self.finished),
            }
        }
    }

    /// Wait for every message handed over.
    pub fn wait_all(&mut self) -> Vec<Done> {
        while self.outstanding > 0 {
            match self.done.recv() {
                Ok(d) => self.received(d),
                Err(_) => break,
            }
        }
        std::mem::take(&mut self.finished)
    }

    pub fn workers(&self) -> u32 {
        self.handles.len() as u32
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
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.jobs = None;
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn work(jobs: &std::sync::Mutex<Receiver<Job>>, done: &Sender<Done>, providers: &Providers, stop: &AtomicBool) {
    serve(jobs, done, providers, stop);
    crate::providers::end_thread();
}

fn serve(jobs: &std::sync::Mutex<Receiver<Job>>, done: &Sender<Done>, providers: &Providers, stop: &AtomicBool) {
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(|e| e.into_inner());
            rx.recv()
        };
        let Ok(job) = job else { return };
        let key = job.outgoing.key.clone();
        let (outcome, retries) = send(&job, providers, stop);
        let large = job.large;
        if done
            .send(Done {
                key,
                outcome,
                retries,
                large,
            })
            .is_err()
        {
            return;
        }
    }
}

fn send(job: &Job, providers: &Providers, stop: &AtomicBool) -> (Outcome, u32) {
    let Some((provider, pacer)) = providers.for_channel(job.channel) else {
        return (
            Outcome::Failed {
                reason: format!("no provider for {}", job.channel),
            },
            0,
        );
    };
    let mut retries = 0;
    loop {
        if !pacer.wait(stop) {
            return (
                Outcome::Retry {
                    after: None,
                    reason: "stopped before sending".into(),
                },
                retries,
            );
        }
        let outcome = match provider.send(&job.outgoing) {
            // With an idempotency key, not knowing is a reason to try again.
            Outcome::InDoubt { reason } if provider.idempotent() => Outcome::Retry { after: None, reason },
            o => o,
        };
        match outcome {
            Outcome::Retry { after, reason } if retries < INLINE_RETRIES && !stop.load(Ordering::Relaxed) => {
                let wait = after.unwrap_or_else(|| backoff(retries, &job.outgoing.key));
                // Long waits (a provider's Retry-After) go back to the ledger.
                if wait > std::time::Duration::from_secs(10) {
                    return (
                        Outcome::Retry {
                            after: Some(wait),
                            reason,
                        },
                        retries,
                    );
                }
                if !crate::providers::sleep_until(Instant::now() + wait, stop) {
                    return (Outcome::Retry { after: None, reason }, retries);
                }
                retries += 1;
            }
            o => return (o, retries),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
