//! `tf-wrap`: the terraform-prod plan / approve / apply workflow with a verified plan bundle
//! and safety gates.
//!
//! The `tf-wrap` binary's whole command line, behind the `cli` feature: `tf-wrap` (its
//! `main.rs`) and the multi-call `infra-toolkit` both call [`main`] with their arguments
//! (the first being the name the tool answers to, as clap's usage shows it).

// Prints on purpose: this is a binary, the CLI layer, or test/benchmark support.
#![allow(clippy::disallowed_macros)]

use crate::command::{run, Allowances, Outcome, Request, TerraformOptions};
use crate::report::SummaryReport;
use clap::{Args, Parser, Subcommand, ValueEnum};
use infra_cli::{emit, emit_text, parse_duration, report_error, run_command, GlobalArgs};
use infra_core::exit::{ExitStatus, EXIT_CODES_HELP};
use infra_core::output::OutputFormat;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Run Terraform for the environment's root with one consistent set of options; carry the
/// exact approved plan from the plan job to the apply job in a verified bundle; refuse
/// stale, tampered or unsafe applies. Terraform's own output streams to stderr; the result
/// (the plan summary) goes to stdout.
#[derive(Debug, Parser)]
#[command(name = "tf-wrap", version = infra_core::build::VERSION_LINE, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// `terraform init` with the backend configuration; retried on transient errors.
    Init(TfArgs),
    /// Plan into a bundle (plan file, JSON, manifest, summary). Exit 0 no changes, 3
    /// changes, 4 refused by a gate (no bundle written).
    Plan(PlanArgs),
    /// Verify a bundle against this checkout, then apply exactly its plan. Never retried.
    Apply(ApplyArgs),
    /// Check for drift: a refresh-only plan (read-only: no state written, no bundle),
    /// every drifted resource classified `parked` (what park's records explain) or
    /// `unexpected`. Exit 0 no drift or only parked drift, 3 unexpected drift, 1 the check
    /// could not run.
    Drift(DriftArgs),
    /// Print a bundle's summary.
    Summary(SummaryArgs),
    /// Post the bundle's summary on its pull request: one comment per environment, updated
    /// on every push. The pull request from --pr or CIRCLE_PULL_REQUEST (none: exit 0,
    /// nothing posted); the token from GITHUB_TOKEN or GH_TOKEN; the API from
    /// GITHUB_API_URL (default GitHub's). Exit 1 when GitHub refuses or does not answer.
    Comment(CommentArgs),
    /// Print the least-privilege IAM policies (JSON) of tf-wrap's own calls: `plan` (the
    /// plan job's role) and `apply` (the apply job's). Terraform's own permissions for the
    /// resources it manages come on top.
    IamPolicy,
}

#[derive(Debug, Args)]
struct TfArgs {
    /// Terraform binary: `terraform`, `tofu` or a path (default: the environment file's).
    #[arg(long, value_name = "BINARY")]
    binary: Option<String>,
    /// The root module (default: the environment file's `terraform.root`).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// How long to wait for the state lock (default: the environment file's).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    lock_timeout: Option<Duration>,
    /// `-backend-config` file for init (default: the environment file's).
    #[arg(long, value_name = "FILE")]
    backend_config: Option<PathBuf>,
    /// `-var-file` for plan, repeatable (default: the environment file's).
    #[arg(long, value_name = "FILE")]
    var_file: Vec<PathBuf>,
    /// Attempts for init and plan on transient errors, the first included.
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10))]
    attempts: u32,
    /// How long Terraform may take to stop after SIGINT/SIGTERM before it is killed.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    grace: Duration,
    /// The first retry delay (doubled each time, at most 30s).
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION", hide = true)]
    retry_base: Duration,
}

#[derive(Debug, Args)]
struct PlanArgs {
    #[command(flatten)]
    tf: TfArgs,
    /// The bundle directory to write (replaced when it exists).
    #[arg(long, default_value = "tf-bundle", value_name = "DIR")]
    bundle: PathBuf,
    /// Allow the plan to delete or replace this protected resource address; repeatable.
    #[arg(long, value_name = "ADDRESS")]
    allow_destroy: Vec<String>,
    /// Allow the plan to change the capacity of parked resources (it would unpark them).
    #[arg(long)]
    allow_unpark: bool,
}

