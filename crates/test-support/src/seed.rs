//! Creates an environment's resources in the emulator through the real Rust SDK.
//!
//! Driven by the environment file, so any environment seeds the same way; only the ECR
//! image tags are given explicitly ([`reference_images`] for the reference environment),
//! because a pattern does not say which tags exist.

use aws_config::SdkConfig;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use infra_core::environment::Environment;

/// One image to push: repository and tag. The manifest is made unique per tag, so each
/// tag gets its own digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSeed {
    /// ECR repository name.
    pub repository: String,
    /// Image tag.
    pub tag: String,
}

/// What [`seed`] created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// ECS clusters created.
    pub clusters: usize,
    /// ECS services created.
    pub services: usize,
    /// Application Auto Scaling targets registered.
    pub scalable_targets: usize,
    /// Aurora clusters created.
    pub aurora_clusters: usize,
    /// ECR repositories created.
    pub repositories: usize,
    /// Images pushed.
    pub images: usize,
    /// KMS signing keys created (the alias `terraform.sign_with` names).
    pub signing_keys: usize,
    /// EventBridge rules created (enabled; `rate(1 hour)` on the default bus, an event
    /// pattern on others).
    pub rules: usize,
}

/// The reference environment's ECR content, oldest first: the base image and three deployer
/// builds, the middle one being the tag pinned in `examples/prod/main.tf`.
pub fn reference_images() -> Vec<ImageSeed> {
    [
        "prefect-3-python3.12-ecs-20261101-3c9d2e1",
        "prefect-deployer-3-python3.12-1a2b3c4",
        "prefect-deployer-3-python3.12-4f2a9c1",
        "prefect-deployer-3-python3.12-9e8d7c6",
    ]
    .into_iter()
    .map(|tag| ImageSeed {
        repository: "blog-data".into(),
        tag: tag.into(),
    })
    .collect()
}

/// Extra choices for [`seed_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedOptions {
    /// Services (by name) to create with the DAEMON scheduling strategy.
    pub daemon_services: Vec<String>,
    /// Aurora clusters (by name) to create without deletion protection.
    pub unprotected_clusters: Vec<String>,
    /// Push each image in a later second than the one before. The emulator records push
    /// times in whole seconds, so images pushed quickly tie.
    pub distinct_push_times: bool,
}

/// Creates every ECS cluster, task definition and service, scalable target, Aurora cluster
/// and ECR repository the environment names, the KMS signing key its `terraform.sign_with`
/// alias names, and pushes `images`.
pub async fn seed(
    config: &SdkConfig,
    env: &Environment,
    images: &[ImageSeed],
) -> Result<SeedReport, String> {
    seed_with(config, env, images, &SeedOptions::default()).await
}

