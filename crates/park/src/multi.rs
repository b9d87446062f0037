//! Several environments in one run: `park down --env-file staging.env.hcl --env-file
//! qa.env.hcl`, or `--env-file envs/` (its `*.env.hcl` files). Each environment is the run
//! it would be alone — its own account guard, environment lock, records, holds, schedule
//! (`--scheduled` decides for each from its own) and notifications — and they run at once;
//! one refused or failed environment does not stop the others. The report has a section
//! per environment and a summary; the exit code is the worst of theirs (2, then 4, then 1,
//! then 3, then 0); `--output json` (schema `park/multi` v1) keeps each environment's own
//! JSON report.
//!
//! Order: an environment file's `after = ["prod-db"]` makes it unparked after `prod-db`
//! has been (and parked before it), when both are in the run; it is not started when the
//! one it waits for did not end well. A cycle is refused before anything runs (exit 2,
//! at the `after` that closes it).

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
    status: ExitStatus,
}

/// Why the run did not start: the `after` order cannot be followed.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// `after` makes a cycle.
    #[error("{file}:{at}: `after` makes a cycle: {cycle}; nothing was run")]
    Cycle {
        /// The file whose `after` closes it.
        file: String,
        /// Where its `after` is.
        at: infra_core::environment::LineColumn,
        /// `a → b → a`.
        cycle: String,
    },
    /// Two files name the same environment: `after` could not tell them apart.
    #[error("{first} and {second} both define environment `{name}`; nothing was run")]
    SameName {
        /// The environment's name.
        name: String,
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
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
            .map(|e| e.status)
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
) -> Result<MultiReport, OrderError> {
    let (waits, names) = order(&setups, &request)?;
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
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..count)
        .map(|_| tokio::sync::watch::channel(None::<ExitStatus>))
        .unzip();
    for ((i, setup), sender) in setups.into_iter().enumerate().zip(senders) {
        let (request, caller) = (request.clone(), caller.clone());
        let before: Vec<(String, tokio::sync::watch::Receiver<Option<ExitStatus>>)> = waits[i]
            .iter()
            .map(|&j| (names[j].clone(), receivers[j].clone()))
            .collect();
        tasks.spawn(async move {
            let done = Done(sender);
            let file = setup.env_file.clone().unwrap_or_default();
            for (name, mut rx) in before {
                let status = match rx.wait_for(Option::is_some).await {
                    Ok(s) => s.unwrap_or(ExitStatus::Failure),
                    Err(_) => ExitStatus::Failure,
                };
                if !matches!(status, ExitStatus::Success | ExitStatus::ChangesFound) {
                    let r = not_started(file, &name, status);
                    done.send(ExitStatus::Failure);
                    return (i, r);
                }
            }
            let finished = run(&setup, request, clock, &caller).await;
            let r = environment_run(file, finished);
            done.send(r.status);
            (i, r)
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
                status: ExitStatus::Failure,
            })
        })
        .collect();
    let mut report = MultiReport {
        exit_code: 0,
        environments,
    };
    report.exit_code = report.exit_status().code();
    Ok(report)
}

/// An environment's end, told to those waiting for it; a run that ends without telling
/// (a panic) tells them it failed.
struct Done(tokio::sync::watch::Sender<Option<ExitStatus>>);

impl Done {
    fn send(&self, status: ExitStatus) {
        self.0.send_replace(Some(status));
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        if self.0.borrow().is_none() {
            self.0.send_replace(Some(ExitStatus::Failure));
        }
    }
}

