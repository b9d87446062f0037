//! The environment file's `task "NAME" { ... }` blocks: a one-off ECS task (the Prefect
//! deployer) that `run-task` starts once and follows to the end.
//!
//! Read and checked here, below the environment model (which refers to [`TaskSpec`] with
//! an arrow pointing down, as it does to the schedule and the images); the loader places
//! each [`Problem`] at its `file:line:column`. Cross-references to other blocks (`image`
//! naming an `image` block) are the loader's, which sees the whole file.
//!
//! ```
//! use task_spec::{check, RawTask, Network};
//! let raw = RawTask {
//!     task_definition: "blog-prod-prefect-deployer".into(),
//!     cluster: "blog-prod".into(),
//!     container: "deployer".into(),
//!     network_from: Some("prefect-worker".into()),
//!     needs: Some(vec!["prefect-server".into()]),
//!     timeout: Some("20m".into()),
//!     ..RawTask::default()
//! };
//! let (task, problems) = check("prefect-deployer".into(), raw);
//! assert!(problems.is_empty());
//! let task = task.unwrap();
//! assert_eq!(task.network, Network::From("prefect-worker".into()));
//! assert_eq!(task.timeout.as_secs(), 1200);
//! ```

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a task may run when its block says nothing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// The longest `timeout` a block takes: a one-off task that runs longer is a service.
pub const LONGEST_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// A `task "NAME" { ... }` block as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    /// The task definition family (its latest ACTIVE revision runs).
    pub task_definition: String,
    /// The ECS cluster it runs in.
    pub cluster: String,
    /// The container whose exit code decides and whose logs are followed.
    pub container: String,
    /// The service (in the same cluster) whose network configuration, launch type or
    /// capacity provider strategy the task copies.
    #[serde(default)]
    pub network_from: Option<String>,
    /// Or the launch type, given explicitly.
    #[serde(default)]
    pub launch_type: Option<String>,
    /// Or the subnets (awsvpc), given explicitly.
    #[serde(default)]
    pub subnets: Option<Vec<String>>,
    /// And their security groups.
    #[serde(default)]
    pub security_groups: Option<Vec<String>>,
    /// And whether the task gets a public IP.
    #[serde(default)]
    pub assign_public_ip: Option<bool>,
    /// The `image` block (its local) whose pin the container must run.
    #[serde(default)]
    pub image: Option<String>,
    /// Services (in the same cluster) that must be running for the task to work.
    #[serde(default)]
    pub needs: Option<Vec<String>>,
    /// How long the task may take from start to stop (default 20m, at most 24h).
    #[serde(default)]
    pub timeout: Option<String>,
}

/// Where the task's network configuration and launch type come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// Copied from this service of the task's cluster (read when the task starts).
    From(String),
    /// Given in the block.
    Explicit {
        /// `FARGATE`, `EC2` or `EXTERNAL`; none: the cluster's default strategy.
        launch_type: Option<String>,
        /// awsvpc subnets; empty: no network configuration is sent.
        subnets: Vec<String>,
        /// Their security groups.
        security_groups: Vec<String>,
        /// Whether the task gets a public IP.
        assign_public_ip: bool,
    },
}

/// One one-off task, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskSpec {
    /// The block's label (`run-task run NAME`).
    pub name: String,
    /// The task definition family.
    pub task_definition: String,
    /// The cluster.
    pub cluster: String,
    /// The container that decides.
    pub container: String,
    /// Its network configuration and launch type.
    pub network: Network,
    /// The `image` block whose pin the container must run.
    pub image: Option<String>,
    /// Services that must be running.
    pub needs: Vec<String>,
    /// How long the task may take.
    #[serde(serialize_with = "seconds")]
    pub timeout: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// What is wrong with a `task` block: the key in it (none: the block's label) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key in the block (`"cluster"`), or `None` for the block itself.
    pub key: Option<&'static str>,
    /// Why, in words.
    pub message: String,
}

