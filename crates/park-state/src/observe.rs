//! Reading the live state of the environment's compute and databases.
//!
//! Calls are batched to each API's limit (DescribeServices takes 10 services,
//! DescribeScalableTargets 50 resource IDs) and the four services are read concurrently;
//! EventBridge has no batch read, so each rule's DescribeRule and ListTagsForResource run
//! on their own task, all rules at once.

use crate::change::{Change, CHANGE_TAG_KEY};
use crate::error::ObserveError;
use crate::hold::{Hold, HOLD_REASON_TAG_KEY, HOLD_TAG_KEY};
use crate::record::{
    AuroraRecord, Found, RuleRecord, ServiceRecord, SuspendedFlags, TargetCapacity, RECORD_TAG_KEY,
};
use crate::state::{
    AuroraStatus, CapacityProvider, LaunchType, RuleStatus, SchedulingStrategy, ServiceStatus,
};
use aws_config::SdkConfig;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use infra_core::aws::AwsCallError;
use infra_core::environment::{Environment, EventBridgeRule};
use infra_core::retry::Deadline;
use infra_core::runner::run_bounded;
use rate_budget::Budget;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// The SDK clients the park engine uses, made once from the shared configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    /// Amazon ECS.
    pub ecs: aws_sdk_ecs::Client,
    /// Application Auto Scaling.
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    /// Amazon RDS.
    pub rds: aws_sdk_rds::Client,
    /// Amazon EventBridge.
    pub events: aws_sdk_eventbridge::Client,
    /// The rate budget the engine's calls wait on before they are sent; unmetered unless
    /// set ([`Clients::with_budget`]).
    pub budget: Arc<Budget>,
    /// Stability polls, batched per cluster and waiting on `budget`.
    pub polls: Arc<crate::polls::ServicePolls>,
}

impl Clients {
    /// Clients for every API the park engine calls, their retries bounded by `deadline`
    /// (the run's `--deadline`; [`Deadline::none`] for a command without one).
    pub fn new(config: &SdkConfig, deadline: Deadline) -> Self {
        let ecs = infra_core::aws_client!(aws_sdk_ecs, config, deadline, "park-ecs");
        Clients {
            polls: crate::polls::ServicePolls::new(ecs.clone(), Budget::unmetered()),
            ecs,
            autoscaling: infra_core::aws_client!(
                aws_sdk_applicationautoscaling,
                config,
                deadline,
                "park-application-autoscaling"
            ),
            rds: infra_core::aws_client!(aws_sdk_rds, config, deadline, "park-rds"),
            events: infra_core::aws_client!(
                aws_sdk_eventbridge,
                config,
                deadline,
                "park-eventbridge"
            ),
            budget: Budget::unmetered(),
        }
    }

    /// The same clients, their calls waiting on `budget` (the account's and Region's, shared
    /// with every environment of the run: [`infra_core::aws::budget`]).
    pub fn with_budget(mut self, budget: Arc<Budget>) -> Self {
        self.polls = crate::polls::ServicePolls::new(self.ecs.clone(), Arc::clone(&budget));
        self.budget = budget;
        self
    }
}

/// The live state of everything the environment file names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveEnvironment {
    /// One entry per service in the environment file, in file order.
    pub services: Vec<ServiceState>,
    /// One entry per Aurora cluster in the environment file, in file order.
    pub aurora: Vec<AuroraState>,
    /// One entry per ECS cluster in the environment file, in file order: where holds are.
    pub clusters: Vec<ClusterState>,
    /// One entry per EventBridge rule in the environment file, in file order.
    pub rules: Vec<RuleState>,
}

impl LiveEnvironment {
    /// The hold in force at `now`, if any cluster carries one (the latest-ending one).
    pub fn hold_at(&self, now: std::time::SystemTime) -> Option<&Hold> {
        self.holds()
            .filter(|h| h.holds_at(now))
            .max_by_key(|h| h.end())
    }

    /// The valid hold that ends last, in force or not.
    pub fn latest_hold(&self) -> Option<&Hold> {
        self.holds().max_by_key(|h| h.end())
    }

