//! Tag discovery: every page of DescribeImages, the family's images newest first.

use crate::error::EcrTagsError;
use aws_sdk_ecr::types::{DescribeImagesFilter, ImageTagMutability, TagStatus};
use infra_core::aws::AwsCallError;
use infra_core::environment::TagPattern;
use serde::Serialize;

/// What the tool needs to know of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryInfo {
    /// The repository name.
    pub name: String,
    /// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME`.
    pub uri: String,
    /// Tag mutability.
    pub mutability: Mutability,
    /// Exclusion filters (wildcards) of the `*_WITH_EXCLUSION` modes.
    pub exclusion_filters: Vec<String>,
}

/// ECR's tag mutability settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mutability {
    /// Tags can never be overwritten.
    Immutable,
    /// Tags can be overwritten.
    Mutable,
    /// Immutable except tags matching an exclusion filter.
    ImmutableWithExclusion,
    /// Mutable except tags matching an exclusion filter.
    MutableWithExclusion,
}

impl RepositoryInfo {
    /// Whether `tag` could be overwritten in this repository.
    pub fn is_mutable(&self, tag: &str) -> bool {
        let excluded = self
            .exclusion_filters
            .iter()
            .any(|f| wildcard_match(f, tag));
        match self.mutability {
            Mutability::Immutable => false,
            Mutability::Mutable => true,
            Mutability::ImmutableWithExclusion => excluded,
            Mutability::MutableWithExclusion => !excluded,
        }
    }

    /// Refuses a tag that could be overwritten, saying which setting makes it so.
    pub fn check_immutable(&self, tag: &str) -> Result<(), EcrTagsError> {
        if !self.is_mutable(tag) {
            return Ok(());
        }
        let why = match self.mutability {
            Mutability::Mutable => "the repository's tags are MUTABLE".to_owned(),
            Mutability::ImmutableWithExclusion => format!(
                "the repository is IMMUTABLE_WITH_EXCLUSION and exclusion filter {} makes this tag mutable",
                self.exclusion_filters.iter().filter(|f| wildcard_match(f, tag)).map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
            ),
            Mutability::MutableWithExclusion => {
                "the repository is MUTABLE_WITH_EXCLUSION and no exclusion filter covers this tag".to_owned()
            }
            Mutability::Immutable => unreachable!("immutable tags are never mutable"),
        };
        Err(EcrTagsError::Refused(format!(
            "tag `{tag}` in repository {} can be overwritten ({why}), so a pin to it does not pin an image; use an immutable repository or pass --allow-mutable",
            self.name
        )))
    }
}

