//! pest grammar → [`Expr`], with errors that point at the offending token.

use super::ast::{Arg, CmpOp, Expr, ExprKind, Ident, Literal};
use crate::ast::values::{Duration, Period};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};
use crate::suggest;
use crate::yaml::scalar::ScalarMap;
use chrono::{NaiveDate, NaiveDateTime};
use pest::Parser;
use pest::iterators::Pair;
use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "front/expr/grammar.pest"]
struct ConditionParser;

/// Longest condition accepted, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 16 * 1024;
/// Deepest nesting of parentheses and brackets accepted (the parser recurses).
pub const MAX_NESTING: usize = 32;

struct Ctx<'a> {
    text: &'a str,
    map: &'a ScalarMap,
    file: FileId,
}

impl Ctx<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        self.map.span(self.file, start, end)
    }

    fn pair_span(&self, p: &Pair<Rule>) -> Span {
        let s = p.as_span();
        self.span(s.start(), s.end())
    }
}

/// Parse a condition. `map` maps offsets of `text` to the YAML file.
pub fn parse_condition(text: &str, map: &ScalarMap, file: FileId) -> Result<Expr, Diagnostic> {
    parse_with(text, map, file, true)
}

/// The pest parser alone: the reference the fast parser is tested against
/// (by its unit tests and by the `condition` fuzz target).
#[doc(hidden)]
pub fn pest_only(text: &str, map: &ScalarMap, file: FileId) -> Result<Expr, Diagnostic> {
    parse_with(text, map, file, false)
}

fn parse_with(text: &str, map: &ScalarMap, file: FileId, fast: bool) -> Result<Expr, Diagnostic> {
    let ctx = Ctx { text, map, file };
    if text.len() > MAX_EXPRESSION_BYTES {
        return Err(Diagnostic::new(
            Code::SyntaxExpression,
            format!(
                "this condition is {} bytes long; the limit is {MAX_EXPRESSION_BYTES}",
                text.len()
            ),
        )
        .at(ctx.span(0, text.len()), "too long")
        .help("Split it into named segments and combine them with `segment(name)`."));
    }
    if text.trim().is_empty() {
        return Err(Diagnostic::new(Code::SyntaxExpression, "empty condition")
            .at(ctx.span(0, text.len()), "a condition is needed here")
            .help("Write a condition such as `total_spent >= 100`, or remove the key."));
    }
    check_nesting(&ctx)?;
    // The common forms, without pest's per-rule costs; pest reads the rest
    // (and gives every error message).
    if fast && let Some(e) = super::fast::parse(text, map, file) {
        return Ok(e);
    }
    let mut pairs = ConditionParser::parse(Rule::condition, text).map_err(|e| syntax_error(&ctx, &e))?;
    check_durations(&ctx, &pairs)?;
    let condition = pairs.next().and_then(|p| p.into_inner().next());
    match condition {
        Some(or_expr) => Ok(build_or(&ctx, or_expr)),
        None => Err(Diagnostic::new(Code::SyntaxExpression, "empty condition").at(ctx.span(0, text.len()), "")),
    }
}

/// Every duration token is within [`Duration::MAX`]: the tree builder then reads
/// each one without a fallback.
fn check_durations(ctx: &Ctx, pairs: &pest::iterators::Pairs<Rule>) -> Result<(), Diagnostic> {
    for p in pairs.clone().flatten().filter(|p| p.as_rule() == Rule::duration) {
        if let Err(message) = p.as_str().parse::<Period>() {
            return Err(Diagnostic::new(Code::SyntaxExpression, message)
                .at(ctx.pair_span(&p), "too long")
                .help(format!(
                    "Durations go up to {} (100 years, or `100y`): write a shorter one.",
                    Duration::MAX
                )));
        }
    }
    Ok(())
}

