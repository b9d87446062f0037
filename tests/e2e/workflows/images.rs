//! Bumping the deployer image and refreshing the Prefect base image, run as written.

use crate::circleci::*;

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
