//! A deployer that succeeds: every line once and in order, exit 0; the calls it made are
//! the policy's; SIGTERM while it runs stops it.

use crate::support::{now_ms, World, PINNED};
use infra_test_support::proxy::TaskEnd;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn a_deployer_that_exits_0_streams_every_line_once_in_order_and_exits_0() {
    let world = World::new(PINNED, 1).await;
    let run = world.start(&crate::support::JSON_RUN);
    let task = world.started_task().await;
    // 2,500 lines: 1,300 in four bursts while the task runs (the run shows them as they
    // come), then 1,200 in one burst just before the container exits, more than one
    // GetLogEvents page (1,000): read in two pages after it stopped.
    let lines: Vec<String> = (1..=2500).map(|i| format!("deploy step {i:04}")).collect();
    let start = now_ms();
    let (running, last) = lines.split_at(1300);
    for (n, burst) in running.chunks(325).enumerate() {
        world
            .write_logs(&task, burst, start + (n as i64) * 325)
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    world.write_logs(&task, last, start + 1300).await;
    world.end_task(&task, TaskEnd::exited("deployer", 0)).await;
    let done = run.wait();
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr.join("\n"));
    let shown = done.log_lines();
    assert_eq!(shown.len(), 2500, "every line once");
    assert!(
        shown.iter().zip(&lines).all(|(a, b)| a == b),
        "in order, without gaps"
    );
    let report = done.json();
    assert_eq!(report["schema"], "run-task/run");
    assert_eq!(report["outcome"], "succeeded");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["task_arn"], task.as_str());
    assert_eq!(report["log"]["lines"], 2500);
    assert_eq!(report["last_lines"].as_array().unwrap().len(), 20);
    assert_eq!(report["last_lines"][19], "deploy step 2500");
    assert!(done.stderr.iter().any(|l| l.contains(": RUNNING")));
    let pages = world
        .actions()
        .iter()
        .filter(|a| *a == "logs:GetLogEvents")
        .count();
    assert!(pages >= 4, "{pages} GetLogEvents calls");
    assert_eq!(world.tasks().await.len(), 1);

    // Every call the run made is in `run-task iam-policy`.
    let policy = std::process::Command::new(infra_test_support::workspace_binary("run-task"))
        .arg("--env-file")
        .arg(&world.env_file)
        .arg("iam-policy")
        .output()
        .unwrap();
    assert!(policy.status.success());
    let policy: serde_json::Value = serde_json::from_slice(&policy.stdout).unwrap();
    let allowed = run_task::iam::all_actions();
    let in_policy: Vec<String> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    for action in world.actions() {
        if action == "sts:GetCallerIdentity" {
            continue;
        }
        assert!(
            allowed.contains(&action.as_str()),
            "{action} is not in iam::all_actions"
        );
        assert!(
            in_policy.contains(&action),
            "{action} is not in the printed policy"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_running_stops_the_task_and_exits_1() {
    let world = World::new(PINNED, 1).await;
    let run = world.start(&crate::support::JSON_RUN);
    let task = world.started_task().await;
    world
        .write_logs(
            &task,
            &["connecting to the Prefect API".to_owned()],
            now_ms(),
        )
        .await;
    infra_test_support::wait_for("the task RUNNING", || run.stderr_has(": RUNNING"));
    infra_test_support::sigterm(run.pid());
    let done = run.wait();
    assert_eq!(done.code, 1, "{}\n{}", done.stdout, done.stderr.join("\n"));
    let report = done.json();
    assert_eq!(report["outcome"], "interrupted");
    assert_eq!(report["stopped_by"], "signal");
    assert!(world.actions().contains(&"ecs:StopTask".to_owned()));
    let described = world
        .ecs
        .describe_tasks()
        .cluster(crate::support::CLUSTER)
        .tasks(&task)
        .send()
        .await
        .unwrap();
    let t = &described.tasks()[0];
    assert_eq!(t.last_status(), Some("STOPPED"));
    assert!(
        t.stopped_reason()
            .unwrap_or_default()
            .starts_with("stopped by run-task: SIGTERM received (by hand)"),
        "{:?}",
        t.stopped_reason()
    );
    assert_eq!(report["last_lines"][0], "connecting to the Prefect API");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_exits_at_once_naming_the_task_to_stop_by_hand() {
    let world = World::new(PINNED, 1).await;
    // StopTask held for 5 s: the second signal comes while the first one's stop is on its
    // way.
    world
        .proxy
        .delay(Some(("ecs:StopTask", Duration::from_secs(5))));
    let run = world.start(&crate::support::JSON_RUN);
    let task = world.started_task().await;
    infra_test_support::wait_for("the task RUNNING", || run.stderr_has(": RUNNING"));
    infra_test_support::sigterm(run.pid());
    infra_test_support::wait_for("the stop", || run.stderr_has("stopping it"));
    infra_test_support::sigterm(run.pid());
    let done = run.wait();
    assert_eq!(done.code, 1);
    let stderr = done.stderr.join("\n");
    assert!(
        stderr.contains(&format!(
            "SIGTERM again: stopping at once; task {task} may still be running: stop it with `aws ecs stop-task --cluster blog-prod --task {task}`"
        )),
        "{stderr}"
    );
    assert!(done.stdout.is_empty(), "no report: {}", done.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn command_and_environment_overrides_reach_the_container() {
    let world = World::new(PINNED, 1).await;
    let args = [
        "run",
        "prefect-deployer",
        "--poll",
        "200ms",
        "--env",
        "PREFECT_LOGGING_LEVEL=DEBUG",
        "--",
        "prefect",
        "deploy",
        "--all",
    ];
    // As in CircleCI: the job's name and number (a value ECS would refuse in a tag as is).
    let ci = [
        ("CIRCLE_JOB", "deploy-to-prefect"),
        ("CIRCLE_BUILD_NUM", "812"),
    ];
    let done = world
        .run_ending(&args, &ci, &[], TaskEnd::exited("deployer", 0))
        .await;
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr.join("\n"));
    let task = world.tasks().await.pop().unwrap();
    let described = world
        .ecs
        .describe_tasks()
        .cluster(crate::support::CLUSTER)
        .tasks(&task)
        .include(aws_sdk_ecs::types::TaskField::Tags)
        .send()
        .await
        .unwrap();
    let t = &described.tasks()[0];
    let o = &t.overrides().unwrap().container_overrides()[0];
    assert_eq!(o.name(), Some("deployer"));
    assert_eq!(o.command(), ["prefect", "deploy", "--all"]);
    let env = &o.environment()[0];
    assert_eq!(
        (env.name(), env.value()),
        (Some("PREFECT_LOGGING_LEVEL"), Some("DEBUG"))
    );
    assert!(t
        .started_by()
        .unwrap()
        .starts_with("run-task/prefect-deployer/CircleCI-job-deploy-to-prefect--812/"));
    let tags: Vec<(String, String)> = t
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    assert!(
        tags.contains(&("infra-run-task:task".into(), "prefect-deployer".into())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&(
            "infra-run-task:by".into(),
            "CircleCI job deploy-to-prefect _812".into()
        )),
        "{tags:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_read_that_never_answers_does_not_hold_back_a_sigterm() {
    let world = World::new(PINNED, 1).await;
    // Every GetLogEvents is held for two minutes (an endpoint that accepts and never
    // answers in time): the SIGTERM must still stop the task at once.
    world.proxy.delay(Some(("logs", Duration::from_secs(120))));
    let run = world.start(&crate::support::JSON_RUN);
    let task = world.started_task().await;
    infra_test_support::wait_for("the task RUNNING", || run.stderr_has(": RUNNING"));
    let signalled = std::time::Instant::now();
    infra_test_support::sigterm(run.pid());
    let done = run.wait();
    let took = signalled.elapsed();
    assert_eq!(done.code, 1, "{}\n{}", done.stdout, done.stderr.join("\n"));
    assert_eq!(done.json()["outcome"], "interrupted");
    // Within the last log read's bound (10 s) and StopTask, far from the 120 s hang.
    assert!(
        took < Duration::from_secs(60),
        "ended {took:?} after SIGTERM"
    );
    let described = world
        .ecs
        .describe_tasks()
        .cluster(crate::support::CLUSTER)
        .tasks(&task)
        .send()
        .await
        .unwrap();
    assert_eq!(described.tasks()[0].last_status(), Some("STOPPED"));
}
