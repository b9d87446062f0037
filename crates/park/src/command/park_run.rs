//! `park down` and `park up`: observe, the hold decision, plan, the engine, and `down`'s
//! savings estimate, all inside the environment lock.

use super::{Outcome, ParkError, RunRequest};
use crate::change::{Change, ChangeAction};
use crate::clock::Clock;
use crate::converge::{ScheduleNote, Timing};
use crate::engine::{self, RunOptions, Stop};
use crate::hold::Hold;
use crate::observe::{observe, Clients, LiveEnvironment};
use crate::plan::{plan, Direction};
use crate::record::Found;
use crate::report::{HoldNote, HoldResult, RunReport};
use infra_core::retry::Deadline;
use infra_core::runner::Progress;
use infra_core::Environment;
use std::time::Duration;

/// How long `park down` waits after its run for task sizes still being read.
const SIZES_GRACE: Duration = Duration::from_secs(2);

/// What a run decides by and records: its clock, who runs it, and (`--scheduled`) where
/// it stands in the schedule, checked again under the lock.
pub(super) struct RunContext {
    pub(super) clock: Clock,
    pub(super) by: String,
    pub(super) timing: Option<Timing>,
}

/// What bounds a run and who watches it: the run's deadline, the caller's stop and
/// progress display.
pub(super) struct Bounds {
    pub(super) deadline: Deadline,
    pub(super) stop: Stop,
    pub(super) progress: std::sync::Arc<dyn Progress>,
}

pub(super) async fn observe_plan_run(
    env: Environment,
    clients: Clients,
    direction: Direction,
    args: RunRequest,
    hold: Option<Hold>,
    context: RunContext,
    bounds: Bounds,
) -> Result<Outcome, ParkError> {
    let Bounds {
        deadline,
        stop,
        progress,
    } = bounds;
    let RunContext { clock, by, timing } = context;
    let schedule_now = env.schedule.as_ref().map(|_| clock.now());
    let live = observe(&clients, &env).await?;
    let now = clock.system_time();
    // --scheduled: decided again on what is live now, under the lock (a person may have
    // parked, unparked or held it since the unlocked read).
    let schedule_note = timing
        .as_ref()
        .map(|timing| super::decide(&env, timing, &live, now));
    if let Some(note) = schedule_note.clone().filter(|n| !n.decision.acts()) {
        return Ok(left_alone(&env, direction, args.dry_run, note, &live, now));
    }
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
    let plan = plan(direction, &env, &live, args.plan, now);
    let clusters = live.clusters.clone();
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
        progress.start(plan.items.len() as u64, "resources");
        let run_options = RunOptions {
            concurrency: args.concurrency,
            deadline,
            poll_interval: args.poll_interval,
        };
        let outcomes = engine::run(&clients, &plan, run_options, progress.as_ref(), &stop).await;
        progress.finish();
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
                    let savings = crate::savings::of_environment(&env, &after, &sizes);
                    // With a schedule: the next 30 days on it, not the 12 h assumption.
                    match (env.usable_schedule(), schedule_now) {
                        (Ok(Some(schedule)), Some(now)) => {
                            savings.map(|s| s.with_schedule(schedule, now))
                        }
                        _ => savings,
                    }
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
    report.schedule = schedule_note;
    // A run that finished every resource records what it did, when, by whom and whether
    // the schedule ran it; one that did not (a failure, a refusal, a signal) records
    // nothing and so counts as not done: the next scheduled run finishes it.
    if !args.dry_run
        && !stop.requested()
        && report.exit_status() == infra_core::exit::ExitStatus::Success
    {
        let change = Change {
            action: match direction {
                Direction::Down => ChangeAction::Park,
                Direction::Up => ChangeAction::Unpark,
            },
            at: crate::record::rfc3339(now),
            by,
            scheduled: args.scheduled,
        };
        match crate::hold::record_change(&clients, &clusters, &change).await {
            Ok(()) => report.recorded = Some(change),
            // The environment is parked or unparked as reported; only the memory of who
            // did it is missing, so a scheduled run may treat a change by hand as its own
            // to undo. Said, not failed.
            Err(e) => tracing::warn!("the change was made but not recorded on the clusters: {e}"),
        }
    }
    Ok(Outcome::Run(report))
}

/// The report of a `--scheduled` run that changes nothing (on schedule, held, overridden,
/// not due): the decision, and the hold that wins when there is one.
pub(super) fn left_alone(
    env: &Environment,
    direction: Direction,
    dry_run: bool,
    note: ScheduleNote,
    live: &LiveEnvironment,
    now: std::time::SystemTime,
) -> Outcome {
    tracing::info!("{}", note.describe());
    let mut report = RunReport::new(&env.name, direction, dry_run, Vec::new());
    if note.decision == crate::converge::Decision::Held {
        if let Some(hold) = live.hold_at(now) {
            report = report.with_hold(HoldNote {
                result: HoldResult::Held,
                hold: hold.clone(),
            });
        }
    }
    Outcome::Run(report.with_schedule(note))
}
