//! `tf-wrap drift`: what changed outside Terraform, told apart from what park did.
//!
//! Every night park sets desired counts and scalable targets to 0 and Aurora's minimum to
//! 0, so a plain refresh-only plan reports "drift" on every parked resource. Here every
//! drifted resource of a refresh-only plan (`resource_drift` in its JSON) and each of its
//! changed attributes is classified:
//!
//! - [`DriftClass::Parked`]: the attribute moved to exactly the value park leaves
//!   (`desired_count` 0; a scalable target's `min_capacity`/`max_capacity` 0 and its
//!   `suspended_state` flags on; Aurora's Serverless v2 minimum 0 with an auto-pause
//!   delay; an EventBridge rule's `is_enabled` false or `state` `DISABLED`) and park holds
//!   a valid record for that resource;
//! - [`DriftClass::Unexpected`]: anything else — a manual scale, a console edit, a deleted
//!   resource, a parked value without a record, or with an unreadable one.
//!
//! A resource is unexpected when any of its attributes is. The records are read while
//! Terraform refreshes and, when a parked value has no valid record in that read, again
//! after it finished; a record valid in either read counts: a `park down` or `park up`
//! running during the check never turns what it does into unexpected drift.
//!
//! `mod.rs` classifies (pure functions of the plan and the records); `report.rs` renders
//! the result (text, JSON, Markdown, JUnit).

mod report;

pub use report::{DriftCounts, DriftOutcome, DriftReport};

use crate::gates::{attribute, cluster_name, event_rule_of, Parked};
use crate::plan::{Action, PlanJson, ResourceChange};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

/// A resource park has recorded (a record tag is present), and what the record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The resource.
    pub resource: Parked,
    /// Its record.
    pub record: Record,
}

/// A park record as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A valid record, written at `parked_at` (RFC 3339).
    Valid {
        /// When park wrote it.
        parked_at: String,
    },
    /// A record tag that does not parse (park never acts on it; neither does this check).
    Unreadable {
        /// Why.
        error: String,
    },
}

/// The records of two reads as one: a resource's valid record in either read wins.
pub fn merge(first: Vec<Recorded>, second: Vec<Recorded>) -> Vec<Recorded> {
    let mut out = first;
    for r in second {
        match out.iter_mut().find(|o| o.resource == r.resource) {
            Some(o) => {
                if !matches!(o.record, Record::Valid { .. }) {
                    o.record = r.record;
                }
            }
            None => out.push(r),
        }
    }
    out
}

/// Whether any drift is at the value park leaves without a valid record to explain it:
/// only then can a second read of the records change the result (a `park down` that wrote
/// its records after the first read). A record valid in the first read already explains
/// its values, so the usual nightly check reads the records once.
pub fn unexplained_parked_values(drift: &[ResourceDrift]) -> bool {
    drift.iter().any(|r| {
        r.attributes
            .iter()
            .any(|a| a.class == DriftClass::Unexpected && parked_value(&r.kind, &a.path, &a.after))
    })
}

/// How a drifted attribute or resource is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftClass {
    /// What a valid park record explains.
    Parked,
    /// Anything else.
    Unexpected,
}

impl DriftClass {
    /// The report's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftClass::Parked => "parked",
            DriftClass::Unexpected => "unexpected",
        }
    }
}

/// One changed attribute of a drifted resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributeDrift {
    /// `desired_count`, `serverlessv2_scaling_configuration[0].min_capacity`, `tags.Owner`.
    pub path: String,
    /// The value in the state (`"(sensitive)"` for a sensitive value).
    pub before: Value,
    /// The value the refresh found.
    pub after: Value,
    /// Its class.
    pub class: DriftClass,
}

/// One drifted resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceDrift {
    /// The resource address.
    pub address: String,
    /// The resource type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `update` (changed) or `delete` (gone).
    pub action: Action,
    /// `unexpected` when any attribute is, or the resource is gone.
    pub class: DriftClass,
    /// Why, in a sentence.
    pub reason: String,
    /// The changed attributes (none for a deleted resource).
    pub attributes: Vec<AttributeDrift>,
}

/// Classifies every drifted managed resource of a refresh-only plan, in the plan's order.
pub fn classify(plan: &PlanJson, recorded: &[Recorded]) -> Vec<ResourceDrift> {
    plan.resource_drift
        .iter()
        .filter(|rc| !rc.is_data())
        .filter(|rc| !matches!(rc.action(), Action::NoOp | Action::Read))
        .map(|rc| classify_one(rc, recorded))
        .collect()
}

