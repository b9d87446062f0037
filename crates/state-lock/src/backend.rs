//! The environment's Terraform `s3` backend, read the way Terraform reads it: the root's
//! `terraform { backend "s3" { … } }` block, overridden key by key by the environment
//! file's `backend_config` file (Terraform's `-backend-config`).
//!
//! Only the settings the lock needs are kept: where the state is (`bucket`, `key`,
//! `region`), how it is locked (`dynamodb_table`, `use_lockfile`) and the endpoint
//! overrides Terraform honours (`endpoint`, `dynamodb_endpoint`, `endpoints { s3, dynamodb }`,
//! `force_path_style` / `use_path_style`). Everything else (encryption, credentials
//! settings, skips) is Terraform's business and ignored here.

use crate::error::{BackendError, BackendErrorKind};
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span;
use infra_core::environment::LineColumn;
use infra_core::Environment;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Terraform's suffix for the S3 lock file (`use_lockfile = true`).
pub const LOCK_FILE_SUFFIX: &str = ".tflock";

/// The `s3` backend of an environment, as far as its lock is concerned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct S3Backend {
    /// The state bucket.
    pub bucket: String,
    /// The state object's key (the default workspace's).
    pub key: String,
    /// The bucket's region (the backend's `region`, else the environment's).
    pub region: String,
    /// The DynamoDB lock table, when locking through DynamoDB.
    pub dynamodb_table: Option<String>,
    /// Whether the S3 lock file (`KEY.tflock`) is used (Terraform 1.10+).
    pub use_lockfile: bool,
    /// An S3 endpoint override.
    pub s3_endpoint: Option<String>,
    /// A DynamoDB endpoint override.
    pub dynamodb_endpoint: Option<String>,
    /// Path-style S3 addressing.
    pub force_path_style: bool,
    /// Where the settings were read from, for messages.
    pub sources: Vec<PathBuf>,
}

impl S3Backend {
    /// The lock's path as Terraform writes it: `bucket/key`, the DynamoDB `LockID`.
    pub fn lock_path(&self) -> String {
        format!("{}/{}", self.bucket, self.key)
    }

    /// The S3 lock file's key.
    pub fn lock_file_key(&self) -> String {
        format!("{}{LOCK_FILE_SUFFIX}", self.key)
    }

    /// Whether any lock is configured.
    pub fn has_lock(&self) -> bool {
        self.dynamodb_table.is_some() || self.use_lockfile
    }
}

/// What the environment's root says about its backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// An `s3` backend.
    S3(S3Backend),
    /// A backend of another type (`local`, `remote`, …), with where it is declared.
    Other {
        /// The backend type.
        kind: String,
        /// `file:line:column` of the block.
        at: String,
    },
    /// No backend block in the root: local state.
    None,
}

/// A value as written in a file, with its place.
#[derive(Debug, Clone)]
struct Setting {
    value: Value,
    at: String,
}

#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Bool(bool),
    /// `endpoints { s3 = "…" }` (a block or an object).
    Map(BTreeMap<String, Setting>),
}

