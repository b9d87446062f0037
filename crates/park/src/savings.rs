//! What parking saves: per parked resource, the capacity its park record says was running
//! × the hours since the record was written × the price.
//!
//! - An ECS service on Fargate: the task size (task-level `cpu`/`memory` of the service's
//!   current task definition, else the sum of its containers') × the recorded desired
//!   count × the Fargate vCPU-hour and GB-hour prices.
//! - A scale-to-zero Aurora cluster: the recorded minimum ACU × the ACU-hour price.
//! - A service on EC2 capacity or Fargate Spot, or one whose size is unknown, is "not
//!   estimated", with why.
//!
//! Prices come from the environment file's `pricing` block, else from a small built-in
//! table of published on-demand prices ([`BUILT_IN_TAKEN`]); a region that is in neither is
//! "not estimated". Prices are never fetched at run time.

use crate::engine::{Outcome, ResultKind};
use crate::observe::{Clients, LiveEnvironment, ServiceState};
use crate::plan::{Plan, Step};
use crate::record::{age_seconds, Found};
use crate::state::{CapacityProvider, LaunchType};
use infra_core::aws::AwsCallError;
use infra_core::Environment;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// When the built-in prices were taken from AWS's public pricing pages.
pub const BUILT_IN_TAKEN: &str = "2026-03";

/// Built-in on-demand prices (USD, Linux/x86 Fargate; Aurora Serverless v2 Standard):
/// region, vCPU-hour, GB-hour, ACU-hour (`None`: no built-in ACU price for that region).
const BUILT_IN: &[(&str, f64, f64, Option<f64>)] = &[
    ("us-east-1", 0.04048, 0.004445, Some(0.12)),
    ("us-east-2", 0.04048, 0.004445, Some(0.12)),
    ("eu-west-1", 0.04048, 0.004445, None),
    ("eu-west-2", 0.04656, 0.00511, None),
];

/// Hours a day an environment is assumed parked for the monthly figure.
pub const ASSUMED_PARKED_HOURS_A_DAY: f64 = 12.0;

/// The prices in use and where they come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prices {
    /// Fargate per vCPU-hour.
    pub fargate_vcpu_hour: Option<f64>,
    /// Fargate per GB-hour.
    pub fargate_gb_hour: Option<f64>,
    /// Aurora Serverless v2 per ACU-hour.
    pub aurora_acu_hour: Option<f64>,
    /// The currency.
    pub currency: String,
    /// `environment file` or `built-in table (taken 2026-03)`.
    pub source: String,
}

/// The prices for `env`: its `pricing` block, else the built-in table for its region, else
/// none (every saving "not estimated").
pub fn prices(env: &Environment) -> Option<Prices> {
    if let Some(p) = &env.pricing {
        return Some(Prices {
            fargate_vcpu_hour: p.fargate_vcpu_hour,
            fargate_gb_hour: p.fargate_gb_hour,
            aurora_acu_hour: p.aurora_acu_hour,
            currency: p.currency.clone(),
            source: "environment file".into(),
        });
    }
    BUILT_IN
        .iter()
        .find(|(region, ..)| *region == env.region)
        .map(|&(_, vcpu, gb, acu)| Prices {
            fargate_vcpu_hour: Some(vcpu),
            fargate_gb_hour: Some(gb),
            aurora_acu_hour: acu,
            currency: "USD".into(),
            source: format!("built-in table (taken {BUILT_IN_TAKEN})"),
        })
}

/// A saving: per hour and since the record was written, or why it is not estimated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Savings {
    /// Saved per hour while parked.
    pub per_hour: Option<f64>,
    /// Saved since the record was written.
    pub so_far: Option<f64>,
    /// The currency.
    pub currency: Option<String>,
    /// Why there is no figure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_estimated: Option<String>,
}

