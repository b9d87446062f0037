//! `park`: reversible parking and unparking of an environment's compute.
//!
//! # Brief overview
//!
//! - [`observe`]: reads the live state of every resource the environment file names (ECS
//!   services, their Application Auto Scaling targets, Aurora clusters) with as few calls
//!   as the APIs allow, run concurrently.
//! - [`status`]: the `park status` report built from that observation.
//!
//! The park/unpark plan → apply engine builds on these (see the park issue).
//!
//! ```no_run
//! # async fn demo(config: aws_config::SdkConfig, env: infra_core::Environment) {
//! let clients = park::observe::Clients::new(&config, infra_core::retry::Deadline::none());
//! let live = park::observe::observe(&clients, &env).await.unwrap();
//! println!("{} services observed", live.services.len());
//! # }
//! ```

pub mod engine;
pub mod error;
pub mod iam;
pub mod lock;
pub mod observe;
pub mod plan;
pub mod record;
pub mod report;
pub mod status;
pub mod wait;
