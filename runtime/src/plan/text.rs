//! The plan for people: terraform's layout (legend, one header per object,
//! changed fields only, a footer), colour only on a terminal.

use super::{PlanDoc, PlannedChange};
use herald_compiler::forecast::Impact;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
}

/// 31202 → "31,202".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn money(amount: f64, currency: &str) -> String {
    match currency {
        "EUR" => format!("€{amount:.2}"),
        "USD" => format!("${amount:.2}"),
        "GBP" => format!("£{amount:.2}"),
        other => format!("{amount:.2} {other}"),
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if s.chars().count() > 72 {
        format!("{}…", s.chars().take(71).collect::<String>())
    } else {
        s
    }
}

/// One line about who receives what.
pub fn impact_line(i: &Impact, currency: &str) -> String {
    let mut parts = Vec::new();
    if let Some(e) = i.entries {
        parts.push(format!("{} entering", thousands(e)));
    }
    let channels: Vec<String> = i
        .by_channel
        .iter()
        .map(|(c, n)| format!("{c} {}", thousands(*n)))
        .collect();
    let mut first = format!("audience {} → {} sends", thousands(i.audience), thousands(i.recipients));
    if !channels.is_empty() {
        first.push_str(&format!(" ({})", channels.join(", ")));
    }
    if i.event_triggered {
        first = format!("eligible {} (sends depend on future events)", thousands(i.audience));
    }
    parts.insert(0, first);
    let s = &i.suppressed;
    let pressure: u64 = s.pressure.values().sum();
    if s.consent + s.no_address + pressure > 0 {
        parts.push(format!(
            "suppressed: consent {}, no address {}, pressure {}",
            thousands(s.consent),
            thousands(s.no_address),
            thousands(pressure)
        ));
    }
    if s.invalid_address > 0 {
        parts.push(format!(
            "{} dropped for an invalid address",
            thousands(s.invalid_address)
        ));
    }
    if s.policy > 0 {
        parts.push(format!("{} suppressed by policies.suppress", thousands(s.policy)));
    }
    if i.deferred_quiet_hours > 0 {
        parts.push(format!("{} deferred by quiet hours", thousands(i.deferred_quiet_hours)));
    }
    if let Some(x) = &i.experiment {
        let v: Vec<String> = x
            .variants
            .iter()
            .map(|(m, n)| format!("{m} {}", thousands(*n)))
            .collect();
        parts.push(format!(
            "test {} · holdout {} · rest {}",
            v.join(" / "),
            thousands(x.holdout),
            thousands(x.rest)
        ));
    }
    if i.sms_segments > 0 {
        parts.push(format!(
            "{} SMS segments ({})",
            thousands(i.sms_segments),
            money(i.cost, currency)
        ));
    }
    parts.join(" · ")
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

fn header(c: &PlannedChange, st: &Style) -> (String, String) {
    let ch = &c.change;
    if ch.is_create() {
        (st.green("+"), format!("# {} will be created", ch.address))
    } else if ch.is_update() {
        (st.yellow("~"), format!("# {} will be updated in-place", ch.address))
    } else if ch.is_replace() {
        let flight = c
            .in_flight
            .map(|n| {
                format!(
                    "; {} contacts finish version {}",
                    thousands(n),
                    ch.version_before.unwrap_or(0)
                )
            })
            .unwrap_or_default();
        (
            st.red("-/+"),
            format!(
                "# {} must be replaced (new version {}{flight})",
                ch.address,
                ch.version_after.unwrap_or(0)
            ),
        )
    } else {
        let flight = c
            .in_flight
            .filter(|n| *n > 0)
            .map(|n| format!("; {} contacts finish it first", thousands(n)))
            .unwrap_or_default();
        (
            st.red("-"),
            format!("# {} will be deleted (not in the configuration{flight})", ch.address),
        )
    }
}

pub fn render(doc: &PlanDoc, color: bool) -> String {
    let st = Style { color };
    let mut out = String::new();
    let cur = &doc.summary.currency;
    let _ = writeln!(
        out,
        "Herald plan for {} — {} contacts read{}, forecast horizon {} days.",
        doc.project,
        thousands(doc.contacts.contacts),
        match doc.contacts.bad_rows {
            0 => String::new(),
            1 => " (1 row rejected)".to_string(),
            n => format!(" ({} rows rejected)", thousands(n)),
        },
        doc.contacts.horizon_days
    );
    let listed = |out: &mut String, what: &str, rows: &[super::RejectedRow], total: u64, more: &str| {
        for e in rows {
            let _ = writeln!(out, "  {} {} {e}", st.yellow(what), doc.contacts.file);
        }
        // Rows, not problems: a row may have several.
        let shown = rows
            .iter()
            .map(|e| e.row)
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u64;
        if total > shown {
            let _ = writeln!(out, "  … and {} more {more}", thousands(total - shown));
        }
    };
    listed(
        &mut out,
        "warning: rejected contact:",
        &doc.contacts.errors,
        doc.contacts.bad_rows,
        "rejected rows",
    );
    let invalid = doc.contacts.invalid_addresses;
    if invalid > 0 {
        let _ = writeln!(
            out,
            "  {} {} {} kept with an invalid address: forecast; nothing is sent to an address that is not valid (`invalid-address`).",
            st.yellow("warning:"),
            thousands(invalid),
            if invalid == 1 { "contact is" } else { "contacts are" },
        );
        listed(
            &mut out,
            "warning: invalid address:",
            &doc.contacts.invalid,
            invalid,
            "contacts with an invalid address",
        );
    }
    if let Some(ev) = &doc.contacts.events {
        let _ = writeln!(
            out,
            "  {} {} of {} {} read from {}{}.",
            thousands(ev.events),
            if ev.events == 1 { "event" } else { "events" },
            thousands(ev.contacts),
            if ev.contacts == 1 { "contact" } else { "contacts" },
            ev.file,
            match ev.bad_rows {
                0 => String::new(),
                1 => " (1 row rejected)".to_string(),
                n => format!(" ({} rows rejected)", thousands(n)),
            }
        );
        for e in &ev.errors {
            let _ = writeln!(out, "  {} {} {e}", st.yellow("warning: rejected event:"), ev.file);
        }
        if ev.bad_rows > ev.errors.len() as u64 {
            let _ = writeln!(
                out,
                "  … and {} more rejected rows",
                thousands(ev.bad_rows - ev.errors.len() as u64)
            );
        }
    }
    if !doc.contacts.without_history.is_empty() {
        let what = match (doc.contacts.events.is_some(), doc.contacts.engagement.is_some()) {
            (true, _) => {
                "no engagement history is read (`herald run` has sent nothing yet): `opened()` and `clicked()` are false for every contact"
            }
            (false, true) if doc.contacts.received_events.is_some() => {
                "no event history is read (`[crm] events`): `count()` counts only the events `herald run` received"
            }
            (false, true) => "no event history is read (`[crm] events`): `count()` is 0 for every contact",
            (false, false) if doc.contacts.received_events.is_some() => {
                "no event history is read: `count()` counts only the events `herald run` received, and `opened()`, `clicked()` are false for every contact"
            }
            (false, false) => {
                "no event history is read: `count()` is 0 and `opened()`, `clicked()` are false for every contact"
            }
        };
        let _ = writeln!(
            out,
            "  {} {what}, which changes the forecast of {}.",
            st.yellow("note:"),
            doc.contacts.without_history.join(", ")
        );
    }
    out.push('\n');
    let changed: Vec<&PlannedChange> = doc.changes.iter().filter(|c| !c.change.is_noop()).collect();
    let settings = &doc.summary.settings;
    if changed.is_empty() && settings.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.bold("No changes. The deployed plan matches the configuration.")
        );
    } else {
        let mut legend = Vec::new();
        if changed.iter().any(|c| c.change.is_create()) {
            legend.push(format!("  {} create", st.green("+")));
        }
        if changed.iter().any(|c| c.change.is_update()) || !settings.is_empty() {
            legend.push(format!("  {} update in-place", st.yellow("~")));
        }
        if changed.iter().any(|c| c.change.is_replace()) {
            legend.push(format!(
                "{} replace (a new version; contacts in flight finish the old one)",
                st.red("-/+")
            ));
        }
        if changed.iter().any(|c| c.change.is_delete()) {
            legend.push(format!("  {} delete", st.red("-")));
        }
        let _ = writeln!(
            out,
            "Herald will perform the following actions:\n{}\n",
            legend.join("\n")
        );
        for c in changed {
            let (sym, head) = header(c, &st);
            let ch = &c.change;
            let _ = writeln!(out, "  {}", st.bold(&head));
            if ch.name.is_empty() {
                let _ = writeln!(out, "  {sym} {}", ch.kind);
            } else {
                let _ = writeln!(out, "  {sym} {} \"{}\"", ch.kind, ch.name);
            }
            if ch.is_create() {
                if let Some(o) = doc.objects.get(&ch.address) {
                    let mut fields = Vec::new();
                    flatten("", &o.body, &mut fields);
                    fields.retain(|(_, v)| !matches!(v, Value::Null) && v != &Value::Array(Vec::new()));
                    let width = fields.iter().take(12).map(|(k, _)| k.len()).max().unwrap_or(0);
                    for (k, v) in fields.iter().take(12) {
                        let _ = writeln!(out, "      {k:<width$} = {}", short(v));
                    }
                    if fields.len() > 12 {
                        let _ = writeln!(out, "      # ({} more fields)", fields.len() - 12);
                    }
                }
            } else if !ch.is_delete() {
                for (path, f) in &ch.fields {
                    let before = f.before.as_ref().map_or("(none)".to_string(), short);
                    let after = f.after.as_ref().map_or("(none)".to_string(), short);
                    let tail = if f.forces_replace {
                        st.red("  # forces a new version")
                    } else {
                        String::new()
                    };
                    let _ = writeln!(out, "      {} {path}: {before} → {after}{tail}", st.yellow("~"));
                }
                match ch.unchanged_fields {
                    0 => {}
                    1 => {
                        let _ = writeln!(out, "      # (1 unchanged field hidden)");
                    }
                    n => {
                        let _ = writeln!(out, "      # ({n} unchanged fields hidden)");
                    }
                }
            }
            if let Some(i) = &c.impact {
                let _ = writeln!(out, "      → {}", impact_line(i, cur));
            }
            out.push('\n');
        }
        if !settings.is_empty() {
            let _ = writeln!(
                out,
                "  {}",
                st.bold("# the settings of herald.toml will be updated in-place")
            );
            let _ = writeln!(out, "  {} settings", st.yellow("~"));
            for section in settings {
                let _ = writeln!(out, "      {} {section}", st.yellow("~"));
            }
            let _ = writeln!(
                out,
                "      # `herald run` uses them from its next start (values not shown)\n"
            );
        }
    }
    // The forecast of everything that sends, changed or not.
    let impacts: BTreeMap<&str, &Impact> = doc
        .changes
        .iter()
        .filter_map(|c| c.impact.as_ref().map(|i| (c.change.address.as_str(), i)))
        .collect();
    if !impacts.is_empty() {
        let _ = writeln!(out, "Forecast on {} contacts:", thousands(doc.contacts.contacts));
        let width = impacts.keys().map(|k| k.len()).max().unwrap_or(0);
        for (addr, i) in impacts {
            let _ = writeln!(out, "  {addr:<width$}  {}", impact_line(i, cur));
        }
        out.push('\n');
    }
    for g in &doc.guards {
        let mark = match g.status {
            super::GuardStatus::Fail => st.red("✗ guard failed:"),
            super::GuardStatus::Accepted => st.yellow("! guard failed, accepted:"),
            super::GuardStatus::Pass => st.green("✓ guard:"),
        };
        let _ = writeln!(out, "{mark} {} ({})", g.message, g.code);
    }
    let s = &doc.summary;
    let _ = writeln!(
        out,
        "{} {} to create, {} to update, {} to delete{}. {} recipients, {} SMS segments ({}).",
        st.bold("Plan:"),
        s.to_create(),
        s.update,
        s.to_delete(),
        match s.settings.is_empty() {
            true => "",
            false => ", settings to update",
        },
        thousands(s.recipients),
        thousands(s.sms_segments),
        money(s.cost, cur)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(31202), "31,202");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(money(577.8, "EUR"), "€577.80");
        assert_eq!(money(1.0, "CHF"), "1.00 CHF");
    }
}
