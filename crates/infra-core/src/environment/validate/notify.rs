//! The `notify` block: which variables hold the notification URLs, and for which events.

use super::{KeyPath, Validator};
use crate::environment::raw::RawNotify;
use crate::notify::{Event, NotifyConfig};

impl Validator<'_, '_> {
    pub(super) fn notify(&mut self, env: &KeyPath, raw: Option<RawNotify>) -> Option<NotifyConfig> {
        let raw = raw?;
        let p = env.key("notify");
        let before = self.problems.len();
        for (key, value) in [
            ("slack_webhook_env", &raw.slack_webhook_env),
            ("webhook_env", &raw.webhook_env),
        ] {
            let Some(value) = value else { continue };
            if value.contains("://") {
                // Never echoed: it is a credential.
                self.problem(
                    &p.key(key),
                    format!(
                        "`{key}` holds a URL: name the environment variable that holds the URL \
                         (such as \"SLACK_WEBHOOK_URL\"), never the URL itself; remove it from \
                         this file and from its history, and rotate it"
                    ),
                );
            } else if !valid_variable(value) {
                self.problem(
                    &p.key(key),
                    format!(
                        "`{key}` \"{value}\" is not an environment variable name (letters, digits \
                         and `_`, not starting with a digit)"
                    ),
                );
            }
        }
        if raw.slack_webhook_env.is_none() && raw.webhook_env.is_none() {
            self.problem(
                &p,
                "`notify` names no destination: set `slack_webhook_env` and/or `webhook_env`",
            );
        }
        let on = match raw.on {
            None => Event::ALL.to_vec(),
            Some(names) => {
                let mut on = Vec::new();
                for name in &names {
                    match Event::parse(name) {
                        Some(e) if on.contains(&e) => {
                            self.problem(&p.key("on"), format!("`on` names \"{name}\" twice"))
                        }
                        Some(e) => on.push(e),
                        None => self.problem(
                            &p.key("on"),
                            format!(
                                "unknown event \"{name}\" in `on`: expected {}",
                                Event::ALL.map(Event::as_str).join(", ")
                            ),
                        ),
                    }
                }
                if names.is_empty() {
                    self.problem(
                        &p.key("on"),
                        "`on` is empty: nothing would be sent (remove the `notify` block instead)",
                    );
                }
                on
            }
        };
        (self.problems.len() == before).then_some(NotifyConfig {
            slack_webhook_env: raw.slack_webhook_env,
            webhook_env: raw.webhook_env,
            on,
        })
    }
}

fn valid_variable(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
