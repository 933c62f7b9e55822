//! Human rendering with miette: source snippets, labels, help.
//! Deterministic for a given width and theme, so snapshots can hold it.

use super::{Diagnostic, Label, Redactor, Severity};
use crate::source::{SourceFile, SourceSet, Span};
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan,
    SpanContents,
};
use std::fmt;

#[derive(Clone, Copy, Debug)]
pub struct HumanOptions {
    /// ANSI colours (only on a terminal).
    pub color: bool,
    /// Box-drawing characters; plain ASCII otherwise.
    pub unicode: bool,
    pub width: usize,
}

impl Default for HumanOptions {
    fn default() -> Self {
        HumanOptions {
            color: false,
            unicode: true,
            width: 100,
        }
    }
}

/// Render all diagnostics, separated by blank lines.
pub fn render(diagnostics: &[Diagnostic], sources: &SourceSet, options: HumanOptions) -> String {
    let theme = match (options.unicode, options.color) {
        (true, true) => GraphicalTheme::unicode(),
        (true, false) => GraphicalTheme::unicode_nocolor(),
        (false, true) => GraphicalTheme::ascii(),
        (false, false) => GraphicalTheme::none(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false)
        .with_urls(false)
        .with_context_lines(1)
        .with_show_related_as_nested(true);
    let mut out = String::new();
    let redactor = Redactor::new(sources);
    for d in diagnostics {
        let view = View::new(d, sources, &redactor);
        if handler.render_report(&mut out, &view).is_err() {
            // A snippet that cannot be rendered must not hide the diagnostic.
            out.push_str(&format!(
                "{}[{}]: {}\n",
                d.severity.as_str(),
                d.code,
                redactor.text(&d.message)
            ));
        }
    }
    out
}

/// A borrowed file with its display name, and its text as it may be shown
/// (secrets masked, same offsets).
struct FileSource<'a> {
    file: &'a SourceFile,
    text: std::borrow::Cow<'a, str>,
}

impl SourceCode for FileSource<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        // Start from a few lines before the span (found with the line index),
        // so miette does not scan the file from its beginning for every label.
        let line = self
            .file
            .line_col(u32::try_from(span.offset()).unwrap_or(u32::MAX))
            .line
            - 1;
        let base_line = line.saturating_sub(before);
        let base = self.file.line_start(base_line);
        let text = self.text.get(base..).unwrap_or("");
        let local = SourceSpan::new(span.offset().saturating_sub(base).into(), span.len());
        let inner = text.read_span(&local, before, after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.file.path.clone(),
            inner.data(),
            SourceSpan::new((inner.span().offset() + base).into(), inner.span().len()),
            inner.line() + base_line,
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// Lines longer than this are not drawn in a snippet (a one-line or
/// minified file): the place is named instead. miette cannot pad an
/// underline past 65,535 columns, and such a line is unreadable anyway.
const SNIPPET_LINE_MAX: usize = 1_000;

/// Whether the line(s) holding `span` can be drawn in a snippet.
fn drawable(sources: &SourceSet, span: Span) -> bool {
    let Some(f) = sources.get(span.file) else {
        return false;
    };
    let short = |offset: u32| {
        let line = f.line_col(offset).line;
        let start = f.line_start(line.saturating_sub(1));
        let rest = f.text.get(start..).unwrap_or("");
        rest.find('\n').unwrap_or(rest.len()) <= SNIPPET_LINE_MAX
    };
    short(span.start) && short(span.end)
}

/// Where `span` is, as `path:line:column`, for a diagnostic without a snippet.
fn place(sources: &SourceSet, span: Span) -> String {
    match sources.get(span.file) {
        Some(f) => {
            let lc = f.line_col(span.start);
            format!("{}:{}:{}", f.path, lc.line, lc.column)
        }
        None => String::new(),
    }
}

fn source_span(span: Span) -> SourceSpan {
    SourceSpan::new((span.start as usize).into(), span.len())
}

struct View<'a> {
    title: String,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<FileSource<'a>>,
    labels: Vec<LabeledSpan>,
    related: Vec<View<'a>>,
}

