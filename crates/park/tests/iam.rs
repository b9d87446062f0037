//! `park iam-policy` names exactly the actions park calls.

use crate::support::Fleet;
use std::collections::BTreeSet;

#[test]
fn the_policy_matches_the_calls_made() {
    let fleet = Fleet::new(8);
    for args in [
        &["status"][..],
        &["down"],
        &["down"],
        &["up"],
        &["up", "--from-model"],
        &["hold", "--until", "1h", "--reason", "iam test"],
        &["down"],
        &["release"],
    ] {
        let r = fleet.park(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
    // A lock held by someone else is read to name its holder.
    let holder = crate::lock::someone_else(&fleet);
    assert_eq!(fleet.park(&["down", "--lock-timeout", "0s"]).code, 4);
    fleet.block_on(fleet.lock().release(&holder)).unwrap();
    let called = called(&fleet);

    let r = fleet.park(&["iam-policy"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let policy = r.json();
    let allowed: BTreeSet<String> = park::iam::actions_in(&policy).into_iter().collect();
    assert_eq!(
        allowed, called,
        "the policy must allow exactly the calls park makes"
    );
    let code_actions: BTreeSet<String> = park::iam::all_actions()
        .into_iter()
        .chain(park::iam::LOCK_DYNAMODB_ACTIONS.iter().copied())
        .map(str::to_owned)
        .collect();
    assert_eq!(code_actions, called);

    // Scoped to the environment's resources, the lock to its table.
    let text = policy.to_string();
    assert!(text.contains("arn:aws:dynamodb:eu-west-2:123456789012:table/fleet-locks"));
    assert!(text.contains("arn:aws:ecs:eu-west-2:123456789012:service/fleet/svc-00"));
    assert!(text.contains("arn:aws:rds:eu-west-2:123456789012:cluster:fleet-db-zero"));
    let scale = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ScaleAurora")
        .unwrap();
    assert_eq!(
        scale["Resource"],
        serde_json::json!(["arn:aws:rds:eu-west-2:123456789012:cluster:fleet-db-zero"]),
        "keep clusters are read-only"
    );
    // The rules: read on all, the four write actions on the parked ones, by ARN (the rule
    // on bus `fleet-jobs` is `rule/fleet-jobs/NAME`).
    let park_rules = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ParkEventBridgeRules")
        .unwrap();
    assert_eq!(
        park_rules["Action"],
        serde_json::json!([
            "events:DisableRule",
            "events:EnableRule",
            "events:TagResource",
            "events:UntagResource"
        ])
    );
    assert_eq!(
        park_rules["Resource"],
        serde_json::json!([
            "arn:aws:events:eu-west-2:123456789012:rule/fleet-rule-00",
            "arn:aws:events:eu-west-2:123456789012:rule/fleet-rule-01",
            "arn:aws:events:eu-west-2:123456789012:rule/fleet-jobs/fleet-rule-02"
        ])
    );
    // Those are the ARNs EventBridge gives the rules (what TagResource is called on).
    let events = aws_sdk_eventbridge::Client::new(&fleet.config);
    for rule in &fleet.env.eventbridge_rules {
        let out = fleet
            .block_on(
                events
                    .describe_rule()
                    .name(&rule.name)
                    .event_bus_name(&rule.event_bus)
                    .send(),
            )
            .unwrap();
        let arn = serde_json::json!(out.arn().unwrap());
        assert!(
            park_rules["Resource"].as_array().unwrap().contains(&arn),
            "{arn}"
        );
    }
    let park_ecs = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ParkEcsServices")
        .unwrap();
    assert!(
        !park_ecs["Resource"].to_string().contains("svc-05"),
        "park = false services are read-only"
    );
}

/// `OBSERVE_ACTIONS` is exactly what an observation calls (tf-wrap's policies are built to
/// cover it): `park status` with nothing parked observes and reads nothing else.
#[test]
fn the_observation_calls_exactly_the_observe_actions() {
    let fleet = Fleet::new(4);
    let r = fleet.park(&["status"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let called = called(&fleet);
    let observe: BTreeSet<String> = park::iam::OBSERVE_ACTIONS
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    assert_eq!(called, observe);
}

/// The IAM actions of the calls the proxy saw (sts:GetCallerIdentity needs no permission).
fn called(fleet: &Fleet) -> BTreeSet<String> {
    fleet
        .proxy
        .calls()
        .iter()
        .map(|c| c.iam_action())
        .filter(|a| a != "sts:GetCallerIdentity")
        .collect()
}
