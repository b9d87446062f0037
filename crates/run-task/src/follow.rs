//! Following a started task to STOPPED: DescribeTasks every poll, the container's log lines
//! as they arrive, each state change with how long the one before lasted. On a signal or
//! when the task's timeout passes, StopTask with a reason naming the job, then a short
//! wait for STOPPED. No cap of its own besides the task's timeout.

use crate::logs::LogFollower;
use crate::{Line, Sink};
use aws_smithy_types::date_time::Format;
use infra_core::aws::AwsCallError;
use infra_core::runner::{Signal, Stop};
use serde::Serialize;
use std::time::{Duration, Instant};

/// How long a stopped task may take to reach STOPPED before the run reports without it.
pub const STOP_WAIT: Duration = Duration::from_secs(30);
/// The longest one round's read (DescribeTasks, a log poll) may take before the round goes
/// on without it: an answer that never comes must not hold back a stop or the timeout.
pub const READ_TIME: Duration = Duration::from_secs(10);

/// `fut`, unless `until` passes or (when given) `stop` fires first.
async fn within<T>(
    fut: impl std::future::Future<Output = T>,
    until: Instant,
    stop: Option<&Stop>,
) -> Option<T> {
    let stopped = async {
        match stop {
            Some(stop) => stop.wait().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        value = fut => Some(value),
        () = tokio::time::sleep_until(until.into()) => None,
        () = stopped => None,
    }
}

/// What DescribeTasks says of the task and its deciding container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskFacts {
    /// `PROVISIONING`, `PENDING`, `RUNNING`, … `STOPPED`.
    pub last_status: String,
    /// Why it stopped, as a code (`EssentialContainerExited`, `TaskFailedToStart`,
    /// `UserInitiated`, `SpotInterruption`, `ServiceSchedulerInitiated`…).
    pub stop_code: Option<String>,
    /// Why it stopped, in words (`CannotPullContainerError: …`).
    pub stopped_reason: Option<String>,
    /// The deciding container's exit code, once it exited.
    pub exit_code: Option<i32>,
    /// The container's own reason (`OutOfMemoryError: Container killed due to memory usage`).
    pub container_reason: Option<String>,
    /// When ECS accepted the task (RFC 3339).
    pub created_at: Option<String>,
    /// When it started running.
    pub started_at: Option<String>,
    /// When it stopped.
    pub stopped_at: Option<String>,
}

/// Why the run stopped the task itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoppedBy {
    /// SIGINT/SIGTERM: the job was cancelled.
    Signal,
    /// The task's timeout passed.
    Timeout,
}

/// How long the task was in one state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    /// The state.
    pub status: String,
    /// Seconds in it (as the run saw it).
    pub seconds: f64,
}

/// What following the task found.
#[derive(Debug, Default)]
pub struct Followed {
    /// The last answer about the task.
    pub facts: Option<TaskFacts>,
    /// Set when the run stopped the task.
    pub stopped_by: Option<StoppedBy>,
    /// The states seen, in order.
    pub phases: Vec<Phase>,
    /// Why following ended without a STOPPED task (an AWS error, or STOPPED not reached
    /// within [`STOP_WAIT`] of StopTask).
    pub problem: Option<String>,
}

/// What the run needs to follow one task.
#[derive(Debug)]
pub struct Follow<'a> {
    /// The ECS client.
    pub ecs: &'a aws_sdk_ecs::Client,
    /// The cluster.
    pub cluster: &'a str,
    /// The task.
    pub arn: &'a str,
    /// The container that decides.
    pub container: &'a str,
    /// When the task must have stopped.
    pub timeout_at: Instant,
    /// Between two DescribeTasks calls.
    pub poll: Duration,
    /// Who stops it, in StopTask's reason (`CircleCI job deploy-to-prefect #812`).
    pub job: &'a str,
    /// Its state in RunTask's answer, the first one shown.
    pub initial: Option<&'a str>,
}

