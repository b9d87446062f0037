//! Running a plan: each resource's steps strictly in order, independent resources in
//! parallel (bounded), everything inside one deadline. One resource failing never stops
//! the others; the report says exactly which failed and why.
//!
//! Phases: park disables the EventBridge rules, then parks the services, then scales the
//! databases; unpark brings the databases back, then the services, and enables the rules
//! last — and only when nothing before them failed, so nothing fires into a half-awake
//! environment.
//!
//! The only mutating calls are ecs:UpdateService, ecs:TagResource, ecs:UntagResource,
//! application-autoscaling:RegisterScalableTarget, rds:ModifyDBCluster,
//! rds:AddTagsToResource, rds:RemoveTagsFromResource, events:TagResource,
//! events:UntagResource, events:DisableRule and events:EnableRule. Nothing here deletes or
//! stops.

use crate::observe::{scalable_resource_id, Clients};
use crate::plan::{Decision, Direction, Plan, PlanItem, ResourceKind, Step};
use crate::record::{check_tag_value, RECORD_TAG_KEY};
use crate::wait;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace, SuspendedState};
use infra_core::aws::AwsCallError;
use infra_core::retry::Deadline;
use infra_core::runner::run_bounded;
use serde::Serialize;
use std::time::Duration;
use tokio::time::Instant;

/// How to run a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Resources processed at once.
    pub concurrency: usize,
    /// The whole run must end by then (`--deadline`, counted from the start of the run,
    /// so the lock wait and the observation count too).
    pub deadline: Deadline,
    /// How often waits poll.
    pub poll_interval: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            concurrency: 16,
            deadline: Deadline::after(Duration::from_secs(600)),
            poll_interval: Duration::from_secs(5),
        }
    }
}

/// What happened to one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The planned item.
    #[serde(flatten)]
    pub item: PlanItem,
    /// The result.
    pub result: ResultKind,
    /// The steps that completed, in order.
    pub completed_steps: usize,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// The result for one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultKind {
    /// All steps ran.
    Done,
    /// Nothing to do.
    Unchanged,
    /// Refused by a safety rule; nothing was changed.
    Refused,
    /// Changed while parked, or an unreadable record; nothing was changed.
    Conflict,
    /// A step failed or the deadline passed.
    Failed,
    /// Planned only (`--dry-run`).
    Planned,
}

/// How long a step already in flight may go on after a stop was asked for (SIGINT/SIGTERM):
/// long enough for an AWS call to answer, short enough for CircleCI's grace period before
/// SIGKILL (10 s by default).
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// A request to stop a run (SIGINT/SIGTERM): no new step starts, a step in flight gets
/// [`STOP_GRACE`] to finish, and every resource not finished is reported failed.
pub use infra_core::runner::Stop;

/// Runs every item of `plan`.
///
/// `progress` advances once per finished resource; pass `ProgressBar::hidden()` for none.
/// When `stop` fires, no new step starts and the unfinished resources are reported failed.
pub async fn run(
    clients: &Clients,
    plan: &Plan,
    options: RunOptions,
    progress: &indicatif::ProgressBar,
    stop: &Stop,
) -> Vec<Outcome> {
    // Without a deadline, the default run's ten minutes.
    let deadline = options
        .deadline
        .instant()
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(600));
    let (aurora, rest): (Vec<_>, Vec<_>) = plan
        .items
        .iter()
        .cloned()
        .enumerate()
        .partition(|(_, i)| i.resource.kind == ResourceKind::AuroraCluster);
    let (rules, services): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|(_, i)| i.resource.kind == ResourceKind::EventbridgeRule);
    // Unpark brings the databases back before the services that need them, and the
    // scheduled triggers after both; park switches the triggers off first and scales the
    // databases down last.
    let phases = match plan.direction {
        Direction::Up => [aurora, services, rules],
        Direction::Down => [rules, services, aurora],
    };
    let mut outcomes: Vec<(usize, Outcome)> = Vec::new();
    for (n, phase) in phases.into_iter().enumerate() {
        let failed: Vec<&str> = outcomes
            .iter()
            .filter(|(_, o)| o.result == ResultKind::Failed)
            .map(|(_, o)| o.item.resource.name.as_str())
            .collect();
        if plan.direction == Direction::Up && n == 2 && !failed.is_empty() {
            let why = format!(
                "not enabled: {} did not come up; `park up` again enables the rules once everything is back",
                failed.join(", ")
            );
            let held: Vec<(usize, Outcome)> = phase
                .into_iter()
                .map(|(index, item)| (index, held_back(item, &why)))
                .collect();
            progress.inc(held.len() as u64);
            outcomes.extend(held);
            continue;
        }
        outcomes.extend(run_phase(clients, phase, options, deadline, progress, stop).await);
    }
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

/// A rule's outcome when unpark does not get to it: a planned change is reported failed
/// with `why`, nothing else changes.
fn held_back(item: PlanItem, why: &str) -> Outcome {
    if item.decision != Decision::Change {
        return Outcome {
            result: static_result(item.decision),
            error: None,
            completed_steps: 0,
            item,
        };
    }
    Outcome {
        item,
        result: ResultKind::Failed,
        completed_steps: 0,
        error: Some(why.to_owned()),
    }
}

