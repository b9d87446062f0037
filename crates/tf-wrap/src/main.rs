//! `tf-wrap`: the terraform-prod plan / approve / apply workflow with a verified plan bundle
//! and safety gates.

use clap::{Args, Parser, Subcommand, ValueEnum};
use infra_core::cli::{emit, parse_duration, report_error, run_command, GlobalArgs};
use infra_core::exit::{ExitStatus, EXIT_CODES_HELP};
use infra_core::Environment;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tf_wrap::gates::{GateOptions, Parked};
use tf_wrap::report::{RunReport, SummaryReport};
use tf_wrap::runner::Terraform;
use tf_wrap::signing::BundleSigner;
use tf_wrap::workflow::Settings;
use tf_wrap::TfWrapError;

/// Run Terraform for the environment's root with one consistent set of options; carry the
/// exact approved plan from the plan job to the apply job in a verified bundle; refuse
/// stale, tampered or unsafe applies. Terraform's own output streams to stderr; the result
/// (the plan summary) goes to stdout.
#[derive(Debug, Parser)]
#[command(name = "tf-wrap", version, after_help = EXIT_CODES_HELP)]
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
    /// Print a bundle's summary.
    Summary(SummaryArgs),
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Markdown,
}

fn main() -> ExitCode {
    let Cli { global, command } = Cli::parse();
    run_command::<Cli, _, _, _>(&global, command, |command| run(&global, command)).into()
}

fn fail(e: &TfWrapError) -> ExitStatus {
    report_error(e, e.exit_status())
}

async fn run(global: &GlobalArgs, command: Command) -> ExitStatus {
    if let Command::Summary(args) = &command {
        return summary(global, args);
    }
    let env = match global.environment() {
        Ok(env) => env,
        Err(e) => return report_error(&e, e.exit_status()),
    };
    let overriding = tf_wrap::runner::overriding_variables();
    if !overriding.is_empty() {
        eprintln!(
            "tf-wrap: warning: {} set in the environment; removed for Terraform, so every run uses the same arguments and the default workspace",
            overriding.join(", ")
        );
    }
    match command {
        Command::Summary(_) => ExitStatus::Success,
        Command::IamPolicy => {
            let policies = tf_wrap::iam::policies(&env);
            println!(
                "{}",
                serde_json::to_string_pretty(&policies).unwrap_or_default()
            );
            ExitStatus::Success
        }
        Command::Init(tf) => match settings(&env, &tf, None).init().await {
            Ok(()) => ExitStatus::Success,
            Err(e) => fail(&e),
        },
        Command::Plan(args) => plan(global, &env, args).await,
        Command::Apply(args) => apply(global, &env, args).await,
    }
}

fn settings(env: &Environment, tf: &TfArgs, max_age: Option<Duration>) -> Settings {
    let t = &env.terraform;
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    Settings {
        terraform: Terraform {
            binary: tf.binary.clone().unwrap_or_else(|| t.binary.clone()),
            root: tf.root.clone().unwrap_or_else(|| t.root.clone()),
            color,
            grace: tf.grace,
        },
        environment: env.name.clone(),
        lock_timeout: tf.lock_timeout.unwrap_or(t.lock_timeout),
        backend_config: tf
            .backend_config
            .clone()
            .or_else(|| t.backend_config.clone()),
        var_files: if tf.var_file.is_empty() {
            t.var_files.clone()
        } else {
            tf.var_file.clone()
        },
        attempts: tf.attempts,
        retry_base: tf.retry_base,
        max_age: max_age.unwrap_or(t.max_plan_age),
    }
}

/// The SDK configuration after the account guard, built once per run and shared by the
/// park records and the signer (which run while Terraform plans).
type Aws = tokio::sync::OnceCell<aws_config::SdkConfig>;

async fn aws<'a>(
    cell: &'a Aws,
    global: &GlobalArgs,
    env: &Environment,
) -> Result<&'a aws_config::SdkConfig, TfWrapError> {
    cell.get_or_try_init(|| async { Ok(global.aws(env).await?.0) })
        .await
}

