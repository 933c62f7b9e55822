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
        let schema = herald_compiler::config::json_schema();
        println!("{}", serde_json::to_string_pretty(&schema).unwrap_or_default());
    } else {
        print!("{}", herald_compiler::schema::plan_file_json());
    }
    Exit::Ok
}
