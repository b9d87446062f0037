//! Waiting for resources to settle after a change, within the run's deadline.

use crate::state::{AuroraStatus, ServiceStatus};
use infra_core::aws::AwsCallError;
use infra_core::retry::{until, Backoff, Deadline, Stopped, Try};
use park_state::polls::ServicePolls;
use rate_budget::Budget;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Why waiting ended without success.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The deadline passed first.
    #[error("not stable before the deadline: {last}")]
    Deadline {
        /// The last state seen.
        last: String,
    },
    /// The resource went away or into a state it will not leave by itself.
    #[error("{0}")]
    Gone(String),
    /// Reading the state failed.
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

/// Polls every `poll` until `check` says the resource settled, within `deadline`. A poll
/// that failed even after the SDK's retries with a transient failure (throttling, 5xx, a
/// dropped connection) is one more "not yet"; any other failure ends the wait at once.
async fn settle<F, Fut>(
    deadline: Instant,
    poll: Duration,
    what: &str,
    check: F,
) -> Result<(), WaitError>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Try<(), WaitError>>,
{
    until(
        Deadline::at(deadline),
        Backoff::constant(poll),
        None,
        |e: &WaitError, _, _| tracing::debug!("waiting for {what}: {e}"),
        check,
    )
    .await
    .map_err(|stopped| match stopped {
        // "Not yet" at the deadline says what was seen last.
        Stopped::Exhausted {
            last: WaitError::Deadline { last },
            ..
        } => WaitError::Deadline { last },
        other => other.into_inner(),
    })
}

/// A failed poll: transient ones are tried again.
fn failed_poll(e: AwsCallError) -> Try<(), WaitError> {
    if e.is_transient() {
        Try::Again(e.into())
    } else {
        Try::Fail(e.into())
    }
}

/// Polls DescribeServices until the service runs its desired count with a single
/// deployment. DRAINING or INACTIVE, or a FAILED rollout, fail at once.
pub async fn service_stable(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    deadline: Instant,
    poll: Duration,
) -> Result<(), WaitError> {
    let polls = ServicePolls::new(ecs.clone(), Budget::unmetered());
    service_stable_within(&polls, cluster, service, deadline, poll).await
}

/// [`service_stable`], the polls batched with the other services of the cluster waiting
/// at the same moment ([`ServicePolls`]).
pub async fn service_stable_within(
    polls: &Arc<ServicePolls>,
    cluster: &str,
    service: &str,
    deadline: Instant,
    poll: Duration,
) -> Result<(), WaitError> {
    let what = format!("{cluster}/{service} to become stable");
    settle(deadline, poll, &what, |_| async {
        let out = polls.describe(cluster, service).await;
        let out = match out {
            Ok(out) => out,
            Err(e) => return failed_poll(e),
        };
        let Some(svc) = out else {
            return Try::Fail(WaitError::Gone(format!(
                "service {cluster}/{service} disappeared while waiting"
            )));
        };
        let status = ServiceStatus::answered(svc.status());
        if matches!(status, ServiceStatus::Draining | ServiceStatus::Inactive) {
            return Try::Fail(WaitError::Gone(format!(
                "service {cluster}/{service} is {status}"
            )));
        }
        let failed = svc.deployments().iter().any(|d| {
            d.status() == Some("PRIMARY")
                && d.rollout_state() == Some(&aws_sdk_ecs::types::DeploymentRolloutState::Failed)
        });
        if failed {
            return Try::Fail(WaitError::Gone(format!(
                "the deployment of {cluster}/{service} FAILED: {}",
                svc.deployments()
                    .first()
                    .and_then(|d| d.rollout_state_reason())
                    .unwrap_or("no reason given")
            )));
        }
        if svc.running_count() == svc.desired_count() && svc.deployments().len() <= 1 {
            return Try::Done(());
        }
        Try::Again(WaitError::Deadline {
            last: format!(
                "{}/{} running, {} pending, {} deployment(s)",
                svc.running_count(),
                svc.desired_count(),
                svc.pending_count(),
                svc.deployments().len()
            ),
        })
    })
    .await
}

/// Polls DescribeDBClusters until the cluster is `available`.
pub async fn aurora_available(
    rds: &aws_sdk_rds::Client,
    cluster: &str,
    deadline: Instant,
    poll: Duration,
) -> Result<(), WaitError> {
    let what = format!("Aurora cluster {cluster} to become available");
    settle(deadline, poll, &what, |_| async {
        let out = rds
            .describe_db_clusters()
            .db_cluster_identifier(cluster)
            .send()
            .await
            .map_err(|e| AwsCallError::new("rds:DescribeDBClusters", Some(cluster.to_owned()), e));
        let out = match out {
            Ok(out) => out,
            Err(e) => return failed_poll(e),
        };
        let status = match out.db_clusters().first() {
            Some(c) => AuroraStatus::answered(c.status()),
            None => AuroraStatus::Missing,
        };
        match status {
            AuroraStatus::Available => Try::Done(()),
            AuroraStatus::Deleting
            | AuroraStatus::Failed
            | AuroraStatus::InaccessibleEncryptionCredentials
            | AuroraStatus::Missing => Try::Fail(WaitError::Gone(format!(
                "Aurora cluster {cluster} is {status}"
            ))),
            _ => Try::Again(WaitError::Deadline {
                last: format!("Aurora cluster {cluster} is {status}"),
            }),
        }
    })
    .await
}
