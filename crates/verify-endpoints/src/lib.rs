//! `verify-endpoints`: Smoke-check the environment's public endpoints behind CloudFront.
//!
//! # Brief overview
//!
//! This crate holds the library side of the `verify-endpoints` binary. In this release the binary
//! parses the shared options and validates the environment file; the engine itself is the
//! work of the verify-endpoints issue: CloudFront preflight and HTTP checks.
