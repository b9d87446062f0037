//! Waiting for resources to settle after a change, within the run's deadline.

use infra_core::aws::AwsCallError;
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

/// A poll that failed even after the SDK's retries: a transient failure (throttling, 5xx,
/// a dropped connection) is one more "not yet" while the deadline allows another poll;
/// anything else, or no time left, ends the wait with the error.
async fn poll_again(e: AwsCallError, deadline: Instant, poll: Duration) -> Result<(), WaitError> {
    if !e.is_transient() || Instant::now() + poll > deadline {
        return Err(e.into());
    }
    tracing::warn!("{e}; polling again in {}", humantime::format_duration(poll));
    tokio::time::sleep(poll).await;
    Ok(())
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
    loop {
        let out = ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| {
                AwsCallError::new(
                    "ecs:DescribeServices",
                    Some(format!("{cluster}/{service}")),
                    e,
                )
            });
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                poll_again(e, deadline, poll).await?;
                continue;
            }
        };
        let Some(svc) = out.services().first() else {
            return Err(WaitError::Gone(format!(
                "service {cluster}/{service} disappeared while waiting"
            )));
        };
        let status = svc.status().unwrap_or("UNKNOWN");
        if matches!(status, "DRAINING" | "INACTIVE") {
            return Err(WaitError::Gone(format!(
                "service {cluster}/{service} is {status}"
            )));
        }
        let failed = svc.deployments().iter().any(|d| {
            d.status() == Some("PRIMARY")
                && d.rollout_state() == Some(&aws_sdk_ecs::types::DeploymentRolloutState::Failed)
        });
        if failed {
            return Err(WaitError::Gone(format!(
                "the deployment of {cluster}/{service} FAILED: {}",
                svc.deployments()
                    .first()
                    .and_then(|d| d.rollout_state_reason())
                    .unwrap_or("no reason given")
            )));
        }
        let last = format!(
            "{}/{} running, {} pending, {} deployment(s)",
            svc.running_count(),
            svc.desired_count(),
            svc.pending_count(),
            svc.deployments().len()
        );
        if svc.running_count() == svc.desired_count() && svc.deployments().len() <= 1 {
            return Ok(());
        }
        if Instant::now() + poll > deadline {
            return Err(WaitError::Deadline { last });
        }
        tracing::debug!(%cluster, %service, %last, "waiting for service to become stable");
        tokio::time::sleep(poll).await;
    }
}

/// Polls DescribeDBClusters until the cluster is `available`.
pub async fn aurora_available(
    rds: &aws_sdk_rds::Client,
    cluster: &str,
    deadline: Instant,
    poll: Duration,
) -> Result<(), WaitError> {
    loop {
        let out = rds
            .describe_db_clusters()
            .db_cluster_identifier(cluster)
            .send()
            .await
            .map_err(|e| AwsCallError::new("rds:DescribeDBClusters", Some(cluster.to_owned()), e));
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                poll_again(e, deadline, poll).await?;
                continue;
            }
        };
        let status = out
            .db_clusters()
            .first()
            .and_then(|c| c.status())
            .unwrap_or("missing")
            .to_owned();
        match status.as_str() {
            "available" => return Ok(()),
            "deleting" | "failed" | "inaccessible-encryption-credentials" | "missing" => {
                return Err(WaitError::Gone(format!(
                    "Aurora cluster {cluster} is {status}"
                )))
            }
            _ => {}
        }
        if Instant::now() + poll > deadline {
            return Err(WaitError::Deadline {
                last: format!("Aurora cluster {cluster} is {status}"),
            });
        }
        tokio::time::sleep(poll).await;
    }
}