    /// The last completed park or unpark recorded on any cluster (the latest).
    pub fn last_change(&self) -> Option<&Change> {
        self.clusters
            .iter()
            .filter_map(|c| c.last_change.valid())
            .max_by_key(|c| c.time())
    }

    /// Every valid hold found on the clusters.
    pub fn holds(&self) -> impl Iterator<Item = &Hold> {
        self.clusters.iter().filter_map(|c| c.hold.valid())
    }
}

/// An ECS cluster and the hold it carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterState {
    /// The cluster name.
    pub cluster: String,
    /// Its ARN, when found.
    pub arn: Option<String>,
    /// The hold tag, if any.
    pub hold: Found<Hold>,
    /// The last completed park or unpark, if recorded.
    pub last_change: Found<Change>,
}

/// An ECS service as AWS reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceState {
    /// The cluster.
    pub cluster: String,
    /// The service.
    pub service: String,
    /// The service ARN, when found.
    pub arn: Option<String>,
    /// Whether ECS knows the service (and it is not INACTIVE).
    pub found: bool,
    /// ECS's status (`ACTIVE`, `DRAINING`, `INACTIVE`, `MISSING`).
    pub status: ServiceStatus,
    /// Desired task count.
    pub desired_count: i32,
    /// Running task count.
    pub running_count: i32,
    /// Pending task count.
    pub pending_count: i32,
    /// Deployments in progress (more than one means a rollout is under way).
    pub deployments: usize,
    /// `REPLICA` or `DAEMON`.
    pub scheduling_strategy: Option<SchedulingStrategy>,
    /// The service's current task definition (ARN).
    pub task_definition: Option<String>,
    /// `FARGATE`, `EC2` or `EXTERNAL`, when the service names a launch type.
    pub launch_type: Option<LaunchType>,
    /// The capacity providers of its strategy, when it has one (`FARGATE`, `FARGATE_SPOT`).
    pub capacity_providers: Vec<CapacityProvider>,
    /// The Application Auto Scaling target, when there is one.
    pub scalable_target: Option<TargetCapacity>,
    /// The park record tag, if any.
    pub record: Found<ServiceRecord>,
}

/// An Aurora cluster as RDS reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuroraState {
    /// The DB cluster identifier.
    pub cluster: String,
    /// The DB cluster ARN, when found.
    pub arn: Option<String>,
    /// Whether RDS knows the cluster.
    pub found: bool,
    /// RDS's status (`available`, `stopped`, ...).
    pub status: AuroraStatus,
    /// Serverless v2 minimum ACUs.
    pub min_capacity: Option<f64>,
    /// Serverless v2 maximum ACUs.
    pub max_capacity: Option<f64>,
    /// Serverless v2 `SecondsUntilAutoPause`.
    pub seconds_until_auto_pause: Option<i32>,
    /// Whether deletion protection is on.
    pub deletion_protection: Option<bool>,
    /// The park record tag, if any.
    pub record: Found<AuroraRecord>,
}

/// An EventBridge rule as EventBridge reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleState {
    /// The rule's name.
    pub rule: String,
    /// Its event bus.
    pub event_bus: String,
    /// Its ARN, when found.
    pub arn: Option<String>,
    /// Whether EventBridge knows the rule.
    pub found: bool,
    /// EventBridge's `State`: `ENABLED`, `DISABLED`,
    /// `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`, or `MISSING`.
    pub status: RuleStatus,
    /// Its schedule (`rate(1 hour)`, `cron(…)`), when it has one.
    pub schedule_expression: Option<String>,
    /// The AWS service that manages the rule, when one does (park leaves those alone).
    pub managed_by: Option<String>,
    /// The park record tag, if any.
    pub record: Found<RuleRecord>,
}

impl RuleState {
    /// How reports name the rule: `NAME` on the default bus, `BUS/NAME` on another.
    pub fn display_name(&self) -> String {
        infra_core::environment::rule_path(&self.event_bus, &self.rule)
    }
}

/// The ECS resource ID of a service in Application Auto Scaling.
pub fn scalable_resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

