//! Public holidays and sending windows. Pure functions of dates, so the
//! compiler (checking campaign times) and the runtime (deferring sends) agree.

use crate::ast::values::{Channel, HolidayCalendar, Purpose, Weekday};
use crate::model::{Policies, SendWindow};
use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime};

/// Gregorian Easter Sunday (anonymous Gregorian / Meeus–Jones–Butcher).
pub fn easter(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// The public holidays of a year (Code du travail L3133-1 for France), sorted, distinct.
pub fn holidays(calendar: HolidayCalendar, year: i32) -> Vec<NaiveDate> {
    match calendar {
        HolidayCalendar::Fr => {
            let mut days: Vec<NaiveDate> = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
                .iter()
                .filter_map(|&(m, d)| NaiveDate::from_ymd_opt(year, m, d))
                .collect();
            if let Some(e) = easter(year) {
                // Easter Monday, Ascension Thursday, Whit Monday.
                for offset in [1, 39, 50] {
                    if let Some(d) = e.checked_add_days(Days::new(offset)) {
                        days.push(d);
                    }
                }
            }
            days.sort();
            days.dedup();
            days
        }
    }
}

pub fn is_holiday(calendar: HolidayCalendar, date: NaiveDate) -> bool {
    holidays(calendar, date.year()).contains(&date)
}

/// Where a channel's windows come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowSource {
    /// `policies.quiet_hours` lists windows for the channel.
    Policy,
    /// Herald's built-in default for the channel (French practice).
    Default(&'static str),
    /// No restriction.
    None,
}

/// A window that allows sending on some days between two times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub days: Vec<Weekday>,
    pub from: NaiveTime,
    /// Exclusive; 00:00 means midnight at the end of the day.
    pub to: NaiveTime,
    pub holidays: Option<HolidayCalendar>,
}

impl From<&SendWindow> for Window {
    fn from(w: &SendWindow) -> Self {
        Window {
            days: w.days.clone(),
            from: w.from,
            to: w.to,
            holidays: w.holidays,
        }
    }
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

const WEEKDAYS: [Weekday; 5] = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];

/// The strict French marketing-SMS window: Mon–Fri 08:00–20:00, Sat
/// 10:00–18:00, never on Sundays and public holidays (research §2.3).
pub fn default_sms_windows() -> Vec<Window> {
    vec![
        Window {
            days: WEEKDAYS.to_vec(),
            from: hm(8, 0),
            to: hm(20, 0),
            holidays: Some(HolidayCalendar::Fr),
        },
        Window {
            days: vec![Weekday::Sat],
            from: hm(10, 0),
            to: hm(18, 0),
            holidays: Some(HolidayCalendar::Fr),
        },
    ]
}

/// Code de la consommation D223-9: calls Mon–Fri 10:00–13:00 and 14:00–20:00,
/// never on public holidays.
pub fn default_call_windows() -> Vec<Window> {
    vec![
        Window {
            days: WEEKDAYS.to_vec(),
            from: hm(10, 0),
            to: hm(13, 0),
            holidays: Some(HolidayCalendar::Fr),
        },
        Window {
            days: WEEKDAYS.to_vec(),
            from: hm(14, 0),
            to: hm(20, 0),
            holidays: Some(HolidayCalendar::Fr),
        },
    ]
}

/// Marketing push (practice): not before 08:00, not after 21:00, not at
/// weekends, not on public holidays.
pub fn default_push_windows() -> Vec<Window> {
    vec![Window {
        days: WEEKDAYS.to_vec(),
        from: hm(8, 0),
        to: hm(21, 0),
        holidays: Some(HolidayCalendar::Fr),
    }]
}

/// Whether a window written for `written` (`None`: marketing) applies to
/// messages of `purpose`.
pub fn purpose_applies(written: Option<Purpose>, purpose: Purpose) -> bool {
    written.unwrap_or(Purpose::Marketing) == purpose
}

