//! Small typed values written as text in YAML: durations, dates, times,
//! weekdays, channels, purposes. Each parses once, at load time.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// Implements Deserialize (from text) and Serialize (as text) through FromStr/Display.
macro_rules! text_value {
    ($ty:ty, $expecting:literal) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> de::Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$ty, E> {
                        s.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

/// A length of time: `15m`, `2h`, `7d`, `2w`. Stored in minutes, at most
/// [`Duration::MAX`] (100 years): no plan needs longer, and the bound keeps
/// every date computed from a duration inside the calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    minutes: u64,
}

/// 100 years of 365.25 days, in days.
pub const MAX_DURATION_DAYS: u64 = 36_525;

impl Duration {
    pub const ZERO: Duration = Duration { minutes: 0 };
    /// The longest duration accepted: 100 years (`36525d`).
    pub const MAX: Duration = Duration {
        minutes: MAX_DURATION_DAYS * 24 * 60,
    };

    /// `None` beyond [`Duration::MAX`].
    pub fn from_minutes(minutes: u64) -> Option<Self> {
        (minutes <= Self::MAX.minutes).then_some(Duration { minutes })
    }
    pub fn minutes(self) -> u64 {
        self.minutes
    }
    pub fn as_chrono(self) -> chrono::TimeDelta {
        // Exact: MAX minutes is far inside TimeDelta's range.
        chrono::TimeDelta::try_minutes(i64::try_from(self.minutes).unwrap_or(i64::MAX))
            .unwrap_or(chrono::TimeDelta::MAX)
    }
}

pub const DURATION_HELP: &str =
    "write a number followed by a unit: `15m` (minutes), `2h` (hours), `7d` (days) or `2w` (weeks)";

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let bad = || format!("`{s}` is not a duration: {DURATION_HELP}");
        let per: u64 = match unit {
            "m" => 1,
            "h" => 60,
            "d" => 24 * 60,
            "w" => 7 * 24 * 60,
            _ => return Err(bad()),
        };
        if num.is_empty() {
            return Err(bad());
        }
        // Digits too many for a u64 are a duration too long, not a zero.
        let too_long = || {
            format!(
                "`{s}` is too long a duration: the longest is {} (100 years)",
                Duration::MAX
            )
        };
        let n: u64 = num.parse().map_err(|_| too_long())?;
        n.checked_mul(per).and_then(Duration::from_minutes).ok_or_else(too_long)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Days rather than weeks: "7d" reads like the policies people write.
        let m = self.minutes;
        const D: u64 = 24 * 60;
        if m != 0 && m.is_multiple_of(D) {
            write!(f, "{}d", m / D)
        } else if m != 0 && m.is_multiple_of(60) {
            write!(f, "{}h", m / 60)
        } else {
            write!(f, "{m}m")
        }
    }
}

text_value!(Duration, "a duration such as 15m, 2h, 7d or 2w");

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]+(m|h|d|w)$",
            "description": "A duration: a number and a unit, m (minutes), h (hours), d (days) or w (weeks); at most 100 years (36525d).",
            "examples": ["15m", "2h", "7d", "2w"]
        })
    }
}

/// A length of time in a condition (`within`, `count(e, D)`): exact —
/// `15m`, `2h`, `30d`, `2w` — or in calendar months and years — `6mo`,
/// `25y` — counted back on the calendar (`birthdate within 25y`: born on or
/// after this date 25 years ago). At most 100 years.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    Exact(Duration),
    Months(u32),
}

impl Period {
    /// The instant this long before `at` (`None`: before the calendar's start).
    pub fn before(self, at: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Period::Exact(d) => at.checked_sub_signed(d.as_chrono()),
            Period::Months(m) => at.checked_sub_months(chrono::Months::new(m)),
        }
    }
}

pub const PERIOD_HELP: &str = "write a number followed by a unit: `15m` (minutes), `2h` (hours), `7d` (days), `2w` (weeks), `6mo` (months) or `25y` (years)";

impl FromStr for Period {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let per = match unit {
            "mo" => 1u64,
            "y" => 12,
            _ => {
                return t
                    .parse()
                    .map(Period::Exact)
                    .map_err(|e: String| e.replace(DURATION_HELP, PERIOD_HELP));
            }
        };
        if num.is_empty() {
            return Err(format!("`{t}` is not a duration: {PERIOD_HELP}"));
        }
        let too_long =
            || format!("`{t}` is too long a duration: the longest is 100 years (`36525d`, `1200mo`, `100y`)");
        let n: u64 = num.parse().map_err(|_| too_long())?;
        let months = n
            .checked_mul(per)
            .filter(|m| *m <= u64::from(MAX_OFFSET_MONTHS))
            .ok_or_else(too_long)?;
        u32::try_from(months).map(Period::Months).map_err(|_| too_long())
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Exact(d) => write!(f, "{d}"),
            Period::Months(m) if m != 0 && m % 12 == 0 => write!(f, "{}y", m / 12),
            Period::Months(m) => write!(f, "{m}mo"),
        }
    }
}