impl Savings {
    fn estimated(per_hour: f64, hours: f64, currency: &str) -> Savings {
        Savings {
            per_hour: Some(round(per_hour)),
            so_far: Some(round(per_hour * hours)),
            currency: Some(currency.to_owned()),
            not_estimated: None,
        }
    }

    fn not(why: impl Into<String>) -> Savings {
        Savings {
            per_hour: None,
            so_far: None,
            currency: None,
            not_estimated: Some(why.into()),
        }
    }

    /// `0.06 USD/h, 0.57 USD so far` or `not estimated: why`.
    pub fn describe(&self) -> String {
        match (self.per_hour, self.so_far, &self.currency) {
            (Some(h), Some(s), Some(c)) => format!("{h:.2} {c}/h, {s:.2} {c} so far"),
            _ => format!(
                "not estimated: {}",
                self.not_estimated.as_deref().unwrap_or("-")
            ),
        }
    }
}

/// The environment's savings in total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavingsSummary {
    /// Saved per hour by everything parked now.
    pub per_hour: f64,
    /// Saved so far by the current records.
    pub so_far: f64,
    /// A month of parking 12 hours a day at `per_hour` (an assumption: the records show
    /// only when each resource was parked, not a schedule).
    pub monthly_at_12h_a_day: f64,
    /// The currency (`None` without prices).
    pub currency: Option<String>,
    /// Where the prices come from.
    pub prices: Option<String>,
    /// Parked resources without an estimate.
    pub not_estimated: usize,
    /// With a `schedule` (`park status`): the next 30 days parked on the schedule at
    /// `per_hour`, weekends and holidays included; the text shows it instead of the 12 h
    /// assumption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_schedule: Option<ScheduledMonth>,
}

/// The next 30 days on the schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduledMonth {
    /// Hours the schedule keeps the environment parked in the next 30 days.
    pub parked_hours: f64,
    /// `per_hour` × `parked_hours`.
    pub monthly: f64,
}

impl SavingsSummary {
    /// The summary with the next 30 days of `schedule` from `now`.
    pub fn with_schedule(
        mut self,
        schedule: &schedule::Schedule,
        now: schedule::Timestamp,
    ) -> Self {
        let parked_hours = round(schedule.parked_hours(now, 30));
        self.on_schedule = Some(ScheduledMonth {
            parked_hours,
            monthly: round(self.per_hour * parked_hours),
        });
        self
    }
}

/// 6 decimal places: whole fractions of a cent, without float noise.
fn round(x: f64) -> f64 {
    (x * 1_000_000.0).round() / 1_000_000.0
}

/// A task size: vCPU and GB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskSize {
    /// vCPUs (CPU units / 1024).
    pub vcpu: f64,
    /// GB of memory (MiB / 1024).
    pub gb: f64,
}

/// The task definitions of the services with a valid record: what [`task_sizes`] reads
/// for `park status`.
pub fn recorded_definitions(live: &LiveEnvironment) -> BTreeSet<String> {
    live.services
        .iter()
        .filter(|s| s.record.valid().is_some())
        .filter_map(|s| s.task_definition.clone())
        .collect()
}

/// The task definitions a `park down` of `plan` leaves parked: the recorded services' and
/// those the plan records now.
pub fn parked_definitions(live: &LiveEnvironment, plan: &Plan) -> BTreeSet<String> {
    let mut arns = recorded_definitions(live);
    for item in &plan.items {
        if item
            .steps
            .iter()
            .any(|s| matches!(s, Step::WriteServiceRecord { .. }))
        {
            arns.extend(
                live.services
                    .iter()
                    .filter(|s| service_name(s) == item.resource.name)
                    .filter_map(|s| s.task_definition.clone()),
            );
        }
    }
    arns
}

