//! Type-check a condition against the contact model, resolving every name.

use crate::diagnostic::{Code, Diagnostic};
use crate::expr::{Arg, CmpOp, Expr, ExprKind, Ident, Literal};
use crate::model::{Cond, CondKind, ContactModel, Event, FieldType, ID_FIELD, Operand, Value, ValueRef};
use crate::source::Span;
use crate::suggest;
use std::collections::BTreeMap;

/// The functions of the condition language.
pub const FUNCTIONS: &[&str] = &["segment", "consent", "opened", "clicked", "count"];

/// What a condition may refer to.
pub struct Scope<'a> {
    pub contact: &'a ContactModel,
    pub segments: &'a BTreeMap<String, Span>,
    pub messages: &'a BTreeMap<String, Span>,
    /// The triggering event, where the condition runs inside an event-triggered scenario.
    pub event: Option<(&'a str, &'a Event)>,
    /// Where the condition is, for `event.*` errors ("a segment", "a campaign audience").
    pub place: &'a str,
    /// Names whose declaration is broken: a reference to one makes the
    /// condition broken too, without a second error.
    pub broken: &'a crate::model::Broken,
}

/// The static type of an operand.
#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Field(FieldType),
    /// A literal.
    Lit(&'static str),
    Count,
    /// `now`, a date and time.
    Now,
}

