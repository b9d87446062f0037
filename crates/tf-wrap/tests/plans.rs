//! The plan parser and the gates on real Terraform/OpenTofu outputs
//! (`../shared/fixtures/terraform/`, format versions 1.0 and 1.2; the real Terraform 1.0.3
//! prints 0.2, covered by the end-to-end tests), and on plans with AWS resource changes
//! built in the documented shapes of format 0.1 and 1.2 for the destroy gate and the park
//! guard. The park guard is also run against real park records on the emulator.

use infra_test_support::{
    command, reference_env_file, seed, shared_fixtures, workspace_binary, Moto,
};
use serde_json::{json, Value};
use std::path::PathBuf;
use tf_wrap::gates::{self, Gate, GateOptions, Parked};
use tf_wrap::plan::{PlanJson, Summary};

fn fixture(path: &str) -> PathBuf {
    shared_fixtures().join("terraform").join(path)
}

fn load(path: &str) -> PlanJson {
    let text = std::fs::read_to_string(fixture(path)).unwrap();
    PlanJson::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn counts(s: &Summary) -> [usize; 7] {
    [
        s.create.len(),
        s.update.len(),
        s.replace.len(),
        s.delete.len(),
        s.drift.len(),
        s.read.len(),
        s.moved.len(),
    ]
}

#[test]
fn every_fixture_is_summarised_as_expected() {
    // create, update, replace, delete, drift, read, moved
    let cases: &[(&str, [usize; 7], usize, bool)] = &[
        (
            "show-json-golden/basic-create/output.json",
            [3, 0, 0, 0, 0, 0, 0],
            1,
            false,
        ),
        (
            "show-json-golden/basic-delete/output.json",
            [0, 1, 0, 1, 0, 0, 0],
            1,
            false,
        ),
        (
            "show-json-golden/basic-update/output.json",
            [0, 0, 0, 0, 0, 0, 0],
            0,
            false,
        ),
        (
            "show-json-golden/drift/output.json",
            [0, 2, 0, 0, 1, 0, 0],
            0,
            false,
        ),
        (
            "show-json-golden/plan-error/output.json",
            [0, 0, 0, 0, 0, 0, 0],
            0,
            true,
        ),
        (
            "show-json-golden/requires-replace/output.json",
            [0, 0, 1, 0, 0, 0, 0],
            0,
            false,
        ),
        (
            "show-json/data_read/plan.json",
            [3, 0, 0, 0, 0, 1, 0],
            0,
            false,
        ),
        (
            "show-json/drift_refresh_only/plan.json",
            [0, 0, 0, 0, 1, 0, 0],
            0,
            false,
        ),
        (
            "show-json/drift_simple/plan.json",
            [0, 1, 0, 0, 1, 0, 0],
            0,
            false,
        ),
        (
            "show-json/fully_populated_complex_destroy/plan.json",
            [0, 0, 0, 1, 0, 0, 0],
            0,
            false,
        ),
        (
            "show-json/fully_populated_complex_update/plan.json",
            [0, 1, 0, 0, 0, 0, 0],
            0,
            false,
        ),
        (
            "show-json/local_provider_delete/plan.json",
            [0, 0, 0, 1, 0, 0, 0],
            0,
            false,
        ),
        (
            "show-json/local_provider_update/plan.json",
            [0, 0, 1, 0, 0, 0, 0],
            0,
            false,
        ),
        (
            "show-json/moved_simple/plan.json",
            [0, 0, 0, 0, 0, 0, 1],
            0,
            false,
        ),
        (
            "show-json/replace_within_list/plan.json",
            [0, 0, 1, 0, 0, 0, 0],
            0,
            false,
        ),
    ];
    for (path, want, outputs, errored) in cases {
        let s = Summary::of(&load(path));
        assert_eq!(counts(&s), *want, "{path}: {}", s.counts());
        assert_eq!(s.outputs.len(), *outputs, "{path} outputs");
        assert_eq!(s.errored, *errored, "{path} errored");
    }
    let s = Summary::of(&load("show-json-golden/basic-delete/output.json"));
    assert_eq!(s.delete[0].address, "test_instance.test-delete");
    assert_eq!(
        s.delete[0].reason.as_deref(),
        Some("delete_because_no_resource_config")
    );
    let s = Summary::of(&load("show-json/moved_simple/plan.json"));
    assert_eq!(
        s.moved,
        [(
            "tfcoremock_simple_resource.first".to_owned(),
            "tfcoremock_simple_resource.second".to_owned()
        )]
    );
}

/// Independent check: Terraform's own "Plan: X to add, Y to change, Z to destroy." line of
/// the same case agrees with the summary (a replacement adds one and destroys one).
#[test]
fn summaries_agree_with_terraforms_own_plan_line() {
    let dir = fixture("show-json");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path().join("plan")).unwrap_or_default();
        let Some(line) = text.lines().find(|l| l.trim_start().starts_with("Plan: ")) else {
            continue;
        };
        let numbers: Vec<usize> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        let case = entry.file_name().to_string_lossy().into_owned();
        let s = Summary::of(&load(&format!("show-json/{case}/plan.json")));
        let mine = vec![
            s.create.len() + s.replace.len(),
            s.update.len(),
            s.delete.len() + s.replace.len(),
        ];
        assert_eq!(mine, numbers, "{case}: {line}");
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} cases had a plan line");
}

