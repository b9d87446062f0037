//! `ecr-tags pins`: every pinned image of the environment against ECR.

use crate::discover::{
    describe_repository, family, newest, repository_images, FamilyImage, RepositoryInfo,
    TaggedImage,
};
use crate::error::EcrTagsError;
use crate::live::{self, LiveStatus, PinFacts};
use infra_core::environment::{Environment, PinnedImage};
use infra_core::exit::ExitStatus;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tf_locals::{find_pin, ImagePin};

/// Where a pin stands against its repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinStatus {
    /// The pinned image is the family's newest.
    UpToDate,
    /// Newer images of the family were pushed after the pinned one.
    Behind,
    /// The pinned tag is not in ECR.
    Missing,
    /// The pin's digest (`TAG@sha256:…`) is not the digest ECR holds for its tag: the pin
    /// names two different images (a typo, or the tag was pushed again in a mutable
    /// repository), and ECS pulls the digest.
    DigestMismatch,
    /// The newest image cannot be told (several digests at the newest push time).
    Ambiguous,
    /// The pin could not be read, or its repository could not be.
    Error,
}

/// One pinned image.
#[derive(Debug, Clone, Serialize)]
pub struct PinRow {
    /// The local.
    pub image: String,
    /// `file:line`.
    pub location: String,
    /// The ECR repository.
    pub repository: String,
    /// The pinned tag.
    pub current: Option<String>,
    /// Its digest in ECR, when the tag exists there.
    pub digest: Option<String>,
    /// The digest written in the pin (`TAG@sha256:…`), when it has one.
    pub pinned_digest: Option<String>,
    /// The newest tag of the family.
    pub newest: Option<String>,
    /// How many images of the family were pushed after the pinned one.
    pub behind: Option<usize>,
    /// Where the pin stands.
    pub status: PinStatus,
    /// Warnings and errors.
    pub notes: Vec<String>,
    /// With `--live`: what ECS runs against the pin (null when the image block names no
    /// task definition or services, or without `--live`).
    pub live: Option<crate::live::LiveCheck>,
    /// What ECR says of the pin, for `--live` to compare ECS with (none when the pin or its
    /// repository could not be read).
    #[serde(skip)]
    pub facts: Option<PinFacts>,
    /// Why the row is [`PinStatus::Error`]: the cause, which decides the exit code.
    #[serde(skip)]
    pub error: Option<Arc<EcrTagsError>>,
}

impl PinStatus {
    /// The status as the text and JSON reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            PinStatus::UpToDate => "up-to-date",
            PinStatus::Behind => "behind",
            PinStatus::Missing => "missing",
            PinStatus::DigestMismatch => "digest-mismatch",
            PinStatus::Ambiguous => "ambiguous",
            PinStatus::Error => "error",
        }
    }
}

impl PinRow {
    /// The exit status this row alone calls for: an unreadable pin is invalid input (2),
    /// a repository that could not be read (AWS unreachable, throttled past the
    /// deadline) or an undecidable newest image a failure (1), and with `check` a pin
    /// behind, missing or with a digest that is not its tag's is a change to make (3).
    ///
    /// With `live` (`pins --live`), `check` asks whether production runs the pins: a pin
    /// not live is 3, and so are a missing pin and a digest mismatch (the pin itself is
    /// wrong), but a pin merely behind a newer build is not.
    pub fn exit_status(&self, check: bool, live: bool) -> ExitStatus {
        let pin = match self.status {
            PinStatus::Behind if live => ExitStatus::Success,
            _ => self.pin_exit_status(check),
        };
        let live = match &self.live {
            None => ExitStatus::Success,
            Some(l) => match l.status {
                LiveStatus::Error => l
                    .error
                    .as_ref()
                    .map_or(ExitStatus::Failure, |e| e.exit_status()),
                LiveStatus::Live => ExitStatus::Success,
                LiveStatus::NotDeployed | LiveStatus::Drifted if check => ExitStatus::ChangesFound,
                LiveStatus::NotDeployed | LiveStatus::Drifted => ExitStatus::Success,
            },
        };
        ExitStatus::worst(pin, live)
    }

    fn pin_exit_status(&self, check: bool) -> ExitStatus {
        match self.status {
            PinStatus::Error => self
                .error
                .as_ref()
                .map_or(ExitStatus::Failure, |e| e.exit_status()),
            PinStatus::Ambiguous => ExitStatus::Failure,
            PinStatus::Behind | PinStatus::Missing | PinStatus::DigestMismatch if check => {
                ExitStatus::ChangesFound
            }
            PinStatus::Behind
            | PinStatus::Missing
            | PinStatus::DigestMismatch
            | PinStatus::UpToDate => ExitStatus::Success,
        }
    }
}

