//! The Terraform binary's version, and the root module's `required_version` constraints.

use hcl_edit::Span;
use std::path::{Path, PathBuf};

/// A version such as `1.0.3` or `1.6.0-beta1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major, minor, patch.
    pub parts: [u64; 3],
    /// The pre-release suffix, if any.
    pub pre: Option<String>,
    /// As printed.
    pub text: String,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Version {
    /// Parses `1.0.3`, `v1.0.3`, `1.6.0-beta1`; missing parts are 0.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim();
        let bare = text.strip_prefix('v').unwrap_or(text);
        let (nums, pre) = match bare.split_once('-') {
            Some((n, p)) => (n, Some(p.to_owned())),
            None => (bare, None),
        };
        let mut parts = [0u64; 3];
        let mut count = 0;
        for (i, p) in nums.split('.').enumerate() {
            if i >= 3 {
                return None;
            }
            parts[i] = p.parse().ok()?;
            count += 1;
        }
        (count > 0).then(|| Version {
            parts,
            pre,
            text: bare.to_owned(),
        })
    }

    /// Reads the output of `terraform version -json` (Terraform ≥ 0.13, OpenTofu), or the
    /// first line of the plain `terraform version` (`Terraform v1.0.3`, `OpenTofu v1.6.0`).
    pub fn from_output(stdout: &str) -> Option<Version> {
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(stdout) {
            if let Some(v) = json.get("terraform_version").and_then(|v| v.as_str()) {
                return Version::parse(v);
            }
        }
        let first = stdout.lines().next()?;
        let word = first.split_whitespace().find(|w| w.starts_with('v'))?;
        Version::parse(word)
    }

    fn key(&self) -> ([u64; 3], bool) {
        // A pre-release sorts before its release.
        (self.parts, self.pre.is_none())
    }
}

/// One `required_version` string and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The constraint as written, `">= 1.0.0, < 2.0.0"`.
    pub constraint: String,
    /// `file:line:column`.
    pub place: String,
}

