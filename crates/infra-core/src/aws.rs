//! AWS setup: the one place that builds an [`SdkConfig`], the error type for AWS calls, and
//! the account guard.
//!
//! The configuration follows the standard SDK behaviour, so it works the same on a laptop,
//! in CircleCI with OIDC web identity, and against the local emulator:
//! - credentials from the standard chain (environment, profiles, SSO, web identity through
//!   `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, container and instance credentials);
//! - region from `--region`, else the environment file, else the SDK default chain;
//! - endpoints from `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` (how tests point at
//!   the emulator);
//! - retry mode and attempts, connect and operation timeouts from [`AwsOptions`]; clients
//!   are built with [`crate::aws_client!`], which bounds retries by the run's deadline.

use crate::environment::Environment;
use crate::error::AwsSetupError;
pub use crate::error::SdkCause;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::fmt;
use std::time::Duration;

/// How the SDK retries throttled and transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryMode {
    /// Exponential backoff with jitter and a retry quota.
    #[default]
    Standard,
    /// Standard plus client-side rate limiting when throttled.
    Adaptive,
}

/// Options for building the SDK configuration; every field has a safe default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsOptions {
    /// Region override (`--region`); wins over the environment file.
    pub region: Option<String>,
    /// Named profile (`--profile`); otherwise `AWS_PROFILE` or the default profile.
    pub profile: Option<String>,
    /// Retry mode.
    pub retry_mode: RetryMode,
    /// Total attempts per request, including the first; `None`: no cap, retried until the
    /// run's deadline ([`crate::retry::Deadline`]) or the operation timeout.
    pub max_attempts: Option<u32>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Upper bound for one operation, retries included.
    pub operation_timeout: Duration,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            region: None,
            profile: None,
            retry_mode: RetryMode::Standard,
            max_attempts: None,
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(120),
        }
    }
}

/// Builds the SDK configuration for `env` (its region is used unless overridden).
///
/// This is the only function in the workspace that builds an [`SdkConfig`]; clients are
/// made from it with `aws_sdk_x::Client::new(&config)` and passed into logic.
pub async fn sdk_config(
    options: &AwsOptions,
    env: Option<&Environment>,
) -> Result<SdkConfig, AwsSetupError> {
    if options.max_attempts == Some(0) {
        return Err(AwsSetupError::InvalidOption {
            option: "--max-attempts",
            message: "must be at least 1 (1 means no retries)".into(),
        });
    }
    let retry = match options.retry_mode {
        RetryMode::Standard => RetryConfig::standard(),
        RetryMode::Adaptive => RetryConfig::adaptive(),
    }
    .with_max_attempts(
        options
            .max_attempts
            .unwrap_or(crate::retry::UNCAPPED_ATTEMPTS),
    )
    .with_initial_backoff(crate::retry::INITIAL_BACKOFF)
    .with_max_backoff(crate::retry::MAX_BACKOFF);
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(options.connect_timeout)
        .operation_timeout(options.operation_timeout)
        .build();

    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts);
    let region = options
        .region
        .clone()
        .or_else(|| env.map(|e| e.region.clone()));
    if let Some(region) = region {
        loader = loader.region(Region::new(region));
    }
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(env) = env {
        loader = loader.http_client(rate_budget::BudgetedHttpClient::new(budget(options, env)));
    }
    let config = loader.load().await;
    tracing::debug!(region = ?config.region(), "built AWS SDK configuration");
    Ok(config)
}

/// The rate budget `env`'s calls spend: one per account and Region for the whole process,
/// so every environment of a `park` run in the same account and Region shares it. The
/// SDK configuration of an environment sends through it ([`sdk_config`]); call sites
/// acquire from it before they send ([`rate_budget::Budget::acquire`]).
pub fn budget(options: &AwsOptions, env: &Environment) -> std::sync::Arc<rate_budget::Budget> {
    let region = options.region.as_deref().unwrap_or(&env.region);
    rate_budget::shared(&env.account_id, region, &env.rate_budget)
}

/// An AWS API call that failed, with the operation, the resource and AWS's error code.
#[derive(Debug, thiserror::Error)]
pub struct AwsCallError {
    /// The API operation, as in IAM (`ecs:UpdateService`).
    pub operation: &'static str,
    /// The resource the call was about, when there is one.
    pub resource: Option<String>,
    /// AWS's error code (`ThrottlingException`, `ClusterNotFoundException`), when AWS answered.
    pub code: Option<String>,
    /// What went wrong, in AWS's words or the SDK's.
    pub message: String,
    /// The kind of failure.
    pub kind: AwsCallErrorKind,
    /// The SDK's error itself, for a caller that needs more than the class (its typed
    /// error, the raw response's metadata). Not printed again by
    /// [`error_chain`](crate::error::error_chain): `code` and `message` already say it.
    #[source]
    pub source: Option<SdkCause>,
}

