//! Several environments in one run (`--env-file` repeated, or a directory): each is the
//! run it would be alone; one refused does not stop the others; the exit code is the worst.

use infra_test_support::{Moto, MotoSession, Proxy};
use state_lock::{Backend, LockInfo, StateLock};
use std::path::{Path, PathBuf};
use std::time::Duration;

const TABLE: &str = "multi-locks";
const BUCKET: &str = "multi-state";

/// `count` environments `env-NN`, each with its cluster `env-NN` of two services (desired
/// 2 and 1), its own Terraform state key and the shared DynamoDB lock table; their files in
/// one directory.
struct Envs {
    session: MotoSession,
    dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    ecs: aws_sdk_ecs::Client,
    count: usize,
}

impl Envs {
    fn new(count: usize) -> Envs {
        let session = Moto::session();
        let endpoint = session.endpoint().to_owned();
        infra_test_support::terraform_backend(&endpoint, "eu-west-2", BUCKET, TABLE).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = rt.block_on(session.sdk_config());
        let ecs = aws_sdk_ecs::Client::new(&config);
        let dir = tempfile::tempdir().unwrap();
        rt.block_on(async {
            ecs.register_task_definition()
                .family("multi")
                .container_definitions(
                    aws_sdk_ecs::types::ContainerDefinition::builder()
                        .name("app")
                        .image("app:1")
                        .cpu(256)
                        .memory(512)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        });
        for i in 0..count {
            let name = format!("env-{i:02}");
            let root = dir.path().join(&name);
            std::fs::create_dir_all(&root).unwrap();
            std::fs::write(
                root.join("main.tf"),
                "terraform {\n  backend \"s3\" {}\n}\n",
            )
            .unwrap();
            std::fs::write(
                root.join("backend.hcl"),
                format!("bucket = \"{BUCKET}\"\nkey    = \"{name}/terraform.tfstate\"\nregion = \"eu-west-2\"\ndynamodb_table = \"{TABLE}\"\n"),
            )
            .unwrap();
            std::fs::write(
                dir.path().join(format!("{name}.env.hcl")),
                format!(
                    "environment \"{name}\" {{\n  account_id = \"123456789012\"\n  region     = \"eu-west-2\"\n  terraform {{\n    root           = \"{name}\"\n    backend_config = \"backend.hcl\"\n  }}\n  ecs_cluster \"{name}\" {{\n    service \"web\" {{\n      desired_count = 2\n    }}\n    service \"worker\" {{\n      desired_count = 1\n    }}\n  }}\n}}\n"
                ),
            )
            .unwrap();
            rt.block_on(async {
                ecs.create_cluster()
                    .cluster_name(&name)
                    .send()
                    .await
                    .unwrap();
                for (service, count) in [("web", 2), ("worker", 1)] {
                    ecs.create_service()
                        .cluster(&name)
                        .service_name(service)
                        .task_definition("multi")
                        .desired_count(count)
                        .send()
                        .await
                        .unwrap();
                }
            });
        }
        Envs {
            session,
            dir,
            rt,
            ecs,
            count,
        }
    }

    /// Gives `env-NN` a London schedule parking at `park_at` on weekdays.
    fn schedule(&self, i: usize, park_at: &str) {
        let file = self.file(i);
        let text = std::fs::read_to_string(&file).unwrap().replacen(
            "  terraform {",
            &format!("  schedule {{\n    timezone  = \"Europe/London\"\n    unpark_at = \"07:00\"\n    park_at   = \"{park_at}\"\n  }}\n  terraform {{"),
            1,
        );
        std::fs::write(file, text).unwrap();
    }

    /// Writes `after = [...]` into `env-NN`'s file.
    fn after(&self, i: usize, names: &[&str]) {
        let file = self.file(i);
        let list: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        let text = std::fs::read_to_string(&file).unwrap().replacen(
            "  region     = \"eu-west-2\"\n",
            &format!(
                "  region     = \"eu-west-2\"\n  after      = [{}]\n",
                list.join(", ")
            ),
            1,
        );
        std::fs::write(file, text).unwrap();
    }

    fn file(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("env-{i:02}.env.hcl"))
    }

    /// The desired counts of `env-NN`'s services.
    fn desired(&self, i: usize) -> Vec<i32> {
        self.rt.block_on(async {
            let out = self
                .ecs
                .describe_services()
                .cluster(format!("env-{i:02}"))
                .services("web")
                .services("worker")
                .send()
                .await
                .unwrap();
            out.services().iter().map(|s| s.desired_count()).collect()
        })
    }

