//! The `herald` binary: every exit goes through [`exit::Exit`].

mod cli;
mod contacts;
mod crm;
mod exit;
mod loader;
mod output;

fn main() -> std::process::ExitCode {
    cli::run(std::env::args_os()).into()
}
