//! The steps of an ECS service: its record tag, its scalable target, its desired count,
//! the wait until it is stable.

use super::{arn, not_mine, record_value, StepError};
use crate::observe::{scalable_resource_id, Clients};
use crate::plan::{PlanItem, Step};
use crate::record::RECORD_TAG_KEY;
use crate::wait;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace, SuspendedState};
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
    let (cluster, service) = name
        .split_once('/')
        .unwrap_or((name.as_str(), name.as_str()));
    match step {
        Step::WriteServiceRecord { record } => {
            let tag = aws_sdk_ecs::types::Tag::builder()
                .key(RECORD_TAG_KEY)
                .value(record_value(item, record.encode())?)
                .build();
            clients.budget.acquire("ecs", "TagResource").await;
            clients
                .ecs
                .tag_resource()
                .resource_arn(arn(item)?)
                .tags(tag)
                .send()
                .await
                .map_err(AwsCallError::on("ecs:TagResource", name.clone()))?;
        }
        Step::SetTarget {
            min,
            max,
            suspended,
        } => {
            let state = SuspendedState::builder()
                .dynamic_scaling_in_suspended(suspended.dynamic_in)
                .dynamic_scaling_out_suspended(suspended.dynamic_out)
                .scheduled_scaling_suspended(suspended.scheduled)
                .build();
            clients
                .budget
                .acquire("application-autoscaling", "RegisterScalableTarget")
                .await;
            clients
                .autoscaling
                .register_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(scalable_resource_id(cluster, service))
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .min_capacity(*min)
                .max_capacity(*max)
                .suspended_state(state)
                .send()
                .await
                .map_err(AwsCallError::on(
                    "application-autoscaling:RegisterScalableTarget",
                    name.clone(),
                ))?;
        }
        Step::SetDesiredCount { count } => {
            clients.budget.acquire("ecs", "UpdateService").await;
            clients
                .ecs
                .update_service()
                .cluster(cluster)
                .service(service)
                .desired_count(*count)
                .send()
                .await
                .map_err(AwsCallError::on("ecs:UpdateService", name.clone()))?;
        }
        Step::WaitServiceStable => {
            wait::service_stable_within(&clients.polls, cluster, service, deadline, poll)
                .await
                .map_err(|e| e.to_string())?;
        }
        Step::RemoveServiceRecord => {
            clients.budget.acquire("ecs", "UntagResource").await;
            clients
                .ecs
                .untag_resource()
                .resource_arn(arn(item)?)
                .tag_keys(RECORD_TAG_KEY)
                .send()
                .await
                .map_err(AwsCallError::on("ecs:UntagResource", name.clone()))?;
        }
        other => return Err(not_mine("ECS service", other)),
    }
    Ok(())
}
