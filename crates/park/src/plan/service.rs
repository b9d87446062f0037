//! Planning one ECS service: park (record, suspend the target at 0-0, desired 0) and
//! unpark (range with scaling still suspended, desired count, wait, exact flags, remove
//! the record), with the drift rule.

use super::{
    not_parked, plan_item, service_drift, service_is_parked, unreadable_record, Capacity, Decision,
    Direction, PlanItem, PlanOptions, Resource, ResourceKind, Step, PARKED_TARGET,
};
use crate::observe::ServiceState;
use crate::record::{tool_id, Found, ServiceRecord, SuspendedFlags, TargetCapacity};
use crate::state::SchedulingStrategy;
use infra_core::environment::EcsService;

pub(super) fn capacity(state: &ServiceState) -> Capacity {
    if !state.found {
        return Capacity::Missing;
    }
    Capacity::Service {
        desired_count: state.desired_count,
        target: state.scalable_target,
    }
}

pub(super) fn item(
    direction: Direction,
    cfg: &EcsService,
    state: &ServiceState,
    options: PlanOptions,
    parked_at: &str,
) -> PlanItem {
    let resource = Resource {
        kind: ResourceKind::EcsService,
        name: format!("{}/{}", state.cluster, state.service),
        cluster: Some(state.cluster.clone()),
        event_bus: None,
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
                "service not found in cluster {} (status {})",
                state.cluster, state.status
            ),
            vec![],
        );
    }
    if state.scheduling_strategy == Some(SchedulingStrategy::Daemon) {
        return done(
            Decision::Refused,
            "DAEMON service: its task count follows the container instances and cannot be parked by desired count".into(),
            vec![],
        );
    }
    if let Found::Invalid { error } = &state.record {
        let (decision, reason, steps) = unreadable_record(error);
        return done(decision, reason, steps);
    }
    let record = state.record.valid();
    match direction {
        Direction::Down => plan_down(state, record, options, parked_at, done),
        Direction::Up => plan_up(cfg, state, record, options, done),
    }
}

fn plan_down(
    state: &ServiceState,
    record: Option<&ServiceRecord>,
    options: PlanOptions,
    parked_at: &str,
    done: impl Fn(Decision, String, Vec<Step>) -> PlanItem,
) -> PlanItem {
    let zero_steps = |state: &ServiceState| {
        let mut steps = Vec::new();
        if let Some(t) = state.scalable_target {
            if t != PARKED_TARGET {
                steps.push(Step::SetTarget {
                    min: 0,
                    max: 0,
                    suspended: SuspendedFlags::ALL,
                });
            }
        }
        if state.desired_count != 0 {
            steps.push(Step::SetDesiredCount { count: 0 });
        }
        steps
    };
    match record {
        Some(record) => {
            if service_is_parked(state) {
                return done(
                    Decision::Unchanged,
                    format!("already parked (record from {})", record.parked_at),
                    vec![],
                );
            }
            if let Some(drift) = service_drift(state, record) {
                if !options.force {
                    return done(Decision::Conflict, format!("changed while parked: {drift}; --force parks it keeping the existing record"), vec![]);
                }
            }
            done(
                Decision::Change,
                format!(
                    "finishing an interrupted park (record from {})",
                    record.parked_at
                ),
                zero_steps(state),
            )
        }
        None => {
            if service_is_parked(state) {
                return done(
                    Decision::Unchanged,
                    "already at zero without a park record: nothing to record (park up --from-model restores the file's capacity)".into(),
                    vec![],
                );
            }
            if state.deployments > 1 && !options.allow_deploying {
                return done(
                    Decision::Refused,
                    format!("{} deployments in progress; wait for it to finish or pass --allow-deploying", state.deployments),
                    vec![],
                );
            }
            let record = ServiceRecord {
                desired_count: state.desired_count,
                target: state.scalable_target,
                parked_at: parked_at.to_owned(),
                written_by: tool_id(),
            };
            let mut steps = vec![Step::WriteServiceRecord { record }];
            steps.extend(zero_steps(state));
            done(
                Decision::Change,
                "park: record, then scale to zero".into(),
                steps,
            )
        }
    }
}

fn plan_up(
    cfg: &EcsService,
    state: &ServiceState,
    record: Option<&ServiceRecord>,
    options: PlanOptions,
    done: impl Fn(Decision, String, Vec<Step>) -> PlanItem,
) -> PlanItem {
    let Some(record) = record else {
        if !options.from_model {
            return done(
                Decision::Unchanged,
                "no park record: left alone (--from-model restores the file's capacity)".into(),
                vec![],
            );
        }
        let mut steps = Vec::new();
        if let (Some(live), Some(range)) = (state.scalable_target, cfg.autoscaling) {
            // The file declares no suspension flags: keep the live ones, except the
            // all-suspended state parking leaves, which would keep the service from scaling.
            let suspended = if live.suspended == SuspendedFlags::ALL {
                SuspendedFlags::default()
            } else {
                live.suspended
            };
            let wanted = TargetCapacity {
                min: range.min as i32,
                max: range.max as i32,
                suspended,
            };
            if live != wanted {
                steps.push(Step::SetTarget {
                    min: wanted.min,
                    max: wanted.max,
                    suspended: wanted.suspended,
                });
            }
        }
        if state.desired_count != cfg.desired_count as i32 {
            steps.push(Step::SetDesiredCount {
                count: cfg.desired_count as i32,
            });
            if !options.no_wait {
                steps.push(Step::WaitServiceStable);
            }
        }
        return if steps.is_empty() {
            done(
                Decision::Unchanged,
                "no park record and already at the file's capacity".into(),
                steps,
            )
        } else {
            done(
                Decision::Change,
                "restore the environment file's capacity (--from-model, no record)".into(),
                steps,
            )
        };
    };
    if let Some(drift) = service_drift(state, record) {
        if !options.force {
            return done(
                Decision::Conflict,
                format!("changed while parked: {drift}; --force restores the record over it"),
                vec![],
            );
        }
    }
    let mut steps = Vec::new();
    if let (Some(live), Some(rec)) = (state.scalable_target, record.target) {
        if (live.min, live.max) != (rec.min, rec.max) {
            // Restore the range while scaling stays suspended, so no policy acts mid-restore.
            steps.push(Step::SetTarget {
                min: rec.min,
                max: rec.max,
                suspended: SuspendedFlags::ALL,
            });
        }
    }
    if state.desired_count != record.desired_count {
        steps.push(Step::SetDesiredCount {
            count: record.desired_count,
        });
        if !options.no_wait {
            steps.push(Step::WaitServiceStable);
        }
    }
    if let (Some(live), Some(rec)) = (state.scalable_target, record.target) {
        if live.suspended != rec.suspended || (live.min, live.max) != (rec.min, rec.max) {
            steps.push(Step::SetTarget {
                min: rec.min,
                max: rec.max,
                suspended: rec.suspended,
            });
        }
    }
    steps.push(Step::RemoveServiceRecord);
    done(
        Decision::Change,
        format!("unpark to the record from {}", record.parked_at),
        steps,
    )
}
