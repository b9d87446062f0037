//! A deployer that fails, one that cannot start, one that runs past its timeout: exit 1,
//! saying why.

use crate::support::{World, PINNED};
use infra_test_support::proxy::TaskEnd;

#[tokio::test(flavor = "multi_thread")]
async fn a_deployer_that_exits_3_exits_1_naming_the_container_code_and_last_lines() {
    let world = World::new(PINNED, 1).await;
    let junit = world.dir.path().join("junit.xml");
    // Slack: the harness' HTTP stub stands in for the incoming webhook.
    let slack = crate::support::slack();
    let url = slack.url("/slack");
    let mut lines: Vec<String> = (1..=30).map(|i| format!("deploying flow {i}")).collect();
    lines.push("Error: work pool 'blog-data-pool' not found".to_owned());
    let args = [
        "run",
        "prefect-deployer",
        "--poll",
        "200ms",
        "--junit",
        junit.to_str().unwrap(),
    ];
    let done = world
        .run_ending(
            &args,
            &[("RUN_TASK_TEST_SLACK", url.as_str())],
            &lines,
            TaskEnd::exited("deployer", 3),
        )
        .await;
    assert_eq!(done.code, 1, "{}\n{}", done.stdout, done.stderr.join("\n"));
    assert!(
        done.stdout
            .contains("task `prefect-deployer` failed: container `deployer` exited 3"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.contains("EssentialContainerExited"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.contains("last 20 log lines:"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout
            .contains("  | Error: work pool 'blog-data-pool' not found"),
        "{}",
        done.stdout
    );
    // The `failed` event, once, naming the task and how it ended.
    assert_eq!(slack.count("/slack"), 1);
    let message = slack.requests("/slack")[0].json().to_string();
    assert!(
        message.contains("run-task run prefect-deployer"),
        "{message}"
    );
    assert!(message.contains("exited 3"), "{message}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<failure"), "{xml}");
    assert!(xml.contains("exited 3"), "{xml}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_that_cannot_start_exits_1_with_the_reason() {
    let world = World::new(PINNED, 1).await;
    let done = world
        .run_ending(
            &crate::support::JSON_RUN,
            &[],
            &[],
            TaskEnd {
                container: "deployer".into(),
                exit_code: None,
                stop_code: "TaskFailedToStart".into(),
                stopped_reason: "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found".into(),
                container_reason: None,
            },
        )
        .await;
    assert_eq!(done.code, 1, "{}\n{}", done.stdout, done.stderr.join("\n"));
    let report = done.json();
    assert_eq!(report["outcome"], "did-not-start");
    assert_eq!(report["stop_code"], "TaskFailedToStart");
    assert!(report["exit_code"].is_null());
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("CannotPullContainerError"), "{reason}");
    assert!(
        reason.contains("container `deployer` has no exit code"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_past_its_timeout_is_stopped_and_exits_1() {
    let world = World::new(PINNED, 1).await;
    let run = world.start(&[
        "--output",
        "json",
        "run",
        "prefect-deployer",
        "--poll",
        "200ms",
        "--timeout",
        "2s",
    ]);
    let done = run.wait();
    assert_eq!(done.code, 1, "{}\n{}", done.stdout, done.stderr.join("\n"));
    let report = done.json();
    assert_eq!(report["outcome"], "timed-out");
    assert_eq!(report["stopped_by"], "timeout");
    assert!(report["reason"]
        .as_str()
        .unwrap()
        .contains("after its timeout (2s)"));
    assert!(world.actions().contains(&"ecs:StopTask".to_owned()));
}
