//! Secrets never reach output. Every tool runs with a secret access key and a session token
//! in its environment (the SDK signs with them; Terraform's s3 backend uses them too), with
//! maximum logging (`-vvv`), against endpoint URLs that carry basic-auth credentials (sent
//! as a `Basic` header) and secret query values, with an `Authorization` request header from
//! the environment; successful runs and failing ones (the emulator down, a wrong account, an
//! invalid URL in the environment file). The Slack webhook URL the reference environment's
//! `notify` block names (its path is the secret; the webhook first answers 500) and the
//! GitHub token of `tf-wrap comment` are secrets too. Nothing any of them prints on stdout
//! or stderr, and nothing they write (JSON reports, JUnit, the plan bundle) may contain a
//! secret.

use crate::run_with;
use infra_test_support::seed::reference_images;
use infra_test_support::{
    reference_env_file, seed, terraform_backend, Answer, HttpStub, Moto, Run,
};

const SECRET_KEY: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY01";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjSESSIONTOKENsecret0123456789";
const URL_PASSWORD: &str = "p4ssw0rdInTheUrl";
const QUERY_SECRET: &str = "querySecretValue42";
const AUTH_HEADER: &str = "Bearer authHeaderSecret7731";
/// base64 of `deploy:URL_PASSWORD`, the basic-auth header the URL's credentials become.
const BASIC_AUTH: &str = "ZGVwbG95OnA0c3N3MHJkSW5UaGVVcmw=";
const SLACK_SECRET: &str = "slackPathSecret0042";
const GITHUB_TOKEN: &str = "ghp_secretTokenForTheTest0042";

fn secrets() -> [&'static str; 8] {
    [
        SECRET_KEY,
        SESSION_TOKEN,
        URL_PASSWORD,
        QUERY_SECRET,
        AUTH_HEADER,
        BASIC_AUTH,
        SLACK_SECRET,
        GITHUB_TOKEN,
    ]
}

