//! `park`: park and unpark the environment's compute; show its live state.

use clap::{Parser, Subcommand};
use infra_core::cli::{emit, generate, report_error, GlobalArgs};
use infra_core::exit::{ExitStatus, EXIT_CODES_HELP};
use park::observe::{observe, Clients};
use park::status::StatusReport;
use std::process::ExitCode;

/// Park and unpark the environment's non-essential compute, and show its live state.
#[derive(Debug, Parser)]
#[command(name = "park", version, after_help = EXIT_CODES_HELP, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show every service, scalable target and Aurora cluster of the environment: what the
    /// environment file expects beside what is live.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(status) = generate::<Cli>(&cli.global.generate) {
        return status.into();
    }
    cli.global.init_logging();
    let Some(command) = cli.command else {
        eprintln!(
            "error: a subcommand is required\n\n{}",
            <Cli as clap::CommandFactory>::command().render_help()
        );
        return ExitStatus::InvalidInput.into();
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report_error(&e, ExitStatus::Failure).into(),
    };
    runtime.block_on(run(&cli.global, command)).into()
}

async fn run(global: &GlobalArgs, command: Command) -> ExitStatus {
    let env = match global.environment() {
        Ok(env) => env,
        Err(e) => return report_error(&e, e.exit_status()),
    };
    let (config, caller) = match global.aws(&env).await {
        Ok(pair) => pair,
        Err(e) => return report_error(&e, e.exit_status()),
    };
    match command {
        Command::Status => {
            let clients = Clients::new(&config);
            let live = match observe(&clients, &env).await {
                Ok(live) => live,
                Err(e) => return report_error(&e, ExitStatus::Failure),
            };
            let report = StatusReport::new(&env, live, caller);
            emit(&report, global.format(), ExitStatus::Success)
        }
    }
}
