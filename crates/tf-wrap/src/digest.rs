//! The one digest of the bundle: lower-case hex SHA-256 (of the plan, its JSON, the lock
//! file, the summary, the manifest).

use sha2::{Digest, Sha256};

/// Lower-case hex sha256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}
