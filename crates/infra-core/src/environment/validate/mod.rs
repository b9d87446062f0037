//! Validation of the environment file: from the raw structs (as written) to the model,
//! collecting every problem with the key path that locates it. One module per block; the
//! regular expressions are compiled once per process.

mod aurora;
mod ecs;
mod endpoints;
mod eventbridge;
mod images;
mod notify;
mod rate_budget;
mod schedule;
mod tasks;
mod terraform;

use super::raw::RawFile;
use super::source::SourceIndex;
use super::{Environment, LineColumn};
use crate::error::Problem;
use regex::Regex;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

/// A key path in the file (`environment.prod.ecs_cluster.blog.service.web.desired_count`):
/// what a problem names, and how its line and column are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPath(Vec<String>);

impl KeyPath {
    /// A path from its parts.
    pub(crate) fn of(parts: &[&str]) -> KeyPath {
        KeyPath(parts.iter().map(|s| (*s).to_owned()).collect())
    }

    /// This path with `key` appended.
    pub(crate) fn key(&self, key: &str) -> KeyPath {
        let mut parts = self.0.clone();
        parts.push(key.to_owned());
        KeyPath(parts)
    }

    /// The last key.
    fn last(&self) -> &str {
        self.0.last().map_or("", String::as_str)
    }
}

/// Collects the problems of one file.
pub(crate) struct Validator<'a, 'b> {
    index: &'a SourceIndex<'b>,
    problems: Vec<Problem>,
    /// Problems of the files the schedule reads (holiday files): they make the schedule
    /// unusable, not the environment (see [`Environment::schedule_problems`]).
    schedule_problems: Vec<Problem>,
}

impl<'a, 'b> Validator<'a, 'b> {
    pub(crate) fn new(index: &'a SourceIndex<'b>) -> Self {
        Validator {
            index,
            problems: Vec::new(),
            schedule_problems: Vec::new(),
        }
    }

    /// Every problem found, in file order.
    pub(crate) fn into_problems(mut self) -> Vec<Problem> {
        self.problems.sort_by_key(|p| p.at);
        self.problems
    }

    /// A problem that makes the schedule unusable but not the environment.
    fn schedule_problem(&mut self, path: &KeyPath, message: impl Into<String>) {
        self.schedule_problems.push(Problem {
            at: self.index.locate(&path.0),
            key: Some(path.0.join(".")),
            message: message.into(),
        });
    }

    fn problem(&mut self, path: &KeyPath, message: impl Into<String>) {
        self.problems.push(Problem {
            at: self.index.locate(&path.0),
            key: Some(path.0.join(".")),
            message: message.into(),
        });
    }

    /// A count that must fit `u32` and not be negative.
    fn count(&mut self, path: &KeyPath, value: i64) -> u32 {
        match u32::try_from(value) {
            Ok(v) => v,
            Err(_) if value < 0 => {
                self.problem(
                    path,
                    format!("`{}` must not be negative, found {value}", path.last()),
                );
                0
            }
            Err(_) => {
                self.problem(path, format!("`{}` is too large: {value}", path.last()));
                0
            }
        }
    }

