//! `herald schema [--config]`

use crate::exit::Exit;

#[derive(clap::Args)]
pub struct Args {
    /// Print the schema of herald.toml instead of plan YAML files.
    #[arg(long)]
    config: bool,
}

pub fn run(args: Args) -> Exit {
    if args.config {
        out!("{}", herald_compiler::schema::config_json());
    } else {
        out!("{}", herald_compiler::schema::plan_file_json());
    }
    Exit::Ok
}
