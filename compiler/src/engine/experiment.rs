//! A/B tests: which group a contact is in (a stable hash, the same in the
//! forecast, the runner and journey tests) and which variant won.

use crate::ast::ExperimentMetric;
use crate::model::Experiment;
use std::collections::BTreeMap;

/// A stable hash (FNV-1a), so experiment groups are the same every run.
pub fn bucket(contact: &str, salt: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.bytes().chain([0u8]).chain(contact.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The group of one contact in one experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group<'e> {
    /// The control group: receives nothing.
    Holdout,
    /// In the test, with this variant's message.
    Test(&'e str),
    /// After the test: receives the winner.
    Rest,
}

/// The group of `contact` in `e`. `salt` names the experiment (a campaign's
/// or a scenario step's address), so two experiments split independently.
pub fn assign<'e>(e: &'e Experiment, contact: &str, salt: &str) -> Group<'e> {
    let b = bucket(contact, salt) % 10_000;
    let holdout = u64::from(e.holdout.min(100)) * 100;
    if b < holdout {
        return Group::Holdout;
    }
    let rest_space = 10_000 - holdout;
    let test = u64::from(e.test_size.unwrap_or(100).min(100)) * rest_space / 100;
    if b - holdout >= test {
        return Group::Rest;
    }
    // Within the test group, by split.
    let total: u64 = e.variants.iter().map(|v| u64::from(v.split)).sum::<u64>().max(1);
    let pick = bucket(contact, &format!("{salt}/variant")) % total;
    let mut acc = 0;
    for v in &e.variants {
        acc += u64::from(v.split);
        if pick < acc {
            return Group::Test(v.message.as_str());
        }
    }
    e.variants
        .last()
        .map_or(Group::Holdout, |v| Group::Test(v.message.as_str()))
}

/// What a variant's sends did, for choosing the winner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VariantStats {
    pub sent: u64,
    pub opened: u64,
    pub clicked: u64,
    pub converted: u64,
}

impl VariantStats {
    /// The rate of the metric, as a fraction `(numerator, denominator)`.
    fn rate(&self, metric: ExperimentMetric) -> (u64, u64) {
        let n = match metric {
            ExperimentMetric::Open => self.opened,
            ExperimentMetric::Click => self.clicked,
            ExperimentMetric::Conversion => self.converted,
        };
        (n, self.sent)
    }
}

/// The winning variant's message: the best rate of the experiment's metric,
/// the first variant on a tie or without data (it is the control by
/// convention). Rates are compared exactly, as fractions.
pub fn winner<'e>(e: &'e Experiment, stats: &BTreeMap<String, VariantStats>) -> Option<&'e str> {
    let mut best: Option<(&str, (u64, u64))> = None;
    for v in &e.variants {
        let (n, d) = stats.get(&v.message).copied().unwrap_or_default().rate(e.metric);
        let better = match best {
            None => true,
            // n/d > bn/bd, without division; a variant with no sends never wins.
            Some((_, (bn, bd))) => {
                d > 0 && (bd == 0 || u128::from(n) * u128::from(bd) > u128::from(bn) * u128::from(d))
            }
        };
        if better {
            best = Some((v.message.as_str(), (n, d)));
        }
    }
    best.map(|(m, _)| m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Variant;
    use crate::source::Span;

    fn experiment(holdout: u32, test_size: Option<u32>) -> Experiment {
        Experiment {
            variants: vec![
                Variant {
                    message: "a".into(),
                    split: 50,
                    span: Span::default(),
                },
                Variant {
                    message: "b".into(),
                    split: 50,
                    span: Span::default(),
                },
            ],
            holdout,
            test_size,
            metric: ExperimentMetric::Click,
            decide_after: None,
            min_sample: 1000,
            span: Span::default(),
            holdout_span: None,
            test_size_span: None,
            decide_after_span: None,
        }
    }

    #[test]
    fn groups_follow_the_percentages_and_are_stable() {
        let e = experiment(10, Some(20));
        let (mut holdout, mut a, mut b, mut rest) = (0, 0, 0, 0);
        for i in 0..20_000 {
            let id = format!("c{i}");
            let g = assign(&e, &id, "campaigns.x");
            assert_eq!(g, assign(&e, &id, "campaigns.x"), "stable");
            match g {
                Group::Holdout => holdout += 1,
                Group::Test("a") => a += 1,
                Group::Test(_) => b += 1,
                Group::Rest => rest += 1,
            }
        }
        // 10 % holdout; 20 % of the other 90 % in the test, split in two.
        assert!((1_800..2_200).contains(&holdout), "{holdout}");
        assert!((1_600..2_000).contains(&a) && (1_600..2_000).contains(&b), "{a} {b}");
        assert!((14_000..14_800).contains(&rest), "{rest}");
        // Another salt, another split.
        let moved = (0..1000)
            .filter(|i| {
                let id = format!("c{i}");
                assign(&e, &id, "campaigns.x") != assign(&e, &id, "campaigns.y")
            })
            .count();
        assert!(moved > 300, "{moved}");
    }

    #[test]
    fn the_winner_has_the_best_rate_and_ties_go_to_the_first() {
        let e = experiment(0, Some(20));
        let stats = |a: (u64, u64), b: (u64, u64)| {
            BTreeMap::from([
                (
                    "a".to_string(),
                    VariantStats {
                        sent: a.1,
                        clicked: a.0,
                        ..Default::default()
                    },
                ),
                (
                    "b".to_string(),
                    VariantStats {
                        sent: b.1,
                        clicked: b.0,
                        ..Default::default()
                    },
                ),
            ])
        };
        assert_eq!(winner(&e, &stats((10, 100), (11, 100))), Some("b"));
        assert_eq!(winner(&e, &stats((10, 100), (20, 200))), Some("a"), "a tie");
        assert_eq!(winner(&e, &stats((1, 3), (33, 100))), Some("a"), "1/3 > 33/100");
        assert_eq!(winner(&e, &BTreeMap::new()), Some("a"), "no data");
        assert_eq!(winner(&e, &stats((0, 0), (1, 100))), Some("b"), "a sent nothing");
    }
}