#[test]
fn markdown_puts_destruction_first_and_marks_it() {
    let s = Summary::of(&load("show-json-golden/basic-delete/output.json"));
    let md = s.to_markdown();
    let delete = md
        .find("**delete** (1) :warning:")
        .expect("marked delete section");
    let update = md.find("**update** (1)").expect("update section");
    assert!(delete < update, "{md}");
    assert!(md.contains("| 0 | 1 | 0 | 1 | 0 | 1 |"), "{md}");
    let text = Summary::of(&load("show-json-golden/plan-error/output.json")).to_text();
    assert!(text.contains("ERRORED"), "{text}");
}

#[test]
fn malformed_plan_json_is_an_error_with_its_place() {
    let e = PlanJson::parse(
        "{\"format_version\": \"1.2\",\n \"resource_changes\": [{\"address\": 3}]}",
    )
    .unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
    let e = PlanJson::parse("{\"format_version\": \"3.0\"}").unwrap_err();
    assert!(e.to_string().contains("3.0"), "{e}");
    // The `plan -json` / `apply -json` UI streams are not a saved plan's JSON: each is
    // refused with a reason, never half-read.
    let mut streams = 0;
    for case in std::fs::read_dir(fixture("ui-json")).unwrap().flatten() {
        for log in std::fs::read_dir(case.path()).unwrap().flatten() {
            let text = std::fs::read_to_string(log.path()).unwrap();
            assert!(PlanJson::parse(&text).is_err(), "{}", log.path().display());
            streams += 1;
        }
    }
    assert!(streams >= 7, "{streams} UI streams");
}

/// A resource change as Terraform prints it: `actions`, `before`, `after`, `after_unknown`.
fn change(
    address: &str,
    kind: &str,
    actions: &[&str],
    before: Value,
    after: Value,
    unknown: Value,
) -> Value {
    json!({
        "address": address,
        "mode": "managed",
        "type": kind,
        "name": address.rsplit('.').next().unwrap(),
        "change": {"actions": actions, "before": before, "after": after, "after_unknown": unknown}
    })
}

/// A plan in `format`: 0.1 (Terraform 0.12: no drift, no action_reason, no errored) or 1.2.
fn plan(format: &str, changes: Vec<Value>) -> PlanJson {
    let mut doc = json!({
        "format_version": format,
        "terraform_version": if format == "0.1" { "0.12.31" } else { "1.5.7" },
        "planned_values": {"root_module": {}},
        "resource_changes": changes,
        "configuration": {"root_module": {}}
    });
    if format != "0.1" {
        doc["resource_drift"] = json!([]);
        doc["errored"] = json!(false);
    }
    PlanJson::parse(&doc.to_string()).unwrap()
}

fn protected() -> GateOptions {
    GateOptions {
        protected_types: infra_core::environment::DEFAULT_PROTECTED_TYPES
            .iter()
            .map(|t| t.to_string())
            .collect(),
        ..GateOptions::default()
    }
}

