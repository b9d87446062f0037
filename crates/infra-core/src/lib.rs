//! `infra-core`: the shared foundation of the prod-environment toolkit.
//!
//! # Brief overview
//!
//! - [`environment`]: the environment file (HCL) and its validated model: account, region,
//!   Terraform settings, ECS services and their scaling, Aurora clusters, pinned images,
//!   endpoints. Every error names `file:line:column`.
//! - [`aws`]: the one place that builds the AWS SDK configuration (credential chain, region,
//!   endpoint overrides, retries, timeouts) and the account guard.
//! - [`retry`]: the run's deadline, the AWS retry policy bounded by it ([`aws_client!`]),
//!   and [`retry::until`] for every other retry, wait and poll.
//! - [`runner`]: many items at once, bounded, ordered, a panic reported as that item's
//!   failure; the [`runner::Caller`] every tool's run takes (progress display, what a stop
//!   looks like), so libraries neither draw nor install signal handlers.
//! - [`setup`]: what every command does first: the environment file, the SDK
//!   configuration, the account guard, and the exit code of each way that fails.
//! - [`exit`]: the exit codes every tool shares.
//! - [`output`]: text or versioned JSON reports, tables.
//! - [`fs`]: atomic, validated file writes.
//! - [`notify`]: the `notify` block's model (sending is the `infra-notify` crate's).
//!
//! The library never prints, never exits and has no command-line parser: the binaries'
//! shared clap argument groups, logging, progress bar and signal handling are `infra-cli`'s.
//!
//! ```
//! use infra_core::exit::ExitStatus;
//! assert_eq!(ExitStatus::Refused.code(), 4);
//! ```

pub mod aws;
pub mod build;
pub mod environment;
pub mod error;
pub mod exit;
pub mod fs;
pub mod notify;
pub mod output;
pub mod retry;
pub mod runner;
pub mod setup;

pub use environment::Environment;
pub use exit::ExitStatus;
