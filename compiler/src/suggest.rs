//! "Did you mean …?" for names.

/// The candidate closest to `input`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let input_lower = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        if c == input {
            continue;
        }
        let d = strsim::damerau_levenshtein(&input_lower, &c.to_lowercase());
        // A case-only difference is always a good suggestion.
        let d = if input_lower == c.to_lowercase() { 0 } else { d };
        let prefix_match = c.len() >= 3 && (c.starts_with(&input_lower) || input_lower.starts_with(c));
        if d <= limit || prefix_match {
            let score = if prefix_match { d.min(limit) } else { d };
            if best.is_none_or(|(bd, bc)| score < bd || (score == bd && c < bc)) {
                best = Some((score, c));
            }
        }
    }
    best.map(|(_, c)| c)
}

/// A help line: "did you mean `x`?", or the list of valid names when short.
pub fn help_for<'a, I>(input: &str, candidates: I, what: &str) -> Option<String>
where
    I: IntoIterator<Item = &'a str> + Clone,
{
    if let Some(s) = did_you_mean(input, candidates.clone()) {
        return Some(format!("did you mean `{s}`?"));
    }
    let mut all: Vec<&str> = candidates.into_iter().collect();
    all.sort_unstable();
    all.dedup();
    match all.len() {
        0 => None,
        1..=12 => Some(format!(
            "{what} are: {}",
            all.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
        )),
        n => Some(format!("there are {n} {what}; check the spelling")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["first_name", "last_name", "region", "total_spent"];
        assert_eq!(did_you_mean("frist_name", names), Some("first_name"));
        assert_eq!(did_you_mean("regoin", names), Some("region"));
        assert_eq!(did_you_mean("Region", names), Some("region"));
        assert_eq!(did_you_mean("zzz", names), None);
    }

    #[test]
    fn lists_valid_names_when_nothing_is_close() {
        let h = help_for("zzz", ["b", "a"], "the keys").unwrap();
        assert_eq!(h, "the keys are: `a`, `b`");
    }
}
