//! Fault suite: `park down` and `park up` on a fleet, through the proxy injecting a seeded
//! schedule of throttling errors (in each protocol's shape), 5xx answers, closed connections
//! and latency. **One run** of each must reach exactly the state and records of a clean run
//! (a nightly CircleCI job gets one run): every AWS call is retried until the run's
//! deadline, not for a fixed number of attempts. No record may be lost or overwritten.
//!
//! `PARK_FAULT_SEEDS` (default `7,8,9`; `scripts/reliability` runs ten) and
//! `PARK_FAULT_SERVICES` (default 50) set the runs; the arrival order of concurrent requests,
//! and so each one's fate, varies with timing. At 60% throttling one run must still finish
//! within a 10-minute deadline; with the emulator gone, a run fails fast, naming the call.

use crate::support::{assert_parked, Fleet};
use infra_test_support::Faults;
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One `park down` and one `park up` under `faults`, each exit 0 in its first run with
/// the exact end state; their figures.
fn one_run_each(
    fleet: &Fleet,
    faults: Faults,
    extra: &[&str],
) -> serde_json::Map<String, serde_json::Value> {
    let before = fleet.snapshot();
    let mut figures = serde_json::Map::new();
    for direction in ["down", "up"] {
        fleet.proxy.faults(Some(faults));
        let start = Instant::now();
        let mut args = vec![direction];
        args.extend_from_slice(extra);
        let r = fleet.park(&args);
        let elapsed = start.elapsed();
        let counts = fleet.proxy.fault_counts();
        fleet.proxy.faults(None);
        assert_eq!(
            r.code, 0,
            "one park {direction} under faults ({faults:?}): {}\n{}",
            r.stdout, r.stderr
        );
        assert!(
            counts.injected() > 0,
            "the schedule injected nothing: {counts:?}"
        );
        let mut fields = infra_test_support::report::faults(&counts);
        fields["runs"] = 1.into();
        fields["seconds"] = ((elapsed.as_secs_f64() * 10.0).round() / 10.0).into();
        figures.insert(direction.to_owned(), fields);
        let after = fleet.snapshot();
        if direction == "down" {
            assert_parked(&fleet.env, &before, &after);
        } else {
            assert_eq!(after, before, "unparked exactly, records removed");
        }
    }
    figures
}

#[test]
fn one_park_and_one_unpark_finish_exactly_under_throttling_5xx_and_resets() {
    let services: usize = env_or("PARK_FAULT_SERVICES", 50);
    let seeds: Vec<u64> = std::env::var("PARK_FAULT_SEEDS")
        .unwrap_or_else(|_| "7,8,9".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("PARK_FAULT_SEEDS: numbers, comma-separated")
        })
        .collect();
    let fleet = Fleet::new(services);
    for seed in seeds {
        let faults = Faults {
            seed,
            throttle: 0.30,
            server_error: 0.05,
            reset: 0.02,
            max_latency: Duration::from_millis(20),
        };
        let mut figures = one_run_each(&fleet, faults, &[]);
        figures.insert("services".into(), services.into());
        figures.insert("seed".into(), seed.into());
        figures.insert(
            "result".into(),
            "one run each: exit 0; parked then unparked exactly; no park record lost or overwritten".into(),
        );
        infra_test_support::report::record(
            &format!("park-faults-seed-{seed}"),
            &format!("park down / up, {services} services, seed {seed}"),
            &format!("PARK_FAULT_SEEDS={seed} PARK_FAULT_SERVICES={services} cargo test -p park --test tests faults"),
            serde_json::Value::Object(figures),
        );
    }
}

/// Sustained heavy throttling: 60% of requests throttled (plus 5% 5xx and 2% resets), so
/// a call needs three tries on average and one in 25 would fail a fixed 8-attempt budget.
/// One run each way still finishes within its 10-minute deadline.
#[test]
fn one_run_finishes_within_its_deadline_under_sixty_percent_throttling() {
    let services: usize = env_or("PARK_FAULT_SERVICES", 50);
    let seed: u64 = env_or("PARK_FAULT_SEED", 21);
    let fleet = Fleet::new(services);
    let faults = Faults {
        seed,
        throttle: 0.60,
        server_error: 0.05,
        reset: 0.02,
        max_latency: Duration::from_millis(20),
    };
    let mut figures = one_run_each(&fleet, faults, &["--deadline", "10m"]);
    for direction in ["down", "up"] {
        let seconds = figures[direction]["seconds"].as_f64().unwrap();
        assert!(seconds < 600.0, "park {direction} took {seconds} s");
    }
    figures.insert("services".into(), services.into());
    figures.insert("seed".into(), seed.into());
    figures.insert(
        "result".into(),
        "one run each within --deadline 10m: exit 0; parked then unparked exactly".into(),
    );
    infra_test_support::report::record(
        &format!("park-heavy-throttling-seed-{seed}"),
        &format!("park down / up, {services} services, 60% throttling, seed {seed}"),
        &format!("PARK_FAULT_SEED={seed} PARK_FAULT_SERVICES={services} cargo test -p park --test tests sixty_percent"),
        serde_json::Value::Object(figures),
    );
}

/// With nothing listening where AWS should be, connection refused is retried only until
/// the run's deadline: `--deadline 5s` fails in seconds, exit 1, naming the call.
#[test]
fn with_the_emulator_gone_a_run_fails_fast_naming_the_call() {
    let fleet = Fleet::new(2);
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    for direction in ["down", "up"] {
        let start = Instant::now();
        let out = infra_test_support::command(
            env!("CARGO_BIN_EXE_park"),
            &format!("http://127.0.0.1:{closed}"),
        )
        .args([direction, "--deadline", "5s", "--env-file"])
        .arg(&fleet.env_file)
        .output()
        .unwrap();
        let elapsed = start.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("sts:GetCallerIdentity") && stderr.contains("onnection refused"),
            "{stderr}"
        );
        // The deadline bounds it; the 2-minute operation timeout does not come into it.
        assert!(
            elapsed < Duration::from_secs(60),
            "park {direction}: {elapsed:?}"
        );
    }
}