/// 100 years, in months: the bound of a [`CalendarOffset`] either way.
pub const MAX_OFFSET_MONTHS: u32 = 1_200;

/// A calendar offset from a date: `-7d`, `2w`, `12mo`, `1y`; at most 100 years
/// either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CalendarOffset {
    Days(i32),
    Months(i32),
}

impl FromStr for CalendarOffset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || {
            format!(
                "`{t}` is not a date offset: write an optionally negative number and a unit, \
                 `d` (days), `w` (weeks), `mo` (months) or `y` (years), such as `-7d` or `12mo`"
            )
        };
        let (sign, body) = match t.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, t.strip_prefix('+').unwrap_or(t)),
        };
        let split = body.find(|c: char| !c.is_ascii_digit()).unwrap_or(body.len());
        let (num, unit) = body.split_at(split);
        if num.is_empty() || !["d", "w", "mo", "y"].contains(&unit) {
            return Err(bad());
        }
        let big = || {
            format!("`{t}` is too large an offset: the largest is 100 years either way (`36525d`, `1200mo`, `100y`)")
        };
        let n: i32 = num.parse().map_err(|_| big())?;
        let n = n.checked_mul(sign).ok_or_else(big)?;
        let offset = match unit {
            "d" => CalendarOffset::Days(n),
            "w" => CalendarOffset::Days(n.checked_mul(7).ok_or_else(big)?),
            "mo" => CalendarOffset::Months(n),
            _ => CalendarOffset::Months(n.checked_mul(12).ok_or_else(big)?),
        };
        let within = match offset {
            CalendarOffset::Days(d) => u64::from(d.unsigned_abs()) <= MAX_DURATION_DAYS,
            CalendarOffset::Months(m) => m.unsigned_abs() <= MAX_OFFSET_MONTHS,
        };
        if within { Ok(offset) } else { Err(big()) }
    }
}

impl fmt::Display for CalendarOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CalendarOffset::Days(d) => write!(f, "{d}d"),
            CalendarOffset::Months(m) if m != 0 && m % 12 == 0 => write!(f, "{}y", m / 12),
            CalendarOffset::Months(m) => write!(f, "{m}mo"),
        }
    }
}

text_value!(CalendarOffset, "a date offset such as -7d, 2w, 12mo or 1y");

impl JsonSchema for CalendarOffset {
    fn schema_name() -> Cow<'static, str> {
        "CalendarOffset".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[-+]?[0-9]+(d|w|mo|y)$",
            "description": "An offset from a date: a number (negative for before) and a unit, d, w, mo (months) or y (years); at most 100 years either way.",
            "examples": ["-7d", "180d", "12mo", "1y"]
        })
    }
}

/// A wall-clock date and time without a zone: read in each contact's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDateTime(pub NaiveDateTime);

impl FromStr for LocalDateTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        for fmt in [
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d %H:%M:%S",
        ] {
            if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
                return Ok(LocalDateTime(dt));
            }
        }
        if t.ends_with('Z') || t.rfind(['+']).is_some_and(|i| i > 10) {
            return Err(format!(
                "`{t}` has a time zone: write the local time without it (`2026-11-27T10:00`); \
                 it is read in each contact's time zone"
            ));
        }
        Err(format!(
            "`{t}` is not a date and time: write `YYYY-MM-DDTHH:MM`, such as `2026-11-27T10:00`"
        ))
    }
}

impl fmt::Display for LocalDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M"))
    }
}

text_value!(LocalDateTime, "a date and time such as 2026-11-27T10:00");

impl JsonSchema for LocalDateTime {
    fn schema_name() -> Cow<'static, str> {
        "LocalDateTime".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?$",
            "description": "A local date and time, without time zone: it is read in each contact's time zone.",
            "examples": ["2026-11-27T10:00"]
        })
    }
}

/// A time of day, `HH:MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(pub NaiveTime);

impl FromStr for TimeOfDay {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t == "24:00" {
            return Ok(TimeOfDay(NaiveTime::MIN));
        }
        NaiveTime::parse_from_str(t, "%H:%M")
            .map(TimeOfDay)
            .map_err(|_| format!("`{t}` is not a time of day: write `HH:MM`, such as `08:00`"))
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

text_value!(TimeOfDay, "a time of day such as 08:00");

impl JsonSchema for TimeOfDay {
    fn schema_name() -> Cow<'static, str> {
        "TimeOfDay".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$",
            "description": "A time of day, HH:MM (24-hour clock).",
            "examples": ["08:00", "20:30"]
        })
    }
}

/// A date, `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

impl FromStr for Date {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(Date)
            .map_err(|_| format!("`{t}` is not a date: write `YYYY-MM-DD`"))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// A channel a message is sent on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Push,
    /// An outbound phone call (a script for an agent or a voice provider).
    Call,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Email, Channel::Sms, Channel::Push, Channel::Call];
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
            Channel::Call => "call",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a message is sent: marketing needs consent and counts against caps;