fn aurora_delete() -> Vec<Value> {
    vec![
        change(
            "module.aurora.aws_rds_cluster.this",
            "aws_rds_cluster",
            &["delete"],
            json!({"cluster_identifier": "blog-aurora"}),
            Value::Null,
            json!({}),
        ),
        change(
            "module.aurora.aws_rds_cluster_instance.this[0]",
            "aws_rds_cluster_instance",
            &["delete", "create"],
            json!({"identifier": "blog-aurora-1", "instance_class": "db.serverless"}),
            json!({"identifier": "blog-aurora-1", "instance_class": "db.r6g.large"}),
            json!({"id": true}),
        ),
        change(
            "aws_s3_bucket.logs",
            "aws_s3_bucket",
            &["create", "delete"],
            json!({"bucket": "logs"}),
            json!({"bucket": "logs"}),
            json!({}),
        ),
        change(
            "aws_ecs_task_definition.portal",
            "aws_ecs_task_definition",
            &["delete"],
            json!({}),
            Value::Null,
            json!({}),
        ),
        change(
            "aws_ecr_repository.blog_data",
            "aws_ecr_repository",
            &["update"],
            json!({"name": "blog-data"}),
            json!({"name": "blog-data"}),
            json!({}),
        ),
    ]
}

#[test]
fn destroy_gate_refuses_deleting_or_replacing_protected_types_in_every_format() {
    for format in ["0.1", "1.2"] {
        let p = plan(format, aurora_delete());
        let refusals = gates::destroy_gate(&p, &protected());
        let addresses: Vec<&str> = refusals.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(
            addresses,
            [
                "module.aurora.aws_rds_cluster.this",
                "module.aurora.aws_rds_cluster_instance.this[0]",
                "aws_s3_bucket.logs"
            ],
            "format {format}: task definitions are not protected, updates are not destruction"
        );
        assert!(refusals.iter().all(|r| r.gate == Gate::Destroy));
        assert!(refusals[0].reason.contains(
            "deletes module.aurora.aws_rds_cluster.this of protected type aws_rds_cluster"
        ));
        assert!(
            refusals[1].reason.contains("replaces"),
            "{}",
            refusals[1].reason
        );
        assert!(refusals[0]
            .reason
            .contains("--allow-destroy 'module.aurora.aws_rds_cluster.this'"));
    }
    // Allowing exact addresses lets exactly those through.
    let p = plan("1.2", aurora_delete());
    let mut options = protected();
    options.allow_destroy = vec![
        "module.aurora.aws_rds_cluster_instance.this[0]".into(),
        "aws_s3_bucket.logs".into(),
        "aws_s3_bucket.typo".into(),
    ];
    let left: Vec<String> = gates::destroy_gate(&p, &options)
        .into_iter()
        .map(|r| r.address)
        .collect();
    assert_eq!(left, ["module.aurora.aws_rds_cluster.this"]);
    assert_eq!(
        gates::unused_allowances(&p, &options),
        ["aws_s3_bucket.typo"]
    );
    // The protected list is configurable.
    let options = GateOptions {
        protected_types: vec!["aws_ecs_task_definition".into()],
        ..GateOptions::default()
    };
    let left: Vec<String> = gates::destroy_gate(&p, &options)
        .into_iter()
        .map(|r| r.address)
        .collect();
    assert_eq!(left, ["aws_ecs_task_definition.portal"]);
}

#[test]
fn destroy_gate_treats_an_unknown_action_as_destruction_and_ignores_data_sources() {
    let mut forget = change(
        "aws_rds_cluster.main",
        "aws_rds_cluster",
        &["forget"],
        json!({}),
        Value::Null,
        json!({}),
    );
    let mut read = change(
        "data.aws_s3_bucket.x",
        "aws_s3_bucket",
        &["delete"],
        json!({}),
        Value::Null,
        json!({}),
    );
    read["mode"] = json!("data");
    forget["mode"] = json!("managed");
    let p = plan("1.2", vec![forget, read]);
    let left: Vec<String> = gates::destroy_gate(&p, &protected())
        .into_iter()
        .map(|r| r.address)
        .collect();
    assert_eq!(left, ["aws_rds_cluster.main"]);
}

