//! Which pipelines run which workflows and jobs: nothing reaches production unless asked
//! (branch, trigger, parameters), as CircleCI decides it.

use crate::circleci::*;
use crate::TOOLS;
use serde_yaml::Value;
use std::collections::BTreeSet;

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
                "deploy-to-prefect",
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
    // The non-production schedule converges the directory, and nothing of production.
    expect(
        trigger("non-prod"),
        &[("non-prod-environments", &["converge-non-prod"])],
    );
    let script: String = job_steps(&c, "converge-non-prod", &[])
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    for verb in ["down", "up"] {
        assert!(
            script.contains(&format!(
                "park {verb} --scheduled --env-file examples/non-prod"
            )),
            "{script}"
        );
    }
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
    // The non-production job queues in a group of its own: it never waits behind, nor
    // holds up, a production apply.
    let non_prod = workflow_jobs(&c["workflows"]["non-prod-environments"]);
    let group = non_prod[0].1["serial-group"].as_str().unwrap();
    assert!(!groups.contains(group), "{group}");

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
