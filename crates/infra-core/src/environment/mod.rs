//! The environment file and its model.
//!
//! One HCL file describes one environment: the AWS account and region, the Terraform
//! settings, the ECS services and their scaling, the Aurora clusters, the pinned images and
//! the public endpoints. [`Environment::load`] parses it strictly: unknown keys, wrong types,
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

pub use source::LineColumn;

use crate::error::{EnvFileError, EnvFileErrorKind, Problem};
use raw::RawFile;
use regex::Regex;
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
    /// How to run Terraform for the environment's root module.
    pub terraform: TerraformSettings,
    /// ECS clusters and the services in them, in file order.
    pub ecs_clusters: Vec<EcsCluster>,
    /// Aurora clusters, in file order.
    pub aurora_clusters: Vec<AuroraCluster>,
    /// Container images pinned through `locals` in the Terraform files.
    pub images: Vec<PinnedImage>,
    /// Public endpoints to smoke-check.
    pub endpoints: Vec<Endpoint>,
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

/// A container image pinned through a `locals` value in the Terraform files.
#[derive(Debug, Clone, Serialize)]
pub struct PinnedImage {
    /// The name of the local (`prefect_deployer_image`).
    pub local: String,
    /// The Terraform file that defines the local, resolved against the Terraform root.
    pub file: PathBuf,
    /// The ECR repository name.
    pub repository: String,
    /// The tags of this image's family.
    pub tag_pattern: TagPattern,
    /// Whether tags of this family must carry a build-unique `sha` group.
    pub require_sha: bool,
}

/// A tag family's pattern, anchored at both ends when matching.
#[derive(Debug, Clone)]
pub struct TagPattern {
    source: String,
    anchored: Regex,
}

impl TagPattern {
    /// Compiles `source`, anchored so that it must match the whole tag.
    pub fn new(source: &str) -> Result<Self, regex::Error> {
        let anchored = Regex::new(&format!("^(?:{source})$"))?;
        Ok(TagPattern {
            source: source.to_owned(),
            anchored,
        })
    }

    /// The pattern as written in the environment file.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `tag` belongs to this family (the whole tag must match).
    pub fn matches(&self, tag: &str) -> bool {
        self.anchored.is_match(tag)
    }

    /// The `sha` group of `tag`, when the tag belongs to the family and the pattern has one.
    pub fn sha<'t>(&self, tag: &'t str) -> Option<&'t str> {
        self.anchored.captures(tag)?.name("sha").map(|m| m.as_str())
    }

    /// Whether the pattern has a named group `sha`.
    pub fn has_sha_group(&self) -> bool {
        self.anchored.capture_names().any(|n| n == Some("sha"))
    }
}