/// Reads the backend of `env`'s Terraform root and its `backend_config` file.
pub fn read(env: &Environment) -> Result<Backend, BackendError> {
    let root = &env.terraform.root;
    let mut files: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| BackendError::new(root, BackendErrorKind::Read(e.to_string())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf") && p.is_file())
        .collect();
    files.sort();
    let mut declared: Option<(String, String, BTreeMap<String, Setting>)> = None;
    let mut sources = Vec::new();
    for file in &files {
        let text = read_text(file)?;
        let body = parse(file, &text)?;
        for terraform in body.blocks().filter(|b| b.has_ident("terraform")) {
            for block in terraform.body.blocks().filter(|b| b.has_ident("backend")) {
                let at = place(file, &text, block.ident.span());
                let kind = block
                    .labels
                    .first()
                    .map(|l| l.as_str().to_owned())
                    .unwrap_or_default();
                if let Some((_, first, _)) = &declared {
                    return Err(BackendError::new(
                        file,
                        BackendErrorKind::Invalid {
                            at,
                            message: format!("a second backend block (the first is at {first})"),
                        },
                    ));
                }
                let settings = settings_of(file, &text, &block.body)?;
                declared = Some((kind, at, settings));
                sources.push(file.clone());
            }
        }
    }
    let Some((kind, at, mut settings)) = declared else {
        return Ok(Backend::None);
    };
    if kind != "s3" {
        return Ok(Backend::Other { kind, at });
    }
    if let Some(config) = &env.terraform.backend_config {
        let text = read_text(config)?;
        let body = parse(config, &text)?;
        // Terraform merges -backend-config over the block, key by key.
        settings.extend(settings_of(config, &text, &body)?);
        sources.push(config.clone());
    }
    s3_backend(settings, &env.region, sources)
}

fn s3_backend(
    mut settings: BTreeMap<String, Setting>,
    default_region: &str,
    sources: Vec<PathBuf>,
) -> Result<Backend, BackendError> {
    let origin = sources.last().cloned().unwrap_or_default();
    let mut take_text = |name: &str| -> Result<Option<String>, BackendError> {
        match settings.remove(name) {
            None => Ok(None),
            Some(Setting {
                value: Value::Text(t),
                ..
            }) => Ok(Some(t)),
            Some(Setting { at, .. }) => Err(BackendError::new(
                &origin,
                BackendErrorKind::Invalid {
                    at,
                    message: format!("`{name}` must be a string"),
                },
            )),
        }
    };
    let bucket = take_text("bucket")?;
    let key = take_text("key")?;
    let region = take_text("region")?;
    let dynamodb_table = take_text("dynamodb_table")?.filter(|t| !t.is_empty());
    let s3_endpoint_legacy = take_text("endpoint")?;
    let dynamodb_endpoint_legacy = take_text("dynamodb_endpoint")?;
    let mut take_bool = |name: &str| -> Result<bool, BackendError> {
        match settings.remove(name) {
            None => Ok(false),
            Some(Setting {
                value: Value::Bool(b),
                ..
            }) => Ok(b),
            Some(Setting {
                value: Value::Text(t),
                at,
            }) => match t.as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(BackendError::new(
                    &origin,
                    BackendErrorKind::Invalid {
                        at,
                        message: format!("`{name}` must be true or false, not {t:?}"),
                    },
                )),
            },
            Some(Setting { at, .. }) => Err(BackendError::new(
                &origin,
                BackendErrorKind::Invalid {
                    at,
                    message: format!("`{name}` must be true or false"),
                },
            )),
        }
    };
    let use_lockfile = take_bool("use_lockfile")?;
    let force_path_style = take_bool("force_path_style")? | take_bool("use_path_style")?;
    let endpoints = match settings.remove("endpoints") {
        Some(Setting {
            value: Value::Map(m),
            ..
        }) => m,
        Some(Setting { at, .. }) => {
            return Err(BackendError::new(
                &origin,
                BackendErrorKind::Invalid {
                    at,
                    message: "`endpoints` must be a block or an object".into(),
                },
            ))
        }
        None => BTreeMap::new(),
    };
    let endpoint = |name: &str| match endpoints.get(name) {
        Some(Setting {
            value: Value::Text(t),
            ..
        }) => Ok(Some(t.clone())),
        None => Ok(None),
        Some(Setting { at, .. }) => Err(BackendError::new(
            &origin,
            BackendErrorKind::Invalid {
                at: at.clone(),
                message: format!("`endpoints.{name}` must be a string"),
            },
        )),
    };
    let s3_endpoint = endpoint("s3")?.or(s3_endpoint_legacy);
    let dynamodb_endpoint = endpoint("dynamodb")?.or(dynamodb_endpoint_legacy);
    let (Some(bucket), Some(key)) = (bucket, key) else {
        return Err(BackendError::new(
            &origin,
            BackendErrorKind::Missing(
                "the s3 backend needs `bucket` and `key` (in the root's backend block or the backend_config file)",
            ),
        ));
    };
    Ok(Backend::S3(S3Backend {
        bucket,
        key,
        region: region.unwrap_or_else(|| default_region.to_owned()),
        dynamodb_table,
        use_lockfile,
        s3_endpoint,
        dynamodb_endpoint,
        force_path_style,
        sources,
    }))
}

