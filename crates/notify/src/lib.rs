//! Notifications: a message to Slack (an incoming webhook, Block Kit) and the tool's JSON
//! report to a generic webhook when a run ends in something a person must act on.
//!
//! The environment file's `notify` block names the *variables* holding the URLs, never
//! the URLs: a webhook URL is a credential. So no message, warning, error or report here
//! contains a URL, and what a server answered is reduced to its status code.
//!
//! Sending never changes what a tool did or its exit code: a notification that cannot be
//! sent is a [`Delivery`] with `result: failed` (and a warning the tool prints). All the
//! notifications of a run share one budget, [`BUDGET`] from when the run ended, whatever
//! the run's deadline (a refused run never waits minutes on a webhook, and CircleCI's
//! no-output kill never comes before the report); within it, the run's deadline when
//! that is sooner, but at least [`MIN_TIME`] (so a run that ended by its deadline still
//! reports it). Each request gets at most [`http::ATTEMPT_TIME`]; 429 and 5xx are retried
//! honouring `Retry-After`.

pub mod http;

use http::HttpError;
pub use infra_core::notify::{Event, NotifyConfig};
use infra_core::runner::Stop;
use serde::Serialize;
use std::time::Duration;
use tokio::time::Instant;

/// What happened, for the message.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The event.
    pub event: Event,
    /// The environment's name.
    pub environment: String,
    /// The tool and command, as a person would type it (`park up --scheduled`).
    pub command: String,
    /// One line: what happened.
    pub outcome: String,
    /// The resources concerned (the message shows the first 10 and a count).
    pub resources: Vec<String>,
    /// The exact command that releases what blocks the next run (a held or stale lock, a
    /// hold), when there is one.
    pub release_command: Option<String>,
    /// The tool's JSON report, when it made one: the generic webhook's body (with `event`).
    pub report: Option<serde_json::Value>,
}

impl Notice {
    /// The notice of `event` for a run that wrote `report` (the generic webhook's body).
    pub fn of_report<R: infra_core::output::Report>(
        event: Event,
        environment: &str,
        command: &str,
        outcome: String,
        resources: Vec<String>,
        report: &R,
    ) -> Notice {
        Notice {
            event,
            environment: environment.to_owned(),
            command: command.to_owned(),
            outcome,
            resources,
            release_command: None,
            report: infra_core::output::json_document(report).ok(),
        }
    }
}

/// Where a notification goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// The Slack incoming webhook.
    Slack,
    /// The generic webhook.
    Webhook,
}

impl Channel {
    fn describe(self) -> &'static str {
        match self {
            Channel::Slack => "the Slack webhook",
            Channel::Webhook => "the webhook",
        }
    }
}

/// Whether a notification went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryResult {
    /// Accepted (2xx).
    Sent,
    /// Not sent: see `reason`.
    Failed,
    /// Not attempted: the variable naming its URL is unset.
    Skipped,
}

/// One notification's fate (`notifications[]` in the reports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Slack or the webhook.
    pub channel: Channel,
    /// The event it was for.
    pub event: Event,
    /// Sent, failed or skipped.
    pub result: DeliveryResult,
    /// Requests made.
    pub attempts: u32,
    /// Why it failed or was skipped (never a URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Delivery {
    /// The warning a tool prints for a delivery that was not sent; `None` when sent.
    pub fn warning(&self) -> Option<String> {
        let reason = self.reason.as_deref().unwrap_or("-");
        match self.result {
            DeliveryResult::Sent => None,
            DeliveryResult::Failed => Some(format!(
                "the {} notification was not sent to {}: {reason} (the run's outcome is unchanged)",
                self.event.as_str(),
                self.channel.describe()
            )),
            DeliveryResult::Skipped => Some(format!(
                "no {} notification to {}: {reason}",
                self.event.as_str(),
                self.channel.describe()
            )),
        }
    }
}

/// The least time notifications get after a run ends, even one that ended by its deadline.
pub const MIN_TIME: Duration = Duration::from_secs(10);
/// The most time notifications get after a signal (SIGINT/SIGTERM).
pub const STOPPED_TIME: Duration = Duration::from_secs(3);
/// The most time all of a run's notifications get after it ends, whatever its deadline.
pub const BUDGET: Duration = Duration::from_secs(30);
/// Requests per notification at most.
pub const MAX_ATTEMPTS: u32 = 5;

