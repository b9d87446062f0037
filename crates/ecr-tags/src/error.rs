//! Errors of `ecr-tags`, each mapped to one exit status.

use infra_core::aws::AwsCallError;
use infra_core::exit::ExitStatus;
use std::path::PathBuf;
use tf_locals::LocalsError;

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
    /// Something the environment file names is not in AWS (a task definition family with no
    /// ACTIVE revision, a service): what runs cannot be told.
    #[error("{0}")]
    NotFound(String),
    /// A safety rule refused.
    #[error("refusing: {0}")]
    Refused(String),
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] infra_core::error::WriteError),
    /// Git could not be run or answered unexpectedly.
    #[error("git: {0}")]
    Git(String),
    /// The environment file, the AWS options or the account guard stopped the command
    /// before it started.
    #[error(transparent)]
    Setup(#[from] infra_core::setup::SetupError),
    /// A stop (SIGINT/SIGTERM) ended the command where it was.
    #[error("{}", if *writes { "interrupted; every pin file is either untouched or wholly rewritten (written atomically; with --commit, the commit is made by one ref update, so the branch holds it or not): run `ecr-tags pins` to see which, and rerun a --commit bump to finish it" } else { "interrupted; nothing was changed (this command only reads)" })]
    Interrupted {
        /// Whether the command writes (a bump), so what may have been written is said.
        writes: bool,
    },
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
            | EcrTagsError::NotFound(_)
            | EcrTagsError::Git(_)
            | EcrTagsError::Interrupted { .. } => ExitStatus::Failure,
            EcrTagsError::Setup(e) => e.exit_status(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infra_core::aws::AwsCallErrorKind;

    /// The exit-code table of `ecr-tags`, one row per variant: adding a variant without a
    /// row here fails to compile the `match` below.
    #[test]
    fn every_error_has_its_exit_code() {
        let aws = || AwsCallError {
            operation: "ecr:DescribeImages",
            resource: Some("blog-data".into()),
            code: None,
            message: "connection refused".into(),
            kind: AwsCallErrorKind::Dispatch,
            source: None,
        };
        let path = PathBuf::from("main.tf");
        let errors = [
            EcrTagsError::UnknownImage {
                name: "x".into(),
                known: "y".into(),
            },
            EcrTagsError::Usage("bad".into()),
            EcrTagsError::ReadFile {
                path: path.clone(),
                source: std::io::Error::other("gone"),
            },
            EcrTagsError::Locals {
                path,
                source: LocalsError::NotFound { local: "x".into() },
            },
            EcrTagsError::Aws(aws()),
            EcrTagsError::NoTags {
                repository: "r".into(),
                pattern: "p".into(),
            },
            EcrTagsError::Tie {
                count: 2,
                at: "now".into(),
                candidates: "a, b".into(),
            },
            EcrTagsError::Refused("no".into()),
            EcrTagsError::Write(infra_core::error::WriteError {
                path: "main.tf".into(),
                source: std::io::Error::other("full"),
            }),
            EcrTagsError::Git("no git".into()),
            EcrTagsError::NotFound("service c/s does not exist".into()),
            EcrTagsError::Setup(infra_core::setup::SetupError::NoEnvFile),
            EcrTagsError::Interrupted { writes: true },
        ];
        for error in &errors {
            let expected = match error {
                EcrTagsError::UnknownImage { .. }
                | EcrTagsError::Usage(_)
                | EcrTagsError::ReadFile { .. }
                | EcrTagsError::Locals { .. }
                | EcrTagsError::Setup(_) => 2,
                EcrTagsError::Aws(_)
                | EcrTagsError::NoTags { .. }
                | EcrTagsError::Tie { .. }
                | EcrTagsError::Write(_)
                | EcrTagsError::NotFound(_)
                | EcrTagsError::Git(_)
                | EcrTagsError::Interrupted { .. } => 1,
                EcrTagsError::Refused(_) => 4,
            };
            assert_eq!(error.exit_status().code(), expected, "{error}");
        }
    }
}