    /// The `pricing` block: prices that are finite and not negative, a currency code.
    fn pricing(&mut self, p: &KeyPath, raw: super::raw::RawPricing) -> super::Pricing {
        let mut price = |key: &str, value: Option<f64>| match value {
            Some(v) if !(v.is_finite() && v >= 0.0) => {
                self.problem(
                    &p.key(key),
                    format!("`{key}` must be a price per hour, not negative, found {v}"),
                );
                None
            }
            other => other,
        };
        let fargate_vcpu_hour = price("fargate_vcpu_hour", raw.fargate_vcpu_hour);
        let fargate_gb_hour = price("fargate_gb_hour", raw.fargate_gb_hour);
        let aurora_acu_hour = price("aurora_acu_hour", raw.aurora_acu_hour);
        let currency = raw.currency.unwrap_or_else(|| "USD".into());
        if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
            self.problem(
                &p.key("currency"),
                format!(
                    "`currency` must be a three-letter code such as \"USD\", found \"{currency}\""
                ),
            );
        }
        super::Pricing {
            fargate_vcpu_hour,
            fargate_gb_hour,
            aurora_acu_hour,
            currency,
        }
    }

    /// The environment block: exactly one, then each of its blocks.
    pub(crate) fn environment(&mut self, raw: RawFile, path: &Path) -> Option<Environment> {
        static REGION: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$").expect("static regex"));
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
                &KeyPath::of(&["environment", &second]),
                format!("a second environment `{second}`: the file must define exactly one environment (`{name}` is the first)"),
            );
        }
        let n = name.as_str();
        let p = KeyPath::of(&["environment", n]);
        if !valid_name(n) {
            self.problem(
                &p,
                format!("environment name `{n}` must be letters, digits, `-` or `_`"),
            );
        }
        if !(env.account_id.len() == 12 && env.account_id.bytes().all(|b| b.is_ascii_digit())) {
            self.problem(
                &p.key("account_id"),
                format!(
                    "`account_id` must be a 12-digit AWS account ID, found \"{}\"",
                    env.account_id
                ),
            );
        }
        if !REGION.is_match(&env.region) {
            self.problem(
                &p.key("region"),
                format!(
                    "`region` must be an AWS region such as \"eu-west-2\", found \"{}\"",
                    env.region
                ),
            );
        }

        let mut after: Vec<String> = Vec::new();
        for (i, other) in env.after.iter().flatten().enumerate() {
            let at = p.key("after");
            if !valid_name(other) {
                self.problem(
                    &at,
                    format!("`after[{i}]` \"{other}\" is not an environment name"),
                );
            } else if other == n {
                self.problem(&at, format!("`after` names `{n}` itself"));
            } else if after.contains(other) {
                self.problem(&at, format!("`after` names `{other}` twice"));
            } else {
                after.push(other.clone());
            }
        }
        let after_at = env
            .after
            .is_some()
            .then(|| self.index.locate(&p.key("after").0));

        let max_hold = match env.max_hold.as_deref().map(crate::retry::parse_duration) {
            None => Duration::from_secs(7 * 24 * 3600),
            Some(Ok(d)) if !d.is_zero() => d,
            Some(Ok(_)) => {
                self.problem(&p.key("max_hold"), "`max_hold` must be longer than zero");
                Duration::from_secs(7 * 24 * 3600)
            }
            Some(Err(e)) => {
                self.problem(
                    &p.key("max_hold"),
                    format!(
                        "`max_hold` \"{}\" {}",
                        env.max_hold.as_deref().unwrap_or_default(),
                        e.predicate("\"7d\" or \"12h\"")
                    ),
                );
                Duration::from_secs(7 * 24 * 3600)
            }
        };
        let pricing = env.pricing.map(|raw| self.pricing(&p.key("pricing"), raw));
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let terraform = self.terraform(&p, env.terraform, &base);
        let ecs_clusters = self.ecs_clusters(&p, env.ecs_cluster);
        let aurora_clusters = self.aurora_clusters(&p, env.aurora_cluster);
        let eventbridge_rules = self.eventbridge_rules(&p, env.eventbridge_rule);
        let images = self.images(&p, env.image, &terraform.root);
        let tasks = self.tasks(&p, env.task, &images);
        let endpoints = self.endpoints(&p, env.endpoint);
        let rate_budget = self.rate_budget(&p, env.rate_budget);
        let schedule = self.schedule(&p, env.schedule, &base);
        let notify = self.notify(&p, env.notify);
        Some(Environment {
            name,
            account_id: env.account_id,
            region: env.region,
            after,
            after_at,
            max_hold,
            pricing,
            terraform,
            ecs_clusters,
            aurora_clusters,
            eventbridge_rules,
            images,
            tasks,
            endpoints,
            rate_budget,
            schedule,
            schedule_problems: std::mem::take(&mut self.schedule_problems),
            notify,
            file: path.to_owned(),
        })
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

/// Whether `name` is a valid environment, cluster or service name: letters, digits, `-`
/// and `_`, 1 to 255 of them.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
