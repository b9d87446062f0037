//! The use case of `run-task` as one library call: [`run`] (check, start once, follow,
//! report, notify, JUnit) and [`iam_policy`]. Returns the report or a [`RunTaskError`],
//! whose one exhaustive `match` gives the exit code; a task that failed is not an error
//! but the report (exit 1), a refusal too (exit 4).

use crate::follow::{follow, Follow, StoppedBy, STOP_WAIT};
use crate::logs::LogFollower;
use crate::preflight::{self, PreflightError};
use crate::report::{junit, reason, LogSummary, Outcome, TaskReport};
use crate::start::{self, StartError, StartRequest};
use crate::{Line, Sink};
use infra_core::exit::ExitStatus;
use infra_core::retry::Deadline;
use infra_core::runner::{Caller, Stop, StopKind};
use infra_core::setup::{Setup, SetupError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The time the checks and the start may take besides the task's own timeout.
pub const START_TIME: Duration = Duration::from_secs(120);

/// What to run, and how.
#[derive(Clone)]
pub struct Request {
    /// The `task` block.
    pub task: String,
    /// `--command`: the container's command instead of the definition's.
    pub command: Option<Vec<String>>,
    /// `--env K=V`: extra environment variables for the container.
    pub env: Vec<(String, String)>,
    /// `--timeout`: instead of the block's.
    pub timeout: Option<Duration>,
    /// Write a JUnit XML report here.
    pub junit: Option<PathBuf>,
    /// `--no-notify`.
    pub no_notify: bool,
    /// Between two DescribeTasks calls.
    pub poll: Duration,
    /// Where states and log lines go while the task runs.
    pub sink: Sink,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("task", &self.task)
            .field("command", &self.command)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why no report was produced.
#[derive(Debug, thiserror::Error)]
pub enum RunTaskError {
    /// The environment file, the AWS options or the account guard.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// `run-task run NAME` names no `task` block.
    #[error("no task `{name}` in {file} (its task blocks: {known})")]
    UnknownTask {
        /// The name given.
        name: String,
        /// The environment file.
        file: String,
        /// The tasks it declares.
        known: String,
    },
    /// A check before the start could not be made.
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    /// The JUnit file could not be rendered or written.
    #[error("cannot write the JUnit report {path}")]
    Junit {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl RunTaskError {
    /// The exit status for this error: the one place run-task maps errors to exit codes.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            RunTaskError::Setup(e) => e.exit_status(),
            RunTaskError::UnknownTask { .. } => ExitStatus::InvalidInput,
            RunTaskError::Preflight(e) => match e {
                PreflightError::Pin { .. }
                | PreflightError::Backend(_)
                | PreflightError::NoContainer { .. } => ExitStatus::InvalidInput,
                PreflightError::Aws(_) | PreflightError::Lock(_) => ExitStatus::Failure,
            },
            RunTaskError::Junit { .. } => ExitStatus::Failure,
        }
    }
}

/// The CircleCI job running this (`deploy-to-prefect #812`), or `by hand`.
pub fn job() -> String {
    match (
        std::env::var("CIRCLE_JOB"),
        std::env::var("CIRCLE_BUILD_NUM"),
    ) {
        (Ok(job), Ok(n)) => format!("CircleCI job {job} #{n}"),
        (Ok(job), Err(_)) => format!("CircleCI job {job}"),
        _ => "by hand".to_owned(),
    }
}

/// Runs the task `request` names once and follows it to the end (see the crate's
/// documentation).
pub async fn run(
    setup: &Setup,
    request: Request,
    caller: &Caller,
) -> Result<TaskReport, RunTaskError> {
    let began = Instant::now();
    let env = setup.environment()?;
    let Some(spec) = env.task(&request.task).cloned() else {
        return Err(RunTaskError::UnknownTask {
            name: request.task.clone(),
            file: env.file.display().to_string(),
            known: if env.tasks.is_empty() {
                "none".to_owned()
            } else {
                env.tasks
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        });
    };
    let timeout = request.timeout.unwrap_or(spec.timeout);
    let deadline = Deadline::after(START_TIME + timeout + STOP_WAIT);
    let (config, _) = setup.aws_until(&env, deadline).await?;
    let ecs = infra_core::aws_client!(aws_sdk_ecs, &config, deadline, "run-task-ecs");

    let (revision, services, lock) = tokio::join!(
        preflight::revision(&ecs, &spec),
        preflight::services(&ecs, &spec),
        preflight::park_lock(&config, &env),
    );
    let revision = revision?;
    let (placement, mut refusals) = services.map_err(PreflightError::from)?;
    let (lock_refusal, lock_note) = lock?;
    if let Some(refusal) = preflight::pin_refusal(&env, &spec, &revision)? {
        refusals.insert(0, refusal);
    }
    refusals.extend(lock_refusal);
    let mut report = TaskReport {
        environment: env.name.clone(),
        task: spec.name.clone(),
        outcome: Outcome::Refused,
        refusals: Vec::new(),
        cluster: spec.cluster.clone(),
        task_definition: Some(revision.arn.clone()),
        revision: Some(revision.revision),
        container: spec.container.clone(),
        image: Some(revision.image.clone()),
        placement: Some(placement.source.clone()),
        task_arn: None,
        started_by: None,
        run_task_calls: 0,
        facts: Default::default(),
        phases: Vec::new(),
        stopped_by: None,
        reason: None,
        log: None,
        last_lines: Vec::new(),
        elapsed_seconds: 0.0,
        notes: lock_note.into_iter().collect(),
        notifications: Vec::new(),
    };
    if !refusals.is_empty() {
        report.reason = Some(refusals.join("; "));
        report.refusals = refusals;
        return finish(report, &env, &request, began, &deadline, &Stop::never()).await;
    }
    if revision.log.is_none() {
        report.notes.push(format!(
            "container `{}` does not log to CloudWatch Logs (`awslogs` with a stream prefix): no lines are followed",
            spec.container
        ));
    }

    let job = job();
    let token = uuid::Uuid::new_v4().to_string();
    let started_by = start::started_by(&spec.name, &job, &token);
    report.started_by = Some(started_by.clone());
    let kind = StopKind::finish(
        "the task is stopped (StopTask), then reported".into(),
        format!(
            "a task started by `{started_by}` may still be running: find it with `aws ecs list-tasks --cluster {} --started-by {started_by}` and stop it with `aws ecs stop-task`",
            spec.cluster
        ),
    );
    let second = kind.second_words();
    let stop = (caller.on_signals)(kind);
    let sink = &request.sink;
    sink(Line::Status(&format!(
        "starting task `{}`: {} (revision {}), {}",
        spec.name, spec.task_definition, revision.revision, revision.image
    )));
    let start_request = StartRequest {
        cluster: spec.cluster.clone(),
        task_definition: revision.arn.clone(),
        container: spec.container.clone(),
        command: request.command.clone(),
        env: request.env.clone(),
        placement,
        started_by,
        client_token: token,
        tags: vec![
            ("infra-run-task:task".into(), spec.name.clone()),
            ("infra-run-task:by".into(), start::tag_value(&job)),
        ],
    };
    let started = match start::start(&ecs, &start_request, deadline, &stop).await {
        Ok(started) => started,
        Err(e) => {
            report.outcome = match e {
                StartError::Stopped => Outcome::Interrupted,
                StartError::Aws(_) | StartError::NotPlaced(_) => Outcome::DidNotStart,
            };
            report.reason = Some(e.to_string());
            return finish(report, &env, &request, began, &deadline, &stop).await;
        }
    };
    let timeout_at = Instant::now() + timeout;
    report.run_task_calls = started.attempts;
    report.task_arn = Some(started.arn.clone());
    if let Some(second) = second {
        if let Ok(mut words) = second.lock() {
            *words = format!(
                "task {} may still be running: stop it with `aws ecs stop-task --cluster {} --task {}`",
                started.arn, spec.cluster, started.arn
            );
        }
    }
    sink(Line::Status(&format!(
        "started {}{}",
        started.arn,
        if started.adopted {
            " (found by its startedBy after RunTask's answer was lost)"
        } else {
            ""
        }
    )));

    let task_id = started.arn.rsplit('/').next().unwrap_or_default();
    let mut logs = match &revision.log {
        Some(source) => match source.stream(&spec.container, task_id) {
            Some(stream) => {
                let region = source.region.clone().unwrap_or_else(|| env.region.clone());
                let builder = aws_sdk_cloudwatchlogs::config::Builder::from(&config)
                    .region(aws_sdk_cloudwatchlogs::config::Region::new(region));
                let client = infra_core::aws_client!(
                    aws_sdk_cloudwatchlogs,
                    builder builder,
                    deadline,
                    "run-task-logs"
                );
                Some(LogFollower::new(client, source.group.clone(), stream))
            }
            None => {
                report.notes.push(format!(
                    "log group {} has no `awslogs-stream-prefix`: the stream is named after the Docker container, which ECS does not report; no lines are followed",
                    source.group
                ));
                None
            }
        },
        None => None,
    };
    let followed = follow(
        Follow {
            ecs: &ecs,
            cluster: &spec.cluster,
            arn: &started.arn,
            container: &spec.container,
            timeout_at,
            poll: request.poll,
            job: &job,
            initial: started.status.as_deref(),
        },
        logs.as_mut(),
        sink,
        &stop,
    )
    .await;
    if let Some(l) = &logs {
        let (group, stream) = l.source();
        report.log = Some(LogSummary {
            group: group.to_owned(),
            stream: stream.to_owned(),
            lines: l.lines(),
        });
        report.last_lines = l.last_lines();
    }
    report.phases = followed.phases;
    report.stopped_by = followed.stopped_by;
    let facts = followed.facts.unwrap_or_default();
    let ended = reason(&spec.container, &facts);
    (report.outcome, report.reason) = match (followed.stopped_by, &followed.problem) {
        (Some(StoppedBy::Signal), _) => (
            Outcome::Interrupted,
            Some(format!(
                "stopped on a signal (the job was cancelled); {ended}"
            )),
        ),
        (Some(StoppedBy::Timeout), _) => (
            Outcome::TimedOut,
            Some(format!(
                "still running after its timeout ({}); stopped",
                humanize(timeout)
            )),
        ),
        (None, Some(problem)) => (Outcome::Unknown, Some(problem.clone())),
        (None, None) if facts.exit_code == Some(0) => (Outcome::Succeeded, None),
        (None, None)
            if facts.stop_code.as_deref() == Some("TaskFailedToStart")
                || (facts.exit_code.is_none() && facts.started_at.is_none()) =>
        {
            (Outcome::DidNotStart, Some(ended))
        }
        (None, None) => (Outcome::Failed, Some(ended)),
    };
    if let (Some(problem), Some(_)) = (&followed.problem, followed.stopped_by) {
        report.notes.push(problem.clone());
    }
    report.facts = facts;
    finish(report, &env, &request, began, &deadline, &stop).await
}

/// `20m`, `1h 30m`: a timeout as the file writes it.
fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// The end of every run that produced a report: the notification, then the JUnit file.
async fn finish(
    mut report: TaskReport,
    env: &infra_core::Environment,
    request: &Request,
    began: Instant,
    deadline: &Deadline,
    stop: &Stop,
) -> Result<TaskReport, RunTaskError> {
    report.elapsed_seconds = began.elapsed().as_secs_f64();
    report.notifications = infra_notify::step(
        env.notify.as_ref().filter(|_| !request.no_notify),
        report.notice(),
        deadline,
        stop,
    )
    .await;
    if let Some(path) = &request.junit {
        let junit_error = |source| RunTaskError::Junit {
            path: path.clone(),
            source,
        };
        let xml = junit(&report).map_err(|e| junit_error(e.into()))?;
        infra_core::fs::write_atomic(path, xml.as_bytes()).map_err(|e| junit_error(e.into()))?;
    }
    Ok(report)
}

/// `run-task iam-policy`: the policy for the environment's tasks (offline: the file and
/// the Terraform backend configuration only).
pub fn iam_policy(setup: &Setup) -> Result<serde_json::Value, RunTaskError> {
    let env = setup.environment()?;
    let backend = match state_lock::backend::read(&env).map_err(PreflightError::from)? {
        state_lock::Backend::S3(b) if b.has_lock() => Some(b),
        _ => None,
    };
    Ok(crate::iam::policy(&env, backend.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_exit_code() {
        let errors = [
            RunTaskError::Setup(SetupError::NoEnvFile),
            RunTaskError::UnknownTask {
                name: "deployer".into(),
                file: "prod.env.hcl".into(),
                known: "prefect-deployer".into(),
            },
            RunTaskError::Preflight(PreflightError::Pin {
                local: "prefect_deployer_image".into(),
                file: "main.tf".into(),
                message: "gone".into(),
            }),
            RunTaskError::Preflight(PreflightError::NoContainer {
                arn: "arn".into(),
                container: "deployer".into(),
                known: "app".into(),
            }),
            RunTaskError::Junit {
                path: "junit.xml".into(),
                source: "disk full".into(),
            },
        ];
        let codes: Vec<u8> = errors.iter().map(|e| e.exit_status().code()).collect();
        assert_eq!(codes, [2, 2, 2, 2, 1]);
    }

    #[test]
    fn timeouts_read_as_written() {
        assert_eq!(humanize(Duration::from_secs(1200)), "20m");
        assert_eq!(humanize(Duration::from_secs(90)), "1m 30s");
        assert_eq!(humanize(Duration::from_secs(5400)), "1h 30m");
        assert_eq!(humanize(Duration::from_secs(7)), "7s");
    }
}
