//! The emulated environment: a cluster with `prefect-server` and `prefect-worker`, the
//! deployer's task definition logging to CloudWatch Logs, an environment file declaring
//! the task, and the run-task binary started through the proxy.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_ecs::types::{ContainerDefinition, LaunchType, LogConfiguration, LogDriver};
use infra_test_support::proxy::TaskEnd;
use infra_test_support::{Moto, MotoSession, Proxy};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const CLUSTER: &str = "blog-prod";
pub const FAMILY: &str = "blog-prod-prefect-deployer";
pub const GROUP: &str = "/ecs/blog-prod/prefect-deployer";
pub const REPO_URI: &str = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data";
pub const PINNED: &str = "prefect-deployer-3-python3.12-4f2a9c1";
/// `run-task` with a JSON report, polling fast.
pub const JSON_RUN: [&str; 6] = [
    "--output",
    "json",
    "run",
    "prefect-deployer",
    "--poll",
    "200ms",
];

/// One test's world.
pub struct World {
    pub _session: MotoSession,
    pub proxy: Proxy,
    pub dir: tempfile::TempDir,
    pub env_file: PathBuf,
    pub ecs: aws_sdk_ecs::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

/// A running `run-task`, its stderr collected line by line.
pub struct Running {
    pub child: Child,
    pub stderr: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// A finished run.
pub struct Done {
    pub code: i32,
    pub stdout: String,
    pub stderr: Vec<String>,
}

impl Done {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}):\n{}\n{}",
                self.stdout,
                self.stderr.join("\n")
            )
        })
    }

    /// The container's log lines as the run showed them.
    pub fn log_lines(&self) -> Vec<&str> {
        self.stderr
            .iter()
            .filter_map(|l| l.strip_prefix("  | "))
            .collect()
    }
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr_has(&self, text: &str) -> bool {
        self.stderr.lock().unwrap().iter().any(|l| l.contains(text))
    }

    pub fn wait(mut self) -> Done {
        let out = self.child.wait_with_output().expect("run-task ends");
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        let stderr = self.stderr.lock().unwrap().clone();
        Done {
            code: out.status.code().unwrap_or(-9),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        }
    }
}

/// The environment file: the pin's Terraform file beside it, the task block as given.
pub fn env_file(dir: &std::path::Path, pin_tag: &str, extra: &str) -> PathBuf {
    std::fs::write(
        dir.join("main.tf"),
        format!("locals {{\n  prefect_deployer_image = \"{REPO_URI}:{pin_tag}\"\n}}\n"),
    )
    .unwrap();
    let file = dir.join("prod.env.hcl");
    std::fs::write(
        &file,
        format!(
            r#"environment "prod" {{
  account_id = "123456789012"
  region     = "eu-west-2"
  terraform {{
    root = "."
  }}
  ecs_cluster "{CLUSTER}" {{
    service "prefect-server" {{
      desired_count = 1
    }}
    service "prefect-worker" {{
      desired_count = 1
    }}
  }}
  image "prefect_deployer_image" {{
    file            = "main.tf"
    repository      = "blog-data"
    tag_pattern     = "prefect-deployer-3-python3\\.12-(?P<sha>[0-9a-f]{{7,40}})"
    task_definition = "{FAMILY}"
  }}
  notify {{
    slack_webhook_env = "RUN_TASK_TEST_SLACK"
    on                = ["failed", "refused"]
  }}
  task "prefect-deployer" {{
    task_definition = "{FAMILY}"
    cluster         = "{CLUSTER}"
    network_from    = "prefect-worker"
    container       = "deployer"
    image           = "prefect_deployer_image"
    needs           = ["prefect-server"]
    {extra}
  }}
}}
"#
        ),
    )
    .unwrap();
    file
}

