//! The CircleCI config (`examples/circleci/config.yml`) checked and run.
//!
//! The config is parsed; every workflow job, requirement, executor, command and toolkit
//! invocation must exist (each invocation is run with `--help` appended, so clap rejects an
//! unknown subcommand or flag). Then the three flows the toolkit is used by — the
//! terraform-prod jobs, park then unpark, bumping the deployer image — run their jobs' `run`
//! steps exactly as written, with bash as CircleCI does (`-eo pipefail`), in a git working
//! copy of this repository, against the emulator, the real Terraform 1.0.3 and local
//! stand-in endpoints. Steps that only make sense on CircleCI (checkout, toolkit install,
//! OIDC credentials, caches) are replaced by this harness: the binaries are on `PATH`, the
//! credentials point at the emulator. A job's parameters and `when` / `unless` steps are
//! resolved as CircleCI compiles them; `circleci-agent step halt` is a stand-in that ends
//! the job after the step, as CircleCI's agent (not available here) does.
//!
//! The working copy differs from the repository in what cannot run here: `main.tf` is
//! `examples/demo/main.tf` (the same pins, no AWS provider, which cannot be downloaded),
//! `backend.hcl` points at the emulator, the endpoints at 127.0.0.1 stubs (without a
//! CloudFront distribution: the emulator's distribution IDs are random).

use crate::TOOLS;
use infra_test_support::{
    child_env, command, reference_env_file, seed::reference_images, seed_with, terraform_backend,
    terraform_binary, workspace_binary, workspace_root, Answer, HttpStub, Moto, MotoSession,
};
use serde_yaml::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

