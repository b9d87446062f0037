//! Errors of `ecr-tags`, each mapped to one exit status.

use infra_core::aws::AwsCallError;
use infra_core::exit::ExitStatus;
use infra_core::locals::LocalsError;
use std::path::PathBuf;

/// Why an `ecr-tags` command did not complete.
#[derive(Debug, thiserror::Error)]
pub enum EcrTagsError {
    /// The image name is not an `image` block of the environment file.
    #[error("no image `{name}` in the environment file (known: {known})")]
    UnknownImage {
        /// The name given.
        name: String,
        /// The images the file defines.
        known: String,
    },
    /// Invalid command-line input.
    #[error("{0}")]
    Usage(String),
    /// The Terraform file could not be read.
    #[error("cannot read {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The pinned local could not be read or rewritten.
    #[error("{}:{source}", path.display())]
    Locals {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: LocalsError,
    },
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsCallError),
    /// No tag of the repository belongs to the family.
    #[error("no tag in repository {repository} matches `{pattern}`")]
    NoTags {
        /// The repository.
        repository: String,
        /// The family pattern.
        pattern: String,
    },
    /// Several images of the family were pushed at the same newest time.
    #[error("cannot tell the newest image: {count} images with different digests were pushed at {at}: {candidates}")]
    Tie {
        /// How many.
        count: usize,
        /// The push time.
        at: String,
        /// `tag (digest)` for each.
        candidates: String,
    },
    /// A safety rule refused.
    #[error("refusing: {0}")]
    Refused(String),
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] infra_core::error::WriteError),
    /// Git could not be run or answered unexpectedly.
    #[error("git: {0}")]
    Git(String),
}

impl EcrTagsError {
    /// No tag of `repository` matches `pattern`.
    pub fn no_tags(repository: &str, pattern: &infra_core::environment::TagPattern) -> Self {
        EcrTagsError::NoTags {
            repository: repository.to_owned(),
            pattern: pattern.as_str().to_owned(),
        }
    }

    /// The exit status for this error.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            EcrTagsError::UnknownImage { .. }
            | EcrTagsError::Usage(_)
            | EcrTagsError::Locals { .. } => ExitStatus::InvalidInput,
            EcrTagsError::ReadFile { .. } => ExitStatus::InvalidInput,
            EcrTagsError::Refused(_) => ExitStatus::Refused,
            EcrTagsError::Aws(_)
            | EcrTagsError::NoTags { .. }
            | EcrTagsError::Tie { .. }
            | EcrTagsError::Write(_)
            | EcrTagsError::Git(_) => ExitStatus::Failure,
        }
    }
}
