//! Safety gates, evaluated on the plan's JSON (never on Terraform's text output).
//!
//! - The **destroy gate** refuses a plan that deletes or replaces a resource of a protected
//!   type (the data-holding ones) unless that exact address was allowed.
//! - The **park guard** refuses, while the environment is parked, a plan that would change
//!   the capacity park recorded: an `aws_ecs_service`'s `desired_count`, the
//!   `min_capacity`/`max_capacity` of its `aws_appautoscaling_target`, the Serverless v2
//!   scaling of a parked `aws_rds_cluster`, or the `is_enabled`/`state` of a parked
//!   `aws_cloudwatch_event_rule` (an EventBridge rule). Terraform sees the parked values as
//!   drift and would silently unpark.

use crate::plan::{Action, PlanJson, ResourceChange};
use serde::Serialize;
use serde_json::Value;

/// Which gate refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// A protected resource would be destroyed.
    Destroy,
    /// A parked resource's capacity would change.
    Park,
}

/// One refused resource change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The gate.
    pub gate: Gate,
    /// The resource address in the plan.
    pub address: String,
    /// What the change does and how to allow it.
    pub reason: String,
}

/// A resource park has recorded, so the environment counts as parked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parked {
    /// An ECS service (and its scalable target).
    Service {
        /// Cluster name.
        cluster: String,
        /// Service name.
        service: String,
    },
    /// An Aurora cluster parked under `scale-to-zero`.
    Aurora {
        /// Cluster identifier.
        cluster: String,
    },
    /// An EventBridge rule park disabled.
    Rule {
        /// The rule's name.
        name: String,
        /// Its event bus's name.
        event_bus: String,
    },
}

/// The gates' settings.
#[derive(Debug, Clone, Default)]
pub struct GateOptions {
    /// Protected resource types.
    pub protected_types: Vec<String>,
    /// Addresses whose deletion or replacement was explicitly allowed.
    pub allow_destroy: Vec<String>,
    /// Let the plan change parked capacity.
    pub allow_unpark: bool,
}

/// Evaluates both gates; an empty list means the plan may proceed.
pub fn evaluate(plan: &PlanJson, parked: &[Parked], options: &GateOptions) -> Vec<Refusal> {
    let mut refusals = destroy_gate(plan, options);
    if !options.allow_unpark {
        refusals.extend(park_guard(plan, parked));
    }
    refusals
}

/// The destroy gate alone.
pub fn destroy_gate(plan: &PlanJson, options: &GateOptions) -> Vec<Refusal> {
    plan.resource_changes
        .iter()
        .filter(|rc| !rc.is_data())
        .filter(|rc| options.protected_types.contains(&rc.kind))
        .filter(|rc| rc.action().destroys())
        .filter(|rc| !options.allow_destroy.contains(&rc.address))
        .map(|rc| {
            let verb = if rc.action() == Action::Replace {
                "replaces"
            } else {
                "deletes"
            };
            let why = rc
                .action_reason
                .as_deref()
                .map(|r| format!(" ({})", r.replace('_', " ")))
                .unwrap_or_default();
            Refusal {
                gate: Gate::Destroy,
                address: rc.address.clone(),
                reason: format!(
                    "the plan {verb} {} of protected type {}{why}; allow exactly this with --allow-destroy '{}'",
                    rc.address, rc.kind, rc.address
                ),
            }
        })
        .collect()
}

/// Addresses given to `--allow-destroy` that the plan does not destroy (probably a typo).
pub fn unused_allowances(plan: &PlanJson, options: &GateOptions) -> Vec<String> {
    options
        .allow_destroy
        .iter()
        .filter(|a| {
            !plan
                .resource_changes
                .iter()
                .any(|rc| rc.address == **a && rc.action().destroys())
        })
        .cloned()
        .collect()
}

