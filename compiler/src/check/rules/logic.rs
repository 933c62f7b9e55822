//! Sound reasoning on conditions: consent proofs, implication and
//! disjointness of audiences. "Sound" here means: when these functions say
//! yes, it is true for every contact; they may say no when a smarter prover
//! would say yes.

use crate::ast::values::Channel;
use crate::model::{Cond, CondKind, Plan};
use std::collections::BTreeSet;

/// Segments nest; cycles were rejected, but bound the expansion anyway.
const MAX_DEPTH: usize = 32;

/// What a send needs a consent for: its channel, and its topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need<'a> {
    pub channel: Channel,
    pub topic: Option<&'a str>,
}

impl From<Channel> for Need<'_> {
    fn from(channel: Channel) -> Self {
        Need { channel, topic: None }
    }
}

/// The consents (covering `need`) that `cond` — or `not cond` when
/// `positive` is false — guarantees, or `None` when it guarantees none.
pub fn proves_consent<'a>(
    plan: &Plan,
    cond: &Cond,
    positive: bool,
    need: impl Into<Need<'a>>,
) -> Option<BTreeSet<String>> {
    prove(plan, cond, positive, need.into(), 0)
}

fn prove(plan: &Plan, cond: &Cond, positive: bool, channel: Need, depth: usize) -> Option<BTreeSet<String>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let all = |xs: &[Cond], pos: bool| -> Option<BTreeSet<String>> {
        let mut acc = BTreeSet::new();
        for x in xs {
            acc.extend(prove(plan, x, pos, channel, depth + 1)?);
        }
        Some(acc)
    };
    let any = |xs: &[Cond], pos: bool| xs.iter().find_map(|x| prove(plan, x, pos, channel, depth + 1));
    match (&cond.kind, positive) {
        (CondKind::Consent { name }, true) => {
            let c = plan.contact.consents.get(name)?;
            c.covers(channel.channel, channel.topic)
                .then(|| BTreeSet::from([name.clone()]))
        }
        // a and b: one side is enough; a or b: every side must prove.
        (CondKind::And { all: xs }, true) | (CondKind::Or { any: xs }, false) => any(xs, positive),
        (CondKind::Or { any: xs }, true) | (CondKind::And { all: xs }, false) => all(xs, positive),
        (CondKind::Not { cond }, p) => prove(plan, cond, !p, channel, depth + 1),
        (CondKind::Segment { name }, p) => {
            let s = plan.segments.get(name)?;
            prove(plan, &s.condition, p, channel, depth + 1)
        }
        // Nobody matches: vacuously proven.
        (CondKind::Const { value: false }, true) | (CondKind::Const { value: true }, false) => Some(BTreeSet::new()),
        _ => None,
    }
}

/// Whether the facts (conditions known to hold, or known not to hold when
/// `false`) together guarantee a consent on `channel`. Beyond the direct
/// proof, it splits cases on disjunctions, so `(consent(sms) or consent(email))
/// and not consent(sms)` proves email consent; contradictory facts prove
/// anything (no contact gets there).
pub fn facts_prove_consent<'a>(plan: &Plan, facts: &[(&Cond, bool)], need: impl Into<Need<'a>>) -> bool {
    let mut budget = 256usize;
    let owned: Vec<(Cond, bool)> = facts.iter().map(|(c, p)| ((*c).clone(), *p)).collect();
    split(plan, owned, need.into(), &mut budget, 0)
}

