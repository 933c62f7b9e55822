//! The plan as a pull-request comment: a hidden marker (so CI updates one
//! comment), warnings and deletions first, a summary table, a Mermaid
//! flowchart of each created or changed scenario (GitHub draws them), the
//! details folded. Split into parts under 60 kB (GitHub's limit is 65,536
//! characters); when the comment would need more than one part, the
//! flowcharts are left out first, and the comment says so.

use super::PlanDoc;
use super::text::{impact_line, money, thousands};
use std::fmt::Write;

pub const MAX_PART_BYTES: usize = 60_000;

/// The flowchart of a created or changed scenario, for the comment.
pub struct Picture {
    pub address: String,
    pub action: String,
    pub mermaid: String,
}

/// The flowcharts of the scenarios this plan creates, updates or replaces.
pub fn pictures(doc: &PlanDoc, plan: &herald_compiler::model::Plan) -> Vec<Picture> {
    doc.changes
        .iter()
        .filter(|c| {
            c.change.kind == herald_compiler::ir::ObjectKind::Scenario
                && (c.change.is_create() || c.change.is_update() || c.change.is_replace())
        })
        .filter_map(|c| {
            Some(Picture {
                address: c.change.address.clone(),
                action: c.change.actions.to_string(),
                mermaid: crate::graph::scenario_mermaid(plan, &c.change.name)?,
            })
        })
        .collect()
}

fn pictures_section(pictures: &[Picture], left_out: usize) -> String {
    let mut o = String::new();
    if pictures.is_empty() && left_out == 0 {
        return o;
    }
    let _ = writeln!(
        o,
        "#### Scenarios created or changed
"
    );
    for p in pictures {
        let _ = writeln!(
            o,
            "<details open><summary><code>{}</code> ({})</summary>

```mermaid
{}```

</details>
",
            p.address, p.action, p.mermaid
        );
    }
    if left_out > 0 {
        let _ = writeln!(
            o,
            "_{left_out} flowchart{} left out to keep this comment within GitHub's size limit; `herald graph --view scenarios` draws them._\n",
            if left_out == 1 { "" } else { "s" }
        );
    }
    o
}

