//! `task` blocks: the one-off tasks, checked by `task-spec` ([`task_spec::check`]), their
//! problems placed here at their `file:line:column`; here too the one reference to
//! another block (`image` names an `image` block).

use super::{KeyPath, Validator};
use indexmap::IndexMap;
use task_spec::{check, RawTask, TaskSpec};
use tf_locals::image::PinnedImage;

impl Validator<'_, '_> {
    pub(super) fn tasks(
        &mut self,
        env: &KeyPath,
        raw: IndexMap<String, RawTask>,
        images: &[PinnedImage],
    ) -> Vec<TaskSpec> {
        let mut tasks = Vec::new();
        for (name, raw) in raw {
            let p = env.key("task").key(&name);
            let (task, problems) = check(name, raw);
            for problem in problems {
                match problem.key {
                    Some(key) => self.problem(&p.key(key), problem.message),
                    None => self.problem(&p, problem.message),
                }
            }
            let Some(task) = task else { continue };
            if let Some(local) = &task.image {
                if !images.iter().any(|i| &i.local == local) {
                    let known: Vec<&str> = images.iter().map(|i| i.local.as_str()).collect();
                    self.problem(
                        &p.key("image"),
                        format!(
                            "`image` \"{local}\" names no `image` block of this environment (known: {})",
                            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                        ),
                    );
                }
            }
            tasks.push(task);
        }
        tasks
    }
}
