//! The use cases of `park` — `down`, `up`, `status`, `unlock`, `iam-policy` — as one
//! library call, [`run`], returning a typed [`Finished`]: the outcome (a report) or a
//! [`ParkError`], and whether releasing the environment lock failed afterwards. The binary
//! parses arguments into a [`Request`], calls [`run`], renders.
//!
//! `mod.rs` holds the request, outcome and error types and dispatches each request;
//! `park_run.rs` is `down`/`up` (observe, hold, plan, engine, savings), `holds.rs` `hold`
//! and `release`, `locked.rs` the environment lock around them and `unlock`.

mod holds;
mod locked;
mod notify;
mod park_run;

pub use locked::unlock;

use crate::clock::Clock;
use crate::converge::{converge, timing, LiveView, ScheduleNote, Timing};
use crate::engine;
use crate::error::ObserveError;
use crate::hold::HoldError;
use crate::lock::LockSetupError;
use crate::observe::{observe, Clients};
use crate::plan::{Direction, PlanOptions};
use crate::report::HoldReport;
use crate::report::RunReport;
use crate::status::StatusReport;
use holds::{hold_for, hold_request, holder, place_hold, release_hold};
use infra_core::exit::ExitStatus;
use infra_core::retry::Deadline;
use infra_core::runner::{Caller, Stop};
use infra_core::setup::{Setup, SetupError};
use infra_core::Environment;
use locked::{locked, LockOptions};
use park_run::{observe_plan_run, Bounds, RunContext};
use schedule::Action;
use state_lock::{BackendError, LockError};
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

/// The requests that call AWS: every one but `iam-policy`, which [`run`] answers from the
/// environment file alone.
#[derive(Debug, Clone)]
enum AwsRequest {
    Run(Direction, RunRequest),
    Status { check: bool },
    Unlock { id: String },
    Hold(HoldRequest),
    Release { lock_timeout: Option<Duration> },
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
    /// `--scheduled`: converge to what the environment file's `schedule` expects now
    /// ([`crate::converge`]): a run with nothing to do takes no lock and changes nothing.
    pub scheduled: bool,
    /// `--no-notify`: send no notification for this run.
    pub no_notify: bool,
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
    HoldWrite(#[from] crate::hold::TagWriteError),
    /// `--scheduled` without a `schedule` block in the environment file.
    #[error(
        "--scheduled needs a `schedule {{ ... }}` block in {0}: it says when to park and unpark"
    )]
    NoSchedule(std::path::PathBuf),
    /// A file the schedule reads (a holiday file) is unreadable: what decides by the
    /// schedule refuses (a run by hand still works).
    #[error("{0}\nthe schedule cannot decide until this is fixed (park down/up without --scheduled still work)")]
    ScheduleUnusable(String),
}

