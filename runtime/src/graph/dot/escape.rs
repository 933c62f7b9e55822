//! Escaping for Graphviz DOT. Labels are HTML-like (`label=<…>`), so the
//! text from the plan is escaped as XML: `&`, `<`, `>`, `"` and `'` become
//! entities (Graphviz also reads entities in plain quoted strings, so `&`
//! needs care in either form). Line breaks are the caller's (`<BR/>`).
//! Quoted strings (graph attributes) escape `"` and `\`.

/// One line of text inside an HTML-like label.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' => out.push(' '),
            // Not allowed in XML: show the code point.
            c if c.is_control() => out.push_str(&format!("U+{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Lines inside an HTML-like label, joined by line breaks.
pub fn html_lines<S: AsRef<str>>(lines: &[S]) -> String {
    lines.iter().map(|l| html(l.as_ref())).collect::<Vec<_>>().join("<BR/>")
}

/// A DOT quoted string, quotes included.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::{html, quoted};

    #[test]
    fn hostile_text_is_escaped_for_html_labels() {
        let table = [
            (
                "plain (text) [x] {y} | a;b #1; %% `tick`",
                "plain (text) [x] {y} | a;b #1; %% `tick`",
            ),
            ("say \"hi\" it's", "say &quot;hi&quot; it&#39;s"),
            ("<b>html</b>", "&lt;b&gt;html&lt;/b&gt;"),
            ("a & b &amp; c", "a &amp; b &amp;amp; c"),
            (
                "<TABLE><TR><TD>x</TD></TR></TABLE>",
                "&lt;TABLE&gt;&lt;TR&gt;&lt;TD&gt;x&lt;/TD&gt;&lt;/TR&gt;&lt;/TABLE&gt;",
            ),
            ("emoji 🎉", "emoji 🎉"),
            ("nul\u{0}", "nulU+0000"),
        ];
        for (input, want) in table {
            assert_eq!(html(input), want, "{input:?}");
        }
    }

    #[test]
    fn quoted_strings_escape_quotes_and_backslashes() {
        assert_eq!(quoted(r#"a "b" \N c"#), r#""a \"b\" \\N c""#);
        assert_eq!(quoted("two\nlines"), r#""two\nlines""#);
    }
}
