//! Herald and the user's files: only regular files inside the plan directory
//! are read, every input is size-bounded, nothing is replaced without
//! `--force`, and the plan directory is found the same way by every command.

use super::*;
use std::os::unix::fs::symlink;

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

fn check_json(dir: &Path) -> serde_json::Value {
    let (_, out, err) = run_within(herald().args(["check", "--format=json"]).arg(dir), 20);
    serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}"))
}

/// `init` a plan in a fresh directory.
fn scaffold() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("p");
    let (code, _, err) = run(herald().arg("init").arg(&dir));
    assert_eq!(code, 0, "{err}");
    (root, dir)
}

fn set_toml(dir: &Path, from: &str, to: &str) {
    let p = dir.join("herald.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(&p, text.replace(from, to)).unwrap();
}

// --- Only regular files inside the plan directory ---------------------------

#[test]
fn a_plan_file_linked_outside_the_plan_is_refused_unread() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("credentials");
    std::fs::write(&secret, "[default]\naws_secret_access_key = AKIA_LEAK: [\n").unwrap();
    let fifo = outside.path().join("pipe");
    mkfifo(&fifo);
    let dir = plan(&[("herald.toml", CONFIG), ("plan.yaml", b"segments: {}\n")]);
    symlink(&secret, dir.path().join("creds.yaml")).unwrap();
    symlink(&fifo, dir.path().join("pipe.yaml")).unwrap();
    let v = check_json(dir.path());
    let text = v.to_string();
    assert!(!text.contains("AKIA"), "{text}");
    let ds = v["diagnostics"].as_array().unwrap();
    assert_eq!(ds.len(), 2, "{text}");
    for (d, name) in ds.iter().zip(["creds.yaml", "pipe.yaml"]) {
        assert_eq!(d["code"], "syntax/unreadable-file", "{d}");
        assert_eq!(d["file"], name, "{d}");
        assert!(
            d["message"].as_str().unwrap().contains("outside the plan directory"),
            "{d}"
        );
    }
    // Human output too.
    let (code, out, _) = run_within(herald().args(["check", "--color=never"]).arg(dir.path()), 20);
    assert_eq!(code, 1);
    assert!(!out.contains("AKIA") && out.contains("creds.yaml"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn a_link_inside_the_plan_is_followed() {
    let dir = plan(&[
        ("herald.toml", CONFIG),
        ("shared/segments.src", b"segments:\n  all:\n    where: id is set\n"),
    ]);
    symlink("shared/segments.src", dir.path().join("link.yaml")).unwrap();
    let v = check_json(dir.path());
    // Read: its segment is reported as unused, and nothing else.
    assert_eq!(v["error_count"], 0, "{v}");
    assert_eq!(v["diagnostics"][0]["code"], "reference/unused-segment", "{v}");
    assert_eq!(v["diagnostics"][0]["file"], "link.yaml", "{v}");
}

#[test]
fn fifos_sockets_and_devices_are_never_opened() {
    let dir = plan(&[("herald.toml", CONFIG), ("plan.yaml", b"segments: {}\n")]);
    mkfifo(&dir.path().join("fifo.yaml"));
    symlink("/dev/zero", dir.path().join("zero.yaml")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("sock.yaml")).unwrap();
    let v = check_json(dir.path());
    let ds = v["diagnostics"].as_array().unwrap();
    let files: Vec<&str> = ds.iter().map(|d| d["file"].as_str().unwrap()).collect();
    assert_eq!(files, ["fifo.yaml", "sock.yaml", "zero.yaml"], "{v}");
    assert!(ds.iter().all(|d| d["code"] == "syntax/unreadable-file"), "{v}");
    assert!(ds[0]["message"].as_str().unwrap().contains("not a regular file"), "{v}");
}

#[test]
fn the_language_server_does_not_block_on_a_fifo() {
    let dir = plan(&[("herald.toml", CONFIG), ("plan.yaml", b"segments: {}\n")]);
    mkfifo(&dir.path().join("fifo.yaml"));
    let mut c = crate::lsp_client::Client::start(herald().arg("lsp"));
    let u = format!("file://{}", dir.path().join("plan.yaml").display());
    c.open(&u, "segments: {}\n");
    let fifo = format!("file://{}", dir.path().join("fifo.yaml").display());
    let ds = c.diagnostics(&fifo);
    assert_eq!(ds[0]["code"], "syntax/unreadable-file", "{ds:?}");
    c.shutdown();
}

#[test]
fn contacts_that_are_not_a_regular_file_inside_the_plan_are_refused() {
    let (_root, dir) = scaffold();
    let csv = dir.join("data/contacts.csv");
    let outside = tempfile::tempdir().unwrap();
    let elsewhere = outside.path().join("export.csv");
    std::fs::rename(&csv, &elsewhere).unwrap();
    for (what, expected) in [
        ("link", "outside the plan directory"),
        ("fifo", "not a regular file"),
        ("dev", "outside the plan directory"),
    ] {
        let _ = std::fs::remove_file(&csv);
        match what {
            "link" => symlink(&elsewhere, &csv).unwrap(),
            "fifo" => mkfifo(&csv),
            _ => symlink("/dev/zero", &csv).unwrap(),
        }
        let (code, out, err) = run_within(herald().arg("plan").arg(&dir), 20);
        assert_eq!(code, 2, "could not run: {what}: {out}{err}");
        assert!(err.contains(expected) && err.contains("contacts.csv"), "{what}: {err}");
    }
    // `/dev/zero` written in herald.toml: a clear error, not endless memory.
    let _ = std::fs::remove_file(&csv);
    set_toml(&dir, "path = \"data/contacts.csv\"", "path = \"/dev/zero\"");
    let (code, _, err) = run_within(herald().arg("plan").arg(&dir), 20);
    assert_eq!(code, 2, "could not run");
    assert!(err.contains("`/dev/zero` is not a regular file"), "{err}");
    // An absolute path to a regular file is a deliberate choice: it is read.
    set_toml(
        &dir,
        "path = \"/dev/zero\"",
        &format!("path = \"{}\"", elsewhere.display()),
    );
    let (code, _, err) = run_within(herald().arg("plan").arg(&dir), 20);
    assert_eq!(code, 0, "{err}");
    // A relative path may not climb out of the plan.
    std::fs::copy(&elsewhere, dir.join("../outside.csv")).unwrap();
    set_toml(&dir, &elsewhere.display().to_string(), "../outside.csv");
    let (code, _, err) = run_within(herald().arg("plan").arg(&dir), 20);
    assert_eq!(code, 2, "could not run");
    assert!(err.contains("outside the plan directory"), "{err}");
}

#[test]
fn a_state_path_outside_the_plan_is_refused() {
    let (_root, dir) = scaffold();
    set_toml(&dir, "path = \".herald/state.db\"", "path = \"../state.db\"");
    let (code, _, err) = run(herald().args(["apply", "--auto-approve", "--dir"]).arg(&dir));
    assert_ne!(code, 0);
    assert!(err.contains("outside the plan directory"), "{err}");
    assert!(!dir.join("../state.db").exists());
}

#[test]
fn apply_reads_only_a_regular_bounded_plan_file() {
    let (_root, dir) = scaffold();
    let fifo = dir.join("plan.fifo");
    mkfifo(&fifo);
    for file in [Path::new("/dev/zero"), fifo.as_path()] {
        let (code, _, err) = run_within(herald().arg("apply").arg(file).arg("--dir").arg(&dir), 20);
        assert_ne!(code, 0);
        assert!(err.contains("is not a regular file"), "{err}");
    }
    let big = dir.join("big.json");
    std::fs::File::create(&big).unwrap().set_len(300 * 1024 * 1024).unwrap();
    let (code, _, err) = run_within(herald().arg("apply").arg(&big).arg("--dir").arg(&dir), 20);
    assert_ne!(code, 0);
    assert!(err.contains("larger than"), "{err}");
}

// --- Bounded standard input, and texts starting with `-` --------------------

#[test]
fn sms_reads_a_bounded_standard_input() {
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let (code, _, err) = run_within(herald().args(["sms", "-"]).stdin(zero), 20);
    assert_eq!(code, 2);
    assert!(err.contains("larger than"), "{err}");
    let mut c = herald();
    c.args(["sms", "-", "--json"]).stdin(std::process::Stdio::piped());
    let mut child = c.stdout(std::process::Stdio::piped()).spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"Bonjour\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["characters"], 7);
}

#[test]
fn an_sms_text_may_start_with_a_hyphen() {
    let (code, out, err) = run(herald().args(["sms", "-10% ce soir", "--json"]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["characters"], 12);
    let (code, out, _) = run(herald().args(["sms", "--json", "-5€"]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["characters"], 3);
}

// --- init and contacts generate never replace a file without --force -------

#[test]
fn init_does_not_replace_existing_files() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("p");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("plan.yaml"), "mine\n").unwrap();
    std::fs::write(dir.join("data/contacts.csv"), "my contacts\n").unwrap();
    let (code, _, err) = run(herald().arg("init").arg(&dir));
    assert_eq!(code, 2);
    assert!(err.contains("plan.yaml") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("plan.yaml")).unwrap(), "mine\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("data/contacts.csv")).unwrap(),
        "my contacts\n"
    );
    assert!(!dir.join("herald.toml").exists(), "nothing written when refused");
    let (code, _, err) = run(herald().arg("init").arg("--force").arg(&dir));
    assert_eq!(code, 0, "{err}");
    assert_ne!(std::fs::read_to_string(dir.join("plan.yaml")).unwrap(), "mine\n");
    assert_eq!(run(herald().arg("check").arg(&dir)).0, 0);
}

#[test]
fn generate_does_not_replace_contacts_without_force() {
    let (_root, dir) = scaffold();
    let csv = dir.join("data/contacts.csv");
    std::fs::write(&csv, "id,email\n").unwrap();
    let (code, _, err) = run(herald().args(["contacts", "generate"]).arg(&dir));
    assert_eq!(code, 1);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), "id,email\n");
    let (code, _, err) = run(herald()
        .args(["contacts", "generate", "--count", "7", "--force"])
        .arg(&dir));
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 8);
    // Only the contacts file: no temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["contacts.csv"]);
}