/// Whether AWS answered with an error or the request never got an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AwsCallErrorKind {
    /// AWS answered with an error.
    Service,
    /// The request could not be built (e.g. no region).
    Construction,
    /// No usable credentials were found by the credential chain.
    Credentials,
    /// The request could not be sent or the connection failed.
    Dispatch,
    /// The call timed out.
    Timeout,
    /// The answer could not be read.
    Response,
}

impl fmt::Display for AwsCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.operation)?;
        if let Some(resource) = &self.resource {
            write!(f, " on {resource}")?;
        }
        match &self.code {
            Some(code) => write!(f, ": {code}: {}", self.message),
            None => write!(f, ": {}", self.message),
        }
    }
}

/// What an AWS error means to the toolkit. The one place AWS's error codes are read:
/// callers branch on the class ([`AwsCallError::class`], [`AwsCallError::is_not_found`]),
/// never on a code string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The resource does not exist (a cluster, service, rule, DB cluster, S3 object,
    /// distribution).
    NotFound,
    /// A conditional write was refused because its condition did not hold (DynamoDB
    /// `attribute_not_exists`, S3 `If-None-Match`).
    ConditionFailed,
    /// Throttling, AWS-side unavailability, a connection that failed or timed out: worth
    /// trying again later.
    Transient,
    /// A signature did not verify (KMS `Verify`).
    InvalidSignature,
    /// No usable credentials were found by the credential chain.
    Credentials,
    /// Anything else: not retried, reported as it is.
    Other,
}

/// The codes of each class, as the services spell them.
const NOT_FOUND: &[&str] = &[
    "ResourceNotFoundException",
    "ClusterNotFoundException",
    "ServiceNotFoundException",
    "DBClusterNotFoundFault",
    "NoSuchKey",
    "NotFound",
    "NoSuchDistribution",
    "RepositoryNotFoundException",
];
const CONDITION_FAILED: &[&str] = &[
    "ConditionalCheckFailedException",
    "PreconditionFailed",
    "ConditionalRequestConflict",
];
const TRANSIENT: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "SlowDown",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalError",
    "ServerException",
];
const INVALID_SIGNATURE: &[&str] = &["KMSInvalidSignatureException"];

impl AwsCallError {
    /// What the failure means ([`ErrorClass`]), from the kind of failure and AWS's code.
    pub fn class(&self) -> ErrorClass {
        match self.kind {
            AwsCallErrorKind::Dispatch | AwsCallErrorKind::Timeout | AwsCallErrorKind::Response => {
                ErrorClass::Transient
            }
            AwsCallErrorKind::Credentials => ErrorClass::Credentials,
            AwsCallErrorKind::Construction => ErrorClass::Other,
            AwsCallErrorKind::Service => {
                let code = self.code.as_deref().unwrap_or_default();
                [
                    (NOT_FOUND, ErrorClass::NotFound),
                    (CONDITION_FAILED, ErrorClass::ConditionFailed),
                    (TRANSIENT, ErrorClass::Transient),
                    (INVALID_SIGNATURE, ErrorClass::InvalidSignature),
                ]
                .into_iter()
                .find(|(codes, _)| codes.contains(&code))
                .map_or(ErrorClass::Other, |(_, class)| class)
            }
        }
    }

    /// Whether the resource the call named does not exist.
    pub fn is_not_found(&self) -> bool {
        self.class() == ErrorClass::NotFound
    }

