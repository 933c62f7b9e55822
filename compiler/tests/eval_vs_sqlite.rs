//! Property test: the condition evaluator agrees with an independent
//! implementation — each typed condition translated to SQL and run by SQLite
//! on the same contacts — on thousands of random conditions and contacts.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use chrono::{DateTime, NaiveDate, Utc};
use herald_compiler::contact::{Contact, FieldValue, Layout};
use herald_compiler::eval::{Evaluator, NoHistory, Subject};
use herald_compiler::expr::CmpOp;
use herald_compiler::model::{Cond, CondKind, Operand, Plan, Value, ValueRef};
use herald_compiler::{SourceFile, SourceKind, SourceSet};

use herald_compiler::rng::SplitMix64 as Rng;

const MODEL: &str = "contact:
  fields:
    s: { type: string, optional: true }
    e: { type: enum, values: [A, B, C], optional: true }
    n: { type: number, optional: true }
    i: { type: integer, optional: true }
    b: { type: boolean, optional: true }
    d: { type: date, optional: true }
    t: { type: datetime, optional: true }
    l: { type: list, of: string }
  consents:
    c1: { channel: email }
    c2: { channel: sms }
  events:
    ev: {}
";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z").unwrap().to_utc()
}

/// A random, well-typed condition in the language.
fn atom(r: &mut Rng) -> String {
    let op = |r: &mut Rng| r.pick(&["==", "!=", "<", "<=", ">", ">="]).to_string();
    match r.below(14) {
        0 => format!("s {} \"{}\"", r.pick(&["==", "!="]), r.pick(&["x", "y", "", "z"])),
        1 => format!("e {} \"{}\"", r.pick(&["==", "!="]), r.pick(&["A", "B", "C"])),
        2 => format!("n {} {}", op(r), r.pick(&["0", "1.5", "-3", "100"])),
        3 => format!("i {} {}", op(r), r.pick(&["0", "2", "-1", "7"])),
        4 => format!("n {} i", op(r)),
        5 => r.pick(&["b", "b == true", "b != false", "b == false"]).to_string(),
        6 => format!(
            "d {} {}",
            op(r),
            r.pick(&["2026-01-01", "2025-06-30", "2026-11-22T00:00"])
        ),
        7 => format!(
            "{} {} {}",
            r.pick(&["t", "d"]),
            op(r),
            r.pick(&["2026-11-01T10:00", "2026-01-01", "2026-11-22T12:00", "now"])
        ),
        8 => format!(
            "{} {}within {}",
            r.pick(&["d", "t"]),
            r.pick(&["", "not "]),
            r.pick(&["1d", "30d", "400d", "12h", "1mo", "13mo", "1y"])
        ),
        9 => format!(
            "{} is {}set",
            r.pick(&["s", "e", "n", "i", "b", "d", "t"]),
            r.pick(&["", "not "])
        ),
        10 => format!(
            "e {}in [{}]",
            r.pick(&["", "not "]),
            r.pick(&["\"A\"", "\"A\", \"C\"", "\"B\""])
        ),
        11 => format!("\"{}\" {}in l", r.pick(&["x", "y", "w"]), r.pick(&["", "not "])),
        12 => format!("consent({})", r.pick(&["c1", "c2"])),
        _ => r
            .pick(&[
                "segment(base)",
                "count(ev) >= 1",
                "count(ev, 7d) == 0",
                "opened(m)",
                "true",
                "false",
            ])
            .to_string(),
    }
}

fn condition(r: &mut Rng, depth: u32) -> String {
    if depth == 0 || r.below(3) == 0 {
        return atom(r);
    }
    match r.below(4) {
        0 => format!("not ({})", condition(r, depth - 1)),
        1 => format!("({}) and ({})", condition(r, depth - 1), condition(r, depth - 1)),
        2 => format!("({}) or ({})", condition(r, depth - 1), condition(r, depth - 1)),
        _ => format!("{} and {} or not {}", atom(r), atom(r), atom(r)),
    }
}