impl Serialize for TagPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

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
            return Err(fail(EnvFileErrorKind::TooLarge { size: meta.len() }));
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
        let mut v = Validator {
            index: &index,
            problems: Vec::new(),
        };
        let env = v.environment(raw, path);
        match env {
            Some(env) if v.problems.is_empty() => Ok(env),
            _ => {
                v.problems.sort_by_key(|p| p.at);
                Err(invalid(v.problems))
            }
        }
    }

    /// Every ECS service with its cluster, in file order.
    pub fn services(&self) -> impl Iterator<Item = (&EcsCluster, &EcsService)> {
        self.ecs_clusters
            .iter()
            .flat_map(|c| c.services.iter().map(move |s| (c, s)))
    }

    /// The pinned image whose local is `local`.
    pub fn image(&self, local: &str) -> Option<&PinnedImage> {
        self.images.iter().find(|i| i.local == local)
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

struct Validator<'a, 'b> {
    index: &'a SourceIndex<'b>,
    problems: Vec<Problem>,
}

impl Validator<'_, '_> {
    fn problem(&mut self, path: &[&str], message: impl Into<String>) {
        let owned: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        self.problems.push(Problem {
            at: self.index.locate(&owned),
            key: Some(owned.join(".")),
            message: message.into(),
        });
    }

    fn count(&mut self, path: &[&str], value: i64) -> u32 {
        match u32::try_from(value) {
            Ok(v) => v,
            Err(_) if value < 0 => {
                self.problem(
                    path,
                    format!(
                        "`{}` must not be negative, found {value}",
                        path.last().unwrap_or(&"")
                    ),
                );
                0
            }
            Err(_) => {
                self.problem(
                    path,
                    format!("`{}` is too large: {value}", path.last().unwrap_or(&"")),
                );
                0
            }
        }
    }

    fn environment(&mut self, raw: RawFile, path: &Path) -> Option<Environment> {
        let mut envs = raw.environment.into_iter();
        let Some((name, env)) = envs.next() else {
            self.problems.push(Problem {
                at: LineColumn { line: 1, column: 1 },
                key: None,
                message: "no `environment \"NAME\" { ... }` block: the file must define exactly one environment".into(),
            });
            return None;
        };
        if let Some((second, _)) = envs.next() {
            self.problem(
                &["environment", &second],
                format!("a second environment `{second}`: the file must define exactly one environment (`{name}` is the first)"),
            );
        }
        let n = name.as_str();
        if !valid_name(n) {
            self.problem(
                &["environment", n],
                format!("environment name `{n}` must be letters, digits, `-` or `_`"),
            );
        }
        if !(env.account_id.len() == 12 && env.account_id.bytes().all(|b| b.is_ascii_digit())) {
            self.problem(
                &["environment", n, "account_id"],
                format!(
                    "`account_id` must be a 12-digit AWS account ID, found \"{}\"",
                    env.account_id
                ),
            );
        }
        let region_re = Regex::new(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$").expect("static regex");
        if !region_re.is_match(&env.region) {
            self.problem(
                &["environment", n, "region"],
                format!(
                    "`region` must be an AWS region such as \"eu-west-2\", found \"{}\"",
                    env.region
                ),
            );
        }

        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let terraform = self.terraform(n, env.terraform, &base);

        let mut ecs_clusters = Vec::new();
        for (cluster, raw_cluster) in env.ecs_cluster {
            let mut services = Vec::new();
            for (svc, raw_svc) in raw_cluster.service {
                let p = ["environment", n, "ecs_cluster", &cluster, "service", &svc];
                let desired_count = self.count(
                    &[&p[..], &["desired_count"]].concat(),
                    raw_svc.desired_count,
                );
                let autoscaling = raw_svc.autoscaling.map(|a| {
                    let ap = [&p[..], &["autoscaling"]].concat();
                    let min = self.count(&[&ap[..], &["min"]].concat(), a.min);
                    let max = self.count(&[&ap[..], &["max"]].concat(), a.max);
                    if a.min >= 0 && a.max >= 0 {
                        if min > max {
                            self.problem(
                                &[&ap[..], &["min"]].concat(),
                                format!("autoscaling `min` ({min}) is greater than `max` ({max}) for service `{svc}`"),
                            );
                        } else if raw_svc.desired_count >= 0 && !(min..=max).contains(&desired_count) {
                            self.problem(
                                &[&p[..], &["desired_count"]].concat(),
                                format!(
                                    "`desired_count` ({desired_count}) of service `{svc}` is outside its autoscaling range [{min}, {max}]"
                                ),
                            );
                        }
                    }
                    CapacityRange { min, max }
                });
                services.push(EcsService {
                    name: svc,
                    desired_count,
                    park: raw_svc.park.unwrap_or(true),
                    autoscaling,
                });
            }
            if !valid_name(&cluster) {
                self.problem(
                    &["environment", n, "ecs_cluster", &cluster],
                    format!("invalid ECS cluster name `{cluster}`"),
                );
            }
            ecs_clusters.push(EcsCluster {
                name: cluster,
                services,
            });
        }

        let mut aurora_clusters = Vec::new();
        for (cluster, raw) in env.aurora_cluster {
            let p = ["environment", n, "aurora_cluster", &cluster];
            let park = match raw.park.as_deref() {
                None | Some("keep") => AuroraParkPolicy::Keep,
                Some("scale-to-zero") => AuroraParkPolicy::ScaleToZero,
                Some(other) => {
                    self.problem(
                        &[&p[..], &["park"]].concat(),
                        format!("unknown Aurora `park` policy \"{other}\": expected \"keep\" or \"scale-to-zero\""),
                    );
                    AuroraParkPolicy::Keep
                }
            };
            let auto_pause_seconds = match raw.auto_pause_seconds {
                None => 300,
                Some(s) if (300..=86_400).contains(&s) => s as u32,
                Some(s) => {
                    self.problem(
                        &[&p[..], &["auto_pause_seconds"]].concat(),
                        format!("`auto_pause_seconds` must be between 300 and 86400 (Aurora's limits), found {s}"),
                    );
                    300
                }
            };
            aurora_clusters.push(AuroraCluster {
                name: cluster,
                park,
                auto_pause_seconds,
            });
        }

        let repo_re =
            Regex::new(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
                .expect("static regex");
        let ident_re = Regex::new(r"^[A-Za-z_][A-Za-z0-9_-]*$").expect("static regex");
        let mut images = Vec::new();
        for (local, raw) in env.image {
            let p = ["environment", n, "image", &local];
            if !ident_re.is_match(&local) {
                self.problem(
                    &p,
                    format!(
                        "image `{local}` must be named after a Terraform local (an identifier)"
                    ),
                );
            }
            if raw.file.trim().is_empty() {
                self.problem(
                    &[&p[..], &["file"]].concat(),
                    "`file` must name the Terraform file that defines the local",
                );
            }
            if !(2..=256).contains(&raw.repository.len()) || !repo_re.is_match(&raw.repository) {
                self.problem(
                    &[&p[..], &["repository"]].concat(),
                    format!(
                        "`repository` \"{}\" is not a valid ECR repository name",
                        raw.repository
                    ),
                );
            }
            let require_sha = raw.require_sha.unwrap_or(true);
            let tag_pattern = match TagPattern::new(&raw.tag_pattern) {
                Ok(pattern) => {
                    if require_sha && !pattern.has_sha_group() {
                        self.problem(
                            &[&p[..], &["tag_pattern"]].concat(),
                            format!(
                                "`tag_pattern` of image `{local}` has no `(?P<sha>...)` group; add one for the build-unique part, or set `require_sha = false` for a fixed tag"
                            ),
                        );
                    }
                    Some(pattern)
                }
                Err(e) => {
                    let detail = regex_error(&e);
                    self.problem(
                        &[&p[..], &["tag_pattern"]].concat(),
                        format!("`tag_pattern` of image `{local}` is not a valid regular expression: {detail}"),
                    );
                    None
                }
            };
            if let Some(tag_pattern) = tag_pattern {
                images.push(PinnedImage {
                    file: normalize(&terraform.root.join(&raw.file)),
                    local,
                    repository: raw.repository,
                    tag_pattern,
                    require_sha,
                });
            }
        }

        let mut endpoints = Vec::new();
        let dist_re = Regex::new(r"^[A-Z0-9]{1,64}$").expect("static regex");
        for (name, raw) in env.endpoint {
            let p = ["environment", n, "endpoint", &name];
            let url = match url::Url::parse(&raw.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    Some(u)
                }
                Ok(u) => {
                    self.problem(
                        &[&p[..], &["url"]].concat(),
                        format!("`url` of endpoint `{name}` must be an http:// or https:// URL with a host, found scheme `{}`", u.scheme()),
                    );
                    None
                }
                Err(e) => {
                    self.problem(
                        &[&p[..], &["url"]].concat(),
                        format!("`url` of endpoint `{name}` is not a valid URL: {e}"),
                    );
                    None
                }
            };
            let expect_status = match raw.expect_status {
                None => 200,
                Some(s) if (100..=599).contains(&s) => s as u16,
                Some(s) => {
                    self.problem(
                        &[&p[..], &["expect_status"]].concat(),
                        format!(
                            "`expect_status` must be an HTTP status between 100 and 599, found {s}"
                        ),
                    );
                    200
                }
            };
            if let Some(dist) = &raw.cloudfront_distribution {
                if !dist_re.is_match(dist) {
                    self.problem(
                        &[&p[..], &["cloudfront_distribution"]].concat(),
                        format!("`cloudfront_distribution` \"{dist}\" is not a CloudFront distribution ID (capital letters and digits)"),
                    );
                }
            }
            if let Some(pattern) = &raw.expect_regex {
                if let Err(e) = Regex::new(pattern) {
                    let detail = regex_error(&e);
                    self.problem(
                        &[&p[..], &["expect_regex"]].concat(),
                        format!("`expect_regex` of endpoint `{name}` is not a valid regular expression: {detail}"),
                    );
                }
            }
            for (header, var) in &raw.request_header_env {
                let key = [&p[..], &["request_header_env", header.as_str()]].concat();
                let token = |s: &str| {
                    !s.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
                };
                if !token(header) {
                    self.problem(
                        &key,
                        format!("`request_header_env` of endpoint `{name}`: `{header}` is not an HTTP header name"),
                    );
                } else if header.eq_ignore_ascii_case("host") {
                    self.problem(
                        &key,
                        format!("`request_header_env` of endpoint `{name}`: the `Host` header comes from the URL"),
                    );
                }
                let env_name = var.chars().enumerate().all(|(i, c)| {
                    c == '_'
                        || c.is_ascii_uppercase()
                        || c.is_ascii_lowercase()
                        || (i > 0 && c.is_ascii_digit())
                });
                if var.is_empty() || !env_name {
                    self.problem(
                        &key,
                        format!("`request_header_env` of endpoint `{name}`: `{header}` must name an environment variable (letters, digits, `_`), found \"{var}\"; the value itself never goes in this file"),
                    );
                }
            }
            let mut budget = |key: &str, value: Option<i64>| match value {
                None => None,
                Some(ms) if ms > 0 => Some(ms as u64),
                Some(ms) => {
                    self.problem(
                        &[&p[..], &[key]].concat(),
                        format!("`{key}` must be a positive number of milliseconds, found {ms}"),
                    );
                    None
                }
            };
            let latency_warn_ms = budget("latency_warn_ms", raw.latency_warn_ms);
            let latency_fail_ms = budget("latency_fail_ms", raw.latency_fail_ms);
            if let (Some(warn), Some(fail)) = (latency_warn_ms, latency_fail_ms) {
                if warn > fail {
                    self.problem(
                        &[&p[..], &["latency_warn_ms"]].concat(),
                        format!(
                            "`latency_warn_ms` ({warn}) is greater than `latency_fail_ms` ({fail})"
                        ),
                    );
                }
            }
            if let Some(url) = url {
                endpoints.push(Endpoint {
                    name,
                    url,
                    cloudfront_distribution: raw.cloudfront_distribution,
                    expect_status,
                    expect_json: raw.expect_json,
                    expect_body: raw.expect_body,
                    expect_regex: raw.expect_regex,
                    expect_content_type: raw.expect_content_type,
                    expect_headers: raw.expect_headers,
                    request_header_env: raw.request_header_env,
                    latency_warn_ms,
                    latency_fail_ms,
                    follow_redirects: raw.follow_redirects.unwrap_or(false),
                });
            }
        }

        Some(Environment {
            name,
            account_id: env.account_id,
            region: env.region,
            terraform,
            ecs_clusters,
            aurora_clusters,
            images,
            endpoints,
            file: path.to_owned(),
        })
    }

    fn terraform(
        &mut self,
        env: &str,
        raw: Option<raw::RawTerraform>,
        base: &Path,
    ) -> TerraformSettings {
        let raw = raw.unwrap_or(raw::RawTerraform {
            root: None,
            backend_config: None,
            var_files: Vec::new(),
            lock_timeout: None,
            binary: None,
            protected_types: None,
            max_plan_age: None,
            sign_with: None,
        });
        let p = ["environment", env, "terraform"];
        let root = normalize(&base.join(raw.root.as_deref().unwrap_or(".")));
        let mut duration = |key: &str, value: Option<&str>, default: Duration| match value {
            None => default,
            Some(text) => {
                match humantime::parse_duration(text) {
                    Ok(d) => d,
                    Err(e) => {
                        self.problem(
                        &[&p[..], &[key]].concat(),
                        format!("`{key}` \"{text}\" is not a duration such as \"5m\" or \"90s\": {e}"),
                    );
                        default
                    }
                }
            }
        };
        let lock_timeout = duration(
            "lock_timeout",
            raw.lock_timeout.as_deref(),
            Duration::from_secs(300),
        );
        let max_plan_age = duration(
            "max_plan_age",
            raw.max_plan_age.as_deref(),
            Duration::from_secs(24 * 3600),
        );
        let protected_types = match raw.protected_types {
            None => DEFAULT_PROTECTED_TYPES
                .iter()
                .map(|t| (*t).to_owned())
                .collect(),
            Some(types) => {
                for t in &types {
                    if t.is_empty()
                        || !t
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    {
                        self.problem(
                            &[&p[..], &["protected_types"]].concat(),
                            format!("`protected_types` entry \"{t}\" is not a resource type such as \"aws_rds_cluster\""),
                        );
                    }
                }
                types
            }
        };
        let binary = raw.binary.unwrap_or_else(|| "terraform".to_owned());
        if binary.trim().is_empty() {
            self.problem(
                &[&p[..], &["binary"]].concat(),
                "`binary` must not be empty: \"terraform\", \"tofu\" or a path",
            );
        }
        let sign_with = raw.sign_with.and_then(|text| {
            let key = text.strip_prefix("kms:").unwrap_or(&text);
            let valid = if let Some(alias) = key.strip_prefix("alias/") {
                !alias.is_empty()
                    && alias
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
            } else if key.starts_with("arn:") {
                key.split(':').count() == 6
                    && key.split(':').nth(2) == Some("kms")
                    && (key.contains(":key/") || key.contains(":alias/"))
            } else {
                !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
            };
            if !valid || !(text.starts_with("kms:") || text.starts_with("arn:")) {
                self.problem(
                    &[&p[..], &["sign_with"]].concat(),
                    format!("`sign_with` \"{text}\" is not a KMS key: use \"kms:alias/NAME\", \"kms:KEY-ID\" or a key ARN"),
                );
                return None;
            }
            Some(key.to_owned())
        });
        TerraformSettings {
            sign_with,
            backend_config: raw.backend_config.map(|b| normalize(&root.join(b))),
            var_files: raw
                .var_files
                .iter()
                .map(|v| normalize(&root.join(v)))
                .collect(),
            root,
            lock_timeout,
            binary,
            protected_types,
            max_plan_age,
        }
    }
}

/// Drops `.` components, so `dir/./main.tf` reads `dir/main.tf` in messages. (`..` is kept:
/// resolving it lexically would be wrong across symlinks.)
fn normalize(path: &Path) -> PathBuf {
    let out: PathBuf = path
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// The last line of a regex error: the reason, without the pattern echoed above it.
fn regex_error(e: &regex::Error) -> String {
    e.to_string()
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
