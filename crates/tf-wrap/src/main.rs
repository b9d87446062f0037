//! `tf-wrap`: Run the terraform-prod plan, approve and apply workflow with a verified plan bundle and safety gates.

use clap::Parser;
use infra_core::cli::{generate, not_built_yet, GlobalArgs};
use infra_core::exit::EXIT_CODES_HELP;
use std::process::ExitCode;

/// Run the terraform-prod plan, approve and apply workflow with a verified plan bundle and safety gates.
#[derive(Debug, Parser)]
#[command(name = "tf-wrap", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(status) = generate::<Cli>(&cli.global.generate) {
        return status.into();
    }
    not_built_yet(&cli.global, "tf-wrap").into()
}
