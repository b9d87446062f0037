//! `tf-wrap iam-policy`: the least-privilege policies of tf-wrap's own AWS calls, one for
//! the plan job's role and one for the apply job's. Both read the park records (the park
//! guard); with signed bundles (`terraform.sign_with`) the plan role may `kms:Sign` and the
//! apply role only `kms:Verify`, so a role that can apply cannot forge an approval.
//! Terraform's own permissions (state, lock, the resources it manages) come on top.

use infra_core::environment::Environment;
use serde_json::{json, Value};

/// The KMS action the plan role needs with signing configured.
pub const PLAN_KMS_ACTIONS: &[&str] = &["kms:Sign"];
/// The KMS action the apply role needs with signing configured.
pub const APPLY_KMS_ACTIONS: &[&str] = &["kms:Verify"];

/// `{"plan": POLICY, "apply": POLICY}` for `env`.
pub fn policies(env: &Environment) -> Value {
    json!({
        "plan": policy(env, PLAN_KMS_ACTIONS),
        "apply": policy(env, APPLY_KMS_ACTIONS),
    })
}

fn policy(env: &Environment, kms_actions: &[&str]) -> Value {
    let mut statements = Vec::new();
    let services: Vec<String> = env
        .services()
        .map(|(c, s)| {
            format!(
                "arn:aws:ecs:{}:{}:service/{}/{}",
                env.region, env.account_id, c.name, s.name
            )
        })
        .collect();
    if !services.is_empty() {
        statements.push(json!({"Sid": "ParkGuardEcs", "Effect": "Allow", "Action": ["ecs:DescribeServices"], "Resource": services}));
        statements.push(json!({"Sid": "ParkGuardScalableTargets", "Effect": "Allow", "Action": ["application-autoscaling:DescribeScalableTargets"], "Resource": "*"}));
    }
    let ecs_clusters = env.ecs_cluster_arns();
    if !ecs_clusters.is_empty() {
        // The observation reads the clusters too (park keeps holds there).
        statements.push(json!({"Sid": "ParkGuardEcsClusters", "Effect": "Allow", "Action": ["ecs:DescribeClusters"], "Resource": ecs_clusters}));
    }
    let clusters: Vec<String> = env
        .aurora_clusters
        .iter()
        .map(|a| {
            format!(
                "arn:aws:rds:{}:{}:cluster:{}",
                env.region, env.account_id, a.name
            )
        })
        .collect();
    if !clusters.is_empty() {
        statements.push(json!({"Sid": "ParkGuardAurora", "Effect": "Allow", "Action": ["rds:DescribeDBClusters"], "Resource": clusters}));
    }
    let rules = env.eventbridge_rule_arns(false);
    if !rules.is_empty() {
        statements.push(json!({"Sid": "ParkGuardEventBridgeRules", "Effect": "Allow", "Action": park_state::iam::EVENTS_READ_ACTIONS, "Resource": rules}));
    }
    if let Some(key) = &env.terraform.sign_with {
        let mut statement =
            json!({"Sid": "BundleSignature", "Effect": "Allow", "Action": kms_actions});
        if let Some(alias) = key.strip_prefix("alias/") {
            // A key named by alias: any key of the account, as long as it carries the alias.
            statement["Resource"] = json!(format!(
                "arn:aws:kms:{}:{}:key/*",
                env.region, env.account_id
            ));
            statement["Condition"] = json!({"ForAnyValue:StringEquals": {"kms:ResourceAliases": format!("alias/{alias}")}});
        } else if key.starts_with("arn:") {
            statement["Resource"] = json!(key);
        } else {
            statement["Resource"] = json!(format!(
                "arn:aws:kms:{}:{}:key/{key}",
                env.region, env.account_id
            ));
        }
        statements.push(statement);
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The park guard and the drift check read the records through `park_state::observe`: both
    /// roles may make every call it makes (park's own test pins that list to the calls).
    #[test]
    fn both_roles_may_read_what_the_park_observation_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prod.env.hcl");
        std::fs::write(
            &path,
            "environment \"prod\" {\n  account_id = \"123456789012\"\n  region     = \"eu-west-2\"\n  ecs_cluster \"blog\" {\n    service \"web\" {\n      desired_count = 1\n    }\n  }\n  aurora_cluster \"db\" {\n    park = \"keep\"\n  }\n  eventbridge_rule \"hourly\" {}\n}\n",
        )
        .unwrap();
        let env = Environment::load(&path).unwrap();
        let all = policies(&env);
        for role in ["plan", "apply"] {
            let actions: Vec<&str> = all[role]["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|s| s["Action"].as_array().unwrap())
                .filter_map(|a| a.as_str())
                .collect();
            for needed in park_state::iam::OBSERVE_ACTIONS {
                assert!(
                    actions.contains(needed),
                    "{role} lacks {needed}: {actions:?}"
                );
            }
        }
    }
}