fn check_nesting(ctx: &Ctx) -> Result<(), Diagnostic> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in ctx.text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Diagnostic::new(
                        Code::SyntaxExpression,
                        format!("parentheses nest more than {MAX_NESTING} deep"),
                    )
                    .at(ctx.span(i, i + 1), "too deep")
                    .help("Simplify the condition, or name parts of it as segments."));
                }
            }
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    // `not not not …` recurses like parentheses do.
    let mut run = 0usize;
    for (i, word) in ctx
        .text
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .scan(0usize, |pos, w| {
            let start = *pos;
            *pos += w.len() + 1;
            Some((start, w))
        })
    {
        if word == "not" {
            run += 1;
            if run > MAX_NESTING {
                return Err(Diagnostic::new(
                    Code::SyntaxExpression,
                    format!("more than {MAX_NESTING} `not` in a row"),
                )
                .at(ctx.span(i, i + 3), "too deep")
                .help("Two `not` cancel out: remove them in pairs."));
            }
        } else if !word.is_empty() {
            run = 0;
        }
    }
    Ok(())
}

fn friendly(rule: &Rule) -> &'static str {
    match rule {
        Rule::EOI => "the end of the condition",
        Rule::kw_and | Rule::kw_or => "`and` or `or`",
        Rule::kw_not => "`not`",
        Rule::kw_in => "`in`",
        Rule::kw_set => "`set`",
        Rule::kw_within => "`within`",
        Rule::kw_is => "`is`",
        Rule::cmp_op | Rule::compare | Rule::suffix => {
            "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`), `in`, `is set` or `within`"
        }
        Rule::duration => "a duration such as `30d` or `12mo`",
        Rule::ident | Rule::path => "a name",
        Rule::string => "a quoted text",
        Rule::number => "a number",
        Rule::list => "a list `[...]`",
        _ => "a value or a condition",
    }
}

fn syntax_error(ctx: &Ctx, e: &pest::error::Error<Rule>) -> Diagnostic {
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let text = ctx.text;
    let pos = pos.min(text.len());
    let rest = text.get(pos..).unwrap_or("");
    let token: String = match rest.chars().next() {
        None => String::new(),
        Some(c) if c.is_alphanumeric() || c == '_' => rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect(),
        Some(c) => {
            let two: String = rest.chars().take(2).collect();
            if ["&&", "||", "=>", "=<"].contains(&two.as_str()) {
                two
            } else {
                c.to_string()
            }
        }
    };
    let mut expected: Vec<&'static str> = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives.iter().map(friendly).collect(),
        pest::error::ErrorVariant::CustomError { .. } => vec![],
    };
    expected.sort_unstable();
    expected.dedup();
    // Inside `name(`: what the function takes, not what the grammar could read.
    if let Some(arg) = call_argument(text, pos) {
        expected = vec![arg];
    }
    let found = if token.is_empty() {
        "the end of the condition".to_string()
    } else {
        format!("`{token}`")
    };
    let expecting = match expected.len() {
        0 => String::new(),
        1 => expected[0].to_string(),
        n => format!("{} or {}", expected[..n - 1].join(", "), expected[n - 1]),
    };
    let help = match token.as_str() {
        "" if let Some(arg) = call_argument(text, pos) => Some(format!("Write {arg}, then close the call with `)`.")),
        "=" => Some("Use `==` to compare.".to_string()),
        "&&" => Some("Use `and`.".to_string()),
        "||" => Some("Use `or`.".to_string()),
        "!" => Some("Use `not` (or `!=` to compare).".to_string()),
        "\"" | "'" => Some("Close the quoted text with the same quote.".to_string()),
        "" if text.matches('(').count() > text.matches(')').count() => {
            Some("Close the parenthesis with `)`.".to_string())
        }
        t if t.chars().next().is_some_and(char::is_alphabetic) => {
            let words = ["and", "or", "not", "in", "is", "set", "within"];
            suggest::did_you_mean(t, words).map(|w| format!("did you mean `{w}`?"))
        }
        _ => None,
    }
    .or_else(|| {
        Some(format!(
            "Write {}.",
            if expecting.is_empty() {
                "a valid condition".to_string()
            } else {
                expecting.clone()
            }
        ))
    });
    let end = (pos + token.len().max(1)).min(text.len().max(pos));
    let (message, label) = match (token.is_empty(), expecting.is_empty()) {
        (true, true) => ("the condition ends too early".to_string(), "ends here".to_string()),
        (true, false) => (
            format!("the condition ends too early: expected {expecting}"),
            "ends here".to_string(),
        ),
        (false, true) => (
            format!("unexpected {found} in condition"),
            format!("unexpected {found}"),
        ),
        (false, false) => (
            format!("unexpected {found} in condition: expected {expecting}"),
            format!("unexpected {found}"),
        ),
    };
    Diagnostic::new(Code::SyntaxExpression, message)
        .at(ctx.span(pos, end), label)
        .maybe_help(help)
}

