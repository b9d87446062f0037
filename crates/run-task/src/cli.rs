//! `run-task`: run a one-off ECS task of the environment once and follow it to the end.
//!
//! The `run-task` binary's whole command line, behind the `cli` feature: `run-task` (its
//! `main.rs`) and the multi-call `infra-toolkit` both call [`main`] with their arguments.

// Prints on purpose: this is a binary, the CLI layer.
#![allow(clippy::disallowed_macros)]

use crate::command::{iam_policy, run, Request};
use crate::Line;
use clap::{Args, Parser, Subcommand};
use infra_cli::{emit, emit_text, report_error, run_command, GlobalArgs};
use infra_core::exit::{ExitStatus, EXIT_CODES_HELP};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Run a one-off ECS task declared in the environment file (a `task` block: the deployer)
/// once, stream its container's logs, and exit 0 only when its container exited 0. Refuses
/// (exit 4, nothing started) when the revision does not run the pin, a needed service is
/// parked, or a park run holds the environment lock. SIGINT/SIGTERM or the timeout stop
/// the task (StopTask) before exiting 1.
#[derive(Debug, Parser)]
#[command(name = "run-task", version = infra_core::build::VERSION_LINE, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the task NAME once and follow it to the end.
    Run(RunArgs),
    /// Print the least-privilege IAM policy for the environment's tasks (JSON).
    IamPolicy,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The `task` block to run.
    name: String,
    /// The container's command instead of the task definition's, as a JSON array
    /// (`'["prefect","deploy","--all"]'`), or everything after `--`.
    #[arg(long, value_name = "JSON", value_parser = parse_command, conflicts_with = "args")]
    command: Option<Vec<String>>,
    /// The container's command, after `--` (`run-task run deployer -- prefect deploy --all`).
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
    /// An extra environment variable for the container (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// How long the task may run, instead of the block's `timeout`.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Option<Duration>,
    /// Write a JUnit XML report here (one test case: the task).
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Send no notification, whatever the environment file's `notify` block says.
    #[arg(long)]
    no_notify: bool,
    /// How often the task's state is read (DescribeTasks) and its logs polled.
    #[arg(long, default_value = "2s", value_name = "DURATION", value_parser = parse_poll)]
    poll: Duration,
}

/// Runs `run-task` with these arguments (the first is the program's name); returns its
/// exit code (the README's table).
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let Cli { global, command } = Cli::parse_from(args);
    run_command::<Cli, _, _, _>(&global, command, |command| async {
        let setup = global.setup();
        match command {
            Command::IamPolicy => match iam_policy(&setup) {
                Ok(policy) => emit_text(
                    &format!(
                        "{}\n",
                        serde_json::to_string_pretty(&policy).unwrap_or_default()
                    ),
                    ExitStatus::Success,
                ),
                Err(e) => report_error(&e, e.exit_status()),
            },
            Command::Run(args) => match run(&setup, request(args), &infra_cli::caller()).await {
                Ok(report) => emit(&report, global.format(), report.exit_status()),
                Err(e) => report_error(&e, e.exit_status()),
            },
        }
    })
    .into()
}

/// The arguments as a library request; states and log lines go to stderr.
fn request(args: RunArgs) -> Request {
    let command = args
        .command
        .or((!args.args.is_empty()).then_some(args.args));
    Request {
        task: args.name,
        command,
        env: args.env,
        timeout: args.timeout,
        junit: args.junit,
        no_notify: args.no_notify,
        poll: args.poll,
        sink: Arc::new(|line| match line {
            Line::Status(s) => eprintln!("run-task: {s}"),
            Line::Log(s) => eprintln!("  | {s}"),
        }),
    }
}

fn parse_command(text: &str) -> Result<Vec<String>, String> {
    match serde_json::from_str::<Vec<String>>(text) {
        Ok(argv) if !argv.is_empty() => Ok(argv),
        Ok(_) => Err("the command is empty".into()),
        Err(e) => Err(format!(
            "not a JSON array of strings such as '[\"prefect\",\"deploy\",\"--all\"]': {e}"
        )),
    }
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v))
            if !k.is_empty()
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !k.as_bytes()[0].is_ascii_digit() =>
        {
            Ok((k.to_owned(), v.to_owned()))
        }
        _ => Err(format!(
            "`{text}` is not KEY=VALUE with KEY made of letters, digits and `_`"
        )),
    }
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let d = infra_cli::parse_duration(text)?;
    if d.is_zero() || d > task_limit() {
        return Err(format!("`{text}` must be longer than zero and at most 24h"));
    }
    Ok(d)
}

fn task_limit() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn parse_poll(text: &str) -> Result<Duration, String> {
    let d = infra_cli::parse_duration(text)?;
    if !(Duration::from_millis(100)..=Duration::from_secs(60)).contains(&d) {
        return Err(format!("`{text}` must be between 100ms and 60s"));
    }
    Ok(d)
}

/// The command line's definition: what `--help`, the man page and the completions show,
/// and what the property tests walk (`infra-toolkit`'s `cli_values` test).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
