//! `park down --scheduled` / `park up --scheduled` against the emulator, at fixed instants
//! (`INFRA_TEST_NOW`): a run that is not due makes no AWS call but the account guard's
//! and changes nothing; a due run parks and unparks exactly; a hold still wins over a due
//! scheduled park.

use crate::support::{assert_parked, Fleet};

/// London working hours, 07:00-19:00 on weekdays.
const SCHEDULE: &str = r#"
  schedule {
    timezone  = "Europe/London"
    unpark_at = "07:00"
    park_at   = "19:00"
    days      = ["mon", "tue", "wed", "thu", "fri"]
    window    = "55m"
  }
"#;

fn scheduled_fleet(services: usize) -> Fleet {
    let fleet = Fleet::new(services);
    let text = std::fs::read_to_string(&fleet.env_file).unwrap();
    let (head, rest) = text.split_once('\n').unwrap();
    std::fs::write(&fleet.env_file, format!("{head}\n{SCHEDULE}{rest}")).unwrap();
    fleet
}

fn at(fleet: &Fleet, now: &str, args: &[&str]) -> infra_test_support::Run {
    fleet.park_with(args, &[("INFRA_TEST_NOW", now)])
}

fn calls(fleet: &Fleet) -> Vec<String> {
    fleet.proxy.calls().iter().map(|c| c.iam_action()).collect()
}

#[test]
fn a_run_that_is_not_due_calls_nothing_but_the_account_guard() {
    let fleet = scheduled_fleet(3);
    let before = fleet.snapshot();
    for (now, args, decision) in [
        // Monday 10:10 BST: neither time is within its window.
        ("2026-07-06T09:10:00Z", ["up", "--scheduled"], "not-due"),
        ("2026-07-06T09:10:00Z", ["down", "--scheduled"], "not-due"),
        // Saturday 07:10 BST: the unpark time, on a non-working day.
        ("2026-07-11T06:10:00Z", ["up", "--scheduled"], "weekend"),
        // 21:00 on a Monday, after someone unparked by hand: not parked again.
        ("2026-07-06T20:00:00Z", ["down", "--scheduled"], "not-due"),
    ] {
        fleet.proxy.clear();
        let mut args = args.to_vec();
        args.extend(["--output", "json"]);
        let r = at(&fleet, now, &args);
        assert_eq!(r.code, 0, "{now} {args:?}: {}", r.stderr);
        assert_eq!(calls(&fleet), ["sts:GetCallerIdentity"], "{now} {args:?}");
        let json = r.json();
        assert_eq!(json["schedule"]["decision"], decision, "{json}");
        assert_eq!(json["resources"], serde_json::json!([]));
        assert!(
            r.stderr.contains("INFRA_TEST_NOW is set"),
            "the testing aid is warned about: {}",
            r.stderr
        );
    }
    let r = at(
        &fleet,
        "2026-07-06T09:10:00Z",
        &["up", "--scheduled", "--output", "json"],
    );
    let json = r.json();
    assert_eq!(json["schedule"]["local_time"], "2026-07-06T10:10:00+01:00");
    assert_eq!(json["schedule"]["next_park"], "2026-07-06T19:00:00+01:00");
    assert_eq!(json["schedule"]["next_unpark"], "2026-07-07T07:00:00+01:00");
    let text = at(&fleet, "2026-07-06T09:10:00Z", &["up", "--scheduled"]);
    assert!(
        text.stdout.contains("not-due at 2026-07-06T10:10:00+01:00")
            && text.stdout.contains("next park 2026-07-06T19:00:00+01:00"),
        "{}",
        text.stdout
    );
    assert_eq!(fleet.snapshot(), before, "nothing changed");
    assert!(fleet.lock_holder().is_none());
}