/// Reads the live state of every service, scalable target and Aurora cluster in `env`.
pub async fn observe(
    clients: &Clients,
    env: &Environment,
) -> Result<LiveEnvironment, ObserveError> {
    let (services, targets, aurora, clusters, rules) = tokio::try_join!(
        describe_services(clients, env),
        describe_targets(clients, env),
        describe_aurora(clients, env),
        describe_clusters(clients, env),
        describe_rules(clients, env)
    )?;
    let services = services
        .into_iter()
        .map(|mut s| {
            s.scalable_target = targets
                .get(&scalable_resource_id(&s.cluster, &s.service))
                .copied();
            s
        })
        .collect();
    Ok(LiveEnvironment {
        services,
        aurora,
        clusters,
        rules,
    })
}

/// How many rules are read at once (two calls each).
const RULE_READS_AT_ONCE: usize = 16;

/// The environment's EventBridge rules with their park records: per rule, DescribeRule then
/// ListTagsForResource on the ARN it returns; the rules concurrently.
async fn describe_rules(
    clients: &Clients,
    env: &Environment,
) -> Result<Vec<RuleState>, ObserveError> {
    let results = run_bounded(
        env.eventbridge_rules.clone(),
        RULE_READS_AT_ONCE,
        Deadline::none(),
        |rule| {
            let events = clients.events.clone();
            async move { describe_rule(&events, &rule).await }
        },
        || {},
    )
    .await;
    let mut rules = Vec::with_capacity(results.len());
    for (result, cfg) in results.into_iter().zip(&env.eventbridge_rules) {
        // Without a deadline a read is only lost to a panic: a bug, raised as one.
        let state = result.unwrap_or_else(|lost| {
            panic!("reading EventBridge rule {}: {lost}", cfg.display_name())
        });
        rules.push(state?);
    }
    Ok(rules)
}

async fn describe_rule(
    events: &aws_sdk_eventbridge::Client,
    cfg: &EventBridgeRule,
) -> Result<RuleState, ObserveError> {
    let name = cfg.display_name();
    let described = events
        .describe_rule()
        .name(&cfg.name)
        .event_bus_name(&cfg.event_bus)
        .send()
        .await;
    let rule = match described {
        Ok(rule) => rule,
        Err(e) => {
            let err = AwsCallError::new("events:DescribeRule", Some(name), e);
            if err.is_not_found() {
                return Ok(RuleState {
                    rule: cfg.name.clone(),
                    event_bus: cfg.event_bus.clone(),
                    arn: None,
                    found: false,
                    status: RuleStatus::Missing,
                    schedule_expression: None,
                    managed_by: None,
                    record: Found::None,
                });
            }
            return Err(err.into());
        }
    };
    let record = match rule.arn() {
        Some(arn) => {
            let tags = events
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| AwsCallError::new("events:ListTagsForResource", Some(name), e))?;
            tags.tags()
                .iter()
                .find(|t| t.key() == RECORD_TAG_KEY)
                .map_or(Found::None, |t| match RuleRecord::decode(t.value()) {
                    Ok(record) => Found::Valid { record },
                    Err(e) => Found::Invalid {
                        error: e.to_string(),
                    },
                })
        }
        None => Found::None,
    };
    Ok(RuleState {
        rule: cfg.name.clone(),
        event_bus: cfg.event_bus.clone(),
        arn: rule.arn().map(str::to_owned),
        found: true,
        status: RuleStatus::answered(rule.state().map(|s| s.as_str())),
        schedule_expression: rule.schedule_expression().map(str::to_owned),
        managed_by: rule.managed_by().map(str::to_owned),
        record,
    })
}

