//! `herald apply [PLANFILE] [DIR] [--auto-approve] [--lock-timeout 0s]`

use crate::exit::Exit;
use crate::output::{ColorChoice, fatal};
use crate::plan::{self, Options, PlanDoc};
use crate::state::{Provenance, State, lock::who};
use herald_compiler::diagnostic::render_human;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// A plan saved by `herald plan --out FILE`. Without it, Herald plans, shows the plan and asks.
    pub plan: Option<PathBuf>,
    /// The plan directory (holding herald.toml).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Apply without asking (required when standard input is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// How long to wait for another operation's lock (`0s`, `30s`, `5m`).
    #[arg(long, default_value = "0s", value_parser = parse_timeout)]
    pub lock_timeout: Duration,
    #[arg(long, default_value_t = 30)]
    pub horizon_days: u64,
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: write `30s`, `5m` or `0`"))?;
    Ok(match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("`{s}` is not a duration: write `30s`, `5m` or `0`")),
    })
}

pub fn run(mut args: Args, color: ColorChoice) -> Exit {
    args.dir = match crate::cli::plan_dir(&args.dir) {
        Ok(d) => d,
        Err(reason) => {
            fatal(reason);
            return Exit::Unusable;
        }
    };
    match apply(&args, color) {
        Ok(exit) => exit,
        Err(reason) => {
            fatal(reason);
            Exit::Failure
        }
    }
}

fn apply(args: &Args, color: ColorChoice) -> Result<Exit, String> {
    let saved = args.plan.is_some();
    let doc: PlanDoc = match &args.plan {
        Some(file) => {
            let doc = plan::load(file)?;
            // The sources must be those the plan was made from.
            let (sources, _) = crate::cli::compile_dir(&args.dir)?;
            let digest = herald_compiler::ir::source_digest(&sources);
            if digest != doc.source.digest {
                return Err(format!(
                    "the plan directory `{}` changed since `{}` was made; run `herald plan --out {}` again",
                    args.dir.display(),
                    file.display(),
                    file.display()
                ));
            }
            doc
        }
        None => {
            let planned = plan::make(
                &args.dir,
                &Options {
                    horizon_days: args.horizon_days,
                    now: crate::clock::now()?,
                },
            )
            .map_err(|plan::PlanFailure(r)| r)?;
            let c = color.enabled_for_stdout();
            out!(
                "{}",
                render_human::render(
                    &planned.diagnostics,
                    &planned.sources,
                    render_human::HumanOptions {
                        color: c,
                        ..Default::default()
                    }
                )
            );
            if !planned.doc.errored {
                out!("{}", plan::text::render(&planned.doc, c));
            }
            planned.doc
        }
    };
    if doc.errored {
        return Err("the plan has errors; fix them first (`herald check`)".into());
    }
    if let Some(g) = doc.guards.iter().find(|g| g.status == "fail") {
        return Err(format!(
            "refused by a guard: {} ({}); change the plan or `policies.guards`",
            g.message, g.code
        ));
    }
    if !doc.summary.has_changes() {
        outln!("No changes to apply.");
        return Ok(Exit::Ok);
    }
    if !saved && !args.auto_approve {
        if !std::io::stdin().is_terminal() {
            return Err("refusing to ask for confirmation: standard input is not a terminal; use `--auto-approve`, or apply a saved plan".into());
        }
        out!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().take(1024).read_line(&mut answer);
        if answer.trim() != "yes" {
            outln!("Apply cancelled.");
            return Ok(Exit::Failure);
        }
    }
    write(&args.dir, &doc, args.lock_timeout)
}

fn write(dir: &Path, doc: &PlanDoc, timeout: Duration) -> Result<Exit, String> {
    let now = crate::clock::now()?;
    let (_, compilation) = crate::cli::compile_dir(dir)?;
    let path = crate::state::path(dir, &compilation.plan.config).map_err(|e| e.to_string())?;
    let mut state = State::open_or_create(&path).map_err(|e| e.to_string())?;
    let guard = state
        .lock(
            "apply",
            &format!("plan {}", &doc.digest[..19.min(doc.digest.len())]),
            timeout,
            now,
        )
        .map_err(|e| e.to_string())?;
    let changes: Vec<_> = doc.changes.iter().map(|c| c.change.clone()).collect();
    let result = state.apply(
        &doc.prior_state,
        &changes,
        &doc.objects(),
        &doc.audiences(),
        &Provenance {
            who: &who(),
            plan_digest: &doc.digest,
            at: now,
        },
    );
    drop(guard);
    let meta = result.map_err(|e| e.to_string())?;
    let s = &doc.summary;
    outln!(
        "Apply complete! {} created, {} updated, {} replaced, {} deleted. State serial {}.",
        s.create,
        s.update,
        s.replace,
        s.delete,
        meta.serial
    );
    Ok(Exit::Ok)
}
