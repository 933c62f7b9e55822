//! Message templates: Herald's minijinja environment (shared with the runtime,
//! so what is checked is what is sent) and a static analysis of a template's
//! syntax tree — which variables it reads, which it prints unguarded, which
//! filters it uses, and what it emits (for worst-case SMS lengths).

use minijinja::machinery::ast;
use minijinja::{Environment, Error, ErrorKind, Value};
use std::collections::BTreeSet;

/// Variables every template may read besides `contact` and `event`.
pub const BUILTIN_VARIABLES: &[&str] = &["unsubscribe_url", "preferences_url", "view_online_url"];

/// Filters the environment provides (minijinja's built-ins and Herald's own).
pub const FILTERS: &[&str] = &[
    "safe",
    "escape",
    "e",
    "lower",
    "upper",
    "title",
    "capitalize",
    "replace",
    "length",
    "count",
    "dictsort",
    "items",
    "reverse",
    "trim",
    "join",
    "split",
    "lines",
    "default",
    "d",
    "round",
    "abs",
    "int",
    "float",
    "attr",
    "first",
    "last",
    "min",
    "max",
    "sort",
    "list",
    "string",
    "bool",
    "batch",
    "slice",
    "sum",
    "indent",
    "select",
    "reject",
    "selectattr",
    "rejectattr",
    "map",
    "groupby",
    "unique",
    "chain",
    "zip",
    "pprint",
    "format",
    "truncate",
];

/// `truncate(length, end="")`: at most `length` characters, `end` included.
/// Herald's own (minijinja has none); cuts exactly, so the SMS bound is exact.
fn truncate(value: String, length: usize, end: Option<String>) -> Result<String, Error> {
    let end = end.unwrap_or_default();
    if value.chars().count() <= length {
        return Ok(value);
    }
    let keep = length.checked_sub(end.chars().count()).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            "truncate: the end marker is longer than the length",
        )
    })?;
    Ok(value.chars().take(keep).collect::<String>() + &end)
}

/// The work one render may do, in minijinja fuel: about one fuel per
/// instruction and per 64 bytes of data created, so it bounds both time and
/// memory (~64 MB). A real message uses a few thousand.
pub const FUEL: u64 = 1_000_000;

/// The longest rendered template, in bytes. Emails over ~100 KB are clipped by
/// mail clients already; nothing Herald sends comes near 1 MiB.
pub const MAX_RENDERED_BYTES: usize = 1 << 20;

/// The template environment used to check, preview and send messages.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_filter("truncate", truncate);
    // A missing value is an error, never an empty string: the checker
    // requires `default(...)` on optional fields.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // Templates come from the plan: nested loops or `replace` amplification
    // must end in an error, not hang `check` or the language server.
    env.set_fuel(Some(FUEL));
    env
}

/// Why a template could not be rendered.
#[derive(Debug)]
pub enum RenderFailure {
    /// It used up its [`FUEL`] (too many steps or too much data).
    OutOfFuel,
    /// Its output is longer than [`MAX_RENDERED_BYTES`] (the length it reached).
    TooLarge(usize),
    /// Any other error (syntax, types, a filter's arguments, a missing value).
    Error(Error),
}

impl RenderFailure {
    /// Where in the source, when known.
    pub fn range(&self) -> Option<std::ops::Range<usize>> {
        match self {
            RenderFailure::Error(e) => e.range(),
            _ => None,
        }
    }
}

impl std::fmt::Display for RenderFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenderFailure::OutOfFuel => write!(
                f,
                "it does more work than a message may (a budget of {FUEL} steps, \
                 which also bounds the text it builds to about 64 MB)"
            ),
            RenderFailure::TooLarge(n) => write!(
                f,
                "it renders to {n} bytes or more; a message may render to at most {MAX_RENDERED_BYTES}"
            ),
            RenderFailure::Error(e) => match e.detail() {
                Some(d) => f.write_str(d),
                None => write!(f, "{}", e.kind()),
            },
        }
    }
}