/// The park guard alone.
pub fn park_guard(plan: &PlanJson, parked: &[Parked]) -> Vec<Refusal> {
    if parked.is_empty() {
        return Vec::new();
    }
    let mut refusals = Vec::new();
    for rc in &plan.resource_changes {
        if rc.is_data() || matches!(rc.action(), Action::NoOp | Action::Read | Action::Delete) {
            continue;
        }
        let (what, attributes): (Option<String>, &[&str]) = match rc.kind.as_str() {
            "aws_ecs_service" => (ecs_service(rc, parked), &["desired_count"]),
            "aws_appautoscaling_target" => (
                scalable_target(rc, parked),
                &["min_capacity", "max_capacity"],
            ),
            "aws_rds_cluster" => (aurora(rc, parked), &["serverlessv2_scaling_configuration"]),
            "aws_cloudwatch_event_rule" => (event_rule(rc, parked), &["is_enabled", "state"]),
            _ => (None, &[]),
        };
        let Some(what) = what else { continue };
        let changed: Vec<String> = attributes
            .iter()
            .filter_map(|attr| changed_value(rc, attr))
            .collect();
        if changed.is_empty() {
            continue;
        }
        refusals.push(Refusal {
            gate: Gate::Park,
            address: rc.address.clone(),
            reason: format!(
                "{what} is parked, and the plan changes {} — applying it would unpark it; run `park up` first, or pass --allow-unpark",
                changed.join(", ")
            ),
        });
    }
    refusals
}

/// `attr: before -> after` when the plan changes it (unknown after counts as a change).
fn changed_value(rc: &ResourceChange, attr: &str) -> Option<String> {
    let before = rc.change.before.get(attr).cloned().unwrap_or(Value::Null);
    let unknown = rc
        .change
        .after_unknown
        .get(attr)
        .is_some_and(|v| v != &Value::Bool(false));
    let after = rc.change.after.get(attr).cloned().unwrap_or(Value::Null);
    if unknown {
        return Some(format!("{attr} {} -> (known after apply)", show(&before)));
    }
    (before != after).then(|| format!("{attr} {} -> {}", show(&before), show(&after)))
}

pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// The value of `attr` after the change, else before.
pub(crate) fn attribute<'a>(rc: &'a ResourceChange, attr: &str) -> Option<&'a str> {
    rc.change
        .after
        .get(attr)
        .and_then(Value::as_str)
        .or_else(|| rc.change.before.get(attr).and_then(Value::as_str))
}

/// A cluster given as a name or an ARN (`arn:aws:ecs:…:cluster/NAME`) → its name.
pub(crate) fn cluster_name(text: &str) -> &str {
    text.rsplit('/').next().unwrap_or(text)
}

fn ecs_service(rc: &ResourceChange, parked: &[Parked]) -> Option<String> {
    let name = attribute(rc, "name")?;
    let cluster = attribute(rc, "cluster").map(cluster_name);
    parked.iter().find_map(|p| match p {
        Parked::Service {
            cluster: c,
            service,
        } if service == name && cluster.is_none_or(|x| x == c) => {
            Some(format!("ECS service {c}/{service}"))
        }
        _ => None,
    })
}

fn scalable_target(rc: &ResourceChange, parked: &[Parked]) -> Option<String> {
    let id = attribute(rc, "resource_id")?;
    parked.iter().find_map(|p| match p {
        Parked::Service { cluster, service } if id == format!("service/{cluster}/{service}") => {
            Some(format!(
                "the scalable target of ECS service {cluster}/{service}"
            ))
        }
        _ => None,
    })
}

/// An `aws_cloudwatch_event_rule`'s name and event bus (`event_bus_name` is a name or an
/// ARN ending `event-bus/NAME`; left out, `default`).
pub(crate) fn event_rule_of(rc: &ResourceChange) -> Option<(&str, &str)> {
    let name = attribute(rc, "name")?;
    let bus = attribute(rc, "event_bus_name").map_or("default", |b| {
        b.rsplit_once("event-bus/").map_or(b, |(_, n)| n)
    });
    Some((name, bus))
}

fn event_rule(rc: &ResourceChange, parked: &[Parked]) -> Option<String> {
    let (name, bus) = event_rule_of(rc)?;
    parked.iter().find_map(|p| match p {
        Parked::Rule { name: n, event_bus } if n == name && event_bus == bus => {
            Some(format!("EventBridge rule {name}"))
        }
        _ => None,
    })
}

fn aurora(rc: &ResourceChange, parked: &[Parked]) -> Option<String> {
    let id = attribute(rc, "cluster_identifier")?;
    parked.iter().find_map(|p| match p {
        Parked::Aurora { cluster } if cluster == id => Some(format!("Aurora cluster {cluster}")),
        _ => None,
    })
}