fn classify_one(rc: &ResourceChange, recorded: &[Recorded]) -> ResourceDrift {
    let subject = subject(rc, recorded);
    let action = rc.action();
    let base = |class, reason, attributes| ResourceDrift {
        address: rc.address.clone(),
        kind: rc.kind.clone(),
        action,
        class,
        reason,
        attributes,
    };
    if action.destroys() || rc.change.after.is_null() {
        return base(
            DriftClass::Unexpected,
            "deleted outside Terraform: the refresh no longer finds it".into(),
            Vec::new(),
        );
    }
    let mut changed = Vec::new();
    diff(
        &rc.change.before,
        &rc.change.after,
        Masks {
            before: rc.change.before_sensitive.as_ref(),
            after: rc.change.after_sensitive.as_ref(),
        },
        String::new(),
        &mut changed,
    );
    let record = subject.as_ref().and_then(|(_, r)| r.as_ref());
    let valid = matches!(record, Some(Record::Valid { .. }));
    let attributes: Vec<AttributeDrift> = changed
        .into_iter()
        .map(|(path, before, after)| {
            let class = if valid && parked_value(&rc.kind, &path, &after) {
                DriftClass::Parked
            } else {
                DriftClass::Unexpected
            };
            AttributeDrift {
                path,
                before,
                after,
                class,
            }
        })
        .collect();
    let unexpected: Vec<&str> = attributes
        .iter()
        .filter(|a| a.class == DriftClass::Unexpected)
        .map(|a| a.path.as_str())
        .collect();
    if !attributes.is_empty() && unexpected.is_empty() {
        let (what, parked_at) = match &subject {
            Some((what, Some(Record::Valid { parked_at }))) => (what.as_str(), parked_at.as_str()),
            _ => ("it", "-"),
        };
        return base(
            DriftClass::Parked,
            format!("parked: park's record on {what} (written {parked_at}) explains it"),
            attributes,
        );
    }
    let mut reason = if unexpected.is_empty() {
        "changed outside Terraform".to_owned()
    } else {
        format!("changed outside Terraform: {}", unexpected.join(", "))
    };
    let parked_looking: Vec<&str> = attributes
        .iter()
        .filter(|a| a.class == DriftClass::Unexpected && parked_value(&rc.kind, &a.path, &a.after))
        .map(|a| a.path.as_str())
        .collect();
    if !parked_looking.is_empty() {
        let list = parked_looking.join(", ");
        match &subject {
            Some((what, None)) => reason.push_str(&format!(
                "; {list} at the value park leaves, but {what} has no park record: it was not parked by park"
            )),
            Some((what, Some(Record::Unreadable { error }))) => reason.push_str(&format!(
                "; {list} at the value park leaves, but the park record on {what} is unreadable ({error}), so it is not trusted"
            )),
            Some((_, Some(Record::Valid { .. }))) | None => {}
        }
    }
    base(DriftClass::Unexpected, reason, attributes)
}

/// The parkable resource `rc` is, described, with its record if park has one.
fn subject(rc: &ResourceChange, recorded: &[Recorded]) -> Option<(String, Option<Record>)> {
    let find = |matches: &dyn Fn(&Parked) -> bool| {
        recorded
            .iter()
            .find(|r| matches(&r.resource))
            .map(|r| r.record.clone())
    };
    match rc.kind.as_str() {
        "aws_ecs_service" => {
            let name = attribute(rc, "name")?;
            let cluster = attribute(rc, "cluster").map(cluster_name);
            let record = find(&|p| {
                matches!(p, Parked::Service { cluster: c, service }
                    if service == name && cluster.is_none_or(|x| x == c))
            });
            let what = match cluster {
                Some(c) => format!("ECS service {c}/{name}"),
                None => format!("ECS service {name}"),
            };
            Some((what, record))
        }
        "aws_appautoscaling_target" => {
            let id = attribute(rc, "resource_id")?;
            let record = find(&|p| {
                matches!(p, Parked::Service { cluster, service }
                    if id == park_state::observe::scalable_resource_id(cluster, service))
            });
            let service = id.strip_prefix("service/").unwrap_or(id);
            Some((
                format!("the scalable target of ECS service {service}"),
                record,
            ))
        }
        "aws_rds_cluster" => {
            let id = attribute(rc, "cluster_identifier")?;
            let record = find(&|p| matches!(p, Parked::Aurora { cluster } if cluster == id));
            Some((format!("Aurora cluster {id}"), record))
        }
        "aws_cloudwatch_event_rule" => {
            let (name, bus) = event_rule_of(rc)?;
            let record = find(
                &|p| matches!(p, Parked::Rule { name: n, event_bus } if n == name && event_bus == bus),
            );
            Some((format!("EventBridge rule {name}"), record))
        }
        _ => None,
    }
}

