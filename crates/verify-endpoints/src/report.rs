//! Reports: a table, JSON (schema `verify-endpoints/run` v1) and JUnit for CI test results.

use crate::runner::EndpointResult;
use infra_core::output::{table, Report};
use serde::Serialize;
use std::io::{self, Write};
use std::time::Duration;

/// The results of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Whether every endpoint was healthy.
    pub healthy: bool,
    /// One entry per endpoint.
    pub endpoints: Vec<EndpointResult>,
    /// The notifications of failed checks sent, or not (the `notify` block).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<infra_notify::Delivery>,
}

impl RunReport {
    /// The `failed` notice for `environment`, when an endpoint failed its check (what
    /// verify-endpoints hands the one notification step).
    pub fn notice(&self, environment: &str) -> Option<infra_notify::Notice> {
        if self.healthy {
            return None;
        }
        let failed: Vec<String> = self
            .endpoints
            .iter()
            .filter(|r| !r.passed)
            .map(|r| r.name.clone())
            .collect();
        Some(infra_notify::Notice::of_report(
            infra_notify::Event::Failed,
            environment,
            "verify-endpoints",
            format!(
                "{} of {} endpoint(s) failed their check",
                failed.len(),
                self.endpoints.len()
            ),
            failed,
            self,
        ))
    }
}

impl Report for RunReport {
    const SCHEMA: &'static str = "verify-endpoints/run";

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let rows = self.endpoints.iter().map(|r| {
            vec![
                r.name.clone(),
                r.url.clone(),
                r.status.map_or("-".into(), |s| s.to_string()),
                if r.passed {
                    "ok".into()
                } else {
                    format!("FAILED ({})", r.outcome)
                },
                r.attempts.to_string(),
                r.timings
                    .map_or("-".into(), |t| format!("{:.0} ms", t.total_ms)),
                match (&r.expected, &r.actual) {
                    (Some(e), Some(a)) if !r.passed => format!("expected {e}, got {a}"),
                    _ => String::new(),
                },
            ]
        });
        write!(
            out,
            "{}",
            table(
                ["ENDPOINT", "URL", "STATUS", "RESULT", "ATTEMPTS", "TIME", "DETAIL"],
                rows
            )
        )?;
        let failed = self.endpoints.iter().filter(|r| !r.passed).count();
        writeln!(
            out,
            "{} healthy, {failed} failed",
            self.endpoints.len() - failed
        )
    }
}

/// The JUnit XML document: one test case per endpoint; a failure's message has the
/// method, URL, expected, actual and attempts; timings are properties.
pub fn junit(report: &RunReport) -> Result<String, quick_junit::SerializeError> {
    use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("verify-endpoints");
    for r in &report.endpoints {
        let status = if r.passed {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!(
                "{} {}: expected {}, got {} ({} attempt{}, {})",
                r.method,
                r.url,
                r.expected.as_deref().unwrap_or("-"),
                r.actual.as_deref().unwrap_or("-"),
                r.attempts,
                if r.attempts == 1 { "" } else { "s" },
                r.outcome
            ));
            s.set_type(r.outcome.as_str());
            s
        };
        let mut case = TestCase::new(r.name.clone(), status);
        case.set_classname("endpoint");
        case.set_time(Duration::from_secs_f64(r.elapsed_ms / 1000.0));
        case.add_property(Property::new("url", r.url.clone()));
        case.add_property(Property::new("attempts", r.attempts.to_string()));
        if let Some(t) = r.timings {
            for (k, v) in [
                ("dns_ms", t.dns_ms),
                ("connect_ms", t.connect_ms),
                ("tls_ms", t.tls_ms),
                ("ttfb_ms", t.ttfb_ms),
                ("total_ms", t.total_ms),
            ] {
                case.add_property(Property::new(k, format!("{v:.1}")));
            }
        }
        suite.add_test_case(case);
    }
    let mut doc = quick_junit::Report::new("verify-endpoints");
    doc.add_test_suite(suite);
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `verify-endpoints/run` v1, byte for byte, for a failed check.
    #[test]
    fn run_json_is_unchanged() {
        let report = RunReport {
            healthy: false,
            endpoints: vec![crate::runner::unfinished(
                "portal".into(),
                "https://portal.example.com/health".into(),
                crate::runner::CheckOutcome::Deadline,
                "the run's deadline passed".into(),
            )],
            notifications: Vec::new(),
        };
        let mut out = Vec::new();
        infra_core::output::write_report(&report, infra_core::output::OutputFormat::Json, &mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            infra_core::build::fill(
                r#"{
  "schema": "verify-endpoints/run",
  "schema_version": 1,
  "build": {
    "version": "{{build.version}}",
    "commit": "{{build.commit}}",
    "target": "{{build.target}}",
    "profile": "{{build.profile}}"
  },
  "healthy": false,
  "endpoints": [
    {
      "name": "portal",
      "method": "GET",
      "url": "https://portal.example.com/health",
      "redirects": [],
      "connected_via": null,
      "passed": false,
      "attempts": 0,
      "status": null,
      "expected": null,
      "actual": "the run's deadline passed",
      "outcome": "deadline",
      "timings": null,
      "elapsed_ms": 0.0,
      "cert_days_left": null,
      "warnings": []
    }
  ]
}
"#
            )
        );
    }
}
