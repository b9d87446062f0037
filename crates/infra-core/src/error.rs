//! The errors of `infra-core`, one type per failing operation.
//!
//! Messages are lowercase fragments that read after "failed to …" and name the file, line,
//! column, resource or AWS error code that caused them.

use std::fmt;
use std::path::PathBuf;
use tf_locals::LineColumn;

/// The environment file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{}", render_env_file_error(self))]
pub struct EnvFileError {
    /// The file that was being loaded.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: EnvFileErrorKind,
}

/// What went wrong loading an environment file.
#[derive(Debug)]
pub enum EnvFileErrorKind {
    /// The file could not be read.
    Read(std::io::Error),
    /// The file is not UTF-8; `at` is the first invalid byte.
    NotUtf8 {
        /// Where the first invalid byte is.
        at: LineColumn,
    },
    /// The file is larger than any environment file has a reason to be.
    TooLarge {
        /// Its size in bytes.
        size: u64,
        /// The largest size accepted.
        limit: u64,
    },
    /// The file was read but is invalid: every problem found, in file order.
    Invalid(Vec<Problem>),
}

/// One problem in an environment file, with its place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Where in the file.
    pub at: LineColumn,
    /// The dotted key path, when the problem belongs to a key (`environment.prod.region`).
    pub key: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl EnvFileError {
    /// The problems found, when the file was readable.
    pub fn problems(&self) -> &[Problem] {
        match &self.kind {
            EnvFileErrorKind::Invalid(problems) => problems,
            _ => &[],
        }
    }
}

fn render_env_file_error(err: &EnvFileError) -> String {
    let path = err.path.display();
    match &err.kind {
        EnvFileErrorKind::Read(source) => format!("cannot read environment file {path}: {source}"),
        EnvFileErrorKind::NotUtf8 { at } => {
            format!("{path}:{at}: environment file is not valid UTF-8")
        }
        EnvFileErrorKind::TooLarge { size, limit } => {
            format!("{path}: environment file is {size} bytes, more than the {limit} byte limit")
        }
        EnvFileErrorKind::Invalid(problems) => {
            let mut out = String::new();
            for (i, p) in problems.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&format!("{path}:{}: {}", p.at, p.message));
            }
            out
        }
    }
}

/// The AWS SDK configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AwsSetupError {
    /// An option was given a value the SDK cannot use.
    #[error("invalid AWS option {option}: {message}")]
    InvalidOption {
        /// The option, as the user spells it (`--retry-mode`).
        option: &'static str,
        /// What was wrong with it.
        message: String,
    },
}

/// A file could not be written atomically.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    /// The file being written.
    pub path: PathBuf,
    /// The I/O cause.
    #[source]
    pub source: std::io::Error,
}

/// The SDK's error under an [`AwsCallError`](crate::aws::AwsCallError): the error itself ([`SdkCause::error`]) for
/// a caller that needs it; a printed chain stops here, since the `AwsCallError` above
/// already says it.
#[derive(Debug, Clone)]
pub struct SdkCause(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl SdkCause {
    /// Wraps the SDK's error.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> SdkCause {
        SdkCause(std::sync::Arc::new(error))
    }

    /// The SDK's error (an `SdkError<OperationError, HttpResponse>`; downcast to inspect it).
    pub fn error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Display for SdkCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SdkCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The error as a one-line-per-cause chain, for printing by binaries.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    struct Chain<'a>(&'a (dyn std::error::Error + 'static));
    impl fmt::Display for Chain<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}", self.0)?;
            let mut source = self.0.source();
            let mut last = self.0.to_string();
            while let Some(cause) = source {
                // An AWS call's error already says AWS's code and message, and the
                // transport's chain (`AwsCallError::message`): the SDK error it keeps is
                // not printed again.
                if cause.is::<SdkCause>() {
                    break;
                }
                let text = cause.to_string();
                // The SDK often repeats its cause in its own message; print each once.
                if !last.contains(&text) {
                    write!(f, "\n  caused by: {text}")?;
                }
                last = text;
                source = cause.source();
            }
            Ok(())
        }
    }
    Chain(err).to_string()
}