/// What the argument at `pos` of a call such as `segment(` or `count(purchase, `
/// must be, when `pos` is one.
fn call_argument(text: &str, pos: usize) -> Option<&'static str> {
    let before = text.get(..pos)?.trim_end();
    let (head, second) = match before.strip_suffix(',') {
        Some(h) => (h.rsplit_once('(')?.0, true),
        None => (before.strip_suffix('(')?, false),
    };
    let head = head.trim_end();
    // After the last character that is not part of a name (it may be
    // several bytes long: the name starts after all of them).
    let start = head
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    Some(match (&head[start..], second) {
        ("segment", false) => "the name of a segment",
        ("consent", false) => "the name of a consent",
        ("opened" | "clicked", false) => "the name of a message",
        ("count", false) => "the name of an event",
        ("count", true) => "a duration such as `30d` or `12mo`",
        _ => return None,
    })
}

fn node(kind: ExprKind, span: Span) -> Expr {
    Expr { kind, span }
}

fn build_or(ctx: &Ctx, pair: Pair<Rule>) -> Expr {
    build_chain(ctx, pair, ExprKind::Or)
}

/// `a or b or c` → one n-ary node; `kw_*` separators are skipped.
fn build_chain(ctx: &Ctx, pair: Pair<Rule>, make: fn(Vec<Expr>) -> ExprKind) -> Expr {
    let span = ctx.pair_span(&pair);
    let mut items: Vec<Expr> = pair
        .into_inner()
        .filter_map(|p| match p.as_rule() {
            Rule::and_expr => Some(build_chain(ctx, p, ExprKind::And)),
            Rule::not_expr => Some(build_not(ctx, p)),
            _ => None,
        })
        .collect();
    match items.len() {
        0 => node(ExprKind::Literal(Literal::Bool(true)), span),
        1 => items
            .pop()
            .unwrap_or_else(|| node(ExprKind::Literal(Literal::Bool(true)), span)),
        _ => node(make(items), span),
    }
}

fn build_not(ctx: &Ctx, pair: Pair<Rule>) -> Expr {
    let span = ctx.pair_span(&pair);
    let Some(inner) = pair.into_inner().next() else {
        return node(ExprKind::Literal(Literal::Bool(true)), span);
    };
    match inner.as_rule() {
        Rule::negation => {
            let s = ctx.pair_span(&inner);
            let operand = inner.into_inner().find(|p| p.as_rule() == Rule::not_expr);
            match operand {
                Some(o) => node(ExprKind::Not(Box::new(build_not(ctx, o))), s),
                None => node(ExprKind::Literal(Literal::Bool(true)), s),
            }
        }
        _ => build_predicate(ctx, inner),
    }
}