/// Whether `after` is the value park leaves on attribute `path` of a `kind`.
fn parked_value(kind: &str, path: &str, after: &Value) -> bool {
    let zero = after.as_f64() == Some(0.0);
    // `serverlessv2_scaling_configuration[0].min_capacity` → the block and the field.
    let (block, field) = match path.split_once("].") {
        Some((block, field)) => (block.split('[').next().unwrap_or(block), field),
        None => ("", path),
    };
    match (kind, block, field) {
        ("aws_ecs_service", "", "desired_count") => zero,
        ("aws_appautoscaling_target", "", "min_capacity" | "max_capacity") => zero,
        ("aws_appautoscaling_target", "suspended_state", _) => after == &Value::Bool(true),
        ("aws_rds_cluster", "serverlessv2_scaling_configuration", "min_capacity") => zero,
        ("aws_rds_cluster", "serverlessv2_scaling_configuration", "seconds_until_auto_pause") => {
            after.is_number()
        }
        ("aws_cloudwatch_event_rule", "", "is_enabled") => after == &Value::Bool(false),
        ("aws_cloudwatch_event_rule", "", "state") => after.as_str() == Some("DISABLED"),
        _ => false,
    }
}

/// The sensitivity masks (`before_sensitive`, `after_sensitive`) at one place.
#[derive(Clone, Copy)]
struct Masks<'a> {
    before: Option<&'a Value>,
    after: Option<&'a Value>,
}

impl<'a> Masks<'a> {
    fn sensitive(self) -> bool {
        self.before == Some(&Value::Bool(true)) || self.after == Some(&Value::Bool(true))
    }

    fn key(self, k: &str) -> Masks<'a> {
        Masks {
            before: self.before.and_then(|m| m.get(k)),
            after: self.after.and_then(|m| m.get(k)),
        }
    }

    fn index(self, i: usize) -> Masks<'a> {
        Masks {
            before: self.before.and_then(|m| m.get(i)),
            after: self.after.and_then(|m| m.get(i)),
        }
    }
}

