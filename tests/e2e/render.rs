//! Every picture of `herald graph` rendered by the real renderers — Graphviz
//! (`dot`) and mermaid-cli with Debian's Chromium, which `scripts/test`
//! installs — for each example and view, plus the hostile-label fixture: the
//! renderers must succeed without an error in their log, the pictures must
//! not be thin strips, and hostile text must come out as written.
//!
//! Set `HERALD_RENDER_KEEP=DIR` to keep the inputs and SVGs for a look.

use super::graph::svg_size;
use super::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// `all` is Markdown in Mermaid (its three charts are the other views), one graph in DOT.
const VIEWS: [&str; 4] = ["programs", "scenarios", "calendar", "all"];
/// No picture thinner than 1:6.
const MAX_ASPECT: f64 = 6.0;

fn mmdc() -> PathBuf {
    repo().join("tests/render/node_modules/.bin/mmdc")
}

/// The renderers are installed by `scripts/test`: a missing one is a failure, never a skip.
fn require_renderers() {
    let dot = Command::new("dot").arg("-V").output();
    let mut missing = Vec::new();
    if !dot.is_ok_and(|o| o.status.success()) {
        missing.push("Graphviz (`dot`): apt-get install graphviz");
    }
    if !Path::new(CHROMIUM).exists() {
        missing.push("Chromium (/usr/bin/chromium): apt-get install chromium");
    }
    if !mmdc().exists() {
        missing.push("mermaid-cli: PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix tests/render");
    }
    assert!(
        missing.is_empty(),
        "renderers missing — run `scripts/test`, which installs them:\n  {}",
        missing.join("\n  ")
    );
}

/// Run a command with a time limit; returns (exit code, stdout + stderr).
///
/// The renderers are other people's programs: under `faketime` (the suite's
/// years-ahead run) they get the real clock, as they will on that day —
/// Chromium hangs under libfaketime. They run in their own process group so
/// that a timeout kills the browser mermaid-cli started, not only mermaid-cli.
fn run_bounded(cmd: &mut Command, limit: Duration) -> (Option<i32>, String) {
    use std::os::unix::process::CommandExt;
    let out_path = tempfile::NamedTempFile::new().unwrap();
    let log = std::fs::File::create(out_path.path()).unwrap();
    let mut child = cmd
        .env_remove("LD_PRELOAD")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(out_path.path()).unwrap_or_default();
    match status {
        Some(s) => (s.code(), log),
        None => panic!("{cmd:?} did not finish in {limit:?}:\n{log}"),
    }
}

/// The text a person sees in an SVG: tags dropped, entities decoded, spaces collapsed.
fn svg_text(svg: &str) -> String {
    let mut svg = svg.to_string();
    while let Some(start) = svg.find("<style") {
        let end = svg[start..].find("</style>").map_or(svg.len(), |e| start + e + 8);
        svg.replace_range(start..end, " ");
    }
    let mut plain = String::new();
    let mut in_tag = false;
    for c in svg.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                plain.push(' ');
            }
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let mut text = String::new();
    let mut rest = plain.as_str();
    while let Some(at) = rest.find('&') {
        text.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').filter(|e| *e < 12).and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ if name.starts_with("#x") => u32::from_str_radix(&name[2..], 16).ok().and_then(char::from_u32),
                _ if name.starts_with('#') => name[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                text.push(c);
                rest = &rest[len..];
            }
            None => {
                text.push('&');
                rest = &rest[1..];
            }
        }
    }
    text.push_str(rest);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Width and height of a rendered SVG, from its viewBox when it has one.
fn rendered_size(svg: &str) -> (f64, f64) {
    if let Some(at) = svg.find("viewBox=\"") {
        let rest = &svg[at + 9..];
        let v: Vec<f64> = rest[..rest.find('"').unwrap()]
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect();
        if v.len() == 4 {
            return (v[2], v[3]);
        }
    }
    svg_size(svg)
}

fn assert_not_a_strip(name: &str, svg: &str) {
    let (w, h) = rendered_size(svg);
    assert!(w > 0.0 && h > 0.0, "{name}: empty picture {w}×{h}");
    let ratio = (w / h).max(h / w);
    assert!(ratio <= MAX_ASPECT, "{name}: {w:.0}×{h:.0} is a strip (1:{ratio:.1})");
}

/// The hostile fixture's labels, as the plan writes them.
const HOSTILE: [&str; 3] = [
    "Say \"hi\" & <b>html</b> #1; %% not a comment",
    "[x] {y} | a;b `tick` 🎉 C:\\path &amp;",
    "exit: met \"<i>x</i>\" #2; %% [a] {b} | c;d `e` 🚀",
];

