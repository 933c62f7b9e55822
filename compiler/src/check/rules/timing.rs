//! Every statically known send time against the sending windows of its
//! channel and purpose: a campaign's `send_at` (and the winner of its A/B
//! test, `decide_after` later), and in date-triggered scenarios the trigger's
//! time of day plus the waits before each send (the day varies from contact
//! to contact, the time of day does not).

use super::RuleCx;
use crate::ast::values::{Channel, Purpose};
use crate::calendar::{self, Window, WindowSource};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Campaign, Delivery, Plan, Scenario, Step, Trigger};
use crate::source::Span;
use chrono::{Datelike, NaiveDateTime, NaiveTime, TimeDelta, TimeZone};
use std::collections::BTreeSet;

pub fn check(cx: &mut RuleCx) {
    let plan = cx.plan;
    for (name, c) in &plan.campaigns {
        campaign(cx, name, c);
    }
    for (name, s) in &plan.scenarios {
        if let Trigger::Date { at, .. } = &s.trigger {
            date_scenario(cx, name, s, *at);
        }
    }
}

/// The channels and purposes of the messages a delivery may send.
fn kinds(plan: &Plan, delivery: &Delivery) -> BTreeSet<(Channel, Purpose)> {
    delivery
        .messages()
        .iter()
        .filter_map(|m| plan.messages.get(*m))
        .map(|m| (m.channel(), m.purpose))
        .collect()
}

/// Where the windows come from, in words.
fn rules_text(source: WindowSource, channel: Channel, purpose: Purpose) -> String {
    let what = if purpose == Purpose::Marketing {
        channel_name(channel).to_string()
    } else {
        format!("{} {purpose}", channel_name(channel))
    };
    match source {
        WindowSource::Policy => format!("the {what} windows of `policies.quiet_hours`"),
        WindowSource::Default(d) => {
            format!("{d} (Herald's default when `policies.quiet_hours` has none for {what} messages)")
        }
        WindowSource::None => "no window".to_string(),
    }
}

fn policy_window(plan: &Plan, channel: Channel, purpose: Purpose) -> Option<Span> {
    plan.policies
        .quiet_hours
        .iter()
        .find(|w| w.channel == channel && calendar::purpose_applies(w.purpose, purpose))
        .map(|w| w.span)
}

fn campaign(cx: &mut RuleCx, name: &str, c: &Campaign) {
    let plan = cx.plan;
    let tz = plan.config.timezone;
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
    for (channel, purpose) in kinds(plan, &c.delivery) {
        let (windows, source) = calendar::windows_for(&plan.policies, channel, purpose);
        if !calendar::allowed(&windows, at) {
            let d = outside(
                plan,
                &windows,
                (channel, purpose, source),
                at,
                format!(
                    "{} campaign `{name}` is scheduled outside the allowed sending hours",
                    channel_name(channel)
                ),
                "`send_at`",
            );
            cx.diags
                .push(d.at(c.send_at_span, label(&windows, source, channel, purpose, at)));
            continue;
        }
        // The rest of an A/B test gets the winner `decide_after` later.
        let Delivery::Experiment(x) = &c.delivery else { continue };
        if x.test_size.is_none_or(|t| t >= 100) {
            continue;
        }
        let after = x
            .decide_after
            .map_or(crate::model::DEFAULT_DECIDE_AFTER, |d| d.as_chrono());
        let Some(winner_at) = at.checked_add_signed(after) else {
            continue;
        };
        if calendar::allowed(&windows, winner_at) {
            continue;
        }
        let d = outside(
            plan,
            &windows,
            (channel, purpose, source),
            winner_at,
            format!(
                "the winner of campaign `{name}`'s test goes out outside the allowed {} sending hours",
                channel_name(channel)
            ),
            "`send_at` or `decide_after`",
        );
        let span = x.decide_after_span.unwrap_or(c.send_at_span);
        cx.diags.push(
            d.at(
                span,
                format!(
                    "`send_at` + {} = {}",
                    x.decide_after.map_or_else(|| "24h".to_string(), |d| d.to_string()),
                    label(&windows, source, channel, purpose, winner_at)
                ),
            )
            .related(c.send_at_span, "the test group's send"),
        );
    }
}

/// A diagnostic for a send at `at` outside `windows`, with the next allowed time.
fn outside(
    plan: &Plan,
    windows: &[Window],
    (channel, purpose, source): (Channel, Purpose, WindowSource),
    at: NaiveDateTime,
    message: String,
    what: &str,
) -> Diagnostic {
    let next = calendar::next_allowed(windows, at)
        .map(|n| {
            format!(
                "The next allowed time is {} ({what}: {}); or change `policies.quiet_hours`.",
                n.format("%A %Y-%m-%d %H:%M"),
                n.format("%Y-%m-%dT%H:%M")
            )
        })
        .unwrap_or_else(|| format!("Move {what} into an allowed window, or change `policies.quiet_hours`."));
    let mut d = Diagnostic::new(Code::TimingOutsideWindow, message).help(next);
    if source == WindowSource::Policy
        && let Some(span) = policy_window(plan, channel, purpose)
    {
        d = d.related(span, "the windows for these messages");
    }
    d
}