/// [`seed`] with [`SeedOptions`].
pub async fn seed_with(
    config: &SdkConfig,
    env: &Environment,
    images: &[ImageSeed],
    options: &SeedOptions,
) -> Result<SeedReport, String> {
    let ecs = aws_sdk_ecs::Client::new(config);
    let aas = aws_sdk_applicationautoscaling::Client::new(config);
    let rds = aws_sdk_rds::Client::new(config);
    let ecr = aws_sdk_ecr::Client::new(config);
    let mut report = SeedReport::default();

    for cluster in &env.ecs_clusters {
        ecs.create_cluster()
            .cluster_name(&cluster.name)
            .send()
            .await
            .map_err(|e| sdk("ecs:CreateCluster", e))?;
        report.clusters += 1;
        for service in &cluster.services {
            let container = aws_sdk_ecs::types::ContainerDefinition::builder()
                .name(&service.name)
                .image(format!(
                    "{}.dkr.ecr.{}.amazonaws.com/{}:latest",
                    env.account_id, env.region, service.name
                ))
                .memory(512)
                .cpu(256)
                .essential(true)
                .build();
            let td = ecs
                .register_task_definition()
                .family(format!("{}-{}", cluster.name, service.name))
                .container_definitions(container)
                .send()
                .await
                .map_err(|e| sdk("ecs:RegisterTaskDefinition", e))?;
            let td_arn = td
                .task_definition()
                .and_then(|t| t.task_definition_arn())
                .unwrap_or_default()
                .to_owned();
            let daemon = options.daemon_services.contains(&service.name);
            let create = ecs
                .create_service()
                .cluster(&cluster.name)
                .service_name(&service.name)
                .task_definition(td_arn);
            let create = if daemon {
                create.scheduling_strategy(aws_sdk_ecs::types::SchedulingStrategy::Daemon)
            } else {
                create
                    .desired_count(service.desired_count as i32)
                    .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
            };
            create
                .send()
                .await
                .map_err(|e| sdk("ecs:CreateService", e))?;
            report.services += 1;
            if daemon {
                continue;
            }
            // Settle the service: moto starts runningCount at MOTO_ECS_SERVICE_RUNNING and
            // sets it to desiredCount on every UpdateService, so this makes it look like a
            // service whose tasks are all up.
            ecs.update_service()
                .cluster(&cluster.name)
                .service(&service.name)
                .desired_count(service.desired_count as i32)
                .send()
                .await
                .map_err(|e| sdk("ecs:UpdateService", e))?;
            if let Some(range) = service.autoscaling {
                aas.register_scalable_target()
                    .service_namespace(ServiceNamespace::Ecs)
                    .resource_id(format!("service/{}/{}", cluster.name, service.name))
                    .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                    .min_capacity(range.min as i32)
                    .max_capacity(range.max as i32)
                    .send()
                    .await
                    .map_err(|e| sdk("application-autoscaling:RegisterScalableTarget", e))?;
                report.scalable_targets += 1;
            }
        }
    }

    for aurora in &env.aurora_clusters {
        rds.create_db_cluster()
            .db_cluster_identifier(&aurora.name)
            .engine("aurora-postgresql")
            .engine_version("16.4")
            .master_username("postgres")
            .master_user_password("not-a-real-password-1")
            .deletion_protection(!options.unprotected_clusters.contains(&aurora.name))
            .serverless_v2_scaling_configuration(
                aws_sdk_rds::types::ServerlessV2ScalingConfiguration::builder()
                    .min_capacity(0.5)
                    .max_capacity(4.0)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk("rds:CreateDBCluster", e))?;
        report.aurora_clusters += 1;
    }

    let events = aws_sdk_eventbridge::Client::new(config);
    let mut buses: Vec<&str> = Vec::new();
    for rule in &env.eventbridge_rules {
        if rule.event_bus != "default" && !buses.contains(&rule.event_bus.as_str()) {
            events
                .create_event_bus()
                .name(&rule.event_bus)
                .send()
                .await
                .map_err(|e| sdk("events:CreateEventBus", e))?;
            buses.push(&rule.event_bus);
        }
        // EventBridge takes schedules only on the default bus; elsewhere a rule matches events.
        let put = events
            .put_rule()
            .name(&rule.name)
            .event_bus_name(&rule.event_bus);
        let put = if rule.event_bus == "default" {
            put.schedule_expression("rate(1 hour)")
        } else {
            put.event_pattern(r#"{"source":["fleet.jobs"]}"#)
        };
        put.state(aws_sdk_eventbridge::types::RuleState::Enabled)
            .send()
            .await
            .map_err(|e| sdk("events:PutRule", e))?;
        report.rules += 1;
    }

    let mut repositories: Vec<&str> = env.images.iter().map(|i| i.repository.as_str()).collect();
    repositories.extend(images.iter().map(|i| i.repository.as_str()));
    repositories.sort_unstable();
    repositories.dedup();
    for repository in repositories {
        ecr.create_repository()
            .repository_name(repository)
            .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Immutable)
            .send()
            .await
            .map_err(|e| sdk("ecr:CreateRepository", e))?;
        report.repositories += 1;
    }
    for (i, image) in images.iter().enumerate() {
        if options.distinct_push_times && i > 0 {
            sleep_to_next_second().await;
        }
        ecr.put_image()
            .repository_name(&image.repository)
            .image_tag(&image.tag)
            .image_manifest(manifest_for(&image.tag))
            .image_manifest_media_type("application/vnd.docker.distribution.manifest.v2+json")
            .send()
            .await
            .map_err(|e| sdk("ecr:PutImage", e))?;
        report.images += 1;
    }
    if let Some(alias) = env
        .terraform
        .sign_with
        .as_deref()
        .filter(|k| k.starts_with("alias/"))
    {
        kms_signing_key(config, alias).await?;
        report.signing_keys += 1;
    }
    Ok(report)
}

/// Sleeps until just after the next whole second of the clock.
pub async fn sleep_to_next_second() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let wait = std::time::Duration::from_millis(1_020)
        - std::time::Duration::from_nanos(u64::from(now.subsec_nanos()));
    tokio::time::sleep(wait).await;
}

/// A Docker image manifest whose config digest is derived from `tag`, so every tag has a
/// different manifest (and digest).
pub fn manifest_for(tag: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tag.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let hex = format!("{hash:016x}").repeat(4);
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1234,
            "digest": format!("sha256:{hex}")
        },
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": 5678,
            "digest": format!("sha256:{}", hex.chars().rev().collect::<String>())
        }]
    })
    .to_string()
}

fn sdk<E: std::error::Error + 'static>(operation: &str, err: E) -> String {
    format!(
        "{operation}: {}",
        aws_smithy_types::error::display::DisplayErrorContext(err)
    )
}

/// Creates a DynamoDB lock table as Terraform's `s3` backend expects it (`LockID` hash key).
pub async fn lock_table(config: &SdkConfig, table: &str) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    aws_sdk_dynamodb::Client::new(config)
        .create_table()
        .table_name(table)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("LockID")
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("LockID")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("dynamodb:CreateTable {table}: {e:?}"))
}