/// The park guard's inputs: the reference environment's portal service parked.
fn parked_portal() -> Vec<Parked> {
    vec![
        Parked::Service {
            cluster: "blog-prod".into(),
            service: "portal".into(),
        },
        Parked::Aurora {
            cluster: "blog-aurora".into(),
        },
        Parked::Rule {
            name: "blog-data-sync-hourly".into(),
            event_bus: "default".into(),
        },
    ]
}

fn unpark_plan(format: &str) -> PlanJson {
    plan(
        format,
        vec![
            change(
                "module.ecs.aws_ecs_service.portal",
                "aws_ecs_service",
                &["update"],
                json!({"name": "portal", "cluster": "arn:aws:ecs:eu-west-2:123456789012:cluster/blog-prod", "desired_count": 0}),
                json!({"name": "portal", "cluster": "arn:aws:ecs:eu-west-2:123456789012:cluster/blog-prod", "desired_count": 2}),
                json!({}),
            ),
            change(
                "module.ecs.aws_appautoscaling_target.portal",
                "aws_appautoscaling_target",
                &["update"],
                json!({"resource_id": "service/blog-prod/portal", "min_capacity": 0, "max_capacity": 0}),
                json!({"resource_id": "service/blog-prod/portal", "min_capacity": 1, "max_capacity": 4}),
                json!({}),
            ),
            // Another cluster's service of the same name is not parked.
            change(
                "module.other.aws_ecs_service.portal",
                "aws_ecs_service",
                &["update"],
                json!({"name": "portal", "cluster": "staging", "desired_count": 0}),
                json!({"name": "portal", "cluster": "staging", "desired_count": 1}),
                json!({}),
            ),
            // A parked service whose other attributes change: no capacity change, allowed.
            change(
                "module.ecs.aws_ecs_service.portal_tags",
                "aws_ecs_service",
                &["update"],
                json!({"name": "portal", "cluster": "blog-prod", "desired_count": 0, "tags": {}}),
                json!({"name": "portal", "cluster": "blog-prod", "desired_count": 0, "tags": {"a": "b"}}),
                json!({}),
            ),
            change(
                "module.aurora.aws_rds_cluster.this",
                "aws_rds_cluster",
                &["update"],
                json!({"cluster_identifier": "blog-aurora", "serverlessv2_scaling_configuration": [{"min_capacity": 0, "max_capacity": 0.5}]}),
                json!({"cluster_identifier": "blog-aurora"}),
                json!({"serverlessv2_scaling_configuration": true}),
            ),
            change(
                "aws_cloudwatch_event_rule.sync",
                "aws_cloudwatch_event_rule",
                &["update"],
                json!({"name": "blog-data-sync-hourly", "event_bus_name": "default", "is_enabled": false, "state": "DISABLED"}),
                json!({"name": "blog-data-sync-hourly", "event_bus_name": "default", "is_enabled": true, "state": "ENABLED"}),
                json!({}),
            ),
            // The same rule name on another bus is not parked.
            change(
                "aws_cloudwatch_event_rule.jobs",
                "aws_cloudwatch_event_rule",
                &["update"],
                json!({"name": "blog-data-sync-hourly", "event_bus_name": "arn:aws:events:eu-west-2:123456789012:event-bus/jobs", "is_enabled": false}),
                json!({"name": "blog-data-sync-hourly", "event_bus_name": "arn:aws:events:eu-west-2:123456789012:event-bus/jobs", "is_enabled": true}),
                json!({}),
            ),
        ],
    )
}