impl From<Error> for RenderFailure {
    fn from(e: Error) -> Self {
        if e.kind() == ErrorKind::OutOfFuel {
            RenderFailure::OutOfFuel
        } else {
            RenderFailure::Error(e)
        }
    }
}

/// Render a template source against a context, within [`FUEL`] and
/// [`MAX_RENDERED_BYTES`]. Every render of a message goes through here.
pub fn render(env: &Environment, source: &str, ctx: &Value) -> Result<String, RenderFailure> {
    render_compiled(&env.template_from_str(source)?, ctx)
}

/// [`render`] for a template compiled beforehand (the runner compiles each
/// template of a pass once), within the same bounds.
pub fn render_compiled(template: &minijinja::Template, ctx: &Value) -> Result<String, RenderFailure> {
    let out = template.render(ctx)?;
    if out.len() > MAX_RENDERED_BYTES {
        return Err(RenderFailure::TooLarge(out.len()));
    }
    Ok(out)
}

/// A variable read by a template: `contact.first_name` is root `contact`, attr `first_name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub root: String,
    pub attr: Option<String>,
    /// Byte range in the template source.
    pub start: usize,
    pub end: usize,
    /// Printed by `{{ }}` (not only tested by `{% if %}`).
    pub printed: bool,
    /// Printed through `default(...)` or inside `{% if <same> %}`.
    pub guarded: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterUse {
    pub name: String,
    pub start: usize,
    pub end: usize,
}

/// What an emitted expression is, for length bounds.
#[derive(Clone, Debug, PartialEq)]
pub enum Emit {
    /// `contact.x`, `event.y`, a built-in, with the filters applied in order.
    Path {
        root: String,
        attr: Option<String>,
        filters: Vec<(String, Vec<Emit>)>,
        start: usize,
        end: usize,
    },
    Const(String),
    /// Anything else: no static bound.
    Other {
        start: usize,
        end: usize,
    },
}

/// The output of a template, statically.
#[derive(Clone, Debug, PartialEq)]
pub enum Out {
    Text(String),
    Emit(Emit),
    /// `{% if %}`: one of the branches is output.
    Choice(Vec<Vec<Out>>),
    /// Loops, macros, includes: no static bound.
    Unbounded {
        start: usize,
        end: usize,
    },
}

#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub references: Vec<Reference>,
    pub filters: Vec<FilterUse>,
    pub output: Vec<Out>,
}

/// Analyse a template; `None` when it does not parse (reported elsewhere).
pub fn analyze(source: &str) -> Option<Analysis> {
    parse(source).ok()
}

/// Parse and analyse a template, or the syntax error (with its byte range).
pub fn parse(source: &str) -> Result<Analysis, Error> {
    let tree = minijinja::machinery::parse(source, "<template>", Default::default())?;
    let mut w = Walker {
        a: Analysis::default(),
        guards: Vec::new(),
        locals: BTreeSet::new(),
    };
    let mut out = Vec::new();
    w.stmt(&tree, &mut out);
    w.a.output = out;
    Ok(w.a)
}

struct Walker {
    a: Analysis,
    /// Paths known to be set here (inside `{% if path %}`).
    guards: Vec<(String, Option<String>)>,
    /// Names bound by the template itself (`for`, `set`, `with`, macros).
    locals: BTreeSet<String>,
}

fn offsets(span: minijinja::machinery::Span) -> (usize, usize) {
    (span.start_offset as usize, span.end_offset as usize)
}

fn expr_span(e: &ast::Expr) -> (usize, usize) {
    let s = match e {
        ast::Expr::Var(x) => x.span(),
        ast::Expr::Const(x) => x.span(),
        ast::Expr::Slice(x) => x.span(),
        ast::Expr::UnaryOp(x) => x.span(),
        ast::Expr::BinOp(x) => x.span(),
        ast::Expr::Compare(x) => x.span(),
        ast::Expr::IfExpr(x) => x.span(),
        ast::Expr::Filter(x) => x.span(),
        ast::Expr::Test(x) => x.span(),
        ast::Expr::GetAttr(x) => x.span(),
        ast::Expr::GetItem(x) => x.span(),
        ast::Expr::Call(x) => x.span(),
        ast::Expr::List(x) => x.span(),
        ast::Expr::Tuple(x) => x.span(),
        ast::Expr::Map(x) => x.span(),
    };
    offsets(s)
}

