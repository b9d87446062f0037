//! The use case of `verify-endpoints` as one library call, [`verify`]: the endpoints to
//! check (from the environment file and `--url`), the inputs checked before any request
//! (bad input is exit 2 with nothing sent), the CloudFront preflight's AWS setup, the
//! checks, the JUnit file. Returns the report or a [`VerifyError`], whose one exhaustive
//! `match` gives the exit code.

use crate::report::{junit, RunReport};
use crate::runner::{run, RunOptions};
use infra_core::environment::{endpoint_url, Endpoint};
use infra_core::exit::ExitStatus;
use infra_core::retry::Deadline;
use infra_core::runner::Caller;
use infra_core::setup::{Setup, SetupError};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// What to check, and how.
#[derive(Debug, Clone)]
pub struct Request {
    /// Only these endpoints of the environment file (all when empty).
    pub only: Vec<String>,
    /// Also these URLs, expecting status 200.
    pub urls: Vec<String>,
    /// Everything must be healthy within this.
    pub deadline: Duration,
    /// One attempt may take at most this.
    pub attempt_timeout: Duration,
    /// Endpoints checked at once.
    pub concurrency: usize,
    /// Write a JUnit XML report here.
    pub junit: Option<PathBuf>,
    /// Connect through each endpoint's CloudFront distribution domain.
    pub via_cloudfront: bool,
    /// `host:port` → address overrides.
    pub resolve: Vec<(String, u16, std::net::IpAddr)>,
    /// Warn when a certificate expires within this many days.
    pub cert_warn_days: i64,
    /// Fail when a certificate expires within this many days.
    pub cert_fail_days: i64,
    /// Extra CA certificates (PEM) to trust.
    pub ca_file: Option<PathBuf>,
    /// `--no-notify`: no notification of failed checks.
    pub no_notify: bool,
}

/// Why no report was produced.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The environment file, the AWS options or the account guard.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// `--only NAME` names no endpoint of the file.
    #[error("--only {name}: no such endpoint in {file} (known: {known})")]
    UnknownEndpoint {
        /// The name given.
        name: String,
        /// The environment file.
        file: String,
        /// The endpoints it defines.
        known: String,
    },
    /// `--url` is not an http(s) URL with a host.
    #[error("--url {0}: not an http:// or https:// URL with a host")]
    BadUrl(String),
    /// `--ca-file` cannot be read or holds no usable certificate.
    #[error("--ca-file{}", .path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    CaFile {
        /// The file, when one was given.
        path: Option<std::path::PathBuf>,
        /// Why it cannot be used.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A request header's environment variable is missing (named, never shown).
    #[error("{0}")]
    RequestHeader(String),
    /// The JUnit file could not be rendered or written.
    #[error("cannot write the JUnit report {path}")]
    Junit {
        /// The file.
        path: std::path::PathBuf,
        /// Why: the XML could not be rendered, or the file not written.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl VerifyError {
    /// The exit status for this error: the one place verify-endpoints maps errors to exit
    /// codes (an unhealthy endpoint is not an error: it is the report, exit 1).
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            VerifyError::Setup(e) => e.exit_status(),
            VerifyError::UnknownEndpoint { .. }
            | VerifyError::BadUrl(_)
            | VerifyError::CaFile { .. }
            | VerifyError::RequestHeader(_) => ExitStatus::InvalidInput,
            VerifyError::Junit { .. } => ExitStatus::Failure,
        }
    }
}

impl RunReport {
    /// 0 when every endpoint is healthy, else 1.
    pub fn exit_status(&self) -> ExitStatus {
        match self.healthy {
            true => ExitStatus::Success,
            false => ExitStatus::Failure,
        }
    }
}

