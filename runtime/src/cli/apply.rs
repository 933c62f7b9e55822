//! `herald apply [PATH] [--auto-approve] [--lock-timeout 0s] [--accept-guard CODE]`
//!
//! PATH is a saved plan (`herald plan --out FILE`) or a plan directory. A
//! saved plan is never trusted for content: apply compiles its directory
//! again, recomputes the diff, the forecast and the guards, refuses unless it
//! gets exactly the plan's objects on the same state, and writes what it
//! compiled.

use crate::exit::{Exit, Stop, finish};
use crate::output::ColorChoice;
use crate::plan::{self, GuardCode, Options, PlanDoc, Planned};
use crate::state::{Provenance, State, lock::who};
use herald_compiler::diagnostic::render_human;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// A plan saved by `herald plan DIR --out FILE`, or a plan directory (holding
    /// herald.toml): Herald then plans, shows the plan and asks.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// The plan directory (older spelling of PATH).
    #[arg(long, hide = true)]
    pub dir: Option<PathBuf>,
    /// Apply without asking (required when standard input is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// How long to wait for another operation's lock (`0s`, `30s`, `5m`).
    #[arg(long, default_value = "0s", value_parser = parse_timeout)]
    pub lock_timeout: Duration,
    /// How many days ahead date-triggered scenarios are forecast (a saved plan uses its own).
    #[arg(long, default_value_t = 30, value_parser = super::plan::horizon_days)]
    pub horizon_days: u64,
    /// Apply although this guard fails (`guard/max-cost`, `guard/audience-growth`);
    /// recorded in `herald state history`.
    #[arg(long = "accept-guard", value_name = "CODE")]
    pub accept_guard: Vec<GuardCode>,
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: write `30s`, `5m` or `0`"))?;
    let secs = |per: u64| {
        n.checked_mul(per)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("`{s}` is too long a wait"))
    };
    match unit {
        "" | "s" => secs(1),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => secs(60),
        "h" => secs(3600),
        _ => Err(format!("`{s}` is not a duration: write `30s`, `5m` or `0`")),
    }
}

pub fn run(args: Args, color: ColorChoice) -> Exit {
    finish(apply(&args, color))
}

/// Where the plan comes from.
enum Target {
    Saved {
        file: PathBuf,
        doc: Box<PlanDoc>,
        dir: PathBuf,
    },
    Directory(PathBuf),
}

fn target(args: &Args) -> Result<Target, Stop> {
    let path = match &args.dir {
        // `apply --dir DIR` (no PATH): the directory.
        Some(dir) if args.path == Path::new(".") => {
            return Ok(Target::Directory(
                crate::project::plan_dir(dir).map_err(Stop::unusable)?,
            ));
        }
        _ => &args.path,
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        Stop::unusable(format!(
            "cannot read `{}`: {e}; give a plan saved by `herald plan DIR --out FILE`, or a plan directory",
            path.display()
        ))
    })?;
    if meta.is_dir() {
        if args.dir.is_some() {
            return Err(Stop::unusable("give the plan directory once: as PATH, or with --dir"));
        }
        return Ok(Target::Directory(
            crate::project::plan_dir(path).map_err(Stop::unusable)?,
        ));
    }
    if !meta.is_file() {
        return Err(Stop::unusable(format!(
            "`{}` is not a regular file: give a plan saved by `herald plan DIR --out FILE`, or a plan directory",
            path.display()
        )));
    }
    let doc = plan::load(path)?;
    let dir = plan::recorded_dir(path, &doc)?;
    if let Some(given) = &args.dir {
        let same = match (std::fs::canonicalize(given), std::fs::canonicalize(&dir)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !same {
            return Err(Stop::unusable(format!(
                "`{}` was made for the plan directory `{}`, not `{}`; leave out --dir",
                path.display(),
                dir.display(),
                given.display()
            )));
        }
    }
    Ok(Target::Saved {
        file: path.clone(),
        doc: Box::new(doc),
        dir,
    })
}

