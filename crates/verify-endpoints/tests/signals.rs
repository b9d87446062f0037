//! SIGTERM while checks are running.

use crate::support::*;

/// SIGTERM (CircleCI cancelling the job) while an endpoint is still answering: the run
/// ends at once with exit 1, the finished check keeps its result, the unfinished one is
/// reported `interrupted`, and the JUnit report is still written.
#[test]
fn sigterm_reports_unfinished_checks_as_interrupted() {
    let stub = HttpStub::start(vec![
        ("/fast", vec![Answer::json(200, r#"{"status":"ok"}"#)]),
        (
            "/slow",
            vec![Answer::json(200, r#"{"status":"ok"}"#).after(Duration::from_secs(30))],
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(
        &dir,
        &[
            ("fast", stub.url("/fast"), OK_JSON),
            ("slow", stub.url("/slow"), OK_JSON),
        ],
    );
    let junit = dir.path().join("junit.xml");
    let child = command(env!("CARGO_BIN_EXE_verify-endpoints"), "http://127.0.0.1:9")
        .arg("--env-file")
        .arg(&env)
        .args([
            "--deadline",
            "60s",
            "--timeout",
            "45s",
            "--output",
            "json",
            "--junit",
        ])
        .arg(&junit)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    infra_test_support::wait_for("both requests to arrive", || {
        stub.count("/fast") == 1 && stub.count("/slow") == 1
    });
    let signalled = std::time::Instant::now();
    infra_test_support::sigterm(child.id());
    let out = child.wait_with_output().unwrap();
    assert!(signalled.elapsed() < Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcomes: Vec<(&str, &str)> = report["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [("fast", "healthy"), ("slow", "interrupted")],
        "{report}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("interrupted"), "{xml}");
}
