//! `herald sms TEXT [--json]`: encoding, length and segments of an SMS text.

use crate::exit::Exit;
use crate::output::fatal;
use herald_compiler::sms::{self, Encoding};

/// The most read from standard input: an SMS is at most a few kB, and 255
/// segments is the longest concatenated message.
const MAX_STDIN_BYTES: u64 = 1 << 20;

#[derive(clap::Args)]
pub struct Args {
    /// The text; `-` alone reads standard input (without its final line break). A text may start with `-`: `herald sms "-10% ce soir"`.
    #[arg(allow_hyphen_values = true)]
    text: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Exit {
    let text = if args.text == "-" {
        let mut s = match crate::fsx::read_bounded(std::io::stdin(), MAX_STDIN_BYTES, std::path::Path::new("-")) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(_) => {
                    fatal("standard input is not UTF-8 text");
                    return Exit::Unusable;
                }
            },
            Err(crate::fsx::FileError::TooLarge(..)) => {
                fatal(format!(
                    "standard input is larger than {}: an SMS text is at most a few kB",
                    crate::fsx::human_bytes(MAX_STDIN_BYTES)
                ));
                return Exit::Unusable;
            }
            Err(e) => {
                fatal(format!("cannot read standard input: {e}"));
                return Exit::Unusable;
            }
        };
        // The shell's final line break is not part of the message.
        if s.ends_with('\n') {
            s.pop();
            if s.ends_with('\r') {
                s.pop();
            }
        }
        s
    } else {
        args.text
    };
    let a = sms::analyze(&text);
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&a).unwrap_or_default());
        return Exit::Ok;
    }
    let why = match a.encoding {
        Encoding::Gsm7 => String::new(),
        Encoding::Ucs2 => {
            let n = a.non_gsm.len();
            format!(
                " (because of {n} character{} outside GSM-7)",
                if n == 1 { "" } else { "s" }
            )
        }
    };
    outln!("Encoding:  {}{why}", a.encoding.as_str());
    outln!(
        "Length:    {} {} ({} characters)",
        a.units,
        a.encoding.unit_name(),
        a.characters
    );
    let parts = if a.segments > 1 {
        format!(
            ", parts of {}",
            a.parts.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" + ")
        )
    } else {
        String::new()
    };
    outln!(
        "Segments:  {} (up to {} {} per segment{parts}; {} left in the last)",
        a.segments,
        a.per_segment,
        a.encoding.unit_name(),
        a.remaining
    );
    for (i, n) in a.non_gsm.iter().enumerate() {
        let label = if i == 0 { "Non-GSM:  " } else { "          " };
        let shown = if n.character.chars().all(|c| c.is_whitespace() || c.is_control()) {
            n.code_point.clone()
        } else {
            format!("'{}' {}", n.character, n.code_point)
        };
        let fix = match n.replacement {
            Some("") => " → remove it".to_string(),
            Some(r) => format!(" → '{r}'"),
            None => String::new(),
        };
        outln!("{label} {shown} at {}{fix}", n.position);
    }
    Exit::Ok
}
