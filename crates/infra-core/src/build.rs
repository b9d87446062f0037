//! What this build was made from (set by the crate's build script): shown by every tool's
//! `--version` and recorded in every JSON report and in tf-wrap's bundle manifest, so a
//! CI job's output says exactly which build ran.

use serde::Serialize;

/// The workspace version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit, abbreviated to 12 digits, with `-dirty` when tracked files differed
/// from it; `unknown` outside a git checkout.
pub const COMMIT: &str = env!("INFRA_BUILD_COMMIT");
/// The target triple (`x86_64-unknown-linux-gnu`).
pub const TARGET: &str = env!("INFRA_BUILD_TARGET");
/// The build profile: `release` or `debug`.
pub const PROFILE: &str = env!("INFRA_BUILD_PROFILE");

/// What `--version` prints after the tool's name.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("INFRA_BUILD_COMMIT"),
    ", ",
    env!("INFRA_BUILD_TARGET"),
    ", ",
    env!("INFRA_BUILD_PROFILE"),
    ")"
);

/// The build, as recorded in reports and manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BuildInfo {
    /// [`VERSION`].
    pub version: String,
    /// [`COMMIT`].
    pub commit: String,
    /// [`TARGET`].
    pub target: String,
    /// [`PROFILE`].
    pub profile: String,
}

/// This build.
pub fn info() -> BuildInfo {
    BuildInfo {
        version: VERSION.into(),
        commit: COMMIT.into(),
        target: TARGET.into(),
        profile: PROFILE.into(),
    }
}

/// `template` with `{{build.version}}`, `{{build.commit}}`, `{{build.target}}` and
/// `{{build.profile}}` replaced by this build's: for byte-for-byte expectations of JSON
/// reports, whose `build` differs from build to build.
pub fn fill(template: &str) -> String {
    template
        .replace("{{build.version}}", VERSION)
        .replace("{{build.commit}}", COMMIT)
        .replace("{{build.target}}", TARGET)
        .replace("{{build.profile}}", PROFILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Built from this checkout (tests run from it): the commit is its `HEAD`.
    #[test]
    fn the_version_line_names_the_commit_target_and_profile() {
        let head = std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        match head {
            Some(head) if std::env::var_os("INFRA_BUILD_COMMIT").is_none() => {
                assert!(COMMIT.starts_with(&head), "{COMMIT} is not HEAD {head}")
            }
            _ => assert!(!COMMIT.is_empty()),
        }
        assert!(TARGET.contains("-linux-"), "{TARGET}");
        assert!(PROFILE == "debug" || PROFILE == "release", "{PROFILE}");
        assert_eq!(
            VERSION_LINE,
            format!("{VERSION} (commit {COMMIT}, {TARGET}, {PROFILE})")
        );
    }
}
