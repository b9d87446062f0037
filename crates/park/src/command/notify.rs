//! What a `park down` / `park up` run tells the team (the environment file's `notify`
//! block): `failed` (a resource failed, the run was interrupted or out of time, the lock
//! could not be released), `refused` (the lock held by someone else, the account guard, a
//! refused or conflicting resource) and `held` (a park skipped by a hold). Sending never
//! changes the run's outcome or exit code.

use super::{Finished, Outcome, ParkError};
use crate::engine::ResultKind;
use crate::plan::Direction;
use crate::report::{HoldResult, RunReport};
use infra_core::exit::ExitStatus;
use infra_notify::{Event, Notice};

/// The notice for a finished run of `command`, when it is one a person must act on.
pub(super) fn notice(environment: &str, command: &str, finished: &Finished) -> Option<Notice> {
    let notice = |event, outcome: String, resources, release_command, report| Notice {
        event,
        environment: environment.to_owned(),
        command: command.to_owned(),
        outcome,
        resources,
        release_command,
        report,
    };
    match (&finished.result, &finished.release) {
        (Ok(Outcome::Run(report)), release) => {
            if let Some(n) = report
                .hold
                .as_ref()
                .filter(|n| n.result == HoldResult::Held)
            {
                let h = &n.hold;
                return Some(notice(
                    Event::Held,
                    format!(
                        "not parked: held by {} until {} ({})",
                        h.by, h.until, h.reason
                    ),
                    Vec::new(),
                    Some("park release".to_owned()),
                    Some(json(report)),
                ));
            }
            let failed = names(report, |k| k == ResultKind::Failed);
            let refused = names(report, |k| {
                matches!(k, ResultKind::Refused | ResultKind::Conflict)
            });
            let (event, resources, what) = match report.exit_status() {
                ExitStatus::Failure => (Event::Failed, failed, "failed"),
                ExitStatus::Refused => (Event::Refused, refused, "refused"),
                _ => match release {
                    Some(e) => {
                        return Some(notice(
                            Event::Failed,
                            e.to_string(),
                            Vec::new(),
                            Some("park unlock ID".to_owned()),
                            Some(json(report)),
                        ))
                    }
                    None => return None,
                },
            };
            let summary = format!(
                "{} of {} resource(s) {what}{}",
                resources.len(),
                report.resources.len(),
                first_error(report)
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
            Some(notice(event, summary, resources, None, Some(json(report))))
        }
        (Ok(_), _) => None,
        (Err(e), _) => {
            let event = match e.exit_status() {
                ExitStatus::Refused => Event::Refused,
                ExitStatus::Failure => Event::Failed,
                _ => return None,
            };
            let release = match e {
                ParkError::Lock(state_lock::LockError::Held {
                    holder: Some(h), ..
                }) => Some(format!("park unlock {}", h.id)),
                _ => None,
            };
            Some(notice(event, e.to_string(), Vec::new(), release, None))
        }
    }
}

/// The command as a person types it.
pub(super) fn command_line(direction: Direction, scheduled: bool) -> String {
    let verb = match direction {
        Direction::Down => "park down",
        Direction::Up => "park up",
    };
    if scheduled {
        format!("{verb} --scheduled")
    } else {
        verb.to_owned()
    }
}

fn json(report: &RunReport) -> serde_json::Value {
    infra_core::output::json_document(report).unwrap_or(serde_json::Value::Null)
}

fn names(report: &RunReport, keep: impl Fn(ResultKind) -> bool) -> Vec<String> {
    report
        .resources
        .iter()
        .filter(|o| keep(o.result))
        .map(|o| o.item.resource.name.clone())
        .collect()
}

fn first_error(report: &RunReport) -> Option<&str> {
    report.resources.iter().find_map(|o| o.error.as_deref())
}
