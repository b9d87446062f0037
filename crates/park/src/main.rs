//! `park`: park and unpark the environment's compute; show its state; print its IAM policy.

use clap::{Args, Parser, Subcommand};
use infra_core::cli::{emit, parse_duration, report_error, run_command, GlobalArgs};
use infra_core::exit::{ExitStatus, EXIT_CODES_HELP};
use park::engine::{self, RunOptions};
use park::observe::{observe, Clients};
use park::plan::{plan, Direction, PlanOptions};
use park::report::RunReport;
use park::status::StatusReport;
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
    /// Print the least-privilege IAM policy (JSON) this tool needs for the environment.
    IamPolicy,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Print the plan and stop; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Resources processed at once.
    #[arg(long, default_value_t = 16, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// The whole run must finish within this; unfinished resources are reported failed.
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
        let policy = park::iam::policy(&env);
        println!(
            "{}",
            serde_json::to_string_pretty(&policy).unwrap_or_default()
        );
        return ExitStatus::Success;
    }
    let (config, caller) = match global.aws(&env).await {
        Ok(pair) => pair,
        Err(e) => return report_error(&e, e.exit_status()),
    };
    let clients = Clients::new(&config);
    let live = match observe(&clients, &env).await {
        Ok(live) => live,
        Err(e) => return report_error(&e, ExitStatus::Failure),
    };
    match command {
        Command::IamPolicy => ExitStatus::Success,
        Command::Status { check } => {
            let report = StatusReport::new(&env, live, caller);
            let status = if check {
                report.check_status()
            } else {
                ExitStatus::Success
            };
            emit(&report, global.format(), status)
        }
        Command::Down(args) => park_run(&env, &clients, &live, Direction::Down, args, global).await,
        Command::Up(args) => park_run(&env, &clients, &live, Direction::Up, args, global).await,
    }
}

async fn park_run(
    env: &infra_core::Environment,
    clients: &Clients,
    live: &park::observe::LiveEnvironment,
    direction: Direction,
    args: RunArgs,
    global: &GlobalArgs,
) -> ExitStatus {
    let options = PlanOptions {
        force: args.force,
        allow_deploying: args.allow_deploying,
        from_model: args.from_model,
        no_wait: args.no_wait,
    };
    let plan = plan(direction, env, live, options);
    let outcomes = if args.dry_run {
        engine::dry_run(&plan)
    } else {
        let progress = infra_core::output::progress(plan.items.len() as u64, "resources");
        let run_options = RunOptions {
            concurrency: usize::from(args.concurrency),
            deadline: args.deadline,
            poll_interval: args.poll_interval,
        };
        let outcomes = engine::run(clients, &plan, run_options, &progress).await;
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
    emit(&report, global.format(), status)
}
