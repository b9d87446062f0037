//! `image` blocks: the pinned images, checked by `tf-locals` ([`tf_locals::image::check`]),
//! their problems placed here at their `file:line:column`.

use super::{normalize, KeyPath, Validator};
use indexmap::IndexMap;
use std::path::Path;
use tf_locals::image::{check, PinnedImage, RawImage};

impl Validator<'_, '_> {
    pub(super) fn images(
        &mut self,
        env: &KeyPath,
        raw: IndexMap<String, RawImage>,
        root: &Path,
    ) -> Vec<PinnedImage> {
        let mut images = Vec::new();
        for (local, raw) in raw {
            let p = env.key("image").key(&local);
            let (image, problems) = check(local, raw, root, normalize);
            for problem in problems {
                match problem.key {
                    Some(key) => self.problem(&p.key(key), problem.message),
                    None => self.problem(&p, problem.message),
                }
            }
            images.extend(image);
        }
        images
    }
}
