//! `state-lock`: the environment lock, which is Terraform's own state lock.
//!
//! # Brief overview
//!
//! Every command that changes production holds the lock Terraform takes for the
//! environment's state, through the same `s3` backend, so the toolkit's tools and a person
//! running `terraform` exclude each other:
//!
//! - [`backend`]: reads the environment's `s3` backend (the root's `backend "s3"` block and
//!   the `backend_config` file) as Terraform merges them.
//! - [`info`]: the lock's body ([`LockInfo`]), Terraform's `statemgr.LockInfo` JSON.
//! - [`error`]: why the backend could not be read or the lock not taken or released.
//! - [`lock`]: takes, waits for, releases and force-unlocks the lock in Terraform's own
//!   format, in either of the backend's locking modes (DynamoDB item, S3 lock file).
//!
//! ```no_run
//! # async fn demo(config: aws_config::SdkConfig, env: infra_core::Environment) {
//! use state_lock::backend::{read, Backend};
//! use state_lock::lock::{LockInfo, StateLock};
//! let Backend::S3(backend) = read(&env).unwrap() else { return };
//! let info = LockInfo::new("park down", "0.1.0", &backend);
//! let lock = StateLock::new(&config, backend);
//! lock.acquire(&info, std::time::Duration::from_secs(300)).await.unwrap();
//! // … change the environment …
//! lock.release(&info).await.unwrap();
//! # }
//! ```

pub mod backend;
pub mod error;
pub mod info;
pub mod lock;

pub use backend::{Backend, S3Backend};
pub use error::{BackendError, LockError};
pub use lock::{LockInfo, StateLock};
