//! `verify-endpoints`: smoke-check the environment's public endpoints.
//!
//! The `verify-endpoints` binary's whole command line, behind the `cli` feature: `verify-endpoints` (its
//! `main.rs`) and the multi-call `infra-toolkit` both call [`main`] with their arguments
//! (the first being the name the tool answers to, as clap's usage shows it).

// Prints on purpose: this is a binary, the CLI layer, or test/benchmark support.
#![allow(clippy::disallowed_macros)]

use crate::command::{verify, Request};
use clap::{Args, Parser};
use infra_cli::{emit, parse_duration, report_error, run_command, GlobalArgs};
use infra_core::exit::EXIT_CODES_HELP;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Smoke-check the environment's public endpoints: strict status and body expectations,
/// retries on transient failures only, one overall deadline, JUnit for CI. Exit 0 when all
/// are healthy, 1 when any failed, 2 on bad input.
#[derive(Debug, Parser)]
#[command(name = "verify-endpoints", version = infra_core::build::VERSION_LINE, after_help = EXIT_CODES_HELP)]
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
    /// Send no notification of failed checks, whatever the environment file's `notify`
    /// block says.
    #[arg(long)]
    no_notify: bool,
}

/// Runs `verify-endpoints` with these arguments (the first is the program's name); returns its exit
/// code (the README's table).
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let Cli { global, checks } = Cli::parse_from(args);
    run_command::<Cli, _, _, _>(&global, Some(checks), |checks| async {
        let setup = global.setup();
        match verify(&setup, request(checks), &infra_cli::caller()).await {
            Ok(report) => emit(&report, global.format(), report.exit_status()),
            Err(e) => report_error(&e, e.exit_status()),
        }
    })
    .into()
}

/// The arguments as a library request.
fn request(args: CheckArgs) -> Request {
    Request {
        only: args.only,
        urls: args.url,
        deadline: args.deadline,
        attempt_timeout: args.timeout,
        concurrency: usize::from(args.concurrency),
        junit: args.junit,
        via_cloudfront: args.via_cloudfront,
        resolve: args.resolve,
        cert_warn_days: args.cert_warn_days,
        cert_fail_days: args.cert_fail_days,
        ca_file: args.ca_file,
        no_notify: args.no_notify,
    }
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

/// The command line's definition: what `--help`, the man page and the completions show,
/// and what the property tests walk (`infra-toolkit`'s `cli_values` test).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
