//! How the run ended: text, JSON (schema `run-task/run` v1), JUnit for CircleCI, and the
//! notice for the `notify` block.

use crate::follow::{Phase, StoppedBy, TaskFacts};
use infra_core::exit::ExitStatus;
use infra_core::output::Report;
use serde::Serialize;
use std::io::{self, Write};

/// The end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The deciding container exited 0.
    Succeeded,
    /// The container exited with another code, or the task stopped without one.
    Failed,
    /// ECS started no task, or the task stopped before its container ran
    /// (`TaskFailedToStart`, `CannotPullContainerError`).
    DidNotStart,
    /// The run stopped it: a signal (a cancelled job).
    Interrupted,
    /// The run stopped it: its timeout passed.
    TimedOut,
    /// A check refused to start it (nothing started).
    Refused,
    /// The task's end is unknown (an AWS error while following it, or it did not stop).
    Unknown,
}

impl Outcome {
    /// As the JSON spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::DidNotStart => "did-not-start",
            Outcome::Interrupted => "interrupted",
            Outcome::TimedOut => "timed-out",
            Outcome::Refused => "refused",
            Outcome::Unknown => "unknown",
        }
    }
}

/// The container's log, as followed.
#[derive(Debug, Clone, Serialize)]
pub struct LogSummary {
    /// The log group.
    pub group: String,
    /// The stream.
    pub stream: String,
    /// Lines shown.
    pub lines: u64,
}

/// `run-task run`'s report.
#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    /// The environment.
    pub environment: String,
    /// The `task` block.
    pub task: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it was refused (`refused` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<String>,
    /// The cluster.
    pub cluster: String,
    /// The revision's ARN.
    pub task_definition: Option<String>,
    /// The revision number.
    pub revision: Option<i32>,
    /// The deciding container.
    pub container: String,
    /// Its image.
    pub image: Option<String>,
    /// Where the placement came from.
    pub placement: Option<String>,
    /// The started task's ARN.
    pub task_arn: Option<String>,
    /// Its `startedBy`.
    pub started_by: Option<String>,
    /// RunTask calls made (more than one: an answer was throttled or lost).
    pub run_task_calls: u32,
    /// What ECS said last.
    #[serde(flatten)]
    pub facts: TaskFacts,
    /// The states seen and how long each lasted.
    pub phases: Vec<Phase>,
    /// Set when the run stopped the task.
    pub stopped_by: Option<StoppedBy>,
    /// Why it failed, in one line (none when it succeeded).
    pub reason: Option<String>,
    /// The container's log.
    pub log: Option<LogSummary>,
    /// Its last lines (at most 20).
    pub last_lines: Vec<String>,
    /// Seconds from the start of the run to its end.
    pub elapsed_seconds: f64,
    /// What the run noticed on the way (a lock held by Terraform, logs not followed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The notifications sent, or not (the `notify` block).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<infra_notify::Delivery>,
}

impl TaskReport {
    /// 0 when the container exited 0, 4 when refused, else 1.
    pub fn exit_status(&self) -> ExitStatus {
        match self.outcome {
            Outcome::Succeeded => ExitStatus::Success,
            Outcome::Refused => ExitStatus::Refused,
            Outcome::Failed
            | Outcome::DidNotStart
            | Outcome::Interrupted
            | Outcome::TimedOut
            | Outcome::Unknown => ExitStatus::Failure,
        }
    }

    /// One line: what happened.
    pub fn summary(&self) -> String {
        match self.outcome {
            Outcome::Succeeded => format!(
                "task `{}` succeeded: container `{}` exited 0",
                self.task, self.container
            ),
            Outcome::Refused => format!(
                "task `{}` refused, nothing started: {}",
                self.task,
                self.refusals.join("; ")
            ),
            _ => format!(
                "task `{}` {}: {}",
                self.task,
                self.outcome.as_str(),
                self.reason.as_deref().unwrap_or("no reason given")
            ),
        }
    }

