//! Park and unpark a fleet of 24 mixed services, two Aurora clusters and four EventBridge
//! rules.

use crate::support::{assert_parked, Fleet, Snapshot};
use infra_test_support::SeedOptions;

/// Unpark must bring back exactly what was there. Aurora's SecondsUntilAutoPause cannot be
/// unset through the API and only matters at 0 ACU, so it is compared only where it was set.
fn assert_restored(before: &Snapshot, after: &Snapshot) {
    assert_eq!(after.services, before.services);
    assert_eq!(after.rules, before.rules, "rules as they were, no records");
    for (name, b) in &before.aurora {
        let a = &after.aurora[name];
        assert_eq!(
            (a.scaling.0, a.scaling.1),
            (b.scaling.0, b.scaling.1),
            "{name}"
        );
        if b.scaling.2.is_some() {
            assert_eq!(a.scaling.2, b.scaling.2, "{name}");
        }
        assert_eq!(a.record, None, "{name} record removed");
    }
}

#[test]
fn park_then_unpark_restores_everything_exactly() {
    let fleet = Fleet::new(24);
    let before = fleet.snapshot();
    assert_eq!(
        before.services["svc-01"].target,
        Some((1, 4, true, false, false)),
        "partial suspension seeded"
    );

    let r = fleet.park(&["down", "--output", "json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    assert_eq!(report["schema"], "park/run");
    assert_eq!(report["schema_version"], 2);
    let rule = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"]["name"] == "fleet-jobs/fleet-rule-02")
        .unwrap();
    assert_eq!(rule["resource"]["kind"], "eventbridge-rule");
    assert_eq!(rule["resource"]["event_bus"], "fleet-jobs");
    assert_eq!(
        rule["before"],
        serde_json::json!({"kind": "rule", "state": "ENABLED"})
    );
    assert_eq!(
        rule["after"],
        serde_json::json!({"kind": "rule", "state": "DISABLED"})
    );
    assert_eq!(rule["steps"][0]["record"]["state"], "ENABLED");
    assert_eq!(
        report["summary"]["done"], 28,
        "23 parked services + the scale-to-zero cluster + 4 rules"
    );
    assert_eq!(
        before.rules[crate::support::DISABLED_RULE].state,
        "DISABLED"
    );
    assert_eq!(
        report["summary"]["unchanged"], 2,
        "svc-05 (park = false) and the keep cluster"
    );
    let parked = fleet.snapshot();
    assert_parked(&fleet.env, &before, &parked);
    // Services were parked before the database.
    let calls = fleet.mutations();
    let last_ecs = calls
        .iter()
        .rposition(|c| c == "ecs:UpdateService")
        .unwrap();
    let modify_db = calls
        .iter()
        .position(|c| c == "rds:ModifyDBCluster")
        .unwrap();
    assert!(last_ecs < modify_db, "{calls:?}");
    // The scheduled triggers were off before any service was touched.
    let last_disable = calls
        .iter()
        .rposition(|c| c == "events:DisableRule")
        .unwrap();
    let first_ecs = calls
        .iter()
        .position(|c| c.starts_with("ecs:") || c.starts_with("application"))
        .unwrap();
    assert!(last_disable < first_ecs, "rules first: {calls:?}");
    assert_eq!(
        calls.iter().filter(|c| *c == "events:DisableRule").count(),
        3,
        "the rule already disabled is recorded, not disabled again"
    );

    let r = fleet.park(&["status", "--check", "--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["overall"], "parked");

    // A second park changes nothing and keeps every record as it was.
    fleet.proxy.clear();
    let r = fleet.park(&["down"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        fleet.mutations(),
        ["dynamodb:PutItem", "ecs:TagResource", "dynamodb:DeleteItem"],
        "only the environment lock is taken and released, and the change recorded on the cluster"
    );
    assert_eq!(fleet.snapshot(), parked);
    assert!(r.stdout.contains("already parked"), "{}", r.stdout);

    fleet.proxy.clear();
    let r = fleet.park(&["up", "--output", "json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let calls = fleet.mutations();
    let db_restore = calls
        .iter()
        .position(|c| c == "rds:ModifyDBCluster")
        .unwrap();
    let first_ecs = calls
        .iter()
        .position(|c| c.starts_with("ecs:") || c.starts_with("application"))
        .unwrap();
    assert!(db_restore < first_ecs, "Aurora first: {calls:?}");
    // The last ECS call is the change record on the cluster, after everything.
    assert_eq!(calls[calls.len() - 2], "ecs:TagResource", "{calls:?}");
    let last_ecs = calls[..calls.len() - 2]
        .iter()
        .rposition(|c| c.starts_with("ecs:") || c.starts_with("application"))
        .unwrap();
    let first_enable = calls.iter().position(|c| c == "events:EnableRule").unwrap();
    assert!(last_ecs < first_enable, "rules last: {calls:?}");
    assert_eq!(
        calls.iter().filter(|c| *c == "events:EnableRule").count(),
        3,
        "the rule that was disabled when recorded stays disabled"
    );
    assert_restored(&before, &fleet.snapshot());

    let r = fleet.park(&["status", "--check"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("): unparked"), "{}", r.stdout);

    fleet.proxy.clear();
    let r = fleet.park(&["up"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        fleet.mutations(),
        ["dynamodb:PutItem", "ecs:TagResource", "dynamodb:DeleteItem"],
        "a second unpark changes nothing (it takes and releases the lock, and records the change)"
    );
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let fleet = Fleet::new(6);
    let before = fleet.snapshot();
    let r = fleet.park(&["down", "--dry-run", "--output", "json"]);
    assert_eq!(r.code, 3, "a plan with changes: {}", r.stderr);
    let plan = r.json();
    assert_eq!(plan["dry_run"], true);
    let svc1 = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"]["name"] == "fleet/svc-01")
        .unwrap();
    assert_eq!(svc1["result"], "planned");
    let steps: Vec<&str> = svc1["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["write-service-record", "set-target", "set-desired-count"]
    );
    assert_eq!(
        svc1["steps"][0]["record"]["target"]["suspended"]["dynamic_in"],
        true
    );
    assert_eq!(fleet.mutations(), Vec::<String>::new());
    assert_eq!(fleet.snapshot(), before);
    let text = fleet.park(&["down", "--dry-run"]);
    assert!(
        text.stdout.starts_with("plan to park fleet\n"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("write record, target 0-0 suspended, desired 0"),
        "{}",
        text.stdout
    );
}

#[test]
fn unpark_without_a_record_leaves_services_alone_unless_from_model() {
    let fleet = Fleet::new(6);
    fleet.scale("svc-00", 0);
    fleet.scale("svc-04", 0);
    let before = fleet.snapshot();
    let r = fleet.park(&["up"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(fleet.snapshot(), before, "no record: nothing restored");
    let r = fleet.park(&["status", "--check"]);
    assert_eq!(
        r.code, 3,
        "scaled to zero without a record is drift: {}",
        r.stdout
    );

    let r = fleet.park(&["up", "--from-model"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let after = fleet.snapshot();
    assert_eq!(
        after.services["svc-00"].desired, 1,
        "the file's desired_count"
    );
    assert_eq!(after.services["svc-04"].desired, 2);
    assert_eq!(
        after.services["svc-01"], before.services["svc-01"],
        "services already at the file's capacity are untouched"
    );
}

#[test]
fn drift_while_parked_is_reported_not_overwritten() {
    let fleet = Fleet::new(6);
    let before = fleet.snapshot();
    assert_eq!(fleet.park(&["down"]).code, 0);
    // A manual scale while parked.
    fleet.scale("svc-02", 7);
    let r = fleet.park(&["status", "--check", "--output", "json"]);
    assert_eq!(r.code, 3);
    let svc2 = r.json()["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "svc-02")
        .cloned()
        .unwrap();
    assert_eq!(svc2["state"], "drifted");
    assert!(
        svc2["detail"]
            .as_str()
            .unwrap()
            .contains("desired count is 7"),
        "{svc2}"
    );

    let r = fleet.park(&["up", "--output", "json"]);
    assert_eq!(r.code, 4, "a conflict is a safety refusal: {}", r.stderr);
    let report = r.json();
    assert_eq!(report["summary"]["conflict"], 1);
    let after = fleet.snapshot();
    assert_eq!(
        after.services["svc-02"].desired, 7,
        "the change is not overwritten"
    );
    assert!(
        after.services["svc-02"].record.is_some(),
        "the record stays"
    );
    assert_eq!(
        after.services["svc-01"], before.services["svc-01"],
        "the others were unparked"
    );

    let r = fleet.park(&["up", "--force"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(fleet.snapshot().services, before.services);
}

#[test]
fn daemon_services_are_refused_and_the_rest_still_parks() {
    let fleet = Fleet::with(
        6,
        SeedOptions {
            daemon_services: vec!["svc-00".into()],
            ..Default::default()
        },
    );
    fleet.reseed(&SeedOptions {
        daemon_services: vec!["svc-00".into()],
        ..Default::default()
    });
    let before = fleet.snapshot();
    let r = fleet.park(&["down"]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("DAEMON service"), "{}", r.stdout);
    let after = fleet.snapshot();
    assert_eq!(after.services["svc-00"], before.services["svc-00"]);
    assert_eq!(after.services["svc-01"].desired, 0);
}

#[test]
fn deletion_protection_off_is_warned() {
    let options = SeedOptions {
        unprotected_clusters: vec!["fleet-db-keep".into()],
        ..Default::default()
    };
    let fleet = Fleet::with(2, options.clone());
    fleet.reseed(&options);
    let r = fleet.park(&["down"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("deletion protection is OFF on Aurora cluster fleet-db-keep"),
        "{}",
        r.stderr
    );
}

#[test]
fn wrong_account_changes_nothing() {
    let fleet = Fleet::new(2);
    let text = std::fs::read_to_string(&fleet.env_file)
        .unwrap()
        .replace("123456789012", "210987654321");
    std::fs::write(&fleet.env_file, text).unwrap();
    let r = fleet.park(&["down"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("refusing to act"), "{}", r.stderr);
    assert_eq!(
        fleet
            .proxy
            .calls()
            .iter()
            .map(|c| c.iam_action())
            .collect::<Vec<_>>(),
        ["sts:GetCallerIdentity"]
    );
}
