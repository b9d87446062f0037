//! `park iam-policy`: the least-privilege IAM policy for this tool, scoped to the
//! environment's resources. The action lists are the calls the code makes; a test runs
//! park through a recording proxy and checks the two agree.

use infra_core::environment::{AuroraParkPolicy, Environment};
use serde_json::{json, Value};
use state_lock::S3Backend;

pub use park_state::iam::{EVENTS_READ_ACTIONS, OBSERVE_ACTIONS};

/// Read actions, on every resource the environment names: the observation's and the
/// savings estimate's task sizes.
pub const READ_ACTIONS: &[&str] = &[
    "ecs:DescribeClusters",
    "ecs:DescribeServices",
    "ecs:DescribeTaskDefinition",
    "application-autoscaling:DescribeScalableTargets",
    "rds:DescribeDBClusters",
    "events:DescribeRule",
    "events:ListTagsForResource",
];

/// Mutating actions on EventBridge rules that are parked.
pub const EVENTS_WRITE_ACTIONS: &[&str] = &[
    "events:DisableRule",
    "events:EnableRule",
    "events:TagResource",
    "events:UntagResource",
];

/// Mutating actions on ECS services that are parked.
pub const ECS_WRITE_ACTIONS: &[&str] =
    &["ecs:TagResource", "ecs:UntagResource", "ecs:UpdateService"];

/// Holds: tags on the environment's ECS clusters.
pub const HOLD_ACTIONS: &[&str] = &["ecs:TagResource", "ecs:UntagResource"];

/// Mutating Application Auto Scaling actions.
pub const AUTOSCALING_WRITE_ACTIONS: &[&str] = &["application-autoscaling:RegisterScalableTarget"];

/// Mutating actions on Aurora clusters parked with `scale-to-zero`.
pub const RDS_WRITE_ACTIONS: &[&str] = &[
    "rds:AddTagsToResource",
    "rds:ModifyDBCluster",
    "rds:RemoveTagsFromResource",
];

/// The environment lock through DynamoDB: the item `bucket/key` of the lock table.
pub const LOCK_DYNAMODB_ACTIONS: &[&str] = &[
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
];

/// The environment lock through the S3 lock file `key.tflock`.
pub const LOCK_S3_ACTIONS: &[&str] = &["s3:DeleteObject", "s3:GetObject", "s3:PutObject"];

/// Every action the park engine may call (sts:GetCallerIdentity needs no permission; the
/// lock's actions are [`LOCK_DYNAMODB_ACTIONS`] and [`LOCK_S3_ACTIONS`]).
pub fn all_actions() -> Vec<&'static str> {
    let mut all: Vec<&str> = [
        READ_ACTIONS,
        ECS_WRITE_ACTIONS,
        AUTOSCALING_WRITE_ACTIONS,
        RDS_WRITE_ACTIONS,
        EVENTS_WRITE_ACTIONS,
    ]
    .concat();
    all.sort_unstable();
    all
}

