//! `pins --live` on running tasks' digests, against the SDK's own mock support: the emulator
//! reports no `imageDigest` for a running container, so it cannot show a tag pushed again
//! over the pinned one, or an older build running under another tag. `aws-smithy-mocks`
//! answers DescribeServices, DescribeTaskDefinition, ListTasks and DescribeTasks here because
//! no real part on this machine can.

use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::types::{Container, ContainerDefinition, Service, Task, TaskDefinition};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use ecr_tags::live::{check, LiveStatus, PinFacts};
use infra_core::environment::{PinnedImage, ServiceRef, TagPattern};

const REGISTRY: &str = "123456789012.dkr.ecr.eu-west-2.amazonaws.com";
const TD: &str = "arn:aws:ecs:eu-west-2:123456789012:task-definition/blog-prod-web:7";

fn digest(c: &str) -> String {
    format!("sha256:{}", c.repeat(64))
}

fn pin() -> PinFacts {
    PinFacts {
        repository: "blog-data".into(),
        tag: "d-3".into(),
        digest: Some(digest("3")),
        older_tags: vec!["d-2".into()],
        older_digests: vec![digest("2")],
    }
}

fn image() -> PinnedImage {
    PinnedImage {
        local: "web_image".into(),
        file: "main.tf".into(),
        repository: "blog-data".into(),
        tag_pattern: TagPattern::new("d-[0-9]+").unwrap(),
        require_sha: false,
        task_definition: None,
        services: vec![ServiceRef {
            cluster: "blog-prod".into(),
            service: "web".into(),
        }],
    }
}

/// The service `web`, set to a revision naming the pinned tag, with one running task whose
/// container runs `running` with the digest `running_digest`.
async fn live_with(running: &str, running_digest: &str) -> ecr_tags::live::LiveCheck {
    let services = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("web")
                    .status("ACTIVE")
                    .task_definition(TD)
                    .build(),
            )
            .build()
    });
    let td = mock!(aws_sdk_ecs::Client::describe_task_definition).then_output(|| {
        DescribeTaskDefinitionOutput::builder()
            .task_definition(
                TaskDefinition::builder()
                    .task_definition_arn(TD)
                    .container_definitions(
                        ContainerDefinition::builder()
                            .name("web")
                            .image(format!("{REGISTRY}/blog-data:d-3"))
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let list = mock!(aws_sdk_ecs::Client::list_tasks)
        .then_output(|| ListTasksOutput::builder().task_arns("arn:task/1").build());
    let (running, running_digest) = (running.to_owned(), running_digest.to_owned());
    let describe = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(move || {
        DescribeTasksOutput::builder()
            .tasks(
                Task::builder()
                    .task_arn("arn:task/1")
                    .group("service:web")
                    .containers(
                        Container::builder()
                            .name("web")
                            .image(&running)
                            .image_digest(&running_digest)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let ecs = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&services, &td, &list, &describe]
    );
    check(&ecs, &image(), &pin()).await.unwrap()
}

#[tokio::test]
async fn running_digests_decide() {
    let pinned = format!("{REGISTRY}/blog-data:d-3");
    // The pinned tag with the pinned digest: live.
    let live = live_with(&pinned, &digest("3")).await;
    assert_eq!(live.status, LiveStatus::Live, "{live:?}");
    assert_eq!(live.services[0].running_tasks, 1);
    assert_eq!(
        live.services[0].running[0].digest.as_deref(),
        Some(digest("3").as_str())
    );
    // The pinned tag, but another image behind it (pushed again in a mutable repository):
    // not what is pinned, and not an older build either.
    let live = live_with(&pinned, &digest("9")).await;
    assert_eq!(live.status, LiveStatus::Drifted, "{live:?}");
    assert!(
        live.notes[0].contains("neither the pin"),
        "{:?}",
        live.notes
    );
    // An older build under a tag the family does not know: its digest tells.
    let live = live_with(&format!("{REGISTRY}/blog-data:hotfix"), &digest("2")).await;
    assert_eq!(live.status, LiveStatus::NotDeployed, "{live:?}");
}
