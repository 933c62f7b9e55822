//! `herald graph [DIR] [--format mermaid|dot|svg] [--view all|programs|scenarios|calendar] [--out FILE [--force]]`

use crate::exit::Exit;
use crate::graph::{self, Format, View};
use crate::output::{fatal, write_file};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    format: Format,
    #[arg(long, value_enum, default_value_t = View::All)]
    view: View,
    /// Write the picture to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long, requires = "out")]
    force: bool,
}

pub fn run(mut args: Args) -> Exit {
    args.dir = match crate::project::plan_dir(&args.dir) {
        Ok(d) => d,
        Err(e) => {
            fatal(e);
            return Exit::Unusable;
        }
    };
    let (_, compilation) = match crate::project::compile_dir(&args.dir) {
        Ok(x) => x,
        Err(e) => {
            fatal(e);
            return Exit::Unusable;
        }
    };
    if compilation.has_errors() {
        fatal(format!(
            "the plan has errors; run `herald check {}` first",
            args.dir.display()
        ));
        return Exit::Failure;
    }
    let plan = &compilation.plan;
    // "Today" on the calendar is the pinned clock's, in the plan's time zone.
    let today = match crate::clock::now() {
        Ok(now) => now.with_timezone(&plan.config.timezone).naive_local(),
        Err(reason) => {
            fatal(reason);
            return Exit::Failure;
        }
    };
    let picture = match graph::render(plan, args.format, args.view, Some(today)) {
        Ok(p) => p,
        Err(reason) => {
            fatal(reason);
            return Exit::Failure;
        }
    };
    match &args.out {
        None => out!("{picture}"),
        Some(path) => {
            if let Err(reason) = write_file(path, picture.as_bytes(), args.force) {
                fatal(reason);
                return Exit::Failure;
            }
        }
    }
    Exit::Ok
}