/// Why a constraint could not be read or is not met.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    /// The constraint is malformed.
    #[error("{place}: required_version \"{constraint}\" is not a version constraint: {reason}")]
    Malformed {
        /// As written.
        constraint: String,
        /// Where.
        place: String,
        /// What is wrong.
        reason: String,
    },
    /// The binary does not satisfy the root.
    #[error("{binary} is version {version}, but {place} requires {constraint}")]
    Unsatisfied {
        /// The binary.
        binary: String,
        /// Its version.
        version: String,
        /// The constraint.
        constraint: String,
        /// Where.
        place: String,
    },
    /// The root directory could not be listed.
    #[error("cannot read the Terraform root {}: {source}", path.display())]
    Root {
        /// The root.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A `.tf` file of the root could not be read.
    #[error("cannot read {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Whether `version` satisfies every comma-separated part of `constraint` (Terraform's
/// syntax: `=`, `!=`, `>`, `>=`, `<`, `<=`, `~>`, bare version = exact).
pub fn satisfies(version: &Version, constraint: &str) -> Result<bool, String> {
    for part in constraint.split(',') {
        let part = part.trim();
        let (op, rest) = ["~>", ">=", "<=", "!=", "=", ">", "<"]
            .iter()
            .find_map(|op| part.strip_prefix(op).map(|r| (*op, r.trim())))
            .unwrap_or(("=", part));
        let want = Version::parse(rest).ok_or_else(|| format!("`{part}` has no version"))?;
        let given_parts = rest
            .trim_start_matches('v')
            .split('-')
            .next()
            .unwrap_or("")
            .split('.')
            .count();
        let ok = match op {
            "=" => version.key() == want.key(),
            "!=" => version.key() != want.key(),
            ">" => version.key() > want.key(),
            ">=" => version.key() >= want.key(),
            "<" => version.key() < want.key(),
            "<=" => version.key() <= want.key(),
            _ => {
                // ~> 1.2 allows 1.x ≥ 1.2; ~> 1.2.3 allows 1.2.x ≥ 1.2.3.
                let fixed = given_parts.saturating_sub(1).max(1);
                version.key() >= want.key() && version.parts[..fixed] == want.parts[..fixed]
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Every `terraform { required_version = "…" }` in the root's `.tf` files, in file order.
pub fn requirements(root: &Path) -> Result<Vec<Requirement>, VersionError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|source| VersionError::Root {
            path: root.to_owned(),
            source,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf") && p.is_file())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| VersionError::File {
            path: file.clone(),
            source,
        })?;
        // A file Terraform itself cannot parse is Terraform's error to report, with its
        // own context; it has no requirement we could read.
        let Ok(body) = hcl_edit::parser::parse_body(&text) else {
            continue;
        };
        for block in body.blocks().filter(|b| b.has_ident("terraform")) {
            for attr in block
                .body
                .attributes()
                .filter(|a| a.key.as_str() == "required_version")
            {
                let place = place(&file, &text, attr.value.span());
                match &attr.value {
                    hcl_edit::expr::Expression::String(s) => out.push(Requirement {
                        constraint: s.value().to_string(),
                        place,
                    }),
                    _ => {
                        return Err(VersionError::Malformed {
                            constraint: String::new(),
                            place,
                            reason: "it must be a plain string".into(),
                        })
                    }
                }
            }
        }
    }
    Ok(out)
}

fn place(file: &Path, text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let at = infra_core::environment::LineColumn::of_offset(text, span.map_or(0, |s| s.start));
    format!("{}:{at}", file.display())
}

/// Checks `version` against every requirement of the root.
pub fn check(
    binary: &str,
    version: &Version,
    requirements: &[Requirement],
) -> Result<(), VersionError> {
    for r in requirements {
        match satisfies(version, &r.constraint) {
            Ok(true) => {}
            Ok(false) => {
                return Err(VersionError::Unsatisfied {
                    binary: binary.to_owned(),
                    version: version.text.clone(),
                    constraint: r.constraint.clone(),
                    place: r.place.clone(),
                })
            }
            Err(reason) => {
                return Err(VersionError::Malformed {
                    constraint: r.constraint.clone(),
                    place: r.place.clone(),
                    reason,
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn constraints_follow_terraform() {
        let cases = [
            ("1.0.3", ">= 1.0.0", true),
            ("1.0.3", ">= 1.0.0, < 1.1", true),
            ("1.0.3", "~> 1.0", true),
            ("1.5.0", "~> 1.0", true),
            ("2.0.0", "~> 1.0", false),
            ("1.0.3", "~> 1.0.4", false),
            ("1.0.9", "~> 1.0.4", true),
            ("1.1.0", "~> 1.0.4", false),
            ("1.0.3", "1.0.3", true),
            ("1.0.3", "= 1.0.2", false),
            ("1.0.3", "!= 1.0.3", false),
            ("1.6.0-beta1", ">= 1.6.0", false),
            ("1.6.0-beta1", "< 1.6.0", true),
            ("1.0.3", "> 1.0.3", false),
            ("1.0.3", "<= 1.0.3", true),
        ];
        for (version, constraint, want) in cases {
            assert_eq!(
                satisfies(&v(version), constraint),
                Ok(want),
                "{version} {constraint}"
            );
        }
        assert!(satisfies(&v("1.0.0"), ">= banana").is_err());
    }

    #[test]
    fn reads_json_and_plain_version_output() {
        let json = r#"{"terraform_version": "1.0.3", "platform": "linux_amd64"}"#;
        assert_eq!(Version::from_output(json).unwrap().text, "1.0.3");
        assert_eq!(
            Version::from_output("Terraform v0.12.31\n").unwrap().text,
            "0.12.31"
        );
        assert_eq!(
            Version::from_output("OpenTofu v1.6.2\non linux_amd64")
                .unwrap()
                .text,
            "1.6.2"
        );
        assert_eq!(Version::from_output("garbage"), None);
    }
}
