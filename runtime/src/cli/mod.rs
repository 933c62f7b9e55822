//! Command-line interface: one module per command.

mod apply;
mod check;
mod contacts;
mod explain;
mod graph;
mod init;
mod plan;
mod preview;
mod schema;
mod sms;
mod state;
mod test;

use crate::exit::Exit;
use crate::output::ColorChoice;
use clap::{Parser, Subcommand};
use std::ffi::OsString;

#[derive(Parser)]
#[command(
    name = "herald",
    version,
    about = "Campaign-as-code for relationship marketing: check, plan and apply your relationship plan.",
    after_help = "Exit codes: 0 success, 1 errors found (or the operation failed, or a guard failed), 2 could not run (bad arguments, a missing or unreadable file or directory).\nException: under `plan --detailed-exitcode`, 2 means \"changes present\" (as in terraform), so every error there, usage errors included, is 1."
)]
struct Cli {
    /// When to use colours in human output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a plan and print its diagnostics.
    Check(check::Args),
    /// Run the plan's journey tests (`tests/*.yaml`) on simulated time.
    Test(test::Args),
    /// Show what would change and who would receive what (diff against the state, forecast on contacts).
    Plan(plan::Args),
    /// Make the deployed state match a plan (a saved one, or a fresh one after confirmation).
    Apply(apply::Args),
    /// Inspect the deployed state.
    #[command(subcommand)]
    State(state::Command),
    /// Release a lock left by an operation that died.
    ForceUnlock(state::UnlockArgs),
    /// Draw programs, scenario flowcharts and the campaign calendar (Mermaid, DOT or SVG).
    Graph(graph::Args),
    /// Run the language server on stdin/stdout (for editors).
    Lsp,
    /// Print the long explanation of a diagnostic code (all codes without an argument).
    Explain(explain::Args),
    /// Print the JSON Schema of plan files (or of herald.toml).
    Schema(schema::Args),
    /// Render a message as it would be sent (email HTML to a file).
    Preview(preview::Args),
    /// Encoding, length and segments of an SMS text.
    Sms(sms::Args),
    /// Create a small plan that passes `herald check`.
    Init(init::Args),
    /// Work with the plan's contacts.
    #[command(subcommand)]
    Contacts(contacts::Command),
    /// Send what is deployed: campaigns, scenarios, events, timers (`--once`: what is due now, then exit).
    Run(crate::run::Args),
    /// Events for the runner.
    #[command(subcommand)]
    Event(crate::run::EventCommand),
    /// Pause a deployed campaign or scenario (a running runner honours it within a second).
    Pause(crate::run::ControlArgs),
    /// Resume a paused campaign or scenario; alone, lift `herald stop`; `--all`: both.
    Resume(crate::run::ControlArgs),
    /// Stop a running `herald run` after the pass in progress (or the next one, before its first pass).
    Stop(crate::run::ControlArgs),
    /// List the send ledger: what went out, was dropped and why, or is in doubt (contact ids only).
    Sends(crate::run::SendsArgs),
}

pub fn run(args: impl IntoIterator<Item = OsString>) -> Exit {
    let args: Vec<OsString> = args.into_iter().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap would exit 2 on its own; route it through `Exit` so help is 0
            // and usage errors are "could not run" — except under
            // `--detailed-exitcode`, where 2 means "changes": there any error is 1.
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Exit::Ok,
                _ if args.iter().any(|a| a == "--detailed-exitcode") => Exit::Failure,
                _ => Exit::Unusable,
            };
        }
    };
    match cli.command {
        Command::Check(args) => check::run(args, cli.color),
        Command::Test(args) => test::run(args),
        Command::Plan(args) => plan::run(args, cli.color),
        Command::Apply(args) => apply::run(args, cli.color),
        Command::State(cmd) => state::run(cmd),
        Command::ForceUnlock(args) => state::force_unlock(args),
        Command::Graph(args) => graph::run(args),
        Command::Lsp => crate::lsp::run(),
        Command::Explain(args) => explain::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Init(args) => init::run(args),
        Command::Sms(args) => sms::run(args),
        Command::Preview(args) => preview::run(args),
        Command::Contacts(cmd) => contacts::run(cmd),
        Command::Run(args) => crate::run::run(args),
        Command::Event(cmd) => crate::run::event(cmd),
        Command::Pause(args) => crate::run::control(crate::run::Control::Pause, args),
        Command::Resume(args) => crate::run::control(crate::run::Control::Resume, args),
        Command::Stop(args) => crate::run::control(crate::run::Control::Stop, args),
        Command::Sends(args) => crate::run::sends(args),
    }
}
