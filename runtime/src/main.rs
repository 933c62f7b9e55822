//! The `herald` binary: every exit goes through [`exit::Exit`].

/// `print!` that does not panic when stdout is closed (`herald plan | head`):
/// the rest of the output is dropped, the command still finishes.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `println!` that does not panic when stdout is closed.
macro_rules! outln {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// See the workspace's Cargo.toml for why.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod clock;
mod contacts;
mod crm;
mod exit;
mod fsx;
mod graph;
mod loader;
mod lsp;
mod output;
mod plan;
mod project;
mod providers;
mod run;
mod state;

fn main() -> std::process::ExitCode {
    cli::run(std::env::args_os()).into()
}
