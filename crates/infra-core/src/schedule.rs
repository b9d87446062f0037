//! The park schedule: when the environment is parked and unparked, on the team's clock and
//! calendar (the environment file's optional `schedule` block).
//!
//! Times are local wall-clock times in an IANA time zone, from jiff with the tz database
//! bundled in the binary (the same rules on every machine, whatever its `/usr/share/zoneinfo`;
//! new rules arrive with a toolkit release). A local time that does not exist (in a DST gap)
//! or exists twice (in a fold) is resolved as jiff's `compatible` disambiguation does (as
//! RFC 5545 and Temporal): a time in a gap moves forward by the gap's length (01:30 on
//! Europe/London's spring-forward day is 02:30 BST), a time in a fold is its first, earlier
//! occurrence.
//!
//! Unparking happens on working days (a weekday in `days` that is not a holiday) at
//! `unpark_at`; parking on every day at `park_at` (a non-working day stays parked). A
//! scheduled run acts only within `window` after the time: an hourly run decides by
//! itself whether this hour is the one, and a person who unparks by hand at 21:00 is not
//! parked again before the next `park_at`.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Zoned};

pub use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::Duration;

/// The environment variable that sets the time a decision is made at, for tests.
pub const TEST_NOW_ENV: &str = "INFRA_TEST_NOW";

/// How far ahead and back the schedule looks for the next or previous time (more than a
/// year of holidays cannot hide every working day).
const HORIZON_DAYS: i32 = 400;

/// The `schedule` block, validated.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The time zone (from its IANA name: [`Schedule::zone`]).
    pub timezone: TimeZone,
    /// Local time of the unpark on working days.
    pub unpark_at: Time,
    /// Local time of the park, every day.
    pub park_at: Time,
    /// Working weekdays (Monday first).
    pub days: Vec<Weekday>,
    /// Non-working dates, from `holidays` and `holiday_files`.
    pub holidays: BTreeSet<Date>,
    /// How long after a scheduled time a scheduled run still acts.
    pub window: Duration,
}

/// Park or unpark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `park down`.
    Park,
    /// `park up`.
    Unpark,
}

/// What a scheduled run does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// The scheduled time has passed and is within the window: act.
    Act,
    /// No scheduled time within the window: nothing to do.
    NotDue,
    /// The unpark time is within the window, but today is a holiday: stay parked.
    Holiday,
    /// The unpark time is within the window, but today is not a working weekday.
    Weekend,
}

impl Decision {
    /// The JSON / text name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Act => "act",
            Decision::NotDue => "not-due",
            Decision::Holiday => "holiday",
            Decision::Weekend => "weekend",
        }
    }
}

/// What the schedule expects the environment to be at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expected {
    /// The last scheduled event was a park.
    Parked,
    /// The last scheduled event was an unpark.
    Unparked,
}

/// A scheduled run's decision and where it stands in the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// What to do.
    pub decision: Decision,
    /// The scheduled time the decision is about (within the window), if any.
    pub scheduled: Option<Zoned>,
    /// Now, in the schedule's time zone.
    pub local_time: Zoned,
    /// The next scheduled park after now.
    pub next_park: Option<Zoned>,
    /// The next scheduled unpark after now (skipping holidays and non-working days).
    pub next_unpark: Option<Zoned>,
}

impl Schedule {
    /// Whether `date` is a working day: a weekday in `days` and not a holiday.
    pub fn working(&self, date: Date) -> bool {
        self.days.contains(&date.weekday()) && !self.holidays.contains(&date)
    }

    /// The instant of `time` on `date` in the schedule's zone (gap and fold resolved
    /// `compatible`: see the module).
    pub fn at(&self, date: Date, time: Time) -> Zoned {
        date.to_datetime(time)
            .to_zoned(self.timezone.clone())
            .expect("a date within jiff's range")
    }

    fn time_of(&self, action: Action) -> Time {
        match action {
            Action::Park => self.park_at,
            Action::Unpark => self.unpark_at,
        }
    }

