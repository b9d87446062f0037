//! The `schedule` block: the park schedule in the team's time zone and calendar.

use super::{KeyPath, Validator};
use crate::environment::raw::RawSchedule;
use ::schedule::{ics_dates, parse_date, parse_time, parse_weekday, Schedule};
use jiff::tz::TimeZone;
use std::path::Path;
use std::time::Duration;

/// The default `runs_every`: CircleCI's hourly scheduled pipelines, on the hour.
const DEFAULT_RUNS_EVERY: Duration = Duration::from_secs(3600);
/// The shortest `runs_every`: a scheduled run takes minutes, and each reads the live state.
const MIN_RUNS_EVERY: Duration = Duration::from_secs(5 * 60);
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
                // Only the schedule depends on it: the other tools, and park's runs by
                // hand, still work (Environment::schedule_problems).
                Err(message) => self.schedule_problem(
                    &p.key("holiday_files"),
                    format!("holiday file \"{file}\": {message}"),
                ),
            }
        }
        if raw.window.is_some() {
            self.problem(
                &p.key("window"),
                "`window` is gone: scheduled runs now converge to the schedule on every run (a missed run is caught up by the next), so no window decides when they act; declare how often they are triggered instead (`runs_every = \"1h\"`, the default)",
            );
        }
        let runs_every = match raw.runs_every.as_deref().map(crate::retry::parse_duration) {
            None => DEFAULT_RUNS_EVERY,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                self.problem(
                    &p.key("runs_every"),
                    format!(
                        "`runs_every` \"{}\" is not a duration such as \"1h\": {e}",
                        raw.runs_every.as_deref().unwrap_or_default()
                    ),
                );
                DEFAULT_RUNS_EVERY
            }
        };
        if runs_every < MIN_RUNS_EVERY
            || runs_every > DAY
            || runs_every.subsec_nanos() != 0
            || DAY.as_secs() % runs_every.as_secs().max(1) != 0
        {
            self.problem(
                &p.key("runs_every"),
                format!(
                    "`runs_every` {} must divide a day evenly and be 5 minutes to 24 hours (the scheduled runs' trigger: \"1h\" for hourly on the hour)",
                    humantime::format_duration(runs_every)
                ),
            );
        }
        let grid = Schedule {
            timezone: timezone.clone(),
            unpark_at: unpark_at.unwrap_or_default(),
            park_at: park_at.unwrap_or_default(),
            days: Vec::new(),
            holidays: Default::default(),
            runs_every,
        };
        if self.problems.len() == before {
            let now = jiff::Timestamp::now();
            for (key, time) in [("unpark_at", unpark_at), ("park_at", park_at)] {
                let Some(time) = time else { continue };
                if let Some(offset) = grid.off_grid(time, now) {
                    self.problem(
                        &p.key(key),
                        format!(
                            "`{key}` \"{}\" is never the time of a scheduled run triggered every {} from midnight UTC (at UTC{offset} in {}): the run after it would always be late; choose a time on that grid or change `runs_every`",
                            time.strftime("%H:%M"),
                            humantime::format_duration(runs_every),
                            raw.timezone
                        ),
                    );
                }
            }
        }
        if let (Some(unpark), Some(park)) = (unpark_at, park_at) {
            let seconds = |t: jiff::civil::Time| {
                u64::from(t.hour().unsigned_abs()) * 3600
                    + u64::from(t.minute().unsigned_abs()) * 60
            };
            let forward = (seconds(park) + DAY.as_secs() - seconds(unpark)) % DAY.as_secs();
            if forward == 0 {
                self.problem(
                    &p.key("park_at"),
                    "`park_at` equals `unpark_at`: the environment would be parked and unparked at once",
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
            runs_every,
        })
    }
}
