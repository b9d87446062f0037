//! The run's clock: the time every decision of a run is made at, read once. It is the
//! real time, or the time `--now` gives (to replay a day in a test or to ask "what would
//! the schedule do at …"); a run whose clock was set says so in its text and JSON. No
//! environment variable sets it: a variable copied into a CI context would silently freeze
//! production's clock.

use schedule::Timestamp;
use serde::Serialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The variable that set the clock before `--now` existed: no longer read, warned about.
pub const RETIRED_TEST_NOW_ENV: &str = "INFRA_TEST_NOW";

/// The time a run decides at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    now: Timestamp,
    set: bool,
}

impl Clock {
    /// The real time, now.
    pub fn system() -> Clock {
        Clock {
            now: Timestamp::now(),
            set: false,
        }
    }

    /// A clock set to `now` (`--now`).
    pub fn at(now: Timestamp) -> Clock {
        Clock { now, set: true }
    }

    /// The run's time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The run's time as a `SystemTime` (holds, records).
    pub fn system_time(&self) -> SystemTime {
        let nanos = self.now.as_nanosecond();
        match u64::try_from(nanos) {
            Ok(n) => UNIX_EPOCH + Duration::from_nanos(n),
            Err(_) => UNIX_EPOCH,
        }
    }

    /// What the report says of the clock, when it was set.
    pub fn note(&self) -> Option<ClockNote> {
        self.set.then(|| ClockNote {
            set: true,
            now: self.now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        })
    }
}

/// In a report: the run's clock was set by `--now` (`clock { set, now }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClockNote {
    /// Always true (the note is absent when the clock is the real time).
    pub set: bool,
    /// The time the run decided at (RFC 3339, UTC).
    pub now: String,
}

impl ClockNote {
    /// The text report's line.
    pub fn describe(&self) -> String {
        format!(
            "clock       set by --now to {} (not the real time)",
            self.now
        )
    }
}

/// Parses `--now`: an RFC 3339 time with its offset.
pub fn parse_now(text: &str) -> Result<Timestamp, String> {
    text.trim().parse::<Timestamp>().map_err(|e| {
        format!("\"{text}\" is not an RFC 3339 time with its offset (2026-07-06T06:10:00Z): {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_clock_converts_and_says_so() {
        let clock = Clock::at(parse_now("2026-07-06T19:10:00+01:00").unwrap());
        assert_eq!(
            humantime::format_rfc3339_seconds(clock.system_time()).to_string(),
            "2026-07-06T18:10:00Z"
        );
        assert_eq!(clock.note().unwrap().now, "2026-07-06T18:10:00Z");
        assert!(Clock::system().note().is_none());
        for bad in ["", "tomorrow", "2026-07-06T19:10:00", "1:€00000"] {
            assert!(parse_now(bad).is_err(), "{bad}");
        }
    }
}
