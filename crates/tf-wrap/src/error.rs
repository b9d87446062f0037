//! Everything that can stop a tf-wrap command, with its exit status.

use crate::bundle::BundleError;
use crate::diagnose::LockInfo;
use crate::gates::Refusal;
use crate::plan::{PlanJsonError, Summary};
use crate::runner::SpawnError;
use crate::signing::SigningError;
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
    /// A signal stopped the run: Terraform was stopped by the forwarded signal, or not
    /// started.
    #[error("interrupted by {signal}: Terraform {outcome}")]
    Interrupted {
        /// The signal.
        signal: infra_core::runner::Signal,
        /// How Terraform ended.
        outcome: String,
    },
    /// `tf-wrap comment` could not post.
    #[error(transparent)]
    Comment(#[from] crate::comment::CommentError),
    /// The shared set-up (AWS configuration, account guard) failed.
    #[error(transparent)]
    Setup(#[from] infra_core::setup::SetupError),
    /// The bundle's signature is missing, invalid or could not be checked.
    #[error(transparent)]
    Signature(SigningError),
    /// Reading the park records failed.
    #[error("cannot read the park records (for the park guard and the drift check): {0}")]
    Park(#[source] Box<park_state::error::ObserveError>),
    /// No temporary directory for the refresh-only plan of `drift`.
    #[error("cannot create a temporary directory for the refresh-only plan: {0}")]
    Scratch(#[source] std::io::Error),
    /// The JUnit file of `drift` could not be rendered or written.
    #[error("cannot write the JUnit report {path}")]
    Junit {
        /// The file.
        path: std::path::PathBuf,
        /// Why: the XML could not be rendered, or the file not written.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl From<crate::runner::RunError> for TfWrapError {
    fn from(e: crate::runner::RunError) -> TfWrapError {
        match e {
            crate::runner::RunError::Spawn(e) => TfWrapError::Spawn(e),
            crate::runner::RunError::Stopped(signal, command) => TfWrapError::Interrupted {
                signal,
                outcome: format!("{command} was not started"),
            },
        }
    }
}

impl TfWrapError {
    /// The exit status for this error.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            TfWrapError::Setup(e) => e.exit_status(),
            TfWrapError::Comment(e) => e.exit_status(),
            TfWrapError::Version(_) => ExitStatus::InvalidInput,
            TfWrapError::Bundle(BundleError::Unreadable { .. }) => ExitStatus::InvalidInput,
            TfWrapError::Signature(
                SigningError::Unsigned { .. }
                | SigningError::Malformed { .. }
                | SigningError::Invalid { .. },
            ) => ExitStatus::Refused,
            TfWrapError::Signature(SigningError::Aws(_)) => ExitStatus::Failure,
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
            | TfWrapError::Park(_)
            | TfWrapError::Scratch(_)
            | TfWrapError::Junit { .. } => ExitStatus::Failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::Gate;
    use infra_core::aws::{AwsCallError, AwsCallErrorKind};

    /// The exit-code table of `tf-wrap`, one row per variant (and per signature and bundle
    /// cause where they differ).
    #[test]
    fn every_error_has_its_exit_code() {
        let aws = || AwsCallError {
            operation: "kms:Verify",
            resource: Some("alias/prod".into()),
            code: None,
            message: "connection refused".into(),
            kind: AwsCallErrorKind::Dispatch,
            source: None,
        };
        let rows: Vec<(TfWrapError, u8)> = vec![
            (
                TfWrapError::Version(VersionError::Malformed {
                    constraint: ">= x".into(),
                    place: "main.tf:2:3".into(),
                    reason: "not a version".into(),
                }),
                2,
            ),
            (
                TfWrapError::Spawn(SpawnError {
                    binary: "terraform".into(),
                    source: std::io::Error::other("not found"),
                }),
                1,
            ),
            (
                TfWrapError::VersionUnreadable {
                    binary: "terraform".into(),
                    output: "?".into(),
                },
                1,
            ),
            (
                TfWrapError::Terraform {
                    command: "plan".into(),
                    code: "1".into(),
                    hint: String::new(),
                },
                1,
            ),
            (TfWrapError::Locked(Box::default()), 1),
            (
                TfWrapError::Stale {
                    terraform: String::new(),
                },
                4,
            ),
            (
                TfWrapError::Bundle(BundleError::Unreadable {
                    path: "tf-bundle".into(),
                    bundle: None,
                    source: std::io::Error::other("gone"),
                }),
                2,
            ),
            (
                TfWrapError::Bundle(BundleError::Mismatch {
                    dir: "tf-bundle".into(),
                    reasons: vec!["other commit".into()],
                }),
                4,
            ),
            (
                TfWrapError::Bundle(BundleError::Write {
                    path: "tf-bundle".into(),
                    source: std::io::Error::other("full"),
                }),
                1,
            ),
            (
                TfWrapError::PlanJson(PlanJsonError::Invalid {
                    line: 1,
                    column: 1,
                    source: serde_json::from_str::<serde_json::Value>("").unwrap_err(),
                }),
                1,
            ),
            (
                TfWrapError::Refused {
                    refusals: vec![Refusal {
                        gate: Gate::Destroy,
                        address: "aws_rds_cluster.db".into(),
                        reason: "delete".into(),
                    }],
                    summary: Box::default(),
                },
                4,
            ),
            (
                TfWrapError::Interrupted {
                    signal: infra_core::runner::Signal::Terminate,
                    outcome: "stopped".into(),
                },
                1,
            ),
            (
                TfWrapError::Setup(infra_core::setup::SetupError::NoEnvFile),
                2,
            ),
            (
                TfWrapError::Signature(SigningError::Unsigned { key: "k".into() }),
                4,
            ),
            (
                TfWrapError::Signature(SigningError::Malformed {
                    reason: "x".into(),
                    source: None,
                }),
                4,
            ),
            (
                TfWrapError::Signature(SigningError::Invalid {
                    key: "k".into(),
                    detail: String::new(),
                }),
                4,
            ),
            (
                TfWrapError::Signature(SigningError::Aws(Box::new(aws()))),
                1,
            ),
            (
                TfWrapError::Park(Box::new(park_state::error::ObserveError::from(aws()))),
                1,
            ),
            (TfWrapError::Scratch(std::io::Error::other("no space")), 1),
            (
                TfWrapError::Junit {
                    path: "drift.xml".into(),
                    source: "read-only".into(),
                },
                1,
            ),
        ];
        for (error, code) in &rows {
            assert_eq!(error.exit_status().code(), *code, "{error}");
        }
    }
}
