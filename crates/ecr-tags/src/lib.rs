//! `ecr-tags`: Find the newest immutable tag of an image family in ECR and rewrite pinned image locals byte-exactly.
//!
//! # Brief overview
//!
//! This crate holds the library side of the `ecr-tags` binary. In this release the binary
//! parses the shared options and validates the environment file; the engine itself is the
//! work of the ecr-tags issue: tag discovery, pin listing, pin bump.
