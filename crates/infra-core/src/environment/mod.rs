//! The environment file and its model.
//!
//! One HCL file describes one environment: the AWS account and region, the Terraform
//! settings, the ECS services and their scaling, the Aurora clusters, the EventBridge rules
//! parking disables, the pinned images and the public endpoints. [`Environment::load`] parses it strictly: unknown keys, wrong types,
//! duplicate names, impossible capacities, invalid patterns and URLs are errors that name
//! `file:line:column`, because a typo here must never silently disable parking or a check.
//!
//! ```
//! use infra_core::environment::Environment;
//!
//! let env = Environment::parse(r#"
//! environment "prod" {
//!   account_id = "123456789012"
//!   region     = "eu-west-2"
//!   ecs_cluster "blog-prod" {
//!     service "portal" {
//!       desired_count = 2
//!       autoscaling {
//!         min = 1
//!         max = 4
//!       }
//!     }
//!   }
//! }
//! "#, "prod.env.hcl".as_ref()).unwrap();
//! assert_eq!(env.ecs_clusters[0].services[0].desired_count, 2);
//! ```

mod raw;
mod source;
mod validate;

pub use task_spec::{Network as TaskNetwork, TaskSpec};
pub use tf_locals::image::{PinnedImage, ServiceRef, TagPattern};
pub use tf_locals::LineColumn;
pub use validate::valid_name;

use crate::error::{EnvFileError, EnvFileErrorKind, Problem};
use raw::RawFile;
use serde::Serialize;
use source::SourceIndex;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment files larger than this are refused before parsing.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// One environment, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// The environment's name (the `environment` block's label).
    pub name: String,
    /// The AWS account the environment lives in; the account guard compares against it.
    pub account_id: String,
    /// The AWS region.
    pub region: String,
    /// The environments this one is unparked after and parked before, when they run in
    /// the same `park` run (`after`, by their names).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// Where `after` is written (what a cycle through it names).
    #[serde(skip)]
    pub after_at: Option<LineColumn>,
    /// The longest hold `park hold` accepts (`max_hold`, default 7 days).
    #[serde(serialize_with = "serialize_duration")]
    pub max_hold: Duration,
    /// The prices park's savings use (`pricing`); `None`: its built-in table.
    pub pricing: Option<Pricing>,
    /// How to run Terraform for the environment's root module.
    pub terraform: TerraformSettings,
    /// ECS clusters and the services in them, in file order.
    pub ecs_clusters: Vec<EcsCluster>,
    /// Aurora clusters, in file order.
    pub aurora_clusters: Vec<AuroraCluster>,
    /// EventBridge rules (scheduled triggers) that parking disables, in file order.
    pub eventbridge_rules: Vec<EventBridgeRule>,
    /// Container images pinned through `locals` in the Terraform files.
    pub images: Vec<PinnedImage>,
    /// One-off ECS tasks `run-task` runs (`task` blocks), in file order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskSpec>,
    /// Public endpoints to smoke-check.
    pub endpoints: Vec<Endpoint>,
    /// The client-side rate budget's bucket sizes this file changes from AWS's published
    /// ones (`rate_budget "CATEGORY" { burst, per_second }`, for raised limits).
    #[serde(skip)]
    pub rate_budget: Vec<(rate_budget::Category, rate_budget::BucketSize)>,
    /// The park schedule (`schedule`), when the file has one.
    #[serde(skip)]
    pub schedule: Option<::schedule::Schedule>,
    /// Why the schedule cannot be used, when a file it reads (a holiday file) could not
    /// be read or parsed: every tool still loads the environment (a calendar file never
    /// stops an emergency park, a plan or a check); what decides by the schedule (park's
    /// `--scheduled` runs and `status`) refuses, naming the file and line
    /// ([`Environment::usable_schedule`]).
    #[serde(skip)]
    pub schedule_problems: Vec<crate::error::Problem>,
    /// Where notifications go and for which events (`notify`), when the file says.
    pub notify: Option<crate::notify::NotifyConfig>,
    /// The file this environment was loaded from.
    pub file: PathBuf,
}

