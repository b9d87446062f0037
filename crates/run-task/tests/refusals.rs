//! What cannot work is refused before anything starts: exit 4, no RunTask.

use crate::support::{World, PINNED};
use infra_test_support::proxy::TaskEnd;
use state_lock::{LockInfo, StateLock};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn a_parked_prefect_server_is_refused_with_nothing_started() {
    let world = World::new(PINNED, 0).await;
    let done = world.start(&["run", "prefect-deployer"]).wait();
    assert_eq!(done.code, 4, "{}\n{}", done.stdout, done.stderr.join("\n"));
    assert!(
        done.stdout.contains("refused, nothing started"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout
            .contains("needs service blog-prod/prefect-server, which is parked (desired count 0)"),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("park up"), "{}", done.stdout);
    assert!(!world.actions().contains(&"ecs:RunTask".to_owned()));
    assert!(world.tasks().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revision_whose_image_is_not_the_pin_is_refused_with_nothing_started() {
    let world = World::new("prefect-deployer-3-python3.12-1a2b3c4", 1).await;
    let done = world
        .start(&["--output", "json", "run", "prefect-deployer"])
        .wait();
    assert_eq!(done.code, 4, "{}\n{}", done.stdout, done.stderr.join("\n"));
    let report = done.json();
    assert_eq!(report["outcome"], "refused");
    let refusal = report["refusals"][0].as_str().unwrap();
    assert!(refusal.contains("runs 123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:prefect-deployer-3-python3.12-1a2b3c4, not the pin blog-data:prefect-deployer-3-python3.12-4f2a9c1"), "{refusal}");
    assert!(refusal.contains("main.tf:2:"), "{refusal}");
    assert!(!world.actions().contains(&"ecs:RunTask".to_owned()));
    assert!(world.tasks().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_task_is_exit_2_with_the_known_ones() {
    let world = World::new(PINNED, 1).await;
    let done = world.start(&["run", "prefect-deployr"]).wait();
    assert_eq!(done.code, 2);
    let stderr = done.stderr.join("\n");
    assert!(stderr.contains("no task `prefect-deployr`"), "{stderr}");
    assert!(stderr.contains("prefect-deployer"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_park_run_holding_the_environment_lock_is_refused_and_another_holder_is_noted() {
    let world = World::new(PINNED, 1).await;
    let backend = world.with_backend();
    let config = world._session.sdk_config().await;
    let lock = StateLock::new(&config, backend.clone());
    let park = LockInfo::new("park down", "0.1.0", &backend);
    lock.acquire(&park, Duration::from_secs(5)).await.unwrap();
    let slack = crate::support::slack();
    let url = slack.url("/slack");
    let done = world
        .start_with(
            &["--output", "json", "run", "prefect-deployer"],
            &[("RUN_TASK_TEST_SLACK", url.as_str())],
        )
        .wait();
    assert_eq!(done.code, 4, "{}\n{}", done.stdout, done.stderr.join("\n"));
    let report = done.json();
    let refusal = report["refusals"][0].as_str().unwrap();
    assert!(
        refusal.contains("a park run holds the environment lock"),
        "{refusal}"
    );
    assert!(refusal.contains("operation `park down`"), "{refusal}");
    assert!(world.tasks().await.is_empty(), "nothing started");
    // The `refused` event reaches Slack once (the harness' HTTP stub stands in for it).
    assert_eq!(slack.count("/slack"), 1);
    lock.release(&park).await.unwrap();

    // An apply holding the lock does not stop the deployer; the report says it was held.
    let apply = LockInfo::new("OperationTypeApply", "1.0.3", &backend);
    lock.acquire(&apply, Duration::from_secs(5)).await.unwrap();
    let done = world
        .run_ending(
            &crate::support::JSON_RUN,
            &[],
            &[],
            TaskEnd::exited("deployer", 0),
        )
        .await;
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr.join("\n"));
    let notes = done.json()["notes"].to_string();
    assert!(notes.contains("the environment lock is held"), "{notes}");
    lock.release(&apply).await.unwrap();
}