/// The environment's ECS clusters with their tags (one DescribeClusters per 100).
async fn describe_clusters(
    clients: &Clients,
    env: &Environment,
) -> Result<Vec<ClusterState>, ObserveError> {
    let names: Vec<&str> = env.ecs_clusters.iter().map(|c| c.name.as_str()).collect();
    let mut found: HashMap<String, ClusterState> = HashMap::new();
    for chunk in names.chunks(100) {
        clients.budget.acquire("ecs", "DescribeClusters").await;
        let out = clients
            .ecs
            .describe_clusters()
            .set_clusters(Some(chunk.iter().map(|n| (*n).to_owned()).collect()))
            .include(aws_sdk_ecs::types::ClusterField::Tags)
            .send()
            .await
            .map_err(|e| AwsCallError::new("ecs:DescribeClusters", Some(chunk.join(", ")), e))?;
        for c in out.clusters() {
            let Some(name) = c.cluster_name() else {
                continue;
            };
            if c.status().map(ServiceStatus::parse) == Some(ServiceStatus::Inactive) {
                continue;
            }
            let tag = |key: &str| {
                c.tags()
                    .iter()
                    .find(|t| t.key() == Some(key))
                    .and_then(|t| t.value())
            };
            let hold = tag(HOLD_TAG_KEY).map_or(Found::None, |v| {
                match Hold::decode(v, tag(HOLD_REASON_TAG_KEY)) {
                    Ok(record) => Found::Valid { record },
                    Err(e) => Found::Invalid {
                        error: e.to_string(),
                    },
                }
            });
            let last_change =
                tag(CHANGE_TAG_KEY).map_or(Found::None, |v| match Change::decode(v) {
                    Ok(record) => Found::Valid { record },
                    Err(e) => Found::Invalid {
                        error: e.to_string(),
                    },
                });
            found.insert(
                name.to_owned(),
                ClusterState {
                    cluster: name.to_owned(),
                    arn: c.cluster_arn().map(str::to_owned),
                    hold,
                    last_change,
                },
            );
        }
    }
    Ok(names
        .into_iter()
        .map(|name| {
            found.remove(name).unwrap_or_else(|| ClusterState {
                cluster: name.to_owned(),
                arn: None,
                hold: Found::None,
                last_change: Found::None,
            })
        })
        .collect())
}

async fn describe_services(
    clients: &Clients,
    env: &Environment,
) -> Result<Vec<ServiceState>, ObserveError> {
    let mut states = Vec::new();
    for cluster in &env.ecs_clusters {
        let names: Vec<&str> = cluster.services.iter().map(|s| s.name.as_str()).collect();
        let mut found: HashMap<String, ServiceState> = HashMap::new();
        for chunk in names.chunks(10) {
            clients.budget.acquire("ecs", "DescribeServices").await;
            let mut req = clients
                .ecs
                .describe_services()
                .cluster(&cluster.name)
                .include(aws_sdk_ecs::types::ServiceField::Tags);
            for name in chunk {
                req = req.services(*name);
            }
            let out = match req.send().await {
                Ok(out) => out,
                Err(e) => {
                    let err = AwsCallError::new(
                        "ecs:DescribeServices",
                        Some(format!("cluster {}", cluster.name)),
                        e,
                    );
                    // A cluster that does not exist has no services: report each as missing.
                    if err.is_not_found() {
                        break;
                    }
                    return Err(err.into());
                }
            };
            for svc in out.services() {
                let Some(name) = svc.service_name() else {
                    continue;
                };
                let status = ServiceStatus::answered(svc.status());
                let record = svc
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some(RECORD_TAG_KEY))
                    .and_then(|t| t.value())
                    .map_or(Found::None, |v| match ServiceRecord::decode(v) {
                        Ok(record) => Found::Valid { record },
                        Err(e) => Found::Invalid {
                            error: e.to_string(),
                        },
                    });
                found.insert(
                    name.to_owned(),
                    ServiceState {
                        cluster: cluster.name.clone(),
                        service: name.to_owned(),
                        arn: svc.service_arn().map(str::to_owned),
                        found: status != ServiceStatus::Inactive,
                        status,
                        desired_count: svc.desired_count(),
                        running_count: svc.running_count(),
                        pending_count: svc.pending_count(),
                        deployments: svc.deployments().len(),
                        scheduling_strategy: svc
                            .scheduling_strategy()
                            .map(|s| SchedulingStrategy::parse(s.as_str())),
                        task_definition: svc.task_definition().map(str::to_owned),
                        launch_type: svc.launch_type().map(|l| LaunchType::parse(l.as_str())),
                        capacity_providers: svc
                            .capacity_provider_strategy()
                            .iter()
                            .map(|c| CapacityProvider::parse(c.capacity_provider()))
                            .collect(),
                        scalable_target: None,
                        record,
                    },
                );
            }
        }
        for name in names {
            states.push(found.remove(name).unwrap_or_else(|| ServiceState {
                cluster: cluster.name.clone(),
                service: name.to_owned(),
                arn: None,
                found: false,
                status: ServiceStatus::Missing,
                desired_count: 0,
                running_count: 0,
                pending_count: 0,
                deployments: 0,
                scheduling_strategy: None,
                task_definition: None,
                launch_type: None,
                capacity_providers: Vec::new(),
                scalable_target: None,
                record: Found::None,
            }));
        }
    }
    Ok(states)
}

