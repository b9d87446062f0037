//! The exit codes every tool of the toolkit shares.
//!
//! One table, documented in the README and in each binary's `--help`, so a CI job can tell
//! "nothing to do" from "something to change" from "refused" without parsing output.

use std::fmt;

/// The outcome of a command, as a process exit code.
///
/// Binaries map every error to exactly one of these in one exhaustive `match`; unknown
/// failures are [`ExitStatus::Failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitStatus {
    /// The command succeeded, or there was nothing to do.
    Success,
    /// The operation failed (an AWS call, Terraform, a check that could not run).
    Failure,
    /// The input or the command line was invalid; nothing was done.
    InvalidInput,
    /// A check found something to change (`--check`, a plan with changes).
    ChangesFound,
    /// A safety guard refused to act (wrong account, unsafe plan, stale bundle).
    Refused,
}

/// `0`: success or nothing to do.
pub const SUCCESS: u8 = 0;
/// `1`: the operation failed.
pub const FAILURE: u8 = 1;
/// `2`: invalid input or usage.
pub const INVALID_INPUT: u8 = 2;
/// `3`: a check found something to change.
pub const CHANGES_FOUND: u8 = 3;
/// `4`: refused by a safety guard.
pub const REFUSED: u8 = 4;

/// The exit-code table as text, for `--help` of every binary.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success, or nothing to do
  1  the operation failed
  2  invalid input or usage (nothing was done)
  3  a check found something to change (--check, a plan with changes)
  4  refused by a safety guard (wrong account, unsafe or stale plan)";

impl ExitStatus {
    /// The numeric process exit code.
    pub const fn code(self) -> u8 {
        match self {
            ExitStatus::Success => SUCCESS,
            ExitStatus::Failure => FAILURE,
            ExitStatus::InvalidInput => INVALID_INPUT,
            ExitStatus::ChangesFound => CHANGES_FOUND,
            ExitStatus::Refused => REFUSED,
        }
    }

    /// The more severe of two outcomes, for commands that combine several results.
    /// Severity order: invalid input, refused, failure, changes found, success.
    pub fn worst(self, other: ExitStatus) -> ExitStatus {
        fn rank(s: ExitStatus) -> u8 {
            match s {
                ExitStatus::Success => 0,
                ExitStatus::ChangesFound => 1,
                ExitStatus::Failure => 2,
                ExitStatus::Refused => 3,
                ExitStatus::InvalidInput => 4,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_documented_table() {
        for (status, code) in [
            (ExitStatus::Success, 0),
            (ExitStatus::Failure, 1),
            (ExitStatus::InvalidInput, 2),
            (ExitStatus::ChangesFound, 3),
            (ExitStatus::Refused, 4),
        ] {
            assert_eq!(status.code(), code);
            assert!(EXIT_CODES_HELP.contains(&format!("  {code}  ")));
        }
    }

    #[test]
    fn worst_prefers_the_more_severe_outcome() {
        assert_eq!(
            ExitStatus::Success.worst(ExitStatus::ChangesFound),
            ExitStatus::ChangesFound
        );
        assert_eq!(
            ExitStatus::Refused.worst(ExitStatus::Failure),
            ExitStatus::Refused
        );
        assert_eq!(
            ExitStatus::Failure.worst(ExitStatus::InvalidInput),
            ExitStatus::InvalidInput
        );
    }
}
