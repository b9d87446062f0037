//! Reading `terraform show -json PLANFILE` and summarising it.
//!
//! Only the fields the summary and the gates need are read, and every one of them exists in
//! format versions 0.1 to 1.2; unknown fields are ignored (newer minor versions add fields),
//! an unknown *major* version is refused, because its meaning could have changed.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The parts of a plan's JSON representation the tool reads.
#[derive(Debug, Clone, Deserialize)]
pub struct PlanJson {
    /// `"0.1"` … `"1.2"`.
    pub format_version: String,
    /// The Terraform version that made the plan (absent in some golden test outputs).
    #[serde(default)]
    pub terraform_version: Option<String>,
    /// Planned changes to managed resources and data sources.
    #[serde(default)]
    pub resource_changes: Vec<ResourceChange>,
    /// Changes made outside Terraform, found by the refresh (format ≥ 0.2).
    #[serde(default)]
    pub resource_drift: Vec<ResourceChange>,
    /// Planned changes to root module outputs.
    #[serde(default)]
    pub output_changes: BTreeMap<String, OutputChange>,
    /// Whether planning failed part way (format ≥ 1.2; such a plan cannot be applied).
    #[serde(default)]
    pub errored: bool,
}

/// One entry of `resource_changes` or `resource_drift`.
#[derive(Debug, Clone, Deserialize)]
pub struct ResourceChange {
    /// `module.x.aws_ecs_service.portal[0]`.
    pub address: String,
    /// The address before a `moved` block renamed it.
    #[serde(default)]
    pub previous_address: Option<String>,
    /// `managed` or `data`.
    #[serde(default)]
    pub mode: Option<ResourceMode>,
    /// The resource type, `aws_ecs_service`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The change.
    pub change: Change,
    /// Why Terraform chose this action, when it says (`replace_because_cannot_update`).
    #[serde(default)]
    pub action_reason: Option<String>,
}

/// A resource's `mode` in the plan: a managed resource or a data source.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
#[non_exhaustive]
pub enum ResourceMode {
    /// `managed`: a resource Terraform creates, changes and destroys.
    Managed,
    /// `data`: a data source, only read.
    Data,
    /// A mode this version does not know, as Terraform spelled it.
    Unknown(String),
}

impl From<String> for ResourceMode {
    fn from(text: String) -> Self {
        match text.as_str() {
            "managed" => ResourceMode::Managed,
            "data" => ResourceMode::Data,
            _ => ResourceMode::Unknown(text),
        }
    }
}

impl ResourceChange {
    /// Whether this is a data source's read, not a managed resource's change.
    pub fn is_data(&self) -> bool {
        self.mode == Some(ResourceMode::Data)
    }
}

/// The `change` object.
#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    /// `["no-op"]`, `["create"]`, `["read"]`, `["update"]`, `["delete"]`,
    /// `["delete","create"]`, `["create","delete"]`.
    pub actions: Vec<String>,
    /// The values before (null when created).
    #[serde(default)]
    pub before: Value,
    /// The values after (null when deleted); unknown values are absent here and `true` in
    /// `after_unknown`.
    #[serde(default)]
    pub after: Value,
    /// Which `after` values are known only after apply.
    #[serde(default)]
    pub after_unknown: Value,
    /// Which `before` values are sensitive (`true` at their place; format ≥ 0.2).
    #[serde(default)]
    pub before_sensitive: Option<Value>,
    /// Which `after` values are sensitive.
    #[serde(default)]
    pub after_sensitive: Option<Value>,
}

/// One entry of `output_changes`.
#[derive(Debug, Clone, Deserialize)]
pub struct OutputChange {
    /// As for resources.
    pub actions: Vec<String>,
}

/// What a plan does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing.
    NoOp,
    /// A data source is read during apply.
    Read,
    /// Created.
    Create,
    /// Updated in place.
    Update,
    /// Destroyed and created again (either order).
    Replace,
    /// Destroyed.
    Delete,
}

