//! `ecr-tags bump --commit [--branch] [--push]` against a local bare repository as
//! `origin`: one commit touching only the pin's bytes, with the message saying what moved,
//! on the branch, pushed; a rerun does nothing; a dirty pinned file and a conflicting
//! branch are refused (exit 4) with nothing changed.

use crate::support::{Ecr, Run, WorkingCopy};
use infra_test_support::git;
use std::path::{Path, PathBuf};

const PINNED: &str = "prefect-deployer-3-python3.12-4f2a9c1";
const NEWEST: &str = "prefect-deployer-3-python3.12-9e8d7c6";
const BRANCH: &str = "bump/prefect_deployer_image/9e8d7c6";

/// The seeded working copy as a git clone on `main` of a bare `origin`.
struct Clone {
    wc: WorkingCopy,
    dir: PathBuf,
    origin: PathBuf,
    _origin_dir: tempfile::TempDir,
}

impl Clone {
    fn new(ecr: &Ecr) -> Clone {
        let wc = WorkingCopy::seeded(ecr);
        let dir = wc.env_file.parent().unwrap().to_owned();
        let origin_dir = tempfile::tempdir().unwrap();
        let origin = origin_dir.path().join("origin.git");
        git(
            origin_dir.path(),
            &["init", "-q", "--bare", "-b", "main", "origin.git"],
        );
        git(&dir, &["init", "-q", "-b", "main"]);
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-q", "-m", "the environment"]);
        git(&dir, &["remote", "add", "origin", origin.to_str().unwrap()]);
        git(&dir, &["push", "-q", "origin", "main"]);
        Clone {
            wc,
            dir,
            origin,
            _origin_dir: origin_dir,
        }
    }

    fn git(&self, args: &[&str]) -> String {
        git(&self.dir, args)
    }

    fn origin_tip(&self, branch: &str) -> Option<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&self.origin)
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{branch}"),
            ])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Everything a refused run must leave as it was: refs here and on origin, HEAD, the
    /// file, the work tree's status.
    fn state(&self) -> (String, String, String, Vec<u8>, String) {
        (
            self.git(&["for-each-ref"]),
            git(&self.origin, &["for-each-ref"]),
            self.git(&["rev-parse", "--abbrev-ref", "HEAD"]),
            std::fs::read(&self.wc.main_tf).unwrap(),
            self.git(&["status", "--porcelain"]),
        )
    }
}

/// `ecr-tags bump prefect_deployer_image ARGS` in `dir` with a git identity from the
/// standard variables, as a CI job sets them.
fn bump(ecr: &Ecr, env_file: &Path, args: &[&str]) -> Run {
    let mut cmd =
        infra_test_support::command(env!("CARGO_BIN_EXE_ecr-tags"), ecr.session.endpoint());
    cmd.env("GIT_AUTHOR_NAME", "CI Bot")
        .env("GIT_AUTHOR_EMAIL", "ci@localhost")
        .env("GIT_COMMITTER_NAME", "CI Bot")
        .env("GIT_COMMITTER_EMAIL", "ci@localhost")
        .arg("--env-file")
        .arg(env_file)
        .args(["bump", "prefect_deployer_image"])
        .args(args);
    cmd.output().unwrap().into()
}

