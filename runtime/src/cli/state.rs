//! `herald state list|show ADDRESS` and `herald force-unlock ID`.

use crate::exit::Exit;
use crate::output::fatal;
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
}

#[derive(clap::Args)]
pub struct UnlockArgs {
    /// The lock id printed by the operation that is locked out.
    id: String,
    #[arg(default_value = ".")]
    dir: PathBuf,
}

fn open(dir: &Path, access: Access) -> Result<State, String> {
    let (_, compilation) = crate::cli::compile_dir(dir)?;
    let path = crate::state::path(dir, &compilation.plan.config).map_err(|e| e.to_string())?;
    State::open_existing(&path, access)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no state yet at `{}`: nothing has been applied", path.display()))
}

pub fn run(cmd: Command) -> Exit {
    let (Command::List { dir } | Command::Show { dir, .. }) = &cmd;
    let dir = match crate::cli::plan_dir(dir) {
        Ok(d) => d,
        Err(reason) => {
            fatal(reason);
            return Exit::Unusable;
        }
    };
    let result = match cmd {
        Command::List { .. } => list(&dir),
        Command::Show { address, .. } => show(&dir, &address),
    };
    match result {
        Ok(e) => e,
        Err(reason) => {
            fatal(reason);
            Exit::Failure
        }
    }
}

fn list(dir: &Path) -> Result<Exit, String> {
    let state = open(dir, Access::Read)?;
    let meta = state.meta().map_err(|e| e.to_string())?;
    outln!(
        "# lineage {} · serial {}",
        meta.lineage.as_deref().unwrap_or("-"),
        meta.serial
    );
    for (address, d) in state.deployed().map_err(|e| e.to_string())? {
        outln!("{address}  v{}  {}", d.version, &d.hash[..19.min(d.hash.len())]);
    }
    Ok(Exit::Ok)
}

fn show(dir: &Path, address: &str) -> Result<Exit, String> {
    let state = open(dir, Access::Read)?;
    let deployed = state.deployed().map_err(|e| e.to_string())?;
    let Some(d) = deployed.get(address) else {
        let hint = herald_compiler::suggest::did_you_mean(address, deployed.keys().map(String::as_str))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err(format!("`{address}` is not in the state{hint}"));
    };
    outln!("# {address} ({}, version {})", d.kind, d.version);
    outln!("hash: {}", d.hash);
    for (v, hash, retired) in state.versions(address).map_err(|e| e.to_string())? {
        let flight = state.in_flight(address, v).unwrap_or(0);
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
    let dir = match crate::cli::plan_dir(&args.dir) {
        Ok(d) => d,
        Err(reason) => {
            fatal(reason);
            return Exit::Unusable;
        }
    };
    let state = match open(&dir, Access::Write) {
        Ok(s) => s,
        Err(e) => {
            fatal(e);
            return Exit::Failure;
        }
    };
    match state.force_unlock(&args.id) {
        Ok(true) => {
            outln!("Released lock {}.", args.id);
            Exit::Ok
        }
        Ok(false) => {
            let held = state
                .lock_info()
                .ok()
                .flatten()
                .map(|l| format!(" (the current lock is {})", l.id))
                .unwrap_or_default();
            fatal(format!("no lock with id `{}`{held}", args.id));
            Exit::Failure
        }
        Err(e) => {
            fatal(e);
            Exit::Failure
        }
    }
}
