//! What is checked before anything starts. Every check runs, every refusal is collected
//! (a person fixes them all at once); any refusal means nothing is started (exit 4).

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, LaunchType, LogDriver,
    NetworkConfiguration,
};
use infra_core::aws::AwsCallError;
use infra_core::environment::{Environment, TaskNetwork, TaskSpec};
use state_lock::{Backend, StateLock};

/// The revision that runs: the family's latest ACTIVE one, and what it says of the
/// container that decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// Its ARN (`…:task-definition/FAMILY:REV`).
    pub arn: String,
    /// Its revision number.
    pub revision: i32,
    /// The deciding container's image.
    pub image: String,
    /// Where the container's logs go, when it uses the `awslogs` driver.
    pub log: Option<LogSource>,
    /// The task role, passed to ECS (`iam:PassRole`).
    pub task_role: Option<String>,
    /// The execution role, passed to ECS (`iam:PassRole`).
    pub execution_role: Option<String>,
}

/// The `awslogs` driver's options.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogSource {
    /// `awslogs-group`.
    pub group: String,
    /// `awslogs-region` (the environment's when absent).
    pub region: Option<String>,
    /// `awslogs-stream-prefix`: without one (possible on EC2 only) the stream is named
    /// after the Docker container's ID, which ECS does not report, and nothing is followed.
    pub stream_prefix: Option<String>,
}

impl LogSource {
    /// The stream of `container` of task `task_id`: `PREFIX/CONTAINER/TASK_ID`.
    pub fn stream(&self, container: &str, task_id: &str) -> Option<String> {
        self.stream_prefix
            .as_ref()
            .map(|p| format!("{p}/{container}/{task_id}"))
    }
}

/// How the task is placed: the launch type or capacity provider strategy, the network
/// configuration and platform version, copied from a service or given in the block.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// The launch type (none when a strategy is given or the cluster's default applies).
    pub launch_type: Option<LaunchType>,
    /// The capacity provider strategy.
    pub strategy: Vec<CapacityProviderStrategyItem>,
    /// awsvpc subnets, security groups and public IP.
    pub network: Option<NetworkConfiguration>,
    /// The Fargate platform version.
    pub platform_version: Option<String>,
    /// Where this came from, for the report (`service prefect-worker`, `the task block`).
    pub source: String,
}

