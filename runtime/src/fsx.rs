//! The user's files, handled safely. Herald opens only regular files — a
//! FIFO, socket or device would block or never end — and checks that with
//! the metadata before opening and on the opened descriptor after (so a file
//! swapped in between cannot block either). Paths written in herald.toml
//! stay inside the plan directory unless they are absolute (a deliberate
//! choice); every read has a bound; every write goes to a temporary file in
//! the same directory, renamed over the target only when complete, and only
//! with `--force` when the target exists.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

#[derive(Debug)]
pub enum FileError {
    NotFound(PathBuf),
    /// Resolves outside the plan directory (`..`, or a link).
    Outside(PathBuf),
    /// A FIFO, socket, device or directory.
    NotRegular(PathBuf, &'static str),
    TooLarge(PathBuf, u64),
    /// Exists, and `--force` was not given.
    Exists(PathBuf),
    Io(PathBuf, std::io::Error),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::NotFound(p) => write!(f, "`{}` does not exist", p.display()),
            FileError::Outside(p) => write!(
                f,
                "`{}` resolves outside the plan directory; Herald reads and writes only inside it (write an absolute path in herald.toml to use a file elsewhere)",
                p.display()
            ),
            FileError::NotRegular(p, kind) => write!(
                f,
                "`{}` is not a regular file (it is {kind}); Herald opens only regular files",
                p.display()
            ),
            FileError::TooLarge(p, limit) => write!(
                f,
                "`{}` is larger than {}; is it the right file?",
                p.display(),
                human_bytes(*limit)
            ),
            FileError::Exists(p) => write!(f, "`{}` already exists; pass `--force` to replace it", p.display()),
            FileError::Io(p, e) => write!(f, "cannot read or write `{}`: {e}", p.display()),
        }
    }
}

/// What tells that a file changed: its size, modification time, inode and
/// status-change time (which no `touch -r`, `cp -p` or `rsync -t` sets back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    pub len: u64,
    pub modified: std::time::SystemTime,
    pub ino: u64,
    /// ctime, seconds and nanoseconds.
    pub changed: (i64, i64),
}

impl FileStamp {
    pub fn of(meta: &Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        FileStamp {
            len: meta.len(),
            modified: meta.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH),
            ino: meta.ino(),
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |e| match e.kind() {
        std::io::ErrorKind::NotFound => FileError::NotFound(path.to_path_buf()),
        _ => FileError::Io(path.to_path_buf(), e),
    }
}

/// What a file that is not regular is, for messages.
fn kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

/// Fail unless `path` (links followed) is a regular file. Nothing is opened.
pub fn check_regular(path: &Path) -> Result<Metadata, FileError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    if meta.is_file() {
        Ok(meta)
    } else {
        Err(FileError::NotRegular(path.to_path_buf(), kind(&meta)))
    }
}

/// Open a regular file for reading. Non-blocking, so a FIFO swapped in after
/// the check cannot block the open, and checked again once opened.
pub fn open_regular(path: &Path) -> Result<File, FileError> {
    check_regular(path)?;
    open_checked(path, std::fs::OpenOptions::new().read(true), 0)
}

/// Open an existing regular file to append to it: never through a link,
/// never a FIFO or a device (checked again once opened).
pub fn open_regular_append(path: &Path) -> Result<File, FileError> {
    open_checked(path, std::fs::OpenOptions::new().append(true), libc::O_NOFOLLOW)
}

/// Open without blocking on a FIFO, and fail unless what was opened is a
/// regular file.
fn open_checked(path: &Path, options: &mut std::fs::OpenOptions, flags: i32) -> Result<File, FileError> {
    let file = options
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | flags)
        .open(path)
        .map_err(io(path))?;
    let meta = file.metadata().map_err(io(path))?;
    if !meta.is_file() {
        return Err(FileError::NotRegular(path.to_path_buf(), kind(&meta)));
    }
    Ok(file)
}

/// Read at most `limit` bytes of `file`; more is an error, not a truncation.
pub fn read_bounded(file: impl Read, limit: u64, path: &Path) -> Result<Vec<u8>, FileError> {
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io(path))?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge(path.to_path_buf(), limit));
    }
    Ok(bytes)
}

/// Open a regular file and read it whole, up to `limit` bytes.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    read_bounded(open_regular(path)?, limit, path)
}

/// Whether `path`, with its links resolved, is inside `root` (both must exist).
fn resolves_inside(root: &Path, path: &Path) -> Result<bool, FileError> {
    let root = root.canonicalize().map_err(io(root))?;
    let path = path.canonicalize().map_err(io(path))?;
    Ok(path.starts_with(root))
}

