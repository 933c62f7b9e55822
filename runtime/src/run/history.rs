//! A contact's history for conditions (`count(e)`, `opened(m)`,
//! `clicked(m)`): the events of `[crm] events` / `events_table` (the same
//! export the forecast reads), the events Herald received after the
//! export's newest one, and the opens and clicks the state recorded.

use crate::crm::Stamp;
use crate::crm::events::{ContactEvents, EventHistory, Source};
use crate::state::StateError;
use crate::state::run::{ContactHistory, RunStore};
use chrono::{DateTime, Utc};
use herald_compiler::eval::History;
use herald_compiler::model::Plan;
use std::path::Path;
use std::sync::Arc;

#[derive(Default)]
pub struct RunHistory<'h> {
    state: ContactHistory,
    crm: Option<ContactEvents<'h>>,
}

impl<'h> RunHistory<'h> {
    pub fn load(
        store: &dyn RunStore,
        contact: &str,
        crm: Option<&'h EventHistory>,
    ) -> Result<RunHistory<'h>, StateError> {
        Ok(RunHistory::of(contact, store.history(contact)?, crm))
    }

    fn of(contact: &str, mut state: ContactHistory, crm: Option<&'h EventHistory>) -> RunHistory<'h> {
        if let Some(h) = crm {
            // The export already holds what Herald received before its newest event.
            state.events.retain(|(_, at)| h.counts_received(*at));
        }
        RunHistory {
            state,
            crm: crm.map(|h| h.of(contact)),
        }
    }
}

impl History for RunHistory<'_> {
    fn opened(&self, message: &str, at: DateTime<Utc>) -> bool {
        // A click implies the message was opened (images may be blocked).
        self.state
            .engagement
            .iter()
            .any(|(m, k, t)| m == message && (k == "opened" || k == "clicked") && *t <= at)
    }

    fn clicked(&self, message: &str, at: DateTime<Utc>) -> bool {
        self.state
            .engagement
            .iter()
            .any(|(m, k, t)| m == message && k == "clicked" && *t <= at)
    }

    fn count(&self, event: &str, since: Option<DateTime<Utc>>, at: DateTime<Utc>) -> u64 {
        let received = self
            .state
            .events
            .iter()
            .filter(|(e, t)| e == event && *t <= at && since.is_none_or(|s| *t > s))
            .count() as u64;
        received + self.crm.as_ref().map_or(0, |c| c.count(event, since, at))
    }
}

/// How often an unchanged export is read again anyway: a row dated after
/// the business clock is rejected when read, and counts once the clock
/// passes it.
const REREAD_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// The event export of herald.toml, read once and again when its file
/// changes (a long-running `herald run` sees a new export).
#[derive(Default)]
pub struct CrmEvents {
    loaded: Option<Loaded>,
}

struct Loaded {
    source: Source,
    stamp: Stamp,
    at: DateTime<Utc>,
    history: Arc<EventHistory>,
}

fn stamp(source: &Source) -> Stamp {
    match source {
        Source::Csv(p) => crate::crm::stamp(p, false),
        Source::Table(p, _) => crate::crm::stamp(p, true),
    }
}

impl CrmEvents {
    /// The export the plan configures (none when it configures none), read
    /// again when its file changed. Errors say which file and why.
    pub fn get(&mut self, plan: &Plan, dir: &Path, now: DateTime<Utc>) -> Result<Option<Arc<EventHistory>>, String> {
        let what = |e: crate::crm::CrmError| {
            format!(
                "{e} (the runner reads the event history of `[crm] events` or `events_table` in herald.toml for `count()`)"
            )
        };
        let Some(source) = Source::configured(&plan.config.crm, dir).map_err(what)? else {
            self.loaded = None;
            return Ok(None);
        };
        let stamp = stamp(&source);
        if let Some(l) = &self.loaded
            && l.source == source
            && l.stamp == stamp
            && now >= l.at
            && now - l.at < REREAD_AFTER
        {
            return Ok(Some(l.history.clone()));
        }
        let history = Arc::new(source.read(plan, now).map_err(what)?);
        if history.bad_rows > 0 {
            tracing::warn!(
                file = %source.path().display(),
                rejected = history.bad_rows,
                "rows of the event history were rejected; `herald plan` lists where and why"
            );
        }
        self.loaded = Some(Loaded {
            source,
            stamp,
            at: now,
            history: history.clone(),
        });
        Ok(Some(history))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_events_count_after_the_exports_newest_event_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.csv");
        std::fs::write(
            &path,
            "contact_id,event,at\nc1,purchase,2026-11-01T10:00:00Z\nc1,purchase,2026-11-10T10:00:00Z\n",
        )
        .unwrap();
        let now: DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
        let h = EventHistory::read(&path, ["purchase".to_string()], chrono_tz::UTC, now).unwrap();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let received = ContactHistory {
            // Received on the 10th: the export holds it already.
            events: vec![
                ("purchase".into(), t("2026-11-10T10:00:00Z")),
                ("purchase".into(), t("2026-11-15T10:00:00Z")),
            ],
            engagement: Vec::new(),
        };
        let history = RunHistory::of("c1", received.clone(), Some(&h));
        assert_eq!(history.count("purchase", None, now), 3, "the 10th counts once");
        // Without an export, what Herald received is the history.
        assert_eq!(RunHistory::of("c1", received, None).count("purchase", None, now), 2);
        assert_eq!(history.count("purchase", Some(t("2026-11-05T00:00:00Z")), now), 2);
        assert_eq!(history.count("purchase", None, t("2026-11-12T00:00:00Z")), 2);
    }
}
