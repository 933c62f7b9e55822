//! Where herald.toml holds credentials, found from the text alone (so even a
//! file that does not parse is covered): every renderer masks these values
//! in snippets and scrubs them from messages, whatever the diagnostic.

use std::ops::Range;

/// Keys of herald.toml whose value is a credential (`env:NAME` only).
pub const CREDENTIAL_KEYS: &[&str] = &[
    "url",
    "username",
    "password",
    "account_sid",
    "auth_token",
    "credentials",
];

/// What replaces a secret in text shown to people.
pub const MASK: &str = "***";

/// A credential's value in the text of herald.toml.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub key: &'static str,
    /// The value as written, without its quotes.
    pub value: Range<usize>,
}

/// Every credential value of a herald.toml text that is not a plain
/// `env:NAME` reference (those are names, not secrets, and stay visible).
pub fn credentials(text: &str) -> Vec<Credential> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for &key in CREDENTIAL_KEYS {
        let mut from = 0;
        while let Some(found) = text.get(from..).and_then(|t| t.find(key)) {
            let at = from + found;
            from = at + key.len();
            let before_ok =
                at == 0 || matches!(bytes[at - 1], b' ' | b'\t' | b'\n' | b'{' | b',' | b'.' | b'"' | b'\'');
            let Some(value_start) = before_ok.then(|| assignment(bytes, at + key.len())).flatten() else {
                continue;
            };
            let value = value_range(text, value_start);
            if !is_env_reference(&text[value.clone()]) || !quoted(bytes, value.start) {
                out.push(Credential { key, value });
            }
        }
    }
    out.sort_by_key(|c| c.value.start);
    out.dedup_by_key(|c| c.value.start);
    out
}

/// After a key: an optional closing quote, `=`, spaces; the value's start.
fn assignment(bytes: &[u8], mut i: usize) -> Option<usize> {
    if matches!(bytes.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    while matches!(bytes.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if bytes.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    while matches!(bytes.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    Some(i)
}

fn quoted(bytes: &[u8], value_start: usize) -> bool {
    value_start > 0 && matches!(bytes[value_start - 1], b'"' | b'\'')
}

/// The value starting at `start`, without quotes. Unquoted or unterminated
/// values run to the end of the line: masking too much is the safe side.
fn value_range(text: &str, start: usize) -> Range<usize> {
    let rest = &text[start..];
    let line_end = |from: usize| text[from..].find('\n').map_or(text.len(), |n| from + n);
    for delim in ["\"\"\"", "'''"] {
        if let Some(body) = rest.strip_prefix(delim) {
            let s = start + delim.len();
            let end = body.find(delim).map_or(text.len(), |n| s + n);
            return s..end;
        }
    }
    for quote in ['"', '\''] {
        if rest.starts_with(quote) {
            let s = start + 1;
            let end = line_end(s);
            let mut escaped = false;
            for (i, c) in text[s..end].char_indices() {
                match c {
                    '\\' if quote == '"' && !escaped => escaped = true,
                    c if c == quote && !escaped => return s..s + i,
                    _ => escaped = false,
                }
            }
            return s..end;
        }
    }
    let end = line_end(start);
    start..start + text[start..end].trim_end().len()
}

fn is_env_reference(value: &str) -> bool {
    value.strip_prefix("env:").is_some_and(|name| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// `text` with every byte of `ranges` but line breaks replaced by `*`: byte
/// offsets, lines and spans stay valid.
pub fn mask(text: &str, ranges: &[Range<usize>]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for r in ranges {
        for b in bytes.get_mut(r.clone()).into_iter().flatten() {
            if !matches!(*b, b'\n' | b'\r') {
                *b = b'*';
            }
        }
    }
    // Whole characters were replaced by ASCII, so this cannot fail.
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<&str> {
        credentials(text).into_iter().map(|c| &text[c.value]).collect()
    }

    #[test]
    fn finds_credential_values_in_every_toml_form() {
        assert_eq!(values("password = \"hunter2\"\n"), ["hunter2"]);
        assert_eq!(values("password=hunter2 # no quotes\nx = 1"), ["hunter2 # no quotes"]);
        assert_eq!(values("auth_token = 'lit\"eral'\n"), ["lit\"eral"]);
        assert_eq!(values("a.password = \"x\\\"y\" # c\n"), ["x\\\"y"]);
        assert_eq!(values("sms = { kind = \"t\", auth_token = \"s3\" }\n"), ["s3"]);
        assert_eq!(values("\"password\" = 123\n"), ["123"]);
        assert_eq!(values("url = \"\"\"a\nb\"\"\"\n"), ["a\nb"]);
        assert_eq!(values("password = \"unterminated\nnext = 1\n"), ["unterminated"]);
        // env:NAME references are names, not secrets; a bad one is a secret.
        assert_eq!(values("password = \"env:SMTP_PASSWORD\"\n"), Vec::<&str>::new());
        assert_eq!(values("auth_token = \"env:sk_live-1\"\n"), ["env:sk_live-1"]);
        assert_eq!(values("password = env:SMTP\n"), ["env:SMTP"]);
        // Other keys that merely contain a credential's name are not secrets.
        assert_eq!(
            values("base_url = \"https://x\"\nmy_password_hint = 1\n"),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn masking_keeps_offsets_and_lines() {
        let text = "a = 1\nurl = \"\"\"é\nb\"\"\"\n";
        let ranges: Vec<_> = credentials(text).into_iter().map(|c| c.value).collect();
        let masked = mask(text, &ranges);
        assert_eq!(masked.len(), text.len());
        assert_eq!(masked, "a = 1\nurl = \"\"\"**\n*\"\"\"\n");
    }
}
