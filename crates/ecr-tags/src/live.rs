//! `ecr-tags pins --live`: is what ECS runs what the pin says?
//!
//! For an image block with `task_definition = "FAMILY"` and/or `services =
//! ["CLUSTER/SERVICE", …]`, the image of the family's latest ACTIVE revision and the images
//! of each service's running tasks (and the service's own task definition, when it is not
//! that revision) are compared with the pin. Every image seen gets a [`Verdict`]; the pin's
//! [`LiveStatus`] is the worst of them:
//! - `live`: everything seen is the pinned image (same digest where both are known,
//!   otherwise the same tag).
//! - `not-deployed`: something still runs or names an *older* image of the family (pushed
//!   before the pinned one): the apply has not happened or the rollout has not finished.
//! - `drifted`: something runs or names an image that is neither the pin nor an older image
//!   of its family (a hand-registered task definition, an out-of-band deploy, a rollback
//!   to an image the family never had, another repository).
//!
//! "Previously pinned" is read as "an older image of the same family": what the pin history
//! could have held. Running tasks are found with ListTasks(serviceName) and kept only when
//! their group is `service:NAME`, which is how ECS marks a service's tasks.

use crate::error::EcrTagsError;
use infra_core::aws::AwsCallError;
use infra_core::environment::{PinnedImage, ServiceRef};
use park_state::state::ServiceStatus;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Where a pin stands against what runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LiveStatus {
    /// Everything seen is the pinned image.
    Live,
    /// Something still names or runs an older image of the family.
    NotDeployed,
    /// Something names or runs an image that is neither the pin nor an older one.
    Drifted,
    /// ECS could not be read, or a named task definition or service does not exist.
    Error,
}

impl LiveStatus {
    /// As the reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            LiveStatus::Live => "live",
            LiveStatus::NotDeployed => "not-deployed",
            LiveStatus::Drifted => "drifted",
            LiveStatus::Error => "error",
        }
    }
}

/// What one image seen in ECS is, against the pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The pinned image.
    Pinned,
    /// An older image of the family.
    Previous,
    /// Anything else.
    Other,
}

impl Verdict {
    fn status(self) -> LiveStatus {
        match self {
            Verdict::Pinned => LiveStatus::Live,
            Verdict::Previous => LiveStatus::NotDeployed,
            Verdict::Other => LiveStatus::Drifted,
        }
    }
}

/// An image as ECS names it, with its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenImage {
    /// The image reference as ECS gives it (`REGISTRY/REPO:TAG`, maybe `@sha256:…`).
    pub image: String,
    /// The digest, when the reference or the running container reports one.
    pub digest: Option<String>,
    /// Against the pin.
    pub verdict: Verdict,
}

/// The task definition family's latest ACTIVE revision.
#[derive(Debug, Clone, Serialize)]
pub struct TaskDefinitionLive {
    /// The family.
    pub family: String,
    /// The revision's ARN.
    pub arn: String,
    /// Its containers' images of the pinned repository.
    pub images: Vec<SeenImage>,
    /// The worst verdict.
    pub status: LiveStatus,
}

/// One service: its task definition and its running tasks.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceLive {
    /// `CLUSTER/SERVICE`.
    pub service: String,
    /// The service's task definition ARN.
    pub task_definition: Option<String>,
    /// The images it names, when it is not the family's latest revision.
    pub task_definition_images: Vec<SeenImage>,
    /// How many of its tasks are running.
    pub running_tasks: usize,
    /// The running containers' images of the pinned repository (one per distinct image).
    pub running: Vec<SeenImage>,
    /// The worst verdict.
    pub status: LiveStatus,
}

