//! git, through the `git` CLI: is the commit an image was built from reachable from the
//! branch that is allowed to ship ([`check_reachable`]), and the bump as one reviewable
//! commit on a branch, pushed ([`commit_bump`]).

use crate::error::EcrTagsError;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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

/// Where `bump --commit` puts its commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchChoice {
    /// The branch checked out now.
    Current,
    /// A new branch named from the image and the tag (`bump/IMAGE/SHA`, or the tag when its
    /// pattern has no `sha` group).
    Default,
    /// A new branch of this name.
    Named(String),
}

/// `bump --commit [--branch [NAME]] [--push [REMOTE]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOptions {
    /// Which branch.
    pub branch: BranchChoice,
    /// Push the branch to this remote afterwards.
    pub push: Option<String>,
}

/// What `--commit` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitAction {
    /// A commit was made.
    Committed,
    /// The branch already holds exactly this bump: nothing was done.
    AlreadyCommitted,
    /// The pin was already at the tag: nothing to commit.
    NothingToCommit,
}

/// What `--push` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PushAction {
    /// The branch was pushed.
    Pushed,
    /// The remote already had exactly this commit on the branch.
    UpToDate,
}

/// The commit `bump --commit` made or found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitReport {
    /// What was done.
    pub action: CommitAction,
    /// The branch.
    pub branch: String,
    /// The commit (full id), when there is one.
    pub commit: Option<String>,
    /// Its message.
    pub message: String,
    /// The remote pushed to, when `--push` was given.
    pub remote: Option<String>,
    /// What the push did.
    pub push: Option<PushAction>,
}

/// What the commit says: the subject and the facts of the move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BumpFacts<'a> {
    /// The image (the local's name).
    pub image: &'a str,
    /// The tag before.
    pub from: &'a str,
    /// The tag after.
    pub to: &'a str,
    /// The new image's digest.
    pub digest: Option<&'a str>,
    /// When it was pushed (RFC 3339).
    pub pushed_at: Option<&'a str>,
    /// The commit it was built from (the tag's `sha` group).
    pub source_commit: Option<&'a str>,
}

impl BumpFacts<'_> {
    /// `Bump IMAGE to TAG`, then one line per fact.
    pub fn message(&self) -> String {
        let mut m = format!(
            "Bump {} to {}\n\nfrom: {}\nto: {}\n",
            self.image, self.to, self.from, self.to
        );
        for (key, value) in [
            ("digest", self.digest),
            ("pushed", self.pushed_at),
            ("source commit", self.source_commit),
        ] {
            if let Some(v) = value {
                m.push_str(&format!("{key}: {v}\n"));
            }
        }
        m
    }

    /// The default branch name: `bump/IMAGE/SHA`, or `bump/IMAGE/TAG`.
    pub fn default_branch(&self) -> String {
        format!(
            "bump/{}/{}",
            self.image,
            self.source_commit.unwrap_or(self.to)
        )
    }
}

/// A git work tree, driven through the `git` CLI (author and committer come from git's own
/// configuration or the standard `GIT_*` variables).
struct Repo {
    top: PathBuf,
    index: Option<PathBuf>,
}

