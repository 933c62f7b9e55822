//! Escaping for Mermaid. Every text from the plan is written inside a quoted
//! label (`A["…"]`, `-->|"…"|`) or a gantt task name, and every character
//! Mermaid could read as syntax — the quote that ends the label, `#` that
//! starts an entity code, `<` and `&` that its HTML labels would interpret,
//! `%%` comments, backticks (Markdown strings), `:` and `;` (gantt and
//! statement separators), brackets and pipes (shapes and edge labels) —
//! becomes one of Mermaid's entity codes (`#quot;`, `#35;`, `#lt;`…), which
//! it draws as the character itself. Line breaks are the caller's: it joins
//! lines with `<br/>` where the diagram supports it.

/// One line of text for a quoted Mermaid label.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '&' => out.push_str("#amp;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '%' => out.push_str("#37;"),
            '`' => out.push_str("#96;"),
            ':' => out.push_str("#58;"),
            ';' => out.push_str("#59;"),
            '[' => out.push_str("#91;"),
            ']' => out.push_str("#93;"),
            '{' => out.push_str("#123;"),
            '}' => out.push_str("#125;"),
            '|' => out.push_str("#124;"),
            '\\' => out.push_str("#92;"),
            '\t' => out.push(' '),
            // A control character would become an invalid XML character
            // reference in the SVG: show its code point instead.
            c if c.is_control() => out.push_str(&format!("U+{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Lines of a flowchart label, joined by Mermaid's line break.
pub fn lines<S: AsRef<str>>(lines: &[S]) -> String {
    lines.iter().map(|l| text(l.as_ref())).collect::<Vec<_>>().join("<br/>")
}

#[cfg(test)]
mod tests {
    use super::text;

    /// Hostile inputs and what Mermaid must receive: nothing left that it
    /// could read as syntax, every character still there as a code.
    #[test]
    fn hostile_text_becomes_entity_codes() {
        let table = [
            (
                "plain words, digits 123 and (parens)",
                "plain words, digits 123 and (parens)",
            ),
            ("say \"hi\"", "say #quot;hi#quot;"),
            ("<b>html</b>", "#lt;b#gt;html#lt;/b#gt;"),
            ("#1;", "#35;1#59;"),
            ("a & b &amp; c", "a #amp; b #amp;amp#59; c"),
            ("%% not a comment", "#37;#37; not a comment"),
            ("`code`", "#96;code#96;"),
            ("a[b]{c}|d", "a#91;b#93;#123;c#125;#124;d"),
            ("x: y; z", "x#58; y#59; z"),
            ("back\\slash", "back#92;slash"),
            ("emoji 🎉 and accents éà", "emoji 🎉 and accents éà"),
            ("tab\there", "tab here"),
            ("bell\u{7}", "bellU+0007"),
        ];
        for (input, want) in table {
            assert_eq!(text(input), want, "{input:?}");
        }
    }

    #[test]
    fn nothing_that_ends_a_label_or_a_line_survives() {
        let all = "\"#&<>%`:;[]{}|\\\n\r\t\u{0}";
        let out = text(all);
        for c in [
            '"', '&', '<', '>', '%', '`', ':', '[', ']', '{', '}', '|', '\\', '\n', '\r', '\t', '\0',
        ] {
            assert!(!out.contains(c), "{c:?} left in {out:?}");
        }
        // Every `#` and `;` left is part of an entity code.
        assert!(
            out.split('#')
                .skip(1)
                .all(|code| code.split_once(';').is_some_and(|(n, _)| !n.is_empty()))
        );
    }
}
