//! Pressure is a bound: for each rule, the most messages one contact can get
//! in any rolling window — from one scenario alone (every path through it),
//! or from campaigns whose audiences overlap.
//!
//! Semantics (documented in `herald explain pressure/scenario-exceeds-cap`):
//! windows are rolling and half-open (two sends exactly `per` apart are in
//! different windows); a rule counts marketing messages unless it names a
//! purpose; `wait until` may end at once (the worst case for pressure).

use super::RuleCx;
use super::logic::{disjoint, implies};
use crate::ast::Reentry;
use crate::ast::values::{Channel, Purpose};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Delivery, Message, PressureRule, Scenario, Step};
use crate::source::Span;
use std::collections::BTreeSet;

/// Paths explored per scenario before giving up on the rest (reported as a note).
const MAX_PATHS: usize = 4096;

pub fn check(cx: &mut RuleCx) {
    for (name, s) in &cx.plan.scenarios {
        scenario(cx, name, s);
    }
    campaigns(cx);
}

/// Whether a rule counts a message sent in `program` with extra `tags`.
pub fn counts(rule: &PressureRule, message: &Message, program: &str, tags: &[String]) -> bool {
    counts_send(
        rule,
        &Solicitation {
            channel: message.channel(),
            purpose: message.purpose,
            program,
            message_tags: &message.tags,
            origin_tags: tags,
        },
    )
}

/// What a pressure rule looks at in a send: enough to count sends of older
/// plan versions, whose messages may be gone.
#[derive(Clone, Copy, Debug)]
pub struct Solicitation<'a> {
    pub channel: Channel,
    pub purpose: Purpose,
    pub program: &'a str,
    pub message_tags: &'a [String],
    /// The campaign's tags (scenarios have none).
    pub origin_tags: &'a [String],
}

/// Whether a rule counts a send: its channel, purpose (marketing when the
/// rule names none), program and tag all match.
pub fn counts_send(rule: &PressureRule, s: &Solicitation) -> bool {
    if rule.channel.is_some_and(|c| c != s.channel) {
        return false;
    }
    let purpose_ok = match rule.purpose {
        Some(p) => s.purpose == p,
        None => s.purpose == Purpose::Marketing,
    };
    purpose_ok
        && rule.program.as_ref().is_none_or(|p| p == s.program)
        && rule
            .tag
            .as_ref()
            .is_none_or(|t| s.message_tags.contains(t) || s.origin_tags.contains(t))
}

/// "email marketing messages", "messages tagged `black_friday`"…
pub fn describe(rule: &PressureRule) -> String {
    let mut words = Vec::new();
    if let Some(c) = rule.channel {
        words.push(match c.as_str() {
            "sms" => "SMS".to_string(),
            other => other.to_string(),
        });
    }
    words.push(rule.purpose.unwrap_or(Purpose::Marketing).as_str().to_string());
    let mut s = format!("{} messages", words.join(" "));
    if let Some(p) = &rule.program {
        s.push_str(&format!(" of program `{p}`"));
    }
    if let Some(t) = &rule.tag {
        s.push_str(&format!(" tagged `{t}`"));
    }
    s
}

#[derive(Clone, Debug)]
struct TSend<'p> {
    at: u64,
    message: &'p str,
    span: Span,
}

/// Every path through a scenario (up to `MAX_PATHS`: beyond, the bound covers
/// the first paths only — real scenarios are far below it).
struct Explorer<'p> {
    paths: Vec<Vec<TSend<'p>>>,
}

impl<'p> Explorer<'p> {
    fn explore(&mut self, mut k: Vec<&'p [Step]>, mut at: u64, mut acc: Vec<TSend<'p>>) {
        loop {
            if self.paths.len() >= MAX_PATHS {
                return;
            }
            let Some(top) = k.last_mut() else {
                self.paths.push(acc);
                return;
            };
            let Some((step, rest)) = top.split_first() else {
                k.pop();
                continue;
            };
            *top = rest;
            match step {
                Step::Send { delivery, span } => match delivery {
                    Delivery::Message(m) => acc.push(TSend {
                        at,
                        message: m,
                        span: *span,
                    }),
                    Delivery::Experiment(e) => {
                        for v in &e.variants {
                            let mut a = acc.clone();
                            a.push(TSend {
                                at,
                                message: &v.message,
                                span: *span,
                            });
                            self.explore(k.clone(), at, a);
                        }
                        return;
                    }
                },
                Step::Wait { duration, .. } => at = at.saturating_add(duration.minutes()),
                Step::Exit { .. } => {
                    self.paths.push(acc);
                    return;
                }
                Step::If { then, otherwise, .. } => {
                    let mut k1 = k.clone();
                    k1.push(then);
                    self.explore(k1, at, acc.clone());
                    k.push(otherwise);
                    self.explore(k, at, acc);
                    return;
                }
                Step::WaitUntil {
                    timeout, on_timeout, ..
                } => {
                    // The condition may hold at once (worst case), or never.
                    self.explore(k.clone(), at, acc.clone());
                    k.push(on_timeout);
                    self.explore(k, at.saturating_add(timeout.minutes()), acc);
                    return;
                }
            }
        }
    }
}