/// `contact.first_name` / `contact["first_name"]` / `unsubscribe_url`.
fn path_of(e: &ast::Expr) -> Option<(String, Option<String>)> {
    match e {
        ast::Expr::Var(v) => Some((v.id.to_string(), None)),
        ast::Expr::GetAttr(g) => match &g.expr {
            ast::Expr::Var(v) => Some((v.id.to_string(), Some(g.name.to_string()))),
            _ => None,
        },
        ast::Expr::GetItem(g) => match (&g.expr, &g.subscript_expr) {
            (ast::Expr::Var(v), ast::Expr::Const(c)) => {
                c.value.as_str().map(|s| (v.id.to_string(), Some(s.to_string())))
            }
            _ => None,
        },
        _ => None,
    }
}

impl Walker {
    fn stmts(&mut self, stmts: &[ast::Stmt], out: &mut Vec<Out>) {
        for s in stmts {
            self.stmt(s, out);
        }
    }

    fn stmt(&mut self, s: &ast::Stmt, out: &mut Vec<Out>) {
        match s {
            ast::Stmt::Template(t) => self.stmts(&t.children, out),
            ast::Stmt::EmitRaw(r) => out.push(Out::Text(r.raw.to_string())),
            ast::Stmt::EmitExpr(e) => {
                self.refs(&e.expr, true, false);
                out.push(Out::Emit(self.emit(&e.expr)));
            }
            ast::Stmt::IfCond(c) => {
                self.refs(&c.expr, false, false);
                let tested = tested_paths(&c.expr);
                let depth = self.guards.len();
                self.guards.extend(tested);
                let mut yes = Vec::new();
                self.stmts(&c.true_body, &mut yes);
                self.guards.truncate(depth);
                let mut no = Vec::new();
                self.stmts(&c.false_body, &mut no);
                out.push(Out::Choice(vec![yes, no]));
            }
            ast::Stmt::ForLoop(f) => {
                self.refs(&f.iter, false, false);
                self.bind(&f.target);
                self.locals.insert("loop".into());
                let mut inner = Vec::new();
                self.stmts(&f.body, &mut inner);
                self.stmts(&f.else_body, &mut inner);
                let (start, end) = offsets(f.span());
                out.push(Out::Unbounded { start, end });
            }
            ast::Stmt::WithBlock(w) => {
                for (target, value) in &w.assignments {
                    self.refs(value, false, false);
                    self.bind(target);
                }
                self.stmts(&w.body, out);
            }
            ast::Stmt::Set(x) => {
                self.refs(&x.expr, false, false);
                self.bind(&x.target);
            }
            ast::Stmt::SetBlock(x) => {
                self.bind(&x.target);
                let mut inner = Vec::new();
                self.stmts(&x.body, &mut inner);
            }
            ast::Stmt::AutoEscape(x) => self.stmts(&x.body, out),
            ast::Stmt::FilterBlock(x) => {
                self.refs(&x.filter, false, false);
                let mut inner = Vec::new();
                self.stmts(&x.body, &mut inner);
                let (start, end) = offsets(x.span());
                out.push(Out::Unbounded { start, end });
            }
            ast::Stmt::Do(d) => self.refs(&d.call.expr, false, false),
        }
    }

    fn bind(&mut self, target: &ast::Expr) {
        match target {
            ast::Expr::Var(v) => {
                self.locals.insert(v.id.to_string());
            }
            ast::Expr::Tuple(t) => {
                for i in &t.items {
                    self.bind(i);
                }
            }
            _ => {}
        }
    }

    fn guarded(&self, root: &str, attr: &Option<String>) -> bool {
        self.guards.iter().any(|(r, a)| r == root && a == attr)
    }

