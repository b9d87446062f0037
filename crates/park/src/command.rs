//! The use cases of `park` — `down`, `up`, `status`, `unlock`, `iam-policy` — as one
//! library call, [`run`], returning a typed [`Finished`]: the outcome (a report) or a
//! [`ParkError`], and whether releasing the environment lock failed afterwards. The binary
//! parses arguments into a [`Request`], calls [`run`], renders.

use crate::engine::{self, RunOptions, Stop};
use crate::error::ObserveError;
use crate::lock::LockSetupError;
use crate::observe::{observe, Clients};
use crate::plan::{plan, Direction, PlanOptions};
use crate::report::RunReport;
use crate::status::StatusReport;
use infra_core::exit::ExitStatus;
use infra_core::retry::Deadline;
use infra_core::setup::{Setup, SetupError};
use infra_core::Environment;
use state_lock::{BackendError, LockError, LockInfo};
use std::time::Duration;

/// What to do.
#[derive(Debug, Clone)]
pub enum Request {
    /// `park down` or `park up`.
    Run(Direction, RunRequest),
    /// `park status`.
    Status {
        /// Exit 3 unless the environment is cleanly parked or cleanly unparked.
        check: bool,
    },
    /// `park iam-policy`.
    IamPolicy,
    /// `park unlock ID`.
    Unlock {
        /// The lock's ID.
        id: String,
    },
}

/// The options of `park down` / `park up`.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Plan and stop; change nothing.
    pub dry_run: bool,
    /// Resources processed at once.
    pub concurrency: usize,
    /// The whole run, the lock wait included.
    pub deadline: Duration,
    /// Plan options: `--force`, `--allow-deploying`, `--from-model`, `--no-wait`.
    pub plan: PlanOptions,
    /// How long to wait for a held lock (default: the file's `terraform.lock_timeout`).
    pub lock_timeout: Option<Duration>,
    /// Run without the environment lock.
    pub no_lock: bool,
    /// How often to poll while waiting.
    pub poll_interval: Duration,
}

/// What a command produced.
#[derive(Debug)]
pub enum Outcome {
    /// A park or unpark run (or its dry run).
    Run(RunReport),
    /// `park status`, and whether `--check` was asked.
    Status(StatusReport, bool),
    /// The IAM policy document.
    Policy(serde_json::Value),
    /// The lock `park unlock` removed: its path and its holder.
    Unlocked {
        /// `bucket/key` of the state.
        lock: String,
        /// Who held it, as [`LockInfo::describe`] says.
        holder: String,
    },
}

impl Outcome {
    /// The exit status the outcome calls for.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Outcome::Run(report) => report.exit_status(),
            Outcome::Status(report, true) => report.check_status(),
            Outcome::Status(_, false) | Outcome::Policy(_) | Outcome::Unlocked { .. } => {
                ExitStatus::Success
            }
        }
    }
}

/// Why a park command did not produce its outcome.
#[derive(Debug, thiserror::Error)]
pub enum ParkError {
    /// The environment file, the AWS options or the account guard.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The Terraform backend configuration could not be read (`iam-policy`).
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// There is no lock to take, or its configuration is invalid.
    #[error(transparent)]
    LockSetup(#[from] LockSetupError),
    /// The lock is held by someone else, could not be read, or is not the given ID.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The live state could not be read.
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// SIGINT/SIGTERM while waiting for the lock.
    #[error("interrupted while waiting for the environment lock; nothing was changed")]
    InterruptedWaitingForLock,
    /// The run's task ended without a report (a bug: it panicked).
    #[error("the run ended without a report: {0}")]
    Lost(String),
}

impl ParkError {
    /// The exit status for this error: the one place park maps errors to exit codes.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            ParkError::Setup(e) => e.exit_status(),
            ParkError::Backend(_) | ParkError::LockSetup(_) => ExitStatus::InvalidInput,
            ParkError::Lock(e) => e.exit_status(),
            ParkError::Observe(_) | ParkError::InterruptedWaitingForLock | ParkError::Lost(_) => {
                ExitStatus::Failure
            }
        }
    }
}

