//! The CloudFront preflight against the emulator.

use crate::support::*;
use aws_sdk_cloudfront::types::{
    Aliases, CookiePreference, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig,
    ForwardedValues, ItemSelection, Origin, OriginProtocolPolicy, Origins, ViewerProtocolPolicy,
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
