//! Errors of the state-lock crate.

use crate::info::LockInfo;
use infra_core::aws::AwsCallError;
use infra_core::exit::ExitStatus;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The backend configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}", render_backend_error(self))]
pub struct BackendError {
    /// The file being read.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: BackendErrorKind,
}

/// What went wrong reading the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendErrorKind {
    /// The file or directory could not be read.
    Read(String),
    /// A value or the syntax is wrong, at `file:line:column`.
    Invalid {
        /// `file:line:column`.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// A required setting is missing.
    Missing(&'static str),
}

impl BackendError {
    pub(crate) fn new(path: &Path, kind: BackendErrorKind) -> BackendError {
        BackendError {
            path: path.to_owned(),
            kind,
        }
    }
}

fn render_backend_error(e: &BackendError) -> String {
    match &e.kind {
        BackendErrorKind::Read(cause) => {
            format!(
                "cannot read the Terraform backend from {}: {cause}",
                e.path.display()
            )
        }
        BackendErrorKind::Invalid { at, message } => format!("{at}: {message}"),
        BackendErrorKind::Missing(what) => format!("{}: {what}", e.path.display()),
    }
}

/// The lock could not be taken, read or released.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else holds the lock, still after waiting.
    #[error("the environment lock {path} is held by {}; waited {:.1}s. Wait for that run to end; if it was killed, release its lock with `park unlock ID` (or `terraform force-unlock ID`)", holder.as_ref().map_or("an unknown holder".to_owned(), |h| h.describe()), waited.as_secs_f64())]
    Held {
        /// The state's path.
        path: String,
        /// The holder, when its lock could be read.
        holder: Option<Box<LockInfo>>,
        /// How long this run waited.
        waited: Duration,
    },
    /// An AWS call failed.
    #[error("environment lock: {0}")]
    Aws(Box<AwsCallError>),
    /// The lock exists but is not Terraform's lock JSON.
    #[error("the environment lock {path} cannot be read: {message}")]
    Corrupt {
        /// The lock item or file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Nothing holds the lock.
    #[error("no lock is held on {path}")]
    NotLocked {
        /// The state's path.
        path: String,
    },
    /// `unlock ID` was given another ID than the lock's.
    #[error("the lock on {path} has ID {}, not {given}: held by {}; nothing was removed", holder.id, holder.describe())]
    Mismatch {
        /// The state's path.
        path: String,
        /// The ID given.
        given: String,
        /// The actual holder.
        holder: Box<LockInfo>,
    },
    /// The lock this run held was taken away (force-unlocked) before it was released.
    #[error("the environment lock {path} (ID {id}) was no longer this run's when it was released: someone force-unlocked it; it was left as it is")]
    Lost {
        /// The state's path.
        path: String,
        /// This run's lock ID.
        id: String,
    },
}

impl From<AwsCallError> for LockError {
    fn from(e: AwsCallError) -> Self {
        LockError::Aws(Box::new(e))
    }
}

impl LockError {
    /// The exit status a tool reports for this error: a lock held by someone else or an ID
    /// that does not match is a refusal (4), the rest failures (1).
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            LockError::Held { .. } | LockError::Mismatch { .. } => ExitStatus::Refused,
            LockError::Aws(_)
            | LockError::Corrupt { .. }
            | LockError::NotLocked { .. }
            | LockError::Lost { .. } => ExitStatus::Failure,
        }
    }
}