#[test]
fn due_scheduled_runs_park_and_unpark_exactly() {
    let fleet = scheduled_fleet(4);
    let before = fleet.snapshot();
    // Monday 19:05 BST.
    let r = at(
        &fleet,
        "2026-07-06T18:05:00Z",
        &["down", "--scheduled", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["schedule"]["decision"], "act");
    assert_eq!(
        r.json()["schedule"]["scheduled"],
        "2026-07-06T19:00:00+01:00"
    );
    // The run's saving counts the schedule's next 30 days, not 12 h a day: from Monday
    // 19:05 BST, 22 working days (7 July to 5 August) unparked 12 h each: 720 - 264 h.
    let savings = &r.json()["savings"];
    assert_eq!(savings["on_schedule"]["parked_hours"], 456.0, "{savings}");
    let parked = fleet.snapshot();
    assert_parked(&fleet.env, &before, &parked);
    // Tuesday 07:10 BST.
    let r = at(
        &fleet,
        "2026-07-07T06:10:00Z",
        &["up", "--scheduled", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["schedule"]["decision"], "act");
    assert_eq!(fleet.snapshot(), before, "unparked exactly as it was");
}

#[test]
fn a_hold_wins_over_a_due_scheduled_park() {
    let fleet = scheduled_fleet(2);
    let before = fleet.snapshot();
    let r = fleet.park(&[
        "hold",
        "--until",
        "3h",
        "--reason",
        "late release",
        "--by",
        "bob",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    fleet.proxy.clear();
    let r = at(
        &fleet,
        "2026-07-06T18:05:00Z",
        &["down", "--scheduled", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json = r.json();
    assert_eq!(json["schedule"]["decision"], "act", "{json}");
    assert_eq!(json["hold"]["result"], "held", "{json}");
    assert_eq!(json["hold"]["reason"], "late release");
    assert!(
        fleet.mutations().iter().all(|m| m.starts_with("dynamodb:")),
        "only the lock: {:?}",
        fleet.mutations()
    );
    assert_eq!(fleet.snapshot(), before, "nothing parked");
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
    let r = at(&fleet, "tomorrow", &["down", "--scheduled"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("INFRA_TEST_NOW=\"tomorrow\""),
        "{}",
        r.stderr
    );
    assert!(calls(&fleet).is_empty(), "{:?}", calls(&fleet));
}

/// `park status` shows the schedule: local now, the next park and unpark, and whether the
/// state is what the schedule expects; off-schedule is exit 3 with `--check`.
#[test]
fn status_says_whether_the_environment_is_on_schedule() {
    let fleet = scheduled_fleet(2);
    let status = |now: &str| {
        let r = at(&fleet, now, &["status", "--check", "--output", "json"]);
        (r.code, r.json()["schedule"].clone())
    };
    // Unparked on Tuesday 11:00 BST: as expected.
    let (code, s) = status("2026-07-07T10:00:00Z");
    assert_eq!((code, s["state"].as_str()), (0, Some("on-schedule")), "{s}");
    assert_eq!(s["expected"], "unparked");
    assert_eq!(s["local_time"], "2026-07-07T11:00:00+01:00");
    assert_eq!(s["next_park"], "2026-07-07T19:00:00+01:00");
    assert_eq!(s["next_unpark"], "2026-07-08T07:00:00+01:00");
    // Unparked on Tuesday 21:00 BST: off schedule.
    let (code, s) = status("2026-07-07T20:00:00Z");
    assert_eq!(
        (code, s["state"].as_str()),
        (3, Some("off-schedule")),
        "{s}"
    );
    let text = at(&fleet, "2026-07-07T20:00:00Z", &["status"]);
    assert!(
        text.stdout
            .contains("schedule    off-schedule: expected parked at 2026-07-07T21:00:00+01:00"),
        "{}",
        text.stdout
    );
    // Held awake: unparked at 21:00 is the hold's doing, not off schedule.
    let r = fleet.park(&["hold", "--until", "3h", "--reason", "late release"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, s) = status("2026-07-07T20:00:00Z");
    assert_eq!((code, s["state"].as_str()), (0, Some("held")), "{s}");
    let r = fleet.park(&["release"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Parked on a Tuesday at 11:00 local: off schedule, exit 3.
    let r = fleet.park(&["down"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, s) = status("2026-07-07T10:00:00Z");
    assert_eq!(
        (code, s["state"].as_str()),
        (3, Some("off-schedule")),
        "{s}"
    );
    // The monthly saving comes from the schedule's next 30 days: from Tuesday 11:00 BST,
    // 8 h unparked that day, 21 whole working days (12 h each) and 4 h of the 30th day:
    // 720 - 264 = 456 h parked.
    let r = at(
        &fleet,
        "2026-07-07T10:00:00Z",
        &["status", "--output", "json"],
    );
    let savings = &r.json()["savings"];
    assert_eq!(savings["on_schedule"]["parked_hours"], 456.0, "{savings}");
    let per_hour = savings["per_hour"].as_f64().unwrap();
    let monthly = savings["on_schedule"]["monthly"].as_f64().unwrap();
    assert!((monthly - per_hour * 456.0).abs() < 1e-5, "{savings}");
    let text = at(&fleet, "2026-07-07T10:00:00Z", &["status"]);
    assert!(
        text.stdout
            .contains("in the next 30 days on the schedule, 456 h parked"),
        "{}",
        text.stdout
    );
    // Parked on Saturday noon: as expected.
    let (code, s) = status("2026-07-11T11:00:00Z");
    assert_eq!((code, s["state"].as_str()), (0, Some("on-schedule")), "{s}");
}
