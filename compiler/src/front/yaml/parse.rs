//! Text → [`Node`], with budgets so a hostile file cannot exhaust memory.

use super::Node;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, SourceFile, Span};
use serde_saphyr::{DuplicateKeyPolicy, Options};

/// Input limits for one YAML file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    pub max_file_bytes: usize,
    pub max_depth: usize,
    pub max_nodes: usize,
    pub max_aliases: usize,
    pub max_alias_replayed_events: usize,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            max_file_bytes: 8 * 1024 * 1024,
            max_depth: 48,
            max_nodes: 500_000,
            max_aliases: 1_000,
            max_alias_replayed_events: 100_000,
        }
    }
}

pub fn parse_document(id: FileId, file: &SourceFile, budgets: &Budgets) -> Result<Node, Diagnostic> {
    let text = file.text.as_str();
    if text.len() > budgets.max_file_bytes {
        return Err(Diagnostic::new(
            Code::SyntaxTooLarge,
            format!(
                "`{}` is {} bytes; plan files are limited to {} bytes",
                file.path,
                text.len(),
                budgets.max_file_bytes
            ),
        )
        .at(Span::new(id, 0, 0), "this file")
        .help("Split the file into several smaller YAML files, or move data out of the plan."));
    }
    let mut options = Options::default();
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = budgets.max_depth;
    budget.max_nodes = budgets.max_nodes;
    budget.max_aliases = budgets.max_aliases;
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = budgets.max_alias_replayed_events;
    options.with_snippet = false;

    match serde_saphyr::from_str_with_options::<Node>(text, options) {
        Ok(node) => Ok(node),
        Err(e) => Err(yaml_error(id, file, &e)),
    }
}

fn yaml_error(id: FileId, file: &SourceFile, e: &serde_saphyr::Error) -> Diagnostic {
    let e = e.without_snippet();
    let (offset, len) = match e.location() {
        Some(loc) if loc.line() > 0 => {
            let offset = file.offset_of(loc.line() as usize, loc.column() as usize);
            (offset, 1)
        }
        _ => (u32::try_from(file.text.len()).unwrap_or(u32::MAX), 0),
    };
    let end = (offset as usize + len).min(file.text.len());
    let end = if file.text.is_char_boundary(end) {
        end
    } else {
        offset as usize
    };
    let span = Span::new(id, offset as usize, end);
    let raw = e.to_string();
    let message = clean_message(&raw);
    let lower = message.to_lowercase();

    if lower.contains("budget")
        || lower.contains("recursion limit")
        || lower.contains("alias") && lower.contains("limit")
    {
        return Diagnostic::new(
            Code::SyntaxTooComplex,
            format!("`{}` is too deeply nested or expands too many aliases", file.path),
        )
        .at(span, explain_budget(&message))
        .help("Write the values out instead of nesting aliases, and keep nesting under 48 levels.");
    }
    if lower.contains("multiple yaml documents") {
        return Diagnostic::new(Code::SyntaxYaml, "a plan file holds one YAML document")
            .at(span, "a second document starts here")
            .help("Move the second document (after `---`) into its own .yaml file.");
    }
    let tab = lower.contains("tab");
    let span = if tab {
        // Point at the tab itself, not at the character after it.
        let line_start = file.text[..span.start as usize].rfind('\n').map_or(0, |i| i + 1);
        let line_end = file.text[line_start..]
            .find('\n')
            .map_or(file.text.len(), |i| line_start + i);
        match file.text[line_start..line_end].find('\t') {
            Some(i) => Span::new(id, line_start + i, line_start + i + 1),
            None => span,
        }
    } else {
        span
    };
    let help = if tab {
        "YAML indents with spaces only: replace the tab characters with spaces."
    } else if lower.contains("mapping values are not allowed") {
        "Quote the value (`key: \"a: b\"`) or put the nested mapping on its own indented line."
    } else {
        "Fix the YAML syntax at this position; `herald check` reads each file as one YAML document."
    };
    Diagnostic::new(Code::SyntaxYaml, format!("invalid YAML: {message}"))
        .at(span, message)
        .help(help)
}

/// "line 2 column 3: tabs disallowed …" → "tabs disallowed …"
fn clean_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw).trim();
    let mut msg = first;
    if let Some(rest) = first.strip_prefix("line ")
        && let Some(idx) = rest.find(": ")
        && rest[..idx].contains("column")
    {
        msg = &rest[idx + 2..];
    }
    if let Some(rest) = msg.strip_prefix("error: ") {
        msg = rest;
    }
    // "… at line 2, column 2": the position is shown by the snippet.
    if let Some(i) = msg.rfind(" at line ")
        && msg[i..].contains("column")
    {
        msg = &msg[..i];
    }
    msg.trim().to_string()
}

fn explain_budget(message: &str) -> String {
    if message.contains("Depth") || message.contains("recursion") {
        "nesting goes deeper than the limit here".to_string()
    } else if message.contains("Nodes") || message.contains("Alias") || message.contains("alias") {
        "aliases expand beyond the limit here".to_string()
    } else {
        message.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceKind;

    fn parse(text: &str) -> Result<Node, Diagnostic> {
        let f = SourceFile::new("t.yaml", SourceKind::Yaml, text);
        parse_document(FileId(0), &f, &Budgets::default())
    }

    #[test]
    fn tabs_are_reported_with_a_fix() {
        let d = parse("a:\n\tb: 1\n").unwrap_err();
        assert_eq!(d.code, Code::SyntaxYaml);
        assert!(d.help.unwrap().contains("spaces"));
        assert_eq!(d.primary.unwrap().span.start, 3);
    }

    #[test]
    fn alias_bombs_hit_the_budget() {
        let mut text = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        let mut prev = 'a';
        for n in "bcdefghij".chars() {
            text.push_str(&format!("{n}: &{n} [{}]\n", vec![format!("*{prev}"); 10].join(",")));
            prev = n;
        }
        let d = parse(&text).unwrap_err();
        assert_eq!(d.code, Code::SyntaxTooComplex, "{d:?}");
    }

    #[test]
    fn deep_nesting_hits_the_budget() {
        let text = format!("a: {}{}\n", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(parse(&text).unwrap_err().code, Code::SyntaxTooComplex);
    }

    #[test]
    fn spans_cover_raw_scalars() {
        let text = "a: \"x\\ty\"\nb: [1, two]\n";
        let node = parse(text).unwrap();
        let map = node.as_map().unwrap();
        let v = &map[0].1;
        assert_eq!(&text[v.start as usize..v.end as usize], "\"x\\ty\"");
        let seq = &map[1].1;
        assert_eq!(&text[seq.start as usize..seq.end as usize], "[1, two");
    }

    #[test]
    fn duplicate_keys_pass_through() {
        let node = parse("a: 1\na: 2\n").unwrap();
        assert_eq!(node.as_map().unwrap().len(), 2);
    }
}
