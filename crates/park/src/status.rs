//! The `park status` report: the environment file's expectations beside the live state.

use crate::observe::{AuroraState, LiveEnvironment, ServiceState};
use infra_core::aws::CallerIdentity;
use infra_core::environment::{AuroraParkPolicy, Environment};
use infra_core::output::{table, Report};
use serde::Serialize;
use std::io::{self, Write};

/// `park status`: one row per resource the environment file names.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The environment's name.
    pub environment: String,
    /// The environment's account.
    pub account_id: String,
    /// The region.
    pub region: String,
    /// Who the credentials belong to, when the account guard ran.
    pub caller: Option<CallerIdentity>,
    /// ECS services.
    pub services: Vec<ServiceRow>,
    /// Aurora clusters.
    pub aurora: Vec<AuroraRow>,
}

/// A service: what the file expects and what is live.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    /// Desired count per the environment file.
    pub expected_desired_count: u32,
    /// Autoscaling range per the environment file.
    pub expected_autoscaling: Option<(u32, u32)>,
    /// Whether parking scales it down.
    pub park: bool,
    /// The live state.
    #[serde(flatten)]
    pub live: ServiceState,
}

/// An Aurora cluster: the park policy and what is live.
#[derive(Debug, Clone, Serialize)]
pub struct AuroraRow {
    /// The park policy per the environment file.
    pub park: AuroraParkPolicy,
    /// The live state.
    #[serde(flatten)]
    pub live: AuroraState,
}

impl StatusReport {
    /// Joins the environment file with the observation.
    pub fn new(env: &Environment, live: LiveEnvironment, caller: Option<CallerIdentity>) -> Self {
        let services = env
            .services()
            .zip(live.services)
            .map(|((_, svc), state)| ServiceRow {
                expected_desired_count: svc.desired_count,
                expected_autoscaling: svc.autoscaling.map(|a| (a.min, a.max)),
                park: svc.park,
                live: state,
            })
            .collect();
        let aurora = env
            .aurora_clusters
            .iter()
            .zip(live.aurora)
            .map(|(cfg, state)| AuroraRow {
                park: cfg.park,
                live: state,
            })
            .collect();
        StatusReport {
            environment: env.name.clone(),
            account_id: env.account_id.clone(),
            region: env.region.clone(),
            caller,
            services,
            aurora,
        }
    }
}

fn range(r: Option<(impl std::fmt::Display, impl std::fmt::Display)>) -> String {
    r.map_or_else(|| "-".to_owned(), |(a, b)| format!("{a}-{b}"))
}

impl Report for StatusReport {
    const SCHEMA: &'static str = "park/status";

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "environment {} (account {}, {})",
            self.environment, self.account_id, self.region
        )?;
        if let Some(caller) = &self.caller {
            writeln!(out, "caller      {}", caller.arn)?;
        }
        writeln!(out, "\nECS services")?;
        let rows = self.services.iter().map(|s| {
            let t = s.live.scalable_target;
            let suspended = t.map_or("-".to_owned(), |t| {
                let flags = [
                    (t.dynamic_scaling_in_suspended, "in"),
                    (t.dynamic_scaling_out_suspended, "out"),
                    (t.scheduled_scaling_suspended, "scheduled"),
                ];
                let on: Vec<&str> = flags.iter().filter(|(f, _)| *f).map(|(_, n)| *n).collect();
                if on.is_empty() {
                    "none".to_owned()
                } else {
                    on.join(",")
                }
            });
            vec![
                s.live.cluster.clone(),
                s.live.service.clone(),
                s.live.status.clone(),
                format!("{}/{}", s.live.running_count, s.live.desired_count),
                s.expected_desired_count.to_string(),
                range(t.map(|t| (t.min, t.max))),
                range(s.expected_autoscaling),
                suspended,
                if s.park { "yes" } else { "no" }.to_owned(),
            ]
        });
        write!(
            out,
            "{}",
            table(
                [
                    "CLUSTER",
                    "SERVICE",
                    "STATUS",
                    "RUNNING/DESIRED",
                    "FILE",
                    "SCALING",
                    "FILE SCALING",
                    "SUSPENDED",
                    "PARK"
                ],
                rows
            )
        )?;
        if !self.aurora.is_empty() {
            writeln!(out, "\nAurora clusters")?;
            let rows = self.aurora.iter().map(|a| {
                vec![
                    a.live.cluster.clone(),
                    a.live.status.clone(),
                    range(a.live.min_capacity.zip(a.live.max_capacity)),
                    a.live
                        .seconds_until_auto_pause
                        .map_or("-".to_owned(), |s| format!("{s}s")),
                    a.live
                        .deletion_protection
                        .map_or("-".to_owned(), |d| if d { "on" } else { "OFF" }.to_owned()),
                    match a.park {
                        AuroraParkPolicy::Keep => "keep",
                        AuroraParkPolicy::ScaleToZero => "scale-to-zero",
                    }
                    .to_owned(),
                ]
            });
            write!(
                out,
                "{}",
                table(
                    [
                        "CLUSTER",
                        "STATUS",
                        "ACU",
                        "AUTO-PAUSE",
                        "DELETION PROTECTION",
                        "PARK"
                    ],
                    rows
                )
            )?;
        }
        Ok(())
    }
}
