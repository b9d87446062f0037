//! Errors of the park crate.

use infra_core::aws::AwsCallError;

/// The live state could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot observe the environment: {source}")]
pub struct ObserveError {
    /// The AWS call that failed.
    #[source]
    pub source: Box<AwsCallError>,
}

impl From<AwsCallError> for ObserveError {
    fn from(source: AwsCallError) -> Self {
        ObserveError {
            source: Box::new(source),
        }
    }
}