/// The CircleCI job's URL, when the run is a CircleCI job.
pub const JOB_URL_ENV: &str = "CIRCLE_BUILD_URL";

/// Until when notifications may be sent for a run with `deadline`: its deadline, but at
/// least [`MIN_TIME`] and at most [`BUDGET`] from now.
pub fn until(deadline: &infra_core::retry::Deadline) -> Instant {
    let now = Instant::now();
    let budget = now + BUDGET;
    match deadline.instant() {
        Some(d) => d.max(now + MIN_TIME).min(budget),
        None => budget,
    }
}

/// Sends `notice` where `config` says, if `config` asks for its event; one [`Delivery`]
/// per channel configured. Nothing here fails: a notification that cannot be sent is a
/// delivery with `result: failed`. A signal (`stop`) during the sending leaves what is
/// still in flight [`STOPPED_TIME`], then gives it up (`failed`); what was sent stays
/// `sent`.
pub async fn deliver(
    config: &NotifyConfig,
    notice: &Notice,
    until: Instant,
    stop: &Stop,
) -> Vec<Delivery> {
    if !config.wants(notice.event) {
        return Vec::new();
    }
    let job_url = std::env::var(JOB_URL_ENV).ok().filter(|u| !u.is_empty());
    // Both channels at once, each bounded by `until`: a hanging one never costs the other
    // its chance.
    let sends = [
        (Channel::Slack, &config.slack_webhook_env),
        (Channel::Webhook, &config.webhook_env),
    ];
    let tasks: Vec<_> = sends
        .into_iter()
        .filter_map(|(channel, var)| {
            let body = match channel {
                Channel::Slack => slack_message(notice, job_url.as_deref()),
                Channel::Webhook => webhook_body(notice, job_url.as_deref()),
            };
            let var = var.clone()?;
            Some((
                channel,
                tokio::spawn(post(channel, notice.event, var, body, until)),
            ))
        })
        .collect();
    let cutoff = async {
        stop.wait().await;
        tokio::time::sleep(STOPPED_TIME).await;
    };
    tokio::pin!(cutoff);
    let mut cut = false;
    let mut deliveries = Vec::new();
    for (channel, mut task) in tasks {
        let mut ended = None;
        if !cut {
            tokio::select! {
                biased;
                result = &mut task => ended = Some(result),
                () = &mut cutoff => cut = true,
            }
        }
        let given_up = |reason: String| Delivery {
            channel,
            event: notice.event,
            result: DeliveryResult::Failed,
            attempts: 0,
            reason: Some(reason),
        };
        let ended = match ended {
            Some(result) => Some(result),
            None if task.is_finished() => Some(task.await),
            None => {
                task.abort();
                None
            }
        };
        deliveries.push(match ended {
            Some(Ok(delivery)) => delivery,
            Some(Err(e)) => given_up(format!("the sending task ended: {e}")),
            None => given_up("a signal stopped the run before it was sent".into()),
        });
    }
    deliveries
}

/// Sends `notice` where the environment file's `notify` block says, and logs a warning for each notification not sent. A signal (`stop`), before or during
/// the sending, leaves it [`STOPPED_TIME`] at most: CI kills a cancelled job seconds after
/// its SIGTERM, and the run's report must be printed by then.
pub async fn send(
    config: &NotifyConfig,
    notice: &Notice,
    until: Instant,
    stop: &Stop,
) -> Vec<Delivery> {
    let until = match stop.requested() {
        true => until.min(Instant::now() + STOPPED_TIME),
        false => until,
    };
    let deliveries = deliver(config, notice, until, stop).await;
    for warning in deliveries.iter().filter_map(Delivery::warning) {
        tracing::warn!("{warning}");
    }
    deliveries
}

/// The notification step every tool takes once its run's outcome is decided (the one
/// path: park, tf-wrap drift, verify-endpoints and ecr-tags pins call only this). `notice`
/// is the tool's, when its outcome is one a person must act on; it is sent when there is
/// a `notify` block (`config`: `None` also for `--no-notify`) that wants its event, within
/// the notification budget of the run's `deadline` ([`until`]), cut short by `stop`.
/// Returns the deliveries for the report (none when nothing was due). It never changes the
/// run's outcome.
pub async fn step(
    config: Option<&NotifyConfig>,
    notice: Option<Notice>,
    deadline: &infra_core::retry::Deadline,
    stop: &Stop,
) -> Vec<Delivery> {
    match (config, notice) {
        (Some(config), Some(notice)) if config.wants(notice.event) => {
            send(config, &notice, until(deadline), stop).await
        }
        _ => Vec::new(),
    }
}

