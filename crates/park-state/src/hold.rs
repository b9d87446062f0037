//! Holds as they are written: "keep the environment awake until …", two tags on each ECS
//! cluster of the environment:
//!
//! ```text
//! infra-park:hold         v1 until=2026-12-03T23:00:00Z by=user/alice at=2026-12-03T17:02:11Z
//! infra-park:hold-reason  release testing with the data team
//! ```
//!
//! Both tag values keep the park record's rules (at most 256 characters of letters,
//! digits, spaces and `_ . : / = + - @`). Writing, removing and parsing `--until` are the
//! park tool's (`park::hold`); this module is what reading them needs.

use crate::record::{Fields, RecordError};
use serde::Serialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// The tag holding the hold: end, holder, when it was written.
pub const HOLD_TAG_KEY: &str = "infra-park:hold";

/// The tag holding the hold's reason (free text, spaces allowed).
pub const HOLD_REASON_TAG_KEY: &str = "infra-park:hold-reason";

/// A hold as written on the clusters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// When it ends (RFC 3339, UTC).
    pub until: String,
    /// Who holds (the caller's identity, or `--by`).
    pub by: String,
    /// When it was written (RFC 3339, UTC).
    pub at: String,
    /// Why.
    pub reason: String,
}

impl Hold {
    /// The two tag values: the hold's and the reason's.
    pub fn encode(&self) -> [(&'static str, String); 2] {
        [
            (
                HOLD_TAG_KEY,
                format!("v1 until={} by={} at={}", self.until, self.by, self.at),
            ),
            (HOLD_REASON_TAG_KEY, self.reason.clone()),
        ]
    }

    /// Reads a hold from its two tag values (a missing reason reads as empty).
    pub fn decode(value: &str, reason: Option<&str>) -> Result<Hold, RecordError> {
        let fields = Fields::parse(value)?;
        let until = fields.get("until")?;
        if humantime::parse_rfc3339(until).is_err() {
            return Err(fields.error(&format!("`until` is not an RFC 3339 time: {until}")));
        }
        Ok(Hold {
            until: until.to_owned(),
            by: fields.get("by")?.to_owned(),
            at: fields.get("at")?.to_owned(),
            reason: reason.unwrap_or_default().to_owned(),
        })
    }

    /// When it ends.
    pub fn end(&self) -> SystemTime {
        humantime::parse_rfc3339(&self.until).unwrap_or(UNIX_EPOCH)
    }

    /// Whether it still holds at `now`.
    pub fn holds_at(&self, now: SystemTime) -> bool {
        self.end() > now
    }

    /// `held until … by …: reason`.
    pub fn describe(&self) -> String {
        format!("held until {} by {}: {}", self.until, self.by, self.reason)
    }
}