/// The `terraform` block: how to run Terraform for the root module.
#[derive(Debug, Clone, Serialize)]
pub struct TerraformSettings {
    /// The root module directory, resolved against the environment file's directory.
    pub root: PathBuf,
    /// A backend configuration file (`-backend-config`), resolved against `root`.
    pub backend_config: Option<PathBuf>,
    /// Variable files (`-var-file`), resolved against `root`.
    pub var_files: Vec<PathBuf>,
    /// How long Terraform waits for the state lock (`-lock-timeout`).
    #[serde(serialize_with = "serialize_duration")]
    pub lock_timeout: Duration,
    /// The binary: `terraform`, `tofu`, or a path.
    pub binary: String,
    /// Resource types whose deletion or replacement a plan must be explicitly allowed for.
    pub protected_types: Vec<String>,
    /// How old a plan bundle may be when it is applied.
    #[serde(serialize_with = "serialize_duration")]
    pub max_plan_age: Duration,
    /// The AWS KMS key that signs plan bundles (`kms:alias/NAME`, `kms:KEY-ID` or a key
    /// ARN, given here without the `kms:` prefix): `tf-wrap plan` signs, `tf-wrap apply`
    /// refuses a bundle without a valid signature by this key.
    pub sign_with: Option<String>,
}

/// The resource types protected from deletion and replacement unless a file says otherwise:
/// the ones that hold data.
pub const DEFAULT_PROTECTED_TYPES: &[&str] = &[
    "aws_rds_cluster",
    "aws_rds_cluster_instance",
    "aws_db_instance",
    "aws_s3_bucket",
    "aws_ecr_repository",
    "aws_dynamodb_table",
    "aws_efs_file_system",
];

/// The `pricing` block: on-demand prices per hour, for park's savings estimates. A price
/// left out is "not estimated" for that kind of resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pricing {
    /// Fargate, per vCPU-hour.
    pub fargate_vcpu_hour: Option<f64>,
    /// Fargate, per GB-hour of memory.
    pub fargate_gb_hour: Option<f64>,
    /// Aurora Serverless v2, per ACU-hour.
    pub aurora_acu_hour: Option<f64>,
    /// The currency of the prices (`USD`).
    pub currency: String,
}

/// An ECS cluster and the services of it that the toolkit manages.
#[derive(Debug, Clone, Serialize)]
pub struct EcsCluster {
    /// The cluster name.
    pub name: String,
    /// The services, in file order.
    pub services: Vec<EcsService>,
}

/// An ECS service as the environment expects it when running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EcsService {
    /// The service name.
    pub name: String,
    /// The desired count when unparked.
    pub desired_count: u32,
    /// Whether parking scales this service to zero.
    pub park: bool,
    /// The Application Auto Scaling target's capacity range, when the service has one.
    pub autoscaling: Option<CapacityRange>,
}

/// A minimum and maximum capacity, `min <= max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CapacityRange {
    /// Minimum capacity.
    pub min: u32,
    /// Maximum capacity.
    pub max: u32,
}

/// An Aurora cluster and what parking does to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuroraCluster {
    /// The DB cluster identifier.
    pub name: String,
    /// What parking does.
    pub park: AuroraParkPolicy,
    /// Serverless v2 `SecondsUntilAutoPause` when parked with `scale-to-zero`.
    pub auto_pause_seconds: u32,
}

/// What parking does to an Aurora cluster. Neither policy ever stops or deletes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuroraParkPolicy {
    /// Leave it as it is; only check that it is available.
    Keep,
    /// Set Serverless v2 minimum capacity to 0 so it auto-pauses.
    ScaleToZero,
}

/// An EventBridge rule (a scheduled trigger) and whether parking disables it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventBridgeRule {
    /// The rule's name.
    pub name: String,
    /// The event bus's name (`default` unless the file says otherwise).
    pub event_bus: String,
    /// Whether parking disables it (`park`, default true); `false`: observed only.
    pub park: bool,
}

impl EventBridgeRule {
    /// How reports name the rule, and its ARN's path after `rule/`: `NAME` on the default
    /// bus, `BUS/NAME` on another.
    pub fn display_name(&self) -> String {
        rule_path(&self.event_bus, &self.name)
    }
}

/// `NAME` on the default event bus, `BUS/NAME` on another: EventBridge's own form in rule
/// ARNs, and how reports name a rule.
pub fn rule_path(event_bus: &str, name: &str) -> String {
    if event_bus == DEFAULT_EVENT_BUS {
        name.to_owned()
    } else {
        format!("{event_bus}/{name}")
    }
}