impl World {
    /// The emulator reset, seeded with the cluster, both services (`prefect-server` at
    /// `server_count`), the deployer's task definition running `image_tag`, its log group;
    /// the pin in main.tf is [`PINNED`].
    pub async fn new(image_tag: &str, server_count: i32) -> World {
        let session = Moto::session();
        let moto = session.moto();
        // Tasks stay RUNNING until stopped (moto would advance them on every describe).
        moto.hold_state("ecs::task", 1_000_000)
            .expect("state manager");
        let config = moto.sdk_config().await;
        let ecs = aws_sdk_ecs::Client::new(&config);
        let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
        ecs.create_cluster()
            .cluster_name(CLUSTER)
            .send()
            .await
            .unwrap();
        let container = |name: &str, image: String, log: bool| {
            let mut c = ContainerDefinition::builder()
                .name(name)
                .image(image)
                .essential(true)
                .cpu(256)
                .memory(512);
            if log {
                c = c.log_configuration(
                    LogConfiguration::builder()
                        .log_driver(LogDriver::Awslogs)
                        .options("awslogs-group", GROUP)
                        .options("awslogs-region", "eu-west-2")
                        .options("awslogs-stream-prefix", "deployer")
                        .build()
                        .unwrap(),
                );
            }
            c.build()
        };
        ecs.register_task_definition()
            .family("blog-prod-prefect")
            .container_definitions(container("prefect", format!("{REPO_URI}:prefect-3"), false))
            .send()
            .await
            .unwrap();
        for (service, count) in [("prefect-server", server_count), ("prefect-worker", 1)] {
            ecs.create_service()
                .cluster(CLUSTER)
                .service_name(service)
                .task_definition("blog-prod-prefect")
                .desired_count(count)
                .launch_type(LaunchType::Fargate)
                .send()
                .await
                .unwrap();
        }
        ecs.register_task_definition()
            .family(FAMILY)
            .container_definitions(container(
                "deployer",
                format!("{REPO_URI}:{image_tag}"),
                true,
            ))
            .send()
            .await
            .unwrap();
        logs.create_log_group()
            .log_group_name(GROUP)
            .send()
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let env_file = env_file(dir.path(), PINNED, "timeout = \"5m\"");
        let proxy = Proxy::start(moto.endpoint());
        World {
            _session: session,
            proxy,
            dir,
            env_file,
            ecs,
            logs,
        }
    }

    /// Starts `run-task ARGS` through the proxy.
    pub fn start(&self, args: &[&str]) -> Running {
        self.start_with(args, &[])
    }

