//! The use cases of `park` — `down`, `up`, `status`, `unlock`, `iam-policy` — as one
//! library call, [`run`], returning a typed [`Finished`]: the outcome (a report) or a
//! [`ParkError`], and whether releasing the environment lock failed afterwards. The binary
//! parses arguments into a [`Request`], calls [`run`], renders.

use crate::engine::{self, RunOptions, Stop};
use crate::error::ObserveError;
use crate::hold::{Hold, HoldError};
use crate::lock::LockSetupError;
use crate::observe::{observe, Clients};
use crate::plan::{plan, Direction, PlanOptions};
use crate::record::Found;
use crate::report::RunReport;
use crate::report::{HoldNote, HoldReport, HoldResult};
use crate::status::StatusReport;
use infra_core::aws::AwsCallError;
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
    /// `park hold`: keep the environment awake until a time.
    Hold(HoldRequest),
    /// `park release`: end the hold.
    Release {
        /// How long to wait for a held lock (default: the file's `terraform.lock_timeout`).
        lock_timeout: Option<Duration>,
    },
}

/// A hold to place: `park hold` or `park up --hold-until`.
#[derive(Debug, Clone)]
pub struct HoldRequest {
    /// WHEN: an RFC 3339 time, a duration, or a time of day with its zone.
    pub until: String,
    /// Why.
    pub reason: String,
    /// Who (default: the caller's identity).
    pub by: Option<String>,
    /// How long to wait for a held lock (default: the file's `terraform.lock_timeout`).
    pub lock_timeout: Option<Duration>,
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
    /// `park down` parks even while a hold is in force (with a warning).
    pub ignore_hold: bool,
    /// `park up --hold-until`: place this hold first, then unpark.
    pub hold: Option<HoldRequest>,
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
    /// A hold placed or released.
    Hold(HoldReport),
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
            Outcome::Status(_, false)
            | Outcome::Policy(_)
            | Outcome::Unlocked { .. }
            | Outcome::Hold(_) => ExitStatus::Success,
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
    /// The hold asked for is invalid (nothing was written).
    #[error(transparent)]
    InvalidHold(#[from] HoldError),
    /// Writing or removing a hold's tags failed.
    #[error("{0}")]
    HoldWrite(#[from] AwsCallError),
}

impl ParkError {
    /// The exit status for this error: the one place park maps errors to exit codes.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            ParkError::Setup(e) => e.exit_status(),
            ParkError::Backend(_) | ParkError::LockSetup(_) | ParkError::InvalidHold(_) => {
                ExitStatus::InvalidInput
            }
            ParkError::Lock(e) => e.exit_status(),
            ParkError::Observe(_)
            | ParkError::InterruptedWaitingForLock
            | ParkError::Lost(_)
            | ParkError::HoldWrite(_) => ExitStatus::Failure,
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

/// How long `park down` waits after its run for task sizes still being read.
const SIZES_GRACE: Duration = Duration::from_secs(2);

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
    // A hold is checked before any AWS call: a bad one writes nothing (exit 2).
    let now = std::time::SystemTime::now();
    if let Some(h) = hold_request(&request) {
        if let Err(e) = hold_for(&env, h, h.by.as_deref().unwrap_or("caller"), now) {
            return done(Err(e.into()));
        }
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
    let hold = match hold_request(&request) {
        None => None,
        Some(h) => {
            let by = h.by.clone().unwrap_or_else(|| holder(caller.as_ref()));
            match hold_for(&env, h, &by, now) {
                Ok(hold) => Some(hold),
                Err(e) => return done(Err(e.into())),
            }
        }
    };
    let clients = Clients::new(&config, deadline);
    match request {
        Request::IamPolicy => done(iam_policy(&env)),
        Request::Status { check } => done(match observe(&clients, &env).await {
            Ok(live) => {
                let arns = crate::savings::recorded_definitions(&live);
                let sizes = crate::savings::task_sizes(&clients, arns).await;
                Ok(Outcome::Status(
                    StatusReport::new(&env, live, caller, &sizes),
                    check,
                ))
            }
            Err(e) => Err(e.into()),
        }),
        Request::Unlock { id } => done(unlock(&config, &env, &id).await),
        Request::Run(direction, args) => {
            let stop = on_signals(
                format!(
                    "no new step starts, steps in flight get {}s, then the report and the lock release",
                    engine::STOP_GRACE.as_secs()
                ),
                "a step in flight may or may not have taken effect and the environment lock may remain (the next run says so; `park unlock ID` releases it)".into(),
            );
            let lock = LockOptions {
                operation: crate::lock::operation(direction),
                skip: args.dry_run,
                no_lock: args.no_lock,
                timeout: args.lock_timeout,
            };
            let work = observe_plan_run(
                env.clone(),
                clients,
                direction,
                args,
                hold,
                deadline,
                stop.clone(),
            );
            locked(&env, &config, lock, &stop, work).await
        }
        Request::Hold(h) => {
            let stop = on_signals(
                "the hold is written or not, then the lock release".into(),
                "the hold may be on some clusters only (`park status` shows it; `park release` removes it)".into(),
            );
            let lock = LockOptions {
                operation: "park hold",
                skip: false,
                no_lock: false,
                timeout: h.lock_timeout,
            };
            let hold = hold.expect("checked above");
            let work = place_hold(env.clone(), clients, hold);
            locked(&env, &config, lock, &stop, work).await
        }
        Request::Release { lock_timeout } => {
            let stop = on_signals(
                "the hold is removed or not, then the lock release".into(),
                "the hold may remain on some clusters (`park status` shows it)".into(),
            );
            let lock = LockOptions {
                operation: "park release",
                skip: false,
                no_lock: false,
                timeout: lock_timeout,
            };
            let work = release_hold(env.clone(), clients);
            locked(&env, &config, lock, &stop, work).await
        }
    }
}

/// The hold a request places, if any.
fn hold_request(request: &Request) -> Option<&HoldRequest> {
    match request {
        Request::Hold(h) => Some(h),
        Request::Run(Direction::Up, args) => args.hold.as_ref(),
        _ => None,
    }
}

/// The hold `h` asks for, checked (end, length, reason, holder), as `by`.
fn hold_for(
    env: &Environment,
    h: &HoldRequest,
    by: &str,
    now: std::time::SystemTime,
) -> Result<Hold, HoldError> {
    if env.ecs_clusters.is_empty() {
        return Err(HoldError::NoCluster);
    }
    let until = crate::hold::parse_when(&h.until, now)?;
    crate::hold::new_hold(until, &h.reason, by, now, env.max_hold)
}

/// Who holds when `--by` is not given: the caller's identity (as a tag allows it), else
/// the local user.
fn holder(caller: Option<&infra_core::aws::CallerIdentity>) -> String {
    let name = match caller {
        Some(c) => crate::hold::holder_from_arn(&c.arn),
        None => std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
    };
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "_.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    if clean.is_empty() {
        "unknown".into()
    } else {
        clean
    }
}

/// Writes `hold` on every ECS cluster of the environment.
async fn place_hold(env: Environment, clients: Clients, hold: Hold) -> Result<Outcome, ParkError> {
    let live = observe(&clients, &env).await?;
    let clusters = crate::hold::write(&clients, &live, &hold).await?;
    Ok(Outcome::Hold(HoldReport {
        environment: env.name.clone(),
        action: HoldResult::Placed,
        hold: Some(hold),
        clusters,
    }))
}

async fn release_hold(env: Environment, clients: Clients) -> Result<Outcome, ParkError> {
    let live = observe(&clients, &env).await?;
    let hold = live.latest_hold().cloned();
    let clusters = crate::hold::remove(&clients, &live).await?;
    Ok(Outcome::Hold(HoldReport {
        environment: env.name.clone(),
        action: if clusters.is_empty() {
            HoldResult::None
        } else {
            HoldResult::Released
        },
        hold,
        clusters,
    }))
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

/// How a command takes the environment lock.
struct LockOptions {
    /// The operation written into the lock (`park down`, `park hold`).
    operation: &'static str,
    /// No lock at all (a dry run changes nothing).
    skip: bool,
    /// `--no-lock`: run without it, with a warning.
    no_lock: bool,
    /// How long to wait for a held lock (default: the file's `terraform.lock_timeout`).
    timeout: Option<Duration>,
}

/// Runs `work` under the environment lock (unless skipped); the lock is released on every
/// way out (done, failed, deadline, SIGINT/SIGTERM, a panic).
async fn locked<W>(
    env: &Environment,
    config: &aws_config::SdkConfig,
    options: LockOptions,
    stop: &Stop,
    work: W,
) -> Finished
where
    W: std::future::Future<Output = Result<Outcome, ParkError>> + Send + 'static,
{
    let done = |result| Finished {
        result,
        release: None,
    };
    let lock = if options.skip {
        None
    } else if options.no_lock {
        tracing::warn!("--no-lock: running without the environment lock; another park run or Terraform may change the environment at the same time");
        None
    } else {
        match crate::lock::environment_lock(config, env) {
            Ok(lock) => Some(lock),
            Err(e) => return done(Err(e.into())),
        }
    };
    let held = match &lock {
        None => None,
        Some(lock) => {
            let info = LockInfo::new(options.operation, env!("CARGO_PKG_VERSION"), lock.backend());
            let timeout = options.timeout.unwrap_or(env.terraform.lock_timeout);
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
    let result = match tokio::spawn(work).await {
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
    hold: Option<Hold>,
    deadline: Deadline,
    stop: Stop,
) -> Result<Outcome, ParkError> {
    let live = observe(&clients, &env).await?;
    let now = std::time::SystemTime::now();
    let mut note = None;
    for cluster in &live.clusters {
        if let Found::Invalid { error } = &cluster.hold {
            tracing::warn!(
                "the hold on ECS cluster {} is unreadable and ignored ({error}); `park release` removes it",
                cluster.cluster
            );
        }
    }
    match direction {
        Direction::Down => match live.hold_at(now).cloned() {
            Some(h) if !args.ignore_hold => {
                tracing::info!("{}: nothing parked", h.describe());
                return Ok(Outcome::Run(
                    RunReport::new(&env.name, direction, args.dry_run, Vec::new()).with_hold(
                        HoldNote {
                            result: HoldResult::Held,
                            hold: h,
                        },
                    ),
                ));
            }
            Some(h) => {
                tracing::warn!("--ignore-hold: parking although {}", h.describe());
                note = Some(HoldNote {
                    result: HoldResult::Ignored,
                    hold: h,
                });
            }
            None => {
                // An expired hold is ignored, and removed by a real park run.
                let expired = live.latest_hold().cloned();
                if let (Some(h), false) = (expired, args.dry_run) {
                    crate::hold::remove(&clients, &live).await?;
                    note = Some(HoldNote {
                        result: HoldResult::ExpiredRemoved,
                        hold: h,
                    });
                }
            }
        },
        Direction::Up => {
            // `park up --hold-until`: the hold first, so tonight's park is held even if
            // the unpark is interrupted.
            if let (Some(h), false) = (hold, args.dry_run) {
                crate::hold::write(&clients, &live, &h).await?;
                note = Some(HoldNote {
                    result: HoldResult::Placed,
                    hold: h,
                });
            }
        }
    }
    let plan = plan(
        direction,
        &env,
        &live,
        args.plan,
        std::time::SystemTime::now(),
    );
    // The task sizes `park down`'s saving needs are read while the engine runs, never
    // after it: the estimate adds no time to the run, and a size not read by the end of
    // the run (throttling, a signal) is simply not estimated.
    let sizes = (direction == Direction::Down && !args.dry_run).then(|| {
        let arns = crate::savings::parked_definitions(&live, &plan);
        let clients = clients.clone();
        tokio::spawn(async move { crate::savings::task_sizes(&clients, arns).await })
    });
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
    let parked_something = outcomes
        .iter()
        .any(|o| o.result == crate::engine::ResultKind::Done);
    let savings = match sizes {
        Some(handle) if parked_something && !stop.requested() => {
            match tokio::time::timeout(SIZES_GRACE, handle).await {
                Ok(Ok(sizes)) => {
                    let after = crate::savings::with_written_records(live, &outcomes);
                    StatusReport::new(&env, after, None, &sizes).savings
                }
                _ => {
                    tracing::warn!(
                        "savings not estimated: the task sizes were not read by the end of the run"
                    );
                    None
                }
            }
        }
        Some(handle) => {
            handle.abort();
            None
        }
        None => None,
    };
    let mut report = RunReport::new(&env.name, direction, args.dry_run, outcomes);
    if let Some(note) = note {
        report = report.with_hold(note);
    }
    report.savings = savings;
    Ok(Outcome::Run(report))
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
            ParkError::InvalidHold(HoldError::NoCluster),
            ParkError::HoldWrite(aws()),
        ];
        for error in &errors {
            let expected = match error {
                ParkError::Setup(_)
                | ParkError::Backend(_)
                | ParkError::LockSetup(_)
                | ParkError::InvalidHold(_) => 2,
                ParkError::Lock(LockError::Held { .. } | LockError::Mismatch { .. }) => 4,
                ParkError::Lock(_) => 1,
                ParkError::Observe(_)
                | ParkError::InterruptedWaitingForLock
                | ParkError::Lost(_)
                | ParkError::HoldWrite(_) => 1,
            };
            assert_eq!(error.exit_status().code(), expected, "{error}");
        }
    }
}
