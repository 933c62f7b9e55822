//! Hover, go to definition, completion and code actions on a compiled plan.
//! Names are found from the text around the cursor: the word under it, and
//! what precedes it (`segment(`, `contact.`, `send:` …) for its kind.

use super::convert;
use super::project::Compiled;
use herald_compiler::SourceFile;
use herald_compiler::symbols::{self, SymbolKind};
use lsp_types as lsp;
use std::path::Path;

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The word at `offset` (byte range), if any.
fn word_at(text: &str, offset: usize) -> Option<(usize, usize)> {
    let offset = offset.min(text.len());
    let start = text[..offset]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_word(c))
        .last()
        .map_or(offset, |(i, _)| i);
    let end = text[offset..]
        .char_indices()
        .find(|&(_, c)| !is_word(c))
        .map_or(text.len(), |(i, _)| offset + i);
    (start < end).then_some((start, end))
}

/// The text of the line before `offset`.
fn line_before(text: &str, offset: usize) -> &str {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    &text[start..offset]
}

/// The YAML key of the line (`- send: x` → `send`).
fn line_key(line: &str) -> Option<&str> {
    let t = line.trim_start().trim_start_matches("- ").trim_start();
    let (key, _) = t.split_once(':')?;
    key.chars().all(is_word).then_some(key)
}

/// What kind of name the text before a word asks for.
enum Context {
    Kind(SymbolKind),
    EventProperty,
    /// Inside a condition: fields, and the functions that take other names.
    Expression,
    Unknown,
}

const EXPRESSION_KEYS: &[&str] = &["where", "audience", "if", "until", "exit_when", "condition"];

fn context(before: &str) -> Context {
    let b = before.trim_end_matches(is_word);
    let call = |f: &str| b.ends_with(&format!("{f}(")) || b.trim_end().ends_with(&format!("{f}("));
    if call("segment") {
        return Context::Kind(SymbolKind::Segment);
    }
    if call("consent") {
        return Context::Kind(SymbolKind::Consent);
    }
    if call("opened") || call("clicked") {
        return Context::Kind(SymbolKind::Message);
    }
    if call("count") {
        return Context::Kind(SymbolKind::Event);
    }
    if b.ends_with("event.") {
        return Context::EventProperty;
    }
    if b.ends_with("contact.") {
        return Context::Kind(SymbolKind::Field);
    }
    match line_key(b) {
        Some("send" | "message") => Context::Kind(SymbolKind::Message),
        Some("program") => Context::Kind(SymbolKind::Program),
        Some("event") => Context::Kind(SymbolKind::Event),
        Some("field") => Context::Kind(SymbolKind::Field),
        Some(k) if EXPRESSION_KEYS.contains(&k) => Context::Expression,
        _ => Context::Unknown,
    }
}

/// The key of the value being written in a flow mapping or list, as test
/// files write their entries: `- { at: …, send: x` → `send`,
/// `contact: { consents: [a, b` → `consents`.
fn flow_key(b: &str) -> Option<&str> {
    let t = b.trim_start().trim_start_matches("- ").trim_start();
    // Inside a flow list not yet closed: the key before its `[`.
    let head = match t.rfind('[') {
        Some(i) if !t[i..].contains(']') => &t[..i],
        _ => t,
    };
    let entry = head.rsplit(['{', ',']).next()?;
    let (key, _) = entry.split_once(':')?;
    let key = key.trim();
    (!key.is_empty() && key.chars().all(is_word)).then_some(key)
}

/// Test files (`tests/*.yaml`) name messages, events, consents and
/// scenarios under their own keys, mostly in flow mappings.
fn is_test_file(rel: &str) -> bool {
    rel.starts_with("tests/") && (rel.ends_with(".yaml") || rel.ends_with(".yml"))
}

/// [`context`], and in a test file the keys of its entries.
fn context_in(rel: &str, before: &str) -> Context {
    let c = context(before);
    if !matches!(c, Context::Unknown) || !is_test_file(rel) {
        return c;
    }
    match flow_key(before.trim_end_matches(is_word)) {
        Some("send" | "never" | "opened" | "clicked" | "unsubscribed" | "bounced" | "complained") => {
            Context::Kind(SymbolKind::Message)
        }
        Some("event") => Context::Kind(SymbolKind::Event),
        Some("consents" | "consent_given" | "consent_withdrawn") => Context::Kind(SymbolKind::Consent),
        Some("enter" | "exit") => Context::Kind(SymbolKind::Scenario),
        _ => Context::Unknown,
    }
}

/// The declared name under the cursor, with its kind.
fn symbol_at<'c>(c: &'c Compiled, file: &SourceFile, offset: usize) -> Option<&'c symbols::Symbol> {
    let (start, end) = word_at(&file.text, offset)?;
    let word = &file.text[start..end];
    let symbols = &c.compilation.symbols;
    let preferred = match context_in(&file.path, line_before(&file.text, start)) {
        Context::Kind(k) => Some(k),
        Context::Expression => Some(SymbolKind::Field),
        _ => None,
    };
    preferred
        .and_then(|k| symbols.find(k, word))
        .or_else(|| symbols.all.iter().find(|s| s.name == word))
}