#[test]
fn park_guard_refuses_unparking_changes_by_name_in_every_format() {
    for format in ["0.1", "1.2"] {
        let p = unpark_plan(format);
        let refusals = gates::park_guard(&p, &parked_portal());
        let addresses: Vec<&str> = refusals.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(
            addresses,
            [
                "module.ecs.aws_ecs_service.portal",
                "module.ecs.aws_appautoscaling_target.portal",
                "module.aurora.aws_rds_cluster.this",
                "aws_cloudwatch_event_rule.sync"
            ],
            "format {format}"
        );
        assert!(
            refusals[3]
                .reason
                .contains("EventBridge rule blog-data-sync-hourly is parked, and the plan changes is_enabled false -> true, state \"DISABLED\" -> \"ENABLED\""),
            "{}",
            refusals[3].reason
        );
        assert!(refusals.iter().all(|r| r.gate == Gate::Park));
        assert!(
            refusals[0]
                .reason
                .contains("ECS service blog-prod/portal is parked"),
            "{}",
            refusals[0].reason
        );
        assert!(
            refusals[0].reason.contains("desired_count 0 -> 2"),
            "{}",
            refusals[0].reason
        );
        assert!(
            refusals[1]
                .reason
                .contains("min_capacity 0 -> 1, max_capacity 0 -> 4"),
            "{}",
            refusals[1].reason
        );
        assert!(
            refusals[2].reason.contains("(known after apply)"),
            "{}",
            refusals[2].reason
        );
        assert!(refusals[0].reason.contains("--allow-unpark"));
    }
    let p = unpark_plan("1.2");
    assert!(
        gates::park_guard(&p, &[]).is_empty(),
        "not parked: nothing to guard"
    );
    let options = GateOptions {
        allow_unpark: true,
        ..protected()
    };
    assert!(
        gates::evaluate(&p, &parked_portal(), &options).is_empty(),
        "--allow-unpark"
    );
}

/// The park guard reads real park records: park the seeded reference environment with the
/// `park` binary, read the records through the park library, and guard a plan.
#[test]
fn park_guard_reads_real_park_records() {
    let session = Moto::session();
    let env = infra_core::Environment::load(&reference_env_file()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = runtime.block_on(session.sdk_config());
    runtime.block_on(seed(&config, &env, &[])).unwrap();
    // park takes the environment lock: the reference backend's DynamoDB table.
    runtime
        .block_on(infra_test_support::lock_table(
            &config,
            "blog-terraform-locks",
        ))
        .unwrap();
    let clients = park_state::observe::Clients::new(&config, infra_core::retry::Deadline::none());
    let read = || {
        let live = runtime
            .block_on(park_state::observe::observe(&clients, &env))
            .unwrap();
        tf_wrap::parked(&live)
    };
    assert!(read().is_empty(), "freshly seeded: nothing parked");

    let park = |direction: &str| {
        let out = command(workspace_binary("park"), session.endpoint())
            .args([
                "--env-file",
                reference_env_file().to_str().unwrap(),
                direction,
                "--no-wait",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "park {direction}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    park("down");
    let live = runtime
        .block_on(park_state::observe::observe(&clients, &env))
        .unwrap();
    let portal = tf_wrap::recorded(&live)
        .into_iter()
        .find(|r| {
            r.resource
                == Parked::Service {
                    cluster: "blog-prod".into(),
                    service: "portal".into(),
                }
        })
        .expect("portal recorded");
    assert!(
        matches!(&portal.record, tf_wrap::drift::Record::Valid { parked_at } if parked_at.starts_with("20")),
        "the drift check sees a valid record with its time: {portal:?}"
    );
    let parked = read();
    assert!(
        parked.contains(&Parked::Service {
            cluster: "blog-prod".into(),
            service: "portal".into()
        }),
        "{parked:?}"
    );
    assert!(
        parked.contains(&Parked::Rule {
            name: "blog-data-sync-hourly".into(),
            event_bus: "default".into()
        }),
        "the reference environment's rule is recorded: {parked:?}"
    );
    let refusals = gates::park_guard(&unpark_plan("1.2"), &parked);
    assert!(
        refusals
            .iter()
            .any(|r| r.address == "module.ecs.aws_ecs_service.portal"),
        "{refusals:?}"
    );
    assert!(
        refusals
            .iter()
            .any(|r| r.address == "aws_cloudwatch_event_rule.sync"),
        "{refusals:?}"
    );

    park("up");
    assert!(read().is_empty(), "unparked: records removed");
    assert!(gates::park_guard(&unpark_plan("1.2"), &read()).is_empty());
}
