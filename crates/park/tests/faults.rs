//! Fault suite: `park down` and `park up` on a fleet, through the proxy injecting a seeded
//! schedule of throttling errors (in each protocol's shape), 5xx answers, closed connections
//! and latency. The tool must converge to exactly the state and records of a clean run —
//! in one run, or, when the SDK's retries ran out for some resource (its standard retry
//! quota empties under sustained throttling), by running it again, which park's records make
//! safe — and no record may be lost or overwritten. The runs needed are reported.
//! `PARK_FAULT_SERVICES` (default 50) and `PARK_FAULT_SEED` (default 7) set the run; the
//! arrival order of concurrent requests, and so each one's fate, varies with timing.

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
    let mut figures = serde_json::Map::new();
    for (direction, args) in [("down", ["down"]), ("up", ["up"])] {
        fleet.proxy.faults(Some(faults));
        let start = Instant::now();
        let mut runs = 0;
        let r = loop {
            runs += 1;
            let r = fleet.park(&args);
            // Exit 1 is "some resource failed": run again. Anything else is final.
            if r.code != 1 || runs == 3 {
                break r;
            }
            eprintln!(
                "park {direction} run {runs} under faults left work:\n{}",
                r.stdout
            );
        };
        let elapsed = start.elapsed();
        let counts = fleet.proxy.fault_counts();
        fleet.proxy.faults(None);
        assert_eq!(
            r.code, 0,
            "park {direction} under faults (seed {seed}, run {runs}): {}\n{}",
            r.stdout, r.stderr
        );
        assert!(
            counts.injected() > 0,
            "the schedule injected nothing: {counts:?}"
        );
        let mut fields = infra_test_support::report::faults(&counts);
        fields["runs"] = runs.into();
        fields["seconds"] = ((elapsed.as_secs_f64() * 10.0).round() / 10.0).into();
        figures.insert(direction.to_owned(), fields);
        let after = fleet.snapshot();
        if direction == "down" {
            assert_parked(&fleet.env, &before, &after);
        } else {
            assert_eq!(after, before, "unparked exactly, records removed");
        }
    }
    figures.insert("services".into(), services.into());
    figures.insert("seed".into(), seed.into());
    figures.insert(
        "result".into(),
        "exit 0; parked then unparked exactly; no park record lost or overwritten".into(),
    );
    infra_test_support::report::record(
        &format!("park-faults-seed-{seed}"),
        &format!("park down / up, {services} services, seed {seed}"),
        &format!("PARK_FAULT_SEED={seed} PARK_FAULT_SERVICES={services} cargo test -p park --test tests faults"),
        serde_json::Value::Object(figures),
    );
}