/// Fail unless `path` is inside `root` once links are resolved. For a path
/// that does not exist yet, its nearest existing ancestor is checked.
pub fn ensure_inside(root: &Path, path: &Path) -> Result<(), FileError> {
    let existing = path.ancestors().find(|p| p.symlink_metadata().is_ok()).unwrap_or(root);
    if resolves_inside(root, existing)? {
        Ok(())
    } else {
        Err(FileError::Outside(path.to_path_buf()))
    }
}

/// A path written in herald.toml: relative to the plan directory and inside
/// it, or absolute (used as written).
pub fn configured(root: &Path, written: &str) -> Result<PathBuf, FileError> {
    let p = Path::new(written);
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    let path = root.join(p);
    let mut depth = 0i32;
    for c in p.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return Err(FileError::Outside(path));
        }
    }
    ensure_inside(root, &path)?;
    Ok(path)
}

/// The first bytes of a file (to tell what it is), without blocking.
pub fn sniff(path: &Path) -> Result<Vec<u8>, FileError> {
    let mut head = Vec::new();
    open_regular(path)?
        .take(8192)
        .read_to_end(&mut head)
        .map_err(io(path))?;
    Ok(head)
}

/// Write `path` atomically: `fill` writes a temporary file in the same
/// directory (hidden, so Herald never reads it), which then replaces `path`
/// by a rename — only when `force` is set if `path` exists. A run killed
/// half-way leaves `path` as it was.
pub fn write_atomic(
    path: &Path,
    force: bool,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), FileError> {
    if !force && path.symlink_metadata().is_ok() {
        return Err(FileError::Exists(path.to_path_buf()));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The mode a plain create would give (0666 less the umask), or the
    // replaced file's: not tempfile's private 0600.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_or(0o666, |m| m.permissions().mode() & 0o7777);
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(parent)
        .map_err(io(parent))?;
    if mode != 0o666 {
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io(path))?;
    }
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        fill(&mut w).map_err(io(path))?;
        w.flush().map_err(io(path))?;
    }
    tmp.as_file().sync_all().map_err(io(path))?;
    let persisted = if force {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    persisted.map(drop).map_err(|e| match e.error.kind() {
        std::io::ErrorKind::AlreadyExists => FileError::Exists(path.to_path_buf()),
        _ => FileError::Io(path.to_path_buf(), e.error),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_paths_stay_inside_unless_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("plan");
        std::fs::create_dir_all(root.join("data")).unwrap();
        assert!(configured(&root, "data/contacts.csv").is_ok());
        assert!(configured(&root, "data/../data/new/x.csv").is_ok());
        assert!(matches!(configured(&root, "../x.csv"), Err(FileError::Outside(_))));
        assert!(matches!(configured(&root, "data/../../x"), Err(FileError::Outside(_))));
        std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
        assert!(matches!(configured(&root, "up/x.csv"), Err(FileError::Outside(_))));
        assert_eq!(configured(&root, "/dev/null").unwrap(), Path::new("/dev/null"));
    }

    #[test]
    fn only_regular_files_are_opened_and_reads_are_bounded() {
        assert!(matches!(
            open_regular(Path::new("/dev/zero")),
            Err(FileError::NotRegular(_, "a character device"))
        ));
        assert!(matches!(
            open_regular(Path::new("/")),
            Err(FileError::NotRegular(_, "a directory"))
        ));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "12345").unwrap();
        assert_eq!(read_regular(&f, 5).unwrap(), b"12345");
        assert!(matches!(read_regular(&f, 4), Err(FileError::TooLarge(_, 4))));
    }

    #[test]
    fn atomic_writes_never_clobber_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sub/out.csv");
        write_atomic(&f, false, |w| w.write_all(b"one")).unwrap();
        assert!(matches!(
            write_atomic(&f, false, |w| w.write_all(b"two")),
            Err(FileError::Exists(_))
        ));
        // A failed fill leaves the target as it was, and no temporary file.
        let failed = write_atomic(&f, true, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("killed"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&f).unwrap(), b"one");
        assert_eq!(std::fs::read_dir(dir.path().join("sub")).unwrap().count(), 1);
        // A replaced file keeps its mode; a new one gets the usual one.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&f, true, |w| w.write_all(b"two")).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o640);
        let g = dir.path().join("sub/new.csv");
        write_atomic(&g, false, |w| w.write_all(b"x")).unwrap();
        let plain = dir.path().join("sub/plain.csv");
        std::fs::write(&plain, "x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
        assert_eq!(mode(&g), mode(&plain), "the mode of a plain create, not 0600");
    }
}
