//! The plan bundle: what the plan job hands to the apply job.
//!
//! A bundle directory holds the saved plan (`plan.tfplan`), its JSON (`plan.json`), the
//! summary (`summary.md`, for a CI artifact or PR comment) and `manifest.json`, which binds
//! them to what made them: sha256 of the plan file and of its JSON, the Terraform version,
//! the sha256 of `.terraform.lock.hcl`, the git commit, the environment, the creation time,
//! the summary's digest and the gate allowances the plan was accepted with.
//!
//! `apply` re-checks every one of these against the apply job's checkout before Terraform
//! runs, and lists every mismatch at once.

pub use crate::digest::sha256_hex;
use crate::plan::{PlanJson, Summary};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::OffsetDateTime;

/// The manifest's schema name.
pub const MANIFEST_SCHEMA: &str = "tf-wrap/bundle";
/// The manifest's schema version.
pub const MANIFEST_VERSION: u32 = 1;
/// The saved plan's file name in a bundle.
pub const PLAN_FILE: &str = "plan.tfplan";
/// The plan's JSON in a bundle.
pub const PLAN_JSON: &str = "plan.json";
/// The manifest in a bundle.
pub const MANIFEST: &str = "manifest.json";
/// The Markdown summary in a bundle.
pub const SUMMARY_MD: &str = "summary.md";
/// The KMS signature of the manifest, in a signed bundle.
pub const SIGNATURE: &str = "signature.json";
/// Terraform's dependency lock file in the root.
pub const LOCK_FILE: &str = ".terraform.lock.hcl";
/// How far in the future a bundle's creation time may be (clock skew between CI runners).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`MANIFEST_SCHEMA`].
    pub schema: String,
    /// Always [`MANIFEST_VERSION`].
    pub schema_version: u32,
    /// The environment file's environment name.
    pub environment: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// `tf-wrap VERSION`.
    pub created_by: String,
    /// The tf-wrap build that wrote the bundle (version, commit, target, profile); absent
    /// in bundles written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<infra_core::build::BuildInfo>,
    /// The Terraform version that made the plan.
    pub terraform_version: String,
    /// sha256 of `plan.tfplan`.
    pub plan_sha256: String,
    /// sha256 of `plan.json`.
    pub plan_json_sha256: String,
    /// sha256 of the root's `.terraform.lock.hcl`; `None` when the root has none.
    pub lock_file_sha256: Option<String>,
    /// The checkout's `HEAD`; `None` outside a git repository.
    pub git_commit: Option<String>,
    /// Whether the checkout had uncommitted changes to tracked files.
    pub git_dirty: bool,
    /// Digest of the summary, see [`Summary::digest`].
    pub summary_digest: String,
    /// Whether the plan changes anything.
    pub has_changes: bool,
    /// Addresses whose destruction the plan was accepted with.
    pub allow_destroy: Vec<String>,
    /// Whether the plan was accepted with `--allow-unpark`.
    pub allow_unpark: bool,
}

/// What the apply job's checkout looks like now, for [`verify`].
#[derive(Debug, Clone)]
pub struct Checkout {
    /// The environment name in the environment file.
    pub environment: String,
    /// The Terraform binary's version.
    pub terraform_version: String,
    /// sha256 of the lock file, if any.
    pub lock_file_sha256: Option<String>,
    /// `HEAD`, if a git repository.
    pub git_commit: Option<String>,
    /// The current time.
    pub now: OffsetDateTime,
    /// The oldest a bundle may be.
    pub max_age: Duration,
}

/// A bundle that was read and checked.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Its manifest.
    pub manifest: Manifest,
    /// `manifest.json` exactly as read (what a signature covers).
    pub manifest_bytes: Vec<u8>,
    /// Its plan's JSON, parsed.
    pub plan: PlanJson,
    /// Its plan's JSON as read.
    pub plan_json: String,
    /// The summary recomputed from it.
    pub summary: Summary,
    /// A private copy of the saved plan, made from the very bytes that were hashed: what
    /// Terraform shows and applies, so the bundle's file cannot change between the check
    /// and the apply.
    pub plan_file: PathBuf,
    /// The private directory holding `plan_file`, removed when the last clone is dropped.
    pub copy: std::sync::Arc<tempfile::TempDir>,
}