/// The outcomes of a dry run: the plan's decisions, nothing executed.
pub fn dry_run(plan: &Plan) -> Vec<Outcome> {
    plan.items
        .iter()
        .map(|item| {
            let result = match item.decision {
                Decision::Change => ResultKind::Planned,
                other => static_result(other),
            };
            Outcome {
                item: item.clone(),
                result,
                completed_steps: 0,
                error: None,
            }
        })
        .collect()
}

fn static_result(decision: Decision) -> ResultKind {
    match decision {
        Decision::Change => ResultKind::Done,
        Decision::Unchanged => ResultKind::Unchanged,
        Decision::Refused => ResultKind::Refused,
        Decision::Conflict => ResultKind::Conflict,
        Decision::Failed => ResultKind::Failed,
    }
}

async fn run_phase(
    clients: &Clients,
    items: Vec<(usize, PlanItem)>,
    options: RunOptions,
    deadline: Instant,
    progress: &indicatif::ProgressBar,
    stop: &Stop,
) -> Vec<(usize, Outcome)> {
    let planned: Vec<(usize, PlanItem)> = items.clone();
    // The runner's own cut is a backstop a little after the deadline: each step stops at
    // the deadline itself, saying which step it was in.
    let backstop = Deadline::at(deadline + STOP_GRACE);
    let results = run_bounded(
        items,
        options.concurrency,
        backstop,
        |(_, item)| {
            let (clients, stop) = (clients.clone(), stop.clone());
            async move { run_item(&clients, item, options.poll_interval, deadline, &stop).await }
        },
        || progress.inc(1),
    )
    .await;
    planned
        .into_iter()
        .zip(results)
        .map(|((index, item), result)| {
            let outcome = result.unwrap_or_else(|lost| {
                tracing::error!(resource = %item.resource.name, "{lost}");
                Outcome {
                    item,
                    result: ResultKind::Failed,
                    completed_steps: 0,
                    error: Some(lost.to_string()),
                }
            });
            (index, outcome)
        })
        .collect()
}

async fn run_item(
    clients: &Clients,
    item: PlanItem,
    poll: Duration,
    deadline: Instant,
    stop: &Stop,
) -> Outcome {
    if item.decision != Decision::Change {
        let result = static_result(item.decision);
        let error = matches!(result, ResultKind::Failed).then(|| item.reason.clone());
        return Outcome {
            item,
            result,
            completed_steps: 0,
            error,
        };
    }
    let mut completed = 0;
    for step in &item.steps {
        if stop.requested() {
            return Outcome {
                item: item.clone(),
                result: ResultKind::Failed,
                completed_steps: completed,
                error: Some(format!("interrupted before step `{step}`")),
            };
        }
        let in_flight =
            tokio::time::timeout_at(deadline, run_step(clients, &item, step, poll, deadline));
        let stopped = async {
            stop.wait().await;
            tokio::time::sleep(STOP_GRACE).await;
        };
        let result = tokio::select! {
            result = in_flight => result,
            () = stopped => {
                return Outcome {
                    item: item.clone(),
                    result: ResultKind::Failed,
                    completed_steps: completed,
                    error: Some(format!("interrupted during step `{step}` (it may or may not have taken effect; the next run sees which)")),
                };
            }
        };
        let error = match result {
            Ok(Ok(())) => {
                completed += 1;
                tracing::info!(resource = %item.resource.name, step = %step, "done");
                continue;
            }
            Ok(Err(StepError(e))) => e,
            Err(_) => format!("deadline passed during step `{step}`"),
        };
        return Outcome {
            item,
            result: ResultKind::Failed,
            completed_steps: completed,
            error: Some(error),
        };
    }
    Outcome {
        item,
        result: ResultKind::Done,
        completed_steps: completed,
        error: None,
    }
}

/// A failed step, as the one-line reason the report shows.
#[derive(Debug)]
struct StepError(String);

impl From<AwsCallError> for StepError {
    fn from(e: AwsCallError) -> Self {
        StepError(e.to_string())
    }
}

impl From<String> for StepError {
    fn from(e: String) -> Self {
        StepError(e)
    }
}

