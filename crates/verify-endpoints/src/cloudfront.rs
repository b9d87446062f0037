//! The CloudFront preflight: before an endpoint behind a distribution is requested, the
//! distribution must be enabled, deployed (an `InProgress` one is waited for within the
//! deadline), and serve the URL's host as one of its aliases or as its own domain name.

use infra_core::aws::AwsCallError;
use infra_core::retry::{until, Backoff, Deadline, Stopped, Try};
use std::time::Duration;
use tokio::time::Instant;

/// Why the preflight failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PreflightError {
    /// The distribution does not exist.
    #[error("CloudFront distribution {id} not found")]
    NotFound {
        /// The distribution ID.
        id: String,
    },
    /// The distribution is disabled.
    #[error("CloudFront distribution {id} is disabled")]
    Disabled {
        /// The distribution ID.
        id: String,
    },
    /// The URL's host is not served by the distribution.
    #[error("host {host} is not an alias of CloudFront distribution {id} (aliases: {aliases}; domain: {domain})")]
    AliasMismatch {
        /// The distribution ID.
        id: String,
        /// The URL's host.
        host: String,
        /// The distribution's aliases.
        aliases: String,
        /// The distribution's own domain name.
        domain: String,
    },
    /// Still deploying at the deadline.
    #[error("CloudFront distribution {id} is still {status} at the deadline")]
    NotDeployed {
        /// The distribution ID.
        id: String,
        /// Its last status.
        status: String,
    },
    /// The API call failed.
    #[error(transparent)]
    Aws(std::sync::Arc<AwsCallError>),
}

/// Runs the preflight for `host` on distribution `id`; returns the distribution's own
/// domain name (for route pinning).
pub async fn preflight(
    cf: &aws_sdk_cloudfront::Client,
    id: &str,
    host: &str,
    deadline: Instant,
    poll: Duration,
) -> Result<String, PreflightError> {
    let host = host.to_ascii_lowercase();
    until(
        Deadline::at(deadline),
        Backoff::constant(poll),
        None,
        |e: &PreflightError, _, _| tracing::info!(distribution = %id, "{e}: waiting"),
        |_| check(cf, id, &host),
    )
    .await
    .map_err(Stopped::into_inner)
}

/// One look at the distribution: deployed and serving `host` (its domain name), still
/// deploying (`Again`, with the status for the deadline's message), or a failure.
async fn check(
    cf: &aws_sdk_cloudfront::Client,
    id: &str,
    host: &str,
) -> Try<String, PreflightError> {
    let out = match cf.get_distribution().id(id).send().await {
        Ok(out) => out,
        Err(e) => {
            let err = AwsCallError::new("cloudfront:GetDistribution", Some(id.to_owned()), e);
            return Try::Fail(if err.is_not_found() {
                PreflightError::NotFound { id: id.to_owned() }
            } else {
                PreflightError::Aws(std::sync::Arc::new(err))
            });
        }
    };
    let Some(dist) = out.distribution() else {
        return Try::Fail(PreflightError::NotFound { id: id.to_owned() });
    };
    let config = dist.distribution_config();
    if !config.is_some_and(|c| c.enabled()) {
        return Try::Fail(PreflightError::Disabled { id: id.to_owned() });
    }
    let aliases: Vec<&str> = config
        .and_then(|c| c.aliases())
        .map(|a| a.items().iter().map(String::as_str).collect())
        .unwrap_or_default();
    let served = aliases.iter().any(|a| alias_matches(a, host))
        || dist.domain_name().eq_ignore_ascii_case(host);
    if !served {
        return Try::Fail(PreflightError::AliasMismatch {
            id: id.to_owned(),
            host: host.to_owned(),
            aliases: if aliases.is_empty() {
                "none".into()
            } else {
                aliases.join(", ")
            },
            domain: dist.domain_name().to_owned(),
        });
    }
    match DistributionStatus::of(dist.status()) {
        DistributionStatus::Deployed => Try::Done(dist.domain_name().to_owned()),
        DistributionStatus::InProgress | DistributionStatus::Unknown(_) => {
            Try::Again(PreflightError::NotDeployed {
                id: id.to_owned(),
                status: dist.status().to_owned(),
            })
        }
    }
}

/// A distribution's `Status` (CloudFront documents `Deployed` and `InProgress`); a value it
/// adds later is carried as `Unknown`, and waited on like `InProgress`.
#[derive(Debug, PartialEq, Eq)]
enum DistributionStatus<'a> {
    /// Every edge location serves the current configuration.
    Deployed,
    /// A change is still propagating.
    InProgress,
    /// A value this version does not know.
    Unknown(&'a str),
}

impl DistributionStatus<'_> {
    fn of(text: &str) -> DistributionStatus<'_> {
        match text {
            "Deployed" => DistributionStatus::Deployed,
            "InProgress" => DistributionStatus::InProgress,
            other => DistributionStatus::Unknown(other),
        }
    }
}

/// CloudFront aliases may be wildcards (`*.example.com` covers one label).
fn alias_matches(alias: &str, host: &str) -> bool {
    let alias = alias.to_ascii_lowercase();
    match alias.strip_prefix("*.") {
        Some(suffix) => host.split_once('.').is_some_and(|(_, rest)| rest == suffix),
        None => alias == host,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcard_aliases_cover_one_label() {
        assert!(super::alias_matches("*.example.com", "portal.example.com"));
        assert!(!super::alias_matches("*.example.com", "a.b.example.com"));
        assert!(super::alias_matches(
            "Portal.Example.com",
            "portal.example.com"
        ));
    }
}