    /// Whether `action` is scheduled on `date` at all (unpark only on working days).
    fn scheduled_on(&self, action: Action, date: Date) -> bool {
        action == Action::Park || self.working(date)
    }

    /// What a scheduled `action` run at `now` does. Today's time and yesterday's are
    /// considered (a window can cross midnight); the first within the window decides.
    pub fn decide(&self, action: Action, now: Timestamp) -> Due {
        let local_time = now.to_zoned(self.timezone.clone());
        let window = SignedDuration::try_from(self.window).unwrap_or(SignedDuration::MAX);
        let today = local_time.date();
        let mut decision = Decision::NotDue;
        let mut scheduled = None;
        for date in [Some(today), today.yesterday().ok()].into_iter().flatten() {
            let at = self.at(date, self.time_of(action));
            let start = at.timestamp();
            if start <= now && now.duration_since(start) < window {
                decision = if self.scheduled_on(action, date) {
                    Decision::Act
                } else if self.holidays.contains(&date) {
                    Decision::Holiday
                } else {
                    Decision::Weekend
                };
                scheduled = Some(at);
                break;
            }
        }
        Due {
            decision,
            scheduled,
            next_park: self.next(Action::Park, now),
            next_unpark: self.next(Action::Unpark, now),
            local_time,
        }
    }

    /// The first scheduled `action` strictly after `after`.
    pub fn next(&self, action: Action, after: Timestamp) -> Option<Zoned> {
        self.nearest(action, after, true)
    }

    /// The last scheduled `action` at or before `at`.
    pub fn previous(&self, action: Action, at: Timestamp) -> Option<Zoned> {
        self.nearest(action, at, false)
    }

    /// The time zone's IANA name (`Europe/London`).
    pub fn zone(&self) -> &str {
        self.timezone.iana_name().unwrap_or("UTC")
    }

    /// Walks the days from the one before (`forward`) or after `from`'s local date, for
    /// the first scheduled `action` after `from` (forward) or at or before it.
    fn nearest(&self, action: Action, from: Timestamp, forward: bool) -> Option<Zoned> {
        let step = |d: Date| if forward { d.tomorrow() } else { d.yesterday() };
        let today = from.to_zoned(self.timezone.clone()).date();
        let mut date = if forward {
            today.yesterday()
        } else {
            today.tomorrow()
        }
        .ok()?;
        for _ in 0..HORIZON_DAYS {
            if self.scheduled_on(action, date) {
                let at = self.at(date, self.time_of(action));
                let t = at.timestamp();
                if (forward && t > from) || (!forward && t <= from) {
                    return Some(at);
                }
            }
            date = step(date).ok()?;
        }
        None
    }

    /// What the schedule expects at `now`: the state its last event left.
    pub fn expected(&self, now: Timestamp) -> Expected {
        let park = self.previous(Action::Park, now).map(|z| z.timestamp());
        let unpark = self.previous(Action::Unpark, now).map(|z| z.timestamp());
        match (park, unpark) {
            (Some(p), Some(u)) if u > p => Expected::Unparked,
            (None, Some(_)) => Expected::Unparked,
            _ => Expected::Parked,
        }
    }

    /// Hours the schedule keeps the environment parked in `[from, from + days)`: weekends
    /// and holidays included, DST days counted at their real length.
    pub fn parked_hours(&self, from: Timestamp, days: u32) -> f64 {
        let end = from + SignedDuration::from_hours(24 * i64::from(days));
        let mut state = self.expected(from);
        let mut since = from;
        let mut parked = SignedDuration::ZERO;
        loop {
            let next_park = self.next(Action::Park, since).map(|z| z.timestamp());
            let next_unpark = self.next(Action::Unpark, since).map(|z| z.timestamp());
            let (at, to) = match (next_park, next_unpark) {
                (Some(p), Some(u)) if u < p => (u, Expected::Unparked),
                (Some(p), _) => (p, Expected::Parked),
                (None, Some(u)) => (u, Expected::Unparked),
                (None, None) => (end, state),
            };
            let until = at.min(end);
            if state == Expected::Parked {
                parked += until.duration_since(since);
            }
            if at >= end {
                break;
            }
            state = to;
            since = at;
        }
        parked.as_secs_f64() / 3600.0
    }
}

