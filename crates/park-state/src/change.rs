//! The last change: what the last completed `park down` / `park up` did to the environment,
//! when, by whom, and whether the schedule ran it. One tag on each ECS cluster of the
//! environment, written under the environment lock at the end of a run that finished
//! every resource:
//!
//! ```text
//! infra-park:last-change  v1 action=unpark at=2026-12-07T21:04:12Z by=assumed-role/oncall/alice sched=false
//! ```
//!
//! A scheduled run reads it to tell a person's change since the schedule's last transition
//! (left alone until the next one) from a missed or failed scheduled change (caught up). A
//! run that did not finish writes nothing, so it counts as not done.

use crate::record::{Fields, RecordError};
use serde::Serialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// The tag holding the last change.
pub const CHANGE_TAG_KEY: &str = "infra-park:last-change";

/// Park or unpark, as the change record spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeAction {
    /// `park down`.
    Park,
    /// `park up`.
    Unpark,
}

impl ChangeAction {
    /// `park` or `unpark`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Park => "park",
            ChangeAction::Unpark => "unpark",
        }
    }
}

/// The last completed park or unpark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// What it did.
    pub action: ChangeAction,
    /// When it finished (RFC 3339, UTC; the run's clock).
    pub at: String,
    /// Who ran it (the caller's identity, as a tag allows it).
    pub by: String,
    /// Whether a `--scheduled` run made it (else a person did).
    pub scheduled: bool,
}

impl Change {
    /// The tag value.
    pub fn encode(&self) -> String {
        format!(
            "v1 action={} at={} by={} sched={}",
            self.action.as_str(),
            self.at,
            self.by,
            self.scheduled
        )
    }

    /// Reads a change from its tag value.
    pub fn decode(value: &str) -> Result<Change, RecordError> {
        let fields = Fields::parse(value)?;
        let action = match fields.get("action")? {
            "park" => ChangeAction::Park,
            "unpark" => ChangeAction::Unpark,
            other => return Err(fields.error(&format!("`action` is not park or unpark: {other}"))),
        };
        let at = fields.get("at")?;
        if humantime::parse_rfc3339(at).is_err() {
            return Err(fields.error(&format!("`at` is not an RFC 3339 time: {at}")));
        }
        let scheduled = match fields.get("sched")? {
            "true" => true,
            "false" => false,
            other => return Err(fields.error(&format!("`sched` is not true or false: {other}"))),
        };
        Ok(Change {
            action,
            at: at.to_owned(),
            by: fields.get("by")?.to_owned(),
            scheduled,
        })
    }

    /// When it finished.
    pub fn time(&self) -> SystemTime {
        humantime::parse_rfc3339(&self.at).unwrap_or(UNIX_EPOCH)
    }

    /// `unparked by alice at … (by hand)`.
    pub fn describe(&self) -> String {
        format!(
            "{} by {} at {} ({})",
            match self.action {
                ChangeAction::Park => "parked",
                ChangeAction::Unpark => "unparked",
            },
            self.by,
            self.at,
            if self.scheduled {
                "scheduled"
            } else {
                "by hand"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::check_tag_value;

    #[test]
    fn a_change_round_trips_and_fits_a_tag() {
        for (action, scheduled) in [(ChangeAction::Park, true), (ChangeAction::Unpark, false)] {
            let change = Change {
                action,
                at: "2026-12-07T21:04:12Z".into(),
                by: "assumed-role/oncall/alice".into(),
                scheduled,
            };
            let value = change.encode();
            check_tag_value(&value).unwrap();
            assert_eq!(Change::decode(&value).unwrap(), change);
        }
        for bad in [
            "v2 action=park at=2026-12-07T21:04:12Z by=a sched=true",
            "v1 action=stop at=2026-12-07T21:04:12Z by=a sched=true",
            "v1 action=park at=yesterday by=a sched=true",
            "v1 action=park at=2026-12-07T21:04:12Z by=a sched=maybe",
            "v1 action=park at=2026-12-07T21:04:12Z sched=true",
        ] {
            assert!(Change::decode(bad).is_err(), "{bad}");
        }
    }
}
