//! `ecr-tags`: Find the newest immutable tag of an image family in ECR and rewrite pinned image locals byte-exactly.

use clap::Parser;
use infra_core::cli::{generate, not_built_yet, GlobalArgs};
use infra_core::exit::EXIT_CODES_HELP;
use std::process::ExitCode;

/// Find the newest immutable tag of an image family in ECR and rewrite pinned image locals byte-exactly.
#[derive(Debug, Parser)]
#[command(name = "ecr-tags", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(status) = generate::<Cli>(&cli.global.generate) {
        return status.into();
    }
    not_built_yet(&cli.global, "ecr-tags").into()
}
