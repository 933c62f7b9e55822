//! The condition parser never panics, and what it accepts round-trips: the
//! canonical rendering of a parsed condition parses to the same rendering.
#![no_main]

use herald_compiler::expr::parse_condition;
use herald_compiler::source::FileId;
use herald_compiler::yaml::scalar::ScalarMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let map = ScalarMap::new(text, text, 0);
    if let Ok(expr) = parse_condition(text, &map, FileId(0)) {
        let canonical = expr.to_string();
        let map2 = ScalarMap::new(&canonical, &canonical, 0);
        let again = parse_condition(&canonical, &map2, FileId(0)).expect("canonical form must parse");
        assert_eq!(again.to_string(), canonical);
    }
});
