//! `herald init DIR`: a small plan that passes `herald check`, with its JSON
//! Schema and synthetic contacts.

use crate::contacts;
use crate::exit::Exit;
use crate::output::fatal;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Where to create the plan (created if missing; must not hold a plan already).
    dir: PathBuf,
}

const HERALD_TOML: &str = include_str!("scaffold/herald.toml");
const PLAN_YAML: &str = include_str!("scaffold/plan.yaml");
const WELCOME_MJML: &str = include_str!("scaffold/welcome.mjml");
const GITIGNORE: &str = "# Herald's local state and lock\n.herald/\n";

pub fn run(args: Args) -> Exit {
    match scaffold(&args.dir) {
        Ok(()) => {
            outln!("Created a Herald plan in {}.", args.dir.display());
            outln!("Next: `herald check {}`", args.dir.display());
            Exit::Ok
        }
        Err(reason) => {
            fatal(reason);
            Exit::Unusable
        }
    }
}

fn scaffold(dir: &Path) -> Result<(), String> {
    let config = dir.join(herald_compiler::config::CONFIG_FILE);
    if config.exists() {
        return Err(format!(
            "`{}` already holds a plan (herald.toml exists); choose an empty directory",
            dir.display()
        ));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(format!("`{}` exists and is not a directory", dir.display()));
    }
    let name = dir
        .canonicalize()
        .ok()
        .or_else(|| Some(dir.to_path_buf()))
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| !n.is_empty() && n != ".")
        .unwrap_or_else(|| "my-plan".to_string())
        .replace(['"', '\\'], "");
    let write = |rel: &str, text: &str| -> Result<(), String> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
    };
    write("herald.toml", &HERALD_TOML.replace("{{name}}", &name))?;
    write("plan.yaml", PLAN_YAML)?;
    write("templates/welcome.mjml", WELCOME_MJML)?;
    write("herald.schema.json", &herald_compiler::schema::plan_file_json())?;
    if !dir.join(".gitignore").exists() {
        write(".gitignore", GITIGNORE)?;
    }
    let (_, compilation) = super::check::compile_dir(dir)?;
    if compilation.has_errors() {
        return Err("the scaffolded plan does not pass `herald check`; this is a bug in Herald".into());
    }
    let plan = &compilation.plan;
    let opts = contacts::Options {
        count: 100,
        seed: 1,
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
        timezone: plan.config.timezone.name(),
    };
    let mut csv = Vec::new();
    contacts::write_csv(&plan.contact, &opts, &mut csv).map_err(|e| format!("cannot generate contacts: {e}"))?;
    write(&plan.config.crm.path, &String::from_utf8_lossy(&csv))?;
    Ok(())
}
