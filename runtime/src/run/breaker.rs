//! A circuit breaker per provider: a provider that cannot be connected to is
//! "down", and the runner stops trying it for a while instead of trying
//! every message five times with back-off (100,000 SMS to a server that is
//! not there would take a day).
//!
//! Only failures to connect count: a provider that answers 5xx or 429, or
//! is slow, is up, and its messages are retried as usual. After
//! [`TRIP_AFTER`] connection failures in a row the breaker opens for
//! [`HOLD`]; then it lets sends through again (half-open): one that connects
//! closes it, one that cannot connect opens it again at once, for twice as
//! long each time up to [`MAX_HOLD`] (a provider down for hours is tried a
//! few times an hour, not every ten seconds).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Connection failures in a row that make a provider down. A flaky
/// provider (one request in five failing with 5xx, 429 or a timeout) never
/// adds to it; a refused connection in the middle of successes resets.
pub const TRIP_AFTER: u32 = 5;

/// How long a provider that is down is left alone before it is tried again
/// (the first time; then twice as long each time it is still down).
pub const HOLD: Duration = Duration::from_secs(10);

/// The longest hold.
pub const MAX_HOLD: Duration = Duration::from_secs(300);

#[derive(Default)]
pub struct Breaker {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Connection failures in a row.
    failures: u32,
    /// Open until then; in the past: half-open. `None`: closed.
    open_until: Option<Instant>,
    /// Opened since the last [`Breaker::take_tripped`].
    tripped: bool,
    /// The current hold (doubles while the provider stays down).
    hold: Duration,
    /// The last failure was a session the server refused, not a
    /// connection that could not be made.
    refused: bool,
    /// How the last refused session ended (a reply code, a failed TLS
    /// handshake), or which other server failed (a token endpoint).
    cause: Option<String>,
}

impl Breaker {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether sends must not be tried now.
    #[cfg(test)]
    pub fn is_open(&self, now: Instant) -> bool {
        self.open_until(now).is_some()
    }

    /// Until when sends must not be tried (`None`: they may be now).
    pub fn open_until(&self, now: Instant) -> Option<Instant> {
        self.state().open_until.filter(|t| now < *t)
    }

    /// Record an attempt: whether it could not connect.
    pub fn record(&self, cannot_connect: bool, now: Instant) {
        let mut s = self.state();
        // Half-open for as long again as the hold without a word from the
        // provider (no sends meanwhile): forgotten, as if it had answered.
        if let Some(t) = s.open_until
            && now >= t + s.hold
        {
            s.failures = 0;
            s.open_until = None;
            s.hold = Duration::ZERO;
        }
        if !cannot_connect {
            s.failures = 0;
            s.open_until = None;
            s.hold = Duration::ZERO;
            return;
        }
        s.failures = s.failures.saturating_add(1);
        match s.open_until {
            // Already open: a send that was under way when it opened.
            Some(t) if now < t => {}
            // Half-open: one failure is enough, and the hold doubles.
            Some(_) => {
                s.hold = (s.hold * 2).clamp(HOLD, MAX_HOLD);
                s.open_until = Some(now + s.hold);
                s.tripped = true;
            }
            None if s.failures >= TRIP_AFTER => {
                s.hold = HOLD;
                s.open_until = Some(now + HOLD);
                s.tripped = true;
            }
            None => {}
        }
    }

    /// Whether the last failure counted was a refused session, and how it
    /// ended when known.
    pub fn refused(&self) -> (bool, Option<String>) {
        let s = self.state();
        (s.refused, s.cause.clone())
    }

    /// Record whether a failure to connect was a refused session, and how
    /// it ended.
    pub fn record_refused(&self, refused: bool, cause: Option<&str>) {
        let mut s = self.state();
        s.refused = refused;
        s.cause = cause.map(str::to_string);
    }