/// The windows that apply to messages of a channel and purpose, and where
/// they come from: the windows of `policies.quiet_hours` for that channel
/// and purpose (a window without `purpose` is for marketing); without any,
/// Herald's defaults for marketing (SMS, push, calls), and no window for
/// transactional and service messages — an urgent message is never held
/// back unless a window names its purpose.
pub fn windows_for(policies: &Policies, channel: Channel, purpose: Purpose) -> (Vec<Window>, WindowSource) {
    let from_policy: Vec<Window> = policies
        .quiet_hours
        .iter()
        .filter(|w| w.channel == channel && purpose_applies(w.purpose, purpose))
        .map(Window::from)
        .collect();
    if !from_policy.is_empty() {
        return (from_policy, WindowSource::Policy);
    }
    if purpose != Purpose::Marketing {
        return (Vec::new(), WindowSource::None);
    }
    match channel {
        Channel::Sms => (
            default_sms_windows(),
            WindowSource::Default("the strict French SMS window"),
        ),
        Channel::Call => (
            default_call_windows(),
            WindowSource::Default("the D223-9 calling hours"),
        ),
        Channel::Push => (
            default_push_windows(),
            WindowSource::Default("the practice's push hours, weekdays 08:00–21:00 outside public holidays"),
        ),
        Channel::Email => (Vec::new(), WindowSource::None),
    }
}

/// Whether a time of day is allowed on at least one day of the week (a
/// date trigger's day varies from contact to contact; its time does not).
pub fn allowed_some_day(windows: &[Window], t: NaiveTime) -> bool {
    windows.is_empty()
        || windows
            .iter()
            .any(|w| !w.days.is_empty() && t >= w.from && (w.to == NaiveTime::MIN || t < w.to))
}

/// The windows in words: "mon–fri 08:00–20:00, sat 10:00–18:00 (no public holidays)".
pub fn describe(windows: &[Window]) -> String {
    let days = |ds: &[Weekday]| -> String {
        let all = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ];
        let idx: Vec<usize> = all
            .iter()
            .enumerate()
            .filter(|(_, d)| ds.contains(d))
            .map(|(i, _)| i)
            .collect();
        let name = |i: usize| format!("{:?}", all[i]).to_lowercase();
        let contiguous = idx.windows(2).all(|w| w[1] == w[0] + 1);
        match (idx.first(), idx.last()) {
            (Some(&a), Some(&b)) if contiguous && b > a + 1 => format!("{}–{}", name(a), name(b)),
            _ => idx.iter().map(|&i| name(i)).collect::<Vec<_>>().join(", "),
        }
    };
    let to = |t: NaiveTime| {
        if t == NaiveTime::MIN {
            "24:00".to_string()
        } else {
            t.format("%H:%M").to_string()
        }
    };
    let parts: Vec<String> = windows
        .iter()
        .map(|w| format!("{} {}–{}", days(&w.days), w.from.format("%H:%M"), to(w.to)))
        .collect();
    let holidays = if windows.iter().any(|w| w.holidays.is_some()) {
        " (no public holidays)"
    } else {
        ""
    };
    format!("{}{holidays}", parts.join(", "))
}

fn weekday(d: NaiveDate) -> Weekday {
    match d.weekday() {
        chrono::Weekday::Mon => Weekday::Mon,
        chrono::Weekday::Tue => Weekday::Tue,
        chrono::Weekday::Wed => Weekday::Wed,
        chrono::Weekday::Thu => Weekday::Thu,
        chrono::Weekday::Fri => Weekday::Fri,
        chrono::Weekday::Sat => Weekday::Sat,
        chrono::Weekday::Sun => Weekday::Sun,
    }
}

impl Window {
    fn day_ok(&self, d: NaiveDate) -> bool {
        self.days.contains(&weekday(d)) && !self.holidays.is_some_and(|c| is_holiday(c, d))
    }

    fn contains(&self, at: NaiveDateTime) -> bool {
        let t = at.time();
        let to_ok = self.to == NaiveTime::MIN || t < self.to;
        self.day_ok(at.date()) && t >= self.from && to_ok
    }
}

/// Whether a local time is inside one of the windows (no windows: always).
pub fn allowed(windows: &[Window], at: NaiveDateTime) -> bool {
    windows.is_empty() || windows.iter().any(|w| w.contains(at))
}

/// When the window holding local time `at` opened that day (the earliest,
/// if several hold it); `None` outside every window.
pub fn window_start(windows: &[Window], at: NaiveDateTime) -> Option<NaiveDateTime> {
    windows
        .iter()
        .filter(|w| w.contains(at))
        .map(|w| at.date().and_time(w.from))
        .min()
}

