//! The environment file's `image` blocks: which local pins which image, and the tags of
//! its family. Read and checked here, beside the code that reads and rewrites the pins; the
//! environment loader places each [`Problem`] at its `file:line:column`.

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
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

/// An `image "LOCAL" { ... }` block as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    /// The Terraform file that defines the local, relative to the Terraform root.
    pub file: String,
    /// The ECR repository name.
    pub repository: String,
    /// The tag family's regular expression.
    pub tag_pattern: String,
    /// Whether tags must carry a `sha` group (default true).
    #[serde(default)]
    pub require_sha: Option<bool>,
    /// The task definition family that runs the image.
    #[serde(default)]
    pub task_definition: Option<String>,
    /// `CLUSTER/SERVICE` names of the services that run it.
    #[serde(default)]
    pub services: Option<Vec<String>>,
}

/// What is wrong with an `image` block: the key in it (none: the block's label) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key in the block (`"repository"`), or `None` for the block itself.
    pub key: Option<&'static str>,
    /// Why, in words.
    pub message: String,
}

/// Checks the block `image "LOCAL"`: the pinned image (none when its `tag_pattern` does not
/// compile) and every problem. `root` is the Terraform root its `file` is relative to;
/// `normalize` makes the joined path lexically clean.
pub fn check(
    local: String,
    raw: RawImage,
    root: &Path,
    normalize: impl Fn(&Path) -> PathBuf,
) -> (Option<PinnedImage>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut problem =
        |key: Option<&'static str>, message: String| problems.push(Problem { key, message });
    if !IDENTIFIER.is_match(&local) {
        problem(
            None,
            format!("image `{local}` must be named after a Terraform local (an identifier)"),
        );
    }
    if raw.file.trim().is_empty() {
        problem(
            Some("file"),
            "`file` must name the Terraform file that defines the local".to_owned(),
        );
    }
    if !(2..=256).contains(&raw.repository.len()) || !REPOSITORY.is_match(&raw.repository) {
        problem(
            Some("repository"),
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
                problem(
                    Some("tag_pattern"),
                    format!(
                        "`tag_pattern` of image `{local}` has no `(?P<sha>...)` group; add one for the build-unique part, or set `require_sha = false` for a fixed tag"
                    ),
                );
            }
            Some(pattern)
        }
        Err(e) => {
            let detail = regex_error(&e);
            problem(
                Some("tag_pattern"),
                format!(
                    "`tag_pattern` of image `{local}` is not a valid regular expression: {detail}"
                ),
            );
            None
        }
    };
    if let Some(family) = &raw.task_definition {
        if !ECS_NAME.is_match(family) {
            problem(
                Some("task_definition"),
                format!("`task_definition` \"{family}\" is not a task definition family name (1-255 letters, digits, `_`, `-`; no revision, no ARN)"),
            );
        }
    }
    let mut services = Vec::new();
    for (i, name) in raw.services.iter().flatten().enumerate() {
        match name.split_once('/') {
            Some((cluster, service)) if ECS_NAME.is_match(cluster) && ECS_NAME.is_match(service) => {
                let service = ServiceRef {
                    cluster: cluster.to_owned(),
                    service: service.to_owned(),
                };
                if services.contains(&service) {
                    problem(Some("services"), format!("`services` names {service} twice"));
                }
                services.push(service);
            }
            _ => problem(
                Some("services"),
                format!("`services[{i}]` \"{name}\" is not `CLUSTER/SERVICE` (ECS names: 1-255 letters, digits, `_`, `-`)"),
            ),
        }
    }
    let image = tag_pattern.map(|tag_pattern| PinnedImage {
        file: normalize(&root.join(&raw.file)),
        local,
        repository: raw.repository,
        tag_pattern,
        require_sha,
        task_definition: raw.task_definition,
        services,
    });
    (image, problems)
}