/// `live` with the records the run wrote: what the environment looks like after it,
/// without reading it back.
pub fn with_written_records(mut live: LiveEnvironment, outcomes: &[Outcome]) -> LiveEnvironment {
    for o in outcomes.iter().filter(|o| o.result == ResultKind::Done) {
        for step in &o.item.steps {
            match step {
                Step::WriteServiceRecord { record } => {
                    for s in live
                        .services
                        .iter_mut()
                        .filter(|s| service_name(s) == o.item.resource.name)
                    {
                        s.record = Found::Valid {
                            record: record.clone(),
                        };
                    }
                }
                Step::WriteAuroraRecord { record } => {
                    for a in live
                        .aurora
                        .iter_mut()
                        .filter(|a| a.cluster == o.item.resource.name)
                    {
                        a.record = Found::Valid {
                            record: record.clone(),
                        };
                    }
                }
                _ => {}
            }
        }
    }
    live
}

/// A service's name in a plan: `cluster/service`.
fn service_name(s: &ServiceState) -> String {
    format!("{}/{}", s.cluster, s.service)
}

/// Reads the size of each task definition in `arns` (one DescribeTaskDefinition each,
/// eight at a time); a size that cannot be read is left out (its saving is "not
/// estimated") and the error is a warning, never a failure.
pub async fn task_sizes(
    clients: &Clients,
    arns: BTreeSet<String>,
) -> HashMap<String, Result<TaskSize, String>> {
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = tokio::task::JoinSet::new();
    for arn in arns {
        let (ecs, budget) = (clients.ecs.clone(), clients.budget.clone());
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            budget.acquire("ecs", "DescribeTaskDefinition").await;
            let size = ecs
                .describe_task_definition()
                .task_definition(&arn)
                .send()
                .await
                .map_err(|e| {
                    AwsCallError::new("ecs:DescribeTaskDefinition", Some(arn.clone()), e)
                        .to_string()
                })
                .and_then(|out| {
                    out.task_definition()
                        .and_then(size_of)
                        .ok_or_else(|| "the task definition names no CPU or memory".to_owned())
                });
            (arn, size)
        });
    }
    let mut sizes = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok((arn, size)) = done {
            if let Err(e) = &size {
                tracing::warn!("savings: cannot read the size of {arn}: {e}");
            }
            sizes.insert(arn, size);
        }
    }
    sizes
}

/// Task-level `cpu`/`memory`, else the sum over containers (`memory`, else
/// `memoryReservation`).
fn size_of(td: &aws_sdk_ecs::types::TaskDefinition) -> Option<TaskSize> {
    let task_cpu = td.cpu().and_then(|c| c.parse::<f64>().ok());
    let task_mem = td.memory().and_then(|m| m.parse::<f64>().ok());
    let containers = td.container_definitions();
    let cpu = task_cpu.or_else(|| {
        let sum: i32 = containers.iter().map(|c| c.cpu()).sum();
        (sum > 0).then_some(f64::from(sum))
    })?;
    let mem = task_mem.or_else(|| {
        let sum: i32 = containers
            .iter()
            .map(|c| c.memory().or(c.memory_reservation()).unwrap_or(0))
            .sum();
        (sum > 0).then_some(f64::from(sum))
    })?;
    Some(TaskSize {
        vcpu: cpu / 1024.0,
        gb: mem / 1024.0,
    })
}

