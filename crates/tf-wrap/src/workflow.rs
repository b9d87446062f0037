//! The three commands that run Terraform: `init`, `plan` (into a bundle) and `apply` (from
//! a verified bundle), plus reading a bundle's summary.

use crate::bundle::{self, BundleError, Checkout, Manifest, Staging, Verified};
use crate::diagnose;
use crate::error::TfWrapError;
use crate::gates::{self, GateOptions, Parked};
use crate::plan::{PlanJson, Summary};
use crate::runner::{absolute, Finished, Terraform};
use crate::signing::{self, BundleSigner, SigningError};
use crate::version::{self, Version};
use infra_core::retry::{until, Backoff, Deadline, Try};
use std::ffi::OsString;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything a command needs to run Terraform for the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How to run the binary.
    pub terraform: Terraform,
    /// The environment's name, recorded in and checked against bundles.
    pub environment: String,
    /// `-lock-timeout`.
    pub lock_timeout: Duration,
    /// `-backend-config` for `init`.
    pub backend_config: Option<PathBuf>,
    /// `-var-file`s for `plan`.
    pub var_files: Vec<PathBuf>,
    /// Attempts for `init` and `plan` on transient errors, the first included.
    pub attempts: u32,
    /// The first backoff; doubled each retry, at most 30 s.
    pub retry_base: Duration,
    /// The oldest bundle `apply` accepts.
    pub max_age: Duration,
}

/// What a plan needs from the checkout itself: read before Terraform starts, while the
/// account guard runs ([`Settings::checkout_facts`]).
#[derive(Debug)]
pub struct CheckoutFacts {
    /// The root's `required_version` constraints.
    pub requirements: Result<Vec<version::Requirement>, version::VersionError>,
    /// The commit checked out and whether the work tree differs from it.
    pub git: (Option<String>, bool),
    /// The SHA-256 of `.terraform.lock.hcl`, when there is one.
    pub lock_file_sha256: Result<Option<String>, BundleError>,
}

/// What `plan` produced.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The summary.
    pub summary: Summary,
    /// The manifest written.
    pub manifest: Manifest,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// Terraform's `-detailed-exitcode` said there are changes.
    pub changes: bool,
    /// `--allow-destroy` addresses that the plan does not destroy.
    pub unused_allowances: Vec<String>,
}

