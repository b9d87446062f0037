//! Reading Terraform's failures: transient errors worth a retry, state-lock conflicts,
//! stale plans. Terraform has no machine-readable error codes for these in the versions we
//! support, so this is the one place that reads its text; gates never do.

/// Substrings of errors that are worth retrying for `init` and `plan`: the network,
/// provider registries, throttling. A lock conflict is never one of them (`-lock-timeout`
/// already waits), nor is anything during `apply`.
pub const TRANSIENT_PATTERNS: &[&str] = &[
    "connection reset by peer",
    "i/o timeout",
    "TLS handshake timeout",
    "Client.Timeout exceeded",
    "Temporary failure in name resolution",
    "unexpected EOF",
    "RequestError: send request failed",
    "could not query provider registry",
    "please try again later",
    "Throttling",
    "RequestLimitExceeded",
    "TooManyRequests",
    "Rate exceeded",
    "SlowDown",
    "502 Bad Gateway",
    "503 Service Unavailable",
    "504 Gateway Timeout",
    "status code: 503",
];

/// The transient pattern the output matches, if any. Lock conflicts never match.
pub fn transient(output: &str) -> Option<&'static str> {
    if lock_conflict(output).is_some() {
        return None;
    }
    TRANSIENT_PATTERNS
        .iter()
        .copied()
        .find(|p| output.contains(p))
}

/// Whether Terraform refused a saved plan because the state changed after it was made.
pub fn stale_plan(output: &str) -> bool {
    output.contains("Saved plan is stale")
}

/// Whether Terraform failed because the working directory is not initialised for the
/// configured backend (never initialised, or the backend configuration changed since).
pub fn needs_init(output: &str) -> bool {
    output.contains("Backend initialization required")
        || output.contains("Backend configuration changed")
        || output.contains("Please run \"terraform init\"")
}

/// Who holds the state lock, from Terraform's "Lock Info" block.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LockInfo {
    /// The lock ID (what `force-unlock` would need).
    pub id: String,
    /// The state path.
    pub path: String,
    /// `OperationTypePlan`, `OperationTypeApply`, …
    pub operation: String,
    /// `user@host` of the holder.
    pub who: String,
    /// The holder's Terraform version.
    pub version: String,
    /// When the lock was taken.
    pub created: String,
}

impl LockInfo {
    /// Whether the holder is the toolkit's `park` (it writes `park down` / `park up` as the
    /// operation into Terraform's lock).
    pub fn held_by_park(&self) -> bool {
        self.operation.starts_with("park ")
    }

    /// How a person releases this lock when its holder is certainly dead.
    pub fn unlock_command(&self) -> String {
        if self.held_by_park() {
            format!("park unlock {}", or_unknown(&self.id))
        } else {
            format!("terraform force-unlock {}", or_unknown(&self.id))
        }
    }
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.held_by_park() {
            return write!(
                f,
                "the state is locked by park (`{}`, toolkit {}) run by {} since {}: the environment is being parked or unparked (lock ID {}, state {})",
                self.operation,
                or_unknown(&self.version),
                or_unknown(&self.who),
                or_unknown(&self.created),
                or_unknown(&self.id),
                or_unknown(&self.path)
            );
        }
        write!(
            f,
            "the state is locked by {} since {} (operation {}, Terraform {}, lock ID {}, state {})",
            or_unknown(&self.who),
            or_unknown(&self.created),
            or_unknown(&self.operation),
            or_unknown(&self.version),
            or_unknown(&self.id),
            or_unknown(&self.path)
        )
    }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "(unknown)"
    } else {
        s
    }
}

/// The lock holder, when the output is a state-lock failure.
pub fn lock_conflict(output: &str) -> Option<LockInfo> {
    if !output.contains("Error acquiring the state lock") {
        return None;
    }
    let mut info = LockInfo::default();
    let mut in_block = false;
    for raw in output.lines() {
        // Without -no-color, diagnostics are drawn in a box: "│   ID: …".
        let line = raw.trim_start_matches(['│', '╷', '╵', ' ']).trim_end();
        if line.starts_with("Lock Info:") {
            in_block = true;
            continue;
        }
        if !in_block {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            if !line.is_empty() {
                break;
            }
            continue;
        };
        let value = value.trim().to_owned();
        match key.trim() {
            "ID" => info.id = value,
            "Path" => info.path = value,
            "Operation" => info.operation = value,
            "Who" => info.who = value,
            "Version" => info.version = value,
            "Created" => info.created = value,
            "Info" => break,
            _ => {}
        }
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCKED: &str = "\
Acquiring state lock. This may take a few moments...
╷
│ Error: Error acquiring the state lock
│ 
│ Error message: ConditionalCheckFailedException: The conditional request
│ failed
│ Lock Info:
│   ID:        8a1f0a2e-0c1b-4d7e-9f4e-2b7f3c1d9e11
│   Path:      tf-state/prod/terraform.tfstate
│   Operation: OperationTypePlan
│   Who:       ci@runner-7
│   Version:   1.0.3
│   Created:   2026-11-23 02:10:11.5 +0000 UTC
│   Info:      
│ 
│ Terraform acquires a state lock to protect the state from being written
╵
";

    #[test]
    fn names_park_as_the_holder() {
        let text = LOCKED
            .replace("OperationTypePlan", "park down")
            .replace("1.0.3", "0.1.0");
        let info = lock_conflict(&text).unwrap();
        assert!(info.held_by_park());
        let message = info.to_string();
        assert!(
            message.contains("locked by park (`park down`, toolkit 0.1.0)"),
            "{message}"
        );
        assert!(info.unlock_command().starts_with("park unlock "));
        let plain = lock_conflict(LOCKED).unwrap();
        assert!(!plain.held_by_park());
        assert!(plain
            .unlock_command()
            .starts_with("terraform force-unlock "));
    }

    #[test]
    fn reads_the_lock_holder_from_boxed_and_plain_output() {
        let want = LockInfo {
            id: "8a1f0a2e-0c1b-4d7e-9f4e-2b7f3c1d9e11".into(),
            path: "tf-state/prod/terraform.tfstate".into(),
            operation: "OperationTypePlan".into(),
            who: "ci@runner-7".into(),
            version: "1.0.3".into(),
            created: "2026-11-23 02:10:11.5 +0000 UTC".into(),
        };
        assert_eq!(lock_conflict(LOCKED), Some(want.clone()));
        let plain: String = LOCKED
            .lines()
            .map(|l| l.trim_start_matches(['│', '╷', '╵']).to_owned() + "\n")
            .collect();
        assert_eq!(lock_conflict(&plain), Some(want));
        assert_eq!(transient(LOCKED), None, "a lock conflict is never retried");
    }

    #[test]
    fn transient_errors_are_recognised_and_others_are_not() {
        assert_eq!(
            transient("Error: Failed to install provider\n could not query provider registry for x: the request failed after 2 attempts"),
            Some("could not query provider registry")
        );
        assert_eq!(
            transient("ThrottlingException: Rate exceeded"),
            Some("Throttling")
        );
        assert_eq!(transient("Error: Unsupported argument"), None);
        assert!(stale_plan("Error: Saved plan is stale"));
    }
}
