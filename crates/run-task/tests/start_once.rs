//! RunTask tried again after a lost or throttled answer starts exactly one task. moto
//! ignores `clientToken`, so a retried RunTask there would start a second task: what keeps
//! it to one is the run's lookup by its `startedBy` before it tries again.

use crate::support::{World, PINNED};
use infra_test_support::proxy::TaskEnd;

async fn run_with(world: &World) -> serde_json::Value {
    // A second task would never end (the test ends the first): the timeout bounds the run.
    let args = [
        "--output",
        "json",
        "run",
        "prefect-deployer",
        "--poll",
        "200ms",
        "--timeout",
        "30s",
    ];
    let done = world
        .run_ending(&args, &[], &[], TaskEnd::exited("deployer", 0))
        .await;
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr.join("\n"));
    assert_eq!(world.tasks().await.len(), 1, "exactly one task");
    done.json()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_task_whose_answer_was_lost_starts_exactly_one_task() {
    let world = World::new(PINNED, 1).await;
    // The emulator starts the task; the answer never reaches the run.
    world.proxy.lose_answers(&["ecs:RunTask"]);
    let report = run_with(&world).await;
    assert_eq!(report["run_task_calls"], 1);
    let run_tasks = world
        .actions()
        .iter()
        .filter(|a| *a == "ecs:RunTask")
        .count();
    assert_eq!(run_tasks, 1, "found by its startedBy, not started again");
    assert!(world.actions().contains(&"ecs:ListTasks".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_task_retried_after_a_throttled_answer_starts_exactly_one_task() {
    let world = World::new(PINNED, 1).await;
    world.proxy.throttle_once(&["ecs:RunTask"]);
    let report = run_with(&world).await;
    assert_eq!(report["run_task_calls"], 2);
    assert_eq!(report["outcome"], "succeeded");
}

#[tokio::test(flavor = "multi_thread")]
async fn under_sustained_throttling_and_resets_one_task_runs_to_its_end() {
    let world = World::new(PINNED, 1).await;
    // Every ECS call drawn from a fixed schedule, as in the park fault suites: 30%
    // throttled, 5% 5xx, 2% connections reset before reaching the emulator; RunTask's
    // first forwarded answer also lost after the emulator started the task.
    world.proxy.faults_only(Some("ecs"));
    world.proxy.faults(Some(infra_test_support::Faults {
        seed: 39,
        throttle: 0.3,
        server_error: 0.05,
        reset: 0.02,
        max_latency: std::time::Duration::from_millis(20),
    }));
    world.proxy.lose_answers(&["ecs:RunTask"]);
    let report = run_with(&world).await;
    assert_eq!(report["outcome"], "succeeded", "{report}");
    assert!(
        world.proxy.fault_counts().injected() > 0,
        "faults were injected"
    );
}
