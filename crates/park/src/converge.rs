//! What a `--scheduled` run decides: converge to the state the schedule expects now,
//! unless a person changed the environment since the schedule's last transition.
//!
//! Two steps, so a run with nothing to do stays cheap:
//! 1. [`timing`], before any AWS call: is this direction wanted now? `park down
//!    --scheduled` converges only while the schedule expects parked, `park up --scheduled`
//!    only while it expects unparked; otherwise the run ends after the account guard
//!    (`not-due`, or `weekend` / `holiday` for an unpark on a day off).
//! 2. [`converge`], after reading the live state (no lock, no writes): `on-schedule` when
//!    it is already there; `held` when a hold in force keeps it awake; `overridden` when
//!    the last completed change was made by hand after the last transition and went the
//!    other way (left alone until the next transition); else `act`, or `caught-up` when
//!    the transition is at least one `runs_every` old (the run it was due in missed it).
//!
//! A run that acts checks again under the environment lock (a person may have changed it
//! in between). A run that did not finish writes no change record, so the next scheduled
//! run finishes it.

use crate::change::{Change, ChangeAction};
use crate::hold::Hold;
use jiff::Zoned;
use schedule::{rfc3339, Action, Expected, Schedule, Timestamp};
use serde::Serialize;

/// How far in the future a change record may be dated and still count (clocks differ).
const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// What a scheduled run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Already where the schedule expects it: nothing to do.
    OnSchedule,
    /// The first run after the transition: act.
    Act,
    /// A later run making up for a transition that did not happen (refused, failed,
    /// interrupted, or no run): act.
    CaughtUp,
    /// A person parked or unparked by hand since the last transition: left alone until the
    /// next transition.
    Overridden,
    /// A hold in force keeps the environment awake: not parked.
    Held,
    /// The schedule expects the other state (the other command's job): nothing to do.
    NotDue,
    /// `park up`: today is not a working weekday; it stays parked.
    Weekend,
    /// `park up`: today is a holiday; it stays parked.
    Holiday,
}

impl Decision {
    /// The JSON / text name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::OnSchedule => "on-schedule",
            Decision::Act => "act",
            Decision::CaughtUp => "caught-up",
            Decision::Overridden => "overridden",
            Decision::Held => "held",
            Decision::NotDue => "not-due",
            Decision::Weekend => "weekend",
            Decision::Holiday => "holiday",
        }
    }

    /// Whether the run changes the environment.
    pub fn acts(self) -> bool {
        matches!(self, Decision::Act | Decision::CaughtUp)
    }
}

/// What a scheduled run decided, as the reports carry it (`schedule { … }`; times RFC
/// 3339 with their offset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleNote {
    /// The decision.
    pub decision: Decision,
    /// The time decided at, in the schedule's zone.
    pub local_time: String,
    /// What the schedule expects now.
    pub expected: Expected,
    /// The transition that set what the schedule expects (the one acted on, or made up
    /// for), when the direction is wanted now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<String>,
    /// `caught-up`: the transition this run made up for (the same as `scheduled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub made_up_for: Option<String>,
    /// The last completed park or unpark, as recorded on the clusters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_change: Option<Change>,
    /// `overridden`: when the schedule takes over again (the next transition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// The next scheduled park.
    pub next_park: Option<String>,
    /// The next scheduled unpark (skipping holidays and non-working days).
    pub next_unpark: Option<String>,
    /// The schedule's time zone.
    pub timezone: String,
}