/// Why a bundle cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The directory or a file in it cannot be read.
    #[error("cannot read {path}: {source}{}", .bundle.as_ref().filter(|_| source.kind() == std::io::ErrorKind::NotFound).map(|dir| format!(" (is {} a bundle written by `tf-wrap plan`?)", dir.display())).unwrap_or_default())]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// The bundle directory, when `path` is one of its files (a missing file then asks
        /// whether it is a bundle at all).
        bundle: Option<PathBuf>,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The bundle does not match the checkout, or was changed.
    #[error("the plan bundle {dir} is refused:\n{}", .reasons.iter().map(|r| format!("  - {r}")).collect::<Vec<_>>().join("\n"))]
    Mismatch {
        /// The bundle directory.
        dir: PathBuf,
        /// Every failed check.
        reasons: Vec<String>,
    },
    /// The bundle could not be written.
    #[error("cannot write the plan bundle {path}: {source}")]
    Write {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The lock file's sha256, if the root has one.
pub fn lock_file_hash(root: &Path) -> Result<Option<String>, BundleError> {
    let path = root.join(LOCK_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(sha256_hex(&bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(BundleError::Unreadable {
            path,
            bundle: None,
            source,
        }),
    }
}

/// `HEAD` of the git repository holding `root`, and whether tracked files are changed;
/// `(None, false)` outside a repository.
pub async fn git_state(root: &Path) -> (Option<String>, bool) {
    let git = |args: &'static [&'static str]| {
        tokio::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
    };
    let (head, status) = tokio::join!(
        git(&["rev-parse", "--verify", "--quiet", "HEAD"]),
        // Read-only: no index refresh written into the user's checkout.
        git(&[
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no"
        ])
    );
    let commit = match head {
        Ok(out) if out.status.success() => {
            Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()).filter(|c| !c.is_empty())
        }
        _ => None,
    };
    let dirty = commit.is_some()
        && matches!(status, Ok(out) if out.status.success() && !out.stdout.is_empty());
    (commit, dirty)
}

/// A bundle being written: a sibling directory of the final one, renamed into place by
/// [`Staging::commit`], removed when dropped uncommitted. The final directory therefore
/// never holds a half-written or refused bundle.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staging {
    /// Creates the staging directory beside `target`.
    pub fn new(target: &Path) -> Result<Staging, BundleError> {
        let target = crate::runner::absolute(target);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bundle".into());
        let parent = target
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&parent).map_err(|source| BundleError::Write {
            path: parent.clone(),
            source,
        })?;
        remove_abandoned(&parent, &name);
        let dir = parent.join(format!(".{name}.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).map_err(|source| BundleError::Write {
            path: dir.clone(),
            source,
        })?;
        Ok(Staging {
            dir,
            target,
            committed: false,
        })
    }

    /// A path inside the staging directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Writes a file into the staging directory.
    pub fn write(&self, file: &str, bytes: &[u8]) -> Result<(), BundleError> {
        let path = self.path(file);
        std::fs::write(&path, bytes).map_err(|source| BundleError::Write { path, source })
    }

    /// Moves the staged bundle to its final place, replacing an older bundle there.
    pub fn commit(mut self) -> Result<PathBuf, BundleError> {
        let err = |path: &Path| {
            let path = path.to_owned();
            move |source| BundleError::Write { path, source }
        };
        for file in [PLAN_FILE, PLAN_JSON, MANIFEST, SUMMARY_MD] {
            if let Ok(f) = std::fs::File::open(self.path(file)) {
                f.sync_all().map_err(err(&self.path(file)))?;
            }
        }
        if self.target.exists() {
            // One atomic step: the old bundle and the new one trade places, so the target
            // always holds a whole bundle, even if we are killed right here.
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                &self.dir,
                rustix::fs::CWD,
                &self.target,
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .map_err(|e| err(&self.target)(e.into()))?;
            // The staging path now holds the old bundle; Drop removes it.
            self.committed = false;
            return Ok(self.target.clone());
        }
        std::fs::rename(&self.dir, &self.target).map_err(err(&self.target))?;
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Removes staging directories of `name` left by runs that were killed (their process is
/// gone); a live run's staging directory is left alone.
fn remove_abandoned(parent: &Path, name: &str) {
    let prefix = format!(".{name}.partial-");
    for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file
            .strip_prefix(&prefix)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The current time as RFC 3339.
pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn read(dir: &Path, file: &str) -> Result<Vec<u8>, BundleError> {
    let path = dir.join(file);
    std::fs::read(&path).map_err(|source| BundleError::Unreadable {
        path,
        bundle: Some(dir.to_owned()),
        source,
    })
}

/// Reads a bundle's manifest and checks it is one this tf-wrap understands.
pub fn read_manifest(dir: &Path) -> Result<Manifest, BundleError> {
    read_manifest_bytes(dir).map(|(m, _)| m)
}

fn read_manifest_bytes(dir: &Path) -> Result<(Manifest, Vec<u8>), BundleError> {
    let mismatch = |reason: String| BundleError::Mismatch {
        dir: dir.to_owned(),
        reasons: vec![reason],
    };
    let bytes = read(dir, MANIFEST)?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        mismatch(format!(
            "{MANIFEST} is not a tf-wrap manifest (line {}, column {}: {e})",
            e.line(),
            e.column()
        ))
    })?;
    if manifest.schema != MANIFEST_SCHEMA || manifest.schema_version != MANIFEST_VERSION {
        return Err(mismatch(format!(
            "{MANIFEST} has schema {} v{}; this tf-wrap reads {MANIFEST_SCHEMA} v{MANIFEST_VERSION}",
            manifest.schema, manifest.schema_version
        )));
    }
    Ok((manifest, bytes))
}

/// A bundle's plan JSON, checked against its manifest (for `tf-wrap summary`, which needs
/// no checkout to compare with).
pub fn read_plan_json(dir: &Path) -> Result<PlanJson, BundleError> {
    let manifest = read_manifest(dir)?;
    let json = read(dir, PLAN_JSON)?;
    if sha256_hex(&json) != manifest.plan_json_sha256 {
        return Err(BundleError::Mismatch {
            dir: dir.to_owned(),
            reasons: vec![format!("{PLAN_JSON} was changed after it was planned")],
        });
    }
    PlanJson::parse(&String::from_utf8_lossy(&json)).map_err(|e| BundleError::Mismatch {
        dir: dir.to_owned(),
        reasons: vec![format!("{PLAN_JSON}: {e}")],
    })
}

/// Reads a bundle and checks it against `checkout`; every failed check is listed.
pub fn verify(dir: &Path, checkout: &Checkout) -> Result<Verified, BundleError> {
    let (manifest, manifest_bytes) = read_manifest_bytes(dir)?;
    let mismatch = |reasons: Vec<String>| BundleError::Mismatch {
        dir: dir.to_owned(),
        reasons,
    };
    let plan_bytes = read(dir, PLAN_FILE)?;
    let json_bytes = read(dir, PLAN_JSON)?;
    let mut reasons = Vec::new();
    if sha256_hex(&plan_bytes) != manifest.plan_sha256 {
        reasons.push(format!(
            "{PLAN_FILE} was changed after it was planned: its sha256 differs from the manifest's"
        ));
    }
    if sha256_hex(&json_bytes) != manifest.plan_json_sha256 {
        reasons.push(format!(
            "{PLAN_JSON} was changed after it was planned: its sha256 differs from the manifest's"
        ));
    }
    let text = String::from_utf8_lossy(&json_bytes);
    let plan = PlanJson::parse(&text).map_err(|e| mismatch(vec![format!("{PLAN_JSON}: {e}")]))?;
    let summary = Summary::of(&plan);
    if summary.digest() != manifest.summary_digest {
        reasons.push("the plan's summary differs from the one recorded at plan time".into());
    }
    if manifest.environment != checkout.environment {
        reasons.push(format!(
            "the bundle was planned for environment `{}`, the environment file is `{}`",
            manifest.environment, checkout.environment
        ));
    }
    if manifest.terraform_version != checkout.terraform_version {
        reasons.push(format!(
            "the bundle was planned with Terraform {}, this job has {}",
            manifest.terraform_version, checkout.terraform_version
        ));
    }
    if manifest.lock_file_sha256 != checkout.lock_file_sha256 {
        reasons.push(
            match (&manifest.lock_file_sha256, &checkout.lock_file_sha256) {
                (Some(_), None) => format!("{LOCK_FILE} existed at plan time and is missing now"),
                (None, Some(_)) => format!("{LOCK_FILE} did not exist at plan time and does now"),
                _ => format!(
                    "{LOCK_FILE} changed since the plan (provider versions or hashes differ)"
                ),
            },
        );
    }
    if manifest.git_commit != checkout.git_commit {
        let show = |c: &Option<String>| c.clone().unwrap_or_else(|| "no git repository".into());
        reasons.push(format!(
            "the bundle was planned at commit {}, this checkout is at {}",
            show(&manifest.git_commit),
            show(&checkout.git_commit)
        ));
    }
    match OffsetDateTime::parse(
        &manifest.created_at,
        &time::format_description::well_known::Rfc3339,
    ) {
        Err(e) => reasons.push(format!(
            "created_at `{}` is not an RFC 3339 time: {e}",
            manifest.created_at
        )),
        Ok(created) => {
            let age = checkout.now - created;
            if age > checkout.max_age {
                reasons.push(format!(
                    "the bundle is {} old; at most {} is allowed (max_plan_age / --max-age): re-plan",
                    humantime::format_duration(Duration::from_secs(age.whole_seconds().max(0) as u64)),
                    humantime::format_duration(checkout.max_age)
                ));
            } else if -age > MAX_CLOCK_SKEW {
                reasons.push(format!(
                    "the bundle's creation time {} is in the future",
                    manifest.created_at
                ));
            }
        }
    }
    if !reasons.is_empty() {
        return Err(mismatch(reasons));
    }
    // Terraform gets a private copy of exactly the bytes hashed above, never the bundle's
    // file, which whoever can write the workspace could swap after the check.
    let copy = tempfile::Builder::new()
        .prefix("tf-wrap-apply-")
        .tempdir()
        .map_err(|e| BundleError::Write {
            path: std::env::temp_dir(),
            source: e,
        })?;
    let plan_file = copy.path().join(PLAN_FILE);
    std::fs::write(&plan_file, &plan_bytes).map_err(|e| BundleError::Write {
        path: plan_file.clone(),
        source: e,
    })?;
    Ok(Verified {
        plan_file,
        copy: std::sync::Arc::new(copy),
        manifest,
        manifest_bytes,
        plan,
        plan_json: text.into_owned(),
        summary,
    })
}

/// The JSON keys of `show -json` that the summary and the gates read.
const COMPARED_KEYS: &[&str] = &[
    "format_version",
    "terraform_version",
    "resource_changes",
    "resource_drift",
    "output_changes",
    "errored",
];

/// Where the plan's JSON that Terraform derives from the plan file (`derived`) differs
/// from the bundle's `plan.json` (`bundled`) in anything the summary or the gates read:
/// one line per differing resource, output or field; empty when they agree.
pub fn differences(bundled: &str, derived: &str) -> Vec<String> {
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap_or_default();
    let (bundled, derived) = (parse(bundled), parse(derived));
    let mut out = Vec::new();
    for key in COMPARED_KEYS {
        let (b, d) = (&bundled[key], &derived[key]);
        if b == d {
            continue;
        }
        match (b, d) {
            (serde_json::Value::Array(_), _) | (_, serde_json::Value::Array(_)) => {
                let by_address = |v: &serde_json::Value| -> std::collections::BTreeMap<String, serde_json::Value> {
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| (c["address"].as_str().unwrap_or("?").to_owned(), c.clone()))
                        .collect()
                };
                let (b, d) = (by_address(b), by_address(d));
                for address in b
                    .keys()
                    .chain(d.keys())
                    .collect::<std::collections::BTreeSet<_>>()
                {
                    match (b.get(address), d.get(address)) {
                        (Some(x), Some(y)) if x == y => {}
                        (Some(x), Some(y)) if actions(x) != actions(y) => out.push(format!(
                            "{key}: {address}: the plan file plans {}, {PLAN_JSON} shows {}",
                            actions(y),
                            actions(x)
                        )),
                        (Some(_), Some(y)) => out.push(format!(
                            "{key}: {address}: the plan file plans {} with other values than {PLAN_JSON} shows",
                            actions(y)
                        )),
                        (Some(_), None) => out.push(format!(
                            "{key}: {address} is in {PLAN_JSON} but not in the plan file"
                        )),
                        (None, y) => out.push(format!(
                            "{key}: the plan file plans {} for {address}, which {PLAN_JSON} does not show",
                            y.map(actions).unwrap_or_default()
                        )),
                    }
                }
            }
            (serde_json::Value::Object(bo), serde_json::Value::Object(dobj)) => {
                let names: std::collections::BTreeSet<&String> =
                    bo.keys().chain(dobj.keys()).collect();
                for name in names {
                    if bo.get(name) != dobj.get(name) {
                        out.push(format!(
                            "{key}: `{name}` differs between the plan file and {PLAN_JSON}"
                        ));
                    }
                }
            }
            _ => out.push(format!(
                "`{key}`: the plan file has {d}, {PLAN_JSON} has {b}"
            )),
        }
    }
    out
}

/// A resource change's actions, `delete+create`.
fn actions(change: &serde_json::Value) -> String {
    match change["change"]["actions"].as_array() {
        Some(a) => a
            .iter()
            .filter_map(|x| x.as_str())
            .collect::<Vec<_>>()
            .join("+"),
        None => "an unknown action".into(),
    }
}