/// transactional and service messages answer the contact's own request or contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Marketing,
    Transactional,
    Service,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [Purpose::Marketing, Purpose::Transactional, Purpose::Service];
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Marketing => "marketing",
            Purpose::Transactional => "transactional",
            Purpose::Service => "service",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A day of the week, by its first three letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub fn to_chrono(self) -> chrono::Weekday {
        match self {
            Weekday::Mon => chrono::Weekday::Mon,
            Weekday::Tue => chrono::Weekday::Tue,
            Weekday::Wed => chrono::Weekday::Wed,
            Weekday::Thu => chrono::Weekday::Thu,
            Weekday::Fri => chrono::Weekday::Fri,
            Weekday::Sat => chrono::Weekday::Sat,
            Weekday::Sun => chrono::Weekday::Sun,
        }
    }
}

/// Public-holiday calendars the timing rules know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HolidayCalendar {
    /// Metropolitan France: 11 public holidays, Easter-based ones computed.
    #[serde(rename = "FR")]
    Fr,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_canonically() {
        assert_eq!("15m".parse::<Duration>().unwrap().minutes(), 15);
        assert_eq!("2h".parse::<Duration>().unwrap().minutes(), 120);
        assert_eq!("7d".parse::<Duration>().unwrap().to_string(), "7d");
        assert_eq!("2w".parse::<Duration>().unwrap().to_string(), "14d");
        assert_eq!("48h".parse::<Duration>().unwrap().to_string(), "2d");
        assert!("2x".parse::<Duration>().is_err());
        assert!("d".parse::<Duration>().is_err());
        assert!("-1d".parse::<Duration>().is_err());
        assert!("99999999999999999999w".parse::<Duration>().is_err());
    }

    #[test]
    fn durations_are_bounded_to_100_years() {
        assert_eq!("36525d".parse::<Duration>(), Ok(Duration::MAX));
        assert_eq!(Duration::MAX.to_string(), "36525d");
        for long in ["36526d", "97000000d", "5218w", "52596001m"] {
            let e = long.parse::<Duration>().unwrap_err();
            assert!(e.contains("too long a duration") && e.contains("36525d"), "{long}: {e}");
        }
        // Used to wrap to `0m` in conditions.
        let e = "18446744073709551616m".parse::<Duration>().unwrap_err();
        assert!(e.contains("too long"), "{e}");
        assert_eq!(Duration::from_minutes(Duration::MAX.minutes() + 1), None);
        // The largest duration is exact in chrono.
        assert_eq!(Duration::MAX.as_chrono(), chrono::TimeDelta::days(36_525));
    }

    #[test]
    fn calendar_offsets_are_bounded_to_100_years() {
        assert_eq!("-100y".parse::<CalendarOffset>(), Ok(CalendarOffset::Months(-1200)));
        assert_eq!("36525d".parse::<CalendarOffset>(), Ok(CalendarOffset::Days(36_525)));
        for far in ["101y", "-1201mo", "36526d", "5218w", "99999999999d", "-2147483648d"] {
            let e = far.parse::<CalendarOffset>().unwrap_err();
            assert!(e.contains("too large an offset"), "{far}: {e}");
        }
    }

    #[test]
    fn periods_take_calendar_months_and_years() {
        assert_eq!("25y".parse::<Period>(), Ok(Period::Months(300)));
        assert_eq!("6mo".parse::<Period>().unwrap().to_string(), "6mo");
        assert_eq!("24mo".parse::<Period>().unwrap().to_string(), "2y");
        assert_eq!("30d".parse::<Period>().unwrap().to_string(), "30d");
        assert!("101y".parse::<Period>().unwrap_err().contains("too long"));
        assert!("3x".parse::<Period>().unwrap_err().contains("`25y` (years)"));
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-31T10:00:00Z")
            .unwrap()
            .to_utc();
        // Calendar-aware: a month before 31 March is 28 February.
        assert_eq!(
            Period::Months(1).before(at).unwrap().to_rfc3339(),
            "2026-02-28T10:00:00+00:00"
        );
        assert_eq!(
            Period::Months(300).before(at).unwrap().to_rfc3339(),
            "2001-03-31T10:00:00+00:00"
        );
    }

    #[test]
    fn calendar_offsets() {
        assert_eq!("-7d".parse::<CalendarOffset>(), Ok(CalendarOffset::Days(-7)));
        assert_eq!("12mo".parse::<CalendarOffset>(), Ok(CalendarOffset::Months(12)));
        assert_eq!("1y".parse::<CalendarOffset>().unwrap().to_string(), "1y");
        assert!("7".parse::<CalendarOffset>().is_err());
    }

    #[test]
    fn local_date_times() {
        let dt: LocalDateTime = "2026-11-27T10:00".parse().unwrap();
        assert_eq!(dt.to_string(), "2026-11-27T10:00");
        assert!(
            "2026-11-27T10:00Z"
                .parse::<LocalDateTime>()
                .unwrap_err()
                .contains("time zone")
        );
        assert!("2026-13-27T10:00".parse::<LocalDateTime>().is_err());
    }

    #[test]
    fn times_of_day() {
        assert_eq!("08:00".parse::<TimeOfDay>().unwrap().to_string(), "08:00");
        assert!("8h".parse::<TimeOfDay>().is_err());
    }
}
