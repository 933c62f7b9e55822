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