#[test]
fn generate_never_writes_outside_the_plan_nor_over_a_database() {
    let (root, dir) = scaffold();
    let victim = root.path().join("outside/file");
    std::fs::create_dir_all(victim.parent().unwrap()).unwrap();
    std::fs::write(&victim, "precious\n").unwrap();
    set_toml(&dir, "path = \"data/contacts.csv\"", "path = \"../outside/file\"");
    let (code, _, err) = run(herald().args(["contacts", "generate", "--force"]).arg(&dir));
    assert_eq!(code, 1);
    assert!(err.contains("outside the plan directory"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");

    // An SQLite CRM is not turned into CSV text.
    set_toml(&dir, "path = \"../outside/file\"", "path = \"data/crm.db\"");
    set_toml(&dir, "kind = \"csv\"", "kind = \"sqlite\"");
    let db = dir.join("data/crm.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE contacts (id TEXT)")
        .unwrap();
    let before = std::fs::read(&db).unwrap();
    let (code, _, err) = run(herald().args(["contacts", "generate", "--force"]).arg(&dir));
    assert_eq!(code, 1);
    assert!(err.contains("sqlite"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before);

    // A CSV CRM whose file is in fact a database: not what it says.
    set_toml(&dir, "kind = \"sqlite\"", "kind = \"csv\"");
    let (code, _, err) = run(herald().args(["contacts", "generate", "--force"]).arg(&dir));
    assert_eq!(code, 1);
    assert!(err.contains("not a CSV file"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn a_killed_generate_leaves_the_original_contacts_intact() {
    let (_root, dir) = scaffold();
    let csv = dir.join("data/contacts.csv");
    let original = std::fs::read(&csv).unwrap();
    let mut child = herald()
        .args(["contacts", "generate", "--force", "--count", "50000000"])
        .arg(&dir)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the new contacts are being written, then kill -9.
    let start = std::time::Instant::now();
    loop {
        let others = std::fs::read_dir(dir.join("data")).unwrap().count();
        if others > 1 {
            std::thread::sleep(std::time::Duration::from_millis(300));
            break;
        }
        assert!(start.elapsed().as_secs() < 30, "no temporary file appeared");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(std::fs::read(&csv).unwrap(), original);
    // The leftover is a hidden file the loader and the CRM never read.
    assert_eq!(run(herald().arg("plan").arg(&dir)).0, 0);
}

// --- The plan directory: found by walking up, and only there ---------------

#[test]
fn a_directory_without_herald_toml_is_not_walked() {
    let root = tempfile::tempdir().unwrap();
    let deep = root.path().join("node_modules/pkg");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("x.yaml"), "segments: [broken\n").unwrap();
    for args in [
        vec!["check"],
        vec!["plan"],
        vec!["graph"],
        vec!["state", "list"],
        vec!["contacts", "generate"],
        vec!["preview", "m"],
    ] {
        let (code, out, err) = run(herald().args(&args).current_dir(root.path()));
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("no herald.toml"), "{args:?}: {err}");
    }
}

#[test]
fn a_command_run_inside_a_plan_finds_its_root() {
    let dir = copy_example("garage-services");
    let sub = dir.path().join("templates");
    let (code, out, err) = run(herald().arg("check").current_dir(&sub));
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("checking the plan in"), "{err}");
    let (code, _, err) = run(herald().args(["plan", "--format", "json"]).current_dir(&sub));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn github_annotations_are_relative_to_the_working_directory() {
    let (code, out, _) = run(herald()
        .args(["check", "--format", "github", "tests/fixtures/broken"])
        .current_dir(repo()));
    assert_eq!(code, 1);
    assert!(
        out.lines()
            .all(|l| l.starts_with("::error file=tests/fixtures/broken/plan.yaml,")
                || l.starts_with("::warning file=tests/fixtures/broken/plan.yaml,")),
        "{out}"
    );
    // From below the plan, and with an absolute path.
    let (_, out, _) = run(herald()
        .args(["check", "--format", "github"])
        .arg(fixture("broken"))
        .current_dir(repo().join("tests")));
    assert!(out.starts_with("::error file=fixtures/broken/plan.yaml,"), "{out}");
}

// --- Say what is true: no PostgreSQL backend yet ----------------------------

#[test]
fn the_postgres_backend_is_refused_until_it_exists() {
    let toml = b"[project]\nname = \"t\"\ntimezone = \"UTC\"\n[state]\nbackend = \"postgres\"\nurl = \"env:HERALD_STATE_URL\"\n";
    let dir = plan(&[("herald.toml", toml), ("a.yaml", b"segments: {}\n")]);
    let v = check_json(dir.path());
    assert_eq!(v["diagnostics"][0]["code"], "config/invalid", "{v}");
    let message = v["diagnostics"][0]["message"].as_str().unwrap();
    assert!(message.contains("postgres") && message.contains("not available"), "{v}");
    let scaffold = std::fs::read_to_string(repo().join("runtime/src/cli/scaffold/herald.toml")).unwrap();
    assert!(!scaffold.contains("postgres"), "init does not advertise it");
}