/// Creates an asymmetric KMS signing key (ECC_NIST_P256, SIGN_VERIFY) named `alias`
/// (`alias/NAME`), as `terraform.sign_with` expects; returns its ARN.
pub async fn kms_signing_key(config: &SdkConfig, alias: &str) -> Result<String, String> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let kms = aws_sdk_kms::Client::new(config);
    let key = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .description("tf-wrap bundle signatures (test)")
        .send()
        .await
        .map_err(|e| format!("kms:CreateKey: {e:?}"))?;
    let meta = key.key_metadata.ok_or("kms:CreateKey returned no key")?;
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(meta.key_id())
        .send()
        .await
        .map_err(|e| format!("kms:CreateAlias {alias}: {e:?}"))?;
    meta.arn
        .ok_or_else(|| "kms:CreateKey returned no ARN".into())
}

/// An S3 client for the emulator (path-style addressing, which a loopback endpoint needs).
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// Creates a state bucket (for the S3 lock file mode).
pub async fn state_bucket(config: &SdkConfig, bucket: &str) -> Result<(), String> {
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    s3_client(config)
        .create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    region.as_str(),
                ))
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("s3:CreateBucket {bucket}: {e:?}"))
}

/// One service of the benchmark and test fleet ([`fleet`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetService {
    /// `svc-NN`.
    pub name: String,
    /// Its desired count.
    pub desired: usize,
    /// Its scalable target's min and max, when it has one.
    pub range: Option<(usize, usize)>,
    /// Whether park manages it (`svc-05` is `park = false`).
    pub park: bool,
}

/// The fleet's services, in order. Service `svc-NN`: NN % 4 == 0 has no scalable target
/// (desired 1 + NN % 3); 1 is 1-4 at 2; 2 is 2-10 at 3; 3 is 0-3 at 1. Service `svc-05`
/// has `park = false` when it exists. `harness fleet-json` prints it for the benchmarks.
pub fn fleet(services: usize) -> Vec<FleetService> {
    (0..services)
        .map(|i| {
            let (desired, range) = match i % 4 {
                0 => (1 + (i % 3), None),
                1 => (2, Some((1, 4))),
                2 => (3, Some((2, 10))),
                _ => (1, Some((0, 3))),
            };
            FleetService {
                name: format!("svc-{i:02}"),
                desired,
                range,
                park: i != 5,
            }
        })
        .collect()
}

/// One EventBridge rule of the fleet ([`fleet_rules`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetRule {
    /// `fleet-rule-NN`.
    pub name: String,
    /// Its event bus: `default`, or `fleet-jobs` for every third rule (NN % 3 == 2).
    pub event_bus: String,
}

/// The fleet's EventBridge rules: one per five services, at least three, so a small
/// fleet has rules on the default event bus and one on another (park's test fleet
/// disables `fleet-rule-01` after seeding: a rule parked while already disabled).
pub fn fleet_rules(services: usize) -> Vec<FleetRule> {
    (0..(services / 5).max(3))
        .map(|i| FleetRule {
            name: format!("fleet-rule-{i:02}"),
            event_bus: if i % 3 == 2 { "fleet-jobs" } else { "default" }.into(),
        })
        .collect()
}

/// An environment file with the [`fleet`] of `services` ECS services in one cluster
/// `fleet`, two Aurora clusters (`fleet-db-keep` with `keep`, `fleet-db-zero` with
/// `scale-to-zero`), the [`fleet_rules`], and a rate budget raised above any bucket (the
/// emulator does not throttle; the fault suites inject their own throttling).
pub fn fleet_environment(services: usize) -> String {
    let mut text = String::from(
        "environment \"fleet\" {\n  account_id = \"123456789012\"\n  region     = \"eu-west-2\"\n\n  ecs_cluster \"fleet\" {\n",
    );
    for service in fleet(services) {
        text.push_str(&format!(
            "    service \"{}\" {{\n      desired_count = {}\n",
            service.name, service.desired
        ));
        if !service.park {
            text.push_str("      park          = false\n");
        }
        if let Some((min, max)) = service.range {
            text.push_str(&format!(
                "      autoscaling {{\n        min = {min}\n        max = {max}\n      }}\n"
            ));
        }
        text.push_str("    }\n");
    }
    text.push_str("  }\n\n  aurora_cluster \"fleet-db-keep\" {\n    park = \"keep\"\n  }\n\n");
    text.push_str("  aurora_cluster \"fleet-db-zero\" {\n    park               = \"scale-to-zero\"\n    auto_pause_seconds = 900\n  }\n");
    for rule in fleet_rules(services) {
        text.push_str(&format!(
            "\n  eventbridge_rule \"{}\" {{\n    event_bus = \"{}\"\n  }}\n",
            rule.name, rule.event_bus
        ));
    }
    // The emulator does not throttle: the fleet measures the tool, so its rate budget is
    // raised far above AWS's published buckets (the default). The budget itself is
    // measured through the proxy's AWS buckets (park's multi tests, scripts/bench).
    for category in [
        "ecs-service-modify",
        "ecs-tag-modify",
        "ecs-read",
        "autoscaling-modify",
        "autoscaling-read",
    ] {
        text.push_str(&format!(
            "\n  rate_budget \"{category}\" {{\n    burst      = 100000\n    per_second = 100000\n  }}\n"
        ));
    }
    text.push_str("}\n");
    text
}
