//! Reads a plan directory into a [`SourceSet`]: herald.toml, every `.yaml` /
//! `.yml` file, and template files, recursively, skipping hidden directories
//! (and so `.herald/`). Files that cannot be accepted (too large, binary, not
//! UTF-8, a link leading outside the plan directory, a FIFO, socket or
//! device — those are never opened) become diagnostics, never panics or hangs.

use crate::fsx::{self, FileError};
use herald_compiler::diagnostic::{Code, Diagnostic};
use herald_compiler::source::{SourceFile, SourceKind, SourceSet, Span};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Limits that keep a hostile or mistaken directory from exhausting memory.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_files: usize,
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 8 * 1024 * 1024,
            max_files: 20_000,
            max_total_bytes: 256 * 1024 * 1024,
        }
    }
}

pub struct LoadedDir {
    pub sources: SourceSet,
    /// Problems with files themselves (encoding, size).
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug)]
pub enum LoadError {
    NotFound(PathBuf),
    NotADirectory(PathBuf),
    Io(PathBuf, std::io::Error),
    TooMany(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotFound(p) => write!(
                f,
                "`{}` does not exist; pass the directory that holds herald.toml",
                p.display()
            ),
            LoadError::NotADirectory(p) => write!(
                f,
                "`{}` is not a directory; pass the directory that holds herald.toml",
                p.display()
            ),
            LoadError::Io(p, e) => write!(f, "cannot read `{}`: {e}", p.display()),
            LoadError::TooMany(m) => f.write_str(m),
        }
    }
}

pub fn load_plan_dir(dir: &Path, limits: &Limits) -> Result<LoadedDir, LoadError> {
    let meta = std::fs::metadata(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound(dir.to_path_buf()),
        _ => LoadError::Io(dir.to_path_buf(), e),
    })?;
    if !meta.is_dir() {
        return Err(LoadError::NotADirectory(dir.to_path_buf()));
    }
    let mut files = Vec::new();
    walk(dir, "", &mut files, limits)?;
    let root = dir.canonicalize().map_err(|e| LoadError::Io(dir.to_path_buf(), e))?;
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut sources = SourceSet::new();
    let mut diagnostics = Vec::new();
    let mut total: u64 = 0;
    for (rel, path, kind) in files {
        let (file, diag) = read_one(&root, &path, &rel, kind, limits, &mut total)?;
        let id = sources.add(file);
        if let Some(d) = diag {
            diagnostics.push(d(id));
        }
    }
    Ok(LoadedDir { sources, diagnostics })
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf, SourceKind)>, limits: &Limits) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Io(dir.to_path_buf(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LoadError::Io(dir.to_path_buf(), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue; // hidden files and directories, `.herald/`, `.git/`
        }
        let rel_path = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let ft = entry.file_type().map_err(|e| LoadError::Io(entry.path(), e))?;
        if ft.is_dir() {
            walk(&entry.path(), &rel_path, out, limits)?;
        } else {
            // Files, links, and also FIFOs, sockets and devices with a plan
            // file's name: `read_one` refuses those with a diagnostic.
            let Some(kind) = SourceKind::of_path(&rel_path) else {
                continue;
            };
            if kind == SourceKind::Config && !rel.is_empty() {
                continue; // a nested herald.toml belongs to another plan
            }
            if out.len() >= limits.max_files {
                return Err(LoadError::TooMany(format!(
                    "the plan directory holds more than {} plan files; is it the right directory?",
                    limits.max_files
                )));
            }
            out.push((rel_path, entry.path(), kind));
        }
    }
    Ok(())
}

type LateDiagnostic = Box<dyn FnOnce(herald_compiler::FileId) -> Diagnostic>;

