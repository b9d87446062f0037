//! `aurora_cluster` blocks.

use super::{KeyPath, Validator};
use crate::environment::raw::RawAurora;
use crate::environment::{AuroraCluster, AuroraParkPolicy};
use indexmap::IndexMap;

impl Validator<'_, '_> {
    pub(super) fn aurora_clusters(
        &mut self,
        env: &KeyPath,
        raw: IndexMap<String, RawAurora>,
    ) -> Vec<AuroraCluster> {
        let mut clusters = Vec::new();
        for (cluster, raw) in raw {
            let p = env.key("aurora_cluster").key(&cluster);
            let park = match raw.park.as_deref() {
                None | Some("keep") => AuroraParkPolicy::Keep,
                Some("scale-to-zero") => AuroraParkPolicy::ScaleToZero,
                Some(other) => {
                    self.problem(
                        &p.key("park"),
                        format!("unknown Aurora `park` policy \"{other}\": expected \"keep\" or \"scale-to-zero\""),
                    );
                    AuroraParkPolicy::Keep
                }
            };
            let auto_pause_seconds = match raw.auto_pause_seconds {
                None => 300,
                Some(s) if (300..=86_400).contains(&s) => s as u32,
                Some(s) => {
                    self.problem(
                        &p.key("auto_pause_seconds"),
                        format!("`auto_pause_seconds` must be between 300 and 86400 (Aurora's limits), found {s}"),
                    );
                    300
                }
            };
            clusters.push(AuroraCluster {
                name: cluster,
                park,
                auto_pause_seconds,
            });
        }
        clusters
    }
}
