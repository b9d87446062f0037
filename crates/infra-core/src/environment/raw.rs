//! The environment file exactly as written, before validation.
//!
//! Every struct denies unknown fields: a misspelt `desried_count` must be an error, never a
//! silently ignored key that leaves a service out of parking.

use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub environment: IndexMap<String, RawEnvironment>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnvironment {
    pub account_id: String,
    pub region: String,
    #[serde(default)]
    pub max_hold: Option<String>,
    #[serde(default)]
    pub after: Option<Vec<String>>,
    #[serde(default)]
    pub pricing: Option<RawPricing>,
    #[serde(default)]
    pub terraform: Option<RawTerraform>,
    #[serde(default)]
    pub ecs_cluster: IndexMap<String, RawCluster>,
    #[serde(default)]
    pub aurora_cluster: IndexMap<String, RawAurora>,
    #[serde(default)]
    pub eventbridge_rule: IndexMap<String, RawRule>,
    #[serde(default)]
    pub image: IndexMap<String, tf_locals::image::RawImage>,
    #[serde(default)]
    pub task: IndexMap<String, task_spec::RawTask>,
    #[serde(default)]
    pub endpoint: IndexMap<String, RawEndpoint>,
    #[serde(default)]
    pub rate_budget: IndexMap<String, rate_budget::RawBucket>,
    #[serde(default)]
    pub schedule: Option<::schedule::config::RawSchedule>,
    #[serde(default)]
    pub notify: Option<RawNotify>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotify {
    #[serde(default)]
    pub slack_webhook_env: Option<String>,
    #[serde(default)]
    pub webhook_env: Option<String>,
    #[serde(default)]
    pub on: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPricing {
    #[serde(default)]
    pub fargate_vcpu_hour: Option<f64>,
    #[serde(default)]
    pub fargate_gb_hour: Option<f64>,
    #[serde(default)]
    pub aurora_acu_hour: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTerraform {
    #[serde(default)]
    pub root: Option<String>,
    #[serde(default)]
    pub backend_config: Option<String>,
    #[serde(default)]
    pub var_files: Vec<String>,
    #[serde(default)]
    pub lock_timeout: Option<String>,
    #[serde(default)]
    pub binary: Option<String>,
    #[serde(default)]
    pub protected_types: Option<Vec<String>>,
    #[serde(default)]
    pub max_plan_age: Option<String>,
    #[serde(default)]
    pub sign_with: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCluster {
    #[serde(default)]
    pub service: IndexMap<String, RawService>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub desired_count: i64,
    #[serde(default)]
    pub park: Option<bool>,
    #[serde(default)]
    pub autoscaling: Option<RawAutoscaling>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAutoscaling {
    pub min: i64,
    pub max: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAurora {
    #[serde(default)]
    pub park: Option<String>,
    #[serde(default)]
    pub auto_pause_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    #[serde(default)]
    pub event_bus: Option<String>,
    #[serde(default)]
    pub park: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEndpoint {
    pub url: String,
    #[serde(default)]
    pub cloudfront_distribution: Option<String>,
    #[serde(default)]
    pub expect_status: Option<i64>,
    #[serde(default)]
    pub expect_json: Option<serde_json::Value>,
    #[serde(default)]
    pub expect_body: Option<String>,
    #[serde(default)]
    pub expect_regex: Option<String>,
    #[serde(default)]
    pub expect_content_type: Option<String>,
    #[serde(default)]
    pub expect_headers: IndexMap<String, String>,
    #[serde(default)]
    pub request_header_env: IndexMap<String, String>,
    #[serde(default)]
    pub latency_warn_ms: Option<i64>,
    #[serde(default)]
    pub latency_fail_ms: Option<i64>,
    #[serde(default)]
    pub follow_redirects: Option<bool>,
}