impl Ty {
    fn describe(&self) -> String {
        match self {
            Ty::Field(f) => f.describe(),
            Ty::Lit(l) => (*l).to_string(),
            Ty::Count => "a count".to_string(),
            Ty::Now => "`now`".to_string(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    Text,
    Number,
    Time,
    Bool,
    Other,
}

fn family_of_field(f: &FieldType) -> Family {
    match f {
        FieldType::String | FieldType::Email | FieldType::Phone | FieldType::Timezone | FieldType::Enum { .. } => {
            Family::Text
        }
        FieldType::Number | FieldType::Integer => Family::Number,
        FieldType::Date | FieldType::Datetime => Family::Time,
        FieldType::Boolean => Family::Bool,
        FieldType::List { .. } => Family::Other,
    }
}

fn family(t: &Ty) -> Family {
    match t {
        Ty::Field(f) => family_of_field(f),
        Ty::Count => Family::Number,
        Ty::Now => Family::Time,
        Ty::Lit("text") => Family::Text,
        Ty::Lit("a number") => Family::Number,
        Ty::Lit("a date") | Ty::Lit("a date and time") => Family::Time,
        Ty::Lit("a boolean") => Family::Bool,
        Ty::Lit(_) => Family::Other,
    }
}

pub struct Typer<'a, 'd> {
    pub scope: Scope<'a>,
    pub diags: &'d mut Vec<Diagnostic>,
    /// Segments referenced, with the span of each `segment(...)` call.
    pub segment_refs: Vec<(String, Span)>,
    /// It refers to a broken declaration.
    pub broken: bool,
    errors: usize,
}

impl<'a, 'd> Typer<'a, 'd> {
    pub fn new(scope: Scope<'a>, diags: &'d mut Vec<Diagnostic>) -> Self {
        Typer {
            scope,
            diags,
            segment_refs: Vec::new(),
            broken: false,
            errors: 0,
        }
    }

    fn error(&mut self, d: Diagnostic) {
        self.errors += 1;
        self.diags.push(d);
    }

    /// A reference to a broken declaration: the condition is left out, and
    /// the declaration's own error says why.
    fn broken_ref(&mut self) {
        self.errors += 1;
        self.broken = true;
    }

    /// The typed condition, or `None` when it has errors (all reported).
    pub fn condition(&mut self, e: &Expr) -> Option<Cond> {
        let before = self.errors;
        let c = self.cond(e);
        if self.errors > before { None } else { Some(c) }
    }

    fn cond(&mut self, e: &Expr) -> Cond {
        let kind = match &e.kind {
            ExprKind::Or(xs) => CondKind::Or {
                any: xs.iter().map(|x| self.cond(x)).collect(),
            },
            ExprKind::And(xs) => CondKind::And {
                all: xs.iter().map(|x| self.cond(x)).collect(),
            },
            ExprKind::Not(x) => CondKind::Not {
                cond: Box::new(self.cond(x)),
            },
            ExprKind::Literal(Literal::Bool(b)) => CondKind::Const { value: *b },
            ExprKind::Call { name, args } => self.call_cond(name, args, e.span),
            ExprKind::Path(parts) => match self.path(parts) {
                Some((r, FieldType::Boolean)) => CondKind::Flag { value: r },
                Some((_, ty)) => {
                    self.error(
                        Diagnostic::new(
                            Code::TypeNotCondition,
                            format!("`{}` is {}, not a condition", path_text(parts), ty.describe()),
                        )
                        .at(e.span, "not true or false")
                        .help(not_condition_help(&path_text(parts), &ty)),
                    );
                    CondKind::Const { value: false }
                }
                None => CondKind::Const { value: false },
            },
            ExprKind::Compare { op, lhs, rhs } => self.compare(*op, lhs, rhs, e.span),
            ExprKind::In {
                item,
                collection,
                negated,
            } => self.membership(item, collection, *negated),
            ExprKind::IsSet { operand, negated } => match self.value_ref(operand, "`is set`") {
                Some((r, _)) => CondKind::IsSet {
                    value: r,
                    negated: *negated,
                },
                None => CondKind::Const { value: false },
            },
            ExprKind::Within {
                operand,
                duration,
                negated,
            } => match self.value_ref(operand, "`within`") {
                Some((r, FieldType::Date | FieldType::Datetime)) => CondKind::Within {
                    value: r,
                    duration: *duration,
                    negated: *negated,
                },
                Some((_, ty)) => {
                    self.error(
                        Diagnostic::new(
                            Code::TypeNotTime,
                            format!("`within` needs a date, and `{operand}` is {}", ty.describe()),
                        )
                        .at(operand.span, format!("{}, not a date", ty.describe()))
                        .help("Use `within` on a `date` or `datetime` field, such as `last_purchase_at within 30d`."),
                    );
                    CondKind::Const { value: false }
                }
                None => CondKind::Const { value: false },
            },
            ExprKind::Literal(l) => {
                self.error(
                    Diagnostic::new(Code::TypeNotCondition, format!("{} is not a condition", l.describe()))
                        .at(e.span, "not true or false")
                        .help("Compare it with a field, such as `total_spent >= 100`."),
                );
                CondKind::Const { value: false }
            }
            ExprKind::Now => {
                self.error(
                    Diagnostic::new(Code::TypeNotCondition, "`now` is a date and time, not a condition")
                        .at(e.span, "not true or false")
                        .help("Compare a date with it, such as `paused_until > now`."),
                );
                CondKind::Const { value: false }
            }
            ExprKind::List(_) => {
                self.error(
                    Diagnostic::new(Code::TypeNotCondition, "a list is not a condition")
                        .at(e.span, "not true or false")
                        .help("Test membership instead: `region in [\"IDF\", \"PACA\"]`."),
                );
                CondKind::Const { value: false }
            }
        };
        Cond::new(kind, e.span)
    }

    fn path(&mut self, parts: &[Ident]) -> Option<(ValueRef, FieldType)> {
        let (first, rest) = parts.split_first()?;
        match (first.name.as_str(), rest) {
            ("event", [prop]) => self.event_property(first, prop),
            ("event", []) => {
                self.error(
                    Diagnostic::new(Code::TypeNotCondition, "`event` alone is not a value")
                        .at(first.span, "a property is needed")
                        .help("Read one property of the event, such as `event.cart_value`."),
                );
                None
            }
            ("contact", [field]) => self.field(field),
            (_, []) => self.field(first),
            _ => {
                let all = parts.first().map(|p| p.span).unwrap_or_default();
                let span = parts.last().map_or(all, |l| all.to(l.span));
                self.error(
                    Diagnostic::new(
                        Code::ReferenceUnknownField,
                        format!("`{}` is not a field", path_text(parts)),
                    )
                    .at(span, "nested fields do not exist")
                    .help("Read a contact field by name (`region`), or an event property (`event.cart_value`)."),
                );
                None
            }
        }
    }

    fn field(&mut self, ident: &Ident) -> Option<(ValueRef, FieldType)> {
        let name = ident.name.as_str();
        if name == ID_FIELD {
            return Some((ValueRef::Field(name.into()), FieldType::String));
        }
        if let Some(f) = self.scope.contact.fields.get(name) {
            return Some((ValueRef::Field(name.into()), f.ty.clone()));
        }
        if self.scope.broken.fields.contains(name) {
            self.broken_ref();
            return None;
        }
        let help = if self.scope.segments.contains_key(name) {
            Some(format!("`{name}` is a segment: write `segment({name})`."))
        } else if self.scope.contact.consents.contains_key(name) {
            Some(format!("`{name}` is a consent: write `consent({name})`."))
        } else {
            let names = self.scope.contact.fields.keys().map(String::as_str).chain([ID_FIELD]);
            suggest::did_you_mean(name, names)
                .map(|s| format!("did you mean `{s}`?"))
                .or_else(|| Some("Declare it under `contact.fields`, or check the spelling.".into()))
        };
        self.error(
            Diagnostic::new(Code::ReferenceUnknownField, format!("unknown contact field `{name}`"))
                .at(ident.span, "not a field of `contact.fields`")
                .maybe_help(help),
        );
        None
    }

    fn event_property(&mut self, event_kw: &Ident, prop: &Ident) -> Option<(ValueRef, FieldType)> {
        let span = event_kw.span.to(prop.span);
        let Some((event_name, event)) = self.scope.event else {
            self.error(
                Diagnostic::new(Code::TypeEventUnavailable, format!("`event.{}` is read where there is no event", prop.name))
                    .at(span, format!("{} has no triggering event", self.scope.place))
                    .help("`event.*` is only available in scenarios with `trigger: { event: ... }`; read a contact field here instead."),
            );
            return None;
        };
        match event.properties.get(&prop.name) {
            Some(t) => Some((ValueRef::EventProperty(prop.name.clone()), FieldType::from_scalar(*t))),
            None => {
                let help = suggest::help_for(
                    &prop.name,
                    event.properties.keys().map(String::as_str),
                    "its properties",
                )
                .unwrap_or_else(|| format!("Declare it under `contact.events.{event_name}.properties`."));
                self.error(
                    Diagnostic::new(
                        Code::ReferenceUnknownProperty,
                        format!("event `{event_name}` has no property `{}`", prop.name),
                    )
                    .at(prop.span, "unknown property")
                    .related(event.span, format!("`{event_name}` is declared here"))
                    .help(help),
                );
                None
            }
        }
    }

    /// An operand that must name a field or property (`is set`, `within`).
    fn value_ref(&mut self, e: &Expr, what: &str) -> Option<(ValueRef, FieldType)> {
        match &e.kind {
            ExprKind::Path(parts) => self.path(parts),
            _ => {
                self.error(
                    Diagnostic::new(Code::TypeMismatch, format!("{what} applies to a field, not to `{e}`"))
                        .at(e.span, "expected a field name")
                        .help(format!("Write a contact field before {what}, such as `phone is set`.")),
                );
                None
            }
        }
    }

    fn call_cond(&mut self, name: &Ident, args: &[Arg], span: Span) -> CondKind {
        let f = name.name.as_str();
        match f {
            "segment" | "consent" | "opened" | "clicked" => {
                let Some(arg) = self.one_name_arg(name, args, span) else {
                    return CondKind::Const { value: false };
                };
                let n = arg.name.clone();
                match f {
                    "segment" => {
                        if self.check_name(&arg, "segment", Code::ReferenceUnknownSegment) {
                            self.segment_refs.push((n.clone(), span));
                        }
                        CondKind::Segment { name: n }
                    }
                    "consent" => {
                        self.check_name(&arg, "consent", Code::ReferenceUnknownConsent);
                        CondKind::Consent { name: n }
                    }
                    "opened" => {
                        self.check_name(&arg, "message", Code::ReferenceUnknownMessage);
                        CondKind::Opened { message: n }
                    }
                    _ => {
                        self.check_name(&arg, "message", Code::ReferenceUnknownMessage);
                        CondKind::Clicked { message: n }
                    }
                }
            }
            "count" => {
                self.error(
                    Diagnostic::new(Code::TypeNotCondition, "`count(...)` is a number, not a condition")
                        .at(span, "a number")
                        .help(format!("Compare it: `{}(...) >= 1`.", name.name)),
                );
                let _ = self.count(name, args, span);
                CondKind::Const { value: false }
            }
            _ => {
                self.unknown_function(name);
                CondKind::Const { value: false }
            }
        }
    }

    fn unknown_function(&mut self, name: &Ident) {
        let help = suggest::help_for(&name.name, FUNCTIONS.iter().copied(), "the functions");
        self.error(
            Diagnostic::new(
                Code::ReferenceUnknownFunction,
                format!("unknown function `{}`", name.name),
            )
            .at(name.span, "not a function of the condition language")
            .maybe_help(help),
        );
    }

    fn one_name_arg(&mut self, name: &Ident, args: &[Arg], span: Span) -> Option<Ident> {
        let what = match name.name.as_str() {
            "segment" => "a segment",
            "consent" => "a consent",
            _ => "a message",
        };
        match args {
            [Arg::Name(a)] => Some(a.clone()),
            _ => {
                self.error(
                    Diagnostic::new(
                        Code::TypeBadArguments,
                        format!("`{}` takes one argument, the name of {what}", name.name),
                    )
                    .at(span, format!("{} argument(s) given", args.len()))
                    .help(format!("Write `{}(NAME)`.", name.name)),
                );
                None
            }
        }
    }

    /// Check that `arg` names a declared segment/consent/message; true when it does.
    fn check_name(&mut self, arg: &Ident, kind: &str, code: Code) -> bool {
        let n = arg.name.as_str();
        let broken = match kind {
            "segment" => &self.scope.broken.segments,
            "consent" => &self.scope.broken.consents,
            _ => &self.scope.broken.messages,
        };
        if broken.contains(n) {
            // Known: a segment's condition cannot be read, a consent is
            // missing from the model; a message is only named here.
            if kind != "message" {
                self.broken_ref();
            }
            return kind == "message";
        }
        let known = match kind {
            "segment" => self.scope.segments.contains_key(n),
            "consent" => self.scope.contact.consents.contains_key(n),
            _ => self.scope.messages.contains_key(n),
        };
        if known {
            return true;
        }
        // Only an unknown name pays for the list of candidates.
        let known: Vec<&str> = match kind {
            "segment" => self.scope.segments.keys().map(String::as_str).collect(),
            "consent" => self.scope.contact.consents.keys().map(String::as_str).collect(),
            _ => self.scope.messages.keys().map(String::as_str).collect(),
        };
        // A name of another kind is a likely confusion: say so.
        let other = if kind != "segment" && self.scope.segments.contains_key(n) {
            Some("a segment")
        } else if kind != "consent" && self.scope.contact.consents.contains_key(n) {
            Some("a consent")
        } else if kind != "message" && self.scope.messages.contains_key(n) {
            Some("a message")
        } else if self.scope.contact.fields.contains_key(n) {
            Some("a contact field")
        } else {
            None
        };
        let help = match other {
            Some(o) => Some(format!("`{n}` is {o}, not a {kind}.")),
            None => suggest::help_for(n, known.iter().copied(), &format!("the {kind}s"))
                .or_else(|| Some(format!("Declare the {kind} first; the plan has none."))),
        };
        self.error(
            Diagnostic::new(code, format!("unknown {kind} `{n}`"))
                .at(arg.span, format!("no {kind} has this name"))
                .maybe_help(help),
        );
        false
    }

    fn count(&mut self, name: &Ident, args: &[Arg], span: Span) -> Option<Operand> {
        let (event, within) = match args {
            [Arg::Name(e)] => (e, None),
            [Arg::Name(e), Arg::Duration(d, _)] => (e, Some(*d)),
            _ => {
                self.error(
                    Diagnostic::new(
                        Code::TypeBadArguments,
                        "`count` takes an event name and an optional window",
                    )
                    .at(span, "unexpected arguments")
                    .help(format!(
                        "Write `{}(purchase)` or `{}(purchase, 90d)`.",
                        name.name, name.name
                    )),
                );
                return None;
            }
        };
        if self.scope.broken.events.contains(&event.name) {
            self.broken_ref();
            return None;
        }
        if !self.scope.contact.events.contains_key(&event.name) {
            let help = suggest::help_for(
                &event.name,
                self.scope.contact.events.keys().map(String::as_str),
                "the events",
            )
            .or_else(|| Some("Declare it under `contact.events`.".into()));
            self.error(
                Diagnostic::new(Code::ReferenceUnknownEvent, format!("unknown event `{}`", event.name))
                    .at(event.span, "not declared under `contact.events`")
                    .maybe_help(help),
            );
            return None;
        }
        Some(Operand::Count {
            event: event.name.clone(),
            within,
        })
    }

    /// An operand of a comparison with its type.
    fn operand(&mut self, e: &Expr) -> Option<(Operand, Ty)> {
        match &e.kind {
            ExprKind::Path(parts) => {
                let (r, t) = self.path(parts)?;
                Some((Operand::Ref(r), Ty::Field(t)))
            }
            ExprKind::Literal(l) => {
                let v = literal_value(l)?;
                Some((Operand::Value(v), Ty::Lit(l.describe())))
            }
            ExprKind::Call { name, args } if name.name == "count" => Some((self.count(name, args, e.span)?, Ty::Count)),
            ExprKind::Now => Some((Operand::Now, Ty::Now)),
            ExprKind::Call { name, .. } if !FUNCTIONS.contains(&name.name.as_str()) => {
                self.unknown_function(name);
                None
            }
            _ => {
                self.error(
                    Diagnostic::new(Code::TypeMismatch, format!("`{e}` cannot be compared"))
                        .at(e.span, "a condition, not a value")
                        .help("Compare a field or `count(...)` with a value, and combine conditions with `and`/`or`."),
                );
                None
            }
        }
    }

    fn compare(&mut self, op: CmpOp, lhs: &Expr, rhs: &Expr, span: Span) -> CondKind {
        let l = self.operand(lhs);
        let r = self.operand(rhs);
        let (Some((lo, lt)), Some((ro, rt))) = (l, r) else {
            return CondKind::Const { value: false };
        };
        // `now` against a literal date is a condition on the moment; two
        // literals, or `now` with itself, always give the same result.
        let both_lit = matches!(lt, Ty::Lit(_)) && matches!(rt, Ty::Lit(_));
        if both_lit || (lt == Ty::Now && rt == Ty::Now) {
            self.error(
                Diagnostic::new(Code::TypeMismatch, "this compares two fixed values")
                    .at(span, "always the same result")
                    .help("Compare a contact field, an event property or `count(...)` with a value."),
            );
            return CondKind::Const { value: false };
        }
        let (lf, rf) = (family(&lt), family(&rt));
        if lf != rf || lf == Family::Other {
            let help = match (&lt, &rt) {
                (Ty::Field(FieldType::List { .. }), _) | (_, Ty::Field(FieldType::List { .. })) => {
                    "Test membership in a list with `in`: `\"shoes\" in interests`.".to_string()
                }
                _ => format!("Compare {} with {}.", lt.describe(), an_example(&lt)),
            };
            self.error(
                Diagnostic::new(
                    Code::TypeMismatch,
                    format!("cannot compare {} with {}", lt.describe(), rt.describe()),
                )
                .at(rhs.span, rt.describe())
                .related(lhs.span, lt.describe())
                .help(help),
            );
            return CondKind::Const { value: false };
        }
        if op.is_ordering() && matches!(lf, Family::Text | Family::Bool) {
            self.error(
                Diagnostic::new(
                    Code::TypeMismatch,
                    format!("`{}` does not apply to {}", op.as_str(), lt.describe()),
                )
                .at(span, "only numbers and dates are ordered")
                .help("Use `==` or `!=`, or `in [...]` for several values."),
            );
            return CondKind::Const { value: false };
        }
        if lt == Ty::Field(FieldType::Integer) || lt == Ty::Count {
            self.check_integer_literal(&ro, rhs.span, &lt);
        }
        if rt == Ty::Field(FieldType::Integer) || rt == Ty::Count {
            self.check_integer_literal(&lo, lhs.span, &rt);
        }
        self.check_enum_pair(&lt, &ro, rhs.span);
        self.check_enum_pair(&rt, &lo, lhs.span);
        CondKind::Compare {
            lhs: lo,
            cmp: op,
            rhs: ro,
        }
    }

    fn check_integer_literal(&mut self, v: &Operand, span: Span, ty: &Ty) {
        if let Operand::Value(Value::Number(n)) = v
            && n.fract() != 0.0
        {
            self.error(
                Diagnostic::new(
                    Code::TypeMismatch,
                    format!("{} is compared with the fraction {n}", ty.describe()),
                )
                .at(span, "not a whole number")
                .help(format!("Use a whole number, such as {}.", n.ceil())),
            );
        }
    }

    /// An enum field compared with a text literal: the literal must be one of its values.
    fn check_enum_pair(&mut self, ty: &Ty, v: &Operand, span: Span) {
        if let (Ty::Field(FieldType::Enum { values }), Operand::Value(Value::String(s))) = (ty, v) {
            self.check_enum_value(values, s, span);
        }
    }

    fn check_enum_value(&mut self, values: &[String], s: &str, span: Span) {
        if values.iter().any(|v| v == s) {
            return;
        }
        let help = suggest::help_for(s, values.iter().map(String::as_str), "the values");
        self.error(
            Diagnostic::new(
                Code::TypeUnknownEnumValue,
                format!("\"{s}\" is not one of the field's values"),
            )
            .at(span, "no such value")
            .maybe_help(help),
        );
    }

    fn membership(&mut self, item: &Expr, collection: &Expr, negated: bool) -> CondKind {
        match &collection.kind {
            ExprKind::List(items) => {
                let Some((r, ty)) = self.value_ref(item, "`in [...]`") else {
                    return CondKind::Const { value: false };
                };
                let fam = family_of_field(&ty);
                let mut list = Vec::new();
                for x in items {
                    let ExprKind::Literal(l) = &x.kind else { continue };
                    let lit_fam = family(&Ty::Lit(l.describe()));
                    if lit_fam != fam {
                        self.error(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                format!("{} in a list of values for {}", l.describe(), ty.describe()),
                            )
                            .at(x.span, l.describe())
                            .related(item.span, ty.describe())
                            .help(format!("List values of the field's type ({}).", ty.describe())),
                        );
                        continue;
                    }
                    if let (FieldType::Enum { values }, Literal::String(s)) = (&ty, l) {
                        self.check_enum_value(values, s, x.span);
                    }
                    if let Some(v) = literal_value(l) {
                        list.push(v);
                    }
                }
                CondKind::InList {
                    value: r,
                    list,
                    negated,
                }
            }
            ExprKind::Path(parts) => {
                let Some((r, ty)) = self.path(parts) else {
                    return CondKind::Const { value: false };
                };
                let FieldType::List { of } = ty else {
                    self.error(
                        Diagnostic::new(
                            Code::TypeNotList,
                            format!("`{collection}` is {}, not a list", ty.describe()),
                        )
                        .at(collection.span, "not a list")
                        .help(format!(
                            "Compare it with `==`, or write the values as a list: `{collection} in [\"a\", \"b\"]`."
                        )),
                    );
                    return CondKind::Const { value: false };
                };
                let ExprKind::Literal(l) = &item.kind else {
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            "the value tested against a list must be written out",
                        )
                        .at(item.span, "expected a value")
                        .help("Write the value, such as `\"shoes\" in interests`."),
                    );
                    return CondKind::Const { value: false };
                };
                let want = family_of_field(&FieldType::from_scalar(of));
                if family(&Ty::Lit(l.describe())) != want {
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            format!(
                                "{} tested against a list of {}",
                                l.describe(),
                                crate::model::scalar_name(of)
                            ),
                        )
                        .at(item.span, l.describe())
                        .help(format!(
                            "Test a value of the list's item type ({}).",
                            crate::model::scalar_name(of)
                        )),
                    );
                    return CondKind::Const { value: false };
                }
                match literal_value(l) {
                    Some(value) => CondKind::Contains {
                        list: r,
                        value,
                        negated,
                    },
                    None => CondKind::Const { value: false },
                }
            }
            _ => {
                self.error(
                    Diagnostic::new(Code::TypeNotList, format!("`{collection}` is not a list"))
                        .at(collection.span, "expected `[...]` or a list field")
                        .help("Write `x in [\"a\", \"b\"]`, or `\"a\" in list_field`."),
                );
                CondKind::Const { value: false }
            }
        }
    }
}

