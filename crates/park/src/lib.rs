//! `park`: reversible parking and unparking of an environment's compute.
//!
//! # Brief overview
//!
//! - [`observe`], [`record`], [`error`]: the live state, the park record and the
//!   observation's error, from the `park-state` crate (shared with tf-wrap) and re-exported
//!   here.
//! - [`status`]: the `park status` report built from that observation.
//! - [`savings`]: what parking saves, per resource and in total (prices from the
//!   environment file or a built-in table).
//! - [`hold`]: holds ("keep it awake until …"), tags on the environment's ECS clusters:
//!   writing and removing them, parsing `--until` (the tag format is `park_state::hold`).
//! - [`plan`]: what park or unpark would do to each resource, from the environment file
//!   and the observation (pure).
//! - [`engine`]: carries a plan out: bounded, each resource's steps in order, within the
//!   run's deadline, stopping cleanly on a signal. [`wait`]: service-stable and
//!   cluster-available waits.
//! - [`converge`]: what a `--scheduled` run decides: the schedule's expected state now,
//!   the live state, holds and who changed the environment last (`park_state::change`).
//!   [`clock`]: the run's time, real or set by `--now`.
//! - [`lock`]: the environment lock (Terraform's state lock) around a run.
//! - [`report`]: the `park/run` report. [`iam`]: the least-privilege policy.
//! - [`command`]: the use cases (`down`, `up`, `status`, `unlock`, `iam-policy`) as one
//!   call returning a typed outcome or a [`command::ParkError`], whose one exhaustive
//!   `match` gives the exit code.
//!
//! ```no_run
//! # async fn demo(config: aws_config::SdkConfig, env: infra_core::Environment) {
//! let clients = park::observe::Clients::new(&config, infra_core::retry::Deadline::none());
//! let live = park::observe::observe(&clients, &env).await.unwrap();
//! println!("{} services observed", live.services.len());
//! # }
//! ```
//!
//! [`cli`] (feature `cli`, on by default) is the `park` command line itself.

#[cfg(feature = "cli")]
pub mod cli;
pub mod clock;
pub mod command;
pub mod converge;
pub mod engine;
pub mod hold;
pub mod iam;
pub mod lock;
pub mod multi;
pub mod plan;
pub mod report;
pub mod savings;
pub mod status;
pub mod wait;

pub use park_state::{change, error, observe, record, state};
