//! Pressure is a bound: for each rule, the most messages one contact can get
//! in any rolling window — from one scenario alone (every path through it),
//! or from campaigns whose audiences overlap.
//!
//! Semantics (documented in `herald explain pressure/scenario-exceeds-cap`):
//! windows are rolling and half-open (two sends exactly `per` apart are in
//! different windows); a rule counts marketing messages unless it names a
//! purpose; `wait until` may end at once (the worst case for pressure); a
//! send and its fallbacks (`fallback_for`) are one solicitation, counted once.

use super::RuleCx;
use super::logic::{Atoms, Prepared};
use crate::ast::Reentry;
use crate::ast::values::{Channel, Purpose};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Campaign, Delivery, Fallback, Message, PressureRule, Scenario, Step};
use crate::source::Span;
use std::collections::{BTreeMap, BTreeSet};

/// Paths explored per scenario before giving up on the rest (reported as a note).
const MAX_PATHS: usize = 4096;

/// Sends of a timeline shown in a diagnostic's label.
const TIMELINE_SHOWN: usize = 6;

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
    delivery: &'p Delivery,
    span: Span,
    /// The solicitation: the index (in the path) of its first send.
    thread: usize,
}

/// Every path through a scenario (up to `MAX_PATHS`: beyond, the bound covers
/// the first paths only — real scenarios are far below it).
struct Explorer<'p> {
    paths: Vec<Vec<TSend<'p>>>,
}

/// The thread of a send at index `own` of a path: its own, or for a
/// fallback the thread of the latest earlier send of its primary message.
fn thread_of(acc: &[TSend], fallback: Option<&Fallback>, own: usize) -> usize {
    fallback
        .and_then(|f| {
            acc.iter()
                .rev()
                .find(|t| t.delivery.messages().contains(&f.message.as_str()))
        })
        .map_or(own, |t| t.thread)
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
                Step::Send {
                    delivery,
                    fallback_for,
                    span,
                } => {
                    let thread = thread_of(&acc, fallback_for.as_ref(), acc.len());
                    match delivery {
                        Delivery::Message(m) => acc.push(TSend {
                            at,
                            message: m,
                            delivery,
                            span: *span,
                            thread,
                        }),
                        Delivery::Experiment(e) => {
                            for v in &e.variants {
                                let mut a = acc.clone();
                                a.push(TSend {
                                    at,
                                    message: &v.message,
                                    delivery,
                                    span: *span,
                                    thread,
                                });
                                self.explore(k.clone(), at, a);
                            }
                            return;
                        }
                    }
                }
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

/// The most solicitations inside one half-open window of `width`, over
/// sends sorted by time (`(time, thread)`): a thread counts once, at any of
/// its sends in the window. Returns the count and the range of sends.
fn densest(sends: &[(u64, usize)], width: u64) -> (usize, std::ops::Range<usize>) {
    let mut best = (0, 0..0);
    let mut threads: Vec<usize> = Vec::new();
    for i in 0..sends.len() {
        threads.clear();
        let mut j = i;
        while j < sends.len() && sends[j].0 < sends[i].0.saturating_add(width) {
            threads.push(sends[j].1);
            j += 1;
        }
        threads.sort_unstable();
        threads.dedup();
        if threads.len() > best.0 {
            best = (threads.len(), i..j);
        }
    }
    best
}

/// The rule's place, or the baseline's words.
fn with_rule(d: Diagnostic, rule: &PressureRule) -> Diagnostic {
    match rule.span {
        Some(span) => d.related(span, "the pressure rule"),
        None => d,
    }
}

/// A help sentence, saying when the rule is one of the baseline's.
fn rule_help(help: String, rule: &PressureRule) -> String {
    if rule.baseline.is_some() {
        format!(
            "{help} This cap is the practice's baseline (the plan writes no `policies.pressure`); list your own caps there to replace it."
        )
    } else {
        help
    }
}

fn scenario(cx: &mut RuleCx, name: &str, s: &Scenario) {
    let mut ex = Explorer { paths: Vec::new() };
    ex.explore(vec![&s.steps[..]], 0, Vec::new());
    let plan = cx.plan;
    fallbacks(cx, name, &ex.paths);
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
            // Re-entry after D: the same path may start again every D (as
            // new solicitations).
            if let Reentry::After(d) = s.reentry {
                let d = d.minutes().max(1);
                let span_end = sends.iter().map(|t| t.at).max().unwrap_or(0);
                let base = sends.clone();
                let mut k = 1u64;
                while k.saturating_mul(d) < window.saturating_add(span_end) && k < 64 {
                    sends.extend(base.iter().map(|t| TSend {
                        at: t.at + k * d,
                        thread: t.thread + (k as usize) * path.len(),
                        ..t.clone()
                    }));
                    k += 1;
                }
            }
            sends.sort_by_key(|t| t.at);
            let times: Vec<(u64, usize)> = sends.iter().map(|t| (t.at, t.thread)).collect();
            let (count, range) = densest(&times, window);
            if worst.as_ref().is_none_or(|(c, _)| count > *c) {
                worst = Some((count, sends[range].to_vec()));
            }
        }
        let Some((count, timeline)) = worst else { continue };
        if count as u64 <= u64::from(rule.max) {
            continue;
        }
        let t0 = timeline.first().map_or(0, |t| t.at);
        let mut steps: Vec<String> = timeline
            .iter()
            .take(TIMELINE_SHOWN)
            .map(|t| {
                let ch = plan.messages.get(t.message).map_or("?", |m| m.channel().as_str());
                format!("{} {ch} `{}`", fmt_offset(t.at - t0), t.message)
            })
            .collect();
        // A re-entering scenario can fill a window with dozens of sends:
        // the first few say enough.
        if timeline.len() > TIMELINE_SHOWN {
            steps.push(format!("… {} more sends", timeline.len() - TIMELINE_SHOWN));
        }
        let mut d = with_rule(
            Diagnostic::new(
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
            ),
            rule,
        );
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
            let cascade = timeline.windows(2).any(|w| {
                let ch = |t: &TSend| plan.messages.get(t.message).map(|m| m.channel());
                ch(&w[0]) != ch(&w[1])
            });
            if cascade {
                format!(
                    "Space the sends so that at most {} fall in any {}, merge messages, or change the rule. A send that stands in for an earlier one on another channel (email, then SMS if not opened) is the same solicitation: mark it `fallback_for: MESSAGE` so caps count it once.",
                    rule.max, rule.per
                )
            } else {
                format!(
                    "Space the sends so that at most {} fall in any {}, merge messages, or change the rule.",
                    rule.max, rule.per
                )
            }
        };
        cx.diags.push(d.help(rule_help(help, rule)));
    }
}