impl Repo {
    /// The work tree holding `dir`.
    fn containing(dir: &Path) -> Result<Repo, EcrTagsError> {
        let probe = Repo {
            top: dir.to_owned(),
            index: None,
        };
        let out = probe.output(&["rev-parse", "--show-toplevel"], None)?;
        if !out.status.success() {
            return Err(EcrTagsError::Usage(format!(
                "--commit: {} is not in a git work tree",
                dir.display()
            )));
        }
        Ok(Repo {
            top: PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()),
            index: None,
        })
    }

    fn output(&self, args: &[&str], input: Option<&[u8]>) -> Result<Output, EcrTagsError> {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&self.top).args(args);
        if let Some(index) = &self.index {
            cmd.env("GIT_INDEX_FILE", index);
        }
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| EcrTagsError::Git(format!("cannot run git: {e}")))?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin
                .write_all(bytes)
                .map_err(|e| EcrTagsError::Git(format!("writing to git {}: {e}", args[0])))?;
        }
        child
            .wait_with_output()
            .map_err(|e| EcrTagsError::Git(format!("git {}: {e}", args[0])))
    }

    /// Runs git; its trimmed stdout, or its stderr as the error.
    fn run(&self, args: &[&str]) -> Result<String, EcrTagsError> {
        self.run_with(args, None)
    }

    fn run_with(&self, args: &[&str], input: Option<&[u8]>) -> Result<String, EcrTagsError> {
        let out = self.output(args, input)?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(EcrTagsError::Git(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// The object `rev` names, if it names one.
    fn rev(&self, rev: &str) -> Result<Option<String>, EcrTagsError> {
        let out = self.output(&["rev-parse", "--verify", "--quiet", rev], None)?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()))
    }

    /// Whether `tip` is exactly the bump: `base` plus the new tree, nothing else.
    fn is_the_bump(&self, tip: &str, base: &str, tree: &str) -> Result<bool, EcrTagsError> {
        Ok(
            self.rev(&format!("{tip}^{{tree}}"))?.as_deref() == Some(tree)
                && self.rev(&format!("{tip}^1"))?.as_deref() == Some(base),
        )
    }

    /// The commit on `branch` of `remote`, if the branch exists there.
    fn remote_tip(&self, remote: &str, branch: &str) -> Result<Option<String>, EcrTagsError> {
        let listed = self.run(&[
            "ls-remote",
            "--heads",
            remote,
            &format!("refs/heads/{branch}"),
        ])?;
        Ok(listed
            .lines()
            .find_map(|l| l.split_whitespace().next().map(str::to_owned)))
    }

    /// Pushes `branch` (at `local`) to `remote`, never forced, unless the remote already
    /// holds it (`remote_tip`, read once by the caller). A push refused because another run
    /// pushed this same bump meanwhile (`bump`: its parent and tree) is up to date too.
    fn push(
        &self,
        remote: &str,
        branch: &str,
        local: &str,
        remote_tip: Option<&str>,
        bump: Option<(&str, &str)>,
    ) -> Result<PushAction, EcrTagsError> {
        if remote_tip == Some(local) {
            return Ok(PushAction::UpToDate);
        }
        let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
        let pushed = self.run(&["push", "--quiet", "--no-verify", remote, &refspec]);
        match (pushed, bump) {
            (Ok(_), _) => Ok(PushAction::Pushed),
            (Err(e), Some((base, tree))) => match self.remote_tip(remote, branch)? {
                Some(now) if self.fetched_is_the_bump(remote, branch, &now, base, tree)? => {
                    Ok(PushAction::UpToDate)
                }
                _ => Err(e),
            },
            (Err(e), None) => Err(e),
        }
    }

    /// Fetches `branch` of `remote` and says whether its tip `tip` is exactly the bump.
    fn fetched_is_the_bump(
        &self,
        remote: &str,
        branch: &str,
        tip: &str,
        base: &str,
        tree: &str,
    ) -> Result<bool, EcrTagsError> {
        self.run(&[
            "fetch",
            "--quiet",
            "--no-tags",
            remote,
            &format!("refs/heads/{branch}"),
        ])?;
        self.is_the_bump(tip, base, tree)
    }
}

const NO_COMMIT: &str = "0000000000000000000000000000000000000000";