async fn run_step(
    clients: &Clients,
    item: &PlanItem,
    step: &Step,
    poll: Duration,
    deadline: Instant,
) -> Result<(), StepError> {
    let name = item.resource.name.clone();
    let arn = || {
        item.resource
            .arn
            .clone()
            .ok_or_else(|| format!("{name} has no ARN"))
    };
    let (cluster, service) = name
        .split_once('/')
        .unwrap_or((name.as_str(), name.as_str()));
    match step {
        Step::WriteServiceRecord { record } => {
            let value = record.encode();
            check_tag_value(&value)
                .map_err(|e| format!("park record for {name} would be rejected by AWS: {e}"))?;
            let tag = aws_sdk_ecs::types::Tag::builder()
                .key(RECORD_TAG_KEY)
                .value(value)
                .build();
            clients
                .ecs
                .tag_resource()
                .resource_arn(arn()?)
                .tags(tag)
                .send()
                .await
                .map_err(AwsCallError::on("ecs:TagResource", name.clone()))?;
        }
        Step::SetTarget {
            min,
            max,
            suspended,
        } => {
            let state = SuspendedState::builder()
                .dynamic_scaling_in_suspended(suspended.dynamic_in)
                .dynamic_scaling_out_suspended(suspended.dynamic_out)
                .scheduled_scaling_suspended(suspended.scheduled)
                .build();
            clients
                .autoscaling
                .register_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(scalable_resource_id(cluster, service))
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .min_capacity(*min)
                .max_capacity(*max)
                .suspended_state(state)
                .send()
                .await
                .map_err(AwsCallError::on(
                    "application-autoscaling:RegisterScalableTarget",
                    name.clone(),
                ))?;
        }
        Step::SetDesiredCount { count } => {
            clients
                .ecs
                .update_service()
                .cluster(cluster)
                .service(service)
                .desired_count(*count)
                .send()
                .await
                .map_err(AwsCallError::on("ecs:UpdateService", name.clone()))?;
        }
        Step::WaitServiceStable => {
            wait::service_stable(&clients.ecs, cluster, service, deadline, poll)
                .await
                .map_err(|e| e.to_string())?;
        }
        Step::RemoveServiceRecord => {
            clients
                .ecs
                .untag_resource()
                .resource_arn(arn()?)
                .tag_keys(RECORD_TAG_KEY)
                .send()
                .await
                .map_err(AwsCallError::on("ecs:UntagResource", name.clone()))?;
        }
        Step::WriteAuroraRecord { record } => {
            let value = record.encode();
            check_tag_value(&value)
                .map_err(|e| format!("park record for {name} would be rejected by AWS: {e}"))?;
            let tag = aws_sdk_rds::types::Tag::builder()
                .key(RECORD_TAG_KEY)
                .value(value)
                .build();
            clients
                .rds
                .add_tags_to_resource()
                .resource_name(arn()?)
                .tags(tag)
                .send()
                .await
                .map_err(AwsCallError::on("rds:AddTagsToResource", name.clone()))?;
        }
        Step::SetAuroraScaling {
            min_capacity,
            max_capacity,
            seconds_until_auto_pause,
        } => {
            let scaling = aws_sdk_rds::types::ServerlessV2ScalingConfiguration::builder()
                .min_capacity(*min_capacity)
                .max_capacity(*max_capacity)
                .set_seconds_until_auto_pause(*seconds_until_auto_pause)
                .build();
            clients
                .rds
                .modify_db_cluster()
                .db_cluster_identifier(&name)
                .serverless_v2_scaling_configuration(scaling)
                .apply_immediately(true)
                .send()
                .await
                .map_err(AwsCallError::on("rds:ModifyDBCluster", name.clone()))?;
        }
        Step::WaitAuroraAvailable => {
            wait::aurora_available(&clients.rds, &name, deadline, poll)
                .await
                .map_err(|e| e.to_string())?;
        }
        Step::WriteRuleRecord { record } => {
            let value = record.encode();
            check_tag_value(&value)
                .map_err(|e| format!("park record for {name} would be rejected by AWS: {e}"))?;
            let tag = aws_sdk_eventbridge::types::Tag::builder()
                .key(RECORD_TAG_KEY)
                .value(value)
                .build()
                .map_err(|e| format!("park record for {name}: {e}"))?;
            clients
                .events
                .tag_resource()
                .resource_arn(arn()?)
                .tags(tag)
                .send()
                .await
                .map_err(AwsCallError::on("events:TagResource", name.clone()))?;
        }
        Step::DisableRule | Step::EnableRule => {
            let bus = item.resource.event_bus.as_deref().unwrap_or("default");
            let rule = name
                .strip_prefix(&format!("{bus}/"))
                .unwrap_or(name.as_str());
            if *step == Step::DisableRule {
                clients
                    .events
                    .disable_rule()
                    .name(rule)
                    .event_bus_name(bus)
                    .send()
                    .await
                    .map_err(AwsCallError::on("events:DisableRule", name.clone()))?;
            } else {
                clients
                    .events
                    .enable_rule()
                    .name(rule)
                    .event_bus_name(bus)
                    .send()
                    .await
                    .map_err(AwsCallError::on("events:EnableRule", name.clone()))?;
            }
        }
        Step::RemoveRuleRecord => {
            clients
                .events
                .untag_resource()
                .resource_arn(arn()?)
                .tag_keys(RECORD_TAG_KEY)
                .send()
                .await
                .map_err(AwsCallError::on("events:UntagResource", name.clone()))?;
        }
        Step::RemoveAuroraRecord => {
            clients
                .rds
                .remove_tags_from_resource()
                .resource_name(arn()?)
                .tag_keys(RECORD_TAG_KEY)
                .send()
                .await
                .map_err(AwsCallError::on("rds:RemoveTagsFromResource", name.clone()))?;
        }
    }
    Ok(())
}
