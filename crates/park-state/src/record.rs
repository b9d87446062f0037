//! Park records: what a resource looked like before it was parked, kept as a tag on the
//! resource itself so the next CI machine finds it.
//!
//! A record is one tag value of at most 256 characters, written with only the characters
//! AWS allows in tag values on every service (letters, digits, spaces and `_ . : / = + - @`):
//!
//! ```text
//! v1 desired=2 target=1:4 in=false out=true sched=false at=2026-11-22T23:00:00Z by=park@0.1.0
//! v1 min=0.5 max=4 pause=none at=2026-11-22T23:00:00Z by=park@0.1.0
//! v1 state=ENABLED at=2026-11-22T23:00:00Z by=park@0.1.0
//! ```

use serde::Serialize;
use std::time::SystemTime;

/// The tag key that holds a park record.
pub const RECORD_TAG_KEY: &str = "infra-park:record";

/// The longest tag value AWS accepts (ECS and RDS alike).
pub const MAX_TAG_VALUE_LEN: usize = 256;

/// The three Application Auto Scaling suspension flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SuspendedFlags {
    /// `DynamicScalingInSuspended`.
    pub dynamic_in: bool,
    /// `DynamicScalingOutSuspended`.
    pub dynamic_out: bool,
    /// `ScheduledScalingSuspended`.
    pub scheduled: bool,
}

impl SuspendedFlags {
    /// All three suspended: how a parked target is left.
    pub const ALL: SuspendedFlags = SuspendedFlags {
        dynamic_in: true,
        dynamic_out: true,
        scheduled: true,
    };
}

/// A scalable target's capacity range and suspension flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TargetCapacity {
    /// Minimum capacity.
    pub min: i32,
    /// Maximum capacity.
    pub max: i32,
    /// Suspension flags.
    pub suspended: SuspendedFlags,
}

/// An ECS service before parking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceRecord {
    /// The desired count.
    pub desired_count: i32,
    /// The scalable target, when the service had one.
    pub target: Option<TargetCapacity>,
    /// When the record was written (RFC 3339, UTC).
    pub parked_at: String,
    /// Which tool wrote it (`park@0.1.0`).
    pub written_by: String,
}

/// An Aurora cluster's Serverless v2 scaling before parking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuroraRecord {
    /// Minimum ACUs.
    pub min_capacity: f64,
    /// Maximum ACUs.
    pub max_capacity: f64,
    /// `SecondsUntilAutoPause`, when set.
    pub seconds_until_auto_pause: Option<i32>,
    /// When the record was written (RFC 3339, UTC).
    pub parked_at: String,
    /// Which tool wrote it.
    pub written_by: String,
}

/// An EventBridge rule's state before parking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRecord {
    /// `ENABLED` or `DISABLED`: unpark enables the rule only when it was `ENABLED`.
    pub state: Enablement,
    /// When the record was written (RFC 3339, UTC).
    pub parked_at: String,
    /// Which tool wrote it.
    pub written_by: String,
}

/// The two states of an EventBridge rule park reads and sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Enablement {
    /// The rule fires.
    Enabled,
    /// The rule does not fire.
    Disabled,
}

impl Enablement {
    /// As EventBridge spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Enablement::Enabled => "ENABLED",
            Enablement::Disabled => "DISABLED",
        }
    }

    /// From EventBridge's spelling; `None` for any other state
    /// (`ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`, which EnableRule cannot restore).
    pub fn parse(text: &str) -> Option<Enablement> {
        match text {
            "ENABLED" => Some(Enablement::Enabled),
            "DISABLED" => Some(Enablement::Disabled),
            _ => None,
        }
    }
}

/// A record tag that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable park record {value:?}: {reason}")]
pub struct RecordError {
    /// The tag value.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The record found on a resource: none, a valid one, or an unreadable one (never acted on).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Found<R> {
    /// No record tag.
    None,
    /// A valid record.
    Valid {
        /// The record.
        record: R,
    },
    /// A record tag that does not parse.
    Invalid {
        /// Why.
        error: String,
    },
}

impl<R> Found<R> {
    /// The record, when valid.
    pub fn valid(&self) -> Option<&R> {
        match self {
            Found::Valid { record } => Some(record),
            _ => None,
        }
    }
}

/// `time` as RFC 3339 in whole seconds, as records carry it.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// `park@VERSION`.
pub fn tool_id() -> String {
    format!("park@{}", env!("CARGO_PKG_VERSION"))
}

/// Seconds since `parked_at`, when it parses.
pub fn age_seconds(parked_at: &str) -> Option<u64> {
    let at = humantime::parse_rfc3339(parked_at).ok()?;
    SystemTime::now()
        .duration_since(at)
        .ok()
        .map(|d| d.as_secs())
}

