//! Notifications from `park down` / `park up` (the environment file's `notify` block),
//! against the harness' HTTP stub standing in for a Slack incoming webhook and a generic
//! webhook (neither is reachable from here): a failed unpark sends one message naming the
//! service and the CircleCI job; a held park sends `held` with who, why and the release
//! command; a webhook answering 500 is retried and the run's exit code does not change; a
//! webhook that never answers does not hold the run past its deadline; URLs never appear
//! in any output.

use crate::support::Fleet;
use infra_test_support::{Answer, HttpStub};
use std::time::{Duration, Instant};

const SLACK_PATH: &str = "/services/T0SECRET/B0SECRET/slacksecrettoken";
const WEBHOOK_PATH: &str = "/hooks/webhooksecrettoken";
const JOB_URL: &str = "https://circleci.com/gh/example/infra/4242";

const NOTIFY: &str = r#"
  notify {
    slack_webhook_env = "TEST_SLACK_WEBHOOK_URL"
    webhook_env       = "TEST_WEBHOOK_URL"
    on                = ["failed", "refused", "held"]
  }
"#;

fn notifying_fleet(services: usize) -> Fleet {
    let fleet = Fleet::new(services);
    let text = std::fs::read_to_string(&fleet.env_file).unwrap();
    let (head, rest) = text.split_once('\n').unwrap();
    std::fs::write(&fleet.env_file, format!("{head}\n{NOTIFY}{rest}")).unwrap();
    fleet
}

/// The variables a CI job would have: both URLs (into the stub) and the job URL.
fn vars(stub: &HttpStub) -> Vec<(&'static str, String)> {
    vec![
        ("TEST_SLACK_WEBHOOK_URL", stub.url(SLACK_PATH)),
        ("TEST_WEBHOOK_URL", stub.url(WEBHOOK_PATH)),
        ("CIRCLE_BUILD_URL", JOB_URL.to_owned()),
    ]
}

fn run(fleet: &Fleet, args: &[&str], vars: &[(&str, String)]) -> infra_test_support::Run {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fleet.park_with(args, &vars)
}