impl Action {
    /// Classifies Terraform's action list; `None` for a list no format version defines.
    pub fn from_actions(actions: &[String]) -> Option<Action> {
        let a: Vec<&str> = actions.iter().map(String::as_str).collect();
        Some(match a.as_slice() {
            ["no-op"] => Action::NoOp,
            ["read"] => Action::Read,
            ["create"] => Action::Create,
            ["update"] => Action::Update,
            ["delete"] => Action::Delete,
            ["delete", "create"] | ["create", "delete"] => Action::Replace,
            _ => return None,
        })
    }

    /// Whether the resource is destroyed (deleted, or replaced).
    pub fn destroys(self) -> bool {
        matches!(self, Action::Delete | Action::Replace)
    }
}

impl ResourceChange {
    /// The classified action; an unknown action list is treated as a replacement, the most
    /// dangerous reading, so gates never let an unknown action through.
    pub fn action(&self) -> Action {
        Action::from_actions(&self.change.actions).unwrap_or(Action::Replace)
    }
}

/// Why a plan's JSON could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanJsonError {
    /// Not JSON, or not the shape of a plan.
    #[error("the plan's JSON is not valid at line {line}, column {column}: {source}")]
    Invalid {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde's error.
        #[source]
        source: serde_json::Error,
    },
    /// A format this tool does not know.
    #[error("the plan's JSON has format_version {0}; this tool reads 0.x and 1.x")]
    UnknownFormat(String),
}

impl PlanJson {
    /// Parses `show -json` output.
    pub fn parse(text: &str) -> Result<PlanJson, PlanJsonError> {
        let plan: PlanJson =
            serde_json::from_str(text).map_err(|source| PlanJsonError::Invalid {
                line: source.line(),
                column: source.column(),
                source,
            })?;
        let major = plan.format_version.split('.').next().unwrap_or("");
        if major != "0" && major != "1" {
            return Err(PlanJsonError::UnknownFormat(plan.format_version));
        }
        Ok(plan)
    }
}

/// One changed resource in a summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The resource address.
    pub address: String,
    /// Terraform's reason, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Where a Markdown list must stop: the document's limit, the room kept for what follows,
/// and where the whole list can be read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit<'a> {
    /// The document's size limit in bytes.
    pub max_bytes: usize,
    /// Bytes kept for the sections still to come.
    pub reserve: usize,
    /// Where the full list is (said in the "left out" line).
    pub full: &'a str,
}

/// Appends Markdown list `lines` and a blank line to `out`; with a `limit`, stops where the
/// next line would not fit and says how many were left out and where they are. Without one
/// (deletions, unexpected drift) every line is kept. Says whether lines were left out.
pub(crate) fn push_lines(
    out: &mut String,
    lines: impl ExactSizeIterator<Item = String>,
    limit: Option<Limit>,
) -> bool {
    let total = lines.len();
    for (shown, line) in lines.enumerate() {
        if let Some(l) = limit {
            if out.len() + line.len() + l.reserve > l.max_bytes {
                let what = if shown == 0 {
                    format!("all {total}")
                } else {
                    format!("… and {} more,", total - shown)
                };
                out.push_str(&format!(
                    "- {what} left out to stay under {} bytes: see {}\n",
                    l.max_bytes, l.full
                ));
                out.push('\n');
                return true;
            }
        }
        out.push_str(&line);
    }
    out.push('\n');
    false
}

/// The default size limit of a Markdown summary: under GitHub's 65,536-character limit
/// for a pull-request comment.
pub const MARKDOWN_MAX_BYTES: usize = 65_000;

