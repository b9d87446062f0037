//! Every endpoint in parallel (bounded), each retried on transient failures only, with
//! backoff, inside one overall deadline.

use crate::expect::{evaluate, Verdict};
use crate::http::{get_following, Timings};
use infra_core::environment::Endpoint;
use infra_core::retry::{Backoff, Deadline};
use infra_core::runner::{run_bounded, Lost, Stop};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How to run the checks.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Everything must finish within this.
    pub deadline: Duration,
    /// One attempt may take at most this.
    pub attempt_timeout: Duration,
    /// Endpoints checked at once.
    pub concurrency: usize,
    /// First backoff; doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// TLS settings.
    pub tls: Arc<rustls::ClientConfig>,
    /// CloudFront client for the preflight of endpoints behind a distribution.
    pub cloudfront: Option<aws_sdk_cloudfront::Client>,
    /// A certificate expiring within this many days is a warning.
    pub cert_warn_days: i64,
    /// A certificate expiring within this many days fails the check.
    pub cert_fail_days: i64,
    /// Connect to the CloudFront distribution's own domain, sending SNI and Host for the
    /// alias (`--via-cloudfront`), to tell a DNS problem from a distribution problem.
    pub via_cloudfront: bool,
    /// `host:port` → address overrides (`--resolve`).
    pub resolve: Vec<(String, u16, std::net::IpAddr)>,
    /// Each endpoint's extra request headers, by endpoint name ([`crate::http::request_headers`]).
    pub request_headers: std::collections::HashMap<String, crate::http::RequestHeaders>,
    /// SIGINT/SIGTERM: checks not finished are reported `interrupted`.
    pub stop: Stop,
}

/// Why a check stopped, as the reports spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckOutcome {
    /// Every expectation held.
    Healthy,
    /// An expectation failed and was not retried (or the check's task panicked).
    Failed,
    /// Still failing (or not finished) when the run's deadline came.
    Deadline,
    /// The CloudFront distribution is not ready; no request was made.
    Preflight,
    /// SIGINT/SIGTERM came before the check finished.
    Interrupted,
}