    /// Starts `run-task ARGS` through the proxy with these variables set.
    pub fn start_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Running {
        let mut child = infra_test_support::command(
            infra_test_support::workspace_binary("run-task"),
            self.proxy.endpoint(),
        )
        .arg("--env-file")
        .arg(&self.env_file)
        .args(args)
        .env_remove("CIRCLE_JOB")
        .env_remove("CIRCLE_BUILD_NUM")
        .env_remove("RUN_TASK_TEST_SLACK")
        .envs(vars.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run-task starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().unwrap();
        let lines = Arc::clone(&stderr);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        });
        Running {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    /// Every task of the cluster, running or stopped.
    pub async fn tasks(&self) -> Vec<String> {
        let mut all = Vec::new();
        for status in [
            aws_sdk_ecs::types::DesiredStatus::Running,
            aws_sdk_ecs::types::DesiredStatus::Stopped,
        ] {
            let out = self
                .ecs
                .list_tasks()
                .cluster(CLUSTER)
                .desired_status(status)
                .send()
                .await
                .unwrap();
            all.extend(out.task_arns().iter().cloned());
        }
        all
    }

    /// Waits until the run started its task; returns the task's ARN.
    pub async fn started_task(&self) -> String {
        for _ in 0..1200 {
            if let Some(arn) = self.tasks().await.first() {
                return arn.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no task was started within 60 s");
    }

    /// The container writes `lines` to its stream (created on its first line).
    pub async fn write_logs(&self, task_arn: &str, lines: &[String], first_ms: i64) {
        let id = task_arn.rsplit('/').next().unwrap();
        let stream = format!("deployer/deployer/{id}");
        let _ = self
            .logs
            .create_log_stream()
            .log_group_name(GROUP)
            .log_stream_name(&stream)
            .send()
            .await;
        let events: Vec<InputLogEvent> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                InputLogEvent::builder()
                    .timestamp(first_ms + i as i64)
                    .message(l)
                    .build()
                    .unwrap()
            })
            .collect();
        self.logs
            .put_log_events()
            .log_group_name(GROUP)
            .log_stream_name(&stream)
            .set_log_events(Some(events))
            .send()
            .await
            .unwrap();
    }

    /// The container ends as `end` says: the test stops the task in the emulator, and the
    /// proxy reports it ended that way.
    pub async fn end_task(&self, task_arn: &str, end: TaskEnd) {
        self.proxy.task_end(Some(end));
        self.ecs
            .stop_task()
            .cluster(CLUSTER)
            .task(task_arn)
            .reason("the container exited")
            .send()
            .await
            .unwrap();
    }

    /// The emulator's own endpoint (not the proxy's).
    pub fn moto_endpoint(&self) -> &str {
        self._session.endpoint()
    }

    /// Gives the Terraform root an s3 backend with a DynamoDB lock on the emulator (the
    /// environment lock park takes); returns the lock's backend settings.
    pub fn with_backend(&self) -> state_lock::S3Backend {
        let endpoint = self.moto_endpoint().to_owned();
        infra_test_support::terraform_backend(&endpoint, "eu-west-2", "blog-state", "blog-locks")
            .unwrap();
        let dir = self.dir.path();
        let main_tf = std::fs::read_to_string(dir.join("main.tf")).unwrap();
        std::fs::write(
            dir.join("main.tf"),
            format!("terraform {{\n  backend \"s3\" {{}}\n}}\n\n{main_tf}"),
        )
        .unwrap();
        std::fs::write(
            dir.join("backend.hcl"),
            infra_test_support::terraform_backend_config(
                &endpoint,
                "blog-state",
                "blog-locks",
                "prod/terraform.tfstate",
            ),
        )
        .unwrap();
        let text = std::fs::read_to_string(&self.env_file).unwrap();
        std::fs::write(
            &self.env_file,
            text.replacen(
                "root = \".\"",
                "root = \".\"\n    backend_config = \"backend.hcl\"",
                1,
            ),
        )
        .unwrap();
        let env = infra_core::Environment::load(&self.env_file).unwrap();
        match state_lock::backend::read(&env).unwrap() {
            state_lock::Backend::S3(b) => b,
            other => panic!("not the s3 backend: {other:?}"),
        }
    }

    /// Runs `run-task ARGS` (with `vars`) while the deployer's container writes `lines`
    /// and then ends as `end` says; returns the finished run.
    pub async fn run_ending(
        &self,
        args: &[&str],
        vars: &[(&str, &str)],
        lines: &[String],
        end: TaskEnd,
    ) -> Done {
        let run = self.start_with(args, vars);
        let task = self.started_task().await;
        if !lines.is_empty() {
            self.write_logs(&task, lines, now_ms()).await;
        }
        self.end_task(&task, end).await;
        run.wait()
    }

    /// The calls the run made, as IAM names them.
    pub fn actions(&self) -> Vec<String> {
        self.proxy.calls().iter().map(|c| c.iam_action()).collect()
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The harness' HTTP stub standing in for Slack's incoming webhook at `/slack` (no real
/// Slack is reachable). It runs its own runtime, so it is started outside the test's;
/// [`Slack`] drops it outside too.
pub fn slack() -> Slack {
    Slack(Some(tokio::task::block_in_place(|| {
        infra_test_support::HttpStub::start(vec![(
            "/slack",
            vec![infra_test_support::Answer::html(200, "ok")],
        )])
    })))
}

/// See [`slack`].
pub struct Slack(Option<infra_test_support::HttpStub>);

impl std::ops::Deref for Slack {
    type Target = infra_test_support::HttpStub;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("running")
    }
}

impl Drop for Slack {
    fn drop(&mut self) {
        let stub = self.0.take();
        tokio::task::block_in_place(|| drop(stub));
    }
}
