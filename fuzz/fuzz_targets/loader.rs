//! Any bytes as a plan file: compiling and rendering never panic.
#![no_main]

use herald_compiler::diagnostic::{render_human, render_json};
use herald_compiler::{SourceFile, SourceKind, SourceSet};
use libfuzzer_sys::fuzz_target;

const CONFIG: &str = "[project]\nname = \"fuzz\"\ntimezone = \"Europe/Paris\"\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut set = SourceSet::new();
    set.add(SourceFile::new("herald.toml", SourceKind::Config, CONFIG));
    set.add(SourceFile::new("plan.yaml", SourceKind::Yaml, text));
    set.add(SourceFile::new(
        "templates/a.mjml",
        SourceKind::Template,
        "<mjml>{{ contact.x }}</mjml>",
    ));
    let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
    let c = herald_compiler::compile(&set, now, &Default::default());
    let _ = render_json::render(&c.diagnostics, &set);
    let _ = render_human::render(&c.diagnostics, &set, Default::default());
});