impl ParkError {
    /// The exit status for this error: the one place park maps errors to exit codes.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            ParkError::Setup(e) => e.exit_status(),
            ParkError::Backend(_)
            | ParkError::LockSetup(_)
            | ParkError::InvalidHold(_)
            | ParkError::NoSchedule(_)
            | ParkError::ScheduleUnusable(_) => ExitStatus::InvalidInput,
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

/// Runs `request`, deciding by `clock` (the real time, or `--now`). The caller's
/// `on_signals` is called once a park run starts (not for `status`, `unlock` or
/// `iam-policy`, which a signal simply ends); its `progress` shows the engine's resources
/// as they finish.
pub async fn run(setup: &Setup, request: Request, clock: Clock, caller: &Caller) -> Finished {
    let env = match setup.environment() {
        Ok(env) => env,
        Err(e) => {
            return Finished {
                result: Err(e.into()),
                release: None,
            }
        }
    };
    let request = match request {
        Request::IamPolicy => {
            return Finished {
                result: iam_policy(&env),
                release: None,
            }
        }
        Request::Run(direction, args) => AwsRequest::Run(direction, args),
        Request::Status { check } => AwsRequest::Status { check },
        Request::Unlock { id } => AwsRequest::Unlock { id },
        Request::Hold(h) => AwsRequest::Hold(h),
        Request::Release { lock_timeout } => AwsRequest::Release { lock_timeout },
    };
    // down/up: every AWS call of the run is retried until the run's deadline, counted
    // from here; status and unlock have none (each call is bounded by its timeout).
    let deadline = match &request {
        AwsRequest::Run(_, args) => Deadline::after(args.deadline),
        _ => Deadline::none(),
    };
    // down/up: what a person must act on is sent where the `notify` block says, bounded
    // by the run's deadline (and cut short by a signal); it never changes the outcome
    // (only `notifications` in it).
    let command = match &request {
        AwsRequest::Run(direction, args) if !args.no_notify && !args.dry_run => {
            Some(notify::command_line(*direction, args.scheduled))
        }
        _ => None,
    };
    let (mut finished, stop) = run_request(setup, &env, request, clock, caller, deadline).await;
    if let Some(note) = clock.note() {
        tracing::warn!("{}", note.describe());
        match &mut finished.result {
            Ok(Outcome::Run(report)) => report.clock = Some(note),
            Ok(Outcome::Status(report, _)) => report.clock = Some(note),
            Ok(Outcome::Hold(report)) => report.clock = Some(note),
            _ => {}
        }
    }
    if let Some(command) = command {
        let notice = notify::notice(&env.name, &command, &finished);
        let stop = stop.unwrap_or_else(Stop::never);
        let deliveries = infra_notify::step(env.notify.as_ref(), notice, &deadline, &stop).await;
        if let Ok(Outcome::Run(report)) = &mut finished.result {
            report.notifications = deliveries;
        }
    }
    finished
}

/// Runs `request` for `env`; with the stop handle of a down/up run that started (a signal
/// during the notifications that follow cuts them short).
async fn run_request(
    setup: &Setup,
    env: &Environment,
    request: AwsRequest,
    clock: Clock,
    caller: &Caller,
    deadline: Deadline,
) -> (Finished, Option<Stop>) {
    let on_signals = caller.on_signals;
    let done = |result| {
        (
            Finished {
                result,
                release: None,
            },
            None,
        )
    };
    // A hold is checked before any AWS call: a bad one writes nothing (exit 2). Without
    // `--by`, its holder is the caller's identity, known after the account guard.
    let now = clock.system_time();
    let hold = match hold_request(&request) {
        None => None,
        Some(h) => match hold_for(env, h, h.by.as_deref().unwrap_or("caller"), now) {
            Ok(hold) => Some((hold, h.by.is_none())),
            Err(e) => return done(Err(e.into())),
        },
    };
    // With a schedule, everything decided by time is decided at the run's clock, read
    // once: `park status` and the saving of `park down` count the schedule's hours from
    // it, `--scheduled` decides from it.
    let schedule_now = env.schedule.as_ref().map(|_| clock.now());
    // --scheduled: whether this direction is wanted now is known before any AWS call; a
    // run that is not wanted ends after the account guard.
    let timing = match &request {
        AwsRequest::Run(direction, args) if args.scheduled => {
            match scheduled(env, *direction, clock) {
                Ok(timing) => Some(timing),
                Err(e) => return done(Err(e)),
            }
        }
        _ => None,
    };
    // `status --check` compares with the schedule: it cannot with an unreadable calendar.
    // (`status` alone reports the environment without the schedule.)
    if let (AwsRequest::Status { check: true }, Err(problems)) = (&request, env.usable_schedule()) {
        return done(Err(ParkError::ScheduleUnusable(problems)));
    }
    let (config, identity) = match setup.aws_until(env, deadline).await {
        Ok(pair) => pair,
        Err(e) => return done(Err(e.into())),
    };
    let hold = match hold {
        Some((hold, true)) => match crate::hold::held_by(hold, &holder(identity.as_ref())) {
            Ok(hold) => Some(hold),
            Err(e) => return done(Err(e.into())),
        },
        Some((hold, false)) => Some(hold),
        None => None,
    };
    let clients =
        Clients::new(&config, deadline).with_budget(infra_core::aws::budget(&setup.aws, env));
    match request {
        AwsRequest::Status { check } => done(match observe(&clients, env).await {
            Ok(live) => {
                let arns = crate::savings::recorded_definitions(&live);
                let sizes = crate::savings::task_sizes(&clients, arns).await;
                let report = StatusReport::new(env, live, identity, &sizes, now);
                Ok(Outcome::Status(
                    match (env.usable_schedule(), schedule_now) {
                        (Ok(Some(schedule)), Some(now)) => report.with_schedule(schedule, now),
                        _ => report,
                    },
                    check,
                ))
            }
            Err(e) => Err(e.into()),
        }),
        AwsRequest::Unlock { id } => done(unlock(&config, env, &id).await),
        AwsRequest::Run(direction, args) => {
            // --scheduled: not wanted now, or (from the live state, read without the lock)
            // nothing to do: the run ends here, nothing written.
            if let Some(timing) = &timing {
                if let Some(note) = timing.settled() {
                    tracing::info!("{}", note.describe());
                    let report = RunReport::new(&env.name, direction, args.dry_run, Vec::new());
                    return done(Ok(Outcome::Run(report.with_schedule(note.clone()))));
                }
                match observe(&clients, env).await {
                    Ok(live) => {
                        let note = decide(env, timing, &live, now);
                        if !note.decision.acts() {
                            return done(Ok(park_run::left_alone(
                                env,
                                direction,
                                args.dry_run,
                                note,
                                &live,
                                now,
                            )));
                        }
                    }
                    Err(e) => return done(Err(e.into())),
                }
            }
            let stop = on_signals(infra_core::runner::StopKind::finish(
                format!(
                    "no new step starts, steps in flight get {}s, then the report and the lock release",
                    engine::STOP_GRACE.as_secs()
                ),
                "a step in flight may or may not have taken effect and the environment lock may remain (the next run says so; `park unlock ID` releases it)".into(),
            ));
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
                RunContext {
                    clock,
                    by: holder(identity.as_ref()),
                    timing,
                },
                Bounds {
                    deadline,
                    stop: stop.clone(),
                    progress: caller.progress.clone(),
                },
            );
            (locked(env, &config, lock, &stop, work).await, Some(stop))
        }
        AwsRequest::Hold(h) => {
            let stop = on_signals(infra_core::runner::StopKind::finish(
                "the hold is written or not, then the lock release".into(),
                "the hold may be on some clusters only (`park status` shows it; `park release` removes it)".into(),
            ));
            let lock = LockOptions {
                operation: "park hold",
                skip: false,
                no_lock: false,
                timeout: h.lock_timeout,
            };
            let hold = hold.expect("checked above");
            let work = place_hold(env.clone(), clients, hold);
            (locked(env, &config, lock, &stop, work).await, None)
        }
        AwsRequest::Release { lock_timeout } => {
            let stop = on_signals(infra_core::runner::StopKind::finish(
                "the hold is removed or not, then the lock release".into(),
                "the hold may remain on some clusters (`park status` shows it)".into(),
            ));
            let lock = LockOptions {
                operation: "park release",
                skip: false,
                no_lock: false,
                timeout: lock_timeout,
            };
            let work = release_hold(env.clone(), clients);
            (locked(env, &config, lock, &stop, work).await, None)
        }
    }
}