    /// Takes `env-NN`'s state lock as an apply would hold it.
    fn hold(&self, i: usize) -> (StateLock, LockInfo) {
        let (lock, backend) = self.lock(i);
        let apply = LockInfo::new("OperationTypeApply", "1.0.3", &backend);
        self.rt
            .block_on(lock.acquire(&apply, Duration::from_secs(5)))
            .unwrap();
        (lock, apply)
    }

    /// Releases what [`Envs::hold`] took.
    fn release(&self, (lock, info): (StateLock, LockInfo)) {
        self.rt.block_on(lock.release(&info)).unwrap();
    }

    /// The lock of `env-NN`'s state.
    fn lock(&self, i: usize) -> (StateLock, state_lock::S3Backend) {
        let env = infra_core::Environment::load(&self.file(i)).unwrap();
        let Backend::S3(backend) = state_lock::backend::read(&env).unwrap() else {
            panic!("an s3 backend");
        };
        let config = self.rt.block_on(self.session.sdk_config());
        (StateLock::new(&config, backend.clone()), backend)
    }

    fn park(&self, endpoint: &str, args: &[&str]) -> std::process::Command {
        let mut cmd = infra_test_support::command(env!("CARGO_BIN_EXE_park"), endpoint);
        cmd.args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    }
}

fn run(mut cmd: std::process::Command) -> infra_test_support::Run {
    cmd.output().unwrap().into()
}

fn dir_arg(dir: &Path) -> String {
    dir.to_str().unwrap().to_owned()
}

#[test]
fn twelve_environments_park_in_one_run_and_one_with_a_held_lock_is_refused() {
    let envs = Envs::new(12);
    let held = envs.hold(3);
    let dir = dir_arg(envs.dir.path());
    let r = run(envs.park(
        envs.session.endpoint(),
        &[
            "down",
            "--env-file",
            &dir,
            "--lock-timeout",
            "1s",
            "--output",
            "json",
        ],
    ));
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    assert_eq!(report["schema"], "park/multi");
    let runs = report["environments"].as_array().unwrap();
    assert_eq!(runs.len(), 12);
    for (i, e) in runs.iter().enumerate() {
        assert!(
            e["file"]
                .as_str()
                .unwrap()
                .ends_with(&format!("env-{i:02}.env.hcl")),
            "in the directory's order: {e}"
        );
        if i == 3 {
            assert_eq!(e["exit_code"], 4, "{e}");
            assert!(
                e["errors"][0]
                    .as_str()
                    .unwrap()
                    .contains("OperationTypeApply"),
                "{e}"
            );
            assert_eq!(
                envs.desired(i),
                [2, 1],
                "the refused environment is untouched"
            );
        } else {
            assert_eq!(e["exit_code"], 0, "{e}");
            assert_eq!(e["report"]["schema"], "park/run", "its own report: {e}");
            assert_eq!(envs.desired(i), [0, 0], "env-{i:02} parked");
        }
    }
    envs.release(held);
    // No lock is left behind by the run.
    for i in 0..envs.count {
        let (lock, _) = envs.lock(i);
        assert!(
            envs.rt.block_on(lock.holder()).unwrap().is_none(),
            "env-{i:02}"
        );
    }

    // The text report: a section per environment and the summary.
    let text = run(envs.park(envs.session.endpoint(), &["status", "--env-file", &dir]));
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert_eq!(
        text.stdout.matches("\n== ").count() + 1,
        12,
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("12 environments: 12 ok (exit 0)"),
        "{}",
        text.stdout
    );
}

#[test]
fn an_environment_of_another_account_is_refused_by_its_guard_while_the_others_park() {
    let envs = Envs::new(3);
    let other = envs.file(1);
    let text = std::fs::read_to_string(&other)
        .unwrap()
        .replace("123456789012", "210987654321");
    std::fs::write(&other, text).unwrap();
    let (a, b, c) = (
        dir_arg(&envs.file(0)),
        dir_arg(&envs.file(1)),
        dir_arg(&envs.file(2)),
    );
    let r = run(envs.park(
        envs.session.endpoint(),
        &["down", "--env-file", &a, "--env-file", &b, "--env-file", &c],
    ));
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("error: refusing to act: the AWS credentials belong to account 123456789012"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("3 environments: 2 ok, 1 refused (exit 4)"),
        "{}",
        r.stdout
    );
    assert_eq!(envs.desired(0), [0, 0]);
    assert_eq!(envs.desired(1), [2, 1]);
    assert_eq!(envs.desired(2), [0, 0]);
    // A file named twice, and several files for a tool that acts on one, are bad input.
    let twice = run(envs.park(
        envs.session.endpoint(),
        &["status", "--env-file", &a, "--env-file", &a],
    ));
    assert_eq!(twice.code, 2);
    assert!(twice.stderr.contains("is named twice"), "{}", twice.stderr);
    let mut verify = infra_test_support::command(
        infra_test_support::workspace_binary("verify-endpoints"),
        envs.session.endpoint(),
    );
    verify.args(["--env-file", &a, "--env-file", &c]);
    let r: infra_test_support::Run = verify.output().unwrap().into();
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("verify-endpoints acts on one environment"),
        "{}",
        r.stderr
    );
}