    /// Whether it opened since the last call and the provider has not
    /// connected since (for the pass's report: a provider that came back
    /// within the pass is not reported down).
    pub fn take_tripped(&self) -> bool {
        let mut s = self.state();
        let down = s.open_until.is_some() || s.failures > 0;
        std::mem::take(&mut s.tripped) && down
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_connection_failures_in_a_row_only() {
        let b = Breaker::default();
        let t = Instant::now();
        for _ in 0..TRIP_AFTER - 1 {
            b.record(true, t);
            assert!(!b.is_open(t));
        }
        // A success (any answer, a 500 included) resets the count.
        b.record(false, t);
        for _ in 0..TRIP_AFTER - 1 {
            b.record(true, t);
        }
        assert!(!b.is_open(t));
        assert!(!b.take_tripped());
        b.record(true, t);
        assert!(b.is_open(t));
        assert!(b.is_open(t + HOLD - Duration::from_millis(1)));
        assert!(b.take_tripped());
        assert!(!b.take_tripped(), "reported once");
    }

    #[test]
    fn half_open_after_the_hold_closes_on_success_and_reopens_on_failure() {
        let b = Breaker::default();
        let t = Instant::now();
        for _ in 0..TRIP_AFTER {
            b.record(true, t);
        }
        b.take_tripped();
        // After the hold: sends are tried again.
        let later = t + HOLD;
        assert!(!b.is_open(later));
        // One that cannot connect opens it again at once.
        b.record(true, later);
        assert!(b.is_open(later));
        assert!(b.take_tripped());
        // One that connects closes it; then it takes TRIP_AFTER again.
        let again = later + HOLD;
        b.record(false, again);
        assert!(!b.is_open(again));
        b.record(true, again);
        assert!(!b.is_open(again), "closed: one failure is not enough");
        assert!(!b.take_tripped());
    }

    #[test]
    fn the_hold_doubles_while_the_provider_stays_down_and_resets_when_it_answers() {
        let b = Breaker::default();
        let mut t = Instant::now();
        for _ in 0..TRIP_AFTER {
            b.record(true, t);
        }
        let mut holds = Vec::new();
        for _ in 0..8 {
            let until = b.open_until(t).expect("open");
            holds.push((until - t).as_secs());
            // A send under way when it opened does not lengthen it.
            b.record(true, t);
            assert_eq!(b.open_until(t), Some(until));
            // Half-open, still down.
            t = until;
            assert_eq!(b.open_until(t), None);
            b.record(true, t);
        }
        assert_eq!(holds, [10, 20, 40, 80, 160, 300, 300, 300]);
        // It answers: closed, and the next trip holds HOLD again.
        t += MAX_HOLD;
        b.record(false, t);
        for _ in 0..TRIP_AFTER {
            b.record(true, t);
        }
        assert_eq!(b.open_until(t).map(|u| u - t), Some(HOLD));
    }

    #[test]
    fn a_long_forgotten_trip_does_not_make_one_refusal_reopen_it() {
        let b = Breaker::default();
        let t = Instant::now();
        for _ in 0..TRIP_AFTER {
            b.record(true, t);
        }
        // No send for a long while after the hold: one refused connection
        // counts as one, not as a half-open failure.
        let later = t + HOLD * 10;
        b.record(true, later);
        assert_eq!(b.open_until(later), None);
    }

    #[test]
    fn a_trip_is_reported_unless_the_provider_connected_since() {
        let trip = |b: &Breaker, t: Instant| {
            for _ in 0..TRIP_AFTER {
                b.record(true, t);
            }
        };
        let t = Instant::now();
        // Still open, or half-open and not tried: reported, once.
        let b = Breaker::default();
        trip(&b, t);
        assert!(b.take_tripped());
        assert!(!b.take_tripped());
        trip(&b, t + HOLD);
        assert!(b.take_tripped(), "half-open, and it failed again");
        // Connected after the hold: it came back within the pass.
        let b = Breaker::default();
        trip(&b, t);
        b.record(false, t + HOLD);
        assert!(!b.take_tripped());
        // Forgotten after a long silence, then refused again: still down.
        let b = Breaker::default();
        trip(&b, t);
        b.record(true, t + HOLD * 10);
        assert!(b.take_tripped());
    }

    #[test]
    fn a_flaky_provider_never_opens_it() {
        // One request in five fails (500, 429, timeout): none is a failure
        // to connect.
        let b = Breaker::default();
        let t = Instant::now();
        for _ in 0..10_000 {
            b.record(false, t);
        }
        assert!(!b.is_open(t));
        // Even refused connections scattered among answers do not.
        for i in 0..10_000 {
            b.record(i % 3 == 0, t);
        }
        assert!(!b.is_open(t));
    }
}
