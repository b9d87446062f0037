//! The use cases of `tf-wrap` — `init`, `plan`, `apply`, `drift`, `summary`, `iam-policy` — as one
//! library call, [`run`], returning a typed [`Outcome`] or a [`TfWrapError`] (whose one
//! exhaustive `match` gives the exit code). The binary parses arguments into a
//! [`Request`], calls [`run`], renders.

use crate::drift::{DriftReport, Recorded};
use crate::gates::{GateOptions, Parked};
use crate::plan::Summary;
use crate::report::{RunOutcome, RunReport};
use crate::runner::Terraform;
use crate::signing::BundleSigner;
use crate::workflow::Settings;
use crate::TfWrapError;
use infra_core::exit::ExitStatus;
use infra_core::runner::{Caller, Stop, StopKind};
use infra_core::setup::Setup;
use infra_core::Environment;
use std::path::PathBuf;
use std::time::Duration;

/// What to do.
#[derive(Debug, Clone)]
pub enum Request {
    /// `tf-wrap init`.
    Init(TerraformOptions),
    /// `tf-wrap plan`.
    Plan {
        /// How to run Terraform.
        terraform: TerraformOptions,
        /// The bundle directory to write.
        bundle: PathBuf,
        /// The gates' allowances.
        allow: Allowances,
    },
    /// `tf-wrap apply`.
    Apply {
        /// How to run Terraform.
        terraform: TerraformOptions,
        /// The bundle to verify and apply.
        bundle: PathBuf,
        /// The oldest bundle accepted (default: the file's `max_plan_age`).
        max_age: Option<Duration>,
        /// The apply's own allowances (an unsigned bundle's are not honoured).
        allow: Allowances,
    },
    /// `tf-wrap drift`: a refresh-only plan, its drift classified (read-only).
    Drift {
        /// How to run Terraform.
        terraform: TerraformOptions,
        /// Write a JUnit XML report here.
        junit: Option<PathBuf>,
        /// `--no-notify`: no notification of unexpected drift.
        no_notify: bool,
    },
    /// `tf-wrap summary`: a bundle's summary (needs no environment file).
    Summary {
        /// The bundle.
        bundle: PathBuf,
    },
    /// `tf-wrap comment`: the bundle's summary on its pull request (needs no environment
    /// file and no AWS).
    Comment(crate::comment::CommentRequest),
    /// `tf-wrap iam-policy`.
    IamPolicy,
}

/// `--allow-destroy` and `--allow-unpark`.
#[derive(Debug, Clone, Default)]
pub struct Allowances {
    /// Protected addresses the plan may delete or replace.
    pub destroy: Vec<String>,
    /// The plan may change parked capacity.
    pub unpark: bool,
}

/// How to run Terraform; what is `None` comes from the environment file.
#[derive(Debug, Clone)]
pub struct TerraformOptions {
    /// `terraform`, `tofu` or a path.
    pub binary: Option<String>,
    /// The root module.
    pub root: Option<PathBuf>,
    /// How long to wait for the state lock.
    pub lock_timeout: Option<Duration>,
    /// `-backend-config` for init.
    pub backend_config: Option<PathBuf>,
    /// `-var-file`s for plan (the file's when empty).
    pub var_files: Vec<PathBuf>,
    /// Attempts for init and plan on transient errors.
    pub attempts: u32,
    /// How long Terraform may take to stop after a forwarded signal.
    pub grace: Duration,
    /// The first retry delay.
    pub retry_base: Duration,
    /// Colour in Terraform's output (stderr is a terminal and `NO_COLOR` is unset).
    pub color: bool,
    /// Copy Terraform's output to stderr as it arrives.
    pub echo: bool,
}

/// What a command produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `init` finished.
    Initialised,
    /// A plan (bundle written) or an apply.
    Run {
        /// The report.
        report: RunReport,
        /// `--allow-destroy` addresses the plan does not destroy (a warning).
        unused_allowances: Vec<String>,
    },
    /// A drift check's report.
    Drift(DriftReport),
    /// A bundle's summary.
    Summary(Summary),
    /// What `tf-wrap comment` posted.
    Comment(crate::comment::CommentReport),
    /// The plan and apply roles' policies.
    Policies(serde_json::Value),
}

