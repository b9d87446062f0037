//! The environment lock: `park down` and `park up` hold Terraform's state lock for the
//! whole run, so overlapping runs (and Terraform) never interleave.

use crate::support::{Fleet, LockMode, Snapshot, STATE_BUCKET, STATE_KEY};
use infra_test_support::{terraform_backend_config, terraform_binary, wait_for, SeedOptions};
use state_lock::LockInfo;
use std::time::{Duration, Instant};

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn someone_else(fleet: &Fleet) -> LockInfo {
    let lock = fleet.lock();
    let mut info = LockInfo::new("OperationTypeApply", "1.9.0", lock.backend());
    info.who = "alice@laptop".into();
    fleet
        .block_on(lock.acquire(&info, Duration::ZERO))
        .expect("the test takes the lock");
    info
}

/// The race of the issue: `park down` and `park up --no-wait` started a few milliseconds
/// apart, round after round. Without the lock, `up` removed the record `down` had just
/// written and `down` then scaled the services to 0: capacities lost for good. With it,
/// one run waits for the other, and one final `park up` restores everything exactly.
#[test]
fn overlapping_down_and_up_never_lose_a_record() {
    // CI: 30 services, 6 rounds (the race lost records in every such run without the
    // lock); scripts/reliability: PARK_RACE_ROUNDS=40, offsets 0-195 ms.
    let services: usize = env_number("PARK_RACE_SERVICES", 30);
    let rounds: u64 = env_number("PARK_RACE_ROUNDS", 6);
    let fleet = Fleet::new(services);
    let before: Snapshot = fleet.snapshot();
    let offsets_ms: Vec<u64> = (0..rounds)
        .map(|i| {
            if rounds <= 6 {
                [0, 5, 10, 20, 40, 80][i as usize]
            } else {
                i * 5
            }
        })
        .collect();
    for &offset in &offsets_ms {
        let down = fleet.spawn(&["down"]);
        std::thread::sleep(Duration::from_millis(offset));
        let up = fleet.spawn(&["up", "--no-wait"]);
        let down = down.wait_with_output().unwrap();
        let up = up.wait_with_output().unwrap();
        for (name, out) in [("down", &down), ("up", &up)] {
            assert_eq!(
                out.status.code(),
                Some(0),
                "offset {offset} ms, park {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(
            fleet.lock_holder(),
            None,
            "offset {offset} ms: a lock was left"
        );
    }
    let r = fleet.park(&["up"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        fleet.snapshot(),
        before,
        "every capacity, suspension flag and record back exactly"
    );
    infra_test_support::report::record(
        "park-lock-race",
        &format!(
            "park down & park up --no-wait started 0-80 ms apart, {services} services, {} rounds",
            offsets_ms.len()
        ),
        "cargo test -p park --test tests overlapping_down_and_up",
        serde_json::json!({"rounds": offsets_ms.len(), "records_lost": 0}),
    );
}

fn held_lock_refuses(mode: LockMode) {
    let fleet = Fleet::locked_with(6, SeedOptions::default(), mode);
    let before = fleet.snapshot();
    let holder = someone_else(&fleet);
    fleet.proxy.clear();
    let r = fleet.park(&["down", "--lock-timeout", "1s"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    for part in [
        "alice@laptop",
        "OperationTypeApply",
        holder.created.as_str(),
        holder.id.as_str(),
    ] {
        assert!(r.stderr.contains(part), "{part} missing: {}", r.stderr);
    }
    assert_eq!(fleet.snapshot(), before, "nothing changed");
    let lock_write = if mode == LockMode::DynamoDb {
        "dynamodb:PutItem"
    } else {
        "s3:PutObject"
    };
    assert!(
        fleet.mutations().iter().all(|m| m == lock_write),
        "only the refused lock write: {:?}",
        fleet.mutations()
    );
    assert_eq!(
        fleet.lock_holder().as_ref(),
        Some(&holder),
        "theirs, untouched"
    );

    // Another ID is refused; the right one removes the lock.
    let r = fleet.park(&["unlock", "00000000-0000-0000-0000-000000000000"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains(&holder.id), "{}", r.stderr);
    assert_eq!(fleet.lock_holder().as_ref(), Some(&holder));

    // A run that waits gets the lock when the holder lets go.
    let waiting = fleet.spawn(&["down", "--lock-timeout", "60s"]);
    std::thread::sleep(Duration::from_millis(1500));
    fleet.block_on(fleet.lock().release(&holder)).unwrap();
    let out = waiting.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("waiting up to 1m"), "{stderr}");
    assert_eq!(fleet.lock_holder(), None, "released after the run");
    assert_eq!(fleet.park(&["up"]).code, 0);
    assert_eq!(fleet.lock_holder(), None);
    assert_eq!(
        fleet.park(&["unlock", &holder.id]).code,
        1,
        "nothing to unlock"
    );
}

#[test]
fn a_held_dynamodb_lock_refuses_then_is_waited_for() {
    held_lock_refuses(LockMode::DynamoDb);
}

#[test]
fn a_held_s3_lock_file_refuses_then_is_waited_for() {
    held_lock_refuses(LockMode::LockFile);
}

#[test]
fn without_a_backend_park_refuses_unless_no_lock() {
    let fleet = Fleet::locked_with(3, SeedOptions::default(), LockMode::None);
    let before = fleet.snapshot();
    let r = fleet.park(&["down"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("declares no backend") && r.stderr.contains("--no-lock"),
        "{}",
        r.stderr
    );
    assert_eq!(fleet.snapshot(), before);
    assert!(fleet.mutations().is_empty(), "{:?}", fleet.mutations());
    let r = fleet.park(&["down", "--no-lock"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("without the environment lock"),
        "{}",
        r.stderr
    );
    assert_eq!(fleet.park(&["up", "--no-lock"]).code, 0);
    // Read-only commands need no lock.
    assert_eq!(fleet.park(&["status"]).code, 0);
    assert_eq!(fleet.park(&["down", "--dry-run"]).code, 3);
}

/// SIGTERM (how CircleCI cancels a job) at several moments of `park down` and `park up`
/// (after the 1st, 3rd and 5th service update, updates slowed to 1.5 s): the process ends
/// within 10 s, exit 1, the JSON report marks the interrupted resources, no lock is left,
/// and a rerun ends exactly parked (or exactly as before). A second signal ends it at once.
#[test]
fn sigterm_at_several_moments_stops_the_run_and_releases_the_lock() {
    let fleet = Fleet::new(8);
    let before = fleet.snapshot();
    let term = infra_test_support::sigterm;
    let updates = || {
        fleet
            .proxy
            .calls()
            .iter()
            .filter(|c| c.iam_action() == "ecs:UpdateService")
            .count()
    };
    for moment in [1, 3, 5] {
        for direction in ["down", "up"] {
            fleet.proxy.clear();
            fleet
                .proxy
                .delay(Some(("ecs:UpdateService", Duration::from_millis(1500))));
            let child = fleet.spawn(&[direction, "--concurrency", "2", "--output", "json"]);
            wait_for("park to change services", || updates() >= moment);
            let signalled = Instant::now();
            term(child.id());
            let out = child.wait_with_output().unwrap();
            let took = signalled.elapsed();
            fleet.proxy.delay(None);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("park {direction}, SIGTERM after update {moment}");
            assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
            assert!(
                took < Duration::from_secs(10),
                "{what}: ended {took:?} after SIGTERM"
            );
            assert!(stderr.contains("SIGTERM: stopping"), "{what}: {stderr}");
            let report: serde_json::Value =
                serde_json::from_slice(&out.stdout).expect("a JSON report");
            assert!(
                report.to_string().contains("interrupted"),
                "{what}: {report}"
            );
            assert_eq!(fleet.lock_holder(), None, "{what}: the lock was released");
            let rerun = fleet.park(&[direction]);
            assert_eq!(rerun.code, 0, "{what}, rerun: {}", rerun.stderr);
            if direction == "down" {
                crate::support::assert_parked(&fleet.env, &before, &fleet.snapshot());
            } else {
                assert_eq!(fleet.snapshot(), before, "{what}, rerun");
            }
        }
    }

    // A second signal: at once, saying the lock may remain; `park unlock` mends that.
    // (The run is held in its observation — reads slowed to 20 s, longer than the stop's
    // grace — so it cannot end by itself in between.)
    fleet.proxy.clear();
    fleet
        .proxy
        .delay(Some(("ecs:DescribeServices", Duration::from_secs(20))));
    let child = fleet.spawn(&["down", "--concurrency", "2"]);
    wait_for("park to take the lock", || fleet.lock_holder().is_some());
    std::thread::sleep(Duration::from_millis(300));
    term(child.id());
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    term(child.id());
    let out = child.wait_with_output().unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(2),
        "{:?}",
        signalled.elapsed()
    );
    fleet.proxy.delay(None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("SIGTERM again: stopping at once"),
        "{stderr}"
    );
    if let Some(info) = fleet.lock_holder() {
        assert_eq!(fleet.park(&["unlock", &info.id]).code, 0);
    }
    assert_eq!(fleet.park(&["down"]).code, 0);
    assert_eq!(fleet.park(&["up"]).code, 0);
    assert_eq!(fleet.snapshot(), before);
}

/// The real Terraform and park exclude each other through the one lock: Terraform cannot
/// take the state lock while park holds it (and names park as the holder); park waits
/// for a lock Terraform holds, then refuses when it is held too long.
#[test]
fn terraform_and_park_exclude_each_other() {
    let terraform = terraform_binary().expect("scripts/setup installs Terraform");
    let fleet = Fleet::new(6);
    fleet
        .block_on(infra_test_support::state_bucket(
            &fleet.config,
            STATE_BUCKET,
        ))
        .unwrap();
    let root = fleet.env.terraform.root.clone();
    // Terraform 1.0.3 needs the endpoints in its backend configuration; park reads them too.
    std::fs::write(
        root.join("backend.hcl"),
        terraform_backend_config(
            fleet.proxy.endpoint(),
            STATE_BUCKET,
            crate::support::LOCK_TABLE,
            STATE_KEY,
        ),
    )
    .unwrap();
    let tf = |args: &[&str]| {
        let mut cmd = infra_test_support::command(&terraform, fleet.proxy.endpoint());
        cmd.arg(format!("-chdir={}", root.display()))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    };
    let init = tf(&[
        "init",
        "-input=false",
        "-no-color",
        "-backend-config=backend.hcl",
    ])
    .output()
    .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );

    // park holds the lock (its service updates slowed); Terraform cannot take it, and
    // tf-wrap says park holds it.
    fleet
        .proxy
        .delay(Some(("ecs:UpdateService", Duration::from_secs(6))));
    let park = fleet.spawn(&["down"]);
    wait_for("park to take the lock", || fleet.lock_holder().is_some());
    let plan = tf(&["plan", "-input=false", "-no-color", "-lock-timeout=0s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&plan.stderr);
    assert!(!plan.status.success());
    assert!(
        stderr.contains("Error acquiring the state lock") && stderr.contains("park down"),
        "Terraform names park as the holder: {stderr}"
    );
    let tf_wrap = infra_test_support::command(
        infra_test_support::workspace_binary("tf-wrap"),
        fleet.proxy.endpoint(),
    )
    .args(["plan", "--bundle"])
    .arg(root.join("bundle"))
    .args(["--lock-timeout", "0s", "--binary"])
    .arg(&terraform)
    .arg("--env-file")
    .arg(&fleet.env_file)
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&tf_wrap.stderr);
    assert_eq!(tf_wrap.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("locked by park (`park down`") && stderr.contains("park unlock "),
        "{stderr}"
    );
    assert!(fleet.lock_holder().is_some(), "park still holds it");
    let park = park.wait_with_output().unwrap();
    fleet.proxy.delay(None);
    assert_eq!(
        park.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&park.stderr)
    );

    // Terraform holds the lock (its release slowed): park refuses, then waits for it.
    fleet
        .proxy
        .delay(Some(("dynamodb:DeleteItem", Duration::from_secs(4))));
    let plan = tf(&["plan", "-input=false", "-no-color"]).spawn().unwrap();
    wait_for("Terraform to take the lock", || {
        fleet
            .lock_holder()
            .is_some_and(|h| h.operation == "OperationTypePlan")
    });
    let r = fleet.park(&["up", "--lock-timeout", "1s"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("OperationTypePlan"), "{}", r.stderr);
    let r = fleet.park(&["up", "--lock-timeout", "2m"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("waiting up to 2m"), "{}", r.stderr);
    let plan = plan.wait_with_output().unwrap();
    fleet.proxy.delay(None);
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    assert_eq!(fleet.lock_holder(), None);
}

/// The lock's conditional writes when their answers are lost after they took effect (a
/// connection reset at the worst moment): the SDK retries, the retried PutItem finds the
/// lock it made itself and the retried DeleteItem finds it gone. Both must count as done:
/// otherwise park would wait its whole lock timeout for its own lock, or report a lock it
/// did release as lost. Then 75% of the lock table's calls fail (throttling, 5xx, resets):
/// the runs still take and release the lock.
#[test]
fn lost_answers_and_throttling_on_the_lock_calls_are_survived() {
    let fleet = Fleet::new(6);
    let before = fleet.snapshot();
    for (direction, lost) in [("down", "dynamodb:PutItem"), ("up", "dynamodb:DeleteItem")] {
        fleet.proxy.clear();
        fleet.proxy.lose_answers(&[lost]);
        let started = Instant::now();
        let r = fleet.park(&[direction, "--lock-timeout", "2m"]);
        assert_eq!(
            r.code, 0,
            "park {direction} with {lost}'s answer lost: {}",
            r.stderr
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "park {direction} waited for its own lock"
        );
        let calls: Vec<String> = fleet.mutations();
        assert!(
            calls.iter().filter(|c| *c == lost).count() >= 2,
            "the lost call was retried: {calls:?}"
        );
        assert_eq!(fleet.lock_holder(), None, "park {direction} left a lock");
    }
    assert_eq!(fleet.snapshot(), before);

    // Heavy faults on the lock table only (the other calls' faults are the fault suite's).
    fleet.proxy.faults_only(Some("dynamodb"));
    fleet.proxy.faults(Some(infra_test_support::Faults {
        seed: 21,
        throttle: 0.6,
        server_error: 0.1,
        reset: 0.05,
        max_latency: Duration::from_millis(5),
    }));
    for direction in ["down", "up"] {
        let r = fleet.park(&[direction, "--lock-timeout", "2m"]);
        assert_eq!(r.code, 0, "park {direction} under faults: {}", r.stderr);
    }
    let counts = fleet.proxy.fault_counts();
    fleet.proxy.faults(None);
    fleet.proxy.faults_only(None);
    assert!(counts.injected() > 0, "{counts:?}");
    assert_eq!(fleet.lock_holder(), None);
    assert_eq!(fleet.snapshot(), before);
}