impl ServiceRecord {
    /// The tag value.
    pub fn encode(&self) -> String {
        let target = match &self.target {
            Some(t) => format!(
                "target={}:{} in={} out={} sched={}",
                t.min,
                t.max,
                t.suspended.dynamic_in,
                t.suspended.dynamic_out,
                t.suspended.scheduled
            ),
            None => "target=none".to_owned(),
        };
        format!(
            "v1 desired={} {target} at={} by={}",
            self.desired_count, self.parked_at, self.written_by
        )
    }

    /// Parses a tag value.
    pub fn decode(value: &str) -> Result<Self, RecordError> {
        let fields = Fields::parse(value)?;
        let target = match fields.get("target")? {
            "none" => None,
            range => {
                let (min, max) = range
                    .split_once(':')
                    .ok_or_else(|| fields.error("`target` is not MIN:MAX"))?;
                Some(TargetCapacity {
                    min: fields.number(min, "target")?,
                    max: fields.number(max, "target")?,
                    suspended: SuspendedFlags {
                        dynamic_in: fields.flag("in")?,
                        dynamic_out: fields.flag("out")?,
                        scheduled: fields.flag("sched")?,
                    },
                })
            }
        };
        Ok(ServiceRecord {
            desired_count: fields.number(fields.get("desired")?, "desired")?,
            target,
            parked_at: fields.get("at")?.to_owned(),
            written_by: fields.get("by")?.to_owned(),
        })
    }
}

impl AuroraRecord {
    /// The tag value.
    pub fn encode(&self) -> String {
        let pause = self
            .seconds_until_auto_pause
            .map_or_else(|| "none".to_owned(), |p| p.to_string());
        format!(
            "v1 min={} max={} pause={pause} at={} by={}",
            self.min_capacity, self.max_capacity, self.parked_at, self.written_by
        )
    }

    /// Parses a tag value.
    pub fn decode(value: &str) -> Result<Self, RecordError> {
        let fields = Fields::parse(value)?;
        let float = |key: &str| -> Result<f64, RecordError> {
            let v = fields.get(key)?;
            v.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .ok_or_else(|| fields.error(&format!("`{key}` is not a capacity: {v}")))
        };
        let pause = match fields.get("pause")? {
            "none" => None,
            p => Some(fields.number(p, "pause")?),
        };
        Ok(AuroraRecord {
            min_capacity: float("min")?,
            max_capacity: float("max")?,
            seconds_until_auto_pause: pause,
            parked_at: fields.get("at")?.to_owned(),
            written_by: fields.get("by")?.to_owned(),
        })
    }
}

impl RuleRecord {
    /// The tag value.
    pub fn encode(&self) -> String {
        format!(
            "v1 state={} at={} by={}",
            self.state.as_str(),
            self.parked_at,
            self.written_by
        )
    }

    /// Parses a tag value.
    pub fn decode(value: &str) -> Result<Self, RecordError> {
        let fields = Fields::parse(value)?;
        let state = fields.get("state")?;
        Ok(RuleRecord {
            state: Enablement::parse(state).ok_or_else(|| {
                fields.error(&format!("`state` is not ENABLED or DISABLED: {state}"))
            })?,
            parked_at: fields.get("at")?.to_owned(),
            written_by: fields.get("by")?.to_owned(),
        })
    }
}