/// Follows the task to STOPPED (see the module's documentation).
pub async fn follow(
    f: Follow<'_>,
    mut logs: Option<&mut LogFollower>,
    sink: &Sink,
    stop: &Stop,
) -> Followed {
    let mut out = Followed::default();
    let task_id = f.arn.rsplit('/').next().unwrap_or(f.arn);
    let mut since = Instant::now();
    let mut stop_sent: Option<Instant> = None;
    let mut log_warned = false;
    if let Some(status) = f.initial {
        sink(Line::Status(&format!("task {task_id}: {status}")));
        out.phases.push(Phase {
            status: status.to_owned(),
            seconds: 0.0,
        });
        out.facts = Some(TaskFacts {
            last_status: status.to_owned(),
            ..TaskFacts::default()
        });
    }
    loop {
        // Until the run has stopped the task, a signal or the timeout cuts a read short.
        let (until, watch) = match out.stopped_by {
            None => ((Instant::now() + READ_TIME).min(f.timeout_at), Some(stop)),
            Some(_) => (Instant::now() + READ_TIME, None),
        };
        match within(describe(f.ecs, f.cluster, f.arn, f.container), until, watch)
            .await
            .unwrap_or_else(|| Err(unanswered("ecs:DescribeTasks", f.arn)))
        {
            Ok(facts) => {
                let changed = out.facts.as_ref().map(|p| p.last_status.as_str())
                    != Some(facts.last_status.as_str());
                if changed {
                    let now = Instant::now();
                    let before = match out.phases.last_mut() {
                        Some(p) => {
                            p.seconds = (now - since).as_secs_f64();
                            format!(" ({} for {:.0}s)", p.status, p.seconds)
                        }
                        None => String::new(),
                    };
                    since = now;
                    sink(Line::Status(&format!(
                        "task {task_id}: {}{before}",
                        facts.last_status
                    )));
                    out.phases.push(Phase {
                        status: facts.last_status.clone(),
                        seconds: 0.0,
                    });
                }
                out.facts = Some(facts);
            }
            Err(e) if e.is_transient() => tracing::warn!("{e}; still following the task"),
            Err(e) => {
                out.problem = Some(format!(
                    "{e}: the task's end is unknown; check it by hand ({})",
                    f.arn
                ));
                break;
            }
        }
        if let Some(logs) = logs.as_deref_mut() {
            let read = within(logs.poll(sink), until, watch)
                .await
                .unwrap_or_else(|| Err(unanswered("logs:GetLogEvents", f.arn)));
            if let Err(e) = read {
                if !log_warned {
                    tracing::warn!("cannot read the task's logs: {e}");
                    log_warned = true;
                }
            }
        }
        let stopped = out
            .facts
            .as_ref()
            .is_some_and(|t| t.last_status == "STOPPED");
        if stopped {
            break;
        }
        let now = Instant::now();
        if out.stopped_by.is_none() {
            let why = if stop.requested() {
                Some((
                    StoppedBy::Signal,
                    format!(
                        "{} received",
                        stop.signal().map_or("a signal", Signal::name)
                    ),
                ))
            } else if now >= f.timeout_at {
                Some((StoppedBy::Timeout, "the task's timeout passed".to_owned()))
            } else {
                None
            };
            if let Some((by, words)) = why {
                out.stopped_by = Some(by);
                let reason = format!("stopped by run-task: {words} ({})", f.job);
                let reason: String = reason.chars().take(255).collect();
                sink(Line::Status(&format!(
                    "task {task_id}: {words}: stopping it"
                )));
                if let Err(e) = f
                    .ecs
                    .stop_task()
                    .cluster(f.cluster)
                    .task(f.arn)
                    .reason(reason)
                    .send()
                    .await
                {
                    let e = AwsCallError::new("ecs:StopTask", Some(f.arn.to_owned()), e);
                    out.problem = Some(format!(
                        "{e}: stop it by hand: aws ecs stop-task --cluster {} --task {}",
                        f.cluster, f.arn
                    ));
                    break;
                }
                stop_sent = Some(Instant::now());
                continue;
            }
        }
        if stop_sent.is_some_and(|at| now - at >= STOP_WAIT) {
            out.problem = Some(format!(
                "StopTask was accepted but the task was not STOPPED within {}s ({})",
                STOP_WAIT.as_secs(),
                f.arn
            ));
            break;
        }
        let pause = if out.stopped_by.is_some() {
            f.poll.min(Duration::from_secs(1))
        } else {
            f.poll.min(
                f.timeout_at
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(50)),
            )
        };
        if out.stopped_by.is_none() {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = stop.wait() => {}
            }
        } else {
            tokio::time::sleep(pause).await;
        }
    }
    if let Some(p) = out.phases.last_mut() {
        p.seconds = since.elapsed().as_secs_f64();
    }
    // The last lines a stopped container wrote.
    if let Some(logs) = logs {
        let read = within(logs.poll(sink), Instant::now() + READ_TIME, None)
            .await
            .unwrap_or_else(|| Err(unanswered("logs:GetLogEvents", f.arn)));
        if let Err(e) = read {
            tracing::warn!("cannot read the task's last log lines: {e}");
        }
    }
    out
}

/// A read cut short: no answer in time (transient: the next round tries again).
fn unanswered(operation: &'static str, arn: &str) -> AwsCallError {
    AwsCallError {
        operation,
        resource: Some(arn.to_owned()),
        code: None,
        message: format!(
            "no answer within {}s (or the run is stopping)",
            READ_TIME.as_secs()
        ),
        kind: infra_core::aws::AwsCallErrorKind::Timeout,
        source: None,
    }
}

/// DescribeTasks of one task: its state and its deciding container.
async fn describe(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arn: &str,
    container: &str,
) -> Result<TaskFacts, AwsCallError> {
    let out = ecs
        .describe_tasks()
        .cluster(cluster)
        .tasks(arn)
        .send()
        .await
        .map_err(AwsCallError::on("ecs:DescribeTasks", arn.to_owned()))?;
    let Some(task) = out.tasks().iter().find(|t| t.task_arn() == Some(arn)) else {
        let why = out
            .failures()
            .iter()
            .filter_map(|f| f.reason())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(AwsCallError {
            operation: "ecs:DescribeTasks",
            resource: Some(arn.to_owned()),
            code: Some("MISSING".to_owned()),
            message: format!(
                "ECS does not know the task ({})",
                if why.is_empty() {
                    "no reason given"
                } else {
                    &why
                }
            ),
            kind: infra_core::aws::AwsCallErrorKind::Service,
            source: None,
        });
    };
    let time =
        |t: Option<&aws_smithy_types::DateTime>| t.and_then(|t| t.fmt(Format::DateTime).ok());
    let c = task
        .containers()
        .iter()
        .find(|c| c.name() == Some(container));
    Ok(TaskFacts {
        last_status: task.last_status().unwrap_or("UNKNOWN").to_owned(),
        stop_code: task.stop_code().map(|c| c.as_str().to_owned()),
        stopped_reason: task
            .stopped_reason()
            .filter(|r| !r.is_empty())
            .map(str::to_owned),
        exit_code: c.and_then(|c| c.exit_code()),
        container_reason: c.and_then(|c| c.reason()).map(str::to_owned),
        created_at: time(task.created_at()),
        started_at: time(task.started_at()),
        stopped_at: time(task.stopped_at()),
    })
}
