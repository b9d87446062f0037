//! `park down --scheduled` / `park up --scheduled` against the emulator, at fixed instants
//! (`--now`): scheduled runs converge to what the schedule expects (a refused, failed,
//! interrupted or missing run is caught up by the next), a person's change since the last
//! transition is left alone until the next one, a hold still wins, and a run with nothing
//! to do takes no lock and writes nothing.

use crate::support::{assert_parked, Fleet, Snapshot};
use infra_test_support::Run;

/// London working hours, 07:00-19:00 on weekdays, hourly runs; Christmas Day off.
const SCHEDULE: &str = r#"
  schedule {
    timezone   = "Europe/London"
    unpark_at  = "07:00"
    park_at    = "19:00"
    days       = ["mon", "tue", "wed", "thu", "fri"]
    holidays   = ["2026-12-25"]
    runs_every = "1h"
  }
"#;

fn scheduled_fleet(services: usize) -> Fleet {
    let fleet = Fleet::new(services);
    let text = std::fs::read_to_string(&fleet.env_file).unwrap();
    let (head, rest) = text.split_once('\n').unwrap();
    std::fs::write(&fleet.env_file, format!("{head}\n{SCHEDULE}{rest}")).unwrap();
    fleet
}

/// `park ARGS --now NOW --output json`.
fn at(fleet: &Fleet, now: &str, args: &[&str]) -> Run {
    let mut args = args.to_vec();
    args.extend(["--now", now, "--output", "json"]);
    fleet.park(&args)
}

fn calls(fleet: &Fleet) -> Vec<String> {
    fleet.proxy.calls().iter().map(|c| c.iam_action()).collect()
}

/// Runs a scheduled `direction` at `now`; asserts its exit code and decision.
fn scheduled(fleet: &Fleet, now: &str, direction: &str, code: i32, decision: &str) -> Run {
    let r = at(
        fleet,
        now,
        &[direction, "--scheduled", "--lock-timeout", "1s"],
    );
    assert_eq!(
        r.code, code,
        "{direction} at {now}: {}\n{}",
        r.stdout, r.stderr
    );
    if code != 4 {
        assert_eq!(
            r.json()["schedule"]["decision"],
            decision,
            "{direction} at {now}: {}",
            r.stdout
        );
    }
    r
}

fn is_parked(fleet: &Fleet, before: &Snapshot) -> bool {
    let now = fleet.snapshot();
    if now == *before {
        return false;
    }
    assert_parked(&fleet.env, before, &now);
    true
}

