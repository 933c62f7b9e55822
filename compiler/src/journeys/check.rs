//! Test files against the plan: every name resolved (messages, events and
//! their properties, consents, fields, scenarios), every value typed and
//! validated as a CRM row is, every time read in the contact's zone. A test
//! with an error is reported and left out; the others become [`TestCase`]s.

use super::{ContentCheck, ExitWhy, Expect, Expectation, NeverReason, TestCase, When};
use crate::ast::{Decl, Documents, ExpectDoc, ExpectKind, SmsEncodingDoc, TestDoc, TestTime, TimelineKind, ValueDoc};
use crate::check::Ctx;
use crate::contact::{FieldValue, Layout, Reason};
use crate::diagnostic::{Code, Diagnostic};
use crate::engine::local_instant;
use crate::engine::simulate::{Fact, Journey, StopKind, Timed};
use crate::model::{FieldType, Plan, Step};
use crate::source::{SourceSet, Span};
use crate::symbols::{SymbolKind, Symbols};
use crate::yaml::Sp;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet};

/// How long a test runs after the last instant it names, without `until`.
pub const DEFAULT_TAIL: TimeDelta = TimeDelta::days(7);

/// The longest test: long enough for yearly anniversaries and a half-year
/// reactivation, short enough to stay quick.
pub const MAX_SPAN: TimeDelta = TimeDelta::days(5 * 366);

/// Check the test files' tests against the plan.
/// `declared`: the symbols of `docs` (the compilation's).
pub fn check(
    plan: &Plan,
    docs: &Documents,
    declared: &Symbols,
    sources: &SourceSet,
    diags: &mut Vec<Diagnostic>,
    cache: &mut crate::Cache,
) -> Vec<TestCase> {
    let mut cx = Ctx {
        sources,
        diags,
        cache,
        broken: 0,
    };
    let layout = Layout::for_model(&plan.contact);
    let sent = sent_messages(plan);
    // Declarations the plan's check dropped for their own errors: a test
    // naming one is not told the name is unknown (that error is elsewhere),
    // and it does not run (the plan has errors).
    let senders = |k: SymbolKind| declared.all.iter().filter(|s| s.kind == k).count();
    let incomplete =
        senders(SymbolKind::Scenario) > plan.scenarios.len() || senders(SymbolKind::Campaign) > plan.campaigns.len();
    let tests: Vec<&Decl<TestDoc>> = cx.unique(&docs.tests, "test");
    let mut out = Vec::new();
    for decl in tests {
        let before = cx.diags.len();
        let mut t = Checker {
            plan,
            layout: &layout,
            sent: &sent,
            declared,
            incomplete,
            muted: false,
            cx: &mut cx,
        };
        let case = t.test(decl);
        let muted = t.muted;
        if cx.diags.len() == before
            && !muted
            && let Some(case) = case
        {
            out.push(case);
        }
    }
    out
}

/// Every message a campaign or a scenario step may send.
fn sent_messages(plan: &Plan) -> BTreeSet<&str> {
    fn steps<'p>(s: &'p [Step], out: &mut BTreeSet<&'p str>) {
        for step in s {
            match step {
                Step::Send { delivery, .. } => out.extend(delivery.messages()),
                Step::If { then, otherwise, .. } => {
                    steps(then, out);
                    steps(otherwise, out);
                }
                Step::WaitUntil { on_timeout, .. } => steps(on_timeout, out),
                Step::Wait { .. } | Step::Exit { .. } => {}
            }
        }
    }
    let mut out = BTreeSet::new();
    for c in plan.campaigns.values() {
        out.extend(c.delivery.messages());
    }
    for s in plan.scenarios.values() {
        steps(&s.steps, &mut out);
    }
    out
}

/// The reasons of a scenario's `exit` steps.
fn exit_reasons(steps: &[Step], out: &mut Vec<ExitWhy>) {
    for step in steps {
        match step {
            Step::Exit { reason, .. } => out.push(ExitWhy::Step(reason.clone())),
            Step::If { then, otherwise, .. } => {
                exit_reasons(then, out);
                exit_reasons(otherwise, out);
            }
            Step::WaitUntil { on_timeout, .. } => exit_reasons(on_timeout, out),
            Step::Send { .. } | Step::Wait { .. } => {}
        }
    }
}

