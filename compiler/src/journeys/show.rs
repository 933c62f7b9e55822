//! A simulation and a test's expectations in words, for every output of
//! `herald test` (people, JSON, JUnit).

use super::{ContentCheck, Expect, Expectation, When};
use crate::contact::FieldValue;
use crate::engine::simulate::{Fact, Happening, What};
use crate::engine::{Engine, Entry, ExitReason, Origin};
use crate::render::Rendered;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// `Fri 2026-11-27 10:05` in the test's zone (seconds when there are some).
pub fn time(t: DateTime<Utc>, tz: Tz) -> String {
    let local = t.with_timezone(&tz);
    if local.format("%S").to_string() == "00" {
        local.format("%a %Y-%m-%d %H:%M").to_string()
    } else {
        local.format("%a %Y-%m-%d %H:%M:%S").to_string()
    }
}

/// A text cut to `n` characters, on one line.
pub fn short(s: &str, n: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= n {
        one
    } else {
        let mut out: String = one.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn when(w: &Option<When>, tz: Tz) -> String {
    match w {
        None => String::new(),
        Some(w) if w.within.is_zero() => format!("at {}", time(w.at, tz)),
        Some(w) => format!(
            "at {} ±{}",
            time(w.at, tz),
            crate::ast::values::Duration::from_minutes(w.within.num_minutes().unsigned_abs())
                .map_or_else(|| format!("{}m", w.within.num_minutes()), |d| d.to_string())
        ),
    }
}

/// An expectation as the test file says it.
pub fn expectation(e: &Expectation, tz: Tz) -> String {
    let with_when = |what: String, w: &Option<When>| {
        let w = when(w, tz);
        if w.is_empty() { what } else { format!("{what} {w}") }
    };
    match &e.expect {
        Expect::Send { message, when, content } => {
            let mut s = with_when(format!("send {message}"), when);
            for c in content {
                s.push_str(&match c {
                    ContentCheck::Contains(t) => format!(", contains {:?}", short(t, 40)),
                    ContentCheck::Subject(t) => format!(", subject {:?}", short(t, 40)),
                    ContentCheck::Segments(n) => format!(", {n} segment{}", if *n == 1 { "" } else { "s" }),
                    ContentCheck::Encoding(enc) => format!(", {}", enc.as_str()),
                });
            }
            s
        }
        Expect::Never { message, reason } => match reason {
            None => format!("never {message}"),
            Some(r) => format!("never {message} ({})", r.as_str()),
        },
        Expect::Enter { scenario, when } => with_when(format!("enter {scenario}"), when),
        Expect::Exit { scenario, when, reason } => {
            let s = with_when(format!("exit {scenario}"), when);
            match reason {
                None => s,
                Some(r) => format!("{s} ({})", r.as_str()),
            }
        }
    }
}

pub fn origin(engine: &Engine, o: Origin) -> String {
    match o {
        Origin::Campaign(id) => format!("campaign {}", engine.campaign_name(id)),
        Origin::Scenario(id) => format!("scenario {}", engine.scenario_name(id)),
    }
}

pub fn exit_reason(r: &ExitReason) -> String {
    match r {
        ExitReason::Step(None) => "exit".into(),
        ExitReason::Step(Some(r)) => r.clone(),
        ExitReason::ExitWhen => "exit_when".into(),
        ExitReason::Lost => "lost".into(),
    }
}

fn entry(e: Entry) -> &'static str {
    match e {
        Entry::Enter => "entered",
        Entry::NotTriggered => "the trigger's `where` does not hold",
        Entry::Reentry => "the re-entry rule forbids it",
        Entry::NotInAudience => "not in the audience",
        Entry::ExitWhen => "`exit_when` already holds",
    }
}

/// What a rendered message says, briefly.
pub fn content(r: &Rendered) -> String {
    match r {
        Rendered::Email { subject, .. } => format!("subject {:?}", short(subject, 50)),
        Rendered::Sms { text, analysis } => format!(
            "{:?} ({}, {} segment{})",
            short(text, 50),
            analysis.encoding.as_str(),
            analysis.segments,
            if analysis.segments == 1 { "" } else { "s" }
        ),
        Rendered::Push { title, .. } => format!("title {:?}", short(title, 50)),
        Rendered::Call { script } => format!("script {:?}", short(script, 50)),
    }
}

fn value(v: &Option<FieldValue>) -> String {
    match v {
        None => "nothing".into(),
        Some(v) => short(&crate::contact::template_value(v).to_string(), 30),
    }
}

/// One happening of the actual timeline (without its time).
pub fn happening(engine: &Engine, h: &Happening, tz: Tz) -> String {
    let plan = engine.plan;
    let field = |i: usize| plan.contact.fields.keys().nth(i).map_or("?", String::as_str);
    let consent = |i: usize| plan.contact.consents.keys().nth(i).map_or("?", String::as_str);
    match &h.what {
        What::Entered { scenario } => format!("enter {}", engine.scenario_name(*scenario)),
        What::NotEntered { scenario, why } => {
            format!("not entered {}: {}", engine.scenario_name(*scenario), entry(*why))
        }
        What::NotInAudience { campaign } => {
            format!("campaign {}: not in its audience", engine.campaign_name(*campaign))
        }
        What::Holdout { origin: o, variants } => {
            format!(
                "{}: control group of {} (holdout)",
                origin(engine, *o),
                variants.join("/")
            )
        }
        What::Sent {
            message, rendered, due, ..
        } => {
            let late = if *due < h.at { " (deferred)" } else { "" };
            format!("sent {message}{late}: {}", content(rendered))
        }
        What::Failed { message, error, .. } => format!("failed {message}: {error}"),
        What::Deferred { message, until, .. } => {
            format!("deferred {message}: quiet hours until {}", time(*until, tz))
        }
        What::Dropped { message, reason, .. } => format!("dropped {message}: {}", reason.code(&engine.plan.policies)),
        What::Exited { scenario, reason } => {
            format!("exit {} ({})", engine.scenario_name(*scenario), exit_reason(reason))
        }
        What::Completed { scenario } => format!("exit {} (completed)", engine.scenario_name(*scenario)),
        What::Fact(f) => match f {
            Fact::Event { name, props } => {
                let given: Vec<String> = props
                    .iter()
                    .filter(|(_, v)| v.is_some())
                    .map(|(k, v)| format!("{k}: {}", value(v)))
                    .collect();
                if given.is_empty() {
                    format!("event {name}")
                } else {
                    format!("event {name} ({})", given.join(", "))
                }
            }
            Fact::Opened(m) => format!("opened {m}"),
            Fact::Clicked(m) => format!("clicked {m}"),
            Fact::Stopped { message, kind } => format!("{} {message}", kind.as_str()),
            Fact::Consent { index, given: true } => format!("consent given {}", consent(*index)),
            Fact::Consent { index, given: false } => format!("consent withdrawn {}", consent(*index)),
            Fact::Set { index, value: v, .. } => format!("set {} = {}", field(*index), value(v)),
        },
    }
}