/// Checks a tag value against AWS's limits, so a record is never rejected half-way.
pub fn check_tag_value(value: &str) -> Result<(), String> {
    if value.chars().count() > MAX_TAG_VALUE_LEN {
        return Err(format!(
            "{} characters, more than AWS's {MAX_TAG_VALUE_LEN}",
            value.chars().count()
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_alphanumeric() || " _.:/=+-@".contains(*c)))
    {
        return Err(format!(
            "character {c:?} is not allowed in an AWS tag value"
        ));
    }
    Ok(())
}

pub(crate) struct Fields<'a> {
    value: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Fields<'a> {
    pub(crate) fn parse(value: &'a str) -> Result<Self, RecordError> {
        let mut words = value.split_whitespace();
        let version = words.next().unwrap_or_default();
        let mut fields = Fields {
            value,
            pairs: Vec::new(),
        };
        if version != "v1" {
            return Err(fields.error(&format!(
                "unknown record version `{version}` (this tool reads v1)"
            )));
        }
        for word in words {
            let (k, v) = word
                .split_once('=')
                .ok_or_else(|| fields.error(&format!("`{word}` is not KEY=VALUE")))?;
            fields.pairs.push((k, v));
        }
        Ok(fields)
    }

    pub(crate) fn get(&self, key: &str) -> Result<&'a str, RecordError> {
        self.pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| self.error(&format!("no `{key}`")))
    }

    fn number(&self, text: &str, key: &str) -> Result<i32, RecordError> {
        text.parse::<i32>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| self.error(&format!("`{key}` is not a count: {text}")))
    }

    fn flag(&self, key: &str) -> Result<bool, RecordError> {
        match self.get(key)? {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(self.error(&format!("`{key}` is not true or false: {other}"))),
        }
    }

    pub(crate) fn error(&self, reason: &str) -> RecordError {
        RecordError {
            value: self.value.to_owned(),
            reason: reason.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(target: Option<TargetCapacity>) -> ServiceRecord {
        ServiceRecord {
            desired_count: 7,
            target,
            parked_at: "2026-11-22T23:00:00Z".into(),
            written_by: tool_id(),
        }
    }

    #[test]
    fn service_records_round_trip_exactly() {
        let partial = TargetCapacity {
            min: 2,
            max: 10,
            suspended: SuspendedFlags {
                dynamic_in: true,
                dynamic_out: false,
                scheduled: true,
            },
        };
        for record in [service(None), service(Some(partial))] {
            let value = record.encode();
            check_tag_value(&value).unwrap();
            assert_eq!(ServiceRecord::decode(&value).unwrap(), record, "{value}");
        }
        assert_eq!(
            service(Some(partial)).encode(),
            format!("v1 desired=7 target=2:10 in=true out=false sched=true at=2026-11-22T23:00:00Z by={}", tool_id())
        );
    }

    #[test]
    fn aurora_records_round_trip_exactly() {
        for pause in [None, Some(86_400)] {
            let record = AuroraRecord {
                min_capacity: 0.5,
                max_capacity: 128.0,
                seconds_until_auto_pause: pause,
                parked_at: rfc3339(SystemTime::now()),
                written_by: tool_id(),
            };
            let value = record.encode();
            check_tag_value(&value).unwrap();
            assert_eq!(AuroraRecord::decode(&value).unwrap(), record);
        }
    }

    #[test]
    fn rule_records_round_trip_exactly() {
        for state in [Enablement::Enabled, Enablement::Disabled] {
            let record = RuleRecord {
                state,
                parked_at: "2026-11-22T23:00:00Z".into(),
                written_by: tool_id(),
            };
            let value = record.encode();
            check_tag_value(&value).unwrap();
            assert_eq!(RuleRecord::decode(&value).unwrap(), record, "{value}");
        }
        assert_eq!(
            RuleRecord::decode("v1 state=ENABLED at=2026-11-22T23:00:00Z by=park@0.1.0")
                .unwrap()
                .state,
            Enablement::Enabled
        );
        let err =
            RuleRecord::decode("v1 state=ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS at=a by=b")
                .unwrap_err();
        assert!(err.reason.contains("not ENABLED or DISABLED"), "{err}");
        assert!(RuleRecord::decode("v1 at=a by=b").is_err());
    }

    #[test]
    fn malformed_records_are_errors_not_guesses() {
        for (value, reason) in [
            ("", "unknown record version"),
            ("v2 desired=1", "unknown record version `v2`"),
            ("v1 desired=1 target=none at=x", "no `by`"),
            (
                "v1 desired=-1 target=none at=x by=y",
                "`desired` is not a count",
            ),
            (
                "v1 desired=1 target=1-4 at=x by=y",
                "`target` is not MIN:MAX",
            ),
            (
                "v1 desired=1 target=1:4 in=yes out=false sched=false at=x by=y",
                "`in` is not true or false",
            ),
            ("v1 desired 1", "is not KEY=VALUE"),
        ] {
            let err = ServiceRecord::decode(value).unwrap_err();
            assert!(err.reason.contains(reason), "{value:?}: {}", err.reason);
        }
        assert!(AuroraRecord::decode("v1 min=x max=4 pause=none at=a by=b").is_err());
    }

    #[test]
    fn tag_value_limits() {
        assert!(check_tag_value(&"a".repeat(256)).is_ok());
        assert!(check_tag_value(&"a".repeat(257))
            .unwrap_err()
            .contains("257 characters"));
        assert!(check_tag_value("a;b").unwrap_err().contains("';'"));
        // The longest record fits.
        let big = ServiceRecord {
            desired_count: i32::MAX,
            target: Some(TargetCapacity {
                min: i32::MAX,
                max: i32::MAX,
                suspended: SuspendedFlags::ALL,
            }),
            parked_at: rfc3339(SystemTime::now()),
            written_by: tool_id(),
        };
        check_tag_value(&big.encode()).unwrap();
    }

    #[test]
    fn age_of_a_record() {
        assert!(age_seconds(&rfc3339(SystemTime::now())).unwrap() < 5);
        assert!(age_seconds("2020-01-01T00:00:00Z").unwrap() > 3600);
        assert_eq!(age_seconds("yesterday"), None);
    }
}