/// A week of Christmas 2026 (GMT, so local time is UTC) replayed at the instants that
/// matter, with both hourly triggers (`up --scheduled`, `down --scheduled`) as CircleCI
/// runs them: a 07:00 unpark refused by a held lock and caught up at 08:00; a 19:00 park
/// that never ran, caught up at 22:00; a park by hand at noon left alone at 13:00 and
/// unparked the next morning; an unpark by hand at 21:00 left alone at 22:00 and parked at
/// the next 19:00; the holiday and the weekend stay parked; every restore exact.
#[test]
fn a_replayed_week_converges_and_respects_people() {
    let fleet = scheduled_fleet(3);
    let before = fleet.snapshot();
    let unparked = |when: &str| assert_eq!(fleet.snapshot(), before, "{when}: unparked exactly");
    let parked = |when: &str| assert!(is_parked(&fleet, &before), "{when}: parked");

    // Sunday 20 December 19:00: a day off is never unparked; the park acts.
    scheduled(&fleet, "2026-12-20T19:00:00Z", "up", 0, "weekend");
    let r = scheduled(&fleet, "2026-12-20T19:00:00Z", "down", 0, "act");
    assert_eq!(
        r.json()["schedule"]["scheduled"],
        "2026-12-20T19:00:00+00:00"
    );
    assert_eq!(r.json()["recorded"]["scheduled"], true, "{}", r.stdout);
    assert_eq!(r.json()["clock"]["set"], true);
    assert!(
        r.json()["savings"]["on_schedule"]["parked_hours"].is_number(),
        "the saving counts the schedule's hours: {}",
        r.stdout
    );
    parked("Sunday 19:00");

    // Monday 07:00: the nightly drift check holds the state lock; the unpark is refused
    // (exit 4) and nothing changes. At 08:00 it is caught up.
    let holder = crate::lock::someone_else(&fleet);
    scheduled(&fleet, "2026-12-21T07:00:00Z", "up", 4, "act");
    scheduled(&fleet, "2026-12-21T07:00:00Z", "down", 0, "not-due");
    parked("Monday 07:00, refused");
    fleet.block_on(fleet.lock().release(&holder)).unwrap();
    let r = scheduled(&fleet, "2026-12-21T08:00:00Z", "up", 0, "caught-up");
    assert_eq!(
        r.json()["schedule"]["made_up_for"],
        "2026-12-21T07:00:00+00:00"
    );
    unparked("Monday 08:00");
    scheduled(&fleet, "2026-12-21T08:00:00Z", "down", 0, "not-due");

    // Monday 09:00: on schedule; reads only, no lock, no write.
    fleet.proxy.clear();
    scheduled(&fleet, "2026-12-21T09:00:00Z", "up", 0, "on-schedule");
    assert!(fleet.mutations().is_empty(), "{:?}", fleet.mutations());
    assert!(
        !calls(&fleet).iter().any(|c| c.starts_with("dynamodb:")),
        "no lock: {:?}",
        calls(&fleet)
    );

    // Monday 19:00: no pipeline ran. 22:00 catches the park up.
    let r = scheduled(&fleet, "2026-12-21T22:00:00Z", "down", 0, "caught-up");
    assert_eq!(
        r.json()["schedule"]["made_up_for"],
        "2026-12-21T19:00:00+00:00"
    );
    parked("Monday 22:00");
    scheduled(&fleet, "2026-12-21T22:00:00Z", "up", 0, "not-due");

    // Tuesday 07:00: unparked. At noon a person parks by hand; 13:00 leaves it, 19:00
    // finds it where the schedule wants it, Wednesday 07:00 unparks it.
    scheduled(&fleet, "2026-12-22T07:00:00Z", "up", 0, "act");
    unparked("Tuesday 07:00");
    let r = at(&fleet, "2026-12-22T12:00:00Z", &["down"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["recorded"]["scheduled"], false, "{}", r.stdout);
    parked("Tuesday noon, by hand");
    let r = scheduled(&fleet, "2026-12-22T13:00:00Z", "up", 0, "overridden");
    let s = &r.json()["schedule"];
    assert_eq!(s["last_change"]["action"], "park", "{s}");
    assert_eq!(s["last_change"]["at"], "2026-12-22T12:00:00Z", "{s}");
    assert_eq!(s["until"], "2026-12-22T19:00:00+00:00", "{s}");
    parked("Tuesday 13:00, left alone");
    scheduled(&fleet, "2026-12-22T19:00:00Z", "down", 0, "on-schedule");
    scheduled(&fleet, "2026-12-23T07:00:00Z", "up", 0, "act");
    unparked("Wednesday 07:00");

    // Wednesday 19:00 parked; at 21:00 a person unparks for an incident; 22:00 and
    // Thursday's 06:00 leave it; Thursday 07:00 finds it unparked as expected; Thursday
    // 19:00 parks it.
    scheduled(&fleet, "2026-12-23T19:00:00Z", "down", 0, "act");
    parked("Wednesday 19:00");
    let r = at(&fleet, "2026-12-23T21:00:00Z", &["up"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    unparked("Wednesday 21:00, by hand");
    let r = scheduled(&fleet, "2026-12-23T22:00:00Z", "down", 0, "overridden");
    assert!(
        r.json()["schedule"]["last_change"]["by"].is_string(),
        "{}",
        r.stdout
    );
    let status = at(&fleet, "2026-12-23T22:00:00Z", &["status", "--check"]);
    assert_eq!(
        status.code, 0,
        "overridden is not off schedule: {}",
        status.stdout
    );
    let s = &status.json()["schedule"];
    assert_eq!(s["state"], "overridden", "{s}");
    assert_eq!(s["in_charge"], "person", "{s}");
    assert_eq!(s["until"], "2026-12-24T07:00:00+00:00", "{s}");
    assert_eq!(s["last_change"]["scheduled"], false, "{s}");
    scheduled(&fleet, "2026-12-24T06:00:00Z", "down", 0, "overridden");
    unparked("Thursday 06:00, left alone");
    scheduled(&fleet, "2026-12-24T07:00:00Z", "up", 0, "on-schedule");
    scheduled(&fleet, "2026-12-24T19:00:00Z", "down", 0, "act");
    parked("Thursday 19:00");

    // Christmas Day and the weekend stay parked.
    scheduled(&fleet, "2026-12-25T07:00:00Z", "up", 0, "holiday");
    scheduled(&fleet, "2026-12-25T19:00:00Z", "down", 0, "on-schedule");
    scheduled(&fleet, "2026-12-26T07:00:00Z", "up", 0, "weekend");
    scheduled(&fleet, "2026-12-27T12:00:00Z", "up", 0, "weekend");
    parked("the weekend");
    let status = at(&fleet, "2026-12-26T12:00:00Z", &["status", "--check"]);
    assert_eq!(status.code, 0, "{}", status.stdout);
    assert_eq!(status.json()["schedule"]["state"], "on-schedule");
    assert_eq!(status.json()["schedule"]["in_charge"], "schedule");

    // Monday 28 December 07:00: unparked exactly.
    scheduled(&fleet, "2026-12-28T07:00:00Z", "up", 0, "act");
    unparked("Monday 28 07:00");
    assert!(fleet.lock_holder().is_none());
}

/// A scheduled park killed (SIGKILL) half-way leaves the lock and a half-parked
/// environment and records no change; after `park unlock`, the next hour's scheduled run
/// finishes it, and the next morning's unpark restores everything exactly.
#[test]
fn a_killed_scheduled_run_is_finished_by_the_next() {
    let fleet = scheduled_fleet(4);
    let before = fleet.snapshot();
    fleet.proxy.clear();
    fleet.proxy.kill_after_mutations(4);
    let child = fleet.spawn(&["down", "--scheduled", "--now", "2026-12-21T19:00:00Z"]);
    fleet.proxy.set_target(child.id());
    let out = child.wait_with_output().unwrap();
    assert!(
        fleet.proxy.killed(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fleet.proxy.clear();
    let half = fleet.snapshot();
    assert_ne!(half, before, "something was parked");
    let holder = fleet.lock_holder().expect("the killed run's lock");
    let r = fleet.park(&["unlock", &holder.id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Half-parked is not parked: the status says so, and the next run catches up.
    let status = at(&fleet, "2026-12-21T19:30:00Z", &["status", "--check"]);
    assert_eq!(status.code, 3, "{}", status.stdout);
    let r = scheduled(&fleet, "2026-12-21T20:00:00Z", "down", 0, "caught-up");
    assert_eq!(r.json()["summary"]["failed"], 0, "{}", r.stdout);
    assert!(is_parked(&fleet, &before));
    scheduled(&fleet, "2026-12-22T07:00:00Z", "up", 0, "act");
    assert_eq!(fleet.snapshot(), before, "unparked exactly");
}

#[test]
fn a_run_that_is_not_due_calls_nothing_but_the_account_guard() {
    let fleet = scheduled_fleet(3);
    let before = fleet.snapshot();
    for (now, direction, decision) in [
        // Monday 10:10 BST: the schedule expects unparked; parking is not due.
        ("2026-07-06T09:10:00Z", "down", "not-due"),
        // Saturday 07:10 BST: the unpark time, on a non-working day.
        ("2026-07-11T06:10:00Z", "up", "weekend"),
        // Monday 21:00 BST: unparking is not due.
        ("2026-07-06T20:00:00Z", "up", "not-due"),
    ] {
        fleet.proxy.clear();
        let r = at(&fleet, now, &[direction, "--scheduled"]);
        assert_eq!(r.code, 0, "{now} {direction}: {}", r.stderr);
        assert_eq!(
            calls(&fleet),
            ["sts:GetCallerIdentity"],
            "{now} {direction}"
        );
        let json = r.json();
        assert_eq!(json["schedule"]["decision"], decision, "{json}");
        assert_eq!(json["resources"], serde_json::json!([]));
        assert_eq!(json["clock"]["now"], now, "{json}");
        assert!(
            r.stderr.contains("set by --now"),
            "the set clock is said: {}",
            r.stderr
        );
    }
    let r = at(&fleet, "2026-07-06T09:10:00Z", &["down", "--scheduled"]);
    let json = r.json();
    assert_eq!(json["schedule"]["local_time"], "2026-07-06T10:10:00+01:00");
    assert_eq!(json["schedule"]["next_park"], "2026-07-06T19:00:00+01:00");
    assert_eq!(json["schedule"]["next_unpark"], "2026-07-07T07:00:00+01:00");
    let text = fleet.park(&["down", "--scheduled", "--now", "2026-07-06T09:10:00Z"]);
    assert!(
        text.stdout.contains("not-due at 2026-07-06T10:10:00+01:00")
            && text.stdout.contains("next park 2026-07-06T19:00:00+01:00")
            && text
                .stdout
                .contains("clock       set by --now to 2026-07-06T09:10:00Z"),
        "{}",
        text.stdout
    );
    assert_eq!(fleet.snapshot(), before, "nothing changed");
    assert!(fleet.lock_holder().is_none());
}

#[test]
fn a_hold_wins_over_a_due_scheduled_park() {
    let fleet = scheduled_fleet(2);
    let before = fleet.snapshot();
    let r = at(
        &fleet,
        "2026-07-06T17:00:00Z",
        &[
            "hold",
            "--until",
            "3h",
            "--reason",
            "late release",
            "--by",
            "bob",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.json()["hold"]["until"],
        "2026-07-06T20:00:00Z",
        "{}",
        r.stdout
    );
    fleet.proxy.clear();
    let r = at(&fleet, "2026-07-06T18:05:00Z", &["down", "--scheduled"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json = r.json();
    assert_eq!(json["schedule"]["decision"], "held", "{json}");
    assert_eq!(json["hold"]["result"], "held", "{json}");
    assert_eq!(json["hold"]["reason"], "late release");
    assert!(fleet.mutations().is_empty(), "{:?}", fleet.mutations());
    assert_eq!(fleet.snapshot(), before, "nothing parked");
    let text = fleet.park(&["down", "--scheduled", "--now", "2026-07-06T18:05:00Z"]);
    assert!(
        text.stdout
            .contains("held until 2026-07-06T20:00:00Z by bob: late release"),
        "the text says who holds it: {}",
        text.stdout
    );
    // Once the hold has ended, the next hourly run catches the park up.
    let r = at(&fleet, "2026-07-06T20:00:00Z", &["down", "--scheduled"]);
    assert_eq!(
        r.json()["schedule"]["decision"],
        "caught-up",
        "{}",
        r.stdout
    );
    assert!(is_parked(&fleet, &before));
}

#[test]
fn scheduled_without_a_schedule_or_with_a_bad_clock_is_exit_2() {
    // One fleet (one emulator session) at a time: the second waits for the first's.
    {
        let fleet = Fleet::new(1);
        fleet.proxy.clear();
        let r = fleet.park(&["down", "--scheduled"]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(
            r.stderr.contains("--scheduled needs a `schedule"),
            "{}",
            r.stderr
        );
        assert!(calls(&fleet).is_empty(), "{:?}", calls(&fleet));
    }
    let fleet = scheduled_fleet(1);
    fleet.proxy.clear();
    for bad in ["tomorrow", "", "2026-07-06T19:10:00", "1:€00000"] {
        let r = fleet.park(&["down", "--scheduled", "--now", bad]);
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(r.stderr.contains("--now"), "{}", r.stderr);
    }
    assert!(calls(&fleet).is_empty(), "{:?}", calls(&fleet));
}

/// The retired test clock variable is never read: a summer evening copied into a CI
/// context does not freeze the clock (the real time is reported, with a warning).
#[test]
fn the_retired_clock_variable_is_ignored() {
    let fleet = scheduled_fleet(1);
    let r = fleet.park_with(
        &["status", "--output", "json"],
        &[("INFRA_TEST_NOW", "2026-07-06T20:00:00Z")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json = r.json();
    assert!(json.get("clock").is_none(), "{json}");
    let local = json["schedule"]["local_time"].as_str().unwrap().to_owned();
    assert!(!local.starts_with("2026-07-06T21:00"), "{local}");
    let real = jiff::Timestamp::now();
    let reported: jiff::Timestamp = local.parse().unwrap();
    assert!(
        (real.as_second() - reported.as_second()).abs() < 600,
        "{local} is the real time"
    );
    assert!(
        r.stderr.contains("INFRA_TEST_NOW is set and ignored"),
        "{}",
        r.stderr
    );
    // `--now` sets it, and the report says so.
    let r = at(&fleet, "2026-07-06T20:00:00Z", &["status"]);
    assert_eq!(
        r.json()["schedule"]["local_time"],
        "2026-07-06T21:00:00+01:00"
    );
    assert_eq!(r.json()["clock"]["set"], true);
}

/// `park status` shows the schedule: local now, the next park and unpark, what it
/// expects, who is in charge and whether the state is on schedule; off-schedule is exit 3
/// with `--check`.
#[test]
fn status_says_whether_the_environment_is_on_schedule() {
    let fleet = scheduled_fleet(2);
    let status = |now: &str| {
        let r = at(&fleet, now, &["status", "--check"]);
        (r.code, r.json()["schedule"].clone())
    };
    // Unparked on Tuesday 11:00 BST: as expected.
    let (code, s) = status("2026-07-07T10:00:00Z");
    assert_eq!((code, s["state"].as_str()), (0, Some("on-schedule")), "{s}");
    assert_eq!(s["expected"], "unparked");
    assert_eq!(s["in_charge"], "schedule");
    assert_eq!(s["local_time"], "2026-07-07T11:00:00+01:00");
    assert_eq!(s["next_park"], "2026-07-07T19:00:00+01:00");
    assert_eq!(s["next_unpark"], "2026-07-08T07:00:00+01:00");
    // Unparked on Tuesday 21:00 BST with no change recorded: off schedule.
    let (code, s) = status("2026-07-07T20:00:00Z");
    assert_eq!(
        (code, s["state"].as_str()),
        (3, Some("off-schedule")),
        "{s}"
    );
    let text = fleet.park(&["status", "--now", "2026-07-07T20:00:00Z"]);
    assert!(
        text.stdout
            .contains("schedule    off-schedule: expected parked at 2026-07-07T21:00:00+01:00"),
        "{}",
        text.stdout
    );
    // Held awake: unparked at 21:00 is the hold's doing, not off schedule.
    let r = at(
        &fleet,
        "2026-07-07T19:30:00Z",
        &["hold", "--until", "3h", "--reason", "late release"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, s) = status("2026-07-07T20:00:00Z");
    assert_eq!((code, s["state"].as_str()), (0, Some("held")), "{s}");
    assert_eq!(s["in_charge"], "person", "{s}");
    let r = at(&fleet, "2026-07-07T20:01:00Z", &["release"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Parked by a scheduled run's clock on a Tuesday at 11:00 local would be off
    // schedule; parked by hand it is the person's until 19:00.
    let r = at(&fleet, "2026-07-07T09:00:00Z", &["down"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, s) = status("2026-07-07T10:00:00Z");
    assert_eq!((code, s["state"].as_str()), (0, Some("overridden")), "{s}");
    let text = fleet.park(&["status", "--now", "2026-07-07T10:00:00Z"]);
    assert!(
        text.stdout
            .contains("in charge   a person until 2026-07-07T19:00:00+01:00")
            && text.stdout.contains("last change parked by "),
        "{}",
        text.stdout
    );
    // The monthly saving comes from the schedule's next 30 days: from Tuesday 11:00 BST,
    // 8 h unparked that day, 21 whole working days (12 h each) and 4 h of the 30th day:
    // 720 - 264 = 456 h parked.
    let r = at(&fleet, "2026-07-07T10:00:00Z", &["status"]);
    let savings = &r.json()["savings"];
    assert_eq!(savings["on_schedule"]["parked_hours"], 456.0, "{savings}");
    let per_hour = savings["per_hour"].as_f64().unwrap();
    let monthly = savings["on_schedule"]["monthly"].as_f64().unwrap();
    assert!((monthly - per_hour * 456.0).abs() < 1e-5, "{savings}");
    // Parked on Saturday noon: as expected.
    let (code, s) = status("2026-07-11T11:00:00Z");
    assert_eq!((code, s["state"].as_str()), (0, Some("on-schedule")), "{s}");
}

/// Two scheduled parks at once (a late pipeline and the next hour's, both deciding `act`
/// without the lock): one waits for the other's lock, decides again on what it then
/// reads, and finds it `on-schedule`. One parks; the environment is parked exactly once.
#[test]
fn two_scheduled_runs_at_once_park_once() {
    let fleet = scheduled_fleet(3);
    let before = fleet.snapshot();
    let holder = crate::lock::someone_else(&fleet);
    let args = [
        "down",
        "--scheduled",
        "--now",
        "2026-12-21T19:00:00Z",
        "--lock-timeout",
        "60s",
        "--output",
        "json",
    ];
    let first = fleet.spawn(&args);
    let second = fleet.spawn(&args);
    // Both have read the live state (unparked: `act`) and wait for the lock.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    fleet.proxy.clear();
    fleet.block_on(fleet.lock().release(&holder)).unwrap();
    let mut decisions: Vec<String> = [first, second]
        .into_iter()
        .map(|child| {
            let r: Run = child.wait_with_output().unwrap().into();
            assert_eq!(r.code, 0, "{}", r.stderr);
            r.json()["schedule"]["decision"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    decisions.sort();
    assert_eq!(decisions, ["act", "on-schedule"]);
    assert!(is_parked(&fleet, &before));
    let updates = fleet
        .mutations()
        .iter()
        .filter(|m| *m == "ecs:UpdateService")
        .count();
    assert_eq!(
        updates,
        3,
        "each service scaled down once: {:?}",
        fleet.mutations()
    );
    assert!(fleet.lock_holder().is_none());
}
