//! A hand-written parser for the conditions a plan usually holds, giving
//! the tree the pest grammar gives (same nodes, same spans). pest's
//! bookkeeping (a stack probe and attempt tracking at every rule) was most of
//! the time `check` spent on conditions. Anything this parser does not take
//! for certain (dates, an error, an unusual form) it gives up on, and the
//! pest parser reads the text: its result and its error messages stay the
//! reference (`tests::same_as_pest` compares the two).

use super::ast::{Arg, CmpOp, Expr, ExprKind, Ident, Literal};
use crate::ast::values::Period;
use crate::source::{FileId, Span};
use crate::yaml::scalar::ScalarMap;

/// The tree of `text`, or `None` to let the pest parser read it.
pub(super) fn parse(text: &str, map: &ScalarMap, file: FileId) -> Option<Expr> {
    let mut p = P {
        s: text.as_bytes(),
        text,
        i: 0,
        map,
        file,
    };
    p.ws();
    let e = p.or_expr()?;
    p.ws();
    (p.i == p.s.len()).then_some(e)
}

struct P<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    map: &'a ScalarMap,
    file: FileId,
}

fn ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

const KEYWORDS: [&str; 10] = ["and", "or", "not", "in", "is", "set", "within", "true", "false", "now"];

impl P<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        self.map.span(self.file, start, end)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.i += 1;
        }
    }

    /// A keyword at the cursor (followed by no name character), consumed.
    fn kw(&mut self, word: &str) -> bool {
        let end = self.i + word.len();
        if self.s.get(self.i..end) == Some(word.as_bytes()) && !self.s.get(end).copied().is_some_and(ident_char) {
            self.i = end;
            true
        } else {
            false
        }
    }

    fn chain(
        &mut self,
        word: &str,
        item: fn(&mut Self) -> Option<Expr>,
        make: fn(Vec<Expr>) -> ExprKind,
    ) -> Option<Expr> {
        let start = self.i;
        let mut items = vec![item(self)?];
        loop {
            let before = self.i;
            self.ws();
            if self.kw(word) {
                self.ws();
                items.push(item(self)?);
            } else {
                // pest's `a ~ (k ~ b)*` skips whitespace before looking for
                // the first `k` and keeps it when there is none: a chain of
                // one ends after that whitespace, a longer one at its last
                // item.
                if items.len() > 1 {
                    self.i = before;
                }
                break;
            }
        }
        let end = self.i;
        Some(if items.len() == 1 {
            items.pop()?
        } else {
            Expr {
                kind: make(items),
                span: self.span(start, end),
            }
        })
    }

    fn or_expr(&mut self) -> Option<Expr> {
        self.chain("or", Self::and_expr, ExprKind::Or)
    }

    fn and_expr(&mut self) -> Option<Expr> {
        self.chain("and", Self::not_expr, ExprKind::And)
    }

    fn not_expr(&mut self) -> Option<Expr> {
        let start = self.i;
        if self.kw("not") {
            self.ws();
            let inner = self.not_expr()?;
            let end = self.i;
            return Some(Expr {
                kind: ExprKind::Not(Box::new(inner)),
                span: self.span(start, end),
            });
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Option<Expr> {
        let start = self.i;
        let lhs = self.operand()?;
        self.ws();
        let kind = if let Some(op) = self.cmp_op() {
            self.ws();
            ExprKind::Compare {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(self.operand()?),
            }
        } else if self.kw("not") {
            self.ws();
            if self.kw("in") {
                self.ws();
                ExprKind::In {
                    item: Box::new(lhs),
                    collection: Box::new(self.operand()?),
                    negated: true,
                }
            } else if self.kw("within") {
                self.ws();
                ExprKind::Within {
                    operand: Box::new(lhs),
                    duration: self.duration()?.0,
                    negated: true,
                }
            } else {
                return None;
            }
        } else if self.kw("in") {
            self.ws();
            ExprKind::In {
                item: Box::new(lhs),
                collection: Box::new(self.operand()?),
                negated: false,
            }
        } else if self.kw("is") {
            self.ws();
            let negated = self.kw("not");
            if negated {
                self.ws();
            }
            if !self.kw("set") {
                return None;
            }
            ExprKind::IsSet {
                operand: Box::new(lhs),
                negated,
            }
        } else if self.kw("within") {
            self.ws();
            ExprKind::Within {
                operand: Box::new(lhs),
                duration: self.duration()?.0,
                negated: false,
            }
        } else {
            // pest's `predicate` ends after the whitespace it skipped looking
            // for a suffix: the spans of a `not` or a chain ending here
            // include it (the operand's own span does not).
            return Some(lhs);
        };
        Some(Expr {
            kind,
            span: self.span(start, self.i),
        })
    }

    fn cmp_op(&mut self) -> Option<CmpOp> {
        let two = self.s.get(self.i..self.i + 2);
        let (op, n) = match two {
            Some(b"==") => (CmpOp::Eq, 2),
            Some(b"!=") => (CmpOp::Ne, 2),
            Some(b"<=") => (CmpOp::Le, 2),
            Some(b">=") => (CmpOp::Ge, 2),
            _ => match self.peek() {
                Some(b'<') => (CmpOp::Lt, 1),
                Some(b'>') => (CmpOp::Gt, 1),
                _ => return None,
            },
        };
        self.i += n;
        Some(op)
    }

    fn word(&mut self) -> Option<(usize, usize)> {
        let start = self.i;
        if !self.peek().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_') {
            return None;
        }
        while self.peek().is_some_and(ident_char) {
            self.i += 1;
        }
        Some((start, self.i))
    }

    fn ident_at(&self, (start, end): (usize, usize)) -> Ident {
        Ident {
            name: self.text[start..end].to_string(),
            span: self.span(start, end),
        }
    }

    fn operand(&mut self) -> Option<Expr> {
        let start = self.i;
        match self.peek()? {
            b'(' => {
                self.i += 1;
                self.ws();
                let mut e = self.or_expr()?;
                self.ws();
                if self.peek() != Some(b')') {
                    return None;
                }
                self.i += 1;
                e.span = self.span(start, self.i);
                Some(e)
            }
            b'[' => {
                self.i += 1;
                self.ws();
                let mut items = Vec::new();
                if self.peek() != Some(b']') {
                    loop {
                        if items.is_empty() && self.peek() == Some(b',') {
                            // `[,]`: an empty list
                            self.i += 1;
                            self.ws();
                            break;
                        }
                        items.push(self.literal()?);
                        self.ws();
                        if self.peek() == Some(b',') {
                            self.i += 1;
                            self.ws();
                            if self.peek() == Some(b']') {
                                break;
                            }
                        } else {
                            break;
                        }
                    }
                }
                if self.peek() != Some(b']') {
                    return None;
                }
                self.i += 1;
                Some(Expr {
                    kind: ExprKind::List(items),
                    span: self.span(start, self.i),
                })
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let w = self.word()?;
                let after = self.i;
                self.ws();
                if self.peek() == Some(b'(') {
                    self.i += 1;
                    return self.call(start, w);
                }
                self.i = after;
                let kind = match &self.text[w.0..w.1] {
                    "true" => ExprKind::Literal(Literal::Bool(true)),
                    "false" => ExprKind::Literal(Literal::Bool(false)),
                    "now" => ExprKind::Now,
                    k if KEYWORDS.contains(&k) => return None,
                    _ => {
                        let mut parts = vec![self.ident_at(w)];
                        while self.peek() == Some(b'.') {
                            self.i += 1;
                            let part = self.word()?;
                            parts.push(self.ident_at(part));
                        }
                        ExprKind::Path(parts)
                    }
                };
                Some(Expr {
                    kind,
                    span: self.span(start, self.i),
                })
            }
            _ => self.literal(),
        }
    }

    /// `name(` read: the arguments and `)`.
    fn call(&mut self, start: usize, name: (usize, usize)) -> Option<Expr> {
        let name = self.ident_at(name);
        let mut args = Vec::new();
        self.ws();
        if self.peek() != Some(b')') {
            loop {
                let arg = if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    let (d, span) = self.duration()?;
                    Arg::Duration(d, span)
                } else {
                    let w = self.word()?;
                    Arg::Name(self.ident_at(w))
                };
                args.push(arg);
                self.ws();
                if self.peek() == Some(b',') {
                    self.i += 1;
                    self.ws();
                } else {
                    break;
                }
            }
        }
        if self.peek() != Some(b')') {
            return None;
        }
        self.i += 1;
        Some(Expr {
            kind: ExprKind::Call { name, args },
            span: self.span(start, self.i),
        })
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - start
    }

    /// A duration token (`30d`, `12mo`) within the limits, or `None`.
    fn duration(&mut self) -> Option<(Period, Span)> {
        let start = self.i;
        if self.digits() == 0 {
            return None;
        }
        let unit = if self.s[self.i..].starts_with(b"mo") {
            2
        } else if matches!(self.peek(), Some(b'm' | b'h' | b'd' | b'w' | b'y')) {
            1
        } else {
            return None;
        };
        self.i += unit;
        if self.peek().is_some_and(ident_char) {
            return None;
        }
        let d = self.text[start..self.i].parse().ok()?;
        Some((d, self.span(start, self.i)))
    }

    /// A string, number, boolean or duration (dates are left to pest).
    fn literal(&mut self) -> Option<Expr> {
        let start = self.i;
        let kind = match self.peek()? {
            q @ (b'"' | b'\'') => {
                self.i += 1;
                let from = self.i;
                loop {
                    match self.peek()? {
                        b'\\' if q == b'"' => self.i += 1,
                        b if b == q => break,
                        _ => {}
                    }
                    self.i += 1;
                }
                let inner = self.text.get(from..self.i)?;
                self.i += 1;
                let value = if q == b'"' {
                    super::parse::unescape(inner)
                } else {
                    inner.to_string()
                };
                ExprKind::Literal(Literal::String(value))
            }
            b'-' | b'0'..=b'9' => {
                let neg = self.peek() == Some(b'-');
                if !neg {
                    // Dates and date-times (`2027-01-04`): pest reads them.
                    let s = &self.s[self.i..];
                    if s.len() > 4 && s[..4].iter().all(u8::is_ascii_digit) && s[4] == b'-' {
                        return None;
                    }
                    let at = self.i;
                    if let Some((d, _)) = self.duration() {
                        return Some(Expr {
                            kind: ExprKind::Literal(Literal::Duration(d)),
                            span: self.span(start, self.i),
                        });
                    }
                    self.i = at;
                } else {
                    self.i += 1;
                }
                if self.digits() == 0 {
                    return None;
                }
                if self.peek() == Some(b'.') && self.s.get(self.i + 1).is_some_and(u8::is_ascii_digit) {
                    self.i += 1;
                    self.digits();
                }
                if self.peek().is_some_and(ident_char) {
                    return None;
                }
                ExprKind::Literal(Literal::Number(self.text[start..self.i].parse().ok()?))
            }
            b't' if self.kw("true") => ExprKind::Literal(Literal::Bool(true)),
            b'f' if self.kw("false") => ExprKind::Literal(Literal::Bool(false)),
            _ => return None,
        };
        Some(Expr {
            kind,
            span: self.span(start, self.i),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::expr::parse::pest_only;

    /// Every text the fast parser takes gives pest's tree, spans included;
    /// `taken` says which ones it must take (the common forms).
    fn same(text: &str, taken: bool) {
        for (value, raw, base) in [
            (text.to_string(), text.to_string(), 7u32),
            (
                text.to_string(),
                format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")),
                3,
            ),
        ] {
            let map = ScalarMap::new(&value, &raw, base);
            let fast = parse(&value, &map, FileId(1));
            let pest = pest_only(&value, &map, FileId(1));
            match (&fast, &pest) {
                (Some(f), Ok(p)) => assert_eq!(f, p, "{text:?} (raw {raw:?})"),
                (Some(f), Err(d)) => panic!("{text:?}: fast parser took it as {f} but pest says {d:?}"),
                (None, _) => assert!(!taken, "{text:?}: the fast parser gave up"),
            }
        }
    }

    #[test]
    fn same_as_pest() {
        let taken = [
            "a",
            "a.b.c",
            "consent(email_marketing)",
            "consent (email_marketing)",
            "count(event_9, 7d) >= 1",
            "count( purchase ,30d )>=2",
            "score_0 >= 0 and last_purchase_at within 30d and \"shoes\" in interests",
            "segment(segment_1) and (score_3 >= 9 and last_purchase_at within 33d)",
            "segment(segment_0) and consent(email_marketing) and region == \"IDF\"",
            "not opened(message_97) and consent(push_marketing)",
            "a or b and c",
            "not a and b",
            "not x == 1",
            "(a or b) and c",
            "a or b or c",
            "not not a",
            "not(a)",
            "  a  and  b  ",
            "a\nand\tb\r\nor c",
            "( a )",
            "((a))",
            "x != -3.5",
            "x < 10 or x > 20 or x <= 1 or x >= 2",
            "region in [\"IDF\", 'PACA',]",
            "region not in []",
            "region in [,]",
            "tags in [1, 2.5, true, false, 3d, 12mo]",
            "email is set",
            "email is not set",
            "last_login_at not within 21d",
            "x within 5m or y within 2h or z within 1w or w within 3y",
            "flag == true",
            "flag == false and now == now",
            "name == \"a \\\"quoted\\\" \\\\ text\\n\"",
            "name == 'single \\ quoted'",
            "name == \"é ü ✓\"",
            "true_x == 1 and nowhere and android and order.total > 0",
            "in(x)",
            "and(x) or or(y)",
            "f()",
            "x == y.z",
            "x == f(a, b)",
            "x == (a)",
        ];
        for t in taken {
            same(t, true);
        }
        let either = [
            "",
            " ",
            "a and",
            "and a",
            "a b",
            "a ==",
            "a == 2027-01-04",
            "d > 2027-01-04T10:00",
            "a in [now]",
            "a in [b]",
            "[1 2]",
            "[1,,]",
            "a not",
            "a not b",
            "a is",
            "a is not",
            "a within",
            "a within 5",
            "a within 5x",
            "a within 99999999999d",
            "a within 5month",
            "count(x, 7)",
            "count(x, 7d",
            "x == 5d",
            "x == 5dd",
            "x == 1.",
            "x == .5",
            "x == -",
            "x == -5d",
            "x == \"open",
            "x == 'open",
            "(a",
            "a)",
            "a..b",
            "a.",
            "not",
            "in",
            "x == in",
            "a && b",
            "a || b",
            "a = b",
            "a => b",
            "1abc",
            "x.1",
            "f(,)",
            "f(a,)",
            "f(a b)",
            "x in [1,]]",
            "x == 0009-01-01",
            "x == 12345-01-01",
            "name == 'it''s'",
        ];
        for t in either {
            same(t, false);
        }
    }

    /// Random token soups (valid and not): whenever the fast parser takes
    /// one, pest gives the same tree.
    #[test]
    fn agrees_with_pest_on_random_texts() {
        let tokens = [
            "a",
            "b.c",
            "x_1",
            "and",
            "or",
            "not",
            "in",
            "is",
            "set",
            "within",
            "now",
            "true",
            "false",
            "(",
            ")",
            "[",
            "]",
            ",",
            "==",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "7d",
            "12mo",
            "5",
            "-2.5",
            "\"t\\\"x\"",
            "'q'",
            "f(a)",
            "count(e, 30d)",
            "2027-01-04",
            "1.",
            "d",
            "",
            " ",
            "  ",
            "\t",
            "\n",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut taken = 0;
        for _ in 0..50_000 {
            let len = 1 + next(7);
            let mut text = String::new();
            for _ in 0..len {
                text.push_str(tokens[next(tokens.len())]);
                // Mostly a space between tokens, sometimes none or more.
                text.push_str([" ", " ", " ", "", "  "][next(5)]);
            }
            let map = ScalarMap::new(&text, &text, 11);
            if let Some(f) = parse(&text, &map, FileId(2)) {
                taken += 1;
                match pest_only(&text, &map, FileId(2)) {
                    Ok(p) => assert_eq!(f, p, "{text:?}"),
                    Err(d) => panic!("{text:?}: fast parser took it as {f} but pest says {d:?}"),
                }
            }
        }
        assert!(taken > 1_000, "only {taken} texts taken");
    }
}