/// Commits the bump of `file` (`new_text`: its bumped content; `None`: the pin is already
/// at the tag) as one commit changing only that file, on the branch `options` names, then
/// pushes it when asked. Every refusal comes before anything is written: the file with
/// other uncommitted changes, a branch (local or on the remote) holding a different commit.
/// A rerun with everything already done does nothing.
pub fn commit_bump(
    file: &Path,
    new_text: Option<&str>,
    facts: &BumpFacts<'_>,
    options: &CommitOptions,
) -> Result<CommitReport, EcrTagsError> {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
    let mut repo = Repo::containing(dir.unwrap_or(Path::new(".")))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let here = Repo {
        top: dir.unwrap_or(Path::new(".")).to_owned(),
        index: None,
    };
    let rel = here
        .run(&["ls-files", "--full-name", "--error-unmatch", "--", &name])
        .map_err(|_| {
            EcrTagsError::Refused(format!(
                "{} is not tracked by git: --commit commits a tracked file",
                file.display()
            ))
        })?;
    let dirty = repo.run(&["status", "--porcelain", "--", &rel])?;
    if !dirty.is_empty() {
        return Err(EcrTagsError::Refused(format!(
            "{} has uncommitted changes ({}): --commit commits only the pin; commit or stash them first",
            file.display(),
            dirty.lines().next().unwrap_or_default().trim()
        )));
    }
    let base = repo.rev("HEAD^{commit}")?.ok_or_else(|| {
        EcrTagsError::Usage(format!(
            "--commit: {} has no commit yet",
            repo.top.display()
        ))
    })?;
    let head = repo.output(&["symbolic-ref", "--quiet", "--short", "HEAD"], None)?;
    let current = head
        .status
        .success()
        .then(|| String::from_utf8_lossy(&head.stdout).trim().to_owned());
    let branch = match &options.branch {
        BranchChoice::Current => current.clone().ok_or_else(|| {
            EcrTagsError::Usage(
                "--commit: HEAD is detached; give --branch to commit on a new branch".into(),
            )
        })?,
        BranchChoice::Default => facts.default_branch(),
        BranchChoice::Named(n) => n.clone(),
    };
    if repo
        .output(&["check-ref-format", "--branch", &branch], None)?
        .status
        .code()
        != Some(0)
    {
        return Err(EcrTagsError::Usage(format!(
            "--branch `{branch}` is not a valid branch name"
        )));
    }
    let message = facts.message();
    let mut report = CommitReport {
        action: CommitAction::NothingToCommit,
        branch: branch.clone(),
        commit: None,
        message: message.clone(),
        remote: options.push.clone(),
        push: None,
    };
    let Some(new_text) = new_text else {
        // Nothing to commit; the branch, when it exists here, is still pushed if asked.
        if let (Some(remote), Some(local)) = (
            &options.push,
            repo.rev(&format!("refs/heads/{branch}^{{commit}}"))?,
        ) {
            let remote_tip = repo.remote_tip(remote, &branch)?;
            report.push = Some(repo.push(remote, &branch, &local, remote_tip.as_deref(), None)?);
        }
        return Ok(report);
    };

    // The commit's tree: HEAD's, with the bumped file; built in a private index, so neither
    // the work tree nor the real index changes before the commit exists.
    let blob = repo.run_with(
        &["hash-object", "-w", "--path", &rel, "--stdin"],
        Some(new_text.as_bytes()),
    )?;
    let listed = repo.run(&["ls-tree", "HEAD", "--", &rel])?;
    let mode = listed
        .split_whitespace()
        .next()
        .unwrap_or("100644")
        .to_owned();
    let scratch = tempfile::tempdir()
        .map_err(|e| EcrTagsError::Git(format!("cannot make a temporary index: {e}")))?;
    repo.index = Some(scratch.path().join("index"));
    repo.run(&["read-tree", "HEAD"])?;
    repo.run(&[
        "update-index",
        "--cacheinfo",
        &format!("{mode},{blob},{rel}"),
    ])?;
    let tree = repo.run(&["write-tree"])?;
    repo.index = None;

    let new_branch = current.as_deref() != Some(branch.as_str());
    // What the remote holds on the branch, read once.
    let remote_tip = match &options.push {
        Some(remote) => repo.remote_tip(remote, &branch)?,
        None => None,
    };
    let bump = Some((base.as_str(), tree.as_str()));
    if new_branch {
        let local = repo.rev(&format!("refs/heads/{branch}^{{commit}}"))?;
        if let Some(tip) = &local {
            if !repo.is_the_bump(tip, &base, &tree)? {
                return Err(EcrTagsError::Refused(format!(
                    "branch `{branch}` exists with a different commit ({}): delete it or choose another with --branch NAME",
                    &tip[..12.min(tip.len())]
                )));
            }
        }
        if let (Some(remote), Some(tip)) = (&options.push, &remote_tip) {
            if local.as_ref() != Some(tip) {
                if !repo.fetched_is_the_bump(remote, &branch, tip, &base, &tree)? {
                    return Err(EcrTagsError::Refused(format!(
                        "branch `{branch}` on {remote} holds a different commit ({}): delete it there or choose another with --branch NAME",
                        &tip[..12.min(tip.len())]
                    )));
                }
                // The remote holds this bump already: a rerun, or another run got there
                // first (its commit id differs; its parent and tree are the same).
                report.action = CommitAction::AlreadyCommitted;
                report.commit = Some(tip.clone());
                report.push = Some(PushAction::UpToDate);
                return Ok(report);
            }
        }
        if let Some(tip) = local {
            report.action = CommitAction::AlreadyCommitted;
            if let Some(remote) = &options.push {
                report.push =
                    Some(repo.push(remote, &branch, &tip, remote_tip.as_deref(), bump)?);
            }
            report.commit = Some(tip);
            return Ok(report);
        }
    }

    let commit = repo.run_with(
        &["commit-tree", &tree, "-p", &base, "-F", "-"],
        Some(message.as_bytes()),
    )?;
    if new_branch {
        // Creating the ref is the commit point (it fails if the branch appeared meanwhile);
        // then git switches the work tree over, which changes only the pinned file.
        repo.run(&[
            "update-ref",
            &format!("refs/heads/{branch}"),
            &commit,
            NO_COMMIT,
        ])?;
        repo.run(&["switch", "--quiet", &branch])?;
    } else {
        // A fast-forward of the current branch to the commit: git updates the index and the
        // pinned file, and refuses if anything would be overwritten.
        repo.run(&["merge", "--quiet", "--ff-only", &commit])?;
    }
    report.action = CommitAction::Committed;
    if let Some(remote) = &options.push {
        report.push = Some(repo.push(remote, &branch, &commit, remote_tip.as_deref(), bump)?);
    }
    report.commit = Some(commit);
    Ok(report)
}