/// The saving of one parked service (`None` when it has no valid record: not parked).
pub fn service_savings(
    live: &ServiceState,
    sizes: &HashMap<String, Result<TaskSize, String>>,
    prices: Option<&Prices>,
) -> Option<Savings> {
    let record = live.record.valid()?;
    let hours = age_seconds(&record.parked_at).unwrap_or(0) as f64 / 3600.0;
    let Some(prices) = prices else {
        return Some(Savings::not(
            "no prices for this region: add a `pricing` block to the environment file",
        ));
    };
    if live
        .capacity_providers
        .contains(&CapacityProvider::FargateSpot)
    {
        return Some(Savings::not("runs on Fargate Spot, whose prices vary"));
    }
    let fargate = live.launch_type == Some(LaunchType::Fargate)
        || (!live.capacity_providers.is_empty()
            && live
                .capacity_providers
                .iter()
                .all(|p| *p == CapacityProvider::Fargate));
    if !fargate {
        return Some(Savings::not(match live.launch_type {
            Some(LaunchType::Ec2 | LaunchType::External) => "runs on EC2 capacity: what parking saves there is in the instances, which park does not scale",
            _ => "its launch type is not reported (a capacity provider strategy other than Fargate)",
        }));
    }
    let (Some(vcpu_price), Some(gb_price)) = (prices.fargate_vcpu_hour, prices.fargate_gb_hour)
    else {
        return Some(Savings::not("no Fargate price for this region"));
    };
    let size = match live.task_definition.as_ref().and_then(|arn| sizes.get(arn)) {
        Some(Ok(size)) => *size,
        Some(Err(e)) => return Some(Savings::not(format!("task size unknown: {e}"))),
        None => return Some(Savings::not("task size unknown")),
    };
    let per_hour = f64::from(record.desired_count) * (size.vcpu * vcpu_price + size.gb * gb_price);
    Some(Savings::estimated(per_hour, hours, &prices.currency))
}

/// The saving of one parked Aurora cluster (`None` without a valid record).
pub fn aurora_savings(
    record: Option<&crate::record::AuroraRecord>,
    prices: Option<&Prices>,
) -> Option<Savings> {
    let record = record?;
    let hours = age_seconds(&record.parked_at).unwrap_or(0) as f64 / 3600.0;
    match prices.and_then(|p| p.aurora_acu_hour.map(|acu| (acu, &p.currency))) {
        Some((acu, currency)) => Some(Savings::estimated(
            record.min_capacity * acu,
            hours,
            currency,
        )),
        None => Some(Savings::not(
            "no Aurora ACU price for this region: add `aurora_acu_hour` to the `pricing` block",
        )),
    }
}

/// What parking `env` saves now, from `live`'s records: every parked service's and
/// `scale-to-zero` Aurora cluster's saving and their total (`None` when nothing is
/// parked). `park status` shows it; `park down` reports it after its run.
pub fn of_environment(
    env: &Environment,
    live: &LiveEnvironment,
    sizes: &HashMap<String, Result<TaskSize, String>>,
) -> Option<SavingsSummary> {
    let prices = prices(env);
    let services = live
        .services
        .iter()
        .filter_map(|state| service_savings(state, sizes, prices.as_ref()));
    let aurora = env
        .aurora_clusters
        .iter()
        .zip(&live.aurora)
        .filter_map(|(cfg, state)| aurora_saving(cfg, state, prices.as_ref()));
    let rows: Vec<Savings> = services.chain(aurora).collect();
    (!rows.is_empty()).then(|| summary(&rows, prices.as_ref()))
}

/// An Aurora cluster's saving under its park policy: only `scale-to-zero` saves.
pub fn aurora_saving(
    cfg: &infra_core::environment::AuroraCluster,
    state: &crate::observe::AuroraState,
    prices: Option<&Prices>,
) -> Option<Savings> {
    match cfg.park {
        infra_core::environment::AuroraParkPolicy::ScaleToZero => {
            aurora_savings(state.record.valid(), prices)
        }
        infra_core::environment::AuroraParkPolicy::Keep => None,
    }
}

/// The total of `items`.
pub fn summary<'a>(
    items: impl IntoIterator<Item = &'a Savings>,
    prices: Option<&Prices>,
) -> SavingsSummary {
    let mut out = SavingsSummary {
        per_hour: 0.0,
        so_far: 0.0,
        monthly_at_12h_a_day: 0.0,
        currency: prices.map(|p| p.currency.clone()),
        prices: prices.map(|p| p.source.clone()),
        not_estimated: 0,
        on_schedule: None,
    };
    for s in items {
        match (s.per_hour, s.so_far) {
            (Some(h), Some(f)) => {
                out.per_hour += h;
                out.so_far += f;
            }
            _ => out.not_estimated += 1,
        }
    }
    out.per_hour = round(out.per_hour);
    out.so_far = round(out.so_far);
    out.monthly_at_12h_a_day = round(out.per_hour * ASSUMED_PARKED_HOURS_A_DAY * 365.0 / 12.0);
    out
}