#[test]
fn sigterm_stops_every_environment_and_leaves_no_lock() {
    let envs = Envs::new(4);
    let proxy = Proxy::start(envs.session.endpoint());
    // Every UpdateService takes a second: the signal comes while all four are parking.
    proxy.delay(Some(("ecs:UpdateService", Duration::from_secs(2))));
    let dir = dir_arg(envs.dir.path());
    let child = envs
        .park(
            proxy.endpoint(),
            &[
                "down",
                "--env-file",
                &dir,
                "--concurrency",
                "1",
                "--output",
                "json",
            ],
        )
        .spawn()
        .unwrap();
    // Every environment has written its first record: its first UpdateService is on its
    // way (held 2 s, within the 5 s a step in flight is given), its second service not
    // started.
    infra_test_support::wait_for("a record in every environment", || {
        proxy
            .calls()
            .iter()
            .filter(|c| c.action == "TagResource")
            .count()
            >= 4
    });
    infra_test_support::sigterm(child.id());
    let r: infra_test_support::Run = child.wait_with_output().unwrap().into();
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("SIGTERM: stopping"), "{}", r.stderr);
    let report = r.json();
    let runs = report["environments"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    for e in runs {
        // Each stopped: its second service never started, reported interrupted.
        assert_eq!(e["exit_code"], 1, "{e}");
        assert!(e["report"].to_string().contains("interrupted"), "{e}");
    }
    for i in 0..envs.count {
        let (lock, _) = envs.lock(i);
        assert!(
            envs.rt.block_on(lock.holder()).unwrap().is_none(),
            "env-{i:02}'s lock was released"
        );
    }
}

