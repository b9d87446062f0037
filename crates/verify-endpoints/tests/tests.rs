//! Integration tests of `verify-endpoints`: the built binary against scripted HTTP servers
//! on 127.0.0.1.

use infra_test_support::{command, Answer, HttpStub, Run};
use std::time::Duration;

/// An environment file with the given endpoints: (name, url, expectation lines).
fn env_file(dir: &tempfile::TempDir, endpoints: &[(&str, String, &str)]) -> std::path::PathBuf {
    let mut text = String::from(
        "environment \"t\" {\n  account_id = \"123456789012\"\n  region     = \"eu-west-2\"\n",
    );
    for (name, url, extra) in endpoints {
        text.push_str(&format!(
            "  endpoint \"{name}\" {{\n    url = \"{url}\"\n    {extra}\n  }}\n"
        ));
    }
    text.push_str("}\n");
    let path = dir.path().join("env.hcl");
    std::fs::write(&path, text).unwrap();
    path
}

fn verify(env: &std::path::Path, args: &[&str]) -> Run {
    // No AWS call is made; the endpoint is a closed port so a stray one would fail.
    let mut cmd = command(env!("CARGO_BIN_EXE_verify-endpoints"), "http://127.0.0.1:9");
    cmd.arg("--env-file")
        .arg(env)
        .args(args)
        .output()
        .unwrap()
        .into()
}

const OK_JSON: &str = "expect_json = { status = \"ok\" }";

