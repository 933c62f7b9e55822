//! Terminal concerns: colour only on a terminal (and never with NO_COLOR).

use clap::ValueEnum;
use std::io::IsTerminal;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn enabled_for_stdout(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
            }
        }
    }
}

/// Print a one-line "could not run" error on stderr.
pub fn fatal(message: impl std::fmt::Display) {
    eprintln!("error: {message}");
}
