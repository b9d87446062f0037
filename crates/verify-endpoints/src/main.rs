//! `verify-endpoints`: Smoke-check the environment's public endpoints behind CloudFront.

use clap::Parser;
use infra_core::cli::{generate, not_built_yet, GlobalArgs};
use infra_core::exit::EXIT_CODES_HELP;
use std::process::ExitCode;

/// Smoke-check the environment's public endpoints behind CloudFront.
#[derive(Debug, Parser)]
#[command(name = "verify-endpoints", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(status) = generate::<Cli>(&cli.global.generate) {
        return status.into();
    }
    not_built_yet(&cli.global, "verify-endpoints").into()
}