/// The comment, in one or more parts.
pub fn render(doc: &PlanDoc, pictures: &[Picture]) -> Vec<String> {
    let s = &doc.summary;
    let cur = &s.currency;
    let marker = format!("<!-- herald:plan project={} -->", doc.project);
    let label = if s.to_delete() > 0 {
        "herald:delete"
    } else if s.has_changes() {
        "herald:changes"
    } else {
        "herald:no-changes"
    };
    let mut head = String::new();
    let _ = writeln!(head, "{marker}");
    let _ = writeln!(head, "### Herald plan: `{}`", doc.project);
    let _ = writeln!(head);
    let _ = writeln!(
        head,
        "**{} to create, {} to update, {} to delete{}** · {} recipients · {} SMS segments ({}) · `{label}`",
        s.to_create(),
        s.update,
        s.to_delete(),
        match s.settings.is_empty() {
            true => String::new(),
            false => format!(", settings to update ({})", s.settings.join(", ")),
        },
        thousands(s.recipients),
        thousands(s.sms_segments),
        money(s.cost, cur)
    );
    let _ = writeln!(head);
    let read = &doc.contacts;
    if doc.complete {
        let _ = write!(
            head,
            "Forecast on {} contacts of `{}`",
            thousands(read.contacts),
            read.file
        );
        match read.bad_rows {
            0 => {}
            1 => {
                let _ = write!(head, " · **1 contact row rejected** (not forecast)");
            }
            n => {
                let _ = write!(head, " · **{} contact rows rejected** (not forecast)", thousands(n));
            }
        }
        match read.invalid_addresses {
            0 => {}
            1 => {
                let _ = write!(head, " · 1 contact with an invalid address");
            }
            n => {
                let _ = write!(head, " · {} contacts with an invalid address", thousands(n));
            }
        }
        let _ = writeln!(head, ".\n");
    }

    let errors: Vec<&serde_json::Value> = doc.diagnostics.iter().filter(|d| d["severity"] == "error").collect();
    let warnings: Vec<&serde_json::Value> = doc.diagnostics.iter().filter(|d| d["severity"] == "warning").collect();
    let destructive: Vec<&super::PlannedChange> = doc
        .changes
        .iter()
        .filter(|c| c.change.is_delete() || c.change.is_replace())
        .collect();
    let failed: Vec<&super::Guard> = doc
        .guards
        .iter()
        .filter(|g| g.status != super::GuardStatus::Pass)
        .collect();
    if !errors.is_empty() || !destructive.is_empty() || !failed.is_empty() {
        let _ = writeln!(head, "> [!WARNING]");
        for e in &errors {
            let _ = writeln!(
                head,
                "> **Error** `{}` {}:{} — {}",
                e["code"].as_str().unwrap_or(""),
                e["file"].as_str().unwrap_or(""),
                e["range"]["start"]["line"],
                e["message"].as_str().unwrap_or("")
            );
        }
        for g in &failed {
            let how = if g.blocks() {
                ""
            } else {
                " (accepted with `--accept-guard`)"
            };
            let _ = writeln!(head, "> **Guard failed**{how} `{}` — {}", g.code, g.message);
        }
        for c in &destructive {
            let what = if c.change.is_delete() {
                "will be deleted"
            } else {
                "will be replaced by a new version"
            };
            let flight = c
                .in_flight
                .filter(|n| *n > 0)
                .map(|n| format!(" ({} contacts in flight finish the old version)", thousands(n)))
                .unwrap_or_default();
            let _ = writeln!(head, "> **`{}`** {what}{flight}", c.change.address);
        }
        let _ = writeln!(head);
    }

    let changed: Vec<&super::PlannedChange> = doc.changes.iter().filter(|c| !c.change.is_noop()).collect();
    let mut table = String::new();
    if changed.is_empty() && s.settings.is_empty() {
        let _ = writeln!(table, "No changes: the deployed plan matches the configuration.");
    } else if changed.is_empty() {
        let _ = writeln!(table, "No object changes; only the settings of `herald.toml`.");
    } else {
        let _ = writeln!(
            table,
            "| Action | Address | Audience | Sends | Channels | Suppressed (consent / address / pressure) | Deferred | SMS segments | Cost |"
        );
        let _ = writeln!(table, "|---|---|--:|--:|---|---|--:|--:|--:|");
        for c in &changed {
            let action = c.change.actions.to_string();
            let (aud, sends, chans, sup, def, seg, cost) = match &c.impact {
                Some(i) => (
                    thousands(i.audience),
                    if i.event_triggered {
                        "on events".into()
                    } else {
                        thousands(i.recipients)
                    },
                    i.by_channel
                        .iter()
                        .map(|(c, n)| format!("{c} {}", thousands(*n)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    format!(
                        "{} / {} / {}{}",
                        thousands(i.suppressed.consent),
                        thousands(i.suppressed.no_address),
                        thousands(i.suppressed.pressure.values().sum()),
                        [
                            (i.suppressed.policy, "by policy"),
                            (i.suppressed.invalid_address, "invalid address"),
                        ]
                        .iter()
                        .filter(|(n, _)| *n > 0)
                        .map(|(n, what)| format!(" (+{} {what})", thousands(*n)))
                        .collect::<String>()
                    ),
                    thousands(i.deferred_quiet_hours),
                    thousands(i.sms_segments),
                    money(i.cost, cur),
                ),
                None => Default::default(),
            };
            let _ = writeln!(
                table,
                "| {action} | `{}` | {aud} | {sends} | {chans} | {sup} | {def} | {seg} | {cost} |",
                c.change.address
            );
        }
    }
    let _ = writeln!(table);

    let mut details = String::new();
    if !read.errors.is_empty() {
        let _ = writeln!(
            details,
            "<details><summary>Rejected contact rows ({})</summary>\n",
            thousands(read.bad_rows)
        );
        for e in &read.errors {
            let _ = writeln!(details, "- `{}` {e}", read.file);
        }
        let _ = writeln!(details, "\n</details>\n");
    }
    if !warnings.is_empty() {
        let _ = writeln!(details, "<details><summary>Warnings ({})</summary>\n", warnings.len());
        for w in &warnings {
            let _ = writeln!(
                details,
                "- `{}` {}:{} — {}",
                w["code"].as_str().unwrap_or(""),
                w["file"].as_str().unwrap_or(""),
                w["range"]["start"]["line"],
                w["message"].as_str().unwrap_or("")
            );
        }
        let _ = writeln!(details, "\n</details>\n");
    }
    if !changed.is_empty() {
        let _ = writeln!(details, "<details><summary>Changes in detail</summary>\n\n```diff");
        for c in &changed {
            let ch = &c.change;
            let sym = if ch.is_create() {
                "+"
            } else if ch.is_delete() {
                "-"
            } else if ch.is_replace() {
                "!"
            } else {
                "~"
            };
            let _ = writeln!(details, "{sym} {} ({})", ch.address, ch.actions);
            for (path, f) in &ch.fields {
                let b = f.before.as_ref().map_or("(none)".into(), |v| v.to_string());
                let a = f.after.as_ref().map_or("(none)".into(), |v| v.to_string());
                let _ = writeln!(details, "-   {path}: {b}");
                let _ = writeln!(details, "+   {path}: {a}");
            }
            if let Some(i) = &c.impact {
                let _ = writeln!(details, "    {}", impact_line(i, cur));
            }
        }
        let _ = writeln!(details, "```\n\n</details>");
    }

    // Pictures go first when the comment is too long: keep as many as fit
    // in one part with everything else, in plan order.
    let fixed = head.len() + table.len() + details.len();
    let mut shown = pictures.len();
    while shown > 0 && fixed + pictures_section(&pictures[..shown], pictures.len() - shown).len() > MAX_PART_BYTES {
        shown -= 1;
    }
    let table = format!(
        "{table}{}",
        pictures_section(&pictures[..shown], pictures.len() - shown)
    );

    // Split: the head and table stay in the first part; details are cut at
    // line breaks, closing and reopening the diff fence across parts.
    let first = format!("{head}{table}");
    if first.len() + details.len() <= MAX_PART_BYTES {
        return vec![format!("{first}{details}")];
    }
    let mut parts: Vec<String> = vec![first];
    let mut current = String::new();
    let mut in_fence = false;
    for line in details.split_inclusive('\n') {
        if current.len() + line.len() > MAX_PART_BYTES - 300 {
            if in_fence {
                current.push_str("```\n");
            }
            parts.push(std::mem::take(&mut current));
            if in_fence {
                current.push_str("```diff\n");
            }
        }
        if line.starts_with("```") {
            in_fence = !in_fence;
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            if i == 0 {
                format!("{p}\n_Part 1 of {n}._\n")
            } else {
                format!(
                    "<!-- herald:plan project={} part={} -->\n{p}\n_Part {} of {n}._\n",
                    doc.project,
                    i + 1,
                    i + 1
                )
            }
        })
        .collect()
}