/// Reads every pin and compares it with its repository: one DescribeRepositories and one
/// DescribeImages pass per repository, however many images it holds pins for. Each row
/// keeps the [`PinFacts`] that [`live`] compares ECS with.
pub async fn pins(ecr: &aws_sdk_ecr::Client, env: &Environment) -> Vec<PinRow> {
    type Read = Result<(RepositoryInfo, Vec<TaggedImage>), Arc<EcrTagsError>>;
    let mut repos: HashMap<String, Read> = HashMap::new();
    let mut rows = Vec::new();
    for image in &env.images {
        let mut row = PinRow {
            image: image.local.clone(),
            location: image.file.display().to_string(),
            repository: image.repository.clone(),
            current: None,
            digest: None,
            pinned_digest: None,
            newest: None,
            behind: None,
            status: PinStatus::Error,
            notes: Vec::new(),
            live: None,
            facts: None,
            error: None,
        };
        let pin = match read_pin(image) {
            Ok((_, pin)) => pin,
            Err(e) => {
                row.notes.push(e.to_string());
                row.error = Some(Arc::new(e));
                rows.push(row);
                continue;
            }
        };
        row.location = format!("{}:{}", image.file.display(), pin.at.line);
        row.current = Some(pin.tag.clone());
        row.pinned_digest.clone_from(&pin.digest);
        if !repos.contains_key(&image.repository) {
            let read = async {
                let info = describe_repository(ecr, &image.repository).await?;
                Ok::<_, crate::error::EcrTagsError>((
                    info,
                    repository_images(ecr, &image.repository).await?,
                ))
            };
            repos.insert(image.repository.clone(), read.await.map_err(Arc::new));
        }
        let (repo, tagged) = match &repos[&image.repository] {
            Ok((repo, tagged)) => (repo, tagged),
            Err(e) => {
                row.notes.push(e.to_string());
                row.error = Some(Arc::clone(e));
                rows.push(row);
                continue;
            }
        };
        if !repo.is_mutable(&pin.tag) && image.tag_pattern.sha(&pin.tag).is_none() {
            row.notes.push(format!(
                "`{}` has no build-unique part in an immutable repository: it can be pushed only once, and the next rebuild fails with ImageTagAlreadyExistsException; add a build id (e.g. the commit sha) to the tag and a `(?P<sha>...)` group to the pattern",
                pin.tag
            ));
        }
        if repo.is_mutable(&pin.tag) {
            row.notes.push(format!(
                "`{}` can be overwritten in repository {} (tag mutability)",
                pin.tag, repo.name
            ));
        }
        let images: Vec<FamilyImage> = family(tagged, &image.tag_pattern);
        let ambiguous = match newest(&images) {
            Ok(n) => {
                row.newest = n.map(|n| n.tag.clone());
                false
            }
            Err(e) => {
                row.notes.push(e.to_string());
                true
            }
        };
        let position = images
            .iter()
            .position(|i| i.tag == pin.tag || i.other_tags.contains(&pin.tag));
        // What `--live` needs: the pinned image's digest (ECR's, else the pin's own) and
        // the older images of the family.
        let mut facts = PinFacts {
            repository: image.repository.clone(),
            tag: pin.tag.clone(),
            digest: pin.digest.clone(),
            ..PinFacts::default()
        };
        match position {
            Some(p) => {
                row.digest = Some(images[p].digest.clone());
                let at = (images[p].pushed_at, images[p].pushed_at_nanos);
                let newer = images
                    .iter()
                    .take(p)
                    .filter(|i| (i.pushed_at, i.pushed_at_nanos) > at)
                    .count();
                facts.digest = Some(images[p].digest.clone());
                for older in images
                    .iter()
                    .filter(|i| (i.pushed_at, i.pushed_at_nanos) < at)
                {
                    facts.older_tags.push(older.tag.clone());
                    facts.older_tags.extend(older.other_tags.iter().cloned());
                    facts.older_digests.push(older.digest.clone());
                }
                row.behind = Some(newer);
                let mismatch = pin.digest.as_ref().filter(|d| **d != images[p].digest);
                if let Some(pinned) = mismatch {
                    row.notes
                        .push(digest_mismatch(&pin.tag, pinned, &images[p].digest));
                }
                row.status = match (mismatch, ambiguous, newer) {
                    (Some(_), _, _) => PinStatus::DigestMismatch,
                    (None, true, _) => PinStatus::Ambiguous,
                    (None, false, 0) => PinStatus::UpToDate,
                    (None, false, _) => PinStatus::Behind,
                };
            }
            None => {
                row.status = PinStatus::Missing;
                row.notes.push(format!(
                    "the pinned tag `{}` is not in ECR repository {}",
                    pin.tag, image.repository
                ));
            }
        }
        row.facts = Some(facts);
        rows.push(row);
    }
    rows
}

