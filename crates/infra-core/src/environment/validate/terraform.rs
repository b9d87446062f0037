//! The `terraform` block: how to run Terraform for the environment's root.

use super::{normalize, KeyPath, Validator};
use crate::environment::raw::RawTerraform;
use crate::environment::{TerraformSettings, DEFAULT_PROTECTED_TYPES};
use std::path::Path;
use std::time::Duration;

impl Validator<'_, '_> {
    pub(super) fn terraform(
        &mut self,
        env: &KeyPath,
        raw: Option<RawTerraform>,
        base: &Path,
    ) -> TerraformSettings {
        let raw = raw.unwrap_or(RawTerraform {
            root: None,
            backend_config: None,
            var_files: Vec::new(),
            lock_timeout: None,
            binary: None,
            protected_types: None,
            max_plan_age: None,
            sign_with: None,
        });
        let p = env.key("terraform");
        let root = normalize(&base.join(raw.root.as_deref().unwrap_or(".")));
        let mut duration = |key: &str, value: Option<&str>, default: Duration| match value {
            None => default,
            Some(text) => match crate::retry::parse_duration(text) {
                Ok(d) => d,
                Err(e) => {
                    self.problem(
                        &p.key(key),
                        format!("`{key}` \"{text}\" {}", e.predicate("\"5m\" or \"90s\"")),
                    );
                    default
                }
            },
        };
        let lock_timeout = duration(
            "lock_timeout",
            raw.lock_timeout.as_deref(),
            Duration::from_secs(300),
        );
        let max_plan_age = duration(
            "max_plan_age",
            raw.max_plan_age.as_deref(),
            Duration::from_secs(24 * 3600),
        );
        let protected_types = match raw.protected_types {
            None => DEFAULT_PROTECTED_TYPES
                .iter()
                .map(|t| (*t).to_owned())
                .collect(),
            Some(types) => {
                for t in &types {
                    if t.is_empty()
                        || !t
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    {
                        self.problem(
                            &p.key("protected_types"),
                            format!("`protected_types` entry \"{t}\" is not a resource type such as \"aws_rds_cluster\""),
                        );
                    }
                }
                types
            }
        };
        let binary = raw.binary.unwrap_or_else(|| "terraform".to_owned());
        if binary.trim().is_empty() {
            self.problem(
                &p.key("binary"),
                "`binary` must not be empty: \"terraform\", \"tofu\" or a path",
            );
        }
        let sign_with = raw.sign_with.and_then(|text| {
            let key = text.strip_prefix("kms:").unwrap_or(&text);
            let valid = if let Some(alias) = key.strip_prefix("alias/") {
                !alias.is_empty()
                    && alias
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
            } else if key.starts_with("arn:") {
                key.split(':').count() == 6
                    && key.split(':').nth(2) == Some("kms")
                    && (key.contains(":key/") || key.contains(":alias/"))
            } else {
                !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
            };
            if !valid || !(text.starts_with("kms:") || text.starts_with("arn:")) {
                self.problem(
                    &p.key("sign_with"),
                    format!("`sign_with` \"{text}\" is not a KMS key: use \"kms:alias/NAME\", \"kms:KEY-ID\" or a key ARN"),
                );
                return None;
            }
            Some(key.to_owned())
        });
        TerraformSettings {
            sign_with,
            backend_config: raw.backend_config.map(|b| normalize(&root.join(b))),
            var_files: raw
                .var_files
                .iter()
                .map(|v| normalize(&root.join(v)))
                .collect(),
            root,
            lock_timeout,
            binary,
            protected_types,
            max_plan_age,
        }
    }
}