struct Checker<'a, 'c, 's> {
    plan: &'a Plan,
    layout: &'a Layout,
    sent: &'a BTreeSet<&'a str>,
    declared: &'a Symbols,
    /// A campaign or scenario was dropped for its errors: what the plan
    /// sends is not known.
    incomplete: bool,
    /// A problem left unsaid (see `declared`): the test is not kept.
    muted: bool,
    cx: &'c mut Ctx<'s>,
}

fn names<T>(m: &BTreeMap<String, T>) -> BTreeMap<String, Span> {
    m.keys().map(|k| (k.clone(), Span::default())).collect()
}

impl Checker<'_, '_, '_> {
    fn push(&mut self, d: Diagnostic) {
        self.cx.diags.push(d);
    }

    /// An unknown name, unless the plan declares it and dropped it for its
    /// own errors.
    fn unknown(&mut self, code: Code, kind: SymbolKind, name: &Sp<String>, known: &BTreeMap<String, Span>) {
        if self.declared.find(kind, &name.value).is_some() {
            self.muted = true;
            return;
        }
        self.cx.unknown(code, kind.as_str(), name, known);
    }

    /// The text of a plain scalar as written (`+33612345678`, `0612`), for
    /// values YAML reads as numbers or booleans.
    fn raw(&self, v: &Sp<ValueDoc>) -> String {
        self.cx
            .sources
            .get(v.span.file)
            .map_or("", |f| f.slice(v.span))
            .trim()
            .to_string()
    }

    /// A value as the text of a CRM cell, or why it cannot be one.
    fn cell(&self, v: &Sp<ValueDoc>, list: bool) -> Result<String, String> {
        match &v.value {
            ValueDoc::Null => Ok(String::new()),
            ValueDoc::Text(s) => Ok(s.clone()),
            ValueDoc::Bool(_) | ValueDoc::Int(_) | ValueDoc::Float(_) => Ok(self.raw(v)),
            ValueDoc::List(items) if list => {
                let mut parts = Vec::new();
                for item in items {
                    let text = match &item.value {
                        ValueDoc::Text(s) => s.clone(),
                        ValueDoc::Bool(_) | ValueDoc::Int(_) | ValueDoc::Float(_) => self.raw(item),
                        other => return Err(format!("a list item is {}", other.describe())),
                    };
                    if text.contains('|') {
                        return Err("a list item holds `|`, which separates list items".into());
                    }
                    parts.push(text);
                }
                Ok(parts.join("|"))
            }
            other => Err(format!("{}, not a single value", other.describe())),
        }
    }

    /// A field value of the test contact or of a `set:` entry. With
    /// `invalid_address`, an email or phone that is not a valid address is
    /// kept, with its reason, as the runner keeps a CRM row's (the test
    /// expects `invalid-address`); otherwise it is an error (a typo).
    fn field(
        &mut self,
        name: &Sp<String>,
        v: &Sp<ValueDoc>,
        whose: &str,
        invalid_address: bool,
    ) -> Option<(usize, Option<FieldValue>, Option<Reason>)> {
        let Some(i) = self.layout.field(&name.value) else {
            let fields = names(&self.plan.contact.fields);
            self.unknown(Code::ReferenceUnknownField, SymbolKind::Field, name, &fields);
            return None;
        };
        let field = self.plan.contact.fields.get(&name.value)?;
        let list = matches!(field.ty, FieldType::List { .. });
        let typed = self.cell(v, list).and_then(|raw| {
            let typed = match invalid_address {
                true => self.layout.parse_field_keeping_invalid(i, &raw),
                false => self.layout.parse_field(i, &raw).map(|v| (v, None)),
            };
            typed.map_err(|r| r.to_string())
        });
        // How to test an invalid address, unless the test does already.
        let hint = if invalid_address {
            "A line break or a control character is refused even then, as in a CRM row."
        } else {
            "To test a contact whose address is not valid, expect `{ never: MESSAGE, reason: invalid-address }`."
        };
        match typed {
            Ok((value, invalid)) => Some((i, value, invalid)),
            Err(why) => {
                let help = match &field.ty {
                    FieldType::Phone => format!(
                        "Write the number in E.164 form, quoted so YAML keeps the `+`: `\"+33612345678\"`. {hint}"
                    ),
                    FieldType::Email => format!("Write an address such as `a@example.test`. {hint}"),
                    FieldType::Enum { values } => format!("Write one of `{}`.", values.join("`, `")),
                    FieldType::List { .. } => "Write a list: `[shoes, bags]`.".to_string(),
                    FieldType::Date => "Write a date: `1990-12-03`.".to_string(),
                    FieldType::Datetime => "Write a date and time: `2026-11-27T10:00:00Z`.".to_string(),
                    ty => format!("`{}` is {}: write a value of that type.", name.value, ty.describe()),
                };
                self.push(
                    Diagnostic::new(
                        Code::TestInvalidValue,
                        format!("`{}` of {whose} is not valid: {why}", name.value),
                    )
                    .at(v.span, format!("not {}", field.ty.describe()))
                    .help(help),
                );
                None
            }
        }
    }

    fn consent(&mut self, name: &Sp<String>) -> Option<usize> {
        let i = self.layout.consent(&name.value);
        if i.is_none() {
            let consents = names(&self.plan.contact.consents);
            self.unknown(Code::ReferenceUnknownConsent, SymbolKind::Consent, name, &consents);
        }
        i
    }

    fn message(&mut self, name: &Sp<String>) -> bool {
        if self.plan.messages.contains_key(&name.value) {
            return true;
        }
        let messages = names(&self.plan.messages);
        self.unknown(Code::ReferenceUnknownMessage, SymbolKind::Message, name, &messages);
        false
    }

    fn scenario(&mut self, name: &Sp<String>) -> bool {
        if self.plan.scenarios.contains_key(&name.value) {
            return true;
        }
        let scenarios = names(&self.plan.scenarios);
        self.unknown(Code::ReferenceUnknownScenario, SymbolKind::Scenario, name, &scenarios);
        false
    }

    /// A test time as an instant, read in `tz` when it has no offset.
    fn instant(&mut self, t: &Sp<TestTime>, tz: Tz) -> Option<DateTime<Utc>> {
        match t.value {
            TestTime::Fixed(dt) => Some(dt.with_timezone(&Utc)),
            TestTime::Local(local) => {
                if tz.from_local_datetime(&local).earliest().is_none() {
                    self.push(
                        Diagnostic::new(
                            Code::TestBadTime,
                            format!("{} does not exist in {tz}: the clocks go forward then", t.value),
                        )
                        .at(t.span, "a local time that is skipped")
                        .help("Write a time after the change (an hour later), or give an offset (`+01:00`)."),
                    );
                    return None;
                }
                Some(local_instant(tz, local))
            }
        }
    }

    fn test(&mut self, decl: &Decl<TestDoc>) -> Option<TestCase> {
        let d = &decl.doc;
        let name = &decl.name.value;
        // The contact, first: its time zone reads every local time.
        let mut contact = crate::contact::Contact {
            id: d
                .contact
                .value
                .id
                .as_ref()
                .map_or_else(|| name.clone(), |i| i.value.clone()),
            fields: vec![None; self.layout.fields.len()],
            consents: vec![Default::default(); self.layout.consents.len()],
            invalid: Vec::new(),
        };
        if let Some(id) = &d.contact.value.id
            && id.value.trim().is_empty()
        {
            self.push(
                Diagnostic::new(Code::TestInvalidValue, "the test contact's `id` is empty")
                    .at(id.span, "empty")
                    .help("Give an id such as `t1`, or leave `id` out: the test's name is used."),
            );
        }
        // An invalid address is meant when the test expects its drop.
        let invalid_address = d.expect.iter().filter_map(|e| e.0.as_ref()).any(|e| {
            matches!(e.value.kind, ExpectKind::Never(_))
                && e.value
                    .reason
                    .as_ref()
                    .is_some_and(|r| r.value == NeverReason::InvalidAddress.as_str())
        });
        for (field, v) in &d.contact.value.fields {
            if let Some((i, value, invalid)) = self.field(field, v, "the test contact", invalid_address) {
                contact.fields[i] = value;
                if let Some(reason) = invalid {
                    contact.invalid.push((i, reason));
                }
            }
        }
        contact.invalid.sort_by_key(|(i, _)| *i);
        for c in &d.contact.value.consents {
            if let Some(i) = self.consent(c) {
                contact.consents[i].given = true;
            }
        }
        let tz = match self.plan.contact.timezone_field().and_then(|f| self.layout.field(f)) {
            Some(i) => match contact.fields.get(i).and_then(Option::as_ref) {
                Some(FieldValue::Text(z)) => z.parse().unwrap_or(self.plan.config.timezone),
                _ => self.plan.config.timezone,
            },
            None => self.plan.config.timezone,
        };

        let start = self.instant(&d.start, tz);
        let mut latest = start;
        let mut timeline = Vec::new();
        for entry in d.timeline.iter().filter_map(|e| e.0.as_ref()) {
            let Some(at) = self.instant(&entry.value.at, tz) else {
                continue;
            };
            latest = latest.max(Some(at));
            if let Some(fact) = self.fact(&entry.value, invalid_address) {
                timeline.push(Timed { at, fact });
            }
        }
        let mut expectations = Vec::new();
        for e in d.expect.iter().filter_map(|e| e.0.as_ref()) {
            let when = match &e.value.at {
                Some(at) => {
                    let Some(t) = self.instant(at, tz) else { continue };
                    if let Some(s) = start
                        && t < s
                    {
                        self.push(
                            Diagnostic::new(Code::TestBadTime, "this expectation is before the test starts")
                                .at(at.span, "before `start`")
                                .related(d.start.span, "the test starts here")
                                .help("Start the test earlier, or expect something after its start."),
                        );
                    }
                    latest = latest.max(Some(t));
                    let within = e
                        .value
                        .within
                        .as_ref()
                        .map_or(TimeDelta::zero(), |w| w.value.as_chrono());
                    latest = latest.max(Some(t + within));
                    Some(When { at: t, within })
                }
                None => None,
            };
            if let Some(expect) = self.expectation(&e.value, when) {
                expectations.push(Expectation { span: e.span, expect });
            }
        }
        let start = start?;
        let until = match &d.until {
            Some(u) => {
                let t = self.instant(u, tz)?;
                if t < start {
                    self.push(
                        Diagnostic::new(Code::TestBadTime, "`until` is before `start`")
                            .at(u.span, "before the start")
                            .related(d.start.span, "the test starts here")
                            .help("The simulation runs from `start` to `until`: put `until` after `start`."),
                    );
                    return None;
                }
                t
            }
            None => latest.unwrap_or(start) + DEFAULT_TAIL,
        };
        if until - start > MAX_SPAN {
            let span = d.until.as_ref().map_or(decl.name.span, |u| u.span);
            self.push(
                Diagnostic::new(Code::TestBadTime, "this test spans more than five years")
                    .at(span, "too long a simulation")
                    .help(
                        "A journey test simulates at most five years; split it, or start it closer to what it checks.",
                    ),
            );
            return None;
        }
        Some(TestCase {
            name: name.clone(),
            span: decl.name.span,
            description: d.description.clone(),
            tz,
            journey: Journey {
                contact,
                start,
                until,
                timeline,
            },
            expectations,
        })
    }

    fn no_others(&mut self, others: &[(Sp<String>, Sp<ValueDoc>)], what: &str) {
        for (k, _) in others {
            self.push(
                Diagnostic::new(Code::SchemaUnknownKey, format!("unknown key `{}` in {what}", k.value))
                    .at(k.span, "unknown key")
                    .help(
                        "Only an `event:` entry has other keys (its properties); split the entry, or remove the key.",
                    ),
            );
        }
    }

    fn fact(&mut self, e: &crate::ast::TimelineDoc, invalid_address: bool) -> Option<Fact> {
        let stop = |this: &mut Self, m: &Sp<String>, kind| {
            this.message(m).then(|| Fact::Stopped {
                message: m.value.clone(),
                kind,
            })
        };
        if !matches!(e.kind, TimelineKind::Event(_)) {
            self.no_others(&e.others, "a timeline entry");
        }
        match &e.kind {
            TimelineKind::Event(name) => {
                let Some(event) = self.plan.contact.events.get(&name.value) else {
                    let events = names(&self.plan.contact.events);
                    self.unknown(Code::ReferenceUnknownEvent, SymbolKind::Event, name, &events);
                    return None;
                };
                let mut props: Vec<(String, Option<FieldValue>)> =
                    event.properties.keys().map(|p| (p.clone(), None)).collect();
                let mut ok = true;
                for (k, v) in &e.others {
                    let Some(ty) = event.properties.get(&k.value) else {
                        let known: BTreeMap<String, Span> =
                            event.properties.keys().map(|p| (p.clone(), Span::default())).collect();
                        let help =
                            crate::suggest::help_for(&k.value, known.keys().map(String::as_str), "its properties")
                                .unwrap_or_else(|| format!("`{}` has no properties.", name.value));
                        self.push(
                            Diagnostic::new(
                                Code::ReferenceUnknownProperty,
                                format!("event `{}` has no property `{}`", name.value, k.value),
                            )
                            .at(k.span, "not a property of this event")
                            .help(help),
                        );
                        ok = false;
                        continue;
                    };
                    let typed = self
                        .cell(v, false)
                        .and_then(|raw| crate::contact::parse_property(*ty, &raw).map_err(|r| r.to_string()));
                    match typed {
                        Ok(value) => {
                            if let Some(slot) = props.iter_mut().find(|(p, _)| *p == k.value) {
                                slot.1 = value;
                            }
                        }
                        Err(why) => {
                            let ty_name = FieldType::from_scalar(*ty).describe();
                            self.push(
                                Diagnostic::new(
                                    Code::TestInvalidValue,
                                    format!("property `{}` of event `{}` is not valid: {why}", k.value, name.value),
                                )
                                .at(v.span, format!("not {ty_name}"))
                                .help(format!("`{}` is {ty_name}: write a value of that type.", k.value)),
                            );
                            ok = false;
                        }
                    }
                }
                ok.then(|| Fact::Event {
                    name: name.value.clone(),
                    props,
                })
            }
            TimelineKind::Opened(m) => self.message(m).then(|| Fact::Opened(m.value.clone())),
            TimelineKind::Clicked(m) => self.message(m).then(|| Fact::Clicked(m.value.clone())),
            TimelineKind::Unsubscribed(m) => stop(self, m, StopKind::Unsubscribed),
            TimelineKind::Bounced(m) => stop(self, m, StopKind::Bounced),
            TimelineKind::Complained(m) => stop(self, m, StopKind::Complained),
            TimelineKind::ConsentGiven(c) => self.consent(c).map(|index| Fact::Consent { index, given: true }),
            TimelineKind::ConsentWithdrawn(c) => self.consent(c).map(|index| Fact::Consent { index, given: false }),
            TimelineKind::Set(pairs) => {
                if pairs.value.0.len() != 1 {
                    // One change per entry keeps the actual timeline readable
                    // and each change at its own place.
                    self.push(
                        Diagnostic::new(
                            Code::SchemaInvalidValue,
                            format!(
                                "`set` changes one field per entry, this one has {}",
                                pairs.value.0.len()
                            ),
                        )
                        .at(pairs.span, "one `FIELD: VALUE` here")
                        .help("Write one timeline entry per field that changes, at the same `at:`."),
                    );
                    return None;
                }
                let (field, v) = pairs.value.0.first()?;
                let (index, value, invalid) = self.field(field, v, "the `set` entry", invalid_address)?;
                Some(Fact::Set { index, value, invalid })
            }
        }
    }

    fn expectation(&mut self, e: &ExpectDoc, when: Option<When>) -> Option<Expect> {
        match &e.kind {
            ExpectKind::Send(m) => {
                if !self.message(m) {
                    return None;
                }
                if !self.sent.contains(m.value.as_str()) {
                    if self.incomplete {
                        self.muted = true;
                        return None;
                    }
                    self.push(
                        Diagnostic::new(
                            Code::TestImpossibleExpectation,
                            format!("no campaign or scenario sends `{}`", m.value),
                        )
                        .at(m.span, "never sent by this plan")
                        .help(format!(
                            "Send it from a campaign or a scenario step, or expect `{{ never: {} }}`.",
                            m.value
                        )),
                    );
                    return None;
                }
                let channel = self.plan.messages.get(&m.value)?.channel();
                let mut content = Vec::new();
                let mut ok = true;
                let mut wrong = |this: &mut Self, span: Span, key: &str, needs: &str| {
                    this.push(
                        Diagnostic::new(
                            Code::TestImpossibleExpectation,
                            format!("`{key}` checks {needs}, and `{}` is sent by {channel}", m.value),
                        )
                        .at(span, format!("not for {channel}"))
                        .help("Use `contains:` to check the text of any message."),
                    );
                    ok = false;
                };
                use crate::ast::values::Channel;
                if let Some(c) = &e.contains {
                    content.push(ContentCheck::Contains(c.value.clone()));
                }
                if let Some(s) = &e.subject {
                    if channel == Channel::Email {
                        content.push(ContentCheck::Subject(s.value.clone()));
                    } else {
                        wrong(self, s.span, "subject", "an email");
                    }
                }
                if let Some(n) = &e.segments {
                    if channel == Channel::Sms {
                        content.push(ContentCheck::Segments(n.value));
                    } else {
                        wrong(self, n.span, "segments", "an SMS");
                    }
                }
                if let Some(enc) = &e.encoding {
                    if channel == Channel::Sms {
                        content.push(ContentCheck::Encoding(match enc.value {
                            SmsEncodingDoc::Gsm7 => crate::sms::Encoding::Gsm7,
                            SmsEncodingDoc::Ucs2 => crate::sms::Encoding::Ucs2,
                        }));
                    } else {
                        wrong(self, enc.span, "encoding", "an SMS");
                    }
                }
                ok.then(|| Expect::Send {
                    message: m.value.clone(),
                    when,
                    content,
                })
            }
            ExpectKind::Never(m) => {
                if !self.message(m) {
                    return None;
                }
                let reason = match &e.reason {
                    None => None,
                    Some(r) => match NeverReason::ALL.into_iter().find(|n| n.as_str() == r.value) {
                        Some(n) => Some(n),
                        None => {
                            let all: Vec<&str> = NeverReason::ALL.iter().map(|n| n.as_str()).collect();
                            self.push(
                                Diagnostic::new(
                                    Code::SchemaInvalidValue,
                                    format!("`{}` is not a reason a send is dropped", r.value),
                                )
                                .at(r.span, "not a drop reason")
                                .maybe_help(
                                    crate::suggest::help_for(&r.value, all.iter().copied(), "the reasons")
                                        .or_else(|| Some(format!("Write one of `{}`.", all.join("`, `")))),
                                ),
                            );
                            return None;
                        }
                    },
                };
                Some(Expect::Never {
                    message: m.value.clone(),
                    reason,
                })
            }
            ExpectKind::Enter(s) => self.scenario(s).then(|| Expect::Enter {
                scenario: s.value.clone(),
                when,
            }),
            ExpectKind::Exit(s) => {
                if !self.scenario(s) {
                    return None;
                }
                let scenario = self.plan.scenarios.get(&s.value)?;
                let reason = match &e.reason {
                    None => None,
                    Some(r) => {
                        let why = ExitWhy::parse(&r.value);
                        let mut possible = vec![ExitWhy::Completed];
                        if scenario.exit_when.is_some() {
                            possible.push(ExitWhy::ExitWhen);
                        }
                        exit_reasons(&scenario.steps, &mut possible);
                        if !possible.contains(&why) {
                            let words: Vec<String> = possible.iter().map(|p| format!("`{}`", p.as_str())).collect();
                            self.push(
                                Diagnostic::new(
                                    Code::TestImpossibleExpectation,
                                    format!("scenario `{}` never exits for `{}`", s.value, r.value),
                                )
                                .at(r.span, "not a reason this scenario gives")
                                .help(format!(
                                    "Contacts leave `{}` for {}.",
                                    s.value,
                                    words.join(", ")
                                )),
                            );
                            return None;
                        }
                        Some(why)
                    }
                };
                Some(Expect::Exit {
                    scenario: s.value.clone(),
                    when,
                    reason,
                })
            }
        }
    }
}