fn duration_arg(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn flag(name: &str, value: &Path) -> OsString {
    let mut s = OsString::from(format!("-{name}="));
    s.push(absolute(value).as_os_str());
    s
}

impl Settings {
    /// Reads the binary's version (`version -json`, falling back to the plain text).
    pub async fn version(&self) -> Result<Version, TfWrapError> {
        let tf = &self.terraform;
        let (code, out, err) = tf.capture(&["version".into(), "-json".into()]).await?;
        let text = String::from_utf8_lossy(&out);
        if code == Some(0) {
            if let Some(v) = Version::from_output(&text) {
                return Ok(v);
            }
        }
        // Terraform before 0.13 has no -json.
        let (_, out, err2) = tf.capture(&["version".into()]).await?;
        let plain = String::from_utf8_lossy(&out);
        Version::from_output(&plain).ok_or_else(|| TfWrapError::VersionUnreadable {
            binary: tf.binary.clone(),
            output: format!("{}{}{}", plain.trim(), err.trim(), err2.trim()),
        })
    }

    /// Reads the version and checks it against the root's `required_version`.
    pub async fn checked_version(&self) -> Result<Version, TfWrapError> {
        let version = self.version().await?;
        let requirements = version::requirements(&self.terraform.root)?;
        version::check(&self.terraform.binary, &version, &requirements)?;
        Ok(version)
    }

    /// Runs a retryable command: up to `attempts` times while the failure is transient.
    async fn retried(
        &self,
        command: Retryable,
        args: &[OsString],
    ) -> Result<Finished, TfWrapError> {
        let name = command.as_str();
        /// A failed run of Terraform, and the transient pattern it matched, if any.
        struct Failed(TfWrapError, Option<&'static str>);
        let attempts = self.attempts;
        until(
            Deadline::none(),
            Backoff::doubling(self.retry_base, Duration::from_secs(30)),
            Some(attempts),
            |Failed(_, pattern), n, wait| {
                tracing::warn!(
                    "`terraform {name}` failed with a transient error (matched \"{}\"); attempt {} of {attempts} in {}",
                    pattern.unwrap_or_default(),
                    n + 1,
                    humantime::format_duration(wait)
                );
            },
            |_| async {
                let done = match self.terraform.stream(args).await {
                    Ok(done) => done,
                    Err(e) => return Try::Fail(Failed(e.into(), None)),
                };
                if let Err(e) = interrupted(&done) {
                    return Try::Fail(Failed(e, None));
                }
                // `plan -detailed-exitcode` exits 2 when there are changes.
                if done.code == Some(0) || done.code == Some(2) && command == Retryable::Plan {
                    return Try::Done(done);
                }
                if let Some(info) = diagnose::lock_conflict(&done.output) {
                    return Try::Fail(Failed(TfWrapError::Locked(Box::new(info)), None));
                }
                match diagnose::transient(&done.output) {
                    Some(pattern) => Try::Again(Failed(failed(name, &done), Some(pattern))),
                    None => Try::Fail(Failed(failed(name, &done), None)),
                }
            },
        )
        .await
        .map_err(|stopped| stopped.into_inner().0)
    }

    /// `terraform init` with the backend configuration; retried on transient errors.
    /// (`init` takes no `-lock-timeout` in Terraform 1.0; it locks only to migrate state,
    /// which `-input=false` refuses anyway.)
    pub async fn init(&self) -> Result<(), TfWrapError> {
        self.checked_version().await?;
        let mut args: Vec<OsString> = vec!["init".into(), "-input=false".into()];
        if let Some(b) = &self.backend_config {
            args.push(flag("backend-config", b));
        }
        args.extend(self.terraform.color_args());
        self.retried(Retryable::Init, &args).await.map(drop)
    }

    /// What a plan reads from the checkout alone (no AWS, no Terraform process): the
    /// root's `required_version`, the git state and the lock file's hash. Read while the
    /// account guard runs and Terraform plans: it needs neither, and nothing waits for it
    /// until the plan is checked.
    pub fn checkout_facts(&self) -> impl Future<Output = CheckoutFacts> + Send + 'static {
        checkout_facts(self.terraform.root.clone())
    }

    /// `terraform plan -out -detailed-exitcode`, `show -json`, gates, bundle.
    ///
    /// `facts` were read from the checkout before (while the account guard ran); the park
    /// records (`parked`) are read while Terraform plans; the version that
    /// made the plan (from its JSON) is checked against the requirements afterwards. A
    /// failed check discards the plan: no bundle is written unless every check and gate
    /// passed.
    pub async fn plan<F, P>(
        &self,
        bundle_dir: &Path,
        gate_options: &GateOptions,
        facts: F,
        parked: P,
        signer: Option<BundleSigner>,
    ) -> Result<Planned, TfWrapError>
    where
        F: Future<Output = CheckoutFacts>,
        P: Future<Output = Result<Vec<Parked>, TfWrapError>>,
    {
        let staging = Staging::new(bundle_dir)?;
        let plan_path = staging.path(bundle::PLAN_FILE);
        let args = self.plan_args(None, &plan_path);
        let (planned, parked, facts) = tokio::join!(
            async {
                let done = self.retried(Retryable::Plan, &args).await?;
                let json = self.show_json(&plan_path).await?;
                Ok::<_, TfWrapError>((done.code == Some(2), json))
            },
            parked,
            facts
        );
        let CheckoutFacts {
            requirements,
            git,
            lock_file_sha256: lock,
        } = facts;
        // The park records decide the park guard: their failure outranks a Terraform failure.
        let parked = parked?;
        let (changes, json) = planned?;
        let requirements = requirements?;
        let (git_commit, git_dirty) = git;
        let lock_file_sha256 = lock?;
        let plan = PlanJson::parse(&String::from_utf8_lossy(&json))?;
        let summary = Summary::of(&plan);
        // The version that made the plan is in its JSON (every format since 0.1); asking
        // the binary separately would cost a second Terraform process per plan.
        let version = match plan.terraform_version.as_deref().and_then(Version::parse) {
            Some(v) => v,
            None => self.version().await?,
        };
        version::check(&self.terraform.binary, &version, &requirements)?;
        let refusals = gates::evaluate(&plan, &parked, gate_options);
        if !refusals.is_empty() {
            return Err(TfWrapError::Refused {
                refusals,
                summary: Box::new(summary),
            });
        }
        if git_dirty {
            tracing::warn!("the checkout has uncommitted changes; the bundle records commit {} but the plan includes them", git_commit.as_deref().unwrap_or("-"));
        }
        let plan_bytes =
            std::fs::read(&plan_path).map_err(|source| bundle::BundleError::Unreadable {
                path: plan_path.clone(),
                bundle: None,
                source,
            })?;
        let manifest = Manifest {
            schema: bundle::MANIFEST_SCHEMA.into(),
            schema_version: bundle::MANIFEST_VERSION,
            environment: self.environment.clone(),
            created_at: bundle::now_rfc3339(),
            created_by: format!("tf-wrap {}", env!("CARGO_PKG_VERSION")),
            build: Some(infra_core::build::info()),
            terraform_version: version.text.clone(),
            plan_sha256: bundle::sha256_hex(&plan_bytes),
            plan_json_sha256: bundle::sha256_hex(&json),
            lock_file_sha256,
            git_commit,
            git_dirty,
            summary_digest: summary.digest(),
            has_changes: changes,
            allow_destroy: gate_options.allow_destroy.clone(),
            allow_unpark: gate_options.allow_unpark,
        };
        staging.write(bundle::PLAN_JSON, &json)?;
        let markdown = summary.to_markdown_within(
            crate::plan::MARKDOWN_MAX_BYTES,
            &format!("`{}` in the bundle", bundle::PLAN_JSON),
        );
        staging.write(bundle::SUMMARY_MD, markdown.as_bytes())?;
        let manifest_json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        if let Some(signer) = &signer {
            let signature = signer
                .sign(&manifest_json)
                .await
                .map_err(TfWrapError::Signature)?;
            staging.write(
                bundle::SIGNATURE,
                &serde_json::to_vec_pretty(&signature).unwrap_or_default(),
            )?;
        }
        staging.write(bundle::MANIFEST, &manifest_json)?;
        let bundle = staging.commit()?;
        Ok(Planned {
            unused_allowances: gates::unused_allowances(&plan, gate_options),
            summary,
            manifest,
            bundle,
            changes,
        })
    }

    /// `terraform plan -refresh-only -detailed-exitcode` into a temporary plan file, then
    /// its JSON: what changed outside Terraform. The same arguments as [`Settings::plan`]
    /// (lock timeout, var files, retries); a refresh-only plan writes no state, and nothing
    /// of it is kept.
    pub async fn refresh_only(&self) -> Result<PlanJson, TfWrapError> {
        let dir = tempfile::Builder::new()
            .prefix(".tf-wrap-drift-")
            .tempdir()
            .map_err(TfWrapError::Scratch)?;
        let plan_path = dir.path().join(bundle::PLAN_FILE);
        let args = self.plan_args(Some("-refresh-only"), &plan_path);
        self.retried(Retryable::Plan, &args).await?;
        let json = self.show_json(&plan_path).await?;
        Ok(PlanJson::parse(&String::from_utf8_lossy(&json))?)
    }

    /// `plan [MODE] -input=false -lock-timeout -detailed-exitcode -out=PLAN_FILE`, the var
    /// files and the colour flag: one argument list for `plan` and `drift`.
    fn plan_args(&self, mode: Option<&str>, plan_file: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["plan".into()];
        args.extend(mode.map(OsString::from));
        args.extend([
            "-input=false".into(),
            format!("-lock-timeout={}", duration_arg(self.lock_timeout)).into(),
            "-detailed-exitcode".into(),
            flag("out", plan_file),
        ]);
        for v in &self.var_files {
            args.push(flag("var-file", v));
        }
        args.extend(self.terraform.color_args());
        args
    }

    /// Verifies a bundle against this checkout (without running Terraform apply).
    pub async fn verify(&self, bundle_dir: &Path) -> Result<Verified, TfWrapError> {
        let root = self.terraform.root.clone();
        let (version, git) = tokio::join!(self.checked_version(), bundle::git_state(&root));
        let checkout = Checkout {
            environment: self.environment.clone(),
            terraform_version: version?.text,
            lock_file_sha256: bundle::lock_file_hash(&root)?,
            git_commit: git.0,
            now: time::OffsetDateTime::now_utc(),
            max_age: self.max_age,
        };
        Ok(bundle::verify(bundle_dir, &checkout)?)
    }

    /// `terraform show -json PLANFILE`: the plan's JSON on stdout. A plan whose state moved
    /// on is [`TfWrapError::Stale`]: Terraform refuses to show it, as it would refuse to
    /// apply it.
    async fn show_json(&self, plan_file: &Path) -> Result<Vec<u8>, TfWrapError> {
        let (code, json, err) = self
            .terraform
            .capture(&[
                "show".into(),
                "-json".into(),
                "-no-color".into(),
                plan_file.into(),
            ])
            .await?;
        if code == Some(0) {
            return Ok(json);
        }
        if diagnose::stale_plan(&err) {
            let said = err.split_whitespace().collect::<Vec<_>>().join(" ");
            return Err(TfWrapError::Stale { terraform: said });
        }
        Err(TfWrapError::Terraform {
            command: "show -json".into(),
            code: code.map_or("signal".into(), |c| c.to_string()),
            hint: format!(": {}", err.trim()),
        })
    }

    /// Checks a verified bundle's signature when `signer` is configured (the environment
    /// file's `sign_with`): an unsigned bundle, another key's signature or an edit after
    /// signing is refused. Returns whether the bundle's signature was verified, which is
    /// what lets [`Settings::apply`] honour the allowances recorded in its manifest.
    pub async fn check_signature(
        &self,
        bundle_dir: &Path,
        verified: &Verified,
        signer: Option<&BundleSigner>,
    ) -> Result<bool, TfWrapError> {
        let Some(signer) = signer else {
            return Ok(false);
        };
        let signature = signing::read_signature(bundle_dir)
            .map_err(TfWrapError::Signature)?
            .ok_or_else(|| {
                TfWrapError::Signature(SigningError::Unsigned {
                    key: signer.key().to_owned(),
                })
            })?;
        let key = signer
            .verify(&verified.manifest_bytes, &signature)
            .await
            .map_err(TfWrapError::Signature)?;
        tracing::info!(key = %key, "bundle signature verified");
        Ok(true)
    }

    /// `terraform apply` of a verified bundle's plan file. What Terraform will apply is
    /// read from the plan file itself (`show -json` of the private copy), must match the
    /// bundle's `plan.json` in everything the summary and the gates read, and the gates run
    /// on it, again against the live park state (the environment may have been parked
    /// since the plan). The allowances are `allowances` (the apply command's own), plus the
    /// manifest's only when `signed`. Never retried.
    pub async fn apply<P>(
        &self,
        verified: &Verified,
        allowances: &GateOptions,
        signed: bool,
        parked: P,
    ) -> Result<(), TfWrapError>
    where
        P: Future<Output = Result<Vec<Parked>, TfWrapError>>,
    {
        let mut options = allowances.clone();
        if signed {
            for a in &verified.manifest.allow_destroy {
                if !options.allow_destroy.contains(a) {
                    options.allow_destroy.push(a.clone());
                }
            }
            options.allow_unpark |= verified.manifest.allow_unpark;
        } else {
            let unhonoured: Vec<String> = verified
                .manifest
                .allow_destroy
                .iter()
                .filter(|a| !options.allow_destroy.contains(a))
                .map(|a| format!("--allow-destroy {a}"))
                .chain(
                    (verified.manifest.allow_unpark && !options.allow_unpark)
                        .then(|| "--allow-unpark".to_owned()),
                )
                .collect();
            if !unhonoured.is_empty() {
                tracing::warn!(
                    "the bundle records {}, which an unsigned bundle cannot grant: give them to `tf-wrap apply` itself if the plan needs them",
                    unhonoured.join(", ")
                );
            }
        }
        let plan_file = verified.plan_file.clone();
        let (derived, parked) = tokio::join!(
            async {
                let json = self.show_json(&plan_file).await?;
                Ok::<_, TfWrapError>(String::from_utf8_lossy(&json).into_owned())
            },
            parked
        );
        let derived = derived?;
        let differences = bundle::differences(&verified.plan_json, &derived);
        if !differences.is_empty() {
            return Err(TfWrapError::Bundle(BundleError::Mismatch {
                dir: verified.plan_file.clone(),
                reasons: std::iter::once(format!(
                    "the plan file is not the plan {} shows: Terraform would apply something else; nothing was applied",
                    bundle::PLAN_JSON
                ))
                .chain(differences)
                .collect(),
            }));
        }
        let plan = PlanJson::parse(&derived)?;
        let parked = parked?;
        let refusals = gates::evaluate(&plan, &parked, &options);
        if !refusals.is_empty() {
            return Err(TfWrapError::Refused {
                refusals,
                summary: Box::new(Summary::of(&plan)),
            });
        }
        let mut args: Vec<OsString> = vec![
            "apply".into(),
            "-input=false".into(),
            format!("-lock-timeout={}", duration_arg(self.lock_timeout)).into(),
        ];
        args.extend(self.terraform.color_args());
        args.push(absolute(&plan_file).into());
        let done = self.terraform.stream(&args).await?;
        interrupted(&done)?;
        if done.code == Some(0) {
            return Ok(());
        }
        if diagnose::stale_plan(&done.output) {
            return Err(TfWrapError::Stale {
                terraform: String::new(),
            });
        }
        if let Some(info) = diagnose::lock_conflict(&done.output) {
            return Err(TfWrapError::Locked(Box::new(info)));
        }
        Err(failed("apply", &done))
    }
}

/// [`Settings::checkout_facts`] for `root`.
async fn checkout_facts(root: PathBuf) -> CheckoutFacts {
    let (requirements, git, lock_file_sha256) = tokio::join!(
        async { version::requirements(&root) },
        bundle::git_state(&root),
        async { bundle::lock_file_hash(&root) }
    );
    CheckoutFacts {
        requirements,
        git,
        lock_file_sha256,
    }
}

fn interrupted(done: &Finished) -> Result<(), TfWrapError> {
    match done.interrupted {
        None => Ok(()),
        Some(signal) => Err(TfWrapError::Interrupted {
            signal,
            outcome: if done.killed {
                "did not stop in time and was killed; its state lock may remain".into()
            } else {
                format!(
                    "stopped cleanly (exit {})",
                    done.code.map_or("signal".into(), |c| c.to_string())
                )
            },
        }),
    }
}

/// The Terraform commands retried on transient errors (never `apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retryable {
    Init,
    Plan,
}

impl Retryable {
    fn as_str(self) -> &'static str {
        match self {
            Retryable::Init => "init",
            Retryable::Plan => "plan",
        }
    }
}

fn failed(command: &str, done: &Finished) -> TfWrapError {
    let hint = if diagnose::needs_init(&done.output) {
        "; the working directory is not initialised for this backend: run `tf-wrap init`".into()
    } else {
        "; Terraform's own message is above".into()
    };
    TfWrapError::Terraform {
        command: command.into(),
        code: done.code.map_or("signal".into(), |c| c.to_string()),
        hint,
    }
}

/// Reads a bundle's summary for `tf-wrap summary`; the JSON must match the manifest.
pub fn read_summary(bundle_dir: &Path) -> Result<Summary, TfWrapError> {
    Ok(Summary::of(&bundle::read_plan_json(bundle_dir)?))
}