fn read_text(file: &Path) -> Result<String, BackendError> {
    std::fs::read_to_string(file)
        .map_err(|e| BackendError::new(file, BackendErrorKind::Read(e.to_string())))
}

fn parse(file: &Path, text: &str) -> Result<Body, BackendError> {
    hcl_edit::parser::parse_body(text).map_err(|e| {
        BackendError::new(
            file,
            BackendErrorKind::Invalid {
                at: format!(
                    "{}:{}:{}",
                    file.display(),
                    e.location().line(),
                    e.location().column()
                ),
                message: e.message().to_owned(),
            },
        )
    })
}

/// The attributes and nested blocks of a backend block (or a backend configuration file).
fn settings_of(
    file: &Path,
    text: &str,
    body: &Body,
) -> Result<BTreeMap<String, Setting>, BackendError> {
    let mut out = BTreeMap::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => {
                let at = place(file, text, attr.value.span());
                let value = literal(file, text, &attr.value, &at, attr.key.as_str())?;
                out.insert(attr.key.as_str().to_owned(), Setting { value, at });
            }
            Structure::Block(block) => {
                let at = place(file, text, block.ident.span());
                let inner = settings_of(file, text, &block.body)?;
                out.insert(
                    block.ident.as_str().to_owned(),
                    Setting {
                        value: Value::Map(inner),
                        at,
                    },
                );
            }
        }
    }
    Ok(out)
}

fn literal(
    file: &Path,
    text: &str,
    expr: &Expression,
    at: &str,
    name: &str,
) -> Result<Value, BackendError> {
    match expr {
        Expression::String(s) => Ok(Value::Text(s.value().to_string())),
        Expression::Bool(b) => Ok(Value::Bool(*b.value())),
        Expression::Number(n) => Ok(Value::Text(n.value().to_string())),
        Expression::Object(object) => {
            let mut map = BTreeMap::new();
            for (key, value) in object.iter() {
                let key_text = match key {
                    hcl_edit::expr::ObjectKey::Ident(i) => i.as_str().to_owned(),
                    hcl_edit::expr::ObjectKey::Expression(Expression::String(s)) => {
                        s.value().to_string()
                    }
                    hcl_edit::expr::ObjectKey::Expression(_) => continue,
                };
                let inner_at = place(file, text, value.expr().span());
                let inner = literal(file, text, value.expr(), &inner_at, &key_text)?;
                map.insert(
                    key_text,
                    Setting {
                        value: inner,
                        at: inner_at,
                    },
                );
            }
            Ok(Value::Map(map))
        }
        // Arrays (assume_role's policy ARNs, …) are nothing the lock reads.
        Expression::Array(_) => Ok(Value::Map(BTreeMap::new())),
        _ => Err(BackendError::new(
            file,
            BackendErrorKind::Invalid {
                at: at.to_owned(),
                message: format!(
                    "`{name}` must be a literal value (Terraform allows no references in a backend configuration)"
                ),
            },
        )),
    }
}

