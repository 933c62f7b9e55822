//! `herald check [DIR] [--format human|json|github]`

use crate::exit::Exit;
use crate::output::{ColorChoice, fatal};
use crate::project::compile_dir;
use herald_compiler::diagnostic::{self, render_github, render_human, render_json};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Source snippets with labels and help, for people.
    #[default]
    Human,
    /// One JSON object (format_version 1), for tools.
    Json,
    /// GitHub Actions workflow commands: annotations on the pull request.
    Github,
}

#[derive(clap::Args)]
pub struct Args {
    /// The plan directory (holding herald.toml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit 1 on warnings too.
    #[arg(long)]
    warnings_as_errors: bool,
}

pub fn run(args: Args, color: ColorChoice) -> Exit {
    let dir = match crate::project::plan_dir(&args.dir) {
        Ok(d) => d,
        Err(reason) => {
            fatal(reason);
            return Exit::Unusable;
        }
    };
    let (sources, compilation) = match compile_dir(&dir) {
        Ok(x) => x,
        Err(reason) => {
            fatal(reason);
            return Exit::Unusable;
        }
    };
    let diags = &compilation.diagnostics;
    let (errors, warnings) = diagnostic::counts(diags);
    // Said once: what applies without being a problem (the baseline caps).
    let notes = compilation.notes();
    match args.format {
        Format::Json => outln!("{}", render_json::render_with_notes(diags, &sources, &notes)),
        Format::Github => {
            // Annotations need paths from the repository root, where CI runs.
            let base = crate::project::relative_to_cwd(&dir).unwrap_or_else(|| dir.display().to_string());
            out!("{}", render_github::render(diags, &sources, &base));
            for n in &notes {
                outln!("::notice title=Herald::{}", render_github::escape_data(n));
            }
        }
        Format::Human => {
            let options = render_human::HumanOptions {
                color: color.enabled_for_stdout(),
                ..Default::default()
            };
            out!("{}", render_human::render(diags, &sources, options));
            for n in &notes {
                outln!("note: {n}.");
            }
            let files = sources.len();
            let noun = if files == 1 { "file" } else { "files" };
            if errors == 0 && warnings == 0 {
                outln!("Checked {files} {noun}: no problems.");
            } else {
                outln!(
                    "Checked {files} {noun}: {} and {}.",
                    plural(errors, "error"),
                    plural(warnings, "warning")
                );
            }
        }
    }
    if errors > 0 || (args.warnings_as_errors && warnings > 0) {
        Exit::Failure
    } else {
        Exit::Ok
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
