//! Planning: from the environment file and the observed live state to a list of steps per
//! resource. Pure data in, pure data out: no AWS calls, so every rule is unit-tested.
//!
//! Park, per service: write the record → suspend the scalable target with min = max = 0 →
//! desired count 0; per EventBridge rule: write the record → disable it. Unpark, Aurora
//! first, rules last (enable only what was enabled, then remove the record); per service: restore min/max with scaling still
//! suspended → restore the desired count → wait until stable → restore the exact recorded
//! suspension flags → remove the record.
//!
//! A record is never rewritten. A resource whose live values are neither its recorded
//! values nor its parked values was changed while parked: that is a conflict, reported
//! instead of overwritten, unless `--force`.

mod aurora;
mod rule;
mod service;

use crate::observe::{LiveEnvironment, ServiceState};
use crate::record::{
    rfc3339, AuroraRecord, RuleRecord, ServiceRecord, SuspendedFlags, TargetCapacity,
};
use crate::state::RuleStatus;
use infra_core::environment::Environment;
use serde::Serialize;
use std::fmt;
use std::time::SystemTime;

/// Park or unpark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// `park down`.
    Down,
    /// `park up`.
    Up,
}

/// Options that change what the plan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanOptions {
    /// Act on a resource changed while parked (`--force`): park keeps the existing record;
    /// unpark restores the recorded values over the changes.
    pub force: bool,
    /// Park a service in the middle of a deployment (`--allow-deploying`).
    pub allow_deploying: bool,
    /// Unpark a service without a record to the environment file's capacity (`--from-model`).
    pub from_model: bool,
    /// Skip waiting for services to become stable when unparking (`--no-wait`).
    pub no_wait: bool,
}

/// The plan for every resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Park or unpark.
    pub direction: Direction,
    /// One item per resource: Aurora clusters, then services, then EventBridge rules, each
    /// in file order.
    pub items: Vec<PlanItem>,
}

/// What the plan does with one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanItem {
    /// The resource.
    pub resource: Resource,
    /// The decision.
    pub decision: Decision,
    /// Why, in a sentence.
    pub reason: String,
    /// Capacity now.
    pub before: Capacity,
    /// Capacity once the steps are done.
    pub after: Capacity,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Warnings that do not stop the plan (deletion protection off, ...).
    pub warnings: Vec<String>,
}

/// A resource the environment file names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    /// `ecs-service`, `aurora-cluster` or `eventbridge-rule`.
    pub kind: ResourceKind,
    /// `cluster/service`, the DB cluster identifier, or the rule (`NAME`, or `BUS/NAME`
    /// on an event bus other than `default`).
    pub name: String,
    /// The ECS cluster, for services.
    pub cluster: Option<String>,
    /// The event bus, for EventBridge rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_bus: Option<String>,
    /// The ARN, when the resource exists.
    pub arn: Option<String>,
}

/// The kinds of resources the park engine manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    /// An ECS service (and its scalable target).
    EcsService,
    /// An Aurora cluster.
    AuroraCluster,
    /// An EventBridge rule (a scheduled trigger).
    EventbridgeRule,
}

/// The plan's decision for a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Steps to run.
    Change,
    /// Nothing to do.
    Unchanged,
    /// A safety rule refuses it (DAEMON service, deployment in progress).
    Refused,
    /// Changed while parked, or an unreadable record: reported, not overwritten.
    Conflict,
    /// It cannot be done (the resource does not exist).
    Failed,
}

/// A resource's capacity at one point.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Capacity {
    /// An ECS service.
    Service {
        /// Desired count.
        desired_count: i32,
        /// The scalable target.
        target: Option<TargetCapacity>,
    },
    /// An Aurora cluster's Serverless v2 scaling.
    Aurora {
        /// Minimum ACUs.
        min_capacity: Option<f64>,
        /// Maximum ACUs.
        max_capacity: Option<f64>,
        /// `SecondsUntilAutoPause`.
        seconds_until_auto_pause: Option<i32>,
    },
    /// An EventBridge rule's state (`ENABLED`, `DISABLED`).
    Rule {
        /// The state.
        state: RuleStatus,
    },
    /// The resource does not exist.
    Missing,
}

