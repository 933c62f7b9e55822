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
