//! A contact's history from the state (events received, opens and clicks
//! reported), for conditions: `count(e)`, `opened(m)`, `clicked(m)`.

use crate::state::StateError;
use crate::state::run::{ContactHistory, RunStore};
use chrono::{DateTime, Utc};
use herald_compiler::eval::History;

#[derive(Default)]
pub struct RunHistory(ContactHistory);

impl RunHistory {
    pub fn load(store: &dyn RunStore, contact: &str) -> Result<RunHistory, StateError> {
        Ok(RunHistory(store.history(contact)?))
    }
}

impl History for RunHistory {
    fn opened(&self, message: &str, at: DateTime<Utc>) -> bool {
        // A click implies the message was opened (images may be blocked).
        self.0
            .engagement
            .iter()
            .any(|(m, k, t)| m == message && (k == "opened" || k == "clicked") && *t <= at)
    }

    fn clicked(&self, message: &str, at: DateTime<Utc>) -> bool {
        self.0
            .engagement
            .iter()
            .any(|(m, k, t)| m == message && k == "clicked" && *t <= at)
    }

    fn count(&self, event: &str, since: Option<DateTime<Utc>>, at: DateTime<Utc>) -> u64 {
        self.0
            .events
            .iter()
            .filter(|(e, t)| e == event && *t <= at && since.is_none_or(|s| *t > s))
            .count() as u64
    }
}