/// The name of every account's default event bus.
pub const DEFAULT_EVENT_BUS: &str = "default";

/// A public endpoint and what a healthy answer looks like.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    /// The endpoint's name.
    pub name: String,
    /// The URL to request.
    pub url: url::Url,
    /// The CloudFront distribution in front of it, when there is one.
    pub cloudfront_distribution: Option<String>,
    /// The expected HTTP status.
    pub expect_status: u16,
    /// A JSON value the body must contain (as a subset).
    pub expect_json: Option<serde_json::Value>,
    /// The exact body text expected.
    pub expect_body: Option<String>,
    /// A regular expression the body must match (anywhere), validated at load.
    pub expect_regex: Option<String>,
    /// The `Content-Type` must start with this (case-insensitive).
    pub expect_content_type: Option<String>,
    /// Response headers that must be present with exactly these values (names
    /// case-insensitive).
    pub expect_headers: indexmap::IndexMap<String, String>,
    /// Request headers whose values come from environment variables: header name →
    /// variable name (`Authorization = "PORTAL_SMOKE_AUTH"`). Values never live in the file.
    pub request_header_env: indexmap::IndexMap<String, String>,
    /// A check slower than this (total milliseconds) passes with a warning.
    pub latency_warn_ms: Option<u64>,
    /// A check slower than this (total milliseconds) fails.
    pub latency_fail_ms: Option<u64>,
    /// Follow redirects (up to 5); otherwise a 3xx is judged as the status it is.
    pub follow_redirects: bool,
}

impl Endpoint {
    /// An endpoint with nothing but a URL: healthy when it answers 200 (`verify-endpoints
    /// --url`).
    pub fn expecting_200(name: String, url: url::Url) -> Endpoint {
        Endpoint {
            name,
            url,
            cloudfront_distribution: None,
            expect_status: 200,
            expect_json: None,
            expect_body: None,
            expect_regex: None,
            expect_content_type: None,
            expect_headers: Default::default(),
            request_header_env: Default::default(),
            latency_warn_ms: None,
            latency_fail_ms: None,
            follow_redirects: false,
        }
    }
}

/// Why a text is not an endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointUrlError {
    /// It parses, but is not http(s) with a host.
    #[error("must be an http:// or https:// URL with a host, found scheme `{0}`")]
    NotHttp(String),
    /// It does not parse.
    #[error("is not a valid URL: {0}")]
    Invalid(url::ParseError),
}

/// An endpoint URL: http or https, with a host. The one check the environment file's
/// `url` and `verify-endpoints --url` share.
pub fn endpoint_url(text: &str) -> Result<url::Url, EndpointUrlError> {
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
        Ok(u) => Err(EndpointUrlError::NotHttp(u.scheme().to_owned())),
        Err(e) => Err(EndpointUrlError::Invalid(e)),
    }
}

fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

