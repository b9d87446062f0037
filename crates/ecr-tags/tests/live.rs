//! `ecr-tags pins --live` against the emulator: the deployer's task definition family and a
//! service whose running tasks are started with RunTask in the service's group (the
//! emulator starts no tasks for services itself; ECS marks a service's tasks with the group
//! `service:NAME`, which is what `--live` keeps). The emulator reports no `imageDigest` for
//! running containers, so digests are compared in the unit tests of `live.rs`.

use crate::support::{Ecr, WorkingCopy};
use aws_sdk_ecs::types::{ContainerDefinition, LaunchType};

const REGISTRY: &str = "123456789012.dkr.ecr.eu-west-2.amazonaws.com";
const OLD: &str = "prefect-deployer-3-python3.12-1a2b3c4";
const NEWEST: &str = "prefect-deployer-3-python3.12-9e8d7c6";
const FAMILY: &str = "blog-prod-prefect-deployer";

struct Ecs<'a> {
    ecr: &'a Ecr,
    client: aws_sdk_ecs::Client,
}

impl Ecs<'_> {
    /// Registers a revision of `family` whose one container runs `image`; its ARN.
    fn register(&self, family: &str, image: &str) -> String {
        let container = ContainerDefinition::builder()
            .name("deployer")
            .image(image)
            .memory(512)
            .essential(true)
            .build();
        let out = self
            .ecr
            .rt
            .block_on(
                self.client
                    .register_task_definition()
                    .family(family)
                    .container_definitions(container)
                    .send(),
            )
            .unwrap();
        out.task_definition()
            .unwrap()
            .task_definition_arn()
            .unwrap()
            .to_owned()
    }

    /// Starts a task of `task_definition` as the service `service` of `blog-prod` would;
    /// its ARN.
    fn run_in_service(&self, service: &str, task_definition: &str) -> String {
        let out = self
            .ecr
            .rt
            .block_on(
                self.client
                    .run_task()
                    .cluster("blog-prod")
                    .task_definition(task_definition)
                    .launch_type(LaunchType::Fargate)
                    .group(format!("service:{service}"))
                    .send(),
            )
            .unwrap();
        out.tasks()[0].task_arn().unwrap().to_owned()
    }

    fn stop(&self, task: &str) {
        self.ecr
            .rt
            .block_on(
                self.client
                    .stop_task()
                    .cluster("blog-prod")
                    .task(task)
                    .send(),
            )
            .unwrap();
    }

    fn set_service(&self, service: &str, task_definition: &str) {
        self.ecr
            .rt
            .block_on(
                self.client
                    .update_service()
                    .cluster("blog-prod")
                    .service(service)
                    .task_definition(task_definition)
                    .send(),
            )
            .unwrap();
    }
}

