//! Atomic file writes: a temporary file in the same directory, fsync, then rename, keeping
//! the original file's permissions. A killed process leaves either the old file or the new
//! one, never a truncated mix.

use crate::error::WriteError;
use std::io::Write;
use std::path::Path;

/// Writes `contents` to `path` atomically. The caller validates the contents first.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    write(path, contents, None)
}

/// [`write_atomic`] with the new file's permission bits set to `mode` before it appears
/// (an executable is never seen without its execute bits).
pub fn write_atomic_with_mode(path: &Path, contents: &[u8], mode: u32) -> Result<(), WriteError> {
    write(path, contents, Some(mode))
}

fn write(path: &Path, contents: &[u8], mode: Option<u32>) -> Result<(), WriteError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |source| WriteError {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".infra-tmp-")
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(contents).map_err(fail)?;
    let permissions = match mode {
        Some(mode) => Some(std::fs::Permissions::from_mode(mode)),
        None => std::fs::metadata(path).ok().map(|meta| meta.permissions()),
    };
    if let Some(permissions) = permissions {
        std::fs::set_permissions(tmp.path(), permissions).map_err(fail)?;
    }
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_keeps_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("main.tf");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file may be left behind");
    }

    #[test]
    fn with_mode_sets_the_permissions_of_a_new_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("launcher");
        write_atomic_with_mode(&path, b"#!/bin/sh\n", 0o755).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path() {
        let err = write_atomic(Path::new("/nonexistent-dir-xyz/file"), b"x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir-xyz/file"));
    }
}
