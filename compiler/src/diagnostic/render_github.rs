//! `--format github`: GitHub Actions workflow commands, one per line, so
//! diagnostics appear as annotations on the pull request. GitHub resolves
//! `file=` against the repository root, where CI runs: the caller passes the
//! plan directory's path from there as `base`.

use super::{Diagnostic, Redactor, Severity};
use crate::source::SourceSet;
use std::fmt::Write;

/// Escape the message part of a workflow command.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escape a property value (`file=`, `title=`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `base`: the plan directory relative to the working directory
/// (`/`-separated, empty for the working directory itself).
pub fn render(diagnostics: &[Diagnostic], sources: &SourceSet, base: &str) -> String {
    let mut out = String::new();
    let redactor = Redactor::new(sources);
    let base = base.trim_end_matches('/');
    for d in diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = Vec::new();
        if let Some(primary) = &d.primary {
            let r = super::render_json::range(sources, primary.span);
            let path = sources.path(primary.span.file);
            let path = if base.is_empty() || base == "." {
                path.to_string()
            } else {
                format!("{base}/{path}")
            };
            props.push(format!("file={}", escape_property(&path)));
            props.push(format!("line={}", r.start.line));
            props.push(format!("col={}", r.start.column));
            props.push(format!("endLine={}", r.end.line));
            props.push(format!("endColumn={}", r.end.column));
        }
        props.push(format!("title={}", escape_property(d.code.as_str())));
        let mut message = redactor.text(&d.message).into_owned();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(&redactor.text(help));
        }
        let _ = writeln!(out, "::{command} {}::{}", props.join(","), escape_data(&message));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_values_are_escaped() {
        assert_eq!(escape_data("a%b\nc"), "a%25b%0Ac");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
