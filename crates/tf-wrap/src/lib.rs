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
//! - [`drift`]: a refresh-only plan's drift, classified as parked or unexpected.
//! - [`bundle`]: the plan bundle the apply job verifies before applying.
//! - [`digest`]: the bundle's one digest (hex SHA-256).
//! - [`signing`]: KMS signatures of bundle manifests (opt-in, `terraform.sign_with`).
//! - [`diagnose`]: transient errors, lock holders and stale plans from Terraform's text.
//! - [`workflow`]: `init`, `plan`, `apply` put together.
//! - [`recorded`]: which resources park has recorded, read through `park-state`.
//! - [`command`]: the use cases (`init`, `plan`, `apply`, `drift`, `summary`,
//!   `iam-policy`) as one
//!   call returning a typed [`command::Outcome`] or a [`TfWrapError`], whose one
//!   exhaustive `match` gives the exit code.
//!
//! [`cli`] (feature `cli`, on by default) is the `tf-wrap` command line itself.

// The async state machines of the CLI's `plan` and `drift` (Terraform, park records and
// the signer joined) nest deeper than the default limit of 128 when their layout is
// computed.
#![recursion_limit = "256"]

pub mod bundle;
#[cfg(feature = "cli")]
pub mod cli;
pub mod command;
pub mod comment;
pub mod diagnose;
pub mod digest;
pub mod drift;
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
/// or not), with their records: while any exist, the environment counts as parked for the
/// park guard, and the drift check explains their parked values by them.
pub fn recorded(live: &park_state::observe::LiveEnvironment) -> Vec<drift::Recorded> {
    use park_state::record::Found;
    fn record<R>(found: &Found<R>, parked_at: impl Fn(&R) -> &str) -> Option<drift::Record> {
        match found {
            Found::None => None,
            Found::Valid { record } => Some(drift::Record::Valid {
                parked_at: parked_at(record).to_owned(),
            }),
            Found::Invalid { error } => Some(drift::Record::Unreadable {
                error: error.clone(),
            }),
        }
    }
    let services = live.services.iter().filter_map(|s| {
        Some(drift::Recorded {
            resource: gates::Parked::Service {
                cluster: s.cluster.clone(),
                service: s.service.clone(),
            },
            record: record(&s.record, |r| &r.parked_at)?,
        })
    });
    let aurora = live.aurora.iter().filter_map(|a| {
        Some(drift::Recorded {
            resource: gates::Parked::Aurora {
                cluster: a.cluster.clone(),
            },
            record: record(&a.record, |r| &r.parked_at)?,
        })
    });
    let rules = live.rules.iter().filter_map(|r| {
        Some(drift::Recorded {
            resource: gates::Parked::Rule {
                name: r.rule.clone(),
                event_bus: r.event_bus.clone(),
            },
            record: record(&r.record, |r| &r.parked_at)?,
        })
    });
    services.chain(aurora).chain(rules).collect()
}

/// The resources park has recorded, without their records: what the park guard needs.
pub fn parked(live: &park_state::observe::LiveEnvironment) -> Vec<gates::Parked> {
    recorded(live).into_iter().map(|r| r.resource).collect()
}