#[test]
fn live_not_deployed_and_drifted() {
    let ecr = Ecr::new();
    let wc = WorkingCopy::seeded(&ecr);
    let ecs = Ecs {
        ecr: &ecr,
        client: aws_sdk_ecs::Client::new(&ecr.rt.block_on(ecr.session.sdk_config())),
    };
    let env = std::fs::read_to_string(&wc.env_file).unwrap();
    // The reference file names the deployer's task definition family; `with` puts other
    // targets in its place.
    let named = format!("    task_definition = \"{FAMILY}\"");
    assert!(
        env.contains(&named),
        "the deployer's image block names {FAMILY}"
    );
    let with = |extra: &str| std::fs::write(&wc.env_file, env.replacen(&named, extra, 1)).unwrap();
    let pins = |check: bool| {
        let mut args = vec!["pins", "--live", "--output", "json"];
        if check {
            args.push("--check");
        }
        let r = ecr.run(Some(&wc.env_file), &args);
        let v = r.json();
        (
            r.code,
            v["pins"][1]["live"].clone(),
            v["pins"][0]["live"].clone(),
        )
    };

    // The family still names an older image of the family: the pin is not deployed.
    let rev1 = ecs.register(FAMILY, &format!("{REGISTRY}/blog-data:{OLD}"));
    let r = ecr.run(Some(&wc.env_file), &["pins", "--live", "--check"]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("LIVE"), "{}", r.stdout);
    assert!(r.stdout.contains("not-deployed"), "{}", r.stdout);
    // The reference file's `notify` block: one `not-live` message naming the image, to the
    // harness' HTTP stub standing in for the Slack webhook (none is reachable here); the
    // same exit code.
    let slack = infra_test_support::HttpStub::start(vec![(
        "/slack",
        vec![infra_test_support::Answer::html(200, "ok")],
    )]);
    assert!(env.contains("slack_webhook_env = \"SLACK_WEBHOOK_URL\""));
    let notified: infra_test_support::Run =
        infra_test_support::command(env!("CARGO_BIN_EXE_ecr-tags"), ecr.session.endpoint())
            .env("SLACK_WEBHOOK_URL", slack.url("/slack"))
            .arg("--env-file")
            .arg(&wc.env_file)
            .args(["pins", "--live", "--check", "--output", "json"])
            .output()
            .unwrap()
            .into();
    assert_eq!(notified.code, 3, "{}", notified.stderr);
    let sent = slack.requests("/slack");
    assert_eq!(sent.len(), 1);
    let message = sent[0].json().to_string();
    assert!(
        message.contains("prefect_deployer_image (not-deployed)") && message.contains("not-live"),
        "{message}"
    );
    assert_eq!(notified.json()["notifications"][0]["result"], "sent");
    let (_, live, base) = pins(false);
    assert_eq!(live["status"], "not-deployed", "{live}");
    assert_eq!(live["task_definition"]["arn"], rev1.as_str());
    assert_eq!(live["task_definition"]["images"][0]["verdict"], "previous");
    assert!(
        base.is_null(),
        "no task definition or services: not compared"
    );

    // Applied: the family's latest ACTIVE revision names the pin. The pin is a build behind
    // the newest, which `pins --check` reports (3) but `pins --live --check` does not ask.
    ecs.register(
        FAMILY,
        &format!("{REGISTRY}/blog-data:prefect-deployer-3-python3.12-4f2a9c1"),
    );
    let (code, live, _) = pins(true);
    assert_eq!((code, live["status"].as_str()), (0, Some("live")), "{live}");
    assert_eq!(ecr.run(Some(&wc.env_file), &["pins", "--check"]).code, 3);

    // Bumped and applied: the family's latest ACTIVE revision names the new pin.
    let r = ecr.run(Some(&wc.env_file), &["bump", "prefect_deployer_image"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rev2 = ecs.register(FAMILY, &format!("{REGISTRY}/blog-data:{NEWEST}"));
    let (code, live, _) = pins(true);
    assert_eq!(code, 0, "{live}");
    assert_eq!(live["status"], "live");
    assert_eq!(live["task_definition"]["arn"], rev2.as_str());

    // A revision registered by hand with a tag the family never had: drifted.
    let hand = ecs.register(FAMILY, &format!("{REGISTRY}/blog-data:hotfix"));
    let (code, live, _) = pins(true);
    assert_eq!(
        (code, live["status"].as_str()),
        (3, Some("drifted")),
        "{live}"
    );
    assert!(
        live["notes"][0].as_str().unwrap().contains("hotfix"),
        "{live}"
    );
    // Deregistered: the latest ACTIVE revision is the pinned one again.
    ecr.rt
        .block_on(
            ecs.client
                .deregister_task_definition()
                .task_definition(&hand)
                .send(),
        )
        .unwrap();
    assert_eq!(pins(true).0, 0);

    // A service running the deployer: its running tasks count.
    with(&format!(
        "    task_definition = \"{FAMILY}\"\n    services = [\"blog-prod/prefect-worker\"]"
    ));
    ecs.set_service("prefect-worker", &rev2);
    ecs.run_in_service("prefect-worker", &rev2);
    let (code, live, _) = pins(true);
    assert_eq!(code, 0, "{live}");
    let service = &live["services"][0];
    assert_eq!(service["service"], "blog-prod/prefect-worker");
    assert_eq!(service["running_tasks"], 1);
    assert_eq!(service["running"][0]["verdict"], "pinned");
    // An old task still running (a rollout under way): not deployed.
    let old_task = ecs.run_in_service("prefect-worker", &rev1);
    let (code, live, _) = pins(true);
    assert_eq!(
        (code, live["status"].as_str()),
        (3, Some("not-deployed")),
        "{live}"
    );
    // --wait looks again until the rollout finishes: the old task stops while it waits.
    // Through a recording proxy: ECR is read once, only ECS again on each look.
    let proxy = infra_test_support::Proxy::start(ecr.session.endpoint());
    let waited = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| {
            ecr.run_via(
                proxy.endpoint(),
                Some(&wc.env_file),
                &[
                    "pins", "--live", "--check", "--wait", "60s", "--poll", "1s", "--output",
                    "json",
                ],
            )
        });
        std::thread::sleep(std::time::Duration::from_secs(2));
        ecs.stop(&old_task);
        waiting.join().unwrap()
    });
    assert_eq!(waited.code, 0, "{}\n{}", waited.stdout, waited.stderr);
    let checks = waited.json()["live_checks"].as_u64().unwrap();
    assert!(checks >= 2, "looked {checks} times");
    let calls: Vec<String> = proxy.calls().iter().map(|c| c.iam_action()).collect();
    let count = |action: &str| calls.iter().filter(|c| *c == action).count();
    assert_eq!(count("ecr:DescribeImages"), 1, "{calls:?}");
    assert_eq!(count("ecs:ListTaskDefinitions") as u64, checks, "{calls:?}");
    ecs.run_in_service("prefect-worker", &rev1);
    // SIGTERM while it waits: it stops at once (exit 1), it does not sit out the wait.
    let waiting =
        infra_test_support::command(env!("CARGO_BIN_EXE_ecr-tags"), ecr.session.endpoint())
            .arg("--env-file")
            .arg(&wc.env_file)
            .args(["pins", "--live", "--check", "--wait", "5m", "--poll", "1s"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let signalled = std::time::Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &waiting.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = waiting.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        signalled.elapsed() < std::time::Duration::from_secs(60),
        "stopped {:?} after SIGTERM",
        signalled.elapsed()
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A task of another image in the service: drifted, and the note names the service.
    let other = ecs.register(
        "blog-prod-other",
        &format!("{REGISTRY}/prefect-worker:latest"),
    );
    ecs.run_in_service("prefect-worker", &other);
    let r = ecr.run(Some(&wc.env_file), &["pins", "--live", "--check"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stdout.contains("service blog-prod/prefect-worker runs")
            && r.stdout.contains("prefect-worker:latest"),
        "{}",
        r.stdout
    );
    let (_, live, _) = pins(false);
    assert_eq!(live["status"], "drifted", "{live}");
    // Waiting cannot mend a drift: --wait gives up at once.
    let r = ecr.run(
        Some(&wc.env_file),
        &[
            "pins", "--live", "--wait", "60s", "--poll", "1s", "--output", "json",
        ],
    );
    assert_eq!(r.json()["live_checks"], 1, "{}", r.stdout);
    // Tasks of other services in the cluster are not this service's.
    ecs.run_in_service("portal", &other);
    assert_eq!(live["services"][0]["running_tasks"], 3);

    // A service that does not exist is a failure naming it (exit 1): what runs is unknown.
    with("    services = [\"blog-prod/nope\"]");
    let r = ecr.run(Some(&wc.env_file), &["pins", "--live"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("blog-prod/nope"), "{}", r.stdout);
}