fn contact(r: &mut Rng, id: usize, layout: &Layout) -> Contact {
    let mut fields = vec![None; layout.fields.len()];
    let mut set = |name: &str, v: Option<FieldValue>| fields[layout.field(name).unwrap()] = v;
    let maybe = |r: &mut Rng| r.below(5) != 0;
    set(
        "s",
        maybe(r).then(|| FieldValue::Text(r.pick(&["x", "y", "", "zz"]).into())),
    );
    set("e", maybe(r).then(|| FieldValue::Text(r.pick(&["A", "B", "C"]).into())));
    set(
        "n",
        maybe(r).then(|| FieldValue::Number([0.0, 1.5, -3.0, 100.0, 42.25][r.below(5) as usize])),
    );
    set(
        "i",
        maybe(r).then(|| FieldValue::Number((r.below(10) as i64 - 2) as f64)),
    );
    set("b", maybe(r).then(|| FieldValue::Bool(r.below(2) == 0)));
    let day = |r: &mut Rng| NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + chrono::Days::new(r.below(700));
    set("d", maybe(r).then(|| FieldValue::Date(day(r))));
    set(
        "t",
        maybe(r).then(|| FieldValue::DateTime(day(r).and_hms_opt(r.below(24) as u32, 0, 0).unwrap().and_utc())),
    );
    let mut list = Vec::new();
    for x in ["x", "y", "z"] {
        if r.below(2) == 0 {
            list.push(FieldValue::Text(x.into()));
        }
    }
    set("l", Some(FieldValue::List(list)));
    let consents = (0..layout.consents.len())
        .map(|_| herald_compiler::contact::ConsentState {
            given: r.below(2) == 0,
            at: None,
        })
        .collect();
    Contact {
        id: format!("c{id}"),
        fields,
        consents,
        invalid: Vec::new(),
    }
}

fn sql_value(v: &FieldValue) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        FieldValue::Text(s) => V::Text(s.clone()),
        FieldValue::Number(n) => V::Real(*n),
        FieldValue::Bool(b) => V::Integer(i64::from(*b)),
        FieldValue::Date(d) => V::Integer(d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()),
        FieldValue::DateTime(t) => V::Integer(t.timestamp()),
        FieldValue::List(items) => V::Text(
            items
                .iter()
                .map(|i| {
                    if let FieldValue::Text(s) = i {
                        s.clone()
                    } else {
                        String::new()
                    }
                })
                .collect::<Vec<_>>()
                .join("|"),
        ),
    }
}

fn lit(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Number(n) => format!("{n:?}"),
        Value::Bool(b) => (*b as i64).to_string(),
        Value::Date(d) => d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp().to_string(),
        Value::DateTime(d) => d.and_utc().timestamp().to_string(),
    }
}

fn col(r: &ValueRef) -> String {
    match r {
        ValueRef::Field(f) => f.clone(),
        ValueRef::EventProperty(p) => format!("event_{p}"),
    }
}

fn operand(o: &Operand) -> String {
    match o {
        Operand::Ref(r) => col(r),
        Operand::Value(v) => lit(v),
        Operand::Count { .. } => "0".into(),
        Operand::Now => now().timestamp().to_string(),
    }
}