    /// The notice for the `notify` block: `refused` or `failed`, none when it succeeded.
    pub fn notice(&self) -> Option<infra_notify::Notice> {
        let event = match self.outcome {
            Outcome::Succeeded => return None,
            Outcome::Refused => infra_notify::Event::Refused,
            _ => infra_notify::Event::Failed,
        };
        Some(infra_notify::Notice::of_report(
            event,
            &self.environment,
            &format!("run-task run {}", self.task),
            self.summary(),
            self.task_arn.iter().cloned().collect(),
            self,
        ))
    }
}

/// Why a task that stopped did not succeed, in one line: the container, its exit code,
/// the stop code and reasons (ECS's words).
pub fn reason(container: &str, facts: &TaskFacts) -> String {
    let mut parts = Vec::new();
    match facts.exit_code {
        Some(code) => parts.push(format!("container `{container}` exited {code}")),
        None => parts.push(format!("container `{container}` has no exit code")),
    }
    if let Some(r) = &facts.container_reason {
        parts.push(r.clone());
    }
    if let Some(code) = &facts.stop_code {
        parts.push(format!("stop code {code}"));
    }
    if let Some(r) = &facts.stopped_reason {
        parts.push(r.clone());
    }
    parts.join(": ")
}

impl Report for TaskReport {
    const SCHEMA: &'static str = "run-task/run";

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.summary())?;
        let field = |name: &str, value: Option<String>| value.map(|v| format!("  {name:<16}{v}"));
        let fields = [
            field("task", self.task_arn.clone()),
            field("definition", self.task_definition.clone()),
            field("image", self.image.clone()),
            field("placement", self.placement.clone()),
            field("started by", self.started_by.clone()),
            field("stop code", self.facts.stop_code.clone()),
            field("stopped reason", self.facts.stopped_reason.clone()),
            field("exit code", self.facts.exit_code.map(|c| c.to_string())),
            field(
                "phases",
                (!self.phases.is_empty()).then(|| {
                    self.phases
                        .iter()
                        .map(|p| format!("{} {:.0}s", p.status, p.seconds))
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
            ),
            field(
                "log",
                self.log
                    .as_ref()
                    .map(|l| format!("{} lines of {}:{}", l.lines, l.group, l.stream)),
            ),
        ];
        for line in fields.into_iter().flatten() {
            writeln!(out, "{line}")?;
        }
        for note in &self.notes {
            writeln!(out, "  note: {note}")?;
        }
        if self.outcome != Outcome::Succeeded && !self.last_lines.is_empty() {
            writeln!(out, "last {} log lines:", self.last_lines.len())?;
            for line in &self.last_lines {
                writeln!(out, "  | {line}")?;
            }
        }
        Ok(())
    }
}

/// The JUnit XML document: one test case, the task, failed with the reason and the last
/// log lines.
pub fn junit(report: &TaskReport) -> Result<String, quick_junit::SerializeError> {
    use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
    let status = if report.outcome == Outcome::Succeeded {
        TestCaseStatus::success()
    } else {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        s.set_message(report.summary());
        s.set_type(report.outcome.as_str());
        s.set_description(report.last_lines.join("\n"));
        s
    };
    let mut case = TestCase::new(report.task.clone(), status);
    case.set_classname("run-task");
    case.set_time(std::time::Duration::from_secs_f64(
        report.elapsed_seconds.max(0.0),
    ));
    for (k, v) in [
        ("task_arn", report.task_arn.clone()),
        ("task_definition", report.task_definition.clone()),
        ("exit_code", report.facts.exit_code.map(|c| c.to_string())),
        ("stop_code", report.facts.stop_code.clone()),
    ] {
        if let Some(v) = v {
            case.add_property(Property::new(k, v));
        }
    }
    let mut suite = TestSuite::new("run-task");
    suite.add_test_case(case);
    let mut doc = quick_junit::Report::new("run-task");
    doc.add_test_suite(suite);
    doc.to_string()
}
