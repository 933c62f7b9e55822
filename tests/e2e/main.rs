//! End-to-end tests of the `herald` binary: real processes, real files.

mod bad_input;
mod check;
mod ci;
mod commands;
mod contacts;
mod files;
mod graph;
#[path = "../support/http_mock.rs"]
mod http_mock;
mod journeys;
mod lsp;
#[path = "../support/lsp_client.rs"]
mod lsp_client;
mod lsp_frames;
mod plan;
mod preview;
mod providers;
mod readme;
mod reliability;
mod render;
mod run;
mod saved_plans;
mod schema_ls;
mod secrets;
mod sms_oracle;
mod state_files;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The instant every test runs at: a week before the examples' Black Friday.
/// Tests never read the machine's clock, so they pass on any day
/// (`faketime '+3y' scripts/test`).
pub const NOW: &str = "2026-11-20T09:00:00Z";

pub fn herald() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_herald"));
    c.env_remove("NO_COLOR").env("COLUMNS", "100").env("HERALD_NOW", NOW);
    c
}

/// A bash script (as GitHub Actions runs a `run:` step: `-e`, `pipefail`)
/// with this `herald` first on PATH and the same pinned environment as
/// [`herald`].
pub fn shell(script: &str) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_herald")).parent().unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let mut c = Command::new("bash");
    c.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .env("PATH", path)
        .env_remove("NO_COLOR")
        .env("COLUMNS", "100")
        .env("HERALD_NOW", NOW);
    c
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn example(name: &str) -> PathBuf {
    repo().join("examples").join(name)
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = cmd.output().expect("run herald");
    let code = status.code().unwrap_or(-1);
    let out = String::from_utf8_lossy(&stdout).into_owned();
    let err = String::from_utf8_lossy(&stderr).into_owned();
    assert!(!err.contains("panicked"), "herald panicked:\n{err}");
    assert_ne!(code, 101, "herald panicked:\n{err}");
    (code, out, err)
}

/// A temporary plan directory with the given files.
pub fn plan(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

/// A fresh copy of an example (no state).
pub fn copy_example(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&example(name), dir.path());
    let _ = std::fs::remove_dir_all(dir.path().join(".herald"));
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

pub const CONFIG: &[u8] = b"[project]\nname = \"t\"\ntimezone = \"Europe/Paris\"\n";

/// [`run`] for a command that might hang: killed after `secs` (a test
/// failure), with standard input closed unless the command sets it.
pub fn run_within(cmd: &mut Command, secs: u64) -> (i32, String, String) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run herald");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("herald did not finish within {secs} s: it hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let out = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
    let err = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    assert!(!err.contains("panicked"), "herald panicked:\n{err}");
    (status.code().unwrap_or(-1), out, err)
}

/// Replace the first `from` of a file with `to` (the file must hold it).
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}