/// What a plan will do, by kind of change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The plan's JSON format version.
    pub format_version: String,
    /// The Terraform version that made the plan, when the JSON says.
    pub terraform_version: Option<String>,
    /// Whether planning failed part way.
    pub errored: bool,
    /// Resources created.
    pub create: Vec<Entry>,
    /// Resources updated in place.
    pub update: Vec<Entry>,
    /// Resources destroyed and re-created.
    pub replace: Vec<Entry>,
    /// Resources destroyed.
    pub delete: Vec<Entry>,
    /// Data sources read during apply.
    pub read: Vec<Entry>,
    /// Resources changed outside Terraform since the last apply.
    pub drift: Vec<Entry>,
    /// Resources renamed by `moved` blocks: (from, to).
    pub moved: Vec<(String, String)>,
    /// Root module outputs that change.
    pub outputs: Vec<String>,
}

impl Summary {
    /// Summarises a plan.
    pub fn of(plan: &PlanJson) -> Summary {
        let mut s = Summary {
            format_version: plan.format_version.clone(),
            terraform_version: plan.terraform_version.clone(),
            errored: plan.errored,
            ..Summary::default()
        };
        for rc in &plan.resource_changes {
            let entry = Entry {
                address: rc.address.clone(),
                reason: rc.action_reason.clone(),
            };
            if let Some(from) = &rc.previous_address {
                s.moved.push((from.clone(), rc.address.clone()));
            }
            match rc.action() {
                Action::NoOp => {}
                Action::Read => s.read.push(entry),
                Action::Create => s.create.push(entry),
                Action::Update => s.update.push(entry),
                Action::Replace => s.replace.push(entry),
                Action::Delete => s.delete.push(entry),
            }
        }
        for rc in &plan.resource_drift {
            if rc.action() != Action::NoOp {
                s.drift.push(Entry {
                    address: rc.address.clone(),
                    reason: None,
                });
            }
        }
        s.outputs = plan
            .output_changes
            .iter()
            .filter(|(_, c)| Action::from_actions(&c.actions) != Some(Action::NoOp))
            .map(|(name, _)| name.clone())
            .collect();
        s
    }

    /// Whether applying the plan changes anything (resources or outputs).
    pub fn has_changes(&self) -> bool {
        !(self.create.is_empty()
            && self.update.is_empty()
            && self.replace.is_empty()
            && self.delete.is_empty()
            && self.moved.is_empty()
            && self.outputs.is_empty())
    }

    /// `create 1, update 2, replace 0, delete 0, drift 1` — the one-line form.
    pub fn counts(&self) -> String {
        format!(
            "create {}, update {}, replace {}, delete {}, drift {}, read {}, moved {}, outputs {}",
            self.create.len(),
            self.update.len(),
            self.replace.len(),
            self.delete.len(),
            self.drift.len(),
            self.read.len(),
            self.moved.len(),
            self.outputs.len()
        )
    }

    fn sections(&self) -> Vec<(&'static str, Vec<String>)> {
        let list = |entries: &[Entry]| {
            entries
                .iter()
                .map(|e| match &e.reason {
                    Some(r) => format!("{} ({})", e.address, r.replace('_', " ")),
                    None => e.address.clone(),
                })
                .collect::<Vec<_>>()
        };
        vec![
            ("delete", list(&self.delete)),
            ("replace", list(&self.replace)),
            ("create", list(&self.create)),
            ("update", list(&self.update)),
            ("drift", list(&self.drift)),
            ("read", list(&self.read)),
            (
                "moved",
                self.moved
                    .iter()
                    .map(|(from, to)| format!("{from} -> {to}"))
                    .collect(),
            ),
            ("outputs", self.outputs.clone()),
        ]
    }

    /// Plain text for a terminal or a log.
    pub fn to_text(&self) -> String {
        let mut out = format!("Plan: {}\n", self.counts());
        if self.errored {
            out.push_str("The plan is ERRORED: planning failed part way; it cannot be applied.\n");
        }
        for (title, items) in self.sections() {
            if items.is_empty() {
                continue;
            }
            out.push_str(&format!("{title} ({}):\n", items.len()));
            for item in items {
                out.push_str(&format!("  {item}\n"));
            }
        }
        if !self.has_changes() {
            out.push_str("No changes.\n");
        }
        out
    }

