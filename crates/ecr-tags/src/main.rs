//! `ecr-tags`: the newest immutable tag of an image family; pins; byte-exact bumps.

use clap::{Args, Parser, Subcommand};
use ecr_tags::bump::{plan_bump, BumpOptions};
use ecr_tags::discover::{describe_repository, family_images, newest};
use ecr_tags::error::EcrTagsError;
use ecr_tags::pins::{first_error, pins};
use ecr_tags::report::{LatestReport, PinsReport};
use infra_core::cli::{emit, report_error, run_command, GlobalArgs};
use infra_core::environment::{Environment, PinnedImage, TagPattern};
use infra_core::exit::{ExitStatus, EXIT_CODES_HELP};
use infra_core::retry::Deadline;
use std::path::PathBuf;
use std::process::ExitCode;

/// Find the newest immutable tag of an image family in ECR, list the pinned images of the
/// environment's Terraform files, and bump a pin byte-exactly (only the tag changes).
#[derive(Debug, Parser)]
#[command(name = "ecr-tags", version, after_help = EXIT_CODES_HELP)]
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
        /// Exit 3 when any pin is behind or missing from ECR.
        #[arg(long)]
        check: bool,
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
}

fn main() -> ExitCode {
    let Cli { global, command } = Cli::parse();
    run_command::<Cli, _, _, _>(&global, command, |command| async {
        // SIGINT/SIGTERM: stop where it is. A pin file is written atomically, so it is
        // either untouched or wholly bumped; a finished command's result wins the race.
        let stop = infra_core::cli::stop_on_signals(
            "nothing further is done".into(),
            "a pin file is always either untouched or wholly rewritten".into(),
        );
        tokio::select! {
            biased;
            status = run(&global, command) => status,
            () = stop.wait() => {
                eprintln!("error: interrupted; every pin file is either untouched or wholly rewritten (written atomically): run `ecr-tags pins` to see which");
                ExitStatus::Failure
            }
        }
    })
    .into()
}

fn image<'a>(env: Option<&'a Environment>, name: &str) -> Result<&'a PinnedImage, EcrTagsError> {
    let env = env.ok_or_else(|| {
        EcrTagsError::Usage(format!(
            "image `{name}` needs an environment file (--env-file)"
        ))
    })?;
    env.image(name).ok_or_else(|| EcrTagsError::UnknownImage {
        name: name.to_owned(),
        known: env
            .images
            .iter()
            .map(|i| i.local.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

async fn run(global: &GlobalArgs, command: Command) -> ExitStatus {
    // `latest --repository R --pattern P` is a read-only query that needs no environment.
    if let Command::Latest {
        image: None,
        repository: Some(_),
        pattern: Some(_),
        ..
    } = &command
    {
        if global.env_file.is_none() {
            let config = match global.aws_without_environment().await {
                Ok(config) => config,
                Err(e) => return report_error(&e, e.exit_status()),
            };
            let ecr = infra_core::aws_client!(aws_sdk_ecr, &config, Deadline::none(), "ecr-tags");
            return match execute(None, &ecr, command, global).await {
                Ok(status) => status,
                Err(e) => report_error(&e, e.exit_status()),
            };
        }
    }
    let env = match global.environment() {
        Ok(env) => env,
        Err(e) => return report_error(&e, e.exit_status()),
    };
    // Check names before any AWS call, so a typo is exit 2 with nothing done.
    let named = match &command {
        Command::Latest {
            image: Some(name), ..
        } => Some(name.as_str()),
        Command::Bump(args) => Some(args.image.as_str()),
        _ => None,
    };
    if let Some(name) = named {
        if let Err(e) = image(Some(&env), name) {
            return report_error(&e, e.exit_status());
        }
    }
    let (config, _) = match global.aws(&env).await {
        Ok(pair) => pair,
        Err(e) => return report_error(&e, e.exit_status()),
    };
    let ecr = infra_core::aws_client!(aws_sdk_ecr, &config, Deadline::none(), "ecr-tags");
    match execute(Some(&env), &ecr, command, global).await {
        Ok(status) => status,
        Err(e) => report_error(&e, e.exit_status()),
    }
}

async fn execute(
    env: Option<&Environment>,
    ecr: &aws_sdk_ecr::Client,
    command: Command,
    global: &GlobalArgs,
) -> Result<ExitStatus, EcrTagsError> {
    match command {
        Command::Latest {
            image: name,
            repository,
            pattern,
            allow_mutable,
        } => {
            let (repository, pattern) = match (name, repository, pattern) {
                (Some(name), _, _) => {
                    let i = image(env, &name)?;
                    (i.repository.clone(), i.tag_pattern.clone())
                }
                (None, Some(r), Some(p)) => {
                    let pattern = TagPattern::new(&p).map_err(|e| {
                        EcrTagsError::Usage(format!(
                            "--pattern `{p}` is not a valid regular expression: {e}"
                        ))
                    })?;
                    (r, pattern)
                }
                _ => {
                    return Err(EcrTagsError::Usage(
                        "give IMAGE, or --repository with --pattern".into(),
                    ))
                }
            };
            let repo = describe_repository(ecr, &repository).await?;
            let images = family_images(ecr, &repository, &pattern).await?;
            let chosen = newest(&images)?
                .cloned()
                .ok_or_else(|| EcrTagsError::no_tags(&repository, &pattern))?;
            if !allow_mutable {
                repo.check_immutable(&chosen.tag)?;
            }
            let report = LatestReport {
                uri: format!("{}:{}", repo.uri, chosen.tag),
                repository,
                pattern: pattern.as_str().to_owned(),
                image: chosen,
            };
            Ok(emit(&report, global.format(), ExitStatus::Success))
        }
        Command::Pins { check } => {
            let env = env.ok_or_else(|| {
                EcrTagsError::Usage("pins needs an environment file (--env-file)".into())
            })?;
            let rows = pins(ecr, env).await;
            let error = first_error(&rows);
            let stale = rows
                .iter()
                .any(|r| r.status == "behind" || r.status == "missing");
            let ambiguous = rows.iter().any(|r| r.status == "ambiguous");
            let report = PinsReport { pins: rows };
            let status = match (&error, ambiguous, check && stale) {
                (Some(e), _, _) => e.exit_status(),
                (None, true, _) => ExitStatus::Failure,
                (None, false, true) => ExitStatus::ChangesFound,
                (None, false, false) => ExitStatus::Success,
            };
            Ok(emit(&report, global.format(), status))
        }
        Command::Bump(args) => {
            let target = image(env, &args.image)?;
            let repo = describe_repository(ecr, &target.repository).await?;
            let options = BumpOptions {
                to: args.to,
                allow_downgrade: args.allow_downgrade,
                allow_mutable: args.allow_mutable,
                git: args.git_repo.map(|p| (p, args.git_ref)),
            };
            let report = plan_bump(ecr, &repo, target, &options, args.dry_run).await?;
            let status = match (&report.new_text, args.dry_run) {
                (None, _) => ExitStatus::Success,
                (Some(_), true) => ExitStatus::ChangesFound,
                (Some(text), false) => {
                    infra_core::fs::write_atomic(&report.file, text.as_bytes())?;
                    ExitStatus::Success
                }
            };
            Ok(emit(&report, global.format(), status))
        }
    }
}