/// `--live` for one pin.
#[derive(Debug, Clone, Serialize)]
pub struct LiveCheck {
    /// The worst of everything seen.
    pub status: LiveStatus,
    /// The family's latest ACTIVE revision, when the image block names a family.
    pub task_definition: Option<TaskDefinitionLive>,
    /// The services the image block names.
    pub services: Vec<ServiceLive>,
    /// What was found, in words.
    pub notes: Vec<String>,
    /// Why the check is [`LiveStatus::Error`].
    #[serde(skip)]
    pub error: Option<Arc<EcrTagsError>>,
}

/// What the pin is, to compare images with.
#[derive(Debug, Clone, Default)]
pub struct PinFacts {
    /// The ECR repository.
    pub repository: String,
    /// The pinned tag.
    pub tag: String,
    /// The pinned image's digest (ECR's for the tag, else the pin's own).
    pub digest: Option<String>,
    /// Older images of the family: their tags and digests.
    pub older_tags: Vec<String>,
    /// Older images' digests.
    pub older_digests: Vec<String>,
}

pub use tf_locals::image::{parse_image, ImageRef};

/// The verdict on `image` (as ECS names it) with `reported_digest` (a running container's
/// `imageDigest`), against the pin.
pub fn verdict(pin: &PinFacts, image: &str, reported_digest: Option<&str>) -> Verdict {
    let r = parse_image(image);
    if r.repository != pin.repository {
        return Verdict::Other;
    }
    let digest = r.digest.or(reported_digest);
    let pinned = match (digest, pin.digest.as_deref()) {
        (Some(seen), Some(pinned)) => seen == pinned,
        _ => r.tag == Some(pin.tag.as_str()),
    };
    if pinned {
        return Verdict::Pinned;
    }
    let older = match digest {
        Some(seen) => pin.older_digests.iter().any(|d| d == seen),
        None => r.tag.is_some_and(|t| pin.older_tags.iter().any(|o| o == t)),
    };
    if older {
        Verdict::Previous
    } else {
        Verdict::Other
    }
}

/// The images of `revision` in the pin's repository, each judged, and the revision's
/// status: the worst verdict, or `drifted` when it runs nothing of the repository.
fn judge(revision: &Revision, pin: &PinFacts) -> (Vec<SeenImage>, LiveStatus) {
    let images: Vec<SeenImage> = in_repository(&revision.images, pin)
        .into_iter()
        .map(|image| SeenImage {
            digest: parse_image(&image).digest.map(str::to_owned),
            verdict: verdict(pin, &image, None),
            image,
        })
        .collect();
    let status = match images.is_empty() {
        true => LiveStatus::Drifted,
        false => worst(images.iter().map(|i| i.verdict)),
    };
    (images, status)
}

fn worst(verdicts: impl IntoIterator<Item = Verdict>) -> LiveStatus {
    verdicts
        .into_iter()
        .map(Verdict::status)
        .max()
        .unwrap_or(LiveStatus::Live)
}

/// A task definition revision: its ARN and its containers' images.
#[derive(Debug, Clone)]
struct Revision {
    arn: String,
    images: Vec<String>,
}

/// Reads ECS for one pin. `None` when the image block names neither a family nor services.
pub async fn check(
    ecs: &aws_sdk_ecs::Client,
    image: &PinnedImage,
    pin: &PinFacts,
) -> Option<LiveCheck> {
    if image.task_definition.is_none() && image.services.is_empty() {
        return None;
    }
    Some(match observe(ecs, image, pin).await {
        Ok(check) => check,
        Err(e) => LiveCheck {
            status: LiveStatus::Error,
            task_definition: None,
            services: Vec::new(),
            notes: vec![e.to_string()],
            error: Some(Arc::new(e)),
        },
    })
}