impl SavingsSummary {
    /// `saving 0.06 USD/h (0.57 USD so far; ~20.73 USD a month at 12 h a day, assumed)`.
    pub fn describe(&self) -> String {
        let c = self.currency.as_deref().unwrap_or("");
        let mut text = match &self.prices {
            None => "savings not estimated: no prices for this region (add a `pricing` block)"
                .to_owned(),
            Some(_) => match &self.on_schedule {
                Some(m) => format!(
                    "saving {:.2} {c}/h ({:.2} {c} so far; ~{:.2} {c} in the next 30 days on the schedule, {:.0} h parked)",
                    self.per_hour, self.so_far, m.monthly, m.parked_hours
                ),
                None => format!(
                    "saving {:.2} {c}/h ({:.2} {c} so far; ~{:.2} {c} a month at {} h a day, assumed)",
                    self.per_hour, self.so_far, self.monthly_at_12h_a_day, ASSUMED_PARKED_HOURS_A_DAY
                ),
            },
        };
        if self.not_estimated > 0 && self.prices.is_some() {
            text.push_str(&format!(
                "; {} parked resource(s) not estimated",
                self.not_estimated
            ));
        }
        if let Some(p) = &self.prices {
            text.push_str(&format!("; prices: {p}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_come_from_the_file_else_the_table_else_nowhere() {
        let dir = tempfile::tempdir().unwrap();
        let load = |region: &str, extra: &str| {
            let path = dir.path().join(format!("{region}.env.hcl"));
            std::fs::write(
                &path,
                format!("environment \"x\" {{\n  account_id = \"123456789012\"\n  region     = \"{region}\"\n{extra}}}\n"),
            )
            .unwrap();
            Environment::load(&path).unwrap()
        };
        assert_eq!(prices(&load("ap-south-1", "")), None, "not in the table");
        let london = prices(&load("eu-west-2", "")).unwrap();
        assert_eq!(london.source, "built-in table (taken 2026-03)");
        assert_eq!(london.aurora_acu_hour, None, "no built-in ACU price there");
        let own = prices(&load(
            "ap-south-1",
            "  pricing {\n    fargate_vcpu_hour = 0.05\n    currency = \"EUR\"\n  }\n",
        ))
        .unwrap();
        assert_eq!(
            (
                own.fargate_vcpu_hour,
                own.fargate_gb_hour,
                own.currency.as_str()
            ),
            (Some(0.05), None, "EUR")
        );
        assert_eq!(own.source, "environment file");
    }

    #[test]
    fn sums_round_to_fractions_of_a_cent_and_count_what_is_not_estimated() {
        let prices = Prices {
            fargate_vcpu_hour: Some(0.04656),
            fargate_gb_hour: Some(0.00511),
            aurora_acu_hour: None,
            currency: "USD".into(),
            source: "environment file".into(),
        };
        let items = [
            Savings::estimated(2.0 * (0.5 * 0.04656 + 1.0 * 0.00511), 10.0, "USD"),
            Savings::not("EC2"),
        ];
        assert_eq!(items[0].per_hour, Some(0.05678));
        assert_eq!(items[0].so_far, Some(0.5678));
        let s = summary(&items, Some(&prices));
        assert_eq!(
            (s.per_hour, s.so_far, s.not_estimated),
            (0.05678, 0.5678, 1)
        );
        assert_eq!(s.monthly_at_12h_a_day, round(0.05678 * 12.0 * 365.0 / 12.0));
        assert!(
            s.describe()
                .starts_with("saving 0.06 USD/h (0.57 USD so far;"),
            "{}",
            s.describe()
        );
        assert!(summary(&[], None).describe().contains("not estimated"));
    }
}