/// Text from outside (a resource address, a reason, a holder's name) made inert in Slack's
/// mrkdwn: `&`, `<` and `>` escaped as Slack asks, so `<!channel>` or `<https://x|Approve>`
/// in a `for_each` key is shown, never acted on.
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Slack message (Block Kit, with a plain-text fallback): the environment, the command,
/// the outcome, the first 10 resources and a count, the command that releases a lock or a
/// hold, and the CircleCI job. Everything interpolated is escaped ([`slack_escape`]).
pub fn slack_message(notice: &Notice, job_url: Option<&str>) -> serde_json::Value {
    let job_url = job_url.filter(|u| http::plain_https_url(u));
    let title = format!(
        "{}: `{}` {}",
        slack_escape(&notice.environment),
        slack_escape(&notice.command),
        notice.event.as_str()
    );
    let outcome = slack_escape(&notice.outcome);
    let mut blocks = vec![serde_json::json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": format!("*{title}*\n{outcome}")}
    })];
    if !notice.resources.is_empty() {
        let shown: Vec<String> = notice
            .resources
            .iter()
            .take(10)
            .map(|r| format!("• `{}`", slack_escape(r)))
            .collect();
        let mut text = format!(
            "*Resources ({}):*\n{}",
            notice.resources.len(),
            shown.join("\n")
        );
        if notice.resources.len() > 10 {
            text.push_str(&format!("\n…and {} more", notice.resources.len() - 10));
        }
        blocks.push(serde_json::json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": text}
        }));
    }
    if let Some(release) = &notice.release_command {
        blocks.push(serde_json::json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("*To release it:* `{}`", slack_escape(release))}
        }));
    }
    let tool = notice.command.split_whitespace().next().unwrap_or_default();
    let mut context = format!("{} {}", slack_escape(tool), infra_core::build::VERSION);
    if let Some(url) = job_url {
        context = format!("<{url}|CircleCI job> · {context}");
    }
    blocks.push(serde_json::json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": context}]
    }));
    let mut fallback = format!("{title}: {outcome}");
    if let Some(url) = job_url {
        fallback.push_str(&format!(" ({url})"));
    }
    serde_json::json!({ "text": fallback, "blocks": blocks })
}

/// The generic webhook's body: the tool's report as is, with `event` (and the job URL);
/// without a report, the notice's own fields.
pub fn webhook_body(notice: &Notice, job_url: Option<&str>) -> serde_json::Value {
    let mut body = match &notice.report {
        Some(serde_json::Value::Object(report)) => report.clone(),
        _ => {
            let mut m = serde_json::Map::new();
            m.insert("environment".into(), notice.environment.clone().into());
            m.insert("command".into(), notice.command.clone().into());
            m.insert("outcome".into(), notice.outcome.clone().into());
            m.insert("resources".into(), notice.resources.clone().into());
            if let Some(r) = &notice.release_command {
                m.insert("release_command".into(), r.clone().into());
            }
            m
        }
    };
    body.insert("event".into(), notice.event.as_str().into());
    if let Some(url) = job_url {
        body.insert("job_url".into(), url.into());
    }
    serde_json::Value::Object(body)
}