impl<'a> View<'a> {
    fn new(d: &'a Diagnostic, sources: &'a SourceSet, redactor: &Redactor) -> Self {
        let severity = match d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        };
        let title = format!("[{}] {}", d.code, redactor.text(&d.message));
        let help = redactor.opt(d.help.as_deref()).map(|h| h.into_owned());
        let label = |l: &Label| non_empty(&redactor.text(&l.message));
        let Some(primary) = &d.primary else {
            return View {
                title,
                severity,
                help,
                source: None,
                labels: Vec::new(),
                related: d.related.iter().map(|l| View::note(l, sources, redactor)).collect(),
            };
        };
        if !drawable(sources, primary.span) {
            let what = label(primary).map(|l| format!(": {l}")).unwrap_or_default();
            return View {
                title: format!(
                    "{title} (at {}{what}; the line is too long to show)",
                    place(sources, primary.span)
                ),
                severity,
                help,
                source: None,
                labels: Vec::new(),
                related: d.related.iter().map(|l| View::note(l, sources, redactor)).collect(),
            };
        }
        let file = primary.span.file;
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            label(primary),
            source_span(primary.span),
        )];
        let mut related = Vec::new();
        let line = |span: Span| sources.get(span.file).map_or(0, |f| f.line_col(span.start).line);
        let primary_line = line(primary.span);
        for l in &d.related {
            // Close labels share the snippet; distant ones get their own, so a
            // snippet never runs over dozens of lines.
            if l.span.file == file && line(l.span).abs_diff(primary_line) <= 6 && drawable(sources, l.span) {
                labels.push(LabeledSpan::new_with_span(label(l), source_span(l.span)));
            } else {
                related.push(View::note(l, sources, redactor));
            }
        }
        View {
            title,
            severity,
            help,
            source: file_source(sources, primary.span),
            labels,
            related,
        }
    }

    /// A related place in another file, shown as a nested note.
    fn note(l: &'a Label, sources: &'a SourceSet, redactor: &Redactor) -> Self {
        if !drawable(sources, l.span) {
            return View {
                title: format!(
                    "{} (at {}; the line is too long to show)",
                    redactor.text(&l.message),
                    place(sources, l.span)
                ),
                severity: miette::Severity::Advice,
                help: None,
                source: None,
                labels: Vec::new(),
                related: Vec::new(),
            };
        }
        View {
            title: redactor.text(&l.message).into_owned(),
            severity: miette::Severity::Advice,
            help: None,
            source: file_source(sources, l.span),
            labels: vec![LabeledSpan::new_primary_with_span(None, source_span(l.span))],
            related: Vec::new(),
        }
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn file_source(sources: &SourceSet, span: Span) -> Option<FileSource<'_>> {
    sources.get(span.file).map(|file| FileSource {
        file,
        text: file.display_text(),
    })
}

impl fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl fmt::Display for View<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl std::error::Error for View<'_> {}

impl miette::Diagnostic for View<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Code;
    use crate::source::SourceKind;

    /// A place far along a very long line (a one-line file) is named, not
    /// drawn: miette cannot pad past 65,535 columns, and it panicked.
    #[test]
    fn a_place_on_a_very_long_line_is_named_not_drawn() {
        let mut sources = SourceSet::new();
        let text = format!(
            "tests: {{ t: {{ description: \"{}\", phone: bad }} }}\n",
            "x".repeat(70_000)
        );
        let at = text.find("bad").unwrap();
        let file = sources.add(SourceFile::new("tests/t.yaml", SourceKind::Test, text));
        let d = Diagnostic::new(Code::TestInvalidValue, "`phone` of the test contact is not valid")
            .at(Span::new(file, at, at + 3), "not a phone number")
            .help("Write the number in E.164 form.");
        let wide = HumanOptions {
            width: 400,
            ..HumanOptions::default()
        };
        let out = render(&[d], &sources, wide);
        assert!(
            out.contains(&format!(
                "(at tests/t.yaml:1:{}: not a phone number; the line is too long to show)",
                at + 1
            )),
            "{out}"
        );
        assert!(out.contains("Write the number in E.164 form."), "{out}");
        assert!(!out.contains("xxxxxxxxxx"), "the line is not shown");
    }
}
