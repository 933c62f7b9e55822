//! The state under stress: concurrent applies, a process killed in the
//! middle of an apply (kill -9), damaged and newer state files.

use super::*;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn fresh(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(herald().arg("init").arg(dir.path().join(name)));
    assert_eq!(code, 0, "{err}");
    dir
}

fn serial(plan_dir: &Path) -> u64 {
    let conn = rusqlite::Connection::open(plan_dir.join(".herald/state.db")).unwrap();
    conn.query_row("SELECT value FROM meta WHERE key = 'serial'", [], |r| {
        r.get::<_, String>(0)
    })
    .unwrap()
    .parse()
    .unwrap()
}

fn objects(plan_dir: &Path) -> i64 {
    let conn = rusqlite::Connection::open(plan_dir.join(".herald/state.db")).unwrap();
    conn.query_row("SELECT count(*) FROM objects", [], |r| r.get(0))
        .unwrap()
}

fn lock_row(plan_dir: &Path) -> Option<String> {
    let conn = rusqlite::Connection::open(plan_dir.join(".herald/state.db")).unwrap();
    conn.query_row("SELECT id FROM locks", [], |r| r.get(0)).ok()
}

/// The file the test hook creates once the apply is inside its transaction.
fn marker(dir: &Path) -> PathBuf {
    dir.with_extension("in-transaction")
}

/// An apply that pauses inside its transaction (test hook), started in the
/// background; it creates `marker(dir)` from inside the transaction.
fn slow_apply(dir: &Path, pause_ms: u64) -> Child {
    herald()
        .args(["apply", "--auto-approve"])
        .arg(dir)
        .env("HERALD_TEST_APPLY_PAUSE_MS", pause_ms.to_string())
        .env("HERALD_TEST_APPLY_MARKER", marker(dir))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for(mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn change_plan(dir: &Path) {
    let p = dir.join("plan.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replace("max: 2, per: 7d", "max: 3, per: 7d")).unwrap();
}

#[test]
fn a_second_apply_waits_then_fails_clearly_while_the_first_holds_the_lock() {
    let root = fresh("p");
    let dir = root.path().join("p");
    assert_eq!(run(herald().args(["apply", "--auto-approve", "--dir"]).arg(&dir)).0, 0);
    change_plan(&dir);
    let mut first = slow_apply(&dir, 4000);
    wait_for(|| lock_row(&dir).is_some());
    let started = Instant::now();
    let (code, _, err) = run(herald()
        .args(["apply", "--auto-approve", "--lock-timeout", "1s", "--dir"])
        .arg(&dir));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "it waited for the lock"
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("the state is locked") && err.contains("Operation: apply") && err.contains("force-unlock"),
        "{err}"
    );
    assert!(first.wait().unwrap().success());
    assert_eq!(serial(&dir), 2, "only the first apply wrote");
    assert!(lock_row(&dir).is_none(), "the lock is released");
}

#[test]
fn killed_in_the_middle_of_an_apply_the_state_is_before_it() {
    let root = fresh("p");
    let dir = root.path().join("p");
    assert_eq!(run(herald().args(["apply", "--auto-approve", "--dir"]).arg(&dir)).0, 0);
    let before = (serial(&dir), objects(&dir));
    change_plan(&dir);
    let p = dir.join("plan.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        text.replace("  recent_signups:\n", "  recent_signups:\n    description: changed\n"),
    )
    .unwrap();
    let mut first = slow_apply(&dir, 10_000);
    // The child signals from inside the transaction: kill -9 then, not before.
    wait_for(|| marker(&dir).exists());
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(
        (serial(&dir), objects(&dir)),
        before,
        "nothing of the killed apply remains"
    );
    // The dead process's lock stays; apply explains, force-unlock releases it.
    let id = lock_row(&dir).expect("the lock of the killed apply");
    let (code, _, err) = run(herald().args(["apply", "--auto-approve", "--dir"]).arg(&dir));
    assert_eq!(code, 1);
    assert!(err.contains(&id), "{err}");
    assert_eq!(run(herald().args(["force-unlock", "not-the-id"]).arg(&dir)).0, 1);
    assert_eq!(run(herald().args(["force-unlock", &id]).arg(&dir)).0, 0);
    assert_eq!(run(herald().args(["apply", "--auto-approve", "--dir"]).arg(&dir)).0, 0);
    assert_eq!(serial(&dir), before.0 + 1);
}

#[test]
fn concurrent_applies_never_both_write() {
    let root = fresh("p");
    let dir = root.path().join("p");
    let file = dir.join("plan.json");
    run(herald().args(["plan", "--out"]).arg(&file).arg(&dir));
    // Two processes apply the same saved plan at once.
    let spawn = || {
        herald()
            .arg("apply")
            .arg(&file)
            .args(["--lock-timeout", "10s", "--dir"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let successes = [a.status.success(), b.status.success()].iter().filter(|s| **s).count();
    assert_eq!(successes, 1, "exactly one apply wins");
    let loser = if a.status.success() { b } else { a };
    assert!(
        String::from_utf8_lossy(&loser.stderr).contains("stale"),
        "{}",
        String::from_utf8_lossy(&loser.stderr)
    );
    assert_eq!(serial(&dir), 1);
}

#[test]
fn a_damaged_state_is_reported_and_left_untouched() {
    let root = fresh("p");
    let dir = root.path().join("p");
    std::fs::create_dir_all(dir.join(".herald")).unwrap();
    let garbage = b"this is not a database, but somebody's notes\n".repeat(100);
    std::fs::write(dir.join(".herald/state.db"), &garbage).unwrap();
    for args in [vec!["plan"], vec!["apply", "--auto-approve"]] {
        let (code, _, err) = run(herald().args(&args).arg(&dir));
        // An input Herald cannot read: the command could not run.
        assert_eq!(code, 2, "{args:?}");
        assert!(
            err.contains("cannot be read") && err.contains("left untouched"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read(dir.join(".herald/state.db")).unwrap(), garbage);
}

#[test]
fn a_state_from_a_newer_herald_is_refused() {
    let root = fresh("p");
    let dir = root.path().join("p");
    assert_eq!(run(herald().args(["apply", "--auto-approve", "--dir"]).arg(&dir)).0, 0);
    let conn = rusqlite::Connection::open(dir.join(".herald/state.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let (code, _, err) = run(herald().arg("plan").arg(&dir));
    assert_eq!(code, 2);
    assert!(err.contains("newer Herald"), "{err}");
}