    /// Record every variable read in `e`. `printed`: the value reaches the
    /// output; `defaulted`: it goes through `default(...)` first.
    fn refs(&mut self, e: &ast::Expr, printed: bool, defaulted: bool) {
        if let Some((root, attr)) = path_of(e) {
            if self.locals.contains(&root) {
                return;
            }
            let (start, end) = expr_span(e);
            let guarded = defaulted || self.guarded(&root, &attr);
            self.a.references.push(Reference {
                root,
                attr,
                start,
                end,
                printed,
                guarded,
            });
            return;
        }
        match e {
            ast::Expr::Filter(f) => {
                let (start, end) = offsets(f.span());
                self.a.filters.push(FilterUse {
                    name: f.name.to_string(),
                    start,
                    end,
                });
                let is_default = matches!(f.name, "default" | "d");
                if let Some(inner) = &f.expr {
                    self.refs(inner, printed, defaulted || is_default);
                }
                for a in &f.args {
                    self.arg(a, printed);
                }
            }
            ast::Expr::Test(t) => {
                self.refs(&t.expr, false, false);
                for a in &t.args {
                    self.arg(a, false);
                }
            }
            ast::Expr::GetAttr(g) => self.refs(&g.expr, printed, defaulted),
            ast::Expr::GetItem(g) => {
                self.refs(&g.expr, printed, defaulted);
                self.refs(&g.subscript_expr, false, false);
            }
            ast::Expr::Slice(s) => {
                self.refs(&s.expr, printed, defaulted);
                for x in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.refs(x, false, false);
                }
            }
            ast::Expr::UnaryOp(u) => self.refs(&u.expr, printed, defaulted),
            ast::Expr::BinOp(b) => {
                self.refs(&b.left, printed, defaulted);
                self.refs(&b.right, printed, defaulted);
            }
            ast::Expr::Compare(c) => {
                self.refs(&c.expr, false, false);
                for op in &c.ops {
                    self.refs(&op.expr, false, false);
                }
            }
            ast::Expr::IfExpr(i) => {
                self.refs(&i.test_expr, false, false);
                let depth = self.guards.len();
                self.guards.extend(tested_paths(&i.test_expr));
                self.refs(&i.true_expr, printed, defaulted);
                self.guards.truncate(depth);
                if let Some(f) = &i.false_expr {
                    self.refs(f, printed, defaulted);
                }
            }
            ast::Expr::Call(c) => {
                self.refs(&c.expr, false, false);
                for a in &c.args {
                    self.arg(a, printed);
                }
            }
            ast::Expr::List(l) => l.items.iter().for_each(|x| self.refs(x, printed, defaulted)),
            ast::Expr::Tuple(t) => t.items.iter().for_each(|x| self.refs(x, printed, defaulted)),
            ast::Expr::Map(m) => {
                for (k, v) in m.keys.iter().zip(&m.values) {
                    self.refs(k, false, false);
                    self.refs(v, printed, defaulted);
                }
            }
            ast::Expr::Var(_) | ast::Expr::Const(_) => {}
        }
    }

    fn arg(&mut self, a: &ast::CallArg, printed: bool) {
        match a {
            ast::CallArg::Pos(e)
            | ast::CallArg::Kwarg(_, e)
            | ast::CallArg::PosSplat(e)
            | ast::CallArg::KwargSplat(e) => self.refs(e, printed, false),
        }
    }

    fn emit(&self, e: &ast::Expr) -> Emit {
        let (start, end) = expr_span(e);
        if let Some((root, attr)) = path_of(e) {
            return Emit::Path {
                root,
                attr,
                filters: Vec::new(),
                start,
                end,
            };
        }
        match e {
            ast::Expr::Const(c) => Emit::Const(c.value.to_string()),
            ast::Expr::Filter(f) => {
                let Some(inner) = &f.expr else {
                    return Emit::Other { start, end };
                };
                let args: Vec<Emit> = f
                    .args
                    .iter()
                    .map(|a| match a {
                        ast::CallArg::Pos(x) | ast::CallArg::Kwarg(_, x) => self.emit(x),
                        _ => Emit::Other { start, end },
                    })
                    .collect();
                match self.emit(inner) {
                    Emit::Path {
                        root,
                        attr,
                        mut filters,
                        start: s,
                        end: en,
                    } => {
                        filters.push((f.name.to_string(), args));
                        Emit::Path {
                            root,
                            attr,
                            filters,
                            start: s,
                            end: en,
                        }
                    }
                    Emit::Const(c) => Emit::Path {
                        root: String::new(),
                        attr: Some(c),
                        filters: vec![(f.name.to_string(), args)],
                        start,
                        end,
                    },
                    other => other,
                }
            }
            _ => Emit::Other { start, end },
        }
    }
}

