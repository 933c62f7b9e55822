//! Deterministic synthetic contacts for a plan's contact model.
//!
//! The same model, seed, count and reference date always give the same bytes.
//! No real personal data: emails are under the reserved `.test` domain and
//! phone numbers are in the range ARCEP reserves for fiction (+33 6 39 98 xx xx).
//!
//! CSV layout (read by the embedded CRM): `id`, one column per field (lists
//! joined with `|`, dates `YYYY-MM-DD`, datetimes RFC 3339 in UTC, empty for
//! a missing optional value), then per consent `consent_NAME` (`true`/`false`)
//! and `consent_NAME_at` (date of the opt-in, empty when not given).

use chrono::{Duration, NaiveDate, NaiveTime};
use herald_compiler::ast::ScalarType;
use herald_compiler::ast::values::Channel;
use herald_compiler::model::{ContactModel, FieldType};
use std::io::Write;

use herald_compiler::rng::SplitMix64 as Rng;

const FIRST_NAMES: &[&str] = &[
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Inès",
    "Zoé",
    "Hélène",
    "Noémie",
    "Anaïs",
    "Maëlle",
    "Lucas",
    "Hugo",
    "Louis",
    "Gabriel",
    "Arthur",
    "Jules",
    "Clément",
    "Théo",
    "Raphaël",
    "Noël",
    "Adèle",
    "Océane",
    "Jérôme",
    "François",
    "Yasmine",
    "Karim",
    "Sofia",
    "Mathis",
    "Élodie",
    "Bastien",
    "Joséphine",
    "Aurélien",
];
const LAST_NAMES: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
    "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard",
];
const CITIES: &[&str] = &[
    "Paris",
    "Lyon",
    "Marseille",
    "Toulouse",
    "Nice",
    "Nantes",
    "Montpellier",
    "Strasbourg",
    "Bordeaux",
    "Lille",
    "Rennes",
    "Saint-Étienne",
    "Aix-en-Provence",
    "Besançon",
];
const INTERESTS: &[&str] = &[
    "shoes",
    "bags",
    "dresses",
    "jackets",
    "accessories",
    "jewelry",
    "sneakers",
    "knitwear",
];
const CAR_MODELS: &[&str] = &[
    "Clio", "208", "Golf", "C3", "Megane", "Zoe", "Yaris", "Captur", "3008", "Sandero", "Polo", "Model 3", "Kangoo",
];
const FEATURES: &[&str] = &[
    "invoices",
    "quotes",
    "reminders",
    "bank_sync",
    "exports",
    "recurring",
    "multi_currency",
];
const OTHER_ZONES: &[&str] = &[
    "Europe/London",
    "America/Montreal",
    "Indian/Reunion",
    "America/Guadeloupe",
    "Europe/Brussels",
];

pub struct Options<'a> {
    pub count: u64,
    pub seed: u64,
    /// The reference date: "recent" and "upcoming" values are relative to it.
    pub as_of: NaiveDate,
    pub timezone: &'a str,
}

pub fn header(model: &ContactModel) -> Vec<String> {
    let mut h = vec!["id".to_string()];
    h.extend(model.fields.keys().cloned());
    for name in model.consents.keys() {
        h.push(format!("consent_{name}"));
        h.push(format!("consent_{name}_at"));
    }
    h
}

