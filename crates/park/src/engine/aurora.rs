//! The steps of an Aurora cluster: its record tag, its Serverless v2 scaling, the wait
//! until it is available.

use super::{arn, not_mine, record_value, StepError};
use crate::observe::Clients;
use crate::plan::{PlanItem, Step};
use crate::record::RECORD_TAG_KEY;
use crate::wait;
use infra_core::aws::AwsCallError;
use std::time::Duration;
use tokio::time::Instant;

pub(super) async fn step(
    clients: &Clients,
    item: &PlanItem,
    step: &Step,
    poll: Duration,
    deadline: Instant,
) -> Result<(), StepError> {
    let name = item.resource.name.clone();
    match step {
        Step::WriteAuroraRecord { record } => {
            let tag = aws_sdk_rds::types::Tag::builder()
                .key(RECORD_TAG_KEY)
                .value(record_value(item, record.encode())?)
                .build();
            clients
                .rds
                .add_tags_to_resource()
                .resource_name(arn(item)?)
                .tags(tag)
                .send()
                .await
                .map_err(AwsCallError::on("rds:AddTagsToResource", name.clone()))?;
        }
        Step::SetAuroraScaling {
            min_capacity,
            max_capacity,
            seconds_until_auto_pause,
        } => {
            let scaling = aws_sdk_rds::types::ServerlessV2ScalingConfiguration::builder()
                .min_capacity(*min_capacity)
                .max_capacity(*max_capacity)
                .set_seconds_until_auto_pause(*seconds_until_auto_pause)
                .build();
            clients
                .rds
                .modify_db_cluster()
                .db_cluster_identifier(&name)
                .serverless_v2_scaling_configuration(scaling)
                .apply_immediately(true)
                .send()
                .await
                .map_err(AwsCallError::on("rds:ModifyDBCluster", name.clone()))?;
        }
        Step::WaitAuroraAvailable => {
            wait::aurora_available(&clients.rds, &name, deadline, poll)
                .await
                .map_err(|e| e.to_string())?;
        }
        Step::RemoveAuroraRecord => {
            clients
                .rds
                .remove_tags_from_resource()
                .resource_name(arn(item)?)
                .tag_keys(RECORD_TAG_KEY)
                .send()
                .await
                .map_err(AwsCallError::on("rds:RemoveTagsFromResource", name.clone()))?;
        }
        other => return Err(not_mine("Aurora cluster", other)),
    }
    Ok(())
}
