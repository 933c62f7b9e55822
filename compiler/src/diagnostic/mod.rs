//! One diagnostic type for every stage, with stable codes.
//!
//! A [`Diagnostic`] is plain data; renderers turn it into text for people
//! ([`render_human`]), JSON for tools ([`render_json`]), GitHub workflow
//! commands ([`render_github`]) — and the runtime turns it into LSP diagnostics.

mod code;
mod redact;
pub mod render_github;
pub mod render_human;
pub mod render_json;

pub use code::{Category, Code};
pub use redact::Redactor;

use crate::source::{SourceSet, Span};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A span with a short text shown next to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

impl Label {
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Label {
            span,
            message: message.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// What is wrong, in the user's terms.
    pub message: String,
    /// Where it is wrong. Absent only for problems of the whole plan.
    pub primary: Option<Label>,
    /// Other places that explain the problem (the first definition, the audience...).
    pub related: Vec<Label>,
    /// How to fix it, as an imperative sentence.
    pub help: Option<String>,
    /// Machine-applicable fixes (editors offer them as code actions).
    pub fixes: Vec<Fix>,
}

/// A fix an editor can apply: edits of the sources, described by a title.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    /// Replace each span with its text (an empty span inserts).
    pub edits: Vec<(Span, String)>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.default_severity(),
            message: message.into(),
            primary: None,
            related: Vec::new(),
            help: None,
            fixes: Vec::new(),
        }
    }

    pub fn at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.primary = Some(Label::new(span, label));
        self
    }

    pub fn related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push(Label::new(span, label));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        let help = help.into();
        // "did you mean `x`?" at a name: replacing the name is the fix.
        if let (Some(name), Some(primary)) = (suggested_name(&help), &self.primary) {
            self.fixes.push(Fix {
                title: format!("Replace with `{name}`"),
                edits: vec![(primary.span, name.to_string())],
            });
        }
        self.help = Some(help);
        self
    }

    pub fn maybe_help(self, help: Option<String>) -> Self {
        match help {
            Some(h) => self.help(h),
            None => self,
        }
    }

    pub fn fix(mut self, title: impl Into<String>, edits: Vec<(Span, String)>) -> Self {
        self.fixes.push(Fix {
            title: title.into(),
            edits,
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn category(&self) -> Category {
        self.code.category()
    }
}

/// The name of a "did you mean `x`?" help line.
fn suggested_name(help: &str) -> Option<&str> {
    let rest = help.strip_prefix("did you mean `")?;
    let name = rest.strip_suffix("`?")?;
    (!name.is_empty() && !name.contains('`')).then_some(name)
}

/// Diagnostics in a stable order: by file, position, then code.
pub fn sort(diagnostics: &mut [Diagnostic], sources: &SourceSet) {
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| {
            d.primary
                .as_ref()
                .map(|l| (sources.path(l.span.file), l.span.start, l.span.end))
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.code.as_str().cmp(b.code.as_str()))
            .then_with(|| a.message.cmp(&b.message))
    });
}

/// Counts of errors and warnings.
pub fn counts(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    (errors, diagnostics.len() - errors)
}