fn build_predicate(ctx: &Ctx, pair: Pair<Rule>) -> Expr {
    let span = ctx.pair_span(&pair);
    let mut inner = pair.into_inner();
    let Some(first) = inner.next() else {
        return node(ExprKind::Literal(Literal::Bool(true)), span);
    };
    let lhs = build_operand(ctx, first);
    let Some(suffix) = inner.next().and_then(|s| s.into_inner().next()) else {
        return lhs;
    };
    let rule = suffix.as_rule();
    let parts: Vec<Pair<Rule>> = suffix.into_inner().collect();
    let has = |r: Rule| parts.iter().any(|p| p.as_rule() == r);
    let last_operand = || {
        parts.iter().rev().find(|p| {
            !matches!(
                p.as_rule(),
                Rule::kw_and
                    | Rule::kw_or
                    | Rule::kw_not
                    | Rule::kw_in
                    | Rule::kw_is
                    | Rule::kw_set
                    | Rule::kw_within
                    | Rule::cmp_op
            )
        })
    };
    let kind = match rule {
        Rule::compare => {
            let op = match parts.first().map(|p| p.as_str()) {
                Some("==") => CmpOp::Eq,
                Some("!=") => CmpOp::Ne,
                Some("<") => CmpOp::Lt,
                Some("<=") => CmpOp::Le,
                Some(">") => CmpOp::Gt,
                _ => CmpOp::Ge,
            };
            match last_operand() {
                Some(r) => ExprKind::Compare {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(build_operand(ctx, r.clone())),
                },
                None => return lhs,
            }
        }
        Rule::in_ | Rule::not_in => match last_operand() {
            Some(r) => ExprKind::In {
                item: Box::new(lhs),
                collection: Box::new(build_operand(ctx, r.clone())),
                negated: rule == Rule::not_in,
            },
            None => return lhs,
        },
        Rule::is_set => ExprKind::IsSet {
            operand: Box::new(lhs),
            negated: has(Rule::kw_not),
        },
        Rule::within => {
            let duration = parts
                .iter()
                .find(|p| p.as_rule() == Rule::duration)
                .and_then(|p| p.as_str().parse().ok())
                .unwrap_or(Period::Exact(Duration::ZERO));
            ExprKind::Within {
                operand: Box::new(lhs),
                duration,
                negated: has(Rule::kw_not),
            }
        }
        _ => return lhs,
    };
    node(kind, span)
}

fn ident(ctx: &Ctx, p: &Pair<Rule>) -> Ident {
    Ident {
        name: p.as_str().to_string(),
        span: ctx.pair_span(p),
    }
}

fn build_operand(ctx: &Ctx, pair: Pair<Rule>) -> Expr {
    let span = ctx.pair_span(&pair);
    let kind = match pair.as_rule() {
        Rule::paren => match pair.into_inner().next() {
            Some(inner) => {
                let mut e = build_or(ctx, inner);
                e.span = span;
                return e;
            }
            None => ExprKind::Literal(Literal::Bool(true)),
        },
        Rule::call => {
            let mut inner = pair.into_inner();
            let name = inner.next().map(|p| ident(ctx, &p)).unwrap_or(Ident {
                name: String::new(),
                span,
            });
            let args = inner
                .map(|p| match p.as_rule() {
                    Rule::duration => Arg::Duration(
                        p.as_str().parse().unwrap_or(Period::Exact(Duration::ZERO)),
                        ctx.pair_span(&p),
                    ),
                    _ => Arg::Name(ident(ctx, &p)),
                })
                .collect();
            ExprKind::Call { name, args }
        }
        Rule::list => ExprKind::List(pair.into_inner().map(|p| build_operand(ctx, p)).collect()),
        Rule::path => ExprKind::Path(pair.into_inner().map(|p| ident(ctx, &p)).collect()),
        Rule::string => {
            let value = match pair.into_inner().next() {
                Some(p) if p.as_rule() == Rule::dq_inner => unescape(p.as_str()),
                // Single-quoted text has no escapes.
                Some(p) => p.as_str().to_string(),
                None => String::new(),
            };
            ExprKind::Literal(Literal::String(value))
        }
        Rule::number => ExprKind::Literal(Literal::Number(pair.as_str().parse().unwrap_or(0.0))),
        Rule::boolean => ExprKind::Literal(Literal::Bool(pair.as_str() == "true")),
        Rule::duration => ExprKind::Literal(Literal::Duration(
            pair.as_str().parse().unwrap_or(Period::Exact(Duration::ZERO)),
        )),
        Rule::now => ExprKind::Now,
        Rule::date => match NaiveDate::parse_from_str(pair.as_str(), "%Y-%m-%d") {
            Ok(d) => ExprKind::Literal(Literal::Date(d)),
            Err(_) => ExprKind::Literal(Literal::String(pair.as_str().to_string())),
        },
        Rule::datetime => {
            let s = pair.as_str();
            let parsed = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"));
            match parsed {
                Ok(d) => ExprKind::Literal(Literal::DateTime(d)),
                Err(_) => ExprKind::Literal(Literal::String(s.to_string())),
            }
        }
        _ => ExprKind::Literal(Literal::Bool(true)),
    };
    node(kind, span)
}

