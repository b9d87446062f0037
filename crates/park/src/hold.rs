//! Holds: "keep the environment awake until …". A hold records who, until when and why, as
//! two tags on each ECS cluster of the environment (written under the environment lock):
//!
//! ```text
//! infra-park:hold         v1 until=2026-12-03T23:00:00Z by=user/alice at=2026-12-03T17:02:11Z
//! infra-park:hold-reason  release testing with the data team
//! ```
//!
//! While a hold is valid (its end is in the future) `park down` changes nothing and exits
//! 0; an expired hold is ignored, and removed by the next `park down`. Both tag values keep
//! the park record's rules (at most 256 characters of letters, digits, spaces and
//! `_ . : / = + - @`), so a hold is never rejected half-way.

use crate::change::{Change, CHANGE_TAG_KEY};
use crate::observe::{Clients, ClusterState, LiveEnvironment};
use crate::record::{check_tag_value, rfc3339, Found};
use infra_core::aws::AwsCallError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use park_state::hold::{Hold, HOLD_REASON_TAG_KEY, HOLD_TAG_KEY};

/// The longest hold when the environment file does not say (`max_hold`).
pub const DEFAULT_MAX_HOLD: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why a hold cannot be written (exit 2, nothing written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldError {
    /// WHEN is not a time, a duration or a time of day with its zone.
    #[error("--until {text:?}: {reason}")]
    When {
        /// What was given.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// The end is not in the future.
    #[error("--until {until}: the hold would end in the past")]
    Past {
        /// The end.
        until: String,
    },
    /// The end is further ahead than `max_hold`.
    #[error("--until {until}: more than max_hold ({max}) ahead; holds are kept short so parking resumes (raise `max_hold` in the environment file for longer ones)")]
    TooLong {
        /// The end.
        until: String,
        /// The limit.
        max: String,
    },
    /// The reason or holder does not fit a tag.
    #[error("{what} {value:?} does not fit an AWS tag: {reason}")]
    Tag {
        /// `--reason` or `--by`.
        what: &'static str,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
    /// The environment has no ECS cluster to keep the hold on.
    #[error("a hold is kept as tags on the environment's ECS clusters, and the environment file names none")]
    NoCluster,
}

/// Parses WHEN, relative to `now`: an RFC 3339 time (`2026-12-03T23:00:00Z`), a duration
/// (`3h`, `90m`, `1d`), or a time of day with its zone stated (`23:00Z`, `23:00 UTC`,
/// `23:00+01:00`: the next such moment). A time of day without a zone is refused: the
/// machine's zone is not the user's, and CI runs in UTC.
pub fn parse_when(text: &str, now: SystemTime) -> Result<SystemTime, HoldError> {
    let t = text.trim();
    let err = |reason: &str| HoldError::When {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    let dated = t.len() >= 10 && t.as_bytes()[4] == b'-' && t.as_bytes()[7] == b'-';
    if dated {
        let not_a_time = |_| err("not an RFC 3339 time such as 2026-12-03T23:00:00Z");
        if let Some(utc) = t.strip_suffix(" UTC") {
            return humantime::parse_rfc3339_weak(utc.trim()).map_err(not_a_time);
        }
        if t.ends_with('Z') {
            return humantime::parse_rfc3339_weak(t).map_err(not_a_time);
        }
        if let Some((base, offset)) = split_offset(t) {
            let at = humantime::parse_rfc3339_weak(base).map_err(not_a_time)?;
            return shift(at, -offset).ok_or_else(|| err(TOO_FAR));
        }
        return Err(err(
            "state the time zone: end with Z or an offset such as +01:00",
        ));
    }
    if t.contains(':') {
        let (clock, offset) = match t.strip_suffix('Z').or_else(|| t.strip_suffix(" UTC")) {
            Some(clock) => (clock.trim(), 0),
            None => match split_offset(t) {
                Some((clock, offset)) => (clock.trim(), offset),
                None => return Err(err(
                    "a time of day needs its zone: 23:00Z, 23:00 UTC or 23:00+01:00 (CI clocks run in UTC)",
                )),
            },
        };
        let (h, m) = clock.split_once(':').ok_or_else(|| err("not HH:MM"))?;
        let (h, m): (i64, i64) = match (h.parse(), m.parse()) {
            (Ok(h), Ok(m)) if (0..24).contains(&h) && (0..60).contains(&m) => (h, m),
            _ => return Err(err("not a time of day HH:MM")),
        };
        let now_secs = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let local_now = (now_secs + offset).rem_euclid(86_400);
        let mut ahead = (h * 3600 + m * 60 - local_now).rem_euclid(86_400);
        if ahead == 0 {
            ahead = 86_400;
        }
        return Ok(now + Duration::from_secs(ahead as u64));
    }
    match humantime::parse_duration(t) {
        // Beyond the clock's range is beyond any `max_hold` too (checked by `new_hold`).
        Ok(d) => now.checked_add(d).ok_or_else(|| err(TOO_FAR)),
        Err(_) => Err(err(
            "expected an RFC 3339 time (2026-12-03T23:00:00Z), a duration (3h) or a time of day with its zone (23:00Z)",
        )),
    }
}

/// `TEXT+HH:MM` / `TEXT-HH:MM` → (TEXT, offset in seconds), when the text ends with one.
fn split_offset(t: &str) -> Option<(&str, i64)> {
    // Not a char boundary (`1:€00000`): not an offset, and never a panic.
    if t.len() < 6 || !t.is_char_boundary(t.len() - 6) {
        return None;
    }
    let (base, zone) = t.split_at(t.len() - 6);
    let sign = match zone.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = zone[1..].split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((base, sign * (h * 3600 + m * 60)))
}

/// `at` moved by `seconds`, when the clock can hold the result.
fn shift(at: SystemTime, seconds: i64) -> Option<SystemTime> {
    let by = Duration::from_secs(seconds.unsigned_abs());
    if seconds >= 0 {
        at.checked_add(by)
    } else {
        at.checked_sub(by)
    }
}

/// A `--until` the clock cannot reach.
const TOO_FAR: &str = "too far ahead: holds are kept short (see max_hold)";

/// A new hold, checked: its end in the future and at most `max_hold` ahead, its reason and
/// holder fit a tag. `by` has spaces replaced (the hold tag is space-separated).
pub fn new_hold(
    until: SystemTime,
    reason: &str,
    by: &str,
    now: SystemTime,
    max_hold: Duration,
) -> Result<Hold, HoldError> {
    let end = rfc3339(until);
    if until <= now {
        return Err(HoldError::Past { until: end });
    }
    if until.duration_since(now).unwrap_or_default() > max_hold {
        return Err(HoldError::TooLong {
            until: end,
            max: humantime::format_duration(max_hold).to_string(),
        });
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(HoldError::Tag {
            what: "--reason",
            value: reason.to_owned(),
            reason: "empty: say why the environment must stay up".into(),
        });
    }
    check_tag_value(reason).map_err(|e| HoldError::Tag {
        what: "--reason",
        value: reason.to_owned(),
        reason: e,
    })?;
    let hold = Hold {
        until: end,
        by: String::new(),
        at: rfc3339(now),
        reason: reason.to_owned(),
    };
    held_by(hold, by)
}

/// `hold` as held by `by` (whitespace made `_`), checked: the encoded hold must still be a
/// valid tag value.
pub fn held_by(mut hold: Hold, by: &str) -> Result<Hold, HoldError> {
    hold.by = by.trim().replace(char::is_whitespace, "_");
    let [(_, value), _] = hold.encode();
    check_tag_value(&value).map_err(|e| HoldError::Tag {
        what: "--by",
        value: hold.by.clone(),
        reason: e,
    })?;
    Ok(hold)
}

/// The holder's name from the caller's ARN: `arn:aws:sts::123:assumed-role/deploy/alice` →
/// `assumed-role/deploy/alice`.
pub fn holder_from_arn(arn: &str) -> String {
    arn.splitn(6, ':').nth(5).unwrap_or(arn).to_owned()
}

/// Writing or removing park's tags on the environment's clusters failed.
#[derive(Debug, thiserror::Error)]
pub enum TagWriteError {
    /// A cluster the environment file names does not exist (seen by the observation).
    #[error("ECS cluster {cluster} does not exist, so it cannot carry {what}")]
    NoCluster {
        /// The cluster.
        cluster: String,
        /// What was to be written (`the hold`, `the change record`).
        what: String,
    },
    /// The TagResource or UntagResource call failed.
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

/// Writes `hold`'s two tags on each cluster (one TagResource each: both tags or neither).
pub async fn write(
    clients: &Clients,
    live: &LiveEnvironment,
    hold: &Hold,
) -> Result<Vec<String>, TagWriteError> {
    tag_clusters(clients, &live.clusters, &hold.encode(), "the hold").await
}

/// Records the last completed park or unpark on each cluster (one tag:
/// `park_state::change`), the memory a scheduled run reads to tell a person's change from
/// a missed one. The error says what was not recorded (the caller warns: the change itself
/// was made).
pub async fn record_change(
    clients: &Clients,
    clusters: &[ClusterState],
    change: &Change,
) -> Result<(), String> {
    let value = change.encode();
    check_tag_value(&value).map_err(|e| format!("the change record does not fit a tag: {e}"))?;
    tag_clusters(
        clients,
        clusters,
        &[(CHANGE_TAG_KEY, value)],
        "the change record",
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Writes `tags` on each of the environment's ECS clusters, one TagResource a cluster
/// (all of its tags or none); `what` names them in the error of a missing cluster.
async fn tag_clusters(
    clients: &Clients,
    clusters: &[ClusterState],
    tags: &[(&'static str, String)],
    what: &str,
) -> Result<Vec<String>, TagWriteError> {
    let mut written = Vec::new();
    for cluster in clusters {
        let Some(arn) = &cluster.arn else {
            return Err(TagWriteError::NoCluster {
                cluster: cluster.cluster.clone(),
                what: what.to_owned(),
            });
        };
        clients.budget.acquire("ecs", "TagResource").await;
        let mut req = clients.ecs.tag_resource().resource_arn(arn);
        for (key, value) in tags {
            req = req.tags(
                aws_sdk_ecs::types::Tag::builder()
                    .key(*key)
                    .value(value)
                    .build(),
            );
        }
        req.send().await.map_err(|e| {
            AwsCallError::new(
                "ecs:TagResource",
                Some(format!("cluster {}", cluster.cluster)),
                e,
            )
        })?;
        written.push(cluster.cluster.clone());
    }
    Ok(written)
}

/// Removes the hold's tags from every cluster that carries any (valid or not).
pub async fn remove(
    clients: &Clients,
    live: &LiveEnvironment,
) -> Result<Vec<String>, TagWriteError> {
    let mut removed = Vec::new();
    for cluster in &live.clusters {
        let (Some(arn), false) = (&cluster.arn, matches!(cluster.hold, Found::None)) else {
            continue;
        };
        clients.budget.acquire("ecs", "UntagResource").await;
        clients
            .ecs
            .untag_resource()
            .resource_arn(arn)
            .tag_keys(HOLD_TAG_KEY)
            .tag_keys(HOLD_REASON_TAG_KEY)
            .send()
            .await
            .map_err(|e| {
                AwsCallError::new(
                    "ecs:UntagResource",
                    Some(format!("cluster {}", cluster.cluster)),
                    e,
                )
            })?;
        removed.push(cluster.cluster.clone());
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn when_is_a_time_a_duration_or_a_time_of_day_with_its_zone() {
        let now = at("2026-12-03T17:00:00Z");
        let cases = [
            ("2026-12-03T23:00:00Z", "2026-12-03T23:00:00Z"),
            ("2026-12-03T23:00:00+01:00", "2026-12-03T22:00:00Z"),
            ("3h", "2026-12-03T20:00:00Z"),
            ("90m", "2026-12-03T18:30:00Z"),
            ("23:00Z", "2026-12-03T23:00:00Z"),
            ("23:00 UTC", "2026-12-03T23:00:00Z"),
            ("23:00+01:00", "2026-12-03T22:00:00Z"),
            // Already past today: tomorrow.
            ("08:00Z", "2026-12-04T08:00:00Z"),
            ("17:00Z", "2026-12-04T17:00:00Z"),
        ];
        for (text, want) in cases {
            assert_eq!(rfc3339(parse_when(text, now).unwrap()), want, "{text}");
        }
        for bad in [
            "23:00",
            "tomorrow",
            "25:00Z",
            "2026-12-03T23:00:00",
            "",
            "1:€00000",
            "2026-€€-0",
            "12:00+€1",
            "2600000000000000h",
        ] {
            let e = parse_when(bad, now).unwrap_err();
            assert!(matches!(e, HoldError::When { .. }), "{bad}: {e}");
        }
        assert!(parse_when("23:00", now)
            .unwrap_err()
            .to_string()
            .contains("needs its zone"));
        assert!(parse_when("2600000000000000h", now)
            .unwrap_err()
            .to_string()
            .contains("too far ahead"));
    }

    #[test]
    fn a_hold_is_checked_before_anything_is_written() {
        let now = at("2026-12-03T17:00:00Z");
        let week = DEFAULT_MAX_HOLD;
        let ok = new_hold(
            at("2026-12-03T23:00:00Z"),
            "release testing",
            "user/alice",
            now,
            week,
        )
        .unwrap();
        assert_eq!(
            ok.encode()[0].1,
            "v1 until=2026-12-03T23:00:00Z by=user/alice at=2026-12-03T17:00:00Z"
        );
        assert_eq!(
            Hold::decode(&ok.encode()[0].1, Some("release testing")).unwrap(),
            ok
        );
        assert!(ok.holds_at(now));
        assert!(!ok.holds_at(at("2026-12-03T23:00:00Z")));
        assert_eq!(
            new_hold(at("2026-12-03T16:00:00Z"), "x", "a", now, week),
            Err(HoldError::Past {
                until: "2026-12-03T16:00:00Z".into()
            })
        );
        assert!(matches!(
            new_hold(at("2026-12-11T17:00:00Z"), "x", "a", now, week),
            Err(HoldError::TooLong { .. })
        ));
        assert!(matches!(
            new_hold(
                at("2026-12-03T23:00:00Z"),
                "tests; then \"deploy\"",
                "a",
                now,
                week
            ),
            Err(HoldError::Tag {
                what: "--reason",
                ..
            })
        ));
        assert!(matches!(
            new_hold(at("2026-12-03T23:00:00Z"), &"x".repeat(257), "a", now, week),
            Err(HoldError::Tag {
                what: "--reason",
                ..
            })
        ));
        assert!(matches!(
            new_hold(at("2026-12-03T23:00:00Z"), "  ", "a", now, week),
            Err(HoldError::Tag {
                what: "--reason",
                ..
            })
        ));
        let spaced = new_hold(at("2026-12-03T23:00:00Z"), "x", "Alice Smith", now, week).unwrap();
        assert_eq!(spaced.by, "Alice_Smith");
        assert_eq!(
            holder_from_arn("arn:aws:sts::123456789012:assumed-role/deploy/alice"),
            "assumed-role/deploy/alice"
        );
        assert!(Hold::decode("v1 until=soon by=a at=b", None).is_err());
    }
}