#[derive(Debug, Args)]
struct ApplyArgs {
    #[command(flatten)]
    tf: TfArgs,
    /// The bundle written by `tf-wrap plan`.
    #[arg(long, value_name = "DIR")]
    bundle: PathBuf,
    /// The oldest bundle accepted (default: the environment file's `max_plan_age`, 24h).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    max_age: Option<Duration>,
    /// Allow the plan to delete or replace this protected resource address; repeatable.
    /// An unsigned bundle's recorded allowances are not honoured: the apply states its own.
    #[arg(long, value_name = "ADDRESS")]
    allow_destroy: Vec<String>,
    /// Allow the plan to change the capacity of parked resources (it would unpark them).
    #[arg(long)]
    allow_unpark: bool,
}

#[derive(Debug, Args)]
struct SummaryArgs {
    /// The bundle written by `tf-wrap plan`.
    #[arg(long, value_name = "DIR")]
    bundle: PathBuf,
    /// The summary's format (`--output json` is the same as `--format json`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// With `--format markdown`: at most this many bytes (a pull-request comment's limit).
    /// The counts and every deletion and replacement are always kept; longer lists are cut
    /// with a line saying how many were left out.
    #[arg(long, value_name = "N", default_value_t = crate::plan::MARKDOWN_MAX_BYTES)]
    max_bytes: usize,
}

#[derive(Debug, Args)]
struct CommentArgs {
    /// The bundle written by `tf-wrap plan`.
    #[arg(long, value_name = "DIR")]
    bundle: PathBuf,
    /// The pull request, OWNER/REPO#NUMBER (default: CIRCLE_PULL_REQUEST's).
    #[arg(long, value_name = "OWNER/REPO#N")]
    pr: Option<String>,
    /// The summary's limit in bytes (the comment also stays under GitHub's 65,536).
    #[arg(long, value_name = "N", default_value_t = crate::plan::MARKDOWN_MAX_BYTES)]
    max_bytes: usize,
    /// How long the whole command may take (every API call and retry).
    #[arg(long, default_value = "2m", value_parser = parse_duration, value_name = "DURATION")]
    deadline: Duration,
    /// Whose marked comment is tf-wrap's (default: TF_WRAP_COMMENT_AUTHOR, else the token's
    /// own login from GET /user; a GitHub App installation token has none: give the app's
    /// bot login, such as my-app[bot]). Marked comments by anyone else are left alone.
    #[arg(long, value_name = "LOGIN")]
    author: Option<String>,
}

#[derive(Debug, Args)]
struct DriftArgs {
    #[command(flatten)]
    tf: TfArgs,
    /// The report's format (`--output json` is the same as `--format json`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also write a JUnit XML report here (one test case per drifted resource, failing
    /// when unexpected), for CircleCI's `store_test_results`.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// With `--format markdown`: at most this many bytes. The counts and every unexpected
    /// resource are always kept; the parked list is cut with a line saying how many were
    /// left out.
    #[arg(long, value_name = "N", default_value_t = crate::plan::MARKDOWN_MAX_BYTES)]
    max_bytes: usize,
    /// Send no notification of unexpected drift, whatever the environment file's `notify`
    /// block says.
    #[arg(long)]
    no_notify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Markdown,
}

/// Runs `tf-wrap` with these arguments (the first is the program's name); returns its exit
/// code (the README's table).
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let Cli { global, command } = Cli::parse_from(args);
    run_command::<Cli, _, _, _>(&global, command, |command| async {
        let (name, format) = (command.name(), global.format());
        let summary_format = match (&command, format) {
            (_, OutputFormat::Json) => Format::Json,
            (Command::Summary(args), OutputFormat::Text) => args.format,
            (Command::Drift(args), OutputFormat::Text) => args.format,
            (_, OutputFormat::Text) => Format::Text,
        };
        let markdown = match &command {
            Command::Summary(args) => Markdown {
                max_bytes: args.max_bytes,
                full: format!("`{}`", args.bundle.join(crate::bundle::PLAN_JSON).display()),
            },
            Command::Drift(args) => Markdown {
                max_bytes: args.max_bytes,
                full: "`tf-wrap drift --output json`".into(),
            },
            _ => Markdown {
                max_bytes: usize::MAX,
                full: String::new(),
            },
        };
        match run(&global.setup(), request(command), &infra_cli::caller()).await {
            Ok(outcome) => render(outcome, format, summary_format, &markdown),
            Err(e) => {
                if let Some(report) = e.refused_report(name) {
                    emit(&report, format, ExitStatus::Refused);
                }
                report_error(&e, e.exit_status())
            }
        }
    })
    .into()
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Init(_) => "init",
            Command::Plan(_) => "plan",
            Command::Apply(_) => "apply",
            Command::Drift(_) => "drift",
            Command::Summary(_) => "summary",
            Command::Comment(_) => "comment",
            Command::IamPolicy => "iam-policy",
        }
    }
}

