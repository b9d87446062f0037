//! EventBridge rules against the emulator: an enabled rule is disabled while parked and
//! enabled after; a rule already disabled stays disabled; a rule enabled while parked is a
//! conflict; unpark does not enable the rules while something before them failed.
//! The fleet of 4 services has three rules: `fleet-rule-00` (enabled), `fleet-rule-01`
//! (seeded disabled) on the default bus, `fleet-rule-02` (enabled) on bus `fleet-jobs`.

use crate::support::{Fleet, DISABLED_RULE};

fn events(fleet: &Fleet) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(&fleet.config)
}

/// The status rows of the rules: (rule, park state, EventBridge state, detail).
fn rule_rows(fleet: &Fleet) -> Vec<(String, String, String, String)> {
    let r = fleet.park(&["status", "--output", "json"]);
    assert!(r.code == 0 || r.code == 3, "{}", r.stderr);
    let status = r.json();
    assert_eq!(status["schema_version"], 3);
    status["eventbridge_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["rule"].as_str().unwrap().to_owned(),
                row["state"].as_str().unwrap().to_owned(),
                row["status"].as_str().unwrap().to_owned(),
                row["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn rules_are_off_while_parked_and_back_after_only_if_they_were_on() {
    let fleet = Fleet::new(4);
    let before = fleet.snapshot();
    let states = |s: &crate::support::Snapshot| -> Vec<String> {
        s.rules.values().map(|r| r.state.clone()).collect()
    };
    assert_eq!(states(&before), ["ENABLED", "DISABLED", "ENABLED"]);

    let r = fleet.park(&["down", "--dry-run"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stdout.contains("write record, disable"), "{}", r.stdout);
    assert!(
        r.stdout.contains("fleet-jobs/fleet-rule-02"),
        "{}",
        r.stdout
    );
    assert_eq!(fleet.snapshot(), before, "a dry run changes nothing");

    let r = fleet.park(&["down"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let parked = fleet.snapshot();
    assert_eq!(states(&parked), ["DISABLED", "DISABLED", "DISABLED"]);
    let status = fleet.park(&["status", "--output", "json"]).json();
    let rows = status["eventbridge_rules"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["state"] == "parked"), "{rows:?}");
    let disabled = rows.iter().find(|r| r["rule"] == DISABLED_RULE).unwrap();
    assert!(
        disabled["detail"]
            .as_str()
            .unwrap()
            .contains("stays disabled after unpark"),
        "{disabled}"
    );
    assert_eq!(rows[2]["event_bus"], "fleet-jobs");
    assert_eq!(status["overall"], "parked");
    let text = fleet.park(&["status"]).stdout;
    assert!(text.contains("EventBridge rules"), "{text}");
    assert!(text.contains("rate(1 hour)"), "{text}");

    let r = fleet.park(&["up"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        fleet.snapshot().rules,
        before.rules,
        "as before, no records"
    );
    assert!(rule_rows(&fleet)
        .iter()
        .all(|(_, state, _, _)| state == "unparked"));
}

#[test]
fn a_rule_enabled_while_parked_is_a_conflict_not_overwritten() {
    let fleet = Fleet::new(4);
    let before = fleet.snapshot();
    assert_eq!(fleet.park(&["down"]).code, 0);
    // Someone switches the rule that was off before parking back on.
    fleet
        .block_on(events(&fleet).enable_rule().name(DISABLED_RULE).send())
        .unwrap();
    let r = fleet.park(&["status", "--check"]);
    assert_eq!(r.code, 3, "{}", r.stdout);
    let row = rule_rows(&fleet)
        .into_iter()
        .find(|(name, ..)| name == DISABLED_RULE)
        .unwrap();
    assert_eq!(row.1, "drifted");
    assert!(row.3.contains("changed while parked"), "{row:?}");

    let r = fleet.park(&["up", "--output", "json"]);
    assert_eq!(r.code, 4, "a conflict is a safety refusal: {}", r.stderr);
    assert_eq!(r.json()["summary"]["conflict"], 1);
    let after = fleet.snapshot();
    assert_eq!(
        after.rules[DISABLED_RULE].state, "ENABLED",
        "not overwritten"
    );
    assert!(after.rules[DISABLED_RULE].record.is_some(), "record kept");
    assert_eq!(after.rules["fleet-rule-00"], before.rules["fleet-rule-00"]);

    let r = fleet.park(&["up", "--force"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        fleet.snapshot().rules,
        before.rules,
        "--force restores the recorded DISABLED"
    );
}

#[test]
fn unpark_leaves_the_rules_off_while_a_service_is_not_back() {
    let fleet = Fleet::new(4);
    assert_eq!(fleet.park(&["down"]).code, 0);
    let parked = fleet.snapshot();
    // A service removed while parked cannot come back.
    fleet.delete_service("svc-00");
    let r = fleet.park(&["up"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("not enabled: fleet/svc-00 did not come up"),
        "{}",
        r.stdout
    );
    let after = fleet.snapshot();
    assert_eq!(after.rules, parked.rules, "still off, records kept");
    assert_eq!(after.services["svc-01"].desired, 2, "the others came back");
}

#[test]
fn a_missing_rule_fails_and_everything_else_still_parks() {
    let fleet = Fleet::new(4);
    fleet
        .block_on(events(&fleet).delete_rule().name("fleet-rule-00").send())
        .unwrap();
    let r = fleet.park(&["down"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("EventBridge rule fleet-rule-00 not found on event bus default"),
        "{}",
        r.stdout
    );
    let after = fleet.snapshot();
    assert!(after.services.values().all(|s| s.desired == 0));
    assert_eq!(after.rules["fleet-rule-02"].state, "DISABLED");
    assert!(!after.rules.contains_key("fleet-rule-00"), "deleted");
}
