//! `park`: park and unpark the environment's compute; show its state; print its IAM policy.

use clap::{Args, Parser, Subcommand};
use infra_core::cli::{emit, parse_duration, report_error, run_command, GlobalArgs};
use infra_core::exit::{ExitStatus, EXIT_CODES_HELP};
use infra_core::retry::Deadline;
use park::engine::{self, RunOptions};
use park::observe::{observe, Clients};
use park::plan::{plan, Direction, PlanOptions};
use park::report::RunReport;
use park::status::StatusReport;
use state_lock::LockInfo;
use std::process::ExitCode;
use std::time::Duration;

/// Park and unpark the environment's non-essential compute, reversibly: every service's
/// desired count, scalable-target range and exact suspension flags are recorded as a tag on
/// the resource before anything changes, and restored from it. Never stops or deletes
/// anything; Aurora is only scaled (policy `scale-to-zero`) or checked (`keep`).
#[derive(Debug, Parser)]
#[command(name = "park", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Park the environment: record, then scale services (and scale-to-zero Aurora) down.
    /// With --dry-run, exit 3 when there is something to park.
    Down(RunArgs),
    /// Unpark the environment: Aurora first, then every service back to its record.
    /// With --dry-run, exit 3 when there is something to unpark.
    Up(RunArgs),
    /// Per resource: parked, unparked, partly parked or drifted, with the record's age.
    Status {
        /// Exit 3 unless the environment is cleanly parked or cleanly unparked.
        #[arg(long)]
        check: bool,
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
}

fn main() -> ExitCode {
    let Cli { global, command } = Cli::parse();
    run_command::<Cli, _, _, _>(&global, command, |command| run(&global, command)).into()
}

async fn run(global: &GlobalArgs, command: Command) -> ExitStatus {
    let env = match global.environment() {
        Ok(env) => env,
        Err(e) => return report_error(&e, e.exit_status()),
    };
    if let Command::IamPolicy = command {
        let lock = match state_lock::backend::read(&env) {
            Ok(state_lock::Backend::S3(backend)) => Some(backend),
            Ok(_) => None,
            Err(e) => return report_error(&e, ExitStatus::InvalidInput),
        };
        let policy = park::iam::policy(&env, lock.as_ref());
        println!(
            "{}",
            serde_json::to_string_pretty(&policy).unwrap_or_default()
        );
        return ExitStatus::Success;
    }
    // down/up: every AWS call of the run is retried until the run's deadline, counted
    // from here; status and unlock have none (each call is bounded by its timeout).
    let deadline = match &command {
        Command::Down(args) | Command::Up(args) => Deadline::after(args.deadline),
        _ => Deadline::none(),
    };
    let (config, caller) = match global.aws_until(&env, deadline).await {
        Ok(pair) => pair,
        Err(e) => return report_error(&e, e.exit_status()),
    };
    let clients = Clients::new(&config, deadline);
    match command {
        Command::IamPolicy => ExitStatus::Success,
        Command::Status { check } => {
            let live = match observe(&clients, &env).await {
                Ok(live) => live,
                Err(e) => return report_error(&e, ExitStatus::Failure),
            };
            let report = StatusReport::new(&env, live, caller);
            let status = if check {
                report.check_status()
            } else {
                ExitStatus::Success
            };
            emit(&report, global.format(), status)
        }
        Command::Unlock { id } => {
            let lock = match park::lock::environment_lock(&config, &env) {
                Ok(lock) => lock,
                Err(e) => return report_error(&e, ExitStatus::InvalidInput),
            };
            match lock.force_unlock(&id).await {
                Ok(removed) => {
                    println!(
                        "removed the environment lock {} held by {}",
                        lock.backend().lock_path(),
                        removed.describe()
                    );
                    ExitStatus::Success
                }
                Err(e) => report_error(&e, e.exit_status()),
            }
        }
        Command::Down(args) => {
            park_run(
                env,
                clients,
                config,
                Direction::Down,
                args,
                deadline,
                global,
            )
            .await
        }
        Command::Up(args) => {
            park_run(env, clients, config, Direction::Up, args, deadline, global).await
        }
    }
}

