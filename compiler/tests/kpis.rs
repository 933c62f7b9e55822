//! KPI targets have one unit: rates are percentages (0 to 100, `25` is 25 %),
//! revenue an amount. Out of range is `schema/invalid-value` (YAML refuses `.nan`).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use herald_compiler::{Code, SourceFile, SourceKind, SourceSet};

fn diagnostics(kpis: &str) -> Vec<herald_compiler::Diagnostic> {
    let mut set = SourceSet::new();
    set.add(SourceFile::new(
        "herald.toml",
        SourceKind::Config,
        "[project]\nname = \"t\"\ntimezone = \"Europe/Paris\"\n",
    ));
    set.add(SourceFile::new(
        "plan.yaml",
        SourceKind::Yaml,
        format!("programs:\n  p:\n    objective: Sell.\n    kpis:\n{kpis}"),
    ));
    let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap();
    herald_compiler::compile(&set, now, &Default::default())
        .diagnostics
        .into_iter()
        .filter(|d| d.code == Code::SchemaInvalidValue)
        .collect()
}

#[test]
fn rate_targets_are_percentages_from_0_to_100() {
    for bad in [
        "open_rate, target: 2500",
        "complaint_rate, target: -3",
        "revenue, target: -1",
    ] {
        let d = diagnostics(&format!("      - {{ metric: {bad} }}\n"));
        assert_eq!(d.len(), 1, "{bad}: {d:#?}");
        assert!(d[0].message.contains("the target of"), "{bad}: {}", d[0].message);
    }
    let ok = "      - { metric: open_rate, target: 45 }\n      - { metric: complaint_rate, target: 0.05 }\n      \
              - { metric: delivery_rate, target: 100 }\n      - { metric: revenue, target: 250000 }\n";
    assert!(diagnostics(ok).is_empty(), "{:#?}", diagnostics(ok));
}