/// A fallback goes on another channel than the send it stands in for (the
/// same channel twice is a second solicitation, not a cascade).
fn fallbacks(cx: &mut RuleCx, name: &str, paths: &[Vec<TSend>]) {
    let plan = cx.plan;
    let mut reported = BTreeSet::new();
    for path in paths {
        for (i, t) in path.iter().enumerate() {
            if t.thread == i {
                continue;
            }
            let Some(primary) = path.get(t.thread) else { continue };
            let channel = |m: &str| plan.messages.get(m).map(|m| m.channel());
            if channel(t.message) != channel(primary.message) || !reported.insert(t.span) {
                continue;
            }
            let ch = channel(t.message).map_or("?", |c| c.as_str());
            cx.diags.push(
                Diagnostic::new(
                    Code::PressureInvalidFallback,
                    format!(
                        "`{}` falls back for `{}` on the same channel ({ch}) in scenario `{name}`",
                        t.message, primary.message
                    ),
                )
                .at(t.span, "a second message on the same channel")
                .related(primary.span, "the send it falls back for")
                .help("A fallback is the same solicitation on another channel (email, then SMS). A second message on the same channel is a new solicitation: remove `fallback_for`."),
            );
        }
    }
}

/// Campaigns as the cap's windows see them.
struct Counted<'p> {
    name: &'p str,
    campaign: &'p Campaign,
    /// The audience's facts (prepared once, shared by every rule).
    facts: &'p Prepared,
}