fn place(file: &Path, text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let at = LineColumn::of_offset(text, span.map(|s| s.start).unwrap_or(0));
    format!("{}:{at}", file.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(dir: &Path, main_tf: &str, backend_hcl: Option<&str>) -> Environment {
        std::fs::write(dir.join("main.tf"), main_tf).unwrap();
        let mut terraform = String::from("terraform {\n    root = \".\"\n");
        if let Some(text) = backend_hcl {
            std::fs::write(dir.join("backend.hcl"), text).unwrap();
            terraform.push_str("    backend_config = \"backend.hcl\"\n");
        }
        terraform.push_str("  }\n");
        let file = dir.join("e.env.hcl");
        std::fs::write(
            &file,
            format!("environment \"e\" {{\n  account_id = \"123456789012\"\n  region = \"eu-west-2\"\n  {terraform}}}\n"),
        )
        .unwrap();
        Environment::load(&file).unwrap()
    }

    #[test]
    fn the_config_file_overrides_the_block_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_with(
            dir.path(),
            "terraform {\n  backend \"s3\" {\n    bucket = \"from-block\"\n    key = \"a/b.tfstate\"\n    region = \"us-east-1\"\n  }\n}\n",
            Some("bucket = \"state\"\ndynamodb_table = \"locks\"\nendpoints = { dynamodb = \"http://127.0.0.1:1\" }\nuse_path_style = true\n"),
        );
        let Backend::S3(b) = read(&env).unwrap() else {
            panic!("an s3 backend")
        };
        assert_eq!(b.lock_path(), "state/a/b.tfstate");
        assert_eq!(b.lock_file_key(), "a/b.tfstate.tflock");
        assert_eq!(b.region, "us-east-1");
        assert_eq!(b.dynamodb_table.as_deref(), Some("locks"));
        assert_eq!(b.dynamodb_endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert!(b.force_path_style && !b.use_lockfile && b.has_lock());
    }

    #[test]
    fn legacy_endpoints_lock_file_and_the_environment_region() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_with(
            dir.path(),
            "terraform {\n  backend \"s3\" {}\n}\n",
            Some("bucket = \"s\"\nkey = \"k\"\nuse_lockfile = true\nendpoint = \"http://127.0.0.1:2\"\nforce_path_style = \"true\"\n"),
        );
        let Backend::S3(b) = read(&env).unwrap() else {
            panic!("an s3 backend")
        };
        assert_eq!(b.region, "eu-west-2");
        assert_eq!(b.s3_endpoint.as_deref(), Some("http://127.0.0.1:2"));
        assert!(b.use_lockfile && b.force_path_style && b.dynamodb_table.is_none());
    }

    #[test]
    fn no_backend_another_backend_and_bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_with(dir.path(), "locals {}\n", None);
        assert_eq!(read(&env).unwrap(), Backend::None);
        let env = env_with(dir.path(), "terraform {\n  backend \"local\" {}\n}\n", None);
        assert!(
            matches!(read(&env).unwrap(), Backend::Other { kind, at } if kind == "local" && at.ends_with("main.tf:2:3"))
        );
        let env = env_with(
            dir.path(),
            "terraform {\n  backend \"s3\" {\n    bucket = var.x\n  }\n}\n",
            None,
        );
        let err = read(&env).unwrap_err().to_string();
        assert!(
            err.contains("main.tf:3:14") && err.contains("literal"),
            "{err}"
        );
        let env = env_with(
            dir.path(),
            "terraform {\n  backend \"s3\" {}\n}\n",
            Some("bucket = \"s\"\n"),
        );
        let err = read(&env).unwrap_err().to_string();
        assert!(err.contains("`bucket` and `key`"), "{err}");
        let env = env_with(
            dir.path(),
            "terraform {\n  backend \"s3\" {}\n}\n",
            Some("bucket = \"s\"\nkey = \"k\"\nuse_lockfile = \"yes\"\n"),
        );
        let err = read(&env).unwrap_err().to_string();
        assert!(
            err.contains("backend.hcl:3:16") && err.contains("use_lockfile"),
            "{err}"
        );
        let env = env_with(
            dir.path(),
            "terraform {\n  backend \"s3\" {}\n}\n",
            Some("bucket = \n"),
        );
        let err = read(&env).unwrap_err().to_string();
        assert!(err.contains("backend.hcl:"), "{err}");
    }
}
