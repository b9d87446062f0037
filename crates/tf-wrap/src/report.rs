//! What `plan`, `apply` and `summary` print on stdout.

use crate::gates::Refusal;
use crate::plan::Summary;
use infra_core::output::Report;
use serde::Serialize;
use std::io::{self, Write};

/// How a `plan` or `apply` ended, as the reports spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    /// A plan with changes; the bundle was written.
    Planned,
    /// A plan without changes; the bundle was written.
    NoChanges,
    /// A gate refused; no bundle was written (plan) or nothing applied (apply).
    Refused,
    /// The bundle was applied.
    Applied,
}

/// The result of `tf-wrap plan` or `tf-wrap apply`.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// `plan` or `apply`.
    pub command: &'static str,
    /// How it ended.
    pub outcome: RunOutcome,
    /// The bundle directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// What the plan does.
    pub summary: Summary,
    /// Gate refusals, when refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<Refusal>,
}

impl Report for RunReport {
    const SCHEMA: &'static str = "tf-wrap/run";

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(self.summary.to_text().as_bytes())?;
        for r in &self.refusals {
            writeln!(out, "REFUSED {}: {}", r.address, r.reason)?;
        }
        match (self.outcome, &self.bundle) {
            (RunOutcome::Applied, _) => writeln!(out, "Applied."),
            (RunOutcome::Refused, _) => writeln!(out, "Refused: no bundle was written."),
            (RunOutcome::Planned | RunOutcome::NoChanges, Some(b)) => {
                writeln!(out, "Bundle: {b} (apply with `tf-wrap apply --bundle {b}`)")
            }
            (RunOutcome::Planned | RunOutcome::NoChanges, None) => Ok(()),
        }
    }
}

/// `tf-wrap summary --format json`: the summary alone.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryReport {
    /// What the plan does.
    pub summary: Summary,
}

impl Report for SummaryReport {
    const SCHEMA: &'static str = "tf-wrap/summary";

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(self.summary.to_text().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infra_core::output::{write_report, OutputFormat};

    /// `tf-wrap/run` v1 keeps its strings and its shape.
    #[test]
    fn run_report_json_is_unchanged() {
        for (outcome, text) in [
            (RunOutcome::Planned, "planned"),
            (RunOutcome::NoChanges, "no-changes"),
            (RunOutcome::Refused, "refused"),
            (RunOutcome::Applied, "applied"),
        ] {
            assert_eq!(serde_json::to_value(outcome).unwrap(), text);
        }
        let report = RunReport {
            command: "plan",
            outcome: RunOutcome::NoChanges,
            bundle: Some("tf-bundle".into()),
            summary: Summary::default(),
            refusals: Vec::new(),
        };
        let mut out = Vec::new();
        write_report(&report, OutputFormat::Json, &mut out).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "schema",
                "schema_version",
                "build",
                "command",
                "outcome",
                "bundle",
                "summary"
            ]
        );
        assert_eq!(json["outcome"], "no-changes");
        assert_eq!(json["schema"], "tf-wrap/run");
    }
}
