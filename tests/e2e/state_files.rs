//! The state file: read-only commands never create or write it, and creating
//! it is atomic, however many first applies race.

use super::*;
use std::process::Stdio;

fn scaffold() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("p");
    let (code, _, err) = run(herald().arg("init").arg(&dir));
    assert_eq!(code, 0, "{err}");
    (root, dir)
}

#[test]
fn read_only_commands_never_create_or_write_the_state() {
    let (_root, dir) = scaffold();
    let state = dir.join(".herald/state.db");
    let read_only: [&[&str]; 4] = [&["plan"], &["state", "list"], &["graph"], &["check"]];
    for args in read_only {
        run(herald().args(args).arg(&dir));
        assert!(!state.exists(), "{args:?} created the state");
    }
    // A 0-byte state file is reported, and left as it is.
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(&state, b"").unwrap();
    for args in [
        &["plan"][..],
        &["state", "list"],
        &["state", "show", "campaigns.december_news"],
    ] {
        let (code, _, err) = run(herald().args(args).arg(&dir));
        assert_ne!(code, 0, "{args:?}");
        assert!(
            err.contains("is empty") && err.contains("not a Herald state"),
            "{args:?}: {err}"
        );
        assert_eq!(std::fs::metadata(&state).unwrap().len(), 0, "{args:?} wrote the state");
    }
    // apply refuses it too, rather than starting a new lineage over it.
    let (code, _, err) = run(herald().args(["apply", "--auto-approve", "--dir"]).arg(&dir));
    assert_eq!(code, 2, "a state Herald cannot read: could not run");
    assert!(err.contains("is empty"), "{err}");
    assert_eq!(std::fs::metadata(&state).unwrap().len(), 0);

    // A real state is not modified by reading it.
    std::fs::remove_file(&state).unwrap();
    assert_eq!(run(herald().args(["apply", "--auto-approve", "--dir"]).arg(&dir)).0, 0);
    let before = std::fs::read(&state).unwrap();
    for args in read_only {
        run(herald().args(args).arg(&dir));
    }
    assert!(
        std::fs::read(&state).unwrap() == before,
        "a read-only command wrote the state"
    );
}

/// 40 first applies at once, three times: each either applies, waits and
/// finds its plan stale, or reports the lock — never "not a Herald state".
#[test]
fn concurrent_first_applies_create_the_state_once() {
    for round in 0..3 {
        let (_root, dir) = scaffold();
        let children: Vec<_> = (0..40)
            .map(|_| {
                herald()
                    .args(["apply", "--auto-approve", "--lock-timeout", "120s", "--dir"])
                    .arg(&dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut applied = 0;
        for child in children {
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            match out.status.code() {
                Some(0) => applied += 1,
                Some(1) => assert!(
                    err.contains("the saved plan is stale") || err.contains("stale"),
                    "round {round}: {err}"
                ),
                other => panic!("round {round}: exit {other:?}: {err}"),
            }
        }
        assert!(applied >= 1, "round {round}: nothing applied");
        let (code, out, err) = run(herald().args(["state", "list"]).arg(&dir));
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("serial 1"), "round {round}: one apply committed\n{out}");
    }
}
