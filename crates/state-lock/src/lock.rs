//! Taking and releasing Terraform's state lock, in Terraform's own format, so the toolkit
//! and Terraform exclude each other.
//!
//! - DynamoDB (`dynamodb_table`): an item `LockID = "bucket/key"` with the lock's JSON in
//!   `Info`, written with `attribute_not_exists(LockID)`.
//! - S3 lock file (`use_lockfile = true`): the object `key.tflock` holding the lock's JSON,
//!   written with `If-None-Match: *`.
//! - Both configured: both are taken (the file first), as Terraform does.
//!
//! `terraform force-unlock ID` releases a lock written here, and Terraform's "Error
//! acquiring the state lock" shows its `Who`, `Operation` and `Created`.

use crate::backend::S3Backend;
use crate::error::LockError;
pub use crate::info::LockInfo;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use infra_core::aws::{AwsCallError, ErrorClass};
use infra_core::retry::Deadline;
use std::time::Duration;
use tokio::time::Instant;

/// How long transient AWS errors on the lock's own calls are tried again, at least.
pub const TRANSIENT_RETRY: Duration = Duration::from_secs(30);

// New lock bodies are made here, next to the lock: `new` takes the backend (its lock path).
impl LockInfo {
    /// A new lock body for `operation` (e.g. `park down`) by this process, for `backend`'s
    /// state, with `version` (the tool's).
    pub fn new(operation: &str, version: &str, backend: &S3Backend) -> LockInfo {
        // An empty variable is an unset one.
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let user = var("USER")
            .or_else(|| var("LOGNAME"))
            .or_else(user_of_this_process)
            .unwrap_or_default();
        let host = ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        let mut who = format!("{user}@{host}");
        let mut info = format!("prod-environment toolkit: {operation}");
        if let Some(url) = var("CIRCLE_BUILD_URL") {
            who.push_str(&format!(" ({url})"));
            info.push_str(&format!("; CircleCI job {url}"));
        }
        let created = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_owned(),
            info,
            who,
            version: version.to_owned(),
            created,
            path: backend.lock_path(),
        }
    }
}

/// The name of this process's user from `/etc/passwd`, as Terraform's `user.Current()`
/// finds it when `USER` is not set (containers, CI images).
fn user_of_this_process() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|l| {
            let fields: Vec<&str> = l.split(':').collect();
            (fields.len() > 2 && fields[2] == uid).then(|| fields[0].to_owned())
        })
}

/// The environment lock of one `s3` backend.
#[derive(Debug, Clone)]
pub struct StateLock {
    backend: S3Backend,
    dynamodb: Option<aws_sdk_dynamodb::Client>,
    s3: Option<aws_sdk_s3::Client>,
}

/// One try at the lock.
enum Attempt {
    Acquired,
    Held(Option<LockInfo>),
}

impl StateLock {
    /// The lock of `backend`, with clients made from `config` (the backend's region and
    /// endpoint overrides applied per service, as Terraform applies them).
    pub fn new(config: &SdkConfig, backend: S3Backend) -> StateLock {
        let region = aws_config::Region::new(backend.region.clone());
        let dynamodb = backend.dynamodb_table.as_ref().map(|_| {
            let mut b = aws_sdk_dynamodb::config::Builder::from(config).region(region.clone());
            if let Some(url) = &backend.dynamodb_endpoint {
                b = b.endpoint_url(url);
            }
            infra_core::aws_client!(aws_sdk_dynamodb, builder b, Deadline::none(), "state-lock-dynamodb")
        });
        let s3 = backend.use_lockfile.then(|| {
            let mut b = aws_sdk_s3::config::Builder::from(config)
                .region(region)
                .force_path_style(backend.force_path_style);
            if let Some(url) = &backend.s3_endpoint {
                b = b.endpoint_url(url);
            }
            infra_core::aws_client!(aws_sdk_s3, builder b, Deadline::none(), "state-lock-s3")
        });
        StateLock {
            backend,
            dynamodb,
            s3,
        }
    }

    /// The backend this lock belongs to.
    pub fn backend(&self) -> &S3Backend {
        &self.backend
    }

    /// Takes the lock for `info`, waiting up to `timeout` for a holder to release it
    /// (polling at 0.5 s, growing to 5 s). A lock still held then is
    /// [`LockError::Held`], naming the holder. Transient AWS errors (throttling, 5xx, lost
    /// connections) are tried again until `timeout`, and at least [`TRANSIENT_RETRY`].
    pub async fn acquire(&self, info: &LockInfo, timeout: Duration) -> Result<(), LockError> {
        let start = Instant::now();
        let deadline = start + timeout;
        let transient_deadline = start + timeout.max(TRANSIENT_RETRY);
        let mut pause = Duration::from_millis(500);
        let mut announced = false;
        loop {
            let holder = match self.try_lock(info).await {
                Ok(Attempt::Acquired) => {
                    tracing::info!(path = %info.path, id = %info.id, "environment lock taken");
                    return Ok(());
                }
                Ok(Attempt::Held(holder)) => holder,
                Err(LockError::Aws(e))
                    if e.is_transient() && Instant::now() < transient_deadline =>
                {
                    tracing::warn!("taking the environment lock: {e}; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 3 / 2).min(Duration::from_secs(5));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(LockError::Held {
                    path: self.backend.lock_path(),
                    holder: holder.map(Box::new),
                    waited: now - start,
                });
            }
            if !announced {
                announced = true;
                tracing::warn!(
                    "the environment lock {} is held by {}; waiting up to {}",
                    self.backend.lock_path(),
                    holder
                        .as_ref()
                        .map_or("an unknown holder".to_owned(), LockInfo::describe),
                    humantime::format_duration(timeout)
                );
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 3 / 2).min(Duration::from_secs(5));
        }
    }