/// The documented semantics, in SQL: a comparison with a missing value is
/// false (never NULL), so `NOT` flips it to true.
fn sql(plan: &Plan, c: &Cond) -> String {
    match &c.kind {
        CondKind::Const { value } => (*value as i64).to_string(),
        CondKind::And { all } => format!(
            "({})",
            all.iter().map(|x| sql(plan, x)).collect::<Vec<_>>().join(" AND ")
        ),
        CondKind::Or { any } => format!(
            "({})",
            any.iter().map(|x| sql(plan, x)).collect::<Vec<_>>().join(" OR ")
        ),
        CondKind::Not { cond } => format!("(NOT {})", sql(plan, cond)),
        CondKind::Compare { lhs, cmp, rhs } => {
            let op = match cmp {
                CmpOp::Eq => "=",
                CmpOp::Ne => "<>",
                CmpOp::Lt => "<",
                CmpOp::Le => "<=",
                CmpOp::Gt => ">",
                CmpOp::Ge => ">=",
            };
            format!("COALESCE(({} {op} {}), 0)", operand(lhs), operand(rhs))
        }
        CondKind::InList { value, list, negated } => {
            let items: Vec<String> = list.iter().map(lit).collect();
            let not = if *negated { "NOT " } else { "" };
            format!("COALESCE(({} {not}IN ({})), 0)", col(value), items.join(", "))
        }
        CondKind::Contains { list, value, negated } => {
            let v = match value {
                Value::String(s) => s.clone(),
                _ => String::new(),
            };
            let test = format!("(instr('|' || {} || '|', '|{v}|') > 0)", col(list));
            if *negated { format!("(NOT {test})") } else { test }
        }
        CondKind::IsSet { value, negated } => format!("({} IS {}NULL)", col(value), if *negated { "" } else { "NOT " }),
        CondKind::Within {
            value,
            duration,
            negated,
        } => {
            let from = duration.before(now()).unwrap().timestamp();
            let now = now().timestamp();
            let c = col(value);
            let inside = format!("COALESCE(({c} <= {now} AND {c} >= {from}), 0)");
            if *negated {
                format!("(COALESCE({c} IS NOT NULL, 0) AND NOT {inside})")
            } else {
                inside
            }
        }
        CondKind::Flag { value } => format!("COALESCE(({} = 1), 0)", col(value)),
        CondKind::Segment { name } => sql(plan, &plan.segments[name].condition),
        CondKind::Consent { name } => format!("consent_{name}"),
        CondKind::Opened { .. } | CondKind::Clicked { .. } => "0".into(),
    }
}

#[test]
fn evaluator_agrees_with_sqlite_on_random_conditions() {
    let mut r = Rng::new(2026);
    let mut conditions = Vec::new();
    for _ in 0..1500 {
        conditions.push(condition(&mut r, 3));
    }
    let mut yaml = String::from(MODEL);
    yaml.push_str("messages:\n  m: { channel: email, purpose: service, subject: s, preheader: p, body: b }\nsegments:\n  base: { where: 'n >= 1 or b' }\n");
    for (k, c) in conditions.iter().enumerate() {
        yaml.push_str(&format!("  s{k}:\n    where: '{}'\n", c.replace('\'', "''")));
    }
    let mut set = SourceSet::new();
    set.add(SourceFile::new(
        "herald.toml",
        SourceKind::Config,
        "[project]\nname='t'\ntimezone='UTC'\n",
    ));
    set.add(SourceFile::new("p.yaml", SourceKind::Yaml, yaml));
    let c = herald_compiler::compile(&set, now(), &Default::default());
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(
        errors.is_empty(),
        "generated conditions must type-check: {:#?}",
        &errors[..errors.len().min(3)]
    );
    let plan = &c.plan;
    let header: Vec<&str> = ["id", "s", "e", "n", "i", "b", "d", "t", "l", "consent_c1", "consent_c2"].to_vec();
    let layout = Layout::new(&plan.contact, &header).unwrap();

    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch("CREATE TABLE c (id TEXT, s, e, n, i, b, d, t, l, consent_c1 INTEGER, consent_c2 INTEGER)")
        .unwrap();
    let mut contacts = Vec::new();
    for k in 0..400 {
        let ct = contact(&mut r, k, &layout);
        let mut values: Vec<rusqlite::types::Value> = vec![rusqlite::types::Value::Text(ct.id.clone())];
        for name in ["s", "e", "n", "i", "b", "d", "t", "l"] {
            let v = ct.fields[layout.field(name).unwrap()].as_ref();
            values.push(v.map_or(rusqlite::types::Value::Null, sql_value));
        }
        for name in ["c1", "c2"] {
            values.push(rusqlite::types::Value::Integer(i64::from(
                ct.consents[layout.consent(name).unwrap()].given,
            )));
        }
        db.execute(
            "INSERT INTO c VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rusqlite::params_from_iter(values),
        )
        .unwrap();
        contacts.push(ct);
    }

    let evaluator = Evaluator::new(plan, &layout);
    let mut checked = 0;
    for (k, text) in conditions.iter().enumerate() {
        let seg = &plan.segments[&format!("s{k}")];
        let query = format!("SELECT id FROM c WHERE {} ORDER BY rowid", sql(plan, &seg.condition));
        let mut stmt = db.prepare(&query).unwrap();
        let from_sql: Vec<String> = stmt
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let compiled = evaluator.compile(&seg.condition);
        let mut memo = evaluator.memo();
        let from_eval: Vec<String> = contacts
            .iter()
            .filter(|ct| {
                memo.reset();
                let s = Subject {
                    contact: ct,
                    now: now(),
                    event: None,
                    history: &NoHistory,
                };
                evaluator.eval(&s, &mut memo, &compiled)
            })
            .map(|ct| ct.id.clone())
            .collect();
        assert_eq!(from_eval, from_sql, "condition `{text}` (SQL: {query})");
        checked += 1;
    }
    assert_eq!(checked, 1500);
}