#[test]
fn every_picture_renders_with_graphviz_and_mermaid_cli() {
    require_renderers();
    let keep = std::env::var_os("HERALD_RENDER_KEEP").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let work = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&work).unwrap();

    let mut inputs: Vec<(String, PathBuf)> = ["boutique-mode", "saas-b2b", "garage-services"]
        .iter()
        .map(|e| (e.to_string(), example(e)))
        .collect();
    inputs.push(("hostile-labels".into(), fixture("hostile-labels")));

    // Graphviz, one file at a time (fast); Mermaid, every chart in one
    // Markdown file, so Chromium starts once.
    let mut markdown = String::new();
    let mut charts = Vec::new();
    let mut hostile_text = String::new();
    for (name, dir) in &inputs {
        for view in VIEWS {
            let id = format!("{name}-{view}");
            for format in ["mermaid", "dot"] {
                if format == "mermaid" && view == "all" {
                    continue;
                }
                let (code, out, err) = run(herald().args(["graph", "--format", format, "--view", view]).arg(dir));
                assert_eq!(code, 0, "{id} {format}: {err}");
                if format == "mermaid" {
                    std::fs::write(work.join(format!("{id}.mmd")), &out).unwrap();
                    markdown.push_str(&format!("```mermaid\n{out}```\n\n"));
                    charts.push(id.clone());
                    continue;
                }
                let input = work.join(format!("{id}.dot"));
                let output = work.join(format!("{id}.dot.svg"));
                std::fs::write(&input, &out).unwrap();
                let (status, log) = run_bounded(
                    Command::new("dot").arg("-Tsvg").arg(&input).arg("-o").arg(&output),
                    Duration::from_secs(30),
                );
                assert_eq!(status, Some(0), "dot failed on {id}:\n{log}");
                assert!(
                    !log.contains("Error") && !log.contains("Warning"),
                    "dot on {id}:\n{log}"
                );
                let svg = std::fs::read_to_string(&output).unwrap();
                assert_not_a_strip(&format!("{id}.dot"), &svg);
                if name == "hostile-labels" {
                    hostile_text.push_str(&svg_text(&svg));
                }
            }
        }
    }
    for h in HOSTILE {
        assert!(
            hostile_text.contains(h),
            "Graphviz does not show {h:?} as written:\n{hostile_text}"
        );
    }

    let md = work.join("charts.md");
    std::fs::write(&md, &markdown).unwrap();
    let (status, log) = run_bounded(
        Command::new(mmdc())
            .arg("--puppeteerConfigFile")
            .arg(repo().join("tests/render/puppeteer.json"))
            .arg("--input")
            .arg(&md)
            .arg("--output")
            .arg(work.join("rendered.md"))
            .arg("--outputFormat")
            .arg("svg")
            .env("PUPPETEER_SKIP_DOWNLOAD", "1"),
        Duration::from_secs(120),
    );
    assert_eq!(status, Some(0), "mermaid-cli failed:\n{log}");
    assert!(!log.contains("Error:"), "mermaid-cli logged an error:\n{log}");
    let mut hostile_text = String::new();
    for (i, id) in charts.iter().enumerate() {
        let path = work.join(format!("rendered-{}.svg", i + 1));
        let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{id}: no {}: {e}", path.display()));
        assert!(!svg.contains("Syntax error"), "{id}: Mermaid drew a syntax error");
        assert!(!svg.contains("NaN"), "{id}: NaN in the picture");
        assert_not_a_strip(&format!("{id}.mmd"), &svg);
        if id.starts_with("hostile-labels") {
            hostile_text.push_str(&svg_text(&svg));
        }
    }
    for h in HOSTILE {
        assert!(
            hostile_text.contains(h),
            "Mermaid does not show {h:?} as written:\n{hostile_text}"
        );
    }

    // The built-in SVG, no renderer involved.
    let (code, svg, err) = run(herald()
        .args(["graph", "--format", "svg"])
        .arg(fixture("hostile-labels")));
    assert_eq!(code, 0, "{err}");
    let text = svg_text(&svg);
    for h in HOSTILE {
        assert!(
            text.contains(h),
            "the built-in SVG does not show {h:?} as written:\n{text}"
        );
    }
}

#[test]
fn svg_text_decodes_entities_and_drops_tags() {
    assert_eq!(
        svg_text("<text>a &lt;b&gt; &amp;amp; &#35;1&#59;</text><style>.x{}</style><tspan>c &#x1F389;</tspan>"),
        "a <b> &amp; #1; c 🎉"
    );
}