/// `--live`: compares each row whose pin was read with what ECS runs, replacing the row's
/// previous `live` (ECR is not read again: `--wait` repeats only this).
pub async fn check_live(ecs: &aws_sdk_ecs::Client, env: &Environment, rows: &mut [PinRow]) {
    for (image, row) in env.images.iter().zip(rows) {
        if let Some(facts) = &row.facts {
            row.live = live::check(ecs, image, facts).await;
        }
    }
}

/// Reads a Terraform file and the pin of `image` in it.
pub fn read_pin(image: &PinnedImage) -> Result<(String, ImagePin), EcrTagsError> {
    let text = std::fs::read_to_string(&image.file).map_err(|source| EcrTagsError::ReadFile {
        path: image.file.clone(),
        source,
    })?;
    let pin = find_pin(&text, &image.local).map_err(|source| EcrTagsError::Locals {
        path: image.file.clone(),
        source,
    })?;
    check_repository(&image.file, &pin, &image.repository)?;
    Ok((text, pin))
}

/// A plain pin must point at the environment file's repository.
fn check_repository(file: &Path, pin: &ImagePin, repository: &str) -> Result<(), EcrTagsError> {
    if pin.image.contains("${") {
        return Ok(());
    }
    if pin.image == repository || pin.image.ends_with(&format!("/{repository}")) {
        return Ok(());
    }
    Err(EcrTagsError::Usage(format!(
        "{}:{}: `{}` points at {}, but the environment file says repository {repository}",
        file.display(),
        pin.at,
        pin.local,
        pin.image
    )))
}

/// What a pin whose digest is not its tag's says.
pub fn digest_mismatch(tag: &str, pinned: &str, in_ecr: &str) -> String {
    format!(
        "the pin says `{tag}@{pinned}`, but `{tag}` is {in_ecr} in ECR: the pin names two different images (ECS pulls the digest); fix the digest by hand"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use infra_core::aws::{AwsCallError, AwsCallErrorKind};

    fn row(status: PinStatus, error: Option<EcrTagsError>) -> PinRow {
        PinRow {
            image: "img".into(),
            location: "main.tf:1".into(),
            repository: "r".into(),
            current: None,
            digest: None,
            pinned_digest: None,
            newest: None,
            behind: None,
            status,
            notes: Vec::new(),
            live: None,
            facts: None,
            error: error.map(Arc::new),
        }
    }

    #[test]
    fn each_status_and_cause_has_its_exit_code() {
        let unreachable = EcrTagsError::Aws(AwsCallError {
            operation: "ecr:DescribeRepositories",
            resource: Some("r".into()),
            code: None,
            message: "connection refused".into(),
            kind: AwsCallErrorKind::Dispatch,
            source: None,
        });
        let unreadable = EcrTagsError::Usage("main.tf:3:5: not a string".into());
        for (r, plain, check) in [
            (row(PinStatus::UpToDate, None), 0, 0),
            (row(PinStatus::Behind, None), 0, 3),
            (row(PinStatus::Missing, None), 0, 3),
            (row(PinStatus::DigestMismatch, None), 0, 3),
            (row(PinStatus::Ambiguous, None), 1, 1),
            (row(PinStatus::Error, Some(unreachable)), 1, 1),
            (row(PinStatus::Error, Some(unreadable)), 2, 2),
        ] {
            assert_eq!(r.exit_status(false, false).code(), plain, "{:?}", r.status);
            assert_eq!(
                r.exit_status(true, false).code(),
                check,
                "{:?} --check",
                r.status
            );
            // With --live, --check asks "does production run the pins?": behind is fine.
            let live_check = if r.status == PinStatus::Behind {
                0
            } else {
                check
            };
            assert_eq!(
                r.exit_status(true, true).code(),
                live_check,
                "{:?} --live --check",
                r.status
            );
        }
    }

    #[test]
    fn statuses_keep_their_json_strings() {
        for (status, text) in [
            (PinStatus::UpToDate, "up-to-date"),
            (PinStatus::Behind, "behind"),
            (PinStatus::Missing, "missing"),
            (PinStatus::DigestMismatch, "digest-mismatch"),
            (PinStatus::Ambiguous, "ambiguous"),
            (PinStatus::Error, "error"),
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), text);
            assert_eq!(status.as_str(), text);
        }
    }
}
