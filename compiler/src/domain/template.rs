//! Message templates: Herald's minijinja environment (shared with the runtime,
//! so what is checked is what is sent) and a static analysis of a template's
//! syntax tree — which variables it reads, which it prints unguarded, which
//! filters it uses, and what it emits (for worst-case SMS lengths).

use minijinja::machinery::ast;
use minijinja::{Environment, Error, ErrorKind, Value};
use std::collections::{BTreeMap, BTreeSet};

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
    "date",
    "money",
];

/// The languages dates and amounts are written in (`[project] locale`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Locale {
    /// French: `23 décembre 1976`, `1 234,50 €`.
    #[default]
    #[serde(rename = "fr-FR")]
    Fr,
    /// British English: `23 December 1976`, `€1,234.50`.
    #[serde(rename = "en-GB")]
    EnGb,
    /// American English: `December 23, 1976`, `€1,234.50`.
    #[serde(rename = "en-US")]
    EnUs,
}

impl Locale {
    /// The names `[project] locale` accepts.
    pub const NAMES: &[&str] = &[
        "fr", "fr-FR", "fr-BE", "fr-CH", "fr-LU", "en", "en-GB", "en-IE", "en-US",
    ];

    pub fn parse(s: &str) -> Option<Locale> {
        match s {
            "fr" | "fr-FR" | "fr-BE" | "fr-CH" | "fr-LU" => Some(Locale::Fr),
            "en" | "en-GB" | "en-IE" => Some(Locale::EnGb),
            "en-US" => Some(Locale::EnUs),
            _ => None,
        }
    }
}

/// How the `date` and `money` filters print: the project's locale, currency
/// and time zone, and whether the text is an SMS (then plain spaces and
/// GSM-7 letters, so a date or an amount never switches it to UCS-2).
#[derive(Clone, Debug, PartialEq)]
pub struct Format {
    pub locale: Locale,
    /// ISO 4217 code.
    pub currency: String,
    pub timezone: chrono_tz::Tz,
    pub sms: bool,
}

impl Default for Format {
    fn default() -> Self {
        Format {
            locale: Locale::Fr,
            currency: "EUR".into(),
            timezone: chrono_tz::Europe::Paris,
            sms: false,
        }
    }
}

const FR_MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const FR_DAYS: [&str; 7] = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"];
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const EN_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A date or a date-time value (`2026-12-23`, RFC 3339) as a date in the zone.
fn date_of(v: &Value, tz: chrono_tz::Tz) -> Option<chrono::NaiveDate> {
    let s = v.as_str()?.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&tz).date_naive())
}

/// `{{ contact.birthdate | date }}` → `23 décembre 1976`; `date('short')` →
/// `23/12/1976`; `date('full')` → `jeudi 23 décembre 1976`.
fn format_date(f: &Format, v: &Value, style: Option<&str>) -> Result<String, Error> {
    use chrono::Datelike;
    let d = date_of(v, f.timezone).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            "date: the value is not a date (YYYY-MM-DD) nor a date and time",
        )
    })?;
    let (day, month, year) = (d.day(), d.month0() as usize, d.year());
    let weekday = d.weekday().num_days_from_monday() as usize;
    let out = match (f.locale, style.unwrap_or("long")) {
        (Locale::EnUs, "short") => format!("{:02}/{day:02}/{year}", month + 1),
        (_, "short") => format!("{day:02}/{:02}/{year}", month + 1),
        (Locale::Fr, long @ ("long" | "full")) => {
            let first = if day == 1 { "1er".to_string() } else { day.to_string() };
            let date = format!("{first} {} {year}", FR_MONTHS[month]);
            if long == "full" {
                format!("{} {date}", FR_DAYS[weekday])
            } else {
                date
            }
        }
        (Locale::EnGb, long @ ("long" | "full")) => {
            let date = format!("{day} {} {year}", EN_MONTHS[month]);
            if long == "full" {
                format!("{} {date}", EN_DAYS[weekday])
            } else {
                date
            }
        }
        (Locale::EnUs, long @ ("long" | "full")) => {
            let date = format!("{} {day}, {year}", EN_MONTHS[month]);
            if long == "full" {
                format!("{}, {date}", EN_DAYS[weekday])
            } else {
                date
            }
        }
        (_, other) => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("date: unknown style `{other}`: use `short`, `long` or `full`"),
            ));
        }
    };
    Ok(if f.sms { crate::sms::transliterate(&out) } else { out })
}