/// No URL, no part of one, in anything the run printed.
fn assert_no_secret(r: &infra_test_support::Run) {
    for secret in [
        "slacksecrettoken",
        "T0SECRET",
        "webhooksecrettoken",
        "/hooks/",
    ] {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "{secret} printed:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
}

fn hold(fleet: &Fleet) {
    let r = fleet.park(&[
        "hold",
        "--until",
        "3h",
        "--reason",
        "late release testing",
        "--by",
        "alice",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_failed_unpark_sends_one_slack_message_naming_the_service_and_the_job() {
    let fleet = notifying_fleet(3);
    let stub = HttpStub::start(vec![
        (SLACK_PATH, vec![Answer::html(200, "ok")]),
        (WEBHOOK_PATH, vec![Answer::json(200, "{}")]),
    ]);
    assert_eq!(run(&fleet, &["down"], &vars(&stub)).code, 0);
    assert_eq!(stub.count(SLACK_PATH), 0, "a clean park sends nothing");
    // A service deleted behind park's back cannot come back up.
    fleet.delete_service("svc-00");
    let r = run(&fleet, &["up", "--output", "json"], &vars(&stub));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let slack = stub.requests(SLACK_PATH);
    assert_eq!(slack.len(), 1, "exactly one Slack message");
    assert_eq!(slack[0].method, "POST");
    let message = slack[0].json();
    let text = message.to_string();
    assert!(text.contains("fleet/svc-00"), "{text}");
    assert!(text.contains(JOB_URL), "{text}");
    assert!(text.contains("`park up` failed"), "{text}");
    assert!(message["blocks"].as_array().is_some_and(|b| b.len() >= 2));
    // The generic webhook gets the run's own report, with the event.
    let webhook = stub.requests(WEBHOOK_PATH);
    assert_eq!(webhook.len(), 1);
    let body = webhook[0].json();
    assert_eq!(body["event"], "failed");
    assert_eq!(body["schema"], "park/run");
    assert_eq!(body["job_url"], JOB_URL);
    // The run's JSON says what was sent.
    let json = r.json();
    let sent: Vec<(&str, &str)> = json["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["channel"].as_str().unwrap(),
                d["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(sent, [("slack", "sent"), ("webhook", "sent")], "{json}");
    assert_no_secret(&r);
}

#[test]
fn a_held_park_sends_held_with_who_why_and_the_release_command() {
    let fleet = notifying_fleet(2);
    hold(&fleet);
    let stub = HttpStub::start(vec![(SLACK_PATH, vec![Answer::html(200, "ok")])]);
    // Only Slack's variable is set: the webhook's is a warning, not an error.
    let vars: Vec<(&str, String)> = vars(&stub)
        .into_iter()
        .filter(|(k, _)| *k != "TEST_WEBHOOK_URL")
        .collect();
    let r = run(&fleet, &["down", "--output", "json"], &vars);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let slack = stub.requests(SLACK_PATH);
    assert_eq!(slack.len(), 1);
    let text = slack[0].json().to_string();
    for needle in ["held", "alice", "late release testing", "park release"] {
        assert!(text.contains(needle), "{needle} not in {text}");
    }
    let json = r.json();
    assert_eq!(json["notifications"][0]["result"], "sent", "{json}");
    assert_eq!(json["notifications"][1]["result"], "skipped", "{json}");
    assert!(
        r.stderr.contains("TEST_WEBHOOK_URL is not set"),
        "{}",
        r.stderr
    );
    // --no-notify: nothing sent, the same outcome.
    let quiet = run(&fleet, &["down", "--no-notify", "--output", "json"], &vars);
    assert_eq!(quiet.code, r.code);
    assert_eq!(stub.count(SLACK_PATH), 1);
    assert!(quiet.json().get("notifications").is_none());
}

#[test]
fn a_webhook_answering_500_is_retried_and_the_exit_code_is_unchanged() {
    let fleet = notifying_fleet(2);
    hold(&fleet);
    let stub = HttpStub::start(vec![
        (
            WEBHOOK_PATH,
            vec![
                Answer::json(500, r#"{"error":"try again"}"#).header("Retry-After", "1"),
                Answer::json(200, "{}"),
            ],
        ),
        (SLACK_PATH, vec![Answer::html(200, "ok")]),
    ]);
    let without = run(&fleet, &["down", "--no-notify"], &vars(&stub));
    let r = run(&fleet, &["down", "--output", "json"], &vars(&stub));
    assert_eq!(r.code, without.code, "{}", r.stderr);
    assert_eq!(stub.count(WEBHOOK_PATH), 2, "retried once");
    let json = r.json();
    let webhook = &json["notifications"][1];
    assert_eq!(webhook["channel"], "webhook", "{json}");
    assert_eq!(webhook["result"], "sent", "{json}");
    assert_eq!(webhook["attempts"], 2, "{json}");
    let body = stub.requests(WEBHOOK_PATH)[1].json();
    assert_eq!(body["event"], "held");
    assert_eq!(body["hold"]["reason"], "late release testing");
    assert_no_secret(&r);
}

#[test]
fn a_webhook_that_never_answers_does_not_hold_the_run_past_its_deadline() {
    let fleet = notifying_fleet(2);
    hold(&fleet);
    let stub = HttpStub::start(vec![
        (
            WEBHOOK_PATH,
            vec![Answer::json(200, "{}").after(Duration::from_secs(600))],
        ),
        (SLACK_PATH, vec![Answer::html(200, "ok")]),
    ]);
    let start = Instant::now();
    let r = run(
        &fleet,
        &["down", "--deadline", "5s", "--output", "json"],
        &vars(&stub),
    );
    let took = start.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The run's deadline (5 s), and at least 10 s for notifications after the run: far
    // from the webhook's 600 s. (A bound on a hang, not a timing measurement.)
    assert!(took < Duration::from_secs(120), "took {took:?}");
    let json = r.json();
    let webhook = &json["notifications"][1];
    assert_eq!(webhook["result"], "failed", "{json}");
    assert!(
        webhook["reason"]
            .as_str()
            .unwrap()
            .contains("no answer in time"),
        "{json}"
    );
    assert_eq!(json["notifications"][0]["result"], "sent", "{json}");
    assert!(
        r.stderr.contains("was not sent to the webhook"),
        "{}",
        r.stderr
    );
    assert_no_secret(&r);
}

/// A refused run with a long deadline and a webhook that never answers: notifications get
/// one budget (30 s) whatever `--deadline` says, each request at most 10 s, so the run
/// ends within seconds of its refusal, not 10 minutes later.
#[test]
fn a_refused_run_is_not_held_by_a_hanging_webhook_whatever_its_deadline() {
    let fleet = notifying_fleet(2);
    let _holder = crate::lock::someone_else(&fleet);
    let stub = HttpStub::start(vec![
        (
            WEBHOOK_PATH,
            vec![Answer::json(200, "{}").after(Duration::from_secs(900))],
        ),
        (
            SLACK_PATH,
            vec![Answer::html(200, "ok").after(Duration::from_secs(900))],
        ),
    ]);
    let start = Instant::now();
    let r = run(
        &fleet,
        &["down", "--deadline", "10m", "--lock-timeout", "1s"],
        &vars(&stub),
    );
    let took = start.elapsed();
    assert_eq!(r.code, 4, "{}", r.stderr);
    // A bound on a hang (the issue's 45 s), not a timing measurement.
    assert!(took < Duration::from_secs(45), "took {took:?}");
    assert!(
        r.stderr.contains("alice@laptop"),
        "the refusal is reported: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("was not sent to the webhook") && r.stderr.contains("no answer in time"),
        "{}",
        r.stderr
    );
    assert_no_secret(&r);
}

#[test]
fn a_run_refused_by_a_held_lock_sends_refused_with_the_unlock_command() {
    let fleet = notifying_fleet(2);
    let holder = crate::lock::someone_else(&fleet);
    let stub = HttpStub::start(vec![
        (SLACK_PATH, vec![Answer::html(200, "ok")]),
        (WEBHOOK_PATH, vec![Answer::json(200, "{}")]),
    ]);
    let r = run(&fleet, &["down", "--lock-timeout", "1s"], &vars(&stub));
    assert_eq!(r.code, 4, "{}", r.stderr);
    let slack = stub.requests(SLACK_PATH);
    assert_eq!(slack.len(), 1);
    let text = slack[0].json().to_string();
    assert!(text.contains("`park down` refused"), "{text}");
    assert!(text.contains("alice@laptop"), "{text}");
    assert!(
        text.contains(&format!("park unlock {}", holder.id)),
        "{text}"
    );
    // No report was made: the webhook gets the notice's own fields.
    let body = stub.requests(WEBHOOK_PATH)[0].json();
    assert_eq!(body["event"], "refused");
    assert_eq!(
        body["release_command"],
        format!("park unlock {}", holder.id)
    );
    assert!(r.stderr.contains("held by"), "{}", r.stderr);
    assert_no_secret(&r);
}

/// CircleCI cancels a job with SIGTERM and kills it seconds later: a SIGTERM while a
/// notification waits on a webhook that never answers ends the run within seconds, its
/// report printed and its exit code unchanged, the notification `failed`; the run's
/// 10-minute deadline is not waited for.
#[test]
fn a_sigterm_while_a_notification_is_pending_ends_the_run_within_seconds() {
    let fleet = notifying_fleet(2);
    hold(&fleet);
    let stub = HttpStub::start(vec![
        (
            WEBHOOK_PATH,
            vec![Answer::json(200, "{}").after(Duration::from_secs(600))],
        ),
        (SLACK_PATH, vec![Answer::html(200, "ok")]),
    ]);
    let vars = vars(&stub);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let child = fleet.spawn_with(&["down", "--deadline", "10m", "--output", "json"], &vars);
    // The webhook has the request: the run is over, its notification pending.
    let start = Instant::now();
    while stub.count(WEBHOOK_PATH) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no notification"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let signalled = Instant::now();
    infra_test_support::sigterm(child.id());
    let r: infra_test_support::Run = child.wait_with_output().unwrap().into();
    let took = signalled.elapsed();
    // 3 s after the signal at most (a bound on a hang, not a timing measurement).
    assert!(
        took < Duration::from_secs(60),
        "ended {took:?} after SIGTERM"
    );
    assert_eq!(r.code, 0, "the held run's exit code: {}", r.stderr);
    let json = r.json();
    assert_eq!(json["hold"]["result"], "held", "{json}");
    assert_eq!(json["notifications"][0]["result"], "sent", "{json}");
    let webhook = &json["notifications"][1];
    assert_eq!(webhook["result"], "failed", "{json}");
    assert!(
        webhook["reason"]
            .as_str()
            .unwrap()
            .contains("a signal stopped the run"),
        "{json}"
    );
    assert_no_secret(&r);
}

/// A webhook that throttles every request (429, `Retry-After: 1`): at most 5 requests,
/// then `failed` naming the status and the attempts; Slack's message still goes out and
/// the run's exit code is the one it has without notifications.
#[test]
fn a_webhook_throttling_every_request_is_given_up_after_five_attempts() {
    let fleet = notifying_fleet(2);
    hold(&fleet);
    let stub = HttpStub::start(vec![
        (
            WEBHOOK_PATH,
            vec![Answer::json(429, r#"{"error":"slow down"}"#).header("Retry-After", "1")],
        ),
        (SLACK_PATH, vec![Answer::html(200, "ok")]),
    ]);
    let without = run(&fleet, &["down", "--no-notify"], &vars(&stub));
    let r = run(&fleet, &["down", "--output", "json"], &vars(&stub));
    assert_eq!(r.code, without.code, "{}", r.stderr);
    assert_eq!(stub.count(WEBHOOK_PATH), 5);
    let json = r.json();
    let webhook = &json["notifications"][1];
    assert_eq!(webhook["result"], "failed", "{json}");
    assert_eq!(webhook["attempts"], 5, "{json}");
    assert!(
        webhook["reason"].as_str().unwrap().starts_with("HTTP 429"),
        "{json}"
    );
    assert_eq!(json["notifications"][0]["result"], "sent", "{json}");
    assert!(
        r.stderr.contains("was not sent to the webhook: HTTP 429"),
        "{}",
        r.stderr
    );
    assert_no_secret(&r);
}