fn fmt_offset(minutes: u64) -> String {
    let (d, rest) = (minutes / 1440, minutes % 1440);
    let (h, m) = (rest / 60, rest % 60);
    let mut s = format!("day {d}");
    if rest != 0 {
        s.push_str(&format!(" +{h}h"));
        if m != 0 {
            s.push_str(&format!("{m:02}"));
        }
    }
    s
}

/// The largest number of `times` (sorted) inside one half-open window of
/// `width`, and the index of its first element.
fn densest(times: &[u64], width: u64) -> (usize, usize) {
    let mut best = (0, 0);
    let mut j = 0;
    for i in 0..times.len() {
        if j < i {
            j = i;
        }
        while j < times.len() && times[j] < times[i].saturating_add(width) {
            j += 1;
        }
        if j - i > best.0 {
            best = (j - i, i);
        }
    }
    best
}

fn scenario(cx: &mut RuleCx, name: &str, s: &Scenario) {
    let mut ex = Explorer { paths: Vec::new() };
    ex.explore(vec![&s.steps[..]], 0, Vec::new());
    let plan = cx.plan;
    let marketing = ex.paths.iter().flatten().any(|t| {
        plan.messages
            .get(t.message)
            .is_some_and(|m| m.purpose == Purpose::Marketing)
    });
    if s.reentry == Reentry::Always && marketing {
        cx.diags.push(
            Diagnostic::new(
                Code::PressureUnboundedReentry,
                format!("scenario `{name}` sends marketing messages and may restart at every trigger"),
            )
            .at(s.span, "`reentry: always`")
            .help("Use `reentry: after 7d` (or `never`) so one contact cannot get these messages again and again."),
        );
    }
    for rule in &plan.policies.pressure {
        let window = rule.per.minutes();
        let mut worst: Option<(usize, Vec<TSend>)> = None;
        for path in &ex.paths {
            let mut sends: Vec<TSend> = path
                .iter()
                .filter(|t| {
                    plan.messages
                        .get(t.message)
                        .is_some_and(|m| counts(rule, m, &s.program, &[]))
                })
                .cloned()
                .collect();
            if sends.is_empty() {
                continue;
            }
            // Re-entry after D: the same path may start again every D.
            if let Reentry::After(d) = s.reentry {
                let d = d.minutes().max(1);
                let span_end = sends.iter().map(|t| t.at).max().unwrap_or(0);
                let base = sends.clone();
                let mut k = 1u64;
                while k.saturating_mul(d) < window.saturating_add(span_end) && k < 64 {
                    sends.extend(base.iter().map(|t| TSend {
                        at: t.at + k * d,
                        ..t.clone()
                    }));
                    k += 1;
                }
            }
            sends.sort_by_key(|t| t.at);
            let times: Vec<u64> = sends.iter().map(|t| t.at).collect();
            let (count, start) = densest(&times, window);
            if worst.as_ref().is_none_or(|(c, _)| count > *c) {
                let in_window: Vec<TSend> = sends[start..start + count].to_vec();
                worst = Some((count, in_window));
            }
        }
        let Some((count, timeline)) = worst else { continue };
        if count as u64 <= u64::from(rule.max) {
            continue;
        }
        let t0 = timeline.first().map_or(0, |t| t.at);
        let steps: Vec<String> = timeline
            .iter()
            .map(|t| {
                let ch = plan.messages.get(t.message).map_or("?", |m| m.channel().as_str());
                format!("{} {ch} `{}`", fmt_offset(t.at - t0), t.message)
            })
            .collect();
        let mut d = Diagnostic::new(
            Code::PressureScenarioExceedsCap,
            format!(
                "scenario `{name}` alone can send {count} {} in {}: the cap is {}",
                describe(rule),
                rule.per,
                rule.max
            ),
        )
        .at(
            s.span,
            format!("{} = {count} in {} > {}", steps.join(", "), rule.per, rule.max),
        )
        .related(rule.span, "the pressure rule");
        let mut seen = BTreeSet::new();
        for t in &timeline {
            if seen.insert(t.span) {
                d = d.related(t.span, format!("sends `{}`", t.message));
            }
        }
        let reentry = matches!(s.reentry, Reentry::After(r) if r.minutes() < rule.per.minutes());
        let help = if reentry {
            format!(
                "Make the re-entry delay at least {} (`reentry: after {}`), space the sends, or change the rule.",
                rule.per, rule.per
            )
        } else {
            format!(
                "Space the sends so that at most {} fall in any {}, merge messages, or change the rule.",
                rule.max, rule.per
            )
        };
        cx.diags.push(d.help(help));
    }
}

