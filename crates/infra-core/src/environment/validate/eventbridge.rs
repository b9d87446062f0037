//! `eventbridge_rule` blocks: scheduled triggers parking disables.

use super::{KeyPath, Validator};
use crate::environment::raw::RawRule;
use crate::environment::{EventBridgeRule, DEFAULT_EVENT_BUS};
use indexmap::IndexMap;

/// EventBridge's rule names: 1 to 64 of letters, digits, `.`, `-`, `_`.
fn valid_rule_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// EventBridge's event bus names: 1 to 256 of letters, digits, `.`, `-`, `_`, `/`.
fn valid_bus_name(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
}

impl Validator<'_, '_> {
    pub(super) fn eventbridge_rules(
        &mut self,
        env: &KeyPath,
        raw: IndexMap<String, RawRule>,
    ) -> Vec<EventBridgeRule> {
        let mut rules = Vec::new();
        for (name, raw) in raw {
            let p = env.key("eventbridge_rule").key(&name);
            if !valid_rule_name(&name) {
                self.problem(
                    &p,
                    format!("invalid EventBridge rule name `{name}`: 1 to 64 letters, digits, `.`, `-` or `_`"),
                );
            }
            let event_bus = raw.event_bus.unwrap_or_else(|| DEFAULT_EVENT_BUS.into());
            if event_bus.starts_with("arn:") {
                self.problem(
                    &p.key("event_bus"),
                    format!("`event_bus` takes the event bus's name, not its ARN, found \"{event_bus}\""),
                );
            } else if !valid_bus_name(&event_bus) {
                self.problem(
                    &p.key("event_bus"),
                    format!("invalid event bus name \"{event_bus}\": 1 to 256 letters, digits, `.`, `-`, `_` or `/`"),
                );
            }
            rules.push(EventBridgeRule {
                name,
                event_bus,
                park: raw.park.unwrap_or(true),
            });
        }
        rules
    }
}