/// For each environment, the ones it waits for: with `park up`, those its `after` names;
/// with `park down`, those whose `after` names it; nothing else waits. Also each one's
/// name (its file's path when it does not load: its run reports why). Refuses a cycle and
/// two files of one name. Each file is loaded here once for the order.
fn order(
    setups: &[Setup],
    request: &Request,
) -> Result<(Vec<Vec<usize>>, Vec<String>), OrderError> {
    let envs: Vec<Option<infra_core::Environment>> =
        setups.iter().map(|s| s.environment().ok()).collect();
    let mut index = std::collections::HashMap::new();
    for (i, env) in envs.iter().enumerate() {
        let Some(env) = env else { continue };
        if let Some(&j) = index.get(env.name.as_str()) {
            let file = |k: usize| {
                setups[k]
                    .env_file
                    .clone()
                    .unwrap_or_default()
                    .display()
                    .to_string()
            };
            return Err(OrderError::SameName {
                name: env.name.clone(),
                first: file(j),
                second: file(i),
            });
        }
        index.insert(env.name.as_str(), i);
    }
    // after[i]: the environments of the run that `i` is unparked after.
    let after: Vec<Vec<usize>> = envs
        .iter()
        .map(|env| {
            env.iter()
                .flat_map(|e| &e.after)
                .filter_map(|name| {
                    let found = index.get(name.as_str()).copied();
                    if found.is_none() {
                        tracing::warn!(
                            "`after` names `{name}`, which is not in this run: not waited for"
                        );
                    }
                    found
                })
                .collect()
        })
        .collect();
    if let Some(cycle) = find_cycle(&after) {
        let last = cycle[cycle.len() - 2];
        let env = envs[last].as_ref().expect("in the graph, so loaded");
        let names: Vec<&str> = cycle
            .iter()
            .map(|&k| envs[k].as_ref().map_or("?", |e| e.name.as_str()))
            .collect();
        return Err(OrderError::Cycle {
            file: env.file.display().to_string(),
            at: env
                .after_at
                .unwrap_or(infra_core::environment::LineColumn { line: 1, column: 1 }),
            cycle: names.join(" → "),
        });
    }
    let names = envs
        .iter()
        .zip(setups)
        .map(|(env, setup)| match env {
            Some(env) => env.name.clone(),
            None => setup
                .env_file
                .clone()
                .unwrap_or_default()
                .display()
                .to_string(),
        })
        .collect();
    let waits = match request {
        Request::Run(crate::plan::Direction::Up, _) => after,
        Request::Run(crate::plan::Direction::Down, _) => {
            let mut before = vec![Vec::new(); after.len()];
            for (i, deps) in after.iter().enumerate() {
                for &j in deps {
                    before[j].push(i);
                }
            }
            before
        }
        _ => vec![Vec::new(); after.len()],
    };
    Ok((waits, names))
}

/// A cycle of `edges` as the path that closes it (`[a, b, a]`), if there is one.
fn find_cycle(edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    fn visit(
        n: usize,
        edges: &[Vec<usize>],
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[n] = 1;
        path.push(n);
        for &m in &edges[n] {
            if state[m] == 1 {
                let start = path.iter().position(|&k| k == m).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(m);
                return Some(cycle);
            }
            if state[m] == 0 {
                if let Some(c) = visit(m, edges, state, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        state[n] = 2;
        None
    }
    let mut state = vec![0u8; edges.len()];
    for n in 0..edges.len() {
        if state[n] == 0 {
            if let Some(c) = visit(n, edges, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// An environment not started because the one it waits for did not end well.
fn not_started(file: PathBuf, waited_for: &str, status: ExitStatus) -> EnvironmentRun {
    EnvironmentRun {
        file,
        exit_code: ExitStatus::Failure.code(),
        report: None,
        errors: vec![format!(
            "not started: it waits for `{waited_for}` (`after`), which ended with exit {status}"
        )],
        text: String::new(),
        status: ExitStatus::Failure,
    }
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
        status,
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

#[cfg(test)]
mod tests {
    use super::find_cycle;

    #[test]
    fn a_cycle_is_found_as_the_path_that_closes_it() {
        assert_eq!(find_cycle(&[vec![1], vec![2], vec![]]), None);
        assert_eq!(
            find_cycle(&[vec![1], vec![2], vec![0]]),
            Some(vec![0, 1, 2, 0])
        );
        assert_eq!(find_cycle(&[vec![], vec![1]]), Some(vec![1, 1]));
        assert_eq!(
            find_cycle(&[vec![1, 2], vec![2], vec![]]),
            None,
            "a diamond is no cycle"
        );
    }
}
