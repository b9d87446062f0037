//! The `schedule` block: checked by the `schedule` crate ([`::schedule::config::check`]),
//! its problems placed here at their `file:line:column`.

use super::{KeyPath, Validator};
use ::schedule::config::{check, RawSchedule};
use ::schedule::Schedule;
use std::path::Path;

impl Validator<'_, '_> {
    pub(super) fn schedule(
        &mut self,
        env: &KeyPath,
        raw: Option<RawSchedule>,
        base: &Path,
    ) -> Option<Schedule> {
        let p = env.key("schedule");
        let checked = check(raw?, |file| {
            let path = super::normalize(&base.join(file));
            std::fs::read_to_string(&path)
                .map(|text| (path.display().to_string(), text))
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        });
        for problem in checked.problems {
            match problem.schedule_only {
                // Only the schedule depends on it: the other tools, and park's runs by
                // hand, still work (Environment::schedule_problems).
                true => self.schedule_problem(&p.key(problem.key), problem.message),
                false => self.problem(&p.key(problem.key), problem.message),
            }
        }
        checked.schedule
    }
}