/// A finished command: its result, and the lock release's failure if releasing failed
/// (the run's report still stands; the exit status is the worse of the two).
#[derive(Debug)]
pub struct Finished {
    /// The outcome, or why there is none.
    pub result: Result<Outcome, ParkError>,
    /// Releasing the environment lock failed after the run.
    pub release: Option<ParkError>,
}

/// The signal handling a run installs when it starts changing things: given what the
/// first signal does and what a second may leave, returns the [`Stop`] the first fires.
pub type OnSignals = fn(String, String) -> Stop;

/// Runs `request`. `on_signals` is called once a park run starts (not for `status`,
/// `unlock` or `iam-policy`, which a signal simply ends).
pub async fn run(setup: &Setup, request: Request, on_signals: OnSignals) -> Finished {
    let done = |result| Finished {
        result,
        release: None,
    };
    let env = match setup.environment() {
        Ok(env) => env,
        Err(e) => return done(Err(e.into())),
    };
    if let Request::IamPolicy = request {
        return done(iam_policy(&env));
    }
    // down/up: every AWS call of the run is retried until the run's deadline, counted
    // from here; status and unlock have none (each call is bounded by its timeout).
    let deadline = match &request {
        Request::Run(_, args) => Deadline::after(args.deadline),
        _ => Deadline::none(),
    };
    let (config, caller) = match setup.aws_until(&env, deadline).await {
        Ok(pair) => pair,
        Err(e) => return done(Err(e.into())),
    };
    let clients = Clients::new(&config, deadline);
    match request {
        Request::IamPolicy => done(iam_policy(&env)),
        Request::Status { check } => done(
            observe(&clients, &env)
                .await
                .map(|live| Outcome::Status(StatusReport::new(&env, live, caller), check))
                .map_err(ParkError::from),
        ),
        Request::Unlock { id } => done(unlock(&config, &env, &id).await),
        Request::Run(direction, args) => {
            let stop = on_signals(
                format!(
                    "no new step starts, steps in flight get {}s, then the report and the lock release",
                    engine::STOP_GRACE.as_secs()
                ),
                "a step in flight may or may not have taken effect and the environment lock may remain (the next run says so; `park unlock ID` releases it)".into(),
            );
            locked_run(env, clients, config, direction, args, deadline, stop).await
        }
    }
}

/// The least-privilege IAM policy for `env`, the lock's actions included.
pub fn iam_policy(env: &Environment) -> Result<Outcome, ParkError> {
    let lock = match state_lock::backend::read(env)? {
        state_lock::Backend::S3(backend) => Some(backend),
        _ => None,
    };
    Ok(Outcome::Policy(crate::iam::policy(env, lock.as_ref())))
}

/// Releases a lock left by a killed run: only when `id` is its ID.
pub async fn unlock(
    config: &aws_config::SdkConfig,
    env: &Environment,
    id: &str,
) -> Result<Outcome, ParkError> {
    let lock = crate::lock::environment_lock(config, env)?;
    let removed = lock.force_unlock(id).await?;
    Ok(Outcome::Unlocked {
        lock: lock.backend().lock_path(),
        holder: removed.describe(),
    })
}

