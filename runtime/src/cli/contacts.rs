//! `herald contacts generate [DIR] --count N --seed S [--out FILE]`

use crate::contacts;
use crate::exit::Exit;
use crate::fsx;
use crate::output::fatal;
use chrono::NaiveDate;
use herald_compiler::config::{CrmConfig, CrmKind};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Write deterministic synthetic contacts for the plan's contact model (CSV).
    Generate(GenerateArgs),
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// The plan directory (holding herald.toml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// How many contacts.
    #[arg(long, default_value_t = 500)]
    count: u64,
    /// Seed of the generator: the same seed gives the same contacts.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Reference date for "recent" and "upcoming" values (YYYY-MM-DD).
    #[arg(long, default_value = "2026-11-01")]
    as_of: NaiveDate,
    /// Output file (`-` for stdout). Default: the CSV file of `[crm]` in herald.toml, inside the plan directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the output file if it exists (never a file that is not CSV text).
    #[arg(long)]
    force: bool,
}

pub fn run(cmd: Command) -> Exit {
    match cmd {
        Command::Generate(args) => generate(args),
    }
}

fn generate(mut args: GenerateArgs) -> Exit {
    args.dir = match crate::project::plan_dir(&args.dir) {
        Ok(d) => d,
        Err(reason) => {
            fatal(reason);
            return Exit::Unusable;
        }
    };
    let (_, compilation) = match crate::project::compile_dir(&args.dir) {
        Ok(x) => x,
        Err(reason) => {
            fatal(reason);
            return Exit::Unusable;
        }
    };
    if compilation.has_errors() {
        fatal(format!(
            "the plan in `{}` has errors; run `herald check {}` and fix them first",
            args.dir.display(),
            args.dir.display()
        ));
        return Exit::Failure;
    }
    let plan = &compilation.plan;
    let opts = contacts::Options {
        count: args.count,
        seed: args.seed,
        as_of: args.as_of,
        timezone: plan.config.timezone.name(),
    };
    if args.out.as_deref() == Some(Path::new("-")) {
        return match contacts::write_csv(&plan.contact, &opts, std::io::stdout().lock()) {
            Ok(()) => Exit::Ok,
            Err(e) => {
                fatal(format!("cannot write contacts: {e}"));
                Exit::Failure
            }
        };
    }
    let out = match target(&args, &plan.config.crm) {
        Ok(out) => out,
        Err(reason) => {
            fatal(reason);
            return Exit::Failure;
        }
    };
    // Written beside the target and renamed over it once complete: a run
    // killed half-way leaves the previous contacts as they were.
    let written = fsx::write_atomic(&out, args.force, |w| {
        contacts::write_csv(&plan.contact, &opts, w).map_err(Into::into)
    });
    match written {
        Ok(()) => {
            eprintln!("Wrote {} synthetic contacts to {}", args.count, out.display());
            Exit::Ok
        }
        Err(e) => {
            fatal(format!("cannot write contacts: {e}"));
            Exit::Failure
        }
    }
}

/// Where to write: `--out` as given, or the CSV file of `[crm]`, which must
/// be inside the plan directory. Never over something that is not CSV text.
fn target(args: &GenerateArgs, crm: &CrmConfig) -> Result<PathBuf, String> {
    let out = match &args.out {
        Some(out) => out.clone(),
        None => {
            if crm.kind != CrmKind::Csv {
                return Err(format!(
                    "the CRM of this plan is an SQLite database (`kind = \"sqlite\"`, `{}`): `herald contacts generate` writes CSV and does not replace it; write elsewhere with `--out FILE`",
                    crm.path
                ));
            }
            let out = fsx::configured(&args.dir, &crm.path).map_err(|e| e.to_string())?;
            // Generated contacts never go outside the plan, even to an
            // absolute `[crm] path` (that is where real contacts live).
            fsx::ensure_inside(&args.dir, &out).map_err(|e| e.to_string())?;
            out
        }
    };
    if out.symlink_metadata().is_ok() {
        let head = fsx::sniff(&out).map_err(|e| e.to_string())?;
        let what = if head.starts_with(b"SQLite format 3\0") {
            Some("an SQLite database")
        } else if head.contains(&0) {
            Some("a binary file")
        } else {
            None
        };
        if let Some(what) = what {
            return Err(format!(
                "`{}` is not a CSV file (it is {what}); Herald does not replace it, even with `--force`",
                out.display()
            ));
        }
        if !args.force {
            return Err(format!(
                "`{}` already exists; pass `--force` to replace it",
                out.display()
            ));
        }
    }
    Ok(out)
}
