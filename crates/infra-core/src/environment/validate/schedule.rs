//! The `schedule` block: the park schedule in the team's time zone and calendar.

use super::{KeyPath, Validator};
use crate::environment::raw::RawSchedule;
use crate::schedule::{ics_dates, parse_date, parse_time, parse_weekday, Schedule};
use jiff::tz::TimeZone;
use std::path::Path;
use std::time::Duration;

/// The default `window`: an hourly scheduled run on the hour lands in it.
const DEFAULT_WINDOW: Duration = Duration::from_secs(55 * 60);
/// The shortest `window`: scheduled runs are hourly or every 30 minutes.
const MIN_WINDOW: Duration = Duration::from_secs(30 * 60);
const DAY: Duration = Duration::from_secs(24 * 3600);

impl Validator<'_, '_> {
    pub(super) fn schedule(
        &mut self,
        env: &KeyPath,
        raw: Option<RawSchedule>,
        base: &Path,
    ) -> Option<Schedule> {
        let raw = raw?;
        let p = env.key("schedule");
        let before = self.problems.len();
        let timezone = match TimeZone::get(&raw.timezone) {
            Ok(tz) => tz,
            Err(_) => {
                self.problem(
                    &p.key("timezone"),
                    format!(
                        "unknown time zone \"{}\": expected an IANA name such as \"Europe/London\"",
                        raw.timezone
                    ),
                );
                TimeZone::UTC
            }
        };
        let mut time = |key: &str, text: &str| {
            parse_time(text).or_else(|| {
                self.problem(
                    &p.key(key),
                    format!(
                        "`{key}` \"{text}\" is not a local time HH:MM (24-hour, such as \"07:00\")"
                    ),
                );
                None
            })
        };
        let unpark_at = time("unpark_at", &raw.unpark_at);
        let park_at = time("park_at", &raw.park_at);
        let days_text = raw.days.unwrap_or_else(|| {
            ["mon", "tue", "wed", "thu", "fri"]
                .map(str::to_owned)
                .to_vec()
        });
        let mut days = Vec::new();
        for day in &days_text {
            match parse_weekday(day) {
                Some(d) if days.contains(&d) => self.problem(
                    &p.key("days"),
                    format!("`days` names \"{day}\" twice"),
                ),
                Some(d) => days.push(d),
                None => self.problem(
                    &p.key("days"),
                    format!("unknown day \"{day}\" in `days`: expected mon, tue, wed, thu, fri, sat or sun"),
                ),
            }
        }
        if days_text.is_empty() {
            self.problem(
                &p.key("days"),
                "`days` is empty: the environment would never be unparked",
            );
        }
        let mut holidays = std::collections::BTreeSet::new();
        for text in &raw.holidays {
            match parse_date(text) {
                Some(d) => {
                    holidays.insert(d);
                }
                None => self.problem(
                    &p.key("holidays"),
                    format!("holiday \"{text}\" is not a date YYYY-MM-DD"),
                ),
            }
        }
        for file in &raw.holiday_files {
            let path = super::normalize(&base.join(file));
            let dates = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
                .and_then(|text| {
                    ics_dates(&text)
                        .map_err(|e| format!("{}:{}: {}", path.display(), e.line, e.message))
                });
            match dates {
                Ok(dates) => holidays.extend(dates),
                Err(message) => self.problem(
                    &p.key("holiday_files"),
                    format!("holiday file \"{file}\": {message}"),
                ),
            }
        }
        let window = match raw.window.as_deref().map(humantime::parse_duration) {
            None => DEFAULT_WINDOW,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                self.problem(
                    &p.key("window"),
                    format!(
                        "`window` \"{}\" is not a duration such as \"55m\": {e}",
                        raw.window.as_deref().unwrap_or_default()
                    ),
                );
                DEFAULT_WINDOW
            }
        };
        if window < MIN_WINDOW {
            self.problem(
                &p.key("window"),
                format!(
                    "`window` {} is shorter than the 30 minutes between scheduled runs (hourly or every 30 minutes): a run could miss the time",
                    humantime::format_duration(window)
                ),
            );
        }
        if let (Some(unpark), Some(park)) = (unpark_at, park_at) {
            let seconds = |t: jiff::civil::Time| {
                u64::from(t.hour().unsigned_abs()) * 3600
                    + u64::from(t.minute().unsigned_abs()) * 60
            };
            let forward = (seconds(park) + DAY.as_secs() - seconds(unpark)) % DAY.as_secs();
            let gap = Duration::from_secs(forward.min(DAY.as_secs() - forward));
            if gap.is_zero() {
                self.problem(
                    &p.key("park_at"),
                    "`park_at` equals `unpark_at`: the environment would be parked and unparked at once",
                );
            } else if window >= gap {
                self.problem(
                    &p.key("window"),
                    format!(
                        "`window` {} is not shorter than the {} between `unpark_at` and `park_at`: one run could be within both",
                        humantime::format_duration(window),
                        humantime::format_duration(gap)
                    ),
                );
            }
        }
        if self.problems.len() > before {
            return None;
        }
        Some(Schedule {
            timezone,
            unpark_at: unpark_at?,
            park_at: park_at?,
            days,
            holidays,
            window,
        })
    }
}
