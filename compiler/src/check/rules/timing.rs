//! Campaign send times against the sending windows of their channels.

use super::RuleCx;
use crate::calendar::{self, WindowSource};
use crate::diagnostic::{Code, Diagnostic};
use chrono::{Datelike, TimeZone};
use std::collections::BTreeSet;

pub fn check(cx: &mut RuleCx) {
    let plan = cx.plan;
    let tz = plan.config.timezone;
    for (name, c) in &plan.campaigns {
        let at = c.send_at;
        // Send times are local; "in the past" is judged in the project time zone.
        let utc = tz
            .from_local_datetime(&at)
            .earliest()
            .map(|t| t.with_timezone(&chrono::Utc));
        if utc.is_some_and(|t| t < cx.now) {
            cx.diags.push(
                Diagnostic::new(
                    Code::TimingInThePast,
                    format!("campaign `{name}` is scheduled in the past"),
                )
                .at(
                    c.send_at_span,
                    format!("{} ({}) has passed", at.format("%Y-%m-%d %H:%M"), tz.name()),
                )
                .help("Update `send_at`, or delete the campaign if it was sent already."),
            );
        }
        let channels: BTreeSet<_> = c
            .delivery
            .messages()
            .iter()
            .filter_map(|m| plan.messages.get(*m))
            .map(|m| m.channel())
            .collect();
        for channel in channels {
            let (windows, source) = calendar::windows_for(&plan.policies, channel);
            if calendar::allowed(&windows, at) {
                continue;
            }
            let day = match at.weekday() {
                chrono::Weekday::Mon => "Monday",
                chrono::Weekday::Tue => "Tuesday",
                chrono::Weekday::Wed => "Wednesday",
                chrono::Weekday::Thu => "Thursday",
                chrono::Weekday::Fri => "Friday",
                chrono::Weekday::Sat => "Saturday",
                chrono::Weekday::Sun => "Sunday",
            };
            let holiday = windows
                .iter()
                .filter_map(|w| w.holidays)
                .any(|h| calendar::is_holiday(h, at.date()));
            let date = at.format("%Y-%m-%d");
            let why = if holiday {
                format!("{day} {date} (a public holiday)")
            } else {
                format!("{day} {date}")
            };
            let rules = match source {
                WindowSource::Policy => format!("the {channel} windows of `policies.quiet_hours`"),
                WindowSource::Default(d) => {
                    format!("{d} (Herald's default when `policies.quiet_hours` has none for {channel})")
                }
                WindowSource::None => "no window".to_string(),
            };
            let next = calendar::next_allowed(&windows, at)
                .map(|n| {
                    format!(
                        "The next allowed time is {} (`send_at: {}`); or change `policies.quiet_hours`.",
                        n.format("%A %Y-%m-%d %H:%M"),
                        n.format("%Y-%m-%dT%H:%M")
                    )
                })
                .unwrap_or_else(|| {
                    "Move `send_at` into an allowed window, or change `policies.quiet_hours`.".to_string()
                });
            let mut d = Diagnostic::new(
                Code::TimingOutsideWindow,
                format!(
                    "{} campaign `{name}` is scheduled outside the allowed sending hours",
                    channel_name(channel)
                ),
            )
            .at(
                c.send_at_span,
                format!("{why} at {} is outside {rules}", at.format("%H:%M")),
            )
            .help(next);
            if source == WindowSource::Policy
                && let Some(w) = plan.policies.quiet_hours.iter().find(|w| w.channel == channel)
            {
                d = d.related(w.span, "the windows for this channel");
            }
            cx.diags.push(d);
        }
    }
}

fn channel_name(c: crate::ast::values::Channel) -> &'static str {
    match c {
        crate::ast::values::Channel::Sms => "SMS",
        crate::ast::values::Channel::Email => "email",
        crate::ast::values::Channel::Push => "push",
        crate::ast::values::Channel::Call => "call",
    }
}
