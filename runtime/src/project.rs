//! A plan directory: finding it, reading and compiling its sources. Used by
//! the commands, the plan, the runner and the language server alike.
//!
//! Every command that takes a plan DIR finds it the same way as the language
//! server: DIR if it holds herald.toml, else its nearest ancestor that does
//! (said on stderr). Without one, a one-line error: nothing below DIR is read
//! (it may be a whole repository, `node_modules` included).

use herald_compiler::config::CONFIG_FILE;
use std::path::{Component, Path, PathBuf};

pub fn plan_dir(dir: &Path) -> Result<PathBuf, String> {
    let meta = std::fs::metadata(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "`{}` does not exist; pass the directory that holds herald.toml",
            dir.display()
        ),
        _ => format!("cannot read `{}`: {e}", dir.display()),
    })?;
    if !meta.is_dir() {
        return Err(format!(
            "`{}` is not a directory; pass the directory that holds herald.toml",
            dir.display()
        ));
    }
    if dir.join(CONFIG_FILE).is_file() {
        return Ok(dir.to_path_buf());
    }
    let absolute = dir
        .canonicalize()
        .map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
    let Some(found) = absolute.ancestors().skip(1).find(|d| d.join(CONFIG_FILE).is_file()) else {
        return Err(format!(
            "no herald.toml in `{}` or any parent directory; pass the directory of a plan, or create one with `herald init DIR`",
            dir.display()
        ));
    };
    let shown = relative_to_cwd(found).map_or_else(|| found.to_path_buf(), PathBuf::from);
    eprintln!(
        "note: no herald.toml in `{}`; checking the plan in `{}`",
        dir.display(),
        shown.display()
    );
    Ok(shown)
}

/// `path` relative to the working directory (`/`-separated, `..` where it
/// is above), or `None` when either cannot be resolved.
pub fn relative_to_cwd(path: &Path) -> Option<String> {
    let cwd = std::env::current_dir().ok()?.canonicalize().ok()?;
    let path = path.canonicalize().ok()?;
    let a: Vec<Component> = cwd.components().collect();
    let b: Vec<Component> = path.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    for c in &b[common..] {
        parts.push(c.as_os_str().to_str()?.to_string());
    }
    Some(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

/// Load and compile a plan directory; `Err` is a one-line reason (exit 2).
pub fn compile_dir(dir: &Path) -> Result<(herald_compiler::SourceSet, herald_compiler::Compilation), String> {
    let loaded = crate::loader::load_plan_dir(dir, &crate::loader::Limits::default()).map_err(|e| e.to_string())?;
    let mut compilation = herald_compiler::compile(&loaded.sources, crate::clock::now()?, &Default::default());
    if !loaded.diagnostics.is_empty() {
        compilation.diagnostics.extend(loaded.diagnostics);
        herald_compiler::diagnostic::sort(&mut compilation.diagnostics, &loaded.sources);
    }
    Ok((loaded.sources, compilation))
}
