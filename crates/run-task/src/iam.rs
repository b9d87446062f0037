//! `run-task iam-policy`: the least-privilege IAM policy for the environment's `task`
//! blocks. The action lists are the calls the code makes; a test runs the tool through a
//! recording proxy and checks the two agree.

use infra_core::environment::{Environment, TaskNetwork};
use serde_json::{json, Value};
use state_lock::S3Backend;

/// Reads before anything starts: the revision (IAM does not scope DescribeTaskDefinition
/// to a resource) and the services the task needs or copies its network from.
pub const READ_ACTIONS: &[&str] = &["ecs:DescribeServices", "ecs:DescribeTaskDefinition"];
/// Starting the task (RunTask on the family; tags on the new task need TagResource).
pub const START_ACTIONS: &[&str] = &["ecs:RunTask", "ecs:TagResource"];
/// Following and stopping it, and finding it by `startedBy` after a lost answer.
pub const TASK_ACTIONS: &[&str] = &["ecs:DescribeTasks", "ecs:ListTasks", "ecs:StopTask"];
/// Its container's log lines.
pub const LOG_ACTIONS: &[&str] = &["logs:GetLogEvents"];
/// Reading park's lock (never taking it): the DynamoDB item, or the S3 lock file.
pub const LOCK_READ_ACTIONS: &[&str] = &["dynamodb:GetItem", "s3:GetObject"];

/// Every action `run-task run` may call (sts:GetCallerIdentity needs no permission).
pub fn all_actions() -> Vec<&'static str> {
    let mut all = [
        READ_ACTIONS,
        START_ACTIONS,
        TASK_ACTIONS,
        LOG_ACTIONS,
        LOCK_READ_ACTIONS,
    ]
    .concat();
    all.sort_unstable();
    all
}

/// The policy document for every `task` block of `env`, with the read of its lock
/// (`lock`: the state's `s3` backend, when it has one).
///
/// The roles the task definitions name are passed to ECS (`iam:PassRole`, only to
/// `ecs-tasks.amazonaws.com`); the log groups are the task definitions' (`awslogs-group`),
/// which the file does not name, so the logs statement covers the account's groups in
/// the Region: narrow both to your roles and group when you paste the policy.
pub fn policy(env: &Environment, lock: Option<&S3Backend>) -> Value {
    let (region, account) = (&env.region, &env.account_id);
    let mut statements = Vec::new();
    let clusters: Vec<String> = unique(
        env.tasks
            .iter()
            .map(|t| format!("arn:aws:ecs:{region}:{account}:cluster/{}", t.cluster)),
    );
    if !env.tasks.is_empty() {
        statements.push(json!({"Sid": "ReadTaskDefinitions", "Effect": "Allow", "Action": ["ecs:DescribeTaskDefinition"], "Resource": "*"}));
        let services: Vec<String> = unique(env.tasks.iter().flat_map(|t| {
            let mut names: Vec<&String> = t.needs.iter().collect();
            if let TaskNetwork::From(s) = &t.network {
                names.push(s);
            }
            names
                .into_iter()
                .map(|s| format!("arn:aws:ecs:{region}:{account}:service/{}/{s}", t.cluster))
                .collect::<Vec<_>>()
        }));
        if !services.is_empty() {
            statements.push(json!({"Sid": "ReadServices", "Effect": "Allow", "Action": ["ecs:DescribeServices"], "Resource": services}));
        }
        let families: Vec<String> = unique(env.tasks.iter().map(|t| {
            format!(
                "arn:aws:ecs:{region}:{account}:task-definition/{}:*",
                t.task_definition
            )
        }));
        statements.push(json!({
            "Sid": "RunTasks", "Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": families,
            "Condition": {"ArnEquals": {"ecs:cluster": clusters}}
        }));
        let tasks: Vec<String> = unique(
            env.tasks
                .iter()
                .map(|t| format!("arn:aws:ecs:{region}:{account}:task/{}/*", t.cluster)),
        );
        statements.push(json!({
            "Sid": "TagNewTasks", "Effect": "Allow", "Action": ["ecs:TagResource"], "Resource": tasks,
            "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}}
        }));
        statements.push(json!({"Sid": "FollowTasks", "Effect": "Allow", "Action": ["ecs:DescribeTasks", "ecs:StopTask"], "Resource": tasks}));
        statements.push(json!({
            "Sid": "FindStartedTasks", "Effect": "Allow", "Action": ["ecs:ListTasks"], "Resource": "*",
            "Condition": {"ArnEquals": {"ecs:cluster": clusters}}
        }));
        statements.push(json!({
            "Sid": "PassTaskRoles", "Effect": "Allow", "Action": ["iam:PassRole"],
            "Resource": format!("arn:aws:iam::{account}:role/*"),
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
        }));
        statements.push(json!({
            "Sid": "ReadTaskLogs", "Effect": "Allow", "Action": LOG_ACTIONS,
            "Resource": format!("arn:aws:logs:{region}:{account}:log-group:*:log-stream:*")
        }));
    }
    if let Some(backend) = lock {
        if let Some(table) = &backend.dynamodb_table {
            statements.push(json!({
                "Sid": "ReadEnvironmentLockTable", "Effect": "Allow", "Action": ["dynamodb:GetItem"],
                "Resource": format!("arn:aws:dynamodb:{}:{account}:table/{table}", backend.region),
            }));
        }
        if backend.use_lockfile {
            statements.push(json!({
                "Sid": "ReadEnvironmentLockFile", "Effect": "Allow", "Action": ["s3:GetObject"],
                "Resource": format!("arn:aws:s3:::{}/{}", backend.bucket, backend.lock_file_key()),
            }));
        }
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}
