//! The environment file's `schedule` block, read and checked here, where the schedule lives.
//!
//! [`RawSchedule`] is the block as written (the environment loader deserializes it);
//! [`check`] turns it into a [`Schedule`] or says what is wrong, naming the key. The loader
//! places each [`Problem`] at its `file:line:column`: this crate knows the block, not the file.

use crate::{ics_dates, parse_date, parse_time, parse_weekday, Schedule};
use jiff::tz::TimeZone;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::time::Duration;

/// The default `runs_every`: CircleCI's hourly scheduled pipelines, on the hour.
const DEFAULT_RUNS_EVERY: Duration = Duration::from_secs(3600);
/// The shortest `runs_every`: a scheduled run takes minutes, and each reads the live state.
const MIN_RUNS_EVERY: Duration = Duration::from_secs(5 * 60);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// The `schedule` block as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// IANA zone name.
    pub timezone: String,
    /// Local `HH:MM`.
    pub unpark_at: String,
    /// Local `HH:MM`.
    pub park_at: String,
    /// Working weekdays (`mon`..`sun`); Monday to Friday when absent.
    #[serde(default)]
    pub days: Option<Vec<String>>,
    /// `YYYY-MM-DD` dates.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// iCalendar files, relative to the environment file.
    #[serde(default)]
    pub holiday_files: Vec<String>,
    /// Gone (scheduled runs converge): kept only to say so at its line.
    #[serde(default)]
    pub window: Option<String>,
    /// How often the scheduled runs are triggered.
    #[serde(default)]
    pub runs_every: Option<String>,
}

/// What is wrong with the block: the key (within the block) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key in the `schedule` block (`"park_at"`).
    pub key: &'static str,
    /// Why, in words.
    pub message: String,
    /// True when only the schedule is unusable (a holiday file that cannot be read): the
    /// environment file stays valid for everything else.
    pub schedule_only: bool,
}

/// The block checked: the schedule (none when a problem that is not `schedule_only` was
/// found) and every problem.
#[derive(Debug)]
pub struct Checked {
    /// The schedule, when the block is valid (it may still have `schedule_only` problems).
    pub schedule: Option<Schedule>,
    /// What is wrong, in the order found.
    pub problems: Vec<Problem>,
}

/// Checks the block. `read_holiday_file` reads a `holiday_files` entry (resolved against the
/// environment file by the caller): its path as shown in messages and its text, or why not.
pub fn check(
    raw: RawSchedule,
    mut read_holiday_file: impl FnMut(&str) -> Result<(String, String), String>,
) -> Checked {
    let mut problems = Vec::new();
    let mut problem = |key: &'static str, message: String| {
        problems.push(Problem {
            key,
            message,
            schedule_only: false,
        })
    };
    let timezone = match TimeZone::get(&raw.timezone) {
        Ok(tz) => tz,
        Err(_) => {
            problem(
                "timezone",
                format!(
                    "unknown time zone \"{}\": expected an IANA name such as \"Europe/London\"",
                    raw.timezone
                ),
            );
            TimeZone::UTC
        }
    };
    let mut time = |key: &'static str, text: &str| {
        parse_time(text).or_else(|| {
            problem(
                key,
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
            Some(d) if days.contains(&d) => {
                problem("days", format!("`days` names \"{day}\" twice"))
            }
            Some(d) => days.push(d),
            None => problem(
                "days",
                format!(
                    "unknown day \"{day}\" in `days`: expected mon, tue, wed, thu, fri, sat or sun"
                ),
            ),
        }
    }
    if days_text.is_empty() {
        problem(
            "days",
            "`days` is empty: the environment would never be unparked".to_owned(),
        );
    }
    let mut holidays = BTreeSet::new();
    for text in &raw.holidays {
        match parse_date(text) {
            Some(d) => {
                holidays.insert(d);
            }
            None => problem(
                "holidays",
                format!("holiday \"{text}\" is not a date YYYY-MM-DD"),
            ),
        }
    }
    let mut schedule_only = Vec::new();
    for file in &raw.holiday_files {
        let dates = read_holiday_file(file).and_then(|(path, text)| {
            ics_dates(&text).map_err(|e| format!("{path}:{}: {}", e.line, e.message))
        });
        match dates {
            Ok(dates) => holidays.extend(dates),
            // Only the schedule depends on it: the other tools, and park's runs by hand,
            // still work.
            Err(message) => schedule_only.push(Problem {
                key: "holiday_files",
                message: format!("holiday file \"{file}\": {message}"),
                schedule_only: true,
            }),
        }
    }
    if raw.window.is_some() {
        problem(
            "window",
            "`window` is gone: scheduled runs now converge to the schedule on every run (a missed run is caught up by the next), so no window decides when they act; declare how often they are triggered instead (`runs_every = \"1h\"`, the default)".to_owned(),
        );
    }
    let runs_every = match raw.runs_every.as_deref().map(humantime::parse_duration) {
        None => DEFAULT_RUNS_EVERY,
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            problem(
                "runs_every",
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
        problem(
            "runs_every",
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
    if problems.is_empty() {
        let now = jiff::Timestamp::now();
        for (key, time) in [("unpark_at", unpark_at), ("park_at", park_at)] {
            let Some(time) = time else { continue };
            if let Some(offset) = grid.off_grid(time, now) {
                problems.push(Problem {
                    key,
                    message: format!(
                        "`{key}` \"{}\" is never the time of a scheduled run triggered every {} from midnight UTC (at UTC{offset} in {}): the run after it would always be late; choose a time on that grid or change `runs_every`",
                        time.strftime("%H:%M"),
                        humantime::format_duration(runs_every),
                        raw.timezone
                    ),
                    schedule_only: false,
                });
            }
        }
    }
    if let (Some(unpark), Some(park)) = (unpark_at, park_at) {
        let seconds = |t: jiff::civil::Time| {
            u64::from(t.hour().unsigned_abs()) * 3600 + u64::from(t.minute().unsigned_abs()) * 60
        };
        let forward = (seconds(park) + DAY.as_secs() - seconds(unpark)) % DAY.as_secs();
        if forward == 0 {
            problems.push(Problem {
                key: "park_at",
                message: "`park_at` equals `unpark_at`: the environment would be parked and unparked at once".to_owned(),
                schedule_only: false,
            });
        }
    }
    let schedule = match (problems.is_empty(), unpark_at, park_at) {
        (true, Some(unpark_at), Some(park_at)) => Some(Schedule {
            timezone,
            unpark_at,
            park_at,
            days,
            holidays,
            runs_every,
        }),
        _ => None,
    };
    problems.extend(schedule_only);
    Checked { schedule, problems }
}
