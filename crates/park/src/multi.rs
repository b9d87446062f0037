//! Several environments in one run: `park down --env-file staging.env.hcl --env-file
//! qa.env.hcl`, or `--env-file envs/` (its `*.env.hcl` files). Each environment is the run
//! it would be alone — its own account guard, environment lock, records, holds, schedule
//! (`--scheduled` decides for each from its own) and notifications — and they run at once;
//! one refused or failed environment does not stop the others. The report has a section
//! per environment and a summary; the exit code is the worst of theirs (2, then 4, then 1,
//! then 3, then 0); `--output json` (schema `park/multi` v1) keeps each environment's own
//! JSON report.

use crate::clock::Clock;
use crate::command::{run, Outcome, Request};
use infra_core::exit::ExitStatus;
use infra_core::output::{json_document, write_report, OutputFormat, Report};
use infra_core::runner::{Caller, Stop, StopKind};
use infra_core::setup::Setup;
use serde::Serialize;
use std::io::{self, Write};
use std::path::PathBuf;

/// One environment's part of the run.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentRun {
    /// The environment file.
    pub file: PathBuf,
    /// Its exit code, as its own run would have exited.
    pub exit_code: u8,
    /// Its report (the JSON document its own run prints), when it made one.
    pub report: Option<serde_json::Value>,
    /// Why it made none, or what failed after it (releasing the lock).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Its report as text.
    #[serde(skip)]
    pub text: String,
    #[serde(skip)]
    status: Option<ExitStatus>,
}

/// The run's report: every environment, in the order given.
#[derive(Debug, Clone, Serialize)]
pub struct MultiReport {
    /// The worst exit code.
    pub exit_code: u8,
    /// One entry per environment file.
    pub environments: Vec<EnvironmentRun>,
}

impl MultiReport {
    /// The worst of the environments' exit statuses.
    pub fn exit_status(&self) -> ExitStatus {
        self.environments
            .iter()
            .filter_map(|e| e.status)
            .fold(ExitStatus::Success, ExitStatus::worst)
    }
}

impl Report for MultiReport {
    const SCHEMA: &'static str = "park/multi";

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        for e in &self.environments {
            writeln!(out, "== {} (exit {})", e.file.display(), e.exit_code)?;
            write!(out, "{}", e.text)?;
            for error in &e.errors {
                writeln!(out, "error: {error}")?;
            }
            writeln!(out)?;
        }
        let count = |code: u8| {
            self.environments
                .iter()
                .filter(|e| e.exit_code == code)
                .count()
        };
        let parts: Vec<String> = [
            (0, "ok"),
            (3, "changes found"),
            (1, "failed"),
            (4, "refused"),
            (2, "invalid"),
        ]
        .into_iter()
        .filter(|(code, _)| count(*code) > 0)
        .map(|(code, what)| format!("{} {what}", count(code)))
        .collect();
        writeln!(
            out,
            "{} environments: {} (exit {})",
            self.environments.len(),
            parts.join(", "),
            self.exit_code
        )
    }
}

/// Runs `request` on every environment of `setups` at once (each as [`run`] would alone,
/// with the same clock) and gathers their reports.
///
/// Signals: one handling for the whole run, installed before any environment starts (so
/// none misses the first signal): the first SIGINT/SIGTERM stops every environment as it
/// would stop alone (no new step, the report, each lock released); a second exits at once.
/// `status` installs none (it changes nothing; a signal ends it).
pub async fn run_all(
    setups: Vec<Setup>,
    request: Request,
    clock: Clock,
    caller: &Caller,
) -> MultiReport {
    let caller = match request {
        Request::Status { .. } | Request::IamPolicy | Request::Unlock { .. } => caller.clone(),
        Request::Run(..) | Request::Hold(_) | Request::Release { .. } => {
            let stop = (caller.on_signals)(StopKind::finish(
                "every environment stops: no new step starts, each reports and releases its lock"
                    .into(),
                "an environment's lock may remain: `park unlock ID` with the ID its next run names"
                    .into(),
            ));
            let _ = SHARED_STOP.set(stop);
            Caller {
                progress: caller.progress.clone(),
                on_signals: shared_stop,
            }
        }
    };
    let caller = &caller;
    let mut tasks = tokio::task::JoinSet::new();
    let count = setups.len();
    for (i, setup) in setups.into_iter().enumerate() {
        let (request, caller) = (request.clone(), caller.clone());
        tasks.spawn(async move {
            let finished = run(&setup, request, clock, &caller).await;
            let file = setup.env_file.clone().unwrap_or_default();
            (i, environment_run(file, finished))
        });
    }
    let mut runs: Vec<Option<EnvironmentRun>> = (0..count).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, r)) => runs[i] = Some(r),
            Err(e) => tracing::error!("an environment's run was lost: {e}"),
        }
    }
    let environments: Vec<EnvironmentRun> = runs
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| EnvironmentRun {
                file: PathBuf::new(),
                exit_code: ExitStatus::Failure.code(),
                report: None,
                errors: vec!["internal error (a bug; please report it): the run panicked".into()],
                text: String::new(),
                status: Some(ExitStatus::Failure),
            })
        })
        .collect();
    let mut report = MultiReport {
        exit_code: 0,
        environments,
    };
    report.exit_code = report.exit_status().code();
    report
}

/// The run's one signal handling ([`run_all`]); a process runs one multi-environment run.
static SHARED_STOP: std::sync::OnceLock<Stop> = std::sync::OnceLock::new();

/// What each environment's run gets for `on_signals`: the run's shared [`Stop`].
fn shared_stop(_: StopKind) -> Stop {
    SHARED_STOP.get().cloned().unwrap_or_else(Stop::never)
}

fn environment_run(file: PathBuf, finished: crate::command::Finished) -> EnvironmentRun {
    let mut errors = Vec::new();
    let (status, text, report) = match finished.result {
        Ok(outcome) => {
            let status = outcome.exit_status();
            let (text, report) = match &outcome {
                Outcome::Run(r) => rendered(r),
                Outcome::Status(r, _) => rendered(r),
                Outcome::Hold(r) => rendered(r),
                Outcome::Policy(_) | Outcome::Unlocked { .. } => (String::new(), None),
            };
            (status, text, report)
        }
        Err(e) => {
            errors.push(infra_core::error::error_chain(&e));
            (e.exit_status(), String::new(), None)
        }
    };
    let status = match finished.release {
        Some(e) => {
            errors.push(infra_core::error::error_chain(&e));
            status.worst(e.exit_status())
        }
        None => status,
    };
    EnvironmentRun {
        file,
        exit_code: status.code(),
        report,
        errors,
        text,
        status: Some(status),
    }
}

/// A report's text and its JSON document.
fn rendered<R: Report>(report: &R) -> (String, Option<serde_json::Value>) {
    let mut text = Vec::new();
    let _ = write_report(report, OutputFormat::Text, &mut text);
    (
        String::from_utf8_lossy(&text).into_owned(),
        json_document(report).ok(),
    )
}