fn split(plan: &Plan, facts: Vec<(Cond, bool)>, channel: Need, budget: &mut usize, depth: usize) -> bool {
    if facts
        .iter()
        .any(|(c, p)| proves_consent(plan, c, *p, channel).is_some())
    {
        return true;
    }
    if depth > MAX_DEPTH || *budget == 0 {
        return false;
    }
    *budget -= 1;
    // Flatten conjunctions and expand segments into plain facts.
    let mut flat: Vec<(Cond, bool)> = Vec::new();
    let mut stack = facts;
    let mut steps = 0;
    while let Some((c, p)) = stack.pop() {
        steps += 1;
        if steps > 4096 {
            return false;
        }
        match (&c.kind, p) {
            (CondKind::And { all: xs }, true) | (CondKind::Or { any: xs }, false) => {
                stack.extend(xs.iter().map(|x| (x.clone(), p)));
            }
            (CondKind::Not { cond }, p) => stack.push(((**cond).clone(), !p)),
            (CondKind::Segment { name }, p) => match plan.segments.get(name) {
                Some(s) => stack.push((s.condition.clone(), p)),
                None => flat.push((c, p)),
            },
            _ => flat.push((c, p)),
        }
    }
    // A contradiction: no contact has these facts.
    let atoms: BTreeSet<(String, bool)> = flat.iter().map(|(c, p)| (key(c), *p)).collect();
    if atoms.iter().any(|(k, p)| atoms.contains(&(k.clone(), !p))) {
        return true;
    }
    // Split on the first disjunction: every alternative must prove.
    let pos = flat.iter().position(|(c, p)| {
        matches!(
            (&c.kind, p),
            (CondKind::Or { .. }, true) | (CondKind::And { .. }, false)
        )
    });
    let Some(i) = pos else { return false };
    let (d, p) = flat.remove(i);
    let alternatives = match &d.kind {
        CondKind::Or { any } => any,
        CondKind::And { all } => all,
        _ => return false,
    };
    alternatives.iter().all(|alt| {
        let mut next = flat.clone();
        next.push((alt.clone(), p));
        split(plan, next, channel, budget, depth + 1)
    })
}

/// A canonical text of a condition, without spans.
pub fn key(cond: &Cond) -> String {
    serde_json::to_string(cond).unwrap_or_default()
}

fn negated_key(cond: &Cond) -> String {
    match &cond.kind {
        CondKind::Not { cond } => key(cond),
        _ => format!("not:{}", key(cond)),
    }
}

/// Atoms known to hold when `cond` holds: its conjuncts, with segments
/// expanded (both `segment(x)` and the conjuncts of x's condition).
pub fn conjuncts(plan: &Plan, cond: &Cond) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect(plan, cond, &mut out, 0);
    out
}

fn collect(plan: &Plan, cond: &Cond, out: &mut BTreeSet<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match &cond.kind {
        CondKind::And { all } => all.iter().for_each(|c| collect(plan, c, out, depth + 1)),
        CondKind::Segment { name } => {
            out.insert(key(cond));
            if let Some(s) = plan.segments.get(name) {
                collect(plan, &s.condition, out, depth + 1);
            }
        }
        CondKind::Not { cond: inner } => {
            out.insert(format!("not:{}", key(inner)));
            // not (a or b) = not a and not b
            if let CondKind::Or { any } = &inner.kind {
                for x in any {
                    out.insert(negated_key(x));
                }
            }
        }
        CondKind::Const { value: true } => {}
        _ => {
            out.insert(key(cond));
        }
    }
}

/// Everyone matching `a` matches `b` (conjunct inclusion).
pub fn implies(plan: &Plan, a: &Cond, b: &Cond) -> bool {
    let ca = conjuncts(plan, a);
    let mut direct = BTreeSet::new();
    flat(b, &mut direct);
    direct.iter().all(|k| ca.contains(k))
}

/// Top-level conjuncts of `b`, unexpanded: `b` holds when all of them do.
fn flat(b: &Cond, out: &mut BTreeSet<String>) {
    match &b.kind {
        CondKind::And { all } => all.iter().for_each(|c| flat(c, out)),
        CondKind::Not { cond } => {
            out.insert(format!("not:{}", key(cond)));
        }
        CondKind::Const { value: true } => {}
        _ => {
            out.insert(key(b));
        }
    }
}

/// No contact can match both (one requires an atom the other excludes).
pub fn disjoint(plan: &Plan, a: &Cond, b: &Cond) -> bool {
    let ca = conjuncts(plan, a);
    let cb = conjuncts(plan, b);
    let negate = |k: &String| match k.strip_prefix("not:") {
        Some(inner) => inner.to_string(),
        None => format!("not:{k}"),
    };
    ca.iter().any(|k| cb.contains(&negate(k)))
}
