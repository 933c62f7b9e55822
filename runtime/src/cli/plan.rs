//! `herald plan [DIR] [--out FILE] [--format human|json|markdown] [--detailed-exitcode] [--accept-guard CODE]`

use crate::exit::Exit;
use crate::output::{ColorChoice, fatal};
use crate::plan::{self, GuardCode, Options};
use herald_compiler::diagnostic::render_human;
use std::path::{Path, PathBuf};

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
    /// Exit 0 when nothing changes, 2 when something does, 1 on any error (usage errors
    /// and "could not run" included: here 2 means "changes", as in terraform).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// How many days ahead date-triggered scenarios are forecast (at most 3660).
    #[arg(long, default_value_t = 30, value_parser = horizon_days)]
    pub horizon_days: u64,
    /// Accept a failed guard deliberately (`guard/max-cost`, `guard/audience-growth`);
    /// `herald apply` must accept it again, and records it in `herald state history`.
    #[arg(long = "accept-guard", value_name = "CODE")]
    pub accept_guard: Vec<GuardCode>,
}

/// `--horizon-days`: 0 to [`plan::MAX_HORIZON_DAYS`] (the forecast adds it to today).
pub fn horizon_days(s: &str) -> Result<u64, String> {
    let n: u64 = s.parse().map_err(|_| format!("`{s}` is not a number of days"))?;
    if n > plan::MAX_HORIZON_DAYS {
        return Err(format!("the horizon is at most {} days", plan::MAX_HORIZON_DAYS));
    }
    Ok(n)
}

/// The command line that accepts these guards: ` --accept-guard A --accept-guard B`.
pub fn accept_flags(codes: &[GuardCode]) -> String {
    codes.iter().map(|c| format!(" --accept-guard {c}")).collect()
}

pub fn run(mut args: Args, color: ColorChoice) -> Exit {
    // Under --detailed-exitcode, 2 means "changes": every error is 1 there.
    let could_not_run = if args.detailed_exitcode {
        Exit::Failure
    } else {
        Exit::Unusable
    };
    args.dir = match crate::project::plan_dir(&args.dir) {
        Ok(d) => d,
        Err(reason) => {
            fatal(reason);
            return could_not_run;
        }
    };
    let now = match crate::clock::now() {
        Ok(n) => n,
        Err(reason) => {
            fatal(reason);
            return could_not_run;
        }
    };
    let options = Options {
        horizon_days: args.horizon_days,
        now,
        accepted: args.accept_guard.iter().copied().collect(),
    };
    let mut planned = match plan::make(&args.dir, &options) {
        Ok(p) => p,
        Err(plan::PlanFailure(reason)) => {
            fatal(reason);
            return could_not_run;
        }
    };
    if let Some(out) = &args.out {
        // Recorded before anything is printed, so the JSON shown is the one saved.
        match plan::relative_dir(out, &args.dir) {
            Ok(rel) => {
                planned.doc.plan_dir = Some(rel);
                planned.doc.digest = planned.doc.compute_digest();
            }
            Err(e) => {
                fatal(e);
                return could_not_run;
            }
        }
    }
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
    if let Some(out) = &args.out
        && let Err(e) = plan::save(doc, out)
    {
        fatal(e);
        return could_not_run;
    }
    let failed: Vec<GuardCode> = doc.blocking_guards().map(|g| g.code).collect();
    let accepted = doc.accepted_guards();
    if args.format == Format::Human {
        advise(
            &args.dir,
            args.out.as_deref(),
            doc.summary.has_changes(),
            &failed,
            &accepted,
        );
    }
    if !failed.is_empty() {
        return Exit::Failure;
    }
    if args.detailed_exitcode && doc.summary.has_changes() {
        Exit::Changes
    } else {
        Exit::Ok
    }
}

/// What to do next. A plan with a failed guard is never advertised as
/// applicable: the way forward is to accept the guard deliberately.
fn advise(dir: &Path, out: Option<&Path>, changes: bool, failed: &[GuardCode], accepted: &[GuardCode]) {
    if !failed.is_empty() {
        let names: Vec<String> = failed.iter().map(|c| format!("`{c}`")).collect();
        let all: Vec<GuardCode> = failed.iter().chain(accepted).copied().collect();
        let flags = accept_flags(&all);
        let file = out.map_or("plan.json".to_string(), |o| o.display().to_string());
        if out.is_some() {
            outln!(
                "\nSaved the plan to {file}, but it cannot be applied: the guard {} failed.",
                names.join(", ")
            );
        } else {
            outln!("\nThis plan cannot be applied: the guard {} failed.", names.join(", "));
        }
        outln!(
            "Change the plan or `policies.guards`; or, to go ahead anyway, accept it deliberately (recorded in `herald state history`):\n  herald plan {}{flags} --out {file}\n  herald apply {file}{flags}",
            dir.display()
        );
        return;
    }
    let flags = accept_flags(accepted);
    if let Some(out) = out {
        outln!(
            "\nSaved the plan to {}. Apply exactly these actions with `herald apply {}{flags}`.",
            out.display(),
            out.display()
        );
    } else if changes {
        outln!("\nNote: you did not use `--out`, so `herald apply` will plan again and may do something else.");
    }
}
