//! `herald preview MESSAGE [--contact ID | --worst-case] [DIR]`: a message as
//! it would be sent.

use crate::crm::{self, Lookup};
use crate::exit::Exit;
use crate::output::fatal;
use herald_compiler::render::{self, Rendered};
use herald_compiler::{contact, template};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The message to render.
    message: String,
    /// The plan directory (holding herald.toml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Render for this contact of the CRM (by id).
    #[arg(long, conflicts_with = "worst_case")]
    contact: Option<String>,
    /// Render for a synthetic contact with every field set at its longest (the default).
    #[arg(long)]
    worst_case: bool,
    /// Where to write the email HTML (default: .herald/preview/MESSAGE.html in the plan directory).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the `--out` file if it exists (the default preview file is Herald's own and always replaced).
    #[arg(long)]
    force: bool,
}

pub fn run(mut args: Args) -> Exit {
    args.dir = match crate::project::plan_dir(&args.dir) {
        Ok(d) => d,
        Err(reason) => {
            fatal(reason);
            return Exit::Unusable;
        }
    };
    match preview(&args) {
        Ok(()) => Exit::Ok,
        Err((exit, reason)) => {
            fatal(reason);
            exit
        }
    }
}

fn preview(args: &Args) -> Result<(), (Exit, String)> {
    let (_, compilation) = crate::project::compile_dir(&args.dir).map_err(|r| (Exit::Unusable, r))?;
    if compilation.has_errors() {
        return Err((
            Exit::Failure,
            format!("the plan has errors; run `herald check {}` first", args.dir.display()),
        ));
    }
    let plan = &compilation.plan;
    let Some(message) = plan.messages.get(&args.message) else {
        let hint = herald_compiler::suggest::did_you_mean(&args.message, plan.messages.keys().map(String::as_str))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err((
            Exit::Unusable,
            format!("no message `{}` in the plan{hint}", args.message),
        ));
    };
    // Every event that may trigger this message, at its worst case.
    let events: Vec<_> = plan.contact.events.values().collect();
    let worst = template::worst_case_context(&plan.contact, &events);
    let (ctx, who) = match &args.contact {
        None => (
            worst,
            "the worst-case contact (every field set, at its longest)".to_string(),
        ),
        Some(id) => {
            let file = &plan.config.crm.path;
            let mut source =
                crm::open(&plan.config.crm, &args.dir, &plan.contact).map_err(|e| (Exit::Failure, e.to_string()))?;
            let c = match crm::find(source.as_mut(), id).map_err(|e| (Exit::Failure, e.to_string()))? {
                Lookup::Found(c) => c,
                Lookup::Rejected(e) => {
                    return Err((
                        Exit::Failure,
                        format!(
                            "contact `{id}` is rejected: `{file}` row {}, {}; fix the row to preview it",
                            e.row, e.problem
                        ),
                    ));
                }
                Lookup::Missing => return Err((Exit::Failure, format!("no contact `{id}` in `{file}`"))),
            };
            for problem in source.layout().invalid_addresses(&c) {
                eprintln!(
                    "warning: contact `{id}` has an invalid address (`{file}` {problem}): `herald run` drops its sends on that channel (`invalid-address`); fix the row to send to it"
                );
            }
            let contact = contact::contact_value(source.layout(), &c);
            let ctx = minijinja::context! {
                contact => contact,
                event => worst.get_attr("event").unwrap_or_default(),
                unsubscribe_url => "https://example.test/unsubscribe/PREVIEW",
                preferences_url => "https://example.test/preferences/PREVIEW",
                view_online_url => "https://example.test/view/PREVIEW",
            };
            (ctx, format!("contact `{id}`"))
        }
    };
    let rendered = render::render(&plan.config, message, &ctx)
        .map_err(|e| (Exit::Failure, format!("message `{}`: {e}", args.message)))?;
    outln!(
        "Message `{}` ({} {}) for {who}",
        args.message,
        message.channel(),
        message.purpose
    );
    match rendered {
        Rendered::Email {
            subject,
            preheader,
            html,
            text,
        } => {
            // A file the user named is theirs: replaced only with `--force`.
            let (out, force) = match &args.out {
                Some(out) => (out.clone(), args.force),
                None => (
                    args.dir.join(".herald/preview").join(format!("{}.html", args.message)),
                    true,
                ),
            };
            crate::fsx::write_atomic(&out, force, |w| w.write_all(html.as_bytes()))
                .map_err(|e| (Exit::Failure, format!("cannot write the preview: {e}")))?;
            outln!("Subject:   {subject}");
            if let Some(p) = preheader {
                outln!("Preheader: {p}");
            }
            outln!("HTML:      {} ({} bytes)", out.display(), html.len());
            outln!("Text part:\n{}", indent(&text));
        }
        Rendered::Sms { text, analysis } => {
            outln!("Text:      {text}");
            outln!(
                "Encoding:  {}, {} {}, {} segment{} ({} left in the last)",
                analysis.encoding.as_str(),
                analysis.units,
                analysis.encoding.unit_name(),
                analysis.segments,
                if analysis.segments == 1 { "" } else { "s" },
                analysis.remaining
            );
        }
        Rendered::Push { title, body, url } => {
            outln!("Title:     {title}");
            outln!("Body:      {body}");
            if let Some(u) = url {
                outln!("Opens:     {u}");
            }
        }
        Rendered::Call { script } => outln!("Script:\n{}", indent(&script)),
    }
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}
