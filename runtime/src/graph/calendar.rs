//! The calendar view: the campaigns in time order, grouped by program, with
//! their local time and channels, and today's date from the pinned clock.

use super::channel_name;
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use herald_compiler::ast::values::Channel;
use herald_compiler::model::{Delivery, Plan};

#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub program: String,
    /// Local wall-clock time (read in each contact's time zone).
    pub at: NaiveDateTime,
    pub channels: Vec<Channel>,
    pub experiment: bool,
}

impl Entry {
    /// "09:00 · Email A/B".
    pub fn when_and_how(&self) -> String {
        let mut s = format!("{} · {}", self.at.format("%H:%M"), self.channels_text());
        if self.experiment {
            s.push_str(" A/B");
        }
        s
    }

    pub fn channels_text(&self) -> String {
        if self.channels.is_empty() {
            return channel_name(None).to_string();
        }
        self.channels
            .iter()
            .map(|c| channel_name(Some(*c)))
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

/// A day and its campaigns.
pub type Day<'a> = (NaiveDate, Vec<&'a Entry>);
/// A week (its Monday) and its days with campaigns.
pub type Week<'a> = (NaiveDate, Vec<Day<'a>>);

#[derive(Clone, Debug)]
pub struct Calendar {
    /// Sorted by time, then name.
    pub entries: Vec<Entry>,
    pub today: Option<NaiveDateTime>,
}

/// How far apart the ticks of a time axis are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    Day,
    Week,
    Month,
}

impl Calendar {
    /// The first and last instants shown (campaigns and today).
    pub fn span(&self) -> Option<(NaiveDateTime, NaiveDateTime)> {
        let times = self.entries.iter().map(|e| e.at).chain(self.today);
        let min = times.clone().min()?;
        let max = times.max()?;
        Some((min, max))
    }

    /// One tick a day over two weeks at most, a week up to five months,
    /// a month beyond: labels never repeat and never crowd.
    pub fn tick(&self) -> Tick {
        let days = self.span().map_or(0, |(a, b)| (b - a).num_days());
        match days {
            0..=14 => Tick::Day,
            15..=150 => Tick::Week,
            _ => Tick::Month,
        }
    }

    /// Entries grouped by program, programs in the order of their first campaign.
    pub fn by_program(&self) -> Vec<(&str, Vec<&Entry>)> {
        let mut out: Vec<(&str, Vec<&Entry>)> = Vec::new();
        for e in &self.entries {
            match out.iter_mut().find(|(p, _)| *p == e.program) {
                Some((_, list)) => list.push(e),
                None => out.push((&e.program, vec![e])),
            }
        }
        out
    }

    /// Entries grouped by day, in order.
    pub fn by_day(&self) -> Vec<Day<'_>> {
        let mut out: Vec<Day<'_>> = Vec::new();
        for e in &self.entries {
            match out.last_mut() {
                Some((d, list)) if *d == e.at.date() => list.push(e),
                _ => out.push((e.at.date(), vec![e])),
            }
        }
        out
    }

    /// Days grouped by ISO week (Monday first), with today's week kept even
    /// when it has no campaign: the rows of a wall calendar.
    pub fn weeks(&self) -> Vec<Week<'_>> {
        let monday = monday_of;
        let mut weeks: Vec<Week<'_>> = Vec::new();
        for (day, list) in self.by_day() {
            let m = monday(day);
            match weeks.last_mut() {
                Some((w, days)) if *w == m => days.push((day, list)),
                _ => weeks.push((m, vec![(day, list)])),
            }
        }
        if let Some(t) = self.today {
            let m = monday(t.date());
            if !weeks.iter().any(|(w, _)| *w == m) {
                let at = weeks.iter().position(|(w, _)| *w > m).unwrap_or(weeks.len());
                weeks.insert(at, (m, Vec::new()));
            }
        }
        weeks
    }
}

pub fn calendar(plan: &Plan, today: Option<NaiveDateTime>) -> Calendar {
    let mut entries: Vec<Entry> = plan
        .campaigns
        .iter()
        .map(|(name, c)| {
            let mut channels: Vec<Channel> = c
                .delivery
                .messages()
                .iter()
                .filter_map(|m| plan.messages.get(*m).map(|m| m.channel()))
                .collect();
            channels.sort();
            channels.dedup();
            Entry {
                name: name.clone(),
                program: c.program.clone(),
                at: c.send_at,
                channels,
                experiment: matches!(c.delivery, Delivery::Experiment(_)),
            }
        })
        .collect();
    entries.sort_by(|a, b| (a.at, &a.name).cmp(&(b.at, &b.name)));
    Calendar { entries, today }
}

/// "Fri 27 Nov 2026".
pub fn day_label(d: NaiveDate) -> String {
    d.format("%a %d %b %Y").to_string()
}

/// The note drawn instead of an empty calendar.
pub const NO_CAMPAIGNS: &str = "No scheduled campaigns";

/// The Monday of a date's week.
pub fn monday_of(d: NaiveDate) -> NaiveDate {
    d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday()))
}

#[cfg(test)]
mod tests {
    use super::{Calendar, Entry, Tick};
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32) -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(9, 0, 0).unwrap()
    }

    fn cal(days: &[(i32, u32, u32)], today: Option<chrono::NaiveDateTime>) -> Calendar {
        let entries = days
            .iter()
            .enumerate()
            .map(|(i, (y, m, d))| Entry {
                name: format!("c{i}"),
                program: "p".into(),
                at: at(*y, *m, *d),
                channels: Vec::new(),
                experiment: false,
            })
            .collect();
        Calendar { entries, today }
    }

    #[test]
    fn ticks_grow_with_the_span_so_labels_never_repeat_or_crowd() {
        assert_eq!(cal(&[(2026, 11, 27)], Some(at(2026, 11, 20))).tick(), Tick::Day);
        assert_eq!(cal(&[(2026, 11, 27), (2026, 12, 15)], None).tick(), Tick::Week);
        assert_eq!(cal(&[(2026, 11, 27)], Some(at(2026, 1, 2))).tick(), Tick::Month);
    }

    #[test]
    fn weeks_start_on_monday_and_keep_the_week_of_today() {
        let c = cal(
            &[(2026, 11, 27), (2026, 11, 28), (2026, 12, 15)],
            Some(at(2026, 11, 20)),
        );
        let weeks = c.weeks();
        let mondays: Vec<String> = weeks.iter().map(|(m, _)| m.to_string()).collect();
        assert_eq!(mondays, ["2026-11-16", "2026-11-23", "2026-12-14"]);
        assert!(weeks[0].1.is_empty());
        assert_eq!(weeks[1].1.len(), 2, "two days in the week of the 23rd");
    }
}
