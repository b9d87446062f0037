//! `verify-endpoints`: smoke-check the environment's public endpoints.

use clap::{Args, Parser};
use infra_core::cli::{emit, parse_duration, report_error, run_command, GlobalArgs};
use infra_core::environment::Endpoint;
use infra_core::exit::{ExitStatus, EXIT_CODES_HELP};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use verify_endpoints::report::{junit, RunReport};
use verify_endpoints::runner::{run, RunOptions};

/// Smoke-check the environment's public endpoints: strict status and body expectations,
/// retries on transient failures only, one overall deadline, JUnit for CI. Exit 0 when all
/// are healthy, 1 when any failed, 2 on bad input.
#[derive(Debug, Parser)]
#[command(name = "verify-endpoints", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(flatten)]
    checks: CheckArgs,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Check only these endpoints of the environment file.
    #[arg(long, value_name = "NAME", num_args = 1..)]
    only: Vec<String>,
    /// Also check these URLs (expecting status 200).
    #[arg(long, value_name = "URL", num_args = 1..)]
    url: Vec<String>,
    /// Everything must be healthy within this.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    deadline: Duration,
    /// One attempt may take at most this.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    timeout: Duration,
    /// Endpoints checked at once.
    #[arg(long, default_value_t = 32, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Write a JUnit XML report here (one test case per endpoint).
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Connect to each endpoint's CloudFront distribution domain (from the preflight) while
    /// sending SNI and Host for the endpoint's own host: tells a DNS problem from a
    /// distribution problem.
    #[arg(long)]
    via_cloudfront: bool,
    /// Connect to ADDR for HOST:PORT instead of resolving it (like curl's --resolve).
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = parse_resolve)]
    resolve: Vec<(String, u16, std::net::IpAddr)>,
    /// Warn when a server certificate expires within this many days.
    #[arg(long, default_value_t = 21, value_name = "DAYS")]
    cert_warn_days: i64,
    /// Fail when a server certificate expires within this many days.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    cert_fail_days: i64,
    /// Extra CA certificates (PEM) to trust besides the system's.
    #[arg(long, value_name = "PATH")]
    ca_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let Cli { global, checks } = Cli::parse();
    run_command::<Cli, _, _, _>(&global, Some(checks), |checks| verify(&global, checks)).into()
}

async fn verify(global: &GlobalArgs, args: CheckArgs) -> ExitStatus {
    let bad =
        |message: String| report_error(&std::io::Error::other(message), ExitStatus::InvalidInput);
    let mut endpoints: Vec<Endpoint> = Vec::new();
    let mut environment = None;
    if global.env_file.is_some() || args.url.is_empty() {
        let env = match global.environment() {
            Ok(env) => env,
            Err(e) => return report_error(&e, e.exit_status()),
        };
        environment = Some(env.clone());
        for name in &args.only {
            if env.endpoint(name).is_none() {
                let known: Vec<&str> = env.endpoints.iter().map(|e| e.name.as_str()).collect();
                return bad(format!(
                    "--only {name}: no such endpoint in {} (known: {})",
                    env.file.display(),
                    known.join(", ")
                ));
            }
        }
        endpoints.extend(
            env.endpoints
                .into_iter()
                .filter(|e| args.only.is_empty() || args.only.contains(&e.name)),
        );
    }
    for (i, raw) in args.url.iter().enumerate() {
        match url::Url::parse(raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => endpoints
                .push(Endpoint {
                    name: format!("url-{}", i + 1),
                    url: u,
                    cloudfront_distribution: None,
                    expect_status: 200,
                    expect_json: None,
                    expect_body: None,
                    expect_regex: None,
                    expect_content_type: None,
                    expect_headers: Default::default(),
                    request_header_env: Default::default(),
                    latency_warn_ms: None,
                    latency_fail_ms: None,
                    follow_redirects: false,
                }),
            _ => {
                return bad(format!(
                    "--url {raw}: not an http:// or https:// URL with a host"
                ))
            }
        }
    }
    let extra_ca = match &args.ca_file {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => return bad(format!("--ca-file {}: {e}", path.display())),
        },
        None => Vec::new(),
    };
    // Request headers from the environment, before any AWS call or request: a missing
    // variable is bad input (exit 2), named but never shown.
    let mut request_headers = std::collections::HashMap::new();
    for endpoint in &endpoints {
        match verify_endpoints::http::request_headers(endpoint, |var| std::env::var(var).ok()) {
            Ok(headers) => {
                request_headers.insert(endpoint.name.clone(), headers);
            }
            Err(e) => return bad(e),
        }
    }
    let tls = match verify_endpoints::http::tls_config(&extra_ca) {
        Ok(tls) => tls,
        Err(e) => return bad(format!("--ca-file: {e}")),
    };
    // The preflight needs AWS (and so the account guard) only when a checked endpoint is
    // behind a distribution. Its calls are retried until the run's deadline.
    let deadline = infra_core::retry::Deadline::after(args.deadline);
    let cloudfront = match (
        &environment,
        endpoints
            .iter()
            .any(|e| e.cloudfront_distribution.is_some()),
    ) {
        (Some(env), true) => match global.aws_until(env, deadline).await {
            Ok((config, _)) => Some(infra_core::aws_client!(
                aws_sdk_cloudfront,
                &config,
                deadline,
                "verify-endpoints-cloudfront"
            )),
            Err(e) => return report_error(&e, e.exit_status()),
        },
        _ => None,
    };
    let options = RunOptions {
        deadline: args.deadline,
        attempt_timeout: args.timeout,
        concurrency: usize::from(args.concurrency),
        initial_backoff: Duration::from_millis(250),
        max_backoff: Duration::from_secs(4),
        tls,
        cloudfront,
        cert_warn_days: args.cert_warn_days,
        cert_fail_days: args.cert_fail_days,
        via_cloudfront: args.via_cloudfront,
        resolve: args.resolve.clone(),
        request_headers,
        stop: infra_core::cli::stop_on_signals(
            "unfinished checks are reported interrupted, then the report".into(),
            "no report was written".into(),
        ),
    };
    let results = run(endpoints, options).await;
    for warning in results.iter().flat_map(|r| &r.warnings) {
        tracing::warn!("{warning}");
    }
    let report = RunReport {
        healthy: results.iter().all(|r| r.passed),
        endpoints: results,
    };
    if let Some(path) = &args.junit {
        let written = junit(&report)
            .map_err(std::io::Error::other)
            .and_then(|xml| {
                infra_core::fs::write_atomic(path, xml.as_bytes()).map_err(std::io::Error::other)
            });
        if let Err(e) = written {
            return report_error(&e, ExitStatus::Failure);
        }
    }
    let status = if report.healthy {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    emit(&report, global.format(), status)
}

fn parse_resolve(text: &str) -> Result<(String, u16, std::net::IpAddr), String> {
    let mut parts = text.splitn(3, ':');
    let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("`{text}` is not HOST:PORT:ADDR"));
    };
    let port = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port"))?;
    let addr = addr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("`{addr}` is not an IP address"))?;
    Ok((host.to_owned(), port, addr))
}
