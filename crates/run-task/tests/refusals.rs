//! What cannot work is refused before anything starts: exit 4, no RunTask.

use crate::support::{World, PINNED};

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