/// One API-level step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// Tag the service with its park record (ecs:TagResource).
    WriteServiceRecord {
        /// The record.
        record: ServiceRecord,
    },
    /// Register the scalable target's range and flags (RegisterScalableTarget).
    SetTarget {
        /// Minimum capacity.
        min: i32,
        /// Maximum capacity.
        max: i32,
        /// Suspension flags, always all three explicitly.
        suspended: SuspendedFlags,
    },
    /// Set the service's desired count (ecs:UpdateService).
    SetDesiredCount {
        /// The count.
        count: i32,
    },
    /// Wait until running = desired with one deployment (ecs:DescribeServices).
    WaitServiceStable,
    /// Remove the park record tag (ecs:UntagResource).
    RemoveServiceRecord,
    /// Tag the cluster with its park record (rds:AddTagsToResource).
    WriteAuroraRecord {
        /// The record.
        record: AuroraRecord,
    },
    /// Set Serverless v2 scaling (rds:ModifyDBCluster).
    SetAuroraScaling {
        /// Minimum ACUs.
        min_capacity: f64,
        /// Maximum ACUs.
        max_capacity: f64,
        /// `SecondsUntilAutoPause`, when set.
        seconds_until_auto_pause: Option<i32>,
    },
    /// Wait until the cluster is `available` (rds:DescribeDBClusters).
    WaitAuroraAvailable,
    /// Remove the park record tag (rds:RemoveTagsFromResource).
    RemoveAuroraRecord,
    /// Tag the rule with its park record (events:TagResource).
    WriteRuleRecord {
        /// The record.
        record: RuleRecord,
    },
    /// Disable the rule (events:DisableRule).
    DisableRule,
    /// Enable the rule (events:EnableRule).
    EnableRule,
    /// Remove the park record tag (events:UntagResource).
    RemoveRuleRecord,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::WriteServiceRecord { .. }
            | Step::WriteAuroraRecord { .. }
            | Step::WriteRuleRecord { .. } => write!(f, "write record"),
            Step::SetTarget {
                min,
                max,
                suspended,
            } => {
                let s = if *suspended == SuspendedFlags::ALL {
                    " suspended".to_owned()
                } else {
                    format!(" flags {}", flags(suspended))
                };
                write!(f, "target {min}-{max}{s}")
            }
            Step::SetDesiredCount { count } => write!(f, "desired {count}"),
            Step::WaitServiceStable => write!(f, "wait stable"),
            Step::RemoveServiceRecord | Step::RemoveAuroraRecord | Step::RemoveRuleRecord => {
                write!(f, "remove record")
            }
            Step::DisableRule => write!(f, "disable"),
            Step::EnableRule => write!(f, "enable"),
            Step::SetAuroraScaling {
                min_capacity,
                max_capacity,
                seconds_until_auto_pause,
            } => {
                write!(f, "ACU {min_capacity}-{max_capacity}")?;
                if let Some(p) = seconds_until_auto_pause {
                    write!(f, " pause {p}s")?;
                }
                Ok(())
            }
            Step::WaitAuroraAvailable => write!(f, "wait available"),
        }
    }
}

/// Suspension flags in a few characters: `in,out,sched`, or `none`.
pub fn flags(s: &SuspendedFlags) -> String {
    let on: Vec<&str> = [
        (s.dynamic_in, "in"),
        (s.dynamic_out, "out"),
        (s.scheduled, "sched"),
    ]
    .iter()
    .filter(|(f, _)| *f)
    .map(|(_, n)| *n)
    .collect();
    if on.is_empty() {
        "none".into()
    } else {
        on.join(",")
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capacity::Service {
                desired_count,
                target,
            } => {
                write!(f, "{desired_count}")?;
                if let Some(t) = target {
                    write!(
                        f,
                        " [{}-{} {}]",
                        t.min,
                        t.max,
                        if t.suspended == SuspendedFlags::ALL {
                            "suspended".into()
                        } else {
                            flags(&t.suspended)
                        }
                    )?;
                }
                Ok(())
            }
            Capacity::Aurora {
                min_capacity,
                max_capacity,
                ..
            } => match (min_capacity, max_capacity) {
                (Some(a), Some(b)) => write!(f, "{a}-{b} ACU"),
                _ => write!(f, "-"),
            },
            Capacity::Rule { state } => write!(f, "{state}"),
            Capacity::Missing => write!(f, "missing"),
        }
    }
}

impl Plan {
    /// Whether any item has steps to run.
    pub fn has_changes(&self) -> bool {
        self.items.iter().any(|i| i.decision == Decision::Change)
    }
}

