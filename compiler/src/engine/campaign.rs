//! Campaigns: one send per contact, at `send_at` read in the contact's time
//! zone, to the contacts in the audience at that instant.
//!
//! Experiments: the control group (`holdout`) gets nothing; the test group
//! gets its variant at `send_at`; the rest gets the winner `decide_after`
//! later (24 hours when not written).

use super::experiment::{self, Group};
use super::scenario::Content;
use super::{ContactFacts, Cx, Engine, later, local_instant};
use crate::model::Delivery;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A campaign of the engine (an index into the plan's campaigns, by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CampaignId(pub usize);

pub use crate::model::DEFAULT_DECIDE_AFTER;

/// What a campaign does for one contact of its audience.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CampaignSend<'p> {
    /// In the experiment's control group.
    Holdout,
    /// The test group's variant, or the winner for the rest.
    Send {
        at: DateTime<Utc>,
        content: Content<'p>,
        group: Option<Group<'p>>,
    },
}

impl<'p> Engine<'p> {
    /// The instant of the campaign's `send_at` in a time zone.
    pub fn campaign_instant(&self, id: CampaignId, tz: Tz) -> Option<DateTime<Utc>> {
        let c = self.campaigns.get(id.0)?;
        Some(local_instant(tz, c.campaign.send_at))
    }

    /// What a send of the campaign's rest group carries, for a contact in
    /// it: the winner, known only when the send falls due (`decide_after`
    /// past `send_at`), so the driver asks again then, with the results of
    /// that moment. `None`: no experiment, or not in its rest group.
    pub fn rest_content(&self, id: CampaignId, contact_id: &str) -> Option<Content<'p>> {
        let rt = self.campaigns.get(id.0)?;
        let Delivery::Experiment(x) = &rt.campaign.delivery else {
            return None;
        };
        let salt = format!("campaigns.{}", rt.name);
        (experiment::assign(x, contact_id, &salt) == Group::Rest).then_some(Content::Winner(x))
    }

    /// What the campaign sends the contact, if it is in the audience at `at`
    /// (the campaign's instant in the contact's time zone).
    pub fn campaign(
        &self,
        cx: &mut Cx,
        id: CampaignId,
        facts: &ContactFacts,
        at: DateTime<Utc>,
    ) -> Option<CampaignSend<'p>> {
        let rt = self.campaigns.get(id.0)?;
        if !self.holds(cx, facts, at, &rt.audience) {
            return None;
        }
        Some(match &rt.campaign.delivery {
            Delivery::Message(m) => CampaignSend::Send {
                at,
                content: Content::Message(m),
                group: None,
            },
            Delivery::Experiment(x) => {
                let salt = format!("campaigns.{}", rt.name);
                let group = experiment::assign(x, &facts.contact.id, &salt);
                match group {
                    Group::Holdout => CampaignSend::Holdout,
                    Group::Test(m) => CampaignSend::Send {
                        at,
                        content: Content::Message(m),
                        group: Some(group),
                    },
                    Group::Rest => CampaignSend::Send {
                        at: later(at, x.decide_after.map_or(DEFAULT_DECIDE_AFTER, |d| d.as_chrono())),
                        content: Content::Winner(x),
                        group: Some(group),
                    },
                }
            }
        })
    }
}