fn literal_value(l: &Literal) -> Option<Value> {
    Some(match l {
        Literal::String(s) => Value::String(s.clone()),
        Literal::Number(n) => Value::Number(*n),
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Date(d) => Value::Date(*d),
        Literal::DateTime(d) => Value::DateTime(*d),
        Literal::Duration(_) => return None,
    })
}

fn path_text(parts: &[Ident]) -> String {
    parts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(".")
}

fn an_example(t: &Ty) -> &'static str {
    match family(t) {
        Family::Text => "quoted text, such as \"IDF\"",
        Family::Number => "a number, such as 100",
        Family::Time => "a date such as 2026-01-01 or `now`, or use `within 30d`",
        Family::Bool => "`true` or `false`",
        Family::Other => "a value of the same type",
    }
}

fn not_condition_help(name: &str, ty: &FieldType) -> String {
    match ty {
        FieldType::Date | FieldType::Datetime => format!("Test it: `{name} within 30d` or `{name} is set`."),
        FieldType::List { .. } => format!("Test membership: `\"value\" in {name}`."),
        FieldType::Number | FieldType::Integer => format!("Compare it: `{name} >= 1`."),
        _ => format!("Compare it (`{name} == \"...\"`) or test presence (`{name} is set`)."),
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{CondKind, Operand, Value, ValueRef};
    use crate::{Code, SourceFile, SourceKind, SourceSet};

    const MODEL: &str = "contact:
  fields:
    region: { type: enum, values: [IDF, PACA] }
    interests: { type: list, of: string }
    total_spent: { type: number }
    orders: { type: integer }
    is_vip: { type: boolean }
    first_name: { type: string, optional: true }
    last_purchase_at: { type: datetime, optional: true }
    signup_on: { type: date }
  consents:
    sms: { channel: sms }
  events:
    purchase: { properties: { amount: number } }
    cart: { properties: { value: number, url: string } }
";

    fn compile(extra: &str) -> crate::Compilation {
        let mut set = SourceSet::new();
        set.add(SourceFile::new(
            "herald.toml",
            SourceKind::Config,
            "[project]\nname='t'\ntimezone='UTC'\n",
        ));
        set.add(SourceFile::new("p.yaml", SourceKind::Yaml, format!("{MODEL}{extra}")));
        crate::compile(&set, chrono::DateTime::UNIX_EPOCH, &Default::default())
    }

    /// The typed condition of segment `s`, or the codes of the errors.
    fn segment(cond: &str) -> Result<CondKind, Vec<Code>> {
        let c = compile(&format!("segments:\n  s:\n    where: '{cond}'\n"));
        if c.has_errors() {
            return Err(c.diagnostics.iter().map(|d| d.code).collect());
        }
        Ok(c.plan.segments["s"].condition.kind.clone())
    }

    #[test]
    fn forms_type_to_the_right_conditions() {
        assert!(matches!(
            segment(r#""shoes" in interests"#),
            Ok(CondKind::Contains { negated: false, .. })
        ));
        assert!(matches!(
            segment(r#"region not in ["IDF"]"#),
            Ok(CondKind::InList { negated: true, .. })
        ));
        assert!(matches!(segment("is_vip"), Ok(CondKind::Flag { value: ValueRef::Field(f) }) if f == "is_vip"));
        assert!(matches!(segment("contact.is_vip"), Ok(CondKind::Flag { .. })));
        assert!(matches!(
            segment("first_name is not set"),
            Ok(CondKind::IsSet { negated: true, .. })
        ));
        assert!(matches!(
            segment("last_purchase_at within 30d"),
            Ok(CondKind::Within { .. })
        ));
        assert!(matches!(
            segment("signup_on not within 1w"),
            Ok(CondKind::Within { negated: true, .. })
        ));
        assert!(matches!(
            segment("consent(sms) and not is_vip"),
            Ok(CondKind::And { .. })
        ));
        match segment("count(purchase, 90d) >= 2") {
            Ok(CondKind::Compare {
                lhs: Operand::Count { event, within: Some(d) },
                rhs: Operand::Value(Value::Number(n)),
                ..
            }) => {
                assert_eq!(event, "purchase");
                assert_eq!(d.to_string(), "90d");
                assert_eq!(n, 2.0);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn typed_conditions_print_back_to_the_language() {
        for text in [
            r#"region == "IDF" and ("shoes" in interests or total_spent >= 1000.5)"#,
            "not (is_vip and consent(sms)) or first_name is not set",
            "last_purchase_at not within 30d and signup_on < 2026-01-01",
            r#"region not in ["IDF", "PACA"] and count(purchase, 90d) >= 2"#,
            "contact.is_vip",
            "signup_on within 25y and last_purchase_at < now and count(purchase, 6mo) >= 1",
        ] {
            let Ok(kind) = segment(text) else { panic!("{text}") };
            let shown = crate::model::Cond::new(kind.clone(), Default::default()).to_string();
            let again = segment(&shown).unwrap_or_else(|e| panic!("{shown}: {e:?}"));
            assert_eq!(again, kind, "{text} → {shown}");
        }
    }

    #[test]
    fn compatible_operands_are_accepted() {
        for ok in [
            "total_spent >= orders",
            "orders == 3",
            "region == \"IDF\"",
            "first_name != \"Zoé\"",
            "last_purchase_at >= 2026-01-01",
            "signup_on < 2026-01-01T10:00",
            "is_vip == false",
            "id == \"c0000001\"",
            "true",
            "last_purchase_at > now",
            "now >= signup_on",
            "signup_on within 25y",
            "count(purchase, 12mo) >= 1",
            "now < 2027-01-01",
        ] {
            assert!(segment(ok).is_ok(), "{ok}: {:?}", segment(ok));
        }
    }

    #[test]
    fn incompatible_operands_are_rejected_with_the_right_code() {
        let cases: &[(&str, Code)] = &[
            ("total_spent == \"a\"", Code::TypeMismatch),
            ("orders > 2.5", Code::TypeMismatch),
            ("region > \"IDF\"", Code::TypeMismatch),
            ("interests == \"shoes\"", Code::TypeMismatch),
            ("1 == 1", Code::TypeMismatch),
            ("region == \"Paris\"", Code::TypeUnknownEnumValue),
            ("region in [\"IDF\", 3]", Code::TypeMismatch),
            ("3 in interests", Code::TypeMismatch),
            ("\"x\" in region", Code::TypeNotList),
            ("total_spent within 3d", Code::TypeNotTime),
            ("total_spent", Code::TypeNotCondition),
            ("count(purchase)", Code::TypeNotCondition),
            ("42", Code::TypeNotCondition),
            ("count(purchases) > 1", Code::ReferenceUnknownEvent),
            ("consent(sms, sms)", Code::TypeBadArguments),
            ("opened(s)", Code::ReferenceUnknownMessage),
            ("segment(nope)", Code::ReferenceUnknownSegment),
            ("foo(x)", Code::ReferenceUnknownFunction),
            ("event.value > 3", Code::TypeEventUnavailable),
            ("contact.a.b", Code::ReferenceUnknownField),
            ("now", Code::TypeNotCondition),
            ("now > now", Code::TypeMismatch),
            ("total_spent > now", Code::TypeMismatch),
            ("now is set", Code::TypeMismatch),
        ];
        for (cond, code) in cases {
            let got = segment(cond).expect_err(cond);
            assert!(got.contains(code), "{cond}: expected {code}, got {got:?}");
        }
    }

    #[test]
    fn every_error_of_a_condition_is_reported() {
        let got = segment("regoin == \"x\" and totl > 1 and segment(nope)").unwrap_err();
        assert_eq!(
            got,
            [
                Code::ReferenceUnknownField,
                Code::ReferenceUnknownField,
                Code::ReferenceUnknownSegment
            ]
        );
    }

    #[test]
    fn event_properties_are_typed_in_event_scenarios() {
        let base =
            "programs: { p: { objective: x } }\nmessages: { m: { channel: sms, purpose: transactional, text: hi } }\n";
        let ok = compile(&format!(
            "{base}scenarios:\n  s:\n    program: p\n    trigger: {{ event: cart, where: 'event.value > 30 and event.url is set' }}\n    steps:\n      - if: event.value > 100\n        then: [ {{ send: m }} ]\n"
        ));
        assert!(!ok.has_errors(), "{:#?}", ok.diagnostics);
        assert!(
            ok.diagnostics
                .iter()
                .all(|d| d.category() != crate::diagnostic::Category::Type)
        );
        let wrong = compile(&format!(
            "{base}scenarios:\n  s:\n    program: p\n    trigger: {{ event: cart, where: 'event.amount > 30' }}\n    steps: [ {{ send: m }} ]\n"
        ));
        assert!(
            wrong
                .diagnostics
                .iter()
                .any(|d| d.code == Code::ReferenceUnknownProperty),
            "{:#?}",
            wrong.diagnostics
        );
        let date = compile(&format!(
            "{base}scenarios:\n  s:\n    program: p\n    trigger: {{ date: signup_on, offset: 1y }}\n    exit_when: event.value > 1\n    steps: [ {{ send: m }} ]\n"
        ));
        assert!(
            date.diagnostics.iter().any(|d| d.code == Code::TypeEventUnavailable),
            "{:#?}",
            date.diagnostics
        );
    }
}