/// The time a decision is made at: now, or `INFRA_TEST_NOW` (RFC 3339 with its offset) when
/// set, a testing aid; `Ok((time, true))` then, and the caller warns. Read once per decision.
pub fn now() -> Result<(Timestamp, bool), String> {
    match std::env::var(TEST_NOW_ENV) {
        Ok(text) => text
            .parse::<Timestamp>()
            .map(|t| (t, true))
            .map_err(|e| {
                format!("{TEST_NOW_ENV}=\"{text}\" is not an RFC 3339 time with its offset (2026-07-06T06:10:00Z): {e}")
            }),
        Err(_) => Ok((Timestamp::now(), false)),
    }
}

/// `HH:MM`, 24-hour.
pub fn parse_time(text: &str) -> Option<Time> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

/// `mon` … `sun`.
pub fn parse_weekday(text: &str) -> Option<Weekday> {
    Some(match text {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    })
}

/// `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<Date> {
    if text.len() != 10 || text.as_bytes()[4] != b'-' || text.as_bytes()[7] != b'-' {
        return None;
    }
    let part = |r: std::ops::Range<usize>| -> Option<i16> {
        let s = &text[r];
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    Date::new(part(0..4)?, part(5..7)? as i8, part(8..10)? as i8).ok()
}

/// A problem in an iCalendar file: its 1-based line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcsError {
    /// The (unfolded) content line's first physical line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The dates of every `VEVENT` of an iCalendar (RFC 5545) file: its `DTSTART` date, and
/// every date up to (not including) its `DTEND` date for a multi-day event. A date-time
/// `DTSTART` counts as its date. Folded lines are unfolded.
pub fn ics_dates(text: &str) -> Result<BTreeSet<Date>, IcsError> {
    // Unfold: a line starting with a space or tab continues the previous one.
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix([' ', '\t']), lines.last_mut()) {
            (Some(rest), Some((_, previous))) => previous.push_str(rest),
            _ => lines.push((i + 1, raw.to_owned())),
        }
    }
    if !lines
        .iter()
        .any(|(_, l)| l.eq_ignore_ascii_case("BEGIN:VCALENDAR"))
    {
        return Err(IcsError {
            line: 1,
            message: "not an iCalendar file (no BEGIN:VCALENDAR)".into(),
        });
    }
    let mut dates = BTreeSet::new();
    let mut event: Option<(usize, Option<Date>, Option<Date>)> = None;
    for (line, content) in &lines {
        let (name_params, value) = content.split_once(':').unwrap_or((content, ""));
        let name = name_params
            .split(';')
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let bad = |what: &str| IcsError {
            line: *line,
            message: format!("{what} \"{value}\" is not a date (YYYYMMDD)"),
        };
        match (name.as_str(), &mut event) {
            ("BEGIN", None) if value.eq_ignore_ascii_case("VEVENT") => {
                event = Some((*line, None, None))
            }
            ("BEGIN", Some(_)) if value.eq_ignore_ascii_case("VEVENT") => {
                return Err(IcsError {
                    line: *line,
                    message: "BEGIN:VEVENT inside another VEVENT".into(),
                })
            }
            ("DTSTART", Some((_, start, _))) => {
                *start = Some(ics_date(value).ok_or_else(|| bad("DTSTART"))?)
            }
            ("DTEND", Some((_, _, end))) => {
                *end = Some(ics_date(value).ok_or_else(|| bad("DTEND"))?)
            }
            ("END", Some((began, start, end))) if value.eq_ignore_ascii_case("VEVENT") => {
                let Some(start) = *start else {
                    return Err(IcsError {
                        line: *began,
                        message: "a VEVENT without DTSTART".into(),
                    });
                };
                dates.insert(start);
                if let Some(end) = *end {
                    let mut day = start.tomorrow().ok();
                    let mut guard = 0;
                    while let Some(d) = day.filter(|d| *d < end && guard < 366) {
                        dates.insert(d);
                        day = d.tomorrow().ok();
                        guard += 1;
                    }
                }
                event = None;
            }
            _ => {}
        }
    }
    if let Some((began, _, _)) = event {
        return Err(IcsError {
            line: began,
            message: "a VEVENT without END:VEVENT".into(),
        });
    }
    Ok(dates)
}