/// The first allowed local time at or after `at`, within a year.
pub fn next_allowed(windows: &[Window], at: NaiveDateTime) -> Option<NaiveDateTime> {
    if allowed(windows, at) {
        return Some(at);
    }
    let mut best: Option<NaiveDateTime> = None;
    for w in windows {
        for i in 0..370u64 {
            let Some(d) = at.date().checked_add_days(Days::new(i)) else {
                break;
            };
            if !w.day_ok(d) {
                continue;
            }
            let start = d.and_time(w.from);
            let candidate = if start >= at {
                Some(start)
            } else if w.contains(at) {
                Some(at)
            } else {
                None
            };
            if let Some(c) = candidate {
                best = Some(best.map_or(c, |b| b.min(c)));
                break;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    #[test]
    fn the_window_holding_a_time_opened_at_its_start_that_day() {
        let calls = default_call_windows();
        assert_eq!(
            window_start(&calls, dt("2026-11-27T10:00")),
            Some(dt("2026-11-27T10:00"))
        );
        assert_eq!(
            window_start(&calls, dt("2026-11-27T12:59")),
            Some(dt("2026-11-27T10:00"))
        );
        assert_eq!(
            window_start(&calls, dt("2026-11-27T19:30")),
            Some(dt("2026-11-27T14:00"))
        );
        assert_eq!(window_start(&calls, dt("2026-11-27T13:30")), None, "lunch");
        assert_eq!(window_start(&calls, dt("2026-11-28T11:00")), None, "Saturday");
        assert_eq!(window_start(&[], dt("2026-11-27T11:00")), None);
    }

    /// The official metropolitan dates (research §7.5, from calendrier.api.gouv.fr).
    #[test]
    fn french_holidays_match_the_official_list() {
        let official: &[(i32, &str)] = &[
            (
                2005,
                "01-01 03-28 05-01 05-05 05-08 05-16 07-14 08-15 11-01 11-11 12-25",
            ),
            (
                2006,
                "01-01 04-17 05-01 05-08 05-25 06-05 07-14 08-15 11-01 11-11 12-25",
            ),
            (
                2007,
                "01-01 04-09 05-01 05-08 05-17 05-28 07-14 08-15 11-01 11-11 12-25",
            ),
            (2008, "01-01 03-24 05-01 05-08 05-12 07-14 08-15 11-01 11-11 12-25"),
            (
                2024,
                "01-01 04-01 05-01 05-08 05-09 05-20 07-14 08-15 11-01 11-11 12-25",
            ),
            (
                2025,
                "01-01 04-21 05-01 05-08 05-29 06-09 07-14 08-15 11-01 11-11 12-25",
            ),
            (
                2026,
                "01-01 04-06 05-01 05-08 05-14 05-25 07-14 08-15 11-01 11-11 12-25",
            ),
            (
                2027,
                "01-01 03-29 05-01 05-06 05-08 05-17 07-14 08-15 11-01 11-11 12-25",
            ),
            (
                2028,
                "01-01 04-17 05-01 05-08 05-25 06-05 07-14 08-15 11-01 11-11 12-25",
            ),
        ];
        for (year, dates) in official {
            let expected: Vec<NaiveDate> = dates.split(' ').map(|md| d(&format!("{year}-{md}"))).collect();
            assert_eq!(holidays(HolidayCalendar::Fr, *year), expected, "{year}");
        }
        assert_eq!(easter(2029), Some(d("2029-04-01")));
        assert_eq!(easter(2031), Some(d("2031-04-13")));
    }

    /// Research §7.6 vectors for calls (D223-9) and marketing SMS.
    #[test]
    fn windows() {
        let call = default_call_windows();
        assert!(allowed(&call, dt("2026-05-12T12:59")));
        assert!(!allowed(&call, dt("2026-05-12T13:00")), "upper bounds are exclusive");
        assert!(!allowed(&call, dt("2026-05-14T11:00")), "Ascension");
        assert!(!allowed(&call, dt("2026-05-25T11:00")), "Whit Monday");
        assert!(!allowed(&call, dt("2026-05-16T11:00")), "Saturday");
        let sms = default_sms_windows();
        assert!(!allowed(&sms, dt("2026-06-07T10:00")), "Sunday");
        assert!(allowed(&sms, dt("2026-06-06T10:30")), "Saturday 10:30");
        assert!(!allowed(&sms, dt("2026-06-06T09:00")), "Saturday 09:00, strict");
        assert!(!allowed(&sms, dt("2026-05-01T10:00")), "1 May");
        assert!(allowed(&sms, dt("2026-11-27T19:59")));
        assert!(!allowed(&sms, dt("2026-11-27T20:00")));
        let push = default_push_windows();
        assert!(allowed(&push, dt("2026-11-27T20:59")));
        assert!(!allowed(&push, dt("2026-11-27T21:00")), "not after 21:00");
        assert!(!allowed(&push, dt("2026-11-27T07:59")), "not before 08:00");
        assert!(!allowed(&push, dt("2026-11-29T12:00")), "not on Sundays");
        assert!(!allowed(&push, dt("2026-11-28T12:00")), "not on Saturdays");
        assert!(!allowed(&push, dt("2026-11-11T12:00")), "not on 11 November");
    }

    #[test]
    fn windows_without_purpose_are_for_marketing() {
        use crate::model::SendWindow;
        let mut p = Policies::default();
        // Defaults hold back marketing only.
        assert!(!windows_for(&p, Channel::Sms, Purpose::Marketing).0.is_empty());
        assert!(windows_for(&p, Channel::Sms, Purpose::Transactional).0.is_empty());
        assert!(windows_for(&p, Channel::Push, Purpose::Service).0.is_empty());
        assert!(windows_for(&p, Channel::Call, Purpose::Transactional).0.is_empty());
        let window = |purpose| SendWindow {
            channel: Channel::Sms,
            purpose,
            days: vec![Weekday::Mon],
            from: hm(9, 0),
            to: hm(10, 0),
            holidays: None,
            span: Default::default(),
        };
        p.quiet_hours = vec![window(None), window(Some(Purpose::Transactional))];
        let (w, src) = windows_for(&p, Channel::Sms, Purpose::Marketing);
        assert_eq!((w.len(), src), (1, WindowSource::Policy));
        let (w, src) = windows_for(&p, Channel::Sms, Purpose::Transactional);
        assert_eq!((w.len(), src), (1, WindowSource::Policy));
        assert_eq!(windows_for(&p, Channel::Sms, Purpose::Service).1, WindowSource::None);
    }

    #[test]
    fn times_of_day_and_words() {
        let sms = default_sms_windows();
        assert!(allowed_some_day(&sms, hm(9, 0)));
        assert!(allowed_some_day(&sms, hm(19, 59)));
        assert!(!allowed_some_day(&sms, hm(22, 0)));
        assert!(!allowed_some_day(&sms, hm(7, 0)));
        assert!(allowed_some_day(&[], hm(3, 0)));
        assert_eq!(
            describe(&sms),
            "mon–fri 08:00–20:00, sat 10:00–18:00 (no public holidays)"
        );
    }

    #[test]
    fn next_allowed_slot() {
        let sms = default_sms_windows();
        // Saturday 19:00 → Monday 08:00.
        assert_eq!(next_allowed(&sms, dt("2026-11-28T19:00")), Some(dt("2026-11-30T08:00")));
        // Thursday 30 April 21:00 → 1 May is a holiday, Saturday 2 May 10:00.
        assert_eq!(next_allowed(&sms, dt("2026-04-30T21:00")), Some(dt("2026-05-02T10:00")));
        assert_eq!(next_allowed(&sms, dt("2026-11-27T09:15")), Some(dt("2026-11-27T09:15")));
        assert_eq!(next_allowed(&[], dt("2026-11-29T03:00")), Some(dt("2026-11-29T03:00")));
    }

    #[test]
    fn dst_days_have_no_special_case_in_local_time() {
        // Windows are local wall-clock times: the DST change days of
        // Europe/Paris (29 March, 25 October 2026) behave like any Sunday.
        let sms = default_sms_windows();
        assert!(!allowed(&sms, dt("2026-03-29T10:00")));
        assert_eq!(next_allowed(&sms, dt("2026-10-25T12:00")), Some(dt("2026-10-26T08:00")));
    }
}
