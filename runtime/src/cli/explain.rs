//! `herald explain [CODE]`

use crate::exit::Exit;
use crate::output::fatal;
use herald_compiler::diagnostic::Code;

#[derive(clap::Args)]
pub struct Args {
    /// A diagnostic code such as `reference/unknown-field`.
    code: Option<String>,
}

pub fn run(args: Args) -> Exit {
    let Some(name) = args.code else {
        outln!("Diagnostic codes (run `herald explain CODE` for one):\n");
        for code in Code::ALL {
            let title = code
                .explanation()
                .split("## What it checks")
                .nth(1)
                .and_then(|s| s.trim().lines().next())
                .unwrap_or("");
            outln!(
                "  {:<34} {:<8} {}",
                code.as_str(),
                code.default_severity().as_str(),
                first_sentence(title)
            );
        }
        return Exit::Ok;
    };
    match Code::parse(name.trim()) {
        Some(code) => {
            out!("{}", code.explanation());
            Exit::Ok
        }
        None => {
            let names = Code::ALL.iter().map(|c| c.as_str());
            let hint = herald_compiler::suggest::did_you_mean(name.trim(), names)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_else(|| "; run `herald explain` to list them".to_string());
            fatal(format!("unknown diagnostic code `{name}`{hint}"));
            Exit::Unusable
        }
    }
}

fn first_sentence(s: &str) -> &str {
    match s.find(". ") {
        Some(i) => &s[..=i],
        None => s,
    }
}