pub fn write_csv<W: Write>(model: &ContactModel, opts: &Options, out: W) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(header(model))?;
    let mut row: Vec<String> = Vec::new();
    for i in 0..opts.count {
        // One stream per row: the first N rows do not depend on the count.
        let mut rng = Rng::new(opts.seed ^ (i.wrapping_add(1)).wrapping_mul(0xA24B_AED4_963E_E407));
        row.clear();
        row.push(format!("c{:07}", i + 1));
        let first = rng.pick(FIRST_NAMES);
        let last = rng.pick(LAST_NAMES);
        for (name, field) in &model.fields {
            let optional_missing = field.optional && rng.chance(15);
            let value = if optional_missing {
                String::new()
            } else {
                let mut v = value(&mut rng, name, &field.ty, opts, (first, last, i));
                // A `charset: gsm7` field holds only GSM-7 ("Noël" is "Noel").
                if field.charset == herald_compiler::ast::Charset::Gsm7 {
                    v = herald_compiler::sms::transliterate(&v);
                }
                match field.max_length {
                    Some(max) => v.chars().take(max as usize).collect(),
                    None => v,
                }
            };
            row.push(value);
        }
        for consent in model.consents.values() {
            let p = match consent.channel {
                Channel::Email => 65,
                Channel::Sms => 40,
                Channel::Push => 30,
                Channel::Call => 20,
            };
            let given = rng.chance(p);
            row.push(given.to_string());
            row.push(if given {
                past_date(&mut rng, opts.as_of, 3 * 365).to_string()
            } else {
                String::new()
            });
        }
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

fn past_date(rng: &mut Rng, as_of: NaiveDate, max_days: u64) -> NaiveDate {
    shift(as_of, -(rng.below(max_days) as i64))
}

/// `as_of` moved by `days`, or `as_of` itself at the ends of the calendar
/// (`HERALD_NOW` can be any date chrono reads): checked, never a panic.
fn shift(as_of: NaiveDate, days: i64) -> NaiveDate {
    as_of.checked_add_signed(Duration::days(days)).unwrap_or(as_of)
}

fn datetime(rng: &mut Rng, date: NaiveDate) -> String {
    let secs = rng.below(24 * 3600) as u32;
    let t = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap_or(NaiveTime::MIN);
    format!("{}T{}Z", date.format("%Y-%m-%d"), t.format("%H:%M:%S"))
}

fn ascii_lower(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c => c.to_ascii_lowercase(),
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

fn is_future(name: &str) -> bool {
    ["next", "renewal", "end", "expires", "due", "until"]
        .iter()
        .any(|k| name.contains(k))
}

fn value(rng: &mut Rng, name: &str, ty: &FieldType, opts: &Options, person: (&str, &str, u64)) -> String {
    let (first, last, index) = person;
    let n = name.to_ascii_lowercase();
    match ty {
        FieldType::Email => format!("{}.{}{}@example.test", ascii_lower(first), ascii_lower(last), index + 1),
        FieldType::Phone => format!("+3363998{:04}", rng.below(10_000)),
        FieldType::String if n.contains("first") => first.to_string(),
        FieldType::String if n.contains("last") || n == "name" || n.contains("surname") => last.to_string(),
        FieldType::String if n.contains("city") || n.contains("town") => rng.pick(CITIES).to_string(),
        FieldType::String if n.contains("company") || n.contains("account") => {
            format!(
                "{} {}",
                rng.pick(&["Atelier", "Studio", "Groupe", "Société", "Maison"]),
                rng.pick(LAST_NAMES)
            )
        }
        FieldType::String if n.contains("model") || n.contains("vehicle") || n.contains("car") => {
            rng.pick(CAR_MODELS).to_string()
        }
        FieldType::String if n.contains("plate") => {
            let l = |r: &mut Rng| (b'A' + r.below(26) as u8) as char;
            format!("{}{}-{:03}-{}{}", l(rng), l(rng), rng.below(1000), l(rng), l(rng))
        }
        FieldType::String => format!("{} {}", name.replace('_', " "), rng.below(1000)),
        FieldType::Enum { values } => {
            // Skewed towards the first values, as real distributions are.
            let len = values.len().max(1) as u64;
            let i = (rng.below(len) * rng.below(len + 1) / len) as usize;
            values.get(i).cloned().unwrap_or_default()
        }
        FieldType::Number => {
            let v = if ["spent", "revenue", "amount", "value", "mrr", "arr", "price"]
                .iter()
                .any(|k| n.contains(k))
            {
                // Roughly exponential, mean ~350.
                -350.0 * (1.0 - rng.unit()).ln()
            } else if n.contains("score") || n.contains("rate") {
                rng.unit() * 100.0
            } else {
                rng.unit() * 1000.0
            };
            format!("{v:.2}")
        }
        FieldType::Integer => {
            let v = if n.contains("mileage") || n.contains("km") {
                rng.below(220_000)
            } else if n.contains("seat") || n.contains("user") {
                1 + rng.below(60)
            } else if n.contains("year") {
                2005 + rng.below(21)
            } else {
                // Geometric-ish small counts.
                let mut k = 0;
                while k < 30 && rng.chance(60) {
                    k += 1;
                }
                k
            };
            v.to_string()
        }
        FieldType::Boolean => rng.chance(25).to_string(),
        FieldType::Date if n.contains("birth") => {
            let year = 1950 + rng.below(58) as i32;
            let day = 1 + rng.below(365) as u32;
            NaiveDate::from_yo_opt(year, day)
                .map(|d| d.to_string())
                .unwrap_or_default()
        }
        FieldType::Date if is_future(&n) => shift(opts.as_of, rng.below(365) as i64).to_string(),
        FieldType::Date => past_date(rng, opts.as_of, 3 * 365).to_string(),
        FieldType::Datetime if is_future(&n) => {
            let days = rng.below(365) as i64;
            datetime(rng, shift(opts.as_of, days))
        }
        FieldType::Datetime => {
            // Recent activity is more frequent than old activity.
            let days = (rng.unit() * rng.unit() * 730.0) as i64;
            datetime(rng, shift(opts.as_of, -days))
        }
        FieldType::Timezone => {
            if rng.chance(90) {
                opts.timezone.to_string()
            } else {
                rng.pick(OTHER_ZONES).to_string()
            }
        }
        FieldType::List { of } => {
            let k = rng.below(4) as usize;
            let mut items: Vec<String> = Vec::new();
            for _ in 0..k {
                let item = match of {
                    ScalarType::String if n.contains("feature") => rng.pick(FEATURES).to_string(),
                    ScalarType::String => rng.pick(INTERESTS).to_string(),
                    ScalarType::Integer => rng.below(100).to_string(),
                    ScalarType::Number => format!("{:.2}", rng.unit() * 100.0),
                    ScalarType::Boolean => rng.chance(50).to_string(),
                    ScalarType::Date => past_date(rng, opts.as_of, 365).to_string(),
                    _ => format!("item{}", rng.below(100)),
                };
                if !items.contains(&item) {
                    items.push(item);
                }
            }
            items.join("|")
        }
    }
    .chars()
    .filter(|c| !c.is_control())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_compiler::model::Field;

    fn model() -> ContactModel {
        let mut m = ContactModel::default();
        let f = |ty, optional, max_length| Field {
            ty,
            optional,
            max_length,
            description: None,
            charset: Default::default(),
            span: Default::default(),
        };
        m.fields.insert("email".into(), f(FieldType::Email, false, None));
        m.fields
            .insert("first_name".into(), f(FieldType::String, true, Some(5)));
        m.fields.insert(
            "region".into(),
            f(
                FieldType::Enum {
                    values: vec!["IDF".into(), "PACA".into()],
                },
                false,
                None,
            ),
        );
        m
    }

    fn generate(count: u64, seed: u64) -> String {
        let opts = Options {
            count,
            seed,
            as_of: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            timezone: "Europe/Paris",
        };
        let mut out = Vec::new();
        write_csv(&model(), &opts, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn deterministic_and_prefix_stable() {
        assert_eq!(generate(50, 7), generate(50, 7));
        assert_ne!(generate(50, 7), generate(50, 8));
        let ten: Vec<String> = generate(10, 7).lines().map(String::from).collect();
        let twenty: Vec<String> = generate(20, 7).lines().take(11).map(String::from).collect();
        assert_eq!(ten, twenty);
    }

    #[test]
    fn respects_the_model() {
        let csv = generate(200, 1);
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let headers = r.headers().unwrap().clone();
        assert_eq!(
            headers.iter().collect::<Vec<_>>(),
            ["id", "email", "first_name", "region"]
        );
        for rec in r.records() {
            let rec = rec.unwrap();
            assert!(rec[1].ends_with("@example.test"));
            assert!(rec[2].chars().count() <= 5);
            assert!(["IDF", "PACA"].contains(&&rec[3]));
        }
    }

    #[test]
    fn dates_at_the_ends_of_the_calendar_do_not_panic() {
        let mut m = model();
        for (name, ty) in [
            ("renewal_on", FieldType::Date),
            ("seen_on", FieldType::Date),
            ("next_visit_at", FieldType::Datetime),
            ("last_seen_at", FieldType::Datetime),
        ] {
            let field = Field {
                ty,
                optional: false,
                max_length: None,
                description: None,
                charset: Default::default(),
                span: Default::default(),
            };
            m.fields.insert(name.into(), field);
        }
        for as_of in [NaiveDate::MIN, NaiveDate::MAX] {
            let opts = Options {
                count: 20,
                seed: 1,
                as_of,
                timezone: "Europe/Paris",
            };
            let mut out = Vec::new();
            write_csv(&m, &opts, &mut out).unwrap();
        }
    }
}