async fn describe_targets(
    clients: &Clients,
    env: &Environment,
) -> Result<HashMap<String, TargetCapacity>, ObserveError> {
    let ids: Vec<String> = env
        .services()
        .map(|(c, s)| scalable_resource_id(&c.name, &s.name))
        .collect();
    let mut targets = HashMap::new();
    for chunk in ids.chunks(50) {
        let mut pages = clients
            .autoscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .set_resource_ids(Some(chunk.to_vec()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let out = page.map_err(|e| {
                AwsCallError::new("application-autoscaling:DescribeScalableTargets", None, e)
            })?;
            for t in out.scalable_targets() {
                let suspended = t.suspended_state();
                targets.insert(
                    t.resource_id().to_owned(),
                    TargetCapacity {
                        min: t.min_capacity(),
                        max: t.max_capacity(),
                        suspended: SuspendedFlags {
                            dynamic_in: suspended
                                .and_then(|s| s.dynamic_scaling_in_suspended())
                                .unwrap_or(false),
                            dynamic_out: suspended
                                .and_then(|s| s.dynamic_scaling_out_suspended())
                                .unwrap_or(false),
                            scheduled: suspended
                                .and_then(|s| s.scheduled_scaling_suspended())
                                .unwrap_or(false),
                        },
                    },
                );
            }
        }
    }
    Ok(targets)
}

async fn describe_aurora(
    clients: &Clients,
    env: &Environment,
) -> Result<Vec<AuroraState>, ObserveError> {
    let mut states = Vec::new();
    for aurora in &env.aurora_clusters {
        let result = clients
            .rds
            .describe_db_clusters()
            .db_cluster_identifier(&aurora.name)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                let err = AwsCallError::new("rds:DescribeDBClusters", Some(aurora.name.clone()), e);
                if err.is_not_found() {
                    states.push(AuroraState {
                        cluster: aurora.name.clone(),
                        arn: None,
                        found: false,
                        status: AuroraStatus::Missing,
                        min_capacity: None,
                        max_capacity: None,
                        seconds_until_auto_pause: None,
                        deletion_protection: None,
                        record: Found::None,
                    });
                    continue;
                }
                return Err(err.into());
            }
        };
        let Some(c) = out.db_clusters().first() else {
            continue;
        };
        let scaling = c.serverless_v2_scaling_configuration();
        let record = c
            .tag_list()
            .iter()
            .find(|t| t.key() == Some(RECORD_TAG_KEY))
            .and_then(|t| t.value())
            .map_or(Found::None, |v| match AuroraRecord::decode(v) {
                Ok(record) => Found::Valid { record },
                Err(e) => Found::Invalid {
                    error: e.to_string(),
                },
            });
        states.push(AuroraState {
            cluster: aurora.name.clone(),
            arn: c.db_cluster_arn().map(str::to_owned),
            found: true,
            status: AuroraStatus::parse(c.status().unwrap_or("unknown")),
            min_capacity: scaling.and_then(|s| s.min_capacity()),
            max_capacity: scaling.and_then(|s| s.max_capacity()),
            seconds_until_auto_pause: scaling.and_then(|s| s.seconds_until_auto_pause()),
            deletion_protection: c.deletion_protection(),
            record,
        });
    }
    Ok(states)
}
