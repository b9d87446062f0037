//! The reports of `ecr-tags`, as text or JSON (schemas `ecr-tags/latest` v1,
//! `ecr-tags/pins` v2, `ecr-tags/bump` v1).

use crate::bump::BumpReport;
use crate::discover::FamilyImage;
use crate::git::{CommitAction, PushAction};
use crate::pins::PinRow;
use infra_core::exit::ExitStatus;
use infra_core::output::{table, Report};
use serde::Serialize;
use std::io::{self, Write};

/// `ecr-tags latest`.
#[derive(Debug, Clone, Serialize)]
pub struct LatestReport {
    /// The repository.
    pub repository: String,
    /// The family pattern.
    pub pattern: String,
    /// The newest image.
    #[serde(flatten)]
    pub image: FamilyImage,
    /// The full image URI with the tag.
    pub uri: String,
}

impl Report for LatestReport {
    const SCHEMA: &'static str = "ecr-tags/latest";

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.image.tag)
    }
}

/// `ecr-tags pins`.
#[derive(Debug, Clone, Serialize)]
pub struct PinsReport {
    /// One row per pinned image.
    pub pins: Vec<PinRow>,
    /// `--check`: a pin behind or missing is exit 3.
    #[serde(skip)]
    pub check: bool,
    /// With `--live`: how many times ECS was read (more than 1 with `--wait`); the text
    /// report then has a LIVE column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_checks: Option<u32>,
    /// With `--live --check`: the `not-live` notifications sent, or not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<infra_notify::Delivery>,
}

impl PinsReport {
    /// `pins --live --check`: the `not-live` notice for `environment` when ECS does not run
    /// a pin (not deployed after any wait, or drifted); what ecr-tags hands the one
    /// notification step.
    pub fn not_live_notice(&self, environment: &str) -> Option<infra_notify::Notice> {
        use crate::live::LiveStatus;
        let not_live: Vec<String> = self
            .pins
            .iter()
            .filter_map(|p| {
                let live = p.live.as_ref()?;
                matches!(live.status, LiveStatus::NotDeployed | LiveStatus::Drifted)
                    .then(|| format!("{} ({})", p.image, live.status.as_str()))
            })
            .collect();
        if not_live.is_empty() {
            return None;
        }
        Some(infra_notify::Notice::of_report(
            infra_notify::Event::NotLive,
            environment,
            "ecr-tags pins --live --check",
            format!("production does not run {} pinned image(s)", not_live.len()),
            not_live,
            self,
        ))
    }

    /// The most severe of the rows' exit statuses ([`PinRow::exit_status`]).
    pub fn exit_status(&self) -> ExitStatus {
        self.pins
            .iter()
            .map(|p| p.exit_status(self.check, self.live_checks.is_some()))
            .fold(ExitStatus::Success, ExitStatus::worst)
    }
}

impl BumpReport {
    /// A dry run that would change the pin is exit 3; anything else that got this far
    /// (bumped, or already up to date) is 0.
    pub fn exit_status(&self) -> ExitStatus {
        match (self.changed, self.dry_run) {
            (true, true) => ExitStatus::ChangesFound,
            (true, false) | (false, _) => ExitStatus::Success,
        }
    }
}

impl Report for PinsReport {
    const SCHEMA: &'static str = "ecr-tags/pins";
    /// 2: `pinned_digest`, the `digest-mismatch` status and `live` (`--live`).
    const SCHEMA_VERSION: u32 = 2;

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let rows = self.pins.iter().map(|p| {
            let mut row = vec![
                p.image.clone(),
                p.location.clone(),
                dash(&p.current),
                p.digest
                    .as_deref()
                    .map_or("-".to_owned(), |d| d.chars().take(19).collect()),
                dash(&p.newest),
                p.behind.map_or("-".to_owned(), |b| b.to_string()),
                p.status.as_str().to_owned(),
            ];
            if self.live_checks.is_some() {
                row.push(
                    p.live
                        .as_ref()
                        .map_or("-".to_owned(), |l| l.status.as_str().to_owned()),
                );
            }
            row
        });
        let mut headers = vec![
            "IMAGE", "LOCATION", "PINNED", "DIGEST", "NEWEST", "BEHIND", "STATUS",
        ];
        if self.live_checks.is_some() {
            headers.push("LIVE");
        }
        write!(out, "{}", table(headers, rows))?;
        for p in &self.pins {
            let live = p.live.iter().flat_map(|l| &l.notes);
            for note in p.notes.iter().chain(live) {
                writeln!(out, "{}: {note}", p.image)?;
            }
        }
        Ok(())
    }
}

