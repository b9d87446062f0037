//! The reports of `ecr-tags`, as text or JSON (schemas `ecr-tags/latest`, `ecr-tags/pins`,
//! `ecr-tags/bump`, version 1).

use crate::bump::BumpReport;
use crate::discover::FamilyImage;
use crate::pins::PinRow;
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
}

impl Report for PinsReport {
    const SCHEMA: &'static str = "ecr-tags/pins";

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let rows = self.pins.iter().map(|p| {
            vec![
                p.image.clone(),
                p.location.clone(),
                dash(&p.current),
                p.digest
                    .as_deref()
                    .map_or("-".to_owned(), |d| d.chars().take(19).collect()),
                dash(&p.newest),
                p.behind.map_or("-".to_owned(), |b| b.to_string()),
                p.status.clone(),
            ]
        });
        write!(
            out,
            "{}",
            table(
                ["IMAGE", "LOCATION", "PINNED", "DIGEST", "NEWEST", "BEHIND", "STATUS"],
                rows
            )
        )?;
        for p in &self.pins {
            for note in &p.notes {
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
        if !self.changed {
            return writeln!(
                out,
                "{} is already up to date at {} ({}:{})",
                self.image,
                self.to,
                self.file.display(),
                self.line
            );
        }
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
        )
    }
}