    /// Whether the failure is worth trying again later: throttling, AWS-side unavailability,
    /// a connection that failed or timed out. Polls (waits) use this to keep polling after
    /// the SDK's own retries gave up, until their deadline.
    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }

    /// Wraps an SDK error, keeping AWS's code and message.
    pub fn new<E, R>(operation: &'static str, resource: Option<String>, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let chain = display_chain(&err);
        let kind = match &err {
            _ if caused_by_credentials(&err) => AwsCallErrorKind::Credentials,
            SdkError::ServiceError(_) => AwsCallErrorKind::Service,
            SdkError::ConstructionFailure(_) => AwsCallErrorKind::Construction,
            SdkError::DispatchFailure(_) => AwsCallErrorKind::Dispatch,
            SdkError::TimeoutError(_) => AwsCallErrorKind::Timeout,
            _ => AwsCallErrorKind::Response,
        };
        let code = err.code().map(str::to_owned);
        let message = match (&kind, err.message()) {
            (AwsCallErrorKind::Service, Some(m)) => m.to_owned(),
            // The SDK's own Display is terse ("dispatch failure"); the chain says why.
            (AwsCallErrorKind::Credentials, _) => format!(
                "no usable AWS credentials (looked in the environment, profiles, web identity, container and instance metadata): {chain}"
            ),
            (AwsCallErrorKind::Dispatch, _) => format!("cannot reach the AWS endpoint: {chain}"),
            (AwsCallErrorKind::Timeout, _) => format!("timed out: {chain}"),
            _ => chain,
        };
        AwsCallError {
            operation,
            resource,
            code,
            message,
            kind,
            source: Some(SdkCause::new(err)),
        }
    }

    /// A `map_err` adapter: `.map_err(AwsCallError::on("ecs:UpdateService", "c/web"))`.
    pub fn on<E, R>(
        operation: &'static str,
        resource: impl Into<String>,
    ) -> impl FnOnce(SdkError<E, R>) -> AwsCallError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let resource = resource.into();
        move |err| AwsCallError::new(operation, Some(resource), err)
    }
}

impl AwsCallError {
    /// The credential chain found no usable credentials before `operation` could be sent.
    pub fn no_credentials(
        operation: &'static str,
        cause: &(dyn std::error::Error + 'static),
    ) -> AwsCallError {
        AwsCallError {
            operation,
            resource: None,
            code: None,
            message: format!(
                "no usable AWS credentials (looked in the environment, profiles, web identity, container and instance metadata): {}",
                display_chain(cause)
            ),
            kind: AwsCallErrorKind::Credentials,
            source: None,
        }
    }
}

/// Whether the credential chain's own error ([`CredentialsError`]) is among the causes:
/// the SDK reports a chain that found nothing as a failure to send the request.
///
/// [`CredentialsError`]: aws_credential_types::provider::error::CredentialsError
fn caused_by_credentials(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.is::<aws_credential_types::provider::error::CredentialsError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The error and its causes, each once, joined with ": " (Display only, never Debug, so
/// no request or credential details leak into messages).
fn display_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// Who the credentials belong to, from STS GetCallerIdentity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallerIdentity {
    /// The AWS account.
    pub account: String,
    /// The caller's ARN.
    pub arn: String,
}

/// The account guard: refuses to act when the credentials belong to another account than
/// the environment file's `account_id`. Binaries skip it only on an explicit flag.
pub async fn check_account(
    sts: &aws_sdk_sts::Client,
    env: &Environment,
) -> Result<CallerIdentity, AccountGuardError> {
    let out = sts.get_caller_identity().send().await.map_err(|e| {
        AccountGuardError::Sts(Box::new(AwsCallError::new(
            "sts:GetCallerIdentity",
            None,
            e,
        )))
    })?;
    let account = out
        .account()
        .ok_or(AccountGuardError::NoAccount)?
        .to_owned();
    let arn = out.arn().unwrap_or("unknown ARN").to_owned();
    if account != env.account_id {
        return Err(AccountGuardError::WrongAccount {
            environment: env.name.clone(),
            expected: env.account_id.clone(),
            actual: account,
            arn,
        });
    }
    tracing::info!(account = %account, arn = %arn, "account guard passed");
    Ok(CallerIdentity { account, arn })
}

/// The credentials the account guard verified, resolved once from the SDK's chain, for a
/// child process that must act with exactly them (tf-wrap's Terraform): see
/// [`VerifiedCredentials::apply_to`]. `Debug` shows the access key ID and the account only.
#[derive(Clone)]
pub struct VerifiedCredentials {
    credentials: aws_credential_types::Credentials,
    /// Who they belong to, as the guard saw it.
    pub identity: CallerIdentity,
}

impl fmt::Debug for VerifiedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedCredentials")
            .field("access_key_id", &self.credentials.access_key_id())
            .field("account", &self.identity.account)
            .field("expiry", &self.credentials.expiry())
            .finish_non_exhaustive()
    }
}

/// The variables a child given [`VerifiedCredentials`] must not see: each would let its own
/// credential chain pick other credentials (a profile, a web-identity role) than the ones
/// verified, or carry a stale session token.
pub const CREDENTIAL_SELECTORS: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
];

