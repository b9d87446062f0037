//! The `park down` / `park up` report: one row per resource with before → after and the
//! result, as a table or JSON (schema `park/run` v1), and the exit status it implies.

use crate::engine::{Outcome, ResultKind};
use crate::plan::{Decision, Direction};
use infra_core::exit::ExitStatus;
use infra_core::output::{table, Report};
use serde::Serialize;
use std::io::{self, Write};

/// The result of a park or unpark run (or its plan, with `--dry-run`).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The environment.
    pub environment: String,
    /// Park or unpark.
    pub direction: Direction,
    /// Whether only the plan was computed.
    pub dry_run: bool,
    /// Counts per result.
    pub summary: Summary,
    /// One entry per resource.
    pub resources: Vec<Outcome>,
}

/// How many resources ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Changed as planned.
    pub done: usize,
    /// Would change (`--dry-run`).
    pub planned: usize,
    /// Nothing to do.
    pub unchanged: usize,
    /// Refused by a safety rule.
    pub refused: usize,
    /// Changed while parked or unreadable record.
    pub conflict: usize,
    /// Failed.
    pub failed: usize,
}

impl RunReport {
    /// Builds the report and its summary.
    pub fn new(
        environment: &str,
        direction: Direction,
        dry_run: bool,
        resources: Vec<Outcome>,
    ) -> Self {
        let mut summary = Summary::default();
        for r in &resources {
            match r.result {
                ResultKind::Done => summary.done += 1,
                ResultKind::Planned => summary.planned += 1,
                ResultKind::Unchanged => summary.unchanged += 1,
                ResultKind::Refused => summary.refused += 1,
                ResultKind::Conflict => summary.conflict += 1,
                ResultKind::Failed => summary.failed += 1,
            }
        }
        RunReport {
            environment: environment.to_owned(),
            direction,
            dry_run,
            summary,
            resources,
        }
    }

    /// 0 all done or nothing to do; 3 a dry run with changes; 1 any failure; 4 any refusal
    /// or conflict (a safety outcome outranks a failure).
    pub fn exit_status(&self) -> ExitStatus {
        let mut status = ExitStatus::Success;
        if self.summary.planned > 0 {
            status = status.worst(ExitStatus::ChangesFound);
        }
        if self.summary.failed > 0 {
            status = status.worst(ExitStatus::Failure);
        }
        if self.summary.refused > 0 || self.summary.conflict > 0 {
            status = status.worst(ExitStatus::Refused);
        }
        status
    }
}

impl Report for RunReport {
    const SCHEMA: &'static str = "park/run";

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let verb = match (self.direction, self.dry_run) {
            (Direction::Down, true) => "plan to park",
            (Direction::Up, true) => "plan to unpark",
            (Direction::Down, false) => "park",
            (Direction::Up, false) => "unpark",
        };
        writeln!(out, "{verb} {}", self.environment)?;
        let rows = self.resources.iter().map(|r| {
            let steps: Vec<String> = r.item.steps.iter().map(|s| s.to_string()).collect();
            let after = if r.item.decision == Decision::Change {
                r.item.after.to_string()
            } else {
                "-".to_owned()
            };
            let mut detail = r.error.clone().unwrap_or_else(|| r.item.reason.clone());
            for w in &r.item.warnings {
                detail.push_str(&format!("; WARNING: {w}"));
            }
            vec![
                r.item.resource.name.clone(),
                r.item.before.to_string(),
                after,
                if steps.is_empty() {
                    "-".to_owned()
                } else {
                    steps.join(", ")
                },
                format!("{:?}", r.result).to_lowercase(),
                detail,
            ]
        });
        write!(
            out,
            "{}",
            table(
                ["RESOURCE", "BEFORE", "AFTER", "STEPS", "RESULT", "DETAIL"],
                rows
            )
        )?;
        let s = &self.summary;
        writeln!(
            out,
            "{} done, {} planned, {} unchanged, {} refused, {} conflict, {} failed",
            s.done, s.planned, s.unchanged, s.refused, s.conflict, s.failed
        )
    }
}
