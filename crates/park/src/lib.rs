//! `park`: reversible parking and unparking of an environment's compute.
//!
//! # Brief overview
//!
//! - [`observe`]: reads the live state of every resource the environment file names (ECS
//!   services, their Application Auto Scaling targets, Aurora clusters) with as few calls
//!   as the APIs allow, run concurrently.
//! - [`status`]: the `park status` report built from that observation.
//! - [`savings`]: what parking saves, per resource and in total (prices from the
//!   environment file or a built-in table).
//! - [`record`]: the park record (a tag on the resource) written before anything changes.
//! - [`hold`]: holds ("keep it awake until …"), tags on the environment's ECS clusters.
//! - [`plan`]: what park or unpark would do to each resource, from the environment file
//!   and the observation (pure).
//! - [`engine`]: carries a plan out: bounded, each resource's steps in order, within the
//!   run's deadline, stopping cleanly on a signal. [`wait`]: service-stable and
//!   cluster-available waits.
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

pub mod command;
pub mod engine;
pub mod error;
pub mod hold;
pub mod iam;
pub mod lock;
pub mod observe;
pub mod plan;
pub mod record;
pub mod report;
pub mod savings;
pub mod status;
pub mod wait;