#[test]
fn bump_commits_one_change_on_a_branch_pushes_it_and_a_rerun_does_nothing() {
    let ecr = Ecr::new();
    let c = Clone::new(&ecr);
    let original = std::fs::read_to_string(&c.wc.main_tf).unwrap();
    let main = c.git(&["rev-parse", "main"]);

    let r = bump(&ecr, &c.wc.env_file, &["--commit", "--branch", "--push"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("committed "), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("pushed {BRANCH} to origin")),
        "{}",
        r.stdout
    );
    // Exactly one commit on the new branch, on top of main, touching only main.tf's tag.
    assert_eq!(c.git(&["rev-parse", "--abbrev-ref", "HEAD"]), BRANCH);
    assert_eq!(c.git(&["rev-list", "--count", "main..HEAD"]), "1");
    assert_eq!(c.git(&["rev-parse", "HEAD^"]), main);
    assert_eq!(c.git(&["diff", "--name-only", "main", "HEAD"]), "main.tf");
    assert_eq!(
        c.git(&["show", "HEAD:main.tf"]),
        original.replacen(PINNED, NEWEST, 1).trim_end(),
        "only the tag's bytes changed"
    );
    assert_eq!(
        c.git(&["status", "--porcelain"]),
        "",
        "the work tree is the commit"
    );
    // The message says what moved; the author comes from the GIT_* variables.
    assert_eq!(
        c.git(&["log", "-1", "--format=%s"]),
        format!("Bump prefect_deployer_image to {NEWEST}")
    );
    let body = c.git(&["log", "-1", "--format=%b"]);
    for line in [
        format!("from: {PINNED}"),
        format!("to: {NEWEST}"),
        "digest: sha256:".to_owned(),
        "pushed: 20".to_owned(),
        "source commit: 9e8d7c6".to_owned(),
    ] {
        assert!(body.contains(&line), "{line:?} in {body}");
    }
    assert_eq!(
        c.git(&["log", "-1", "--format=%an <%ae>"]),
        "CI Bot <ci@localhost>"
    );
    let head = c.git(&["rev-parse", "HEAD"]);
    assert_eq!(c.origin_tip(BRANCH), Some(head.clone()), "pushed");
    assert_eq!(c.origin_tip("main"), Some(main.clone()), "main untouched");

    // Rerun on the branch: the pin is there, the remote has it: nothing happens.
    let before = c.state();
    let r = bump(
        &ecr,
        &c.wc.env_file,
        &["--commit", "--branch", "--push", "--output", "json"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let json = r.json();
    assert_eq!(json["changed"], false);
    assert_eq!(json["commit"]["action"], "nothing-to-commit");
    assert_eq!(json["commit"]["push"], "up-to-date");
    assert_eq!(c.state(), before);

    // Rerun from main: the branch already holds exactly this bump.
    c.git(&["switch", "-q", "main"]);
    let before = c.state();
    let r = bump(&ecr, &c.wc.env_file, &["--commit", "--branch", "--push"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("already holds this bump"), "{}", r.stdout);
    assert!(r.stdout.contains("is up to date"), "{}", r.stdout);
    assert_eq!(c.state(), before, "nothing changed");

    // A fresh clone (a rerun of the CI job): the branch exists only on origin.
    let fresh = tempfile::tempdir().unwrap();
    git(
        fresh.path(),
        &["clone", "-q", c.origin.to_str().unwrap(), "wc"],
    );
    let fresh_dir = fresh.path().join("wc");
    let r = bump(
        &ecr,
        &fresh_dir.join("prod.env.hcl"),
        &["--commit", "--branch", "--push"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("already holds this bump"), "{}", r.stdout);
    assert_eq!(
        c.origin_tip(BRANCH),
        Some(head),
        "the remote branch is unchanged"
    );
    assert_eq!(git(&fresh_dir, &["status", "--porcelain"]), "");
}

#[test]
fn bump_commits_on_the_current_branch_without_branch() {
    let ecr = Ecr::new();
    let c = Clone::new(&ecr);
    let main = c.git(&["rev-parse", "main"]);
    let r = bump(&ecr, &c.wc.env_file, &["--commit", "--push"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(c.git(&["rev-parse", "--abbrev-ref", "HEAD"]), "main");
    assert_eq!(c.git(&["rev-parse", "HEAD^"]), main);
    assert_eq!(c.git(&["status", "--porcelain"]), "");
    assert_eq!(c.origin_tip("main"), Some(c.git(&["rev-parse", "HEAD"])));
    assert!(std::fs::read_to_string(&c.wc.main_tf)
        .unwrap()
        .contains(NEWEST));
}

#[test]
fn a_dirty_pin_file_and_a_conflicting_branch_are_refused_with_nothing_changed() {
    let ecr = Ecr::new();
    let c = Clone::new(&ecr);

    // Another change to main.tf, not committed.
    let mut text = std::fs::read_to_string(&c.wc.main_tf).unwrap();
    text.push_str("# work in progress\n");
    std::fs::write(&c.wc.main_tf, &text).unwrap();
    let before = c.state();
    let r = bump(&ecr, &c.wc.env_file, &["--commit", "--branch", "--push"]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("main.tf has uncommitted changes"),
        "{}",
        r.stderr
    );
    assert_eq!(c.state(), before, "nothing written");
    c.git(&["checkout", "-q", "--", "main.tf"]);

    // The default branch exists with another commit.
    c.git(&["branch", BRANCH]);
    let before = c.state();
    let r = bump(&ecr, &c.wc.env_file, &["--commit", "--branch"]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("branch `{BRANCH}` exists with a different commit")),
        "{}",
        r.stderr
    );
    assert_eq!(c.state(), before, "nothing written");
    c.git(&["branch", "-q", "-D", BRANCH]);

    // On origin only, with another commit.
    c.git(&["push", "-q", "origin", &format!("main:refs/heads/{BRANCH}")]);
    let before = c.state();
    let r = bump(&ecr, &c.wc.env_file, &["--commit", "--branch", "--push"]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "branch `{BRANCH}` on origin holds a different commit"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(c.state(), before, "nothing written");

    // Bad input: exit 2, nothing written.
    let r = bump(&ecr, &c.wc.env_file, &["--commit", "--branch", "bad..name"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("not a valid branch name"), "{}", r.stderr);
    let r = bump(&ecr, &c.wc.env_file, &["--push"]);
    assert_eq!(r.code, 2, "--push needs --commit: {}", r.stderr);
    let r = bump(&ecr, &c.wc.env_file, &["--commit", "--dry-run"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(c.state(), before, "nothing written");
}

/// Two CI runs of the same bump at once, each in its own clone: whichever pushes second
/// finds the remote holding the same bump (another commit id, the same parent and tree)
/// and exits 0, and origin ends with exactly one bump commit on the branch.
#[test]
fn two_runs_of_the_same_bump_at_once_both_succeed_with_one_commit_pushed() {
    let ecr = Ecr::new();
    let c = Clone::new(&ecr);
    let main = c.git(&["rev-parse", "main"]);
    let clone = |name: &str| {
        let dir = tempfile::tempdir().unwrap();
        git(
            dir.path(),
            &["clone", "-q", c.origin.to_str().unwrap(), name],
        );
        dir
    };

    // In sequence first: A commits without pushing, B commits and pushes, then A pushes.
    let (a, b) = (clone("wc"), clone("wc"));
    let env = |d: &tempfile::TempDir| d.path().join("wc/prod.env.hcl");
    let r = bump(&ecr, &env(&a), &["--commit", "--branch"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = bump(&ecr, &env(&b), &["--commit", "--branch", "--push"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let pushed = c.origin_tip(BRANCH).unwrap();
    let r = bump(
        &ecr,
        &env(&a),
        &["--commit", "--branch", "--push", "--output", "json"],
    );
    assert_eq!(
        r.code, 0,
        "the remote holds the same bump: {}\n{}",
        r.stdout, r.stderr
    );
    assert_eq!(r.json()["commit"]["push"], "up-to-date", "{}", r.stdout);
    assert_eq!(c.origin_tip(BRANCH), Some(pushed), "not overwritten");
    git(
        &c.origin,
        &["update-ref", "-d", &format!("refs/heads/{BRANCH}")],
    );

    // Truly at once: origin's pre-receive hook holds each push for a second, so both runs
    // read the branch as absent, both push, and the second push is refused by git.
    let hook = c.origin.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\nsleep 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (a, b) = (clone("wc"), clone("wc"));
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = [&a, &b]
            .into_iter()
            .map(|d| {
                let (ecr, file) = (&ecr, env(d));
                s.spawn(move || {
                    bump(
                        ecr,
                        &file,
                        &["--commit", "--branch", "--push", "--output", "json"],
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut pushes: Vec<String> = runs
        .iter()
        .map(|r| {
            assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
            r.json()["commit"]["push"].as_str().unwrap().to_owned()
        })
        .collect();
    pushes.sort();
    assert_eq!(pushes, ["pushed", "up-to-date"]);
    let tip = c.origin_tip(BRANCH).unwrap();
    assert_eq!(git(&c.origin, &["rev-parse", &format!("{tip}^")]), main);
    assert_eq!(
        git(
            &c.origin,
            &["rev-list", "--count", &format!("main..{BRANCH}")]
        ),
        "1"
    );
}
