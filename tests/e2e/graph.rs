//! `herald graph`: what each view shows, escaping, the calendar's today,
//! `--out`, the built-in SVG, and the flowcharts of the pull-request comment.
//! The real renderers run in `render.rs`.

use super::*;

fn graph(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = run(herald().arg("graph").arg(dir).args(args));
    assert_eq!(code, 0, "herald graph {args:?} failed:\n{err}");
    out
}

/// The text of the declared nodes of a DOT graph: `id [attributes];` lines.
fn dot_nodes(dot: &str) -> Vec<&str> {
    dot.lines()
        .map(str::trim)
        .filter(|l| {
            let id = l.split(' ').next().unwrap_or("");
            !id.is_empty()
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !["graph", "node", "edge", "subgraph", "digraph"].contains(&id)
                && l[id.len()..].starts_with(" [")
        })
        .collect()
}

#[test]
fn snapshots_of_each_view_in_mermaid_and_dot() {
    for (example, view) in [
        ("boutique-mode", "programs"),
        ("boutique-mode", "scenarios"),
        ("saas-b2b", "calendar"),
    ] {
        for format in ["mermaid", "dot"] {
            let out = graph(&super::example(example), &["--format", format, "--view", view]);
            insta::assert_snapshot!(format!("graph_{format}_{example}_{view}"), out);
        }
    }
}

#[test]
fn flowcharts_show_trigger_details_both_branches_of_waits_and_exit_reasons() {
    let mermaid = graph(&example("boutique-mode"), &["--view", "scenarios"]);
    // Each scenario framed and drawn top to bottom.
    assert_eq!(mermaid.matches("direction TB").count(), 4, "{mermaid}");
    // Trigger: event, filter, audience, exit condition.
    for text in [
        "on cart_abandoned",
        "where event.cart_value #gt;= 30",
        "audience#58; consent(email_marketing)",
        "exits when#58; count(purchase, 2d) #gt;= 1",
        "7d before birthdate at 10#58;00, every year",
    ] {
        assert!(mermaid.contains(text), "{text} missing from\n{mermaid}");
    }
    // The wait until of cart_abandonment: its met branch goes to the end,
    // even though no step follows it; its timeout branch steps to SMS.
    assert!(mermaid.contains("s2_3 -->|\"met\"| s2_end"), "{mermaid}");
    assert!(mermaid.contains("s2_3 -->|\"timeout (1d)\"| s2_4"), "{mermaid}");
    // Channels: a class per channel, the cascade from email to SMS visible.
    assert!(
        mermaid.contains("(\"<b>Email#58; cart_email</b>\"):::kemail"),
        "{mermaid}"
    );
    assert!(mermaid.contains("(\"<b>SMS#58; cart_sms</b>\"):::ksms"), "{mermaid}");
    assert!(mermaid.contains("classDef ksms "), "{mermaid}");

    let hostile = graph(&fixture("hostile-labels"), &["--view", "scenarios"]);
    assert!(
        hostile.contains(">\"<b>exit#58; met #quot;"),
        "exit shows its reason:\n{hostile}"
    );

    let dot = graph(&example("boutique-mode"), &["--format", "dot", "--view", "scenarios"]);
    assert!(dot.contains("label=<met>"), "{dot}");
    assert!(dot.contains("shape=diamond") && dot.contains("shape=hexagon"), "{dot}");
}

#[test]
fn dot_declares_every_node_style_and_one_font() {
    for example_name in ["boutique-mode", "saas-b2b", "garage-services"] {
        for view in ["all", "programs", "scenarios", "calendar"] {
            let dot = graph(&example(example_name), &["--format", "dot", "--view", view]);
            let nodes = dot_nodes(&dot);
            assert!(!nodes.is_empty(), "{dot}");
            for n in nodes {
                assert!(n.contains("shape="), "undeclared shape (a default ellipse): {n}");
            }
            let fonts: std::collections::BTreeSet<&str> = dot
                .split("fontname=")
                .skip(1)
                .map(|s| s.split([',', ']']).next().unwrap_or(""))
                .collect();
            assert_eq!(fonts.len(), 1, "one font family: {fonts:?}");
            // Start dots are small.
            assert!(!dot.contains("shape=circle, label=\""), "{dot}");
        }
    }
}