/// The symbol and the decimals of a currency (ISO 4217); others print their code.
fn currency(code: &str) -> (&str, usize) {
    match code {
        "EUR" => ("€", 2),
        "USD" => ("$", 2),
        "GBP" => ("£", 2),
        "JPY" => ("¥", 0),
        "CHF" => ("CHF", 2),
        other => (other, 2),
    }
}

/// `{{ event.cart_value | money }}` → `1 234,50 €` (French: a narrow no-break
/// space between thousands, a no-break space before the symbol; plain spaces
/// in an SMS), `€1,234.50` (English); `money('USD')` for another currency.
fn format_money(f: &Format, v: &Value, code: Option<&str>) -> Result<String, Error> {
    let amount: f64 = match v.as_str() {
        Some(s) => s.trim().parse().ok(),
        None => f64::try_from(v.clone()).ok(),
    }
    .filter(|x: &f64| x.is_finite() && x.abs() < 1e15)
    .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "money: the value is not an amount"))?;
    let code = code.unwrap_or(&f.currency);
    let (symbol, decimals) = currency(code);
    let fixed = format!("{:.*}", decimals, amount.abs());
    let (int, frac) = fixed.split_once('.').unwrap_or((&fixed, ""));
    let (group, point, space) = match (f.locale, f.sms) {
        (Locale::Fr, false) => ("\u{202f}", ",", "\u{a0}"),
        (Locale::Fr, true) => (" ", ",", " "),
        (Locale::EnGb | Locale::EnUs, _) => (",", ".", ""),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push_str(group);
        }
        grouped.push(c);
    }
    if !frac.is_empty() {
        grouped.push_str(point);
        grouped.push_str(frac);
    }
    let sign = if amount < 0.0 && fixed.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        "-"
    } else {
        ""
    };
    Ok(match f.locale {
        Locale::Fr => format!("{sign}{grouped}{space}{symbol}"),
        Locale::EnGb | Locale::EnUs if symbol.chars().count() > 1 => format!("{sign}{symbol} {grouped}"),
        Locale::EnGb | Locale::EnUs => format!("{sign}{symbol}{grouped}"),
    })
}

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
    environment_with(&std::collections::BTreeMap::new(), &Format::default())
}

/// The environment, with the templates a message includes, imports or
/// extends (path → text): nothing else can be loaded; and the project's
/// formats for `date` and `money`.
pub fn environment_with(
    includes: &std::collections::BTreeMap<String, String>,
    format: &Format,
) -> Environment<'static> {
    let mut env = Environment::new();
    let f = format.clone();
    env.add_filter("date", move |v: Value, style: Option<String>| {
        format_date(&f, &v, style.as_deref())
    });
    let f = format.clone();
    env.add_filter("money", move |v: Value, code: Option<String>| {
        format_money(&f, &v, code.as_deref())
    });
    if !includes.is_empty() {
        let includes = std::sync::Arc::new(includes.clone());
        env.set_loader(move |name| Ok(includes.get(name).cloned()));
    }
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

/// Offsets in an [`Analysis`] are bytes of the template's source; what comes
/// from a template it includes, imports or extends is at `base +` its own
/// offsets, `base` past the end of every earlier text (see [`Part`]).
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub references: Vec<Reference>,
    pub filters: Vec<FilterUse>,
    pub output: Vec<Out>,
    /// The templates included, imported or extended, transitively.
    pub parts: Vec<Part>,
    /// What could not be included, imported or extended.
    pub problems: Vec<Problem>,
    /// The output of the macro a print calls (`{{ m.footer() }}`), by the
    /// print's start: an unsubscribe link or a STOP written in a macro is
    /// in the message where the macro is called.
    pub calls: BTreeMap<usize, Vec<Out>>,
}

/// A template another one includes (`{% include "templates/footer.html" %}`),
/// imports or extends: a file of the plan directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// Its path, relative to the plan directory.
    pub path: String,
    pub source: String,
    /// Where its offsets start in the analysis.
    pub base: usize,
}

impl Analysis {
    /// The part holding offset `at`, if `at` is not in the template itself.
    pub fn part_at(&self, at: usize) -> Option<&Part> {
        self.parts
            .iter()
            .rev()
            .find(|p| p.base <= at && at <= p.base + p.source.len())
    }
}

