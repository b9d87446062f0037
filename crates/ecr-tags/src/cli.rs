//! `ecr-tags`: the newest immutable tag of an image family; pins; byte-exact bumps.
//!
//! The `ecr-tags` binary's whole command line, behind the `cli` feature: `ecr-tags` (its
//! `main.rs`) and the multi-call `infra-toolkit` both call [`main`] with their arguments
//! (the first being the name the tool answers to, as clap's usage shows it).

// Prints on purpose: this is a binary, the CLI layer, or test/benchmark support.
#![allow(clippy::disallowed_macros)]

use crate::bump::BumpOptions;
use crate::command::{run, Family, LiveWait, Outcome, Request};
use crate::git::{BranchChoice, CommitOptions};
use clap::{Args, Parser, Subcommand};
use infra_cli::{emit, parse_duration, report_error, run_command, GlobalArgs};
use infra_core::exit::{ExitStatus, EXIT_CODES_HELP};
use std::path::PathBuf;
use std::process::ExitCode;

/// Find the newest immutable tag of an image family in ECR, list the pinned images of the
/// environment's Terraform files, and bump a pin byte-exactly (only the tag changes).
#[derive(Debug, Parser)]
#[command(name = "ecr-tags", version = infra_core::build::VERSION_LINE, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The newest tag of a family: an `image` of the environment file, or --repository
    /// with --pattern.
    Latest {
        /// The image (its `image` block name, the Terraform local).
        #[arg(required_unless_present_all = ["repository", "pattern"], conflicts_with_all = ["repository", "pattern"])]
        image: Option<String>,
        /// ECR repository (with --pattern instead of IMAGE).
        #[arg(long, requires = "pattern")]
        repository: Option<String>,
        /// Tag pattern, anchored (with --repository).
        #[arg(long, requires = "repository")]
        pattern: Option<String>,
        /// Accept a repository whose tags can be overwritten.
        #[arg(long)]
        allow_mutable: bool,
    },
    /// Every pinned image local: file:line, current tag, digest, newest tag, how far behind.
    /// Exit 2 when a pin cannot be read, 1 when the newest image cannot be told.
    Pins {
        /// Exit 3 when any pin is behind, missing from ECR, has a digest that is not its
        /// tag's, or (with --live) is not what ECS runs.
        #[arg(long)]
        check: bool,
        /// Compare each pin with the image of its `task_definition` family's latest ACTIVE
        /// revision and of its `services`' running tasks: live, not-deployed, drifted.
        #[arg(long)]
        live: bool,
        /// With --live: while a pin is not-deployed (a rollout under way) and nothing is
        /// drifted, look again until this long has passed (e.g. 10m).
        #[arg(long, value_parser = parse_duration, value_name = "DURATION", requires = "live")]
        wait: Option<std::time::Duration>,
        /// With --wait: the pause between looks.
        #[arg(long, default_value = "15s", value_parser = parse_duration, value_name = "DURATION", hide = true)]
        poll: std::time::Duration,
        /// With --live --check: send no notification of pins production does not run,
        /// whatever the environment file's `notify` block says.
        #[arg(long)]
        no_notify: bool,
    },
    /// Rewrite a pin to the newest tag (or --to) and print the diff. With --dry-run, write
    /// nothing and exit 3 when the pin would change.
    Bump(BumpArgs),
}

#[derive(Debug, Args)]
struct BumpArgs {
    /// The image (its `image` block name, the Terraform local).
    image: String,
    /// This tag instead of the newest.
    #[arg(long)]
    to: Option<String>,
    /// Print the diff; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Allow a tag pushed before the current pin.
    #[arg(long)]
    allow_downgrade: bool,
    /// Accept a repository whose tags can be overwritten.
    #[arg(long)]
    allow_mutable: bool,
    /// Pin by tag and digest (`TAG@sha256:…`), as ECR reports it for the new tag. A pin
    /// that already has a digest keeps the form without this flag.
    #[arg(long)]
    with_digest: bool,
    /// Require the tag's `sha` to be a commit reachable from --git-ref in this repository.
    #[arg(long, value_name = "PATH")]
    git_repo: Option<PathBuf>,
    /// The ref the commit must be reachable from.
    #[arg(
        long,
        value_name = "REF",
        default_value = "main",
        requires = "git_repo"
    )]
    git_ref: String,
    /// Commit the change (only the pinned file) with a message saying what moved. Refused
    /// (exit 4, nothing written) when the file has other uncommitted changes.
    #[arg(long, conflicts_with = "dry_run")]
    commit: bool,
    /// Commit on a new branch (default name `bump/IMAGE/SHA`) and switch to it; refused
    /// (exit 4) when it exists with a different commit.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "", requires = "commit")]
    branch: Option<String>,
    /// Push the branch to REMOTE (default `origin`), never forced.
    #[arg(long, value_name = "REMOTE", num_args = 0..=1, default_missing_value = "origin", requires = "commit")]
    push: Option<String>,
}

/// Runs `ecr-tags` with these arguments (the first is the program's name); returns its exit
/// code (the README's table).
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let Cli { global, command } = Cli::parse_from(args);
    run_command::<Cli, _, _, _>(&global, command, |command| async {
        let (format, setup) = (global.format(), global.setup());
        match run(&setup, request(command), &infra_cli::caller()).await {
            Ok(Outcome::Latest(report)) => emit(&report, format, ExitStatus::Success),
            Ok(Outcome::Pins(report)) => emit(&report, format, report.exit_status()),
            Ok(Outcome::Bump(report)) => emit(&report, format, report.exit_status()),
            Err(e) => report_error(&e, e.exit_status()),
        }
    })
    .into()
}

/// The arguments as a library request.
fn request(command: Command) -> Request {
    match command {
        Command::Latest {
            image,
            repository,
            pattern,
            allow_mutable,
        } => Request::Latest {
            // clap requires IMAGE or both --repository and --pattern.
            family: match (image, repository, pattern) {
                (Some(name), _, _) => Family::Image(name),
                (None, repository, pattern) => Family::Pattern {
                    repository: repository.unwrap_or_default(),
                    pattern: pattern.unwrap_or_default(),
                },
            },
            allow_mutable,
        },
        Command::Pins {
            check,
            live,
            wait,
            poll,
            no_notify,
        } => Request::Pins {
            check,
            live,
            wait: wait.map(|timeout| LiveWait { timeout, poll }),
            no_notify,
        },
        Command::Bump(args) => Request::Bump {
            image: args.image,
            options: BumpOptions {
                to: args.to,
                allow_downgrade: args.allow_downgrade,
                allow_mutable: args.allow_mutable,
                with_digest: args.with_digest,
                git: args.git_repo.map(|p| (p, args.git_ref)),
                commit: args.commit.then(|| CommitOptions {
                    branch: match args.branch.as_deref() {
                        None => BranchChoice::Current,
                        Some("") => BranchChoice::Default,
                        Some(name) => BranchChoice::Named(name.to_owned()),
                    },
                    push: args.push,
                }),
            },
            dry_run: args.dry_run,
        },
    }
}

/// The command line's definition: what `--help`, the man page and the completions show,
/// and what the property tests walk (`infra-toolkit`'s `cli_values` test).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
