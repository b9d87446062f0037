//! What `plan`, `apply` and `summary` print on stdout.

use crate::gates::Refusal;
use crate::plan::Summary;
use infra_core::output::Report;
use serde::Serialize;
use std::io::{self, Write};

/// The result of `tf-wrap plan` or `tf-wrap apply`.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// `plan` or `apply`.
    pub command: &'static str,
    /// `planned`, `no-changes`, `refused`, `applied`.
    pub outcome: &'static str,
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
            ("applied", _) => writeln!(out, "Applied."),
            ("refused", _) => writeln!(out, "Refused: no bundle was written."),
            (_, Some(b)) => writeln!(out, "Bundle: {b} (apply with `tf-wrap apply --bundle {b}`)"),
            _ => Ok(()),
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