#[test]
fn hostile_labels_are_escaped_in_every_format() {
    let dir = fixture("hostile-labels");
    let mermaid = graph(&dir, &[]);
    for raw in [
        "<b>html</b>",
        "<i>x</i>",
        "#1;",
        "%%",
        "`tick`",
        "[x]",
        "{y}",
        "a;b",
        "\"hi\"",
    ] {
        assert!(!mermaid.contains(raw), "{raw} reached Mermaid unescaped:\n{mermaid}");
    }
    assert!(mermaid.contains("Say #quot;hi#quot; #amp; #lt;b#gt;html#lt;/b#gt; #35;1#59; #37;#37; not a comment"));
    // The fences of the Markdown output are not broken by backticks.
    assert_eq!(mermaid.matches("```").count(), 6, "{mermaid}");

    let dot = graph(&dir, &["--format", "dot"]);
    assert!(
        dot.contains("Say &quot;hi&quot; &amp; &lt;b&gt;html&lt;/b&gt; #1; %% not a comment<BR/>"),
        "{dot}"
    );
    assert!(!dot.contains("<b>html</b>"), "{dot}");

    let svg = graph(&dir, &["--format", "svg"]);
    assert!(
        svg.contains("Say &quot;hi&quot; &amp; &lt;b&gt;html&lt;/b&gt; #1; %% not a comment"),
        "{svg}"
    );
    assert!(!svg.contains("<b>html</b>") && !svg.contains("<i>x</i>"), "{svg}");
}

#[test]
fn the_calendar_ticks_per_week_groups_by_program_and_marks_the_pinned_today() {
    let gantt = graph(&example("boutique-mode"), &["--view", "calendar"]);
    assert!(
        gantt.contains("tickInterval 1week\n") && gantt.contains("axisFormat %d %b\n"),
        "{gantt}"
    );
    // The viewer's clock is not the plan's.
    assert!(gantt.contains("todayMarker off"), "{gantt}");
    assert!(
        gantt.contains("today Fri 20 Nov 10#58;00 : milestone, crit, 2026-11-20T10:00, 0m"),
        "today is HERALD_NOW in the plan's time zone:\n{gantt}"
    );
    assert!(gantt.contains("  section promotions\n"), "{gantt}");
    assert!(
        gantt.contains("black_friday_email · Fri 27 Nov 09#58;00 · Email A/B : milestone, 2026-11-27T09:00, 0m"),
        "{gantt}"
    );
    // Another day, another today; past campaigns are done.
    let (code, later, _) = run(herald()
        .env("HERALD_NOW", "2026-11-29T12:00:00Z")
        .args(["graph", "--view", "calendar"])
        .arg(example("boutique-mode")));
    assert_eq!(code, 0);
    assert!(later.contains("today Sun 29 Nov 13#58;00"), "{later}");
    assert!(later.contains("milestone, done, 2026-11-27T09:00"), "{later}");

    let dot = graph(&example("boutique-mode"), &["--format", "dot", "--view", "calendar"]);
    assert!(
        !dot.lines().any(|l| l.contains("->") && !l.contains("style=invis")),
        "no visible arrows:\n{dot}"
    );
}

#[test]
fn a_plan_without_campaigns_gets_a_note_not_an_empty_calendar() {
    let dir = example("garage-services");
    let mermaid = graph(&dir, &["--view", "calendar"]);
    assert!(!mermaid.contains("gantt"), "an empty gantt does not render:\n{mermaid}");
    assert!(mermaid.contains("No scheduled campaigns"), "{mermaid}");
    for format in ["dot", "svg"] {
        let out = graph(&dir, &["--format", format, "--view", "calendar"]);
        assert!(out.contains("No scheduled campaigns"), "{out}");
    }
}