    /// One try. A conditional write refused because the lock exists may be this very
    /// lock: the SDK retries a write whose answer was lost after it took effect, and the
    /// retry finds the lock it made. So the holder's ID decides, not the refusal.
    async fn try_lock(&self, info: &LockInfo) -> Result<Attempt, LockError> {
        let body = serde_json::to_string(info).unwrap_or_default();
        if let Some(s3) = &self.s3 {
            let put = s3
                .put_object()
                .bucket(&self.backend.bucket)
                .key(self.backend.lock_file_key())
                .content_type("application/json")
                .if_none_match("*")
                .body(body.clone().into_bytes().into())
                .send()
                .await;
            if let Err(e) = put {
                let e = AwsCallError::new("s3:PutObject", Some(self.lock_file_uri()), e);
                if !is_held(&e) {
                    return Err(e.into());
                }
                match self.file_holder().await? {
                    Some(holder) if holder.id == info.id => {}
                    other => return Ok(Attempt::Held(other)),
                }
            }
        }
        if let (Some(dynamodb), Some(table)) = (&self.dynamodb, &self.backend.dynamodb_table) {
            let put = dynamodb
                .put_item()
                .table_name(table)
                .item("LockID", AttributeValue::S(self.backend.lock_path()))
                .item("Info", AttributeValue::S(body))
                .condition_expression("attribute_not_exists(LockID)")
                .send()
                .await;
            if let Err(e) = put {
                let e = AwsCallError::new("dynamodb:PutItem", Some(self.item_name()), e);
                let held = if is_held(&e) {
                    match self.item_holder().await? {
                        Some(holder) if holder.id == info.id => return Ok(Attempt::Acquired),
                        other => Some(other),
                    }
                } else {
                    None
                };
                // Terraform's rule with both: the file lock is given back when DynamoDB
                // refuses.
                if self.s3.is_some() {
                    self.release_file(&info.id).await?;
                }
                return match held {
                    Some(holder) => Ok(Attempt::Held(holder)),
                    None => Err(e.into()),
                };
            }
        }
        Ok(Attempt::Acquired)
    }

    /// Who holds the lock now, if anyone (the DynamoDB item's holder first).
    pub async fn holder(&self) -> Result<Option<LockInfo>, LockError> {
        if self.dynamodb.is_some() {
            if let Some(holder) = self.item_holder().await? {
                return Ok(Some(holder));
            }
        }
        if self.s3.is_some() {
            return self.file_holder().await;
        }
        Ok(None)
    }

