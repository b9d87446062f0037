//! `park hold` and `release`, and the hold `park up --hold-until` places: checked before
//! any AWS call, then written or removed under the environment lock.

use super::{AwsRequest, HoldRequest, Outcome, ParkError};
use crate::hold::{Hold, HoldError};
use crate::observe::{observe, Clients};
use crate::plan::Direction;
use crate::report::{HoldReport, HoldResult};
use infra_core::Environment;

/// The hold a request places, if any.
pub(super) fn hold_request(request: &AwsRequest) -> Option<&HoldRequest> {
    match request {
        AwsRequest::Hold(h) => Some(h),
        AwsRequest::Run(Direction::Up, args) => args.hold.as_ref(),
        _ => None,
    }
}

/// The hold `h` asks for, checked (end, length, reason, holder), as `by`.
pub(super) fn hold_for(
    env: &Environment,
    h: &HoldRequest,
    by: &str,
    now: std::time::SystemTime,
) -> Result<Hold, HoldError> {
    if env.ecs_clusters.is_empty() {
        return Err(HoldError::NoCluster);
    }
    let until = crate::hold::parse_when(&h.until, now)?;
    crate::hold::new_hold(until, &h.reason, by, now, env.max_hold)
}

/// Who holds when `--by` is not given: the caller's identity (as a tag allows it), else
/// the local user.
pub(super) fn holder(caller: Option<&infra_core::aws::CallerIdentity>) -> String {
    let name = match caller {
        Some(c) => crate::hold::holder_from_arn(&c.arn),
        None => std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
    };
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "_.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    if clean.is_empty() {
        "unknown".into()
    } else {
        clean
    }
}

/// Writes `hold` on every ECS cluster of the environment.
pub(super) async fn place_hold(
    env: Environment,
    clients: Clients,
    hold: Hold,
) -> Result<Outcome, ParkError> {
    let live = observe(&clients, &env).await?;
    let clusters = crate::hold::write(&clients, &live, &hold).await?;
    Ok(Outcome::Hold(HoldReport {
        environment: env.name.clone(),
        action: HoldResult::Placed,
        hold: Some(hold),
        clusters,
        clock: None,
    }))
}

pub(super) async fn release_hold(env: Environment, clients: Clients) -> Result<Outcome, ParkError> {
    let live = observe(&clients, &env).await?;
    let hold = live.latest_hold().cloned();
    let clusters = crate::hold::remove(&clients, &live).await?;
    Ok(Outcome::Hold(HoldReport {
        environment: env.name.clone(),
        action: if clusters.is_empty() {
            HoldResult::None
        } else {
            HoldResult::Released
        },
        hold,
        clusters,
        clock: None,
    }))
}