impl CheckOutcome {
    /// The outcome as the text, JSON and JUnit reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutcome::Healthy => "healthy",
            CheckOutcome::Failed => "failed",
            CheckOutcome::Deadline => "deadline",
            CheckOutcome::Preflight => "preflight",
            CheckOutcome::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for CheckOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result for one endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointResult {
    /// The endpoint's name.
    pub name: String,
    /// The method.
    pub method: String,
    /// The URL, secrets redacted.
    pub url: String,
    /// Redirects followed by the last attempt.
    pub redirects: Vec<String>,
    /// Where it connected when pinned to a CloudFront distribution's domain.
    pub connected_via: Option<String>,
    /// Whether it was healthy.
    pub passed: bool,
    /// Attempts made.
    pub attempts: u32,
    /// The last status seen.
    pub status: Option<u16>,
    /// What was expected (when it failed).
    pub expected: Option<String>,
    /// What came instead (when it failed).
    pub actual: Option<String>,
    /// Why it stopped.
    pub outcome: CheckOutcome,
    /// Timings of the last attempt that got an answer.
    pub timings: Option<Timings>,
    /// Time spent on this endpoint, retries included.
    pub elapsed_ms: f64,
    /// Days until the server certificate expires, for HTTPS.
    pub cert_days_left: Option<i64>,
    /// Warnings that do not fail the check (a certificate near expiry).
    pub warnings: Vec<String>,
}

/// Checks every endpoint. An endpoint whose check panicked (a bug) is reported failed
/// with the panic's message, never left out.
pub async fn run(endpoints: Vec<Endpoint>, options: RunOptions) -> Vec<EndpointResult> {
    let deadline = Instant::now() + options.deadline;
    let concurrency = options.concurrency;
    let options = Arc::new(options);
    let named: Vec<(String, String)> = endpoints
        .iter()
        .map(|e| (e.name.clone(), crate::redact::url(&e.url)))
        .collect();
    // A backstop a little after the deadline: each check stops at the deadline itself,
    // with its last attempt's details.
    let backstop = Deadline::at(deadline + options.attempt_timeout);
    let results = run_bounded(
        endpoints,
        concurrency,
        backstop,
        |endpoint| {
            let options = Arc::clone(&options);
            async move {
                tokio::select! {
                    result = check(&endpoint, &options, deadline) => result,
                    () = options.stop.wait() => unfinished(
                        endpoint.name.clone(),
                        crate::redact::url(&endpoint.url),
                        CheckOutcome::Interrupted,
                        "interrupted by a signal before the check finished".into(),
                    ),
                }
            }
        },
        || {},
    )
    .await;
    named
        .into_iter()
        .zip(results)
        .map(|((name, url), result)| {
            result.unwrap_or_else(|lost| {
                let outcome = match lost {
                    Lost::Deadline => CheckOutcome::Deadline,
                    Lost::Panicked(_) => CheckOutcome::Failed,
                };
                unfinished(name, url, outcome, lost.to_string())
            })
        })
        .collect()
}

/// The result of a check that did not run to its end: failed, with why.
pub(crate) fn unfinished(
    name: String,
    url: String,
    outcome: CheckOutcome,
    actual: String,
) -> EndpointResult {
    EndpointResult {
        name,
        method: "GET".into(),
        url,
        redirects: Vec::new(),
        connected_via: None,
        passed: false,
        attempts: 0,
        status: None,
        expected: None,
        actual: Some(actual),
        outcome,
        timings: None,
        elapsed_ms: 0.0,
        cert_days_left: None,
        warnings: Vec::new(),
    }
}

async fn check(endpoint: &Endpoint, options: &RunOptions, deadline: Instant) -> EndpointResult {
    let started = Instant::now();
    let mut result = EndpointResult {
        name: endpoint.name.clone(),
        method: "GET".into(),
        url: crate::redact::url(&endpoint.url),
        connected_via: None,
        redirects: Vec::new(),
        passed: false,
        attempts: 0,
        status: None,
        expected: None,
        actual: None,
        outcome: CheckOutcome::Failed,
        timings: None,
        elapsed_ms: 0.0,
        cert_days_left: None,
        warnings: Vec::new(),
    };
    let mut route = crate::http::Route {
        connect_host: None,
        resolve: options.resolve.clone(),
    };
    if let (Some(id), Some(cf)) = (&endpoint.cloudfront_distribution, &options.cloudfront) {
        let host = endpoint.url.host_str().unwrap_or_default();
        match crate::cloudfront::preflight(cf, id, host, deadline, options.max_backoff).await {
            Ok(domain) => {
                if options.via_cloudfront {
                    route.connect_host = Some(domain);
                }
            }
            Err(e) => {
                result.outcome = CheckOutcome::Preflight;
                result.expected = Some(format!(
                    "CloudFront distribution {id} enabled, deployed and serving {host}"
                ));
                result.actual = Some(e.to_string());
                result.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
                return result;
            }
        }
    }
    result.connected_via = route.connect_host.clone();
    let backoff = Backoff::doubling(options.initial_backoff, options.max_backoff);
    loop {
        result.attempts += 1;
        let attempt_deadline = deadline.min(Instant::now() + options.attempt_timeout);
        let mut followed = Vec::new();
        let fetched = get_following(
            &endpoint.url,
            &route,
            options
                .request_headers
                .get(&endpoint.name)
                .unwrap_or(&Vec::new()),
            endpoint.follow_redirects,
            &options.tls,
            attempt_deadline,
            &mut followed,
        )
        .await;
        result.redirects = followed;
        let transient = match fetched {
            Ok(response) => {
                result.status = Some(response.status);
                result.timings = Some(response.timings);
                result.cert_days_left = response.cert_not_after.map(days_left);
                let host = endpoint.url.host_str().unwrap_or_default();
                let verdict = match result.cert_days_left {
                    Some(days) if days < options.cert_fail_days => Verdict::Fail {
                        expected: format!(
                            "a certificate valid for at least {} more days",
                            options.cert_fail_days
                        ),
                        actual: format!("the certificate for {host} expires in {days} days"),
                        transient: false,
                    },
                    Some(days) if days < options.cert_warn_days => {
                        let warning = format!("the certificate for {host} expires in {days} days");
                        if !result.warnings.contains(&warning) {
                            result.warnings.push(warning);
                        }
                        evaluate(endpoint, &response)
                    }
                    _ => evaluate(endpoint, &response),
                };
                let total = response.timings.total_ms;
                let verdict = match (verdict, endpoint.latency_fail_ms, endpoint.latency_warn_ms) {
                    (Verdict::Pass, Some(fail), _) if total > fail as f64 => Verdict::Fail {
                        expected: format!("an answer within {fail} ms"),
                        actual: format!("an answer after {total:.0} ms"),
                        transient: true,
                    },
                    (Verdict::Pass, _, Some(warn)) if total > warn as f64 => {
                        result.warnings.push(format!(
                            "{} answered after {total:.0} ms (warning budget {warn} ms)",
                            endpoint.name
                        ));
                        Verdict::Pass
                    }
                    (verdict, _, _) => verdict,
                };
                match verdict {
                    Verdict::Pass => {
                        result.passed = true;
                        result.outcome = CheckOutcome::Healthy;
                        result.expected = None;
                        result.actual = None;
                        break;
                    }
                    Verdict::Fail {
                        expected,
                        actual,
                        transient,
                    } => {
                        result.expected = Some(expected);
                        result.actual = Some(actual);
                        transient
                    }
                }
            }
            Err(e) => {
                result.expected = Some(format!("status {}", endpoint.expect_status));
                result.actual = Some(e.to_string());
                e.is_transient()
            }
        };
        tracing::info!(endpoint = %endpoint.name, attempt = result.attempts, transient, actual = ?result.actual, "check failed");
        if !transient {
            result.outcome = CheckOutcome::Failed;
            break;
        }
        let wait = backoff.delay(result.attempts);
        if Deadline::at(deadline).too_close(wait) {
            result.outcome = CheckOutcome::Deadline;
            break;
        }
        tokio::time::sleep(wait).await;
    }
    result.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    result
}

/// Whole days from now until `not_after` (seconds since the epoch); negative once expired.
fn days_left(not_after: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    (not_after - now).div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `verify-endpoints/run` v1 and the JUnit types keep their strings.
    #[test]
    fn outcomes_keep_their_json_strings() {
        for (outcome, text) in [
            (CheckOutcome::Healthy, "healthy"),
            (CheckOutcome::Failed, "failed"),
            (CheckOutcome::Deadline, "deadline"),
            (CheckOutcome::Preflight, "preflight"),
            (CheckOutcome::Interrupted, "interrupted"),
        ] {
            assert_eq!(serde_json::to_value(outcome).unwrap(), text);
            assert_eq!(outcome.to_string(), text);
        }
    }
}
