//! Starting the task exactly once.
//!
//! RunTask carries a `clientToken` (AWS answers a retried call with the same token with
//! the task it already started) and a `startedBy` no other run shares. The SDK's own retry
//! is off for this one call: when an answer is lost or throttled, the run first looks for
//! a task with its `startedBy` (ListTasks, running then stopped) and takes it as its own;
//! only when there is none does it call RunTask again, with the same token. So a retried
//! call never starts a second task, even against an endpoint that ignores the token.

use crate::preflight::Placement;
use aws_sdk_ecs::config::retry::RetryConfig;
use aws_sdk_ecs::types::{ContainerOverride, DesiredStatus, KeyValuePair, Tag, TaskOverride};
use infra_core::aws::AwsCallError;
use infra_core::retry::{Backoff, Deadline};
use infra_core::runner::Stop;
use std::time::Duration;

/// What RunTask is asked for.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// The cluster.
    pub cluster: String,
    /// The revision's ARN.
    pub task_definition: String,
    /// The container the overrides apply to.
    pub container: String,
    /// `--command`: the container's command instead of the definition's.
    pub command: Option<Vec<String>>,
    /// `--env K=V`: extra environment variables.
    pub env: Vec<(String, String)>,
    /// Placement and network.
    pub placement: Placement,
    /// `startedBy`: unique to this run.
    pub started_by: String,
    /// The idempotency token.
    pub client_token: String,
    /// Tags on the task.
    pub tags: Vec<(String, String)>,
}

/// Why no task was started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// RunTask failed with an error that is not worth retrying, or the deadline passed.
    #[error(transparent)]
    Aws(#[from] AwsCallError),
    /// ECS answered but placed no task (`failures`: `RESOURCE:MEMORY`, `MISSING`...).
    #[error("ECS started no task: {0}")]
    NotPlaced(String),
    /// A stop was asked for before any task started.
    #[error("stopped before the task was started")]
    Stopped,
}

/// A started task.
#[derive(Debug, Clone)]
pub struct Started {
    /// Its ARN.
    pub arn: String,
    /// Its state in RunTask's answer (`PROVISIONING`), when the answer was read.
    pub status: Option<String>,
    /// RunTask calls made.
    pub attempts: u32,
    /// Whether the task was found by its `startedBy` after an answer was lost.
    pub adopted: bool,
}

/// `startedBy` for task `name` run by `job` (CircleCI's job and build, or `local`), made
/// unique by `token`: ECS allows 128 letters, digits, `-`, `_` and `/`.
pub fn started_by(name: &str, job: &str, token: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    let suffix = format!("/{}", clean(token).chars().take(12).collect::<String>());
    let mut head = format!("run-task/{}/{}", clean(name), clean(job));
    head.truncate(128 - suffix.len());
    head + &suffix
}

/// `text` as an ECS tag value: at most 256 characters of letters, digits, spaces and
/// `+ - = . _ : / @` (AWS refuses the whole RunTask otherwise); anything else becomes `_`.
pub fn tag_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || " +-=._:/@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

/// Starts the task once (see the module's documentation); tries again on throttling or a
/// lost answer until `deadline`.
pub async fn start(
    ecs: &aws_sdk_ecs::Client,
    request: &StartRequest,
    deadline: Deadline,
    stop: &Stop,
) -> Result<Started, StartError> {
    let backoff = Backoff::doubling(Duration::from_millis(500), Duration::from_secs(10));
    let mut attempts = 0;
    // A stop after a failed attempt: that attempt's task may exist (its answer was lost),
    // so one more look; a task found is returned, and the caller stops it.
    let stopped = |attempts: u32| async move {
        if attempts == 0 {
            return Err(StartError::Stopped);
        }
        match find(ecs, request).await? {
            Some(arn) => Ok(Started {
                arn,
                status: None,
                attempts,
                adopted: true,
            }),
            None => Err(StartError::Stopped),
        }
    };
    loop {
        if stop.requested() {
            return stopped(attempts).await;
        }
        attempts += 1;
        match run_task(ecs, request).await {
            Ok(Ok((arn, status))) => {
                return Ok(Started {
                    arn,
                    status,
                    attempts,
                    adopted: false,
                })
            }
            Ok(Err(failures)) => return Err(StartError::NotPlaced(failures)),
            Err(e) if !e.is_transient() => return Err(e.into()),
            Err(e) => {
                tracing::warn!("RunTask: {e}: looking for a task it may have started");
                if let Some(arn) = find(ecs, request).await? {
                    return Ok(Started {
                        arn,
                        status: None,
                        attempts,
                        adopted: true,
                    });
                }
                let pause = backoff.delay(attempts - 1);
                if deadline.too_close(pause) {
                    return Err(e.into());
                }
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = stop.wait() => return stopped(attempts).await,
                }
            }
        }
    }
}