/// `YYYYMMDD`, or the date of `YYYYMMDDTHHMMSS[Z]`.
fn ics_date(value: &str) -> Option<Date> {
    let digits = value.get(..8)?;
    let rest = &value[8..];
    if !(rest.is_empty() || rest.starts_with('T')) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    parse_date(&format!(
        "{}-{}-{}",
        &digits[..4],
        &digits[4..6],
        &digits[6..]
    ))
}

/// What a scheduled run decided, as the reports carry it (`schedule { decision,
/// local_time, next_park, next_unpark }`; times RFC 3339 with their offset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleNote {
    /// `act`, `not-due`, `holiday` or `weekend`.
    pub decision: Decision,
    /// The time decided at, in the schedule's zone.
    pub local_time: String,
    /// The scheduled time the decision is about, when one is within the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<String>,
    /// The next scheduled park.
    pub next_park: Option<String>,
    /// The next scheduled unpark (skipping holidays and non-working days).
    pub next_unpark: Option<String>,
    /// The schedule's time zone.
    pub timezone: String,
}

impl ScheduleNote {
    /// The note of a decision.
    pub fn new(schedule: &Schedule, due: &Due) -> ScheduleNote {
        ScheduleNote {
            decision: due.decision,
            local_time: rfc3339(&due.local_time),
            scheduled: due.scheduled.as_ref().map(rfc3339),
            next_park: due.next_park.as_ref().map(rfc3339),
            next_unpark: due.next_unpark.as_ref().map(rfc3339),
            timezone: schedule.zone().to_owned(),
        }
    }

    /// One line for the text output.
    pub fn describe(&self) -> String {
        let next = |t: &Option<String>| t.clone().unwrap_or_else(|| "none within 400 days".into());
        let why = match self.decision {
            Decision::Act => format!(
                "acting for {}",
                self.scheduled.as_deref().unwrap_or("the scheduled time")
            ),
            Decision::NotDue => "not due: no scheduled time within the window".into(),
            Decision::Holiday => "a holiday: staying parked".into(),
            Decision::Weekend => "not a working day: staying parked".into(),
        };
        format!(
            "schedule ({}): {} at {}; {why}; next park {}, next unpark {}",
            self.timezone,
            self.decision.as_str(),
            self.local_time,
            next(&self.next_park),
            next(&self.next_unpark)
        )
    }
}

