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

mod cloudfront {
    //! The CloudFront preflight against the emulator.
    use super::*;
    use aws_sdk_cloudfront::types::{
        Aliases, CookiePreference, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig,
        ForwardedValues, ItemSelection, Origin, OriginProtocolPolicy, Origins,
        ViewerProtocolPolicy,
    };
    use infra_test_support::{Moto, MotoSession};

    // The legacy ForwardedValues/MinTTL cache settings are deprecated in favour of cache
    // policies, but they are the smallest valid configuration and the emulator accepts them.
    #[allow(deprecated)]
    fn distribution(session: &MotoSession, alias: &str, enabled: bool) -> (String, String) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let cf = aws_sdk_cloudfront::Client::new(&session.sdk_config().await);
            let origin = Origin::builder()
                .id("o")
                .domain_name("origin.internal.example")
                .custom_origin_config(
                    CustomOriginConfig::builder()
                        .http_port(80)
                        .https_port(443)
                        .origin_protocol_policy(OriginProtocolPolicy::HttpsOnly)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            let behavior = DefaultCacheBehavior::builder()
                .target_origin_id("o")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .forwarded_values(
                    ForwardedValues::builder()
                        .query_string(false)
                        .cookies(
                            CookiePreference::builder()
                                .forward(ItemSelection::None)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .min_ttl(0)
                .build()
                .unwrap();
            let config = DistributionConfig::builder()
                .caller_reference(format!("ref-{alias}-{enabled}"))
                .origins(
                    Origins::builder()
                        .quantity(1)
                        .items(origin)
                        .build()
                        .unwrap(),
                )
                .default_cache_behavior(behavior)
                .comment("test")
                .enabled(enabled)
                .aliases(Aliases::builder().quantity(1).items(alias).build().unwrap())
                .build()
                .unwrap();
            let out = cf
                .create_distribution()
                .distribution_config(config)
                .send()
                .await
                .unwrap();
            let d = out.distribution().unwrap();
            (d.id().to_owned(), d.domain_name().to_owned())
        })
    }

    fn verify_via(session: &MotoSession, env: &std::path::Path, args: &[&str]) -> Run {
        let mut cmd = command(env!("CARGO_BIN_EXE_verify-endpoints"), session.endpoint());
        cmd.arg("--env-file")
            .arg(env)
            .args(args)
            .output()
            .unwrap()
            .into()
    }