/// One RunTask call, the SDK's retries off: the task's ARN and state, or ECS's failures.
async fn run_task(
    ecs: &aws_sdk_ecs::Client,
    r: &StartRequest,
) -> Result<Result<(String, Option<String>), String>, AwsCallError> {
    let overrides = (r.command.is_some() || !r.env.is_empty()).then(|| {
        TaskOverride::builder()
            .container_overrides(
                ContainerOverride::builder()
                    .name(&r.container)
                    .set_command(r.command.clone())
                    .set_environment((!r.env.is_empty()).then(|| {
                        r.env
                            .iter()
                            .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
                            .collect()
                    }))
                    .build(),
            )
            .build()
    });
    let tags = r
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let out = ecs
        .run_task()
        .cluster(&r.cluster)
        .task_definition(&r.task_definition)
        .count(1)
        .client_token(&r.client_token)
        .started_by(&r.started_by)
        .set_launch_type(r.placement.launch_type.clone())
        .set_capacity_provider_strategy(
            (!r.placement.strategy.is_empty()).then(|| r.placement.strategy.clone()),
        )
        .set_network_configuration(r.placement.network.clone())
        .set_platform_version(r.placement.platform_version.clone())
        .set_overrides(overrides)
        .set_tags(Some(tags))
        .customize()
        .config_override(
            aws_sdk_ecs::config::Builder::default().retry_config(RetryConfig::disabled()),
        )
        .send()
        .await
        .map_err(AwsCallError::on(
            "ecs:RunTask",
            format!("{}/{}", r.cluster, r.task_definition),
        ))?;
    if let Some(task) = out.tasks().iter().find(|t| t.task_arn().is_some()) {
        return Ok(Ok((
            task.task_arn().unwrap_or_default().to_owned(),
            task.last_status().map(str::to_owned),
        )));
    }
    let failures: Vec<String> = out
        .failures()
        .iter()
        .map(|f| {
            format!(
                "{}{}",
                f.reason().unwrap_or("no reason given"),
                f.detail().map(|d| format!(" ({d})")).unwrap_or_default()
            )
        })
        .collect();
    Ok(Err(if failures.is_empty() {
        "the answer named no task and no failure".to_owned()
    } else {
        failures.join("; ")
    }))
}

/// The task this run started, if one exists: ListTasks by `startedBy`, running then
/// stopped (a task that failed at once is already stopped).
async fn find(ecs: &aws_sdk_ecs::Client, r: &StartRequest) -> Result<Option<String>, AwsCallError> {
    for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let out = ecs
            .list_tasks()
            .cluster(&r.cluster)
            .started_by(&r.started_by)
            .desired_status(status)
            .send()
            .await
            .map_err(AwsCallError::on("ecs:ListTasks", r.cluster.clone()))?;
        if let Some(arn) = out.task_arns().first() {
            return Ok(Some(arn.clone()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ci_job_becomes_a_tag_value_ecs_takes() {
        assert_eq!(
            tag_value("CircleCI job deploy-to-prefect #812"),
            "CircleCI job deploy-to-prefect _812"
        );
        assert_eq!(tag_value(&"é#".repeat(300)).chars().count(), 256);
        assert_eq!(tag_value("a;b$(c)"), "a_b__c_");
    }

    #[test]
    fn started_by_is_unique_and_within_what_ecs_allows() {
        let s = started_by(
            "prefect-deployer",
            "deploy-to-prefect#812",
            "0f8e2a6c-1d2b-4c5d",
        );
        assert_eq!(
            s,
            "run-task/prefect-deployer/deploy-to-prefect-812/0f8e2a6c-1d2"
        );
        let long = started_by(&"x".repeat(200), "job", "0123456789abcdef");
        assert_eq!(long.len(), 128);
        assert!(long.ends_with("/0123456789ab"));
        assert!(long
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c)));
    }
}
