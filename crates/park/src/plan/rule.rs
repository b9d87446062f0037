//! Planning one EventBridge rule: park writes a record of its state, then disables it;
//! unpark enables it only when the record says it was enabled, then removes the record.
//!
//! Live `DISABLED` is the parked state. A rule recorded `DISABLED` and found `ENABLED` was
//! enabled while parked: a conflict, as for services. A rule recorded `ENABLED` and found
//! `ENABLED` is an interrupted run (park: disable it; unpark: remove the record).

use super::{
    not_parked, plan_item, unreadable_record, Capacity, Decision, Direction, PlanItem, PlanOptions,
};
use super::{Resource, ResourceKind, Step};
use crate::observe::RuleState;
use crate::record::{tool_id, Enablement, Found, RuleRecord};
use infra_core::environment::EventBridgeRule;

pub(super) fn capacity(state: &RuleState) -> Capacity {
    if state.found {
        Capacity::Rule {
            state: state.status.clone(),
        }
    } else {
        Capacity::Missing
    }
}

pub(super) fn item(
    direction: Direction,
    cfg: &EventBridgeRule,
    state: &RuleState,
    options: PlanOptions,
    parked_at: &str,
) -> PlanItem {
    let resource = Resource {
        kind: ResourceKind::EventbridgeRule,
        name: state.display_name(),
        cluster: None,
        event_bus: Some(state.event_bus.clone()),
        arn: state.arn.clone(),
    };
    let before = capacity(state);
    let done = |decision: Decision, reason: String, steps: Vec<Step>| {
        plan_item(&resource, &before, &[], (decision, reason, steps))
    };
    if !cfg.park {
        let (decision, reason, steps) = not_parked();
        return done(decision, reason, steps);
    }
    if !state.found {
        return done(
            Decision::Failed,
            format!(
                "EventBridge rule {} not found on event bus {}",
                state.rule, state.event_bus
            ),
            vec![],
        );
    }
    if let Some(service) = &state.managed_by {
        return done(
            Decision::Refused,
            format!(
                "managed by {service}: park does not change a rule another AWS service manages"
            ),
            vec![],
        );
    }
    if let Found::Invalid { error } = &state.record {
        let (decision, reason, steps) = unreadable_record(error);
        return done(decision, reason, steps);
    }
    let Some(live) = state.status.enablement() else {
        return done(
            Decision::Refused,
            format!(
                "state {}: EnableRule could not restore it, so park leaves the rule alone",
                state.status
            ),
            vec![],
        );
    };
    let record = state.record.valid();
    let enabled_while_parked = |r: &RuleRecord| {
        format!(
            "changed while parked: the rule is ENABLED but the record says it was {} and parked is DISABLED",
            r.state.as_str()
        )
    };
    match (direction, record) {
        (Direction::Down, None) => {
            let record = RuleRecord {
                state: live,
                parked_at: parked_at.to_owned(),
                written_by: tool_id(),
            };
            let mut steps = vec![Step::WriteRuleRecord { record }];
            let reason = match live {
                Enablement::Enabled => {
                    steps.push(Step::DisableRule);
                    "record, then disable".to_owned()
                }
                Enablement::Disabled => {
                    "already disabled: recorded as disabled, so unpark leaves it disabled"
                        .to_owned()
                }
            };
            done(Decision::Change, reason, steps)
        }
        (Direction::Down, Some(r)) => match (live, r.state) {
            (Enablement::Disabled, _) => done(
                Decision::Unchanged,
                format!("already parked (record from {})", r.parked_at),
                vec![],
            ),
            (Enablement::Enabled, Enablement::Enabled) => done(
                Decision::Change,
                format!(
                    "finishing an interrupted park (record from {})",
                    r.parked_at
                ),
                vec![Step::DisableRule],
            ),
            (Enablement::Enabled, Enablement::Disabled) if options.force => done(
                Decision::Change,
                format!(
                    "{}; --force: disabled, keeping the existing record",
                    enabled_while_parked(r)
                ),
                vec![Step::DisableRule],
            ),
            (Enablement::Enabled, Enablement::Disabled) => done(
                Decision::Conflict,
                format!(
                    "{}; --force parks it keeping the existing record",
                    enabled_while_parked(r)
                ),
                vec![],
            ),
        },
        (Direction::Up, None) => done(
            Decision::Unchanged,
            format!("no park record: left {}", live.as_str()),
            vec![],
        ),
        (Direction::Up, Some(r)) => {
            let mut steps = Vec::new();
            let reason = match (live, r.state) {
                (Enablement::Enabled, Enablement::Disabled) if !options.force => {
                    return done(
                        Decision::Conflict,
                        format!(
                            "{}; --force restores the recorded DISABLED",
                            enabled_while_parked(r)
                        ),
                        vec![],
                    );
                }
                (Enablement::Enabled, Enablement::Disabled) => {
                    steps.push(Step::DisableRule);
                    format!(
                        "{}; --force: restored to the record from {}",
                        enabled_while_parked(r),
                        r.parked_at
                    )
                }
                (Enablement::Disabled, Enablement::Enabled) => {
                    steps.push(Step::EnableRule);
                    format!("enable: it was enabled when recorded ({})", r.parked_at)
                }
                (Enablement::Disabled, Enablement::Disabled) => format!(
                    "stays disabled: it was disabled when recorded ({})",
                    r.parked_at
                ),
                (Enablement::Enabled, Enablement::Enabled) => format!(
                    "finishing an interrupted unpark (record from {})",
                    r.parked_at
                ),
            };
            steps.push(Step::RemoveRuleRecord);
            done(Decision::Change, reason, steps)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(live: &str, record: Option<Enablement>) -> RuleState {
        RuleState {
            rule: "hourly".into(),
            event_bus: "default".into(),
            arn: Some("arn:aws:events:eu-west-2:123456789012:rule/hourly".into()),
            found: true,
            status: live.into(),
            schedule_expression: Some("rate(1 hour)".into()),
            managed_by: None,
            record: record.map_or(Found::None, |state| Found::Valid {
                record: RuleRecord {
                    state,
                    parked_at: "2026-12-01T23:00:00Z".into(),
                    written_by: "park@test".into(),
                },
            }),
        }
    }

    fn plan(
        direction: Direction,
        state: &RuleState,
        options: PlanOptions,
    ) -> (Decision, Vec<String>) {
        let cfg = EventBridgeRule {
            name: "hourly".into(),
            event_bus: "default".into(),
            park: true,
        };
        let item = item(direction, &cfg, state, options, "2026-12-03T00:00:00Z");
        (
            item.decision,
            item.steps.iter().map(ToString::to_string).collect(),
        )
    }

    const NONE: PlanOptions = PlanOptions {
        force: false,
        allow_deploying: false,
        from_model: false,
        no_wait: false,
    };
    const FORCE: PlanOptions = PlanOptions {
        force: true,
        ..NONE
    };

    #[test]
    fn park_records_the_state_then_disables() {
        use Direction::Down;
        use Enablement::{Disabled, Enabled};
        let cases: &[(&str, Option<Enablement>, Decision, &[&str])] = &[
            (
                "ENABLED",
                None,
                Decision::Change,
                &["write record", "disable"],
            ),
            // Already disabled: recorded as such, so unpark leaves it disabled.
            ("DISABLED", None, Decision::Change, &["write record"]),
            ("DISABLED", Some(Enabled), Decision::Unchanged, &[]),
            ("DISABLED", Some(Disabled), Decision::Unchanged, &[]),
            // Killed between the record and the disable: finish, keep the record.
            ("ENABLED", Some(Enabled), Decision::Change, &["disable"]),
            // Enabled by someone while parked.
            ("ENABLED", Some(Disabled), Decision::Conflict, &[]),
        ];
        for (live, record, decision, steps) in cases {
            assert_eq!(
                plan(Down, &rule(live, *record), NONE),
                (*decision, steps.iter().map(|s| (*s).to_owned()).collect()),
                "{live} {record:?}"
            );
        }
        assert_eq!(
            plan(Down, &rule("ENABLED", Some(Disabled)), FORCE),
            (Decision::Change, vec!["disable".to_owned()])
        );
    }

    #[test]
    fn unpark_enables_only_what_was_enabled() {
        use Direction::Up;
        use Enablement::{Disabled, Enabled};
        let cases: &[(&str, Option<Enablement>, Decision, &[&str])] = &[
            (
                "DISABLED",
                Some(Enabled),
                Decision::Change,
                &["enable", "remove record"],
            ),
            (
                "DISABLED",
                Some(Disabled),
                Decision::Change,
                &["remove record"],
            ),
            // Killed between the enable and the untag.
            (
                "ENABLED",
                Some(Enabled),
                Decision::Change,
                &["remove record"],
            ),
            ("ENABLED", Some(Disabled), Decision::Conflict, &[]),
            ("DISABLED", None, Decision::Unchanged, &[]),
            ("ENABLED", None, Decision::Unchanged, &[]),
        ];
        for (live, record, decision, steps) in cases {
            assert_eq!(
                plan(Up, &rule(live, *record), NONE),
                (*decision, steps.iter().map(|s| (*s).to_owned()).collect()),
                "{live} {record:?}"
            );
        }
        assert_eq!(
            plan(Up, &rule("ENABLED", Some(Disabled)), FORCE),
            (
                Decision::Change,
                vec!["disable".to_owned(), "remove record".to_owned()]
            ),
            "--force restores the record"
        );
    }

    #[test]
    fn rules_park_cannot_restore_are_left_alone() {
        for direction in [Direction::Down, Direction::Up] {
            let mut managed = rule("ENABLED", None);
            managed.managed_by = Some("ssm.amazonaws.com".into());
            assert_eq!(plan(direction, &managed, NONE).0, Decision::Refused);
            let trail = rule("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", None);
            assert_eq!(plan(direction, &trail, NONE).0, Decision::Refused);
            let mut missing = rule("MISSING", None);
            missing.found = false;
            assert_eq!(plan(direction, &missing, NONE).0, Decision::Failed);
            let mut unreadable = rule("DISABLED", None);
            unreadable.record = Found::Invalid {
                error: "unreadable park record".into(),
            };
            assert_eq!(plan(direction, &unreadable, NONE).0, Decision::Conflict);
        }
    }
}