/// The park records: what the park guard needs. Without ECS services or Aurora clusters in
/// the environment file there is nothing to read.
async fn parked(
    cell: &Aws,
    global: &GlobalArgs,
    env: &Environment,
) -> Result<Vec<Parked>, TfWrapError> {
    let config = aws(cell, global, env).await?;
    if env.ecs_clusters.is_empty() && env.aurora_clusters.is_empty() {
        return Ok(Vec::new());
    }
    let clients = park::observe::Clients::new(config, infra_core::retry::Deadline::none());
    let live = park::observe::observe(&clients, env)
        .await
        .map_err(|e| TfWrapError::Park(infra_core::error::error_chain(&e)))?;
    Ok(tf_wrap::parked(&live))
}

/// The bundle signer, when the environment file names a key (`terraform.sign_with`).
async fn signer(
    cell: &Aws,
    global: &GlobalArgs,
    env: &Environment,
) -> Result<Option<BundleSigner>, TfWrapError> {
    match &env.terraform.sign_with {
        None => Ok(None),
        Some(key) => Ok(Some(BundleSigner::new(aws(cell, global, env).await?, key))),
    }
}

async fn plan(global: &GlobalArgs, env: &Environment, args: PlanArgs) -> ExitStatus {
    let options = GateOptions {
        protected_types: env.terraform.protected_types.clone(),
        allow_destroy: args.allow_destroy,
        allow_unpark: args.allow_unpark,
    };
    let s = settings(env, &args.tf, None);
    let cell = Aws::new();
    match s
        .plan(
            &args.bundle,
            &options,
            parked(&cell, global, env),
            signer(&cell, global, env),
        )
        .await
    {
        Ok(planned) => {
            for a in &planned.unused_allowances {
                eprintln!("tf-wrap: warning: --allow-destroy '{a}' matches nothing the plan deletes or replaces");
            }
            let report = RunReport {
                command: "plan",
                outcome: if planned.changes {
                    "planned"
                } else {
                    "no-changes"
                },
                bundle: Some(planned.bundle.display().to_string()),
                summary: planned.summary,
                refusals: Vec::new(),
            };
            let status = if planned.changes {
                ExitStatus::ChangesFound
            } else {
                ExitStatus::Success
            };
            emit(&report, global.format(), status)
        }
        Err(e) => refused_or_failed(global, "plan", e),
    }
}

fn refused_or_failed(global: &GlobalArgs, command: &'static str, e: TfWrapError) -> ExitStatus {
    if let TfWrapError::Refused { refusals, summary } = &e {
        let report = RunReport {
            command,
            outcome: "refused",
            bundle: None,
            summary: (**summary).clone(),
            refusals: refusals.clone(),
        };
        emit(&report, global.format(), ExitStatus::Refused);
    }
    fail(&e)
}

async fn apply(global: &GlobalArgs, env: &Environment, args: ApplyArgs) -> ExitStatus {
    let s = settings(env, &args.tf, args.max_age);
    let verified = match s.verify(&args.bundle).await {
        Ok(v) => v,
        Err(e) => return fail(&e),
    };
    let cell = Aws::new();
    let signer = match signer(&cell, global, env).await {
        Ok(signer) => signer,
        Err(e) => return fail(&e),
    };
    let signed = match s
        .check_signature(&args.bundle, &verified, signer.as_ref())
        .await
    {
        Ok(signed) => signed,
        Err(e) => return fail(&e),
    };
    let allowances = GateOptions {
        protected_types: env.terraform.protected_types.clone(),
        allow_destroy: args.allow_destroy,
        allow_unpark: args.allow_unpark,
    };
    match s
        .apply(&verified, &allowances, signed, parked(&cell, global, env))
        .await
    {
        Ok(()) => {
            let report = RunReport {
                command: "apply",
                outcome: "applied",
                bundle: Some(args.bundle.display().to_string()),
                summary: verified.summary,
                refusals: Vec::new(),
            };
            emit(&report, global.format(), ExitStatus::Success)
        }
        Err(e) => refused_or_failed(global, "apply", e),
    }
}

fn summary(global: &GlobalArgs, args: &SummaryArgs) -> ExitStatus {
    let summary = match tf_wrap::workflow::read_summary(&args.bundle) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let format = if global.format() == infra_core::output::OutputFormat::Json {
        Format::Json
    } else {
        args.format
    };
    match format {
        Format::Json => emit(
            &SummaryReport { summary },
            infra_core::output::OutputFormat::Json,
            ExitStatus::Success,
        ),
        Format::Text => emit(
            &SummaryReport { summary },
            infra_core::output::OutputFormat::Text,
            ExitStatus::Success,
        ),
        Format::Markdown => {
            print!("{}", summary.to_markdown());
            ExitStatus::Success
        }
    }
}