fn vars() -> Vec<(&'static str, Option<&'static str>)> {
    vec![
        ("AWS_SECRET_ACCESS_KEY", Some(SECRET_KEY)),
        ("AWS_SESSION_TOKEN", Some(SESSION_TOKEN)),
        ("RUST_LOG", Some("trace")),
        ("PORTAL_SMOKE_AUTH", Some(AUTH_HEADER)),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for secret in secrets() {
        assert!(
            !text.contains(secret),
            "{what} contains a secret ({secret}):\n{text}"
        );
    }
}

fn assert_run_clean(what: &str, r: &Run) {
    assert_clean(&format!("{what} stdout"), &r.stdout);
    assert_clean(&format!("{what} stderr"), &r.stderr);
}

#[test]
fn no_tool_prints_or_writes_a_secret() {
    let session = Moto::session();
    let endpoint = session.endpoint().to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let env = infra_core::Environment::load(&reference_env_file()).unwrap();
    let sdk = runtime.block_on(session.sdk_config());
    runtime
        .block_on(seed(&sdk, &env, &reference_images()))
        .unwrap();
    terraform_backend(
        &endpoint,
        "eu-west-2",
        "blog-terraform-state",
        "blog-terraform-locks",
    )
    .unwrap();

    let stub = HttpStub::start(vec![
        ("/health", vec![Answer::json(200, r#"{"status":"ok"}"#)]),
        ("/down", vec![Answer::json(503, "no")]),
        (
            "/services/T0/B0/slackPathSecret0042",
            vec![Answer::json(500, "oops"), Answer::html(200, "ok")],
        ),
        // The token's user, for `tf-wrap comment` (whose comments are its own).
        (
            "/github/user",
            vec![Answer::json(200, r#"{"login":"tf-wrap-bot"}"#)],
        ),
    ]);
    let slack_url = stub.url("/services/T0/B0/slackPathSecret0042");
    let github_api = stub.url("/github");
    let mut vars: Vec<(&str, Option<&str>)> = vars();
    vars.extend([
        ("SLACK_WEBHOOK_URL", Some(slack_url.as_str())),
        ("GITHUB_TOKEN", Some(GITHUB_TOKEN)),
        ("GITHUB_API_URL", Some(github_api.as_str())),
        ("CIRCLE_PULL_REQUEST", None),
    ]);
    let with_secrets = |path: &str| {
        stub.url(path)
            .replace("http://", &format!("http://deploy:{URL_PASSWORD}@"))
            + &format!("?token={QUERY_SECRET}&region=eu")
    };

    // A working copy of the reference environment: the Terraform root of the demo, the
    // backend on the emulator, endpoints with credentials.
    let dir = tempfile::tempdir().unwrap();
    let env_file = infra_test_support::local_reference_copy(
        dir.path(),
        &endpoint,
        &with_secrets("/health"),
        &with_secrets("/down"),
    );
    let url_line = format!("url                     = \"{}\"", with_secrets("/health"));
    let text = std::fs::read_to_string(&env_file).unwrap().replace(
        &url_line,
        &format!(
            "{url_line}\n    request_header_env      = {{ Authorization = \"PORTAL_SMOKE_AUTH\" }}"
        ),
    );
    assert!(text.contains("PORTAL_SMOKE_AUTH"), "{text}");
    std::fs::write(&env_file, &text).unwrap();
    let env_arg = env_file.to_str().unwrap().to_owned();
    let junit = dir.path().join("junit.xml");
    let bundle = dir.path().join("bundle");

    let runs: Vec<(&str, Vec<String>)> = vec![
        (
            "park",
            vec!["status".into(), "--output".into(), "json".into()],
        ),
        ("park", vec!["down".into(), "--dry-run".into()]),
        (
            "ecr-tags",
            vec!["pins".into(), "--output".into(), "json".into()],
        ),
        (
            "ecr-tags",
            vec![
                "bump".into(),
                "prefect_deployer_image".into(),
                "--dry-run".into(),
            ],
        ),
        (
            "verify-endpoints",
            vec![
                "--deadline".into(),
                "2s".into(),
                "--junit".into(),
                junit.display().to_string(),
                "--output".into(),
                "json".into(),
            ],
        ),
        ("verify-endpoints", vec!["--deadline".into(), "2s".into()]),
        ("tf-wrap", vec!["init".into()]),
        (
            "tf-wrap",
            vec![
                "plan".into(),
                "--bundle".into(),
                bundle.display().to_string(),
                "--output".into(),
                "json".into(),
            ],
        ),
        (
            "tf-wrap",
            vec![
                "comment".into(),
                "--bundle".into(),
                bundle.display().to_string(),
                "--pr".into(),
                "acme/infra#1".into(),
                "--output".into(),
                "json".into(),
            ],
        ),
        (
            "tf-wrap",
            vec![
                "apply".into(),
                "--bundle".into(),
                bundle.display().to_string(),
            ],
        ),
    ];
    let mut logged = 0;
    for (tool, args) in &runs {
        let mut all: Vec<&str> = vec!["-vvv", "--env-file", &env_arg];
        all.extend(args.iter().map(String::as_str));
        let r = run_with(tool, &all, &endpoint, &vars);
        assert!(r.code != 2, "{tool} {args:?} should have run: {}", r.stderr);
        assert_run_clean(&format!("{tool} {args:?}"), &r);
        logged += r
            .stderr
            .lines()
            .filter(|l| l.contains("TRACE") || l.contains("DEBUG"))
            .count();
        if *tool == "verify-endpoints" {
            assert!(
                r.stdout.contains("***"),
                "the URLs were printed, redacted: {}",
                r.stdout
            );
        }
    }
    assert!(logged > 100, "trace logging was on ({logged} lines)");
    // The failed endpoint checks were sent to Slack (the first answer, 500, retried), and
    // the comment's request carried the token, to the stand-in API only.
    assert!(
        stub.count("/services/T0/B0/slackPathSecret0042") >= 2,
        "the notifications were sent"
    );
    let github = stub.request_heads("/github/repos/acme/infra/issues/1/comments");
    assert!(
        !github.is_empty() && github.iter().all(|h| h.contains(GITHUB_TOKEN)),
        "the token was sent: {github:?}"
    );
    let heads = stub.request_heads("/health");
    assert!(
        !heads.is_empty() && heads.iter().all(|h| h.contains(AUTH_HEADER)),
        "the header was sent: {heads:?}"
    );
    let heads = stub.request_heads("/down");
    assert!(
        !heads.is_empty() && heads.iter().all(|h| h.contains(BASIC_AUTH)),
        "basic auth was sent: {heads:?}"
    );
    let junit_text = std::fs::read_to_string(&junit).unwrap();
    assert!(
        junit_text.contains("<failure"),
        "the /down endpoint failed: {junit_text}"
    );
    assert_clean("JUnit", &junit_text);
    for file in ["manifest.json", "plan.json", "summary.md"] {
        assert_clean(file, &std::fs::read_to_string(bundle.join(file)).unwrap());
    }

    // Failures: the emulator down, a wrong account.
    drop(session);
    let closed = crate::closed_endpoint();
    for (tool, args) in [
        ("park", vec!["status"]),
        ("ecr-tags", vec!["pins"]),
        ("tf-wrap", vec!["plan", "--bundle", "b2"]),
    ] {
        let mut all: Vec<&str> = vec!["-vvv", "--env-file", &env_arg, "--max-attempts", "1"];
        all.extend(args.iter());
        let r = run_with(tool, &all, &closed, &vars);
        assert_ne!(r.code, 0, "{tool} against a closed port");
        assert_run_clean(&format!("{tool} {args:?} (emulator down)"), &r);
    }

    // An invalid URL with credentials in the environment file is reported without them.
    let bad = dir.path().join("bad.env.hcl");
    std::fs::write(
        &bad,
        text.replace(
            &with_secrets("/health"),
            &format!("http://deploy:{URL_PASSWORD}@bad host/?token={QUERY_SECRET}"),
        ),
    )
    .unwrap();
    let r = run_with(
        "verify-endpoints",
        &["--env-file", bad.to_str().unwrap()],
        &closed,
        &vars,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_run_clean("invalid URL", &r);
}
