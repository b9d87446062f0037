//! `run-task`: runs a one-off ECS task declared in the environment file (a `task` block:
//! the Prefect deployer) once, follows it to the end and says how it ended.
//!
//! - [`preflight`]: before anything starts — the family's latest ACTIVE revision and its
//!   container, the pin it must run, the services it needs (not parked), park's lock, the
//!   launch type and network of the service it copies. Any refusal: exit 4, nothing started.
//! - [`start`]: RunTask once, with a `clientToken` and a `startedBy` of its own; an answer
//!   that may have been lost is looked up by that `startedBy` before RunTask is tried again,
//!   so a retried call never starts a second task (AWS honours the token; the lookup also
//!   covers an endpoint that does not).
//! - [`follow`]: DescribeTasks until STOPPED, within the task's timeout; the container's
//!   CloudWatch Logs lines as they arrive ([`logs`]); StopTask on a signal or the timeout.
//! - [`report`]: how it ended (text, JSON `run-task/run`, JUnit) and the notice.
//! - [`command`]: the use case as one call; [`iam`]: the least-privilege policy.

pub mod command;
pub mod follow;
pub mod iam;
pub mod logs;
pub mod preflight;
pub mod report;
pub mod start;

#[cfg(feature = "cli")]
pub mod cli;

/// What the run prints while it goes: the task's states and its container's log lines.
/// The binary writes them to stderr; a test or an embedding program collects them.
pub type Sink = std::sync::Arc<dyn Fn(Line<'_>) + Send + Sync>;

/// One thing to show while the task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// What the run does or sees (a state change, a stop).
    Status(&'a str),
    /// A log line of the container.
    Log(&'a str),
}