fn apply(args: &Args, color: ColorChoice) -> Result<Exit, Stop> {
    let now = crate::clock::now().map_err(Stop::unusable)?;
    let accepted = args.accept_guard.iter().copied().collect();
    let (planned, saved) = match target(args)? {
        Target::Saved { file, doc, dir } => {
            if doc.contacts.horizon_days > plan::MAX_HORIZON_DAYS {
                return Err(Stop::unusable(format!(
                    "`{}` has a horizon of {} days; the longest is {}",
                    file.display(),
                    doc.contacts.horizon_days,
                    plan::MAX_HORIZON_DAYS
                )));
            }
            let options = Options {
                horizon_days: doc.contacts.horizon_days,
                now,
                accepted,
            };
            let fresh = plan::make(&dir, &options).map_err(|plan::PlanFailure(r)| Stop::unusable(r))?;
            same_plan(&file, &dir, &doc, &fresh.doc)?;
            (fresh, Some(doc.digest))
        }
        Target::Directory(dir) => {
            let options = Options {
                horizon_days: args.horizon_days,
                now,
                accepted,
            };
            let planned = plan::make(&dir, &options).map_err(|plan::PlanFailure(r)| Stop::unusable(r))?;
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
            (planned, None)
        }
    };
    let doc = &planned.doc;
    if doc.errored {
        return Err(Stop::refused("the plan has errors; fix them first (`herald check`)"));
    }
    let failed: Vec<&plan::Guard> = doc.blocking_guards().collect();
    if !failed.is_empty() {
        let what: Vec<String> = failed.iter().map(|g| format!("{} ({})", g.message, g.code)).collect();
        let codes: Vec<GuardCode> = failed.iter().map(|g| g.code).collect();
        return Err(Stop::refused(format!(
            "refused by a guard: {}; change the plan or `policies.guards`, or accept it deliberately with{}",
            what.join("; "),
            super::plan::accept_flags(&codes)
        )));
    }
    if !doc.summary.has_changes() {
        outln!("No changes to apply.");
        return Ok(Exit::Ok);
    }
    if saved.is_none() && !args.auto_approve {
        if !std::io::stdin().is_terminal() {
            return Err(Stop::refused(
                "refusing to ask for confirmation: standard input is not a terminal; use `--auto-approve`, or apply a saved plan",
            ));
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
    // The history names the plan that was reviewed: the saved file's digest.
    let digest = saved.unwrap_or_else(|| doc.digest.clone());
    write(&planned, &digest, args.lock_timeout)
}

/// The saved plan is exactly what the sources compile to now, on the same state.
fn same_plan(file: &Path, dir: &Path, saved: &PlanDoc, fresh: &PlanDoc) -> Result<(), Stop> {
    let again = format!("run `herald plan {} --out {}` again", dir.display(), file.display());
    if fresh.source.digest != saved.source.digest {
        return Err(Stop::refused(format!(
            "the plan directory `{}` changed since `{}` was made; {again}",
            dir.display(),
            file.display()
        )));
    }
    if fresh.prior_state != saved.prior_state {
        return Err(Stop::refused(format!(
            "the saved plan `{}` is stale: the state changed since it was made (serial {} then, {} now); {again}",
            file.display(),
            saved.prior_state.serial,
            fresh.prior_state.serial
        )));
    }
    let hashes =
        |d: &PlanDoc| -> Vec<(String, String)> { d.objects.iter().map(|(a, o)| (a.clone(), o.hash.clone())).collect() };
    let actions = |d: &PlanDoc| -> Vec<(String, herald_compiler::diff::Action)> {
        d.changes
            .iter()
            .map(|c| (c.change.address.clone(), c.change.actions))
            .collect()
    };
    if hashes(fresh) != hashes(saved) || actions(fresh) != actions(saved) {
        return Err(Stop::refused(format!(
            "`{}` does not hold what its sources compile to (its objects or changes were edited, or another Herald made it); {again}",
            file.display()
        )));
    }
    Ok(())
}

fn write(planned: &Planned, digest: &str, timeout: Duration) -> Result<Exit, Stop> {
    let doc = &planned.doc;
    let now = crate::clock::now().map_err(Stop::unusable)?;
    let mut state = State::open_or_create(&planned.state_path).map_err(|e| Stop::refused(e.to_string()))?;
    let guard = state
        .lock(
            "apply",
            &format!("plan {}", &digest[..19.min(digest.len())]),
            timeout,
            now,
        )
        .map_err(|e| Stop::refused(e.to_string()))?;
    let changes: Vec<_> = doc.changes.iter().map(|c| c.change.clone()).collect();
    let accepted: Vec<String> = doc.accepted_guards().iter().map(|c| c.to_string()).collect();
    let result = state.apply(
        &doc.prior_state,
        &changes,
        &planned.objects,
        &doc.audiences(),
        &Provenance {
            who: &who(),
            plan_digest: digest,
            at: now,
            sources: &planned.sources,
            accepted_guards: &accepted,
        },
    );
    drop(guard);
    let meta = result.map_err(|e| Stop::refused(e.to_string()))?;
    let s = &doc.summary;
    outln!(
        "Apply complete! {} created, {} updated, {} replaced, {} deleted{}. State serial {}.",
        s.create,
        s.update,
        s.replace,
        s.delete,
        match s.settings.is_empty() {
            true => String::new(),
            false => format!("; settings updated ({})", s.settings.join(", ")),
        },
        meta.serial
    );
    if !accepted.is_empty() {
        outln!(
            "Accepted guards: {} (recorded in `herald state history`).",
            accepted.join(", ")
        );
    }
    Ok(Exit::Ok)
}
