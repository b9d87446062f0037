//! `ecr-tags bump`: move a pin to the newest tag (or a given one), after every check.

use crate::discover::{family_images, newest, RepositoryInfo};
use crate::error::EcrTagsError;
use infra_core::environment::PinnedImage;
use serde::Serialize;
use std::path::PathBuf;
use tf_locals::rewrite_pin;

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct BumpOptions {
    /// `--to TAG`: this tag instead of the newest.
    pub to: Option<String>,
    /// `--allow-downgrade`: permit a tag pushed before the current pin.
    pub allow_downgrade: bool,
    /// `--allow-mutable`: permit a tag that can be overwritten.
    pub allow_mutable: bool,
    /// `--with-digest`: write `TAG@sha256:…` even when the current pin has no digest (a pin
    /// that has one always keeps the form).
    pub with_digest: bool,
    /// `--git-repo`/`--git-ref`: require the tag's `sha` to be reachable from the ref.
    pub git: Option<(PathBuf, String)>,
    /// `--commit [--branch [NAME]] [--push [REMOTE]]`: the bump as one commit.
    pub commit: Option<crate::git::CommitOptions>,
}

/// The outcome of a bump (or of its dry run).
#[derive(Debug, Clone, Serialize)]
pub struct BumpReport {
    /// The image (the local's name).
    pub image: String,
    /// The Terraform file.
    pub file: PathBuf,
    /// Line of the local.
    pub line: usize,
    /// The pinned tag before.
    pub from: String,
    /// The tag after.
    pub to: String,
    /// The digest of the image the new tag names.
    pub digest: Option<String>,
    /// Whether the pin carries that digest (`TAG@sha256:…`): it had one, or --with-digest.
    pub pins_digest: bool,
    /// When that image was pushed (RFC 3339).
    pub pushed_at: Option<String>,
    /// The commit it was built from (the tag's `sha` group), when the pattern has one.
    pub source_commit: Option<String>,
    /// Whether the file changes.
    pub changed: bool,
    /// Whether only the plan was computed.
    pub dry_run: bool,
    /// Unified diff of the change (empty when unchanged).
    pub diff: String,
    /// Warnings (e.g. the current pin is not in ECR).
    pub warnings: Vec<String>,
    /// What `--commit` did, when it was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<crate::git::CommitReport>,
    /// The new file content, when changed.
    #[serde(skip)]
    pub new_text: Option<String>,
}

impl BumpReport {
    /// What a commit of this bump says.
    pub fn facts(&self) -> crate::git::BumpFacts<'_> {
        crate::git::BumpFacts {
            image: &self.image,
            from: &self.from,
            to: &self.to,
            digest: self.digest.as_deref(),
            pushed_at: self.pushed_at.as_deref(),
            source_commit: self.source_commit.as_deref(),
        }
    }
}

/// Plans the bump: every check, then the new file content and its diff.
pub async fn plan_bump(
    ecr: &aws_sdk_ecr::Client,
    repo: &RepositoryInfo,
    image: &PinnedImage,
    options: &BumpOptions,
    dry_run: bool,
) -> Result<BumpReport, EcrTagsError> {
    let (text, pin) = crate::pins::read_pin(image)?;
    if let Some(to) = &options.to {
        if !image.tag_pattern.matches(to) {
            return Err(EcrTagsError::Usage(format!(
                "--to `{to}` is not a tag of image `{}` (pattern `{}`)",
                image.local,
                image.tag_pattern.as_str()
            )));
        }
    }
    let images = family_images(ecr, &image.repository, &image.tag_pattern).await?;
    let target = match &options.to {
        Some(to) => images
            .iter()
            .find(|i| &i.tag == to || i.other_tags.contains(to))
            .ok_or_else(|| {
                EcrTagsError::Refused(format!(
                    "tag `{to}` does not exist in ECR repository {}",
                    image.repository
                ))
            })?,
        None => newest(&images)?
            .ok_or_else(|| EcrTagsError::no_tags(&image.repository, &image.tag_pattern))?,
    };
    let target_tag = options.to.clone().unwrap_or_else(|| target.tag.clone());
    if !options.allow_mutable {
        repo.check_immutable(&target_tag)?;
    }
    let mut warnings = Vec::new();
    let current = images
        .iter()
        .find(|i| i.tag == pin.tag || i.other_tags.contains(&pin.tag));
    if let (Some(pinned), Some(current)) = (&pin.digest, current) {
        if *pinned != current.digest {
            return Err(EcrTagsError::Refused(format!(
                "{}:{}: {}",
                image.file.display(),
                pin.at,
                crate::pins::digest_mismatch(&pin.tag, pinned, &current.digest)
            )));
        }
    }
    let when = |i: &crate::discover::FamilyImage| (i.pushed_at, i.pushed_at_nanos);
    match current {
        Some(current)
            if when(target) == when(current)
                && target.digest != current.digest
                && !options.allow_downgrade =>
        {
            return Err(EcrTagsError::Refused(format!(
                "`{target_tag}` was pushed at the same time as the current pin `{}` ({}), so which is newer cannot be told; pass --allow-downgrade to pin it anyway",
                pin.tag, current.pushed_at_text
            )));
        }
        Some(current) if when(target) < when(current) && !options.allow_downgrade => {
            return Err(EcrTagsError::Refused(format!(
                "`{target_tag}` (pushed {}) is older than the current pin `{}` (pushed {}); pass --allow-downgrade to move back",
                target.pushed_at_text, pin.tag, current.pushed_at_text
            )));
        }
        Some(_) => {}
        None => warnings.push(format!(
            "the current pin `{}` is not in ECR repository {}",
            pin.tag, image.repository
        )),
    }
    if let Some((repo_path, git_ref)) = &options.git {
        let sha = image.tag_pattern.sha(&target_tag).ok_or_else(|| {
            EcrTagsError::Refused(format!(
                "`{target_tag}` has no `sha` part to check against {git_ref}"
            ))
        })?;
        crate::git::check_reachable(repo_path, git_ref, sha)?;
    }
    let line = pin.at.line;
    let digest = Some(target.digest.clone());
    let pushed_at = Some(target.pushed_at_text.clone());
    let source_commit = image.tag_pattern.sha(&target_tag).map(str::to_owned);
    let pins_digest = pin.digest.is_some() || options.with_digest;
    let new_digest = pins_digest.then_some(target.digest.as_str());
    if target_tag == pin.tag && new_digest == pin.digest.as_deref() {
        return Ok(BumpReport {
            image: image.local.clone(),
            file: image.file.clone(),
            line,
            from: pin.tag.clone(),
            to: target_tag,
            digest,
            pins_digest,
            pushed_at,
            source_commit,
            commit: None,
            changed: false,
            dry_run,
            diff: String::new(),
            warnings,
            new_text: None,
        });
    }
    let new_text = rewrite_pin(&text, &pin, &target_tag, new_digest).map_err(|source| {
        EcrTagsError::Locals {
            path: image.file.clone(),
            source,
        }
    })?;
    let name = image.file.display().to_string();
    let diff = similar::TextDiff::from_lines(&text, &new_text)
        .unified_diff()
        .context_radius(2)
        .header(
            &format!("a/{}", name.trim_start_matches('/')),
            &format!("b/{}", name.trim_start_matches('/')),
        )
        .to_string();
    Ok(BumpReport {
        image: image.local.clone(),
        file: image.file.clone(),
        line,
        from: pin.tag.clone(),
        to: target_tag,
        digest,
        pins_digest,
        pushed_at,
        source_commit,
        commit: None,
        changed: true,
        dry_run,
        diff,
        warnings,
        new_text: Some(new_text),
    })
}
