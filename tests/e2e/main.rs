//! End-to-end tests of the `herald` binary: real processes, real files.

mod bad_input;
mod check;
mod commands;
mod plan;
mod preview;
mod reliability;
mod sms_oracle;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn herald() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_herald"));
    c.env_remove("NO_COLOR").env("COLUMNS", "100");
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

pub const CONFIG: &[u8] = b"[project]\nname = \"t\"\ntimezone = \"Europe/Paris\"\n";
