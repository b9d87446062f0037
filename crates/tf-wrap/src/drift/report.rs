//! The drift check's report: text, JSON (`tf-wrap/drift`), Markdown within a size, JUnit.

use super::{DriftClass, ResourceDrift};
use crate::gates::show;
use crate::plan::{push_lines, Limit};
use infra_core::exit::ExitStatus;
use infra_core::output::Report;
use serde::Serialize;
use std::io::{self, Write};

/// How a drift check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftOutcome {
    /// Nothing drifted.
    NoDrift,
    /// Only what park did.
    ParkedOnly,
    /// Something changed outside Terraform and park.
    Unexpected,
}

/// The counts of a drift report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DriftCounts {
    /// Resources whose drift park explains.
    pub parked: usize,
    /// Resources with unexpected drift.
    pub unexpected: usize,
}

/// The result of `tf-wrap drift` (JSON schema `tf-wrap/drift`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// The environment checked.
    pub environment: String,
    /// How the check ended.
    pub outcome: DriftOutcome,
    /// Drifted resources by class.
    pub counts: DriftCounts,
    /// Every drifted resource, in the plan's order.
    pub resources: Vec<ResourceDrift>,
    /// The Terraform version that refreshed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terraform_version: Option<String>,
    /// The notifications of unexpected drift sent, or not (the `notify` block).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<infra_notify::Delivery>,
}

impl DriftReport {
    /// The report of `resources` for `environment`.
    pub fn new(
        environment: &str,
        resources: Vec<ResourceDrift>,
        terraform_version: Option<String>,
    ) -> DriftReport {
        let count = |class| resources.iter().filter(|r| r.class == class).count();
        let counts = DriftCounts {
            parked: count(DriftClass::Parked),
            unexpected: count(DriftClass::Unexpected),
        };
        let outcome = match counts {
            DriftCounts {
                unexpected: 1.., ..
            } => DriftOutcome::Unexpected,
            DriftCounts { parked: 1.., .. } => DriftOutcome::ParkedOnly,
            _ => DriftOutcome::NoDrift,
        };
        DriftReport {
            environment: environment.to_owned(),
            outcome,
            counts,
            resources,
            terraform_version,
            notifications: Vec::new(),
        }
    }

    /// 3 when anything drifted unexpectedly, else 0.
    pub fn exit_status(&self) -> ExitStatus {
        match self.outcome {
            DriftOutcome::Unexpected => ExitStatus::ChangesFound,
            DriftOutcome::NoDrift | DriftOutcome::ParkedOnly => ExitStatus::Success,
        }
    }

    fn headline(&self) -> String {
        format!(
            "Drift in {}: {} unexpected, {} parked",
            self.environment, self.counts.unexpected, self.counts.parked
        )
    }