    /// Markdown for a CI artifact or a pull-request comment. Deletions and replacements
    /// come first and are marked, so they are not lost in a long plan.
    pub fn to_markdown(&self) -> String {
        self.to_markdown_within(usize::MAX, "")
    }

    /// [`Summary::to_markdown`] in at most `max_bytes` (GitHub refuses comments over
    /// 65,536 characters): the counts are always kept; the other lists are cut where the
    /// limit comes, each with a line saying how many were left out and that `full` (where
    /// the whole plan is) has them. Deletions and replacements are cut last: only when
    /// they alone do not fit, and then deletions keep the most room (they come first). A
    /// summary that fits is exactly [`Summary::to_markdown`].
    pub fn to_markdown_within(&self, max_bytes: usize, full: &str) -> String {
        // Room kept for each section still to come: its title and one "left out" line.
        let room_per_section = 140 + full.len();
        let mut out = String::from("### Terraform plan\n\n");
        out.push_str("| create | update | replace | delete | drift | outputs |\n");
        out.push_str("| ---: | ---: | ---: | ---: | ---: | ---: |\n");
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n\n",
            self.create.len(),
            self.update.len(),
            self.replace.len(),
            self.delete.len(),
            self.drift.len(),
            self.outputs.len()
        ));
        if self.errored {
            out.push_str(
                "> **The plan is errored**: planning failed part way; it cannot be applied.\n\n",
            );
        }
        let sections: Vec<(&str, Vec<String>)> = self
            .sections()
            .into_iter()
            .filter(|(_, items)| !items.is_empty())
            .collect();
        let count = sections.len();
        let destroys = |title: &str| title == "delete" || title == "replace";
        let line = |item: &String| format!("- `{}`\n", item.replace('`', "'"));
        // Whether every deletion and replacement fits with the others' titles after them.
        let destroy_bytes: usize = sections
            .iter()
            .filter(|(title, _)| destroys(title))
            .map(|(title, items)| {
                40 + title.len() + items.iter().map(|i| line(i).len()).sum::<usize>()
            })
            .sum();
        let others = sections.iter().filter(|(t, _)| !destroys(t)).count();
        let cut_destroys = out.len() + destroy_bytes + (others + 1) * room_per_section > max_bytes;
        // Once a list is cut, the lists after it show nothing: what comes first (deletions)
        // keeps the room.
        let mut cut = false;
        for (n, (title, items)) in sections.into_iter().enumerate() {
            let destroys = destroys(title);
            let mark = if destroys { " :warning:" } else { "" };
            out.push_str(&format!("**{title}** ({}){mark}\n\n", items.len()));
            let lines = items.iter().map(line);
            let limit = (!destroys || cut_destroys).then_some(Limit {
                max_bytes,
                reserve: if cut {
                    max_bytes
                } else {
                    (count - n) * room_per_section
                },
                full,
            });
            cut |= push_lines(&mut out, lines, limit);
        }
        if !self.has_changes() {
            out.push_str("No changes.\n");
        }
        out
    }

    /// The digest of the summary (sha256 of its JSON), recorded in the bundle manifest.
    pub fn digest(&self) -> String {
        crate::digest::sha256_hex(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deletions alone over the limit: they are cut too (last, after every other list),
    /// saying how many; the document stays within the limit.
    #[test]
    fn deletions_over_the_limit_are_cut_last() {
        let entry = |i: usize, kind: &str| Entry {
            address: format!(
                "module.fleet.module.region[\"eu-west-2\"].aws_ecs_service.{kind}_{i:04}"
            ),
            reason: None,
        };
        let summary = Summary {
            delete: (0..700).map(|i| entry(i, "gone")).collect(),
            replace: (0..10).map(|i| entry(i, "replaced")).collect(),
            create: (0..10).map(|i| entry(i, "new")).collect(),
            ..Summary::default()
        };
        let cut = summary.to_markdown_within(40_000, "plan.json");
        assert!(cut.len() <= 40_000, "{} bytes", cut.len());
        let shown = (0..700)
            .filter(|i| cut.contains(&format!("gone_{i:04}`")))
            .count();
        assert!(shown > 400 && shown < 700, "{shown}");
        assert!(
            cut.contains(&format!("- … and {} more, left out", 700 - shown)),
            "{cut}"
        );
        assert!(
            !cut.contains("new_0000"),
            "creates are cut before deletions: {}",
            &cut[cut.len() - 1500..]
        );
        // With room, nothing is cut: exactly the whole document.
        assert_eq!(
            summary.to_markdown_within(200_000, "x"),
            summary.to_markdown()
        );
    }

    /// A plan of 2,000 changed resources: the Markdown stays under the limit, keeps the
    /// counts and every destroy, and says how much was left out and where it is.
    #[test]
    fn a_huge_plan_fits_the_limit_and_keeps_every_destroy() {
        let entry = |i: usize, kind: &str| Entry {
            address: format!("module.fleet.aws_ecs_service.{kind}_service_number_{i:04}"),
            reason: None,
        };
        let summary = Summary {
            create: (0..1200).map(|i| entry(i, "new")).collect(),
            update: (0..700).map(|i| entry(i, "changed")).collect(),
            delete: (0..60).map(|i| entry(i, "gone")).collect(),
            replace: (0..40).map(|i| entry(i, "replaced")).collect(),
            outputs: vec!["url".into()],
            ..Summary::default()
        };
        let whole = summary.to_markdown();
        assert!(
            whole.len() > 65_000,
            "the test plan must not fit: {}",
            whole.len()
        );
        let cut = summary.to_markdown_within(65_000, "plan.json in the bundle");
        assert!(cut.len() <= 65_000, "{} bytes", cut.len());
        assert!(
            cut.contains("| 1200 | 700 | 40 | 60 | 0 | 1 |"),
            "the counts stay"
        );
        for e in summary.delete.iter().chain(&summary.replace) {
            assert!(
                cut.contains(&format!("- `{}`\n", e.address)),
                "{} kept",
                e.address
            );
        }
        assert!(
            cut.contains("more, left out to stay under 65000 bytes: see plan.json in the bundle"),
            "{}",
            &cut[cut.len().saturating_sub(600)..]
        );
        // A limit too small for anything: every list cut to nothing shown, deletions too.
        let tiny = summary.to_markdown_within(100, "plan.json");
        assert_eq!(
            tiny.matches("module.fleet.aws_ecs_service.gone_").count(),
            0
        );
        assert!(tiny.contains("- all 60 left out"), "{tiny}");
        assert_eq!(
            tiny.matches("left out").count(),
            5,
            "delete, replace, create, update, outputs"
        );
        // A summary that fits is exactly the uncut one.
        let small = Summary {
            delete: vec![entry(1, "gone")],
            ..Summary::default()
        };
        assert_eq!(small.to_markdown_within(65_000, "x"), small.to_markdown());
    }

    #[test]
    fn classifies_every_action_list() {
        let a =
            |v: &[&str]| Action::from_actions(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(a(&["no-op"]), Some(Action::NoOp));
        assert_eq!(a(&["create", "delete"]), Some(Action::Replace));
        assert_eq!(a(&["delete", "create"]), Some(Action::Replace));
        assert_eq!(a(&["forget"]), None);
    }

    #[test]
    fn refuses_an_unknown_major_format() {
        let e = PlanJson::parse(r#"{"format_version":"2.0"}"#).unwrap_err();
        assert!(e.to_string().contains("format_version 2.0"), "{e}");
        let e = PlanJson::parse("{\n \"format_version\": 1.2}").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }
}
