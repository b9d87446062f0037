//! The config's shape: every workflow job, requirement, executor, command and toolkit
//! invocation exists (each invocation is run with `--help` appended, so clap rejects an
//! unknown subcommand or flag).

use crate::circleci::*;
use crate::TOOLS;
use infra_test_support::workspace_binary;
use serde_yaml::Value;
use std::collections::BTreeSet;

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
        "non-prod-environments",
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
    assert_eq!(requires("deploy-to-prefect"), ["terraform-prod-apply"]);
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
