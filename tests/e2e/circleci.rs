//! The harness' CircleCI evaluation: the example config (`examples/circleci/config.yml`)
//! read, its pipelines decided and its jobs run here as CircleCI would.
//!
//! - [`Pipeline`]: a pipeline's parameters, branch and trigger, and which workflows and jobs
//!   it runs (`when` conditions, branch filters), as CircleCI decides them.
//! - [`job_steps`], [`command_steps`], [`resolved_steps`], [`expand_commands`]: a job's
//!   steps as CircleCI compiles them (parameters replaced, `when` / `unless` decided,
//!   commands expanded).
//! - [`Ci`]: a git working copy of the examples against the emulator, the real Terraform and
//!   local stand-ins (the endpoints, Slack's webhook), running a job's `run` steps with bash
//!   as CircleCI does (`-eo pipefail`); `circleci-agent step halt` is a stand-in that ends
//!   the job after the step (CircleCI's agent exists only on its machines). Steps that only
//!   make sense on CircleCI (checkout, toolkit install, OIDC credentials, caches) are the
//!   harness': the binaries are on `PATH`, the credentials point at the emulator.
//!
//! The working copy differs from the repository in what cannot run here: `main.tf` is
//! `examples/demo/main.tf` (the same pins, no AWS provider, which cannot be downloaded),
//! `backend.hcl` points at the emulator, the endpoints at 127.0.0.1 stubs (without a
//! CloudFront distribution: the emulator's distribution IDs are random).

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
pub(crate) fn documented_trigger(name: &str) -> Vec<(String, bool)> {
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

pub(crate) fn keys(v: &Value) -> BTreeSet<String> {
    v.as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A workflow's job entries: (name, settings).
pub(crate) fn workflow_jobs(wf: &Value) -> Vec<(String, Value)> {
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
pub(crate) fn all_steps(steps: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for step in steps.as_sequence().unwrap() {
        match ["when", "unless"].iter().find_map(|l| step.get(*l)) {
            Some(branch) => out.extend(all_steps(&branch["steps"])),
            None => out.push(step.clone()),
        }
    }
    out
}

/// Commands that only make sense on CircleCI (the toolkit install, OIDC credentials): the
/// harness stands in for them. Every other command's `run` steps run as written.
pub(crate) const CI_ONLY_COMMANDS: &[&str] = &["install-toolkit", "aws-oidc"];

/// The Slack incoming webhook's path on the harness' HTTP stub (Slack is not reachable
/// here): every job gets `SLACK_WEBHOOK_URL` pointing there, as the context would give it.
pub(crate) const SLACK_PATH: &str = "/services/T0CONTEXT/B0CONTEXT/contextsecret";

/// How a job ended when no step failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Every step ran.
    Completed,
    /// This step ran `circleci-agent step halt`: the steps after it did not run.
    Halted(String),
}

/// A stand-in for CircleCI's `circleci-agent` (which exists only on CircleCI's machines):
/// `step halt` ends the job after the current step, successfully, as CircleCI documents
/// ("Ending a job from within a step"). The harness sees the mark it leaves.
pub(crate) const CIRCLECI_AGENT: &str = r#"#!/bin/sh
if [ "$1 $2" = "step halt" ]; then
    touch "$CIRCLECI_AGENT_HALTED"
else
    echo "circleci-agent $*: not modelled by the test harness" >&2
    exit 1
fi
"#;

/// A step (by name) and what the harness does in its place.
pub(crate) type Instead<'a> = (&'a str, &'a dyn Fn(&Ci));

/// A git working copy of the repository's examples, set up to run the config's jobs here.
pub(crate) struct Ci {
    pub(crate) session: MotoSession,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) origin: tempfile::TempDir,
    /// A directory on the jobs' PATH with a stand-in for CircleCI's `circleci-agent`.
    pub(crate) agent: tempfile::TempDir,
    /// The endpoints' stand-ins and the Slack webhook's ([`SLACK_PATH`]).
    pub(crate) stubs: HttpStub,
    pub(crate) config: Value,
}

impl Ci {
    pub(crate) fn new() -> Ci {
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

    pub(crate) fn git(&self, args: &[&str]) -> String {
        infra_test_support::git(self.dir.path(), args)
    }

    pub(crate) fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Runs a job's steps; returns the first failing step's (name, exit code, stderr).
    pub(crate) fn job(&self, name: &str) -> Result<(), (String, i32, String)> {
        self.job_replacing(name, None)
    }

    /// Like [`Ci::job`], with one step (by name) done by `instead` (what cannot run here).
    pub(crate) fn job_replacing(
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
    pub(crate) fn run_job(
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

    pub(crate) fn ok(&self, name: &str) {
        self.ok_replacing(name, None);
    }

    pub(crate) fn ok_replacing(&self, name: &str, instead: Option<Instead<'_>>) {
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

    pub(crate) fn report(&self, file: &str) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.path(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}\n{text}"))
    }

    /// Terraform itself on the working copy's root; its stdout, the run must succeed.
    pub(crate) fn terraform(&self, args: &[&str]) -> String {
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

    pub(crate) fn terraform_output(&self, name: &str) -> String {
        self.terraform(&["output", "-raw", name])
    }

    /// `terraform state list`: the resources the applied state holds.
    pub(crate) fn terraform_state(&self) -> Vec<String> {
        self.terraform(&["state", "list"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub(crate) fn desired_counts(&self) -> Vec<(String, i64)> {
        self.desired_counts_of("examples/prod/prod.env.hcl")
    }

    /// The desired count of each service of the environment file `file` (relative to the
    /// working copy), as `park status` reads them.
    pub(crate) fn desired_counts_of(&self, file: &str) -> Vec<(String, i64)> {
        let out = command(workspace_binary("park"), self.session.endpoint())
            .current_dir(self.dir.path())
            .args(["--env-file", file, "status", "--output", "json"])
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

/// A pipeline as CircleCI starts it: its parameters (the config's defaults, overridden by
/// the trigger's), branch and trigger source.
#[derive(Clone)]
pub(crate) struct Pipeline {
    pub(crate) parameters: std::collections::BTreeMap<String, Value>,
    pub(crate) branch: &'static str,
    pub(crate) trigger_source: &'static str,
}

impl Pipeline {
    pub(crate) fn new(
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
    pub(crate) fn value(&self, v: &Value) -> Value {
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
    pub(crate) fn truthy(&self, when: &Value) -> bool {
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
    pub(crate) fn passes_filters(&self, settings: &Value) -> bool {
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
    pub(crate) fn job_arguments(
        &self,
        config: &Value,
        workflow: &str,
        job: &str,
    ) -> Vec<(String, String)> {
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
    pub(crate) fn runs(&self, config: &Value) -> std::collections::BTreeMap<String, Vec<String>> {
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
pub(crate) fn resolved_steps(def: &Value, name: &str, given: &[(&str, &str)]) -> Vec<Value> {
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
    pub(crate) fn substitute(v: &Value, values: &[(String, String)]) -> Value {
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
    pub(crate) fn holds(condition: &Value) -> bool {
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
    pub(crate) fn flatten(steps: &Value, out: &mut Vec<Value>) {
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
pub(crate) fn job_steps(
    c: &Value,
    name: &str,
    params: &[(String, String)],
) -> Vec<(String, String)> {
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
pub(crate) fn expand_commands(c: &Value, steps: Vec<Value>) -> Vec<Value> {
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
