//! Signed bundles: `tf-wrap plan` signs the manifest with an AWS KMS asymmetric key
//! (`ECDSA_SHA_256`), `tf-wrap apply` verifies the signature with KMS before it trusts
//! anything the manifest says (its hashes, its allowances).
//!
//! What is signed is the manifest's canonical digest: the lowercase hex SHA-256 of
//! `manifest.json` exactly as written, sent to KMS as a `RAW` message (64 bytes, which KMS
//! hashes again with SHA-256 and signs). The manifest holds the hashes of the plan file and
//! its JSON, so one signature covers the whole bundle. Verification is KMS `Verify` with the
//! key the environment file names, so a signature by any other key fails, and the private
//! key never leaves KMS; no cryptography of our own. (Local verification with
//! `GetPublicKey` would save one call per apply but need an ECDSA crate; one call in an
//! apply that takes minutes is not worth that.)

use crate::bundle::{sha256_hex, SIGNATURE};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use infra_core::aws::AwsCallError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `signature.json` of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// `tf-wrap/signature`.
    pub schema: String,
    /// The key that signed, as KMS named it (its ARN).
    pub key_id: String,
    /// `ECDSA_SHA_256`.
    pub algorithm: String,
    /// The hex SHA-256 of `manifest.json`: the message signed.
    pub manifest_sha256: String,
    /// The DER-encoded ECDSA signature, base64.
    pub signature: String,
}

/// The schema name of `signature.json`.
pub const SIGNATURE_SCHEMA: &str = "tf-wrap/signature";

/// Why a bundle's signature is refused or could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// Signing is configured and the bundle has no signature.
    #[error("the bundle is not signed, and the environment file requires bundles signed by KMS key {key} (terraform.sign_with): re-plan with signing")]
    Unsigned {
        /// The configured key.
        key: String,
    },
    /// The signature file is not one tf-wrap writes (or cannot be read).
    #[error("{SIGNATURE} is unreadable: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: String,
        /// The underlying error, when another library found it.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The signature does not verify with the configured key.
    #[error("the bundle's signature does not verify with KMS key {key}{detail}: the bundle was edited after it was signed, or signed by another key; nothing was applied")]
    Invalid {
        /// The configured key.
        key: String,
        /// More about why.
        detail: String,
    },
    /// A KMS call failed.
    #[error(transparent)]
    Aws(Box<AwsCallError>),
}

/// Signs and verifies bundles with one KMS key.
#[derive(Debug, Clone)]
pub struct BundleSigner {
    kms: aws_sdk_kms::Client,
    key: String,
}

impl BundleSigner {
    /// The signer for `key` (an alias `alias/NAME`, a key ID or a key ARN).
    pub fn new(config: &aws_config::SdkConfig, key: &str) -> BundleSigner {
        BundleSigner {
            kms: infra_core::aws_client!(
                aws_sdk_kms,
                config,
                infra_core::retry::Deadline::none(),
                "tf-wrap-kms"
            ),
            key: key.to_owned(),
        }
    }

    /// The configured key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Signs `manifest` (the bytes of `manifest.json`).
    pub async fn sign(&self, manifest: &[u8]) -> Result<Signature, SigningError> {
        let digest = sha256_hex(manifest);
        let out = self
            .kms
            .sign()
            .key_id(&self.key)
            .message(Blob::new(digest.as_bytes()))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| {
                SigningError::Aws(Box::new(AwsCallError::new(
                    "kms:Sign",
                    Some(self.key.clone()),
                    e,
                )))
            })?;
        let signature = out
            .signature
            .ok_or_else(|| SigningError::malformed("KMS returned no signature", None))?;
        Ok(Signature {
            schema: SIGNATURE_SCHEMA.into(),
            key_id: out.key_id.unwrap_or_else(|| self.key.clone()),
            algorithm: SigningAlgorithmSpec::EcdsaSha256.as_str().into(),
            manifest_sha256: digest,
            signature: aws_smithy_types::base64::encode(signature.as_ref()),
        })
    }

    /// Verifies `signature` over `manifest` with the configured key; returns the key ARN
    /// KMS verified with.
    pub async fn verify(
        &self,
        manifest: &[u8],
        signature: &Signature,
    ) -> Result<String, SigningError> {
        let invalid = |detail: String| SigningError::Invalid {
            key: self.key.clone(),
            detail,
        };
        let digest = sha256_hex(manifest);
        if signature.manifest_sha256 != digest {
            return Err(invalid(
                " (manifest.json is not the manifest that was signed)".into(),
            ));
        }
        if signature.algorithm != SigningAlgorithmSpec::EcdsaSha256.as_str() {
            return Err(invalid(format!(
                " (algorithm {} instead of ECDSA_SHA_256)",
                signature.algorithm
            )));
        }
        let bytes = aws_smithy_types::base64::decode(&signature.signature)
            .map_err(|e| SigningError::malformed("the signature is not base64", Some(e.into())))?;
        let out = self
            .kms
            .verify()
            .key_id(&self.key)
            .message(Blob::new(digest.as_bytes()))
            .message_type(MessageType::Raw)
            .signature(Blob::new(bytes))
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                let e = AwsCallError::new("kms:Verify", Some(self.key.clone()), e);
                if e.class() == infra_core::aws::ErrorClass::InvalidSignature {
                    return Err(invalid(signed_by(signature)));
                }
                return Err(SigningError::Aws(Box::new(e)));
            }
        };
        if !out.signature_valid {
            return Err(invalid(signed_by(signature)));
        }
        Ok(out.key_id.unwrap_or_else(|| self.key.clone()))
    }
}

fn signed_by(signature: &Signature) -> String {
    format!(" (the bundle says it was signed by {})", signature.key_id)
}

impl SigningError {
    /// [`SigningError::Malformed`].
    fn malformed(
        reason: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> SigningError {
        SigningError::Malformed {
            reason: reason.into(),
            source,
        }
    }
}

/// Reads a bundle's `signature.json`, if it has one.
pub fn read_signature(dir: &Path) -> Result<Option<Signature>, SigningError> {
    let path = dir.join(SIGNATURE);
    match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SigningError::malformed(
            format!("cannot read {}", path.display()),
            Some(e.into()),
        )),
        Ok(bytes) => {
            let sig: Signature = serde_json::from_slice(&bytes).map_err(|e| {
                SigningError::malformed("not the JSON tf-wrap writes", Some(e.into()))
            })?;
            if sig.schema != SIGNATURE_SCHEMA {
                return Err(SigningError::malformed(
                    format!("schema `{}` is not {SIGNATURE_SCHEMA}", sig.schema),
                    None,
                ));
            }
            Ok(Some(sig))
        }
    }
}
