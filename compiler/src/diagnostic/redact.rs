//! Secrets never reach text shown to people or tools: every renderer passes
//! the texts of a diagnostic (message, labels, help) through a [`Redactor`],
//! and shows snippets from [`SourceFile::display_text`](crate::source::SourceFile::display_text).

use crate::secrets::MASK;
use crate::source::SourceSet;
use std::borrow::Cow;

/// Scrubs the credential values of a plan's sources from any text.
pub struct Redactor<'s> {
    /// Each line of each secret value, longest first.
    values: Vec<&'s str>,
}

impl<'s> Redactor<'s> {
    pub fn new(sources: &'s SourceSet) -> Self {
        let mut values: Vec<&str> = sources
            .iter()
            .flat_map(|(_, f)| f.secrets().iter().filter_map(|r| f.text.get(r.clone())))
            .flat_map(str::lines)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Redactor { values }
    }

    /// `text` with every secret replaced by `***`. Values shorter than four
    /// characters are replaced only where quoted in backticks, so a secret
    /// `1` does not garble every `1` of a message.
    pub fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for v in &self.values {
            if v.chars().count() >= 4 {
                if out.contains(v) {
                    out = Cow::Owned(out.replace(v, MASK));
                }
            } else {
                let quoted = format!("`{v}`");
                if out.contains(&quoted) {
                    out = Cow::Owned(out.replace(&quoted, &format!("`{MASK}`")));
                }
            }
        }
        out
    }

    pub fn opt<'t>(&self, text: Option<&'t str>) -> Option<Cow<'t, str>> {
        text.map(|t| self.text(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{SourceFile, SourceKind};

    #[test]
    fn secrets_are_scrubbed_from_any_text() {
        let mut set = SourceSet::new();
        set.add(SourceFile::new(
            "herald.toml",
            SourceKind::Config,
            "password = \"hunter22\"\nauth_token = 12\nurl = \"env:OK_NAME\"\n",
        ));
        let r = Redactor::new(&set);
        assert_eq!(r.text("bad `hunter22` here"), "bad `***` here");
        assert_eq!(r.text("integer `12`, expected"), "integer `***`, expected");
        assert_eq!(r.text("line 12"), "line 12");
        assert_eq!(r.text("see env:OK_NAME"), "see env:OK_NAME");
        assert!(matches!(r.text("nothing"), Cow::Borrowed(_)));
    }
}
