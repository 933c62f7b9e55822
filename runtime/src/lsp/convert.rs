//! Compiler data to LSP types: spans to ranges, diagnostics, fixes.

use super::uri;
use herald_compiler::diagnostic::{Diagnostic, Fix, Redactor, Severity};
use herald_compiler::source::{SourceSet, Span};
use lsp_types as lsp;
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

pub fn range(sources: &SourceSet, span: Span) -> lsp::Range {
    let Some(f) = sources.get(span.file) else {
        return lsp::Range::default();
    };
    let (sl, sc) = f.lsp_position(span.start);
    let (el, ec) = f.lsp_position(span.end);
    lsp::Range::new(lsp::Position::new(sl, sc), lsp::Position::new(el, ec))
}

pub fn uri_of(root: &Path, rel: &str) -> Option<lsp::Uri> {
    lsp::Uri::from_str(&uri::from_path(&root.join(rel))).ok()
}

pub fn location(root: &Path, sources: &SourceSet, span: Span) -> Option<lsp::Location> {
    Some(lsp::Location::new(
        uri_of(root, sources.path(span.file))?,
        range(sources, span),
    ))
}

pub fn diagnostic(root: &Path, sources: &SourceSet, d: &Diagnostic) -> lsp::Diagnostic {
    // Like every renderer: no credential of herald.toml in the texts.
    let redactor = Redactor::new(sources);
    let mut message = redactor.text(&d.message).into_owned();
    if let Some(l) = &d.primary
        && !l.message.is_empty()
    {
        message.push_str(&format!(" ({})", redactor.text(&l.message)));
    }
    if let Some(h) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(&redactor.text(h));
    }
    let related: Vec<lsp::DiagnosticRelatedInformation> = d
        .related
        .iter()
        .filter_map(|l| {
            Some(lsp::DiagnosticRelatedInformation {
                location: location(root, sources, l.span)?,
                message: redactor.text(&l.message).into_owned(),
            })
        })
        .collect();
    lsp::Diagnostic {
        range: d.primary.as_ref().map(|l| range(sources, l.span)).unwrap_or_default(),
        severity: Some(match d.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp::NumberOrString::String(d.code.as_str().to_string())),
        source: Some("herald".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}

/// A fix as an edit of the workspace. A name inside quotes keeps its quotes.
// lsp-types keys `WorkspaceEdit::changes` by `Uri`, whose only interior
// mutability is a lazily filled parse cache that does not affect Hash/Eq.
#[allow(clippy::mutable_key_type)]
pub fn workspace_edit(root: &Path, sources: &SourceSet, fix: &Fix) -> Option<lsp::WorkspaceEdit> {
    let mut changes: HashMap<lsp::Uri, Vec<lsp::TextEdit>> = HashMap::new();
    for (span, text) in &fix.edits {
        let file = sources.get(span.file)?;
        let old = file.slice(*span);
        let new_text = match old.chars().next() {
            Some(q @ ('"' | '\'')) if old.len() >= 2 && old.ends_with(q) && !text.starts_with(q) => {
                format!("{q}{text}{q}")
            }
            _ => text.clone(),
        };
        changes
            .entry(uri_of(root, &file.path)?)
            .or_default()
            .push(lsp::TextEdit::new(range(sources, *span), new_text));
    }
    Some(lsp::WorkspaceEdit {
        changes: Some(changes),
        ..Default::default()
    })
}