impl Outcome {
    /// The exit status the outcome calls for: a plan with changes is 3.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Outcome::Run { report, .. } if report.outcome == RunOutcome::Planned => {
                ExitStatus::ChangesFound
            }
            Outcome::Drift(report) => report.exit_status(),
            Outcome::Run { .. }
            | Outcome::Initialised
            | Outcome::Summary(_)
            | Outcome::Comment(_)
            | Outcome::Policies(_) => ExitStatus::Success,
        }
    }
}

impl TfWrapError {
    /// For a refusal by a gate: the report to print before the error (the summary and every
    /// refusal).
    pub fn refused_report(&self, command: &'static str) -> Option<RunReport> {
        match self {
            TfWrapError::Refused { refusals, summary } => Some(RunReport {
                command,
                outcome: RunOutcome::Refused,
                bundle: None,
                summary: (**summary).clone(),
                refusals: refusals.clone(),
            }),
            _ => None,
        }
    }
}

/// Runs `request`: one arm per command. The commands that run Terraform read the
/// environment file first and then call the caller's `on_signals` (with
/// `StopKind::Forward`, [`terraform_run`]): a signal during the account guard ends the run
/// before Terraform starts; one while Terraform runs is passed to it; after the first, no
/// Terraform command starts.
pub async fn run(setup: &Setup, request: Request, caller: &Caller) -> Result<Outcome, TfWrapError> {
    match request {
        Request::Summary { bundle } => crate::workflow::read_summary(&bundle).map(Outcome::Summary),
        Request::Comment(comment) => Ok(Outcome::Comment(crate::comment::comment(comment).await?)),
        Request::IamPolicy => Ok(Outcome::Policies(crate::iam::policies(
            &setup.environment()?,
        ))),
        Request::Init(tf) => {
            let (env, stop) = terraform_run(setup, caller)?;
            let guarded = guard(setup, &env, &stop).await?;
            guarded.settings(&env, &tf, None).init().await?;
            Ok(Outcome::Initialised)
        }
        Request::Plan {
            terraform,
            bundle,
            allow,
        } => {
            let (env, stop) = terraform_run(setup, caller)?;
            plan(setup, &env, &terraform, bundle, allow, &stop).await
        }
        Request::Apply {
            terraform,
            bundle,
            max_age,
            allow,
        } => {
            let (env, stop) = terraform_run(setup, caller)?;
            apply(setup, &env, &terraform, bundle, max_age, allow, &stop).await
        }
        Request::Drift {
            terraform,
            junit,
            no_notify,
        } => {
            let (env, stop) = terraform_run(setup, caller)?;
            let mut report = drift(setup, &env, &terraform, &stop).await?;
            report.notifications = infra_notify::step(
                env.notify.as_ref().filter(|_| !no_notify),
                report.notice(),
                &infra_core::retry::Deadline::none(),
                &stop,
            )
            .await;
            if let Some(path) = junit {
                report
                    .write_junit(&path)
                    .map_err(|source| TfWrapError::Junit { path, source })?;
            }
            Ok(Outcome::Drift(report))
        }
    }
}

/// What every command that runs Terraform starts with: the environment file, a warning
/// for the variables removed for Terraform, and the run's stop (signals forwarded).
fn terraform_run(setup: &Setup, caller: &Caller) -> Result<(Environment, Stop), TfWrapError> {
    let env = setup.environment()?;
    let overriding = crate::runner::overriding_variables();
    if !overriding.is_empty() {
        tracing::warn!(
            "{} set in the environment; removed for Terraform, so every run uses the same arguments and the default workspace",
            overriding.join(", ")
        );
    }
    Ok((env, (caller.on_signals)(StopKind::Forward)))
}

