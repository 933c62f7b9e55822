//! Sound reasoning on conditions: consent proofs, implication and
//! disjointness of audiences. "Sound" here means: when these functions say
//! yes, it is true for every contact; they may say no when a smarter prover
//! would say yes.

use crate::ast::values::Channel;
use crate::model::{Cond, CondKind, Plan};
use std::collections::{BTreeSet, HashMap};

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
    cond.to_string()
}

/// Interned atoms of conditions, for many implication and disjointness
/// tests on the same conditions (campaign audiences against each other):
/// each condition is prepared once, and a test compares small sorted lists.
pub struct Atoms<'p> {
    plan: &'p Plan,
    ids: HashMap<String, u32>,
    /// The id of each atom's negation (`X` ↔ `not:X`).
    negation: Vec<u32>,
    /// `field == value` atoms (and `field in [values]`): two that give one
    /// field different values exclude each other.
    values: Vec<Option<(String, Vec<String>)>>,
    /// The conjuncts of each segment's condition, expanded.
    segments: HashMap<String, Vec<u32>>,
}

/// A condition, prepared: what it guarantees (`conj`) and what it requires
/// at its top level (`direct`).
#[derive(Clone, Debug, Default)]
pub struct Prepared {
    conj: Vec<u32>,
    direct: Vec<u32>,
}

impl<'p> Atoms<'p> {
    pub fn new(plan: &'p Plan) -> Self {
        Atoms {
            plan,
            ids: HashMap::new(),
            negation: Vec::new(),
            values: Vec::new(),
            segments: HashMap::new(),
        }
    }

    /// The id of an atom's text (its negation is interned with it).
    fn intern(&mut self, text: String, values: Option<(String, Vec<String>)>) -> u32 {
        if let Some(&id) = self.ids.get(&text) {
            return id;
        }
        let negated = match text.strip_prefix("not:") {
            Some(inner) => inner.to_string(),
            None => format!("not:{text}"),
        };
        let id = self.negation.len() as u32;
        self.ids.insert(text, id);
        self.negation.push(id + 1);
        self.values.push(values);
        self.ids.insert(negated, id + 1);
        self.negation.push(id);
        self.values.push(None);
        id
    }

    fn atom(&mut self, cond: &Cond) -> u32 {
        let values = field_values(cond);
        self.intern(key(cond), values)
    }

    fn negated_atom(&mut self, cond: &Cond) -> u32 {
        match &cond.kind {
            CondKind::Not { cond } => self.atom(cond),
            _ => {
                let id = self.atom(cond);
                self.negation[id as usize]
            }
        }
    }

    /// The conjuncts of `cond`, segments expanded (as [`conjuncts`]).
    fn collect(&mut self, cond: &Cond, out: &mut Vec<u32>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match &cond.kind {
            CondKind::And { all } => all.iter().for_each(|c| self.collect(c, out, depth + 1)),
            CondKind::Segment { name } => {
                out.push(self.atom(cond));
                if let Some(ids) = self.segments.get(name) {
                    out.extend_from_slice(ids);
                    return;
                }
                let Some(s) = self.plan.segments.get(name) else { return };
                let mut ids = Vec::new();
                self.collect(&s.condition, &mut ids, depth + 1);
                ids.sort_unstable();
                ids.dedup();
                out.extend_from_slice(&ids);
                self.segments.insert(name.clone(), ids);
            }
            CondKind::Not { cond: inner } => {
                let id = self.atom(inner);
                out.push(self.negation[id as usize]);
                // not (a or b) = not a and not b
                if let CondKind::Or { any } = &inner.kind {
                    for x in any {
                        out.push(self.negated_atom(x));
                    }
                }
            }
            CondKind::Const { value: true } => {}
            _ => out.push(self.atom(cond)),
        }
    }

    /// Top-level conjuncts, unexpanded (as the `flat` of [`implies`]).
    fn flat(&mut self, b: &Cond, out: &mut Vec<u32>) {
        match &b.kind {
            CondKind::And { all } => all.iter().for_each(|c| self.flat(c, out)),
            CondKind::Not { cond } => {
                let id = self.atom(cond);
                out.push(self.negation[id as usize]);
            }
            CondKind::Const { value: true } => {}
            _ => out.push(self.atom(b)),
        }
    }