impl ScheduleNote {
    /// One line for the text output.
    pub fn describe(&self) -> String {
        let next = |t: &Option<String>| t.clone().unwrap_or_else(|| "none within 400 days".into());
        let scheduled = self.scheduled.as_deref().unwrap_or("the last transition");
        let changed = self
            .last_change
            .as_ref()
            .map_or_else(|| "someone".to_owned(), Change::describe);
        let why = match self.decision {
            Decision::OnSchedule => format!("already {} as expected", self.expected.as_str()),
            Decision::Act => format!("acting for {scheduled}"),
            Decision::CaughtUp => format!("catching up on {scheduled}, which did not happen"),
            Decision::Overridden => format!(
                "left alone: {changed} after {scheduled}; the schedule takes over again at {}",
                next(&self.until)
            ),
            Decision::Held => "a hold in force keeps it awake".into(),
            Decision::NotDue => format!(
                "not due: the schedule expects {} now",
                self.expected.as_str()
            ),
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

/// Where a scheduled run stands before any AWS call.
#[derive(Debug, Clone)]
pub struct Timing {
    action: Action,
    now: Timestamp,
    /// The transition that set the expected state, when this direction is wanted now.
    transition: Option<Zoned>,
    note: ScheduleNote,
}

impl Timing {
    /// The decision made without the live state (`not-due`, `weekend`, `holiday`), if the
    /// direction is not wanted now.
    pub fn settled(&self) -> Option<&ScheduleNote> {
        self.transition.is_none().then_some(&self.note)
    }

    /// The note as decided so far.
    pub fn note(&self) -> &ScheduleNote {
        &self.note
    }
}

/// Step 1: whether a scheduled `action` is wanted at `now` (no AWS call).
pub fn timing(schedule: &Schedule, action: Action, now: Timestamp) -> Timing {
    let local = now.to_zoned(schedule.timezone.clone());
    let expected = schedule.expected(now);
    let wanted = match action {
        Action::Park => Expected::Parked,
        Action::Unpark => Expected::Unparked,
    };
    let last = schedule.last_transition(now);
    let (decision, transition) = if expected == wanted {
        (Decision::Act, last.map(|(_, at)| at))
    } else if action == Action::Unpark && schedule.holidays.contains(&local.date()) {
        (Decision::Holiday, None)
    } else if action == Action::Unpark && !schedule.days.contains(&local.date().weekday()) {
        (Decision::Weekend, None)
    } else {
        (Decision::NotDue, None)
    };
    // A schedule with no transition at all (no working day in 400 days) never wants it.
    let decision = if decision == Decision::Act && transition.is_none() {
        Decision::NotDue
    } else {
        decision
    };
    Timing {
        action,
        now,
        note: ScheduleNote {
            decision,
            local_time: rfc3339(&local),
            expected,
            scheduled: transition.as_ref().map(rfc3339),
            made_up_for: None,
            last_change: None,
            until: None,
            next_park: schedule.next(Action::Park, now).as_ref().map(rfc3339),
            next_unpark: schedule.next(Action::Unpark, now).as_ref().map(rfc3339),
            timezone: schedule.zone().to_owned(),
        },
        transition,
    }
}

/// What step 2 reads from the live state.
#[derive(Debug, Clone, Copy)]
pub struct LiveView<'a> {
    /// The environment as a whole: cleanly parked, cleanly unparked, or neither (`None`:
    /// mixed, drifted, half-done).
    pub state: Option<Expected>,
    /// The hold in force at the run's time, if any.
    pub hold: Option<&'a Hold>,
    /// The last completed park or unpark recorded.
    pub last_change: Option<&'a Change>,
}

/// Step 2: the decision for a wanted direction, from the live state. A settled timing
/// (`not-due`, …) is returned as it is.
pub fn converge(schedule: &Schedule, timing: &Timing, live: LiveView<'_>) -> ScheduleNote {
    let mut note = timing.note.clone();
    note.last_change = live.last_change.cloned();
    let Some(transition) = &timing.transition else {
        return note;
    };
    let (there, change_action) = match timing.action {
        Action::Park => (live.state == Some(Expected::Parked), ChangeAction::Park),
        Action::Unpark => (live.state == Some(Expected::Unparked), ChangeAction::Unpark),
    };
    let since = transition.timestamp();
    // A record dated after now (a forged tag, a skewed clock) would stand for ever: it
    // is no person's change, and the schedule converges over it.
    let latest = timing.now + jiff::SignedDuration::from_secs(MAX_CLOCK_SKEW_SECS);
    let by_hand = live.last_change.filter(|c| {
        !c.scheduled
            && c.action != change_action
            && Timestamp::try_from(c.time()).is_ok_and(|at| at > since && at <= latest)
    });
    note.decision = if there {
        Decision::OnSchedule
    } else if timing.action == Action::Park && live.hold.is_some() {
        Decision::Held
    } else if by_hand.is_some() {
        note.until = schedule
            .next_transition(timing.now)
            .map(|(_, at)| rfc3339(&at));
        Decision::Overridden
    } else if timing.now.duration_since(since).as_secs()
        >= i64::try_from(schedule.runs_every.as_secs()).unwrap_or(i64::MAX)
    {
        note.made_up_for = note.scheduled.clone();
        Decision::CaughtUp
    } else {
        Decision::Act
    };
    note
}

#[cfg(test)]
mod tests {
    use super::*;
    use schedule::{parse_time, parse_weekday};
    use std::time::Duration;

    fn schedule() -> Schedule {
        Schedule {
            timezone: jiff::tz::TimeZone::get("Europe/London").unwrap(),
            unpark_at: parse_time("07:00").unwrap(),
            park_at: parse_time("19:00").unwrap(),
            days: ["mon", "tue", "wed", "thu", "fri"]
                .iter()
                .map(|d| parse_weekday(d).unwrap())
                .collect(),
            holidays: [jiff::civil::date(2026, 12, 25)].into_iter().collect(),
            runs_every: Duration::from_secs(3600),
        }
    }

    fn change(action: ChangeAction, at: &str, scheduled: bool) -> Change {
        Change {
            action,
            at: at.into(),
            by: "alice".into(),
            scheduled,
        }
    }

    /// The decision of a scheduled `action` at `now` with this live state.
    fn decide(
        action: Action,
        now: &str,
        state: Option<Expected>,
        last: Option<&Change>,
    ) -> Decision {
        let s = schedule();
        let timing = timing(&s, action, now.parse().unwrap());
        let live = LiveView {
            state,
            hold: None,
            last_change: last,
        };
        converge(&s, &timing, live).decision
    }

    #[test]
    fn the_decision_table() {
        use Action::{Park, Unpark};
        use ChangeAction as C;
        use Decision as D;
        const PARKED: Option<Expected> = Some(Expected::Parked);
        const UNPARKED: Option<Expected> = Some(Expected::Unparked);
        const MIXED: Option<Expected> = None;
        let scheduled_park = change(C::Park, "2026-12-07T19:00:05Z", true);
        let by_hand_unpark = change(C::Unpark, "2026-12-07T21:00:00Z", false);
        let by_hand_park = change(C::Park, "2026-12-08T12:00:00Z", false);
        // Tuesday 8 December 2026 (GMT), a working day.
        for (action, now, state, last, expected) in [
            // 07:00: the unpark, on time; at 08:00 a refused one is caught up.
            (
                Unpark,
                "2026-12-08T07:00:00Z",
                PARKED,
                Some(&scheduled_park),
                D::Act,
            ),
            (Unpark, "2026-12-08T07:59:59Z", PARKED, None, D::Act),
            (
                Unpark,
                "2026-12-08T08:00:00Z",
                PARKED,
                Some(&scheduled_park),
                D::CaughtUp,
            ),
            (
                Unpark,
                "2026-12-08T08:00:00Z",
                UNPARKED,
                None,
                D::OnSchedule,
            ),
            // Half-done (interrupted) is not there.
            (Unpark, "2026-12-08T09:00:00Z", MIXED, None, D::CaughtUp),
            // Unpark in the evening or at dawn: the park's business.
            (Unpark, "2026-12-08T20:00:00Z", PARKED, None, D::NotDue),
            (Park, "2026-12-08T11:00:00Z", UNPARKED, None, D::NotDue),
            // Unparked by hand at 21:00 on Monday: left alone at 22:00, and still on
            // Tuesday's 06:00 run (the next transition is 07:00).
            (
                Park,
                "2026-12-07T22:00:00Z",
                UNPARKED,
                Some(&by_hand_unpark),
                D::Overridden,
            ),
            (
                Park,
                "2026-12-08T06:00:00Z",
                UNPARKED,
                Some(&by_hand_unpark),
                D::Overridden,
            ),
            // Tuesday's 19:00 is a new transition: parked.
            (
                Park,
                "2026-12-08T19:00:00Z",
                UNPARKED,
                Some(&by_hand_unpark),
                D::Act,
            ),
            // Parked by hand at noon: left alone at 13:00, on schedule at 19:00, unparked
            // the next morning.
            (
                Unpark,
                "2026-12-08T13:00:00Z",
                PARKED,
                Some(&by_hand_park),
                D::Overridden,
            ),
            (
                Park,
                "2026-12-08T19:00:00Z",
                PARKED,
                Some(&by_hand_park),
                D::OnSchedule,
            ),
            (
                Unpark,
                "2026-12-09T07:00:00Z",
                PARKED,
                Some(&by_hand_park),
                D::Act,
            ),
            // A by-hand unpark dated in the future (a forged or skewed tag) is ignored.
            (
                Park,
                "2026-12-08T22:00:00Z",
                UNPARKED,
                Some(&change(C::Unpark, "2099-01-01T00:00:00Z", false)),
                D::CaughtUp,
            ),
            // A change by hand in the schedule's own direction is no override.
            (
                Park,
                "2026-12-08T22:00:00Z",
                UNPARKED,
                Some(&change(C::Park, "2026-12-08T21:00:00Z", false)),
                D::CaughtUp,
            ),
            // Weekend and holiday: up stays off, down converges.
            (Unpark, "2026-12-12T07:00:00Z", PARKED, None, D::Weekend),
            (Unpark, "2026-12-25T07:00:00Z", PARKED, None, D::Holiday),
            (Park, "2026-12-12T10:00:00Z", UNPARKED, None, D::CaughtUp),
        ] {
            assert_eq!(
                decide(action, now, state, last),
                expected,
                "{action:?} at {now}, {state:?}, {last:?}"
            );
        }
    }

    #[test]
    fn a_hold_wins_and_overridden_says_until_when() {
        let s = schedule();
        let hold = Hold {
            until: "2026-12-08T23:00:00Z".into(),
            by: "bob".into(),
            at: "2026-12-08T18:00:00Z".into(),
            reason: "late release".into(),
        };
        let t = timing(&s, Action::Park, "2026-12-08T19:00:00Z".parse().unwrap());
        let live = LiveView {
            state: Some(Expected::Unparked),
            hold: Some(&hold),
            last_change: None,
        };
        assert_eq!(converge(&s, &t, live).decision, Decision::Held);
        let by_hand = change(ChangeAction::Unpark, "2026-12-08T21:00:00Z", false);
        let t = timing(&s, Action::Park, "2026-12-08T22:00:00Z".parse().unwrap());
        let live = LiveView {
            state: Some(Expected::Unparked),
            hold: None,
            last_change: Some(&by_hand),
        };
        let note = converge(&s, &t, live);
        assert_eq!(note.decision, Decision::Overridden);
        assert_eq!(note.until.as_deref(), Some("2026-12-09T07:00:00+00:00"));
        assert_eq!(note.scheduled.as_deref(), Some("2026-12-08T19:00:00+00:00"));
        assert!(note
            .describe()
            .contains("unparked by alice at 2026-12-08T21:00:00Z (by hand)"));
    }
}