/// POSTs `body` to the URL in variable `var`, retrying 429 / 5xx / a broken connection
/// until `until` ([`http::send_retrying`]).
async fn post(
    channel: Channel,
    event: Event,
    var: String,
    body: serde_json::Value,
    until: Instant,
) -> Delivery {
    let delivery = |result, attempts, reason: Option<String>| Delivery {
        channel,
        event,
        result,
        attempts,
        reason,
    };
    let var = var.as_str();
    let url = match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => {
            return delivery(
                DeliveryResult::Skipped,
                0,
                Some(format!("{var} is not set")),
            )
        }
    };
    let url = match http::secret_url(var, &url) {
        Ok(url) => url,
        Err(why) => return delivery(DeliveryResult::Failed, 0, Some(why)),
    };
    let tls = match http::tls_config(&[]) {
        Ok(tls) => tls,
        Err(e) => return delivery(DeliveryResult::Failed, 0, Some(format!("TLS setup: {e}"))),
    };
    let request = http::Request {
        method: hyper::Method::POST,
        url,
        headers: Vec::new(),
        body: Some(serde_json::to_vec(&body).unwrap_or_default()),
    };
    let retried = http::send_retrying(&request, &tls, until, MAX_ATTEMPTS).await;
    let attempts = retried.attempts;
    let (result, reason) = match retried.result {
        Ok(r) if (200..300).contains(&r.status) => (DeliveryResult::Sent, None),
        Ok(r) => {
            let mut reason = format!("HTTP {}{}", r.status, hint(channel, r.status, var));
            if let Some(why) = retried.gave_up {
                reason.push_str(&format!(" ({attempts} attempt(s); {why})"));
            }
            (DeliveryResult::Failed, Some(reason))
        }
        Err(e @ HttpError::Timeout(_)) => (
            DeliveryResult::Failed,
            Some(format!(
                "{e}: no answer within the request's {} s or the notifications' {} s",
                http::ATTEMPT_TIME.as_secs(),
                BUDGET.as_secs()
            )),
        ),
        Err(e) => (
            DeliveryResult::Failed,
            Some(format!("{e} ({attempts} attempt(s))")),
        ),
    };
    delivery(result, attempts, reason)
}

/// What to check for a refused request.
fn hint(channel: Channel, status: u16, var: &str) -> String {
    match (channel, status) {
        (_, 404 | 410) => format!(": check the URL in {var} (the webhook may have been removed)"),
        (_, 401 | 403) => format!(": the URL in {var} is not accepted (revoked or mistyped)"),
        (Channel::Slack, 400) => ": Slack refused the message".to_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(resources: usize) -> Notice {
        Notice {
            event: Event::Failed,
            environment: "prod".into(),
            command: "park up".into(),
            outcome: "1 of 3 resources failed".into(),
            resources: (0..resources)
                .map(|i| format!("blog-prod/svc-{i}"))
                .collect(),
            release_command: None,
            report: None,
        }
    }

    #[test]
    fn the_slack_message_shows_ten_resources_and_a_count() {
        let m = slack_message(&notice(12), Some("https://circleci.example/job/7"));
        let text = m.to_string();
        assert!(text.contains("svc-9"), "{text}");
        assert!(!text.contains("svc-10"), "{text}");
        assert!(text.contains("Resources (12)"), "{text}");
        assert!(text.contains("and 2 more"), "{text}");
        assert!(text.contains("<https://circleci.example/job/7|CircleCI job>"));
        assert!(m["text"]
            .as_str()
            .unwrap()
            .starts_with("prod: `park up` failed"));
    }

    #[test]
    fn text_from_outside_cannot_format_or_link_in_slack() {
        let mut n = notice(0);
        n.resources = vec!["aws_ecs_service.this[\"<!channel>\"]".into()];
        n.outcome = "drift in <https://evil.example|Approve> & more".into();
        n.release_command = Some("park unlock <@U123>".into());
        let m = slack_message(&n, Some("https://circleci.example/job/7>|x"));
        let text = m.to_string();
        for raw in ["<!channel>", "<https://evil", "<@U123>", "|x", " & "] {
            assert!(!text.contains(raw), "{raw} in {text}");
        }
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
        assert!(text.contains("&amp; more"), "{text}");
        assert!(
            !text.contains("CircleCI job"),
            "a bad job URL is left out: {text}"
        );
    }

    #[test]
    fn a_secret_url_must_be_https_unless_it_stays_on_this_machine() {
        for ok in [
            "https://hooks.slack.com/services/T/B/x",
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://[::1]:9/hook",
        ] {
            assert!(http::secret_url("V", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/x",
            "ftp://127.0.0.1/x",
            "hooks.example.com/x",
            "",
        ] {
            let e = http::secret_url("V", bad).unwrap_err();
            assert!(e.starts_with("V "), "{e}");
            assert!(
                bad.is_empty() || !e.contains(bad),
                "the URL is never echoed: {e}"
            );
        }
    }

    #[test]
    fn the_webhook_gets_the_report_with_its_event() {
        let mut n = notice(1);
        n.report = Some(serde_json::json!({"schema": "park/run", "resources": []}));
        let body = webhook_body(&n, None);
        assert_eq!(body["event"], "failed");
        assert_eq!(body["schema"], "park/run");
    }

    #[test]
    fn events_parse_as_written() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(e));
        }
        assert_eq!(Event::parse("drift"), None);
    }
}
