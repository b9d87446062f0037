//! The environment lock around `park down` and `park up`: Terraform's own state lock
//! (see the `state-lock` crate), so park, tf-wrap and a person running `terraform` never
//! change the environment at the same time.

use infra_core::Environment;
use state_lock::{Backend, BackendError, StateLock};

/// The operation names park writes into the lock, as Terraform shows them.
pub fn operation(direction: crate::plan::Direction) -> &'static str {
    match direction {
        crate::plan::Direction::Down => "park down",
        crate::plan::Direction::Up => "park up",
    }
}

/// Why park cannot lock the environment (exit 2: a configuration to fix, nothing done).
#[derive(Debug, thiserror::Error)]
pub enum LockSetupError {
    /// The backend configuration is unreadable or invalid.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// There is no lock to take.
    #[error("{0}; park takes Terraform's state lock so it never changes the environment while Terraform or another park run does. Configure an s3 backend with `dynamodb_table` or `use_lockfile = true` (the root's `backend \"s3\"` block and the environment file's terraform.backend_config), or pass --no-lock to run without it")]
    NoLock(String),
}

/// The lock of `env`'s state, from its Terraform root and backend configuration.
pub fn environment_lock(
    config: &aws_config::SdkConfig,
    env: &Environment,
) -> Result<StateLock, LockSetupError> {
    match state_lock::backend::read(env)? {
        Backend::S3(backend) if backend.has_lock() => Ok(StateLock::new(config, backend)),
        Backend::S3(backend) => Err(LockSetupError::NoLock(format!(
            "the s3 backend ({}) has neither `dynamodb_table` nor `use_lockfile = true`",
            backend.lock_path()
        ))),
        Backend::Other { kind, at } => Err(LockSetupError::NoLock(format!(
            "{at}: the Terraform root uses the `{kind}` backend, whose lock park cannot take"
        ))),
        Backend::None => Err(LockSetupError::NoLock(format!(
            "the Terraform root {} declares no backend",
            env.terraform.root.display()
        ))),
    }
}
