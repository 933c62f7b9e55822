//! `herald state list|show ADDRESS|history` and `herald force-unlock ID`.

use crate::exit::{Exit, Stop, finish};
use crate::state::{Access, State};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum Command {
    /// List the deployed objects.
    List {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Show one deployed object and its versions.
    Show {
        /// An address such as `campaigns.black_friday_sms`.
        address: String,
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Every apply: when, who, serial, plan digest, what changed, guards accepted.
    History {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct UnlockArgs {
    /// The lock id printed by the operation that is locked out.
    id: String,
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// The state of a plan directory. A missing or unreadable directory is "could
/// not run"; no state yet, or one Herald cannot read, is a failure.
fn open(dir: &Path, access: Access) -> Result<State, Stop> {
    let (_, compilation) = crate::project::compile_dir(dir).map_err(Stop::unusable)?;
    let path = crate::state::path(dir, &compilation.plan.config).map_err(|e| Stop::unusable(e.to_string()))?;
    State::open_existing(&path, access)
        .map_err(|e| Stop::refused(e.to_string()))?
        .ok_or_else(|| {
            Stop::refused(format!(
                "no state yet at `{}`: nothing has been applied",
                path.display()
            ))
        })
}

fn failed(e: impl std::fmt::Display) -> Stop {
    Stop::refused(e.to_string())
}

pub fn run(cmd: Command) -> Exit {
    let (Command::List { dir } | Command::Show { dir, .. } | Command::History { dir }) = &cmd;
    let dir = match crate::project::plan_dir(dir) {
        Ok(d) => d,
        Err(reason) => return finish(Err(Stop::unusable(reason))),
    };
    finish(match cmd {
        Command::List { .. } => list(&dir),
        Command::Show { address, .. } => show(&dir, &address),
        Command::History { .. } => history(&dir),
    })
}

fn history(dir: &Path) -> Result<Exit, Stop> {
    let state = open(dir, Access::Read)?;
    let records = state.history().map_err(failed)?;
    if records.is_empty() {
        outln!("No applies yet.");
    }
    for r in records {
        let n = |k: &str| r.summary.get(k).copied().unwrap_or(0);
        let accepted = if r.accepted_guards.is_empty() {
            String::new()
        } else {
            format!("  accepted: {}", r.accepted_guards.join(", "))
        };
        outln!(
            "serial {}  {}  {}  plan {}  {} created, {} updated, {} replaced, {} deleted{accepted}",
            r.serial,
            r.applied_at,
            r.who,
            &r.plan_digest[..19.min(r.plan_digest.len())],
            n("create"),
            n("update"),
            n("replace"),
            n("delete"),
        );
    }
    Ok(Exit::Ok)
}

fn list(dir: &Path) -> Result<Exit, Stop> {
    let state = open(dir, Access::Read)?;
    let meta = state.meta().map_err(failed)?;
    outln!(
        "# lineage {} · serial {}",
        meta.lineage.as_deref().unwrap_or("-"),
        meta.serial
    );
    for (address, d) in state.deployed().map_err(failed)? {
        outln!("{address}  v{}  {}", d.version, &d.hash[..19.min(d.hash.len())]);
    }
    Ok(Exit::Ok)
}

fn show(dir: &Path, address: &str) -> Result<Exit, Stop> {
    let state = open(dir, Access::Read)?;
    let deployed = state.deployed().map_err(failed)?;
    let Some(d) = deployed.get(address) else {
        let hint = herald_compiler::suggest::did_you_mean(address, deployed.keys().map(String::as_str))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err(Stop::refused(format!("`{address}` is not in the state{hint}")));
    };
    outln!("# {address} ({}, version {})", d.kind, d.version);
    outln!("hash: {}", d.hash);
    for (v, hash, retired) in state.versions(address).map_err(failed)? {
        let flight = state.in_flight(address, v).map_err(failed)?;
        outln!(
            "version {v}: {}{}{}",
            &hash[..19.min(hash.len())],
            if retired { " (retired)" } else { "" },
            if flight > 0 {
                format!(", {flight} contacts in flight")
            } else {
                String::new()
            }
        );
    }
    outln!("{}", serde_json::to_string_pretty(&d.body).unwrap_or_default());
    Ok(Exit::Ok)
}

pub fn force_unlock(args: UnlockArgs) -> Exit {
    finish(unlock(&args))
}

fn unlock(args: &UnlockArgs) -> Result<Exit, Stop> {
    let dir = crate::project::plan_dir(&args.dir).map_err(Stop::unusable)?;
    let state = open(&dir, Access::Write)?;
    if state.force_unlock(&args.id).map_err(failed)? {
        outln!("Released lock {}.", args.id);
        return Ok(Exit::Ok);
    }
    let held = state
        .lock_info()
        .ok()
        .flatten()
        .map(|l| format!(" (the current lock is {})", l.id))
        .unwrap_or_default();
    Err(Stop::refused(format!("no lock with id `{}`{held}", args.id)))
}
