//! Request headers from environment variables and basic auth from URL credentials.

use crate::support::*;

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
