//! The environment lock around a changing command, released on every way out, and
//! `park unlock`.

use super::{Finished, Outcome, ParkError};
use crate::engine::Stop;
use infra_core::Environment;
use state_lock::LockInfo;
use std::time::Duration;

/// Releases a lock left by a killed run: only when `id` is its ID.
pub async fn unlock(
    config: &aws_config::SdkConfig,
    env: &Environment,
    id: &str,
) -> Result<Outcome, ParkError> {
    let lock = crate::lock::environment_lock(config, env)?;
    let removed = lock.force_unlock(id).await?;
    Ok(Outcome::Unlocked {
        lock: lock.backend().lock_path(),
        holder: removed.describe(),
    })
}

/// How a command takes the environment lock.
pub(super) struct LockOptions {
    /// The operation written into the lock (`park down`, `park hold`).
    pub(super) operation: &'static str,
    /// No lock at all (a dry run changes nothing).
    pub(super) skip: bool,
    /// `--no-lock`: run without it, with a warning.
    pub(super) no_lock: bool,
    /// How long to wait for a held lock (default: the file's `terraform.lock_timeout`).
    pub(super) timeout: Option<Duration>,
}

/// Runs `work` under the environment lock (unless skipped); the lock is released on every
/// way out (done, failed, deadline, SIGINT/SIGTERM, a panic).
pub(super) async fn locked<W>(
    env: &Environment,
    config: &aws_config::SdkConfig,
    options: LockOptions,
    stop: &Stop,
    work: W,
) -> Finished
where
    W: std::future::Future<Output = Result<Outcome, ParkError>> + Send + 'static,
{
    let done = |result| Finished {
        result,
        release: None,
    };
    let lock = if options.skip {
        None
    } else if options.no_lock {
        tracing::warn!("--no-lock: running without the environment lock; another park run or Terraform may change the environment at the same time");
        None
    } else {
        match crate::lock::environment_lock(config, env) {
            Ok(lock) => Some(lock),
            Err(e) => return done(Err(e.into())),
        }
    };
    let held = match &lock {
        None => None,
        Some(lock) => {
            let info = LockInfo::new(options.operation, env!("CARGO_PKG_VERSION"), lock.backend());
            let timeout = options.timeout.unwrap_or(env.terraform.lock_timeout);
            tokio::select! {
                taken = lock.acquire(&info, timeout) => {
                    if let Err(e) = taken {
                        return done(Err(e.into()));
                    }
                }
                () = stop.wait() => {
                    // A write that went through as the signal came is ours to remove; one
                    // that did not is someone else's and left alone.
                    let _ = lock.release(&info).await;
                    return done(Err(ParkError::InterruptedWaitingForLock));
                }
            }
            Some(info)
        }
    };
    // In its own task, so even a panic comes back here and the lock is released.
    let result = match tokio::spawn(work).await {
        Ok(result) => result,
        Err(e) => Err(ParkError::Lost(e.to_string())),
    };
    let release = match (&lock, &held) {
        (Some(lock), Some(info)) => lock.release(info).await.err().map(ParkError::from),
        _ => None,
    };
    Finished { result, release }
}
