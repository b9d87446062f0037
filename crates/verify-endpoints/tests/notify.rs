//! A failed check is sent where the environment file's `notify` block says, to the
//! harness' HTTP stub standing in for a Slack incoming webhook (none is reachable here);
//! the exit code is the same with or without it, and the URL is never printed.

use crate::support::*;

const SLACK: &str = "/services/T0/B0/slacksecrettoken";

#[test]
fn a_failed_check_sends_one_message_naming_the_endpoint() {
    let stub = HttpStub::start(vec![(SLACK, vec![Answer::html(200, "ok")])]);
    let dir = tempfile::tempdir().unwrap();
    let env = env_file(&dir, &[("portal", stub.url("/missing"), OK_JSON)]);
    let text = std::fs::read_to_string(&env).unwrap().replacen(
        "  region     = \"eu-west-2\"\n",
        "  region     = \"eu-west-2\"\n  notify {\n    slack_webhook_env = \"TEST_SLACK_URL\"\n  }\n",
        1,
    );
    std::fs::write(&env, text).unwrap();
    let run = |args: &[&str]| -> Run {
        command(env!("CARGO_BIN_EXE_verify-endpoints"), "http://127.0.0.1:9")
            .env("TEST_SLACK_URL", stub.url(SLACK))
            .env("CIRCLE_BUILD_URL", "https://circleci.com/gh/acme/infra/7")
            .arg("--env-file")
            .arg(&env)
            .args(["--deadline", "10s", "--output", "json"])
            .args(args)
            .output()
            .unwrap()
            .into()
    };
    let quiet = run(&["--no-notify"]);
    assert_eq!(stub.count(SLACK), 0);
    let r = run(&[]);
    assert_eq!(r.code, quiet.code, "{}", r.stderr);
    assert_eq!(r.code, 1);
    let sent = stub.requests(SLACK);
    assert_eq!(sent.len(), 1, "one message");
    let message = sent[0].json().to_string();
    assert!(message.contains("`portal`"), "{message}");
    assert!(message.contains("verify-endpoints"), "{message}");
    assert!(
        message.contains("circleci.com/gh/acme/infra/7"),
        "{message}"
    );
    assert_eq!(r.json()["notifications"][0]["result"], "sent");
    assert!(!r.stdout.contains("slacksecrettoken") && !r.stderr.contains("slacksecrettoken"));
}