#[test]
fn one_scheduled_run_parks_the_environments_that_are_due() {
    let envs = Envs::new(3);
    envs.schedule(0, "19:00");
    envs.schedule(1, "18:00");
    envs.schedule(2, "18:00");
    let dir = dir_arg(envs.dir.path());
    // A Tuesday in winter, 18:05 in London: env-01 and env-02 are due, env-00 not yet.
    let r = run(envs.park(
        envs.session.endpoint(),
        &[
            "down",
            "--scheduled",
            "--env-file",
            &dir,
            "--now",
            "2026-12-08T18:05:00Z",
            "--output",
            "json",
        ],
    ));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    let decisions: Vec<&str> = report["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["report"]["schedule"]["decision"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(decisions, ["not-due", "act", "act"], "{report}");
    assert_eq!(envs.desired(0), [2, 1]);
    assert_eq!(envs.desired(1), [0, 0]);
    assert_eq!(envs.desired(2), [0, 0]);
}

#[test]
fn an_after_cycle_is_refused_before_anything_runs() {
    let envs = Envs::new(3);
    envs.after(0, &["env-02"]);
    envs.after(1, &["env-00"]);
    envs.after(2, &["env-01"]);
    let dir = dir_arg(envs.dir.path());
    let r = run(envs.park(envs.session.endpoint(), &["down", "--env-file", &dir]));
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    // env-01's `after` (line 4, column 3 of its file) closes the cycle found from env-00.
    assert!(
        r.stderr.contains(&format!(
            "{}:4:3: `after` makes a cycle: env-00 → env-02 → env-01 → env-00; nothing was run",
            envs.file(1).display()
        )),
        "{}",
        r.stderr
    );
    for i in 0..3 {
        assert_eq!(envs.desired(i), [2, 1], "env-{i:02} untouched");
    }
}

#[test]
fn an_environment_waits_for_the_one_it_comes_after() {
    let envs = Envs::new(3);
    // env-01 is unparked after env-00, so parked before it.
    envs.after(1, &["env-00"]);
    let dir = dir_arg(envs.dir.path());
    let held = envs.hold(0);
    // Up: env-00 refused (its lock is held), so env-01 is not started; env-02 runs.
    let r = run(envs.park(
        envs.session.endpoint(),
        &[
            "up",
            "--env-file",
            &dir,
            "--lock-timeout",
            "1s",
            "--output",
            "json",
        ],
    ));
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    let codes: Vec<i64> = report["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["exit_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [4, 1, 0], "{report}");
    let why = report["environments"][1]["errors"][0].as_str().unwrap();
    assert_eq!(
        why,
        "not started: it waits for `env-00` (`after`), which ended with exit 4"
    );
    envs.release(held);

    // Down: env-01 is parked first; held, it keeps env-00 from being parked.
    let held = envs.hold(1);
    let r = run(envs.park(
        envs.session.endpoint(),
        &[
            "down",
            "--env-file",
            &dir,
            "--lock-timeout",
            "1s",
            "--output",
            "json",
        ],
    ));
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    assert_eq!(report["environments"][1]["exit_code"], 4, "{report}");
    assert_eq!(report["environments"][0]["exit_code"], 1, "{report}");
    assert_eq!(envs.desired(0), [2, 1], "env-00 waited and was not parked");
    assert_eq!(envs.desired(2), [0, 0], "env-02 parked");
    envs.release(held);
}

/// Buckets a tenth of AWS's, so a dozen services already outrun them: the proxy throttles
/// with these, and the environment files' `rate_budget` blocks say the same sizes.
fn small_buckets() -> Vec<infra_test_support::AwsBucket> {
    infra_test_support::aws_buckets()
        .into_iter()
        .map(|mut b| {
            b.burst = (b.burst / 10.0).max(5.0);
            b.per_second = (b.per_second / 5.0).max(1.0);
            b
        })
        .collect()
}

/// Throttled and answered calls over every bucket.
fn shares(counts: &[infra_test_support::BucketCount]) -> (usize, usize) {
    let served = counts.iter().map(|c| c.served).sum();
    let throttled = counts.iter().map(|c| c.throttled).sum();
    (served, throttled)
}

#[test]
fn environments_of_one_account_share_one_rate_budget_and_wait_instead_of_being_throttled() {
    let envs = Envs::new(6);
    let proxy = Proxy::start(envs.session.endpoint());
    let buckets = small_buckets();
    // What an account with these limits writes in each environment file.
    let blocks: String = [
        ("ecs-service-modify", &buckets[0]),
        ("ecs-tag-modify", &buckets[1]),
        ("ecs-read", &buckets[2]),
        ("autoscaling-modify", &buckets[3]),
        ("autoscaling-read", &buckets[4]),
    ]
    .iter()
    .map(|(name, b)| {
        format!(
            "  rate_budget \"{name}\" {{\n    burst      = {}\n    per_second = {}\n  }}\n",
            b.burst, b.per_second
        )
    })
    .collect();
    for i in 0..envs.count {
        let file = envs.file(i);
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            text.replacen("  terraform {", &format!("{blocks}  terraform {{"), 1),
        )
        .unwrap();
    }
    let dir = dir_arg(envs.dir.path());

    proxy.aws_throttling(Some(buckets.clone()));
    let r = run(envs.park(proxy.endpoint(), &["down", "--env-file", &dir]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for i in 0..envs.count {
        assert_eq!(envs.desired(i), [0, 0], "env-{i:02} parked exactly");
    }
    let counts = proxy.bucket_counts();
    let (served, throttled) = shares(&counts);
    assert!(
        counts[0].served >= 12 && counts[1].served >= 12,
        "every service's UpdateService and record tag went through the buckets: {counts:?}"
    );
    assert!(
        (throttled as f64) < 0.10 * (served + throttled) as f64,
        "with the budget, calls wait for a token: {throttled} of {} throttled ({counts:?})",
        served + throttled
    );

    // Without the blocks the run believes AWS's published sizes, ten times these: it sends
    // until AWS throttles, then lowers its rate and still ends exact.
    for i in 0..envs.count {
        let file = envs.file(i);
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, text.replacen(&blocks, "", 1)).unwrap();
    }
    proxy.aws_throttling(Some(buckets));
    let r = run(envs.park(proxy.endpoint(), &["up", "--env-file", &dir]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for i in 0..envs.count {
        assert_eq!(envs.desired(i), [2, 1], "env-{i:02} unparked exactly");
    }
    let counts = proxy.bucket_counts();
    let (_, unbudgeted) = shares(&counts);
    assert!(
        unbudgeted > throttled,
        "sizes too large are learnt only by being throttled: {unbudgeted} vs {throttled} ({counts:?})"
    );
}