/// Campaigns in one window whose audiences provably overlap (one implies
/// the others) and exceed a cap are an error; when they may overlap (not
/// provably disjoint), a warning.
///
/// A sweep in time order, so that the work grows with the campaigns times
/// the campaigns of one window, not with their square: each campaign in
/// turn is the last of a window `(t - per, t]`; for each campaign `c` of the
/// window, `implied[c]` counts the window's campaigns whose audience holds
/// for everyone in `c`'s (kept up to date as the window slides). The
/// campaign is over the cap when some `c` implying it reaches `max + 1`
/// (proven), or when `max` earlier campaigns of the window may reach its
/// contacts and each other's (may). Each campaign is reported at most once
/// per rule, with `max + 1` campaigns.
fn campaigns(cx: &mut RuleCx) {
    let plan = cx.plan;
    let mut atoms = Atoms::new(plan);
    // The audiences' facts, once for every rule.
    let prepared: BTreeMap<&str, Prepared> = plan
        .campaigns
        .iter()
        .map(|(n, c)| (n.as_str(), atoms.prepare(&c.audience)))
        .collect();
    for rule in &plan.policies.pressure {
        let mut list: Vec<Counted> = plan
            .campaigns
            .iter()
            .filter(|(_, c)| {
                c.delivery.messages().iter().any(|m| {
                    plan.messages
                        .get(*m)
                        .is_some_and(|m| counts(rule, m, &c.program, &c.tags))
                })
            })
            .filter_map(|(n, c)| {
                Some(Counted {
                    name: n.as_str(),
                    campaign: c,
                    facts: prepared.get(n.as_str())?,
                })
            })
            .collect();
        if list.len() as u64 <= u64::from(rule.max) {
            continue;
        }
        list.sort_by_key(|c| (c.campaign.send_at, c.name));
        let max = rule.max as usize;
        let window = rule.per.as_chrono();
        let mut start = 0;
        // implied[c - start]: campaigns x of the window with implies(c, x).
        let mut implied: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
        for k in 0..list.len() {
            let t = list[k].campaign.send_at;
            // Slide the start: drop campaigns at or before t - per.
            while start < k
                && list[start]
                    .campaign
                    .send_at
                    .checked_add_signed(window)
                    .is_some_and(|end| end <= t)
            {
                let gone = list[start].facts;
                implied.pop_front();
                for (i, n) in implied.iter_mut().enumerate() {
                    if atoms.implies(list[start + 1 + i].facts, gone) {
                        *n -= 1;
                    }
                }
                start += 1;
            }
            // Add k: it counts for every c implying it, and counts its own.
            let new = list[k].facts;
            let mut own = 1;
            for (i, n) in implied.iter_mut().enumerate() {
                let c = list[start + i].facts;
                if atoms.implies(c, new) {
                    *n += 1;
                }
                if atoms.implies(new, c) {
                    own += 1;
                }
            }
            implied.push_back(own);
            if k - start < max {
                continue;
            }
            let members = start..=k;
            let proven = implied
                .iter()
                .enumerate()
                .find(|(i, n)| **n > max && atoms.implies(list[start + i].facts, new))
                .map(|(i, _)| start + i);
            let (code, set): (Code, Vec<usize>) = if let Some(c) = proven {
                let mut set: Vec<usize> = members
                    .clone()
                    .filter(|&x| x != k && atoms.implies(list[c].facts, list[x].facts))
                    .take(max)
                    .collect();
                set.push(k);
                (Code::PressureCampaignsExceedCap, set)
            } else {
                // Earlier campaigns that may reach k's contacts and each other's.
                let mut set: Vec<usize> = Vec::with_capacity(max + 1);
                for x in start..k {
                    if set.len() == max {
                        break;
                    }
                    let fx = list[x].facts;
                    if !atoms.disjoint(fx, new) && set.iter().all(|&y| !atoms.disjoint(list[y].facts, fx)) {
                        set.push(x);
                    }
                }
                if set.len() < max {
                    continue;
                }
                set.push(k);
                (Code::PressureCampaignsMayExceedCap, set)
            };
            report(cx, rule, code, &list, &set);
        }
    }
}

fn report(cx: &mut RuleCx, rule: &PressureRule, code: Code, list: &[Counted], set: &[usize]) {
    let mut names: Vec<&str> = set.iter().map(|&i| list[i].name).collect();
    names.sort_unstable();
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    let (verb, help) = if code == Code::PressureCampaignsExceedCap {
        (
            "send to the same contacts",
            "Move one campaign out of the window, make the audiences disjoint (`and not segment(...)`), or merge them."
                .to_string(),
        )
    } else {
        (
            "may reach the same contacts",
            "Make the audiences disjoint if they must not overlap; `herald plan` counts the real overlap on your contacts.".to_string(),
        )
    };
    let Some((&last, earlier)) = set.split_last() else {
        return;
    };
    let last = &list[last];
    let mut d = with_rule(
        Diagnostic::new(
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
        .at(
            last.campaign.send_at_span,
            format!("`{}` is the message over the cap", last.name),
        ),
        rule,
    );
    for &i in earlier {
        d = d.related(list[i].campaign.send_at_span, format!("`{}`", list[i].name));
    }
    cx.diags.push(d.help(rule_help(help, rule)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn densest_window_is_half_open_and_counts_threads_once() {
        let own = |ts: &[u64]| ts.iter().enumerate().map(|(i, &t)| (t, i)).collect::<Vec<_>>();
        assert_eq!(densest(&own(&[0, 2880, 5760]), 10080), (3, 0..3));
        assert_eq!(densest(&own(&[0, 1440]), 1440).0, 1, "24 h apart: two windows");
        assert_eq!(densest(&own(&[0, 1439]), 1440), (2, 0..2));
        assert_eq!(densest(&[], 10), (0, 0..0));
        // An email and its SMS fallback a day later: one solicitation.
        assert_eq!(densest(&[(0, 0), (1440, 0)], 14 * 1440).0, 1);
        assert_eq!(densest(&[(0, 0), (1440, 0), (2880, 2)], 14 * 1440).0, 2);
    }

    #[test]
    fn offsets_read_as_days() {
        assert_eq!(fmt_offset(0), "day 0");
        assert_eq!(fmt_offset(2 * 1440), "day 2");
        assert_eq!(fmt_offset(1440 + 60), "day 1 +1h");
        assert_eq!(fmt_offset(90), "day 0 +1h30");
    }
}