/// Why the checks could not be made (not a refusal: the answer is unknown).
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// An AWS read failed.
    #[error(transparent)]
    Aws(#[from] AwsCallError),
    /// The revision has no container of that name.
    #[error("task definition {arn} has no container `{container}` (it has: {known}); the task block's `container` names the one whose exit code decides")]
    NoContainer {
        /// The revision.
        arn: String,
        /// The name the block gives.
        container: String,
        /// The containers it has.
        known: String,
    },
    /// The pinned image could not be read.
    #[error("cannot read the pin `{local}` in {file}: {message}")]
    Pin {
        /// The image block's local.
        local: String,
        /// The Terraform file.
        file: String,
        /// Why.
        message: String,
    },
    /// The backend configuration, needed to find park's lock, is invalid.
    #[error(transparent)]
    Backend(#[from] state_lock::BackendError),
    /// Park's lock could not be read.
    #[error("cannot read the environment lock: {0}")]
    Lock(#[from] state_lock::LockError),
}

/// The family's latest ACTIVE revision (DescribeTaskDefinition with the family alone).
pub async fn revision(
    ecs: &aws_sdk_ecs::Client,
    spec: &TaskSpec,
) -> Result<Revision, PreflightError> {
    let out = ecs
        .describe_task_definition()
        .task_definition(&spec.task_definition)
        .send()
        .await
        .map_err(AwsCallError::on(
            "ecs:DescribeTaskDefinition",
            spec.task_definition.clone(),
        ))?;
    let Some(def) = out.task_definition() else {
        return Err(PreflightError::NoContainer {
            arn: spec.task_definition.clone(),
            container: spec.container.clone(),
            known: "none: the answer had no task definition".into(),
        });
    };
    let arn = def.task_definition_arn().unwrap_or_default().to_owned();
    let containers = def.container_definitions();
    let Some(container) = containers
        .iter()
        .find(|c| c.name() == Some(spec.container.as_str()))
    else {
        return Err(PreflightError::NoContainer {
            arn,
            container: spec.container.clone(),
            known: containers
                .iter()
                .filter_map(|c| c.name())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let log = container
        .log_configuration()
        .filter(|l| l.log_driver() == &LogDriver::Awslogs)
        .and_then(|l| {
            let options = l.options()?;
            Some(LogSource {
                group: options.get("awslogs-group")?.clone(),
                region: options.get("awslogs-region").cloned(),
                stream_prefix: options.get("awslogs-stream-prefix").cloned(),
            })
        });
    Ok(Revision {
        arn,
        revision: def.revision(),
        image: container.image().unwrap_or_default().to_owned(),
        log,
        task_role: def.task_role_arn().map(str::to_owned),
        execution_role: def.execution_role_arn().map(str::to_owned),
    })
}

/// The refusal when the block's `image` is set and the revision does not run its pin
/// (the rule of `ecr-tags pins --live`: same repository, digest where both have one,
/// else tag).
pub fn pin_refusal(
    env: &Environment,
    spec: &TaskSpec,
    revision: &Revision,
) -> Result<Option<String>, PreflightError> {
    let Some(local) = &spec.image else {
        return Ok(None);
    };
    // The loader checked that the block names an image block.
    let Some(image) = env.image(local) else {
        return Ok(None);
    };
    let pin_error = |message: String| PreflightError::Pin {
        local: local.clone(),
        file: image.file.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(&image.file).map_err(|e| pin_error(e.to_string()))?;
    let pin = tf_locals::find_pin(&text, local).map_err(|e| pin_error(e.to_string()))?;
    if tf_locals::image::runs_pin(
        &revision.image,
        &image.repository,
        &pin.tag,
        pin.digest.as_deref(),
    ) {
        return Ok(None);
    }
    Ok(Some(format!(
        "{} (revision {}) runs {}, not the pin {}:{}{} of `{local}` ({}:{}): apply the pin first (tf-wrap plan/apply), or check `ecr-tags pins --live`",
        spec.task_definition,
        revision.revision,
        revision.image,
        image.repository,
        pin.tag,
        pin.digest.as_deref().map(|d| format!("@{d}")).unwrap_or_default(),
        image.file.display(),
        pin.at,
    )))
}

/// Reads the services the task needs and copies its network from: the refusals (a needed
/// service missing, inactive or parked at 0) and the placement.
pub async fn services(
    ecs: &aws_sdk_ecs::Client,
    spec: &TaskSpec,
) -> Result<(Placement, Vec<String>), AwsCallError> {
    let mut names: Vec<&str> = spec.needs.iter().map(String::as_str).collect();
    if let TaskNetwork::From(service) = &spec.network {
        if !names.contains(&service.as_str()) {
            names.push(service);
        }
    }
    let mut found = Vec::new();
    for chunk in names.chunks(10) {
        let out = ecs
            .describe_services()
            .cluster(&spec.cluster)
            .set_services(Some(chunk.iter().map(|s| (*s).to_owned()).collect()))
            .send()
            .await
            .map_err(AwsCallError::on(
                "ecs:DescribeServices",
                format!("{}/{}", spec.cluster, chunk.join(",")),
            ))?;
        found.extend(out.services().iter().cloned());
    }
    let service = |name: &str| {
        found
            .iter()
            .find(|s| s.service_name() == Some(name) && s.status() != Some("INACTIVE"))
    };
    let mut refusals = Vec::new();
    for name in &spec.needs {
        match service(name) {
            None => refusals.push(format!(
                "task `{}` needs service {}/{name}, which does not exist (or is inactive)",
                spec.name, spec.cluster
            )),
            Some(s) if s.desired_count() == 0 => refusals.push(format!(
                "task `{}` needs service {}/{name}, which is parked (desired count 0): unpark it first (`park up`; `park up --hold-until TIME` keeps the schedule from parking it meanwhile)",
                spec.name, spec.cluster
            )),
            Some(_) => {}
        }
    }
    let placement = match &spec.network {
        TaskNetwork::From(name) => match service(name) {
            None => {
                refusals.push(format!(
                    "task `{}` copies its network from service {}/{name} (`network_from`), which does not exist (or is inactive)",
                    spec.name, spec.cluster
                ));
                Placement::default()
            }
            Some(s) => Placement {
                launch_type: s
                    .launch_type()
                    .filter(|_| s.capacity_provider_strategy().is_empty())
                    .cloned(),
                strategy: s.capacity_provider_strategy().to_vec(),
                network: s.network_configuration().cloned(),
                platform_version: s.platform_version().map(str::to_owned),
                source: format!("service {}/{name}", spec.cluster),
            },
        },
        TaskNetwork::Explicit {
            launch_type,
            subnets,
            security_groups,
            assign_public_ip,
        } => Placement {
            launch_type: launch_type.as_deref().map(LaunchType::from),
            strategy: Vec::new(),
            network: (!subnets.is_empty()).then(|| {
                NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        AwsVpcConfiguration::builder()
                            .set_subnets(Some(subnets.clone()))
                            .set_security_groups(Some(security_groups.clone()))
                            .assign_public_ip(if *assign_public_ip {
                                AssignPublicIp::Enabled
                            } else {
                                AssignPublicIp::Disabled
                            })
                            .build()
                            .expect("subnets are set"),
                    )
                    .build()
            }),
            platform_version: None,
            source: format!("task block `{}`", spec.name),
        },
    };
    Ok((placement, refusals))
}

/// The refusal when a park run holds the environment lock (Terraform's state lock, which
/// park takes around `park down`/`up`/`hold`/`release`): the services the task needs are
/// being changed. Another holder (Terraform, tf-wrap) is only noted: the deployer runs
/// after the apply, and a plan in progress changes nothing. `Ok(None, note)` when the
/// root has no lock to read.
pub async fn park_lock(
    config: &aws_config::SdkConfig,
    env: &Environment,
) -> Result<(Option<String>, Option<String>), PreflightError> {
    let lock = match state_lock::backend::read(env)? {
        Backend::S3(backend) if backend.has_lock() => StateLock::new(config, backend),
        _ => {
            return Ok((
                None,
                Some(
                    "the Terraform root has no state lock to read: park's lock was not checked"
                        .into(),
                ),
            ))
        }
    };
    let holder = lock.holder().await?;
    Ok(match holder {
        Some(info) if info.operation.starts_with("park ") => (
            Some(format!(
                "a park run holds the environment lock ({}): the services the task needs are being changed; run again when it is done",
                info.describe()
            )),
            None,
        ),
        Some(info) => (
            None,
            Some(format!("the environment lock is held ({}); the task does not need it", info.describe())),
        ),
        None => (None, None),
    })
}