    /// Fault suite: the CloudFront preflight (and the account guard's STS call) through the
    /// proxy injecting a seeded schedule of throttling (`Throttling` in CloudFront's and
    /// STS's XML shapes), 5xx and closed connections: the check passes every time, as it
    /// does without faults. `CF_FAULT_SEED` (default 3) reproduces a run.
    #[test]
    fn preflight_passes_under_throttling_5xx_and_resets() {
        let seed: u64 = std::env::var("CF_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3);
        let session = Moto::session();
        let stub = HttpStub::start(vec![(
            "/health",
            vec![Answer::json(200, r#"{"status":"ok"}"#)],
        )]);
        let url = stub.url("/health").replace("127.0.0.1", "localhost");
        let (id, _) = distribution(&session, "localhost", true);
        let dir = tempfile::tempdir().unwrap();
        let line = format!("cloudfront_distribution = \"{id}\"\n    {OK_JSON}");
        let env = env_file(&dir, &[("portal", url, &line)]);
        let proxy = infra_test_support::Proxy::start(session.endpoint());
        let mut total = infra_test_support::FaultCounts::default();
        for round in 0..10u64 {
            proxy.faults(Some(infra_test_support::Faults {
                seed: seed.wrapping_add(round),
                throttle: 0.30,
                server_error: 0.05,
                reset: 0.02,
                max_latency: std::time::Duration::from_millis(20),
            }));
            let r: Run = command(env!("CARGO_BIN_EXE_verify-endpoints"), proxy.endpoint())
                .arg("--env-file")
                .arg(&env)
                .args(["--output", "json", "--deadline", "30s"])
                .output()
                .unwrap()
                .into();
            assert_eq!(
                r.code,
                0,
                "seed {}: {}\n{}",
                seed + round,
                r.stdout,
                r.stderr
            );
            total += proxy.fault_counts();
        }
        assert!(total.throttled > 0, "{total:?}");
        let mut fields = infra_test_support::report::faults(&total);
        fields["result"] = "every round passes".into();
        infra_test_support::report::record(
            &format!("verify-endpoints-faults-seed-{seed}"),
            &format!(
                "CloudFront preflight + account guard, 10 rounds, seeds {seed}-{}",
                seed + 9
            ),
            &format!(
                "CF_FAULT_SEED={seed} cargo test -p verify-endpoints --test tests under_throttling"
            ),
            fields,
        );
    }

    #[test]
    fn preflight_enabled_disabled_and_alias_mismatch() {
        let session = Moto::session();
        let stub = HttpStub::start(vec![(
            "/health",
            vec![Answer::json(200, r#"{"status":"ok"}"#)],
        )]);
        let url = stub.url("/health").replace("127.0.0.1", "localhost");
        let (good, _) = distribution(&session, "localhost", true);
        let (disabled, _) = distribution(&session, "localhost", false);
        let (other, domain) = distribution(&session, "portal.blog.example.com", true);
        let dir = tempfile::tempdir().unwrap();
        let line = |id: &str| format!("cloudfront_distribution = \"{id}\"\n    {OK_JSON}");
        let (l1, l2, l3, l4) = (
            line(&good),
            line(&disabled),
            line(&other),
            line("E0000000000000"),
        );
        let env = env_file(
            &dir,
            &[
                ("good", url.clone(), &l1),
                ("disabled", url.clone(), &l2),
                ("mismatch", url.clone(), &l3),
                ("unknown", url.clone(), &l4),
            ],
        );
        let r = verify_via(&session, &env, &["--output", "json", "--deadline", "10s"]);
        assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
        let v = r.json();
        let by_name = |n: &str| {
            v["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == n)
                .unwrap()
                .clone()
        };
        assert_eq!(by_name("good")["passed"], true, "{}", by_name("good"));
        let d = by_name("disabled");
        assert_eq!(
            (d["outcome"].as_str(), d["attempts"].as_u64()),
            (Some("preflight"), Some(0)),
            "{d}"
        );
        assert!(
            d["actual"]
                .as_str()
                .unwrap()
                .contains(&format!("CloudFront distribution {disabled} is disabled")),
            "{d}"
        );
        let m = by_name("mismatch");
        assert!(
            m["actual"]
                .as_str()
                .unwrap()
                .contains("host localhost is not an alias"),
            "{m}"
        );
        assert!(m["actual"].as_str().unwrap().contains(&domain), "{m}");
        let u = by_name("unknown");
        assert!(
            u["actual"]
                .as_str()
                .unwrap()
                .contains("CloudFront distribution E0000000000000 not found"),
            "{u}"
        );
        assert_eq!(
            stub.count("/health"),
            1,
            "only the endpoint whose preflight passed was requested"
        );
    }

    /// `--via-cloudfront` connects to the distribution's own domain (mapped to the stub by
    /// `--resolve`, so nothing is looked up in DNS) while Host and SNI name the alias.
    #[test]
    fn route_pinning_connects_through_the_distribution() {
        let session = Moto::session();
        let stub = HttpStub::start(vec![(
            "/health",
            vec![Answer::json(200, r#"{"status":"ok"}"#)],
        )]);
        let port = stub.url("").rsplit(':').next().unwrap().to_owned();
        let (id, domain) = distribution(&session, "portal.test", true);
        let dir = tempfile::tempdir().unwrap();
        let line = format!("cloudfront_distribution = \"{id}\"\n    {OK_JSON}");
        let env = env_file(
            &dir,
            &[("portal", format!("http://portal.test:{port}/health"), &line)],
        );
        let resolve = format!("{domain}:{port}:127.0.0.1");
        let r = verify_via(
            &session,
            &env,
            &[
                "--output",
                "json",
                "--via-cloudfront",
                "--resolve",
                &resolve,
            ],
        );
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let e = &r.json()["endpoints"][0];
        assert_eq!(e["connected_via"], domain.as_str(), "{e}");
        assert_eq!(stub.count("/health"), 1);
    }

    #[test]
    fn preflight_runs_the_account_guard() {
        let session = Moto::session();
        let (id, _) = distribution(&session, "localhost", true);
        let dir = tempfile::tempdir().unwrap();
        let line = format!("cloudfront_distribution = \"{id}\"");
        let env = env_file(&dir, &[("good", "http://localhost:9/health".into(), &line)]);
        let text = std::fs::read_to_string(&env)
            .unwrap()
            .replace("123456789012", "210987654321");
        std::fs::write(&env, text).unwrap();
        let r = verify_via(&session, &env, &[]);
        assert_eq!(r.code, 4, "{}", r.stderr);
        assert!(r.stderr.contains("refusing to act"), "{}", r.stderr);
    }
}

mod tls {
    //! HTTPS with certificates made here: a test CA, and leaves that are valid, near expiry,
    //! expired, or for another host.
    use super::*;
    use std::sync::Arc;

    struct Ca {
        params: rcgen::CertificateParams,
        key: rcgen::KeyPair,
        pem: String,
    }

    fn ca() -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "verify-endpoints test CA");
        let pem = params.self_signed(&key).unwrap().pem();
        Ca { params, key, pem }
    }

    /// A server on 127.0.0.1 presenting a leaf for `host`, valid from `from` to `until` days
    /// from now (negative: in the past).
    fn server(ca: &Ca, host: &str, from: i64, until: i64) -> HttpStub {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(from);
        params.not_after = now + time::Duration::days(until);
        let issuer = rcgen::Issuer::from_params(&ca.params, &ca.key);
        let leaf = params.signed_by(&key, &issuer).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        HttpStub::start_tls(
            vec![("/health", vec![Answer::json(200, r#"{"status":"ok"}"#)])],
            Arc::new(config),
        )
    }

    fn check(stub: &HttpStub, ca_pem: Option<&str>) -> (Run, serde_json::Value) {
        let dir = tempfile::tempdir().unwrap();
        let url = stub
            .url("/health")
            .replace("http://127.0.0.1", "https://localhost");
        let env = env_file(&dir, &[("portal", url, OK_JSON)]);
        let mut args = vec!["--output", "json", "--deadline", "5s"];
        let ca_file = dir.path().join("ca.pem");
        if let Some(pem) = ca_pem {
            std::fs::write(&ca_file, pem).unwrap();
            args.extend(["--ca-file", ca_file.to_str().unwrap()]);
        }
        let r = verify(&env, &args);
        let v = r.json()["endpoints"][0].clone();
        (r, v)
    }

    #[test]
    fn valid_certificate_passes() {
        let ca = ca();
        let stub = server(&ca, "localhost", -1, 90);
        let (r, e) = check(&stub, Some(&ca.pem));
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let days = e["cert_days_left"].as_i64().unwrap();
        assert!((89..=90).contains(&days), "{e}");
        assert_eq!(e["warnings"], serde_json::json!([]));
        assert!(e["timings"]["tls_ms"].as_f64().unwrap() > 0.0, "{e}");
    }

    #[test]
    fn near_expiry_warns_then_fails() {
        let ca = ca();
        let stub = server(&ca, "localhost", -30, 10);
        let (r, e) = check(&stub, Some(&ca.pem));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let warning = e["warnings"][0].as_str().unwrap_or_default();
        assert!(
            warning.starts_with("the certificate for localhost expires in "),
            "{e}"
        );
        let stub = server(&ca, "localhost", -30, 3);
        let (r, e) = check(&stub, Some(&ca.pem));
        assert_eq!(r.code, 1);
        assert_eq!(
            (e["attempts"].as_u64(), e["outcome"].as_str()),
            (Some(1), Some("failed")),
            "{e}"
        );
        let actual = e["actual"].as_str().unwrap();
        assert!(
            actual.contains("expires in 2 days") || actual.contains("expires in 3 days"),
            "{e}"
        );
    }

    #[test]
    fn expired_wrong_host_and_untrusted_certificates_fail_at_once() {
        let ca = ca();
        for (stub, trust, expected) in [
            (server(&ca, "localhost", -60, -1), true, "expired"),
            (server(&ca, "other.example", -1, 90), true, "name"),
            (server(&ca, "localhost", -1, 90), false, "issuer"),
        ] {
            let (r, e) = check(&stub, trust.then_some(ca.pem.as_str()));
            assert_eq!(r.code, 1, "{expected}: {}", r.stdout);
            assert_eq!(e["attempts"], 1, "TLS errors are not retried: {e}");
            let actual = e["actual"].as_str().unwrap();
            let lower = actual.to_lowercase();
            assert!(
                actual.contains("TLS handshake with localhost failed") && lower.contains(expected),
                "{expected}: {actual}"
            );
        }
    }
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

mod preflight_waits {
    //! An `InProgress` distribution is waited for within the deadline. The emulator reports
    //! `Deployed` on the first read, so this uses the SDK's mock support.
    use aws_sdk_cloudfront::operation::get_distribution::GetDistributionOutput;
    use aws_sdk_cloudfront::types::{Aliases, Distribution, DistributionConfig};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use std::time::Duration;
    use tokio::time::Instant;
    use verify_endpoints::cloudfront::{preflight, PreflightError};

    fn dist(status: &str) -> GetDistributionOutput {
        let config = DistributionConfig::builder()
            .caller_reference("r")
            .comment("c")
            .enabled(true)
            .aliases(
                Aliases::builder()
                    .quantity(1)
                    .items("portal.example.com")
                    .build()
                    .unwrap(),
            )
            .build();
        let d = Distribution::builder()
            .id("E1")
            .arn("arn")
            .status(status)
            .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
            .in_progress_invalidation_batches(0)
            .domain_name("d111.cloudfront.net")
            .set_distribution_config(config.ok())
            .build();
        GetDistributionOutput::builder()
            .set_distribution(d.ok())
            .build()
    }

    #[tokio::test]
    async fn in_progress_is_waited_for_then_deployed_passes() {
        let rule = mock!(aws_sdk_cloudfront::Client::get_distribution)
            .sequence()
            .output(|| dist("InProgress"))
            .output(|| dist("InProgress"))
            .output(|| dist("Deployed"))
            .build();
        let cf = mock_client!(aws_sdk_cloudfront, RuleMode::Sequential, [&rule]);
        let domain = preflight(
            &cf,
            "E1",
            "portal.example.com",
            Instant::now() + Duration::from_secs(10),
            Duration::from_millis(5),
        )
        .await
        .unwrap();
        assert_eq!(domain, "d111.cloudfront.net");
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test]
    async fn still_in_progress_at_the_deadline_fails() {
        let rule =
            mock!(aws_sdk_cloudfront::Client::get_distribution).then_output(|| dist("InProgress"));
        let cf = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&rule]);
        let err = preflight(
            &cf,
            "E1",
            "portal.example.com",
            Instant::now() + Duration::from_millis(50),
            Duration::from_millis(5),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err,
            PreflightError::NotDeployed {
                id: "E1".into(),
                status: "InProgress".into()
            }
        );
        assert!(rule.num_calls() >= 2);
    }
}

/// The value of `header` in a raw request head, names case-insensitive.
fn header_of(head: &str, header: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(header)
            .then(|| v.trim().to_owned())
    })
}

#[test]
fn request_headers_come_from_the_environment_and_basic_auth_from_the_url() {
    let other = HttpStub::start(vec![(
        "/elsewhere",
        vec![Answer::json(200, r#"{"status":"ok"}"#)],
    )]);
    let stub = HttpStub::start(vec![
        ("/health", vec![Answer::json(200, r#"{"status":"ok"}"#)]),
        ("/basic", vec![Answer::json(200, r#"{"status":"ok"}"#)]),
        ("/same", vec![Answer::redirect(302, "/health")]),
        (
            "/away",
            vec![Answer::redirect(302, &other.url("/elsewhere"))],
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let headers =
        "request_header_env = { Authorization = \"SMOKE_AUTH\", \"X-Smoke-Id\" = \"SMOKE_ID\" }";
    let follow = format!("{OK_JSON}\n    {headers}\n    follow_redirects = true");
    let env = env_file(
        &dir,
        &[
            (
                "token",
                stub.url("/health"),
                &format!("{OK_JSON}\n    {headers}"),
            ),
            (
                "basic",
                stub.url("/basic")
                    .replace("http://", "http://smoke%40blog:pa%3Ass@"),
                OK_JSON,
            ),
            ("same-origin", stub.url("/same"), &follow),
            ("other-origin", stub.url("/away"), &follow),
        ],
    );
    let secret = "Bearer 7c1f0e-not-for-logs";
    let run = |vars: &[(&str, &str)]| -> Run {
        let mut cmd = command(env!("CARGO_BIN_EXE_verify-endpoints"), "http://127.0.0.1:9");
        cmd.env_remove("SMOKE_AUTH").env_remove("SMOKE_ID");
        cmd.envs(vars.iter().copied())
            .arg("--env-file")
            .arg(&env)
            .args(["--output", "json", "-vvv"])
            .output()
            .unwrap()
            .into()
    };

    // A variable missing: exit 2 naming endpoint, header and variable, before any request.
    let r = run(&[("SMOKE_AUTH", secret)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("endpoint `token`: request header `X-Smoke-Id` takes its value from the environment variable `SMOKE_ID`, which is not set"),
        "{}",
        r.stderr
    );
    assert_eq!(stub.count("/health"), 0, "no request was made");
    let r = run(&[("SMOKE_AUTH", "Bearer x\u{1}y"), ("SMOKE_ID", "42")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("the value of `SMOKE_AUTH`"),
        "{}",
        r.stderr
    );

    let r = run(&[("SMOKE_AUTH", secret), ("SMOKE_ID", "42")]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let head = &stub.request_heads("/health")[0];
    assert_eq!(header_of(head, "authorization").as_deref(), Some(secret));
    assert_eq!(header_of(head, "x-smoke-id").as_deref(), Some("42"));
    // Basic auth from the URL's (percent-encoded) credentials: smoke@blog:pa:ss.
    let head = &stub.request_heads("/basic")[0];
    assert_eq!(
        header_of(head, "authorization").as_deref(),
        Some("Basic c21va2VAYmxvZzpwYTpzcw==")
    );
    assert_eq!(header_of(head, "x-smoke-id"), None);
    // A redirect within the origin keeps the headers; one to another origin drops them.
    let heads = stub.request_heads("/health");
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert_eq!(
        header_of(&heads[1], "authorization").as_deref(),
        Some(secret)
    );
    let away = other.request_heads("/elsewhere");
    assert_eq!(away.len(), 1);
    assert_eq!(header_of(&away[0], "authorization"), None, "{}", away[0]);
    assert_eq!(header_of(&away[0], "x-smoke-id"), None);
    // The values are never shown, even at trace level.
    for text in [&r.stdout, &r.stderr] {
        assert!(!text.contains("7c1f0e"), "{text}");
        assert!(
            !text.contains("pa:ss") && !text.contains("pa%3Ass"),
            "{text}"
        );
    }
}

#[test]
fn request_header_env_is_validated_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(
        &dir,
        &[(
            "portal",
            "http://127.0.0.1:9/health".into(),
            "request_header_env = { \"Bad Header\" = \"X\", Host = \"H\", Authorization = \"Bearer abc\" }",
        )],
    );
    let r = verify(&env, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    for expected in [
        "env.hcl:6:28: `request_header_env` of endpoint `portal`: `Bad Header` is not an HTTP header name",
        "env.hcl:6:48: `request_header_env` of endpoint `portal`: the `Host` header comes from the URL",
        "env.hcl:6:60: `request_header_env` of endpoint `portal`: `Authorization` must name an environment variable (letters, digits, `_`), found \"Bearer abc\"",
    ] {
        assert!(r.stderr.contains(expected), "{expected}: {}", r.stderr);
    }
}

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
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
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