/// The policy document for `env`, with the actions of its environment lock (`lock`: the
/// state's `s3` backend, when it has one).
pub fn policy(env: &Environment, lock: Option<&S3Backend>) -> Value {
    let service_arn = |cluster: &str, service: &str| {
        format!(
            "arn:aws:ecs:{}:{}:service/{cluster}/{service}",
            env.region, env.account_id
        )
    };
    let cluster_arn = |name: &str| {
        format!(
            "arn:aws:rds:{}:{}:cluster:{name}",
            env.region, env.account_id
        )
    };
    let all_services: Vec<String> = env
        .services()
        .map(|(c, s)| service_arn(&c.name, &s.name))
        .collect();
    let parked_services: Vec<String> = env
        .services()
        .filter(|(_, s)| s.park)
        .map(|(c, s)| service_arn(&c.name, &s.name))
        .collect();
    let all_clusters: Vec<String> = env
        .aurora_clusters
        .iter()
        .map(|a| cluster_arn(&a.name))
        .collect();
    let scaled_clusters: Vec<String> = env
        .aurora_clusters
        .iter()
        .filter(|a| a.park == AuroraParkPolicy::ScaleToZero)
        .map(|a| cluster_arn(&a.name))
        .collect();

    let mut statements = Vec::new();
    if !all_services.is_empty() {
        statements.push(json!({"Sid": "ReadEcsServices", "Effect": "Allow", "Action": ["ecs:DescribeServices"], "Resource": all_services}));
        // Application Auto Scaling cannot scope these to a service's target ARN, which is
        // random; the resource is "*" and the engine only names the environment's services.
        statements.push(json!({
            "Sid": "ScalableTargets",
            "Effect": "Allow",
            "Action": ["application-autoscaling:DescribeScalableTargets", "application-autoscaling:RegisterScalableTarget"],
            "Resource": "*"
        }));
    }
    let ecs_clusters = env.ecs_cluster_arns();
    if !all_services.is_empty() {
        // The savings estimate reads the parked services' task sizes. IAM does not scope
        // DescribeTaskDefinition to a resource; it reads definitions, nothing else.
        statements.push(json!({"Sid": "ReadTaskDefinitions", "Effect": "Allow", "Action": ["ecs:DescribeTaskDefinition"], "Resource": "*"}));
    }
    if !ecs_clusters.is_empty() {
        // DescribeClusters reads the holds; the tags are the holds themselves.
        statements.push(json!({"Sid": "ReadEcsClusters", "Effect": "Allow", "Action": ["ecs:DescribeClusters"], "Resource": ecs_clusters}));
        statements.push(json!({"Sid": "HoldEcsClusters", "Effect": "Allow", "Action": HOLD_ACTIONS, "Resource": ecs_clusters}));
    }
    if !parked_services.is_empty() {
        statements.push(json!({"Sid": "ParkEcsServices", "Effect": "Allow", "Action": ECS_WRITE_ACTIONS, "Resource": parked_services}));
    }
    if !all_clusters.is_empty() {
        statements.push(json!({"Sid": "ReadAurora", "Effect": "Allow", "Action": ["rds:DescribeDBClusters"], "Resource": all_clusters}));
    }
    if !scaled_clusters.is_empty() {
        statements.push(json!({"Sid": "ScaleAurora", "Effect": "Allow", "Action": RDS_WRITE_ACTIONS, "Resource": scaled_clusters}));
    }
    let all_rules = env.eventbridge_rule_arns(false);
    let parked_rules = env.eventbridge_rule_arns(true);
    if !all_rules.is_empty() {
        statements.push(json!({"Sid": "ReadEventBridgeRules", "Effect": "Allow", "Action": EVENTS_READ_ACTIONS, "Resource": all_rules}));
    }
    if !parked_rules.is_empty() {
        statements.push(json!({"Sid": "ParkEventBridgeRules", "Effect": "Allow", "Action": EVENTS_WRITE_ACTIONS, "Resource": parked_rules}));
    }
    if let Some(backend) = lock {
        if let Some(table) = &backend.dynamodb_table {
            statements.push(json!({
                "Sid": "EnvironmentLockTable",
                "Effect": "Allow",
                "Action": LOCK_DYNAMODB_ACTIONS,
                "Resource": format!("arn:aws:dynamodb:{}:{}:table/{table}", backend.region, env.account_id),
            }));
        }
        if backend.use_lockfile {
            statements.push(json!({
                "Sid": "EnvironmentLockFile",
                "Effect": "Allow",
                "Action": LOCK_S3_ACTIONS,
                "Resource": format!("arn:aws:s3:::{}/{}", backend.bucket, backend.lock_file_key()),
            }));
        }
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The actions named anywhere in a policy document.
pub fn actions_in(policy: &Value) -> Vec<String> {
    let mut actions: Vec<String> = policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    actions.sort();
    actions.dedup();
    actions
}
