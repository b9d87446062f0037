//! The `park down` / `park up` report: one row per resource with before → after and the
//! result, as a table or JSON (schema `park/run` v2), and the exit status it implies.

use crate::clock::ClockNote;
use crate::converge::ScheduleNote;
use crate::engine::{Outcome, ResultKind};
use crate::hold::Hold;
use crate::plan::{Decision, Direction};
use crate::savings::SavingsSummary;
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
    /// What a hold did to this run: `held` (nothing parked), `ignored` (`--ignore-hold`),
    /// `expired-removed`, or `placed` (`park up --hold-until`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldNote>,
    /// After a `park down` that parked something: what the parked environment saves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savings: Option<SavingsSummary>,
    /// `--scheduled`: what the schedule decided, the local time, the next park and unpark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleNote>,
    /// `--now`: the clock the run decided at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockNote>,
    /// The change this run recorded on the clusters (a completed park or unpark).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<crate::change::Change>,
    /// The notifications this run sent, or could not (the `notify` block).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<infra_notify::Delivery>,
}

/// What happened to a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HoldResult {
    /// A hold in force: `park down` changed nothing.
    Held,
    /// A hold in force, overridden by `--ignore-hold`.
    Ignored,
    /// A hold whose end has passed (`park status`).
    Expired,
    /// An expired hold, removed by this `park down`.
    ExpiredRemoved,
    /// A hold written (`park hold`, `park up --hold-until`).
    Placed,
    /// A hold removed (`park release`).
    Released,
    /// `park release` found no hold.
    None,
}

impl HoldResult {
    /// As the reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldResult::Held => "held",
            HoldResult::Ignored => "ignored",
            HoldResult::Expired => "expired",
            HoldResult::ExpiredRemoved => "expired-removed",
            HoldResult::Placed => "placed",
            HoldResult::Released => "released",
            HoldResult::None => "none",
        }
    }
}

/// A hold and what happened to it in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldNote {
    /// What happened.
    pub result: HoldResult,
    /// The hold.
    #[serde(flatten)]
    pub hold: Hold,
}

/// `park hold` / `park release` (JSON schema `park/hold`).
#[derive(Debug, Clone, Serialize)]
pub struct HoldReport {
    /// The environment.
    pub environment: String,
    /// `placed`, `released` or `none`.
    pub action: HoldResult,
    /// The hold written or removed.
    pub hold: Option<Hold>,
    /// The ECS clusters written or untagged.
    pub clusters: Vec<String>,
    /// `--now`: the clock the hold was decided at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockNote>,
}

impl Report for HoldReport {
    const SCHEMA: &'static str = "park/hold";

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        match (self.action, &self.hold) {
            (HoldResult::Placed, Some(h)) => writeln!(
                out,
                "{} {}; `park down` changes nothing until then (on {})",
                self.environment,
                h.describe(),
                self.clusters.join(", ")
            ),
            (HoldResult::Released, Some(h)) => writeln!(
                out,
                "{}: released the hold ({}); `park down` parks again",
                self.environment,
                h.describe()
            ),
            (HoldResult::Released, None) => writeln!(
                out,
                "{}: removed an unreadable hold from {}",
                self.environment,
                self.clusters.join(", ")
            ),
            _ => writeln!(out, "{}: no hold to release", self.environment),
        }
    }
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
            hold: None,
            savings: None,
            notifications: Vec::new(),
            schedule: None,
            clock: None,
            recorded: None,
        }
    }

    /// The report with what the schedule decided (`--scheduled`).
    pub fn with_schedule(mut self, note: ScheduleNote) -> Self {
        self.schedule = Some(note);
        self
    }

    /// The report with what a hold did to the run.
    pub fn with_hold(mut self, note: HoldNote) -> Self {
        self.hold = Some(note);
        self
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
    /// 2: resources of kind `eventbridge-rule` (with `event_bus`; capacity kind `rule`).
    const SCHEMA_VERSION: u32 = 2;

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let verb = match (self.direction, self.dry_run) {
            (Direction::Down, true) => "plan to park",
            (Direction::Up, true) => "plan to unpark",
            (Direction::Down, false) => "park",
            (Direction::Up, false) => "unpark",
        };
        writeln!(out, "{verb} {}", self.environment)?;
        if let Some(clock) = &self.clock {
            writeln!(out, "{}", clock.describe())?;
        }
        if let Some(note) = &self.schedule {
            writeln!(out, "{}", note.describe())?;
            // A run left alone ends here; one held says by whom (below).
            if !note.decision.acts() && self.hold.is_none() {
                return Ok(());
            }
        }
        if let Some(note) = &self.hold {
            match note.result {
                HoldResult::Held => {
                    return writeln!(
                        out,
                        "{}: nothing was parked (`park release` ends the hold; `--ignore-hold` overrides it)",
                        note.hold.describe()
                    )
                }
                HoldResult::Ignored => writeln!(
                    out,
                    "WARNING: --ignore-hold: parked although {}",
                    note.hold.describe()
                )?,
                HoldResult::ExpiredRemoved => writeln!(
                    out,
                    "the expired hold was removed ({})",
                    note.hold.describe()
                )?,
                HoldResult::Placed => writeln!(out, "{}", note.hold.describe())?,
                HoldResult::Expired | HoldResult::Released | HoldResult::None => {}
            }
        }
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
        )?;
        if let Some(savings) = &self.savings {
            writeln!(out, "parked: {}", savings.describe())?;
        }
        match &self.recorded {
            Some(change) => writeln!(out, "recorded: {}", change.describe()),
            None => Ok(()),
        }
    }
}