fn label(windows: &[Window], source: WindowSource, channel: Channel, purpose: Purpose, at: NaiveDateTime) -> String {
    let day = weekday_name(at.weekday());
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
    format!(
        "{why} at {} is outside {}",
        at.format("%H:%M"),
        rules_text(source, channel, purpose)
    )
}

/// A send of a date-triggered scenario, at a known time of day.
struct TimedSend<'p> {
    /// Minutes after the trigger.
    offset: u64,
    messages: Vec<&'p str>,
    span: Span,
}

/// The sends whose time after the trigger is known on every path: after
/// waits and `wait until` timeouts; not after a `wait until` met (its
/// moment depends on the contact).
fn timed<'p>(steps: &'p [Step], offset: Option<u64>, out: &mut Vec<TimedSend<'p>>) -> Option<u64> {
    let mut offset = offset;
    for step in steps {
        match step {
            Step::Send { delivery, span, .. } => {
                if let Some(o) = offset {
                    out.push(TimedSend {
                        offset: o,
                        messages: delivery.messages(),
                        span: *span,
                    });
                }
            }
            Step::Wait { duration, .. } => offset = offset.map(|o| o.saturating_add(duration.minutes())),
            Step::WaitUntil {
                timeout, on_timeout, ..
            } => {
                timed(on_timeout, offset.map(|o| o.saturating_add(timeout.minutes())), out);
                offset = None;
            }
            Step::If { then, otherwise, .. } => {
                let a = timed(then, offset, out);
                let b = timed(otherwise, offset, out);
                offset = if a == b { a } else { None };
            }
            Step::Exit { .. } => return None,
        }
    }
    offset
}

fn date_scenario(cx: &mut RuleCx, name: &str, s: &Scenario, at: NaiveTime) {
    let plan = cx.plan;
    let mut sends = Vec::new();
    timed(&s.steps, Some(0), &mut sends);
    let mut seen = BTreeSet::new();
    for t in sends {
        let time = at + TimeDelta::minutes(i64::try_from(t.offset % 1440).unwrap_or(0));
        for m in &t.messages {
            let Some(msg) = plan.messages.get(*m) else { continue };
            let (channel, purpose) = (msg.channel(), msg.purpose);
            let (windows, source) = calendar::windows_for(&plan.policies, channel, purpose);
            if calendar::allowed_some_day(&windows, time) || !seen.insert((t.span, channel, purpose)) {
                continue;
            }
            let when = if t.offset == 0 {
                format!("at {} (the trigger's time)", time.format("%H:%M"))
            } else {
                format!(
                    "at {} (the trigger's time + {})",
                    time.format("%H:%M"),
                    fmt_minutes(t.offset)
                )
            };
            let mut d = Diagnostic::new(
                Code::TimingOutsideWindow,
                format!(
                    "scenario `{name}` sends {} `{m}` outside the allowed sending hours on every day",
                    channel_name(channel)
                ),
            )
            .at(t.span, format!("{when}, outside {}", rules_text(source, channel, purpose)))
            .related(s.trigger_at_span, "the trigger's time of day")
            .help(format!(
                "Every such send would be deferred to the next allowed time. Move the trigger's `at` (or the waits before this send) into the windows: {}.",
                calendar::describe(&windows)
            ));
            if source == WindowSource::Policy
                && let Some(span) = policy_window(plan, channel, purpose)
            {
                d = d.related(span, "the windows for these messages");
            }
            cx.diags.push(d);
        }
    }
}

fn fmt_minutes(m: u64) -> String {
    let (d, h, min) = (m / 1440, (m % 1440) / 60, m % 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d}d"));
    }
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if min > 0 {
        parts.push(format!("{min}m"));
    }
    parts.join(" ")
}

fn weekday_name(d: chrono::Weekday) -> &'static str {
    match d {
        chrono::Weekday::Mon => "Monday",
        chrono::Weekday::Tue => "Tuesday",
        chrono::Weekday::Wed => "Wednesday",
        chrono::Weekday::Thu => "Thursday",
        chrono::Weekday::Fri => "Friday",
        chrono::Weekday::Sat => "Saturday",
        chrono::Weekday::Sun => "Sunday",
    }
}

fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Sms => "SMS",
        Channel::Email => "email",
        Channel::Push => "push",
        Channel::Call => "call",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_read_as_durations() {
        assert_eq!(fmt_minutes(90), "1h 30m");
        assert_eq!(fmt_minutes(2 * 1440 + 60), "2d 1h");
    }
}
