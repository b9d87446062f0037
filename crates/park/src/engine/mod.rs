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
//!
//! `mod.rs` runs the phases and resources; each step's API calls are in the module of its
//! resource kind: `service.rs`, `aurora.rs`, `rule.rs`.

mod aurora;
mod rule;
mod service;

use crate::observe::Clients;
use crate::plan::{Decision, Direction, Plan, PlanItem, ResourceKind, Step};
use crate::record::check_tag_value;
use infra_core::aws::AwsCallError;
use infra_core::retry::Deadline;
use infra_core::runner::{run_bounded, Progress};
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
/// `progress` advances once per finished resource.
/// When `stop` fires, no new step starts and the unfinished resources are reported failed.
pub async fn run(
    clients: &Clients,
    plan: &Plan,
    options: RunOptions,
    progress: &dyn Progress,
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
            progress.advance(held.len() as u64);
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
    progress: &dyn Progress,
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
        || progress.advance(1),
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

/// One step of one resource, by the resource's kind (`service`, `aurora`, `rule`: the
/// same seams as `plan/`).
async fn run_step(
    clients: &Clients,
    item: &PlanItem,
    step: &Step,
    poll: Duration,
    deadline: Instant,
) -> Result<(), StepError> {
    match item.resource.kind {
        ResourceKind::EcsService => service::step(clients, item, step, poll, deadline).await,
        ResourceKind::AuroraCluster => aurora::step(clients, item, step, poll, deadline).await,
        ResourceKind::EventbridgeRule => rule::step(clients, item, step).await,
    }
}

/// The resource's ARN, which tagging needs.
fn arn(item: &PlanItem) -> Result<String, StepError> {
    item.resource
        .arn
        .clone()
        .ok_or_else(|| StepError(format!("{} has no ARN", item.resource.name)))
}

/// An encoded park record, checked against AWS's tag rules before it is sent.
fn record_value(item: &PlanItem, value: String) -> Result<String, StepError> {
    check_tag_value(&value).map_err(|e| {
        StepError(format!(
            "park record for {} would be rejected by AWS: {e}",
            item.resource.name
        ))
    })?;
    Ok(value)
}

/// A step the plan gave a resource of another kind: a bug.
fn not_mine(kind: &str, step: &Step) -> StepError {
    StepError(format!(
        "internal error (a bug; please report it): {step:?} is not a step of an {kind}"
    ))
}
