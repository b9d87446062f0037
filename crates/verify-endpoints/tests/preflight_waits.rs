//! An `InProgress` distribution is waited for within the deadline. The emulator reports
//! `Deployed` on the first read, so this uses the SDK's mock support.

use aws_sdk_cloudfront::operation::get_distribution::GetDistributionOutput;
use aws_sdk_cloudfront::types::{Aliases, Distribution, DistributionConfig};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use std::time::Duration;
use tokio::time::Instant;
use verify_endpoints::cloudfront::{preflight, PreflightError};

fn dist(status: &str) -> GetDistributionOutput {
    let config = DistributionConfig::builder()
        .caller_reference("r")
        .comment("c")
        .enabled(true)
        .aliases(
            Aliases::builder()
                .quantity(1)
                .items("portal.example.com")
                .build()
                .unwrap(),
        )
        .build();
    let d = Distribution::builder()
        .id("E1")
        .arn("arn")
        .status(status)
        .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
        .in_progress_invalidation_batches(0)
        .domain_name("d111.cloudfront.net")
        .set_distribution_config(config.ok())
        .build();
    GetDistributionOutput::builder()
        .set_distribution(d.ok())
        .build()
}

#[tokio::test]
async fn in_progress_is_waited_for_then_deployed_passes() {
    let rule = mock!(aws_sdk_cloudfront::Client::get_distribution)
        .sequence()
        .output(|| dist("InProgress"))
        .output(|| dist("InProgress"))
        .output(|| dist("Deployed"))
        .build();
    let cf = mock_client!(aws_sdk_cloudfront, RuleMode::Sequential, [&rule]);
    let domain = preflight(
        &cf,
        "E1",
        "portal.example.com",
        Instant::now() + Duration::from_secs(10),
        Duration::from_millis(5),
    )
    .await
    .unwrap();
    assert_eq!(domain, "d111.cloudfront.net");
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn still_in_progress_at_the_deadline_fails() {
    let rule =
        mock!(aws_sdk_cloudfront::Client::get_distribution).then_output(|| dist("InProgress"));
    let cf = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&rule]);
    let err = preflight(
        &cf,
        "E1",
        "portal.example.com",
        Instant::now() + Duration::from_millis(50),
        Duration::from_millis(5),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, PreflightError::NotDeployed { id, status } if id == "E1" && status == "InProgress"),
        "{err:?}"
    );
    assert!(rule.num_calls() >= 2);
}