pub(crate) fn config() -> Value {
    let path = workspace_root().join("examples/circleci/config.yml");
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A scheduled pipeline's parameters as the config's header documents them: the comment
/// line `#   NAME: WHEN, parameters { a: true, b: false }`.
fn documented_trigger(name: &str) -> Vec<(String, bool)> {
    let text =
        std::fs::read_to_string(workspace_root().join("examples/circleci/config.yml")).unwrap();
    let line = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .find(|l| {
            l.trim_start_matches('#')
                .trim_start()
                .starts_with(&format!("{name}:"))
        })
        .unwrap_or_else(|| panic!("the config's header documents no {name} schedule"));
    let inside = line
        .split_once("parameters {")
        .and_then(|(_, rest)| rest.split_once('}'))
        .unwrap_or_else(|| panic!("no `parameters {{ … }}` in {line:?}"))
        .0;
    inside
        .split(',')
        .map(|pair| {
            let (k, v) = pair.split_once(':').unwrap();
            (k.trim().to_owned(), v.trim().parse::<bool>().unwrap())
        })
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A workflow's job entries: (name, settings).
fn workflow_jobs(wf: &Value) -> Vec<(String, Value)> {
    wf["jobs"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|item| match item {
            Value::String(s) => (s.clone(), Value::Null),
            Value::Mapping(m) => {
                let (k, v) = m.iter().next().unwrap();
                (k.as_str().unwrap().to_owned(), v.clone())
            }
            other => panic!("workflow job entry {other:?}"),
        })
        .collect()
}

/// Every `run` command text of a job or command definition, in order; both sides of a
/// `when` / `unless` step (resolved steps have none).
pub(crate) fn run_commands(steps: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for step in steps.as_sequence().unwrap() {
        if let Some(r) = step.get("run") {
            out.push(match r {
                Value::String(c) => (c.clone(), c.clone()),
                _ => (
                    r["name"].as_str().unwrap_or("").to_owned(),
                    r["command"].as_str().unwrap().to_owned(),
                ),
            });
        }
        for logic in ["when", "unless"] {
            if let Some(branch) = step.get(logic) {
                out.extend(run_commands(&branch["steps"]));
            }
        }
    }
    out
}

/// The steps of a definition, with those inside `when` / `unless` steps (both sides).
fn all_steps(steps: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for step in steps.as_sequence().unwrap() {
        match ["when", "unless"].iter().find_map(|l| step.get(*l)) {
            Some(branch) => out.extend(all_steps(&branch["steps"])),
            None => out.push(step.clone()),
        }
    }
    out
}

const BUILTIN_STEPS: &[&str] = &[
    "checkout",
    "run",
    "persist_to_workspace",
    "attach_workspace",
    "store_artifacts",
    "store_test_results",
    "restore_cache",
    "save_cache",
    "setup_remote_docker",
];

/// Commands that only make sense on CircleCI (the toolkit install, OIDC credentials): the
/// harness stands in for them. Every other command's `run` steps run as written.
const CI_ONLY_COMMANDS: &[&str] = &["install-toolkit", "aws-oidc"];

/// Each toolkit invocation in a shell command: the tool and its arguments up to the first
/// redirection or separator.
fn invocations(script: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in script.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(start) = words.iter().position(|w| TOOLS.contains(w)) else {
            continue;
        };
        // Only a command position: the line's start (after `if !`-free plain commands).
        if start != 0 {
            continue;
        }
        let args: Vec<String> = words[start..]
            .iter()
            .take_while(|w| !matches!(**w, ">" | ">>" | "|" | "&&" | ";" | "2>&1"))
            .map(|w| w.to_string())
            .collect();
        out.push(args);
    }
    out
}

#[test]
fn every_job_requirement_and_command_in_the_circleci_config_exists() {
    let c = config();
    let jobs = keys(&c["jobs"]);
    let commands = keys(&c["commands"]);
    let executors = keys(&c["executors"]);
    assert_eq!(c["version"].as_f64(), Some(2.1));

    let workflows = keys(&c["workflows"]);
    for name in [
        "terraform-prod",
        "park-infrastructure",
        "unpark-infrastructure",
        "drift-check",
        "bump-deployer-image",
        "refresh-prefect-image",
    ] {
        assert!(workflows.contains(name), "workflow {name}");
    }
    let mut used = BTreeSet::new();
    for wf in &workflows {
        let entries = workflow_jobs(&c["workflows"][wf.as_str()]);
        let names: BTreeSet<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        for (name, settings) in &entries {
            if settings["type"].as_str() == Some("approval") {
                assert!(!jobs.contains(name), "{wf}: approval {name} shadows a job");
            } else {
                assert!(jobs.contains(name), "{wf}: job {name} is not defined");
                used.insert(name.clone());
            }
            for req in settings["requires"].as_sequence().into_iter().flatten() {
                let req = req.as_str().unwrap();
                assert!(
                    names.contains(req),
                    "{wf}: {name} requires {req}, not in the workflow"
                );
            }
        }
    }
    assert_eq!(used, jobs, "every job is used by a workflow");
    // The terraform-prod order: plan → approval → apply → verify.
    let tp = workflow_jobs(&c["workflows"]["terraform-prod"]);
    let requires = |job: &str| -> Vec<String> {
        tp.iter()
            .find(|(n, _)| n == job)
            .map(|(_, s)| {
                s["requires"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap()
    };
    assert_eq!(requires("hold-terraform-prod"), ["terraform-prod-plan"]);
    assert_eq!(requires("terraform-prod-apply"), ["hold-terraform-prod"]);
    assert_eq!(requires("verify-prod-endpoints"), ["terraform-prod-apply"]);
    assert_eq!(requires("verify-prod-pins"), ["terraform-prod-apply"]);

    let mut scripts = Vec::new();
    for job in &jobs {
        let def = &c["jobs"][job.as_str()];
        let executor = def["executor"].as_str().unwrap();
        assert!(executors.contains(executor), "{job}: executor {executor}");
        for step in &all_steps(&def["steps"]) {
            let name = match step {
                Value::String(s) => s.clone(),
                Value::Mapping(m) => m.keys().next().unwrap().as_str().unwrap().to_owned(),
                other => panic!("{job}: step {other:?}"),
            };
            assert!(
                BUILTIN_STEPS.contains(&name.as_str()) || commands.contains(&name),
                "{job}: step {name} is neither built in nor a defined command"
            );
        }
        for (_, script) in run_commands(&def["steps"]) {
            scripts.push((job.clone(), script));
        }
        // Workspaces: what the plan persists is where the apply attaches it.
        for step in def["steps"].as_sequence().unwrap() {
            if let Some(p) = step.get("persist_to_workspace") {
                assert_eq!(p["root"].as_str(), Some("workspace"), "{job}");
            }
            if let Some(a) = step.get("attach_workspace") {
                assert_eq!(a["at"].as_str(), Some("workspace"), "{job}");
            }
        }
    }
    for cmd in commands.iter() {
        for (_, script) in run_commands(&c["commands"][cmd.as_str()]["steps"]) {
            scripts.push((cmd.clone(), script));
        }
    }
    // Test results: a job's or command's store_test_results gets a JUnit file from one of
    // its own steps.
    let defs = jobs
        .iter()
        .map(|j| (j, &c["jobs"][j.as_str()]))
        .chain(commands.iter().map(|n| (n, &c["commands"][n.as_str()])));
    for (name, def) in defs {
        for step in def["steps"].as_sequence().unwrap() {
            if let Some(t) = step.get("store_test_results") {
                let dir = t["path"].as_str().unwrap();
                let scripts = run_commands(&def["steps"]);
                assert!(
                    scripts
                        .iter()
                        .any(|(_, s)| s.contains(&format!("--junit {dir}/"))),
                    "{name}: store_test_results {dir} gets no JUnit file"
                );
            }
        }
    }
    // Parameters: what each workflow passes to a job, and each job to a command, is
    // declared by it, and every `<< parameters.NAME >>` is one it declares (resolving the
    // steps asserts both).
    let pipeline = Pipeline::new(&c, "main", "api", &[]);
    for wf in &workflows {
        for (job, settings) in workflow_jobs(&c["workflows"][wf.as_str()]) {
            if settings["type"].as_str() != Some("approval") {
                job_steps(&c, &job, &pipeline.job_arguments(&c, wf, &job));
            }
        }
    }
    let mut checked = 0;
    for (job, script) in &scripts {
        for args in invocations(script) {
            let out = std::process::Command::new(workspace_binary(&args[0]))
                .args(&args[1..])
                .arg("--help")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{job}: `{}` is not a valid invocation: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} toolkit invocations found");
}

/// The Slack incoming webhook's path on the harness' HTTP stub (Slack is not reachable
/// here): every job gets `SLACK_WEBHOOK_URL` pointing there, as the context would give it.
const SLACK_PATH: &str = "/services/T0CONTEXT/B0CONTEXT/contextsecret";

/// How a job ended when no step failed.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// Every step ran.
    Completed,
    /// This step ran `circleci-agent step halt`: the steps after it did not run.
    Halted(String),
}

/// A stand-in for CircleCI's `circleci-agent` (which exists only on CircleCI's machines):
/// `step halt` ends the job after the current step, successfully, as CircleCI documents
/// ("Ending a job from within a step"). The harness sees the mark it leaves.
const CIRCLECI_AGENT: &str = r#"#!/bin/sh
if [ "$1 $2" = "step halt" ]; then
    touch "$CIRCLECI_AGENT_HALTED"
else
    echo "circleci-agent $*: not modelled by the test harness" >&2
    exit 1
fi
"#;

/// A step (by name) and what the harness does in its place.
type Instead<'a> = (&'a str, &'a dyn Fn(&Ci));

/// A git working copy of the repository's examples, set up to run the config's jobs here.
struct Ci {
    session: MotoSession,
    dir: tempfile::TempDir,
    origin: tempfile::TempDir,
    /// A directory on the jobs' PATH with a stand-in for CircleCI's `circleci-agent`.
    agent: tempfile::TempDir,
    /// The endpoints' stand-ins and the Slack webhook's ([`SLACK_PATH`]).
    stubs: HttpStub,
    config: Value,
}

impl Ci {
    fn new() -> Ci {
        let session = Moto::session();
        let endpoint = session.endpoint().to_owned();
        terraform_backend(
            &endpoint,
            "eu-west-2",
            "blog-terraform-state",
            "blog-terraform-locks",
        )
        .unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let env = infra_core::Environment::load(&reference_env_file()).unwrap();
        let sdk = runtime.block_on(session.sdk_config());
        // Distinct push times: the emulator keeps whole seconds, and images pushed in the
        // same second would make an ambiguous "newest".
        let options = infra_test_support::SeedOptions {
            distinct_push_times: true,
            ..Default::default()
        };
        runtime
            .block_on(seed_with(&sdk, &env, &reference_images(), &options))
            .unwrap();

        let stubs = HttpStub::start(vec![
            (
                "/.backstage/health/v1/readiness",
                vec![Answer::json(200, r#"{"status":"ok"}"#)],
            ),
            ("/api/health", vec![Answer::json(200, "true")]),
            (SLACK_PATH, vec![Answer::html(200, "ok")]),
        ]);
        let dir = tempfile::tempdir().unwrap();
        infra_test_support::local_reference_copy(
            &dir.path().join("examples/prod"),
            &endpoint,
            &stubs.url("/.backstage/health/v1/readiness"),
            &stubs.url("/api/health"),
        );
        std::fs::write(
            dir.path().join(".gitignore"),
            ".terraform/\nworkspace/\nreports/\n",
        )
        .unwrap();
        let agent = tempfile::tempdir().unwrap();
        let agent_bin = agent.path().join("circleci-agent");
        std::fs::write(&agent_bin, CIRCLECI_AGENT).unwrap();
        std::fs::set_permissions(
            &agent_bin,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let ci = Ci {
            session,
            dir,
            origin: tempfile::tempdir().unwrap(),
            agent,
            stubs,
            config: config(),
        };
        ci.git(&["init", "-q", "-b", "main"]);
        ci.git(&["add", "-A"]);
        ci.git(&["commit", "-qm", "prod"]);
        // `origin`: a local bare repository, as the pushed-to remote.
        infra_test_support::git(
            ci.origin.path(),
            &["init", "-q", "--bare", "-b", "main", "."],
        );
        let origin = ci.origin.path().to_str().unwrap().to_owned();
        ci.git(&["remote", "add", "origin", &origin]);
        ci.git(&["push", "-q", "origin", "main"]);
        ci
    }

    fn git(&self, args: &[&str]) -> String {
        infra_test_support::git(self.dir.path(), args)
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Runs a job's steps; returns the first failing step's (name, exit code, stderr).
    fn job(&self, name: &str) -> Result<(), (String, i32, String)> {
        self.job_replacing(name, None)
    }

    /// Like [`Ci::job`], with one step (by name) done by `instead` (what cannot run here).
    fn job_replacing(
        &self,
        name: &str,
        instead: Option<Instead<'_>>,
    ) -> Result<(), (String, i32, String)> {
        self.run_job(name, &[], &[], instead).map(|_| ())
    }

    /// Runs a job's steps with these job parameters and extra environment variables;
    /// returns whether a step halted the job (`circleci-agent step halt`: the job ends
    /// after that step, successfully), or the first failing step's (name, exit code,
    /// stderr).
    fn run_job(
        &self,
        name: &str,
        params: &[(String, String)],
        env: &[(&str, &str)],
        instead: Option<Instead<'_>>,
    ) -> Result<Ended, (String, i32, String)> {
        let job = &self.config["jobs"][name];
        assert!(job.is_mapping(), "no job {name}");
        let executor = &self.config["executors"][job["executor"].as_str().unwrap()];
        let bin_dir = workspace_binary("park").parent().unwrap().to_owned();
        let path = format!(
            "{}:{}:{}",
            self.agent.path().display(),
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let halted = self.agent.path().join("halted");
        let _ = std::fs::remove_file(&halted);
        let steps = job_steps(&self.config, name, params);
        if let Some((replaced, _)) = instead {
            assert!(
                steps.iter().any(|(s, _)| s == replaced),
                "job {name} has no step {replaced}"
            );
        }
        for (step, script) in steps {
            if let Some((_, with)) = instead.filter(|(replaced, _)| *replaced == step) {
                with(self);
                continue;
            }
            let mut cmd = command("bash", self.session.endpoint());
            cmd.args(["-eo", "pipefail", "-c", &script])
                .current_dir(self.dir.path())
                .env("PATH", &path)
                .env("CIRCLECI_AGENT_HALTED", &halted)
                .env("SLACK_WEBHOOK_URL", self.stubs.url(SLACK_PATH))
                .envs(child_env(self.session.endpoint()));
            for (k, v) in executor["environment"].as_mapping().into_iter().flatten() {
                cmd.env(k.as_str().unwrap(), v.as_str().unwrap());
            }
            cmd.envs(env.iter().copied());
            let out = cmd.output().unwrap();
            if !out.status.success() {
                return Err((
                    step,
                    out.status.code().unwrap_or(-9),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                ));
            }
            if std::fs::remove_file(&halted).is_ok() {
                return Ok(Ended::Halted(step));
            }
        }
        Ok(Ended::Completed)
    }

    fn ok(&self, name: &str) {
        self.ok_replacing(name, None);
    }

    fn ok_replacing(&self, name: &str, instead: Option<Instead<'_>>) {
        if let Err((step, code, stderr)) = self.job_replacing(name, instead) {
            let reports: Vec<String> = std::fs::read_dir(self.path("reports"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| {
                    format!(
                        "{}:\n{}",
                        e.path().display(),
                        std::fs::read_to_string(e.path()).unwrap_or_default()
                    )
                })
                .collect();
            panic!(
                "job {name}, step `{step}` exited {code}:\n{stderr}\n{}",
                reports.join("\n")
            );
        }
    }

    fn report(&self, file: &str) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.path(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}\n{text}"))
    }

    /// Terraform itself on the working copy's root; its stdout, the run must succeed.
    fn terraform(&self, args: &[&str]) -> String {
        let out = command(terraform_binary().unwrap(), self.session.endpoint())
            .arg(format!("-chdir={}", self.path("examples/prod").display()))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "terraform {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn terraform_output(&self, name: &str) -> String {
        self.terraform(&["output", "-raw", name])
    }

    /// `terraform state list`: the resources the applied state holds.
    fn terraform_state(&self) -> Vec<String> {
        self.terraform(&["state", "list"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn desired_counts(&self) -> Vec<(String, i64)> {
        let out = command(workspace_binary("park"), self.session.endpoint())
            .current_dir(self.dir.path())
            .args([
                "--env-file",
                "examples/prod/prod.env.hcl",
                "status",
                "--output",
                "json",
            ])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["service"].as_str().unwrap().to_owned(),
                    s["desired_count"].as_i64().unwrap(),
                )
            })
            .collect()
    }
}

#[test]
fn terraform_prod_workflow_plans_applies_the_approved_bundle_and_verifies() {
    let ci = Ci::new();
    ci.ok("terraform-prod-plan");
    let plan = ci.report("reports/plan.json");
    assert_eq!(plan["outcome"], "planned", "{plan}");
    assert!(ci.path("workspace/tf-bundle/manifest.json").is_file());
    let md = std::fs::read_to_string(ci.path("reports/plan-summary.md")).unwrap();
    assert!(md.contains("`prefect_deployer_image`"), "{md}");
    // On a pull request whose GitHub does not take the comment (the stand-in has no GitHub
    // API: 404), the plan job still succeeds; the comment step only warns.
    let api = ci.stubs.url("/github-down");
    let ended = ci.run_job(
        "terraform-prod-plan",
        &[],
        &[
            (
                "CIRCLE_PULL_REQUEST",
                "https://github.com/acme/infra/pull/7",
            ),
            ("GITHUB_TOKEN", "ghp_notavalidtoken"),
            ("GITHUB_API_URL", api.as_str()),
        ],
        None,
    );
    assert_eq!(
        ended,
        Ok(Ended::Completed),
        "a refused comment fails no plan"
    );
    assert!(
        ci.stubs.count("/github-down/user") >= 1,
        "the comment was tried"
    );
    // The reference environment signs bundles: the plan job signed with the KMS key...
    let signature = ci.report("workspace/tf-bundle/signature.json");
    assert_eq!(signature["algorithm"], "ECDSA_SHA_256", "{signature}");
    // ... and the apply job refuses the bundle edited in the workspace after signing.
    let manifest = ci.path("workspace/tf-bundle/manifest.json");
    let signed = std::fs::read(&manifest).unwrap();
    let mut edited: serde_json::Value = serde_json::from_slice(&signed).unwrap();
    edited["allow_unpark"] = true.into();
    std::fs::write(&manifest, edited.to_string()).unwrap();
    let (step, code, stderr) = ci.job("terraform-prod-apply").unwrap_err();
    assert_eq!((step.as_str(), code), ("tf-wrap apply", 4), "{stderr}");
    assert!(
        stderr.contains("not the manifest that was signed"),
        "{stderr}"
    );
    std::fs::write(&manifest, signed).unwrap();
    // hold-terraform-prod: a human approves.
    ci.ok("terraform-prod-apply");
    assert_eq!(ci.report("reports/apply.json")["outcome"], "applied");
    assert_eq!(
        ci.terraform_output("prefect_deployer_image"),
        "123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:prefect-deployer-3-python3.12-4f2a9c1"
    );
    // The services' capacity is in the state (through the demo AWS provider), unchanged.
    assert_eq!(
        ci.terraform_state(),
        [
            "aws_appautoscaling_target.this[\"portal\"]",
            "aws_appautoscaling_target.this[\"prefect-server\"]",
            "aws_ecs_service.this[\"portal\"]",
            "aws_ecs_service.this[\"prefect-server\"]",
            "aws_ecs_service.this[\"prefect-worker\"]",
            "aws_ecs_task_definition.prefect_deployer",
        ]
    );
    assert_eq!(
        ci.desired_counts(),
        [
            ("portal".to_owned(), 2),
            ("prefect-server".to_owned(), 1),
            ("prefect-worker".to_owned(), 1)
        ]
    );
    ci.ok("verify-prod-endpoints");
    let junit = std::fs::read_to_string(ci.path("reports/junit/endpoints.xml")).unwrap();
    assert_eq!(junit.matches("<testcase").count(), 2, "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    // The apply registered the deployer's task definition with the pin: ECS runs main's
    // pins (the deployer is a build behind the newest, which is not this job's concern).
    ci.ok("verify-prod-pins");
    let pins = ci.report("reports/pins-live.json");
    let deployer = &pins["pins"][1];
    assert_eq!(deployer["status"], "behind", "{pins}");
    assert_eq!(deployer["live"]["status"], "live", "{pins}");
    assert!(
        deployer["live"]["task_definition"]["arn"]
            .as_str()
            .unwrap()
            .ends_with("task-definition/blog-prod-prefect-deployer:1"),
        "{pins}"
    );
}

#[test]
fn park_then_unpark_restores_every_service_and_verifies() {
    let ci = Ci::new();
    let before = ci.desired_counts();
    assert_eq!(
        before,
        [
            ("portal".to_owned(), 2),
            ("prefect-server".to_owned(), 1),
            ("prefect-worker".to_owned(), 1)
        ]
    );
    ci.ok("park-prod-env");
    assert!(
        ci.desired_counts().iter().all(|(_, d)| *d == 0),
        "{:?}",
        ci.desired_counts()
    );
    assert_eq!(
        ci.report("reports/park-status.json")["schema"],
        "park/status"
    );
    ci.ok("unpark-prod-env");
    assert_eq!(ci.desired_counts(), before);
    ci.ok("verify-prod-endpoints");
}

#[test]
fn bumping_the_deployer_image_rewrites_the_pin_and_plans_exactly_that_change() {
    let ci = Ci::new();
    ci.ok("terraform-prod-plan");
    ci.ok("terraform-prod-apply");
    let main_tf = ci.path("examples/prod/main.tf");
    let before = std::fs::read_to_string(&main_tf).unwrap();
    ci.ok("bump-deployer-image");
    let after = std::fs::read_to_string(&main_tf).unwrap();
    let bump = ci.report("reports/bump.json");
    let to = bump["to"]
        .as_str()
        .unwrap_or_else(|| panic!("{bump}"))
        .to_owned();
    assert_ne!(to, "prefect-deployer-3-python3.12-4f2a9c1");
    assert_eq!(
        after,
        before.replace("prefect-deployer-3-python3.12-4f2a9c1", &to),
        "only the tag changed"
    );
    let plan = ci.report("reports/plan.json");
    assert_eq!(plan["outcome"], "planned");
    assert_eq!(
        plan["summary"]["outputs"],
        serde_json::json!(["prefect_deployer_image"]),
        "{plan}"
    );
    let diff = std::fs::read_to_string(ci.path("reports/pin.diff")).unwrap();
    assert!(diff.contains(&format!("+  prefect_deployer_image = \"123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:{to}\"")), "{diff}");
    // The change is one commit on a new branch, pushed to origin.
    let commit = &bump["commit"];
    assert_eq!(commit["action"], "committed", "{bump}");
    assert_eq!(commit["push"], "pushed", "{bump}");
    let branch = commit["branch"].as_str().unwrap();
    assert_eq!(branch, "bump/prefect_deployer_image/9e8d7c6");
    assert_eq!(ci.git(&["rev-parse", "--abbrev-ref", "HEAD"]), branch);
    assert_eq!(ci.git(&["rev-list", "--count", "main..HEAD"]), "1");
    assert_eq!(
        ci.git(&["diff", "--name-only", "main", "HEAD"]),
        "examples/prod/main.tf"
    );
    assert_eq!(
        ci.git(&["log", "-1", "--format=%s %an"]),
        format!("Bump prefect_deployer_image to {to} CircleCI bump")
    );
    let pushed = infra_test_support::git(
        ci.origin.path(),
        &["rev-parse", &format!("refs/heads/{branch}")],
    );
    assert_eq!(pushed, ci.git(&["rev-parse", "HEAD"]));
    // The plan rolls the deployer's task definition forward: a new revision.
    assert_eq!(
        plan["summary"]["update"],
        serde_json::json!([{"address": "aws_ecs_task_definition.prefect_deployer"}]),
        "{plan}"
    );

    // Approved and applied: the new revision names the new pin, which ECS now runs.
    ci.ok("terraform-prod-apply");
    assert_eq!(ci.report("reports/apply.json")["outcome"], "applied");
    ci.ok("verify-prod-pins");
    let live = ci.report("reports/pins-live.json");
    let deployer = &live["pins"][1];
    assert_eq!(deployer["current"], to.as_str(), "{live}");
    assert_eq!(deployer["live"]["status"], "live", "{live}");
    assert!(
        deployer["live"]["task_definition"]["arn"]
            .as_str()
            .unwrap()
            .ends_with("task-definition/blog-prod-prefect-deployer:2"),
        "{live}"
    );

    // The job again (a rerun): the branch holds exactly this bump; nothing changes.
    ci.git(&["switch", "-q", "main"]);
    ci.ok("bump-deployer-image");
    let again = ci.report("reports/bump.json");
    assert_eq!(again["commit"]["action"], "already-committed", "{again}");
    assert_eq!(again["commit"]["push"], "up-to-date", "{again}");
    // The plan step switched to the bump's branch: it plans the bump, not main.
    assert_eq!(ci.git(&["rev-parse", "--abbrev-ref", "HEAD"]), branch);
    assert_eq!(
        infra_test_support::git(
            ci.origin.path(),
            &["rev-parse", &format!("refs/heads/{branch}")]
        ),
        pushed
    );
}

/// The refresh pipeline: a dated base tag (build day, commit), pushed (by the ECR API here:
/// no Docker daemon), then the `prefect_base_image` pin moved to exactly that tag as one
/// commit on a pushed branch, and planned. A rerun pushes nothing and commits nothing.
#[test]
fn refreshing_the_prefect_image_pushes_a_dated_tag_and_bumps_the_base_pin() {
    let ci = Ci::new();
    ci.ok("terraform-prod-plan");
    ci.ok("terraform-prod-apply");
    let pushes = std::cell::Cell::new(0);
    // What `docker build and push` does, through the ECR API: push the dated tag unless
    // it is there already.
    let push = |ci: &Ci| {
        let tag = std::fs::read_to_string(ci.path("reports/base-tag")).unwrap();
        let tag = tag.trim();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let ecr = aws_sdk_ecr::Client::new(&runtime.block_on(ci.session.sdk_config()));
        let exists = runtime
            .block_on(
                ecr.describe_images()
                    .repository_name("blog-data")
                    .image_ids(
                        aws_sdk_ecr::types::ImageIdentifier::builder()
                            .image_tag(tag)
                            .build(),
                    )
                    .send(),
            )
            .is_ok();
        if !exists {
            runtime.block_on(infra_test_support::seed::sleep_to_next_second());
            runtime
                .block_on(
                    ecr.put_image()
                        .repository_name("blog-data")
                        .image_manifest(infra_test_support::seed::manifest_for(tag))
                        .image_tag(tag)
                        .send(),
                )
                .unwrap();
            pushes.set(pushes.get() + 1);
        }
    };
    let main_tf = ci.path("examples/prod/main.tf");
    let before = std::fs::read_to_string(&main_tf).unwrap();
    let today = || {
        time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!("[year][month][day]"))
            .unwrap()
    };
    let day_before = today();
    ci.ok_replacing(
        "refresh-prefect-image",
        Some(("docker build and push", &push)),
    );
    let tag = std::fs::read_to_string(ci.path("reports/base-tag")).unwrap();
    let tag = tag.trim();
    let sha = ci.git(&["rev-parse", "--short=7", "main"]);
    // The build day in UTC (either side of a midnight during the job).
    assert!(
        [day_before, today()]
            .iter()
            .any(|day| tag == format!("prefect-3-python3.12-ecs-{day}-{sha}")),
        "{tag}"
    );
    let bump = ci.report("reports/bump.json");
    assert_eq!(bump["to"], tag, "{bump}");
    assert_eq!(bump["source_commit"], sha.as_str(), "{bump}");
    assert_eq!(
        std::fs::read_to_string(&main_tf).unwrap(),
        before.replace("prefect-3-python3.12-ecs-20261101-3c9d2e1", tag),
        "only the base tag changed"
    );
    let branch = format!("bump/prefect_base_image/{sha}");
    assert_eq!(bump["commit"]["branch"], branch.as_str(), "{bump}");
    assert_eq!(bump["commit"]["push"], "pushed", "{bump}");
    assert_eq!(
        infra_test_support::git(
            ci.origin.path(),
            &["rev-parse", &format!("refs/heads/{branch}")]
        ),
        ci.git(&["rev-parse", "HEAD"])
    );
    let plan = ci.report("reports/plan.json");
    assert_eq!(plan["outcome"], "planned", "{plan}");
    assert_eq!(
        plan["summary"]["outputs"],
        serde_json::json!(["prefect_base_image"]),
        "{plan}"
    );

    // A rerun of the pipeline (same day, same commit) on a fresh checkout of main, where
    // the branch exists only on origin: nothing pushed, nothing committed.
    ci.git(&["switch", "-q", "main"]);
    ci.git(&["branch", "-q", "-D", &branch]);
    ci.ok_replacing(
        "refresh-prefect-image",
        Some(("docker build and push", &push)),
    );
    assert_eq!(pushes.get(), 1, "the dated tag is pushed once");
    let again = ci.report("reports/bump.json");
    assert_eq!(again["commit"]["action"], "already-committed", "{again}");
    assert_eq!(ci.git(&["rev-parse", "--abbrev-ref", "HEAD"]), branch);
    let plan = ci.report("reports/plan.json");
    assert_eq!(
        plan["summary"]["outputs"],
        serde_json::json!(["prefect_base_image"]),
        "the rerun plans the bump: {plan}"
    );
}

/// The hourly park and unpark schedules, with the parameters the config's header documents,
/// run at fixed instants against the emulator with the reference environment's schedule
/// (London, 07:00-19:00 on working days). CircleCI has no clock to set, so the jobs' PATH
/// starts with a stand-in `park` that adds `--now INSTANT` to the clock-driven commands
/// (`up`, `down`, `status`) and runs the real binary. The run the hour before the
/// schedule's time changes nothing and ends the job after its first step, green; the run
/// at the time parks, or unparks and then checks the endpoints. In July 19:00 London is
/// 18:00 UTC and 07:00 is 06:00 UTC; in December they are 19:00 and 07:00 UTC: the same
/// two jobs, no cron edited. In December the 07:00 unpark is refused by a held lock: the
/// job fails and Slack is told; the 08:00 run catches it up.
#[test]
fn the_hourly_schedules_converge_on_london_time() {
    let ci = Ci::new();
    let c = &ci.config;
    let before = ci.desired_counts();
    let clock = tempfile::tempdir().unwrap();
    let shim = clock.path().join("park");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\ncase \"$1\" in up|down|status) exec \"{real}\" \"$@\" --now \"$PARK_TEST_NOW\" ;; esac\nexec \"{real}\" \"$@\"\n",
            real = workspace_binary("park").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}:{}:{}",
        clock.path().display(),
        ci.agent.path().display(),
        workspace_binary("park").parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let hourly_result = |trigger: &str, now: &str| {
        let (workflow, job) = match trigger {
            "park" => ("park-infrastructure", "park-prod-env"),
            _ => ("unpark-infrastructure", "unpark-prod-env"),
        };
        let set = documented_trigger(trigger);
        let set: Vec<(&str, bool)> = set.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let pipeline = Pipeline::new(c, "main", "scheduled_pipeline", &set);
        let _ = std::fs::remove_dir_all(ci.path("reports"));
        let args = pipeline.job_arguments(c, workflow, job);
        ci.run_job(
            job,
            &args,
            &[("PATH", path.as_str()), ("PARK_TEST_NOW", now)],
            None,
        )
    };
    let hourly = |trigger: &str, now: &str| -> Ended {
        hourly_result(trigger, now).unwrap_or_else(|(step, code, stderr)| {
            panic!("{trigger} at {now}: step `{step}` exited {code}:\n{stderr}")
        })
    };
    let parked = |ci: &Ci| ci.desired_counts().iter().all(|(_, d)| *d == 0);
    for (season, park_before, park_at, unpark_before, unpark_at) in [
        (
            "summer (BST)",
            "2026-07-06T17:00:00Z",
            "2026-07-06T18:00:00Z",
            "2026-07-07T05:00:00Z",
            "2026-07-07T06:00:00Z",
        ),
        (
            "winter (GMT)",
            "2026-12-07T18:00:00Z",
            "2026-12-07T19:00:00Z",
            "2026-12-08T06:00:00Z",
            "2026-12-08T07:00:00Z",
        ),
    ] {
        // 18:00 local: not due; the job ends after `park down`, nothing changed.
        assert_eq!(
            hourly("park", park_before),
            Ended::Halted("park down --scheduled".into()),
            "{season}"
        );
        let run = ci.report("reports/park-down.json");
        assert_eq!(run["schedule"]["decision"], "not-due", "{season}: {run}");
        assert_eq!(run["clock"]["now"], park_before, "{season}: {run}");
        assert_eq!(ci.desired_counts(), before, "{season}");
        assert!(!ci.path("reports/park-status.json").exists());
        // 19:00 local: parked, and the status check finds it where the schedule expects.
        assert_eq!(hourly("park", park_at), Ended::Completed, "{season}");
        assert_eq!(
            ci.report("reports/park-down.json")["schedule"]["decision"],
            "act"
        );
        assert!(parked(&ci), "{season}: {:?}", ci.desired_counts());
        let status = ci.report("reports/park-status.json");
        assert_eq!(status["schedule"]["state"], "on-schedule", "{status}");
        // 06:00 local: not due; still parked, the endpoints of a parked environment not
        // checked.
        assert_eq!(
            hourly("unpark", unpark_before),
            Ended::Halted("park up --scheduled".into()),
            "{season}"
        );
        assert!(parked(&ci), "{season}");
        assert!(!ci.path("reports/endpoints.json").exists());
        if season.starts_with("winter") {
            // 07:00 local: Terraform holds the state lock (an apply); the unpark waits
            // the file's lock_timeout (2 s here, not the reference's 5 minutes), is
            // refused, the job fails and the team hears of it now.
            let file = ci.path("examples/prod/prod.env.hcl");
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(text.contains("lock_timeout   = \"5m\""), "{text}");
            std::fs::write(
                &file,
                text.replace("lock_timeout   = \"5m\"", "lock_timeout   = \"2s\""),
            )
            .unwrap();
            let env =
                infra_core::Environment::load(&ci.path("examples/prod/prod.env.hcl")).unwrap();
            let state_lock::Backend::S3(backend) = state_lock::backend::read(&env).unwrap() else {
                panic!("the reference environment has an s3 backend")
            };
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let sdk = runtime.block_on(ci.session.sdk_config());
            let lock = state_lock::StateLock::new(&sdk, backend);
            let mut info = state_lock::LockInfo::new("OperationTypeApply", "1.0.3", lock.backend());
            info.who = "alice@laptop".into();
            runtime
                .block_on(lock.acquire(&info, std::time::Duration::ZERO))
                .unwrap();
            let sent = ci.stubs.requests(SLACK_PATH).len();
            let (step, code, _) = hourly_result("unpark", unpark_at).unwrap_err();
            assert_eq!(
                (step.as_str(), code),
                ("park up --scheduled", 4),
                "{season}"
            );
            assert!(parked(&ci), "{season}: refused, nothing changed");
            let told = ci.stubs.requests(SLACK_PATH);
            assert_eq!(told.len(), sent + 1, "one Slack message");
            assert!(
                told[sent].json().to_string().contains("refused"),
                "{}",
                told[sent].json()
            );
            runtime.block_on(lock.release(&info)).unwrap();
            // 08:00 local: caught up, exactly, and the endpoints answer.
            assert_eq!(
                hourly("unpark", "2026-12-08T08:00:00Z"),
                Ended::Completed,
                "{season}"
            );
            let run = ci.report("reports/park-up.json");
            assert_eq!(run["schedule"]["decision"], "caught-up", "{run}");
            assert_eq!(
                run["schedule"]["made_up_for"], "2026-12-08T07:00:00+00:00",
                "{run}"
            );
        } else {
            // 07:00 local: unparked exactly, and the endpoints answer.
            assert_eq!(hourly("unpark", unpark_at), Ended::Completed, "{season}");
        }
        assert_eq!(ci.desired_counts(), before, "{season}");
        let status = ci.report("reports/park-status.json");
        assert_eq!(status["schedule"]["state"], "on-schedule", "{status}");
        assert!(ci.path("reports/endpoints.json").exists());
        // The next hour: on schedule, nothing to do, the job ends green after its step.
        let next = if season.starts_with("winter") {
            "2026-12-08T09:00:00Z"
        } else {
            "2026-07-07T07:00:00Z"
        };
        assert_eq!(
            hourly("unpark", next),
            Ended::Halted("park up --scheduled".into()),
            "{season}"
        );
        assert_eq!(
            ci.report("reports/park-up.json")["schedule"]["decision"],
            "on-schedule"
        );
    }
}

/// The nightly drift check: green while the environment is parked (park's records explain
/// the drift), red with the JUnit file naming the resource after a change made by hand.
#[test]
fn the_drift_check_is_green_while_parked_and_fails_on_a_hand_made_change() {
    let ci = Ci::new();
    ci.ok("terraform-prod-plan");
    ci.ok("terraform-prod-apply");
    ci.ok("drift-check-prod");
    assert_eq!(ci.report("reports/drift.json")["outcome"], "no-drift");

    ci.ok("park-prod-env");
    ci.ok("drift-check-prod");
    let drift = ci.report("reports/drift.json");
    assert_eq!(drift["outcome"], "parked-only", "{drift}");
    assert_eq!(drift["counts"]["parked"], 5, "{drift}");
    let junit = std::fs::read_to_string(ci.path("reports/junit/drift.xml")).unwrap();
    assert_eq!(junit.matches("<testcase").count(), 5, "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");

    ci.ok("unpark-prod-env");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sdk = runtime.block_on(ci.session.sdk_config());
    runtime
        .block_on(
            aws_sdk_ecs::Client::new(&sdk)
                .update_service()
                .cluster("blog-prod")
                .service("prefect-worker")
                .desired_count(4)
                .send(),
        )
        .unwrap();
    let (step, code, stderr) = ci.job("drift-check-prod").unwrap_err();
    assert_eq!(
        (step.as_str(), code),
        ("unexpected drift fails the job", 3),
        "{stderr}"
    );
    let drift = ci.report("reports/drift.json");
    assert_eq!(drift["outcome"], "unexpected", "{drift}");
    let junit = std::fs::read_to_string(ci.path("reports/junit/drift.xml")).unwrap();
    assert_eq!(junit.matches("<failure").count(), 1, "{junit}");
    assert!(
        junit.contains("aws_ecs_service.this[&quot;prefect-worker&quot;]"),
        "{junit}"
    );
    // The team is told, once: the parked drift before sent nothing.
    let sent = ci.stubs.requests(SLACK_PATH);
    assert_eq!(sent.len(), 1, "one Slack message");
    let message = sent[0].json().to_string();
    assert!(
        message.contains("unexpected-drift")
            && message.contains("aws_ecs_service.this[\\\"prefect-worker\\\"]"),
        "{message}"
    );
    assert_eq!(drift["notifications"][0]["result"], "sent", "{drift}");
}

/// A pipeline as CircleCI starts it: its parameters (the config's defaults, overridden by
/// the trigger's), branch and trigger source.
#[derive(Clone)]
struct Pipeline {
    parameters: std::collections::BTreeMap<String, Value>,
    branch: &'static str,
    trigger_source: &'static str,
}

impl Pipeline {
    fn new(
        config: &Value,
        branch: &'static str,
        trigger_source: &'static str,
        set: &[(&str, bool)],
    ) -> Pipeline {
        let mut parameters = std::collections::BTreeMap::new();
        for (name, spec) in config["parameters"].as_mapping().unwrap() {
            parameters.insert(name.as_str().unwrap().to_owned(), spec["default"].clone());
        }
        for (name, value) in set {
            assert!(
                parameters.contains_key(*name),
                "the trigger sets {name}, which the config does not declare (CircleCI rejects the pipeline)"
            );
            parameters.insert((*name).to_owned(), Value::Bool(*value));
        }
        Pipeline {
            parameters,
            branch,
            trigger_source,
        }
    }

    /// A `<< pipeline.… >>` value, or the literal.
    fn value(&self, v: &Value) -> Value {
        let Some(text) = v.as_str() else {
            return v.clone();
        };
        let Some(inner) = text
            .trim()
            .strip_prefix("<<")
            .and_then(|t| t.strip_suffix(">>"))
            .map(str::trim)
        else {
            return v.clone();
        };
        if let Some(name) = inner.strip_prefix("pipeline.parameters.") {
            return self
                .parameters
                .get(name)
                .cloned()
                .unwrap_or_else(|| panic!("undeclared parameter {name}"));
        }
        match inner {
            "pipeline.git.branch" => Value::String(self.branch.into()),
            "pipeline.trigger_source" => Value::String(self.trigger_source.into()),
            other => panic!("pipeline value {other} is not modelled"),
        }
    }

    /// A `when` logic statement, as CircleCI evaluates it: and, or, not, equal, or a value
    /// (true unless false, null, 0 or empty).
    fn truthy(&self, when: &Value) -> bool {
        if let Some(m) = when.as_mapping() {
            let (op, arg) = m.iter().next().unwrap();
            return match op.as_str().unwrap() {
                "and" => arg.as_sequence().unwrap().iter().all(|a| self.truthy(a)),
                "or" => arg.as_sequence().unwrap().iter().any(|a| self.truthy(a)),
                "not" => !self.truthy(arg),
                "equal" => {
                    let values: Vec<Value> = arg
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .map(|a| self.value(a))
                        .collect();
                    values.windows(2).all(|w| w[0] == w[1])
                }
                other => panic!("logic operator {other} is not modelled"),
            };
        }
        match self.value(when) {
            Value::Bool(b) => b,
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        }
    }

    /// Whether a workflow job entry's branch filter lets this pipeline's branch through.
    fn passes_filters(&self, settings: &Value) -> bool {
        let branches = &settings["filters"]["branches"];
        let listed = |key: &str| -> Option<Vec<String>> {
            match &branches[key] {
                Value::String(s) => Some(vec![s.clone()]),
                Value::Sequence(seq) => {
                    Some(seq.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                }
                _ => None,
            }
        };
        if let Some(only) = listed("only") {
            return only.iter().any(|b| b == self.branch);
        }
        if let Some(ignore) = listed("ignore") {
            return !ignore.iter().any(|b| b == self.branch);
        }
        true
    }

    /// The parameters a workflow passes to one of its jobs, with this pipeline's values:
    /// every key of the job's entry but CircleCI's own.
    fn job_arguments(&self, config: &Value, workflow: &str, job: &str) -> Vec<(String, String)> {
        const KEYWORDS: &[&str] = &[
            "context",
            "serial-group",
            "requires",
            "filters",
            "type",
            "name",
            "matrix",
        ];
        let (_, settings) = workflow_jobs(&config["workflows"][workflow])
            .into_iter()
            .find(|(name, _)| name == job)
            .unwrap_or_else(|| panic!("{workflow} has no job {job}"));
        settings
            .as_mapping()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !KEYWORDS.contains(&k.as_str().unwrap()))
            .map(|(k, v)| {
                let v = match self.value(v) {
                    Value::String(s) => s,
                    Value::Bool(b) => b.to_string(),
                    other => panic!("{workflow}/{job}: argument {other:?}"),
                };
                (k.as_str().unwrap().to_owned(), v)
            })
            .collect()
    }

    /// The workflows this pipeline runs, each with the jobs that run in it: a job runs when
    /// its filters pass and every job it requires runs.
    fn runs(&self, config: &Value) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut out = std::collections::BTreeMap::new();
        for (name, wf) in config["workflows"].as_mapping().unwrap() {
            let when = &wf["when"];
            if !when.is_null() && !self.truthy(when) {
                continue;
            }
            if !wf["unless"].is_null() && self.truthy(&wf["unless"]) {
                continue;
            }
            let mut running: Vec<String> = Vec::new();
            for (job, settings) in workflow_jobs(wf) {
                let requires_ran = settings["requires"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .all(|r| running.iter().any(|j| j == r.as_str().unwrap()));
                if self.passes_filters(&settings) && requires_ran {
                    running.push(job);
                }
            }
            if !running.is_empty() {
                out.insert(name.as_str().unwrap().to_owned(), running);
            }
        }
        out
    }
}

#[test]
fn workflows_run_only_when_asked() {
    let c = config();
    let expect = |p: Pipeline, expected: &[(&str, &[&str])]| {
        let runs = p.runs(&c);
        let expected: std::collections::BTreeMap<String, Vec<String>> = expected
            .iter()
            .map(|(w, jobs)| {
                (
                    (*w).to_owned(),
                    jobs.iter().map(|j| (*j).to_owned()).collect(),
                )
            })
            .collect();
        assert_eq!(
            runs, expected,
            "branch {}, trigger {}",
            p.branch, p.trigger_source
        );
    };
    // A push to a branch: the plan only.
    expect(
        Pipeline::new(&c, "feature/more-workers", "webhook", &[]),
        &[("terraform-prod", &["terraform-prod-plan"])],
    );
    // A push to main: plan, approval, apply, verify.
    expect(
        Pipeline::new(&c, "main", "webhook", &[]),
        &[(
            "terraform-prod",
            &[
                "terraform-prod-plan",
                "hold-terraform-prod",
                "terraform-prod-apply",
                "verify-prod-endpoints",
                "verify-prod-pins",
            ],
        )],
    );
    // The refresh pipeline, asked for alone.
    expect(
        Pipeline::new(
            &c,
            "main",
            "api",
            &[
                ("refresh-prefect-image-mode", true),
                ("terraform-prod-mode", false),
            ],
        ),
        &[("refresh-prefect-image", &["refresh-prefect-image"])],
    );
    // The schedules, with the parameters the top of the config documents for them. Park
    // and unpark run every hour with `scheduled`, which reaches the job: the environment
    // file's schedule decides (`--scheduled`).
    let trigger = |name: &str| {
        let set = documented_trigger(name);
        let set: Vec<(&str, bool)> = set.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        Pipeline::new(&c, "main", "scheduled_pipeline", &set)
    };
    for (name, workflow, job) in [
        ("park", "park-infrastructure", "park-prod-env"),
        ("unpark", "unpark-infrastructure", "unpark-prod-env"),
    ] {
        let pipeline = trigger(name);
        expect(pipeline.clone(), &[(workflow, &[job])]);
        assert_eq!(
            pipeline.job_arguments(&c, workflow, job),
            [("scheduled".to_owned(), "true".to_owned())],
            "{name}"
        );
        let script: String = job_steps(&c, job, &pipeline.job_arguments(&c, workflow, job))
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        let verb = if name == "park" { "down" } else { "up" };
        assert!(
            script.contains(&format!("park {verb} --scheduled")),
            "{name}: {script}"
        );
    }
    expect(trigger("drift"), &[("drift-check", &["drift-check-prod"])]);
    // Parking or unparking at once (by hand or through the API): not scheduled.
    for (mode, workflow, job, verb) in [
        ("park-mode", "park-infrastructure", "park-prod-env", "down"),
        (
            "unpark-mode",
            "unpark-infrastructure",
            "unpark-prod-env",
            "up",
        ),
    ] {
        let pipeline = Pipeline::new(
            &c,
            "main",
            "api",
            &[(mode, true), ("terraform-prod-mode", false)],
        );
        expect(pipeline.clone(), &[(workflow, &[job])]);
        let script: String = job_steps(&c, job, &pipeline.job_arguments(&c, workflow, job))
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert!(
            script.contains(&format!("park {verb} --output json"))
                && !script.contains("--scheduled"),
            "{mode}: {script}"
        );
    }
    // A schedule that forgot terraform-prod-mode: false checks drift without planning.
    expect(
        Pipeline::new(
            &c,
            "main",
            "scheduled_pipeline",
            &[("drift-check-mode", true)],
        ),
        &[("drift-check", &["drift-check-prod"])],
    );
    // A schedule that forgot terraform-prod-mode: false still parks without planning.
    expect(
        Pipeline::new(&c, "main", "scheduled_pipeline", &[("park-mode", true)]),
        &[("park-infrastructure", &["park-prod-env"])],
    );

    // Whatever a pipeline sets, park and unpark never run in the same pipeline.
    let names: Vec<String> = c["parameters"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, spec)| spec["type"].as_str() == Some("boolean"))
        .map(|(k, _)| k.as_str().unwrap().to_owned())
        .collect();
    for bits in 0..(1u32 << names.len()) {
        let set: Vec<(&str, bool)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), bits & (1 << i) != 0))
            .collect();
        for branch in ["main", "feature/x"] {
            let runs = Pipeline::new(&c, branch, "api", &set).runs(&c);
            assert!(
                !(runs.contains_key("park-infrastructure")
                    && runs.contains_key("unpark-infrastructure")),
                "{set:?}: park and unpark in one pipeline"
            );
        }
    }

    // Every job that changes production is in the one serial group, wherever it is used.
    let mut groups = BTreeSet::new();
    for (wf_name, wf) in c["workflows"].as_mapping().unwrap() {
        for (job, settings) in workflow_jobs(wf) {
            if ["terraform-prod-apply", "park-prod-env", "unpark-prod-env"].contains(&job.as_str())
            {
                let group = settings["serial-group"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{wf_name:?}: {job} has no serial-group"));
                groups.insert(group.to_owned());
            }
        }
    }
    assert_eq!(groups.len(), 1, "one serial group: {groups:?}");

    // From source (`toolkit-version: source`), the binaries are built once, by one cargo
    // build, not installed one by one.
    let install = run_commands(&Value::Sequence(command_steps(
        &c,
        "install-toolkit",
        &[("toolkit-version", "source")],
    )));
    let scripts: String = install.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        scripts.matches("cargo build --release --locked").count(),
        1,
        "{scripts}"
    );
    assert!(!scripts.contains("cargo install"), "{scripts}");
    for tool in TOOLS {
        assert!(
            scripts.contains(&format!("--bin {tool}")),
            "{tool} is not built"
        );
    }
    // By default, a release is installed: no cargo at all.
    let release = run_commands(&Value::Sequence(command_steps(&c, "install-toolkit", &[])));
    assert!(!release.is_empty());
    assert!(
        release.iter().all(|(_, s)| !s.contains("cargo ")),
        "{release:?}"
    );
}

/// A command's steps for these parameter values, as CircleCI compiles them (see
/// [`resolved_steps`]).
pub(crate) fn command_steps(c: &Value, name: &str, given: &[(&str, &str)]) -> Vec<Value> {
    let def = &c["commands"][name];
    assert!(def.is_mapping(), "no command {name}");
    resolved_steps(def, name, given)
}

/// A job's or command's steps for these parameter values, as CircleCI compiles them:
/// every `<< parameters.NAME >>` replaced (the definition's default where not given; a
/// boolean is `true` or `false`), and each `when` / `unless` step decided (an `equal`
/// condition or a boolean value) and replaced by its steps.
fn resolved_steps(def: &Value, name: &str, given: &[(&str, &str)]) -> Vec<Value> {
    let mut values: Vec<(String, String)> = Vec::new();
    for (param, spec) in def["parameters"].as_mapping().into_iter().flatten() {
        let param = param.as_str().unwrap();
        let value = match given.iter().find(|(p, _)| *p == param) {
            Some((_, v)) => (*v).to_owned(),
            None => match &spec["default"] {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                other => panic!("{name}: parameter {param} has no default: {other:?}"),
            },
        };
        if spec["type"].as_str() == Some("boolean") {
            assert!(
                value == "true" || value == "false",
                "{name}: boolean parameter {param} = {value:?}"
            );
        }
        values.push((param.to_owned(), value));
    }
    for (param, _) in given {
        assert!(
            values.iter().any(|(p, _)| p == param),
            "{name} has no parameter {param}"
        );
    }
    fn substitute(v: &Value, values: &[(String, String)]) -> Value {
        match v {
            Value::String(s) => {
                let mut s = s.clone();
                for (param, value) in values {
                    s = s.replace(&format!("<< parameters.{param} >>"), value);
                }
                assert!(!s.contains("<< parameters."), "unknown parameter in {s}");
                Value::String(s)
            }
            Value::Sequence(items) => {
                Value::Sequence(items.iter().map(|i| substitute(i, values)).collect())
            }
            Value::Mapping(m) => Value::Mapping(
                m.iter()
                    .map(|(k, v)| (k.clone(), substitute(v, values)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    fn holds(condition: &Value) -> bool {
        if let Some(sides) = condition.get("equal") {
            let sides = sides.as_sequence().expect("an `equal` list");
            return sides.windows(2).all(|w| w[0] == w[1]);
        }
        match condition {
            Value::Bool(b) => *b,
            Value::String(s) if s == "true" => true,
            Value::String(s) if s == "false" => false,
            other => panic!("condition {other:?} is not modelled"),
        }
    }
    fn flatten(steps: &Value, out: &mut Vec<Value>) {
        for step in steps.as_sequence().unwrap() {
            let decided = [("when", true), ("unless", false)]
                .into_iter()
                .find_map(|(key, wanted)| step.get(key).map(|s| (s, wanted)));
            match decided {
                Some((branch, wanted)) => {
                    if holds(&branch["condition"]) == wanted {
                        flatten(&branch["steps"], out);
                    }
                }
                None => out.push(step.clone()),
            }
        }
    }
    let mut out = Vec::new();
    flatten(&substitute(&def["steps"], &values), &mut out);
    out
}

/// A job's `run` steps in order for these job parameters, with the steps of the commands
/// it uses (but the CircleCI-only ones) in their place.
fn job_steps(c: &Value, name: &str, params: &[(String, String)]) -> Vec<(String, String)> {
    let job = &c["jobs"][name];
    assert!(job.is_mapping(), "no job {name}");
    let params: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let steps = expand_commands(c, resolved_steps(job, name, &params));
    run_commands(&Value::Sequence(steps))
}

/// `steps` with each use of a command replaced by its resolved steps (with the
/// parameters the use passes), recursively; the CircleCI-only commands are left out.
fn expand_commands(c: &Value, steps: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for step in steps {
        let (name, args) = match &step {
            Value::String(s) => (s.clone(), Value::Null),
            Value::Mapping(m) => {
                let (k, v) = m.iter().next().unwrap();
                (k.as_str().unwrap().to_owned(), v.clone())
            }
            _ => (String::new(), Value::Null),
        };
        if !c["commands"][name.as_str()].is_mapping() {
            out.push(step);
            continue;
        }
        if CI_ONLY_COMMANDS.contains(&name.as_str()) {
            continue;
        }
        let given: Vec<(String, String)> = args
            .as_mapping()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    other => panic!("{name}: argument {other:?}"),
                };
                (k.as_str().unwrap().to_owned(), v)
            })
            .collect();
        let given: Vec<(&str, &str)> = given
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        out.extend(expand_commands(c, command_steps(c, &name, &given)));
    }
    out
}
