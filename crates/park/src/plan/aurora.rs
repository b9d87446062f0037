//! Planning one Aurora cluster: `scale-to-zero` clusters get a record, then minimum 0 ACU
//! with auto-pause, and back; `keep` clusters are only checked.

use super::{
    plan_item, unreadable_record, Capacity, Decision, Direction, PlanItem, PlanOptions, Resource,
    ResourceKind, Step,
};
use crate::observe::AuroraState;
use crate::record::{tool_id, AuroraRecord, Found};
use crate::state::AuroraStatus;
use infra_core::environment::{AuroraCluster, AuroraParkPolicy};

pub(super) fn item(
    direction: Direction,
    cfg: &AuroraCluster,
    state: &AuroraState,
    options: PlanOptions,
    parked_at: &str,
) -> PlanItem {
    let resource = Resource {
        kind: ResourceKind::AuroraCluster,
        name: state.cluster.clone(),
        cluster: None,
        event_bus: None,
        arn: state.arn.clone(),
    };
    let before = if state.found {
        Capacity::Aurora {
            min_capacity: state.min_capacity,
            max_capacity: state.max_capacity,
            seconds_until_auto_pause: state.seconds_until_auto_pause,
        }
    } else {
        Capacity::Missing
    };
    let mut warnings = Vec::new();
    if state.found && state.deletion_protection == Some(false) {
        warnings.push(format!(
            "deletion protection is OFF on Aurora cluster {}",
            state.cluster
        ));
    }
    let done = |decision: Decision, reason: String, steps: Vec<Step>| {
        plan_item(&resource, &before, &warnings, (decision, reason, steps))
    };
    if !state.found {
        return done(
            Decision::Failed,
            format!("Aurora cluster {} not found", state.cluster),
            vec![],
        );
    }
    if let Found::Invalid { error } = &state.record {
        let (decision, reason, steps) = unreadable_record(error);
        return done(decision, reason, steps);
    }
    let record = state.record.valid();
    match (direction, cfg.park) {
        (Direction::Down, AuroraParkPolicy::Keep) => {
            if state.status == AuroraStatus::Available {
                done(
                    Decision::Unchanged,
                    "kept running (`park = \"keep\"`); available".into(),
                    vec![],
                )
            } else {
                let mut item = done(
                    Decision::Unchanged,
                    format!(
                        "kept running (`park = \"keep\"`); status is {}",
                        state.status
                    ),
                    vec![],
                );
                item.warnings.push(format!(
                    "Aurora cluster {} is {}, not available",
                    state.cluster, state.status
                ));
                item
            }
        }
        (Direction::Up, AuroraParkPolicy::Keep) => {
            if state.status == AuroraStatus::Available {
                done(
                    Decision::Unchanged,
                    "kept running (`park = \"keep\"`); available".into(),
                    vec![],
                )
            } else {
                done(
                    Decision::Change,
                    format!(
                        "kept running but {}: wait until available before the services",
                        state.status
                    ),
                    vec![Step::WaitAuroraAvailable],
                )
            }
        }
        (Direction::Down, AuroraParkPolicy::ScaleToZero) => {
            let (Some(min), Some(max)) = (state.min_capacity, state.max_capacity) else {
                return done(
                    Decision::Failed,
                    "no Serverless v2 scaling configuration: cannot scale to zero".into(),
                    vec![],
                );
            };
            let park_step = Step::SetAuroraScaling {
                min_capacity: 0.0,
                max_capacity: max,
                seconds_until_auto_pause: Some(cfg.auto_pause_seconds as i32),
            };
            match record {
                Some(r) if min == 0.0 => done(Decision::Unchanged, format!("already scaled to zero (record from {})", r.parked_at), vec![]),
                Some(r) if min != r.min_capacity && !options.force => done(
                    Decision::Conflict,
                    format!("changed while parked: minimum is {min} ACU but the record says {} and parked is 0", r.min_capacity),
                    vec![],
                ),
                Some(r) => done(Decision::Change, format!("finishing an interrupted park (record from {})", r.parked_at), vec![park_step]),
                None if min == 0.0 => done(Decision::Unchanged, "already at 0 ACU minimum without a park record: nothing to record".into(), vec![]),
                None => {
                    let record = AuroraRecord {
                        min_capacity: min,
                        max_capacity: max,
                        seconds_until_auto_pause: state.seconds_until_auto_pause,
                        parked_at: parked_at.to_owned(),
                        written_by: tool_id(),
                    };
                    done(Decision::Change, "scale to zero: record, then minimum 0 ACU with auto-pause".into(), vec![Step::WriteAuroraRecord { record }, park_step])
                }
            }
        }
        (Direction::Up, AuroraParkPolicy::ScaleToZero) => {
            let Some(r) = record else {
                return done(
                    Decision::Unchanged,
                    "no park record: left alone".into(),
                    vec![],
                );
            };
            let min = state.min_capacity.unwrap_or_default();
            if min != 0.0 && min != r.min_capacity && !options.force {
                return done(
                    Decision::Conflict,
                    format!("changed while parked: minimum is {min} ACU but the record says {} and parked is 0", r.min_capacity),
                    vec![],
                );
            }
            let mut steps = Vec::new();
            if state.min_capacity != Some(r.min_capacity)
                || state.max_capacity != Some(r.max_capacity)
            {
                steps.push(Step::SetAuroraScaling {
                    min_capacity: r.min_capacity,
                    max_capacity: r.max_capacity,
                    seconds_until_auto_pause: r.seconds_until_auto_pause,
                });
            }
            steps.push(Step::WaitAuroraAvailable);
            steps.push(Step::RemoveAuroraRecord);
            done(
                Decision::Change,
                format!("unpark to the record from {}", r.parked_at),
                steps,
            )
        }
    }
}