impl Environment {
    /// Reads and validates an environment file.
    pub fn load(path: &Path) -> Result<Environment, EnvFileError> {
        let fail = |kind| EnvFileError {
            path: path.to_owned(),
            kind,
        };
        let meta = std::fs::metadata(path).map_err(|e| fail(EnvFileErrorKind::Read(e)))?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(fail(EnvFileErrorKind::TooLarge {
                size: meta.len(),
                limit: MAX_FILE_BYTES,
            }));
        }
        let bytes = std::fs::read(path).map_err(|e| fail(EnvFileErrorKind::Read(e)))?;
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let prefix = std::str::from_utf8(&e.as_bytes()[..valid]).unwrap_or_default();
                let at = LineColumn::of_offset(prefix, valid);
                return Err(fail(EnvFileErrorKind::NotUtf8 { at }));
            }
        };
        Environment::parse(&text, path)
    }

    /// Parses and validates the text of an environment file. `path` is used for error
    /// messages and to resolve relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Environment, EnvFileError> {
        let invalid = |problems| EnvFileError {
            path: path.to_owned(),
            kind: EnvFileErrorKind::Invalid(problems),
        };

        let body = hcl_edit::parser::parse_body(text).map_err(|e| {
            let at = LineColumn {
                line: e.location().line(),
                column: e.location().column(),
            };
            invalid(vec![Problem {
                at,
                key: None,
                message: format!("syntax error: {}", e.message()),
            }])
        })?;
        let index = SourceIndex::new(text, body);

        let structural = index.structural_problems();
        if !structural.is_empty() {
            return Err(invalid(
                structural
                    .into_iter()
                    .map(|p| Problem {
                        at: p.at,
                        key: None,
                        message: p.message,
                    })
                    .collect(),
            ));
        }

        let raw = deserialize(text, &index).map_err(|p| invalid(vec![p]))?;
        let mut v = validate::Validator::new(&index);
        let env = v.environment(raw, path);
        let problems = v.into_problems();
        match env {
            Some(env) if problems.is_empty() => Ok(env),
            _ => Err(invalid(problems)),
        }
    }

    /// The schedule, when the file has one and everything it reads was read; else the
    /// problems, one line each (`FILE:LINE:COLUMN: holiday file "…": ICS:LINE: …`).
    pub fn usable_schedule(&self) -> Result<Option<&::schedule::Schedule>, String> {
        if self.schedule_problems.is_empty() {
            return Ok(self.schedule.as_ref());
        }
        Err(self
            .schedule_problems
            .iter()
            .map(|p| format!("{}:{}: {}", self.file.display(), p.at, p.message))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// Every ECS service with its cluster, in file order.
    pub fn services(&self) -> impl Iterator<Item = (&EcsCluster, &EcsService)> {
        self.ecs_clusters
            .iter()
            .flat_map(|c| c.services.iter().map(move |s| (c, s)))
    }

    /// The ARNs of the environment's ECS clusters, in file order (for IAM policies).
    pub fn ecs_cluster_arns(&self) -> Vec<String> {
        self.ecs_clusters
            .iter()
            .map(|c| {
                format!(
                    "arn:aws:ecs:{}:{}:cluster/{}",
                    self.region, self.account_id, c.name
                )
            })
            .collect()
    }

    /// The ARNs of the environment's EventBridge rules, in file order; with `parked_only`,
    /// only those parking disables (for IAM policies).
    pub fn eventbridge_rule_arns(&self, parked_only: bool) -> Vec<String> {
        self.eventbridge_rules
            .iter()
            .filter(|r| r.park || !parked_only)
            .map(|r| {
                format!(
                    "arn:aws:events:{}:{}:rule/{}",
                    self.region,
                    self.account_id,
                    r.display_name()
                )
            })
            .collect()
    }

    /// The pinned image whose local is `local`.
    pub fn image(&self, local: &str) -> Option<&PinnedImage> {
        self.images.iter().find(|i| i.local == local)
    }

    /// The one-off task called `name`.
    pub fn task(&self, name: &str) -> Option<&TaskSpec> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// The endpoint called `name`.
    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }
}

/// Deserializes through `serde_path_to_error` so the error names the exact key, then looks
/// that key up in the hcl-edit tree for its line and column.
fn deserialize(text: &str, index: &SourceIndex<'_>) -> Result<RawFile, Problem> {
    // Syntax was already checked by hcl-edit; hcl-rs parses the same grammar.
    let body: hcl::Body = hcl::from_str(text).map_err(|e| Problem {
        at: LineColumn { line: 1, column: 1 },
        key: None,
        message: format!("syntax error: {e}"),
    })?;
    let value = hcl::Value::from(body);
    serde_path_to_error::deserialize(
        serde::de::IntoDeserializer::<hcl::Error>::into_deserializer(value),
    )
    .map_err(|err| {
        let mut path: Vec<String> = err
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        let message = explain_serde_error(&err.inner().to_string());
        // An unknown field's path ends at its parent; point at the field itself.
        if let Some(field) = unknown_field_name(&message) {
            if path.last().map(String::as_str) != Some(field) {
                path.push(field.to_owned());
            }
        }
        Problem {
            at: index.locate(&path),
            key: Some(path.join(".")),
            message,
        }
    })
}

fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// Rewords serde's messages in the terms of the file.
fn explain_serde_error(message: &str) -> String {
    message
        .replace("expected i64", "expected a whole number")
        .replace("expected a boolean", "expected true or false")
        .replace("invalid type: map", "invalid type: a block or object")
        .replace("invalid type: sequence", "invalid type: a list")
        .replace("expected a string", "expected a quoted string")
}
