//! The settings of `herald.toml` (providers, `[run]`, the CRM…) are deployed
//! like the objects: the runner uses those of the last apply, never the
//! working tree's. A change to them alone is a change to apply, named by
//! section (`providers.email`, `run`), never by value: a host or a
//! credential's variable name is not for a pull-request comment.

use crate::state::{State, StateError};
use herald_compiler::config::{self, CONFIG_FILE, Config};
use herald_compiler::{FileId, SourceFile, SourceKind};
use serde_json::Value;

/// The sections of the working `herald.toml` (its text) that differ from the
/// deployed settings, sorted; empty before any apply (everything is
/// created then) or when none differs. Either side that does not load
/// counts as all changed.
pub fn changed(state: Option<&State>, working: &str) -> Result<Vec<String>, StateError> {
    let Some(files) = state.map(State::deployed_sources).transpose()?.flatten() else {
        return Ok(Vec::new());
    };
    let deployed = files
        .into_iter()
        .find_map(|(path, text)| (path == CONFIG_FILE).then_some(text))
        .unwrap_or_default();
    Ok(between(&deployed, working))
}

/// The sections that differ between two texts of `herald.toml`.
pub fn between(deployed: &str, working: &str) -> Vec<String> {
    match (parse(deployed), parse(working)) {
        (Some(d), Some(w)) => differences(&d, &w),
        _ => vec![CONFIG_FILE.to_string()],
    }
}

/// `herald.toml`'s settings from its text, if they load without error.
pub fn parse(text: &str) -> Option<Config> {
    let file = SourceFile::new(CONFIG_FILE, SourceKind::Config, text);
    let mut diagnostics = Vec::new();
    let config = config::load(FileId(0), &file, &mut diagnostics)?;
    (!diagnostics.iter().any(herald_compiler::Diagnostic::is_error)).then_some(config)
}

/// The sections that differ: top-level ones, and each provider by channel.
pub fn differences(before: &Config, after: &Config) -> Vec<String> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) = (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return vec![CONFIG_FILE.to_string()];
    };
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for key in keys {
        let (x, y) = (a.get(key), b.get(key));
        if x == y {
            continue;
        }
        match (key.as_str(), x, y) {
            ("providers", Some(Value::Object(px)), Some(Value::Object(py))) => {
                let channels: std::collections::BTreeSet<&String> = px.keys().chain(py.keys()).collect();
                for c in channels.into_iter().filter(|c| px.get(*c) != py.get(*c)) {
                    out.push(format!("providers.{c}"));
                }
            }
            // `project_name` is `[project] name`; the rest are named as in the file.
            ("project_name" | "timezone" | "currency" | "locale", ..) => {
                out.push(format!("project.{}", key.trim_start_matches("project_")));
            }
            _ => out.push(key.clone()),
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        parse(text).unwrap_or_else(|| panic!("does not load: {text}"))
    }

    const BASE: &str = "[project]\nname = \"shop\"\ntimezone = \"Europe/Paris\"\n\n[providers.email]\nkind = \"file\"\nfrom = \"news@shop.example\"\n\n[providers.sms]\nkind = \"file\"\n";

    #[test]
    fn the_same_settings_differ_in_nothing() {
        assert!(differences(&config(BASE), &config(BASE)).is_empty());
        // Layout and comments are not settings.
        let spaced = format!("# the shop\n{}", BASE.replace(" = ", "="));
        assert!(differences(&config(BASE), &config(&spaced)).is_empty());
    }

    #[test]
    fn a_provider_is_named_by_channel_and_never_by_value() {
        let smtp = BASE.replacen(
            "[providers.email]\nkind = \"file\"\n",
            "[providers.email]\nkind = \"smtp\"\nhost = \"mail.internal.example\"\nport = 2525\n",
            1,
        );
        let said = differences(&config(BASE), &config(&smtp));
        assert_eq!(said, ["providers.email"]);
    }

    #[test]
    fn sections_are_named_as_in_the_file() {
        let other = format!(
            "{}\n[run]\nworkers = 8\n",
            BASE.replace("Europe/Paris", "America/Guadeloupe")
        );
        assert_eq!(differences(&config(BASE), &config(&other)), ["project.timezone", "run"]);
    }

    #[test]
    fn settings_that_do_not_load_count_as_changed() {
        assert!(parse("[project\nname = ").is_none());
        assert_eq!(between("[project\nname = ", BASE), [CONFIG_FILE]);
        assert_eq!(between(BASE, "[project\nname = "), [CONFIG_FILE]);
        assert!(between(BASE, BASE).is_empty());
    }
}
