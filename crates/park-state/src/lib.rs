//! `park-state`: what `park` leaves on the environment and how to read it back, shared by
//! the `park` tool (which writes it) and `tf-wrap` (whose park guard and drift check read
//! it). Neither tool depends on the other.
//!
//! # Brief overview
//!
//! - [`record`]: the park record, one tag value on the resource (`v1 desired=2 …`), its
//!   encoding, decoding and tag rules.
//! - [`hold`]: the hold's two tags on the ECS clusters ("keep it awake until …").
//! - [`change`]: the last completed park or unpark, who ran it and whether the schedule
//!   did, one tag on the ECS clusters.
//! - [`observe`]: reads the live state of every resource the environment file names (ECS
//!   services, their Application Auto Scaling targets, Aurora clusters, ECS clusters,
//!   EventBridge rules) with as few calls as the APIs allow, run concurrently.
//! - [`polls`]: stability polls batched per cluster, ten services a DescribeServices.
//! - [`state`]: the states AWS reports (service and Aurora status, rule state, launch type,
//!   scheduling strategy) as enums that keep values added later.
//! - [`error`]: [`error::ObserveError`], the live state could not be read.
//! - [`iam`]: the IAM actions the observation calls.
//!
//! ```no_run
//! # async fn demo(config: aws_config::SdkConfig, env: infra_core::Environment) {
//! let clients = park_state::observe::Clients::new(&config, infra_core::retry::Deadline::none());
//! let live = park_state::observe::observe(&clients, &env).await.unwrap();
//! assert_eq!(live.services.len(), env.services().count());
//! # }
//! ```

pub mod change;
pub mod error;
pub mod hold;
pub mod iam;
pub mod observe;
pub mod polls;
pub mod record;
pub mod state;