impl Report for BumpReport {
    const SCHEMA: &'static str = "ecr-tags/bump";

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        for w in &self.warnings {
            writeln!(out, "warning: {w}")?;
        }
        if self.changed {
            write!(out, "{}", self.diff)?;
            let verb = if self.dry_run { "would bump" } else { "bumped" };
            writeln!(
                out,
                "{verb} {}: {} -> {} ({}:{})",
                self.image,
                self.from,
                self.to,
                self.file.display(),
                self.line
            )?;
        } else {
            writeln!(
                out,
                "{} is already up to date at {} ({}:{})",
                self.image,
                self.to,
                self.file.display(),
                self.line
            )?;
        }
        if let Some(c) = &self.commit {
            let short = |id: &Option<String>| {
                id.as_deref()
                    .map(|i| i.chars().take(12).collect::<String>())
                    .unwrap_or_default()
            };
            match c.action {
                CommitAction::Committed => writeln!(
                    out,
                    "committed {} on branch {}: {}",
                    short(&c.commit),
                    c.branch,
                    c.message.lines().next().unwrap_or_default()
                )?,
                CommitAction::AlreadyCommitted => writeln!(
                    out,
                    "branch {} already holds this bump ({}): nothing to commit",
                    c.branch,
                    short(&c.commit)
                )?,
                CommitAction::NothingToCommit => writeln!(out, "nothing to commit")?,
            }
            match (&c.remote, c.push) {
                (Some(remote), Some(PushAction::Pushed)) => {
                    writeln!(out, "pushed {} to {remote}", c.branch)?
                }
                (Some(remote), Some(PushAction::UpToDate)) => {
                    writeln!(out, "{} on {remote} is up to date", c.branch)?
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pins::PinStatus;
    use infra_core::output::{write_report, OutputFormat};

    /// `ecr-tags/pins` v2, byte for byte: the typed statuses serialise to the strings the
    /// schema documents, and the row's cause stays out of the JSON.
    #[test]
    fn pins_json_is_unchanged() {
        let report = PinsReport {
            notifications: Vec::new(),
            pins: vec![PinRow {
                image: "prefect_deployer_image".into(),
                location: "main.tf:36".into(),
                repository: "blog-data".into(),
                current: Some("d-1".into()),
                digest: Some("sha256:1".into()),
                pinned_digest: None,
                newest: Some("d-2".into()),
                behind: Some(1),
                status: PinStatus::Behind,
                notes: vec!["a note".into()],
                live: None,
                facts: None,
                error: None,
            }],
            check: true,
            live_checks: None,
        };
        let mut out = Vec::new();
        write_report(&report, OutputFormat::Json, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            infra_core::build::fill(
                r#"{
  "schema": "ecr-tags/pins",
  "schema_version": 2,
  "build": {
    "version": "{{build.version}}",
    "commit": "{{build.commit}}",
    "target": "{{build.target}}",
    "profile": "{{build.profile}}"
  },
  "pins": [
    {
      "image": "prefect_deployer_image",
      "location": "main.tf:36",
      "repository": "blog-data",
      "current": "d-1",
      "digest": "sha256:1",
      "pinned_digest": null,
      "newest": "d-2",
      "behind": 1,
      "status": "behind",
      "notes": [
        "a note"
      ],
      "live": null
    }
  ]
}
"#
            )
        );
        assert_eq!(report.exit_status().code(), 3);
    }
}
