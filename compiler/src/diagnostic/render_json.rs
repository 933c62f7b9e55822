//! `herald check --format json`: one object, 1-based lines and character
//! columns, paths relative to the plan directory, end exclusive.

use super::{Diagnostic, Label, Redactor, counts};
use crate::source::{SourceSet, Span};
use serde::Serialize;
use std::borrow::Cow;

pub const FORMAT_VERSION: &str = "1";

#[derive(Serialize)]
pub struct Report<'a> {
    pub format_version: &'static str,
    pub valid: bool,
    pub error_count: usize,
    pub warning_count: usize,
    pub diagnostics: Vec<JsonDiagnostic<'a>>,
    /// What applies without being a problem (the baseline pressure caps).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub code: &'static str,
    pub category: &'static str,
    pub severity: &'static str,
    pub message: Cow<'a, str>,
    pub file: Option<&'a str>,
    pub range: Option<Range>,
    pub help: Option<Cow<'a, str>>,
    pub related: Vec<JsonRelated<'a>>,
}

#[derive(Serialize)]
pub struct JsonRelated<'a> {
    pub message: Cow<'a, str>,
    pub file: &'a str,
    pub range: Range,
}

#[derive(Serialize, Clone, Copy)]
pub struct Range {
    pub start: Position,
    pub end: Position,
}

#[derive(Serialize, Clone, Copy)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

pub fn range(sources: &SourceSet, span: Span) -> Range {
    let Some(file) = sources.get(span.file) else {
        let p = Position { line: 1, column: 1 };
        return Range { start: p, end: p };
    };
    let s = file.line_col(span.start);
    let e = file.line_col(span.end);
    Range {
        start: Position {
            line: s.line,
            column: s.column,
        },
        end: Position {
            line: e.line,
            column: e.column,
        },
    }
}

pub fn report<'a>(diagnostics: &'a [Diagnostic], sources: &'a SourceSet) -> Report<'a> {
    let (error_count, warning_count) = counts(diagnostics);
    Report {
        format_version: FORMAT_VERSION,
        valid: error_count == 0,
        error_count,
        warning_count,
        diagnostics: {
            let redactor = Redactor::new(sources);
            diagnostics.iter().map(|d| redacted(d, sources, &redactor)).collect()
        },
        notes: Vec::new(),
    }
}

/// One diagnostic as JSON (secrets of `sources` scrubbed).
pub fn one<'a>(d: &'a Diagnostic, sources: &'a SourceSet) -> JsonDiagnostic<'a> {
    redacted(d, sources, &Redactor::new(sources))
}

fn redacted<'a>(d: &'a Diagnostic, sources: &'a SourceSet, redactor: &Redactor) -> JsonDiagnostic<'a> {
    let related = |l: &'a Label| JsonRelated {
        message: redactor.text(&l.message),
        file: sources.path(l.span.file),
        range: range(sources, l.span),
    };
    JsonDiagnostic {
        code: d.code.as_str(),
        category: d.category().as_str(),
        severity: d.severity.as_str(),
        message: redactor.text(&d.message),
        file: d.primary.as_ref().map(|l| sources.path(l.span.file)),
        range: d.primary.as_ref().map(|l| range(sources, l.span)),
        help: redactor.opt(d.help.as_deref()),
        related: d.related.iter().map(related).collect(),
    }
}

/// The report as pretty JSON text.
pub fn render(diagnostics: &[Diagnostic], sources: &SourceSet) -> String {
    render_with_notes(diagnostics, sources, &[])
}

/// The report, with notes, as pretty JSON text.
pub fn render_with_notes(diagnostics: &[Diagnostic], sources: &SourceSet, notes: &[String]) -> String {
    let mut r = report(diagnostics, sources);
    r.notes = notes.to_vec();
    serde_json::to_string_pretty(&r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
