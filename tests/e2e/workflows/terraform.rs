//! The terraform-prod jobs (plan, approve, apply, verify) and the nightly drift check,
//! run as written.

use crate::circleci::*;

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
    // deploy-to-prefect: refused (exit 4, nothing started) while main pins a build the
    // apply has not registered; then the deployer runs the registered revision once, to
    // the end (moto advances the task to STOPPED, its container exit code 0).
    let main_tf = ci.path("examples/prod/main.tf");
    let applied = std::fs::read_to_string(&main_tf).unwrap();
    std::fs::write(
        &main_tf,
        applied.replace("python3.12-4f2a9c1", "python3.12-9e8d7c6"),
    )
    .unwrap();
    let (step, code, stderr) = ci.job("deploy-to-prefect").unwrap_err();
    assert_eq!(
        (step.as_str(), code),
        ("run-task run prefect-deployer", 4),
        "{stderr}"
    );
    assert_eq!(ci.report("reports/deploy.json")["outcome"], "refused");
    std::fs::write(&main_tf, &applied).unwrap();
    ci.ok("deploy-to-prefect");
    let deploy = ci.report("reports/deploy.json");
    assert_eq!(deploy["outcome"], "succeeded", "{deploy}");
    assert!(
        deploy["task_definition"]
            .as_str()
            .unwrap()
            .ends_with("task-definition/blog-prod-prefect-deployer:1"),
        "{deploy}"
    );
    let junit = std::fs::read_to_string(ci.path("reports/junit/deploy.xml")).unwrap();
    assert!(!junit.contains("<failure"), "{junit}");
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
