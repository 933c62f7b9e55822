//! The README's tour shows real output: its figures are what the binary
//! prints at the tour's pinned instant.

use super::*;

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// The lines of the ```text block that follows `marker`.
fn text_block_after(readme: &str, marker: &str) -> Vec<String> {
    let from = readme.find(marker).unwrap_or_else(|| panic!("README lacks {marker:?}"));
    let rest = &readme[from..];
    let start = rest.find("```text\n").expect("a text block") + "```text\n".len();
    let end = rest[start..].find("```").expect("a closed block");
    rest[start..start + end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_tour_pins_the_clock_of_the_tests() {
    assert!(
        readme().contains(&format!("export HERALD_NOW={NOW}")),
        "the README tour must pin HERALD_NOW={NOW}, the instant the tests run at"
    );
}

#[test]
fn the_tour_check_prints_what_the_readme_says() {
    let text = readme();
    let (code, out, _) = run(herald().arg("check").arg(example("boutique-mode")));
    assert_eq!(code, 0);
    let at = text.find("`Checked ").expect("the README quotes check's output") + 1;
    let said = &text[at..at + text[at..].find('`').unwrap()];
    assert_eq!(out.trim(), said, "README: {said:?}, herald: {out:?}");
}

#[test]
fn the_tour_plan_figures_are_what_herald_prints() {
    let lines = text_block_after(&readme(), "**Plan and apply.**");
    assert!(lines.len() >= 3, "{lines:?}");
    let dir = copy_example("boutique-mode");
    let (code, out, err) = run(herald().arg("plan").arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let printed: Vec<String> = out.lines().map(squeeze).collect();
    for line in lines {
        // `…` ends a line the README shortens.
        let want = squeeze(line.trim_end_matches('…'));
        assert!(
            printed.iter().any(|p| p.starts_with(&want)),
            "the README shows\n  {line}\nbut `herald plan` printed:\n{out}"
        );
    }
}

#[test]
fn the_tour_test_fails_then_passes_as_the_readme_says() {
    let text = readme();
    let lines = text_block_after(&text, "**Test a journey.**");
    assert!(lines.len() >= 3, "{lines:?}");
    // The tour's edit: the cart's first wait, from one hour to two.
    let dir = copy_example("boutique-mode");
    let path = dir.path().join("scenarios.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    assert!(yaml.contains("      - wait: 1h\n"), "the tour edits `wait: 1h`");
    std::fs::write(&path, yaml.replacen("      - wait: 1h\n", "      - wait: 2h\n", 1)).unwrap();
    let (code, out, _) = run(herald().arg("test").arg(dir.path()));
    assert_eq!(code, 1, "{out}");
    let printed: Vec<String> = out.lines().map(squeeze).collect();
    for line in lines {
        let want = squeeze(&line);
        assert!(
            printed.iter().any(|p| p == &want),
            "the README shows\n  {line}\nbut `herald test` printed:\n{out}"
        );
    }
    // Put back: the summary the README quotes.
    let (code, out, _) = run(herald().arg("test").arg(example("boutique-mode")));
    assert_eq!(code, 0, "{out}");
    let at = text
        .find("`test result: ok.")
        .expect("the README quotes the passing summary")
        + 1;
    let said = &text[at..at + text[at..].find('`').unwrap()];
    assert!(out.lines().any(|l| l == said), "README: {said:?}, herald:\n{out}");
}

/// The ```sh blocks of the tour's step `marker`, in order.
fn sh_blocks_after(readme: &str, marker: &str, until: &str) -> Vec<String> {
    let from = readme.find(marker).unwrap_or_else(|| panic!("README lacks {marker:?}"));
    let end = readme[from..].find(until).map_or(readme.len(), |e| from + e);
    readme[from..end]
        .split("```sh\n")
        .skip(1)
        .map(|b| b[..b.find("```").expect("a closed block")].to_string())
        .collect()
}

/// Step 10 runs as written: `herald run --once` writes the outbox, then
/// the same plan, pointed at a real SMTP server (aiosmtpd), delivers one
/// message per email the ledger says was sent. The commands run in a
/// temporary copy (never in `examples/`), with this `herald`, the test
/// venv's aiosmtpd and a free port.
#[test]
fn the_tour_sends_to_the_outbox_then_over_smtp() {
    let blocks = sh_blocks_after(&readme(), "10. **Send it.**", "## Commands");
    assert_eq!(blocks.len(), 2, "the outbox, then SMTP: {blocks:?}");
    let python = std::env::var("HERALD_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| repo().join("target/test-venv/bin/python").display().to_string());
    assert!(
        Path::new(&python).exists(),
        "the SMTP tests need aiosmtpd: run scripts/test (it makes target/test-venv), or set HERALD_TEST_PYTHON"
    );
    let work = tempfile::tempdir().unwrap();
    let w = work.path().display().to_string();
    copy_dir(&example("boutique-mode"), &work.path().join("examples/boutique-mode"));
    let _ = std::fs::remove_dir_all(work.path().join("examples/boutique-mode/.herald"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A reader's shell: `ls | head` may end `ls` with SIGPIPE. The server
    // stops with the script, even when a command fails.
    let mut script =
        format!("set +o pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\ncd {w}\nmkdir -p {w}/smtp\n");
    for line in blocks.concat().lines().map(str::trim) {
        // The venv is made by scripts/test.
        if line.starts_with("python3 -m venv /tmp/smtp") {
            continue;
        }
        // README tokens first, then the paths (which may hold anything).
        let line = line
            .replace("2525", &port.to_string())
            .replace("cargo run --", "herald")
            // The venv's path may itself be under /tmp: put it in last.
            .replace("/tmp/smtp/bin/python", "\u{0}python")
            .replace("/tmp/", &format!("{w}/"))
            .replace("\u{0}python", &python);
        script.push_str(&line);
        script.push('\n');
        // As a reader would: the server listens before the next command.
        if line.ends_with('&') {
            script.push_str(&format!(
                "for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && break; sleep 0.05; done\n"
            ));
        }
    }
    let (code, out, err) = run(&mut shell(&script));
    assert_eq!(code, 0, "{script}\n{err}");
    // The outbox: .eml files, and the ledger's first rows.
    assert!(out.lines().any(|l| l.ends_with(".eml")), "{out}");
    assert!(out.contains("sent      "), "{out}");
    // Over SMTP: one message received per email the ledger says was sent.
    let smtp = work.path().join("boutique");
    let (_, ledger, _) = run(herald()
        .args(["sends", "--format", "json", "--limit", "100000"])
        .arg(&smtp));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&ledger).unwrap();
    let emails = rows
        .iter()
        .filter(|r| r["channel"] == "email" && r["status"] == "sent")
        .count();
    assert!(emails > 100, "{emails}");
    let received = out.lines().rev().find(|l| !l.is_empty()).unwrap();
    assert_eq!(received, emails.to_string(), "grep -c of the messages aiosmtpd printed");
    let mime = std::fs::read_to_string(work.path().join("smtp/received.txt")).unwrap();
    assert!(mime.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(mime.contains("multipart/alternative"));
}
