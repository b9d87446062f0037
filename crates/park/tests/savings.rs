//! Savings against the emulator: a parked Fargate service of known size saves exactly the
//! hand computation, `so_far` grows with the record's age, a service on EC2 capacity is
//! "not estimated".

use crate::support::Fleet;

const VCPU_HOUR: f64 = 0.04656;
const GB_HOUR: f64 = 0.00511;
const ACU_HOUR: f64 = 0.12;

fn cents(x: f64) -> i64 {
    (x * 100.0).round() as i64
}

#[test]
fn parked_fargate_services_save_the_hand_computed_amount() {
    let fleet = Fleet::new(3);
    let ecs = aws_sdk_ecs::Client::new(&fleet.config);
    // svc-00: 0.5 vCPU / 1 GB (task level) × 2 tasks.
    let td = fleet
        .block_on(
            ecs.register_task_definition()
                .family("fleet-sized")
                .cpu("512")
                .memory("1024")
                .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
                .container_definitions(
                    aws_sdk_ecs::types::ContainerDefinition::builder()
                        .name("app")
                        .image("123456789012.dkr.ecr.eu-west-2.amazonaws.com/app:1")
                        .essential(true)
                        .build(),
                )
                .send(),
        )
        .unwrap();
    let td_arn = td.task_definition().unwrap().task_definition_arn().unwrap();
    fleet
        .block_on(
            ecs.update_service()
                .cluster("fleet")
                .service("svc-00")
                .task_definition(td_arn)
                .desired_count(2)
                .send(),
        )
        .unwrap();
    // A service on EC2 capacity, named in the file.
    let seeded_td = fleet
        .block_on(
            ecs.describe_services()
                .cluster("fleet")
                .services("svc-01")
                .send(),
        )
        .unwrap()
        .services()[0]
        .task_definition()
        .unwrap()
        .to_owned();
    fleet
        .block_on(
            ecs.create_service()
                .cluster("fleet")
                .service_name("ec2-worker")
                .task_definition(&seeded_td)
                .desired_count(1)
                .launch_type(aws_sdk_ecs::types::LaunchType::Ec2)
                .send(),
        )
        .unwrap();
    let text = std::fs::read_to_string(&fleet.env_file).unwrap();
    let text = text
        .replacen(
            "  region     = \"eu-west-2\"\n",
            &format!("  region     = \"eu-west-2\"\n\n  pricing {{\n    fargate_vcpu_hour = {VCPU_HOUR}\n    fargate_gb_hour   = {GB_HOUR}\n    aurora_acu_hour   = {ACU_HOUR}\n    currency          = \"USD\"\n  }}\n"),
            1,
        )
        .replacen(
            "  ecs_cluster \"fleet\" {\n",
            "  ecs_cluster \"fleet\" {\n    service \"ec2-worker\" {\n      desired_count = 1\n    }\n",
            1,
        );
    std::fs::write(&fleet.env_file, text).unwrap();

    let status = fleet.park(&["status", "--output", "json"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let before = status.json();
    assert!(before["savings"].is_null(), "nothing parked, no savings");
    let desired = |name: &str| -> f64 {
        before["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == name)
            .unwrap()["desired_count"]
            .as_f64()
            .unwrap()
    };
    let db_min = before["aurora"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["cluster"] == "fleet-db-zero")
        .unwrap()["min_capacity"]
        .as_f64()
        .unwrap();

    let r = fleet.park(&["down", "--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // By hand: svc-00 2 × (0.5 × vCPU + 1 × GB); the seeded svc-01/02 are 256 CPU units and
    // 512 MiB in their container, 0.25 vCPU / 0.5 GB a task; Aurora its minimum × ACU.
    let svc00 = 2.0 * (0.5 * VCPU_HOUR + 1.0 * GB_HOUR);
    let small = 0.25 * VCPU_HOUR + 0.5 * GB_HOUR;
    let expected = svc00 + (desired("svc-01") + desired("svc-02")) * small + db_min * ACU_HOUR;
    let started = &r.json()["savings"];
    assert_eq!(
        cents(started["per_hour"].as_f64().unwrap()),
        cents(expected),
        "{started}"
    );
    assert_eq!(started["currency"], "USD");
    assert_eq!(started["not_estimated"], 1, "the EC2 service: {started}");

    let status = fleet.park(&["status", "--output", "json"]).json();
    assert_eq!(status["schema_version"], 3);
    let row = |name: &str| -> serde_json::Value {
        status["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == name)
            .unwrap()["savings"]
            .clone()
    };
    assert_eq!(
        row("svc-00")["per_hour"].as_f64(),
        Some(svc00),
        "{}",
        row("svc-00")
    );
    assert_eq!(cents(row("svc-00")["per_hour"].as_f64().unwrap()), 6);
    assert_eq!(row("svc-00")["currency"], "USD");
    assert!(
        row("ec2-worker")["not_estimated"]
            .as_str()
            .unwrap()
            .contains("EC2 capacity"),
        "{}",
        row("ec2-worker")
    );
    assert!(row("ec2-worker")["per_hour"].is_null());
    assert_eq!(
        cents(status["savings"]["per_hour"].as_f64().unwrap()),
        cents(expected)
    );
    assert_eq!(
        status["savings"]["prices"], "environment file",
        "{}",
        status["savings"]
    );
    let monthly = status["savings"]["monthly_at_12h_a_day"].as_f64().unwrap();
    assert_eq!(
        cents(monthly),
        cents(status["savings"]["per_hour"].as_f64().unwrap() * 365.0)
    );

    // A record written ten hours ago: so_far is ten hours' saving.
    let svc00_arn = fleet
        .block_on(
            ecs.describe_services()
                .cluster("fleet")
                .services("svc-00")
                .send(),
        )
        .unwrap()
        .services()[0]
        .service_arn()
        .unwrap()
        .to_owned();
    let tags = fleet
        .block_on(ecs.list_tags_for_resource().resource_arn(&svc00_arn).send())
        .unwrap();
    let record = tags
        .tags()
        .iter()
        .find(|t| t.key() == Some("infra-park:record"))
        .and_then(|t| t.value())
        .unwrap()
        .to_owned();
    let ten_hours_ago = humantime::format_rfc3339_seconds(
        std::time::SystemTime::now() - std::time::Duration::from_secs(10 * 3600),
    )
    .to_string();
    let at = record
        .split_whitespace()
        .find(|w| w.starts_with("at="))
        .unwrap()
        .to_owned();
    let older = record.replace(&at, &format!("at={ten_hours_ago}"));
    fleet
        .block_on(
            ecs.tag_resource()
                .resource_arn(&svc00_arn)
                .tags(
                    aws_sdk_ecs::types::Tag::builder()
                        .key("infra-park:record")
                        .value(older)
                        .build(),
                )
                .send(),
        )
        .unwrap();
    let status = fleet.park(&["status", "--output", "json"]).json();
    let so_far = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "svc-00")
        .unwrap()["savings"]["so_far"]
        .as_f64()
        .unwrap();
    assert_eq!(cents(so_far), cents(svc00 * 10.0), "{so_far}");
    let text = fleet.park(&["status"]).stdout;
    assert!(text.contains("Savings"), "{text}");
    assert!(
        text.contains("fleet/svc-00: 0.06 USD/h, 0.57 USD so far"),
        "{text}"
    );
    assert!(
        text.contains("fleet/ec2-worker: not estimated: runs on EC2 capacity"),
        "{text}"
    );
}