/// The endpoints `request` names: the environment file's (all, or `--only`), then one per
/// `--url`. The environment file is read when given or when there is no `--url`.
fn endpoints(
    setup: &Setup,
    request: &Request,
) -> Result<(Vec<Endpoint>, Option<infra_core::Environment>), VerifyError> {
    let mut endpoints = Vec::new();
    let mut environment = None;
    if setup.env_file.is_some() || request.urls.is_empty() {
        let env = setup.environment()?;
        if let Some(name) = request.only.iter().find(|n| env.endpoint(n).is_none()) {
            return Err(VerifyError::UnknownEndpoint {
                name: name.clone(),
                file: env.file.display().to_string(),
                known: env
                    .endpoints
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        endpoints.extend(
            env.endpoints
                .iter()
                .filter(|e| request.only.is_empty() || request.only.contains(&e.name))
                .cloned(),
        );
        environment = Some(env);
    }
    for (i, raw) in request.urls.iter().enumerate() {
        let url = endpoint_url(raw).map_err(|_| VerifyError::BadUrl(raw.clone()))?;
        endpoints.push(Endpoint::expecting_200(format!("url-{}", i + 1), url));
    }
    Ok((endpoints, environment))
}

/// Checks the endpoints `request` names and writes the JUnit file if asked. The caller's
/// `on_signals` is called once the checks start: unfinished checks are then reported
/// `interrupted`.
pub async fn verify(
    setup: &Setup,
    request: Request,
    caller: &Caller,
) -> Result<RunReport, VerifyError> {
    let (endpoints, environment) = endpoints(setup, &request)?;
    let extra_ca = match &request.ca_file {
        Some(path) => std::fs::read(path).map_err(|e| VerifyError::CaFile {
            path: Some(path.clone()),
            source: e.into(),
        })?,
        None => Vec::new(),
    };
    // Request headers from the environment, before any AWS call or request: a missing
    // variable is bad input (exit 2), named but never shown.
    let mut request_headers = HashMap::new();
    for endpoint in &endpoints {
        let headers = crate::http::request_headers(endpoint, |var| std::env::var(var).ok())
            .map_err(VerifyError::RequestHeader)?;
        request_headers.insert(endpoint.name.clone(), headers);
    }
    let tls = crate::http::tls_config(&extra_ca).map_err(|e| VerifyError::CaFile {
        path: request.ca_file.clone(),
        source: e.into(),
    })?;
    // The preflight needs AWS (and so the account guard) only when a checked endpoint is
    // behind a distribution. Its calls are retried until the run's deadline.
    let deadline = Deadline::after(request.deadline);
    let behind_cloudfront = endpoints
        .iter()
        .any(|e| e.cloudfront_distribution.is_some());
    let cloudfront = match (&environment, behind_cloudfront) {
        (Some(env), true) => {
            let (config, _) = setup.aws_until(env, deadline).await?;
            Some(infra_core::aws_client!(
                aws_sdk_cloudfront,
                &config,
                deadline,
                "verify-endpoints-cloudfront"
            ))
        }
        _ => None,
    };
    let stop = (caller.on_signals)(infra_core::runner::StopKind::finish(
        "unfinished checks are reported interrupted, then the report".into(),
        "no report was written".into(),
    ));
    let options = RunOptions {
        deadline: request.deadline,
        attempt_timeout: request.attempt_timeout,
        concurrency: request.concurrency,
        initial_backoff: Duration::from_millis(250),
        max_backoff: Duration::from_secs(4),
        tls,
        cloudfront,
        cert_warn_days: request.cert_warn_days,
        cert_fail_days: request.cert_fail_days,
        via_cloudfront: request.via_cloudfront,
        resolve: request.resolve,
        request_headers,
        stop: stop.clone(),
    };
    let results = run(endpoints, options).await;
    for warning in results.iter().flat_map(|r| &r.warnings) {
        tracing::warn!("{warning}");
    }
    let mut report = RunReport {
        healthy: results.iter().all(|r| r.passed),
        endpoints: results,
        notifications: Vec::new(),
    };
    if let Some(env) = &environment {
        report.notifications = infra_notify::step(
            env.notify.as_ref().filter(|_| !request.no_notify),
            report.notice(&env.name),
            &deadline,
            &stop,
        )
        .await;
    }
    if let Some(path) = &request.junit {
        let junit_error = |source| VerifyError::Junit {
            path: path.clone(),
            source,
        };
        let xml = junit(&report).map_err(|e| junit_error(e.into()))?;
        infra_core::fs::write_atomic(path, xml.as_bytes()).map_err(|e| junit_error(e.into()))?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exit-code table of `verify-endpoints`, one row per error variant.
    #[test]
    fn every_error_has_its_exit_code() {
        let errors = [
            VerifyError::Setup(SetupError::NoEnvFile),
            VerifyError::UnknownEndpoint {
                name: "portl".into(),
                file: "prod.env.hcl".into(),
                known: "portal".into(),
            },
            VerifyError::BadUrl("ftp://x".into()),
            VerifyError::CaFile {
                path: Some("ca.pem".into()),
                source: "gone".into(),
            },
            VerifyError::RequestHeader("PORTAL_SMOKE_AUTH is not set".into()),
            VerifyError::Junit {
                path: "junit.xml".into(),
                source: "disk full".into(),
            },
        ];
        for error in &errors {
            let expected = match error {
                VerifyError::Setup(_)
                | VerifyError::UnknownEndpoint { .. }
                | VerifyError::BadUrl(_)
                | VerifyError::CaFile { .. }
                | VerifyError::RequestHeader(_) => 2,
                VerifyError::Junit { .. } => 1,
            };
            assert_eq!(error.exit_status().code(), expected, "{error}");
        }
    }
}
