//! The lock's body, in Terraform's JSON: what `Error acquiring the state lock` shows and
//! `force-unlock` takes the ID of. Written by [`crate::lock`], named in [`crate::error`].

use serde::{Deserialize, Serialize};

/// The lock's body, field for field Terraform's `statemgr.LockInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LockInfo {
    /// A UUID, the ID `force-unlock` and `park unlock` take.
    #[serde(rename = "ID")]
    pub id: String,
    /// What holds the lock: `OperationTypeApply` for Terraform, `park down` for park.
    pub operation: String,
    /// Free text: for the toolkit, the tool and the CI job.
    #[serde(default)]
    pub info: String,
    /// `user@host`, and the CircleCI job URL when run there.
    #[serde(default)]
    pub who: String,
    /// The holder's version.
    #[serde(default)]
    pub version: String,
    /// When the lock was taken (RFC 3339).
    #[serde(default)]
    pub created: String,
    /// The state's path (`bucket/key`).
    #[serde(default)]
    pub path: String,
}

impl LockInfo {
    /// One line naming the holder, for messages.
    pub fn describe(&self) -> String {
        format!(
            "{} (operation `{}`, since {}, lock ID {})",
            if self.who.is_empty() {
                "an unknown holder"
            } else {
                &self.who
            },
            self.operation,
            if self.created.is_empty() {
                "an unknown time"
            } else {
                &self.created
            },
            self.id
        )
    }
}