    /// Releases the lock this process took with `info`. A lock that is no longer `info`'s
    /// (someone force-unlocked it, and perhaps another took it) is left alone:
    /// [`LockError::Lost`]. Transient AWS errors are tried again for [`TRANSIENT_RETRY`]: a
    /// lock left behind blocks every later run until someone unlocks it.
    pub async fn release(&self, info: &LockInfo) -> Result<(), LockError> {
        let until = Instant::now() + TRANSIENT_RETRY;
        let mut pause = Duration::from_millis(500);
        loop {
            match self.release_once(info).await {
                Err(LockError::Aws(e)) if e.is_transient() && Instant::now() < until => {
                    tracing::warn!("releasing the environment lock: {e}; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 3 / 2).min(Duration::from_secs(5));
                }
                done => return done,
            }
        }
    }

    async fn release_once(&self, info: &LockInfo) -> Result<(), LockError> {
        if let (Some(dynamodb), Some(table)) = (&self.dynamodb, &self.backend.dynamodb_table) {
            let body = serde_json::to_string(info).unwrap_or_default();
            let deleted = dynamodb
                .delete_item()
                .table_name(table)
                .key("LockID", AttributeValue::S(self.backend.lock_path()))
                .condition_expression("Info = :info")
                .expression_attribute_values(":info", AttributeValue::S(body))
                .send()
                .await;
            if let Err(e) = deleted {
                let e = AwsCallError::new("dynamodb:DeleteItem", Some(self.item_name()), e);
                if e.class() != ErrorClass::ConditionFailed {
                    return Err(e.into());
                }
                // Gone already (a retried delete whose first answer was lost, or a
                // force-unlock) is released; anyone else's lock is not ours to remove.
                if self.item_holder().await?.is_some() {
                    return Err(LockError::Lost {
                        path: self.backend.lock_path(),
                        id: info.id.clone(),
                    });
                }
            }
        }
        if self.s3.is_some() {
            self.release_file(&info.id).await?;
        }
        tracing::info!(path = %info.path, id = %info.id, "environment lock released");
        Ok(())
    }

    /// `park unlock ID`: removes a lock left behind by a run that was killed, after checking
    /// that `id` is the lock's ID. Returns what was removed.
    pub async fn force_unlock(&self, id: &str) -> Result<LockInfo, LockError> {
        let holder = self.holder().await?.ok_or_else(|| LockError::NotLocked {
            path: self.backend.lock_path(),
        })?;
        if holder.id != id {
            return Err(LockError::Mismatch {
                path: self.backend.lock_path(),
                given: id.to_owned(),
                holder: Box::new(holder),
            });
        }
        self.release(&holder).await?;
        Ok(holder)
    }

    async fn release_file(&self, id: &str) -> Result<(), LockError> {
        let Some(s3) = &self.s3 else { return Ok(()) };
        match self.file_holder().await? {
            None => Ok(()),
            Some(holder) if holder.id != id => Err(LockError::Lost {
                path: self.backend.lock_path(),
                id: id.to_owned(),
            }),
            Some(_) => s3
                .delete_object()
                .bucket(&self.backend.bucket)
                .key(self.backend.lock_file_key())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    AwsCallError::new("s3:DeleteObject", Some(self.lock_file_uri()), e).into()
                }),
        }
    }

    async fn item_holder(&self) -> Result<Option<LockInfo>, LockError> {
        let (Some(dynamodb), Some(table)) = (&self.dynamodb, &self.backend.dynamodb_table) else {
            return Ok(None);
        };
        let out = dynamodb
            .get_item()
            .table_name(table)
            .key("LockID", AttributeValue::S(self.backend.lock_path()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsCallError::new("dynamodb:GetItem", Some(self.item_name()), e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        match item.get("Info") {
            Some(AttributeValue::S(text)) => self.parse(text).map(Some),
            _ => Err(LockError::Corrupt {
                path: self.item_name(),
                message: "the lock item has no `Info` string".into(),
            }),
        }
    }

    async fn file_holder(&self) -> Result<Option<LockInfo>, LockError> {
        let Some(s3) = &self.s3 else { return Ok(None) };
        let out = s3
            .get_object()
            .bucket(&self.backend.bucket)
            .key(self.backend.lock_file_key())
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                let e = AwsCallError::new("s3:GetObject", Some(self.lock_file_uri()), e);
                if e.is_not_found() {
                    return Ok(None);
                }
                return Err(e.into());
            }
        };
        let bytes = out.body.collect().await.map_err(|e| LockError::Corrupt {
            path: self.lock_file_uri(),
            message: format!("cannot read the lock file: {e}"),
        })?;
        let text = String::from_utf8_lossy(&bytes.into_bytes()).into_owned();
        self.parse(&text).map(Some)
    }

    fn parse(&self, text: &str) -> Result<LockInfo, LockError> {
        serde_json::from_str(text).map_err(|e| LockError::Corrupt {
            path: self.backend.lock_path(),
            message: format!("the lock's body is not Terraform's lock JSON: {e}"),
        })
    }

    fn item_name(&self) -> String {
        format!(
            "{}/{}",
            self.backend.dynamodb_table.as_deref().unwrap_or_default(),
            self.backend.lock_path()
        )
    }

    fn lock_file_uri(&self) -> String {
        format!(
            "s3://{}/{}",
            self.backend.bucket,
            self.backend.lock_file_key()
        )
    }
}

/// Whether a conditional write failed because the lock exists.
fn is_held(e: &AwsCallError) -> bool {
    e.class() == ErrorClass::ConditionFailed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_is_found_without_the_user_variable() {
        let id = std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap();
        let expected = String::from_utf8_lossy(&id.stdout).trim().to_owned();
        assert_eq!(user_of_this_process().as_deref(), Some(expected.as_str()));
    }

    #[test]
    fn the_lock_body_is_terraforms_json() {
        let backend = S3Backend {
            bucket: "b".into(),
            key: "k".into(),
            region: "eu-west-2".into(),
            dynamodb_table: Some("t".into()),
            use_lockfile: false,
            s3_endpoint: None,
            dynamodb_endpoint: None,
            force_path_style: false,
            sources: Vec::new(),
        };
        let info = LockInfo::new("park down", "0.1.0", &backend);
        let json: serde_json::Value = serde_json::to_value(&info).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "ID",
                "Operation",
                "Info",
                "Who",
                "Version",
                "Created",
                "Path"
            ]
        );
        assert_eq!(json["Path"], "b/k");
        assert!(
            info.who.contains('@') && !info.who.starts_with('@'),
            "{}",
            info.who
        );
        assert!(time::OffsetDateTime::parse(
            &info.created,
            &time::format_description::well_known::Rfc3339
        )
        .is_ok());
    }
}