/// The plan for `park down` or `park up`. `now` is the time new park records carry: the
/// caller's clock, so the plan is a pure function of its inputs.
pub fn plan(
    direction: Direction,
    env: &Environment,
    live: &LiveEnvironment,
    options: PlanOptions,
    now: SystemTime,
) -> Plan {
    let parked_at = rfc3339(now);
    let mut items = Vec::new();
    for (cfg, state) in env.aurora_clusters.iter().zip(&live.aurora) {
        items.push(aurora::item(direction, cfg, state, options, &parked_at));
    }
    for ((_, cfg), state) in env.services().zip(&live.services) {
        items.push(service::item(direction, cfg, state, options, &parked_at));
    }
    for (cfg, state) in env.eventbridge_rules.iter().zip(&live.rules) {
        items.push(rule::item(direction, cfg, state, options, &parked_at));
    }
    Plan { direction, items }
}

/// A parked scalable target: 0-0 with all scaling suspended.
pub const PARKED_TARGET: TargetCapacity = TargetCapacity {
    min: 0,
    max: 0,
    suspended: SuspendedFlags::ALL,
};

/// Whether a service is fully parked: desired 0 and, when it has a target, 0-0 suspended.
pub fn service_is_parked(state: &ServiceState) -> bool {
    state.desired_count == 0 && state.scalable_target.is_none_or(|t| t == PARKED_TARGET)
}

/// Why the live service is neither its recorded nor its parked state, if it is neither:
/// that is what a manual scale or a Terraform apply while parked leaves.
pub fn service_drift(state: &ServiceState, record: &ServiceRecord) -> Option<String> {
    if state.desired_count != 0 && state.desired_count != record.desired_count {
        return Some(format!(
            "desired count is {} but the record says {} and parked is 0",
            state.desired_count, record.desired_count
        ));
    }
    match (&state.scalable_target, &record.target) {
        (None, None) => None,
        (Some(_), None) => {
            Some("a scalable target was registered while parked (the record has none)".into())
        }
        (None, Some(_)) => Some("the scalable target was deregistered while parked".into()),
        (Some(live), Some(rec)) => {
            let range_ok =
                (live.min, live.max) == (0, 0) || (live.min, live.max) == (rec.min, rec.max);
            let flags_ok = live.suspended == SuspendedFlags::ALL || live.suspended == rec.suspended;
            if !range_ok {
                Some(format!(
                    "scalable target is {}-{} but the record says {}-{} and parked is 0-0",
                    live.min, live.max, rec.min, rec.max
                ))
            } else if !flags_ok {
                Some(format!(
                    "suspension flags are {} but the record says {} and parked is all",
                    flags(&live.suspended),
                    flags(&rec.suspended)
                ))
            } else {
                None
            }
        }
    }
}

/// A resource's plan item: its decision, why, its steps, and the capacity before and after
/// them.
fn plan_item(
    resource: &Resource,
    before: &Capacity,
    warnings: &[String],
    (decision, reason, steps): (Decision, String, Vec<Step>),
) -> PlanItem {
    PlanItem {
        resource: resource.clone(),
        decision,
        reason,
        after: apply(before, &steps),
        before: before.clone(),
        steps,
        warnings: warnings.to_vec(),
    }
}

/// A resource the environment file keeps out of parking (`park = false`).
fn not_parked() -> (Decision, String, Vec<Step>) {
    (
        Decision::Unchanged,
        "not parked: `park = false` in the environment file".into(),
        vec![],
    )
}

/// A record tag that cannot be read is never acted on.
fn unreadable_record(error: &str) -> (Decision, String, Vec<Step>) {
    (
        Decision::Conflict,
        format!("{error}; fix or remove the tag by hand"),
        vec![],
    )
}