/// ECS's names of clusters, services, families and containers: 1-255 letters, digits,
/// `_`, `-`.
pub fn is_ecs_name(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `prefix-` and 8 to 17 lowercase hex digits (`subnet-0a1b2c3d`, `sg-…`).
fn is_id(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            (8..=17).contains(&hex.len())
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// Checks the block `task "NAME"`: the task (none when a required part is unusable) and
/// every problem.
pub fn check(name: String, raw: RawTask) -> (Option<TaskSpec>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut problem =
        |key: Option<&'static str>, message: String| problems.push(Problem { key, message });
    if !is_ecs_name(&name) {
        problem(
            None,
            format!("task `{name}` must be named with 1-255 letters, digits, `_` or `-`"),
        );
    }
    for (key, value, what) in [
        (
            "task_definition",
            &raw.task_definition,
            "a task definition family name (no revision, no ARN)",
        ),
        ("cluster", &raw.cluster, "an ECS cluster name"),
        ("container", &raw.container, "a container name"),
    ] {
        if !is_ecs_name(value) {
            problem(
                Some(key),
                format!("`{key}` \"{value}\" is not {what}: 1-255 letters, digits, `_`, `-`"),
            );
        }
    }
    let explicit = raw.launch_type.is_some()
        || raw.subnets.is_some()
        || raw.security_groups.is_some()
        || raw.assign_public_ip.is_some();
    if let Some(launch_type) = &raw.launch_type {
        if !["FARGATE", "EC2", "EXTERNAL"].contains(&launch_type.as_str()) {
            problem(
                Some("launch_type"),
                format!("`launch_type` \"{launch_type}\" is not FARGATE, EC2 or EXTERNAL"),
            );
        }
    }
    for (i, subnet) in raw.subnets.iter().flatten().enumerate() {
        if !is_id(subnet, "subnet") {
            problem(
                Some("subnets"),
                format!("`subnets[{i}]` \"{subnet}\" is not a subnet ID (subnet-0a1b2c3d)"),
            );
        }
    }
    for (i, group) in raw.security_groups.iter().flatten().enumerate() {
        if !is_id(group, "sg") {
            problem(
                Some("security_groups"),
                format!(
                    "`security_groups[{i}]` \"{group}\" is not a security group ID (sg-0a1b2c3d)"
                ),
            );
        }
    }
    if raw.security_groups.is_some() && raw.subnets.as_ref().is_none_or(Vec::is_empty) {
        problem(
            Some("security_groups"),
            "`security_groups` needs `subnets`: they are the awsvpc network configuration"
                .to_owned(),
        );
    }
    let network = match &raw.network_from {
        Some(service) => {
            if !is_ecs_name(service) {
                problem(
                    Some("network_from"),
                    format!("`network_from` \"{service}\" is not an ECS service name"),
                );
            }
            if explicit {
                problem(
                    Some("network_from"),
                    "`network_from` copies the service's launch type and network: give it or `launch_type`/`subnets`/`security_groups`/`assign_public_ip`, not both".to_owned(),
                );
            }
            Network::From(service.clone())
        }
        None => Network::Explicit {
            launch_type: raw.launch_type.clone(),
            subnets: raw.subnets.clone().unwrap_or_default(),
            security_groups: raw.security_groups.clone().unwrap_or_default(),
            assign_public_ip: raw.assign_public_ip.unwrap_or(false),
        },
    };
    let mut needs: Vec<String> = Vec::new();
    for (i, service) in raw.needs.iter().flatten().enumerate() {
        if !is_ecs_name(service) {
            problem(
                Some("needs"),
                format!("`needs[{i}]` \"{service}\" is not an ECS service name"),
            );
        } else if needs.contains(service) {
            problem(Some("needs"), format!("`needs` names `{service}` twice"));
        } else {
            needs.push(service.clone());
        }
    }
    let timeout = match raw.timeout.as_deref().map(humantime::parse_duration) {
        None => DEFAULT_TIMEOUT,
        Some(Ok(d)) if d.is_zero() => {
            problem(
                Some("timeout"),
                "`timeout` must be longer than zero".to_owned(),
            );
            DEFAULT_TIMEOUT
        }
        Some(Ok(d)) if d > LONGEST_TIMEOUT => {
            problem(
                Some("timeout"),
                format!(
                    "`timeout` \"{}\" is longer than 24h, the longest a one-off task may take",
                    raw.timeout.as_deref().unwrap_or_default()
                ),
            );
            DEFAULT_TIMEOUT
        }
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            problem(
                Some("timeout"),
                format!(
                    "`timeout` \"{}\" is not a duration such as \"20m\" or \"1h\": {e}",
                    raw.timeout.as_deref().unwrap_or_default()
                ),
            );
            DEFAULT_TIMEOUT
        }
    };
    let task = TaskSpec {
        name,
        task_definition: raw.task_definition,
        cluster: raw.cluster,
        container: raw.container,
        network,
        image: raw.image,
        needs,
        timeout,
    };
    (Some(task), problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawTask {
        RawTask {
            task_definition: "blog-prod-prefect-deployer".into(),
            cluster: "blog-prod".into(),
            container: "deployer".into(),
            ..RawTask::default()
        }
    }

    fn keys(raw: RawTask) -> Vec<(Option<&'static str>, String)> {
        check("deployer".into(), raw)
            .1
            .into_iter()
            .map(|p| (p.key, p.message))
            .collect()
    }

    #[test]
    fn a_minimal_block_runs_on_the_clusters_default_strategy() {
        let (task, problems) = check("deployer".into(), raw());
        assert!(problems.is_empty(), "{problems:?}");
        let task = task.unwrap();
        assert_eq!(
            task.network,
            Network::Explicit {
                launch_type: None,
                subnets: vec![],
                security_groups: vec![],
                assign_public_ip: false
            }
        );
        assert_eq!(task.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn every_bad_value_is_named_by_its_key() {
        let found = keys(RawTask {
            task_definition: "blog:3".into(),
            cluster: String::new(),
            container: "deployer".into(),
            network_from: Some("prefect-worker".into()),
            launch_type: Some("LAMBDA".into()),
            subnets: Some(vec!["subnet-xyz".into()]),
            security_groups: Some(vec!["sg-0123abcd".into()]),
            needs: Some(vec![
                "prefect-server".into(),
                "prefect-server".into(),
                "a b".into(),
            ]),
            timeout: Some("2d".into()),
            ..RawTask::default()
        });
        let keys: Vec<_> = found.iter().map(|(k, _)| k.unwrap_or("-")).collect();
        assert_eq!(
            keys,
            [
                "task_definition",
                "cluster",
                "launch_type",
                "subnets",
                "network_from",
                "needs",
                "needs",
                "timeout"
            ],
            "{found:#?}"
        );
        assert!(found[7].1.contains("longer than 24h"), "{}", found[7].1);
    }

    #[test]
    fn security_groups_need_subnets_and_timeouts_parse() {
        let found = keys(RawTask {
            security_groups: Some(vec!["sg-0123abcd".into()]),
            timeout: Some("soon".into()),
            ..raw()
        });
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].1.contains("needs `subnets`"));
        assert!(found[1].1.contains("not a duration"));
        assert!(keys(RawTask {
            timeout: Some("0s".into()),
            ..raw()
        })[0]
            .1
            .contains("longer than zero"));
        let (task, _) = check(
            "deployer".into(),
            RawTask {
                subnets: Some(vec!["subnet-0a1b2c3d".into()]),
                security_groups: Some(vec!["sg-0a1b2c3d4e5f60718".into()]),
                assign_public_ip: Some(true),
                launch_type: Some("FARGATE".into()),
                timeout: Some("90s".into()),
                ..raw()
            },
        );
        let task = task.unwrap();
        assert_eq!(task.timeout, Duration::from_secs(90));
        assert!(matches!(
            task.network,
            Network::Explicit {
                assign_public_ip: true,
                ..
            }
        ));
    }
}