/// Why a template named by `{% include %}`, `{% import %}` or `{% extends %}`
/// is not part of the analysis. `start..end` is the name, as analysis offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub start: usize,
    pub end: usize,
    pub kind: ProblemKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// `..` or an absolute path: outside the plan directory.
    Outside(String),
    /// No template file of the plan has this path.
    Missing(String),
    /// The name is computed: it cannot be checked.
    Dynamic,
    /// It includes itself, directly or not.
    Cycle(String),
    /// Its syntax error, at these analysis offsets.
    Syntax { start: usize, end: usize, detail: String },
}

/// Why a name does not load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Outside,
    Missing,
}

/// Finds the template a name refers to: its path and text.
pub type Resolve<'r> = &'r dyn Fn(&str) -> Result<(String, String), Refusal>;

/// Analyse a template; `None` when it does not parse (reported elsewhere).
pub fn analyze(source: &str) -> Option<Analysis> {
    parse(source).ok()
}

/// Parse and analyse a template that includes nothing, or the syntax error
/// (with its byte range).
pub fn parse(source: &str) -> Result<Analysis, Error> {
    parse_with(source, &|_| Err(Refusal::Missing))
}

/// Includes, imports and extends nest at most this deep.
const MAX_PARTS_DEPTH: usize = 16;

/// Parse and analyse a template, following `{% include %}`, `{% import %}`
/// and `{% extends %}` through `resolve`; or the template's own syntax error.
pub fn parse_with(source: &str, resolve: Resolve) -> Result<Analysis, Error> {
    let tree = minijinja::machinery::parse(source, "<template>", Default::default())?;
    let mut w = Walker {
        a: Analysis::default(),
        guards: Vec::new(),
        locals: BTreeSet::new(),
        base: 0,
        next_base: source.len() + 1,
        resolve,
        stack: Vec::new(),
        macros: BTreeMap::new(),
    };
    let mut out = Vec::new();
    w.template(&tree, &mut out, &Overrides::new());
    w.a.output = out;
    Ok(w.a)
}

/// Blocks a child template gives its parent: name → (body, base).
type Overrides<'t, 's> = std::collections::BTreeMap<&'t str, (&'t [ast::Stmt<'s>], usize)>;

struct Walker<'r> {
    a: Analysis,
    /// Paths known to be set here (inside `{% if path %}`).
    guards: Vec<(String, Option<String>)>,
    /// Names bound by the template itself (`for`, `set`, `with`, macros).
    locals: BTreeSet<String>,
    /// The offset of the text being walked.
    base: usize,
    next_base: usize,
    resolve: Resolve<'r>,
    /// The parts being walked (cycles).
    stack: Vec<String>,
    /// The macros defined so far, by the name they are called with
    /// (`footer`, or `m.footer` when imported `as m`), and their output.
    macros: BTreeMap<String, Vec<Out>>,
}

fn offsets(span: minijinja::machinery::Span) -> (usize, usize) {
    (span.start_offset as usize, span.end_offset as usize)
}

fn raw_expr_span(e: &ast::Expr) -> (usize, usize) {
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

/// The constant name of `{% include "x" %}`.
fn const_name<'e>(e: &'e ast::Expr) -> Option<&'e str> {
    match e {
        ast::Expr::Const(c) => c.value.as_str(),
        _ => None,
    }
}

/// The top-level `{% extends %}` of a template.
fn extends_of<'t, 's>(stmts: &'t [ast::Stmt<'s>]) -> Option<&'t ast::Expr<'s>> {
    stmts.iter().find_map(|s| match s {
        ast::Stmt::Extends(e) => Some(&e.name),
        _ => None,
    })
}

/// The blocks defined anywhere in `stmts`.
fn blocks_of<'t, 's>(stmts: &'t [ast::Stmt<'s>], base: usize, out: &mut Overrides<'t, 's>) {
    for s in stmts {
        if let ast::Stmt::Block(b) = s {
            out.entry(b.name).or_insert((&b.body, base));
            blocks_of(&b.body, base, out);
        }
    }
}