fn campaigns(cx: &mut RuleCx) {
    let plan = cx.plan;
    for rule in &plan.policies.pressure {
        let mut list: Vec<(&str, &crate::model::Campaign)> = plan
            .campaigns
            .iter()
            .filter(|(_, c)| {
                c.delivery.messages().iter().any(|m| {
                    plan.messages
                        .get(*m)
                        .is_some_and(|m| counts(rule, m, &c.program, &c.tags))
                })
            })
            .map(|(n, c)| (n.as_str(), c))
            .collect();
        list.sort_by_key(|(n, c)| (c.send_at, *n));
        let window = rule.per.as_chrono();
        let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
        for i in 0..list.len() {
            let t = list[i].1.send_at;
            let group: Vec<(&str, &crate::model::Campaign)> = list[i..]
                .iter()
                // Checked: a window past the end of time holds every later campaign.
                .take_while(|(_, c)| t.checked_add_signed(window).is_none_or(|end| c.send_at < end))
                .copied()
                .collect();
            if group.len() as u64 <= u64::from(rule.max) {
                continue;
            }
            // Proven: everyone in c's audience is in each of these audiences.
            let mut finding: Option<(Code, Vec<(&str, &crate::model::Campaign)>)> = None;
            for (_, c) in &group {
                let s: Vec<(&str, &crate::model::Campaign)> = group
                    .iter()
                    .filter(|(_, d)| implies(plan, &c.audience, &d.audience))
                    .copied()
                    .collect();
                if s.len() as u64 > u64::from(rule.max) {
                    finding = Some((Code::PressureCampaignsExceedCap, s));
                    break;
                }
            }
            if finding.is_none() {
                for (_, c) in &group {
                    let mut m: Vec<(&str, &crate::model::Campaign)> = Vec::new();
                    for d in &group {
                        if !disjoint(plan, &c.audience, &d.1.audience)
                            && m.iter().all(|x| !disjoint(plan, &x.1.audience, &d.1.audience))
                        {
                            m.push(*d);
                        }
                    }
                    if m.len() as u64 > u64::from(rule.max) {
                        finding = Some((Code::PressureCampaignsMayExceedCap, m));
                        break;
                    }
                }
            }
            let Some((code, set)) = finding else { continue };
            let mut names: Vec<&str> = set.iter().map(|(n, _)| *n).collect();
            names.sort_unstable();
            if !reported.insert(names.clone()) {
                continue;
            }
            let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            let (verb, help) = if code == Code::PressureCampaignsExceedCap {
                (
                    "send to the same contacts",
                    "Move one campaign out of the window, make the audiences disjoint (`and not segment(...)`), or merge them.".to_string(),
                )
            } else {
                (
                    "may reach the same contacts",
                    "Make the audiences disjoint if they must not overlap; `herald plan` counts the real overlap on your contacts.".to_string(),
                )
            };
            let Some((last_name, last)) = set.last() else { continue };
            let mut d = Diagnostic::new(
                code,
                format!(
                    "campaigns {} {verb} within {}: {} {}, the cap is {}",
                    quoted.join(", "),
                    rule.per,
                    set.len(),
                    describe(rule),
                    rule.max
                ),
            )
            .at(last.send_at_span, format!("`{last_name}` is the message over the cap"))
            .related(rule.span, "the pressure rule");
            for (n, c) in &set[..set.len() - 1] {
                d = d.related(c.send_at_span, format!("`{n}`"));
            }
            cx.diags.push(d.help(help));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn densest_window_is_half_open() {
        assert_eq!(densest(&[0, 2880, 5760], 10080), (3, 0));
        assert_eq!(densest(&[0, 1440], 1440), (1, 0), "24 h apart: two windows");
        assert_eq!(densest(&[0, 1439], 1440), (2, 0));
        assert_eq!(densest(&[], 10), (0, 0));
    }

    #[test]
    fn offsets_read_as_days() {
        assert_eq!(fmt_offset(0), "day 0");
        assert_eq!(fmt_offset(2 * 1440), "day 2");
        assert_eq!(fmt_offset(1440 + 60), "day 1 +1h");
        assert_eq!(fmt_offset(90), "day 0 +1h30");
    }
}