/// `park down` / `park up`: under the environment lock (unless `--dry-run` or
/// `--no-lock`), observe, plan, run, report; the lock is released on every way out
/// (done, failed, deadline, SIGINT/SIGTERM, a panic).
async fn park_run(
    env: infra_core::Environment,
    clients: Clients,
    config: aws_config::SdkConfig,
    direction: Direction,
    args: RunArgs,
    deadline: Deadline,
    global: &GlobalArgs,
) -> ExitStatus {
    let stop = infra_core::cli::stop_on_signals(
        format!(
            "no new step starts, steps in flight get {}s, then the report and the lock release",
            engine::STOP_GRACE.as_secs()
        ),
        "a step in flight may or may not have taken effect and the environment lock may remain (the next run says so; `park unlock ID` releases it)".into(),
    );
    let lock = if args.dry_run {
        None
    } else if args.no_lock {
        tracing::warn!("--no-lock: running without the environment lock; another park run or Terraform may change the environment at the same time");
        None
    } else {
        match park::lock::environment_lock(&config, &env) {
            Ok(lock) => Some(lock),
            Err(e) => return report_error(&e, ExitStatus::InvalidInput),
        }
    };
    let held = match &lock {
        None => None,
        Some(lock) => {
            let info = LockInfo::new(
                park::lock::operation(direction),
                env!("CARGO_PKG_VERSION"),
                lock.backend(),
            );
            let timeout = args.lock_timeout.unwrap_or(env.terraform.lock_timeout);
            tokio::select! {
                taken = lock.acquire(&info, timeout) => {
                    if let Err(e) = taken {
                        return report_error(&e, e.exit_status());
                    }
                }
                () = stop.wait() => {
                    // A write that went through as the signal came is ours to remove; one
                    // that did not is someone else's and left alone.
                    let _ = lock.release(&info).await;
                    eprintln!("error: interrupted while waiting for the environment lock; nothing was changed");
                    return ExitStatus::Failure;
                }
            }
            Some(info)
        }
    };
    let format = global.format();
    // In its own task, so even a panic comes back here and the lock is released.
    let work = tokio::spawn(locked_run(
        env, clients, direction, args, deadline, format, stop,
    ));
    let mut status = match work.await {
        Ok(status) => status,
        Err(e) => report_error(&e, ExitStatus::Failure),
    };
    if let (Some(lock), Some(info)) = (&lock, &held) {
        if let Err(e) = lock.release(info).await {
            status = status.worst(report_error(&e, ExitStatus::Failure));
        }
    }
    status
}

async fn locked_run(
    env: infra_core::Environment,
    clients: Clients,
    direction: Direction,
    args: RunArgs,
    deadline: Deadline,
    format: infra_core::output::OutputFormat,
    stop: engine::Stop,
) -> ExitStatus {
    let live = match observe(&clients, &env).await {
        Ok(live) => live,
        Err(e) => return report_error(&e, ExitStatus::Failure),
    };
    let options = PlanOptions {
        force: args.force,
        allow_deploying: args.allow_deploying,
        from_model: args.from_model,
        no_wait: args.no_wait,
    };
    let plan = plan(direction, &env, &live, options);
    let outcomes = if args.dry_run {
        engine::dry_run(&plan)
    } else {
        let progress = infra_core::output::progress(plan.items.len() as u64, "resources");
        let run_options = RunOptions {
            concurrency: usize::from(args.concurrency),
            deadline,
            poll_interval: args.poll_interval,
        };
        let outcomes = engine::run(&clients, &plan, run_options, &progress, &stop).await;
        progress.finish_and_clear();
        outcomes
    };
    for outcome in &outcomes {
        for warning in &outcome.item.warnings {
            tracing::warn!("{warning}");
        }
    }
    let report = RunReport::new(&env.name, direction, args.dry_run, outcomes);
    let status = report.exit_status();
    emit(&report, format, status)
}
