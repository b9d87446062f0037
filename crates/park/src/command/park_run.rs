//! `park down` and `park up`: observe, the hold decision, plan, the engine, and `down`'s
//! savings estimate, all inside the environment lock.

use super::{Outcome, ParkError, RunRequest};
use crate::engine::{self, RunOptions, Stop};
use crate::hold::Hold;
use crate::observe::{observe, Clients};
use crate::plan::{plan, Direction};
use crate::record::Found;
use crate::report::{HoldNote, HoldResult, RunReport};
use crate::status::StatusReport;
use infra_core::retry::Deadline;
use infra_core::runner::Progress;
use infra_core::Environment;
use std::time::Duration;

/// How long `park down` waits after its run for task sizes still being read.
const SIZES_GRACE: Duration = Duration::from_secs(2);

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
    schedule_now: Option<infra_core::schedule::Timestamp>,
    bounds: Bounds,
) -> Result<Outcome, ParkError> {
    let Bounds {
        deadline,
        stop,
        progress,
    } = bounds;
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
                    let savings = StatusReport::new(&env, after, None, &sizes).savings;
                    // With a schedule: the next 30 days on it, not the 12 h assumption.
                    match (&env.schedule, schedule_now) {
                        (Some(schedule), Some(now)) => {
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
    Ok(Outcome::Run(report))
}