pub(super) fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Expr, Diagnostic> {
        let map = ScalarMap::new(text, text, 0);
        parse_condition(text, &map, FileId(0))
    }

    fn canon(text: &str) -> String {
        match parse(text) {
            Ok(e) => e.to_string(),
            Err(d) => panic!("{text}: {d:?}"),
        }
    }

    #[test]
    fn precedence_or_and_not() {
        assert_eq!(canon("a or b and c"), "(a or (b and c))");
        assert_eq!(canon("not a and b"), "((not a) and b)");
        assert_eq!(canon("not x == 1"), "(not (x == 1))");
        assert_eq!(canon("(a or b) and c"), "((a or b) and c)");
        assert_eq!(canon("a or b or c"), "(a or b or c)");
        assert_eq!(canon("not not a"), "(not (not a))");
    }

    #[test]
    fn the_design_examples_parse() {
        assert_eq!(
            canon(r#"last_purchase_at within 30d and region == "IDF" and "shoes" in interests"#),
            r#"((last_purchase_at within 30d) and (region == "IDF") and ("shoes" in interests))"#
        );
        assert_eq!(
            canon("segment(vip) and consent(sms_marketing)"),
            "(segment(vip) and consent(sms_marketing))"
        );
        assert_eq!(canon("count(purchase) >= 1"), "(count(purchase) >= 1)");
        assert_eq!(canon("count(purchase, 90d) >= 2"), "(count(purchase, 90d) >= 2)");
        assert_eq!(canon("not opened(welcome_email)"), "(not opened(welcome_email))");
        assert_eq!(canon("region in ['IDF', \"PACA\",]"), "(region in [\"IDF\", \"PACA\"])");
        assert_eq!(canon("region not in [\"IDF\"]"), "(region not in [\"IDF\"])");
        assert_eq!(canon("phone is set"), "(phone is set)");
        assert_eq!(canon("phone is not set"), "(phone is not set)");
        assert_eq!(
            canon("last_purchase_at not within 180d"),
            "(last_purchase_at not within 180d)"
        );
        assert_eq!(canon("signup_at >= 2026-01-01"), "(signup_at >= 2026-01-01)");
        assert_eq!(canon("signup_at < 2026-01-01T10:30"), "(signup_at < 2026-01-01T10:30)");
        assert_eq!(canon("event.cart_value > 49.5"), "(event.cart_value > 49.5)");
        assert_eq!(canon("total_spent >= -1"), "(total_spent >= -1)");
        assert_eq!(canon("is_vip == true"), "(is_vip == true)");
        assert_eq!(canon("android"), "android", "a keyword prefix is still a name");
        assert_eq!(canon("order_count"), "order_count");
    }

    #[test]
    fn spans_point_at_tokens() {
        let text = r#"region == "IDF" and regoin == "X""#;
        let e = parse(text).unwrap();
        let ExprKind::And(items) = e.kind else { panic!() };
        let ExprKind::Compare { lhs, .. } = &items[1].kind else {
            panic!()
        };
        assert_eq!(&text[lhs.span.start as usize..lhs.span.end as usize], "regoin");
    }

    #[test]
    fn errors_name_the_token_and_the_fix() {
        let d = parse("total_spent >= 1000 adn vip").unwrap_err();
        assert_eq!(d.code, Code::SyntaxExpression);
        assert!(d.message.contains("`adn`"), "{}", d.message);
        assert_eq!(d.help.as_deref(), Some("did you mean `and`?"));
        let p = d.primary.unwrap().span;
        assert_eq!((p.start, p.end), (20, 23));

        assert_eq!(
            parse("region = \"IDF\"").unwrap_err().help.as_deref(),
            Some("Use `==` to compare.")
        );
        assert_eq!(parse("a && b").unwrap_err().help.as_deref(), Some("Use `and`."));
        assert!(parse("(a or b").unwrap_err().help.unwrap().contains(")"));
        assert!(parse("x == \"open").is_err());
        assert!(parse("a < b < c").is_err());
        assert!(parse("").is_err());
        assert!(parse("and").is_err());
    }

    #[test]
    fn an_unfinished_call_says_what_its_argument_is() {
        let d = parse("consent(email) and segment(").unwrap_err();
        assert_eq!(
            d.message,
            "the condition ends too early: expected the name of a segment"
        );
        assert_eq!(d.primary.unwrap().message, "ends here");
        assert_eq!(
            parse("count(purchase, ").unwrap_err().message,
            "the condition ends too early: expected a duration such as `30d` or `12mo`"
        );
        assert!(parse("opened(").unwrap_err().message.ends_with("the name of a message"));
    }

    #[test]
    fn strings_round_trip_through_the_canonical_form() {
        // Found by the fuzzer: control characters and escapes must survive.
        for text in [
            "\"sh\\n\u{0}s\" in interests",
            "x == \"a\\\"b\\\\c\\td\"",
            "x == 'it\\s'",
        ] {
            let once = canon(text);
            assert_eq!(canon(&once), once, "{text}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(parse(&text).unwrap_err().code, Code::SyntaxExpression);
        let text = format!("{}a{}", "not ".repeat(5_000), "");
        // `not not not …` recurses too; it must not overflow the stack either.
        let _ = parse(&text);
        // As deep as the length bound lets it, in both parsers.
        let deepest = (MAX_EXPRESSION_BYTES - 1) / 4;
        let text = format!("{}a", "not ".repeat(deepest));
        assert!(text.len() <= MAX_EXPRESSION_BYTES);
        let _ = parse(&text);
        let map = ScalarMap::new(&text, &text, 0);
        let _ = pest_only(&text, &map, FileId(0));
        let text = format!("{}a == 1", "not ".repeat(deepest - 2));
        let _ = parse(&text);
    }

    #[test]
    fn a_call_after_a_multibyte_character_is_an_error_not_a_panic() {
        // Found by fuzzing: the name before `(` was sliced one byte after a
        // two-byte character.
        for text in [
            "x in [\"\u{0}0\\ϔtcuont(purch, a\", d",
            "éсount(",
            "ϔsegment(",
            "a == ϔ(purchase, ",
        ] {
            assert_eq!(parse(text).unwrap_err().code, Code::SyntaxExpression, "{text:?}");
        }
        assert!(
            parse("ϔsegment(").unwrap_err().message.contains("expected"),
            "still says what is expected"
        );
    }

    #[test]
    fn calendar_durations_and_now() {
        assert_eq!(canon("birthdate within 25y"), "(birthdate within 25y)");
        assert_eq!(canon("count(purchase, 12mo) >= 2"), "(count(purchase, 1y) >= 2)");
        assert_eq!(canon("paused_until > now"), "(paused_until > now)");
        assert_eq!(
            canon("nowhere == 1"),
            "(nowhere == 1)",
            "a keyword prefix is still a name"
        );
        assert!(parse("birthdate within 101y").unwrap_err().message.contains("too long"));
    }

    #[test]
    fn durations_beyond_100_years_are_errors_not_zero() {
        for text in [
            "last_purchase_at within 97000000d",
            "count(purchase, 97000000d) > 1",
            // Once silently `0m`.
            "last_purchase_at not within 18446744073709551616m",
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.code, Code::SyntaxExpression, "{text}");
            assert!(e.message.contains("too long a duration"), "{text}: {}", e.message);
        }
        assert!(parse("last_purchase_at within 36525d").is_ok());
    }
}