/// How a Markdown summary is cut: its size limit and where the whole plan is.
struct Markdown {
    max_bytes: usize,
    full: String,
}

/// Prints the outcome on stdout; returns its exit status.
fn render(
    outcome: Outcome,
    format: OutputFormat,
    summary_format: Format,
    markdown: &Markdown,
) -> ExitStatus {
    let status = outcome.exit_status();
    match outcome {
        Outcome::Initialised => status,
        Outcome::Run {
            report,
            unused_allowances,
        } => {
            for a in &unused_allowances {
                tracing::warn!(
                    "--allow-destroy '{a}' matches nothing the plan deletes or replaces"
                );
            }
            emit(&report, format, status)
        }
        Outcome::Policies(policies) => emit_text(
            &(serde_json::to_string_pretty(&policies).unwrap_or_default() + "\n"),
            status,
        ),
        Outcome::Drift(report) => match summary_format {
            Format::Json => emit(&report, OutputFormat::Json, status),
            Format::Text => emit(&report, OutputFormat::Text, status),
            Format::Markdown => emit_text(
                &report.to_markdown_within(markdown.max_bytes, &markdown.full),
                status,
            ),
        },
        Outcome::Comment(report) => emit(&report, format, status),
        Outcome::Summary(summary) => match summary_format {
            Format::Json => emit(&SummaryReport { summary }, OutputFormat::Json, status),
            Format::Text => emit(&SummaryReport { summary }, OutputFormat::Text, status),
            Format::Markdown => emit_text(
                &summary.to_markdown_within(markdown.max_bytes, &markdown.full),
                status,
            ),
        },
    }
}

/// The arguments as a library request.
fn request(command: Command) -> Request {
    let allow = |destroy, unpark| Allowances { destroy, unpark };
    match command {
        Command::Init(tf) => Request::Init(terraform(tf)),
        Command::Plan(args) => Request::Plan {
            terraform: terraform(args.tf),
            bundle: args.bundle,
            allow: allow(args.allow_destroy, args.allow_unpark),
        },
        Command::Apply(args) => Request::Apply {
            terraform: terraform(args.tf),
            bundle: args.bundle,
            max_age: args.max_age,
            allow: allow(args.allow_destroy, args.allow_unpark),
        },
        Command::Drift(args) => Request::Drift {
            terraform: terraform(args.tf),
            junit: args.junit,
            no_notify: args.no_notify,
        },
        Command::Summary(args) => Request::Summary {
            bundle: args.bundle,
        },
        Command::Comment(args) => Request::Comment(crate::comment::CommentRequest {
            bundle: args.bundle,
            pr: args.pr,
            max_bytes: args.max_bytes,
            deadline: args.deadline,
            author: args.author,
        }),
        Command::IamPolicy => Request::IamPolicy,
    }
}

fn terraform(tf: TfArgs) -> TerraformOptions {
    TerraformOptions {
        binary: tf.binary,
        root: tf.root,
        lock_timeout: tf.lock_timeout,
        backend_config: tf.backend_config,
        var_files: tf.var_file,
        attempts: tf.attempts,
        grace: tf.grace,
        retry_base: tf.retry_base,
        color: std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        echo: true,
    }
}

/// The command line's definition: what `--help`, the man page and the completions show,
/// and what the property tests walk (`infra-toolkit`'s `cli_values` test).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod free_form_values {
    /// `--pr OWNER/REPO#N` and `CIRCLE_PULL_REQUEST` are parsed after clap: any text is a
    /// pull request or refused, never a panic; what is accepted is a name GitHub allows.
    #[test]
    fn every_pull_request_is_parsed_or_refused() {
        infra_test_support::cli_values::never_panics(2_000, |text| {
            for pr in [
                crate::comment::PullRequest::parse(text),
                crate::comment::PullRequest::from_url(text),
            ]
            .into_iter()
            .flatten()
            {
                assert!(pr.number > 0, "{text:?}");
                for part in [&pr.owner, &pr.repo] {
                    assert!(
                        !part.is_empty()
                            && part
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
                        "{text:?}"
                    );
                }
            }
        });
    }
}