/// Like `condition`, with consents and segments common enough that the
/// prover has something to prove.
fn consent_heavy(r: &mut Rng, depth: u32) -> String {
    if depth == 0 || r.below(3) == 0 {
        return match r.below(6) {
            0 | 1 => format!("consent({})", r.pick(&["c1", "c2"])),
            2 => format!("segment(p{})", r.below(6)),
            _ => atom(r),
        };
    }
    match r.below(4) {
        0 => format!("not ({})", consent_heavy(r, depth - 1)),
        1 => format!(
            "({}) and ({})",
            consent_heavy(r, depth - 1),
            consent_heavy(r, depth - 1)
        ),
        2 => format!("({}) or ({})", consent_heavy(r, depth - 1), consent_heavy(r, depth - 1)),
        _ => format!(
            "consent({}) and ({})",
            r.pick(&["c1", "c2"]),
            consent_heavy(r, depth - 1)
        ),
    }
}

/// Property test of the consent prover (`rules::logic`) against the
/// evaluator: whenever it says an audience guarantees a consent on a channel,
/// no random contact matches the audience without one of the consents it
/// named (none at all when it proved the audience empty). The same for the
/// case-splitting prover on sets of facts, and for `implies` / `disjoint`.
#[test]
fn the_consent_prover_is_sound_against_the_evaluator() {
    use herald_compiler::ast::values::Channel;
    use herald_compiler::rules::logic;
    let mut r = Rng::new(9);
    let mut yaml = String::from(MODEL);
    yaml.push_str("messages:\n  m: { channel: email, purpose: service, subject: s, preheader: p, body: b }\nsegments:\n  base: { where: 'n >= 1 or b' }\n");
    // Named segments the audiences refer to (acyclic: p_i uses only atoms).
    for i in 0..6 {
        let mut c = consent_heavy(&mut r, 2);
        for d in 0..6 {
            c = c.replace(&format!("segment(p{d})"), "segment(base)");
        }
        yaml.push_str(&format!("  p{i}:\n    where: '{}'\n", c.replace('\'', "''")));
    }
    let audiences: Vec<String> = (0..1200).map(|_| consent_heavy(&mut r, 3)).collect();
    for (k, a) in audiences.iter().enumerate() {
        yaml.push_str(&format!("  a{k}:\n    where: '{}'\n", a.replace('\'', "''")));
    }
    let mut set = SourceSet::new();
    set.add(SourceFile::new(
        "herald.toml",
        SourceKind::Config,
        "[project]\nname='t'\ntimezone='UTC'\n",
    ));
    set.add(SourceFile::new("p.yaml", SourceKind::Yaml, yaml));
    let c = herald_compiler::compile(&set, now(), &Default::default());
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{:#?}", &errors[..errors.len().min(3)]);
    let plan = &c.plan;
    let header: Vec<&str> = ["id", "s", "e", "n", "i", "b", "d", "t", "l", "consent_c1", "consent_c2"].to_vec();
    let layout = Layout::new(&plan.contact, &header).unwrap();
    let contacts: Vec<Contact> = (0..300).map(|k| contact(&mut r, k, &layout)).collect();
    let evaluator = Evaluator::new(plan, &layout);
    let consent = |ct: &Contact, name: &str| ct.consents[layout.consent(name).unwrap()].given;
    let conds: Vec<&Cond> = (0..audiences.len())
        .map(|k| &plan.segments[&format!("a{k}")].condition)
        .collect();
    // Who matches each audience.
    let matching: Vec<Vec<bool>> = conds
        .iter()
        .map(|cond| {
            let compiled = evaluator.compile(cond);
            let mut memo = evaluator.memo();
            contacts
                .iter()
                .map(|ct| {
                    memo.reset();
                    let s = Subject {
                        contact: ct,
                        now: now(),
                        event: None,
                        history: &NoHistory,
                    };
                    evaluator.eval(&s, &mut memo, &compiled)
                })
                .collect()
        })
        .collect();
    let (mut proofs, mut fact_proofs, mut implications, mut disjoint) = (0, 0, 0, 0);
    for (k, cond) in conds.iter().enumerate() {
        for (channel, name) in [(Channel::Email, "c1"), (Channel::Sms, "c2")] {
            for positive in [true, false] {
                let Some(names) = logic::proves_consent(plan, cond, positive, channel) else {
                    continue;
                };
                proofs += 1;
                assert!(names.iter().all(|n| n == name), "{names:?} on {channel}");
                for (ct, m) in contacts.iter().zip(&matching[k]) {
                    if *m == positive {
                        assert!(
                            names.iter().any(|n| consent(ct, n)),
                            "`{}` (positive: {positive}) was proven to imply consent({names:?}), but contact {} matches without it",
                            audiences[k],
                            ct.id
                        );
                    }
                }
            }
            // Two facts together, with random polarities.
            let j = (k * 7 + 3) % conds.len();
            let (pk, pj) = (k % 2 == 0, k % 3 != 0);
            if logic::facts_prove_consent(plan, &[(cond, pk), (conds[j], pj)], channel) {
                fact_proofs += 1;
                for (i, ct) in contacts.iter().enumerate() {
                    if matching[k][i] == pk && matching[j][i] == pj {
                        assert!(
                            consent(ct, name),
                            "facts `{}` ({pk}) and `{}` ({pj}) were proven to imply consent({name}), but contact {} has none",
                            audiences[k],
                            audiences[j],
                            ct.id
                        );
                    }
                }
            }
        }
        let j = (k * 13 + 5) % conds.len();
        if logic::implies(plan, cond, conds[j]) {
            implications += 1;
            for (a, b) in matching[k].iter().zip(&matching[j]) {
                assert!(!a || *b, "`{}` was proven to imply `{}`", audiences[k], audiences[j]);
            }
        }
        if logic::disjoint(plan, cond, conds[j]) {
            disjoint += 1;
            for (a, b) in matching[k].iter().zip(&matching[j]) {
                assert!(
                    !(*a && *b),
                    "`{}` and `{}` were proven disjoint",
                    audiences[k],
                    audiences[j]
                );
            }
        }
    }
    eprintln!("proofs {proofs}, fact proofs {fact_proofs}, implications {implications}, disjoint {disjoint}");
    // The test means something only if the provers said yes often enough.
    assert!(
        proofs > 200 && fact_proofs > 100 && implications > 0 && disjoint > 0,
        "proofs {proofs}, fact proofs {fact_proofs}, implications {implications}, disjoint {disjoint}"
    );
}
