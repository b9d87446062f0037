//! What every command does before its own work: load the environment file, build the SDK
//! configuration and run the account guard. No command-line parser: the binaries fill a
//! [`Setup`] from their arguments (`cli::GlobalArgs::setup`), the libraries take it.

use crate::aws::{AccountGuardError, AwsOptions, CallerIdentity, VerifiedCredentials};
use crate::environment::Environment;
use crate::error::{AwsSetupError, EnvFileError, EnvFileErrorKind};
use crate::exit::ExitStatus;
use crate::retry::Deadline;
use std::path::PathBuf;

/// How a command reaches its environment and AWS.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The environment file (`--env-file` / `INFRA_ENV_FILE`), when one was given.
    pub env_file: Option<PathBuf>,
    /// The SDK options.
    pub aws: AwsOptions,
    /// `--skip-account-guard`: act whatever account the credentials belong to.
    pub skip_account_guard: bool,
}

/// Why a command could not start: the shared failures before any tool-specific work.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Neither `--env-file` nor `INFRA_ENV_FILE` was given.
    #[error("no environment file: pass --env-file PATH or set INFRA_ENV_FILE")]
    NoEnvFile,
    /// The environment file is invalid.
    #[error(transparent)]
    EnvFile(#[from] EnvFileError),
    /// The AWS options are invalid.
    #[error(transparent)]
    Aws(#[from] AwsSetupError),
    /// The account guard refused or could not run.
    #[error(transparent)]
    Guard(#[from] AccountGuardError),
}

impl SetupError {
    /// The exit status for this failure.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            SetupError::NoEnvFile => ExitStatus::InvalidInput,
            SetupError::EnvFile(e) => match e.kind {
                EnvFileErrorKind::Read(_)
                | EnvFileErrorKind::NotUtf8 { .. }
                | EnvFileErrorKind::TooLarge { .. }
                | EnvFileErrorKind::Invalid(_) => ExitStatus::InvalidInput,
            },
            SetupError::Aws(AwsSetupError::InvalidOption { .. }) => ExitStatus::InvalidInput,
            SetupError::Guard(AccountGuardError::WrongAccount { .. }) => ExitStatus::Refused,
            SetupError::Guard(AccountGuardError::Sts(_) | AccountGuardError::NoAccount) => {
                ExitStatus::Failure
            }
        }
    }
}

impl Setup {
    /// Loads and validates the environment file.
    pub fn environment(&self) -> Result<Environment, SetupError> {
        let path = self.env_file.as_ref().ok_or(SetupError::NoEnvFile)?;
        let env = Environment::load(path)?;
        if let Err(problems) = env.usable_schedule() {
            tracing::warn!(
                "{problems}\nthe schedule cannot be used until this is fixed: park's scheduled runs and `status --check` refuse (exit 2); everything else works"
            );
        }
        Ok(env)
    }

    /// The SDK configuration for a read-only command run without an environment file:
    /// region from `--region` or the SDK's chain; no account guard, since there is no
    /// `account_id` to compare with.
    pub async fn aws_without_environment(&self) -> Result<aws_config::SdkConfig, SetupError> {
        tracing::info!("no environment file: read-only, no account guard");
        Ok(crate::aws::sdk_config(&self.aws, None).await?)
    }

    /// Builds the SDK configuration and runs the account guard (unless skipped), its
    /// STS call bounded by the operation timeout.
    pub async fn aws(
        &self,
        env: &Environment,
    ) -> Result<(aws_config::SdkConfig, Option<CallerIdentity>), SetupError> {
        self.aws_until(env, Deadline::none()).await
    }

    /// [`Setup::aws`] for a run with a deadline: the account guard's STS call is retried
    /// only until `deadline`.
    pub async fn aws_until(
        &self,
        env: &Environment,
        deadline: Deadline,
    ) -> Result<(aws_config::SdkConfig, Option<CallerIdentity>), SetupError> {
        let (config, guard) = self.config(env).await?;
        if !guard {
            return Ok((config, None));
        }
        let sts = crate::aws_client!(aws_sdk_sts, &config, deadline, "account-guard");
        let identity = crate::aws::check_account(&sts, env).await?;
        Ok((config, Some(identity)))
    }

    /// The SDK configuration for `env`, and whether the account guard is to run (not with
    /// `--skip-account-guard`, which is warned about here).
    async fn config(&self, env: &Environment) -> Result<(aws_config::SdkConfig, bool), SetupError> {
        let config = crate::aws::sdk_config(&self.aws, Some(env)).await?;
        if self.skip_account_guard {
            tracing::warn!("account guard skipped (--skip-account-guard): not checking that the credentials belong to account {}", env.account_id);
        }
        Ok((config, !self.skip_account_guard))
    }

    /// [`Setup::aws`] for a command that hands AWS credentials to a child process
    /// (tf-wrap's Terraform): the credentials are resolved once, the guard checks exactly
    /// them, and both the returned configuration and the [`VerifiedCredentials`] carry only
    /// them. `None` when the guard is skipped (`--skip-account-guard`): nothing was verified,
    /// so nothing is handed on.
    pub async fn aws_verified(
        &self,
        env: &Environment,
    ) -> Result<(aws_config::SdkConfig, Option<VerifiedCredentials>), SetupError> {
        let (config, guard) = self.config(env).await?;
        if !guard {
            return Ok((config, None));
        }
        let (config, verified) =
            crate::aws::verify_credentials(&config, env, self.aws.operation_timeout).await?;
        Ok((config, Some(verified)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setup_failure_has_its_exit_code() {
        let path = PathBuf::from("prod.env.hcl");
        let env_file = |kind| {
            SetupError::EnvFile(EnvFileError {
                path: path.clone(),
                kind,
            })
        };
        for (error, code) in [
            (SetupError::NoEnvFile, 2),
            (
                env_file(EnvFileErrorKind::Read(std::io::Error::other("gone"))),
                2,
            ),
            (env_file(EnvFileErrorKind::Invalid(Vec::new())), 2),
            (
                SetupError::Aws(AwsSetupError::InvalidOption {
                    option: "--max-attempts",
                    message: "must be at least 1".into(),
                }),
                2,
            ),
            (
                SetupError::Guard(AccountGuardError::WrongAccount {
                    environment: "prod".into(),
                    expected: "1".into(),
                    actual: "2".into(),
                    arn: "arn".into(),
                }),
                4,
            ),
            (SetupError::Guard(AccountGuardError::NoAccount), 1),
        ] {
            assert_eq!(error.exit_status().code(), code, "{error}");
        }
    }
}
