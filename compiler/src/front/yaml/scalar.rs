//! Positions inside a YAML string → positions in the file.
//!
//! An expression or template lives in a decoded YAML scalar: quotes removed,
//! escapes decoded, lines folded, block indentation stripped. To point at a
//! token inside it we walk the raw token and the decoded value side by side.

/// Maps byte offsets of a decoded scalar value to byte offsets in the file.
#[derive(Clone, Debug)]
pub struct ScalarMap {
    /// `offsets[i]` is the file offset of decoded byte `i`; one extra entry for the end.
    offsets: Vec<u32>,
    /// A plain ASCII scalar written as it decodes (most conditions): byte
    /// `i` is at `base + i`, and `offsets` is empty.
    same: Option<(u32, usize)>,
}

impl ScalarMap {
    /// `raw` is the scalar's source token (quotes included) starting at file offset `base`.
    pub fn new(value: &str, raw: &str, base: u32) -> ScalarMap {
        if raw == value && value.is_ascii() && !raw.starts_with(['"', '\'']) {
            return ScalarMap {
                offsets: Vec::new(),
                same: Some((base, value.len())),
            };
        }
        let (quote, mut r) = match raw.as_bytes().first() {
            Some(b'"') => (Some('"'), 1usize),
            Some(b'\'') => (Some('\''), 1usize),
            _ => (None, 0usize),
        };
        let raw_bytes = raw.as_bytes();
        let at = |r: usize| base.saturating_add(u32::try_from(r).unwrap_or(u32::MAX));
        let mut offsets = Vec::with_capacity(value.len() + 1);
        let mut last = at(r);
        for c in value.chars() {
            let pos = loop {
                let Some(rc) = raw.get(r..).and_then(|s| s.chars().next()) else {
                    break last;
                };
                if quote == Some('"') && rc == '\\' {
                    let next = raw_bytes.get(r + 1).copied();
                    let len = match next {
                        Some(b'x') => 4,
                        Some(b'u') => 6,
                        Some(b'U') => 10,
                        Some(b'\n') | Some(b'\r') => {
                            // Escaped line break: produces nothing, skip it and the indentation.
                            r += 1;
                            while let Some(b' ' | b'\t' | b'\n' | b'\r') = raw_bytes.get(r) {
                                r += 1;
                            }
                            continue;
                        }
                        _ => 2,
                    };
                    let p = at(r);
                    r = (r + len).min(raw.len());
                    break p;
                }
                if quote == Some('\'') && rc == '\'' && raw_bytes.get(r + 1) == Some(&b'\'') {
                    let p = at(r);
                    r += 2;
                    break p;
                }
                if rc == c {
                    let p = at(r);
                    r += rc.len_utf8();
                    break p;
                }
                let raw_ws = matches!(rc, ' ' | '\t' | '\n' | '\r');
                if c.is_whitespace() {
                    if raw_ws {
                        // A folded line break: one decoded space for a run of raw whitespace.
                        let p = at(r);
                        while let Some(b' ' | b'\t' | b'\n' | b'\r') = raw_bytes.get(r) {
                            r += 1;
                        }
                        break p;
                    }
                    break last;
                }
                if raw_ws {
                    // Indentation that the decoded value does not contain.
                    r += 1;
                    continue;
                }
                // Unexpected mismatch: stay close rather than fail.
                let p = at(r);
                r += rc.len_utf8();
                break p;
            };
            last = pos;
            for _ in 0..c.len_utf8() {
                offsets.push(pos);
            }
        }
        let end = if quote.is_some() { at(r) } else { at(r).max(last) };
        offsets.push(end);
        ScalarMap { offsets, same: None }
    }

    /// File offset of decoded byte offset `i` (clamped to the end).
    pub fn offset(&self, i: usize) -> u32 {
        if let Some((base, len)) = self.same {
            return base.saturating_add(u32::try_from(i.min(len)).unwrap_or(u32::MAX));
        }
        let last = self.offsets.len().saturating_sub(1);
        self.offsets.get(i.min(last)).copied().unwrap_or(0)
    }

    /// File range of the decoded range `[start, end)`.
    pub fn range(&self, start: usize, end: usize) -> (u32, u32) {
        let s = self.offset(start);
        if end <= start {
            return (s, s);
        }
        // End just after the last decoded char of the range.
        let last_char_start = self.offset(end - 1);
        let e = self.offset(end).max(last_char_start + 1);
        (s, e.max(s))
    }

    /// [`ScalarMap::range`] as a span of `file`.
    pub fn span(&self, file: crate::source::FileId, start: usize, end: usize) -> crate::source::Span {
        let (s, e) = self.range(start, end);
        crate::source::Span { file, start: s, end: e }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str, raw: &str, needle: &str) -> String {
        let map = ScalarMap::new(value, raw, 0);
        let i = value.find(needle).unwrap();
        let (s, e) = map.range(i, i + needle.len());
        raw[s as usize..e as usize].to_string()
    }

    #[test]
    fn plain() {
        assert_eq!(check("region == \"IDF\"", "region == \"IDF\"", "IDF"), "IDF");
    }

    #[test]
    fn double_quoted_with_escapes() {
        let raw = r#""a \"x\" and \u00e9 regoin""#;
        assert_eq!(check("a \"x\" and é regoin", raw, "regoin"), "regoin");
        assert_eq!(check("a \"x\" and é regoin", raw, "é"), "\\u00e9");
    }

    #[test]
    fn single_quoted() {
        assert_eq!(check("it's bad", "'it''s bad'", "bad"), "bad");
    }

    #[test]
    fn folded_plain_multiline() {
        let raw = "total >= 10\n    and regoin == 1";
        assert_eq!(check("total >= 10 and regoin == 1", raw, "regoin"), "regoin");
    }

    #[test]
    fn block_literal() {
        let raw = "a and\n  regoin == 1\n";
        assert_eq!(check("a and\nregoin == 1\n", raw, "regoin"), "regoin");
    }

    #[test]
    fn a_plain_scalar_maps_like_the_general_walk() {
        let value = "score_0 >= 3 and region == \"IDF\"";
        let fast = ScalarMap::new(value, value, 7);
        assert!(fast.same.is_some());
        // The general walk, forced by a raw text that differs only after the value.
        let slow = ScalarMap::new(value, &format!("{value}\n"), 7);
        assert!(slow.same.is_none());
        for i in 0..=value.len() + 2 {
            assert_eq!(fast.offset(i), slow.offset(i), "offset {i}");
            for j in i..=value.len() + 2 {
                assert_eq!(fast.range(i, j), slow.range(i, j), "range {i}..{j}");
            }
        }
    }

    #[test]
    fn empty_range_is_a_point() {
        let map = ScalarMap::new("ab", "\"ab\"", 10);
        assert_eq!(map.range(2, 2), (13, 13));
    }
}