/// Paths a condition proves set when true: `contact.x`, `contact.x is defined`,
/// `contact.x and ...`.
fn tested_paths(e: &ast::Expr) -> Vec<(String, Option<String>)> {
    if let Some(p) = path_of(e) {
        return vec![p];
    }
    match e {
        ast::Expr::Test(t) if matches!(t.name, "defined" | "string" | "number" | "true") => {
            path_of(&t.expr).into_iter().collect()
        }
        ast::Expr::BinOp(b) if matches!(b.op, ast::BinOpKind::ScAnd) => {
            let mut v = tested_paths(&b.left);
            v.extend(tested_paths(&b.right));
            v
        }
        _ => Vec::new(),
    }
}

/// A synthetic worst-case value for a field: set, and as long as it can be.
fn worst_value(ty: &crate::model::FieldType, max_length: Option<u32>) -> Value {
    use crate::model::FieldType as T;
    let text = |n: usize| Value::from("W".repeat(n));
    match ty {
        T::String => text(max_length.map_or(40, |m| m as usize)),
        T::Email => {
            let n = max_length.map_or(40, |m| m as usize).max(15);
            Value::from(format!("{}@example.test", "w".repeat(n - 13)))
        }
        T::Phone => Value::from("+33639989999"),
        T::Enum { values } => Value::from(
            values
                .iter()
                .max_by_key(|v| v.chars().count())
                .cloned()
                .unwrap_or_default(),
        ),
        T::Number => Value::from(9_999_999.99),
        T::Integer => Value::from(99_999_999),
        T::Boolean => Value::from(true),
        T::Date => Value::from("2026-12-31"),
        T::Datetime => Value::from("2026-12-31T23:59:59+01:00"),
        T::Timezone => Value::from("America/Argentina/ComodRivadavia"),
        T::List { of } => {
            let item = worst_value(&crate::model::FieldType::from_scalar(*of), Some(20));
            Value::from(vec![item.clone(), item.clone(), item])
        }
    }
}