/// `event.NAME`: the property's type in the events that have it.
fn event_property(c: &Compiled, file: &SourceFile, offset: usize) -> Option<String> {
    let (start, end) = word_at(&file.text, offset)?;
    if !matches!(context(line_before(&file.text, start)), Context::EventProperty) {
        return None;
    }
    let name = &file.text[start..end];
    let owners: Vec<String> = c
        .compilation
        .plan
        .contact
        .events
        .iter()
        .filter_map(|(event, e)| {
            e.properties
                .get(name)
                .map(|t| format!("`{event}` ({t:?})").to_lowercase())
        })
        .collect();
    (!owners.is_empty()).then(|| format!("**event property** `{name}`\n\nOf {}", owners.join(", ")))
}

pub fn hover(c: &Compiled, rel: &str, pos: lsp::Position) -> Option<lsp::Hover> {
    let (id, file) = c.file(rel)?;
    let offset = file.offset_of_lsp(pos.line, pos.character);
    let text = match event_property(c, file, offset) {
        Some(t) => t,
        None => {
            let sym = symbol_at(c, file, offset)?;
            symbols::describe(&c.compilation.plan, sym.kind, &sym.name)
                .unwrap_or_else(|| format!("**{}** `{}` (has errors)", sym.kind.as_str(), sym.name))
        }
    };
    Some(lsp::Hover {
        contents: lsp::HoverContents::Markup(lsp::MarkupContent {
            kind: lsp::MarkupKind::Markdown,
            value: text,
        }),
        range: word_at(&file.text, offset)
            .map(|(s, e)| convert::range(&c.sources, herald_compiler::Span::new(id, s, e))),
    })
}

pub fn definition(root: &Path, c: &Compiled, rel: &str, pos: lsp::Position) -> Option<lsp::Location> {
    let (_, file) = c.file(rel)?;
    let sym = symbol_at(c, file, file.offset_of_lsp(pos.line, pos.character))?;
    convert::location(root, &c.sources, sym.span)
}

fn item(label: &str, kind: lsp::CompletionItemKind, detail: &str) -> lsp::CompletionItem {
    lsp::CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: Some(detail.to_string()),
        ..Default::default()
    }
}

fn names(c: &Compiled, kind: SymbolKind, item_kind: lsp::CompletionItemKind) -> Vec<lsp::CompletionItem> {
    c.compilation
        .symbols
        .of_kind(kind)
        .map(|s| {
            let mut i = item(&s.name, item_kind, kind.as_str());
            i.documentation = symbols::describe(&c.compilation.plan, kind, &s.name).map(|d| {
                lsp::Documentation::MarkupContent(lsp::MarkupContent {
                    kind: lsp::MarkupKind::Markdown,
                    value: d,
                })
            });
            i
        })
        .collect()
}

const FUNCTIONS: &[(&str, &str, &str)] = &[
    ("segment", "segment(${1:name})", "membership of a segment"),
    ("consent", "consent(${1:name})", "the contact gave this consent"),
    ("opened", "opened(${1:message})", "the contact opened this message"),
    (
        "clicked",
        "clicked(${1:message})",
        "the contact clicked in this message",
    ),
    (
        "count",
        "count(${1:event}, within ${2:30d})",
        "how many times an event happened",
    ),
];

const KEYWORDS: &[&str] = &["and", "or", "not", "in", "within", "is set", "is not set", "contains"];

