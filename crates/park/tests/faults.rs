//! Fault suite: `park down` and `park up` on a fleet, through the proxy injecting a seeded
//! schedule of throttling errors (in each protocol's shape), 5xx answers, closed connections
//! and latency. Every run must converge to exactly the state and records of a clean run,
//! and no record may be lost or overwritten. `PARK_FAULT_SERVICES` (default 50) and
//! `PARK_FAULT_SEED` (default 7) reproduce a run.

use crate::support::{assert_parked, Fleet};
use infra_test_support::Faults;
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn park_and_unpark_converge_under_throttling_5xx_and_resets() {
    let services: usize = env_or("PARK_FAULT_SERVICES", 50);
    let seed: u64 = env_or("PARK_FAULT_SEED", 7);
    let fleet = Fleet::new(services);
    let before = fleet.snapshot();
    let faults = Faults {
        seed,
        throttle: 0.30,
        server_error: 0.05,
        reset: 0.02,
        max_latency: Duration::from_millis(20),
    };
    let mut report = Vec::new();
    for (direction, args) in [("down", ["down"]), ("up", ["up"])] {
        fleet.proxy.faults(Some(faults));
        let start = Instant::now();
        let r = fleet.park(&args);
        let elapsed = start.elapsed();
        let counts = fleet.proxy.fault_counts();
        fleet.proxy.faults(None);
        assert_eq!(
            r.code, 0,
            "park {direction} under faults (seed {seed}): {}\n{}",
            r.stdout, r.stderr
        );
        let faults_injected = counts.throttled + counts.server_errors + counts.resets;
        assert!(
            faults_injected > 0,
            "the schedule injected nothing: {counts:?}"
        );
        report.push(format!(
            "park {direction}, {services} services, seed {seed}: {} requests, {} throttled, {} 5xx, {} resets, {} forwarded, {:.1} s, exit 0",
            counts.requests, counts.throttled, counts.server_errors, counts.resets, counts.forwarded, elapsed.as_secs_f64()
        ));
        let after = fleet.snapshot();
        if direction == "down" {
            assert_parked(&fleet.env, &before, &after);
        } else {
            assert_eq!(after, before, "unparked exactly, records removed");
        }
    }
    for line in &report {
        eprintln!("{line}");
    }
}
