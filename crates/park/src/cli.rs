//! `park`: park and unpark the environment's compute; show its state; print its IAM policy.
//!
//! The `park` binary's whole command line, behind the `cli` feature: `park` (its
//! `main.rs`) and the multi-call `infra-toolkit` both call [`main`] with their arguments
//! (the first being the name the tool answers to, as clap's usage shows it).

// Prints on purpose: this is a binary, the CLI layer, or test/benchmark support.
#![allow(clippy::disallowed_macros)]

use crate::clock::{Clock, RETIRED_TEST_NOW_ENV};
use crate::command::{run, HoldRequest, Outcome, Request, RunRequest};
use crate::plan::{Direction, PlanOptions};
use clap::{Args, Parser, Subcommand};
use infra_cli::{emit, emit_text, parse_duration, report_error, run_command, GlobalArgs};
use infra_core::exit::{ExitStatus, EXIT_CODES_HELP};
use infra_core::output::OutputFormat;
use std::process::ExitCode;
use std::time::Duration;

/// Park and unpark the environment's non-essential compute, reversibly: every service's
/// desired count, scalable-target range and exact suspension flags are recorded as a tag on
/// the resource before anything changes, and restored from it. Never stops or deletes
/// anything; Aurora is only scaled (policy `scale-to-zero`) or checked (`keep`).
#[derive(Debug, Parser)]
#[command(name = "park", version = infra_core::build::VERSION_LINE, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Park the environment: record, then scale services (and scale-to-zero Aurora) down.
    /// With --dry-run, exit 3 when there is something to park. While a hold is in force,
    /// changes nothing and exits 0 (`held`); an expired hold is removed.
    Down {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        clock: ClockArgs,
        /// Park even while a hold is in force (with a warning).
        #[arg(long)]
        ignore_hold: bool,
    },
    /// Unpark the environment: Aurora first, then every service back to its record.
    /// With --dry-run, exit 3 when there is something to unpark.
    Up {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        clock: ClockArgs,
        /// Hold the environment awake until WHEN, written before unparking (the "working
        /// late" case); needs --reason. WHEN as for `park hold --until`.
        #[arg(long, value_name = "WHEN", requires = "reason")]
        hold_until: Option<String>,
        /// Why the hold (with --hold-until).
        #[arg(long, value_name = "TEXT", requires = "hold_until")]
        reason: Option<String>,
        /// Who holds (default: the caller's identity).
        #[arg(long, value_name = "NAME", requires = "hold_until")]
        by: Option<String>,
    },
    /// Keep the environment awake until WHEN: `park down` changes nothing (exit 0) until
    /// then. Written as tags on the environment's ECS clusters, under the environment lock.
    Hold {
        /// An RFC 3339 time (2026-12-03T23:00:00Z), a duration (3h), or a time of day
        /// with its zone (23:00Z, 23:00+01:00). At most the file's `max_hold` (7d) ahead.
        #[arg(long, value_name = "WHEN")]
        until: String,
        /// Why (at most 256 characters: letters, digits, spaces and `_ . : / = + - @`).
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Who holds (default: the caller's identity).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// How long to wait for the environment lock (default: terraform.lock_timeout).
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        lock_timeout: Option<Duration>,
        #[command(flatten)]
        clock: ClockArgs,
    },
    /// End the hold: the next `park down` parks.
    Release {
        /// How long to wait for the environment lock (default: terraform.lock_timeout).
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        lock_timeout: Option<Duration>,
        #[command(flatten)]
        clock: ClockArgs,
    },
    /// Per resource: parked, unparked, partly parked or drifted, with the record's age;
    /// with a schedule, what it expects now, the last change (who, when, scheduled or by
    /// hand) and whether the schedule or a person is in charge until the next transition.
    Status {
        /// Exit 3 unless the environment is cleanly parked or cleanly unparked (and, with
        /// a schedule, where it expects, held, or changed by hand since its last transition).
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        clock: ClockArgs,
    },
    /// Print the least-privilege IAM policy (JSON) this tool needs for the environment,
    /// the environment lock's actions included.
    IamPolicy,
    /// Release the environment lock left behind by a run that was killed (like
    /// `terraform force-unlock`): only when ID is the lock's ID; says what it removed.
    Unlock {
        /// The lock ID, as the refusal or Terraform's "Lock Info" shows it.
        id: String,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Print the plan and stop; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Resources processed at once.
    #[arg(long, default_value_t = 16, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// The whole run must finish within this (the lock wait included): AWS calls are
    /// retried on throttling and transient errors until then; unfinished resources are
    /// reported failed.
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    deadline: Duration,
    /// Act on resources changed while parked: park keeps the existing record; unpark
    /// restores the record over the change.
    #[arg(long)]
    force: bool,
    /// Park services in the middle of a deployment.
    #[arg(long)]
    allow_deploying: bool,
    /// Unpark services that have no record to the environment file's capacity.
    #[arg(long)]
    from_model: bool,
    /// Do not wait for services to become stable after unparking.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for the environment lock held by another run or by Terraform
    /// (default: the environment file's terraform.lock_timeout). Then exit 4, nothing changed.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    lock_timeout: Option<Duration>,
    /// Run without the environment lock (when the environment has no s3 backend to lock):
    /// nothing then stops another park run or Terraform from changing it at the same time.
    #[arg(long)]
    no_lock: bool,
    /// How often to poll while waiting.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION", hide = true)]
    poll_interval: Duration,
    /// Converge to what the environment file's `schedule` expects now (for an hourly CI
    /// schedule): act when the live state differs, unless a person parked or unparked by
    /// hand since the last transition (left until the next) or a hold keeps it awake. With
    /// nothing to do: exit 0, no lock, no writes, only the account guard and reads. The
    /// decision (on-schedule, act, caught-up, overridden, held, not-due, weekend,
    /// holiday) and the next park and unpark are reported.
    #[arg(long)]
    scheduled: bool,
    /// Send no notification for this run, whatever the environment file's `notify` block
    /// says.
    #[arg(long)]
    no_notify: bool,
}

/// The run's clock.
#[derive(Debug, Args)]
struct ClockArgs {
    /// Decide as if it were this time (RFC 3339 with its offset, 2026-07-06T06:10:00Z):
    /// the schedule, holds and the times recorded. To replay a day in a test or to ask what
    /// the schedule would do; the report says the clock was set.
    #[arg(long, value_name = "RFC3339", value_parser = crate::clock::parse_now)]
    now: Option<schedule::Timestamp>,
}

impl ClockArgs {
    fn clock(&self) -> Clock {
        self.now.map_or_else(Clock::system, Clock::at)
    }
}

/// Runs `park` with these arguments (the first is the program's name); returns its exit
/// code (the README's table).
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let Cli { global, command } = Cli::parse_from(args);
    run_command::<Cli, _, _, _>(&global, command, |command| async {
        let format = global.format();
        // The clock is never taken from an inherited variable: a value copied into a CI
        // context would freeze production's schedule.
        if std::env::var_os(RETIRED_TEST_NOW_ENV).is_some_and(|v| !v.is_empty()) {
            tracing::warn!(
                "{RETIRED_TEST_NOW_ENV} is set and ignored: the real time is used (`--now` sets the clock of one run)"
            );
        }
        let (request, clock) = request(command);
        let setups = match global.setups() {
            Ok(setups) => setups,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitStatus::InvalidInput;
            }
        };
        if setups.len() > 1 {
            if matches!(request, Request::IamPolicy | Request::Unlock { .. }) {
                eprintln!("error: iam-policy and unlock act on one environment: give --env-file once");
                return ExitStatus::InvalidInput;
            }
            return match crate::multi::run_all(setups, request, clock, &infra_cli::caller()).await {
                Ok(report) => emit(&report, format, report.exit_status()),
                Err(e) => report_error(&e, ExitStatus::InvalidInput),
            };
        }
        let setup = setups.into_iter().next().unwrap_or_else(|| global.setup());
        let finished = run(&setup, request, clock, &infra_cli::caller()).await;
        let status = match finished.result {
            Ok(outcome) => render(outcome, format),
            Err(e) => report_error(&e, e.exit_status()),
        };
        match finished.release {
            Some(e) => status.worst(report_error(&e, e.exit_status())),
            None => status,
        }
    })
    .into()
}

