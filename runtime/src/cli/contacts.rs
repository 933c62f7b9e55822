//! `herald contacts generate [DIR] --count N --seed S [--out FILE]`

use crate::contacts;
use crate::exit::Exit;
use crate::output::fatal;
use chrono::NaiveDate;
use std::path::PathBuf;

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
    /// Output file (`-` for stdout). Default: the CRM path of herald.toml.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(cmd: Command) -> Exit {
    match cmd {
        Command::Generate(args) => generate(args),
    }
}

fn generate(args: GenerateArgs) -> Exit {
    let (_, compilation) = match super::check::compile_dir(&args.dir) {
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
    let out = args.out.unwrap_or_else(|| args.dir.join(&plan.config.crm.path));
    let result = if out.as_os_str() == "-" {
        contacts::write_csv(&plan.contact, &opts, std::io::stdout().lock())
    } else {
        if let Some(parent) = out.parent()
            && let Err(e) = std::fs::create_dir_all(parent)
        {
            fatal(format!("cannot create `{}`: {e}", parent.display()));
            return Exit::Failure;
        }
        match std::fs::File::create(&out) {
            Ok(f) => contacts::write_csv(&plan.contact, &opts, std::io::BufWriter::new(f)),
            Err(e) => {
                fatal(format!("cannot write `{}`: {e}", out.display()));
                return Exit::Failure;
            }
        }
    };
    match result {
        Ok(()) => {
            if out.as_os_str() != "-" {
                eprintln!("Wrote {} synthetic contacts to {}", args.count, out.display());
            }
            Exit::Ok
        }
        Err(e) => {
            fatal(format!("cannot write contacts: {e}"));
            Exit::Failure
        }
    }
}
