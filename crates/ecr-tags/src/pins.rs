//! `ecr-tags pins`: every pinned image of the environment against ECR.

use crate::discover::{
    describe_repository, family, newest, repository_images, FamilyImage, RepositoryInfo,
    TaggedImage,
};
use crate::error::EcrTagsError;
use infra_core::environment::Environment;
use serde::Serialize;
use std::collections::HashMap;

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
    /// Its digest, when the tag exists in ECR.
    pub digest: Option<String>,
    /// The newest tag of the family.
    pub newest: Option<String>,
    /// How many images of the family were pushed after the pinned one.
    pub behind: Option<usize>,
    /// `up-to-date`, `behind`, `missing` (pinned tag not in ECR), `ambiguous` (the newest
    /// cannot be told: equal push times) or `error`.
    pub status: String,
    /// Warnings and errors.
    pub notes: Vec<String>,
}

/// Reads every pin and compares it with its repository: one DescribeRepositories and one
/// DescribeImages pass per repository, however many images it holds pins for.
pub async fn pins(ecr: &aws_sdk_ecr::Client, env: &Environment) -> Vec<PinRow> {
    let mut repos: HashMap<String, Result<(RepositoryInfo, Vec<TaggedImage>), String>> =
        HashMap::new();
    let mut rows = Vec::new();
    for image in &env.images {
        let mut row = PinRow {
            image: image.local.clone(),
            location: image.file.display().to_string(),
            repository: image.repository.clone(),
            current: None,
            digest: None,
            newest: None,
            behind: None,
            status: "error".into(),
            notes: Vec::new(),
        };
        let pin = match crate::bump::read_pin(image) {
            Ok((_, pin)) => pin,
            Err(e) => {
                row.notes.push(e.to_string());
                rows.push(row);
                continue;
            }
        };
        row.location = format!("{}:{}", image.file.display(), pin.at.line);
        row.current = Some(pin.tag.clone());
        if !repos.contains_key(&image.repository) {
            let read = async {
                let info = describe_repository(ecr, &image.repository).await?;
                Ok::<_, crate::error::EcrTagsError>((
                    info,
                    repository_images(ecr, &image.repository).await?,
                ))
            };
            repos.insert(
                image.repository.clone(),
                read.await.map_err(|e| e.to_string()),
            );
        }
        let (repo, tagged) = match &repos[&image.repository] {
            Ok((repo, tagged)) => (repo, tagged),
            Err(e) => {
                row.notes.push(e.clone());
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
        match position {
            Some(p) => {
                row.digest = Some(images[p].digest.clone());
                let at = (images[p].pushed_at, images[p].pushed_at_nanos);
                let newer = images
                    .iter()
                    .take(p)
                    .filter(|i| (i.pushed_at, i.pushed_at_nanos) > at)
                    .count();
                row.behind = Some(newer);
                row.status = match (ambiguous, newer) {
                    (true, _) => "ambiguous",
                    (false, 0) => "up-to-date",
                    (false, _) => "behind",
                }
                .into();
            }
            None => {
                row.status = "missing".into();
                row.notes.push(format!(
                    "the pinned tag `{}` is not in ECR repository {}",
                    pin.tag, image.repository
                ));
            }
        }
        rows.push(row);
    }
    rows
}

/// The error for a pins report whose rows include errors.
pub fn first_error(rows: &[PinRow]) -> Option<EcrTagsError> {
    rows.iter()
        .find(|r| r.status == "error")
        .map(|r| EcrTagsError::Usage(format!("image `{}`: {}", r.image, r.notes.join("; "))))
}
