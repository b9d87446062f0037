//! `park status` against the emulator seeded with the reference environment: the live state,
//! the account guard through the binary, and AWS failures as exit 1 with a clear message.

use crate::{closed_endpoint, run, run_with};
use infra_test_support::seed::reference_images;
use infra_test_support::{reference_env_file, seed, Moto, MotoSession};

fn seeded() -> MotoSession {
    let session = Moto::session();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let env = infra_core::Environment::load(&reference_env_file()).unwrap();
        seed(&session.sdk_config().await, &env, &reference_images())
            .await
            .unwrap();
    });
    session
}

fn env_file_arg() -> String {
    reference_env_file().to_str().unwrap().to_owned()
}

#[test]
fn shows_the_live_state_as_text() {
    let session = seeded();
    let r = run(
        "park",
        &["status", "--env-file", &env_file_arg()],
        session.endpoint(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "environment prod (account 123456789012, eu-west-2): unparked"
    );
    let portal = lines
        .iter()
        .find(|l| l.starts_with("blog-prod  portal"))
        .expect("portal row");
    let cells: Vec<&str> = portal.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "blog-prod",
            "portal",
            "unparked",
            "2/2",
            "2",
            "1-4",
            "1-4",
            "none",
            "-"
        ]
    );
    let worker = lines.iter().find(|l| l.contains("prefect-worker")).unwrap();
    assert_eq!(
        worker.split_whitespace().collect::<Vec<_>>(),
        [
            "blog-prod",
            "prefect-worker",
            "unparked",
            "1/1",
            "1",
            "-",
            "-",
            "-",
            "-"
        ]
    );
    let aurora = lines.iter().find(|l| l.starts_with("blog-aurora")).unwrap();
    assert_eq!(
        aurora.split_whitespace().collect::<Vec<_>>(),
        [
            "blog-aurora",
            "kept",
            "available",
            "0.5-4",
            "-",
            "on",
            "keep",
            "-"
        ]
    );
}

#[test]
fn shows_the_live_state_as_versioned_json() {
    let session = seeded();
    let r = run(
        "park",
        &["status", "--output", "json", "--env-file", &env_file_arg()],
        session.endpoint(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["schema"], "park/status");
    assert_eq!(v["schema_version"], 3);
    // The build that wrote it, as `--version` says (every JSON report carries it).
    let version = run("park", &["--version"], session.endpoint()).stdout;
    let build = &v["build"];
    assert_eq!(
        version.trim(),
        format!(
            "park {} (commit {}, {}, {})",
            build["version"].as_str().unwrap(),
            build["commit"].as_str().unwrap(),
            build["target"].as_str().unwrap(),
            build["profile"].as_str().unwrap()
        )
    );
    assert_eq!(v["caller"]["account"], "123456789012");
    let services = v["services"].as_array().unwrap();
    assert_eq!(services.len(), 3);
    assert_eq!(services[0]["service"], "portal");
    assert_eq!(services[0]["desired_count"], 2);
    assert_eq!(services[0]["scalable_target"]["min"], 1);
    assert_eq!(services[0]["scalable_target"]["max"], 4);
    assert_eq!(
        services[0]["scalable_target"]["suspended"]["dynamic_in"],
        false
    );
    assert_eq!(services[2]["scalable_target"], serde_json::Value::Null);
    assert_eq!(v["aurora"][0]["status"], "available");
    let rule = &v["eventbridge_rules"][0];
    assert_eq!(rule["rule"], "blog-data-sync-hourly");
    assert_eq!(rule["event_bus"], "default");
    assert_eq!(rule["status"], "ENABLED");
    assert_eq!(rule["state"], "unparked");
    assert_eq!(rule["schedule_expression"], "rate(1 hour)");
}

#[test]
fn a_service_missing_in_aws_is_reported_not_hidden() {
    let session = seeded();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prod.env.hcl");
    let text = std::fs::read_to_string(reference_env_file())
        .unwrap()
        .replace("service \"prefect-worker\"", "service \"prefect-worker-2\"");
    std::fs::write(&file, text).unwrap();
    let r = run(
        "park",
        &[
            "status",
            "--output",
            "json",
            "--env-file",
            file.to_str().unwrap(),
        ],
        session.endpoint(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["services"][2]["service"], "prefect-worker-2");
    assert_eq!(v["services"][2]["found"], false);
    assert_eq!(v["services"][2]["status"], "MISSING");
}

#[test]
fn wrong_account_is_refused_with_exit_4() {
    let session = seeded();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prod.env.hcl");
    let text = std::fs::read_to_string(reference_env_file())
        .unwrap()
        .replace("\"123456789012\"", "\"210987654321\"");
    std::fs::write(&file, text).unwrap();
    let r = run(
        "park",
        &["status", "--env-file", file.to_str().unwrap()],
        session.endpoint(),
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("refusing to act") && r.stderr.contains("account 123456789012"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
    // The explicit flag skips the guard, with a warning.
    let r = run(
        "park",
        &[
            "status",
            "--skip-account-guard",
            "--env-file",
            file.to_str().unwrap(),
        ],
        session.endpoint(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("account guard skipped"), "{}", r.stderr);
}

#[test]
fn emulator_down_is_exit_1_naming_the_call() {
    let r = run(
        "park",
        &[
            "status",
            "--max-attempts",
            "2",
            "--env-file",
            &env_file_arg(),
        ],
        &closed_endpoint(),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("sts:GetCallerIdentity")
            && r.stderr.contains("cannot reach the AWS endpoint"),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_credentials_are_exit_1_without_probing_instance_metadata() {
    let endpoint = closed_endpoint();
    let r = run_with(
        "park",
        &["status", "--env-file", &env_file_arg()],
        &endpoint,
        &[
            ("AWS_ACCESS_KEY_ID", None),
            ("AWS_SECRET_ACCESS_KEY", None),
            ("AWS_SESSION_TOKEN", None),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("no usable AWS credentials"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("IMDS disabled by AWS_EC2_METADATA_DISABLED"),
        "{}",
        r.stderr
    );
}

#[test]
fn region_flag_overrides_the_environment_file() {
    let session = seeded();
    // The reference resources live in eu-west-2; in us-east-1 the emulator has none.
    let r = run(
        "park",
        &[
            "status",
            "--output",
            "json",
            "--region",
            "us-east-1",
            "--env-file",
            &env_file_arg(),
        ],
        session.endpoint(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["services"][0]["found"], false, "{}", r.stdout);
}