#[test]
fn svg_is_drawn_without_any_external_tool() {
    for view in ["all", "programs", "scenarios", "calendar"] {
        // No PATH: no Graphviz, no browser.
        let (code, svg, err) = run(herald()
            .env("PATH", "")
            .args(["graph", "--format", "svg", "--view", view])
            .arg(example("boutique-mode")));
        assert_eq!(code, 0, "{err}");
        assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"), "{svg}");
        let (w, h) = svg_size(&svg);
        assert!(w / h < 6.0 && h / w < 6.0, "{view}: {w}×{h} is a strip");
    }
    let svg = graph(&example("boutique-mode"), &["--format", "svg", "--view", "scenarios"]);
    for text in [
        "scenario cart_abandonment",
        "SMS: cart_sms",
        "wait until opened(cart_email)",
        "timeout (1d)",
    ] {
        assert!(svg.contains(text), "{text} missing");
    }
    // Panel ids are unique, so edge labels follow their own edges.
    let ids: Vec<&str> = svg
        .split(" id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "duplicate ids in the SVG");
}

/// Width and height of an SVG document (its first width/height attributes).
pub fn svg_size(svg: &str) -> (f64, f64) {
    let attr = |name: &str| -> f64 {
        let at = svg
            .find(&format!(" {name}=\""))
            .unwrap_or_else(|| panic!("no {name} in the SVG"))
            + name.len()
            + 3;
        let end = svg[at..].find('"').unwrap() + at;
        svg[at..end]
            .trim_end_matches("pt")
            .trim_end_matches("px")
            .parse()
            .unwrap()
    };
    (attr("width"), attr("height"))
}

#[test]
fn out_writes_a_file_and_replaces_one_only_with_force() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("plan.svg");
    let draw = |extra: &[&str]| {
        run(herald()
            .args(["graph", "--format", "svg", "--out"])
            .arg(&target)
            .args(extra)
            .arg(example("garage-services")))
    };
    let (code, out, err) = draw(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "the picture goes to the file, not stdout");
    assert!(std::fs::read_to_string(&target).unwrap().contains("<svg"));

    std::fs::write(&target, "mine").unwrap();
    let (code, _, err) = draw(&[]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists; add `--force`"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "mine",
        "never overwritten without --force"
    );

    let (code, _, err) = draw(&["--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read_to_string(&target).unwrap().contains("<svg"));
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["plan.svg"], "no temporary file left");

    // Not a regular file: refused even with --force.
    let (code, _, err) = run(herald()
        .args(["graph", "--force", "--out"])
        .arg(tmp.path())
        .arg(example("garage-services")));
    assert_eq!(code, 1);
    assert!(err.contains("is not a regular file"), "{err}");
    // --force alone makes no sense.
    let (code, _, _) = run(herald().args(["graph", "--force"]).arg(example("garage-services")));
    assert_eq!(code, 2);
}

#[test]
fn the_pull_request_comment_draws_created_and_changed_scenarios() {
    let dir = copy_example("garage-services");
    let (code, md, err) = run(herald().args(["plan", "--format", "markdown"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(md.contains("#### Scenarios created or changed"), "{md}");
    for s in ["car_ready", "maintenance_reminder", "satisfaction_survey"] {
        assert!(
            md.contains(&format!(
                "<details open><summary><code>scenarios.{s}</code> (create)</summary>\n\n```mermaid\n"
            )),
            "{s}: {md}"
        );
    }
    assert_eq!(md.matches("```mermaid").count(), 3);
}

#[test]
fn a_big_plan_drops_pictures_first_and_says_so() {
    let dir = copy_example("boutique-mode");
    let path = dir.path().join("scenarios.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    let body = text
        .split("  cart_abandonment:\n")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .to_string();
    for i in 0..60 {
        text.push_str(&format!("\n  cart_copy_{i}:\n{body}\n"));
    }
    std::fs::write(&path, text).unwrap();
    let (code, md, err) = run(herald().args(["plan", "--format", "markdown"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let parts: Vec<&str> = md.split("<!-- herald:split -->\n").collect();
    for p in &parts {
        assert!(
            p.chars().count() <= 65_536,
            "a part of {} characters",
            p.chars().count()
        );
    }
    let first = parts[0];
    let shown = first.matches("```mermaid").count();
    assert!(shown > 0 && shown < 64, "{shown} pictures kept");
    assert!(
        first.contains(&format!(
            "_{} flowcharts left out to keep this comment within GitHub's size limit; `herald graph --view scenarios` draws them._"
            , 64 - shown
        )),
        "{first}"
    );
}
