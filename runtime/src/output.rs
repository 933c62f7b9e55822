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

/// Structured logs on stderr for long-running commands (`herald run`):
/// `HERALD_LOG` filters them (`info` by default; `debug`, `warn`…),
/// `HERALD_LOG_FORMAT=json` prints one JSON object per line. Logs carry
/// counts, keys and contact ids, never an address or a value from a contact.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("HERALD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("HERALD_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()));
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Remove what [`write_file`] left in `dir` when its process was killed
/// mid-write: `.NAME.PID.tmp` files (they may hold a whole message,
/// addresses included) of processes that are gone, and this process's own
/// id's (a killed process that had it: in a container every runner is 1).
/// Called before this process writes there. Without `/proc` nothing tells
/// a live process from a gone one: nothing is removed. Best effort.
pub fn sweep_temporaries(dir: &std::path::Path) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".tmp"))
            .and_then(|n| n.rsplit_once('.'))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let gone = pid == std::process::id() || !std::path::Path::new(&format!("/proc/{pid}")).exists();
        if gone && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Write `bytes` to `path` through a temporary file in the same directory
/// renamed into place, so a reader never sees half a file. An existing file
/// is replaced only with `force`, and never when it is not a regular file.
pub fn write_file(path: &std::path::Path, bytes: &[u8], force: bool) -> Result<(), String> {
    use std::io::Write as _;
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => {
            return Err(format!(
                "`{shown}` exists and is not a regular file; choose another path"
            ));
        }
        Ok(_) if !force => {
            return Err(format!("`{shown}` already exists; add `--force` to replace it"));
        }
        _ => {}
    }
    let name = path
        .file_name()
        .ok_or_else(|| format!("`{shown}` is not a file path"))?
        .to_string_lossy();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let open = || std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp);
        let mut f = match open() {
            // Left by a killed process that had this process id (ids come
            // round again; in a container every runner is 1): never ours,
            // as no two writes of one path run at once here.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&tmp)?;
                open()?
            }
            f => f?,
        };
        f.write_all(bytes)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("cannot write `{shown}`: {e}"));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write `{shown}`: {e}")
    })
}
