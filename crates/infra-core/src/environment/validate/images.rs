//! `image` blocks: the pinned images.

use super::{normalize, regex_error, KeyPath, Validator};
use crate::environment::raw::RawImage;
use crate::environment::{PinnedImage, ServiceRef, TagPattern};
use indexmap::IndexMap;
use regex::Regex;
use std::path::Path;
use std::sync::LazyLock;

/// ECR's repository name grammar.
static REPOSITORY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
        .expect("static regex")
});
/// ECS's names of clusters, services and task definition families.
static ECS_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_-]{1,255}$").expect("static regex"));
/// A Terraform identifier (the local's name).
static IDENTIFIER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_-]*$").expect("static regex"));

impl Validator<'_, '_> {
    pub(super) fn images(
        &mut self,
        env: &KeyPath,
        raw: IndexMap<String, RawImage>,
        root: &Path,
    ) -> Vec<PinnedImage> {
        let mut images = Vec::new();
        for (local, raw) in raw {
            let p = env.key("image").key(&local);
            if !IDENTIFIER.is_match(&local) {
                self.problem(
                    &p,
                    format!(
                        "image `{local}` must be named after a Terraform local (an identifier)"
                    ),
                );
            }
            if raw.file.trim().is_empty() {
                self.problem(
                    &p.key("file"),
                    "`file` must name the Terraform file that defines the local",
                );
            }
            if !(2..=256).contains(&raw.repository.len()) || !REPOSITORY.is_match(&raw.repository) {
                self.problem(
                    &p.key("repository"),
                    format!(
                        "`repository` \"{}\" is not a valid ECR repository name",
                        raw.repository
                    ),
                );
            }
            let require_sha = raw.require_sha.unwrap_or(true);
            let tag_pattern = match TagPattern::new(&raw.tag_pattern) {
                Ok(pattern) => {
                    if require_sha && !pattern.has_sha_group() {
                        self.problem(
                            &p.key("tag_pattern"),
                            format!(
                                "`tag_pattern` of image `{local}` has no `(?P<sha>...)` group; add one for the build-unique part, or set `require_sha = false` for a fixed tag"
                            ),
                        );
                    }
                    Some(pattern)
                }
                Err(e) => {
                    let detail = regex_error(&e);
                    self.problem(
                        &p.key("tag_pattern"),
                        format!("`tag_pattern` of image `{local}` is not a valid regular expression: {detail}"),
                    );
                    None
                }
            };
            if let Some(family) = &raw.task_definition {
                if !ECS_NAME.is_match(family) {
                    self.problem(
                        &p.key("task_definition"),
                        format!("`task_definition` \"{family}\" is not a task definition family name (1-255 letters, digits, `_`, `-`; no revision, no ARN)"),
                    );
                }
            }
            let mut services = Vec::new();
            for (i, name) in raw.services.iter().flatten().enumerate() {
                match name.split_once('/') {
                    Some((cluster, service))
                        if ECS_NAME.is_match(cluster) && ECS_NAME.is_match(service) =>
                    {
                        let service = ServiceRef {
                            cluster: cluster.to_owned(),
                            service: service.to_owned(),
                        };
                        if services.contains(&service) {
                            self.problem(
                                &p.key("services"),
                                format!("`services` names {service} twice"),
                            );
                        }
                        services.push(service);
                    }
                    _ => self.problem(
                        &p.key("services"),
                        format!("`services[{i}]` \"{name}\" is not `CLUSTER/SERVICE` (ECS names: 1-255 letters, digits, `_`, `-`)"),
                    ),
                }
            }
            if let Some(tag_pattern) = tag_pattern {
                images.push(PinnedImage {
                    file: normalize(&root.join(&raw.file)),
                    local,
                    repository: raw.repository,
                    tag_pattern,
                    require_sha,
                    task_definition: raw.task_definition,
                    services,
                });
            }
        }
        images
    }
}