/// The changed leaves between `before` and `after`: objects by key, lists of one length by
/// index, anything else whole. Sensitive values are never copied out.
fn diff(
    before: &Value,
    after: &Value,
    masks: Masks,
    path: String,
    out: &mut Vec<(String, Value, Value)>,
) {
    if before == after {
        return;
    }
    if masks.sensitive() {
        let hidden = Value::from("(sensitive)");
        out.push((path, hidden.clone(), hidden));
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for k in keys {
                let child = if !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    }
                } else {
                    format!("{path}[{}]", Value::from(k.as_str()))
                };
                diff(
                    b.get(k).unwrap_or(&Value::Null),
                    a.get(k).unwrap_or(&Value::Null),
                    masks.key(k),
                    child,
                    out,
                );
            }
        }
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() => {
            for (i, (x, y)) in b.iter().zip(a).enumerate() {
                diff(x, y, masks.index(i), format!("{path}[{i}]"), out);
            }
        }
        _ => out.push((path, before.clone(), after.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infra_core::exit::ExitStatus;
    use infra_core::output::Report;
    use serde_json::json;

    fn plan(drift: Value) -> PlanJson {
        PlanJson::parse(
            &json!({"format_version": "1.0", "terraform_version": "1.0.3", "resource_drift": drift})
                .to_string(),
        )
        .unwrap()
    }

    fn change(address: &str, kind: &str, before: Value, after: Value) -> Value {
        json!({"address": address, "mode": "managed", "type": kind,
               "change": {"actions": ["update"], "before": before, "after": after}})
    }

    fn service(name: &str, before: i64, after: i64) -> Value {
        change(
            &format!("aws_ecs_service.this[\"{name}\"]"),
            "aws_ecs_service",
            json!({"name": name, "cluster": "arn:aws:ecs:eu-west-2:123456789012:cluster/blog-prod", "desired_count": before}),
            json!({"name": name, "cluster": "arn:aws:ecs:eu-west-2:123456789012:cluster/blog-prod", "desired_count": after}),
        )
    }

    fn target(name: &str, before: (i64, i64), after: (i64, i64), suspended: bool) -> Value {
        let state = |s: bool| json!([{"dynamic_scaling_in_suspended": s, "dynamic_scaling_out_suspended": s, "scheduled_scaling_suspended": s}]);
        change(
            &format!("aws_appautoscaling_target.this[\"{name}\"]"),
            "aws_appautoscaling_target",
            json!({"resource_id": format!("service/blog-prod/{name}"), "min_capacity": before.0, "max_capacity": before.1, "suspended_state": state(false)}),
            json!({"resource_id": format!("service/blog-prod/{name}"), "min_capacity": after.0, "max_capacity": after.1, "suspended_state": state(suspended)}),
        )
    }

    fn valid(service: &str) -> Recorded {
        Recorded {
            resource: Parked::Service {
                cluster: "blog-prod".into(),
                service: service.into(),
            },
            record: Record::Valid {
                parked_at: "2026-12-02T19:00:00Z".into(),
            },
        }
    }

    #[test]
    fn what_park_did_is_parked_and_everything_else_unexpected() {
        let p = plan(json!([
            service("portal", 2, 0),
            target("portal", (1, 4), (0, 0), true),
            service("prefect-server", 1, 0),
            service("prefect-worker", 1, 5),
            target("prefect-server", (1, 2), (1, 3), false),
        ]));
        let recorded = vec![valid("portal"), valid("prefect-worker")];
        let drift = classify(&p, &recorded);
        let classes: Vec<(&str, DriftClass)> = drift
            .iter()
            .map(|r| (r.address.as_str(), r.class))
            .collect();
        assert_eq!(
            classes,
            [
                ("aws_ecs_service.this[\"portal\"]", DriftClass::Parked),
                (
                    "aws_appautoscaling_target.this[\"portal\"]",
                    DriftClass::Parked
                ),
                // At the parked value, but park has no record for it.
                (
                    "aws_ecs_service.this[\"prefect-server\"]",
                    DriftClass::Unexpected
                ),
                // Recorded, but 5 is not what park leaves.
                (
                    "aws_ecs_service.this[\"prefect-worker\"]",
                    DriftClass::Unexpected
                ),
                (
                    "aws_appautoscaling_target.this[\"prefect-server\"]",
                    DriftClass::Unexpected
                ),
            ]
        );
        assert_eq!(
            drift[1]
                .attributes
                .iter()
                .map(|a| a.path.as_str())
                .collect::<Vec<_>>(),
            [
                "max_capacity",
                "min_capacity",
                "suspended_state[0].dynamic_scaling_in_suspended",
                "suspended_state[0].dynamic_scaling_out_suspended",
                "suspended_state[0].scheduled_scaling_suspended",
            ]
        );
        assert!(
            drift[0]
                .reason
                .contains("ECS service blog-prod/portal (written 2026-12-02T19:00:00Z)"),
            "{}",
            drift[0].reason
        );
        assert!(
            drift[2].reason.contains("desired_count at the value park leaves, but ECS service blog-prod/prefect-server has no park record"),
            "{}",
            drift[2].reason
        );
        assert_eq!(drift[3].reason, "changed outside Terraform: desired_count");
        assert_eq!(drift[4].reason, "changed outside Terraform: max_capacity");

        let report = DriftReport::new("prod", drift, Some("1.0.3".into()));
        assert_eq!(
            report.counts,
            DriftCounts {
                parked: 2,
                unexpected: 3
            }
        );
        assert_eq!(report.outcome, DriftOutcome::Unexpected);
        assert_eq!(report.exit_status(), ExitStatus::ChangesFound);
    }

    #[test]
    fn a_mixed_change_an_unreadable_record_and_a_deleted_resource_are_unexpected() {
        let mut both = target("portal", (1, 4), (0, 0), true);
        both["change"]["after"]["tags"] = json!({"Owner": "someone"});
        let mut gone = service("portal", 2, 0);
        gone["change"]["actions"] = json!(["delete"]);
        gone["change"]["after"] = Value::Null;
        let p = plan(json!([both, service("prefect-worker", 1, 0), gone]));
        let mut unreadable = valid("prefect-worker");
        unreadable.record = Record::Unreadable {
            error: "not JSON".into(),
        };
        let drift = classify(&p, &[valid("portal"), unreadable]);
        assert!(drift.iter().all(|r| r.class == DriftClass::Unexpected));
        assert_eq!(drift[0].reason, "changed outside Terraform: tags");
        let min = drift[0]
            .attributes
            .iter()
            .find(|a| a.path == "min_capacity")
            .unwrap();
        assert_eq!(
            min.class,
            DriftClass::Parked,
            "the attribute itself is explained"
        );
        assert!(
            drift[1].reason.contains("is unreadable (not JSON)"),
            "{}",
            drift[1].reason
        );
        assert_eq!(drift[2].action, Action::Delete);
        assert!(drift[2].reason.starts_with("deleted outside Terraform"));
    }

    #[test]
    fn the_records_are_read_again_only_for_a_parked_value_without_a_record() {
        let p = plan(json!([
            service("portal", 2, 0),
            service("prefect-worker", 1, 5)
        ]));
        // Recorded: explained in the first read; the hand-made 5 needs no second read.
        assert!(!unexplained_parked_values(&classify(
            &p,
            &[valid("portal")]
        )));
        // Not recorded yet (park down writing its records while Terraform refreshed).
        assert!(unexplained_parked_values(&classify(&p, &[])));
    }

    #[test]
    fn aurora_parked_at_minimum_zero_with_auto_pause() {
        let scaling = |min: f64, pause: Value| json!({"cluster_identifier": "blog-prod-db", "serverlessv2_scaling_configuration": [{"min_capacity": min, "max_capacity": 4.0, "seconds_until_auto_pause": pause}]});
        let p = plan(json!([change(
            "module.aurora.aws_rds_cluster.this",
            "aws_rds_cluster",
            scaling(0.5, Value::Null),
            scaling(0.0, json!(300)),
        )]));
        let aurora = |record| Recorded {
            resource: Parked::Aurora {
                cluster: "blog-prod-db".into(),
            },
            record,
        };
        let valid = aurora(Record::Valid {
            parked_at: "2026-12-02T19:00:00Z".into(),
        });
        let drift = classify(&p, std::slice::from_ref(&valid));
        assert_eq!(drift[0].class, DriftClass::Parked, "{:?}", drift[0]);
        assert_eq!(drift[0].attributes.len(), 2);
        assert_eq!(
            drift[0].attributes[0].path,
            "serverlessv2_scaling_configuration[0].min_capacity"
        );
        assert_eq!(classify(&p, &[])[0].class, DriftClass::Unexpected);
        // A record valid in either read counts.
        let unreadable = aurora(Record::Unreadable { error: "x".into() });
        assert_eq!(
            merge(vec![unreadable.clone()], vec![valid.clone()]),
            vec![valid.clone()]
        );
        assert_eq!(
            merge(vec![valid.clone()], vec![unreadable]),
            vec![valid.clone()]
        );
        assert_eq!(merge(vec![], vec![valid.clone()]), vec![valid]);
    }

    #[test]
    fn an_eventbridge_rule_park_disabled() {
        let rule = |bus: &str, enabled: bool| json!({"name": "sync-hourly", "event_bus_name": bus, "is_enabled": enabled, "state": if enabled { "ENABLED" } else { "DISABLED" }});
        let p = plan(json!([
            change(
                "aws_cloudwatch_event_rule.sync",
                "aws_cloudwatch_event_rule",
                rule("default", true),
                rule("default", false)
            ),
            // The same name on another bus: not the rule park recorded.
            change(
                "aws_cloudwatch_event_rule.other",
                "aws_cloudwatch_event_rule",
                rule("jobs", true),
                rule("jobs", false)
            ),
        ]));
        let recorded = Recorded {
            resource: Parked::Rule {
                name: "sync-hourly".into(),
                event_bus: "default".into(),
            },
            record: Record::Valid {
                parked_at: "2026-12-02T19:00:00Z".into(),
            },
        };
        let drift = classify(&p, std::slice::from_ref(&recorded));
        assert_eq!(drift[0].class, DriftClass::Parked, "{:?}", drift[0]);
        let paths: Vec<&str> = drift[0]
            .attributes
            .iter()
            .map(|a| a.path.as_str())
            .collect();
        assert_eq!(paths, ["is_enabled", "state"]);
        assert_eq!(drift[1].class, DriftClass::Unexpected);
        assert!(
            drift[1]
                .reason
                .contains("EventBridge rule sync-hourly has no park record"),
            "{}",
            drift[1].reason
        );
        // Switched on outside Terraform while parked: not what park leaves.
        let p = plan(json!([change(
            "aws_cloudwatch_event_rule.sync",
            "aws_cloudwatch_event_rule",
            rule("default", false),
            rule("default", true)
        )]));
        assert_eq!(classify(&p, &[recorded])[0].class, DriftClass::Unexpected);
    }

    #[test]
    fn sensitive_values_never_leave_the_plan() {
        let mut c = change(
            "aws_db_instance.x",
            "aws_db_instance",
            json!({"password": "old-secret", "port": 5432}),
            json!({"password": "new-secret", "port": 5433}),
        );
        c["change"]["before_sensitive"] = json!({"password": true});
        c["change"]["after_sensitive"] = json!({"password": true});
        let drift = classify(&plan(json!([c])), &[]);
        let json = serde_json::to_string(&drift).unwrap();
        assert!(!json.contains("secret"), "{json}");
        assert_eq!(drift[0].attributes[0].before, "(sensitive)");
        assert_eq!(drift[0].attributes[1].path, "port");
    }

    #[test]
    fn the_report_in_json_text_markdown_and_junit() {
        let p = plan(json!([
            service("portal", 2, 0),
            service("prefect-worker", 1, 5),
        ]));
        let report = DriftReport::new("prod", classify(&p, &[valid("portal")]), None);
        let mut out = Vec::new();
        infra_core::output::write_report(&report, infra_core::output::OutputFormat::Json, &mut out)
            .unwrap();
        let json: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(json["schema"], "tf-wrap/drift");
        assert_eq!(json["schema_version"], 1);
        assert_eq!(json["outcome"], "unexpected");
        assert_eq!(json["counts"], json!({"parked": 1, "unexpected": 1}));
        assert_eq!(json["resources"][0]["class"], "parked");
        assert_eq!(json["resources"][0]["type"], "aws_ecs_service");
        assert_eq!(json["resources"][0]["action"], "update");
        assert_eq!(
            json["resources"][1]["attributes"],
            json!([{"path": "desired_count", "before": 1, "after": 5, "class": "unexpected"}])
        );

        let mut text = Vec::new();
        report.write_text(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        let unexpected = text
            .find("UNEXPECTED  aws_ecs_service.this[\"prefect-worker\"]")
            .unwrap();
        let parked = text
            .find("PARKED      aws_ecs_service.this[\"portal\"]")
            .unwrap();
        assert!(unexpected < parked, "unexpected first:\n{text}");
        assert!(text.contains("desired_count: 1 -> 5"), "{text}");

        let md = report.to_markdown_within(65_000, "x");
        assert!(md.contains("| 1 | 1 |"), "{md}");
        assert!(md.contains("**unexpected** (1) :warning:"), "{md}");
        assert!(
            md.contains("- `aws_ecs_service.this[\"portal\"]`: desired_count 2 → 0"),
            "{md}"
        );

        let xml = report.to_junit().unwrap();
        assert!(xml.contains("tests=\"2\""), "{xml}");
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(
            xml.contains("changed outside Terraform: desired_count"),
            "{xml}"
        );

        let none = DriftReport::new("prod", Vec::new(), None);
        assert_eq!(none.outcome, DriftOutcome::NoDrift);
        assert_eq!(none.exit_status(), ExitStatus::Success);
        assert!(none.to_junit().unwrap().contains("name=\"no drift\""));
        assert!(none
            .to_markdown_within(65_000, "x")
            .ends_with("No drift.\n"));
    }

    /// 2,000 parked services: the Markdown stays under the limit and keeps every
    /// unexpected one.
    #[test]
    fn a_long_parked_list_is_cut_and_unexpected_drift_never_is() {
        let mut changes: Vec<Value> = (0..2000)
            .map(|i| service(&format!("svc-{i:04}"), 2, 0))
            .collect();
        changes.extend((0..50).map(|i| service(&format!("manual-{i:02}"), 1, 7)));
        let recorded: Vec<Recorded> = (0..2000).map(|i| valid(&format!("svc-{i:04}"))).collect();
        let report = DriftReport::new(
            "prod",
            classify(&plan(Value::from(changes)), &recorded),
            None,
        );
        let md = report.to_markdown_within(20_000, "`tf-wrap drift --output json`");
        assert!(md.len() <= 20_000, "{}", md.len());
        for i in 0..50 {
            assert!(md.contains(&format!("manual-{i:02}")), "manual-{i:02} kept");
        }
        assert!(
            md.contains(
                "more, left out to stay under 20000 bytes: see `tf-wrap drift --output json`"
            ),
            "{md}"
        );
        assert!(md.contains("| 50 | 2000 |"));
    }
}