impl VerifiedCredentials {
    /// The access key ID (not secret: it names the key, as CloudTrail does).
    pub fn access_key_id(&self) -> &str {
        self.credentials.access_key_id()
    }

    /// When temporary credentials expire (`None`: long-term keys).
    pub fn expiry(&self) -> Option<std::time::SystemTime> {
        self.credentials.expiry()
    }

    /// Sets `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (for temporary credentials)
    /// `AWS_SESSION_TOKEN` on `cmd`, after removing [`CREDENTIAL_SELECTORS`]: the
    /// environment's keys are the first thing every AWS credential chain reads, and
    /// nothing is left that could point it elsewhere.
    pub fn apply_to(&self, cmd: &mut tokio::process::Command) {
        for name in CREDENTIAL_SELECTORS {
            cmd.env_remove(name);
        }
        cmd.env("AWS_ACCESS_KEY_ID", self.credentials.access_key_id())
            .env(
                "AWS_SECRET_ACCESS_KEY",
                self.credentials.secret_access_key(),
            );
        if let Some(token) = self.credentials.session_token() {
            cmd.env("AWS_SESSION_TOKEN", token);
        }
    }
}

/// Resolves the credentials of `config` once (bounded by `timeout`), runs the account guard
/// with exactly them, and returns a configuration that uses only them, with the verified
/// credentials. What later calls and a child process use is then what the guard checked,
/// not whatever the chain would resolve next time.
pub async fn verify_credentials(
    config: &SdkConfig,
    env: &Environment,
    timeout: Duration,
) -> Result<(SdkConfig, VerifiedCredentials), AccountGuardError> {
    use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
    const OPERATION: &str = "sts:GetCallerIdentity";
    let no_credentials = |cause: &(dyn std::error::Error + 'static)| {
        AccountGuardError::Sts(Box::new(AwsCallError::no_credentials(OPERATION, cause)))
    };
    let provider = config.credentials_provider().ok_or_else(|| {
        no_credentials(&std::io::Error::other(
            "no credential provider is configured",
        ))
    })?;
    let credentials = match tokio::time::timeout(timeout, provider.provide_credentials()).await {
        Ok(Ok(credentials)) => credentials,
        Ok(Err(e)) => return Err(no_credentials(&e)),
        Err(_) => {
            return Err(no_credentials(&std::io::Error::other(format!(
                "the credential chain did not answer within {}",
                humantime::format_duration(timeout)
            ))))
        }
    };
    let pinned = config
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials.clone()))
        .build();
    let sts = crate::aws_client!(
        aws_sdk_sts,
        &pinned,
        crate::retry::Deadline::none(),
        "account-guard"
    );
    let identity = check_account(&sts, env).await?;
    Ok((
        pinned,
        VerifiedCredentials {
            credentials,
            identity,
        },
    ))
}

/// The account guard refused to act or could not run.
#[derive(Debug, thiserror::Error)]
pub enum AccountGuardError {
    /// The caller's account is not the environment's.
    #[error(
        "refusing to act: the AWS credentials belong to account {actual} ({arn}), but environment `{environment}` is account {expected}"
    )]
    WrongAccount {
        /// The environment's name.
        environment: String,
        /// `account_id` from the environment file.
        expected: String,
        /// The caller's account.
        actual: String,
        /// The caller's ARN.
        arn: String,
    },
    /// STS GetCallerIdentity failed, so the account is unknown.
    #[error("cannot check the AWS account: {0}")]
    Sts(#[source] Box<AwsCallError>),
    /// STS answered without an account.
    #[error("cannot check the AWS account: sts:GetCallerIdentity returned no account")]
    NoAccount,
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
    use aws_smithy_runtime_api::http::Response;

    type StsError = SdkError<GetCallerIdentityError, Response>;

    /// The SDK's error stays reachable (downcast through `SdkCause`), and a printed chain
    /// says its words once, even through a wrapper (`AccountGuardError::Sts`).
    #[test]
    fn the_sdk_error_is_kept_as_the_source_and_printed_once() {
        let sdk: StsError = SdkError::construction_failure("no region configured");
        let err = AwsCallError::new("sts:GetCallerIdentity", None, sdk);
        let source = std::error::Error::source(&err).expect("the SDK error is the source");
        let cause = source.downcast_ref::<SdkCause>().expect("an SdkCause");
        assert!(cause.error().is::<StsError>());
        let wrapped = AccountGuardError::Sts(Box::new(err));
        let text = crate::error::error_chain(&wrapped);
        assert_eq!(text.matches("no region configured").count(), 1, "{text}");
    }
}
