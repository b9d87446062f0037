//! The checks themselves: status, body, retries, deadline, timeouts, JUnit, bad input,
//! content type, headers, regex, latency budgets, redirects.

use crate::support::*;

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

#[test]
fn content_type_header_regex_and_latency_expectations() {
    let stub = HttpStub::start(vec![
        (
            "/text",
            vec![Answer {
                status: 200,
                content_type: "text/plain".into(),
                body: "version 1.2.3".into(),
                delay: Duration::ZERO,
                headers: vec![],
            }],
        ),
        (
            "/slow",
            vec![Answer::json(200, r#"{"status":"ok"}"#).after(Duration::from_millis(300))],
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(
        &dir,
        &[
            (
                "regex-ok",
                stub.url("/text"),
                "expect_regex = \"^version [0-9]+\\\\.[0-9]+\"",
            ),
            ("regex-bad", stub.url("/text"), "expect_regex = \"^build\""),
            (
                "content-type",
                stub.url("/text"),
                "expect_content_type = \"application/json\"",
            ),
            (
                "header",
                stub.url("/text"),
                "expect_headers = { \"x-served-by\" = \"portal\" }",
            ),
            ("slow-warn", stub.url("/slow"), "latency_warn_ms = 100"),
            ("slow-fail", stub.url("/slow"), "latency_fail_ms = 100"),
        ],
    );
    let r = verify(&env, &["--output", "json", "--deadline", "2s"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    let e = |n: &str| {
        v["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(e("regex-ok")["passed"], true, "{}", e("regex-ok"));
    assert_eq!(e("regex-bad")["expected"], "a body matching /^build/");
    assert_eq!(e("content-type")["actual"], "Content-Type \"text/plain\"");
    assert_eq!(e("header")["actual"], "no x-served-by header");
    assert_eq!(e("slow-warn")["passed"], true);
    assert!(
        e("slow-warn")["warnings"][0]
            .as_str()
            .unwrap()
            .contains("(warning budget 100 ms)"),
        "{}",
        e("slow-warn")
    );
    let slow = e("slow-fail");
    assert_eq!(
        (slow["passed"].as_bool(), slow["outcome"].as_str()),
        (Some(false), Some("deadline")),
        "{slow}"
    );
    assert_eq!(slow["expected"], "an answer within 100 ms");
}

#[test]
fn redirects_are_followed_only_when_configured() {
    let stub = HttpStub::start(vec![
        ("/old", vec![Answer::redirect(301, "/new")]),
        ("/new", vec![Answer::json(200, r#"{"status":"ok"}"#)]),
        ("/loop", vec![Answer::redirect(302, "/loop")]),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(
        &dir,
        &[
            ("strict", stub.url("/old"), OK_JSON),
            (
                "follows",
                stub.url("/old"),
                &format!("{OK_JSON}\n    follow_redirects = true"),
            ),
            (
                "loops",
                stub.url("/loop"),
                &format!("{OK_JSON}\n    follow_redirects = true"),
            ),
        ],
    );
    let r = verify(&env, &["--output", "json"]);
    assert_eq!(r.code, 1);
    let v = r.json();
    let e = |n: &str| {
        v["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == n)
            .unwrap()
            .clone()
    };
    assert!(
        e("strict")["actual"]
            .as_str()
            .unwrap()
            .starts_with("status 301"),
        "{}",
        e("strict")
    );
    assert_eq!(e("follows")["passed"], true, "{}", e("follows"));
    assert_eq!(
        e("follows")["redirects"],
        serde_json::json!([stub.url("/new")])
    );
    assert!(
        e("loops")["actual"]
            .as_str()
            .unwrap()
            .contains("more than 5 redirects"),
        "{}",
        e("loops")
    );
}