/// Open a plan file: a regular file, inside the plan directory once links
/// are resolved. `Ok(Err(why))`: refused, and not opened.
fn open_plan_file(root: &Path, path: &Path) -> Result<Result<std::fs::File, String>, LoadError> {
    let link = path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink());
    let opened = if link {
        fsx::ensure_inside(root, path).and_then(|()| fsx::open_regular(path))
    } else {
        fsx::open_regular(path)
    };
    match opened {
        Ok(file) => Ok(Ok(file)),
        Err(FileError::Outside(_)) => Ok(Err("is a link to a file outside the plan directory".into())),
        Err(FileError::NotFound(_)) if link => Ok(Err("is a link to a file that does not exist".into())),
        Err(FileError::NotRegular(_, kind)) => Ok(Err(format!("is not a regular file (it is {kind})"))),
        Err(FileError::Io(p, e)) => Err(LoadError::Io(p, e)),
        Err(e) => Err(LoadError::TooMany(e.to_string())),
    }
}

fn read_one(
    root: &Path,
    path: &Path,
    rel: &str,
    kind: SourceKind,
    limits: &Limits,
    total: &mut u64,
) -> Result<(SourceFile, Option<LateDiagnostic>), LoadError> {
    let rejected = |rel: &str, text: String| SourceFile::new(rel, SourceKind::Rejected, text);
    let file = match open_plan_file(root, path)? {
        Ok(file) => file,
        Err(why) => {
            let rel_owned = rel.to_string();
            return Ok((
                rejected(rel, String::new()),
                Some(Box::new(move |id| {
                    Diagnostic::new(Code::SyntaxUnreadableFile, format!("`{rel_owned}` {why}"))
                        .at(Span::new(id, 0, 0), "this file was not opened")
                        .help("Herald reads only regular files inside the plan directory: copy the file here instead of linking it, remove it, or give it another extension.")
                })),
            ));
        }
    };
    let len = file.metadata().map_err(|e| LoadError::Io(path.to_path_buf(), e))?.len();
    if len > limits.max_file_bytes {
        let max = limits.max_file_bytes;
        let rel_owned = rel.to_string();
        return Ok((
            rejected(rel, String::new()),
            Some(Box::new(move |id| {
                Diagnostic::new(
                    Code::SyntaxTooLarge,
                    format!("`{rel_owned}` is {len} bytes; plan files are limited to {max} bytes"),
                )
                .at(Span::new(id, 0, 0), "this file was not read")
                .help(
                    "Split it into smaller files, or move data out of the plan directory (contacts belong in the CRM).",
                )
            })),
        ));
    }
    *total += len;
    if *total > limits.max_total_bytes {
        return Err(LoadError::TooMany(format!(
            "the plan files add up to more than {} bytes; is it the right directory?",
            limits.max_total_bytes
        )));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // Read at most one byte more than allowed, in case the file grew.
    file.take(limits.max_file_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| LoadError::Io(path.to_path_buf(), e))?;
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let sniff = &body[..body.len().min(8192)];
    if sniff.contains(&0) {
        let rel_owned = rel.to_string();
        return Ok((
            rejected(rel, String::new()),
            Some(Box::new(move |id| {
                Diagnostic::new(Code::SyntaxEncoding, format!("`{rel_owned}` looks like a binary file"))
                    .at(Span::new(id, 0, 0), "contains NUL bytes")
                    .help("Plan files are UTF-8 text: remove this file from the plan directory or give it another extension.")
            })),
        ));
    }
    match String::from_utf8(body.to_vec()) {
        Ok(text) => Ok((SourceFile::new(rel, kind, text), None)),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(body).into_owned();
            // Offset of the first bad byte in the lossy text: the valid prefix is unchanged.
            let rel_owned = rel.to_string();
            Ok((
                rejected(rel, text),
                Some(Box::new(move |id| {
                    Diagnostic::new(Code::SyntaxEncoding, format!("`{rel_owned}` is not valid UTF-8"))
                        .at(Span::new(id, valid, valid + 3), "the first invalid byte is here")
                        .help("Re-save the file as UTF-8 (it may be Latin-1 or Windows-1252).")
                })),
            ))
        }
    }
}
