//! Pacing: a per-provider rate limit, and the back-off between retries.
//! Both run on the real clock (the business clock may be pinned).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// At most `rate` messages per second, shared by every worker.
pub struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(rate: Option<f64>) -> Pacer {
        let interval = rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64((1.0 / r).min(3600.0)));
        Pacer {
            interval,
            next: Mutex::new(None),
        }
    }

    /// Wait for this message's slot. `false` when `stop` was raised meanwhile.
    pub fn wait(&self, stop: &AtomicBool) -> bool {
        match self.slot() {
            Some(slot) => sleep_until(slot, stop),
            None => !stop.load(Ordering::Relaxed),
        }
    }

    /// Take the next slot: when this message may go (`None`: no limit).
    pub fn slot(&self) -> Option<Instant> {
        let interval = self.interval?;
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let slot = next.map_or(now, |n| n.max(now));
        *next = Some(slot + interval);
        Some(slot)
    }
}

/// Sleep until `t`, waking every 50 ms to honour `stop`. `false` if stopped.
pub fn sleep_until(t: Instant, stop: &AtomicBool) -> bool {
    loop {
        match nap(t, stop) {
            Ok(d) => std::thread::sleep(d),
            Err(reached) => return reached,
        }
    }
}

/// [`sleep_until`] on a tokio runtime.
pub async fn sleep_until_async(t: Instant, stop: &AtomicBool) -> bool {
    loop {
        match nap(t, stop) {
            Ok(d) => tokio::time::sleep(d).await,
            Err(reached) => return reached,
        }
    }
}

/// The next nap on the way to `t` (50 ms at most, to honour `stop`), or
/// `Err(whether t was reached)` when the wait is over.
fn nap(t: Instant, stop: &AtomicBool) -> Result<Duration, bool> {
    if stop.load(Ordering::Relaxed) {
        return Err(false);
    }
    let now = Instant::now();
    if now >= t {
        return Err(true);
    }
    Ok((t - now).min(Duration::from_millis(50)))
}

/// The wait before retry number `attempt` (0-based): exponential from
/// 200 ms, capped at 60 s, with ±50 % jitter so retries of many messages do
/// not arrive together. The jitter is a hash of the key and the attempt:
/// spread out, yet reproducible.
pub fn backoff(attempt: u32, key: &str) -> Duration {
    let base = 200u64.saturating_mul(1u64 << attempt.min(20)).min(60_000);
    let h = herald_compiler::engine::experiment::bucket(key, &attempt.to_string());
    let jitter = (h % 1000) as f64 / 1000.0; // [0, 1)
    Duration::from_millis((base as f64 * (0.5 + jitter)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_spreads() {
        let a: Vec<Duration> = (0..5).map(|i| backoff(i, "k1")).collect();
        for (i, d) in a.iter().enumerate() {
            let base = 200u128 << i;
            assert!(d.as_millis() >= base / 2 && d.as_millis() < base * 3 / 2, "{i}: {d:?}");
        }
        assert!(backoff(40, "k") <= Duration::from_millis(90_000), "capped");
        let spread: std::collections::BTreeSet<_> = (0..50).map(|i| backoff(3, &format!("k{i}"))).collect();
        assert!(spread.len() > 30, "jittered");
    }

    #[test]
    fn the_pacer_spaces_messages_and_stops() {
        let p = Pacer::new(Some(100.0));
        let stop = AtomicBool::new(false);
        let start = Instant::now();
        for _ in 0..5 {
            assert!(p.wait(&stop));
        }
        // Five slots 10 ms apart: the fifth is 40 ms after the first.
        assert!(start.elapsed() >= Duration::from_millis(40));
        stop.store(true, Ordering::Relaxed);
        assert!(!p.wait(&stop));
        assert!(!Pacer::new(None).wait(&stop));
    }
}