/// The refresh-only plan (after the account guard), with the park records read while
/// Terraform refreshes and, when a parked value has no valid record in that read, again
/// after it finished (a record valid in either read explains a parked value, so a park run
/// overlapping the check is never reported as unexpected drift).
async fn drift(
    setup: &Setup,
    env: &Environment,
    tf: &TerraformOptions,
    stop: &Stop,
) -> Result<DriftReport, TfWrapError> {
    let guarded = guard(setup, env, stop).await?;
    let settings = guarded.settings(env, tf, None);
    let (plan, first) = tokio::join!(settings.refresh_only(), recorded(&guarded.config, env));
    // A failure to read the records outranks a Terraform failure.
    let first = first?;
    let plan = plan?;
    let mut drift = crate::drift::classify(&plan, &first);
    if crate::drift::unexplained_parked_values(&drift) {
        // Park may have written records while Terraform refreshed: read them again.
        let recorded = crate::drift::merge(first, recorded(&guarded.config, env).await?);
        drift = crate::drift::classify(&plan, &recorded);
    }
    Ok(DriftReport::new(
        &env.name,
        drift,
        plan.terraform_version.clone(),
    ))
}

/// The workflow settings: the options given, the environment file's where not.
pub fn settings(env: &Environment, tf: &TerraformOptions, max_age: Option<Duration>) -> Settings {
    let t = &env.terraform;
    Settings {
        terraform: Terraform {
            binary: tf.binary.clone().unwrap_or_else(|| t.binary.clone()),
            root: tf.root.clone().unwrap_or_else(|| t.root.clone()),
            color: tf.color,
            grace: tf.grace,
            echo: tf.echo,
            credentials: None,
            stop: Stop::never(),
        },
        environment: env.name.clone(),
        lock_timeout: tf.lock_timeout.unwrap_or(t.lock_timeout),
        backend_config: tf
            .backend_config
            .clone()
            .or_else(|| t.backend_config.clone()),
        var_files: if tf.var_files.is_empty() {
            t.var_files.clone()
        } else {
            tf.var_files.clone()
        },
        attempts: tf.attempts,
        retry_base: tf.retry_base,
        max_age: max_age.unwrap_or(t.max_plan_age),
    }
}

fn gate_options(env: &Environment, allow: Allowances) -> GateOptions {
    GateOptions {
        protected_types: env.terraform.protected_types.clone(),
        allow_destroy: allow.destroy,
        allow_unpark: allow.unpark,
    }
}

/// What the account guard leaves for a command that starts Terraform: the SDK
/// configuration for tf-wrap's own calls (the park records, the signer) and the credentials
/// Terraform is given, both exactly the ones the guard verified.
#[derive(Debug)]
struct Guarded {
    config: aws_config::SdkConfig,
    credentials: Option<infra_core::aws::VerifiedCredentials>,
    stop: Stop,
}

/// How long before they expire the verified credentials earn a warning: Terraform cannot
/// refresh credentials handed to it in its environment.
const EXPIRY_WARNING: Duration = Duration::from_secs(15 * 60);

/// The account guard, run before any Terraform process starts: a refusal means Terraform is
/// never started. A stop asked for while it waits ends the run: nothing was started.
async fn guard(setup: &Setup, env: &Environment, stop: &Stop) -> Result<Guarded, TfWrapError> {
    let (config, credentials) = tokio::select! {
        biased;
        () = stop.wait() => {
            return Err(TfWrapError::Interrupted {
                signal: stop.signal().unwrap_or(infra_core::runner::Signal::Interrupt),
                outcome: "was not started (the account guard was still running)".into(),
            })
        }
        verified = setup.aws_verified(env) => verified?,
    };
    match &credentials {
        Some(c) => {
            tracing::info!(
                access_key_id = c.access_key_id(),
                account = %c.identity.account,
                "Terraform runs with the credentials the account guard verified"
            );
            let left = c.expiry().map(|at| {
                at.duration_since(std::time::SystemTime::now())
                    .unwrap_or_default()
            });
            if let Some(left) = left.filter(|left| *left < EXPIRY_WARNING) {
                tracing::warn!(
                    "the verified AWS credentials expire in {}; Terraform cannot refresh them, so a longer run fails with expired credentials",
                    humantime::format_duration(Duration::from_secs(left.as_secs()))
                );
            }
        }
        None => tracing::warn!(
            "Terraform resolves its own AWS credentials: the account guard was skipped"
        ),
    }
    Ok(Guarded {
        config,
        credentials,
        stop: stop.clone(),
    })
}