#[test]
fn healthy_endpoints_pass_on_the_first_attempt() {
    let stub = HttpStub::start(vec![
        (
            "/.backstage/health/v1/readiness",
            vec![Answer::json(200, r#"{"status":"ok","details":{}}"#)],
        ),
        ("/api/health", vec![Answer::json(200, "true")]),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(
        &dir,
        &[
            (
                "portal",
                stub.url("/.backstage/health/v1/readiness"),
                OK_JSON,
            ),
            (
                "pipelines",
                stub.url("/api/health"),
                "expect_body = \"true\"",
            ),
        ],
    );
    let r = verify(&env, &["--output", "json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["schema"], "verify-endpoints/run");
    assert_eq!(v["healthy"], true);
    for e in v["endpoints"].as_array().unwrap() {
        assert_eq!(e["attempts"], 1, "{e}");
        assert_eq!(e["status"], 200);
        assert!(e["timings"]["total_ms"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn flapping_endpoint_passes_after_retries() {
    let stub = HttpStub::start(vec![(
        "/health",
        vec![
            Answer::json(503, "{}"),
            Answer::json(503, "{}"),
            Answer::json(503, "{}"),
            Answer::json(200, r#"{"status":"ok"}"#),
        ],
    )]);
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(&dir, &[("portal", stub.url("/health"), OK_JSON)]);
    let r = verify(&env, &["--output", "json", "--deadline", "30s"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["endpoints"][0]["attempts"], 4);
    assert_eq!(stub.count("/health"), 4);
}

#[test]
fn never_healthy_fails_at_the_deadline() {
    let stub = HttpStub::start(vec![("/health", vec![Answer::json(503, "{}")])]);
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(&dir, &[("portal", stub.url("/health"), OK_JSON)]);
    let started = std::time::Instant::now();
    let r = verify(&env, &["--output", "json", "--deadline", "2s"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the deadline bounds the run"
    );
    let e = &r.json()["endpoints"][0];
    assert_eq!(e["outcome"], "deadline");
    assert!(e["attempts"].as_u64().unwrap() >= 3, "{e}");
    assert!(
        e["actual"].as_str().unwrap().starts_with("status 503"),
        "{e}"
    );
}

#[test]
fn not_found_fails_fast_without_retries() {
    let stub = HttpStub::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(&dir, &[("portal", stub.url("/missing"), OK_JSON)]);
    let r = verify(&env, &["--output", "json", "--deadline", "30s"]);
    assert_eq!(r.code, 1);
    let e = &r.json()["endpoints"][0];
    assert_eq!(
        (e["attempts"].as_u64(), e["outcome"].as_str()),
        (Some(1), Some("failed")),
        "{e}"
    );
    assert_eq!(stub.count("/missing"), 1);
}

#[test]
fn a_single_page_app_fallback_is_not_a_pass() {
    let stub = HttpStub::start(vec![(
        "/health",
        vec![Answer::html(
            200,
            "<!DOCTYPE html><html><body><div id=root></div></body></html>",
        )],
    )]);
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(&dir, &[("portal", stub.url("/health"), OK_JSON)]);
    let r = verify(&env, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("an HTML page (a single-page app's fallback?)"),
        "{}",
        r.stdout
    );
    assert_eq!(stub.count("/health"), 1, "not retried");
}

#[test]
fn a_slow_endpoint_hits_its_timeout() {
    let stub = HttpStub::start(vec![(
        "/slow",
        vec![Answer::json(200, r#"{"status":"ok"}"#).after(Duration::from_secs(5))],
    )]);
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(&dir, &[("portal", stub.url("/slow"), OK_JSON)]);
    let r = verify(
        &env,
        &["--output", "json", "--timeout", "300ms", "--deadline", "1s"],
    );
    assert_eq!(r.code, 1);
    let e = &r.json()["endpoints"][0];
    assert!(
        e["actual"]
            .as_str()
            .unwrap()
            .contains("timed out during response"),
        "{e}"
    );
}

#[test]
fn connection_refused_is_retried_until_the_deadline() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(
        &dir,
        &[("portal", format!("http://127.0.0.1:{port}/health"), OK_JSON)],
    );
    let r = verify(&env, &["--output", "json", "--deadline", "1s"]);
    assert_eq!(r.code, 1);
    let e = &r.json()["endpoints"][0];
    assert_eq!(e["outcome"], "deadline");
    assert!(
        e["actual"]
            .as_str()
            .unwrap()
            .contains("connection to 127.0.0.1"),
        "{e}"
    );
}

#[test]
fn junit_is_well_formed_with_one_case_per_endpoint() {
    let stub = HttpStub::start(vec![("/ok", vec![Answer::json(200, r#"{"status":"ok"}"#)])]);
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(
        &dir,
        &[
            ("portal", stub.url("/ok"), OK_JSON),
            (
                "pipelines",
                stub.url("/nope?token=s3cret"),
                "expect_body = \"true\"",
            ),
        ],
    );
    let junit = dir.path().join("results/junit.xml");
    std::fs::create_dir_all(junit.parent().unwrap()).unwrap();
    let r = verify(&env, &["--junit", junit.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures) = (0, 0);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                match e.name().as_ref() {
                    b"testcase" => cases += 1,
                    b"failure" => failures += 1,
                    _ => {}
                }
            }
            Ok(_) => {}
            Err(e) => panic!("malformed JUnit XML: {e}\n{xml}"),
        }
    }
    assert_eq!((cases, failures), (2, 1), "{xml}");
    assert!(
        xml.contains("GET http://127.0.0.1:")
            && xml.contains("expected status 200, got status 404: not found (1 attempt, failed)"),
        "{xml}"
    );
    assert!(
        !xml.contains("s3cret") && !r.stdout.contains("s3cret") && !r.stderr.contains("s3cret"),
        "secrets are redacted"
    );
}

#[test]
fn bad_input_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(&dir, &[("portal", "http://127.0.0.1:9/x".into(), OK_JSON)]);
    let r = verify(&env, &["--only", "portl"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--only portl: no such endpoint") && r.stderr.contains("(known: portal)"),
        "{}",
        r.stderr
    );
    let r = verify(&env, &["--url", "ftp://example.com"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("not an http:// or https:// URL"),
        "{}",
        r.stderr
    );
}