/// The context of a worst-case rendering: every contact field set at its
/// longest, the properties of `events` (merged), and the built-ins.
pub fn worst_case_context(contact: &crate::model::ContactModel, events: &[&crate::model::Event]) -> Value {
    use std::collections::BTreeMap;
    let mut c: BTreeMap<String, Value> = BTreeMap::new();
    c.insert("id".into(), Value::from("c9999999"));
    for (name, f) in &contact.fields {
        c.insert(name.clone(), worst_value(&f.ty, f.max_length));
    }
    let mut e: BTreeMap<String, Value> = BTreeMap::new();
    for ev in events {
        for (name, t) in &ev.properties {
            e.insert(
                name.clone(),
                worst_value(&crate::model::FieldType::from_scalar(*t), None),
            );
        }
    }
    minijinja::context! {
        contact => Value::from(c),
        event => Value::from(e),
        unsubscribe_url => "https://example.test/unsubscribe/0123456789abcdef",
        preferences_url => "https://example.test/preferences/0123456789abcdef",
        view_online_url => "https://example.test/view/0123456789abcdef",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(src: &str) -> Vec<(String, Option<String>, bool, bool)> {
        analyze(src)
            .unwrap()
            .references
            .into_iter()
            .map(|r| (r.root, r.attr, r.printed, r.guarded))
            .collect()
    }

    fn p(root: &str, attr: &str, printed: bool, guarded: bool) -> (String, Option<String>, bool, bool) {
        (root.into(), Some(attr.into()), printed, guarded)
    }

    #[test]
    fn references_and_their_guards() {
        assert_eq!(
            refs("Hi {{ contact.first_name }}"),
            [p("contact", "first_name", true, false)]
        );
        assert_eq!(
            refs("Hi {{ contact.first_name | default('') }}"),
            [p("contact", "first_name", true, true)]
        );
        assert_eq!(
            refs("{% if contact.city %}in {{ contact.city }}{% endif %}"),
            [p("contact", "city", false, false), p("contact", "city", true, true)]
        );
        assert_eq!(
            refs("{{ contact.a | default(contact.b) }}"),
            [p("contact", "a", true, true), p("contact", "b", true, false)]
        );
        assert_eq!(
            refs("{% for i in contact.tags %}{{ i }}{{ loop.index }}{% endfor %}"),
            [p("contact", "tags", false, false)]
        );
        let r = analyze("{{ unsubscribe_url }}").unwrap().references;
        assert_eq!((r[0].root.as_str(), r[0].attr.as_deref()), ("unsubscribe_url", None));
        assert_eq!((r[0].start, r[0].end), (3, 18));
    }

    #[test]
    fn filters_and_emits() {
        let a = analyze("{{ contact.name | truncate(10) | upper }} and {{ 'x' }}").unwrap();
        let names: Vec<&str> = a.filters.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["upper", "truncate"]);
        assert!(
            matches!(&a.output[0], Out::Emit(Emit::Path { filters, .. }) if filters.len() == 2 && filters[0].0 == "truncate")
        );
        assert_eq!(a.output[1], Out::Text(" and ".into()));
        assert_eq!(a.output[2], Out::Emit(Emit::Const("x".into())));
    }

    #[test]
    fn truncate_is_exact_and_strict_undefined_fails() {
        let env = environment();
        let ctx = minijinja::context! { contact => minijinja::context! { name => "Joséphine-Marie" } };
        assert_eq!(render(&env, "{{ contact.name | truncate(5) }}", &ctx).unwrap(), "Josép");
        assert_eq!(
            render(&env, "{{ contact.name | truncate(8, '…') }}", &ctx).unwrap(),
            "Joséphi…"
        );
        assert!(render(&env, "{{ contact.missing }}", &ctx).is_err());
        assert_eq!(render(&env, "{{ contact.missing | default('x') }}", &ctx).unwrap(), "x");
    }

    #[test]
    fn every_listed_filter_exists() {
        let env = environment();
        for f in FILTERS {
            let r = env.render_str(&format!("{{{{ [1] | {f} }}}}"), minijinja::context! {});
            if let Err(e) = r {
                assert_ne!(e.kind(), ErrorKind::UnknownFilter, "{f}");
            }
        }
    }

    #[test]
    fn rendering_is_bounded_in_steps_and_size() {
        let env = environment();
        let ctx = minijinja::context! {};
        // Two nested loops over 100,000-character strings hung `check` and the
        // language server.
        let big = "x".repeat(100_000);
        let loops = format!("{{% for a in '{big}' %}}{{% for b in '{big}' %}}.{{% endfor %}}{{% endfor %}}");
        assert!(matches!(render(&env, &loops, &ctx), Err(RenderFailure::OutOfFuel)));
        // `replace` squaring a string reached 2 GB.
        let amplify = "{% set a = 'aaaaaaaaaaaaaaaaaaaa' %}{% set b = a | replace('a', a) %}\
                       {% set c = b | replace('a', b) %}{% set d = c | replace('a', c) %}{{ d | length }}";
        assert!(matches!(render(&env, amplify, &ctx), Err(RenderFailure::OutOfFuel)));
        // Cheap to compute, too long to send.
        let long = render(&env, "{{ 'x' * 2000000 }}", &ctx);
        assert!(matches!(long, Err(RenderFailure::TooLarge(n)) if n > MAX_RENDERED_BYTES));
        // A message-sized render fits comfortably.
        let ok = format!("{{% for i in range(200) %}}<p>{}</p>{{% endfor %}}", "y".repeat(400));
        assert_eq!(render(&env, &ok, &ctx).unwrap().len(), 200 * 407);
    }
}
