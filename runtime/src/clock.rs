//! The one clock of the binary. `HERALD_NOW` (RFC 3339) pins it, so a plan
//! can be reproduced exactly — in tests, benchmarks, or to see what a plan
//! will look like on a given day.

use chrono::{DateTime, Utc};

#[allow(clippy::disallowed_methods)] // the one place that reads the machine's clock
pub fn now() -> Result<DateTime<Utc>, String> {
    match std::env::var("HERALD_NOW") {
        Err(_) => Ok(Utc::now()),
        Ok(v) => DateTime::parse_from_rfc3339(v.trim())
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| {
                format!("HERALD_NOW is `{v}`, which is not an RFC 3339 time ({e}); use e.g. 2026-11-27T10:00:00Z, or unset it")
            }),
    }
}

/// Milliseconds since the Unix epoch on the machine's clock, never pinned:
/// leases, retries and webhook timestamps run on real time even when
/// `HERALD_NOW` pins the business clock (so a test can pin the day and still
/// recover from a killed runner at once).
#[allow(clippy::disallowed_methods)] // the one place that reads the machine's clock
pub fn real_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
