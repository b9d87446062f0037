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
//! `unpark_at`; parking on every day at `park_at` (a non-working day stays parked). At any
//! instant the schedule expects the state its last transition left ([`Schedule::expected`],
//! [`Schedule::last_transition`]); a scheduled run converges to it (the park tool decides,
//! with the live state and who changed it last). `runs_every` is how often the scheduled
//! runs are triggered: the validator refuses times a run never lands on.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Zoned};

pub mod config;

pub use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::Duration;

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
    /// How often the scheduled runs are triggered (`runs_every`, on the grid from UTC
    /// midnight: hourly on the hour by default): a run that acts within this of its
    /// transition is on time, a later one is catching up.
    pub runs_every: Duration,
}

/// Park or unpark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// `park down`.
    Park,
    /// `park up`.
    Unpark,
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

impl Expected {
    /// `parked` or `unparked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Parked => "parked",
            Expected::Unparked => "unparked",
        }
    }
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

    /// The last transition at or before `now`: which action and when (the one that set
    /// what the schedule expects now).
    pub fn last_transition(&self, now: Timestamp) -> Option<(Action, Zoned)> {
        self.transition(now, false)
    }

    /// The first transition strictly after `now`.
    pub fn next_transition(&self, now: Timestamp) -> Option<(Action, Zoned)> {
        self.transition(now, true)
    }

    /// The nearest park or unpark after (`forward`) or at or before `from`, whichever is
    /// nearer.
    fn transition(&self, from: Timestamp, forward: bool) -> Option<(Action, Zoned)> {
        let park = self.nearest(Action::Park, from, forward);
        let unpark = self.nearest(Action::Unpark, from, forward);
        match (park, unpark) {
            (Some(p), Some(u)) => {
                let unpark_nearer = if forward {
                    u.timestamp() < p.timestamp()
                } else {
                    u.timestamp() > p.timestamp()
                };
                Some(if unpark_nearer {
                    (Action::Unpark, u)
                } else {
                    (Action::Park, p)
                })
            }
            (Some(p), None) => Some((Action::Park, p)),
            (None, Some(u)) => Some((Action::Unpark, u)),
            (None, None) => None,
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

    /// What the schedule expects at `now`: the state its last transition left (parked
    /// before any).
    pub fn expected(&self, now: Timestamp) -> Expected {
        match self.last_transition(now) {
            Some((Action::Unpark, _)) => Expected::Unparked,
            _ => Expected::Parked,
        }
    }

    /// Whether a run triggered every `runs_every` (on the grid from UTC midnight) lands
    /// on `time` in this zone at every UTC offset the zone has in the year of `around`:
    /// `None` if so, else the first offset where it does not.
    pub fn off_grid(&self, time: Time, around: Timestamp) -> Option<jiff::tz::Offset> {
        let step = i64::try_from(self.runs_every.as_secs())
            .ok()
            .filter(|s| *s > 0)?;
        let local = i64::from(time.hour()) * 3600 + i64::from(time.minute()) * 60;
        let year = around.to_zoned(self.timezone.clone()).year();
        let mut offsets = Vec::new();
        let mut day = Date::new(year, 1, 1).ok()?;
        for _ in 0..366 {
            let offset = self.at(day, Time::midnight()).offset();
            if !offsets.contains(&offset) {
                offsets.push(offset);
            }
            day = day.tomorrow().ok()?;
        }
        offsets.into_iter().find(|offset| {
            let utc = (local - i64::from(offset.seconds())).rem_euclid(86_400);
            utc % step != 0
        })
    }

    /// Hours the schedule keeps the environment parked in `[from, from + days)`: weekends
    /// and holidays included, DST days counted at their real length.
    pub fn parked_hours(&self, from: Timestamp, days: u32) -> f64 {
        let end = from + SignedDuration::from_hours(24 * i64::from(days));
        let mut state = self.expected(from);
        let mut since = from;
        let mut parked = SignedDuration::ZERO;
        loop {
            let (at, to) = match self.next_transition(since) {
                Some((Action::Unpark, z)) => (z.timestamp(), Expected::Unparked),
                Some((Action::Park, z)) => (z.timestamp(), Expected::Parked),
                None => (end, state),
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

/// One `VEVENT` being read: where it began and what it said so far.
#[derive(Default)]
struct IcsEvent {
    began: usize,
    start: Option<Date>,
    end: Option<Date>,
    /// `DURATION` in whole days (`P2D`, `P1W`; a time part alone is the start's day).
    days: Option<i64>,
    cancelled: bool,
}

/// The dates of every `VEVENT` of an iCalendar (RFC 5545) file: its `DTSTART` date, and
/// every date up to (not including) its `DTEND` date, or its `DURATION` in days, for a
/// multi-day event. A date-time `DTSTART` counts as its date. Folded lines are unfolded, a
/// byte-order mark is skipped, a `STATUS:CANCELLED` event is left out, and a repeating
/// event (`RRULE`, `RDATE`) is refused at its line: its dates are not expanded here, so
/// list each holiday as its own event.
pub fn ics_dates(text: &str) -> Result<BTreeSet<Date>, IcsError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
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
    let mut event: Option<IcsEvent> = None;
    for (line, content) in &lines {
        let (name_params, value) = content.split_once(':').unwrap_or((content, ""));
        let name = name_params
            .split(';')
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let error = |message: String| IcsError {
            line: *line,
            message,
        };
        let bad = |what: &str| error(format!("{what} \"{value}\" is not a date (YYYYMMDD)"));
        match (name.as_str(), &mut event) {
            ("BEGIN", None) if value.eq_ignore_ascii_case("VEVENT") => {
                event = Some(IcsEvent {
                    began: *line,
                    ..IcsEvent::default()
                })
            }
            ("BEGIN", Some(_)) if value.eq_ignore_ascii_case("VEVENT") => {
                return Err(error("BEGIN:VEVENT inside another VEVENT".into()))
            }
            ("DTSTART", Some(e)) => e.start = Some(ics_date(value).ok_or_else(|| bad("DTSTART"))?),
            ("DTEND", Some(e)) => e.end = Some(ics_date(value).ok_or_else(|| bad("DTEND"))?),
            ("DURATION", Some(e)) => {
                e.days = Some(ics_days(value).ok_or_else(|| {
                    error(format!(
                        "DURATION \"{value}\" is not a duration such as P1D, P2W or PT8H"
                    ))
                })?)
            }
            ("STATUS", Some(e)) => e.cancelled = value.trim().eq_ignore_ascii_case("CANCELLED"),
            ("RRULE" | "RDATE", Some(_)) => {
                return Err(error(format!(
                    "{name}: a repeating event is not expanded here; list each holiday as its own VEVENT"
                )))
            }
            ("END", Some(e)) if value.eq_ignore_ascii_case("VEVENT") => {
                let Some(start) = e.start else {
                    return Err(IcsError {
                        line: e.began,
                        message: "a VEVENT without DTSTART".into(),
                    });
                };
                if !e.cancelled {
                    let end = e.end.or_else(|| {
                        e.days
                            .filter(|d| *d > 1)
                            .and_then(|d| start.checked_add(jiff::Span::new().days(d)).ok())
                    });
                    dates.insert(start);
                    if let Some(end) = end {
                        let mut day = start.tomorrow().ok();
                        let mut guard = 0;
                        while let Some(d) = day.filter(|d| *d < end && guard < 366) {
                            dates.insert(d);
                            day = d.tomorrow().ok();
                            guard += 1;
                        }
                    }
                }
                event = None;
            }
            _ => {}
        }
    }
    if let Some(e) = event {
        return Err(IcsError {
            line: e.began,
            message: "a VEVENT without END:VEVENT".into(),
        });
    }
    Ok(dates)
}

/// An RFC 5545 `DURATION` in whole days: `P2D`, `P1W`, `P1DT12H` (the time part does not
/// add a date), `PT8H` (0 days); a negative one is refused.
fn ics_days(value: &str) -> Option<i64> {
    let rest = value.trim().strip_prefix('+').unwrap_or(value.trim());
    let rest = rest.strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    if !time.is_empty()
        && !time
            .bytes()
            .all(|b| b.is_ascii_digit() || b"HMS".contains(&b))
    {
        return None;
    }
    if date.is_empty() {
        return (!time.is_empty()).then_some(0);
    }
    let unit = date.chars().last()?;
    let number = &date[..date.len() - unit.len_utf8()];
    let n: i64 = number.parse().ok().filter(|n| *n <= 366)?;
    match unit {
        'D' => Some(n),
        'W' => Some(n * 7),
        _ => None,
    }
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
            runs_every: Duration::from_secs(3600),
        }
    }

    fn weekdays() -> Schedule {
        london(&["mon", "tue", "wed", "thu", "fri"], &["2026-12-25"])
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// What the schedule expects at `at`, and the transition that set it (local time).
    fn last(s: &Schedule, at: &str) -> (Expected, String) {
        let (_, when) = s.last_transition(ts(at)).unwrap();
        (s.expected(ts(at)), rfc3339(&when))
    }

    #[test]
    fn unpark_is_at_seven_local_on_both_sides_of_the_march_change() {
        // The last Sunday of March 2026 is the 29th: Monday the 23rd is GMT (UTC+0),
        // Monday the 30th BST (UTC+1).
        let s = weekdays();
        assert_eq!(
            last(&s, "2026-03-23T07:00:00Z"),
            (Expected::Unparked, "2026-03-23T07:00:00+00:00".into())
        );
        assert_eq!(
            last(&s, "2026-03-23T06:59:59Z"),
            (Expected::Parked, "2026-03-22T19:00:00+00:00".into())
        );
        assert_eq!(
            last(&s, "2026-03-30T06:00:00Z"),
            (Expected::Unparked, "2026-03-30T07:00:00+01:00".into())
        );
        assert_eq!(s.expected(ts("2026-03-30T05:59:00Z")), Expected::Parked);
    }

    #[test]
    fn unpark_is_at_seven_local_on_both_sides_of_the_october_change() {
        // The last Sunday of October 2026 is the 25th: Monday the 19th is BST, the 26th GMT.
        let s = weekdays();
        assert_eq!(s.expected(ts("2026-10-19T06:00:00Z")), Expected::Unparked);
        assert_eq!(s.expected(ts("2026-10-19T05:59:00Z")), Expected::Parked);
        assert_eq!(s.expected(ts("2026-10-26T07:00:00Z")), Expected::Unparked);
        assert_eq!(s.expected(ts("2026-10-26T06:30:00Z")), Expected::Parked);
        // Park at 19:00 local: 18:00 UTC in summer, 19:00 UTC in winter.
        assert_eq!(s.expected(ts("2026-10-19T18:00:00Z")), Expected::Parked);
        assert_eq!(s.expected(ts("2026-10-26T18:30:00Z")), Expected::Unparked);
        assert_eq!(
            last(&s, "2026-10-26T19:00:00Z"),
            (Expected::Parked, "2026-10-26T19:00:00+00:00".into())
        );
    }

    #[test]
    fn holidays_and_weekends_keep_it_parked() {
        let s = weekdays();
        // Friday 25 December 2026, from the list: parked since Thursday's 19:00.
        assert_eq!(
            last(&s, "2026-12-25T10:00:00Z"),
            (Expected::Parked, "2026-12-24T19:00:00+00:00".into())
        );
        // Saturday: parked since Saturday's own 19:00 is not yet, so Friday's.
        assert_eq!(
            last(&s, "2026-12-26T10:00:00Z"),
            (Expected::Parked, "2026-12-25T19:00:00+00:00".into())
        );
        // The next transition skips the holiday and the weekend's unparks.
        let (action, at) = s.next_transition(ts("2026-12-24T20:00:00Z")).unwrap();
        assert_eq!(
            (action, rfc3339(&at)),
            (Action::Park, "2026-12-25T19:00:00+00:00".into())
        );
        assert_eq!(
            rfc3339(&s.next(Action::Unpark, ts("2026-12-24T20:00:00Z")).unwrap()),
            "2026-12-28T07:00:00+00:00"
        );
    }

    #[test]
    fn a_holiday_from_an_ics_file_counts() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Boxing Day\r\n \
                   (substitute)\r\nDTSTART;VALUE=DATE:20261228\r\nDTEND;VALUE=DATE:20261229\r\n\
                   END:VEVENT\r\nEND:VCALENDAR\r\n";
        let mut s = weekdays();
        s.holidays.extend(ics_dates(ics).unwrap());
        assert_eq!(s.expected(ts("2026-12-28T07:10:00Z")), Expected::Parked);
        assert_eq!(s.expected(ts("2026-12-29T07:10:00Z")), Expected::Unparked);
    }

    #[test]
    fn a_time_in_the_spring_gap_moves_forward_by_the_gap() {
        // 01:30 does not exist in London on 29 March 2026 (01:00 GMT → 02:00 BST):
        // compatible disambiguation makes it 02:30 BST, 01:30 UTC.
        let mut s = london(&["sun"], &[]);
        s.unpark_at = parse_time("01:30").unwrap();
        let at = s.at(parse_date("2026-03-29").unwrap(), s.unpark_at);
        assert_eq!(rfc3339(&at), "2026-03-29T02:30:00+01:00");
        assert_eq!(s.expected(ts("2026-03-29T01:35:00Z")), Expected::Unparked);
        assert_eq!(s.expected(ts("2026-03-29T01:25:00Z")), Expected::Parked);
        // In the autumn fold, 01:30 happens twice: the first (BST) is the one.
        let at = s.at(parse_date("2026-10-25").unwrap(), s.unpark_at);
        assert_eq!(rfc3339(&at), "2026-10-25T01:30:00+01:00");
    }

    #[test]
    fn times_off_the_trigger_grid_are_found_at_every_offset() {
        let now = ts("2026-12-07T00:00:00Z");
        let mut s = weekdays();
        assert_eq!(s.off_grid(s.unpark_at, now), None);
        assert!(s.off_grid(parse_time("07:05").unwrap(), now).is_some());
        assert!(s.off_grid(parse_time("07:30").unwrap(), now).is_some());
        s.runs_every = Duration::from_secs(1800);
        assert_eq!(s.off_grid(parse_time("07:30").unwrap(), now), None);
        // Kolkata is UTC+05:30: hourly runs on the UTC hour land at :30 local.
        s.timezone = TimeZone::get("Asia/Kolkata").unwrap();
        s.runs_every = Duration::from_secs(3600);
        assert!(s.off_grid(parse_time("07:00").unwrap(), now).is_some());
        assert_eq!(s.off_grid(parse_time("07:30").unwrap(), now), None);
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
    fn ics_files_as_calendars_write_them() {
        let cal = |events: &str| format!("\u{feff}BEGIN:VCALENDAR\r\n{events}END:VCALENDAR\r\n");
        let dates = |text: &str| -> Vec<String> {
            ics_dates(text)
                .unwrap()
                .iter()
                .map(|d| d.to_string())
                .collect()
        };
        // A BOM, a cancelled event, a DURATION of two days and one of hours.
        let text = cal(
            "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nDURATION:P2D\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261231\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nDTSTART:20270101T090000Z\r\nDURATION:PT8H\r\nEND:VEVENT\r\n",
        );
        assert_eq!(dates(&text), ["2026-12-25", "2026-12-26", "2027-01-01"]);
        // A repeating event is refused at its line, and so is a duration that is none.
        let e = ics_dates(&cal(
            "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nRRULE:FREQ=YEARLY\r\nEND:VEVENT\r\n",
        ))
        .unwrap_err();
        assert_eq!(e.line, 4, "{e:?}");
        assert!(e.message.contains("RRULE"), "{e:?}");
        let e = ics_dates(&cal(
            "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nDURATION:P€D\r\nEND:VEVENT\r\n",
        ))
        .unwrap_err();
        assert_eq!(e.line, 4, "{e:?}");
        for bad in ["-P1D", "P", "PXD", "P1Y", "P9999D", "P1DT€", "P1€"] {
            assert_eq!(ics_days(bad), None, "{bad}");
        }
        assert_eq!(ics_days("P1W"), Some(7));
        assert_eq!(ics_days("P1DT12H"), Some(1));
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