/// `park down` / `park up`: under the environment lock (unless `--dry-run` or
/// `--no-lock`), observe, plan, run, report; the lock is released on every way out
/// (done, failed, deadline, SIGINT/SIGTERM, a panic).
async fn locked_run(
    env: Environment,
    clients: Clients,
    config: aws_config::SdkConfig,
    direction: Direction,
    args: RunRequest,
    deadline: Deadline,
    stop: Stop,
) -> Finished {
    let done = |result| Finished {
        result,
        release: None,
    };
    let lock = if args.dry_run {
        None
    } else if args.no_lock {
        tracing::warn!("--no-lock: running without the environment lock; another park run or Terraform may change the environment at the same time");
        None
    } else {
        match crate::lock::environment_lock(&config, &env) {
            Ok(lock) => Some(lock),
            Err(e) => return done(Err(e.into())),
        }
    };
    let held = match &lock {
        None => None,
        Some(lock) => {
            let info = LockInfo::new(
                crate::lock::operation(direction),
                env!("CARGO_PKG_VERSION"),
                lock.backend(),
            );
            let timeout = args.lock_timeout.unwrap_or(env.terraform.lock_timeout);
            tokio::select! {
                taken = lock.acquire(&info, timeout) => {
                    if let Err(e) = taken {
                        return done(Err(e.into()));
                    }
                }
                () = stop.wait() => {
                    // A write that went through as the signal came is ours to remove; one
                    // that did not is someone else's and left alone.
                    let _ = lock.release(&info).await;
                    return done(Err(ParkError::InterruptedWaitingForLock));
                }
            }
            Some(info)
        }
    };
    // In its own task, so even a panic comes back here and the lock is released.
    let work = tokio::spawn(observe_plan_run(
        env, clients, direction, args, deadline, stop,
    ));
    let result = match work.await {
        Ok(result) => result,
        Err(e) => Err(ParkError::Lost(e.to_string())),
    };
    let release = match (&lock, &held) {
        (Some(lock), Some(info)) => lock.release(info).await.err().map(ParkError::from),
        _ => None,
    };
    Finished { result, release }
}

async fn observe_plan_run(
    env: Environment,
    clients: Clients,
    direction: Direction,
    args: RunRequest,
    deadline: Deadline,
    stop: Stop,
) -> Result<Outcome, ParkError> {
    let live = observe(&clients, &env).await?;
    let plan = plan(
        direction,
        &env,
        &live,
        args.plan,
        std::time::SystemTime::now(),
    );
    let outcomes = if args.dry_run {
        engine::dry_run(&plan)
    } else {
        let progress = infra_core::output::progress(plan.items.len() as u64, "resources");
        let run_options = RunOptions {
            concurrency: args.concurrency,
            deadline,
            poll_interval: args.poll_interval,
        };
        let outcomes = engine::run(&clients, &plan, run_options, &progress, &stop).await;
        progress.finish_and_clear();
        outcomes
    };
    for outcome in &outcomes {
        for warning in &outcome.item.warnings {
            tracing::warn!("{warning}");
        }
    }
    Ok(Outcome::Run(RunReport::new(
        &env.name,
        direction,
        args.dry_run,
        outcomes,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use infra_core::aws::{AwsCallError, AwsCallErrorKind};

    /// The exit-code table of `park`, one row per error variant.
    #[test]
    fn every_error_has_its_exit_code() {
        let aws = || AwsCallError {
            operation: "ecs:DescribeServices",
            resource: Some("prod/web".into()),
            code: None,
            message: "connection refused".into(),
            kind: AwsCallErrorKind::Dispatch,
        };
        let errors = [
            ParkError::Setup(SetupError::NoEnvFile),
            ParkError::LockSetup(LockSetupError::NoLock("no backend".into())),
            ParkError::Lock(LockError::Held {
                path: "state/prod".into(),
                holder: None,
                waited: Duration::from_secs(300),
            }),
            ParkError::Lock(LockError::NotLocked {
                path: "state/prod".into(),
            }),
            ParkError::Observe(ObserveError::from(aws())),
            ParkError::InterruptedWaitingForLock,
            ParkError::Lost("panicked".into()),
        ];
        for error in &errors {
            let expected = match error {
                ParkError::Setup(_) | ParkError::Backend(_) | ParkError::LockSetup(_) => 2,
                ParkError::Lock(LockError::Held { .. } | LockError::Mismatch { .. }) => 4,
                ParkError::Lock(_) => 1,
                ParkError::Observe(_)
                | ParkError::InterruptedWaitingForLock
                | ParkError::Lost(_) => 1,
            };
            assert_eq!(error.exit_status().code(), expected, "{error}");
        }
    }
}
