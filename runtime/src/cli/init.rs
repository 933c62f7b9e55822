//! `herald init DIR`: a small plan that passes `herald check`, with its JSON
//! Schema and synthetic contacts.

use crate::contacts;
use crate::exit::Exit;
use crate::fsx;
use crate::output::fatal;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Where to create the plan (created if missing; must not hold a plan already).
    dir: PathBuf,
    /// Replace the files of an existing plan with the scaffold's.
    #[arg(long)]
    force: bool,
}

const HERALD_TOML: &str = include_str!("scaffold/herald.toml");
const PLAN_YAML: &str = include_str!("scaffold/plan.yaml");
const WELCOME_MJML: &str = include_str!("scaffold/welcome.mjml");
const GITIGNORE: &str = "# Herald's local state and lock\n.herald/\n";
/// `[crm] path` of the scaffold's herald.toml.
const CONTACTS: &str = "data/contacts.csv";

pub fn run(args: Args) -> Exit {
    match scaffold(&args.dir, args.force) {
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

/// Write one file of the plan: atomically, inside `dir`, replacing an
/// existing one only with `force`.
fn write(
    dir: &Path,
    rel: &str,
    force: bool,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    let path = dir.join(rel);
    fsx::ensure_inside(dir, &path).map_err(|e| e.to_string())?;
    fsx::write_atomic(&path, force, fill).map_err(|e| e.to_string())
}

fn scaffold(dir: &Path, force: bool) -> Result<(), String> {
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
    let files = [
        ("herald.toml", HERALD_TOML.replace("{{name}}", &name)),
        ("plan.yaml", PLAN_YAML.to_string()),
        ("templates/welcome.mjml", WELCOME_MJML.to_string()),
        ("herald.schema.json", herald_compiler::schema::plan_file_json()),
    ];
    // Refuse before writing anything: a half-scaffolded plan helps no one.
    let existing: Vec<&str> = files
        .iter()
        .map(|(rel, _)| *rel)
        .chain([CONTACTS])
        .filter(|rel| dir.join(rel).symlink_metadata().is_ok())
        .collect();
    if !existing.is_empty() && !force {
        return Err(format!(
            "`{}` already holds a plan or some of its files ({}); choose an empty directory, or pass `--force` to replace them",
            dir.display(),
            existing.join(", ")
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    for (rel, text) in &files {
        write(dir, rel, force, |w| w.write_all(text.as_bytes()))?;
    }
    if dir.join(".gitignore").symlink_metadata().is_err() {
        write(dir, ".gitignore", false, |w| w.write_all(GITIGNORE.as_bytes()))?;
    }
    let (_, compilation) = crate::project::compile_dir(dir)?;
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
    write(dir, CONTACTS, force, |w| {
        contacts::write_csv(&plan.contact, &opts, w).map_err(Into::into)
    })
}
