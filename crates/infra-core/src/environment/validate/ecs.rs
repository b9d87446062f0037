//! `ecs_cluster` blocks and their services.

use super::{valid_name, KeyPath, Validator};
use crate::environment::raw::RawCluster;
use crate::environment::{CapacityRange, EcsCluster, EcsService};
use indexmap::IndexMap;

impl Validator<'_, '_> {
    pub(super) fn ecs_clusters(
        &mut self,
        env: &KeyPath,
        raw: IndexMap<String, RawCluster>,
    ) -> Vec<EcsCluster> {
        let mut clusters = Vec::new();
        for (cluster, raw_cluster) in raw {
            let c = env.key("ecs_cluster").key(&cluster);
            let mut services = Vec::new();
            for (svc, raw_svc) in raw_cluster.service {
                let p = c.key("service").key(&svc);
                let desired_count = self.count(&p.key("desired_count"), raw_svc.desired_count);
                let autoscaling = raw_svc.autoscaling.map(|a| {
                    let ap = p.key("autoscaling");
                    let min = self.count(&ap.key("min"), a.min);
                    let max = self.count(&ap.key("max"), a.max);
                    if a.min >= 0 && a.max >= 0 {
                        if min > max {
                            self.problem(
                                &ap.key("min"),
                                format!("autoscaling `min` ({min}) is greater than `max` ({max}) for service `{svc}`"),
                            );
                        } else if raw_svc.desired_count >= 0 && !(min..=max).contains(&desired_count) {
                            self.problem(
                                &p.key("desired_count"),
                                format!(
                                    "`desired_count` ({desired_count}) of service `{svc}` is outside its autoscaling range [{min}, {max}]"
                                ),
                            );
                        }
                    }
                    CapacityRange { min, max }
                });
                services.push(EcsService {
                    name: svc,
                    desired_count,
                    park: raw_svc.park.unwrap_or(true),
                    autoscaling,
                });
            }
            if !valid_name(&cluster) {
                self.problem(&c, format!("invalid ECS cluster name `{cluster}`"));
            }
            clusters.push(EcsCluster {
                name: cluster,
                services,
            });
        }
        clusters
    }
}