/// A zoned time as RFC 3339 with its offset (`2026-07-06T07:10:00+01:00`).
pub fn rfc3339(z: &Zoned) -> String {
    z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn london(days: &[&str], holidays: &[&str]) -> Schedule {
        Schedule {
            timezone: TimeZone::get("Europe/London").unwrap(),
            unpark_at: parse_time("07:00").unwrap(),
            park_at: parse_time("19:00").unwrap(),
            days: days.iter().map(|d| parse_weekday(d).unwrap()).collect(),
            holidays: holidays.iter().map(|d| parse_date(d).unwrap()).collect(),
            window: Duration::from_secs(55 * 60),
        }
    }

    fn weekdays() -> Schedule {
        london(&["mon", "tue", "wed", "thu", "fri"], &["2026-12-25"])
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn decide(s: &Schedule, action: Action, at: &str) -> Decision {
        s.decide(action, ts(at)).decision
    }

    #[test]
    fn unpark_is_at_seven_local_on_both_sides_of_the_march_change() {
        // The last Sunday of March 2026 is the 29th: Monday the 23rd is GMT (UTC+0),
        // Monday the 30th BST (UTC+1).
        let s = weekdays();
        assert_eq!(
            decide(&s, Action::Unpark, "2026-03-23T07:05:00Z"),
            Decision::Act
        );
        assert_eq!(
            decide(&s, Action::Unpark, "2026-03-23T06:05:00Z"),
            Decision::NotDue
        );
        assert_eq!(
            decide(&s, Action::Unpark, "2026-03-30T06:05:00Z"),
            Decision::Act
        );
        assert_eq!(
            decide(&s, Action::Unpark, "2026-03-30T07:05:00Z"),
            Decision::NotDue
        );
        let due = s.decide(Action::Unpark, ts("2026-03-30T06:05:00Z"));
        assert_eq!(rfc3339(&due.local_time), "2026-03-30T07:05:00+01:00");
        assert_eq!(
            rfc3339(due.scheduled.as_ref().unwrap()),
            "2026-03-30T07:00:00+01:00"
        );
    }

    #[test]
    fn unpark_is_at_seven_local_on_both_sides_of_the_october_change() {
        // The last Sunday of October 2026 is the 25th: Monday the 19th is BST, the 26th GMT.
        let s = weekdays();
        assert_eq!(
            decide(&s, Action::Unpark, "2026-10-19T06:00:00Z"),
            Decision::Act
        );
        assert_eq!(
            decide(&s, Action::Unpark, "2026-10-19T07:00:00Z"),
            Decision::NotDue
        );
        assert_eq!(
            decide(&s, Action::Unpark, "2026-10-26T07:00:00Z"),
            Decision::Act
        );
        assert_eq!(
            decide(&s, Action::Unpark, "2026-10-26T06:00:00Z"),
            Decision::NotDue
        );
        // Park at 19:00 local: 18:00 UTC in summer, 19:00 UTC in winter.
        assert_eq!(
            decide(&s, Action::Park, "2026-10-19T18:00:00Z"),
            Decision::Act
        );
        assert_eq!(
            decide(&s, Action::Park, "2026-10-26T18:00:00Z"),
            Decision::NotDue
        );
        assert_eq!(
            decide(&s, Action::Park, "2026-10-26T19:00:00Z"),
            Decision::Act
        );
    }

    #[test]
    fn holidays_and_weekends_keep_it_parked() {
        let s = weekdays();
        // Friday 25 December 2026, from the list.
        assert_eq!(
            decide(&s, Action::Unpark, "2026-12-25T07:10:00Z"),
            Decision::Holiday
        );
        // Saturday.
        assert_eq!(
            decide(&s, Action::Unpark, "2026-12-26T07:10:00Z"),
            Decision::Weekend
        );
        // Parking acts every day (a non-working day stays parked).
        assert_eq!(
            decide(&s, Action::Park, "2026-12-26T19:10:00Z"),
            Decision::Act
        );
        // The next unpark skips the holiday and the weekend: Monday the 28th.
        let due = s.decide(Action::Unpark, ts("2026-12-24T20:00:00Z"));
        assert_eq!(
            rfc3339(due.next_unpark.as_ref().unwrap()),
            "2026-12-28T07:00:00+00:00"
        );
        assert_eq!(
            rfc3339(due.next_park.as_ref().unwrap()),
            "2026-12-25T19:00:00+00:00"
        );
    }

    #[test]
    fn a_holiday_from_an_ics_file_counts() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Boxing Day\r\n \
                   (substitute)\r\nDTSTART;VALUE=DATE:20261228\r\nDTEND;VALUE=DATE:20261229\r\n\
                   END:VEVENT\r\nEND:VCALENDAR\r\n";
        let mut s = weekdays();
        s.holidays.extend(ics_dates(ics).unwrap());
        assert_eq!(
            decide(&s, Action::Unpark, "2026-12-28T07:10:00Z"),
            Decision::Holiday
        );
        assert_eq!(
            decide(&s, Action::Unpark, "2026-12-29T07:10:00Z"),
            Decision::Act
        );
    }

    #[test]
    fn a_manual_unpark_at_21_is_not_parked_again_at_22() {
        let s = weekdays();
        assert_eq!(
            decide(&s, Action::Park, "2026-12-01T22:00:00Z"),
            Decision::NotDue
        );
        assert_eq!(
            decide(&s, Action::Park, "2026-12-01T19:54:00Z"),
            Decision::Act
        );
        assert_eq!(
            decide(&s, Action::Park, "2026-12-01T19:55:00Z"),
            Decision::NotDue
        );
    }

    #[test]
    fn a_time_in_the_spring_gap_moves_forward_by_the_gap() {
        // 01:30 does not exist in London on 29 March 2026 (01:00 GMT → 02:00 BST):
        // compatible disambiguation makes it 02:30 BST, 01:30 UTC.
        let mut s = london(&["sun"], &[]);
        s.unpark_at = parse_time("01:30").unwrap();
        let at = s.at(parse_date("2026-03-29").unwrap(), s.unpark_at);
        assert_eq!(rfc3339(&at), "2026-03-29T02:30:00+01:00");
        assert_eq!(
            decide(&s, Action::Unpark, "2026-03-29T01:35:00Z"),
            Decision::Act
        );
        assert_eq!(
            decide(&s, Action::Unpark, "2026-03-29T00:35:00Z"),
            Decision::NotDue
        );
        // In the autumn fold, 01:30 happens twice: the first (BST) is the one.
        let at = s.at(parse_date("2026-10-25").unwrap(), s.unpark_at);
        assert_eq!(rfc3339(&at), "2026-10-25T01:30:00+01:00");
    }

    #[test]
    fn a_window_across_midnight_is_yesterdays() {
        let mut s = weekdays();
        s.park_at = parse_time("23:30").unwrap();
        // Winter: 23:30 GMT on the 1st; 00:10 on the 2nd is still within 55 minutes.
        assert_eq!(
            decide(&s, Action::Park, "2026-12-02T00:10:00Z"),
            Decision::Act
        );
        assert_eq!(
            decide(&s, Action::Park, "2026-12-02T00:30:00Z"),
            Decision::NotDue
        );
    }

    #[test]
    fn expected_state_and_parked_hours_follow_the_calendar() {
        let s = weekdays();
        // Tuesday 11:00: unparked; Tuesday 20:00 and Saturday noon: parked.
        assert_eq!(s.expected(ts("2026-12-01T11:00:00Z")), Expected::Unparked);
        assert_eq!(s.expected(ts("2026-12-01T20:00:00Z")), Expected::Parked);
        assert_eq!(s.expected(ts("2026-12-05T12:00:00Z")), Expected::Parked);
        // A week from Monday 00:00: 12 h a weekday unparked, so 168 - 60 = 108 h parked.
        let hours = s.parked_hours(ts("2026-11-30T00:00:00Z"), 7);
        assert!((hours - 108.0).abs() < 1e-9, "{hours}");
        // Christmas week: the Friday holiday adds its 12 hours.
        let hours = s.parked_hours(ts("2026-12-21T00:00:00Z"), 7);
        assert!((hours - 120.0).abs() < 1e-9, "{hours}");
    }

    #[test]
    fn parsers_refuse_what_is_not_there() {
        assert!(parse_time("7:00").is_none());
        assert!(parse_time("24:00").is_none());
        assert!(parse_time("07:60").is_none());
        assert_eq!(parse_time("23:59"), Time::new(23, 59, 0, 0).ok());
        assert!(parse_date("2026-02-30").is_none());
        assert!(parse_date("2026-2-03").is_none());
        assert!(parse_weekday("Mon").is_none());
        assert!(ics_dates("BEGIN:VEVENT\nEND:VEVENT\n").is_err());
        let e = ics_dates(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2026122\nEND:VEVENT\nEND:VCALENDAR\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 3);
        let e = ics_dates("BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT\n").unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "a VEVENT without DTSTART")
        );
    }
}