/// ECR wildcard filters: `*` matches any run of characters, everything else itself.
pub fn wildcard_match(filter: &str, tag: &str) -> bool {
    let parts: Vec<&str> = filter.split('*').collect();
    if parts.len() == 1 {
        return filter == tag;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !tag.starts_with(first)
        || !tag[first.len()..].ends_with(last)
        || tag.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &tag[first.len()..tag.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

/// One image of a family: its newest-matching tag and when it was pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FamilyImage {
    /// The tag (the greatest one, when the image has several tags of the family).
    pub tag: String,
    /// The image digest.
    pub digest: String,
    /// Push time, seconds since the epoch.
    pub pushed_at: i64,
    /// Sub-second part of the push time.
    #[serde(skip)]
    pub pushed_at_nanos: u32,
    /// Push time, RFC 3339.
    pub pushed_at_text: String,
    /// The pattern's `sha` group, when it has one.
    pub sha: Option<String>,
    /// Other tags of the same image that belong to the family.
    pub other_tags: Vec<String>,
}

impl FamilyImage {
    fn when(&self) -> (i64, u32) {
        (self.pushed_at, self.pushed_at_nanos)
    }
}

/// Reads the repository's settings.
pub async fn describe_repository(
    ecr: &aws_sdk_ecr::Client,
    name: &str,
) -> Result<RepositoryInfo, EcrTagsError> {
    let out = ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
        .map_err(AwsCallError::on("ecr:DescribeRepositories", name))?;
    let repo = out
        .repositories()
        .first()
        .ok_or_else(|| EcrTagsError::Usage(format!("repository {name} not found")))?;
    let mutability = match repo.image_tag_mutability() {
        Some(ImageTagMutability::Immutable) => Mutability::Immutable,
        Some(ImageTagMutability::ImmutableWithExclusion) => Mutability::ImmutableWithExclusion,
        Some(ImageTagMutability::MutableWithExclusion) => Mutability::MutableWithExclusion,
        // Unknown future modes are treated as mutable: refusing is the safe side.
        _ => Mutability::Mutable,
    };
    Ok(RepositoryInfo {
        name: name.to_owned(),
        uri: repo.repository_uri().unwrap_or(name).to_owned(),
        mutability,
        exclusion_filters: repo
            .image_tag_mutability_exclusion_filters()
            .iter()
            .map(|f| f.filter().to_owned())
            .collect(),
    })
}

/// A tagged image of a repository, as DescribeImages reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedImage {
    /// Every tag of the image.
    pub tags: Vec<String>,
    /// The image digest.
    pub digest: String,
    /// Push time: seconds since the epoch and the sub-second part.
    pub pushed_at: (i64, u32),
    /// Push time, RFC 3339.
    pub pushed_at_text: String,
}

/// Every tagged image of `repository`: every page of DescribeImages, 1,000 images a page.
/// One pass serves every family of the repository (see [`family`]).
pub async fn repository_images(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
) -> Result<Vec<TaggedImage>, EcrTagsError> {
    let mut pages = ecr
        .describe_images()
        .repository_name(repository)
        .filter(
            DescribeImagesFilter::builder()
                .tag_status(TagStatus::Tagged)
                .build(),
        )
        .into_paginator()
        .page_size(1000)
        .send();
    let mut images = Vec::new();
    while let Some(page) = pages.next().await {
        let out = page.map_err(AwsCallError::on("ecr:DescribeImages", repository))?;
        for detail in out.image_details() {
            let pushed = detail.image_pushed_at();
            images.push(TaggedImage {
                tags: detail.image_tags().to_vec(),
                digest: detail.image_digest().unwrap_or_default().to_owned(),
                pushed_at: pushed.map_or((0, 0), |d| (d.secs(), d.subsec_nanos())),
                pushed_at_text: pushed
                    .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                    .unwrap_or_default(),
            });
        }
    }
    Ok(images)
}

/// The images with a tag in the family, newest first (ties in push time ordered by tag so
/// the order is stable).
pub fn family(images: &[TaggedImage], pattern: &TagPattern) -> Vec<FamilyImage> {
    let mut family: Vec<FamilyImage> = images
        .iter()
        .filter_map(|image| {
            let mut tags: Vec<&str> = image
                .tags
                .iter()
                .map(String::as_str)
                .filter(|t| pattern.matches(t))
                .collect();
            tags.sort_unstable();
            let tag = tags.pop()?.to_owned();
            Some(FamilyImage {
                sha: pattern.sha(&tag).map(str::to_owned),
                other_tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                tag,
                digest: image.digest.clone(),
                pushed_at: image.pushed_at.0,
                pushed_at_nanos: image.pushed_at.1,
                pushed_at_text: image.pushed_at_text.clone(),
            })
        })
        .collect();
    family.sort_by(|a, b| b.when().cmp(&a.when()).then_with(|| b.tag.cmp(&a.tag)));
    family
}

/// [`repository_images`] reduced to one family: for commands that need one family only.
pub async fn family_images(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    pattern: &TagPattern,
) -> Result<Vec<FamilyImage>, EcrTagsError> {
    Ok(family(&repository_images(ecr, repository).await?, pattern))
}

/// The newest image of a family sorted by [`family`] (`None` when it has none). Several
/// images with different digests at the newest push time are an error listing them: never
/// a silent pick.
pub fn newest(images: &[FamilyImage]) -> Result<Option<&FamilyImage>, EcrTagsError> {
    let Some(first) = images.first() else {
        return Ok(None);
    };
    let tied: Vec<&FamilyImage> = images
        .iter()
        .take_while(|i| i.when() == first.when())
        .collect();
    let digests: std::collections::BTreeSet<&str> =
        tied.iter().map(|i| i.digest.as_str()).collect();
    if digests.len() > 1 {
        return Err(EcrTagsError::Tie {
            count: tied.len(),
            at: first.pushed_at_text.clone(),
            candidates: tied
                .iter()
                .map(|i| format!("{} ({})", i.tag, i.digest))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(Some(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        for (filter, tag, expected) in [
            ("latest", "latest", true),
            ("latest", "latest2", false),
            ("dev-*", "dev-123", true),
            ("dev-*", "prod-1", false),
            ("*-snapshot", "1.0-snapshot", true),
            ("a*b*c", "a-x-b-y-c", true),
            ("a*b*c", "a-x-c", false),
            ("*", "anything", true),
            ("ab*ba", "aba", false),
        ] {
            assert_eq!(wildcard_match(filter, tag), expected, "{filter} ~ {tag}");
        }
    }

    fn repo(mutability: Mutability, filters: &[&str]) -> RepositoryInfo {
        RepositoryInfo {
            name: "r".into(),
            uri: "u".into(),
            mutability,
            exclusion_filters: filters.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    #[test]
    fn mutability_modes() {
        assert!(!repo(Mutability::Immutable, &[]).is_mutable("x"));
        assert!(repo(Mutability::Mutable, &[]).is_mutable("x"));
        let iwe = repo(Mutability::ImmutableWithExclusion, &["dev-*"]);
        assert!(iwe.is_mutable("dev-1") && !iwe.is_mutable("prod-1"));
        let mwe = repo(Mutability::MutableWithExclusion, &["prod-*"]);
        assert!(!mwe.is_mutable("prod-1") && mwe.is_mutable("dev-1"));
        let err = iwe.check_immutable("dev-1").unwrap_err().to_string();
        assert!(
            err.contains("exclusion filter `dev-*`") && err.contains("--allow-mutable"),
            "{err}"
        );
    }
}