pub fn completion(c: &Compiled, rel: &str, pos: lsp::Position) -> Vec<lsp::CompletionItem> {
    use lsp::CompletionItemKind as K;
    let Some((_, file)) = c.file(rel) else {
        return Vec::new();
    };
    let offset = file.offset_of_lsp(pos.line, pos.character);
    let before = line_before(&file.text, offset);
    match context_in(rel, before) {
        Context::Kind(SymbolKind::Field) if before.trim_end_matches(is_word).ends_with("contact.") => {
            let mut items = names(c, SymbolKind::Field, K::FIELD);
            items.push(item("id", K::FIELD, "field (built in)"));
            items
        }
        Context::Kind(SymbolKind::Field) => names(c, SymbolKind::Field, K::FIELD)
            .into_iter()
            .filter(|i| {
                c.compilation.plan.contact.fields.get(&i.label).is_some_and(|f| {
                    matches!(
                        f.ty,
                        herald_compiler::model::FieldType::Date | herald_compiler::model::FieldType::Datetime
                    )
                })
            })
            .collect(),
        Context::Kind(k @ SymbolKind::Segment) => names(c, k, K::CLASS),
        Context::Kind(k @ SymbolKind::Consent) => names(c, k, K::CONSTANT),
        Context::Kind(k @ SymbolKind::Message) => names(c, k, K::REFERENCE),
        Context::Kind(k @ SymbolKind::Event) => names(c, k, K::EVENT),
        Context::Kind(k @ SymbolKind::Scenario) => names(c, k, K::MODULE),
        Context::Kind(k) => names(c, k, K::MODULE),
        Context::EventProperty => {
            let mut props: Vec<lsp::CompletionItem> = Vec::new();
            for (event, e) in &c.compilation.plan.contact.events {
                for (p, t) in &e.properties {
                    if !props.iter().any(|i| &i.label == p) {
                        props.push(item(
                            p,
                            K::PROPERTY,
                            &format!("{t:?} property of `{event}`").to_lowercase(),
                        ));
                    }
                }
            }
            props
        }
        Context::Expression => {
            let mut items = names(c, SymbolKind::Field, K::FIELD);
            items.push(item("id", K::FIELD, "field (built in)"));
            for (label, snippet, doc) in FUNCTIONS {
                items.push(lsp::CompletionItem {
                    insert_text: Some(snippet.to_string()),
                    insert_text_format: Some(lsp::InsertTextFormat::SNIPPET),
                    ..item(label, K::FUNCTION, doc)
                });
            }
            for k in KEYWORDS {
                items.push(item(k, K::KEYWORD, "operator"));
            }
            items
        }
        Context::Unknown => Vec::new(),
    }
}

pub fn code_actions(root: &Path, c: &Compiled, rel: &str, range: lsp::Range) -> Vec<lsp::CodeActionOrCommand> {
    let Some((id, _)) = c.file(rel) else {
        return Vec::new();
    };
    let overlaps = |r: lsp::Range| r.start <= range.end && range.start <= r.end;
    let mut out = Vec::new();
    for d in &c.compilation.diagnostics {
        let Some(primary) = d.primary.as_ref().filter(|l| l.span.file == id) else {
            continue;
        };
        if !overlaps(convert::range(&c.sources, primary.span)) {
            continue;
        }
        for (i, fix) in d.fixes.iter().enumerate() {
            let Some(edit) = convert::workspace_edit(root, &c.sources, fix) else {
                continue;
            };
            out.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                title: fix.title.clone(),
                kind: Some(lsp::CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![convert::diagnostic(root, &c.sources, d)]),
                edit: Some(edit),
                is_preferred: Some(i == 0),
                ..Default::default()
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_contexts() {
        let t = "  where: segment(vip) and contact.first_name";
        let at = t.find("vip").unwrap() + 1;
        assert_eq!(word_at(t, at).map(|(s, e)| &t[s..e]), Some("vip"));
        assert!(matches!(
            context(line_before(t, at)),
            Context::Kind(SymbolKind::Segment)
        ));
        let end = t.len();
        assert!(matches!(context(line_before(t, end)), Context::Kind(SymbolKind::Field)));
        assert!(matches!(context("    - send: wel"), Context::Kind(SymbolKind::Message)));
        assert!(matches!(
            context("  audience: total_spent >= 3 and reg"),
            Context::Expression
        ));
        assert!(matches!(context("  if: event."), Context::EventProperty));
    }

    #[test]
    fn test_files_complete_the_names_of_their_entries() {
        let kind = |before: &str| match context_in("tests/cart.yaml", before) {
            Context::Kind(k) => Some(k),
            _ => None,
        };
        assert_eq!(
            kind("      - { at: 2026-11-17T10:05, send: car"),
            Some(SymbolKind::Message)
        );
        assert_eq!(kind("      - { never: "), Some(SymbolKind::Message));
        assert_eq!(
            kind("      - { at: 2026-11-17T12:00, opened: c"),
            Some(SymbolKind::Message)
        );
        assert_eq!(
            kind("      - { at: 2026-11-17T09:05, event: cart_ab"),
            Some(SymbolKind::Event)
        );
        assert_eq!(
            kind("    contact: { id: t1, consents: [email_marketing, sm"),
            Some(SymbolKind::Consent)
        );
        assert_eq!(
            kind("      - { at: 2026-11-18T09:00, consent_withdrawn: "),
            Some(SymbolKind::Consent)
        );
        assert_eq!(kind("      - { exit: cart, reason: "), None);
        assert_eq!(kind("      - { exit: ca"), Some(SymbolKind::Scenario));
        assert_eq!(kind("      - send: car"), Some(SymbolKind::Message));
        // A key being written, not a value: nothing to offer.
        assert_eq!(kind("      - { at: 2026-11-17T10:05, se"), None);
        // Outside test files, flow entries keep their plan meaning.
        assert!(matches!(
            context_in("scenarios.yaml", "  - { exit: ca"),
            Context::Unknown
        ));
        assert!(matches!(context("  description: some"), Context::Unknown));
        assert_eq!(word_at("a  b", 2), None);
    }
}
