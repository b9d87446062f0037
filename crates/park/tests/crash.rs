//! Crash safety: kill `park` with SIGKILL right after each mutating call it makes (the
//! emulator has carried the call out, the tool never sees the answer), rerun, and check the
//! final state and the records every time.

use crate::support::{assert_parked, Fleet, Snapshot};
use infra_test_support::SeedOptions;

const SERVICES: usize = 8;

fn killed_run(fleet: &Fleet, args: &[&str], after: usize) {
    fleet.proxy.clear();
    fleet.proxy.kill_after_mutations(after);
    let child = fleet.spawn(args);
    fleet.proxy.set_target(child.id());
    let out = child.wait_with_output().unwrap();
    assert!(
        fleet.proxy.killed(),
        "kill after mutation {after} did not fire ({} mutations seen, exit {:?}): {}\n{}",
        fleet.proxy.mutations(),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), None, "killed by a signal");
    fleet.proxy.clear();
    release_abandoned_lock(fleet, after);
}

/// A run killed while it held the environment lock leaves the lock behind (nothing can
/// release it after SIGKILL): the next run refuses, naming it, and changes nothing;
/// `park unlock ID` releases it, as an operator would.
fn release_abandoned_lock(fleet: &Fleet, after: usize) {
    let Some(holder) = fleet.lock_holder() else {
        return;
    };
    let before = fleet.snapshot();
    let r = fleet.park(&["down", "--lock-timeout", "0s"]);
    assert_eq!(r.code, 4, "kill at {after}: {}", r.stderr);
    assert!(
        r.stderr.contains(&holder.id) && r.stderr.contains("park unlock"),
        "{}",
        r.stderr
    );
    assert_eq!(fleet.snapshot(), before, "a refused run changes nothing");
    let r = fleet.park(&["unlock", &holder.id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&holder.id), "{}", r.stdout);
    assert_eq!(fleet.lock_holder(), None);
    fleet.proxy.clear();
}

fn count_mutations(fleet: &Fleet, args: &[&str]) -> usize {
    fleet.proxy.clear();
    let r = fleet.park(args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let n = fleet.proxy.mutations();
    fleet.proxy.clear();
    n
}

fn assert_unparked(before: &Snapshot, after: &Snapshot) {
    assert_eq!(after.services, before.services);
    assert_eq!(
        after.rules, before.rules,
        "each rule back as it was, no record"
    );
    for (name, b) in &before.aurora {
        let a = &after.aurora[name];
        assert_eq!(
            (a.scaling.0, a.scaling.1, &a.record),
            (b.scaling.0, b.scaling.1, &None),
            "{name}"
        );
    }
}

#[test]
fn park_down_survives_a_kill_after_every_mutating_call() {
    let fleet = Fleet::new(SERVICES);
    let before = fleet.snapshot();
    let total = count_mutations(&fleet, &["down"]);
    assert!(
        total >= 20,
        "expected every step of every resource, got {total}"
    );
    for after in 1..=total {
        fleet.reseed(&SeedOptions::default());
        killed_run(&fleet, &["down"], after);
        let r = fleet.park(&["down"]);
        assert_eq!(
            r.code, 0,
            "rerun after kill at {after}: {}\n{}",
            r.stdout, r.stderr
        );
        assert_parked(&fleet.env, &before, &fleet.snapshot());
        let r = fleet.park(&["up"]);
        assert_eq!(
            r.code, 0,
            "unpark after kill at {after}: {}\n{}",
            r.stdout, r.stderr
        );
        assert_unparked(&before, &fleet.snapshot());
    }
    crash_record("down", total);
}

#[test]
fn park_up_survives_a_kill_after_every_mutating_call() {
    let fleet = Fleet::new(SERVICES);
    let before = fleet.snapshot();
    assert_eq!(fleet.park(&["down"]).code, 0);
    let total = count_mutations(&fleet, &["up"]);
    assert!(
        total >= 20,
        "expected every step of every resource, got {total}"
    );
    for after in 1..=total {
        fleet.reseed(&SeedOptions::default());
        assert_eq!(fleet.park(&["down"]).code, 0);
        killed_run(&fleet, &["up"], after);
        let r = fleet.park(&["up"]);
        assert_eq!(
            r.code, 0,
            "rerun after kill at {after}: {}\n{}",
            r.stdout, r.stderr
        );
        assert_unparked(&before, &fleet.snapshot());
    }
    crash_record("up", total);
}

fn crash_record(direction: &str, kills: usize) {
    infra_test_support::report::record(
        &format!("park-crash-{direction}"),
        &format!("park {direction}, {SERVICES} services + 2 Aurora clusters + 3 EventBridge rules, SIGKILL after each mutating call"),
        &format!("cargo test -p park --test tests park_{direction}_survives"),
        serde_json::json!({
            "kills": kills,
            "reruns_exact": kills,
            "result": "every rerun finished with the exact state and records",
        }),
    );
}
