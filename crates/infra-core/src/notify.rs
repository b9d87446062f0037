//! The environment file's `notify` block as the model holds it: which variables name the
//! destinations (never the URLs: a webhook URL is a credential) and which events are sent.
//! Sending is the `infra-notify` crate's (`infra_notify::step`), above the core.

use serde::Serialize;

/// What a person must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    /// A run failed: a resource failed, the run was interrupted or ran out of time.
    Failed,
    /// A safety guard refused to act: the lock is held by someone else, the account guard,
    /// a conflict.
    Refused,
    /// A scheduled park skipped by a hold.
    Held,
    /// `tf-wrap drift` found drift that park does not explain.
    UnexpectedDrift,
    /// `ecr-tags pins --live --check`: production does not run a pin.
    NotLive,
}

impl Event {
    /// Every event, in the order the README lists them.
    pub const ALL: [Event; 5] = [
        Event::Failed,
        Event::Refused,
        Event::UnexpectedDrift,
        Event::Held,
        Event::NotLive,
    ];

    /// As the file and the reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Failed => "failed",
            Event::Refused => "refused",
            Event::Held => "held",
            Event::UnexpectedDrift => "unexpected-drift",
            Event::NotLive => "not-live",
        }
    }

    /// The event spelt `text`.
    pub fn parse(text: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

/// The environment file's `notify` block (variable names, never their values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotifyConfig {
    /// The environment variable holding the Slack incoming-webhook URL.
    pub slack_webhook_env: Option<String>,
    /// The environment variable holding a URL the JSON report is POSTed to.
    pub webhook_env: Option<String>,
    /// The events sent (default: all).
    pub on: Vec<Event>,
}

impl NotifyConfig {
    /// Whether `event` is sent (`on`). Callers ask before they build a [`Notice`].
    pub fn wants(&self, event: Event) -> bool {
        self.on.contains(&event)
    }
}
