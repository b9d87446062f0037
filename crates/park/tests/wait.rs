//! The waiting logic, against the SDK's own mock support: the emulator jumps runningCount
//! straight to desiredCount, so it cannot show a slow rollout, a drain or a deadline. These
//! tests use `aws-smithy-mocks` because no real part here can produce those sequences.

use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, Service};
use aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput;
use aws_sdk_rds::types::DbCluster;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use park::wait::{aurora_available, service_stable, WaitError};
use std::time::Duration;
use tokio::time::Instant;

fn service(status: &str, running: i32, desired: i32, deployments: usize) -> DescribeServicesOutput {
    let mut svc = Service::builder()
        .service_name("web")
        .status(status)
        .running_count(running)
        .desired_count(desired);
    for i in 0..deployments {
        svc = svc.deployments(
            Deployment::builder()
                .status(if i == 0 { "PRIMARY" } else { "ACTIVE" })
                .rollout_state(if i == 0 {
                    DeploymentRolloutState::InProgress
                } else {
                    DeploymentRolloutState::Completed
                })
                .build(),
        );
    }
    DescribeServicesOutput::builder()
        .services(svc.build())
        .build()
}

const POLL: Duration = Duration::from_millis(5);

#[tokio::test]
async fn waits_through_a_rollout_until_stable() {
    let rule = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .output(|| service("ACTIVE", 0, 3, 2))
        .output(|| service("ACTIVE", 1, 3, 2))
        .output(|| service("ACTIVE", 3, 3, 2))
        .output(|| service("ACTIVE", 3, 3, 1))
        .build();
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::Sequential, [&rule]);
    service_stable(
        &ecs,
        "c",
        "web",
        Instant::now() + Duration::from_secs(10),
        POLL,
    )
    .await
    .unwrap();
    assert_eq!(
        rule.num_calls(),
        4,
        "stable only once running = desired with one deployment"
    );
}

#[tokio::test]
async fn gives_up_at_the_deadline_with_the_last_state() {
    let rule =
        mock!(aws_sdk_ecs::Client::describe_services).then_output(|| service("ACTIVE", 1, 3, 1));
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&rule]);
    let started = Instant::now();
    let err = service_stable(
        &ecs,
        "c",
        "web",
        Instant::now() + Duration::from_millis(60),
        POLL,
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    match err {
        WaitError::Deadline { last } => assert_eq!(last, "1/3 running, 0 pending, 1 deployment(s)"),
        other => panic!("expected the deadline, got {other:?}"),
    }
    assert!(rule.num_calls() >= 2, "it polled");
}

#[tokio::test]
async fn draining_and_inactive_fail_at_once() {
    for status in ["DRAINING", "INACTIVE"] {
        let rule = mock!(aws_sdk_ecs::Client::describe_services)
            .then_output(move || service(status, 0, 3, 1));
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&rule]);
        let err = service_stable(
            &ecs,
            "c",
            "web",
            Instant::now() + Duration::from_secs(10),
            POLL,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, WaitError::Gone(m) if m.contains(status)),
            "{err:?}"
        );
        assert_eq!(rule.num_calls(), 1);
    }
}

#[tokio::test]
async fn a_failed_rollout_fails_at_once() {
    let rule = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        let svc = Service::builder()
            .service_name("web")
            .status("ACTIVE")
            .running_count(0)
            .desired_count(2)
            .deployments(
                Deployment::builder()
                    .status("PRIMARY")
                    .rollout_state(DeploymentRolloutState::Failed)
                    .rollout_state_reason("tasks failed to start")
                    .build(),
            )
            .build();
        DescribeServicesOutput::builder().services(svc).build()
    });
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&rule]);
    let err = service_stable(
        &ecs,
        "c",
        "web",
        Instant::now() + Duration::from_secs(10),
        POLL,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("FAILED: tasks failed to start"),
        "{err}"
    );
}

#[tokio::test]
async fn aurora_waits_until_available() {
    let cluster = |status: &str| {
        DescribeDbClustersOutput::builder()
            .db_clusters(DbCluster::builder().status(status).build())
            .build()
    };
    let rule = mock!(aws_sdk_rds::Client::describe_db_clusters)
        .sequence()
        .output(move || cluster("modifying"))
        .output(move || cluster("available"))
        .build();
    let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, [&rule]);
    aurora_available(&rds, "db", Instant::now() + Duration::from_secs(10), POLL)
        .await
        .unwrap();
    assert_eq!(rule.num_calls(), 2);

    let rule =
        mock!(aws_sdk_rds::Client::describe_db_clusters).then_output(move || cluster("deleting"));
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&rule]);
    let err = aurora_available(&rds, "db", Instant::now() + Duration::from_secs(10), POLL)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is deleting"), "{err}");
}

/// A poll that fails with throttling even after the SDK's retries is one more "not yet";
/// a non-transient error ends the wait at once.
#[tokio::test]
async fn throttled_polls_are_polled_again_other_errors_end_the_wait() {
    use aws_sdk_ecs::error::ErrorMetadata;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesError;
    let throttled = || {
        DescribeServicesError::generic(
            ErrorMetadata::builder()
                .code("ThrottlingException")
                .message("Rate exceeded")
                .build(),
        )
    };
    let rule = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .error(throttled)
        .error(throttled)
        .output(|| service("ACTIVE", 2, 2, 1))
        .build();
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::Sequential, [&rule]);
    service_stable(
        &ecs,
        "c",
        "web",
        Instant::now() + Duration::from_secs(10),
        POLL,
    )
    .await
    .unwrap();
    assert_eq!(rule.num_calls(), 3);

    let denied = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .error(|| {
            DescribeServicesError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("no")
                    .build(),
            )
        })
        .build();
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::Sequential, [&denied]);
    let err = service_stable(
        &ecs,
        "c",
        "web",
        Instant::now() + Duration::from_secs(10),
        POLL,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, WaitError::Aws(ref e) if e.code.as_deref() == Some("AccessDeniedException")),
        "{err}"
    );
    assert_eq!(denied.num_calls(), 1);
}
