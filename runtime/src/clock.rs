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