    /// Unexpected resources first, then parked ones, each in the plan's order.
    fn by_class(&self, class: DriftClass) -> impl ExactSizeIterator<Item = &ResourceDrift> {
        self.resources
            .iter()
            .filter(move |r| r.class == class)
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// Markdown for a pull-request comment or a CI step summary, in at most `max_bytes`:
    /// the counts and every unexpected resource are always kept; the parked list is cut
    /// where the limit comes, with a line saying how many were left out and that `full`
    /// has them.
    pub fn to_markdown_within(&self, max_bytes: usize, full: &str) -> String {
        let mut out = format!("### Terraform drift: {}\n\n", self.environment);
        out.push_str("| unexpected | parked |\n| ---: | ---: |\n");
        out.push_str(&format!(
            "| {} | {} |\n\n",
            self.counts.unexpected, self.counts.parked
        ));
        if self.resources.is_empty() {
            out.push_str("No drift.\n");
            return out;
        }
        for class in [DriftClass::Unexpected, DriftClass::Parked] {
            let items = self.by_class(class);
            if items.len() == 0 {
                continue;
            }
            let mark = if class == DriftClass::Unexpected {
                " :warning:"
            } else {
                ""
            };
            out.push_str(&format!(
                "**{}** ({}){mark}\n\n",
                class.as_str(),
                items.len()
            ));
            let lines = items.map(|r| {
                let changes: Vec<String> = r
                    .attributes
                    .iter()
                    .map(|a| format!("{} {} → {}", a.path, show(&a.before), show(&a.after)))
                    .collect();
                let detail = if class == DriftClass::Unexpected || changes.is_empty() {
                    r.reason.clone()
                } else {
                    changes.join("; ")
                };
                format!(
                    "- `{}`: {}\n",
                    r.address.replace('`', "'"),
                    detail.replace('`', "'")
                )
            });
            // Room kept for the "left out" line.
            let limit = (class == DriftClass::Parked).then_some(Limit {
                max_bytes,
                reserve: 140 + full.len(),
                full,
            });
            push_lines(&mut out, lines, limit);
        }
        out
    }

    /// The `unexpected-drift` notice, when something changed outside Terraform and park
    /// (what `tf-wrap drift` hands the one notification step).
    pub fn notice(&self) -> Option<infra_notify::Notice> {
        if self.exit_status() != ExitStatus::ChangesFound {
            return None;
        }
        let unexpected: Vec<String> = self
            .resources
            .iter()
            .filter(|r| r.class == DriftClass::Unexpected)
            .map(|r| r.address.clone())
            .collect();
        Some(infra_notify::Notice::of_report(
            infra_notify::Event::UnexpectedDrift,
            &self.environment,
            "tf-wrap drift",
            format!(
                "{} resource(s) changed outside Terraform and not by park ({} parked)",
                self.counts.unexpected, self.counts.parked
            ),
            unexpected,
            self,
        ))
    }

    /// Writes [`DriftReport::to_junit`] to `path` atomically.
    pub fn write_junit(
        &self,
        path: &std::path::Path,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let xml = self.to_junit()?;
        infra_core::fs::write_atomic(path, xml.as_bytes())?;
        Ok(())
    }

    /// JUnit XML for CircleCI's `store_test_results`: one test case per drifted resource,
    /// failing when unexpected; one passing case when nothing drifted, so the check shows.
    pub fn to_junit(&self) -> Result<String, quick_junit::SerializeError> {
        use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
        let mut suite = TestSuite::new(format!("tf-wrap drift {}", self.environment));
        for r in &self.resources {
            let status = match r.class {
                DriftClass::Parked => TestCaseStatus::success(),
                DriftClass::Unexpected => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(r.reason.clone());
                    s.set_type("unexpected-drift");
                    s.set_description(
                        r.attributes
                            .iter()
                            .map(|a| {
                                format!("{}: {} -> {}", a.path, show(&a.before), show(&a.after))
                            })
                            .collect::<Vec<_>>()
                            .join("\n"),
                    );
                    s
                }
            };
            let mut case = TestCase::new(r.address.clone(), status);
            case.set_classname(r.kind.clone());
            case.add_property(Property::new("class", r.class.as_str()));
            if r.class == DriftClass::Parked {
                case.add_property(Property::new("reason", r.reason.clone()));
            }
            suite.add_test_case(case);
        }
        if self.resources.is_empty() {
            let mut case = TestCase::new("no drift", TestCaseStatus::success());
            case.set_classname("terraform");
            suite.add_test_case(case);
        }
        let mut doc = quick_junit::Report::new("tf-wrap drift");
        doc.add_test_suite(suite);
        doc.to_string()
    }
}

impl Report for DriftReport {
    const SCHEMA: &'static str = "tf-wrap/drift";

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{} (a refresh-only plan; nothing was changed)",
            self.headline()
        )?;
        for class in [DriftClass::Unexpected, DriftClass::Parked] {
            for r in self.by_class(class) {
                writeln!(
                    out,
                    "{:<10}  {}  {}",
                    class.as_str().to_uppercase(),
                    r.address,
                    r.reason
                )?;
                for a in &r.attributes {
                    writeln!(
                        out,
                        "            {}: {} -> {}",
                        a.path,
                        show(&a.before),
                        show(&a.after)
                    )?;
                }
            }
        }
        if self.resources.is_empty() {
            writeln!(out, "No drift.")?;
        }
        Ok(())
    }
}