/// Where a `--scheduled` run of `direction` stands at the run's clock, before any AWS
/// call.
fn scheduled(env: &Environment, direction: Direction, clock: Clock) -> Result<Timing, ParkError> {
    let Some(schedule) = env.usable_schedule().map_err(ParkError::ScheduleUnusable)? else {
        return Err(ParkError::NoSchedule(env.file.clone()));
    };
    let action = match direction {
        Direction::Down => Action::Park,
        Direction::Up => Action::Unpark,
    };
    Ok(timing(schedule, action, clock.now()))
}

/// The convergence decision for a wanted direction, from the live state at `now`.
fn decide(
    env: &Environment,
    timing: &Timing,
    live: &crate::observe::LiveEnvironment,
    now: std::time::SystemTime,
) -> ScheduleNote {
    let Some(schedule) = &env.schedule else {
        return timing.note().clone();
    };
    converge(
        schedule,
        timing,
        LiveView {
            state: crate::status::overall(env, live).clean(),
            hold: live.hold_at(now),
            last_change: live.last_change(),
        },
    )
}

/// The least-privilege IAM policy for `env`, the lock's actions included.
pub fn iam_policy(env: &Environment) -> Result<Outcome, ParkError> {
    let lock = match state_lock::backend::read(env)? {
        state_lock::Backend::S3(backend) => Some(backend),
        _ => None,
    };
    Ok(Outcome::Policy(crate::iam::policy(env, lock.as_ref())))
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
            source: None,
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
            ParkError::HoldWrite(aws().into()),
            ParkError::NoSchedule("prod.env.hcl".into()),
            ParkError::ScheduleUnusable("prod.env.hcl:40:3: holiday file".into()),
        ];
        for error in &errors {
            let expected = match error {
                ParkError::Setup(_)
                | ParkError::Backend(_)
                | ParkError::LockSetup(_)
                | ParkError::InvalidHold(_)
                | ParkError::NoSchedule(_)
                | ParkError::ScheduleUnusable(_) => 2,
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
