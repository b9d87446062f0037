//! `ecr-tags`: find the newest immutable tag of an image family in ECR and rewrite the
//! pinned `locals` value byte-exactly.
//!
//! # Brief overview
//!
//! - [`command`]: the use cases — `latest`, `pins`, `bump` — one call each, returning a
//!   typed [`command::Outcome`] (report and exit status) or an [`error::EcrTagsError`]
//!   (whose one exhaustive `match` gives the exit code).
//! - [`discover`]: every page of DescribeImages (one pass per repository), the family's
//!   images (tags matching the anchored pattern) newest first, tie detection, and the
//!   repository's tag mutability.
//! - [`bump`]: the checks before a pin moves (exists, matches, immutable, not a downgrade,
//!   built from a merged commit) and the byte-exact rewrite with its diff.
//! - [`pins`]: every pinned image of the environment against ECR (and digest pins against
//!   their tag's digest).
//! - [`live`]: `pins --live`: the pin against the task definition family's latest ACTIVE
//!   revision and the services' running tasks (`live`, `not-deployed`, `drifted`).
//! - [`git`]: is a commit reachable from a ref; `bump --commit`: the bump as one commit on a
//!   branch, pushed.
//!
//! The `locals` reader/rewriter itself is the `tf-locals` crate.
//!
//! ```
//! use ecr_tags::discover::{newest, FamilyImage};
//! let image = |tag: &str, digest: &str, at: i64| FamilyImage {
//!     tag: tag.into(), digest: digest.into(), pushed_at: at, pushed_at_nanos: 0,
//!     pushed_at_text: String::new(), sha: None, other_tags: vec![],
//! };
//! let images = vec![image("b-2", "sha256:2", 20), image("b-1", "sha256:1", 10)];
//! assert_eq!(newest(&images).unwrap().unwrap().tag, "b-2");
//! assert!(newest(&[]).unwrap().is_none());
//! ```
//!
//! [`cli`] (feature `cli`, on by default) is the `ecr-tags` command line itself.

pub mod bump;
#[cfg(feature = "cli")]
pub mod cli;
pub mod command;
pub mod discover;
pub mod error;
pub mod git;
pub mod live;
pub mod pins;
pub mod report;
