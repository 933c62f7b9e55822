//! `herald plan [DIR] [--out FILE] [--format human|json|markdown] [--detailed-exitcode]`

use crate::exit::Exit;
use crate::output::{ColorChoice, fatal};
use crate::plan::{self, Options};
use herald_compiler::diagnostic::render_human;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
    Markdown,
}

#[derive(clap::Args)]
pub struct Args {
    /// The plan directory (holding herald.toml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Save the plan, to apply it later with `herald apply FILE`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Exit 0 when nothing changes, 2 when something does, 1 on any error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// How many days ahead date-triggered scenarios are forecast.
    #[arg(long, default_value_t = 30)]
    pub horizon_days: u64,
}

pub fn run(args: Args, color: ColorChoice) -> Exit {
    let now = match crate::clock::now() {
        Ok(n) => n,
        Err(reason) => {
            fatal(reason);
            return Exit::Failure;
        }
    };
    let options = Options {
        horizon_days: args.horizon_days,
        now,
    };
    let planned = match plan::make(&args.dir, &options) {
        Ok(p) => p,
        Err(plan::PlanFailure(reason)) => {
            fatal(reason);
            return Exit::Failure;
        }
    };
    let doc = &planned.doc;
    match args.format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(doc).unwrap_or_default()),
        Format::Markdown => {
            let pictures = if doc.errored {
                Vec::new()
            } else {
                plan::markdown::pictures(doc, &planned.plan)
            };
            for (i, part) in plan::markdown::render(doc, &pictures).iter().enumerate() {
                if i > 0 {
                    outln!("<!-- herald:split -->");
                }
                out!("{part}");
            }
        }
        Format::Human => {
            let options = render_human::HumanOptions {
                color: color.enabled_for_stdout(),
                ..Default::default()
            };
            out!(
                "{}",
                render_human::render(&planned.diagnostics, &planned.sources, options)
            );
            if !doc.errored {
                out!("{}", plan::text::render(doc, color.enabled_for_stdout()));
            }
        }
    }
    if doc.errored {
        if args.format == Format::Human {
            fatal("the plan has errors; fix them and run `herald plan` again");
        }
        return Exit::Failure;
    }
    if let Some(out) = &args.out {
        if let Err(e) = plan::save(doc, out) {
            fatal(e);
            return Exit::Failure;
        }
        if args.format == Format::Human {
            outln!(
                "\nSaved the plan to {}. Apply exactly these actions with `herald apply {}`.",
                out.display(),
                out.display()
            );
        }
    } else if args.format == Format::Human && doc.summary.has_changes() {
        outln!("\nNote: you did not use `--out`, so `herald apply` will plan again and may do something else.");
    }
    if args.detailed_exitcode && doc.summary.has_changes() {
        Exit::Changes
    } else {
        Exit::Ok
    }
}