/// A regex compile error's last line (the reason; the lines above repeat the pattern).
pub fn regex_error(e: &regex::Error) -> String {
    e.to_string()
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// A container image pinned through a `locals` value in the Terraform files.
#[derive(Debug, Clone, Serialize)]
pub struct PinnedImage {
    /// The name of the local (`prefect_deployer_image`).
    pub local: String,
    /// The Terraform file that defines the local, resolved against the Terraform root.
    pub file: PathBuf,
    /// The ECR repository name.
    pub repository: String,
    /// The tags of this image's family.
    pub tag_pattern: TagPattern,
    /// Whether tags of this family must carry a build-unique `sha` group.
    pub require_sha: bool,
    /// The ECS task definition family that runs this image (`ecr-tags pins --live` compares
    /// its latest ACTIVE revision with the pin).
    pub task_definition: Option<String>,
    /// The ECS services that run this image (`pins --live` compares their running tasks).
    pub services: Vec<ServiceRef>,
}

/// An ECS service named as `CLUSTER/SERVICE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceRef {
    /// The cluster name.
    pub cluster: String,
    /// The service name.
    pub service: String,
}

impl std::fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.cluster, self.service)
    }
}

/// A tag family's pattern, anchored at both ends when matching.
#[derive(Debug, Clone)]
pub struct TagPattern {
    source: String,
    anchored: Regex,
}

impl TagPattern {
    /// Compiles `source`, anchored so that it must match the whole tag.
    pub fn new(source: &str) -> Result<Self, regex::Error> {
        let anchored = Regex::new(&format!("^(?:{source})$"))?;
        Ok(TagPattern {
            source: source.to_owned(),
            anchored,
        })
    }

    /// The pattern as written in the environment file.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `tag` belongs to this family (the whole tag must match).
    pub fn matches(&self, tag: &str) -> bool {
        self.anchored.is_match(tag)
    }

    /// The `sha` group of `tag`, when the tag belongs to the family and the pattern has one.
    pub fn sha<'t>(&self, tag: &'t str) -> Option<&'t str> {
        self.anchored.captures(tag)?.name("sha").map(|m| m.as_str())
    }

    /// Whether the pattern has a named group `sha`.
    pub fn has_sha_group(&self) -> bool {
        self.anchored.capture_names().any(|n| n == Some("sha"))
    }
}

impl Serialize for TagPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

/// An image reference split into repository path, tag and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// The repository path without the registry host.
    pub repository: &'a str,
    /// The tag, when there is one.
    pub tag: Option<&'a str>,
    /// The digest after `@`, when there is one.
    pub digest: Option<&'a str>,
}

/// Splits `[REGISTRY/]REPO[:TAG][@DIGEST]`. The first path component is a registry host
/// when it has a `.` or a `:` or is `localhost` (Docker's rule).
pub fn parse_image(image: &str) -> ImageRef<'_> {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], Some(&name[slash + i + 1..])),
        None => (name, None),
    };
    let repository = match path.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => rest,
        _ => path,
    };
    ImageRef {
        repository,
        tag,
        digest,
    }
}

/// Whether `image` (as a task definition names it) runs the pin `tag`/`digest` of
/// `repository`: the same repository, and the same digest where both have one, else the
/// same tag (the rule `ecr-tags pins --live` judges by, and `run-task` refuses by).
pub fn runs_pin(image: &str, repository: &str, tag: &str, digest: Option<&str>) -> bool {
    let r = parse_image(image);
    r.repository == repository
        && match (r.digest, digest) {
            (Some(seen), Some(pinned)) => seen == pinned,
            _ => r.tag == Some(tag),
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_run_by_tag_or_by_digest_in_its_own_repository() {
        let uri = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data";
        let d1 = format!("sha256:{}", "a".repeat(64));
        let d2 = format!("sha256:{}", "b".repeat(64));
        assert!(runs_pin(&format!("{uri}:v2"), "blog-data", "v2", None));
        assert!(!runs_pin(&format!("{uri}:v1"), "blog-data", "v2", None));
        assert!(!runs_pin(
            "other.example.com/else:v2",
            "blog-data",
            "v2",
            None
        ));
        // A digest on both sides decides, whatever the tag says.
        assert!(runs_pin(
            &format!("{uri}:v1@{d1}"),
            "blog-data",
            "v2",
            Some(&d1)
        ));
        assert!(!runs_pin(
            &format!("{uri}:v2@{d2}"),
            "blog-data",
            "v2",
            Some(&d1)
        ));
        // A digest on one side only: the tag decides.
        assert!(runs_pin(&format!("{uri}:v2"), "blog-data", "v2", Some(&d1)));
    }
}