    pub fn prepare(&mut self, cond: &Cond) -> Prepared {
        let mut conj = Vec::new();
        self.collect(cond, &mut conj, 0);
        conj.sort_unstable();
        conj.dedup();
        let mut direct = Vec::new();
        self.flat(cond, &mut direct);
        direct.sort_unstable();
        direct.dedup();
        Prepared { conj, direct }
    }

    /// Everyone matching `a` matches `b` (conjunct inclusion).
    pub fn implies(&self, a: &Prepared, b: &Prepared) -> bool {
        // Both sorted: one merge pass.
        let mut it = a.conj.iter().peekable();
        'next: for k in &b.direct {
            while let Some(&&x) = it.peek() {
                if x < *k {
                    it.next();
                } else if x == *k {
                    continue 'next;
                } else {
                    return false;
                }
            }
            return false;
        }
        true
    }

    /// No contact can match both: one requires an atom the other excludes,
    /// or they give one field different values.
    pub fn disjoint(&self, a: &Prepared, b: &Prepared) -> bool {
        if a.conj
            .iter()
            .any(|k| b.conj.binary_search(&self.negation[*k as usize]).is_ok())
        {
            return true;
        }
        for x in &a.conj {
            let Some((fa, va)) = &self.values[*x as usize] else {
                continue;
            };
            for y in &b.conj {
                if let Some((fb, vb)) = &self.values[*y as usize]
                    && fa == fb
                    && !va.iter().any(|v| vb.contains(v))
                {
                    return true;
                }
            }
        }
        false
    }
}

/// For `field == literal` and `field in [literals]` on a contact field, the
/// field and the values it must have (texts, numbers normalised). Only for
/// text, number and boolean literals, where equal values have equal texts.
fn field_values(cond: &Cond) -> Option<(String, Vec<String>)> {
    use crate::model::{Operand, Value, ValueRef};
    let text = |v: &Value| match v {
        Value::String(s) => Some(format!("s:{s}")),
        // -0 and 0 are equal: one text.
        Value::Number(n) if n.is_finite() => Some(format!("n:{}", if *n == 0.0 { 0.0 } else { *n })),
        Value::Bool(b) => Some(format!("b:{b}")),
        _ => None,
    };
    match &cond.kind {
        CondKind::Compare {
            lhs,
            cmp: crate::expr::CmpOp::Eq,
            rhs,
        } => match (lhs, rhs) {
            (Operand::Ref(ValueRef::Field(f)), Operand::Value(v))
            | (Operand::Value(v), Operand::Ref(ValueRef::Field(f))) => Some((f.clone(), vec![text(v)?])),
            _ => None,
        },
        CondKind::InList {
            value: ValueRef::Field(f),
            list,
            negated: false,
        } => Some((f.clone(), list.iter().map(text).collect::<Option<Vec<_>>>()?)),
        _ => None,
    }
}

/// Atoms known to hold when `cond` holds: its conjuncts, with segments
/// expanded (both `segment(x)` and the conjuncts of x's condition).
pub fn conjuncts(plan: &Plan, cond: &Cond) -> BTreeSet<String> {
    let mut atoms = Atoms::new(plan);
    let p = atoms.prepare(cond);
    let wanted: BTreeSet<u32> = p.conj.iter().copied().collect();
    // Each id has one text: the order of the map does not matter.
    #[allow(clippy::iter_over_hash_type)]
    let names: BTreeSet<String> = atoms
        .ids
        .iter()
        .filter(|(_, id)| wanted.contains(id))
        .map(|(text, _)| text.clone())
        .collect();
    names
}

/// Everyone matching `a` matches `b` (conjunct inclusion).
pub fn implies(plan: &Plan, a: &Cond, b: &Cond) -> bool {
    let mut atoms = Atoms::new(plan);
    let (pa, pb) = (atoms.prepare(a), atoms.prepare(b));
    atoms.implies(&pa, &pb)
}

/// No contact can match both (one requires an atom the other excludes, or
/// they give a field different values).
pub fn disjoint(plan: &Plan, a: &Cond, b: &Cond) -> bool {
    let mut atoms = Atoms::new(plan);
    let (pa, pb) = (atoms.prepare(a), atoms.prepare(b));
    atoms.disjoint(&pa, &pb)
}
