//! The steps of an EventBridge rule: its record tag, disabling and enabling it.

use super::{arn, not_mine, record_value, StepError};
use crate::observe::Clients;
use crate::plan::{PlanItem, Step};
use crate::record::RECORD_TAG_KEY;
use infra_core::aws::AwsCallError;

pub(super) async fn step(clients: &Clients, item: &PlanItem, step: &Step) -> Result<(), StepError> {
    let name = item.resource.name.clone();
    match step {
        Step::WriteRuleRecord { record } => {
            let tag = aws_sdk_eventbridge::types::Tag::builder()
                .key(RECORD_TAG_KEY)
                .value(record_value(item, record.encode())?)
                .build()
                .map_err(|e| format!("park record for {name}: {e}"))?;
            clients
                .events
                .tag_resource()
                .resource_arn(arn(item)?)
                .tags(tag)
                .send()
                .await
                .map_err(AwsCallError::on("events:TagResource", name.clone()))?;
        }
        Step::DisableRule | Step::EnableRule => {
            let bus = item.resource.event_bus.as_deref().unwrap_or("default");
            let rule = name
                .strip_prefix(&format!("{bus}/"))
                .unwrap_or(name.as_str());
            if *step == Step::DisableRule {
                clients
                    .events
                    .disable_rule()
                    .name(rule)
                    .event_bus_name(bus)
                    .send()
                    .await
                    .map_err(AwsCallError::on("events:DisableRule", name.clone()))?;
            } else {
                clients
                    .events
                    .enable_rule()
                    .name(rule)
                    .event_bus_name(bus)
                    .send()
                    .await
                    .map_err(AwsCallError::on("events:EnableRule", name.clone()))?;
            }
        }
        Step::RemoveRuleRecord => {
            clients
                .events
                .untag_resource()
                .resource_arn(arn(item)?)
                .tag_keys(RECORD_TAG_KEY)
                .send()
                .await
                .map_err(AwsCallError::on("events:UntagResource", name.clone()))?;
        }
        other => return Err(not_mine("EventBridge rule", other)),
    }
    Ok(())
}
