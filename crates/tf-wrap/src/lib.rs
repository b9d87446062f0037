//! `tf-wrap`: the terraform-prod plan, approve and apply workflow with a verified plan
//! bundle and safety gates.
//!
//! # Brief overview
//!
//! - [`runner`]: one consistent Terraform invocation (`-chdir`, `-input=false`,
//!   `TF_IN_AUTOMATION`, no `TF_CLI_ARGS*`), output streamed live and kept, signals
//!   forwarded with a grace period.
//! - [`version`]: the binary's version and the root's `required_version`.
//! - [`plan`]: `show -json` of a saved plan (format 0.1 to 1.x) and its summary (text,
//!   JSON, Markdown).
//! - [`gates`]: the destroy gate and the park guard, on the plan's JSON.
//! - [`bundle`]: the plan bundle the apply job verifies before applying.
//! - [`digest`]: the bundle's one digest (hex SHA-256).
//! - [`signing`]: KMS signatures of bundle manifests (opt-in, `terraform.sign_with`).
//! - [`diagnose`]: transient errors, lock holders and stale plans from Terraform's text.
//! - [`workflow`]: `init`, `plan`, `apply` put together.
//! - [`parked`]: which resources park has recorded, read through the park library.
//! - [`command`]: the use cases (`init`, `plan`, `apply`, `summary`, `iam-policy`) as one
//!   call returning a typed [`command::Outcome`] or a [`TfWrapError`], whose one
//!   exhaustive `match` gives the exit code.

pub mod bundle;
pub mod command;
pub mod diagnose;
pub mod digest;
pub mod error;
pub mod gates;
pub mod iam;
pub mod plan;
pub mod report;
pub mod runner;
pub mod signing;
pub mod version;
pub mod workflow;

pub use error::TfWrapError;

/// The resources of the environment that park has recorded (a record tag is present, valid
/// or not): while any exist, the environment counts as parked for the park guard.
pub fn parked(live: &park::observe::LiveEnvironment) -> Vec<gates::Parked> {
    let mut out: Vec<gates::Parked> = live
        .services
        .iter()
        .filter(|s| !matches!(s.record, park::record::Found::None))
        .map(|s| gates::Parked::Service {
            cluster: s.cluster.clone(),
            service: s.service.clone(),
        })
        .collect();
    out.extend(
        live.aurora
            .iter()
            .filter(|a| !matches!(a.record, park::record::Found::None))
            .map(|a| gates::Parked::Aurora {
                cluster: a.cluster.clone(),
            }),
    );
    out
}