impl Guarded {
    /// [`settings`] with Terraform given the verified credentials.
    fn settings(
        &self,
        env: &Environment,
        tf: &TerraformOptions,
        max_age: Option<Duration>,
    ) -> Settings {
        let mut settings = settings(env, tf, max_age);
        self.hand_to(&mut settings.terraform);
        settings
    }

    /// Gives Terraform the verified credentials and the run's stop.
    fn hand_to(&self, terraform: &mut Terraform) {
        terraform.credentials = self.credentials.clone();
        terraform.stop = self.stop.clone();
    }
}

/// The park records. Without ECS services or Aurora clusters in the environment file there
/// is nothing to read.
async fn recorded(
    config: &aws_config::SdkConfig,
    env: &Environment,
) -> Result<Vec<Recorded>, TfWrapError> {
    if env.ecs_clusters.is_empty() && env.aurora_clusters.is_empty() {
        return Ok(Vec::new());
    }
    let clients = park_state::observe::Clients::new(config, infra_core::retry::Deadline::none());
    let live = park_state::observe::observe(&clients, env)
        .await
        .map_err(|e| TfWrapError::Park(Box::new(e)))?;
    Ok(crate::recorded(&live))
}

/// The resources park has recorded: what the park guard needs.
async fn parked(
    config: &aws_config::SdkConfig,
    env: &Environment,
) -> Result<Vec<Parked>, TfWrapError> {
    let recorded = recorded(config, env).await?;
    Ok(recorded.into_iter().map(|r| r.resource).collect())
}

/// The bundle signer, when the environment file names a key (`terraform.sign_with`).
fn signer(config: &aws_config::SdkConfig, env: &Environment) -> Option<BundleSigner> {
    env.terraform
        .sign_with
        .as_ref()
        .map(|key| BundleSigner::new(config, key))
}

async fn plan(
    setup: &Setup,
    env: &Environment,
    tf: &TerraformOptions,
    bundle: PathBuf,
    allow: Allowances,
    stop: &Stop,
) -> Result<Outcome, TfWrapError> {
    let options = gate_options(env, allow);
    // The checkout's own facts (no AWS, no Terraform) are read on their own task while the
    // guard runs and Terraform plans; Terraform starts as soon as the guard passed, without
    // waiting for them.
    let mut settings = settings(env, tf, None);
    let facts = tokio::spawn(settings.checkout_facts());
    let guarded = guard(setup, env, stop).await?;
    guarded.hand_to(&mut settings.terraform);
    let facts = async {
        match facts.await {
            Ok(facts) => facts,
            // A panic in the reading task is a bug: it ends the run as a panic here would.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    };
    let planned = settings
        .plan(
            &bundle,
            &options,
            facts,
            parked(&guarded.config, env),
            signer(&guarded.config, env),
        )
        .await?;
    Ok(Outcome::Run {
        report: RunReport {
            command: "plan",
            outcome: match planned.changes {
                true => RunOutcome::Planned,
                false => RunOutcome::NoChanges,
            },
            bundle: Some(planned.bundle.display().to_string()),
            summary: planned.summary,
            refusals: Vec::new(),
        },
        unused_allowances: planned.unused_allowances,
    })
}

async fn apply(
    setup: &Setup,
    env: &Environment,
    tf: &TerraformOptions,
    bundle: PathBuf,
    max_age: Option<Duration>,
    allow: Allowances,
    stop: &Stop,
) -> Result<Outcome, TfWrapError> {
    let guarded = guard(setup, env, stop).await?;
    let s = guarded.settings(env, tf, max_age);
    let verified = s.verify(&bundle).await?;
    let signer = signer(&guarded.config, env);
    let signed = s
        .check_signature(&bundle, &verified, signer.as_ref())
        .await?;
    s.apply(
        &verified,
        &gate_options(env, allow),
        signed,
        parked(&guarded.config, env),
    )
    .await?;
    Ok(Outcome::Run {
        report: RunReport {
            command: "apply",
            outcome: RunOutcome::Applied,
            bundle: Some(bundle.display().to_string()),
            summary: verified.summary,
            refusals: Vec::new(),
        },
        unused_allowances: Vec::new(),
    })
}