impl Walker<'_> {
    fn offsets(&self, span: minijinja::machinery::Span) -> (usize, usize) {
        let (s, e) = offsets(span);
        (self.base + s, self.base + e)
    }

    fn expr_span(&self, e: &ast::Expr) -> (usize, usize) {
        let (s, en) = raw_expr_span(e);
        (self.base + s, self.base + en)
    }

    /// A template's statements, or its parent's with its blocks when it
    /// extends one (what is outside the blocks of a child is not output).
    fn template(&mut self, tree: &ast::Stmt, out: &mut Vec<Out>, ov: &Overrides) {
        let ast::Stmt::Template(t) = tree else {
            return self.stmt(tree, out, ov);
        };
        let Some(parent) = extends_of(&t.children) else {
            return self.stmts(&t.children, out, ov);
        };
        let mut mine: Overrides = ov.clone();
        blocks_of(&t.children, self.base, &mut mine);
        let (start, end) = self.expr_span(parent);
        self.with_part(parent, start, end, out, |w, tree, out| w.template(tree, out, &mine));
    }

    /// Load the part a name refers to and walk its tree with `f`; record a
    /// problem (and an unbounded output) when it cannot be.
    fn with_part(
        &mut self,
        name: &ast::Expr,
        start: usize,
        end: usize,
        out: &mut Vec<Out>,
        f: impl FnOnce(&mut Self, &ast::Stmt, &mut Vec<Out>),
    ) {
        let mut problem = |w: &mut Self, kind| {
            w.a.problems.push(Problem { start, end, kind });
            out.push(Out::Unbounded { start, end });
        };
        let Some(name) = const_name(name) else {
            return problem(self, ProblemKind::Dynamic);
        };
        let (path, text) = match (self.resolve)(name) {
            Ok(x) => x,
            Err(Refusal::Outside) => return problem(self, ProblemKind::Outside(name.to_string())),
            Err(Refusal::Missing) => return problem(self, ProblemKind::Missing(name.to_string())),
        };
        if self.stack.contains(&path) || self.stack.len() >= MAX_PARTS_DEPTH {
            return problem(self, ProblemKind::Cycle(path));
        }
        // One base per file: the same footer included twice maps once.
        let base = match self.a.parts.iter().find(|p| p.path == path) {
            Some(p) => p.base,
            None => {
                let base = self.next_base;
                self.next_base += text.len() + 1;
                self.a.parts.push(Part {
                    path: path.clone(),
                    source: text.clone(),
                    base,
                });
                base
            }
        };
        let tree = match minijinja::machinery::parse(&text, "<template>", Default::default()) {
            Ok(t) => t,
            Err(e) => {
                let (s, en) = e.range().map_or((0, 0), |r| (r.start, r.end));
                let detail = e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string());
                return problem(
                    self,
                    ProblemKind::Syntax {
                        start: base + s,
                        end: base + en.max(s),
                        detail,
                    },
                );
            }
        };
        let saved = std::mem::replace(&mut self.base, base);
        self.stack.push(path);
        f(self, &tree, out);
        self.stack.pop();
        self.base = saved;
    }

    fn stmts(&mut self, stmts: &[ast::Stmt], out: &mut Vec<Out>, ov: &Overrides) {
        for s in stmts {
            self.stmt(s, out, ov);
        }
    }

    fn stmt(&mut self, s: &ast::Stmt, out: &mut Vec<Out>, ov: &Overrides) {
        match s {
            ast::Stmt::Template(t) => self.stmts(&t.children, out, ov),
            ast::Stmt::Include(i) => {
                let (start, end) = self.expr_span(&i.name);
                let locals = self.locals.clone();
                self.with_part(&i.name, start, end, out, |w, tree, out| {
                    w.template(tree, out, &Overrides::new())
                });
                self.locals = locals;
            }
            ast::Stmt::Extends(_) => {}
            ast::Stmt::Block(b) => match ov.get(b.name) {
                Some(&(body, base)) => {
                    let saved = std::mem::replace(&mut self.base, base);
                    self.stmts(body, out, ov);
                    self.base = saved;
                }
                None => self.stmts(&b.body, out, ov),
            },
            ast::Stmt::Import(i) => {
                let (start, end) = self.expr_span(&i.expr);
                let defined = self.import(&i.expr, start, end);
                if let ast::Expr::Var(alias) = &i.name {
                    for (name, output) in defined {
                        self.macros.insert(format!("{}.{name}", alias.id), output);
                    }
                }
                self.bind(&i.name);
            }
            ast::Stmt::FromImport(i) => {
                let (start, end) = self.expr_span(&i.expr);
                let mut defined = self.import(&i.expr, start, end);
                for (name, alias) in &i.names {
                    if let (ast::Expr::Var(n), ast::Expr::Var(a)) = (name, alias.as_ref().unwrap_or(name))
                        && let Some(output) = defined.remove(n.id)
                    {
                        self.macros.insert(a.id.to_string(), output);
                    }
                    self.bind(alias.as_ref().unwrap_or(name));
                }
            }
            ast::Stmt::Macro(m) => {
                self.locals.insert(m.name.to_string());
                let output = self.macro_body(&m.args, &m.defaults, &m.body, ov);
                self.macros.insert(m.name.to_string(), output);
            }
            ast::Stmt::CallBlock(c) => {
                self.refs(&c.call.expr, false, false);
                for a in &c.call.args {
                    self.arg(a, true);
                }
                self.macro_body(&c.macro_decl.args, &c.macro_decl.defaults, &c.macro_decl.body, ov);
                let (start, end) = self.offsets(c.span());
                out.push(Out::Unbounded { start, end });
            }
            ast::Stmt::EmitRaw(r) => out.push(Out::Text(r.raw.to_string())),
            ast::Stmt::EmitExpr(e) => {
                self.refs(&e.expr, true, false);
                if let Some(output) = self.macro_called(&e.expr) {
                    let (start, _) = self.expr_span(&e.expr);
                    self.a.calls.insert(start, output);
                }
                out.push(Out::Emit(self.emit(&e.expr)));
            }
            ast::Stmt::IfCond(c) => {
                self.refs(&c.expr, false, false);
                let tested = tested_paths(&c.expr);
                let depth = self.guards.len();
                self.guards.extend(tested);
                let mut yes = Vec::new();
                self.stmts(&c.true_body, &mut yes, ov);
                self.guards.truncate(depth);
                let mut no = Vec::new();
                self.stmts(&c.false_body, &mut no, ov);
                out.push(Out::Choice(vec![yes, no]));
            }
            ast::Stmt::ForLoop(f) => {
                self.refs(&f.iter, false, false);
                self.bind(&f.target);
                self.locals.insert("loop".into());
                let mut inner = Vec::new();
                self.stmts(&f.body, &mut inner, ov);
                self.stmts(&f.else_body, &mut inner, ov);
                let (start, end) = self.offsets(f.span());
                out.push(Out::Unbounded { start, end });
            }
            ast::Stmt::WithBlock(w) => {
                for (target, value) in &w.assignments {
                    self.refs(value, false, false);
                    self.bind(target);
                }
                self.stmts(&w.body, out, ov);
            }
            ast::Stmt::Set(x) => {
                self.refs(&x.expr, false, false);
                self.bind(&x.target);
            }
            ast::Stmt::SetBlock(x) => {
                self.bind(&x.target);
                let mut inner = Vec::new();
                self.stmts(&x.body, &mut inner, ov);
            }
            ast::Stmt::AutoEscape(x) => self.stmts(&x.body, out, ov),
            ast::Stmt::FilterBlock(x) => {
                self.refs(&x.filter, false, false);
                let mut inner = Vec::new();
                self.stmts(&x.body, &mut inner, ov);
                let (start, end) = self.offsets(x.span());
                out.push(Out::Unbounded { start, end });
            }
            ast::Stmt::Do(d) => self.refs(&d.call.expr, false, false),
        }
    }

    /// `{% import %}`: the macros' file is loaded and checked (its references
    /// count, its output does not: a call's output is unbounded); the macros
    /// it defines, by name.
    fn import(&mut self, name: &ast::Expr, start: usize, end: usize) -> BTreeMap<String, Vec<Out>> {
        let locals = std::mem::take(&mut self.locals);
        let outer = std::mem::take(&mut self.macros);
        let mut ignored = Vec::new();
        self.with_part(name, start, end, &mut ignored, |w, tree, out| {
            w.template(tree, out, &Overrides::new())
        });
        self.locals = locals;
        std::mem::replace(&mut self.macros, outer)
    }

    /// The output of the macro a print calls, when it is one defined or
    /// imported before (`footer()`, `m.footer()`).
    fn macro_called(&self, e: &ast::Expr) -> Option<Vec<Out>> {
        let ast::Expr::Call(c) = e else { return None };
        let name = match &c.expr {
            ast::Expr::Var(v) => v.id.to_string(),
            ast::Expr::GetAttr(g) => match &g.expr {
                ast::Expr::Var(m) => format!("{}.{}", m.id, g.name),
                _ => return None,
            },
            _ => return None,
        };
        self.macros.get(&name).cloned()
    }

    /// A macro's body: its arguments are locals; its output is where it is
    /// called (returned, for the checks that look for a text or a link in
    /// every rendering; its length stays unbounded).
    fn macro_body(
        &mut self,
        args: &[ast::Expr],
        defaults: &[ast::Expr],
        body: &[ast::Stmt],
        ov: &Overrides,
    ) -> Vec<Out> {
        for d in defaults {
            self.refs(d, false, false);
        }
        let locals = self.locals.clone();
        for a in args {
            self.bind(a);
        }
        for implicit in ["caller", "varargs", "kwargs"] {
            self.locals.insert(implicit.into());
        }
        let mut output = Vec::new();
        self.stmts(body, &mut output, ov);
        self.locals = locals;
        output
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
            let (start, end) = self.expr_span(e);
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
                let (start, end) = self.offsets(f.span());
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
        let (start, end) = self.expr_span(e);
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

/// Whether `pred` holds for an element of every rendering of `out`: for one
/// of its elements, or in every branch of one of its `{% if %}`s (an `if`
/// without `else` has an empty branch, so what is only inside it is not in
/// every rendering). Comments are not in the output at all.
/// A print that calls a macro counts as the macro's output.
pub fn in_every_rendering(a: &Analysis, pred: &mut dyn FnMut(&Out) -> bool) -> bool {
    fn walk(out: &[Out], calls: &BTreeMap<usize, Vec<Out>>, pred: &mut dyn FnMut(&Out) -> bool) -> bool {
        out.iter().any(|o| match o {
            Out::Choice(branches) => !branches.is_empty() && branches.iter().all(|b| walk(b, calls, pred)),
            // Macros are recorded after their body: a call never reaches itself.
            Out::Emit(Emit::Other { start, .. }) if calls.contains_key(start) => walk(&calls[start], calls, pred),
            other => pred(other),
        })
    }
    walk(&a.output, &a.calls, pred)
}

/// A template's text as the markup around its output sees it: the raw text
/// at its own offsets, tags and comments blanked, and each `{{ … }}`
/// replaced by a placeholder of the same length (`@0@___`, `@1@…`) that
/// names it in `prints` — so an HTML parser run on it finds, say, the
/// `href` whose whole value is one print, and its offsets are the source's.
#[derive(Clone, Debug, PartialEq)]
pub struct Skeleton {
    pub text: String,
    /// Byte ranges of the `{{ … }}` in the source, in order.
    pub prints: Vec<(usize, usize)>,
}

impl Skeleton {
    /// The print whose placeholder is exactly `value`.
    pub fn print_of(&self, value: &str) -> Option<(usize, usize)> {
        let i: usize = value.strip_prefix('@')?.split_once('@')?.0.parse().ok()?;
        let p = *self.prints.get(i)?;
        (self.text.get(p.0..p.1)? == value).then_some(p)
    }
}

pub fn skeleton(source: &str) -> Skeleton {
    use minijinja::machinery::{Token, tokenize};
    let mut bytes = vec![b' '; source.len()];
    let mut prints = Vec::new();
    let mut open = None;
    for t in tokenize(source, false, Default::default()) {
        let Ok((token, span)) = t else { break };
        let (s, e) = (span.start_offset as usize, span.end_offset as usize);
        match token {
            Token::TemplateData(_) => {
                if let (Some(dst), Some(src)) = (bytes.get_mut(s..e), source.as_bytes().get(s..e)) {
                    dst.copy_from_slice(src);
                }
            }
            Token::VariableStart => open = Some(s),
            Token::VariableEnd => {
                if let Some(o) = open.take() {
                    prints.push((o, e));
                }
            }
            _ => {}
        }
    }
    for (i, &(s, e)) in prints.iter().enumerate() {
        let mut p = format!("@{i}@");
        if p.len() > e - s {
            continue;
        }
        while p.len() < e - s {
            p.push('_');
        }
        if let Some(dst) = bytes.get_mut(s..e) {
            dst.copy_from_slice(p.as_bytes());
        }
    }
    Skeleton {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        prints,
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
    fn what_is_in_every_rendering() {
        let has_stop = |src: &str| {
            let a = analyze(src).unwrap();
            in_every_rendering(&a, &mut |o| matches!(o, Out::Text(t) if t.contains("STOP")))
        };
        assert!(has_stop("Promo STOP au 36111"));
        assert!(has_stop("{% if contact.x %}a STOP{% else %}b STOP{% endif %}"));
        assert!(!has_stop("{% if contact.region == 'PACA' %}STOP au 36111{% endif %}"));
        assert!(!has_stop("Promo {# STOP au 36111 #}"));
        assert!(!has_stop("{% if a %}STOP{% elif b %}STOP{% endif %}"));
        // A macro's output is where it is called, and only there.
        assert!(has_stop("{% macro f() %}STOP au 36111{% endmacro %}Promo {{ f() }}"));
        assert!(!has_stop("{% macro f() %}STOP au 36111{% endmacro %}Promo"));
        assert!(!has_stop(
            "{% macro f() %}STOP{% endmacro %}{% if a %}{{ f() }}{% endif %}"
        ));
        assert!(has_stop(
            "{% macro g() %}STOP{% endmacro %}{% macro f() %}x {{ g() }}{% endmacro %}{{ f() }}"
        ));
    }

    #[test]
    fn skeletons_keep_offsets_and_name_prints() {
        let src = "<a href=\"{{ unsubscribe_url }}\">x</a>{# http://x #}{% if a %}y{% endif %}";
        let s = skeleton(src);
        assert_eq!(s.text.len(), src.len());
        assert_eq!(s.prints, [(9, 30)]);
        assert!(
            s.text.starts_with("<a href=\"@0@__________________\">x</a>"),
            "{:?}",
            s.text
        );
        assert!(!s.text.contains("http") && !s.text.contains("if"));
        assert_eq!(s.print_of("@0@__________________"), Some((9, 30)));
        assert_eq!(s.print_of("@0@"), None);
    }

    #[test]
    fn dates_and_amounts_in_the_locale() {
        let fr = Format::default();
        let render = |f: &Format, src: &str, v: Value| {
            let env = environment_with(&Default::default(), f);
            super::render(&env, src, &minijinja::context! { v => v }).unwrap()
        };
        let d = Value::from("1976-12-23");
        assert_eq!(render(&fr, "{{ v | date }}", d.clone()), "23 décembre 1976");
        assert_eq!(render(&fr, "{{ v | date('short') }}", d.clone()), "23/12/1976");
        assert_eq!(
            render(&fr, "{{ v | date('full') }}", d.clone()),
            "jeudi 23 décembre 1976"
        );
        assert_eq!(
            render(&fr, "{{ v | date }}", Value::from("2026-08-01")),
            "1er août 2026"
        );
        // A date and time is a date in the project's zone.
        assert_eq!(
            render(&fr, "{{ v | date }}", Value::from("2026-12-31T23:30:00+00:00")),
            "1er janvier 2027"
        );
        let us = Format {
            locale: Locale::EnUs,
            currency: "USD".into(),
            ..Format::default()
        };
        assert_eq!(render(&us, "{{ v | date }}", d.clone()), "December 23, 1976");
        assert_eq!(render(&us, "{{ v | date('short') }}", d), "12/23/1976");
        assert_eq!(
            render(&fr, "{{ v | money }}", Value::from(1234.5)),
            "1\u{202f}234,50\u{a0}€"
        );
        assert_eq!(render(&fr, "{{ v | money }}", Value::from(-3)), "-3,00\u{a0}€");
        assert_eq!(
            render(&fr, "{{ v | money('JPY') }}", Value::from(1234567)),
            "1\u{202f}234\u{202f}567\u{a0}¥"
        );
        assert_eq!(render(&us, "{{ v | money }}", Value::from(1234.5)), "$1,234.50");
        assert_eq!(render(&us, "{{ v | money('CHF') }}", Value::from(0.5)), "CHF 0.50");
        // In an SMS: plain spaces and GSM-7 letters.
        let sms = Format {
            sms: true,
            ..Format::default()
        };
        assert_eq!(render(&sms, "{{ v | money }}", Value::from(1234.5)), "1 234,50 €");
        assert_eq!(
            render(&sms, "{{ v | date }}", Value::from("2026-08-15")),
            "15 aout 2026"
        );
        let env = environment_with(&Default::default(), &fr);
        assert!(
            super::render(
                &env,
                "{{ v | date('medium') }}",
                &minijinja::context! { v => "2026-01-01" }
            )
            .is_err()
        );
        assert!(super::render(&env, "{{ v | money }}", &minijinja::context! { v => "abc" }).is_err());
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