/// Prints the outcome on stdout; returns its exit status.
fn render(outcome: Outcome, format: OutputFormat) -> ExitStatus {
    let status = outcome.exit_status();
    match outcome {
        Outcome::Run(report) => emit(&report, format, status),
        Outcome::Status(report, _) => emit(&report, format, status),
        Outcome::Policy(policy) => emit_text(
            &(serde_json::to_string_pretty(&policy).unwrap_or_default() + "\n"),
            status,
        ),
        Outcome::Hold(report) => emit(&report, format, status),
        Outcome::Unlocked { lock, holder } => emit_text(
            &format!("removed the environment lock {lock} held by {holder}\n"),
            status,
        ),
    }
}

/// The arguments as a library request, and the run's clock.
fn request(command: Command) -> (Request, Clock) {
    let run = |args: RunArgs, ignore_hold, hold| RunRequest {
        dry_run: args.dry_run,
        concurrency: usize::from(args.concurrency),
        deadline: args.deadline,
        plan: PlanOptions {
            force: args.force,
            allow_deploying: args.allow_deploying,
            from_model: args.from_model,
            no_wait: args.no_wait,
        },
        lock_timeout: args.lock_timeout,
        no_lock: args.no_lock,
        poll_interval: args.poll_interval,
        ignore_hold,
        hold,
        scheduled: args.scheduled,
        no_notify: args.no_notify,
    };
    match command {
        Command::Down {
            run: args,
            clock,
            ignore_hold,
        } => (
            Request::Run(Direction::Down, run(args, ignore_hold, None)),
            clock.clock(),
        ),
        Command::Up {
            run: args,
            clock,
            hold_until,
            reason,
            by,
        } => {
            let hold = hold_until.map(|until| HoldRequest {
                until,
                reason: reason.unwrap_or_default(),
                by,
                lock_timeout: args.lock_timeout,
            });
            (
                Request::Run(Direction::Up, run(args, false, hold)),
                clock.clock(),
            )
        }
        Command::Hold {
            until,
            reason,
            by,
            lock_timeout,
            clock,
        } => (
            Request::Hold(HoldRequest {
                until,
                reason,
                by,
                lock_timeout,
            }),
            clock.clock(),
        ),
        Command::Release {
            lock_timeout,
            clock,
        } => (Request::Release { lock_timeout }, clock.clock()),
        Command::Status { check, clock } => (Request::Status { check }, clock.clock()),
        Command::IamPolicy => (Request::IamPolicy, Clock::system()),
        Command::Unlock { id } => (Request::Unlock { id }, Clock::system()),
    }
}

/// The command line's definition: what `--help`, the man page and the completions show,
/// and what the property tests walk (`infra-toolkit`'s `cli_values` test).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod free_form_values {
    /// `park hold --until` is parsed after clap (relative to the run's clock): any text is
    /// a time or a refusal, never a panic.
    #[test]
    fn every_until_is_a_time_or_refused() {
        let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_000_000);
        infra_test_support::cli_values::never_panics(2_000, |text| {
            crate::hold::parse_when(text, now)
        });
    }
}