fn apply(before: &Capacity, steps: &[Step]) -> Capacity {
    let mut after = before.clone();
    for step in steps {
        match (&mut after, step) {
            (
                Capacity::Service {
                    target: Some(t), ..
                },
                Step::SetTarget {
                    min,
                    max,
                    suspended,
                },
            ) => {
                *t = TargetCapacity {
                    min: *min,
                    max: *max,
                    suspended: *suspended,
                };
            }
            (Capacity::Service { desired_count, .. }, Step::SetDesiredCount { count }) => {
                *desired_count = *count
            }
            (
                Capacity::Aurora {
                    min_capacity,
                    max_capacity,
                    seconds_until_auto_pause,
                },
                Step::SetAuroraScaling {
                    min_capacity: a,
                    max_capacity: b,
                    seconds_until_auto_pause: p,
                },
            ) => {
                *min_capacity = Some(*a);
                *max_capacity = Some(*b);
                if p.is_some() {
                    *seconds_until_auto_pause = *p;
                }
            }
            (Capacity::Rule { state }, Step::DisableRule) => *state = RuleStatus::Disabled,
            (Capacity::Rule { state }, Step::EnableRule) => *state = RuleStatus::Enabled,
            _ => {}
        }
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{AuroraState, ServiceState};
    use crate::record::Found;

    const ENV: &str = r#"
environment "t" {
  account_id = "123456789012"
  region     = "eu-west-2"
  ecs_cluster "c" {
    service "web" {
      desired_count = 2
      autoscaling {
        min = 1
        max = 4
      }
    }
    service "worker" {
      desired_count = 1
    }
  }
  aurora_cluster "db" {
    park = "scale-to-zero"
    auto_pause_seconds = 600
  }
}
"#;

    fn env() -> Environment {
        Environment::parse(ENV, "t.hcl".as_ref()).unwrap()
    }

    fn svc(
        name: &str,
        desired: i32,
        target: Option<(i32, i32, SuspendedFlags)>,
        record: Found<ServiceRecord>,
    ) -> ServiceState {
        ServiceState {
            cluster: "c".into(),
            service: name.into(),
            arn: Some(format!(
                "arn:aws:ecs:eu-west-2:123456789012:service/c/{name}"
            )),
            found: true,
            status: "ACTIVE".into(),
            desired_count: desired,
            running_count: desired,
            pending_count: 0,
            deployments: 1,
            scheduling_strategy: Some("REPLICA".into()),
            task_definition: None,
            launch_type: Some("FARGATE".into()),
            capacity_providers: Vec::new(),
            scalable_target: target.map(|(min, max, suspended)| TargetCapacity {
                min,
                max,
                suspended,
            }),
            record,
        }
    }

    fn db(min: f64, record: Found<AuroraRecord>) -> AuroraState {
        AuroraState {
            cluster: "db".into(),
            arn: Some("arn:aws:rds:eu-west-2:123456789012:cluster:db".into()),
            found: true,
            status: "available".into(),
            min_capacity: Some(min),
            max_capacity: Some(8.0),
            seconds_until_auto_pause: None,
            deletion_protection: Some(true),
            record,
        }
    }

    const IN_ONLY: SuspendedFlags = SuspendedFlags {
        dynamic_in: true,
        dynamic_out: false,
        scheduled: false,
    };

    fn rec(desired: i32, target: Option<(i32, i32, SuspendedFlags)>) -> Found<ServiceRecord> {
        Found::Valid {
            record: ServiceRecord {
                desired_count: desired,
                target: target.map(|(min, max, suspended)| TargetCapacity {
                    min,
                    max,
                    suspended,
                }),
                parked_at: "2026-11-22T00:00:00Z".into(),
                written_by: "park@test".into(),
            },
        }
    }

    fn aurora_rec() -> Found<AuroraRecord> {
        Found::Valid {
            record: AuroraRecord {
                min_capacity: 0.5,
                max_capacity: 8.0,
                seconds_until_auto_pause: None,
                parked_at: "2026-11-22T00:00:00Z".into(),
                written_by: "park@test".into(),
            },
        }
    }

    /// Plans `direction` for web, worker and db as given; returns (decision, steps) per item
    /// in the order db, web, worker.
    fn check(
        direction: Direction,
        web: ServiceState,
        worker: ServiceState,
        aurora: AuroraState,
        options: PlanOptions,
    ) -> Vec<(Decision, Vec<String>)> {
        let live = LiveEnvironment {
            services: vec![web, worker],
            aurora: vec![aurora],
            clusters: Vec::new(),
            rules: Vec::new(),
        };
        plan(direction, &env(), &live, options, SystemTime::now())
            .items
            .into_iter()
            .map(|i| (i.decision, i.steps.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    fn s(steps: &[&str]) -> Vec<String> {
        steps.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn park_records_first_then_suspends_then_zeroes() {
        let got = check(
            Direction::Down,
            svc("web", 3, Some((1, 4, IN_ONLY)), Found::None),
            svc("worker", 1, None, Found::None),
            db(0.5, Found::None),
            PlanOptions::default(),
        );
        assert_eq!(
            got[0],
            (Decision::Change, s(&["write record", "ACU 0-8 pause 600s"]))
        );
        assert_eq!(
            got[1],
            (
                Decision::Change,
                s(&["write record", "target 0-0 suspended", "desired 0"])
            )
        );
        assert_eq!(
            got[2],
            (Decision::Change, s(&["write record", "desired 0"]))
        );
    }

    #[test]
    fn the_record_keeps_live_values_not_the_files() {
        let live = LiveEnvironment {
            services: vec![
                svc("web", 3, Some((2, 6, IN_ONLY)), Found::None),
                svc("worker", 1, None, Found::None),
            ],
            aurora: vec![db(0.5, Found::None)],
            clusters: Vec::new(),
            rules: Vec::new(),
        };
        // The records carry the caller's clock, not the machine's: the plan is pure.
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        let p = plan(Direction::Down, &env(), &live, PlanOptions::default(), now);
        let Step::WriteServiceRecord { record } = &p.items[1].steps[0] else {
            panic!("record first")
        };
        assert_eq!(record.desired_count, 3);
        assert_eq!(record.parked_at, "2026-11-18T11:06:40Z");
        let Step::WriteAuroraRecord { record: aurora } = &p.items[0].steps[0] else {
            panic!("Aurora record first")
        };
        assert_eq!(aurora.parked_at, "2026-11-18T11:06:40Z");
        assert_eq!(
            p,
            plan(Direction::Down, &env(), &live, PlanOptions::default(), now),
            "same inputs, same plan"
        );
        assert_eq!(
            record.target,
            Some(TargetCapacity {
                min: 2,
                max: 6,
                suspended: IN_ONLY
            })
        );
    }

    #[test]
    fn double_park_changes_nothing_and_keeps_the_record() {
        let got = check(
            Direction::Down,
            svc(
                "web",
                0,
                Some((0, 0, SuspendedFlags::ALL)),
                rec(3, Some((1, 4, IN_ONLY))),
            ),
            svc("worker", 0, None, rec(1, None)),
            db(0.0, aurora_rec()),
            PlanOptions::default(),
        );
        assert!(
            got.iter()
                .all(|(d, steps)| *d == Decision::Unchanged && steps.is_empty()),
            "{got:?}"
        );
    }

    #[test]
    fn interrupted_park_resumes_without_rewriting_the_record() {
        // Crash after the record and the target: desired still the recorded 3.
        let got = check(
            Direction::Down,
            svc(
                "web",
                3,
                Some((0, 0, SuspendedFlags::ALL)),
                rec(3, Some((1, 4, IN_ONLY))),
            ),
            svc("worker", 1, None, rec(1, None)),
            db(0.5, aurora_rec()),
            PlanOptions::default(),
        );
        assert_eq!(got[1], (Decision::Change, s(&["desired 0"])));
        assert_eq!(got[2], (Decision::Change, s(&["desired 0"])));
        assert_eq!(got[0], (Decision::Change, s(&["ACU 0-8 pause 600s"])));
    }

    #[test]
    fn unpark_restores_range_suspended_then_count_then_exact_flags_then_record() {
        let got = check(
            Direction::Up,
            svc(
                "web",
                0,
                Some((0, 0, SuspendedFlags::ALL)),
                rec(3, Some((1, 4, IN_ONLY))),
            ),
            svc("worker", 0, None, rec(1, None)),
            db(0.0, aurora_rec()),
            PlanOptions::default(),
        );
        assert_eq!(
            got[0],
            (
                Decision::Change,
                s(&["ACU 0.5-8", "wait available", "remove record"])
            )
        );
        assert_eq!(
            got[1],
            (
                Decision::Change,
                s(&[
                    "target 1-4 suspended",
                    "desired 3",
                    "wait stable",
                    "target 1-4 flags in",
                    "remove record"
                ])
            )
        );
        assert_eq!(
            got[2],
            (
                Decision::Change,
                s(&["desired 1", "wait stable", "remove record"])
            )
        );
    }

    #[test]
    fn unpark_without_record_leaves_alone_or_restores_the_model() {
        let web = || svc("web", 0, Some((0, 0, SuspendedFlags::ALL)), Found::None);
        let worker = || svc("worker", 0, None, Found::None);
        let got = check(
            Direction::Up,
            web(),
            worker(),
            db(0.5, Found::None),
            PlanOptions::default(),
        );
        assert!(
            got.iter().all(|(d, _)| *d == Decision::Unchanged),
            "{got:?}"
        );
        let got = check(
            Direction::Up,
            web(),
            worker(),
            db(0.5, Found::None),
            PlanOptions {
                from_model: true,
                ..Default::default()
            },
        );
        assert_eq!(
            got[1],
            (
                Decision::Change,
                s(&["target 1-4 flags none", "desired 2", "wait stable"])
            )
        );
        assert_eq!(got[2], (Decision::Change, s(&["desired 1", "wait stable"])));
    }

    #[test]
    fn drift_while_parked_is_a_conflict_unless_forced() {
        // Someone scaled web to 5 while parked.
        let web = || {
            svc(
                "web",
                5,
                Some((0, 0, SuspendedFlags::ALL)),
                rec(3, Some((1, 4, IN_ONLY))),
            )
        };
        let worker = || svc("worker", 0, None, rec(1, None));
        for direction in [Direction::Down, Direction::Up] {
            let got = check(
                direction,
                web(),
                worker(),
                db(0.0, aurora_rec()),
                PlanOptions::default(),
            );
            assert_eq!(got[1].0, Decision::Conflict, "{direction:?}");
            assert!(got[1].1.is_empty());
        }
        let got = check(
            Direction::Up,
            web(),
            worker(),
            db(0.0, aurora_rec()),
            PlanOptions {
                force: true,
                ..Default::default()
            },
        );
        assert_eq!(
            got[1].1,
            s(&[
                "target 1-4 suspended",
                "desired 3",
                "wait stable",
                "target 1-4 flags in",
                "remove record"
            ])
        );
        let got = check(
            Direction::Down,
            web(),
            worker(),
            db(0.0, aurora_rec()),
            PlanOptions {
                force: true,
                ..Default::default()
            },
        );
        assert_eq!(got[1].1, s(&["desired 0"]));
        // A target range changed by a Terraform apply while parked.
        let web = svc(
            "web",
            0,
            Some((2, 9, SuspendedFlags::ALL)),
            rec(3, Some((1, 4, IN_ONLY))),
        );
        let got = check(
            Direction::Up,
            web,
            worker(),
            db(0.0, aurora_rec()),
            PlanOptions::default(),
        );
        assert_eq!(got[1].0, Decision::Conflict);
        // Aurora minimum changed while parked.
        let got = check(
            Direction::Up,
            svc("web", 0, None, Found::None),
            worker(),
            db(2.0, aurora_rec()),
            PlanOptions::default(),
        );
        assert_eq!(got[0].0, Decision::Conflict);
    }

    #[test]
    fn daemon_and_deploying_services_are_refused() {
        let mut web = svc(
            "web",
            2,
            Some((1, 4, SuspendedFlags::default())),
            Found::None,
        );
        web.scheduling_strategy = Some("DAEMON".into());
        let mut worker = svc("worker", 1, None, Found::None);
        worker.deployments = 2;
        let got = check(
            Direction::Down,
            web.clone(),
            worker.clone(),
            db(0.5, Found::None),
            PlanOptions::default(),
        );
        assert_eq!(got[1].0, Decision::Refused);
        assert_eq!(got[2].0, Decision::Refused);
        let got = check(
            Direction::Down,
            web,
            worker,
            db(0.5, Found::None),
            PlanOptions {
                allow_deploying: true,
                ..Default::default()
            },
        );
        assert_eq!(got[1].0, Decision::Refused, "DAEMON stays refused");
        assert_eq!(got[2].0, Decision::Change);
    }

    #[test]
    fn unreadable_record_and_missing_service() {
        let web = svc(
            "web",
            0,
            None,
            Found::Invalid {
                error: "unreadable park record".into(),
            },
        );
        let mut worker = svc("worker", 0, None, Found::None);
        worker.found = false;
        worker.status = "MISSING".into();
        let got = check(
            Direction::Up,
            web,
            worker,
            db(0.5, Found::None),
            PlanOptions::default(),
        );
        assert_eq!(got[1].0, Decision::Conflict);
        assert_eq!(got[2].0, Decision::Failed);
    }

    #[test]
    fn no_wait_skips_the_wait_only() {
        let got = check(
            Direction::Up,
            svc("web", 0, None, Found::None),
            svc("worker", 0, None, rec(4, None)),
            db(0.5, Found::None),
            PlanOptions {
                no_wait: true,
                ..Default::default()
            },
        );
        assert_eq!(got[2].1, s(&["desired 4", "remove record"]));
    }
}