async fn observe(
    ecs: &aws_sdk_ecs::Client,
    image: &PinnedImage,
    pin: &PinFacts,
) -> Result<LiveCheck, EcrTagsError> {
    let mut notes = Vec::new();
    let mut revisions: HashMap<String, Revision> = HashMap::new();
    let task_definition = match &image.task_definition {
        Some(family) => {
            let revision = latest_active(ecs, family).await?;
            let (images, status) = judge(&revision, pin);
            if status != LiveStatus::Live {
                notes.push(format!(
                    "task definition {} names {}",
                    short_arn(&revision.arn),
                    names(&images)
                ));
            }
            let arn = revision.arn.clone();
            revisions.insert(arn.clone(), revision);
            Some(TaskDefinitionLive {
                family: family.clone(),
                arn,
                images,
                status,
            })
        }
        None => None,
    };
    let latest_arn = task_definition.as_ref().map(|t| t.arn.as_str());
    let mut services = Vec::new();
    for (cluster, names_in_cluster) in by_cluster(&image.services) {
        for chunk in names_in_cluster.chunks(10) {
            let out = ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.iter().map(|s| (*s).to_owned()).collect()))
                .send()
                .await
                .map_err(AwsCallError::on("ecs:DescribeServices", cluster))?;
            for name in chunk {
                let service = ServiceRef {
                    cluster: cluster.to_owned(),
                    service: (*name).to_owned(),
                };
                let Some(found) = out.services().iter().find(|s| {
                    s.service_name() == Some(*name)
                        && ServiceStatus::answered(s.status()) != ServiceStatus::Inactive
                }) else {
                    return Err(EcrTagsError::NotFound(format!(
                        "service {service} (named in image `{}`) does not exist",
                        image.local
                    )));
                };
                let td = found.task_definition().map(str::to_owned);
                // The service's own revision, unless it is the family's latest (judged above).
                let (td_images, td_status) = match td.as_deref() {
                    Some(arn) if Some(arn) != latest_arn => {
                        if !revisions.contains_key(arn) {
                            let revision = describe_revision(ecs, arn).await?;
                            revisions.insert(arn.to_owned(), revision);
                        }
                        judge(&revisions[arn], pin)
                    }
                    _ => (Vec::new(), LiveStatus::Live),
                };
                if td_status != LiveStatus::Live {
                    notes.push(format!(
                        "service {service} is set to task definition {}, which names {}",
                        td.as_deref().map(short_arn).unwrap_or_default(),
                        names(&td_images)
                    ));
                }
                let (running_tasks, running) = running_images(ecs, &service, pin).await?;
                let status = td_status.max(worst(running.iter().map(|i| i.verdict)));
                let off: Vec<&SeenImage> = running
                    .iter()
                    .filter(|i| i.verdict != Verdict::Pinned)
                    .collect();
                if !off.is_empty() {
                    notes.push(format!(
                        "service {service} runs {}",
                        off.iter()
                            .map(|i| format!("{} ({})", i.image, verdict_words(i.verdict)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if running_tasks == 0 {
                    notes.push(format!("service {service} has no running tasks"));
                }
                services.push(ServiceLive {
                    service: service.to_string(),
                    task_definition: td,
                    task_definition_images: td_images,
                    running_tasks,
                    running,
                    status,
                });
            }
        }
    }
    let status = task_definition
        .iter()
        .map(|t| t.status)
        .chain(services.iter().map(|s| s.status))
        .max()
        .unwrap_or(LiveStatus::Live);
    Ok(LiveCheck {
        status,
        task_definition,
        services,
        notes,
        error: None,
    })
}

fn verdict_words(v: Verdict) -> &'static str {
    match v {
        Verdict::Pinned => "pinned",
        Verdict::Previous => "an older image of the family",
        Verdict::Other => "neither the pin nor an older image of the family",
    }
}

fn names(images: &[SeenImage]) -> String {
    if images.is_empty() {
        return "no image of the pinned repository".into();
    }
    images
        .iter()
        .map(|i| format!("{} ({})", i.image, verdict_words(i.verdict)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `family:revision` of a task definition ARN.
fn short_arn(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, rest)| rest)
}

/// The distinct images of `images` in the pin's repository, in order.
fn in_repository(images: &[String], pin: &PinFacts) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for image in images {
        if parse_image(image).repository == pin.repository && !kept.contains(image) {
            kept.push(image.clone());
        }
    }
    kept
}

fn by_cluster(services: &[ServiceRef]) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for s in services {
        match out.iter_mut().find(|(c, _)| *c == s.cluster) {
            Some((_, names)) => names.push(&s.service),
            None => out.push((&s.cluster, vec![&s.service])),
        }
    }
    out
}

/// The family's latest ACTIVE revision: ListTaskDefinitions (ACTIVE, newest first; the
/// highest revision of the page is taken, whatever order a server returns), then
/// DescribeTaskDefinition of it.
async fn latest_active(ecs: &aws_sdk_ecs::Client, family: &str) -> Result<Revision, EcrTagsError> {
    let out = ecs
        .list_task_definitions()
        .family_prefix(family)
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .sort(aws_sdk_ecs::types::SortOrder::Desc)
        .max_results(100)
        .send()
        .await
        .map_err(AwsCallError::on("ecs:ListTaskDefinitions", family))?;
    let newest = out
        .task_definition_arns()
        .iter()
        .filter_map(|arn| {
            let (f, rev) = short_arn(arn).rsplit_once(':')?;
            (f == family).then_some((rev.parse::<u64>().ok()?, arn))
        })
        .max();
    let Some((_, arn)) = newest else {
        return Err(EcrTagsError::NotFound(format!(
            "task definition family {family} has no ACTIVE revision"
        )));
    };
    describe_revision(ecs, arn).await
}

async fn describe_revision(ecs: &aws_sdk_ecs::Client, arn: &str) -> Result<Revision, EcrTagsError> {
    let out = ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(AwsCallError::on("ecs:DescribeTaskDefinition", arn))?;
    let td = out.task_definition();
    Ok(Revision {
        arn: td
            .and_then(|t| t.task_definition_arn())
            .unwrap_or(arn)
            .to_owned(),
        images: td
            .map(|t| {
                t.container_definitions()
                    .iter()
                    .filter_map(|c| c.image().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// The service's running tasks: how many, and the distinct images (with digests) of their
/// containers of the pinned repository; a task none of whose containers is of that
/// repository counts as running something else.
async fn running_images(
    ecs: &aws_sdk_ecs::Client,
    service: &ServiceRef,
    pin: &PinFacts,
) -> Result<(usize, Vec<SeenImage>), EcrTagsError> {
    let mut arns = Vec::new();
    let mut pages = ecs
        .list_tasks()
        .cluster(&service.cluster)
        .service_name(&service.service)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(AwsCallError::on("ecs:ListTasks", service.to_string()))?;
        arns.extend(page.task_arns().iter().cloned());
    }
    let group = format!("service:{}", service.service);
    let (mut count, mut seen) = (0, Vec::<SeenImage>::new());
    for chunk in arns.chunks(100) {
        let out = ecs
            .describe_tasks()
            .cluster(&service.cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(AwsCallError::on("ecs:DescribeTasks", service.to_string()))?;
        for task in out.tasks().iter().filter(|t| t.group() == Some(&group)) {
            count += 1;
            let mut of_repo = task
                .containers()
                .iter()
                .filter_map(|c| Some((c.image()?, c.image_digest())))
                .filter(|(i, _)| parse_image(i).repository == pin.repository)
                .peekable();
            if of_repo.peek().is_none() {
                let other = task
                    .containers()
                    .iter()
                    .filter_map(|c| c.image())
                    .collect::<Vec<_>>()
                    .join(", ");
                push_seen(
                    &mut seen,
                    SeenImage {
                        image: other,
                        digest: None,
                        verdict: Verdict::Other,
                    },
                );
            }
            for (image, digest) in of_repo {
                let digest = parse_image(image).digest.or(digest);
                push_seen(
                    &mut seen,
                    SeenImage {
                        image: image.to_owned(),
                        digest: digest.map(str::to_owned),
                        verdict: verdict(pin, image, digest),
                    },
                );
            }
        }
    }
    Ok((count, seen))
}

fn push_seen(seen: &mut Vec<SeenImage>, image: SeenImage) {
    if !seen.contains(&image) {
        seen.push(image);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTRY: &str = "123456789012.dkr.ecr.eu-west-2.amazonaws.com";

    fn pin() -> PinFacts {
        PinFacts {
            repository: "blog-data".into(),
            tag: "d-3".into(),
            digest: Some(format!("sha256:{}", "3".repeat(64))),
            older_tags: vec!["d-2".into(), "d-1".into()],
            older_digests: vec![
                format!("sha256:{}", "2".repeat(64)),
                format!("sha256:{}", "1".repeat(64)),
            ],
        }
    }

    #[test]
    fn references_split_into_repository_tag_and_digest() {
        let d = format!("sha256:{}", "a".repeat(64));
        for (image, repository, tag, digest) in [
            (
                format!("{REGISTRY}/blog-data:d-3"),
                "blog-data",
                Some("d-3"),
                None,
            ),
            (
                format!("{REGISTRY}/team/app:v1@{d}"),
                "team/app",
                Some("v1"),
                Some(d.as_str()),
            ),
            (
                format!("{REGISTRY}/blog-data@{d}"),
                "blog-data",
                None,
                Some(d.as_str()),
            ),
            ("localhost:5000/app:v1".to_owned(), "app", Some("v1"), None),
            ("library/nginx".to_owned(), "library/nginx", None, None),
            ("nginx:1.27".to_owned(), "nginx", Some("1.27"), None),
        ] {
            assert_eq!(
                parse_image(&image),
                ImageRef {
                    repository,
                    tag,
                    digest
                },
                "{image}"
            );
        }
    }

    /// Digests decide where both sides have one (a running container reports one; a
    /// re-pushed tag in a mutable repository is caught), tags otherwise.
    #[test]
    fn verdicts_use_digests_when_known_and_tags_otherwise() {
        let pin = pin();
        let d = |c: &str| format!("sha256:{}", c.repeat(64));
        let image = |t: &str| format!("{REGISTRY}/blog-data:{t}");
        assert_eq!(verdict(&pin, &image("d-3"), None), Verdict::Pinned);
        assert_eq!(verdict(&pin, &image("d-3"), Some(&d("3"))), Verdict::Pinned);
        assert_eq!(
            verdict(&pin, &format!("{}@{}", image("d-3"), d("3")), None),
            Verdict::Pinned
        );
        // Same tag, another digest: the tag was pushed again; not what is pinned.
        assert_eq!(verdict(&pin, &image("d-3"), Some(&d("9"))), Verdict::Other);
        // Another tag naming the pinned digest is the pinned image.
        assert_eq!(
            verdict(&pin, &image("alias"), Some(&d("3"))),
            Verdict::Pinned
        );
        assert_eq!(verdict(&pin, &image("d-2"), None), Verdict::Previous);
        assert_eq!(
            verdict(&pin, &image("d-1"), Some(&d("1"))),
            Verdict::Previous
        );
        assert_eq!(verdict(&pin, &image("d-4"), None), Verdict::Other);
        assert_eq!(
            verdict(&pin, &format!("{REGISTRY}/other:d-3"), None),
            Verdict::Other
        );
        // A pin whose tag is not in ECR has no digest: tags decide.
        let no_digest = PinFacts {
            digest: None,
            ..pin.clone()
        };
        assert_eq!(
            verdict(&no_digest, &image("d-3"), Some(&d("3"))),
            Verdict::Pinned
        );
        assert_eq!(
            worst([Verdict::Pinned, Verdict::Previous]),
            LiveStatus::NotDeployed
        );
        assert_eq!(
            worst([Verdict::Previous, Verdict::Other]),
            LiveStatus::Drifted
        );
        assert_eq!(worst([]), LiveStatus::Live);
    }
}
