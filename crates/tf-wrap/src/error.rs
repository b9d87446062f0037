//! Everything that can stop a tf-wrap command, with its exit status.

use crate::bundle::BundleError;
use crate::diagnose::LockInfo;
use crate::gates::Refusal;
use crate::plan::{PlanJsonError, Summary};
use crate::runner::SpawnError;
use crate::version::VersionError;
use infra_core::exit::ExitStatus;

/// Why a tf-wrap command stopped.
#[derive(Debug, thiserror::Error)]
pub enum TfWrapError {
    /// The binary's version does not satisfy the root, or cannot be checked.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// The binary could not be run.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// `version` printed nothing we can read.
    #[error("cannot read the version of `{binary}` from its output: {output}")]
    VersionUnreadable {
        /// The binary.
        binary: String,
        /// What it printed.
        output: String,
    },
    /// Terraform failed.
    #[error("`terraform {command}` failed (exit {code}){hint}")]
    Terraform {
        /// The subcommand.
        command: String,
        /// Its exit code, or `signal`.
        code: String,
        /// What to do about it, with a leading separator, or empty.
        hint: String,
    },
    /// Somebody else holds the state lock.
    #[error("{0}; tf-wrap never force-unlocks: wait for that run to finish and retry. Only if it is certainly dead, release the lock yourself with `{unlock}`", unlock = .0.unlock_command())]
    Locked(Box<LockInfo>),
    /// The saved plan no longer matches the state.
    #[error("the saved plan is stale: the state changed after it was planned (another apply ran), so Terraform refused to apply it and changed nothing. Next step: run `tf-wrap plan` again, review and approve the new plan{}", if terraform.is_empty() { String::new() } else { format!(". Terraform said: {terraform}") })]
    Stale {
        /// Terraform's own words, when they were not already streamed.
        terraform: String,
    },
    /// The plan bundle could not be read, written, or is refused.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The plan's JSON could not be read.
    #[error(transparent)]
    PlanJson(#[from] PlanJsonError),
    /// A safety gate refused the plan.
    #[error("the plan is refused by a safety gate:\n{}", .refusals.iter().map(|r| format!("  - {}: {}", r.address, r.reason)).collect::<Vec<_>>().join("\n"))]
    Refused {
        /// Each refused change.
        refusals: Vec<Refusal>,
        /// The plan's summary, for the report.
        summary: Box<Summary>,
    },
    /// A forwarded signal stopped Terraform.
    #[error("interrupted by {signal}: Terraform {outcome}")]
    Interrupted {
        /// The signal.
        signal: &'static str,
        /// How Terraform ended.
        outcome: String,
    },
    /// The shared set-up (AWS configuration, account guard) failed.
    #[error(transparent)]
    Setup(#[from] infra_core::cli::SetupError),
    /// The bundle's signature is missing, invalid or could not be checked.
    #[error(transparent)]
    Signature(crate::signing::SigningError),
    /// Reading the park records failed.
    #[error("cannot read the park records for the park guard: {0}")]
    Park(String),
}

impl TfWrapError {
    /// The exit status for this error.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            TfWrapError::Setup(e) => e.exit_status(),
            TfWrapError::Version(_) => ExitStatus::InvalidInput,
            TfWrapError::Bundle(BundleError::Unreadable { .. }) => ExitStatus::InvalidInput,
            TfWrapError::Signature(e) if e.is_refusal() => ExitStatus::Refused,
            TfWrapError::Signature(_) => ExitStatus::Failure,
            TfWrapError::Bundle(BundleError::Mismatch { .. })
            | TfWrapError::Stale { .. }
            | TfWrapError::Refused { .. } => ExitStatus::Refused,
            TfWrapError::Spawn(_)
            | TfWrapError::VersionUnreadable { .. }
            | TfWrapError::Terraform { .. }
            | TfWrapError::Locked(_)
            | TfWrapError::Bundle(BundleError::Write { .. })
            | TfWrapError::PlanJson(_)
            | TfWrapError::Interrupted { .. }
            | TfWrapError::Park(_) => ExitStatus::Failure,
        }
    }
}
