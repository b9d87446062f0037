//! Is the commit an image was built from reachable from the branch that is allowed to ship?

use crate::error::EcrTagsError;
use std::path::Path;
use std::process::Command;

/// Refuses unless `sha` names a commit in `repo` that is reachable from `git_ref`, so an
/// image built from an unmerged branch is never pinned.
pub fn check_reachable(repo: &Path, git_ref: &str, sha: &str) -> Result<(), EcrTagsError> {
    if !sha.bytes().all(|b| b.is_ascii_hexdigit()) || sha.len() < 4 {
        return Err(EcrTagsError::Refused(format!("`{sha}` is not a commit id")));
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .output()
            .map_err(|e| EcrTagsError::Git(format!("cannot run git: {e}")))
    };
    let resolved = git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{sha}^{{commit}}"),
    ])?;
    if !resolved.status.success() {
        return Err(EcrTagsError::Refused(format!(
            "commit {sha} of the image's tag is not in the git repository {}; fetch it, or check the tag",
            repo.display()
        )));
    }
    let full = String::from_utf8_lossy(&resolved.stdout).trim().to_owned();
    let reference = git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{git_ref}^{{commit}}"),
    ])?;
    if !reference.status.success() {
        return Err(EcrTagsError::Usage(format!(
            "--git-ref `{git_ref}` is not a commit in {}",
            repo.display()
        )));
    }
    let ancestor = git(&["merge-base", "--is-ancestor", &full, git_ref])?;
    match ancestor.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(EcrTagsError::Refused(format!(
            "commit {sha} is not reachable from `{git_ref}`: the image was built from an unmerged branch"
        ))),
        _ => Err(EcrTagsError::Git(String::from_utf8_lossy(&ancestor.stderr).trim().to_owned())),
    }
}
