//! Records what a build was made from, for `--version`, every JSON report and tf-wrap's
//! bundle manifest (`infra_core::build`): the git commit (with `-dirty` when tracked files
//! differ from it), the target triple and the build profile.
//!
//! `INFRA_BUILD_COMMIT` set (by `scripts/release`) is taken as is; otherwise git is asked.
//! Outside a git checkout (a source archive) the commit is `unknown`.

// A build script talks to cargo on stdout.
#![allow(clippy::disallowed_macros)]

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=INFRA_BUILD_COMMIT");
    let commit = match std::env::var("INFRA_BUILD_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_owned(),
        _ => {
            // Rebuilt when HEAD moves or the index changes (a commit, a checkout, `git add`).
            if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
                for file in ["HEAD", "index"] {
                    println!("cargo:rerun-if-changed={dir}/{file}");
                }
                if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
                    println!("cargo:rerun-if-changed={dir}/{head}");
                }
            }
            match git(&["rev-parse", "--short=12", "HEAD"]) {
                Some(hash) => {
                    // --no-optional-locks: a plain `git status` refreshes the index when
                    // a file's stat changed, which would change the index this script
                    // watches and rebuild the workspace on every cargo command.
                    let dirty = git(&[
                        "--no-optional-locks",
                        "status",
                        "--porcelain",
                        "--untracked-files=no",
                    ])
                    .is_some_and(|s| !s.is_empty());
                    if dirty {
                        format!("{hash}-dirty")
                    } else {
                        hash
                    }
                }
                None => "unknown".to_owned(),
            }
        }
    };
    println!("cargo:rustc-env=INFRA_BUILD_COMMIT={commit}");
    println!(
        "cargo:rustc-env=INFRA_BUILD_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=INFRA_BUILD_PROFILE={}",
        std::env::var("PROFILE").unwrap_or_default()
    );
}
