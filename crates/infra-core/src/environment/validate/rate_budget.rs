//! `rate_budget "CATEGORY"` blocks: sizes checked by the `rate-budget` crate
//! ([`rate_budget::check`]), their problems placed here at their `file:line:column`.

use super::{KeyPath, Validator};
use indexmap::IndexMap;
use rate_budget::{check, BucketSize, Category, RawBucket};

impl Validator<'_, '_> {
    pub(super) fn rate_budget(
        &mut self,
        env: &KeyPath,
        raw: IndexMap<String, RawBucket>,
    ) -> Vec<(Category, BucketSize)> {
        let mut sizes = Vec::new();
        for (name, raw) in raw {
            let p = env.key("rate_budget").key(&name);
            let (size, problems) = check(&name, &raw);
            for problem in problems {
                match problem.key {
                    Some(key) => self.problem(&p.key(key), problem.message),
                    None => self.problem(&p, problem.message),
                }
            }
            sizes.extend(size);
        }
        sizes
    }
}
